// Blocking calls: the P is handed off while a goroutine blocks its thread (maxProcs 1, another
// goroutine keeps running, the trace shows ProcHandoff and GoSyscallEndBlocked), every syscall
// in a trace is closed exactly once, EINTR never reaches a caller, and the thread cap is fatal.

@testable import Spool
import SpoolAnalysis
import SpoolTraceFormat
import CSpool
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Imports `path` into a fresh database and returns it, with the number of non-info
/// anomalies the importer counted (what `spool import` would warn about).
func importTrace(_ path: String) throws -> (Database, Int64) {
    let dbPath = path + ".db"
    unlink(dbPath)
    _ = try TraceImporter.importTrace(path: path, into: dbPath)
    let db = try Database(path: dbPath, mode: .readOnly)
    let anomalies = try db.scalarInt(
        "SELECT count(*) FROM import_stats WHERE severity != 'info' AND value != 0") ?? -1
    if anomalies != 0 {
        let st = try db.prepare("SELECT name, value FROM import_stats WHERE severity != 'info' AND value != 0")
        while try st.step() { print("ANOMALY", path, st.text(0), st.int64(1)) }
    }
    return (db, anomalies)
}

/// Signals delivered to the test handler (SIGUSR2, installed without SA_RESTART).
let eintrSignals = Atomic<Int>(0)

private func installCountingHandler() {
    var sa = sigaction()
    sa.__sigaction_handler.sa_handler = { _ in eintrSignals.wrappingAdd(1, ordering: .relaxed) }
    sigemptyset(&sa.sa_mask)
    sa.sa_flags = 0 // no SA_RESTART: interrupted calls fail with EINTR
    sigaction(SIGUSR2, &sa, nil)
}

/// Threads (pthread_t) currently inside a blocking call, recorded by the callers. The OS lock is
/// only ever held with preemption off: a goroutine preempted while holding it would let the
/// next goroutine on the same thread die with "Recursive call to lock Mutex" (the notes'
/// "OS locks held across a preemption point" hazard).
final class ThreadSet: @unchecked Sendable {
    private let lock = Mutex<[pthread_t]>([])
    /// Records the calling thread, first unblocking SIGUSR2 in it (M threads inherit the signal
    /// mask of the thread that started the run, which the test runner may have blocked).
    func add(_ t: pthread_t) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGUSR2)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        Runtime.withoutPreemption { lock.withLock { $0.append(t) } }
    }
    func remove(_ t: pthread_t) { Runtime.withoutPreemption { lock.withLock { $0.removeAll { $0 == t } } } }
    func signalAll() -> Int {
        Runtime.withoutPreemption {
            lock.withLock { ts in
                for t in ts { pthread_kill(t, SIGUSR2) }
                return ts.count
            }
        }
    }
}

@Suite struct SyscallTests {
    @Test func blockingCallHandsOffThePAtOneProc() throws {
        // 0: the sleeper is inside its call; 1: it returned; 2: main's iterations during the call.
        let c = Counters(3)
        let path = try runTraced(maxProcs: 1) {
            let wg = WaitGroup()
            wg.add(1)
            go {
                c.add(0)
                Runtime.blockingSleep(for: .milliseconds(200))
                c.add(1)
                wg.done()
            }
            // With one P and no preemption, this loop runs during the call only if the P was
            // handed off to another thread.
            while c[1] == 0 {
                if c[0] == 1 { c.add(2) }
                Runtime.yield()
            }
            wg.wait()
        }
        defer { unlink(path); unlink(path + ".db") }
        #expect(c[2] > 0)

        let t = try readTrace(path)
        #expect(t.scan.problem == nil)
        #expect(t.count(.goSyscallBegin) == 1)
        #expect(t.count(.procHandoff) == 1)
        #expect(t.count(.goSyscallEndBlocked) == 1)
        #expect(t.count(.goSyscallEnd) == 0)
        #expect(t.seqMismatches == 0)
        // The handoff went to a new or idle M, never to nobody: main was runnable.
        let h = t.events.first { $0.kind == .procHandoff }
        #expect(h != nil && h!.a1 != 0 && h!.a0 != h!.a1)

        let (db, anomalies) = try importTrace(path)
        #expect(anomalies == 0)
        #expect(try db.scalarInt("SELECT count(*) FROM syscalls") == 1)
        #expect(try db.scalarInt("SELECT handoff FROM syscalls") == 1)
        #expect(try db.scalarInt("SELECT count(*) FROM threads WHERE cause = 3") == 1) // sysmon
    }

    @Test(arguments: [1, 2])
    func everySyscallEndsExactlyOnce(procs: Int) throws {
        let calls = 2000
        let path = try runTraced(maxProcs: procs) {
            let wg = WaitGroup()
            wg.add(4)
            for k in 0..<4 {
                go {
                    for i in 0..<(calls / 4) {
                        // Mostly empty calls (they keep their P), some long enough to be retaken.
                        if (i + k) % 100 == 0 {
                            Runtime.blockingSleep(for: .microseconds(300))
                        } else {
                            Runtime.blocking { }
                        }
                        if i % 16 == 0 { Runtime.yield() }
                    }
                    wg.done()
                }
            }
            wg.wait()
        }
        defer { unlink(path); unlink(path + ".db") }
        let t = try readTrace(path)
        #expect(t.scan.problem == nil)
        #expect(t.count(.traceLost) == 0)
        #expect(t.count(.goSyscallBegin) == calls)
        #expect(t.count(.goSyscallEnd) + t.count(.goSyscallEndBlocked) == calls)
        // An empty call takes well under a microsecond; sysmon needs the same syscall on two
        // ticks ≥ 20 µs apart. Most of 2000 keep their P.
        #expect(t.count(.goSyscallEnd) > 0)
        #expect(t.seqMismatches == 0)

        let (db, anomalies) = try importTrace(path)
        #expect(anomalies == 0)
        #expect(try db.scalarInt("SELECT count(*) FROM syscalls") == Int64(calls))
        #expect(try db.scalarInt("SELECT count(*) FROM syscalls WHERE handoff = 1")
                == Int64(t.count(.procHandoff)))
    }

    @Test func eintrNeverReachesTheCaller() throws {
        installCountingHandler()
        let before = eintrSignals.load(ordering: .relaxed)
        let inCall = ThreadSet()
        let sentSignals = Counters(1)
        let sleepers = 4
        let elapsed = Box<[Int64]>([])
        let elapsedLock = GoMutex()
        let payload = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let got = Box<[UInt8]>([])
        let readError = Box<String?>(nil)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let (rfd, wfd) = (fds[0], fds[1])
        try runSerially(maxProcs: 2) {
            let wg = WaitGroup()
            let stop = Counters(1)
            wg.add(sleepers + 1)
            for _ in 0..<sleepers {
                go {
                    let t0 = spool_nanotime()
                    Runtime.blocking {
                        inCall.add(pthread_self())
                        Runtime.blockingSleep(for: .milliseconds(200)) // nested: runs in place
                        inCall.remove(pthread_self())
                    }
                    let dt = spool_nanotime() - t0
                    elapsedLock.withLock { elapsed.value.append(dt) }
                    wg.done()
                }
            }
            go {
                var buf = [UInt8](repeating: 0, count: 1024)
                var all: [UInt8] = []
                do {
                    while all.count < payload.count {
                        let n = try Runtime.blocking { () throws -> Int in
                            inCall.add(pthread_self())
                            defer { inCall.remove(pthread_self()) }
                            return try Runtime.readFile(fd: rfd, into: &buf)
                        }
                        if n == 0 { break }
                        all += buf[0..<n]
                    }
                } catch {
                    readError.value = "\(error)"
                }
                got.value = all
                wg.done()
            }
            // The signaller: interrupts every thread in a call every millisecond; after 100 ms
            // it writes the data the reader waits for (in two halves, 20 ms apart).
            let signaller = WaitGroup()
            signaller.add(1)
            go {
                var i = 0
                while stop[0] == 0 {
                    sentSignals.add(0, inCall.signalAll())
                    Runtime.sleep(for: .milliseconds(1))
                    i += 1
                    if i == 100 { try! Runtime.writeFile(fd: wfd, Array(payload[0..<2048])) }
                    if i == 120 { try! Runtime.writeFile(fd: wfd, Array(payload[2048...])) }
                }
                signaller.done()
            }
            wg.wait()
            stop.add(0)
            signaller.wait()
        }
        #expect(sentSignals[0] > 0)
        #expect(eintrSignals.load(ordering: .relaxed) - before > 0)
        #expect(readError.value == nil)
        #expect(got.value == payload)
        let e = elapsed.value
        #expect(e.count == sleepers)
        // A sleep resumes with its remaining time: none comes back early.
        #expect(e.allSatisfy { $0 >= 200_000_000 })
    }

    @Test func aGoroutineInABlockingCallWhenTheRunEndsIsAbandoned() throws {
        // 0: the sleeper entered its call; 1: it ran again after the call.
        let c = Counters(2)
        let after = Box(-1)
        try runSerially(maxProcs: 1, {
            go {
                c.add(0)
                Runtime.blockingSleep(for: .milliseconds(300))
                c.add(1)
            }
            while c[0] == 0 { Runtime.sleep(for: .milliseconds(1)) }
        }, after: {
            // The run has returned; the call ends about 300 ms after it began.
            spool_usleep_ns(500_000_000)
            after.value = c[1]
        })
        #expect(c[0] == 1)
        #expect(after.value == 0)
    }

    @Test func blockingOutsideAGoroutineIsAPlainCall() throws {
        #expect(Runtime.blocking { 41 + 1 } == 42)
        struct E: Error {}
        #expect(throws: E.self) { try Runtime.blocking { throw E() } }
        // Errors from the wrappers name the call.
        var buf = [UInt8](repeating: 0, count: 8)
        #expect(throws: BlockingCallError(call: "read", errno: EBADF)) {
            _ = try Runtime.readFile(fd: -1, into: &buf)
        }
    }

    @Test func threadCapIsFatal() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            testMaxThreads = 6
            try? Runtime.run(maxProcs: 1) {
                let wg = WaitGroup()
                wg.add(50)
                for _ in 0..<50 { go { Runtime.blockingSleep(for: .milliseconds(300)); wg.done() } }
                wg.wait()
            }
        }
        if let result {
            let err = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(err.contains("spool: thread limit of 6 reached (SPOOL_MAXTHREADS)"))
        }
    }

    /// A goroutine operation inside `Runtime.blocking { }` (where the goroutine holds no P)
    /// stops the process with a message naming the rule, not a nil dereference.
    @Test func goroutineOperationInsideBlockingIsAClearError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) {
                Runtime.blocking { go {} }
            }
        }
        if let result {
            #expect(String(decoding: result.standardErrorContent, as: UTF8.self)
                .contains("are not allowed inside Runtime.blocking { }"))
        }
    }
}
