/* INT8 convolution with NEON for what conv_i8_fast.c does not take: 1x1 convs
 * and fully connected layers as a GEMM, any other single-group conv through a
 * gathered window (large stems), and depthwise convs; bit-exact with
 * conv_i8_ref.c.
 *
 * GEMM (groups == 1): acc = bias + sum((q - Z) * w) = s + off with
 * s = sum(q * w) over the whole window and off = bias - Z * sum(w), padded taps
 * holding q = Z so that they add 0, as the reference's skipped taps. s is an
 * int8 dot product: vmull_s8 (8 products in int16, |q * w| <= 2^14) and
 * vpadalq_s16 (pairs into int32), four output channels sharing one load of the
 * window; |s| <= K * 2^14 < 2^31 for K <= GEMM_MAX_K. int8 outputs saturate
 * s + off with vqaddq_s32, which is the reference's int64 sum saturated by
 * bnn_mbqm when off fits int32 (checked; otherwise the reference runs); bits
 * compare s < clamp(threshold - off), exact because |s| < 2^31 - 1.
 *
 * Depthwise (groups == in.c == out.c): eight channels per vector, per in-bounds
 * tap vmlal_s16 of (q - Z) (exact in int16) with the tap's weights, widened to
 * int16 once per call; acc = sum + bias in int32 (|sum| <= taps * 2^15).
 *
 * Both walk output rows [row_begin, row_end) for blocks of output channels:
 * either split can go to threads.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>
#include <string.h>

#include "bnn_bits.h"
#include "bnn_requant.h"
#include "conv_i8_neon.h"

#define GEMM_MAX_K 8192 /* bytes of a gathered window: 8 KiB of stack */
#define BLOCK_C 64      /* output channels whose constants are prepared at a time */
#define DW_MAX_TAPS 49  /* depthwise kernels up to 7x7: 49 * 64 * 2 bytes of weights */

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* Output-stage constants of channels [o0, o0 + n), padded to BLOCK_C. */
struct out_block {
    int32_t o0, n;
    int32_t off[BLOCK_C];  /* to_i8: acc = saturate(s + off) */
    int32_t lim[BLOCK_C];  /* to_bits: bit 1 iff s < lim */
    int32_t mult[BLOCK_C], shift[BLOCK_C];
    int sra; /* every channel's shift is a right shift: bnn_conv_out16_i8_sra */
};

/* Fills b from the per-channel constant off[j] = bias - Z * (sum of channel
 * o0 + j's weights counted in s); 0 if an int8 offset does not fit int32. */
static int out_block_set(const struct bnn_conv_i8_params *p, int to_bits, const int64_t *off,
                         struct out_block *b)
{
    int32_t j;

    b->sra = 1;
    for (j = 0; j < BLOCK_C; ++j) {
        const int valid = j < b->n;
        const int32_t o = b->o0 + j;

        b->lim[j] = valid && to_bits ? clamp_i32((int64_t)p->threshold[o] - off[j]) : INT32_MIN;
        b->off[j] = valid && !to_bits ? clamp_i32(off[j]) : 0;
        if (valid && !to_bits && b->off[j] != off[j])
            return 0;
        b->mult[j] = valid && !to_bits ? p->rq.multiplier[o] : 0;
        /* RDBPOT by 62 or more is RDBPOT by 62 (both give 0) */
        b->shift[j] = valid && !to_bits ? bnn_max_i32(p->rq.shift[o], -62) : 0;
        b->sra &= !valid || to_bits || p->rq.shift[o] < 0;
    }
    return 1;
}

/* The outputs of 16 channels [j0, j0 + 16) of the block at one pixel. */
static void write16(const struct bnn_conv_i8_params *p, const struct out_block *b, int32_t j0,
                    const int32x4_t *acc, size_t pix, int8_t *out_i8, uint64_t *out_bits)
{
    const int32_t o = b->o0 + j0, valid = bnn_min_i32(16, b->n - j0);

    if (out_bits) {
        uint64_t *dst = out_bits + pix * BNN_WORDS(p->out.c) + o / 64;
        const uint64_t bits = bnn_conv_out16_bits(acc, b->lim + j0) &
                              (((uint64_t)1 << valid) - 1);

        if (o % 64 == 0)
            *dst = bits;
        else
            *dst |= bits << (o % 64);
        return;
    }
    bnn_conv_out16_i8_pick(b->sra, acc, b->off + j0, b->mult + j0, b->shift + j0,
                           p->rq.zero_point, p->rq.lo, p->rq.hi, out_i8 + pix * bnn_conv_i8_out_pitch(p) + o,
                           valid);
}

/* ------------------------------------------------------------------ GEMM */

static int32x4_t mac16(int32x4_t acc, int8x16_t x, const int8_t *w)
{
    const int8x16_t wv = vld1q_s8(w);

    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(wv)));
#if defined(__aarch64__)
    return vpadalq_s16(acc, vmull_high_s8(x, wv));
#else
    return vpadalq_s16(acc, vmull_s8(vget_high_s8(x), vget_high_s8(wv)));
#endif
}

/* sum(x * w) over k elements for the four weight rows w[0..3]. */
static int32x4_t dot4(const int8_t *x, const int8_t *const *w, int32_t k)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, sums;
    int32_t i = 0, tail[4] = {0, 0, 0, 0}, j;

    for (; i + 16 <= k; i += 16) {
        const int8x16_t xv = vld1q_s8(x + i);

        a0 = mac16(a0, xv, w[0] + i);
        a1 = mac16(a1, xv, w[1] + i);
        a2 = mac16(a2, xv, w[2] + i);
        a3 = mac16(a3, xv, w[3] + i);
    }
    if (i + 8 <= k) {
        const int8x8_t xv = vld1_s8(x + i);

        a0 = vpadalq_s16(a0, vmull_s8(xv, vld1_s8(w[0] + i)));
        a1 = vpadalq_s16(a1, vmull_s8(xv, vld1_s8(w[1] + i)));
        a2 = vpadalq_s16(a2, vmull_s8(xv, vld1_s8(w[2] + i)));
        a3 = vpadalq_s16(a3, vmull_s8(xv, vld1_s8(w[3] + i)));
        i += 8;
    }
    sums = bnn_lane_sums4_s32(a0, a1, a2, a3);
    if (i == k)
        return sums;
    for (; i < k; ++i)
        for (j = 0; j < 4; ++j)
            tail[j] += x[i] * w[j][i];
    return vaddq_s32(sums, vld1q_s32(tail));
}

/* The window of output pixel (oy, ox) as k contiguous bytes: in place when the
 * window is one contiguous, in-bounds run of the input, else gathered into patch
 * with the zero point in padded taps. */
static const int8_t *window(const struct bnn_conv_i8_params *p, const int8_t *in, int32_t oy,
                            int32_t ox, int8_t *patch)
{
    const int32_t cin = p->in.c, kh = p->win.kernel_h, kw = p->win.kernel_w, row = kw * cin;
    const int32_t iy0 = oy * p->win.stride_h - p->win.pad_top;
    const int32_t ix0 = ox * p->win.stride_w - p->win.pad_left;
    const int inside_w = ix0 >= 0 && ix0 + kw <= p->in.w;
    const int8_t *src = in + ((ptrdiff_t)iy0 * p->in.w + ix0) * cin;
    int32_t r, c;

    if (inside_w && iy0 >= 0 && iy0 + kh <= p->in.h && (kh == 1 || kw == p->in.w))
        return src;
    for (r = 0; r < kh; ++r, src += (ptrdiff_t)p->in.w * cin) {
        int8_t *dst = patch + (size_t)r * row;

        if (iy0 + r < 0 || iy0 + r >= p->in.h) {
            memset(dst, (unsigned char)p->in_zero, (size_t)row);
        } else if (inside_w) {
            memcpy(dst, src, (size_t)row);
        } else {
            for (c = 0; c < kw; ++c) {
                if (ix0 + c >= 0 && ix0 + c < p->in.w)
                    memcpy(dst + c * cin, src + c * cin, (size_t)cin);
                else
                    memset(dst + c * cin, (unsigned char)p->in_zero, (size_t)cin);
            }
        }
    }
    return patch;
}

static void gemm_block(const struct bnn_conv_i8_params *p, const int8_t *in,
                       const struct out_block *b, int8_t *out_i8, uint64_t *out_bits,
                       int32_t row_begin, int32_t row_end)
{
    const int32_t k = p->win.kernel_h * p->win.kernel_w * p->in.c;
    int8_t patch[GEMM_MAX_K];
    const int8_t *rows[BLOCK_C];
    int32_t oy, ox, j, j0;

    for (j = 0; j < BLOCK_C; ++j) /* channels past n repeat the last one; never stored */
        rows[j] = p->weight + (size_t)(b->o0 + bnn_min_i32(j, b->n - 1)) * k;
    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            const int8_t *x = window(p, in, oy, ox, patch);

            for (j0 = 0; j0 < b->n; j0 += 16) {
                int32x4_t acc[4];

                for (j = 0; j < 4; ++j)
                    acc[j] = dot4(x, rows + j0 + 4 * j, k);
                write16(p, b, j0, acc, (size_t)oy * p->out.w + ox, out_i8, out_bits);
            }
        }
    }
}

/* Sum of n int8 weights: 16 at a time widened pairwise into int32 lanes
 * (|sum| <= n * 128 fits int32 for n <= GEMM_MAX_K). */
static int32_t weight_sum(const int8_t *w, int32_t n)
{
    int32x4_t acc = vdupq_n_s32(0);
    int32_t i = 0, lanes[4], sum;

    for (; i + 16 <= n; i += 16)
        acc = vpadalq_s16(acc, vpaddlq_s8(vld1q_s8(w + i)));
    vst1q_s32(lanes, acc);
    sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; ++i)
        sum += w[i];
    return sum;
}

static int conv_gemm(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t k = p->win.kernel_h * p->win.kernel_w * p->in.c;
    struct out_block b;
    int64_t off[BLOCK_C];
    int32_t j;

    if (k > GEMM_MAX_K)
        return 0;
    for (b.o0 = 0; b.o0 < p->out.c; b.o0 += BLOCK_C) {
        b.n = bnn_min_i32(BLOCK_C, p->out.c - b.o0);
        for (j = 0; j < b.n; ++j)
            off[j] = (int64_t)p->bias[b.o0 + j] -
                     (int64_t)p->in_zero * weight_sum(p->weight + (size_t)(b.o0 + j) * k, k);
        /* a failing block leaves earlier ones written: the reference then
         * rewrites every output of the call */
        if (!out_block_set(p, out_bits != NULL, off, &b))
            return 0;
        gemm_block(p, in, &b, out_i8, out_bits, row_begin, row_end);
    }
    return 1;
}

/* ------------------------------------------------------------- depthwise */

/* Eight channels of one tap: the first `valid` (1..8) of x, zeros after them. */
static int8x8_t load8(const int8_t *x, int32_t valid)
{
    int8_t tmp[8] = {0};

    if (valid == 8)
        return vld1_s8(x);
    memcpy(tmp, x, (size_t)valid);
    return vld1_s8(tmp);
}

/* One tap of 8 channels: (x - Z) * w added into a0 (channels 0-3) and a1 (4-7). */
#define DW_TAP(x, w)                                                                   \
    do {                                                                               \
        const int16x8_t q_ = vsubl_s8(vld1_s8(x), zero);                              \
        const int16x8_t w_ = vld1q_s16(w);                                            \
                                                                                       \
        a0 = vmlal_s16(a0, vget_low_s16(q_), vget_low_s16(w_));                       \
        a1 = vmlal_s16(a1, vget_high_s16(q_), vget_high_s16(w_));                     \
    } while (0)

/* depthwise8 for 8 channels at x, the window's top-left tap, when every tap is
 * inside the input: no clipping or partial loads, and the taps of a 3-wide
 * row written out (about 5 instructions a tap instead of 20). */
static void depthwise8_full(const struct bnn_conv_i8_params *p, const int8_t *x,
                            const int16_t *w, int8x8_t zero, int32x4_t *acc)
{
    const ptrdiff_t cin = p->in.c, row = (ptrdiff_t)p->in.w * cin;
    const int32_t kh = p->win.kernel_h, kw = p->win.kernel_w;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    int32_t r, c;

    for (r = 0; r < kh; ++r, x += row) {
        if (kw == 3) {
            DW_TAP(x, w);
            DW_TAP(x + cin, w + BLOCK_C);
            DW_TAP(x + 2 * cin, w + 2 * BLOCK_C);
            w += 3 * BLOCK_C;
            continue;
        }
        for (c = 0; c < kw; ++c, w += BLOCK_C)
            DW_TAP(x + c * cin, w);
    }
    acc[0] = a0, acc[1] = a1;
}

/* sum over in-bounds taps of (q - Z) * w for the `valid` channels from channel c
 * (block column j) at the window t; w holds the block's weights as [tap][BLOCK_C]. */
static void depthwise8(const struct bnn_conv_i8_params *p, const int8_t *in,
                       const struct bnn_taps *t, const int16_t *w, int32_t c, int32_t j,
                       int32_t valid, int32x4_t *acc)
{
    const int8x8_t zero = vdup_n_s8((int8_t)p->in_zero);
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    int32_t kh, kw;

    if (valid == 8 && t->kh0 == 0 && t->kh1 == p->win.kernel_h && t->kw0 == 0 &&
        t->kw1 == p->win.kernel_w) {
        depthwise8_full(p, in + ((size_t)t->iy * p->in.w + t->ix) * p->in.c + c, w + j, zero,
                        acc);
        return;
    }

    for (kh = t->kh0; kh < t->kh1 && valid > 0; ++kh) {
        const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix) * p->in.c + c;
        const int16_t *wr = w + (size_t)kh * p->win.kernel_w * BLOCK_C + j;

        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int16x8_t q = vsubl_s8(load8(x + (size_t)kw * p->in.c, valid), zero);
            const int16x8_t wv = vld1q_s16(wr + (size_t)kw * BLOCK_C);

            a0 = vmlal_s16(a0, vget_low_s16(q), vget_low_s16(wv));
            a1 = vmlal_s16(a1, vget_high_s16(q), vget_high_s16(wv));
        }
    }
    acc[0] = a0, acc[1] = a1;
}

static void depthwise_block(const struct bnn_conv_i8_params *p, const int8_t *in,
                            const struct out_block *b, const int16_t *w, int8_t *out_i8,
                            uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    int32_t oy, ox, j0;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (j0 = 0; j0 < b->n; j0 += 16) {
                const int32_t c = b->o0 + j0;
                int32x4_t acc[4];

                depthwise8(p, in, &t, w, c, j0, bnn_min_i32(8, b->n - j0), acc);
                depthwise8(p, in, &t, w, c + 8, j0 + 8, bnn_min_i32(8, b->n - j0 - 8), acc + 2);
                write16(p, b, j0, acc, (size_t)oy * p->out.w + ox, out_i8, out_bits);
            }
        }
    }
}

static int conv_depthwise(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                          uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    int16_t w[DW_MAX_TAPS * BLOCK_C];
    struct out_block b;
    int64_t off[BLOCK_C];
    int32_t j, k;

    if (taps > DW_MAX_TAPS)
        return 0;
    for (b.o0 = 0; b.o0 < p->out.c; b.o0 += BLOCK_C) {
        b.n = bnn_min_i32(BLOCK_C, p->out.c - b.o0);
        for (k = 0; k < taps; ++k)
            for (j = 0; j < BLOCK_C; ++j)
                w[k * BLOCK_C + j] = (int16_t)(j < b.n ? p->weight[(size_t)(b.o0 + j) * taps + k]
                                                       : 0);
        for (j = 0; j < b.n; ++j)
            off[j] = p->bias[b.o0 + j];
        out_block_set(p, out_bits != NULL, off, &b); /* a bias always fits int32 */
        depthwise_block(p, in, &b, w, out_i8, out_bits, row_begin, row_end);
    }
    return 1;
}

int bnn_conv_i8_neon(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    if (p->in_zero < INT8_MIN || p->in_zero > INT8_MAX)
        return 0;
    if (p->groups == 1)
        return conv_gemm(p, in, out_i8, out_bits, row_begin, row_end);
    if (p->groups == p->in.c && p->out.c == p->in.c)
        return conv_depthwise(p, in, out_i8, out_bits, row_begin, row_end);
    return 0;
}

#endif /* BNN_USE_NEON */
