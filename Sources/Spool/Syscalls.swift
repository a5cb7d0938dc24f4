// Every system call the netpoller and the TCP sockets make, in one place, with one errno policy.
//
// The calls go through the `spool_*` shims in CSpool (netpoll.c), which return `-errno` on
// failure: the error is read in C at the instant the call fails, before any Swift code runs
// (ARC traffic can run a deinit that clobbers `errno`; runtime-feasibility Q4).
//
// Errno policy (SwiftNIO's System.swift, Go's netpoll_epoll.go):
//   * EINTR is retried here, by the loop in `sysRetry`, for every call except two, which say so:
//     `close` (Linux releases the descriptor even when close reports EINTR, so a retry could
//     close a descriptor another goroutine just opened) and `connect` (an interrupted
//     non-blocking connect keeps going in the background: it is treated as EINPROGRESS).
//     `epoll_wait` returns to its caller, which recomputes the timeout (netpoll). EINTR never
//     reaches a caller of the public API.
//   * EAGAIN/EWOULDBLOCK is not an error: it is returned as `.wouldBlock`, and the caller parks
//     the goroutine on the netpoller.
//   * EBADF, EFAULT and ENOTSOCK on calls whose arguments the runtime built itself are
//     runtime bugs (a descriptor used after close, a bad buffer): they are fatal, with the call
//     named, as Go's runtime throws on them.
//   * Everything else is returned as `.failure(Errno)` and becomes a typed `NetError` in TCP.swift.
//
// Context: any thread; none of these parks a goroutine or blocks (sockets are non-blocking)
// except `sysEpollWait` with a timeout, which only an M without a P calls.

import CSpool
#if canImport(Glibc)
import Glibc
#endif

/// An errno value, printable.
struct Errno: Equatable, CustomStringConvertible {
    let rawValue: Int32
    init(_ v: Int32) { rawValue = v }

    var description: String {
        guard let s = strerror(rawValue) else { return "errno \(rawValue)" }
        return "\(String(cString: s)) (errno \(rawValue))"
    }

    static let interrupted = Errno(EINTR)
    static let wouldBlock = Errno(EAGAIN)
    static let inProgress = Errno(EINPROGRESS)
}

/// The result of a non-blocking call: done, would block, or failed.
enum SysResult<T> {
    case ok(T)
    case wouldBlock
    case failure(Errno)
}

/// Errnos that mean the runtime misused a call (Go's runtime throws on them).
@inline(__always)
private func isRuntimeBug(_ e: Int32) -> Bool {
    e == EBADF || e == EFAULT || e == ENOTSOCK
}

/// Runs `call` (a shim returning a value ≥ 0 or -errno) with the errno policy above.
@inline(__always)
private func sysRetry<R: SignedInteger>(_ name: StaticString, _ call: () -> R) -> SysResult<R> {
    while true {
        let r = call()
        if r >= 0 { return .ok(r) }
        let e = Int32(-r)
        if e == EINTR { continue }
        if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
        if isRuntimeBug(e) { fatal("runtime: \(name) failed with \(Errno(e)): a runtime bug") }
        return .failure(Errno(e))
    }
}

/// As `sysRetry` for calls that never return EAGAIN as "try later" and cannot fail for a
/// reason a caller can handle: any failure is fatal. Used for the poller's own setup.
private func sysMust<R: SignedInteger>(_ name: StaticString, _ call: () -> R) -> R {
    switch sysRetry(name, call) {
    case .ok(let r): return r
    case .wouldBlock: fatal("runtime: \(name) returned EAGAIN")
    case .failure(let e): fatal("runtime: \(name) failed with \(e)")
    }
}

// MARK: - epoll and eventfd

func sysEpollCreate() -> Int32 { sysMust("epoll_create1") { spool_epoll_create() } }

/// epoll_ctl. ENOENT/EEXIST/ENOMEM/ENOSPC come back as failures.
func sysEpollCtl(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, data: UInt64) -> SysResult<Int32> {
    sysRetry("epoll_ctl") { spool_epoll_ctl(epfd, op, fd, events, data) }
}

/// epoll_wait. EINTR is returned as 0 events (not retried): the caller recomputes its timeout,
/// as Go's netpoll does. Any other failure is fatal (the poller cannot go on).
func sysEpollWait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, _ max: Int32,
                  timeoutMs: Int32) -> Int32 {
    let r = spool_epoll_wait(epfd, events, max, timeoutMs)
    if r >= 0 { return r }
    if -r == EINTR { return 0 }
    fatal("runtime: epoll_wait on fd \(epfd) failed with \(Errno(-r))")
}

func sysEventfd() -> Int32 { sysMust("eventfd") { spool_eventfd() } }

/// Adds 1 to the eventfd. Returns false on EAGAIN (the counter is saturated: a wakeup is
/// pending anyway).
func sysEventfdSignal(_ fd: Int32) -> Bool {
    switch sysRetry("eventfd write", { spool_eventfd_signal(fd) }) {
    case .ok: return true
    case .wouldBlock: return false
    case .failure(let e): fatal("runtime: netpollBreak write failed with \(e)")
    }
}

/// Resets the eventfd counter (EAGAIN: it was already 0).
func sysEventfdDrain(_ fd: Int32) {
    if case .failure(let e) = sysRetry("eventfd read", { spool_eventfd_drain(fd) }) {
        fatal("runtime: netpoll eventfd read failed with \(e)")
    }
}

// MARK: - Sockets

func sysTCPSocket() -> SysResult<Int32> { sysRetry("socket") { spool_tcp_socket() } }

func sysBind4(_ fd: Int32, _ addr: UInt32, _ port: UInt16) -> SysResult<Int32> {
    sysRetry("bind") { spool_bind4(fd, addr, port) }
}

func sysListen(_ fd: Int32, backlog: Int32) -> SysResult<Int32> {
    sysRetry("listen") { spool_listen(fd, backlog) }
}

/// accept4 (non-blocking, close-on-exec).
func sysAccept4(_ fd: Int32) -> SysResult<Int32> { sysRetry("accept4") { spool_accept4(fd) } }

/// connect. Not retried on EINTR: an interrupted non-blocking connect continues in the
/// background, so EINTR is reported as EINPROGRESS (`.failure(.inProgress)`); the caller
/// waits for writability and reads SO_ERROR.
func sysConnect4(_ fd: Int32, _ addr: UInt32, _ port: UInt16) -> SysResult<Int32> {
    let r = spool_connect4(fd, addr, port)
    if r >= 0 { return .ok(r) }
    let e = -r
    if e == EINTR || e == EINPROGRESS { return .failure(.inProgress) }
    if e == EAGAIN { return .wouldBlock }
    if isRuntimeBug(e) { fatal("runtime: connect failed with \(Errno(e)): a runtime bug") }
    return .failure(Errno(e))
}

/// The socket's pending error (SO_ERROR), 0 if none.
func sysSocketError(_ fd: Int32) -> Int32 {
    sysMust("getsockopt(SO_ERROR)") { spool_socket_error(fd) }
}

/// Whether the socket is connected (getpeername), for a connect that reported writability.
func sysIsConnected(_ fd: Int32) -> SysResult<Bool> {
    switch sysRetry("getpeername", { spool_is_connected(fd) }) {
    case .ok(let r): return .ok(r == 1)
    case .wouldBlock: return .ok(false)
    case .failure(let e): return .failure(e)
    }
}

func sysSetsockopt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> SysResult<Int32> {
    sysRetry("setsockopt") { spool_setsockopt_int(fd, level, name, value) }
}

func sysLocalPort(_ fd: Int32) -> Int { Int(sysMust("getsockname") { spool_local_port4(fd) }) }

/// Sets SO_LINGER to zero seconds: closing the socket then resets the connection.
func sysSetLingerZero(_ fd: Int32) -> SysResult<Int32> {
    sysRetry("setsockopt(SO_LINGER)") { spool_set_linger_zero(fd) }
}

// MARK: - I/O

/// read(2) into `buf`. `.ok(0)` is end of file.
func sysRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> SysResult<Int> {
    switch sysRetry("read", { spool_read(fd, buf, n) }) {
    case .ok(let r): return .ok(Int(r))
    case .wouldBlock: return .wouldBlock
    case .failure(let e): return .failure(e)
    }
}

/// send(2) with MSG_NOSIGNAL (a reset peer gives EPIPE, never SIGPIPE).
func sysSend(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int) -> SysResult<Int> {
    switch sysRetry("send", { spool_send(fd, buf, n) }) {
    case .ok(let r): return .ok(Int(r))
    case .wouldBlock: return .wouldBlock
    case .failure(let e): return .failure(e)
    }
}

/// close(2), never retried: Linux frees the descriptor even when close reports EINTR, and a
/// retry could close a descriptor someone else just got (https://lwn.net/Articles/576478/).
/// EBADF is fatal (a double close is a runtime bug); other errors (EIO) are ignored: the
/// descriptor is gone either way.
func sysClose(_ fd: Int32) {
    let r = spool_close(fd)
    if r < 0 && -r == EBADF { fatal("runtime: close of fd \(fd) failed with EBADF: a double close") }
}
