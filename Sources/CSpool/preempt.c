// Asynchronous preemption (Go's signal-based preemption, adapted to Swift and the SysV ABI;
// runtime-feasibility Q3).
//
// sysmon (Sysmon.swift) sets `g->preempt` on a G that has run longer than the quantum and
// sends SIGURG to its M (one pending signal per M: `spool_mctx.sigpending`). The handler runs
// on the M's alternate stack and decides whether the interrupted instruction is a safe point:
//
//   * the thread is an M running a G (not g0, not sysmon), a preemption was requested, and
//     async preemption is enabled;
//   * the G's no-preempt count is 0: Spool's Swift runtime code raises it on entry (the
//     scheduler is written in Swift and may even be inlined into user code, so no PC range can
//     describe it), as do `Runtime.blocking` and `Runtime.withoutPreemption`;
//   * rsp lies inside the G's stack with room for the trampoline's frame (this also rejects
//     g0 and the window between `spool_tls_ctx = g` and the switch);
//   * the PC is user code: inside the main executable but outside `spool_text` (the runtime's
//     C and assembly). PCs in shared objects (libc, ld.so, libswiftCore, Foundation, the vDSO)
//     own thread-owned locks and per-thread state, so they are never interrupted; unknown
//     PCs neither;
//   * the frame-pointer chain from rbp up to `spool_gentry` is made of user frames only (a
//     user callback running under foreign frames, e.g. a lazy global initializer under
//     swift_once's lock, or a qsort comparator, is refused), and `[rsp]`/`[rsp+8]` hold no
//     foreign return address (the instructions of a user function before its `push rbp`).
//
// At a safe user PC the handler injects a call to `spool_async_preempt` (preempt_amd64.S):
// below the 128-byte red zone, which leaf code may be using, it writes the interrupted PC and
// rsp and points the context there. The trampoline saves every general register, the flags
// and the full vector state (xsave with every XCR0 component, fxsave without XSAVE), calls
// `spool_async_preempt_park` — which hands the G to the scheduler as preempted and returns when
// it is resumed, perhaps on another M — restores everything and jumps back through a
// thread-local slot, so not even a scratch register changes.
//
// Return-address hijacking. Runtime-heavy Swift spends most of its time in libswiftCore and
// malloc, where PC checks refuse. When the PC is in a shared object, the handler walks the
// frame-pointer chain to the first return address that points into user code; if the chain
// from there to `spool_gentry` is all user code, that return slot is replaced by
// `spool_preempt_hijack_stub`. When the foreign code returns, the stub enters the trampoline
// exactly as an injection would, with the real return address as the PC: nothing below the
// return point is live. Invariant "One hijack, one run": a hijack exists only while its G
// runs without switching; `spool_gogo` puts the real return address back when the G switches
// away, the park function clears it when the stub fired, and a later signal that finds it
// pending puts it back before deciding again (the walk may have picked a far frame: a foreign
// leaf without a frame record leaves rbp pointing at its user caller's frame). (Incompatible with CET shadow
// stacks, which are not enabled on this platform.)
//
// Refusals are always safe: the request stays set, sysmon signals again, and the G also stops
// at its next runtime call (cooperative preemption, Preempt.swift).
//
// Everything the handler reads is plain memory reachable from TLS; it takes no lock, calls
// nothing that allocates, and preserves errno.

#define _GNU_SOURCE
#include "CSpool.h"

#include <cpuid.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

extern __thread spool_gctx *spool_tls_ctx;
_Static_assert(offsetof(spool_gctx, hijack_ret) == 64, "preempt_amd64.S reads spool_gctx.hijack_ret at 64");
static __thread spool_mctx *spool_tls_mctx __attribute__((tls_model("initial-exec")));
// The resume PC of the trampoline (read with a local-exec %fs access in preempt_amd64.S).
__thread uintptr_t spool_tls_resume_pc __attribute__((tls_model("initial-exec"), visibility("hidden")));

// Assembly symbols (preempt_amd64.S, switch_amd64.S).
extern char spool_async_preempt[];
extern char spool_preempt_hijack_stub[];
extern char spool_gentry_end[];
extern char spool_torture_spin[];
extern char spool_torture_spin_end[];
extern char __start_spool_text[];
extern char __stop_spool_text[];

// Read by the trampoline.
uint64_t spool_xsave_size __attribute__((visibility("hidden"))) = 512;
uint32_t spool_xsave_mask_lo __attribute__((visibility("hidden")));
uint32_t spool_xsave_mask_hi __attribute__((visibility("hidden")));
uint8_t spool_use_xsave __attribute__((visibility("hidden")));

volatile int spool_preempt_test_corrupt;

static void (*spool_park_hook)(void);
static int spool_async_enabled;
static uint64_t spool_stats[SPOOL_PS_COUNT];

// Stack the trampoline and the park path need below the red zone, on top of the xsave area:
// the saved registers, then the Swift scheduler code that runs on the G's stack until the
// switch (debug builds have large frames).
#define SPOOL_PREEMPT_ROOM (16u * 1024u)

// MARK: - Code ranges

typedef struct { uintptr_t lo, hi; } spool_range;
#define SPOOL_MAX_RANGES 512
static spool_range spool_user[16], spool_foreign[SPOOL_MAX_RANGES];
static int spool_nuser, spool_nforeign;

enum { PC_USER, PC_FOREIGN, PC_RUNTIME, PC_UNKNOWN };

static int spool_phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    int *first = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        spool_range r = { info->dlpi_addr + ph->p_vaddr, info->dlpi_addr + ph->p_vaddr + ph->p_memsz };
        // The first object is the main program (glibc reports it first).
        if (*first) {
            if (spool_nuser < 16) spool_user[spool_nuser++] = r;
        } else if (spool_nforeign < SPOOL_MAX_RANGES) {
            spool_foreign[spool_nforeign++] = r;
        }
    }
    *first = 0;
    return 0;
}

SPOOL_RUNTIME_TEXT static int spool_in(const spool_range *rs, int n, uintptr_t pc) {
    for (int i = 0; i < n; i++) if (pc >= rs[i].lo && pc < rs[i].hi) return 1;
    return 0;
}

SPOOL_RUNTIME_TEXT static int spool_classify(uintptr_t pc) {
    if (pc >= (uintptr_t)__start_spool_text && pc < (uintptr_t)__stop_spool_text) return PC_RUNTIME;
    if (spool_in(spool_user, spool_nuser, pc)) return PC_USER;
    if (spool_in(spool_foreign, spool_nforeign, pc)) return PC_FOREIGN;
    return PC_UNKNOWN;
}

// MARK: - Frame-pointer walk

// Walks the chain from `fp` (frames must lie in [sp, hi) and grow upward) to the outermost
// frame, whose saved rbp is 0 and whose return address is in spool_gentry. With
// `foreign_prefix`, frames whose return address is foreign code may come first (the foreign
// call being hijacked). Returns 1 when every frame from the first user return address up is
// user code, and stores that first user return-address slot (NULL if there is none) in `*slot`.
SPOOL_RUNTIME_TEXT static int spool_walk(uintptr_t fp, uintptr_t sp, uintptr_t hi, int foreign_prefix,
                                         uintptr_t **slot) {
    uintptr_t *first_user = NULL;
    uintptr_t prev = sp;
    for (int depth = 0; depth < 1024; depth++) {
        if (fp < prev || fp > hi - 16 || (fp & 7)) return 0;
        uintptr_t *frame = (uintptr_t *)fp;
        uintptr_t next = frame[0], ret = frame[1];
        if (next == 0) {
            // The goroutine's first Swift frame: called by spool_gentry.
            if (ret <= (uintptr_t)&spool_gentry || ret > (uintptr_t)spool_gentry_end) return 0;
            *slot = first_user;
            return 1;
        }
        int c = spool_classify(ret);
        if (c == PC_USER) {
            if (!first_user) first_user = &frame[1];
        } else if (!(c == PC_FOREIGN && foreign_prefix && !first_user)) {
            return 0;
        }
        prev = fp + 16;
        fp = next;
    }
    return 0;
}

// MARK: - The handler

static inline void spool_count(int i) { __atomic_fetch_add(&spool_stats[i], 1, __ATOMIC_RELAXED); }

SPOOL_RUNTIME_TEXT static void spool_preempt_handler(int sig, siginfo_t *info, void *uctx) {
    (void)sig; (void)info;
    int saved_errno = errno;
    spool_count(SPOOL_PS_SIGNALS);
    spool_mctx *m = spool_tls_mctx;
    if (m) __atomic_store_n(&m->sigpending, 0, __ATOMIC_RELAXED);
    spool_gctx *g = spool_tls_ctx;
    ucontext_t *uc = uctx;
    greg_t *r = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)r[REG_RIP], sp = (uintptr_t)r[REG_RSP], fp = (uintptr_t)r[REG_RBP];

    if (!g || g->is_g0 || !g->stack) { spool_count(SPOOL_PS_R_NOT_G); goto out; }
    if (!spool_preempt_requested(g)) { spool_count(SPOOL_PS_R_NO_REQUEST); goto out; }
    if (!spool_async_enabled) { spool_count(SPOOL_PS_R_DISABLED); goto out; }
    if (g->nopreempt != 0) { spool_count(SPOOL_PS_R_NOPREEMPT); goto out; }
    uintptr_t lo = g->stack->lo, hi = g->stack->hi;
    if (sp > hi - 16 || sp < lo || sp - lo < SPOOL_PREEMPT_ROOM + spool_xsave_size + 256) {
        spool_count(SPOOL_PS_R_STACK);
        goto out;
    }
    int where = spool_classify(pc);
    if (where == PC_RUNTIME) { spool_count(SPOOL_PS_R_RUNTIME_PC); goto out; }
    if (where == PC_UNKNOWN) { spool_count(SPOOL_PS_R_UNKNOWN_PC); goto out; }
    if (g->hijack_slot) {
        // A hijack from an earlier signal has not fired yet. Its frame is still live (the stub
        // clears the slot when it fires, and the PC is not in the stub or the trampoline:
        // spool_text was refused above), so putting the real return address back is safe.
        // Then decide afresh: a walk that started in a frameless foreign leaf may have hijacked
        // an outer user frame (even the goroutine's function) that returns much later, and
        // the pending hijack would otherwise block every later attempt.
        *(uintptr_t *)g->hijack_slot = g->hijack_ret;
        g->hijack_slot = 0;
        spool_count(SPOOL_PS_UNHIJACKED);
    }
    switch (where) {
    case PC_USER: {
        uintptr_t *top = (uintptr_t *)sp;
        if (spool_classify(top[0]) == PC_FOREIGN || spool_classify(top[1]) == PC_FOREIGN) {
            spool_count(SPOOL_PS_R_PROLOGUE);
            goto out;
        }
        uintptr_t *unused;
        if (!spool_walk(fp, sp, hi, 0, &unused)) { spool_count(SPOOL_PS_R_FRAMES); goto out; }
        // Inject: below the red zone, 16-aligned, [nsp] = pc, [nsp+8] = rsp.
        uintptr_t nsp = ((sp - 128) & ~(uintptr_t)15) - 16;
        ((uintptr_t *)nsp)[0] = pc;
        ((uintptr_t *)nsp)[1] = sp;
        r[REG_RSP] = (greg_t)nsp;
        r[REG_RIP] = (greg_t)(uintptr_t)spool_async_preempt;
        spool_count(SPOOL_PS_INJECTED);
        break;
    }
    case PC_FOREIGN: {
        uintptr_t *slot = NULL;
        if (!spool_walk(fp, sp, hi, 1, &slot) || !slot) { spool_count(SPOOL_PS_R_FRAMES); goto out; }
        g->hijack_ret = *slot;
        g->hijack_slot = (uintptr_t)slot;
        *slot = (uintptr_t)spool_preempt_hijack_stub;
        spool_count(SPOOL_PS_HIJACKED);
        break;
    }
    }
out:
    errno = saved_errno;
}

// Sets errno of the calling thread. Never inlined: callers use it after a goroutine switch,
// where a cached `__errno_location()` (a const function) would name the old thread's errno.
SPOOL_RUNTIME_TEXT __attribute__((noinline)) static void spool_set_errno(int e) { errno = e; }

// Called by the trampoline with every register saved at `frame` (r15 first, see
// preempt_amd64.S). Obeys "No TLS after a switch": errno is read before the hook and written
// through the noinline setter after it.
SPOOL_RUNTIME_TEXT void spool_async_preempt_park(uint64_t *frame) {
    spool_gctx *g = spool_tls_ctx;
    int saved_errno = errno;
    // "One hijack, one run": the stub fired (or there was none); the slot is dead stack now.
    g->hijack_slot = 0;
    spool_count(SPOOL_PS_PARKED);
    // Negative control for the register-torture test: only in spool_torture's spin loop, where
    // r12 holds a pattern that is checked (anywhere else a flipped register could go unnoticed
    // or crash the test process).
    if (spool_preempt_test_corrupt > 0 && frame[16] >= (uint64_t)(uintptr_t)spool_torture_spin
        && frame[16] < (uint64_t)(uintptr_t)spool_torture_spin_end) {
        spool_preempt_test_corrupt--;
        frame[3] ^= 1; // saved r12
    }
    spool_park_hook();
    spool_set_errno(saved_errno);
}

// MARK: - Setup

static pthread_once_t spool_preempt_once = PTHREAD_ONCE_INIT;

static void spool_xsave_setup(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1;
    if (!osxsave) return;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    __cpuid_count(0xD, 0, a, b, c, d);
    if (b < 576) return;
    spool_xsave_size = (b + 63) & ~63ull;
    spool_xsave_mask_lo = lo;
    spool_xsave_mask_hi = hi;
    spool_use_xsave = 1;
}

int spool_cpu_has_avx(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1) || !((c >> 28) & 1)) return 0; // OSXSAVE, AVX
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6; // SSE and AVX state enabled by the kernel
}

static void spool_preempt_install_once(void) {
    spool_xsave_setup();
    int first = 1;
    dl_iterate_phdr(spool_phdr_cb, &first);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = spool_preempt_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, NULL);
}

void spool_preempt_install(int enabled, void (*park)(void)) {
    spool_park_hook = park;
    pthread_once(&spool_preempt_once, spool_preempt_install_once);
    __atomic_store_n(&spool_async_enabled, enabled, __ATOMIC_RELAXED);
}

int spool_preempt_enabled(void) { return spool_async_enabled; }

void spool_preempt_thread_init(spool_mctx *m) {
    m->tid = (int32_t)syscall(SYS_gettid);
    m->sigpending = 0;
    spool_tls_mctx = m;
    // A new thread inherits its creator's signal mask, and libdispatch's worker threads (where
    // Swift concurrency code calls Runtime.run) block every asynchronous signal: an M created
    // there would never see SIGURG (the signal stays pending, and sysmon never sends another).
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &urg, NULL);
}

int spool_preempt_signal(spool_mctx *m) {
    if (__atomic_exchange_n(&m->sigpending, 1, __ATOMIC_ACQ_REL) != 0) return 0;
    if (syscall(SYS_tgkill, getpid(), m->tid, SIGURG) != 0) {
        __atomic_store_n(&m->sigpending, 0, __ATOMIC_RELAXED);
        return 0;
    }
    return 1;
}

void spool_preempt_stats(uint64_t out[SPOOL_PS_COUNT]) {
    for (int i = 0; i < SPOOL_PS_COUNT; i++) out[i] = __atomic_load_n(&spool_stats[i], __ATOMIC_RELAXED);
}
