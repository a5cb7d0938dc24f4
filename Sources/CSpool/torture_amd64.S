// The register-torture loop for the preemption tests (CSpool/include/CSpoolPreempt.h):
// uint64_t spool_torture(uint64_t seed, uint64_t rounds, uint64_t spin, int avx).
// Each round loads 14 general registers, xmm0-15 (or ymm0-15 with `avx`) and CF=1 with
// patterns derived from `seed` and the round, spins `spin` iterations of a loop that touches
// none of them (the counter lives in memory; `dec` leaves CF alone), then stores and compares
// them all. Returns the number of mismatches. rbp stays a real frame pointer (the handler's
// frame walk needs it). Deliberately in .text, not spool_text: it is "user code" that the
// signal handler may interrupt anywhere.
//
// Frame (rsp 32-byte aligned): 0 seed, 8 rounds, 16 spin, 24 errors, 32 avx, 40 round,
// 48 spin counter, 56 base; 64..576 vector patterns (16 x 32 bytes); 576..1088 vectors
// stored back; 1088..1200 general registers stored back.

#if defined(__x86_64__)
    .text
    .globl spool_torture
    .type spool_torture,@function
    .p2align 4
spool_torture:
    .cfi_startproc
    pushq %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $1240, %rsp
    andq $-32, %rsp
    movq %rdi, 0(%rsp)
    movq %rsi, 8(%rsp)
    movq %rdx, 16(%rsp)
    movq $0, 24(%rsp)
    movq %rcx, 32(%rsp)
    movq $0, 40(%rsp)
.Lround:
    movq 40(%rsp), %rax
    cmpq 8(%rsp), %rax
    jae .Ldone
    movabsq $0x9E3779B97F4A7C15, %rcx
    imulq %rcx, %rax
    xorq 0(%rsp), %rax
    movq %rax, 56(%rsp)
    // vector patterns: qword j (0..63) = base * 3 + j * 0x0123456789ABCDEF
    leaq (%rax,%rax,2), %rdx
    movabsq $0x0123456789ABCDEF, %rcx
    xorl %esi, %esi
1:  movq %rdx, 64(%rsp,%rsi,8)
    addq %rcx, %rdx
    incq %rsi
    cmpq $64, %rsi
    jb 1b
    cmpl $0, 32(%rsp)
    je .Lload_sse

    vmovdqu 64(%rsp), %ymm0
    vmovdqu 96(%rsp), %ymm1
    vmovdqu 128(%rsp), %ymm2
    vmovdqu 160(%rsp), %ymm3
    vmovdqu 192(%rsp), %ymm4
    vmovdqu 224(%rsp), %ymm5
    vmovdqu 256(%rsp), %ymm6
    vmovdqu 288(%rsp), %ymm7
    vmovdqu 320(%rsp), %ymm8
    vmovdqu 352(%rsp), %ymm9
    vmovdqu 384(%rsp), %ymm10
    vmovdqu 416(%rsp), %ymm11
    vmovdqu 448(%rsp), %ymm12
    vmovdqu 480(%rsp), %ymm13
    vmovdqu 512(%rsp), %ymm14
    vmovdqu 544(%rsp), %ymm15
    jmp .Lload_gpr
.Lload_sse:
    movdqu 64(%rsp), %xmm0
    movdqu 96(%rsp), %xmm1
    movdqu 128(%rsp), %xmm2
    movdqu 160(%rsp), %xmm3
    movdqu 192(%rsp), %xmm4
    movdqu 224(%rsp), %xmm5
    movdqu 256(%rsp), %xmm6
    movdqu 288(%rsp), %xmm7
    movdqu 320(%rsp), %xmm8
    movdqu 352(%rsp), %xmm9
    movdqu 384(%rsp), %xmm10
    movdqu 416(%rsp), %xmm11
    movdqu 448(%rsp), %xmm12
    movdqu 480(%rsp), %xmm13
    movdqu 512(%rsp), %xmm14
    movdqu 544(%rsp), %xmm15
.Lload_gpr:
    movq 16(%rsp), %rax
    movq %rax, 48(%rsp)
    movq 56(%rsp), %rax
    movabsq $0x0101010101010101, %rcx
    imulq $2, %rcx, %rbx
    addq %rax, %rbx
    imulq $4, %rcx, %rdx
    addq %rax, %rdx
    imulq $5, %rcx, %rsi
    addq %rax, %rsi
    imulq $6, %rcx, %rdi
    addq %rax, %rdi
    imulq $7, %rcx, %r8
    addq %rax, %r8
    imulq $8, %rcx, %r9
    addq %rax, %r9
    imulq $9, %rcx, %r10
    addq %rax, %r10
    imulq $10, %rcx, %r11
    addq %rax, %r11
    imulq $11, %rcx, %r12
    addq %rax, %r12
    imulq $12, %rcx, %r13
    addq %rax, %r13
    imulq $13, %rcx, %r14
    addq %rax, %r14
    imulq $14, %rcx, %r15
    addq %rax, %r15
    imulq $3, %rcx, %rcx
    addq %rax, %rcx
    leaq (%rbx,%rbx), %rax
    subq %rcx, %rax
    stc
    // [spool_torture_spin, spool_torture_spin_end): every register holds its pattern (the
    // negative-control hook in preempt.c corrupts only preemptions taken here).
    .globl spool_torture_spin
spool_torture_spin:
2:  decq 48(%rsp)
    jnz 2b
    .globl spool_torture_spin_end
spool_torture_spin_end:
    jc 3f
    incq 24(%rsp)
3:
    movq %rax, 1088(%rsp)
    movq %rbx, 1096(%rsp)
    movq %rcx, 1104(%rsp)
    movq %rdx, 1112(%rsp)
    movq %rsi, 1120(%rsp)
    movq %rdi, 1128(%rsp)
    movq %r8, 1136(%rsp)
    movq %r9, 1144(%rsp)
    movq %r10, 1152(%rsp)
    movq %r11, 1160(%rsp)
    movq %r12, 1168(%rsp)
    movq %r13, 1176(%rsp)
    movq %r14, 1184(%rsp)
    movq %r15, 1192(%rsp)
    cmpl $0, 32(%rsp)
    je .Lstore_sse
    vmovdqu %ymm0, 576(%rsp)
    vmovdqu %ymm1, 608(%rsp)
    vmovdqu %ymm2, 640(%rsp)
    vmovdqu %ymm3, 672(%rsp)
    vmovdqu %ymm4, 704(%rsp)
    vmovdqu %ymm5, 736(%rsp)
    vmovdqu %ymm6, 768(%rsp)
    vmovdqu %ymm7, 800(%rsp)
    vmovdqu %ymm8, 832(%rsp)
    vmovdqu %ymm9, 864(%rsp)
    vmovdqu %ymm10, 896(%rsp)
    vmovdqu %ymm11, 928(%rsp)
    vmovdqu %ymm12, 960(%rsp)
    vmovdqu %ymm13, 992(%rsp)
    vmovdqu %ymm14, 1024(%rsp)
    vmovdqu %ymm15, 1056(%rsp)
    jmp .Lcheck
.Lstore_sse:
    movdqu %xmm0, 576(%rsp)
    movdqu %xmm1, 608(%rsp)
    movdqu %xmm2, 640(%rsp)
    movdqu %xmm3, 672(%rsp)
    movdqu %xmm4, 704(%rsp)
    movdqu %xmm5, 736(%rsp)
    movdqu %xmm6, 768(%rsp)
    movdqu %xmm7, 800(%rsp)
    movdqu %xmm8, 832(%rsp)
    movdqu %xmm9, 864(%rsp)
    movdqu %xmm10, 896(%rsp)
    movdqu %xmm11, 928(%rsp)
    movdqu %xmm12, 960(%rsp)
    movdqu %xmm13, 992(%rsp)
    movdqu %xmm14, 1024(%rsp)
    movdqu %xmm15, 1056(%rsp)
.Lcheck:
    // general registers: stored k = base + (k+1) * 0x0101010101010101
    movq 56(%rsp), %rax
    movabsq $0x0101010101010101, %rcx
    xorl %esi, %esi
4:  leaq 1(%rsi), %rdx
    imulq %rcx, %rdx
    addq %rax, %rdx
    cmpq %rdx, 1088(%rsp,%rsi,8)
    je 5f
    incq 24(%rsp)
5:  incq %rsi
    cmpq $14, %rsi
    jb 4b
    // vectors: 2 qwords per register (4 with avx)
    xorl %esi, %esi
6:  movq %rsi, %rdx
    andq $3, %rdx
    cmpl $0, 32(%rsp)
    jne 7f
    cmpq $2, %rdx
    jae 8f
7:  movq 64(%rsp,%rsi,8), %rdx
    cmpq %rdx, 576(%rsp,%rsi,8)
    je 8f
    incq 24(%rsp)
8:  incq %rsi
    cmpq $64, %rsi
    jb 6b
    incq 40(%rsp)
    jmp .Lround
.Ldone:
    movq 24(%rsp), %rax
    cmpl $0, 32(%rsp)
    je 9f
    vzeroupper
9:  leaq -40(%rbp), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    .cfi_def_cfa rsp, 8
    ret
    .cfi_endproc
    .size spool_torture, .-spool_torture

    .section .note.GNU-stack,"",@progbits
#endif
