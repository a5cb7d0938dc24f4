// swift-tools-version:6.2
// Spool: a Go-style M:P:G scheduler runtime for Swift on Linux, with an execution tracer
// and a SQLite trace analyzer. Target boundaries follow DESIGN.md (one job per target).
import PackageDescription

let package = Package(
    name: "Spool",
    products: [
        .library(name: "Spool", targets: ["Spool"]),
        .library(name: "SpoolTraceFormat", targets: ["SpoolTraceFormat"]),
        .library(name: "SpoolAnalysis", targets: ["SpoolAnalysis"]),
        .executable(name: "spool", targets: ["SpoolCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C and assembly only: context switch, signal handlers, TLS, syscall shims.
        .target(
            name: "CSpool",
            cSettings: [.unsafeFlags(["-fno-omit-frame-pointer", "-fstack-clash-protection"])]
        ),
        // The binary trace format. No dependencies: shared by the runtime and the analyzer.
        .target(name: "SpoolTraceFormat"),
        // The runtime: G/M/P scheduler, sync, timers, netpoll, sysmon, tracer writer side.
        .target(
            name: "Spool",
            dependencies: ["CSpool", "SpoolTraceFormat"],
            swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-cross-module-optimization"])]
        ),
        // System SQLite through a module map (apt: libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Import pipeline, SQLite wrapper, statistics, summary rendering.
        .target(
            name: "SpoolAnalysis",
            dependencies: ["SpoolTraceFormat", "CSQLite"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Synthetic traces with known answers (golden tests, fuzzing, benchmarks).
        .target(
            name: "SpoolScenarios",
            dependencies: ["SpoolTraceFormat"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The `spool` command line: thin, one file per subcommand.
        .executableTarget(
            name: "SpoolCLI",
            dependencies: [
                "Spool", "SpoolAnalysis", "SpoolScenarios",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(name: "PingPong", dependencies: ["Spool"], path: "examples/PingPong",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "WorkerPool", dependencies: ["Spool"], path: "examples/WorkerPool",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "EchoServer", dependencies: ["Spool"], path: "examples/EchoServer",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "BlockingStorm", dependencies: ["Spool"], path: "examples/BlockingStorm",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "TightLoop", dependencies: ["Spool"], path: "examples/TightLoop",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "MixedLoad", dependencies: ["Spool"], path: "examples/MixedLoad", swiftSettings: [.swiftLanguageMode(.v5)]),
        // Runtime benchmarks, run beside Go's versions by tools/bench-runtime.sh (not a test).
        .executableTarget(name: "SpoolBench", dependencies: ["Spool"], path: "tools/SpoolBench",
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "SpoolTraceFormatTests", dependencies: ["SpoolTraceFormat", "SpoolScenarios"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "SpoolAnalysisTests",
                    dependencies: ["SpoolAnalysis", "SpoolScenarios", "SpoolTraceFormat"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "SpoolTests", dependencies: ["Spool", "SpoolAnalysis"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "SpoolCLITests", dependencies: ["SpoolCLI"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
