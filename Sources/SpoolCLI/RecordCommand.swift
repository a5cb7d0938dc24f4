import ArgumentParser
import Dispatch
import Foundation
import SpoolAnalysis

#if canImport(Glibc)
import Glibc
#endif

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a program built on Spool with tracing on.",
        discussion: """
            Runs PROGRAM with SPOOL_TRACE set, forwards SIGINT and SIGTERM to it, and says \
            where the trace went. Exits with the program's exit status.
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The trace file to write (default: <program>.spool).", valueName: "file"))
    var output: String?

    @Option(name: .customLong("import"), help: ArgumentHelp("Import the trace into this new database when the program exits.", valueName: "db"))
    var importDB: String?

    @Flag(help: "Overwrite an existing trace file or database.")
    var force = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The program and its arguments, after --.", valueName: "program"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("Missing the program to run: spool record [options] -- PROGRAM [ARGS...]") }
    }

    func run() throws {
        let program = command[0]
        let tracePath = output ?? (URL(fileURLWithPath: program).lastPathComponent + ".spool")
        try OutputPaths.prepare(tracePath, force: force)
        if let importDB { try OutputPaths.prepare(importDB, force: force) }
        let absoluteTrace = URL(fileURLWithPath: tracePath).standardizedFileURL.path

        let status = try ChildProcess.run(command, environment: ["SPOOL_TRACE": absoluteTrace])
        FileHandle.standardError.write(Data(status.describe(program: program).utf8))

        guard FileManager.default.fileExists(atPath: absoluteTrace) else {
            throw CLIError("no trace was written to \(tracePath): is \(program) built on the Spool runtime (Runtime.run)?")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: absoluteTrace)[.size] as? Int) ?? 0
        FileHandle.standardError.write(Data("spool: trace written to \(tracePath) (\(size) bytes)\n".utf8))
        if let importDB {
            let report = try TraceImporter.importTrace(path: absoluteTrace, into: importDB, options: ImportOptions())
            ImportCommand.printReport(report, tracePath: tracePath, dbPath: importDB)
        }
        if case .exited(let code) = status, code != 0 { throw ExitCode(code) }
        if case .signaled(let sig) = status { throw ExitCode(128 + sig) }
    }
}

/// Starting a child process and waiting for it, forwarding SIGINT and SIGTERM.
enum ChildProcess {
    enum Status {
        case exited(Int32)
        case signaled(Int32)

        func describe(program: String) -> String {
            switch self {
            case .exited(0): return ""
            case .exited(let code): return "spool: \(program) exited with status \(code)\n"
            case .signaled(let sig): return "spool: \(program) was killed by signal \(sig)\n"
            }
        }
    }

    static func run(_ argv: [String], environment extra: [String: String]) throws -> Status {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        let envStrings = env.map { "\($0.key)=\($0.value)" }

        // The parent ignores SIGINT/SIGTERM while the child runs and forwards them instead; the
        // child starts with default dispositions (posix_spawn resets ignored signals only when
        // asked, so set them explicitly).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF))

        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        defer {
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }

        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = envStrings.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        let rc = posix_spawnp(&pid, argv[0], nil, &attr, cArgs, cEnv)
        if rc != 0 {
            throw CLIError("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }
        let queue = DispatchQueue(label: "spool.record.signals")
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { kill(pid, sig) }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw CLIError("waitpid failed: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let termSig = status & 0x7F
        if termSig == 0 { return .exited((status >> 8) & 0xFF) }
        return .signaled(termSig)
    }
}

/// The rule for every output file: an existing file is never silently overwritten.
enum OutputPaths {
    static func prepare(_ path: String, force: Bool) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else { return }
        guard force else { throw CLIError("\(path) already exists; pass --force to overwrite it") }
        do {
            try fm.removeItem(atPath: path)
        } catch {
            throw CLIError("cannot remove \(path): \(error.localizedDescription)")
        }
    }
}
