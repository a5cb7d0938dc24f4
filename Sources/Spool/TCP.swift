// TCP sockets for goroutines: `TCPListener` and `TCPConnection`, blocking-style calls that park
// the goroutine (never its thread) on the netpoller (Netpoll.swift).
//
// Every socket is non-blocking and close-on-exec (SOCK_NONBLOCK|SOCK_CLOEXEC, accept4), and is
// registered with the poller once, when it is created. An operation runs the syscall; on EAGAIN
// it parks in `pollWait` (GoBlock net_read for read and accept, net_write for write and
// connect) and retries when the poller reports readiness. EINTR never reaches a caller
// (Syscalls.swift). IPv4 only: hosts are dotted quads or "localhost" (no name resolution, which
// would block a thread).
//
// `NetFD` owns the descriptor (Go's netFD + fdMutex, simplified). Invariant "Close after the
// last use": `close()` marks the fd closing and wakes its waiters (their operations fail with
// `.closed`), but the descriptor itself is closed, and its pollDesc freed, only when the last
// operation in progress has let go of it (a reference count in `state`). Without this, an
// operation between its closing check and its syscall could read from a descriptor number the
// kernel has already handed to someone else.
//
// One reader and one writer at a time per socket: concurrent reads (or writes) on one
// connection are serialized by a `GoMutex` per direction, since a pollDesc slot holds one
// waiter. A reader and a writer run concurrently (full duplex).
//
// Deadlines (Go's SetReadDeadline): `setReadDeadline(_:)` / `setWriteDeadline(_:)` /
// `setDeadline(_:)` take a timeout from now, or nil for none. Once a deadline passes, pending
// and later operations in that direction fail with `NetError.timedOut` until a new deadline
// is set. A deadline is not a per-call timeout: set it again before each call for that.
//
// Rejected: blocking sockets plus a thread per waiting goroutine (the point of the netpoller is
// not to do that); `write` that returns a short count (callers would all loop; Go's Write
// writes everything too).

import CSpool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the TCP API. Printable (`description`), comparable in tests.
public enum NetError: Error, Equatable, CustomStringConvertible {
    /// Nobody listens at the address (ECONNREFUSED).
    case connectionRefused
    /// The peer reset the connection (ECONNRESET).
    case connectionReset
    /// Writing to a connection the peer has closed (EPIPE).
    case brokenPipe
    /// A read or write deadline passed.
    case timedOut
    /// The listener or connection was closed (by this process).
    case closed
    /// The address is already bound (EADDRINUSE).
    case addressInUse
    /// The host is not an IPv4 dotted quad or "localhost", or the port is out of range.
    case invalidAddress(String)
    /// Any other failure: the operation and its errno.
    case system(op: String, errno: Int32)

    public var description: String {
        switch self {
        case .connectionRefused: return "connection refused"
        case .connectionReset: return "connection reset by peer"
        case .brokenPipe: return "broken pipe (the peer closed the connection)"
        case .timedOut: return "i/o timeout (deadline exceeded)"
        case .closed: return "use of closed network connection"
        case .addressInUse: return "address already in use"
        case .invalidAddress(let a): return "invalid address \(a) (IPv4 dotted quad or localhost, port 0-65535)"
        case .system(let op, let e): return "\(op): \(Errno(e))"
        }
    }

    /// The typed error for an errno from `op`.
    init(_ e: Errno, op: String) {
        switch e.rawValue {
        case ECONNREFUSED: self = .connectionRefused
        case ECONNRESET: self = .connectionReset
        case EPIPE: self = .brokenPipe
        case EADDRINUSE: self = .addressInUse
        default: self = .system(op: op, errno: e.rawValue)
        }
    }

    init(_ e: PollError) {
        switch e {
        case .closing: self = .closed
        case .timeout: self = .timedOut
        }
    }
}

/// Parses an IPv4 host ("localhost" or a dotted quad) into network byte order.
private func parseIPv4(_ host: String, _ port: Int) throws -> (UInt32, UInt16) {
    guard (0...65535).contains(port) else { throw NetError.invalidAddress("\(host):\(port)") }
    let text = host == "localhost" ? "127.0.0.1" : host
    var addr: UInt32 = 0
    guard text.withCString({ spool_inet4_parse($0, &addr) }) == 1 else {
        throw NetError.invalidAddress("\(host):\(port)")
    }
    return (addr, UInt16(port))
}

/// A socket descriptor and its pollDesc, closed after its last use ("Close after the last
/// use").
final class NetFD: @unchecked Sendable {
    let fd: Int32
    let pd: PollDescPtr
    /// Bit 63: closing. Low bits: references (operations in progress, and `close` itself while
    /// it wakes the waiters). acquiring/releasing: the last decrement happens after every use.
    let state = Atomic<UInt64>(0)
    let readLock = GoMutex()
    let writeLock = GoMutex()
    /// "Drained reads": the last read returned fewer bytes than it asked for, so the socket's
    /// receive queue was empty at that moment; data arriving later raises a new edge-triggered
    /// event. The next read then waits for readiness before it tries, instead of paying a
    /// system call for the EAGAIN it would almost surely get (a stale readiness costs that one
    /// read again). Two things keep it from waiting for an event that already came: the
    /// operation keeps a readiness the poller recorded since the last read (`pollReset`'s
    /// `keepReady`), and a hangup seen by the poller (`PollDesc.readHup`: the peer's FIN may
    /// have been consumed with the last data) skips the wait. Guarded by `readLock`.
    var readDrained = false
    private static let closingBit: UInt64 = 1 << 63

    /// Registers `fd` with the poller; on failure closes `fd`.
    init(fd: Int32) throws {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        switch pollOpen(fd) {
        case .success(let pd):
            self.fd = fd
            self.pd = pd
        case .failure(let e):
            sysClose(fd)
            throw e
        }
    }

    deinit {
        // Nobody can be inside an operation (each holds a reference to self).
        _ = close()
    }

    /// Takes a reference for an operation; fails once closing. Context: any.
    func incref() throws {
        var old = state.load(ordering: .relaxed)
        while true {
            if old & NetFD.closingBit != 0 { throw NetError.closed }
            let (ok, cur) = state.compareExchange(expected: old, desired: old + 1, ordering: .acquiring)
            if ok { return }
            old = cur
        }
    }

    /// Drops a reference; the last one after `close` destroys the fd. Context: any.
    func decref() {
        let new = state.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        if new == NetFD.closingBit { destroy() }
    }

    /// Marks the fd closing and wakes its waiters; the descriptor is closed after the last
    /// operation lets go. Returns false if it was already closing. Context: on a goroutine if
    /// another goroutine may be waiting on the fd; otherwise any.
    func close() -> Bool {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        var old = state.load(ordering: .relaxed)
        while true {
            if old & NetFD.closingBit != 0 { return false }
            // Closing, plus a reference of our own while we wake the waiters.
            let (ok, cur) = state.compareExchange(expected: old, desired: (old | NetFD.closingBit) + 1,
                                                  ordering: .acquiringAndReleasing)
            if ok { break }
            old = cur
        }
        pollUnblock(pd)
        decref()
        return true
    }

    private func destroy() {
        pollClose(pd)
        sysClose(fd)
    }

    /// Runs a read-side (`.read`) or write-side operation: holds a reference and the
    /// direction's lock, fails early on close or an expired deadline. Context: on a goroutine.
    @inline(__always)
    func withOp<R>(_ mode: PollMode, _ body: () throws -> R) throws -> R {
        // `body` is the operation's own runtime code (syscalls and parking), never user code.
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        try incref()
        defer { decref() }
        let lock = mode == .read ? readLock : writeLock
        lock.lock()
        defer { lock.unlock() }
        if let e = pollReset(pd, mode, keepReady: mode == .read && readDrained) { throw NetError(e) }
        return try body()
    }

    /// Parks until the fd may be ready in `mode`. Context: on a goroutine inside `withOp`.
    @inline(__always)
    func wait(_ mode: PollMode) throws {
        if let e = pollWait(pd, mode) { throw NetError(e) }
    }

    /// Sets the deadline of `mode` to `timeout` from now (nil: none); does nothing once closed
    /// (the reference keeps the pollDesc from being freed and reused meanwhile).
    /// Context: on a goroutine.
    func setDeadline(_ timeout: Duration?, _ mode: PollMode) {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        guard (try? incref()) != nil else { return }
        defer { decref() }
        var d: Int64 = 0
        if let timeout {
            let (secs, atto) = timeout.components
            if secs < 0 || (secs == 0 && atto <= 0) {
                d = -1
            } else {
                let (ns, overflow) = secs.multipliedReportingOverflow(by: 1_000_000_000)
                let total = overflow ? Int64.max / 2 : ns &+ atto / 1_000_000_000
                d = spool_nanotime() &+ min(total, Int64.max / 2)
                if d <= 0 { d = Int64.max / 2 }
            }
        }
        pollSetDeadline(pd, d, mode)
    }
}

/// A TCP listening socket (IPv4). `accept()` parks the calling goroutine until a connection
/// arrives.
///
/// Context: `accept` and `close` must be called on a goroutine (inside `Runtime.run`).
public final class TCPListener: @unchecked Sendable {
    let nfd: NetFD
    /// The address it listens on.
    public let host: String
    /// The port it listens on (the one the system picked, if created with port 0).
    public let port: Int

    /// Listens on `host:port` (SO_REUSEADDR, backlog SOMAXCONN). Port 0 picks a free port;
    /// `port` tells which. Throws `NetError.addressInUse`, `.invalidAddress`, or `.system`.
    public init(host: String = "127.0.0.1", port: Int) throws {
        let (addr, p) = try parseIPv4(host, port)
        let fd: Int32
        switch sysTCPSocket() {
        case .ok(let f): fd = f
        case .wouldBlock: throw NetError.system(op: "socket", errno: EAGAIN)
        case .failure(let e): throw NetError(e, op: "socket")
        }
        func fail(_ e: Errno, _ op: String) -> NetError {
            sysClose(fd)
            return NetError(e, op: op)
        }
        if case .failure(let e) = sysSetsockopt(fd, spool_sol_socket(), spool_so_reuseaddr(), 1) {
            throw fail(e, "setsockopt(SO_REUSEADDR)")
        }
        if case .failure(let e) = sysBind4(fd, addr, p) { throw fail(e, "bind") }
        if case .failure(let e) = sysListen(fd, backlog: SOMAXCONN) { throw fail(e, "listen") }
        self.port = sysLocalPort(fd)
        self.host = host
        nfd = try NetFD(fd: fd)
    }

    /// Waits for the next connection and returns it (TCP_NODELAY set). Throws `.closed` if the
    /// listener is closed (also while waiting), `.timedOut` after a deadline, or `.system`
    /// (e.g. EMFILE: out of descriptors). Context: on a goroutine.
    public func accept() throws -> TCPConnection {
        try nfd.withOp(.read) {
            while true {
                switch sysAccept4(nfd.fd) {
                case .ok(let cfd):
                    return try TCPConnection(fd: cfd)
                case .wouldBlock:
                    try nfd.wait(.read)
                case .failure(let e):
                    // The connection was reset while queued: try the next one (as Go).
                    if e.rawValue == ECONNABORTED { continue }
                    throw NetError(e, op: "accept")
                }
            }
        }
    }

    /// Sets a deadline for `accept` (`timeout` from now; nil: none). Context: on a goroutine.
    public func setDeadline(_ timeout: Duration?) { nfd.setDeadline(timeout, .read) }

    /// Stops listening. A goroutine blocked in `accept` gets `.closed`. Closing twice is
    /// harmless. Context: on a goroutine.
    public func close() { _ = nfd.close() }
}

/// A TCP connection (IPv4). Reads and writes park the calling goroutine, not its thread, while
/// the socket is not ready.
///
/// Context: every method except the deadline setters' effect on other goroutines must be
/// called on a goroutine (inside `Runtime.run`). One goroutine may read while another writes.
public final class TCPConnection: @unchecked Sendable {
    let nfd: NetFD

    /// Wraps a connected socket.
    init(fd: Int32) throws {
        _ = sysSetsockopt(fd, spool_ipproto_tcp(), spool_tcp_nodelay(), 1)
        nfd = try NetFD(fd: fd)
    }

    private init(nfd: NetFD) { self.nfd = nfd }

    /// Connects to `host:port` (IPv4 dotted quad or "localhost"), parking until the connection
    /// is established. Throws `.connectionRefused` when nobody listens, `.invalidAddress`, or
    /// `.system`. Context: on a goroutine.
    public static func connect(host: String, port: Int) throws -> TCPConnection {
        let (addr, p) = try parseIPv4(host, port)
        let fd: Int32
        switch sysTCPSocket() {
        case .ok(let f): fd = f
        case .wouldBlock: throw NetError.system(op: "socket", errno: EAGAIN)
        case .failure(let e): throw NetError(e, op: "socket")
        }
        let conn = TCPConnection(nfd: try NetFD(fd: fd))
        do {
            try conn.nfd.withOp(.write) {
                switch sysConnect4(fd, addr, p) {
                case .ok: return
                case .failure(let e) where e == .inProgress: break
                case .wouldBlock: break
                case .failure(let e): throw NetError(e, op: "connect")
                }
                // Never clear the slot here: the handshake may already have completed and set
                // pdReady ("No lost wakeups"). A stale readiness from the registration of the
                // still unconnected socket is a spurious wakeup, told apart by getpeername.
                while true {
                    try conn.nfd.wait(.write)
                    let err = sysSocketError(fd)
                    if err == EINPROGRESS || err == EALREADY || err == EINTR { continue }
                    if err != 0 { throw NetError(Errno(err), op: "connect") }
                    switch sysIsConnected(fd) {
                    case .ok(true): return
                    case .ok(false): continue // a spurious wakeup: still connecting
                    case .wouldBlock: continue
                    case .failure(let e): throw NetError(e, op: "connect")
                    }
                }
            }
        } catch {
            conn.close()
            throw error
        }
        _ = sysSetsockopt(fd, spool_ipproto_tcp(), spool_tcp_nodelay(), 1)
        return conn
    }

    /// Reads up to `buffer.count` bytes into the start of `buffer`, parking until at least one
    /// byte is available. Returns the count, or 0 at end of stream (the peer closed its side).
    /// Throws `.connectionReset`, `.timedOut`, `.closed`, or `.system`. Context: on a goroutine.
    public func read(into buffer: inout [UInt8]) throws -> Int {
        if buffer.isEmpty { return 0 }
        return try nfd.withOp(.read) {
            if nfd.readDrained {
                nfd.readDrained = false
                // acquiring: partner of the poller's releasing store.
                if !nfd.pd.pointee.readHup.load(ordering: .acquiring) { try nfd.wait(.read) }
            }
            while true {
                let r = buffer.withUnsafeMutableBytes { sysRead(nfd.fd, $0.baseAddress!, $0.count) }
                switch r {
                case .ok(let n):
                    nfd.readDrained = n > 0 && n < buffer.count
                    return n
                case .wouldBlock: try nfd.wait(.read)
                case .failure(let e): throw NetError(e, op: "read")
                }
            }
        }
    }

    /// Writes all of `bytes`, parking whenever the socket buffer is full. Throws
    /// `.brokenPipe` / `.connectionReset` when the peer is gone, `.timedOut`, `.closed`, or
    /// `.system`; some bytes may have been sent before an error. Context: on a goroutine.
    public func write(_ bytes: [UInt8]) throws {
        try nfd.withOp(.write) {
            var off = 0
            while off < bytes.count {
                let r = bytes.withUnsafeBytes { sysSend(nfd.fd, $0.baseAddress! + off, $0.count - off) }
                switch r {
                case .ok(let n): off += n
                case .wouldBlock: try nfd.wait(.write)
                case .failure(let e): throw NetError(e, op: "write")
                }
            }
        }
    }

    /// Sets the read deadline to `timeout` from now (nil: none); a `timeout` ≤ 0 expires it at
    /// once. Context: on a goroutine.
    public func setReadDeadline(_ timeout: Duration?) { nfd.setDeadline(timeout, .read) }

    /// Sets the write deadline to `timeout` from now (nil: none). Context: on a goroutine.
    public func setWriteDeadline(_ timeout: Duration?) { nfd.setDeadline(timeout, .write) }

    /// Sets both deadlines. Context: on a goroutine.
    public func setDeadline(_ timeout: Duration?) {
        nfd.setDeadline(timeout, .read)
        nfd.setDeadline(timeout, .write)
    }

    /// Closes the connection. Goroutines blocked in `read` or `write` on it get `.closed`.
    /// Closing twice is harmless. Context: on a goroutine.
    public func close() { _ = nfd.close() }

    /// Closes the connection abortively: the peer's next read or write fails with
    /// `.connectionReset` (SO_LINGER 0, then close). Context: on a goroutine.
    public func reset() {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        guard (try? nfd.incref()) != nil else { return }
        _ = sysSetLingerZero(nfd.fd)
        nfd.decref()
        close()
    }
}
