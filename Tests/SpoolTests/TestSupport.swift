// Shared helpers for the runtime tests.
//
// Only one `Runtime.run` may be in progress per process, and Swift Testing runs tests (and
// suites) in parallel, so every test that starts the runtime goes through `runSerially`, which
// holds a process-wide lock for the whole run. (`@Suite(.serialized)` alone only orders tests
// within one suite.)

@testable import Spool
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

let runtimeTestLock = Mutex<Void>(())

/// Runs `body` as the main goroutine of a fresh runtime, one run at a time per process.
func runSerially(maxProcs: Int? = nil, runqCapacity: Int? = nil,
                 _ body: @escaping () throws -> Void) throws {
    try runtimeTestLock.withLock { _ in
        try Runtime.run(maxProcs: maxProcs, runqCapacity: runqCapacity, body)
    }
}

/// Like `runSerially`, then runs `after` still holding the lock (no other run in progress), for
/// checks of the between-runs state.
func runSerially(maxProcs: Int? = nil, _ body: @escaping () throws -> Void,
                 after: () -> Void) throws {
    try runtimeTestLock.withLock { _ in
        try Runtime.run(maxProcs: maxProcs, runqCapacity: nil, body)
        after()
    }
}

/// Whether the long stress variants should run (`SPOOL_STRESS=1`).
let stress = getenv("SPOOL_STRESS").map { String(cString: $0) == "1" } ?? false

/// A fixed array of atomic counters, shareable between goroutines.
final class Counters: @unchecked Sendable {
    let base: UnsafeMutablePointer<Atomic<Int>>
    let count: Int
    init(_ n: Int) {
        count = n
        base = .allocate(capacity: n)
        for i in 0..<n { (base + i).initialize(to: Atomic<Int>(0)) }
    }
    deinit { base.deallocate() }
    func add(_ i: Int, _ v: Int = 1) { base[i].wrappingAdd(v, ordering: .relaxed) }
    subscript(i: Int) -> Int { base[i].load(ordering: .relaxed) }
}

/// A value box goroutines may share (accesses must be ordered by Spool synchronization).
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ v: T) { value = v }
}
