/* Grouped INT8 convs (not depthwise) with NEON on armv7, bit-exact with
 * conv_i8_ref.c. aarch64 runs them as dot products along each group's window
 * (conv_i8_dot.c); armv7 has no SDOT, and its GEMM (conv_i8_neon.c) takes one
 * group only.
 *
 * Per group, 8 output channels at a time: acc = bias + sum over the in-bounds
 * taps of (q - Z) * w, (q - Z) exact in int16 lanes, each input value multiplied
 * with the 8 channels' weights of its position by VMLAL (by lane) into two
 * int32x4: 8 MACs in 2 instructions, the group's 8 channels sharing each load of
 * the input. The weights are widened to int16 and transposed (position-major, 8
 * channels contiguous) once per call and group, in GROUPED_MAX_WEIGHTS of stack,
 * each tap's input channels padded with zero weights to a multiple of 4: a tap's
 * last 4 values may then reach into the next group's channels or pixel (times 0),
 * and are read with a copy only where they would pass the end of the input.
 * |acc - bias| <= taps * ig * 255 * 128 fits int32; int8 outputs add the bias
 * with saturation (the reference's int64 acc, saturated by the requant stage),
 * bits compare the sum with clamp(threshold - bias).
 *
 * Takes in_zero within int8 and windows whose weights fit; returns 0 for anything
 * else (the portable kernel runs).
 */
#include "bnn_internal.h"

#if BNN_USE_NEON && !defined(__aarch64__)

#include <arm_neon.h>
#include <string.h>

#include "bnn_groups.h"
#include "conv_i8_neon.h"

#define GROUPED_MAX_WEIGHTS 4096 /* int16 weights of one group: 8 KiB of stack */

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* Input channels of a group rounded up to the 4 values a step reads. */
static int32_t group_steps4(const struct bnn_conv_i8_params *p)
{
    return (p->in.c / p->groups + 3) / 4 * 4;
}

/* The group's weights as int16, per block of 8 output channels (missing ones 0),
 * per tap, per input channel (up to group_steps4, the ones past the group 0): the
 * 8 channels' weights. */
static void transpose_group(const struct bnn_conv_i8_params *p, int32_t o0, int32_t og,
                            int16_t *wt)
{
    const int32_t ig = p->in.c / p->groups, taps = p->win.kernel_h * p->win.kernel_w;
    const int32_t ig4 = group_steps4(p);
    int32_t b, t, i, j;

    for (b = 0; b < og; b += 8)
        for (t = 0; t < taps; ++t)
            for (i = 0; i < ig4; ++i)
                for (j = 0; j < 8; ++j)
                    *wt++ = (int16_t)(b + j < og && i < ig
                                          ? p->weight[((size_t)(o0 + b + j) * taps + t) * ig + i]
                                          : 0);
}

/* Four input values (q - Z, exact in int16) times the 8 channels' weights of each
 * (wk: 4 x 8), into the channels' sums lo (0..3) and hi (4..7). */
static inline void mac4x8(uint32_t four, int16x4_t z, const int16_t *wk, int32x4_t *lo,
                          int32x4_t *hi)
{
    const int16x4_t v =
        vsub_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(four)))), z);
    const int16x8_t w0 = vld1q_s16(wk), w1 = vld1q_s16(wk + 8);
    const int16x8_t w2 = vld1q_s16(wk + 16), w3 = vld1q_s16(wk + 24);

    *lo = vmlal_lane_s16(*lo, vget_low_s16(w0), v, 0);
    *hi = vmlal_lane_s16(*hi, vget_high_s16(w0), v, 0);
    *lo = vmlal_lane_s16(*lo, vget_low_s16(w1), v, 1);
    *hi = vmlal_lane_s16(*hi, vget_high_s16(w1), v, 1);
    *lo = vmlal_lane_s16(*lo, vget_low_s16(w2), v, 2);
    *hi = vmlal_lane_s16(*hi, vget_high_s16(w2), v, 2);
    *lo = vmlal_lane_s16(*lo, vget_low_s16(w3), v, 3);
    *hi = vmlal_lane_s16(*hi, vget_high_s16(w3), v, 3);
}

/* acc - bias of 8 channels whose weights are w (per tap and input channel, 8 each) at
 * the window t: 4 input channels at a time, then, if tail, a tap's last 1..3 (their 4
 * bytes copied where they would pass end, the end of the input). Inlined with a
 * constant tail: groups of whole steps keep their loop as lean as without tails. */
BNN_GROUP_INLINE void sum8(const struct bnn_conv_i8_params *p, const int8_t *x,
                           const int8_t *end, const struct bnn_taps *t, const int16_t *w,
                           int tail, int32x4_t *acc)
{
    const int32_t ig = p->in.c / p->groups, ig4 = group_steps4(p), whole = ig / 4 * 4;
    const int16x4_t z = vdup_n_s16((int16_t)p->in_zero);
    int32x4_t lo = vdupq_n_s32(0), hi = vdupq_n_s32(0);
    int32_t kh, kw, i;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8_t *q = x + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * p->in.c;
            const int16_t *wk = w + ((size_t)kh * p->win.kernel_w + kw) * ig4 * 8;
            uint32_t four;

            for (i = 0; i < whole; i += 4, wk += 32) {
                memcpy(&four, q + i, 4);
                mac4x8(four, z, wk, &lo, &hi);
            }
            if (tail) {
                if (end - (q + whole) >= 4) {
                    memcpy(&four, q + whole, 4);
                } else { /* bytes in order, as memcpy on this little-endian target */
                    for (four = 0, i = whole; i < ig; ++i)
                        four |= (uint32_t)(uint8_t)q[i] << (8 * (i - whole));
                }
                mac4x8(four, z, wk, &lo, &hi);
            }
        }
    }
    acc[0] = lo, acc[1] = hi;
}

/* Output-stage constants of channels [o, o + n), n <= 8, padded to 16 for
 * bnn_conv_out16_*: to_i8 adds bias with saturation, to_bits compares with lim. */
struct stage8 {
    int32_t off[16], lim[16], mult[16], shift[16];
};

static void stage8_set(const struct bnn_conv_i8_params *p, int to_bits, int32_t o, int32_t n,
                       struct stage8 *s)
{
    int32_t j;

    memset(s, 0, sizeof *s);
    for (j = 0; j < n; ++j) {
        s->off[j] = p->bias[o + j];
        if (to_bits) {
            s->lim[j] = clamp_i32((int64_t)p->threshold[o + j] - p->bias[o + j]);
            continue;
        }
        s->mult[j] = p->rq.multiplier[o + j];
        s->shift[j] = p->rq.shift[o + j];
    }
}

int bnn_conv_i8_grouped_neon32(const struct bnn_conv_i8_params *p, const int8_t *in,
                               int8_t *out_i8, uint64_t *out_bits, int32_t row_begin,
                               int32_t row_end)
{
    const int32_t ig = p->in.c / p->groups, og = p->out.c / p->groups;
    const int32_t taps = p->win.kernel_h * p->win.kernel_w, out_words = BNN_WORDS(p->out.c);
    const int8_t *end = in + (size_t)p->in.h * p->in.w * p->in.c;
    int16_t wt[GROUPED_MAX_WEIGHTS];
    int32_t g, b, oy, ox, j;

    if (p->groups == 1 || (int64_t)(og + 7) / 8 * 8 * taps * group_steps4(p) >
        GROUPED_MAX_WEIGHTS || p->in_zero < INT8_MIN || p->in_zero > INT8_MAX)
        return 0;
    if (out_bits)
        memset(out_bits + (size_t)row_begin * p->out.w * out_words, 0,
               (size_t)(row_end - row_begin) * p->out.w * out_words * sizeof *out_bits);
    for (g = 0; g < p->groups; ++g) {
        transpose_group(p, g * og, og, wt);
        for (b = 0; b < og; b += 8) {
            const int32_t o = g * og + b, n = bnn_min_i32(8, og - b);
            const int16_t *w = wt + (size_t)b * taps * group_steps4(p);
            struct stage8 s;

            stage8_set(p, out_bits != NULL, o, n, &s);
            for (oy = row_begin; oy < row_end; ++oy) {
                for (ox = 0; ox < p->out.w; ++ox) {
                    const size_t pix = (size_t)oy * p->out.w + ox;
                    struct bnn_taps t;
                    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0),
                                        vdupq_n_s32(0)}; /* channels 8..15 unused */

                    bnn_clip_window(&p->win, &p->in, oy, ox, &t);
                    if (ig % 4)
                        sum8(p, in + (size_t)g * ig, end, &t, w, 1, acc);
                    else
                        sum8(p, in + (size_t)g * ig, end, &t, w, 0, acc);
                    if (out_i8) {
                        bnn_conv_out16_i8(acc, s.off, s.mult, s.shift, p->rq.zero_point,
                                          p->rq.lo, p->rq.hi, out_i8 + pix * bnn_conv_i8_out_pitch(p) + o, n);
                        continue;
                    }
                    {
                        const uint32_t bits = bnn_conv_out16_bits(acc, s.lim);

                        for (j = 0; j < n; ++j)
                            out_bits[pix * out_words + (o + j) / 64] |=
                                (uint64_t)(bits >> j & 1) << ((o + j) % 64);
                    }
                }
            }
        }
    }
    return 1;
}

#else

typedef int bnn_conv_i8_grouped_neon32_unused; /* ISO C forbids an empty translation unit */

#endif
