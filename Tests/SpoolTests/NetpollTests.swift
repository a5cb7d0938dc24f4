// The netpoller itself: stale registrations are dropped, the break wakes a blocked poll,
// readiness reaches parked goroutines on any P (NetpollReady in the trace), and a blocked
// poller leaves when the run ends.

@testable import Spool
import SpoolTraceFormat
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Signals counted by the EINTR test's handler.
let netpollTestSignals = Atomic<Int>(0)

@Suite struct NetpollTests {
    /// "Stale events dropped": an event fetched for a registration that was closed, with its fd
    /// number and its pollDesc both reused by a new registration, must not mark the new one
    /// ready; an event of the new registration must.
    @Test func staleRegistrationEventsAreDropped() throws {
        try runtimeTestLock.withLock { _ in
            netpollGenericInit()
            let fdA = sysEventfd()
            #expect(fdA >= 0)
            guard case .success(let pdA) = pollOpen(fdA) else { Issue.record("pollOpen"); return }
            let staleData = netpollPackData(pdA, pdA.pointee.fdseq.load(ordering: .relaxed))
            pollUnblock(pdA) // no waiters: legal off a goroutine
            pollClose(pdA)
            sysClose(fdA)

            // A new descriptor at the same number (dup2 makes the reuse certain).
            let tmp = sysEventfd()
            if tmp != fdA {
                #expect(dup2(tmp, fdA) == fdA)
                sysClose(tmp)
            }
            guard case .success(let pdB) = pollOpen(fdA) else { Issue.record("pollOpen"); return }
            #expect(pdB == pdA) // the pollDesc was recycled too (LIFO cache, test lock held)
            let freshData = netpollPackData(pdB, pdB.pointee.fdseq.load(ordering: .relaxed))
            #expect(freshData != staleData)

            var list = NetpollList()
            let readable: UInt32 = 0x001 | 0x004 // EPOLLIN | EPOLLOUT
            _ = netpollHandleEvent(readable, staleData, blocking: false, &list)
            #expect(pdB.pointee.rg.pointee.state.load(ordering: .relaxed) == pdNil)
            #expect(pdB.pointee.wg.pointee.state.load(ordering: .relaxed) == pdNil)
            // Positive control: the current registration's event is recorded.
            _ = netpollHandleEvent(readable, freshData, blocking: false, &list)
            #expect(pdB.pointee.rg.pointee.state.load(ordering: .relaxed) == pdReady)
            #expect(pdB.pointee.wg.pointee.state.load(ordering: .relaxed) == pdReady)
            #expect(list.isEmpty) // nobody was parked

            pollUnblock(pdB)
            pollClose(pdB)
            sysClose(fdA)
        }
    }

    /// "No lost wakeups", deterministically: readiness (or a close) delivered while the slot
    /// holds pdWait, before the G is parked, makes the commit fail and the G run again at once:
    /// readiness returns true, a close returns false. A lost wakeup would leave the G parked
    /// for good; the main goroutine then gives up after a generous wait and the test fails.
    @Test(arguments: [false, true])
    func readinessOrCloseInsideTheParkWindowIsNotLost(close: Bool) throws {
        let outcome = Box<String>("lost")
        try runtimeTestLock.withLock { _ in
            let fd = sysEventfd()
            guard case .success(let pd) = pollOpen(fd) else { Issue.record("pollOpen"); return }
            netpollTestHookBeforePark = { pd, mode in
                if close {
                    pollUnblock(pd) // no G parked yet: nobody to ready
                } else {
                    var list = NetpollList()
                    _ = netpollready(&list, pd, read: mode == .read, write: mode == .write)
                    precondition(list.isEmpty, "the G is not parked yet")
                }
            }
            defer { netpollTestHookBeforePark = nil }
            try Runtime.run(maxProcs: 1, runqCapacity: nil) {
                let done = Channel<String>(capacity: 1)
                go {
                    let ready = netpollblock(pd, .read)
                    done.send("\(ready) \(netpollcheckerr(pd, .read).map { "\($0)" } ?? "ok")")
                }
                // A watchdog for a lost wakeup (the G would never send).
                for _ in 0..<2000 {
                    select {
                        $0.receive(done) { outcome.value = $0! }
                        $0.default {}
                    }
                    if outcome.value != "lost" { break }
                    Runtime.sleep(for: .milliseconds(1))
                }
            }
            netpollTestHookBeforePark = nil
            if !close { pollUnblock(pd) }
            pollClose(pd)
            sysClose(fd)
        }
        #expect(outcome.value == (close ? "false closing" : "true ok"))
    }

    /// With one P and the main goroutine yielding in a loop, findRunnable always finds it
    /// runnable and never reaches its own netpoll; sysmon's poll must still bring the network
    /// goroutines back, or main would spin forever (a 10 s watchdog turns that into a failure).
    /// Traced: the goroutines sysmon releases are recorded in its own M batch (NetpollReady with
    /// no P), and the trace stays consistent.
    @Test func sysmonPollsWhileEveryPIsBusy() throws {
        let rounds = Box<Int>(0)
        let path = try runTraced(maxProcs: 1) {
            let ln = try TCPListener(port: 0)
            serveEcho(ln)
            let finished = Counters(1)
            go {
                if let c = try? TCPConnection.connect(host: "127.0.0.1", port: ln.port) {
                    for i in 0..<3 {
                        guard (try? c.write([UInt8(i)])) != nil, (try? readFull(c, 1)) == [UInt8(i)] else { break }
                        rounds.value += 1
                    }
                    c.close()
                }
                finished.add(0)
            }
            let giveUp = monotonicNs() + 10_000_000_000
            while finished[0] == 0 && monotonicNs() < giveUp { Runtime.yield() }
            ln.close()
        }
        defer { unlink(path) }
        #expect(rounds.value == 3)
        let t = try readTrace(path)
        #expect(t.scan.problem == nil)
        #expect(t.seqMismatches == 0)
        #expect(t.events.contains { $0.kind == .netpollReady && $0.owner.kind == .m })
    }

    /// EINTR policy: a signal (handler without SA_RESTART) that interrupts the poller's blocking
    /// epoll_wait makes netpoll return to its caller, which recomputes its sleep (as Go); it is
    /// never a failure. Checked on this thread: a helper thread signals it while it polls.
    @Test func signalDuringABlockingPollIsNotAnError() throws {
        try runtimeTestLock.withLock { _ in
            netpollGenericInit()
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = { _ in
                netpollTestSignals.wrappingAdd(1, ordering: .relaxed)
            }
            sa.sa_flags = 0 // no SA_RESTART: epoll_wait fails with EINTR
            sigemptyset(&sa.sa_mask)
            var old = sigaction()
            sigaction(SIGUSR2, &sa, &old)
            defer { sigaction(SIGUSR2, &old, nil) }
            // Test-runner threads block most signals (libdispatch workers do): unblock ours here.
            var set = sigset_t(), oldSet = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &set, &oldSet)
            defer { pthread_sigmask(SIG_SETMASK, &oldSet, nil) }
            let before = netpollTestSignals.load(ordering: .relaxed)
            let target = Unmanaged.passRetained(Box(pthread_self())).toOpaque()
            var helper = pthread_t()
            #expect(pthread_create(&helper, nil, { arg in
                let t = Unmanaged<Box<pthread_t>>.fromOpaque(arg!).takeRetainedValue()
                usleep(20_000)
                pthread_kill(t.value, SIGUSR2)
                return nil
            }, target) == 0)
            // Poll until the signal has arrived (each netpoll returns after at most 50 ms, or
            // at once when interrupted); a failure would have been fatal.
            while netpollTestSignals.load(ordering: .relaxed) == before { _ = netpoll(50_000_000) }
            pthread_join(helper, nil)
            #expect(netpollTestSignals.load(ordering: .relaxed) == before + 1)
        }
    }

    /// netpollBreak makes a blocking netpoll return, once; the break is then re-armed.
    @Test func breakWakesABlockingPoll() throws {
        try runtimeTestLock.withLock { _ in
            netpollGenericInit()
            netpollBreak()
            netpollBreak() // de-duplicated: one eventfd write in flight
            #expect(netpollWakeSig.load(ordering: .relaxed) == 1)
            // Returns because of the pending break. (It may also return goroutines of earlier
            // runs, abandoned on sockets that never closed: the poller is per process.)
            _ = netpoll(-1)
            #expect(netpollWakeSig.load(ordering: .relaxed) == 0) // drained: breaks re-armed
        }
    }

    /// A readiness that arrives while the reader is between EAGAIN and parked is not lost
    /// ("No lost wakeups"): thousands of 1-byte ping-pongs between two goroutines, with a read
    /// deadline as a watchdog so a lost wakeup fails the test instead of hanging it.
    @Test(arguments: [1, 2])
    func pingPongLosesNoWakeups(procs: Int) throws {
        let rounds = stress ? 200_000 : 5_000
        let done = Box<Int>(0)
        let failure = Box<String?>(nil)
        try runSerially(maxProcs: procs) {
            let ln = try TCPListener(port: 0)
            let accepted = Channel<TCPConnection>(capacity: 1)
            go { accepted.send(try! ln.accept()) }
            let a = try TCPConnection.connect(host: "127.0.0.1", port: ln.port)
            let b = accepted.receive()!
            a.setReadDeadline(.seconds(30))
            b.setReadDeadline(.seconds(30))
            let finished = Channel<Int>(capacity: 1)
            go {
                var one = [UInt8](repeating: 0, count: 1)
                do {
                    for _ in 0..<rounds {
                        guard try b.read(into: &one) == 1 else { break }
                        try b.write(one)
                    }
                } catch {}
                finished.send(0)
            }
            var one: [UInt8] = [0]
            do {
                for i in 0..<rounds {
                    try a.write([UInt8(truncatingIfNeeded: i)])
                    guard try a.read(into: &one) == 1, one[0] == UInt8(truncatingIfNeeded: i) else {
                        failure.value = "round \(i): wrong byte"
                        break
                    }
                    done.value += 1
                }
            } catch {
                failure.value = "round \(done.value): \(error)"
            }
            _ = finished.receive()
            a.close()
            b.close()
            ln.close()
        }
        #expect(failure.value == nil)
        #expect(done.value == rounds)
    }

    /// The trace of an echo exchange shows goroutines blocking on the network (GoBlock
    /// net_read) and the poller making them runnable (NetpollReady), in a consistent order.
    @Test(arguments: [1, 2])
    func tracedEchoShowsNetpollEvents(procs: Int) throws {
        let path = try runTraced(maxProcs: procs) {
            let ln = try TCPListener(port: 0)
            serveEcho(ln)
            let wg = WaitGroup()
            wg.add(4)
            for c in 0..<4 {
                go {
                    defer { wg.done() }
                    let conn = try! TCPConnection.connect(host: "127.0.0.1", port: ln.port)
                    for i in 0..<20 {
                        try! conn.write([UInt8(c), UInt8(i)])
                        precondition(try! readFull(conn, 2) == [UInt8(c), UInt8(i)])
                    }
                    conn.close()
                }
            }
            wg.wait()
            ln.close()
            // Let every goroutine finish, so none is abandoned between two events. (A sleep,
            // not a yield loop: a yielding goroutine is always runnable, and findRunnable polls
            // the network only when the queues are empty.)
            while Runtime.goroutineCount > 1 { Runtime.sleep(for: .milliseconds(1)) }
        }
        defer { unlink(path) }
        let t = try readTrace(path)
        #expect(t.scan.problem == nil)
        #expect(t.seqMismatches == 0)
        #expect(t.count(.netpollReady) > 0)
        let netReads = t.events.filter { $0.kind == .goBlock && $0.a0 == UInt64(BlockReason.netRead.rawValue) }
        #expect(netReads.count > 0)
        // Every runnable interval starts with exactly one event and ends in one GoStart.
        let intervals = t.count(.goCreate) + t.count(.goUnblock) + t.count(.goWake)
            + t.count(.goStop) + t.count(.netpollReady)
        #expect(t.count(.goStart) == intervals)
        // Each NetpollReady is followed by a GoStart of the same G.
        var pending = Set<UInt64>()
        for e in t.events {
            if e.kind == .netpollReady { pending.insert(e.a0) }
            if e.kind == .goStart { pending.remove(e.a0) }
        }
        #expect(pending.isEmpty)
    }

    /// When main returns while a goroutine waits in accept (so an M blocks in epoll_wait with no
    /// timeout), that M is woken and exits: every ThreadCreate has its ThreadExit.
    @Test func blockedPollerLeavesWhenTheRunEnds() throws {
        let path = try runTraced(maxProcs: 2) {
            let ln = try TCPListener(port: 0)
            go { _ = try? ln.accept() }
            Runtime.sleep(for: .milliseconds(20)) // the accepter parks, its M blocks in netpoll
        }
        defer { unlink(path) }
        let t = try readTrace(path)
        #expect(t.scan.problem == nil)
        #expect(t.count(.threadCreate) >= 1)
        #expect(t.count(.threadCreate) == t.count(.threadExit))
    }

    /// An M blocked in netpoll with no timeout wakes for a timer that another goroutine sets.
    @Test func sleeperWakesWhileAnotherWaitsOnTheNetwork() throws {
        let order = Box<[String]>([])
        try runSerially(maxProcs: 2) {
            let ln = try TCPListener(port: 0)
            let got = Channel<String>(capacity: 2)
            go {
                if let c = try? ln.accept() { c.close(); got.send("accepted") }
            }
            go {
                Runtime.sleep(for: .milliseconds(10))
                got.send("slept")
                if let c = try? TCPConnection.connect(host: "127.0.0.1", port: ln.port) { c.close() }
            }
            order.value.append(got.receive()!)
            order.value.append(got.receive()!)
            ln.close()
        }
        #expect(order.value == ["slept", "accepted"])
    }
}
