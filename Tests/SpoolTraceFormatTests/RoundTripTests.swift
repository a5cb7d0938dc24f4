// Every event kind, with extreme argument values, through BatchEncoder → bytes → TraceFile →
// scan → OrderedEvents, and the header fields through encode → parse.

import Testing
import SpoolTraceFormat

@Suite struct RoundTripTests {
    /// Values that sit on varint length boundaries and at the ends of the ranges.
    static let extremes: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), UInt64(UInt32.max) + 1,
                                     UInt64.max - 1, UInt64.max]

    /// The values argument `index` of `kind` may take: enums and seqs within their range, P ids
    /// below `maxProcs`, everything else any 64-bit value.
    static func values(_ kind: EventKind, _ index: Int, maxProcs: UInt64) -> [UInt64] {
        if let type = kind.enumArgs[index] { return Array(0..<UInt64(type.names.count)) }
        if kind.seqArgIndex == index { return [0, 1, 126, 127] }
        if (kind == .steal && index == 0) || (kind == .preemptRequest && index == 1) {
            return Array(Set([0, 1, 127, 128, 16_383, 16_384, maxProcs - 1].filter { $0 < maxProcs })).sorted()
        }
        return extremes
    }

    /// Events of every kind in the owner kinds it allows, every argument taking every one of its
    /// values (the others cycling), with timestamp deltas of varying width.
    static func allKindsTrace(maxProcs: UInt64) -> (BuiltTrace, [[E]]) {
        var perOwner: [BatchOwner: [E]] = [:]
        var t: UInt64 = 0
        let deltas: [UInt64] = [0, 1, 127, 128, 1 << 20, UInt64(UInt32.max)]
        var n = 0
        for kind in EventKind.allCases {
            let columns = (0..<kind.argCount).map { values(kind, $0, maxProcs: maxProcs) }
            let rows = max(1, columns.map(\.count).max() ?? 1)
            let owners: [BatchOwner] = (kind.allowedIn.contains(.p) ? [.p(UInt32(maxProcs - 1))] : [])
                + (kind.allowedIn.contains(.m) ? [.m(UInt32.max)] : [])
            for owner in owners {
                for r in 0..<rows {
                    let args = columns.enumerated().map { i, c in c[(r + i) % c.count] }
                    t += deltas[n % deltas.count]
                    n += 1
                    perOwner[owner, default: []].append(E(kind, t, args))
                }
            }
        }
        var batches: [B] = []
        var expected: [[E]] = []
        for (owner, events) in perOwner.sorted(by: { $0.key.description < $1.key.description }) {
            // Two batches per owner, the second with a base timestamp before its first event.
            let half = events.count / 2
            batches.append(B(owner, seq: 0, Array(events[..<half])))
            batches.append(B(owner, seq: 1, base: events[half].ticks / 2, Array(events[half...])))
            expected.append(Array(events[..<half]))
            expected.append(Array(events[half...]))
        }
        return (buildTrace(testHeader(maxProcs: maxProcs), batches, end: t), expected)
    }

    @Test(arguments: [UInt64(1), 4, 65_536])
    func everyKindWithExtremeArguments(maxProcs: UInt64) throws {
        let (trace, expectedBatches) = Self.allKindsTrace(maxProcs: maxProcs)
        let file = try TraceFile(bytes: trace.bytes)
        #expect(file.header == testHeader(maxProcs: maxProcs))
        #expect(file.size == trace.bytes.count)
        let scan = file.scan()
        #expect(scan.problem == nil, "\(String(describing: scan.problem))")
        #expect(scan.end != nil)
        #expect(scan.batchCountMismatch == false)
        #expect(scan.validBytes == trace.bytes.count)
        #expect(scan.batches.count == expectedBatches.count)
        #expect(scan.batches.map(\.offset) == trace.frameOffsets)
        let all = expectedBatches.flatMap { $0 }
        #expect(scan.eventCount == all.count)
        #expect(Set(all.map(\.kind)) == Set(EventKind.allCases))

        // Decode each batch on its own: exact kinds, timestamps, owners and arguments.
        for (info, events) in zip(scan.batches, expectedBatches) {
            var payload: [UInt8] = []
            file.readPayload(of: info, into: &payload)
            var decoded: [TraceEvent] = []
            try payload.withUnsafeBufferPointer { b in
                var d = EventDecoder(base: b.baseAddress!, count: info.payloadLength, fileOffset: info.payloadOffset,
                                     owner: info.owner, baseTicks: info.baseTicks, maxProcs: maxProcs)
                while let e = try d.next() { decoded.append(e) }
            }
            #expect(decoded.count == events.count)
            for (d, e) in zip(decoded, events) {
                #expect(d.kind == e.kind)
                #expect(d.ticks == e.ticks)
                #expect(d.owner == info.owner)
                #expect((0..<e.kind.argCount).map { d.arg($0) } == e.args, "\(e.kind.name)")
                #expect((e.kind.argCount..<3).allSatisfy { d.arg($0) == 0 })
                #expect(d.offset >= info.payloadOffset && d.offset < info.payloadOffset + info.payloadLength)
                #expect(trace.bytes[d.offset] == e.kind.rawValue)
            }
            #expect(info.eventCount == events.count)
            #expect(info.lastTicks == events.last!.ticks)
        }

        // The merge returns every event exactly once, each owner's in its own order.
        let (merged, _, _, missing) = ordered(file, scan)
        #expect(merged.count == all.count)
        #expect(missing == 0)
        for owner in Set(merged.map(\.owner)) {
            let got: [[UInt64]] = merged.filter { $0.owner == owner }.map { e in
                [UInt64(e.kind.rawValue), e.ticks, e.a0, e.a1, e.a2]
            }
            var want: [[UInt64]] = []
            for (info, events) in zip(scan.batches, expectedBatches) where info.owner == owner {
                for e in events {
                    let padding = [UInt64](repeating: 0, count: 3 - e.args.count)
                    want.append([UInt64(e.kind.rawValue), e.ticks] + e.args + padding)
                }
            }
            #expect(got == want, "\(owner)")
        }
    }

    @Test func headerFieldsRoundTrip() throws {
        let headers = [
            TraceHeader(ticksPerSecond: 1, maxProcs: 1),
            TraceHeader(ticksPerSecond: UInt64.max, maxProcs: 65_536, wallClockStartNs: UInt64.max, pid: UInt64.max,
                        program: String(repeating: "p", count: 300), arguments: (0..<200).map { "arg\($0)" },
                        meta: (0..<130).map { TraceHeader.KeyValue("k\($0)", String(repeating: "v", count: $0)) }),
            testHeader(maxProcs: 3, ticksPerSecond: 62_500_000),
        ]
        for h in headers {
            let bytes = h.encoded() + FrameLayout.endFrame(batchCount: 0, endTicks: 0)
            let file = try TraceFile(bytes: bytes)
            #expect(file.header == h)
            let scan = file.scan()
            #expect(scan.problem == nil)
            #expect(scan.end?.offset == bytes.count - 32)
            #expect(scan.end?.batchCount == 0)
            #expect(scan.end?.endTicks == 0)
            #expect(scan.batches.isEmpty)
        }
    }

    @Test func tickConversionIsExactIn128Bits() {
        let h = TraceHeader(ticksPerSecond: 62_500_000, maxProcs: 1)
        #expect(h.nanoseconds(0) == 0)
        #expect(h.nanoseconds(1) == 16)
        // ticks × 10⁹ needs more than 64 bits here.
        #expect(h.nanoseconds(20_000_001_000) == 320_000_016_000)
        #expect(h.nanoseconds(UInt64(Int64.max) / 16) == Int64(UInt64(Int64.max) / 16 * 16))
        #expect(h.nanoseconds(UInt64.max) == Int64.max)  // 2^64 × 16 ns does not fit: clamped
        let odd = TraceHeader(ticksPerSecond: 3, maxProcs: 1)
        #expect(odd.nanoseconds(1) == 333_333_333)  // floor
        #expect(odd.nanoseconds(2) == 666_666_666)
        let ghz = TraceHeader(ticksPerSecond: 1_000_000_000, maxProcs: 1)
        #expect(ghz.nanoseconds(UInt64.max) == Int64.max)  // clamped
    }

    /// Values the encoder can write but the reader must refuse, each naming the event's offset.
    @Test(arguments: [
        E(.goStart, 10, 5, 128),            // seq not below 128
        E(.goStop, 10, 2),                  // StopReason out of range
        E(.goBlock, 10, 9),                 // BlockReason out of range
        E(.goWake, 10, 5, 1, 2),            // WakeSource out of range
        E(.preempted, 10, 2),               // PreemptKind out of range
        E(.threadCreate, 10, 3, 5),         // ThreadCause out of range
        E(.goStatus, 10, 5, 1, 4),          // GoStatusCode out of range
        E(.steal, 10, 4, 1),                // fromP not below maxProcs (4)
        E(.preemptRequest, 10, 1, 4),       // p not below maxProcs (4)
    ])
    func outOfRangeArgumentIsRejectedWithItsOffset(event: E) throws {
        let good = E(.procStart, 5, 1)
        let trace = buildTrace(testHeader(maxProcs: 4), [
            B(.p(0), seq: 0, [good]),
            B(.p(1), seq: 0, [good, event, good]),
        ])
        let scan = try TraceFile(bytes: trace.bytes).scan()
        #expect(scan.batches.count == 1)
        #expect(scan.problem?.kind == .badEvent)
        // The bad event follows the 32-byte frame header and the first event (kind, delta, arg: 3 bytes).
        #expect(scan.problem?.offset == trace.frameOffsets[1] + 32 + 3)
        #expect(scan.validBytes == trace.frameOffsets[1])
    }

    @Test func eventInTheWrongOwnerKindIsRejected() throws {
        let trace = buildTrace(testHeader(), [B(.m(3), seq: 0, [E(.goStart, 1, 2, 1)])])
        let scan = try TraceFile(bytes: trace.bytes).scan()
        #expect(scan.problem?.kind == .badEvent)
        #expect(scan.problem?.offset == trace.frameOffsets[0] + 32)
    }

    @Test func timestampOverflowIsRejected() throws {
        let trace = buildTrace(testHeader(), [B(.p(0), seq: 0, base: 10, [E(.procStart, UInt64.max, 1)])])
        // BatchEncoder clamps nothing here: delta = UInt64.max - 10, base 10: fits exactly.
        let ok = try TraceFile(bytes: trace.bytes).scan()
        #expect(ok.problem == nil)
        #expect(ok.maxTicks == UInt64.max)
        // Raise the base (and fix the CRC): base + delta now overflows.
        var bytes = trace.bytes
        let f = trace.frameOffsets[0]
        bytes[f + 16] = 11
        resealFrame(&bytes, at: f)
        let bad = try TraceFile(bytes: bytes).scan()
        #expect(bad.problem?.kind == .badEvent)
        #expect(bad.problem?.offset == f + 32)
    }
}

/// Recomputes the CRC of the frame at `offset` after a test edited it on purpose.
func resealFrame(_ bytes: inout [UInt8], at offset: Int) {
    let len = Int(bytes[offset + 24]) | Int(bytes[offset + 25]) << 8 | Int(bytes[offset + 26]) << 16 | Int(bytes[offset + 27]) << 24
    var crc = CRC32C.checksum(Array(bytes[offset..<offset + 28]))
    crc = Array(bytes[offset + 32..<offset + 32 + len]).withUnsafeBytes { CRC32C.update(crc, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, len) }
    for i in 0..<4 { bytes[offset + 28 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
}

extension E: CustomTestStringConvertible {
    var testDescription: String { "\(kind.name)\(args)" }
}
