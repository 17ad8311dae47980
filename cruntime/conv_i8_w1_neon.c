/* INT8 activations x 1-bit weights with NEON (aarch64 and armv7), bit-exact with
 * conv_i8_w1_ref.c.
 *
 * acc = bias + sum((q - Z) * w) = bias + (S - Z * n) - 2 * (N - Z * m): S sums
 * the window's raw int8 q (n values, in-bounds taps only), N the q under bit-1
 * (-1) weights, m of them (a popcount of the in-bounds weight words). N is a
 * masked sum: 16 weight bits become 16 byte masks (vtst of the bits spread over
 * the lanes against each lane's bit), ANDed with 16 input bytes and added
 * pairwise into int16 lanes (vpadalq_s8 adds at most 2 * 128 to a lane, so 127
 * calls fit before the lanes are widened into int32). S is the same sum
 * without the mask, once per output pixel for all output channels. Interior
 * windows run TILE output pixels of a row at once, sharing each mask; border
 * pixels one at a time over their clipped taps.
 *
 * Takes in.c a multiple of 16 (whole vectors); other shapes run the reference.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#include "bnn_bits.h"
#include "conv_i8_w1.h"

#define TILE 4           /* output pixels of a row sharing each weight mask */
#define MAX_PENDING 127  /* vpadalq_s8 calls an int16 lane holds: 127 * 256 < 2^15 */
#define MAX_WINDOW (1 << 22)  /* window values: |S|, |N| <= 128 * 2^22 fit int32 */

static const uint8_t LANE_BITS[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                      1, 2, 4, 8, 16, 32, 64, 128};

/* 0xff in lane i where weight bit 16 j + i of a tap's words is 1 (-1). */
static inline int8x16_t w1_mask(const uint64_t *w, int32_t j, uint8x16_t lane_bits)
{
    const uint32_t bits = (uint32_t)(w[j / 4] >> (16 * (j % 4)));
    const uint8x16_t spread =
        vcombine_u8(vdup_n_u8((uint8_t)bits), vdup_n_u8((uint8_t)(bits >> 8)));

    return vreinterpretq_s8_u8(vtstq_u8(spread, lane_bits));
}

static inline int32_t w1_hsum(int32x4_t v)
{
    const int64x2_t pairs = vpaddlq_s32(v);

    return (int32_t)(vgetq_lane_s64(pairs, 0) + vgetq_lane_s64(pairs, 1));
}

static inline const int8_t *w1_tap(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                                   int32_t iy, int32_t ix)
{
    return in + ((size_t)iy * p->in.w + ix) * p->in.c;
}

static inline const uint64_t *w1_weights(const struct bnn_conv_i8_w1_params *p, int32_t o,
                                         int32_t kh, int32_t kw)
{
    return p->weight +
           (((size_t)o * p->win.kernel_h + kh) * p->win.kernel_w + kw) * BNN_WORDS(p->in.c);
}

/* S: the sum of the raw q over the window's in-bounds taps. */
static int32_t w1_window_sum(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                             const struct bnn_taps *t)
{
    const int32_t c16 = p->in.c / 16;
    int16x8_t acc16 = vdupq_n_s16(0);
    int32x4_t acc32 = vdupq_n_s32(0);
    int32_t pending = 0, kh, kw, j;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8_t *x = w1_tap(p, in, t->iy + kh, t->ix + kw);

            if (pending + c16 > MAX_PENDING) {
                acc32 = vpadalq_s16(acc32, acc16);
                acc16 = vdupq_n_s16(0);
                pending = 0;
            }
            for (j = 0; j < c16; ++j)
                acc16 = vpadalq_s8(acc16, vld1q_s8(x + 16 * j));
            pending += c16;
        }
    }
    return w1_hsum(vpadalq_s16(acc32, acc16));
}

static inline int64_t w1_acc(const struct bnn_conv_i8_w1_params *p, int32_t o, int32_t s,
                             int32_t n, int32_t neg, int32_t m)
{
    const int64_t z = p->in_zero;

    return (int64_t)p->bias[o] + (s - z * n) - 2 * (neg - z * m);
}

static void w1_clear(const struct bnn_conv_i8_w1_params *p, size_t pix, uint64_t *out_bits)
{
    int32_t k;

    if (out_bits)
        for (k = 0; k < BNN_WORDS(p->out.c); ++k)
            out_bits[pix * BNN_WORDS(p->out.c) + k] = 0;
}

/* One output pixel, every output channel, over the clipped taps t. */
static void w1_pixel(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                     const struct bnn_taps *t, size_t pix, int8_t *out_i8, uint64_t *out_bits,
                     uint8x16_t lane_bits)
{
    const int32_t c16 = p->in.c / 16, words = BNN_WORDS(p->in.c);
    const int32_t n = (t->kh1 - t->kh0) * (t->kw1 - t->kw0) * p->in.c;
    const int32_t s = w1_window_sum(p, in, t);
    int32_t o;

    w1_clear(p, pix, out_bits);
    for (o = 0; o < p->out.c; ++o) {
        int16x8_t acc16 = vdupq_n_s16(0);
        int32x4_t acc32 = vdupq_n_s32(0);
        int32_t pending = 0, m = 0, kh, kw, j;

        for (kh = t->kh0; kh < t->kh1; ++kh) {
            for (kw = t->kw0; kw < t->kw1; ++kw) {
                const int8_t *x = w1_tap(p, in, t->iy + kh, t->ix + kw);
                const uint64_t *w = w1_weights(p, o, kh, kw);

                if (pending + c16 > MAX_PENDING) {
                    acc32 = vpadalq_s16(acc32, acc16);
                    acc16 = vdupq_n_s16(0);
                    pending = 0;
                }
                for (j = 0; j < c16; ++j)
                    acc16 = vpadalq_s8(acc16,
                                       vandq_s8(vld1q_s8(x + 16 * j), w1_mask(w, j, lane_bits)));
                pending += c16;
                m += bnn_popcount_words(w, words);
            }
        }
        bnn_conv_i8_w1_store(p, w1_acc(p, o, s, n, w1_hsum(vpadalq_s16(acc32, acc16)), m), pix,
                             o, out_i8, out_bits);
    }
}

/* TILE output pixels of row oy from column ox, every window whole. */
static void w1_tile(const struct bnn_conv_i8_w1_params *p, const int8_t *in, int32_t oy,
                    int32_t ox, int8_t *out_i8, uint64_t *out_bits, uint8x16_t lane_bits)
{
    const int32_t c16 = p->in.c / 16, words = BNN_WORDS(p->in.c);
    const int32_t n = p->win.kernel_h * p->win.kernel_w * p->in.c;
    const int32_t iy = oy * p->win.stride_h - p->win.pad_top;
    int32_t ix[TILE], s[TILE];
    size_t pix[TILE];
    int32_t o, q;

    for (q = 0; q < TILE; ++q) {
        struct bnn_taps t;

        bnn_clip_window(&p->win, &p->in, oy, ox + q, &t);
        ix[q] = t.ix;
        s[q] = w1_window_sum(p, in, &t);
        pix[q] = (size_t)oy * p->out.w + ox + q;
        w1_clear(p, pix[q], out_bits);
    }
    for (o = 0; o < p->out.c; ++o) {
        int16x8_t acc16[TILE];
        int32x4_t acc32[TILE];
        int32_t pending = 0, m = 0, kh, kw, j;

        for (q = 0; q < TILE; ++q) {
            acc16[q] = vdupq_n_s16(0);
            acc32[q] = vdupq_n_s32(0);
        }
        for (kh = 0; kh < p->win.kernel_h; ++kh) {
            for (kw = 0; kw < p->win.kernel_w; ++kw) {
                const uint64_t *w = w1_weights(p, o, kh, kw);
                const int8_t *x[TILE];

                for (q = 0; q < TILE; ++q)
                    x[q] = w1_tap(p, in, iy + kh, ix[q] + kw);
                if (pending + c16 > MAX_PENDING) {
                    for (q = 0; q < TILE; ++q) {
                        acc32[q] = vpadalq_s16(acc32[q], acc16[q]);
                        acc16[q] = vdupq_n_s16(0);
                    }
                    pending = 0;
                }
                for (j = 0; j < c16; ++j) {
                    const int8x16_t mask = w1_mask(w, j, lane_bits);

                    for (q = 0; q < TILE; ++q)
                        acc16[q] = vpadalq_s8(acc16[q], vandq_s8(vld1q_s8(x[q] + 16 * j), mask));
                }
                pending += c16;
                m += bnn_popcount_words(w, words);
            }
        }
        for (q = 0; q < TILE; ++q)
            bnn_conv_i8_w1_store(
                p, w1_acc(p, o, s[q], n, w1_hsum(vpadalq_s16(acc32[q], acc16[q])), m), pix[q], o,
                out_i8, out_bits);
    }
}

int bnn_conv_i8_w1_neon(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const uint8x16_t lane_bits = vld1q_u8(LANE_BITS);
    int32_t oy, ox;

    if (p->in.c % 16 != 0 ||
        (int64_t)p->win.kernel_h * p->win.kernel_w * p->in.c > MAX_WINDOW)
        return 0;
    for (oy = row_begin; oy < row_end; ++oy) {
        ox = 0;
        while (ox < p->out.w) {
            struct bnn_taps first, last;

            bnn_clip_window(&p->win, &p->in, oy, ox, &first);
            if (ox + TILE <= p->out.w && bnn_taps_full(&p->win, &first)) {
                bnn_clip_window(&p->win, &p->in, oy, ox + TILE - 1, &last);
                if (bnn_taps_full(&p->win, &last)) {
                    w1_tile(p, in, oy, ox, out_i8, out_bits, lane_bits);
                    ox += TILE;
                    continue;
                }
            }
            w1_pixel(p, in, &first, (size_t)oy * p->out.w + ox, out_i8, out_bits, lane_bits);
            ++ox;
        }
    }
    return 1;
}

#endif /* BNN_USE_NEON */
