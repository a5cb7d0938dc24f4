// Asynchronous preemption: the SIGURG handler, the register-saving trampoline, return-address
// hijacking, and the per-G / per-M words the Swift scheduler shares with them.
// The design and its invariants are in preempt.c; HACKING.md ("Preemption") has the rules
// for runtime code.

#ifndef CSPOOL_PREEMPT_H
#define CSPOOL_PREEMPT_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct spool_gctx;

/// Per-M words the handler and sysmon share (allocated by the Swift M, never freed).
typedef struct spool_mctx {
    int32_t tid;            // kernel thread id of the M (sysmon's tgkill target)
    uint32_t sigpending;    // 1 from sysmon's signal until the handler runs (atomic)
} spool_mctx;

/// Why the handler did what it did (indexes of `spool_preempt_stats`).
enum {
    SPOOL_PS_SIGNALS = 0,     // SIGURGs received by Ms
    SPOOL_PS_INJECTED,        // preemptions injected at a user-code PC
    SPOOL_PS_HIJACKED,        // return addresses hijacked (PC in a shared library)
    SPOOL_PS_PARKED,          // preemptions that reached the scheduler (injected or via a hijack)
    SPOOL_PS_UNHIJACKED,      // pending hijacks undone by a later signal (which then decided afresh)
    SPOOL_PS_R_NOT_G,         // refused: g0, sysmon, a non-M thread
    SPOOL_PS_R_NO_REQUEST,    // refused: no preemption requested (stale or foreign signal)
    SPOOL_PS_R_DISABLED,      // refused: SPOOL_ASYNCPREEMPT=0
    SPOOL_PS_R_NOPREEMPT,     // refused: runtime code, a syscall or a no-preempt region
    SPOOL_PS_R_STACK,         // refused: rsp outside the G's stack, or too little room
    SPOOL_PS_R_RUNTIME_PC,    // refused: PC in the runtime's own C/assembly (spool_text)
    SPOOL_PS_R_UNKNOWN_PC,    // refused: PC in no known object
    SPOOL_PS_R_PROLOGUE,      // refused: [rsp] holds a foreign return address (a prologue)
    SPOOL_PS_R_FRAMES,        // refused: the frame-pointer chain is broken or crosses foreign code
    SPOOL_PS_COUNT
};

/// Installs the SIGURG handler and computes the code ranges once per process; `enabled` (the
/// `SPOOL_ASYNCPREEMPT` setting) applies from this call on. `park` is called on the preempted G's stack with every register saved; it
/// must switch to the scheduler and return when the G is resumed. Context: any thread, before
/// the first M runs goroutines.
void spool_preempt_install(int enabled, void (*park)(void));

/// Whether async preemption is on (the `enabled` of the last install).
int spool_preempt_enabled(void);

/// Publishes the calling M's words to its signal handler. Context: the M's own thread.
void spool_preempt_thread_init(spool_mctx *m);

/// Sends SIGURG to `m` unless a signal is already pending there. Returns 1 if sent.
/// Context: sysmon.
int spool_preempt_signal(spool_mctx *m);

/// The per-G inline helpers (`spool_preempt_request`, `spool_preempt_requested`,
/// `spool_preempt_clear`, `spool_nopreempt_inc/dec/get`) are in CSpool.h, after spool_gctx.

/// A copy of the handler's counters (`SPOOL_PS_*`), for tests and `spool` diagnostics.
void spool_preempt_stats(uint64_t out[SPOOL_PS_COUNT]);

/// Test hook: when nonzero, the next preemptions that interrupt `spool_torture` flip bit 0 of
/// the saved r12 before resuming (negative control for the register-torture test).
/// Decremented per use.
extern volatile int spool_preempt_test_corrupt;

/// The register-torture loop (torture_amd64.S): keeps rax, rbx, rcx, rdx, rsi, rdi, r8-r15,
/// xmm0-15 (ymm0-15 when `avx`) and CF at patterns derived from `seed` through `rounds`
/// rounds of `spin` iterations each, and returns how many registers were found changed.
/// Plain user code (not in spool_text), so it can be preempted anywhere.
uint64_t spool_torture(uint64_t seed, uint64_t rounds, uint64_t spin, int avx);

/// Whether the CPU and kernel support AVX (ymm state saved by xsave).
int spool_cpu_has_avx(void);

#ifdef __cplusplus
}
#endif

#endif
