// Deterministic tests of the local run queue, runnext and the global queue (no threads).

@testable import Spool
import Testing

@Suite struct RunQueueTests {
    /// Fresh Gs for queue tests: they are never run.
    func makeGs(_ s: SchedPtr, _ n: Int) -> [GPtr] {
        (0..<n).map { _ in newG(s, {}, stackSize: 16 << 10) }
    }

    func drainLocal(_ pp: PPtr) -> [GPtr] {
        var out: [GPtr] = []
        while let (g, _) = runqget(pp) { out.append(g) }
        return out
    }

    @Test func putThenGetIsFIFO() {
        let s = makeSched(procs: 1, runqCapacity: 8)
        let pp = s.pointee.allp[0]
        let gs = makeGs(s, 5)
        for g in gs { runqput(s, pp, g, next: false) }
        #expect(!runqempty(pp))
        let got = drainLocal(pp)
        #expect(got == gs)
        #expect(runqempty(pp))
        #expect(runqget(pp) == nil)
    }

    @Test func runnextRunsFirstAndKicksTheOldOneToTheTail() {
        let s = makeSched(procs: 1, runqCapacity: 8)
        let pp = s.pointee.allp[0]
        let gs = makeGs(s, 4)
        runqput(s, pp, gs[0], next: false)
        runqput(s, pp, gs[1], next: true)
        runqput(s, pp, gs[2], next: true)    // kicks gs[1] to the tail
        runqput(s, pp, gs[3], next: false)
        let first = runqget(pp)!
        #expect(first.0 == gs[2])
        #expect(first.inheritTime)
        let rest = drainLocal(pp)
        #expect(rest == [gs[0], gs[1], gs[3]])
    }

    @Test func overflowMovesHalfPlusOneToTheGlobalQueue() {
        let s = makeSched(procs: 1, runqCapacity: 8)
        let pp = s.pointee.allp[0]
        let gs = makeGs(s, 9)
        for g in gs { runqput(s, pp, g, next: false) }
        // The 9th put found the ring full: the oldest 4 plus the new G went global.
        #expect(s.pointee.runqsize.load(ordering: .relaxed) == 5)
        let local = drainLocal(pp)
        #expect(local == Array(gs[4..<8]))
        s.pointee.lock.lock()
        var global: [GPtr] = []
        while let g = globrunqget(s, pp, max: 1) { global.append(g) }
        s.pointee.lock.unlock()
        #expect(global == Array(gs[0..<4]) + [gs[8]])
        #expect(s.pointee.runqsize.load(ordering: .relaxed) == 0)
    }

    @Test func globrunqgetRefillsTheLocalQueue() {
        let s = makeSched(procs: 2, runqCapacity: 8)
        let pp = s.pointee.allp[0]
        let gs = makeGs(s, 6)
        s.pointee.lock.lock()
        for g in gs { globrunqput(s, g) }
        // n = size/procs + 1 = 4, capped at capacity/2 = 4: one returned, three moved local.
        let g = globrunqget(s, pp, max: 0)
        s.pointee.lock.unlock()
        #expect(g == gs[0])
        #expect(drainLocal(pp) == Array(gs[1..<4]))
        #expect(s.pointee.runqsize.load(ordering: .relaxed) == 2)
    }

    @Test func stealTakesHalfFromTheHead() {
        let s = makeSched(procs: 2, runqCapacity: 8)
        let victim = s.pointee.allp[0], thief = s.pointee.allp[1]
        let gs = makeGs(s, 6)
        for g in gs { runqput(s, victim, g, next: false) }
        let stolen = runqsteal(thief, victim, stealRunNext: false)!
        #expect(stolen.count == 3)
        // The thief runs the last stolen G and keeps the others queued.
        #expect(stolen.0 == gs[2])
        #expect(drainLocal(thief) == [gs[0], gs[1]])
        #expect(drainLocal(victim) == Array(gs[3..<6]))
    }

    @Test func stealTakesRunnextOnlyWhenAsked() {
        let s = makeSched(procs: 2, runqCapacity: 8)
        let victim = s.pointee.allp[0], thief = s.pointee.allp[1]
        let g = makeGs(s, 1)[0]
        runqput(s, victim, g, next: true)
        #expect(runqsteal(thief, victim, stealRunNext: false) == nil)
        let stolen = runqsteal(thief, victim, stealRunNext: true)!
        #expect(stolen.0 == g && stolen.count == 1)
        #expect(runqempty(victim))
    }

    @Test func wrapsAroundManyTimes() {
        let s = makeSched(procs: 1, runqCapacity: 4)
        let pp = s.pointee.allp[0]
        let gs = makeGs(s, 3)
        for _ in 0..<1000 {
            for g in gs { runqput(s, pp, g, next: false) }
            #expect(drainLocal(pp) == gs)
        }
        #expect(s.pointee.runqsize.load(ordering: .relaxed) == 0)
    }
}
