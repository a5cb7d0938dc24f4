import Foundation
import Testing

/// Runs the built `spool` executable (a sibling of the test bundle in the build directory).
enum CLI {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The build products directory: where SwiftPM put the test bundle, `spool` and the examples.
    static var binDir: URL {
        var url = Bundle.main.bundleURL
        if url.pathExtension == "xctest" { url.deleteLastPathComponent() }
        for candidate in [url, Bundle.main.executableURL?.deletingLastPathComponent()].compactMap({ $0 }) {
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("spool").path) {
                return candidate
            }
        }
        return url
    }

    static func run(_ args: [String], in dir: URL? = nil, executable: String = "spool") throws -> Output {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(executable)
        p.arguments = args
        if let dir { p.currentDirectoryURL = dir }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // CSV output uses RFC 4180 CRLF line ends; tests compare lines.
        return Output(status: p.terminationStatus,
                      stdout: String(decoding: o, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    /// A new empty directory, removed by the caller with `cleanup`.
    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spool-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
