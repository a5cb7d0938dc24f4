// Channel semantics: unbuffered handoff, buffering, close, iteration, select.

@testable import Spool
import Testing

@Suite struct ChannelTests {
    @Test func unbufferedHandsOffInOrder() throws {
        let got = Box<[Int]>([])
        try runSerially(maxProcs: 2) {
            let ch = Channel<Int>()
            go { for i in 0..<100 { ch.send(i) }; ch.close() }
            for v in ch { got.value.append(v) }
        }
        #expect(got.value == Array(0..<100))
    }

    @Test func unbufferedSendWaitsForAReceiver() throws {
        let log = Box<[String]>([])
        try runSerially(maxProcs: 1) {
            let ch = Channel<Int>()
            let wg = WaitGroup()
            wg.add(1)
            go {
                ch.send(1)              // parks: nobody receives yet
                log.value.append("sent")
                wg.done()
            }
            Runtime.yield()             // let the sender run and park
            Runtime.yield()
            log.value.append("receiving")
            #expect(ch.receive() == 1)
            wg.wait()
        }
        #expect(log.value == ["receiving", "sent"])
    }

    @Test func bufferedDoesNotBlockUntilFull() throws {
        let states = Box<[Bool]>([])
        try runSerially(maxProcs: 1) {
            let ch = Channel<String>(capacity: 3)
            ch.send("a"); ch.send("b"); ch.send("c")
            #expect(ch.count == 3)
            // A fourth send would block: a select with default must take the default.
            var tookDefault = false
            select {
                $0.send(ch, "d") { tookDefault = false }
                $0.default { tookDefault = true }
            }
            states.value.append(tookDefault)
            #expect(ch.receive() == "a")
            #expect(ch.receive() == "b")
            ch.send("d")
            #expect(ch.receive() == "c")
            #expect(ch.receive() == "d")
        }
        #expect(states.value == [true])
    }

    @Test func bufferedWithWaitingSenderKeepsFIFO() throws {
        let got = Box<[Int]>([])
        try runSerially(maxProcs: 2) {
            let ch = Channel<Int>(capacity: 2)
            let wg = WaitGroup()
            wg.add(1)
            go {
                for i in 0..<50 { ch.send(i) }  // blocks whenever the buffer is full
                wg.done()
            }
            for _ in 0..<50 {
                got.value.append(ch.receive()!)
                if got.value.count % 5 == 0 { Runtime.yield() }
            }
            wg.wait()
        }
        #expect(got.value == Array(0..<50))
    }

    @Test func closeDrainsThenReturnsNil() throws {
        let got = Box<[Int?]>([])
        try runSerially(maxProcs: 1) {
            let ch = Channel<Int>(capacity: 4)
            ch.send(1); ch.send(2)
            ch.close()
            #expect(ch.isClosed)
            got.value = [ch.receive(), ch.receive(), ch.receive(), ch.receive()]
        }
        #expect(got.value == [1, 2, nil, nil])
    }

    @Test func closeWakesEveryBlockedReceiver() throws {
        let nils = Counters(1)
        try runSerially(maxProcs: 2) {
            let ch = Channel<Int>()
            let wg = WaitGroup()
            for _ in 0..<10 {
                wg.add(1)
                go {
                    if ch.receive() == nil { nils.add(0) }
                    wg.done()
                }
            }
            for _ in 0..<5 { Runtime.yield() }
            ch.close()
            wg.wait()
        }
        #expect(nils[0] == 10)
    }

    @Test func selectWithDefaultTakesDefaultWhenNothingIsReady() throws {
        let picked = Box<[String]>([])
        try runSerially(maxProcs: 1) {
            let a = Channel<Int>(), b = Channel<Int>()
            select {
                $0.receive(a) { _ in picked.value.append("a") }
                $0.receive(b) { _ in picked.value.append("b") }
                $0.default { picked.value.append("default") }
            }
            let c = Channel<Int>(capacity: 1)
            c.send(7)
            select {
                $0.receive(a) { _ in picked.value.append("a") }
                $0.receive(c) { v in picked.value.append("c\(v!)") }
                $0.default { picked.value.append("default") }
            }
        }
        #expect(picked.value == ["default", "c7"])
    }

    @Test func selectWithoutDefaultBlocksUntilACaseIsReady() throws {
        let picked = Box<[String]>([])
        try runSerially(maxProcs: 2) {
            let a = Channel<Int>(), b = Channel<String>(), out = Channel<Int>()
            go { b.send("hello") }
            select {
                $0.receive(a) { v in picked.value.append("a\(v ?? -1)") }
                $0.receive(b) { v in picked.value.append(v ?? "nil") }
            }
            // A send case completes when a receiver arrives.
            go { picked.value.append("got \(out.receive()!)") }
            select {
                $0.send(out, 5) { picked.value.append("sent") }
                $0.receive(a) { _ in picked.value.append("a") }
            }
            Runtime.sleep(for: .milliseconds(1))
            // A closed channel makes its receive case ready with nil.
            a.close()
            select {
                $0.receive(a) { v in picked.value.append(v == nil ? "closed" : "value") }
                $0.receive(b) { _ in picked.value.append("b") }
            }
        }
        #expect(picked.value.contains("hello"))
        #expect(picked.value.contains("sent"))
        #expect(picked.value.contains("got 5"))
        #expect(picked.value.last == "closed")
    }

    @Test func selectIsFairAmongReadyCases() throws {
        let counts = Counters(2)
        try runSerially(maxProcs: 1) {
            let a = Channel<Int>(capacity: 1000), b = Channel<Int>(capacity: 1000)
            for i in 0..<1000 { a.send(i); b.send(i) }
            for _ in 0..<1000 {
                select {
                    $0.receive(a) { _ in counts.add(0) }
                    $0.receive(b) { _ in counts.add(1) }
                }
            }
        }
        // Random choice: both cases are taken (the chance of one never winning is 2^-999).
        #expect(counts[0] > 0 && counts[1] > 0)
        #expect(counts[0] + counts[1] == 1000)
    }

    @Test func manySelectorsAndSendersLoseNothing() throws {
        let n = stress ? 100_000 : 5_000
        let sum = Counters(1)
        try runSerially(maxProcs: 2) {
            let a = Channel<Int>(), b = Channel<Int>(capacity: 3), quit = Channel<Int>()
            let wg = WaitGroup()
            for _ in 0..<3 {
                wg.add(1)
                go {
                    var running = true
                    while running {
                        select {
                            $0.receive(a) { v in sum.add(0, v!) }
                            $0.receive(b) { v in sum.add(0, v!) }
                            $0.receive(quit) { _ in running = false }
                        }
                    }
                    wg.done()
                }
            }
            let senders = WaitGroup()
            senders.add(2)
            go { for i in 0..<n { a.send(i) }; senders.done() }
            go { for i in 0..<n { b.send(i) }; senders.done() }
            senders.wait()
            // Values still buffered in `b` must be received before quitting (select picks at
            // random among ready cases, so quit could otherwise win over a buffered value).
            while b.count > 0 { Runtime.yield() }
            quit.close()
            wg.wait()
        }
        #expect(sum[0] == 2 * (n * (n - 1) / 2))
    }

    @Test func sendOnClosedChannelTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) {
                let ch = Channel<Int>(capacity: 1)
                ch.close()
                ch.send(1)
            }
        }
        if let result {
            #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("send on closed channel"))
        }
    }
}

/// Counts live instances, to check that channels retain and release what they carry.
final class Tracked: @unchecked Sendable {
    static let live = Counters(1)
    let id: Int
    init(_ id: Int) { self.id = id; Tracked.live.add(0) }
    deinit { Tracked.live.add(0, -1) }
}

@Suite struct ChannelMemoryTests {
    /// Values handed off, buffered, received, left in a dropped channel or carried by select
    /// are all released exactly once.
    @Test func valuesAreReleasedExactlyOnce() throws {
        let before = Tracked.live[0]
        let ids = Box<[Int]>([])
        try runSerially(maxProcs: 2) {
            let unbuffered = Channel<Tracked>()
            let buffered = Channel<Tracked>(capacity: 8)
            go {
                for i in 0..<100 { unbuffered.send(Tracked(i)) }
                unbuffered.close()
            }
            for t in unbuffered { ids.value.append(t.id) }
            for i in 0..<5 { buffered.send(Tracked(1000 + i)) }
            ids.value.append(buffered.receive()!.id)
            select {
                $0.receive(buffered) { t in ids.value.append(t!.id) }
            }
            let other = Channel<Tracked>()
            go { other.send(Tracked(2000)) }
            select {
                $0.receive(other) { t in ids.value.append(t!.id) }
                $0.send(other, Tracked(3000)) {}   // loses: its value must still be released
            }
            // Senders still hold their argument until their send returns: let them finish
            // (an abandoned goroutine keeps what it references).
            while Runtime.goroutineCount > 1 { Runtime.yield() }
            // `buffered` still holds three values when it is dropped here.
        }
        #expect(ids.value.count == 103)
        #expect(Array(ids.value.prefix(100)) == Array(0..<100))
        #expect(Tracked.live[0] == before)
    }
}
