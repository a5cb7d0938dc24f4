// TSC calibration for the tracer's clock (see include/CSpoolClock.h).
#include "CSpoolClock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic(double) spool_tsc_hz = -1.0; // -1: not measured yet

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Reads a (TSC, CLOCK_MONOTONIC) pair, keeping the tightest of a few tries: the TSC is read
// between two clock reads and paired with their midpoint.
static void tsc_pair(uint64_t *tsc, int64_t *ns) {
    int64_t best = INT64_MAX;
    for (int i = 0; i < 8; i++) {
        int64_t a = mono_ns();
        uint64_t t = spool_cputicks();
        int64_t b = mono_ns();
        if (b - a < best) {
            best = b - a;
            *tsc = t;
            *ns = a + (b - a) / 2;
        }
    }
}

static int clocksource_is_tsc(void) {
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f) return 0;
    char buf[32] = {0};
    int ok = fgets(buf, sizeof buf, f) != NULL && strncmp(buf, "tsc\n", 4) == 0;
    fclose(f);
    return ok;
}

double spool_tsc_frequency(void) {
    double hz = atomic_load_explicit(&spool_tsc_hz, memory_order_acquire);
    if (hz >= 0) return hz;
    if (!clocksource_is_tsc()) {
        hz = 0;
    } else {
        uint64_t t0, t1;
        int64_t n0, n1;
        tsc_pair(&t0, &n0);
        struct timespec pause = {0, 10 * 1000 * 1000};
        while (nanosleep(&pause, &pause) != 0) {}
        tsc_pair(&t1, &n1);
        hz = n1 > n0 && t1 > t0 ? (double)(t1 - t0) * 1e9 / (double)(n1 - n0) : 0;
    }
    // Two racing first calls both measure; either result is fine.
    atomic_store_explicit(&spool_tsc_hz, hz, memory_order_release);
    return hz;
}
