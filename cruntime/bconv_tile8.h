/* What the binary-conv tiles of bconv_neon.c share with the tiles an export
 * generates per window shape (in the model's C). aarch64 (codegen/bconv_gen.py):
 * the bit output that follows a tile in the same asm statement, and the
 * registers a tile uses. armv7 (codegen/bconv_gen32.py, bconv_neon32.h): the
 * block around its halves, whose count the generated halves call too. */
#ifndef BNN_BCONV_TILE8_H
#define BNN_BCONV_TILE8_H

#include "bnn_runtime.h"

#if BNN_BCONV_TILES && defined(__aarch64__)

#include <arm_neon.h>

/* The bit output of a tile's 8 channels, in the same asm: accumulators >=
 * the next 8 limits (limits8) narrowed to bytes, weighted by bit (the bytes
 * 1, 2, .., 128 twice, in register `bit`) and summed pairwise to one byte
 * per pixel, stored to the pointers d0..d3, which move on by one; `load`
 * and `save` (asm text, may be empty) fetch and write back those pointers
 * where they are not kept in registers. */
#define BNN_ASM_BITS8_TO(bit, load, d0, d1, d2, d3, save)                                   \
    "ld1 {v16.8h}, [%[limits]], #16\n\t"                                                   \
    "cmhs %[a0].8h, %[a0].8h, v16.8h\n\t"                                                  \
    "cmhs %[a1].8h, %[a1].8h, v16.8h\n\t"                                                  \
    "cmhs %[a2].8h, %[a2].8h, v16.8h\n\t"                                                  \
    "cmhs %[a3].8h, %[a3].8h, v16.8h\n\t" load                                             \
    "uzp1 v17.16b, %[a0].16b, %[a1].16b\n\t"                                               \
    "uzp1 v18.16b, %[a2].16b, %[a3].16b\n\t"                                               \
    "and v17.16b, v17.16b, " bit ".16b\n\t"                                                \
    "and v18.16b, v18.16b, " bit ".16b\n\t"                                                \
    "addp v17.16b, v17.16b, v18.16b\n\t"                                                   \
    "addp v17.16b, v17.16b, v17.16b\n\t"                                                   \
    "addp v17.16b, v17.16b, v17.16b\n\t"                                                   \
    "st1 {v17.b}[0], [" d0 "], #1\n\t"                                                     \
    "st1 {v17.b}[1], [" d1 "], #1\n\t"                                                     \
    "st1 {v17.b}[2], [" d2 "], #1\n\t"                                                     \
    "st1 {v17.b}[3], [" d3 "], #1\n\t" save

/* A tile's bit output with the 4 output pointers at dsts, held in b0..b3
 * (free until the next tile) while it stores. */
#define BNN_ASM_BITS8_WITH(bit)                                                             \
    BNN_ASM_BITS8_TO(bit,                                                                   \
                     "ldp %[b0], %[b1], [%[dsts]]\n\t"                                      \
                     "ldp %[b2], %[b3], [%[dsts], #16]\n\t",                                \
                     "%[b0]", "%[b1]", "%[b2]", "%[b3]",                                    \
                     "stp %[b0], %[b1], [%[dsts]]\n\t"                                      \
                     "stp %[b2], %[b3], [%[dsts], #16]\n\t")
#define BNN_ASM_BITS8 BNN_ASM_BITS8_WITH("%[bit]")

/* A tile's bit output with the 4 output pointers kept in registers d0..d3
 * across the blocks (no loads or stores of the pointers per block). */
#define BNN_ASM_BITS8_REGS(bit) BNN_ASM_BITS8_TO(bit, "", "%[d0]", "%[d1]", "%[d2]", "%[d3]", "")

/* The vector registers a generated tile writes besides its accumulators:
 * inputs v0-v3, scratch v12-v23, weights v24-v31 (BNN_ASM_BITS8 uses
 * v16-v18). */
#define BNN_TILE8_CLOBBERS                                                                  \
    "memory", "cc", "v0", "v1", "v2", "v3", "v12", "v13", "v14", "v15", "v16", "v17", "v18", \
        "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"

#elif BNN_BCONV_TILES /* armv7 */

#include <arm_neon.h>

/* The armv7 block (bconv_neon32.h says why it is shaped so): its steps, lane
 * sums and bit output, and the asm statements that run one block or all
 * blocks with their bit output around a half (HALF(W): one pass over both
 * windows against 4 channels, from weights at W), which bconv_neon32.h
 * writes out for its straight shapes and codegen/bconv_gen32.py for any. */

/* 4 weight vectors of one step from W; W then moves to the next step */
#define BNN_A32_WEIGHTS(W)                                                 \
    "vld1.64 {d16-d19}, [" W "]!\n\t"                                      \
    "vld1.64 {d20-d23}, [" W "], %[wskip]\n\t"

/* Pixel 1 (q13) then pixel 0 (q12) against weight q<W> into accumulators
 * A1, A0 through the scratch q14 */
#define BNN_A32_CHANNEL(PADAL, W, A0, A1)                                  \
    "veor q14, q13, q" W "\n\t"                                            \
    "veor q" W ", q12, q" W "\n\t"                                         \
    "vcnt.8 q14, q14\n\t"                                                  \
    "vcnt.8 q" W ", q" W "\n\t"                                            \
    PADAL " %q[" A1 "], q14\n\t"                                           \
    PADAL " %q[" A0 "], q" W "\n\t"

/* Both pixels against weights q8-q11, accumulated by PADAL ("vpadal.u8",
 * or "vpaddl.u8" for the first step). */
#define BNN_A32_COUNT(PADAL)                                               \
    BNN_A32_CHANNEL(PADAL, "8", "a00", "a10")                              \
    BNN_A32_CHANNEL(PADAL, "9", "a01", "a11")                              \
    BNN_A32_CHANNEL(PADAL, "10", "a02", "a12")                             \
    BNN_A32_CHANNEL(PADAL, "11", "a03", "a13")

/* An odd last row's last word against weights q8-q11 (each word held
 * twice): q12's low half pixel 0, its high half pixel 1, accumulated into
 * the low halves of their accumulators */
#define BNN_A32_COUNT_WORD                                                 \
    "veor q8, q12, q8\n\t"                                                 \
    "veor q9, q12, q9\n\t"                                                 \
    "veor q10, q12, q10\n\t"                                               \
    "veor q11, q12, q11\n\t"                                               \
    "vcnt.8 q8, q8\n\t"                                                    \
    "vcnt.8 q9, q9\n\t"                                                    \
    "vcnt.8 q10, q10\n\t"                                                  \
    "vcnt.8 q11, q11\n\t"                                                  \
    "vpadal.u8 %e[a00], d16\n\t"                                           \
    "vpadal.u8 %e[a10], d17\n\t"                                           \
    "vpadal.u8 %e[a01], d18\n\t"                                           \
    "vpadal.u8 %e[a11], d19\n\t"                                           \
    "vpadal.u8 %e[a02], d20\n\t"                                           \
    "vpadal.u8 %e[a12], d21\n\t"                                           \
    "vpadal.u8 %e[a03], d22\n\t"                                           \
    "vpadal.u8 %e[a13], d23\n\t"

/* The accumulators zeroed: before a first step that accumulates into
 * their halves (BNN_A32_COUNT_WORD) */
#define BNN_A32_ZERO                                                       \
    "vmov.i16 %q[a00], #0\n\t"                                             \
    "vmov.i16 %q[a01], #0\n\t"                                             \
    "vmov.i16 %q[a02], #0\n\t"                                             \
    "vmov.i16 %q[a03], #0\n\t"                                             \
    "vmov.i16 %q[a10], #0\n\t"                                             \
    "vmov.i16 %q[a11], #0\n\t"                                             \
    "vmov.i16 %q[a12], #0\n\t"                                             \
    "vmov.i16 %q[a13], #0\n\t"

/* The lane sums of accumulators A0..A3 as the 4 u16 lanes of d-register D
 * (no sum reaches 65536) */
#define BNN_A32_SUM4(A0, A1, A2, A3, D)                                    \
    "vpadd.i16 %e[" A0 "], %e[" A0 "], %f[" A0 "]\n\t"                     \
    "vpadd.i16 %e[" A1 "], %e[" A1 "], %f[" A1 "]\n\t"                     \
    "vpadd.i16 %e[" A2 "], %e[" A2 "], %f[" A2 "]\n\t"                     \
    "vpadd.i16 %e[" A3 "], %e[" A3 "], %f[" A3 "]\n\t"                     \
    "vpadd.i16 %e[" A0 "], %e[" A0 "], %e[" A1 "]\n\t"                     \
    "vpadd.i16 %e[" A2 "], %e[" A2 "], %e[" A3 "]\n\t"                     \
    "vpadd.i16 " D ", %e[" A0 "], %e[" A2 "]\n\t"

/* What the straight tiles' asm reads from memory rather than registers
 * (armv7 has too few): the two windows' starts, reloaded for each half, and
 * the bit weights of the bit output. */
struct a32_tile {
    const uint64_t *base[2];
    uint8_t bit[8];
};

/* The weight pointer moved back by N bytes (an immediate one sub takes) */
#define BNN_A32_BACK(N) "sub %[w], %[w], #" N "\n\t"

/* A whole block of a straight window (BACK: BNN_A32_BACK moving the weight
 * pointer %[w] from the end of the first half to the second half's start):
 * channels 0..3 into h, then 4..7; h ends with pixel 0's 8 sums and a00
 * with pixel 1's, and %[w] at the next block. */
#define BNN_A32_BLOCK_BODY(HALF, BACK)                                     \
    "ldr %[b0], [%[t]]\n\t"                                                \
    "ldr %[b1], [%[t], #4]\n\t" HALF("%[w]")                               \
    BNN_A32_SUM4("a00", "a01", "a02", "a03", "%e[h]")                      \
    BNN_A32_SUM4("a10", "a11", "a12", "a13", "%f[h]")                      \
    BACK                                                                   \
    "ldr %[b0], [%[t]]\n\t"                                                \
    "ldr %[b1], [%[t], #4]\n\t" HALF("%[w]")                               \
    BNN_A32_SUM4("a00", "a01", "a02", "a03", "%e[a00]")                    \
    "vswp %f[h], %e[a00]\n\t"                                              \
    BNN_A32_SUM4("a10", "a11", "a12", "a13", "%f[a00]")                    \
    "sub %[w], %[w], #64\n\t"

/* The bit output of a block (as emit_bits8_a32): the sums >= the next 8
 * limits, narrowed to bytes, weighted by bit and summed pairwise to one
 * byte per pixel, stored to dst0 and dst1, which move on by one. */
#define BNN_A32_BITS                                                       \
    "vld1.16 {d16-d17}, [%[limits]]!\n\t"                                  \
    "vldr d20, [%[t], #8]\n\t"                                             \
    "vcge.u16 %q[h], %q[h], q8\n\t"                                        \
    "vcge.u16 %q[a00], %q[a00], q8\n\t"                                    \
    "vmovn.i16 d18, %q[h]\n\t"                                             \
    "vmovn.i16 d19, %q[a00]\n\t"                                           \
    "vand d18, d18, d20\n\t"                                               \
    "vand d19, d19, d20\n\t"                                               \
    "vpadd.i8 d18, d18, d19\n\t"                                           \
    "vpadd.i8 d18, d18, d18\n\t"                                           \
    "vpadd.i8 d18, d18, d18\n\t"                                           \
    "vst1.8 {d18[0]}, [%[dst0]]!\n\t"                                      \
    "vst1.8 {d18[1]}, [%[dst1]]!\n\t"

#define BNN_A32_TILE_ACC                                                   \
    [a01] "=&w"(a01), [a02] "=&w"(a02), [a03] "=&w"(a03), [a10] "=&w"(a10), \
        [a11] "=&w"(a11), [a12] "=&w"(a12), [a13] "=&w"(a13)

#define BNN_A32_CLOBBERS                                                   \
    "memory", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", \
        "d27", "d28", "d29"

/* One block: sums[p] lane c = popcount(window p XOR channel c); the
 * operands (wskip first, then HALF's) follow BACK */
#define BNN_A32_BLOCK(HALF, BACK, ...)                                     \
    __asm__ volatile(BNN_A32_BLOCK_BODY(HALF, BACK)                        \
                     : [w] "+r"(*w), [b0] "=&r"(b0), [b1] "=&r"(b1),       \
                       [h] "=&w"(sums[0]), [a00] "=&w"(sums[1]), BNN_A32_TILE_ACC \
                     : [t] "r"(t), __VA_ARGS__                        \
                     : BNN_A32_CLOBBERS)

/* All `blocks` blocks with their bit output, one asm statement */
#define BNN_A32_BITS_LOOP(HALF, BACK, ...)                                 \
    __asm__ volatile("1:\n\t" BNN_A32_BLOCK_BODY(HALF, BACK) BNN_A32_BITS  \
                     "subs %[n], %[n], #1\n\t"                             \
                     "bne 1b\n\t"                                          \
                     : [w] "+r"(w), [b0] "=&r"(b0), [b1] "=&r"(b1),        \
                       [dst0] "+r"(dst0), [dst1] "+r"(dst1),               \
                       [limits] "+r"(limits), [n] "+r"(blocks), [h] "=&w"(h), \
                       [a00] "=&w"(a00), BNN_A32_TILE_ACC                  \
                     : [t] "r"(t), __VA_ARGS__                        \
                     : BNN_A32_CLOBBERS, "cc")

#endif
#endif
