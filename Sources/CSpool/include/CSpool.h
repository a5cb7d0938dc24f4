// CSpool: the parts of the Spool runtime that cannot be written in Swift.
//
// What lives here, and why each piece is C or assembly:
//   * the context switch (switch_amd64.S): Swift cannot save callee-saved registers or move rsp;
//   * the goroutine entry trampoline (rbp = 0, `.cfi_undefined rip`, so backtraces stop there);
//   * thread-local "current M" and "current G context" slots, read through noinline accessors so
//     that no compiler can cache them across a switch (a G may resume on another thread);
//   * goroutine stacks (mmap, guard gap, pool) and the SIGSEGV/SIGBUS handler that names a G whose
//     stack overflowed: signal handlers must not run Swift;
//   * tiny syscall shims (futex, gettid, CPU count, detached pthreads) that Glibc's Swift module
//     does not expose conveniently.
//
// Every symbol is prefixed `spool_`. Runtime C code is placed in the `spool_text` section
// (`SPOOL_RUNTIME_TEXT`) so that a future async-preemption handler can refuse PCs inside it.
//
// Invariant "No TLS after a switch": a C function that calls `spool_switch` never reads thread-local
// state after that call returns; by then it may be running on a different OS thread.

#ifndef CSPOOL_H
#define CSPOOL_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>
#include "CSpoolNet.h"
#include "CSpoolClock.h"
#include "CSpoolBlocking.h"
#include "CSpoolPreempt.h"

#if !defined(__x86_64__)
#error "Spool: only x86_64 Linux is supported so far (the arm64 context switch is not written yet)"
#endif

#define SPOOL_RUNTIME_TEXT __attribute__((section("spool_text")))

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Stacks

/// One goroutine stack: `[guard_lo, lo)` is a PROT_NONE guard gap, `[lo, hi)` is usable.
typedef struct spool_stack {
    uintptr_t guard_lo;
    uintptr_t lo;
    uintptr_t hi;
    size_t size;        // hi - lo
    size_t guard;       // lo - guard_lo
    struct spool_stack *next; // pool link
} spool_stack;

/// The guard gap under every stack. Swift emits no stack probes, so a large frame can jump a
/// small guard; 64 KiB catches every frame smaller than that.
#define SPOOL_STACK_GUARD (64u * 1024u)

/// Returns a stack of `size` usable bytes (rounded up to pages) from the pool, or a fresh
/// mapping. Returns NULL when the kernel refuses (ENOMEM, vm.max_map_count); errno says why.
/// Context: any thread; takes a short internal pthread lock (never held across a switch).
spool_stack *spool_stack_alloc(size_t size);

/// Returns a stack to the pools: kept resident while the warm pool has room (1024), else its
/// pages are released with MADV_DONTNEED (cold pool, 4096), else it is unmapped.
/// Context: any thread; the stack must not be in use.
void spool_stack_free(spool_stack *s);

/// Stacks currently in the pool (for tests).
size_t spool_stack_pool_count(void);

// MARK: - Contexts and the switch

/// Everything a switch saves or restores besides the registers (which live on the stack).
/// Allocated in C memory, never in a Swift class property (see runtime-feasibility Q5).
typedef struct spool_gctx {
    void *sp;               // saved stack pointer; the saved registers are just above it
    void *excl[2];          // the Swift exclusivity access set of this G (2 words)
    int err;                // errno of this G while it is not running
    int is_g0;              // 1 for an M's scheduler context
    uint64_t goid;          // for the overflow message
    spool_stack *stack;     // NULL for g0
    // Asynchronous preemption (preempt.c, CSpoolPreempt.h). Offsets are fixed: the
    // hijack stub in preempt_amd64.S reads `hijack_ret`.
    int32_t nopreempt;      // > 0: the G runs runtime code or a no-preempt region (handler refuses)
    uint32_t preempt;       // a preemption was requested (sysmon); atomic, cleared by execute
    uintptr_t hijack_slot;  // the stack slot whose return address is the hijack stub (0: none)
    uintptr_t hijack_ret;   // the return address it replaced
} spool_gctx;

/// Asks the G to stop (sysmon): sets `preempt`. Context: any thread.
static inline void spool_preempt_request(spool_gctx *g) {
    __atomic_store_n(&g->preempt, 1, __ATOMIC_RELEASE);
}
/// Whether a preemption was requested. Context: the G itself, or its signal handler.
static inline uint32_t spool_preempt_requested(const spool_gctx *g) {
    return __atomic_load_n(&g->preempt, __ATOMIC_RELAXED);
}
/// Drops a request (execute, before the G runs; or when the G stops for it).
static inline void spool_preempt_clear(spool_gctx *g) {
    __atomic_store_n(&g->preempt, 0, __ATOMIC_RELAXED);
}
/// The no-preempt count of the running G: runtime code and no-preempt regions raise it, and
/// the handler refuses while it is nonzero. The signal fences keep the compiler from moving
/// the region's memory accesses across the count (the handler runs on the same thread).
static inline void spool_nopreempt_inc(spool_gctx *g) {
    __atomic_store_n(&g->nopreempt, g->nopreempt + 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
/// Returns the count after the decrement.
static inline int32_t spool_nopreempt_dec(spool_gctx *g) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    int32_t n = g->nopreempt - 1;
    __atomic_store_n(&g->nopreempt, n, __ATOMIC_RELAXED);
    return n;
}
static inline int32_t spool_nopreempt_get(const spool_gctx *g) {
    return __atomic_load_n(&g->nopreempt, __ATOMIC_RELAXED);
}

/// Saves callee-saved registers, MXCSR and the x87 control word on the current stack, stores
/// rsp in `*save_sp`, loads `new_sp` and restores the registers found there. Assembly.
void spool_switch(void **save_sp, void *new_sp);

/// Goroutine entry trampoline (assembly): calls `fn(arg)` with rbp = 0; fn must not return.
void spool_gentry(void);

/// Prepares `ctx` so that switching to it calls `fn(arg)` on the top of `ctx->stack`.
void spool_ctx_init(spool_gctx *ctx, void (*fn)(void *), void *arg);

/// The full goroutine switch (always G→g0 or g0→G on the calling thread): a G leaving takes its
/// Swift exclusivity accesses and errno with it, a G arriving brings its own back; points the
/// overflow handler at `to`'s stack, then switches.
/// Returns when something switches back to `from`, possibly on another thread.
/// Obeys "No TLS after a switch".
void spool_gogo(spool_gctx *from, spool_gctx *to);

// MARK: - Thread-local state

/// The current M (an opaque pointer owned by the Swift runtime), or NULL on a non-M thread.
/// noinline, so the result is never cached across a goroutine switch.
void *spool_getm(void);
void spool_setm(void *m);

/// The context of the G running on this thread (NULL on g0 and non-M threads).
spool_gctx *spool_getctx(void);

// MARK: - Signals

/// Installs the SIGSEGV/SIGBUS handler once per process (idempotent). The handler reports a
/// fault inside the current G's guard gap as a goroutine stack overflow and exits with status 2;
/// every other fault is passed to the handler that was installed before (Swift's backtracer).
void spool_signals_install(void);

/// Gives the calling thread a 64 KiB alternate signal stack; returns it (for `_release`).
void *spool_sigaltstack_setup(void);
void spool_sigaltstack_release(void *altstack);

// MARK: - Syscall shims

/// Waits while `*addr == val`, at most `timeout_ns` (< 0: forever). Returns 0, or the errno
/// (EAGAIN: value differed, ETIMEDOUT, EINTR). Private futex.
int spool_futex_wait(void *addr, uint32_t val, int64_t timeout_ns);
/// Wakes up to `n` waiters on `addr`.
void spool_futex_wake(void *addr, int n);

/// The kernel thread id of the calling thread.
int32_t spool_gettid(void);

/// Sets the calling thread's timer slack (prctl PR_SET_TIMERSLACK).
void spool_set_timerslack_ns(uint64_t ns);

/// Moves the calling thread to SCHED_BATCH (`on`) or back to SCHED_OTHER; 0 or an errno.
int spool_set_sched_batch(int on);

/// CPUs this process may run on (sched_getaffinity), as Go's getproccount.
int32_t spool_ncpu(void);

/// Starts a detached pthread running `fn(arg)`. Returns 0 or an errno.
int spool_thread_start(void *(*fn)(void *), void *arg);

/// CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall).
static inline int64_t spool_nanotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
static inline int64_t spool_walltime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/// Yields the OS thread (sched_yield).
void spool_osyield(void);

/// Sleeps the OS thread (not the goroutine) for `ns` nanoseconds, retrying on EINTR.
void spool_usleep_ns(int64_t ns);

/// Process id.
int32_t spool_getpid(void);

// MARK: - Swift runtime hooks

/// libswiftCore's exclusivity hooks (stable exports, used by Swift Concurrency when a task hops
/// threads): `exit` moves the thread's access set into `state` and empties the thread's,
/// `enter` installs `state` as the thread's access set.
extern void swift_task_enterThreadLocalContext(char *state);
extern void swift_task_exitThreadLocalContext(char *state);

#ifdef __cplusplus
}
#endif

#endif
