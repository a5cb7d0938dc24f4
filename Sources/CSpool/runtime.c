// C half of the Spool runtime: TLS slots, the switch wrapper, stacks, the stack-overflow
// handler and syscall shims. See CSpool.h for why each piece is here rather than in Swift.

#define _GNU_SOURCE
#include "CSpool.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// MARK: - TLS

// Initial-exec TLS: the runtime is linked into the executable or a library loaded at start.
static __thread void *spool_tls_m __attribute__((tls_model("initial-exec")));
// Not static: preempt.c's handler and the hijack stub (preempt_amd64.S, local-exec access)
// read it too.
__thread spool_gctx *spool_tls_ctx __attribute__((tls_model("initial-exec"), visibility("hidden")));

SPOOL_RUNTIME_TEXT __attribute__((noinline)) void *spool_getm(void) { return spool_tls_m; }
SPOOL_RUNTIME_TEXT __attribute__((noinline)) void spool_setm(void *m) { spool_tls_m = m; }
SPOOL_RUNTIME_TEXT __attribute__((noinline)) spool_gctx *spool_getctx(void) { return spool_tls_ctx; }

// MARK: - Switch

SPOOL_RUNTIME_TEXT void spool_ctx_init(spool_gctx *ctx, void (*fn)(void *), void *arg) {
    // Layout documented in switch_amd64.S. The word after `ret` (16-aligned) is where rsp is
    // when spool_gentry starts, so its `call` sees an aligned stack.
    uintptr_t top = (ctx->stack->hi - 16) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    uint32_t mxcsr = 0x1F80;       // all exceptions masked, round to nearest
    uint16_t fcw = 0x037F;         // x87 default
    memcpy((char *)sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fcw, 2);
    sp[1] = 0;                     // r15
    sp[2] = 0;                     // r14
    sp[3] = 0;                     // r13
    sp[4] = (uint64_t)arg;         // r12
    sp[5] = (uint64_t)fn;          // rbx
    sp[6] = 0;                     // rbp
    sp[7] = (uint64_t)&spool_gentry; // ret
    ctx->sp = sp;
    ctx->excl[0] = ctx->excl[1] = NULL;
    ctx->err = 0;
    ctx->nopreempt = 0;
    ctx->preempt = 0;
    ctx->hijack_slot = 0;
    ctx->hijack_ret = 0;
}

SPOOL_RUNTIME_TEXT __attribute__((noinline)) void spool_gogo(spool_gctx *from, spool_gctx *to) {
    // Everything thread-local is handed over BEFORE the switch ("No TLS after a switch").
    //
    // The exclusivity hooks are used exactly as Swift Concurrency uses them for a task on an
    // executor thread: g0 is the thread's synchronous context, a G is a "task" pushed on top of
    // it (enter) while it runs and popped off (exit) when it switches back to g0. Every switch
    // is G→g0 or g0→G on one thread, so each enter is matched by an exit on the same thread,
    // and the G's accesses travel with it when it next enters on another thread.
    if (!from->is_g0) {
        // A return address hijacked for a preemption (preempt.c) must not outlive this run of
        // the G: put the real one back before anything else can return through it.
        if (from->hijack_slot) {
            *(uintptr_t *)from->hijack_slot = from->hijack_ret;
            from->hijack_slot = 0;
        }
        swift_task_exitThreadLocalContext((char *)from->excl);
        from->err = errno;
    }
    if (!to->is_g0) {
        errno = to->err;
        swift_task_enterThreadLocalContext((char *)to->excl);
    }
    spool_tls_ctx = to->is_g0 ? NULL : to;
    spool_switch(&from->sp, to->sp);
    // Resumed, possibly on another thread: nothing thread-local may be touched here.
}

// MARK: - Stacks

// Two pools, both LIFO and keyed by exact size:
//  * warm: stacks of goroutines that just ended, pages left resident (no syscall to recycle,
//    no page faults to reuse) — at most SPOOL_STACK_WARM_MAX of them;
//  * cold: pages returned to the kernel with MADV_DONTNEED, address range kept (no
//    mmap/mprotect to reuse) — at most SPOOL_STACK_POOL_MAX; beyond that, unmapped.
static pthread_mutex_t spool_stack_lock = PTHREAD_MUTEX_INITIALIZER;
static spool_stack *spool_stack_warm, *spool_stack_pool;
static size_t spool_stack_warmed, spool_stack_pooled;
#define SPOOL_STACK_WARM_MAX 1024
#define SPOOL_STACK_POOL_MAX 4096

static size_t spool_page_round(size_t n) {
    size_t pg = 4096;
    return (n + pg - 1) & ~(pg - 1);
}

static spool_stack *spool_stack_take(spool_stack **list, size_t size) {
    spool_stack **link = list;
    for (spool_stack *s = *list; s; link = &s->next, s = s->next) {
        if (s->size == size) {
            *link = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

spool_stack *spool_stack_alloc(size_t size) {
    size = spool_page_round(size < 16384 ? 16384 : size);
    pthread_mutex_lock(&spool_stack_lock);
    spool_stack *s = spool_stack_take(&spool_stack_warm, size);
    if (s) spool_stack_warmed--;
    else if ((s = spool_stack_take(&spool_stack_pool, size))) spool_stack_pooled--;
    pthread_mutex_unlock(&spool_stack_lock);
    if (s) return s;

    size_t total = size + SPOOL_STACK_GUARD;
    // One PROT_NONE reservation, then the usable part made writable: 2 VMAs per stack.
    void *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return NULL;
    if (mprotect((char *)base + SPOOL_STACK_GUARD, size, PROT_READ | PROT_WRITE) != 0) {
        int e = errno;
        munmap(base, total);
        errno = e;
        return NULL;
    }
    s = malloc(sizeof *s);
    if (!s) { munmap(base, total); errno = ENOMEM; return NULL; }
    s->guard_lo = (uintptr_t)base;
    s->lo = (uintptr_t)base + SPOOL_STACK_GUARD;
    s->hi = s->lo + size;
    s->size = size;
    s->guard = SPOOL_STACK_GUARD;
    s->next = NULL;
    return s;
}

void spool_stack_free(spool_stack *s) {
    pthread_mutex_lock(&spool_stack_lock);
    if (spool_stack_warmed < SPOOL_STACK_WARM_MAX) {
        s->next = spool_stack_warm;
        spool_stack_warm = s;
        spool_stack_warmed++;
        pthread_mutex_unlock(&spool_stack_lock);
        return;
    }
    pthread_mutex_unlock(&spool_stack_lock);
    // Give the pages back but keep the address range: a recycled stack costs no mmap/mprotect.
    madvise((void *)s->lo, s->size, MADV_DONTNEED);
    pthread_mutex_lock(&spool_stack_lock);
    if (spool_stack_pooled < SPOOL_STACK_POOL_MAX) {
        s->next = spool_stack_pool;
        spool_stack_pool = s;
        spool_stack_pooled++;
        pthread_mutex_unlock(&spool_stack_lock);
        return;
    }
    pthread_mutex_unlock(&spool_stack_lock);
    munmap((void *)s->guard_lo, s->size + s->guard);
    free(s);
}

size_t spool_stack_pool_count(void) {
    pthread_mutex_lock(&spool_stack_lock);
    size_t n = spool_stack_pooled + spool_stack_warmed;
    pthread_mutex_unlock(&spool_stack_lock);
    return n;
}

// MARK: - Signals

static struct sigaction spool_old_segv, spool_old_bus;
static pthread_once_t spool_signals_once = PTHREAD_ONCE_INIT;

static void spool_write_str(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) { if (w < 0 && errno == EINTR) continue; return; }
        s += w; n -= (size_t)w;
    }
}

// Runs on the M's alternate signal stack. Async-signal-safe except snprintf on the fatal path.
SPOOL_RUNTIME_TEXT static void spool_fault_handler(int sig, siginfo_t *info, void *uctx) {
    spool_gctx *g = spool_tls_ctx;
    uintptr_t addr = (uintptr_t)info->si_addr;
    if (g && g->stack && addr >= g->stack->guard_lo && addr < g->stack->lo) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "fatal error: goroutine %llu overflowed its stack (%zu KiB)\n"
                 "\tfault address %p is in the %zu KiB guard gap below the stack [%p, %p)\n"
                 "\thint: raise SPOOL_STACK_KB or pass stackSize: to go(stackSize:_:)\n",
                 (unsigned long long)g->goid, g->stack->size / 1024, (void *)addr,
                 g->stack->guard / 1024, (void *)g->stack->lo, (void *)g->stack->hi);
        spool_write_str(buf);
        _exit(2);
    }
    // Not ours: chain to the previous handler, or fall back to the default action (the
    // faulting instruction runs again and the kernel kills the process with the signal).
    struct sigaction *old = sig == SIGSEGV ? &spool_old_segv : &spool_old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, info, uctx);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
}

static void spool_signals_install_once(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = spool_fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &spool_old_segv);
    sigaction(SIGBUS, &sa, &spool_old_bus);
}

void spool_signals_install(void) { pthread_once(&spool_signals_once, spool_signals_install_once); }

#define SPOOL_ALTSTACK_SIZE (64u * 1024u)

void *spool_sigaltstack_setup(void) {
    void *p = mmap(NULL, SPOOL_ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    stack_t ss;
    ss.ss_sp = p;
    ss.ss_size = SPOOL_ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) { munmap(p, SPOOL_ALTSTACK_SIZE); return NULL; }
    return p;
}

void spool_sigaltstack_release(void *altstack) {
    if (!altstack) return;
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    munmap(altstack, SPOOL_ALTSTACK_SIZE);
}

// MARK: - Syscall shims

SPOOL_RUNTIME_TEXT int spool_futex_wait(void *addr, uint32_t val, int64_t timeout_ns) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tp = &ts;
    }
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
    return r == 0 ? 0 : errno;
}

SPOOL_RUNTIME_TEXT void spool_futex_wake(void *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int32_t spool_gettid(void) { return (int32_t)syscall(SYS_gettid); }
int32_t spool_getpid(void) { return (int32_t)getpid(); }

void spool_set_timerslack_ns(uint64_t ns) { (void)prctl(PR_SET_TIMERSLACK, (unsigned long)ns, 0, 0, 0); }

int spool_set_sched_batch(int on) {
    struct sched_param p = { .sched_priority = 0 };
    return sched_setscheduler(0, on ? SCHED_BATCH : SCHED_OTHER, &p) == 0 ? 0 : errno;
}

int32_t spool_ncpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

int spool_thread_start(void *(*fn)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int r = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return r;
}

void spool_osyield(void) { sched_yield(); }

void spool_usleep_ns(int64_t ns) {
    struct timespec ts = { ns / 1000000000, ns % 1000000000 }, rem;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
}
