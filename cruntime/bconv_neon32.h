/* The armv7 binary-conv tile: 2 output pixels x 4 output channels in inline
 * asm, its bit output and the loop over output channels; included by
 * bconv_neon.c on 32-bit ARM builds (it uses that file's struct geom, struct
 * sink, limits8 and emit4).
 *
 * Why it is shaped like this:
 * - armv7 has 16 q registers: 8 u16 accumulators (2 pixels x 4 channels,
 *   one VPADAL per pixel, channel and 128 input bits), 4 weights, 2 inputs
 *   and 2 scratch fill them all. Compiled intrinsics at this pressure spent
 *   24 of 48 inner-loop instructions on register copies, pointer adds and
 *   a spill reload (measured), so the step is asm: two 4-register weight loads,
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
 * - Bit output compares 8 channels in u16 (limits computed once per call)
 *   and stores one byte per pixel.
 * Registers: q8-q11 weights, q12-q13 inputs, q14-q15 scratch; the compiler
 * places the accumulators in q0-q7.
 */
#ifndef BCONV_NEON32_H
#define BCONV_NEON32_H

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

/* The four lane sums of a0..a3 (no sum reaches 65536). */
BNN_INLINE uint16x4_t sum4_u16(uint16x8_t a0, uint16x8_t a1, uint16x8_t a2, uint16x8_t a3)
{
    uint16x4_t s0 = vpadd_u16(vget_low_u16(a0), vget_high_u16(a0));
    uint16x4_t s1 = vpadd_u16(vget_low_u16(a1), vget_high_u16(a1));
    uint16x4_t s2 = vpadd_u16(vget_low_u16(a2), vget_high_u16(a2));
    uint16x4_t s3 = vpadd_u16(vget_low_u16(a3), vget_high_u16(a3));

    return vpadd_u16(vpadd_u16(s0, s1), vpadd_u16(s2, s3));
}

/* popcount(window p XOR channel c) for 2 windows (b0, b1: rows of L words,
 * pitch words apart) x 4 channels whose tile-order weights start at w, as
 * d[p] lane c. */
BNN_INLINE void count_tile_a32(int32_t rows, int32_t L, const uint64_t *b0, const uint64_t *b1,
                               int32_t pitch, const uint64_t *w, uint16x4_t *d)
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
    d[0] = sum4_u16(a00, a01, a02, a03);
    d[1] = sum4_u16(a10, a11, a12, a13);
}

/* The bit output of channels o..o+7 of the 2 pixels (lo: o..o+3, hi:
 * o+4..o+7), one byte per pixel stored straight into the little-endian
 * output words (dst[p]: pixel p's first byte), as emit_bits8 on aarch64:
 * compare in u16 (limits8), narrow the masks to bytes, weight them by bit
 * and sum pairwise down to one byte per pixel. */
BNN_INLINE void emit_bits8_a32(const struct sink *s, const struct geom *g, int np,
                               uint8_t *const *dst, const int32_t *const *fix, int32_t o,
                               const uint16x4_t *lo, const uint16x4_t *hi)
{
    static const uint8_t weights[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const int32_t oc = s->p->out.c, n = oc - o < 8 ? oc - o : 8;
    const int32_t *thr = s->p->threshold + o;
    const uint8x8_t bit = vld1_u8(weights);
    const uint16x8_t limit0 = fix         ? limits8(g, thr, fix[0] + o, n)
                              : s->limits ? vld1q_u16(s->limits + o)
                                          : limits8(g, thr, NULL, n);
    /* border pixels under zero padding have their own limits */
    const uint16x8_t limit1 = fix ? limits8(g, thr, fix[np > 1] + o, n) : limit0;
    uint8x8_t m0, m1, b;

    m0 = vmovn_u16(vcgeq_u16(vcombine_u16(lo[0], hi[0]), limit0));
    m1 = vmovn_u16(vcgeq_u16(vcombine_u16(lo[1], hi[1]), limit1));
    b = vpadd_u8(vand_u8(m0, bit), vand_u8(m1, bit));
    b = vpadd_u8(b, b);
    b = vpadd_u8(b, b); /* byte p: pixel p */
    if (n < 8)
        b = vand_u8(b, vdup_n_u8((uint8_t)((1u << n) - 1)));
    vst1_lane_u8(dst[0] + o / 8, b, 0);
    if (np > 1)
        vst1_lane_u8(dst[1] + o / 8, b, 1);
    if (o + 8 >= oc && (o / 8) % 8 != 7) { /* the rest of the last word is zero */
        memset(dst[0] + o / 8 + 1, 0, (size_t)(7 - (o / 8) % 8));
        if (np > 1)
            memset(dst[1] + o / 8 + 1, 0, (size_t)(7 - (o / 8) % 8));
    }
}

BNN_INLINE void run_tiles_a32(const struct sink *s, const struct geom *g, int32_t rows,
                              int32_t L, int np, const uint64_t *const *base, int32_t pitch,
                              const size_t *pix, const int32_t *const *fix)
{
    /* an 8-channel block of the stream holds (k + 1) / 2 steps of 16 words;
     * channels 4..7 of a step start 8 words in */
    const size_t block = (size_t)(g->k_words + 1) / 2 * 16;
    const int32_t oc = s->p->out.c;
    const uint64_t *b0 = base[0], *b1 = base[np > 1];
    uint8_t *dst[2];
    uint64_t word[2] = {0, 0};
    uint16x4_t lo[2], hi[2];
    uint32x4_t d[2];
    int32_t o;
    int p;

    for (p = 0; p < 2; ++p) /* a short tile repeats pixel 0 and drops it */
        dst[p] = s->bits ? (uint8_t *)(s->bits + pix[p < np ? p : 0] * s->pixel_elems) : NULL;
    for (o = 0; o < oc; o += 8) {
        const uint64_t *w = s->p->tiles + (size_t)(o / 8) * block;

        count_tile_a32(rows, L, b0, b1, pitch, w, lo);
        if (o + 4 < oc)
            count_tile_a32(rows, L, b0, b1, pitch, w + 8, hi);
        else
            hi[0] = lo[0], hi[1] = lo[1]; /* no channels there */
        if (s->bits) {
            emit_bits8_a32(s, g, np, dst, fix, o, lo, hi);
            continue;
        }
        for (p = 0; p < np; ++p)
            d[p] = vmovl_u16(lo[p]);
        emit4(s, g, np, pix, fix, o, oc - o < 4 ? oc - o : 4, d, word);
        if (o + 4 >= oc)
            break;
        for (p = 0; p < np; ++p)
            d[p] = vmovl_u16(hi[p]);
        emit4(s, g, np, pix, fix, o + 4, oc - o - 4 < 4 ? oc - o - 4 : 4, d, word);
    }
}

/* run_tiles_a32 with the common 3x3 windows (64, 128 and 256 channels)
 * unrolled: constant steps, no loop counters. */
BNN_INLINE void run_pixels_a32(const struct sink *s, const struct geom *g, int np,
                               const uint64_t *const *base, int32_t pitch, const size_t *pix,
                               const int32_t *const *fix)
{
    if (g->rows == 3 && g->row_words == 3)
        run_tiles_a32(s, g, 3, 3, np, base, pitch, pix, fix);
    else if (g->rows == 3 && g->row_words == 6)
        run_tiles_a32(s, g, 3, 6, np, base, pitch, pix, fix);
    else if (g->rows == 3 && g->row_words == 12)
        run_tiles_a32(s, g, 3, 12, np, base, pitch, pix, fix);
    else
        run_tiles_a32(s, g, g->rows, g->row_words, np, base, pitch, pix, fix);
}

#endif /* BCONV_NEON32_H */
