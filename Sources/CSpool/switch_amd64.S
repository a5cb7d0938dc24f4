// The goroutine context switch and entry trampoline, x86_64 System V.
//
// A switch saves only what the ABI says a callee must preserve: rbp, rbx, r12-r15, plus the
// MXCSR (SSE rounding/exception mask) and the x87 control word, which are also callee-saved
// by the ABI. Everything is pushed on the stack being left, and only rsp is stored, so a
// saved context is one word (`spool_gctx.sp`). Layout at a saved sp, upward:
//     [sp+0] MXCSR (4 bytes)  [sp+4] x87 CW (2 bytes)  [sp+8] r15  r14  r13  r12  rbx  rbp  ret
// spool_ctx_init (spool.c) builds the same layout on a fresh stack with ret = spool_gentry.
//
// Rejected: ucontext (swapcontext makes a sigprocmask syscall, about 20x slower).

#if defined(__x86_64__)

    .section spool_text,"ax",@progbits

// void spool_switch(void **save_sp /* rdi */, void *new_sp /* rsi */)
    .globl spool_switch
    .type spool_switch,@function
    .p2align 4
spool_switch:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size spool_switch, .-spool_switch

// The first frame of every goroutine. Entered by spool_switch's `ret` with rbx = fn,
// r12 = arg, rsp 16-byte aligned. rbp = 0 and an undefined return address end every
// frame-pointer and DWARF unwind here.
    .globl spool_gentry
    .type spool_gentry,@function
    .p2align 4
spool_gentry:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r12, %rdi
    call *%rbx
    ud2
    .globl spool_gentry_end
spool_gentry_end:
    .cfi_endproc
    .size spool_gentry, .-spool_gentry

    .section .note.GNU-stack,"",@progbits

#else
#error "Spool: the context switch exists only for x86_64 (arm64 is not written yet)"
#endif
