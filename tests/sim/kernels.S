/* Micro-kernels whose Cortex-M4 cycle counts are known by hand (tests/sim/test_cycles_qemu.py).
 * Each is a function the reset handler calls once; every loop runs N times. Counts per pass
 * follow the Cortex-M4 TRM with a pipeline refill of 2 after a taken branch. */
    .syntax unified
    .cpu cortex-m4
    .fpu fpv4-sp-d16
    .thumb
    .text
    .word 0x20010000
    .word reset + 1
    .equ N, 100

    .macro kernel name
    .size \name, . - \name
    .endm

    .thumb_func
    .type reset, %function
reset:
    ldr r0, =0xE000ED88      /* CPACR: the FPU on */
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb
    isb
    ldr r5, =0x20000000
    bl k_alu
    bl k_ldr
    bl k_ldr_use
    bl k_smlad
    bl k_branch
    bl k_ldm
    bl k_vfp
    movs r0, #0x18           /* semihosting SYS_EXIT(ADP_Stopped_ApplicationExit) */
    ldr r1, =0x20026
    bkpt 0xab
    b .
    .ltorg
    kernel reset

    /* 4 ADDS + SUBS + BNE: 4 + 1 + (1 + 2) = 8 per pass */
    .thumb_func
    .type k_alu, %function
k_alu:
    movs r0, #N
1:  adds r1, r1, #1
    adds r2, r2, #1
    adds r3, r3, #1
    adds r4, r4, #1
    subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_alu

    /* 4 back-to-back LDRs pipeline: 2 + 1 + 1 + 1, + 4 = 9 per pass */
    .thumb_func
    .type k_ldr, %function
k_ldr:
    movs r0, #N
1:  ldr r1, [r5]
    ldr r2, [r5, #4]
    ldr r3, [r5, #8]
    ldr r4, [r5, #12]
    subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_ldr

    /* LDRs apart do not: 2 + 1 + 2 + 1, + 4 = 10 per pass */
    .thumb_func
    .type k_ldr_use, %function
k_ldr_use:
    movs r0, #N
1:  ldr r1, [r5]
    adds r2, r2, r1
    ldr r3, [r5, #4]
    adds r4, r4, r3
    subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_ldr_use

    /* 4 SMLADs of 1, + 4 = 8 per pass */
    .thumb_func
    .type k_smlad, %function
k_smlad:
    movs r0, #N
1:  smlad r1, r2, r3, r1
    smlad r4, r2, r3, r4
    smlad r1, r2, r3, r1
    smlad r4, r2, r3, r4
    subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_smlad

    /* a taken B over a NOP: (1 + 2) + SUBS + BNE (1 + 2) = 7 per pass */
    .thumb_func
    .type k_branch, %function
k_branch:
    movs r0, #N
1:  b 2f
    nop
2:  subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_branch

    /* LDM of 4 registers: 1 + 4, + 4 = 9 per pass */
    .thumb_func
    .type k_ldm, %function
k_ldm:
    movs r0, #N
1:  ldm r5, {r1, r2, r3, r4}
    subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_ldm

    /* 2 VADDs of 1 and 2 VMLAs of 3, + 4 = 12 per pass */
    .thumb_func
    .type k_vfp, %function
k_vfp:
    movs r0, #N
1:  vadd.f32 s0, s0, s1
    vadd.f32 s2, s2, s1
    vmla.f32 s3, s4, s5
    vmla.f32 s6, s4, s5
    subs r0, r0, #1
    bne 1b
    bx lr
    kernel k_vfp
