// System-call shims for the netpoller and TCP sockets. See CSpoolNet.h for why each is C.
// Each returns -errno on failure, read immediately after the failing call.

#define _GNU_SOURCE
#include "CSpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RET(expr) do { int r_ = (expr); return r_ < 0 ? -errno : r_; } while (0)

SPOOL_RUNTIME_TEXT int spool_epoll_create(void) { RET(epoll_create1(EPOLL_CLOEXEC)); }

SPOOL_RUNTIME_TEXT int spool_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    RET(epoll_ctl(epfd, op, fd, &ev));
}

SPOOL_RUNTIME_TEXT int spool_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms) {
    RET(epoll_wait(epfd, events, maxevents, timeout_ms));
}

SPOOL_RUNTIME_TEXT uint32_t spool_epoll_event_events(const struct epoll_event *events, int i) {
    return events[i].events;
}

SPOOL_RUNTIME_TEXT uint64_t spool_epoll_event_data(const struct epoll_event *events, int i) {
    return events[i].data.u64;
}

SPOOL_RUNTIME_TEXT int spool_eventfd(void) { RET(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

SPOOL_RUNTIME_TEXT int spool_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    return n < 0 ? -errno : 0;
}

SPOOL_RUNTIME_TEXT int spool_eventfd_drain(int fd) {
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    return n < 0 ? -errno : 0;
}

SPOOL_RUNTIME_TEXT int spool_tcp_socket(void) {
    RET(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

SPOOL_RUNTIME_TEXT int spool_inet4_parse(const char *text, uint32_t *addr_be) {
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1) return 0;
    *addr_be = a.s_addr;
    return 1;
}

static void spool_fill4(struct sockaddr_in *sa, uint32_t addr_be, uint16_t port) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = addr_be;
}

SPOOL_RUNTIME_TEXT int spool_bind4(int fd, uint32_t addr_be, uint16_t port) {
    struct sockaddr_in sa;
    spool_fill4(&sa, addr_be, port);
    RET(bind(fd, (struct sockaddr *)&sa, sizeof sa));
}

SPOOL_RUNTIME_TEXT int spool_listen(int fd, int backlog) { RET(listen(fd, backlog)); }

SPOOL_RUNTIME_TEXT int spool_accept4(int fd) {
    RET(accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

SPOOL_RUNTIME_TEXT int spool_connect4(int fd, uint32_t addr_be, uint16_t port) {
    struct sockaddr_in sa;
    spool_fill4(&sa, addr_be, port);
    RET(connect(fd, (struct sockaddr *)&sa, sizeof sa));
}

SPOOL_RUNTIME_TEXT int spool_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return err;
}

SPOOL_RUNTIME_TEXT int spool_is_connected(int fd) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) return 1;
    return errno == ENOTCONN ? 0 : -errno;
}

SPOOL_RUNTIME_TEXT int spool_setsockopt_int(int fd, int level, int name, int value) {
    RET(setsockopt(fd, level, name, &value, sizeof value));
}

SPOOL_RUNTIME_TEXT int spool_local_port4(int fd) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) return -errno;
    return ntohs(sa.sin_port);
}

int spool_sol_socket(void) { return SOL_SOCKET; }
int spool_so_reuseaddr(void) { return SO_REUSEADDR; }
int spool_ipproto_tcp(void) { return IPPROTO_TCP; }
int spool_tcp_nodelay(void) { return TCP_NODELAY; }

SPOOL_RUNTIME_TEXT int spool_set_linger_zero(int fd) {
    struct linger l = { .l_onoff = 1, .l_linger = 0 };
    RET(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l));
}

SPOOL_RUNTIME_TEXT int64_t spool_read(int fd, void *buf, size_t n) {
    ssize_t r = read(fd, buf, n);
    return r < 0 ? -(int64_t)errno : (int64_t)r;
}

SPOOL_RUNTIME_TEXT int64_t spool_send(int fd, const void *buf, size_t n) {
    ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
    return r < 0 ? -(int64_t)errno : (int64_t)r;
}

SPOOL_RUNTIME_TEXT int spool_close(int fd) { RET(close(fd)); }
