/* The armv7 binary-conv tile: 2 output pixels x 8 output channels per
 * block, run as two halves of 4 channels in inline asm, its bit and int8
 * output and the loop over the blocks; included by bconv_neon.c on 32-bit
 * ARM builds (it uses that file's struct geom, struct sink, limits8,
 * rq8_table's layout and emit4, and the block's asm in bconv_tile8.h).
 *
 * Why it is shaped like this:
 * - armv7 has 16 q registers: 8 u16 accumulators (2 pixels x 4 channels,
 *   one VPADAL per pixel, channel and 128 input bits), 4 weights, 2 inputs
 *   and 1 scratch (pixel 0 counts in place of the weight register once
 *   pixel 1 has used it); the 16th holds the first half's sums while the
 *   second half runs. Compiled intrinsics at this pressure spent 24 of 48
 *   inner-loop instructions on register copies, pointer adds and a spill
 *   reload (measured), so the steps are asm: two 4-register weight loads,
 *   two post-incremented input loads, then per channel 2 VEOR, 2 VCNT, 2
 *   VPADAL.
 * - The weights come from the 8-channel tile-order stream of aarch64
 *   (codegen/bconv_tiles.py: per step 8 vectors, one per channel): the
 *   first half reads channels 0..3 of each step and skips 4..7, the second
 *   half the other way round, from a pointer 8 words on; both pointers
 *   then stand at their places of the next block, so both targets share
 *   one array and no pointer is moved between blocks.
 * - The 3x3 windows of 64, 128, 256 and 512 channels run straight in one asm
 *   statement per block (both halves and their lane sums: no spills, no
 *   loop counters); so do the other windows of a generated project, whose
 *   block an export writes out for each window shape its layers use
 *   (bnn_bconv_params.tile8, codegen/bconv_gen32.py: the same block around
 *   a generated half, bconv_tile8.h); without one they loop over rows and
 *   pairs in C around one asm step.
 * - The first step widens (VPADDL) instead of accumulating, so accumulators
 *   need no zeroing; with L odd the last words of rows r - 1 and r form one
 *   vector (two d-register loads), and an odd last row's last word of the
 *   two pixels forms one vector against the weight word twice, its halves
 *   accumulated into the two pixels by d-register VPADAL.
 * - Bit output compares 8 channels in u16 (limits computed once per call)
 *   and stores one byte per pixel; int8 output folds the output stage into
 *   one multiply-subtract per lane from rq8_table where that is exact.
 * Registers: q8-q11 weights, q12-q13 inputs, q14 scratch; the compiler
 * places the accumulators and the first half's sums in q0-q7 and q15.
 */
#ifndef BCONV_NEON32_H
#define BCONV_NEON32_H

/* A straight block's asm is one string literal longer than the 4095
 * characters ISO C99 guarantees; GCC and clang take any length, clang
 * -pedantic says so. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Woverlength-strings"
#endif

/* One vector of both windows, their pointers then moved by INC ("!": 16
 * bytes, or ", %[reg]") */
#define BNN_A32_STEP_OP(PADAL, W, INC)                                     \
    BNN_A32_WEIGHTS(W)                                                     \
    "vld1.64 {d24-d25}, [%[b0]]" INC "\n\t"                                \
    "vld1.64 {d26-d27}, [%[b1]]" INC "\n\t"                                \
    BNN_A32_COUNT(PADAL)
#define BNN_A32_STEP(W, INC) BNN_A32_STEP_OP("vpadal.u8", W, INC)

/* After an odd row r's pairs: (last word of row r - 1, last word of row r)
 * as one vector per window; the pointers then move from row r's last word
 * (back) to row r - 1's and on (fwd) to row r + 1's start. */
#define BNN_A32_ROW_ENDS(W)                                                \
    "vld1.64 {d25}, [%[b0]], %[back]\n\t"                                  \
    "vld1.64 {d27}, [%[b1]], %[back]\n\t"                                  \
    "vld1.64 {d24}, [%[b0]], %[fwd]\n\t"                                   \
    "vld1.64 {d26}, [%[b1]], %[fwd]\n\t" BNN_A32_WEIGHTS(W)               \
    BNN_A32_COUNT("vpadal.u8")

/* An odd last row's last word: low half pixel 0, high half pixel 1, against
 * the weight word held twice */
#define BNN_A32_LAST_WORD(W)                                               \
    "vld1.64 {d24}, [%[b0]]\n\t"                                           \
    "vld1.64 {d25}, [%[b1]]\n\t" BNN_A32_WEIGHTS(W) BNN_A32_COUNT_WORD

/* A 3x3 window's half from W: rows of L = 3, 6 or 12 words */
#define BNN_A32_HALF3(W)                                                   \
    BNN_A32_STEP_OP("vpaddl.u8", W, ", %[skip]") BNN_A32_STEP(W, "!")       \
    BNN_A32_ROW_ENDS(W) BNN_A32_STEP(W, "!") BNN_A32_LAST_WORD(W)
#define BNN_A32_ROW6(W, FIRST)                                             \
    FIRST BNN_A32_STEP(W, "!") BNN_A32_STEP(W, ", %[skip]")
#define BNN_A32_HALF6(W)                                                   \
    BNN_A32_ROW6(W, BNN_A32_STEP_OP("vpaddl.u8", W, "!"))                  \
    BNN_A32_ROW6(W, BNN_A32_STEP(W, "!")) BNN_A32_ROW6(W, BNN_A32_STEP(W, "!"))
#define BNN_A32_ROW12(W, FIRST)                                            \
    FIRST BNN_A32_STEP(W, "!") BNN_A32_STEP(W, "!") BNN_A32_ROW6(W, BNN_A32_STEP(W, "!"))
#define BNN_A32_HALF12(W)                                                  \
    BNN_A32_ROW12(W, BNN_A32_STEP_OP("vpaddl.u8", W, "!"))                 \
    BNN_A32_ROW12(W, BNN_A32_STEP(W, "!")) BNN_A32_ROW12(W, BNN_A32_STEP(W, "!"))
#define BNN_A32_ROW24(W, FIRST)                                            \
    FIRST BNN_A32_STEP(W, "!") BNN_A32_STEP(W, "!") BNN_A32_STEP(W, "!")   \
        BNN_A32_STEP(W, "!") BNN_A32_STEP(W, "!") BNN_A32_ROW12(W, BNN_A32_STEP(W, "!"))
#define BNN_A32_HALF24(W)                                                  \
    BNN_A32_ROW24(W, BNN_A32_STEP_OP("vpaddl.u8", W, "!"))                 \
    BNN_A32_ROW24(W, BNN_A32_STEP(W, "!")) BNN_A32_ROW24(W, BNN_A32_STEP(W, "!"))

/* The straight shapes' operands: steps between rows (and for 64 channels
 * back to the row before and on), back STEPS * 128 - 64 bytes between the
 * halves */
#define BNN_A32_SHAPES(ASM, rows, L, pitch)                                \
    do {                                                                   \
        if ((rows) == 3 && (L) == 3) /* first step on to row 1 */          \
            ASM(BNN_A32_HALF3, BNN_A32_BACK("576"), [wskip] "r"(wskip),    \
                [skip] "r"((pitch) * 8), [back] "r"(-(pitch) * 8),         \
                [fwd] "r"((2 * (pitch) - 2) * 8));                         \
        else if ((rows) == 3 && (L) == 6)                                  \
            ASM(BNN_A32_HALF6, BNN_A32_BACK("1088"), [wskip] "r"(wskip),   \
                [skip] "r"(((pitch) - 4) * 8));                            \
        else if ((rows) == 3 && (L) == 12)                                 \
            ASM(BNN_A32_HALF12, BNN_A32_BACK("2240"), [wskip] "r"(wskip),  \
                [skip] "r"(((pitch) - 10) * 8));                           \
        else                                                               \
            ASM(BNN_A32_HALF24, BNN_A32_BACK("4544"), [wskip] "r"(wskip),  \
                [skip] "r"(((pitch) - 22) * 8));                           \
    } while (0)

/* One step of the looped tile (count_tile_a32): both windows' pointers
 * then move by `step` bytes. */
#define BNN_A32_LOOP_STEP(PADAL, OUT, step)                                \
    __asm__ volatile(BNN_A32_STEP_OP(PADAL, "%[w]", ", %[s]")              \
                     : [w] "+r"(w), [b0] "+r"(b0), [b1] "+r"(b1), OUT      \
                     : [s] "r"(step), [wskip] "r"(wskip)                   \
                     : BNN_A32_CLOBBERS)

#define BNN_A32_ACC                                                        \
    [a00] "+w"(a00), [a01] "+w"(a01), [a02] "+w"(a02), [a03] "+w"(a03),    \
        [a10] "+w"(a10), [a11] "+w"(a11), [a12] "+w"(a12), [a13] "+w"(a13)
#define BNN_A32_ACC_SET                                                    \
    [a00] "=w"(a00), [a01] "=w"(a01), [a02] "=w"(a02), [a03] "=w"(a03),    \
        [a10] "=w"(a10), [a11] "=w"(a11), [a12] "=w"(a12), [a13] "=w"(a13)

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
 * d[p] lane c: any window, loops in C. */
BNN_INLINE void count_tile_a32(int32_t rows, int32_t L, const uint64_t *b0, const uint64_t *b1,
                               int32_t pitch, const uint64_t *w, uint16x4_t *d)
{
    const int32_t pairs = L / 2, wskip = 96, sixteen = 16;
    /* bytes from the last pair of a row to the next row's start */
    const int32_t skip_even = (pitch - L + 2) * 8;
    const int32_t back = -pitch * 8, fwd = (2 * pitch - L + 1) * 8;
    uint16x8_t a00, a01, a02, a03, a10, a11, a12, a13;
    int32_t r, j;

    if (pairs > 0) {
        BNN_A32_LOOP_STEP("vpaddl.u8", BNN_A32_ACC_SET,
                          pairs > 1 || (L & 1) ? sixteen : skip_even);
    } else {
        a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = vdupq_n_u16(0);
    }
    for (r = 0; r < rows; ++r) {
        /* row 0's first pair was the first step */
        for (j = r == 0 ? 1 : 0; j + 1 < pairs; ++j)
            BNN_A32_LOOP_STEP("vpadal.u8", BNN_A32_ACC, sixteen);
        if (pairs > 0 && (r > 0 || pairs > 1))
            BNN_A32_LOOP_STEP("vpadal.u8", BNN_A32_ACC, L & 1 ? sixteen : skip_even);
        if (!(L & 1))
            continue;
        if (r & 1) { /* last words of rows r - 1 and r as one vector */
            __asm__ volatile(BNN_A32_ROW_ENDS("%[w]")
                             : [w] "+r"(w), [b0] "+r"(b0), [b1] "+r"(b1), BNN_A32_ACC
                             : [back] "r"(back), [fwd] "r"(fwd), [wskip] "r"(wskip)
                             : BNN_A32_CLOBBERS);
        } else if (r + 1 < rows) { /* its last word pairs with the next row's */
            b0 += pitch - L + 1, b1 += pitch - L + 1;
        } else { /* odd last row: low half pixel 0, high half pixel 1 */
            __asm__ volatile(BNN_A32_LAST_WORD("%[w]")
                             : [w] "+r"(w), BNN_A32_ACC
                             : [b0] "r"(b0), [b1] "r"(b1), [wskip] "r"(wskip)
                             : BNN_A32_CLOBBERS);
        }
    }
    d[0] = sum4_u16(a00, a01, a02, a03);
    d[1] = sum4_u16(a10, a11, a12, a13);
}

/* STRAIGHT(rows, L): the windows that run straight, the 3x3 ones of 64, 128,
 * 256 and 512 channels, where L is a constant (run_pixels_a32's shapes): the
 * instance for any window then carries no straight asm (GCC and clang:
 * bconv_neon.o .text at -O3 382 -> 202 KB, 249 KB before the 512-channel
 * windows). An export generates no block for them (codegen/bconv_gen32.py's
 * RUNTIME_STRAIGHT lists them too). */
#if defined(__GNUC__)
#define BNN_A32_CONSTANT(L) __builtin_constant_p(L)
#else
#define BNN_A32_CONSTANT(L) 1
#endif
#define BNN_A32_STRAIGHT(rows, L) \
    (BNN_A32_CONSTANT(L) && (rows) == 3 && ((L) == 3 || (L) == 6 || (L) == 12 || (L) == 24))

/* Both windows of t (rows of L words, pitch words apart) against the 8
 * channels of one block, whose tile-order weights start at *w: sums[p] lane
 * c = popcount(window p XOR channel c); *w moves on to the next block. rows
 * and L are constants after inlining; gen is the layer's generated block or
 * NULL. */
BNN_INLINE void count_block_a32(int32_t rows, int32_t L, const struct a32_tile *t,
                                int32_t pitch, const uint64_t **w, uint16x8_t *sums,
                                const struct bnn_bconv_tile8 *gen)
{
    const int32_t wskip = 96;
    const uint64_t *b0, *b1;
    uint16x8_t a01, a02, a03, a10, a11, a12, a13;
    uint16x4_t lo[2], hi[2];
    uint16_t acc[16];

    if (BNN_A32_STRAIGHT(rows, L)) {
        BNN_A32_SHAPES(BNN_A32_BLOCK, rows, L, pitch);
    } else if (gen) {
        gen->count(t->base, pitch, w, acc);
        sums[0] = vld1q_u16(acc);
        sums[1] = vld1q_u16(acc + 8);
    } else { /* channels 4..7 of a step start 8 words in */
        count_tile_a32(rows, L, t->base[0], t->base[1], pitch, *w, lo);
        count_tile_a32(rows, L, t->base[0], t->base[1], pitch, *w + 8, hi);
        sums[0] = vcombine_u16(lo[0], hi[0]);
        sums[1] = vcombine_u16(lo[1], hi[1]);
        *w += (size_t)(rows * L + 1) / 2 * 16;
    }
}

/* The bit output of all channel blocks of a straight window from the limit
 * table (limits8 of every channel), one asm statement: one byte per block to
 * dst[0] and dst[1], which move on (as bnn_bconv_tile8.bits). */
BNN_INLINE void bits_blocks_a32(int32_t rows, int32_t L, const struct a32_tile *t,
                                int32_t pitch, const uint64_t *w, const uint16_t *limits,
                                uint8_t **dst, int32_t blocks)
{
    const int32_t wskip = 96;
    const uint64_t *b0, *b1;
    uint8_t *dst0 = dst[0], *dst1 = dst[1];
    uint16x8_t h, a00, a01, a02, a03, a10, a11, a12, a13;

    BNN_A32_SHAPES(BNN_A32_BITS_LOOP, rows, L, pitch);
    dst[0] = dst0, dst[1] = dst1;
}

/* The bit output of channels o..o+7 of the 2 pixels from their sums, one
 * byte per pixel stored straight into the little-endian output words
 * (dst[p]: pixel p's first byte), as emit_bits8 on aarch64: compare in u16
 * (limits8), narrow the masks to bytes, weight them by bit and sum pairwise
 * down to one byte per pixel. */
BNN_INLINE void emit_bits8_a32(const struct sink *s, const struct geom *g, int np,
                               uint8_t *const *dst, const int32_t *const *fix, int32_t o,
                               const uint16x8_t *sums)
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

    m0 = vmovn_u16(vcgeq_u16(sums[0], limit0));
    m1 = vmovn_u16(vcgeq_u16(sums[1], limit1));
    b = vpadd_u8(vand_u8(m0, bit), vand_u8(m1, bit));
    b = vpadd_u8(b, b);
    b = vpadd_u8(b, b); /* byte p: pixel p */
    vst1_lane_u8(dst[0] + o / 8, b, 0);
    if (np > 1)
        vst1_lane_u8(dst[1] + o / 8, b, 1);
    if (o + 8 >= oc && (o / 8) % 8 != 7) { /* the rest of the last word is zero */
        memset(dst[0] + o / 8 + 1, 0, (size_t)(7 - (o / 8) % 8));
        if (np > 1)
            memset(dst[1] + o / 8 + 1, 0, (size_t)(7 - (o / 8) % 8));
    }
}

/* The int8 output of channels o..o+7 of the 2 pixels from their rq8_table
 * block (as emit_i8_8 on aarch64): B - D * K, then the multiplier, the right
 * shift, the zero point and the clamp; 8 bytes per pixel. */
BNN_INLINE void emit_i8_8_a32(int8_t *const *dst, int np, const uint16x8_t *sums,
                              const int32_t *block, int16x8_t zero, int8x8_t lo, int8x8_t hi)
{
    const uint32x4_t b_lo = vreinterpretq_u32_s32(vld1q_s32(block));
    const uint32x4_t b_hi = vreinterpretq_u32_s32(vld1q_s32(block + 4));
    const uint32x4_t k_lo = vreinterpretq_u32_s32(vld1q_s32(block + 8));
    const uint32x4_t k_hi = vreinterpretq_u32_s32(vld1q_s32(block + 12));
    const int32x4_t m_lo = vld1q_s32(block + 16), m_hi = vld1q_s32(block + 20);
    const int32x4_t e_lo = vld1q_s32(block + 24), e_hi = vld1q_s32(block + 28);
    int p;

    for (p = 0; p < np; ++p) {
        const uint32x4_t acc_lo = vmlsq_u32(b_lo, vmovl_u16(vget_low_u16(sums[p])), k_lo);
        const uint32x4_t acc_hi = vmlsq_u32(b_hi, vmovl_u16(vget_high_u16(sums[p])), k_hi);
        const int32x4_t q_lo = bnn_mbqm4_right(vreinterpretq_s32_u32(acc_lo), m_lo, e_lo);
        const int32x4_t q_hi = bnn_mbqm4_right(vreinterpretq_s32_u32(acc_hi), m_hi, e_hi);
        const int16x8_t q = vqaddq_s16(vcombine_s16(vqmovn_s32(q_lo), vqmovn_s32(q_hi)), zero);

        vst1_s8(dst[p], vmin_s8(vmax_s8(vqmovn_s16(q), lo), hi));
    }
}

BNN_INLINE void run_tiles_a32(const struct sink *s, const struct geom *g, int32_t rows,
                              int32_t L, int np, const uint64_t *const *base, int32_t pitch,
                              const size_t *pix, const int32_t *const *fix)
{
    const int32_t oc = s->p->out.c;
    const uint64_t *w = s->p->tiles;
    const struct bnn_bconv_tile8 *gen = s->p->tile8;
    struct a32_tile t = {{NULL, NULL}, {1, 2, 4, 8, 16, 32, 64, 128}};
    uint64_t word[2] = {0, 0};
    uint16x8_t sums[2];
    uint32x4_t d[2];
    int32_t o;
    int p;

    t.base[0] = base[0], t.base[1] = base[np > 1];
    if (s->bits) {
        uint8_t *dst[2];

        for (p = 0; p < 2; ++p) /* a short tile repeats pixel 0 and drops it */
            dst[p] = (uint8_t *)(s->bits + pix[p < np ? p : 0] * s->pixel_elems);
        if ((BNN_A32_STRAIGHT(rows, L) || gen) && s->limits && !fix) {
            const int32_t last = (oc - 1) / 8; /* last byte of a pixel's bits */

            if (BNN_A32_STRAIGHT(rows, L))
                bits_blocks_a32(rows, L, &t, pitch, w, s->limits, dst, last + 1);
            else
                gen->bits(t.base, pitch, w, s->limits, dst, last + 1);
            if (last % 8 != 7) /* the rest of the last word is zero */
                for (p = 0; p < 2; ++p)
                    memset(dst[p], 0, (size_t)(7 - last % 8));
            return;
        }
        for (o = 0; o < oc; o += 8) {
            count_block_a32(rows, L, &t, pitch, &w, sums, gen);
            emit_bits8_a32(s, g, np, dst, fix, o, sums);
        }
        return;
    }
    o = 0;
    if (s->rq8 && !fix) {
        const struct bnn_requant *rq = &s->p->rq;
        const int16x8_t zero = vdupq_n_s16((int16_t)rq->zero_point);
        const int8x8_t lo = vdup_n_s8((int8_t)rq->lo), hi = vdup_n_s8((int8_t)rq->hi);
        int8_t *dst[2];

        for (p = 0; p < 2; ++p)
            dst[p] = s->i8 + pix[p < np ? p : 0] * s->pixel_elems;
        for (; o + 8 <= oc; o += 8) {
            count_block_a32(rows, L, &t, pitch, &w, sums, gen);
            emit_i8_8_a32(dst, np, sums, s->rq8 + o * 4, zero, lo, hi);
            dst[0] += 8, dst[1] += 8;
        }
    }
    for (; o < oc; o += 8) {
        count_block_a32(rows, L, &t, pitch, &w, sums, gen);
        for (p = 0; p < np; ++p)
            d[p] = vmovl_u16(vget_low_u16(sums[p]));
        emit4(s, g, np, pix, fix, o, oc - o < 4 ? oc - o : 4, d, word);
        if (o + 4 >= oc)
            break;
        for (p = 0; p < np; ++p)
            d[p] = vmovl_u16(vget_high_u16(sums[p]));
        emit4(s, g, np, pix, fix, o + 4, oc - o - 4 < 4 ? oc - o - 4 : 4, d, word);
    }
}

/* run_tiles_a32 of the 3x3 windows of 512 channels, once: inlined into every
 * caller's pixel count and padding mode as the smaller windows are, its long
 * straight asm doubled the .text of bconv_neon.o (245 -> 451 KB at -O2). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void run_tiles_a32_3x24(const struct sink *s, const struct geom *g, int np,
                               const uint64_t *const *base, int32_t pitch, const size_t *pix,
                               const int32_t *const *fix)
{
    run_tiles_a32(s, g, 3, 24, np, base, pitch, pix, fix);
}

/* run_tiles_a32 with the common 3x3 windows (64, 128, 256 and 512
 * channels) straight: constant steps, no loop counters. */
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
    else if (g->rows == 3 && g->row_words == 24)
        run_tiles_a32_3x24(s, g, np, base, pitch, pix, fix);
    else
        run_tiles_a32(s, g, g->rows, g->row_words, np, base, pitch, pix, fix);
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* BCONV_NEON32_H */
