// Where Linux places two threads that wake each other, and what it costs (BENCHMARKS.md,
// "Echo at one connection: where the two modes come from"). Not part of Spool; a diagnostic
// for the one-connection echo numbers, which depend on it.
//
// Two threads ping-pong 64 bytes over a Unix socket pair, as an echo server and a
// one-connection client do; each spins `work` µs per message. After every round trip the
// client compares its CPU with the CPU the echo thread last ran on. Optionally a third thread
// burns CPU with a duty cycle (`on` µs spinning, `off` µs sleeping), raising the machine's
// utilization as another busy process, or a runtime's own busy threads, would.
//
// Build and run:  cc -O2 -pthread tools/wake-placement.c -o /tmp/wake-placement
//                 /tmp/wake-placement WORK_US SECONDS [ON_US OFF_US]
// Prints round trips per second and the fraction of round trips with both threads on one CPU.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int sv[2];
static int work_ns, burn_on_ns, burn_off_ns;
static volatile int echo_cpu = -1;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void spin_ns(int ns) {
    uint64_t end = now_ns() + (uint64_t)ns;
    while (now_ns() < end) {}
}

static void *echo_thread(void *arg) {
    (void)arg;
    char buf[64];
    for (;;) {
        if (read(sv[1], buf, sizeof buf) <= 0) return NULL;
        echo_cpu = sched_getcpu();
        spin_ns(work_ns);
        if (write(sv[1], buf, sizeof buf) != sizeof buf) return NULL;
    }
}

static void *burn_thread(void *arg) {
    (void)arg;
    for (;;) {
        spin_ns(burn_on_ns);
        struct timespec ts = {0, burn_off_ns};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: %s WORK_US SECONDS [BURN_ON_US BURN_OFF_US]\n", argv[0]);
        return 2;
    }
    work_ns = atoi(argv[1]) * 1000;
    double secs = atof(argv[2]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, echo_thread, NULL);
    if (argc == 5) {
        burn_on_ns = atoi(argv[3]) * 1000;
        burn_off_ns = atoi(argv[4]) * 1000;
        pthread_create(&t, NULL, burn_thread, NULL);
    }
    char buf[64] = {0};
    uint64_t end = now_ns() + (uint64_t)(secs * 1e9);
    long trips = 0, same = 0;
    while (now_ns() < end) {
        spin_ns(work_ns);
        if (write(sv[0], buf, sizeof buf) != sizeof buf) return 1;
        if (read(sv[0], buf, sizeof buf) != sizeof buf) return 1;
        trips++;
        if (sched_getcpu() == echo_cpu) same++;
    }
    printf("work_us=%d round_trips/s=%.0f same_cpu=%.2f\n", work_ns / 1000, trips / secs,
           (double)same / (double)trips);
    return 0;
}
