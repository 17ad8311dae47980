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
 * Depthwise (groups == in.c == out.c): sixteen channels per vector, two taps'
 * int8 products per int16 lane, widened into int32 (dw_window); acc = s + off
 * with off = bias - Z * sum(w) as in the GEMM, windows crossing the border
 * gathered with Z in their padded taps.
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
#define DW_MAX_TAPS 49  /* depthwise kernels up to 7x7 */
/* Inlined into the depthwise pixel loop even where GCC would call it: a call
 * there makes it keep the weights in memory (aarch64 saves only the low
 * halves of v8-v15 across a call) and reload them every pixel. */
#define DW_INLINE static inline __attribute__((always_inline))

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
DW_INLINE void write16(const struct bnn_conv_i8_params *p, const struct out_block *b, int32_t j0,
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

/* sum(x * w) of LANES (8 or 16, a constant in each caller) channels of the
 * KH x KW window whose top-left tap is at x (tap (r, k) at x + r * row +
 * k * pitch), w one vector a tap; taps in pairs: SMULL of one tap and SMLAL of
 * the next into int16 lanes (no weight is -128, so |x * w| <= 128 * 127 and
 * two products fit), then widened into the int32 sums (the first pair sets
 * them): 5 instructions a tap for 16 channels with the load. */
DW_INLINE void dw_window(const int8_t *x, ptrdiff_t row, ptrdiff_t pitch, const int8x16_t *w,
                         int32_t kh, int32_t kw, int lanes, int32x4_t *acc)
{
    const int32_t taps = kh * kw;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t t;

    for (t = 0; t < taps; t += 2) {
        const int8_t *x0 = x + t / kw * row + t % kw * pitch;
        const int8_t *x1 = x + (t + 1) / kw * row + (t + 1) % kw * pitch;
        const int two = t + 1 < taps;
        int16x8_t lo, hi = vdupq_n_s16(0);

        if (lanes == 8) {
            lo = vmull_s8(vld1_s8(x0), vget_low_s8(w[t]));
            if (two)
                lo = vmlal_s8(lo, vld1_s8(x1), vget_low_s8(w[t + 1]));
        } else {
            const int8x16_t v0 = vld1q_s8(x0);

            lo = vmull_s8(vget_low_s8(v0), vget_low_s8(w[t]));
            hi = vmull_s8(vget_high_s8(v0), vget_high_s8(w[t]));
            if (two) {
                const int8x16_t v1 = vld1q_s8(x1);

                lo = vmlal_s8(lo, vget_low_s8(v1), vget_low_s8(w[t + 1]));
                hi = vmlal_s8(hi, vget_high_s8(v1), vget_high_s8(w[t + 1]));
            }
        }
        if (t == 0) {
            a0 = vmovl_s16(vget_low_s16(lo)), a1 = vmovl_s16(vget_high_s16(lo));
            if (lanes == 16)
                a2 = vmovl_s16(vget_low_s16(hi)), a3 = vmovl_s16(vget_high_s16(hi));
            continue;
        }
        a0 = vaddw_s16(a0, vget_low_s16(lo)), a1 = vaddw_s16(a1, vget_high_s16(lo));
        if (lanes == 16)
            a2 = vaddw_s16(a2, vget_low_s16(hi)), a3 = vaddw_s16(a3, vget_high_s16(hi));
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* The window of output pixel (oy, ox) for channels [c, c + valid) as 16
 * bytes a tap, padded taps holding the input zero point (they add Z * w,
 * which the chunk's offset takes off as for every tap); a tap's bytes past
 * `valid` are copied too where they lie inside the input (their outputs are
 * not stored). */
static void dw_gather(const struct bnn_conv_i8_params *p, const int8_t *in, int32_t oy,
                      int32_t ox, int32_t c, int32_t valid, int8_t *patch)
{
    const int32_t iy0 = oy * p->win.stride_h - p->win.pad_top;
    const int32_t ix0 = ox * p->win.stride_w - p->win.pad_left;
    const int8x16_t zero = vdupq_n_s8((int8_t)p->in_zero);
    const int8_t *end = in + (size_t)p->in.h * p->in.w * p->in.c;
    int32_t r, k;

    for (r = 0; r < p->win.kernel_h; ++r) {
        for (k = 0; k < p->win.kernel_w; ++k, patch += 16) {
            const int32_t iy = iy0 + r, ix = ix0 + k;
            const int8_t *src = in + ((ptrdiff_t)iy * p->in.w + ix) * p->in.c + c;

            vst1q_s8(patch, zero);
            if (iy < 0 || iy >= p->in.h || ix < 0 || ix >= p->in.w)
                continue;
            if (end - src >= 16)
                vst1q_s8(patch, vld1q_s8(src));
            else
                memcpy(patch, src, (size_t)valid);
        }
    }
}

/* Output pixels [ox0, ox1) of row oy of the chunk from block column j0 (b:
 * its constants for sum(x * w) over every tap) through gathered windows. */
DW_INLINE void dw_gathered(const struct bnn_conv_i8_params *p, const int8_t *in,
                           const struct out_block *b, const int8x16_t *w, int32_t j0,
                           int32_t kh, int32_t kw, int lanes, int8_t *out_i8,
                           uint64_t *out_bits, int32_t oy, int32_t ox0, int32_t ox1)
{
    int8_t patch[DW_MAX_TAPS * 16];
    int32_t ox;

    for (ox = ox0; ox < ox1; ++ox) {
        int32x4_t acc[4];

        dw_gather(p, in, oy, ox, b->o0 + j0, bnn_min_i32(16, b->n - j0), patch);
        dw_window(patch, 16 * kw, 16, w, kh, kw, lanes, acc);
        write16(p, b, j0, acc, (size_t)oy * p->out.w + ox, out_i8, out_bits);
    }
}

/* Output rows [row_begin, row_end) of the chunk from block column j0, KH x KW
 * (constants where the caller can give them) and LANES (8 when it has at most
 * 8 channels) fixed: a row's windows inside the input whose loads stay inside
 * it are read in place, one pointer step apart, the others gathered. */
DW_INLINE void dw_rows(const struct bnn_conv_i8_params *p, const int8_t *in,
                       const struct out_block *b, const int8x16_t *w, int32_t j0, int32_t kh,
                       int32_t kw, int lanes, int8_t *out_i8, uint64_t *out_bits,
                       int32_t row_begin, int32_t row_end)
{
    const struct bnn_window *win = &p->win;
    const ptrdiff_t pitch = p->in.c, row = (ptrdiff_t)p->in.w * pitch;
    const ptrdiff_t step = (ptrdiff_t)win->stride_w * pitch;
    /* from a window's top-left tap to the end of its last load */
    const ptrdiff_t reach = (kh - 1) * row + (kw - 1) * pitch + lanes;
    const ptrdiff_t in_bytes = (ptrdiff_t)p->in.h * row;
    /* the pixels whose windows lie inside the input across: [lo, hi) */
    const int32_t lo = bnn_min_i32((win->pad_left + win->stride_w - 1) / win->stride_w,
                                   p->out.w);
    const int32_t c = b->o0 + j0;
    int32_t oy, ox, hi;

    for (oy = row_begin; oy < row_end; ++oy) {
        const int32_t iy0 = oy * win->stride_h - win->pad_top;
        const int8_t *x;
        int8_t *dst;

        hi = iy0 >= 0 && iy0 + kh <= p->in.h ? p->out.w : lo;
        while (hi > lo && ((hi - 1) * win->stride_w - win->pad_left + kw > p->in.w ||
                           iy0 * row + ((hi - 1) * win->stride_w - win->pad_left) * pitch + c +
                                   reach > in_bytes))
            --hi;
        dw_gathered(p, in, b, w, j0, kh, kw, lanes, out_i8, out_bits, oy, 0, lo);
        x = in + iy0 * row + (lo * win->stride_w - win->pad_left) * pitch + c;
        dst = out_i8 ? out_i8 + ((size_t)oy * p->out.w + lo) * bnn_conv_i8_out_pitch(p) + c : NULL;
        for (ox = lo; ox < hi; ++ox, x += step) {
            int32x4_t acc[4];

            dw_window(x, row, pitch, w, kh, kw, lanes, acc);
            if (out_bits) {
                write16(p, b, j0, acc, (size_t)oy * p->out.w + ox, NULL, out_bits);
                continue;
            }
            bnn_conv_out16_i8_pick(b->sra, acc, b->off + j0, b->mult + j0, b->shift + j0,
                                   p->rq.zero_point, p->rq.lo, p->rq.hi, dst,
                                   bnn_min_i32(16, b->n - j0));
            dst += bnn_conv_i8_out_pitch(p);
        }
        dw_gathered(p, in, b, w, j0, kh, kw, lanes, out_i8, out_bits, oy, bnn_max_i32(hi, lo),
                    p->out.w);
    }
}

/* Depthwise convs: 16 channels a vector (8 for a chunk of at most 8), int8
 * products of two taps per int16 lane (dw_window), one chunk over all the
 * rows at a time so that its weights stay in registers (3x3 kernels: nine
 * locals); acc = sum(x * w) + bias - Z * sum(w), padded taps holding Z. 0
 * (nothing written) if a weight is -128 or an offset does not fit int32: the
 * caller runs the next path. */
static int conv_depthwise(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                          uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t kh = p->win.kernel_h, kw = p->win.kernel_w, taps = kh * kw;
    struct out_block b;
    int8x16_t w[DW_MAX_TAPS];
    int64_t off[BLOCK_C];
    int32_t j, t, o;

    if (taps > DW_MAX_TAPS)
        return 0;
    for (o = 0; o < p->out.c * taps; ++o)
        if (p->weight[o] == INT8_MIN)
            return 0;
    for (b.o0 = 0; b.o0 < p->out.c; b.o0 += BLOCK_C) {
        b.n = bnn_min_i32(BLOCK_C, p->out.c - b.o0);
        for (j = 0; j < b.n; ++j) {
            int64_t sum = 0;

            for (t = 0; t < taps; ++t)
                sum += p->weight[(size_t)(b.o0 + j) * taps + t];
            off[j] = (int64_t)p->bias[b.o0 + j] - (int64_t)p->in_zero * sum;
        }
        /* a failing block leaves earlier ones written: the next path then
         * rewrites every output of the call */
        if (!out_block_set(p, out_bits != NULL, off, &b))
            return 0;
        for (j = 0; j < b.n; j += 16) {
            const int wide = b.n - j > 8;
            int8_t lanes[16];
            int32_t i;

            for (t = 0; t < taps; ++t) {
                for (i = 0; i < 16; ++i)
                    lanes[i] = j + i < b.n ? p->weight[(size_t)(b.o0 + j + i) * taps + t] : 0;
                w[t] = vld1q_s8(lanes);
            }
            if (kh == 3 && kw == 3) {
                int8x16_t w9[9];

                for (t = 0; t < 9; ++t)
                    w9[t] = w[t];
                if (wide)
                    dw_rows(p, in, &b, w9, j, 3, 3, 16, out_i8, out_bits, row_begin, row_end);
                else
                    dw_rows(p, in, &b, w9, j, 3, 3, 8, out_i8, out_bits, row_begin, row_end);
            } else if (wide) {
                dw_rows(p, in, &b, w, j, kh, kw, 16, out_i8, out_bits, row_begin, row_end);
            } else {
                dw_rows(p, in, &b, w, j, kh, kw, 8, out_i8, out_bits, row_begin, row_end);
            }
        }
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
