// Blocking system calls for `Runtime.blocking`'s own wrappers (Syscall.swift).
//
// Each shim returns the result or `-errno`, read in C at the instant the call failed, before
// any Swift code runs (ARC traffic could run a deinit that clobbers `errno`;
// runtime-feasibility Q4). EINTR never leaves these functions: a signal (a profiler, a
// debugger, a future preemption signal) must not shorten a sleep or fail a read
// (runtime-feasibility, "EINTR": `nanosleep(300 ms)` returned after 11 ms under signals).
//
// Context: any thread; they block the calling thread, which is what `Runtime.blocking` is for.

#ifndef CSPOOL_BLOCKING_H
#define CSPOOL_BLOCKING_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sleeps the thread until CLOCK_MONOTONIC reaches now + `ns` (an absolute deadline, so an
/// interrupted sleep resumes with exactly the remaining time). Returns 0, or -errno for an
/// error other than EINTR.
int spool_blocking_sleep_ns(int64_t ns);

/// read(2), retried on EINTR. Returns the byte count (0 at EOF) or -errno.
int64_t spool_blocking_read(int fd, void *buf, size_t n);

/// write(2), retried on EINTR. Returns the byte count written by one call or -errno.
int64_t spool_blocking_write(int fd, const void *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
