// Blocking syscall shims for Runtime.blocking's wrappers: see CSpoolBlocking.h.

#define _GNU_SOURCE
#include "CSpoolBlocking.h"
#include <errno.h>
#include <time.h>
#include <unistd.h>

int spool_blocking_sleep_ns(int64_t ns) {
    if (ns <= 0) return 0;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t total = (int64_t)deadline.tv_nsec + ns % 1000000000;
    deadline.tv_sec += ns / 1000000000 + total / 1000000000;
    deadline.tv_nsec = total % 1000000000;
    for (;;) {
        // clock_nanosleep returns the error number instead of setting errno.
        int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
        if (r == 0) return 0;
        if (r != EINTR) return -r;
    }
}

int64_t spool_blocking_read(int fd, void *buf, size_t n) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) return r;
        if (errno != EINTR) return -errno;
    }
}

int64_t spool_blocking_write(int fd, const void *buf, size_t n) {
    for (;;) {
        ssize_t r = write(fd, buf, n);
        if (r >= 0) return r;
        if (errno != EINTR) return -errno;
    }
}
