// CSpoolNet: the system-call shims behind Spool's netpoller and TCP sockets.
//
// Why these are C and not Swift's Glibc module:
//   * `<sys/epoll.h>` and `<sys/eventfd.h>` are not part of Glibc's Swift module map, so epoll
//     and eventfd are invisible from Swift unless a C header of ours includes them
//     (runtime-feasibility Q4);
//   * `accept4` needs `_GNU_SOURCE`, which Glibc's module does not define;
//   * every shim returns `-errno` on failure instead of -1, so the error is captured in C at the
//     instant the call fails. In Swift, ARC traffic (a release running a deinit that calls
//     free) or a goroutine switch could overwrite `errno` between the call and its read.
//   * `sockaddr_in` is filled in here, so Swift never rebinds a `sockaddr_in` as `sockaddr`.
//
// Policy: the shims do not retry or interpret errors; `Syscalls.swift` applies the errno policy
// (EINTR retried, EAGAIN as a value, EBADF/EFAULT fatal). IPv4 only. Every symbol is prefixed
// `spool_`; the code lives in the `spool_text` section like the rest of the runtime's C.

#ifndef CSPOOL_NET_H
#define CSPOOL_NET_H

#include <stdint.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - epoll and eventfd

/// epoll_create1(EPOLL_CLOEXEC). Returns the fd or -errno.
int spool_epoll_create(void);
/// epoll_ctl with an event built from `events` and the 64-bit user data `data`. 0 or -errno.
int spool_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// epoll_wait into `events` (the packed kernel layout). Count or -errno.
int spool_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms);
/// The event mask and user data of `events[i]` (the struct is packed; reading it here keeps
/// Swift away from unaligned fields).
uint32_t spool_epoll_event_events(const struct epoll_event *events, int i);
uint64_t spool_epoll_event_data(const struct epoll_event *events, int i);
/// eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK). fd or -errno.
int spool_eventfd(void);
/// Adds 1 to the eventfd counter. 0 or -errno.
int spool_eventfd_signal(int fd);
/// Reads (and so resets) the eventfd counter. 0 or -errno (EAGAIN when it was 0).
int spool_eventfd_drain(int fd);

// MARK: - Sockets (IPv4, TCP)

/// socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0). fd or -errno.
int spool_tcp_socket(void);
/// Parses a dotted-quad IPv4 address into network byte order. 1 if valid, 0 if not.
int spool_inet4_parse(const char *text, uint32_t *addr_be);
/// bind to `addr_be:port` (address in network order, port in host order). 0 or -errno.
int spool_bind4(int fd, uint32_t addr_be, uint16_t port);
/// listen. 0 or -errno.
int spool_listen(int fd, int backlog);
/// accept4(fd, NULL, NULL, SOCK_NONBLOCK|SOCK_CLOEXEC). The new fd or -errno.
int spool_accept4(int fd);
/// connect to `addr_be:port`. 0 or -errno (-EINPROGRESS: completes asynchronously).
int spool_connect4(int fd, uint32_t addr_be, uint16_t port);
/// The pending socket error (getsockopt SO_ERROR): 0, a positive errno, or -errno if
/// getsockopt itself failed.
int spool_socket_error(int fd);
/// Whether the socket is connected (getpeername succeeds): 1, 0 (ENOTCONN), or -errno.
int spool_is_connected(int fd);
/// setsockopt with an int value. 0 or -errno.
int spool_setsockopt_int(int fd, int level, int name, int value);
/// The local port (getsockname), host order, or -errno.
int spool_local_port4(int fd);
/// Common option names, so Swift need not import the socket headers.
int spool_sol_socket(void);
int spool_so_reuseaddr(void);
int spool_ipproto_tcp(void);
int spool_tcp_nodelay(void);
/// SO_LINGER {on, 0 s}: the next close sends RST instead of FIN (used by tests and by callers
/// that want an abortive close). 0 or -errno.
int spool_set_linger_zero(int fd);

// MARK: - I/O

/// read(2). Bytes read (0 at EOF) or -errno.
int64_t spool_read(int fd, void *buf, size_t n);
/// send(2) with MSG_NOSIGNAL, so writing to a reset peer returns EPIPE instead of raising
/// SIGPIPE (which would end the process). Bytes sent or -errno.
int64_t spool_send(int fd, const void *buf, size_t n);
/// close(2). 0 or -errno.
int spool_close(int fd);

#ifdef __cplusplus
}
#endif

#endif
