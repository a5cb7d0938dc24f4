// A goroutine moves between Ms (threads) and keeps working: Swift values, ARC and the
// exclusivity access set survive the move.

@testable import Spool
import Testing

@Suite struct MigrationTests {
    final class Node { let v: Int; let next: Node?; init(_ v: Int, _ n: Node?) { self.v = v; next = n } }

    @Test func goroutineMigratesBetweenMs() throws {
        let observed = Box<(migrations: Int, sum: Int, ms: Set<Int>)>((0, 0, []))
        try runSerially(maxProcs: 2) {
            let stop = Channel<Int>(capacity: 2)
            // Keep both Ps busy yielding so the global queue is served by both Ms.
            for _ in 0..<2 {
                go {
                    var running = true
                    while running {
                        select {
                            $0.receive(stop) { _ in running = false }
                            $0.default { Runtime.yield() }
                        }
                    }
                }
            }
            var list: Node? = nil
            var migrations = 0
            var ms = Set<Int>()
            var last = Runtime.currentThreadID!
            ms.insert(last)
            var i = 0
            while (migrations < 20 || i < 100) && i < 1_000_000 {
                list = Node(i, list)
                Runtime.yield()
                let now = Runtime.currentThreadID!
                if now != last { migrations += 1; ms.insert(now) }
                last = now
                i += 1
            }
            var sum = 0
            var n = list
            while let node = n { sum += node.v; n = node.next }
            observed.value = (migrations, sum == i * (i - 1) / 2 ? 1 : 0, ms)
            stop.send(0); stop.send(0)
        }
        #expect(observed.value.migrations >= 20)
        #expect(observed.value.ms.count >= 2)
        #expect(observed.value.sum == 1)
    }

    /// A `modify` access to a class property stays open across switches and migrations: the
    /// access begins on one thread and ends on another. Without the per-G access set hand-over,
    /// the access would be ended on a thread that never began it (Swift's runtime then walks a
    /// list that does not contain it and crashes), and the first thread keeps a stale record
    /// (negative control: with the hooks removed from spool_gogo this test crashes).
    @Test func exclusivityAccessSetIsPerGoroutine() throws {
        let holders = (0..<8).map { _ in ExclusivityHolder() }
        try runSerially(maxProcs: 2) {
            let wg = WaitGroup()
            wg.add(holders.count)
            for h in holders {
                go {
                    for _ in 0..<20 { bumpWhileYielding(&h.value) }
                    wg.done()
                }
            }
            wg.wait()
        }
        #expect(holders.allSatisfy { $0.value == 1000 })
    }
}

final class ExclusivityHolder: @unchecked Sendable { var value = 0 }

func bumpWhileYielding(_ x: inout Int) {
    for _ in 0..<50 { x += 1; Runtime.yield() }
}
