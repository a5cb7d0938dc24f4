import ArgumentParser

@main
struct SpoolCommand: ParsableCommand {
  func run() {}
}
