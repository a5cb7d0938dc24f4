// The async-preemption trampoline and the return-address hijack stub, x86_64 System V
// (preempt.c explains when the signal handler sends a goroutine here).
//
// Entry state of spool_async_preempt (built by the handler, or by the stub):
//     rsp 16-byte aligned, below the interrupted code's 128-byte red zone;
//     [rsp] = the interrupted PC, [rsp+8] = the interrupted rsp;
//     every other register, the flags and the vector state as the interrupted code left them.
// It saves the flags, the 15 general registers and the full vector state (xsave with the
// kernel's XCR0 components when the CPU has XSAVE, else fxsave), calls
// spool_async_preempt_park(frame) — which returns when the goroutine is resumed, perhaps on
// another thread — and restores everything. The final jump goes through a thread-local slot
// (%fs, local-exec: the runtime is linked into the executable) because no register may be
// used as scratch and the red zone below the interrupted rsp may be live.
//
// Saved frame, at rbx after the pushes (passed to the park function as `frame`, 8-byte words):
//     0 r15  1 r14  2 r13  3 r12  4 r11  5 r10  6 r9  7 r8  8 rbp  9 rdi  10 rsi  11 rdx
//     12 rcx  13 rbx  14 rax  15 rflags  16 interrupted PC  17 interrupted rsp

#if defined(__x86_64__)

    .section spool_text,"ax",@progbits

    .globl spool_async_preempt
    .type spool_async_preempt,@function
    .p2align 4
spool_async_preempt:
    .cfi_startproc
    .cfi_undefined rip
    pushfq
    cld
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rbx                 // the saved frame (callee-saved across the park call)
    xorl %ebp, %ebp                 // backtraces from the park path stop here
    subq spool_xsave_size(%rip), %rsp
    andq $-64, %rsp
    cmpb $0, spool_use_xsave(%rip)
    je 1f
    xorl %eax, %eax                 // the XSAVE header must be zero for xrstor's standard form
    movq %rax, 512(%rsp)
    movq %rax, 520(%rsp)
    movq %rax, 528(%rsp)
    movq %rax, 536(%rsp)
    movq %rax, 544(%rsp)
    movq %rax, 552(%rsp)
    movq %rax, 560(%rsp)
    movq %rax, 568(%rsp)
    movl spool_xsave_mask_lo(%rip), %eax
    movl spool_xsave_mask_hi(%rip), %edx
    xsave64 (%rsp)
    jmp 2f
1:  fxsave64 (%rsp)
2:  movq %rbx, %rdi
    call spool_async_preempt_park
    cmpb $0, spool_use_xsave(%rip)
    je 3f
    movl spool_xsave_mask_lo(%rip), %eax
    movl spool_xsave_mask_hi(%rip), %edx
    xrstor64 (%rsp)
    jmp 4f
3:  fxrstor64 (%rsp)
4:  movq %rbx, %rsp
    movq 128(%rsp), %rax            // the interrupted PC, into this thread's resume slot
    movq %rax, %fs:spool_tls_resume_pc@tpoff
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    popfq
    movq 8(%rsp), %rsp              // the interrupted rsp
    jmp *%fs:spool_tls_resume_pc@tpoff
    .cfi_endproc
    .size spool_async_preempt, .-spool_async_preempt

// Entered by the `ret` of a foreign function whose return address the handler replaced:
// rsp = R, 16-byte aligned (it was at the call), the function's return values in rax, rdx,
// xmm0, xmm1. Builds the trampoline's entry frame with the real return address (the G's
// `hijack_ret`, spool_gctx offset 64) as the PC and R as the rsp; nothing below R is live.
    .globl spool_preempt_hijack_stub
    .type spool_preempt_hijack_stub,@function
    .p2align 4
spool_preempt_hijack_stub:
    .cfi_startproc
    .cfi_undefined rip
    subq $16, %rsp                  // [rsp] = PC, [rsp+8] = R, at R-16
    pushq %rax
    movq %fs:spool_tls_ctx@tpoff, %rax
    movq 64(%rax), %rax             // spool_gctx.hijack_ret
    movq %rax, 8(%rsp)
    leaq 24(%rsp), %rax
    movq %rax, 16(%rsp)
    popq %rax
    jmp spool_async_preempt
    .cfi_endproc
    .size spool_preempt_hijack_stub, .-spool_preempt_hijack_stub

    .section .note.GNU-stack,"",@progbits

#else
#error "Spool: async preemption exists only for x86_64"
#endif
