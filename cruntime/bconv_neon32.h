/* The armv7 binary-conv tile: 2 output pixels x 4 output channels, in
 * inline asm; included by bconv_neon.c on 32-bit ARM builds.
 *
 * Why it is shaped like this:
 * - armv7 has 16 q registers: 8 u16 accumulators (2 pixels x 4 channels,
 *   one VPADAL per pixel, channel and 128 input bits), 4 weights, 2 inputs
 *   and 2 scratch fill them all. GCC and clang spill intrinsics at this
 *   pressure and add address arithmetic (measured: 48 instructions per step
 *   where 28 are needed), so the step is asm: two 4-register weight loads,
 *   two post-incremented input loads, then per channel 2 VEOR, 2 VCNT, 2
 *   VPADAL. Pixel 0 counts in place of the weight register once pixel 1 has
 *   used it, which gives four independent chains (in-order Cortex-A7/A53).
 * - The weights come from the 8-channel tile-order stream of aarch64
 *   (codegen/bconv_tiles.py: per step 8 vectors, one per channel): this
 *   tile reads the 4 vectors of its half of the block and skips the other
 *   4, so both targets share one array.
 * - The first step widens (VPADDL) instead of accumulating, so accumulators
 *   need no zeroing; with L odd the last words of rows r - 1 and r form one
 *   vector (two d-register loads), and an odd last row's last word of the
 *   two pixels forms one vector against the weight word twice, its halves
 *   accumulated into the two pixels by d-register VPADAL.
 * Registers: q8-q11 weights, q12-q13 inputs, q14-q15 scratch; the compiler
 * places the accumulators in q0-q7.
 */
#ifndef BNN_BCONV_NEON32_H
#define BNN_BCONV_NEON32_H

/* 4 weight vectors of one step; %[w] then moves to the next step */
#define BNN_A32_WEIGHTS                                                    \
    "vld1.64 {d16-d19}, [%[w]]!\n\t"                                       \
    "vld1.64 {d20-d23}, [%[w]], %[wskip]\n\t"

/* Pixel 0 (q12) and pixel 1 (q13) against weights q8-q11, accumulated by
 * PADAL ("vpadal.u8", or "vpaddl.u8" for the first step). */
#define BNN_A32_COUNT(PADAL)                                               \
    "veor q14, q13, q8\n\t"                                                \
    "veor q8, q12, q8\n\t"                                                 \
    "veor q15, q13, q9\n\t"                                                \
    "veor q9, q12, q9\n\t"                                                 \
    "vcnt.8 q14, q14\n\t"                                                  \
    "vcnt.8 q8, q8\n\t"                                                    \
    "vcnt.8 q15, q15\n\t"                                                  \
    "vcnt.8 q9, q9\n\t"                                                    \
    PADAL " %q[a10], q14\n\t"                                              \
    PADAL " %q[a00], q8\n\t"                                               \
    PADAL " %q[a11], q15\n\t"                                              \
    PADAL " %q[a01], q9\n\t"                                               \
    "veor q14, q13, q10\n\t"                                               \
    "veor q10, q12, q10\n\t"                                               \
    "veor q15, q13, q11\n\t"                                               \
    "veor q11, q12, q11\n\t"                                               \
    "vcnt.8 q14, q14\n\t"                                                  \
    "vcnt.8 q10, q10\n\t"                                                  \
    "vcnt.8 q15, q15\n\t"                                                  \
    "vcnt.8 q11, q11\n\t"                                                  \
    PADAL " %q[a12], q14\n\t"                                              \
    PADAL " %q[a02], q10\n\t"                                              \
    PADAL " %q[a13], q15\n\t"                                              \
    PADAL " %q[a03], q11\n\t"

#define BNN_A32_ACC                                                        \
    [a00] "+w"(a00), [a01] "+w"(a01), [a02] "+w"(a02), [a03] "+w"(a03),    \
        [a10] "+w"(a10), [a11] "+w"(a11), [a12] "+w"(a12), [a13] "+w"(a13)

#define BNN_A32_CLOBBERS                                                   \
    "memory", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", \
        "d27", "d28", "d29", "d30", "d31"

/* One vector of both windows, their pointers then moved by `step` bytes. */
#define BNN_A32_STEP(step)                                                 \
    __asm__ volatile(BNN_A32_WEIGHTS                                       \
                     "vld1.64 {d24-d25}, [%[b0]], %[s]\n\t"                \
                     "vld1.64 {d26-d27}, [%[b1]], %[s]\n\t"                \
                     BNN_A32_COUNT("vpadal.u8")                            \
                     : [w] "+r"(w), [b0] "+r"(b0), [b1] "+r"(b1), BNN_A32_ACC \
                     : [s] "r"(step), [wskip] "r"(wskip)                   \
                     : BNN_A32_CLOBBERS)

/* The first step: the accumulators start from its counts. */
#define BNN_A32_FIRST(step)                                                \
    __asm__ volatile(BNN_A32_WEIGHTS                                       \
                     "vld1.64 {d24-d25}, [%[b0]], %[s]\n\t"                \
                     "vld1.64 {d26-d27}, [%[b1]], %[s]\n\t"                \
                     BNN_A32_COUNT("vpaddl.u8")                            \
                     : [w] "+r"(w), [b0] "+r"(b0), [b1] "+r"(b1),          \
                       [a00] "=w"(a00), [a01] "=w"(a01), [a02] "=w"(a02),  \
                       [a03] "=w"(a03), [a10] "=w"(a10), [a11] "=w"(a11),  \
                       [a12] "=w"(a12), [a13] "=w"(a13)                    \
                     : [s] "r"(step), [wskip] "r"(wskip)                   \
                     : BNN_A32_CLOBBERS)

/* popcount(window p XOR channel c) for 2 windows (b0, b1: rows of L words,
 * pitch words apart) x 4 channels whose tile-order weights start at w, as
 * d[p] lane c. */
BNN_INLINE void count_tile_a32(int32_t rows, int32_t L, const uint64_t *b0, const uint64_t *b1,
                               int32_t pitch, const uint64_t *w, uint32x4_t *d)
{
    const int32_t pairs = L / 2, wskip = 96, sixteen = 16;
    /* bytes from the last pair of a row to the next row's start */
    const int32_t skip_even = (pitch - L + 2) * 8, skip_odd = (pitch - L + 1) * 8;
    uint16x8_t a00, a01, a02, a03, a10, a11, a12, a13;
    int32_t r, j;

    if (pairs > 0) {
        BNN_A32_FIRST(pairs > 1 || (L & 1) ? sixteen : skip_even);
    } else {
        a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = vdupq_n_u16(0);
    }
    for (r = 0; r < rows; ++r) {
        /* row 0's first pair was the first step */
        for (j = r == 0 ? 1 : 0; j + 1 < pairs; ++j)
            BNN_A32_STEP(sixteen);
        if (pairs > 0 && (r > 0 || pairs > 1))
            BNN_A32_STEP(L & 1 ? sixteen : skip_even);
        if (!(L & 1))
            continue;
        if (r & 1) { /* last words of rows r - 1 and r as one vector */
            const uint64_t *p0 = b0 - pitch, *p1 = b1 - pitch;

            __asm__ volatile("vld1.64 {d24}, [%[p0]]\n\t"
                             "vld1.64 {d25}, [%[b0]], %[s]\n\t"
                             "vld1.64 {d26}, [%[p1]]\n\t"
                             "vld1.64 {d27}, [%[b1]], %[s]\n\t" BNN_A32_WEIGHTS
                             BNN_A32_COUNT("vpadal.u8")
                             : [w] "+r"(w), [b0] "+r"(b0), [b1] "+r"(b1), BNN_A32_ACC
                             : [p0] "r"(p0), [p1] "r"(p1), [s] "r"(skip_odd),
                               [wskip] "r"(wskip)
                             : BNN_A32_CLOBBERS);
        } else if (r + 1 < rows) { /* its last word pairs with the next row's */
            b0 += pitch - L + 1, b1 += pitch - L + 1;
        } else { /* odd last row: low half pixel 0, high half pixel 1 */
            __asm__ volatile("vld1.64 {d24}, [%[b0]]\n\t"
                             "vld1.64 {d25}, [%[b1]]\n\t" BNN_A32_WEIGHTS
                             "veor q8, q12, q8\n\t"
                             "veor q9, q12, q9\n\t"
                             "veor q10, q12, q10\n\t"
                             "veor q11, q12, q11\n\t"
                             "vcnt.8 q8, q8\n\t"
                             "vcnt.8 q9, q9\n\t"
                             "vcnt.8 q10, q10\n\t"
                             "vcnt.8 q11, q11\n\t"
                             "vpadal.u8 %e[a00], d16\n\t"
                             "vpadal.u8 %e[a10], d17\n\t"
                             "vpadal.u8 %e[a01], d18\n\t"
                             "vpadal.u8 %e[a11], d19\n\t"
                             "vpadal.u8 %e[a02], d20\n\t"
                             "vpadal.u8 %e[a12], d21\n\t"
                             "vpadal.u8 %e[a03], d22\n\t"
                             "vpadal.u8 %e[a13], d23\n\t"
                             : [w] "+r"(w), BNN_A32_ACC
                             : [b0] "r"(b0), [b1] "r"(b1), [wskip] "r"(wskip)
                             : BNN_A32_CLOBBERS);
        }
    }
    d[0] = sum4(a00, a01, a02, a03);
    d[1] = sum4(a10, a11, a12, a13);
}

#endif /* BNN_BCONV_NEON32_H */
