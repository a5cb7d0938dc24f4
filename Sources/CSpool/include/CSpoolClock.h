// The tracer's clock: the CPU's time-stamp counter where the kernel itself trusts it.
//
// Why: on these VMs `clock_gettime(CLOCK_MONOTONIC)` costs about 58 ns through the vDSO and
// `rdtsc` about 23 ns; the tracer reads the clock once per event, so the clock is most of a
// traced event's cost (Go's tracer reads the TSC too: `cputicks`). The TSC is only used when
// the kernel's own clocksource is `tsc`, which the kernel selects only for an invariant TSC
// that is synchronized across CPUs; then TSC readings on different threads are ordered like
// CLOCK_MONOTONIC readings. Otherwise the tracer keeps CLOCK_MONOTONIC.
#ifndef CSPOOL_CLOCK_H
#define CSPOOL_CLOCK_H

#include <stdint.h>

/// The time-stamp counter (x86_64 `rdtsc`). Not serializing: an event's timestamp may be read
/// a few cycles early or late relative to neighbouring loads, which the trace ordering
/// tolerates (the reorder window is 100 µs).
static inline uint64_t spool_cputicks(void) {
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/// TSC ticks per second, measured once per process against CLOCK_MONOTONIC (about 10 ms,
/// the first call only), or 0 when the kernel's clocksource is not `tsc` (then the TSC must
/// not be used). Thread-safe; later calls return the cached value.
double spool_tsc_frequency(void);

#endif
