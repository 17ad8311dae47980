/* Ternary weights (TTQ) with NEON (aarch64 and armv7), bit-exact with
 * ternary_conv_ref.c.
 *
 * INT8 activations (conv_i8_w2): S_pos = sum over the +Wp weights of (q - Z) =
 * P - Z * m_pos: P sums the raw int8 q under the weight_pos plane's 1 bits, m_pos
 * counts those bits over the in-bounds taps (a popcount); S_neg likewise. P is a
 * masked sum: 16 weight bits become 16 byte masks (bnn_masks_neon.h), ANDed with
 * 16 input bytes and added pairwise into int16 lanes (vpadalq_s8 adds at most
 * 2 * 128 to a lane, so 127 calls fit before the lanes are widened into int32).
 * Interior windows run TILE output pixels of a row at once, sharing each mask;
 * border pixels one at a time over their clipped taps. Takes in.c a multiple of
 * 16 (whole vectors); other shapes run the reference.
 *
 * Binary activations (bconv_w2): an input bit x is the value 1 - 2x, so a plane
 * bit p adds p (1 - 2x) = popcount(p ^ x) - x, and over the in-bounds taps S_pos =
 * popcount(pos ^ x) - X, X the window's count of -1 inputs (once per pixel); one
 * padding adds pos's popcount over the padded taps (+1 inputs). Both planes of
 * two output channels are the 4 weight streams of a count tile
 * (bconv_count_neon.h), BNN_COUNT_PIXELS pixels at once in the interior.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#include "bconv_count_neon.h"
#include "bnn_bits.h"
#include "bnn_groups.h"
#include "bnn_masks_neon.h"
#include "ternary_conv.h"

#define TILE 4           /* output pixels of a row sharing each weight mask */
#define MAX_PENDING 127  /* vpadalq_s8 calls an int16 lane holds: 127 * 256 < 2^15 */
#define MAX_WINDOW (1 << 22)  /* window values: |P| <= 128 * 2^22 fits int32 */

/* 0xff in lane i where bit 16 j + i of a tap's plane words is 1. */
static inline int8x16_t w2_mask(const uint64_t *w, int32_t j)
{
    return bnn_spread_bits16((uint32_t)(w[j / 4] >> (16 * (j % 4))));
}

static inline int32_t w2_hsum(int32x4_t v)
{
    const int64x2_t pairs = vpaddlq_s32(v);

    return (int32_t)(vgetq_lane_s64(pairs, 0) + vgetq_lane_s64(pairs, 1));
}

/* The masked sums of one plane for n output pixels sharing their taps. */
struct w2_sums {
    int16x8_t acc16[TILE];
    int32x4_t acc32[TILE];
};

static inline void w2_zero(struct w2_sums *s, int32_t n)
{
    int32_t q;

    for (q = 0; q < n; ++q) {
        s->acc16[q] = vdupq_n_s16(0);
        s->acc32[q] = vdupq_n_s32(0);
    }
}

static inline void w2_widen(struct w2_sums *s, int32_t n)
{
    int32_t q;

    for (q = 0; q < n; ++q) {
        s->acc32[q] = vpadalq_s16(s->acc32[q], s->acc16[q]);
        s->acc16[q] = vdupq_n_s16(0);
    }
}

/* One call of a ternary kernel: its parameters, input (int8 or bits) and output. */
struct w2_call {
    const struct bnn_ternary_conv_params *p;
    const int8_t *in_i8;
    const uint64_t *in_bits;
    int8_t *out_i8;
    uint64_t *out_bits;
};

/* Output pixels (oy, ox .. ox + n - 1) of conv_i8_w2, every output channel, over the
 * taps t of the first one, which the others share (a bnn_group_fn). */
BNN_GROUP_INLINE void w2_i8_pixels(const void *ctx, int32_t oy, int32_t ox, int32_t n,
                                   const struct bnn_taps *t)
{
    const struct w2_call *c = ctx;
    const struct bnn_ternary_conv_params *p = c->p;
    const int8_t *in = c->in_i8;
    const int32_t c16 = p->in.c / 16, words = BNN_WORDS(p->in.c);
    const int64_t z = p->in_zero;
    size_t pix[TILE];
    int32_t o, q;

    for (q = 0; q < n; ++q) {
        pix[q] = (size_t)oy * p->out.w + ox + q;
        bnn_ternary_clear(p, pix[q], c->out_bits);
    }
    for (o = 0; o < p->out.c; ++o) {
        struct w2_sums pos, neg;
        int32_t pending = 0, m_pos = 0, m_neg = 0, kh, kw, j;

        w2_zero(&pos, n);
        w2_zero(&neg, n);
        for (kh = t->kh0; kh < t->kh1; ++kh) {
            for (kw = t->kw0; kw < t->kw1; ++kw) {
                const uint64_t *wp = bnn_ternary_tap_words(p, p->weight_pos, o, kh, kw);
                const uint64_t *wn = bnn_ternary_tap_words(p, p->weight_neg, o, kh, kw);
                const int8_t *x =
                    in + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * p->in.c;
                const size_t step = (size_t)p->win.stride_w * p->in.c;  /* next pixel */

                if (pending + c16 > MAX_PENDING) {
                    w2_widen(&pos, n);
                    w2_widen(&neg, n);
                    pending = 0;
                }
                for (j = 0; j < c16; ++j) {
                    const int8x16_t mp = w2_mask(wp, j);
                    const int8x16_t mn = w2_mask(wn, j);

                    for (q = 0; q < n; ++q) {
                        const int8x16_t v = vld1q_s8(x + q * step + 16 * j);

                        pos.acc16[q] = vpadalq_s8(pos.acc16[q], vandq_s8(v, mp));
                        neg.acc16[q] = vpadalq_s8(neg.acc16[q], vandq_s8(v, mn));
                    }
                }
                pending += c16;
                m_pos += bnn_popcount_words(wp, words);
                m_neg += bnn_popcount_words(wn, words);
            }
        }
        for (q = 0; q < n; ++q) {
            const int64_t s_pos = w2_hsum(vpadalq_s16(pos.acc32[q], pos.acc16[q])) - z * m_pos;
            const int64_t s_neg = w2_hsum(vpadalq_s16(neg.acc32[q], neg.acc16[q])) - z * m_neg;

            bnn_ternary_store(p, bnn_ternary_acc(p, o, s_pos, s_neg), pix[q], o, c->out_i8,
                              c->out_bits);
        }
    }
}

/* Output pixels (oy, ox .. ox + n - 1) of bconv_w2 (a bnn_group_fn): output channels
 * o and o + 1 per count tile, lanes (pos o, neg o, pos o + 1, neg o + 1). */
BNN_GROUP_INLINE void w2_bits_pixels(const void *ctx, int32_t oy, int32_t ox, int32_t n,
                                     const struct bnn_taps *t)
{
    const struct w2_call *c = ctx;
    const struct bnn_ternary_conv_params *p = c->p;
    const int32_t cw = BNN_WORDS(p->in.c), k_words = p->win.kernel_h * p->win.kernel_w * cw;
    const int padded = p->pad_one && !bnn_taps_full(&p->win, t); /* n == 1 then */
    const uint64_t *x[BNN_COUNT_PIXELS];
    struct bnn_count_span s;
    int32_t ones[BNN_COUNT_PIXELS], o, q, k;
    size_t pix[BNN_COUNT_PIXELS];

    bnn_count_span(&p->win, &p->in, t, &s);
    for (q = 0; q < n; ++q) {
        x[q] = c->in_bits + s.x_at + (size_t)q * p->win.stride_w * cw;
        ones[q] = bnn_count_ones(&s, x[q]);
        pix[q] = (size_t)oy * p->out.w + ox + q;
        bnn_ternary_clear(p, pix[q], c->out_bits);
    }
    for (o = 0; o < p->out.c; o += 2) {
        const int32_t o1 = o + 1 < p->out.c ? o + 1 : o; /* past the last: o again */
        const uint64_t *plane[4] = {p->weight_pos + (size_t)o * k_words,
                                    p->weight_neg + (size_t)o * k_words,
                                    p->weight_pos + (size_t)o1 * k_words,
                                    p->weight_neg + (size_t)o1 * k_words};
        const uint64_t *w[4];
        int32_t pad[4] = {0, 0, 0, 0}, lanes[4];
        int32x4_t d[BNN_COUNT_PIXELS];

        for (k = 0; k < 4; ++k) {
            w[k] = plane[k] + s.w_at;
            if (padded)
                pad[k] = bnn_count_padded(&p->win, cw, plane[k], t);
        }
        bnn_count4(&s, n, x, w, d);
        for (q = 0; q < n; ++q) {
            vst1q_s32(lanes, d[q]);
            bnn_ternary_store(p, bnn_ternary_acc(p, o, lanes[0] + pad[0] - ones[q],
                                                 lanes[1] + pad[1] - ones[q]),
                              pix[q], o, c->out_i8, c->out_bits);
            if (o1 != o)
                bnn_ternary_store(p, bnn_ternary_acc(p, o1, lanes[2] + pad[2] - ones[q],
                                                     lanes[3] + pad[3] - ones[q]),
                                  pix[q], o1, c->out_i8, c->out_bits);
        }
    }
}

int bnn_conv_i8_w2_neon(const struct bnn_ternary_conv_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct w2_call c = {p, in, NULL, out_i8, out_bits};

    if (p->in.c % 16 != 0 ||
        (int64_t)p->win.kernel_h * p->win.kernel_w * p->in.c > MAX_WINDOW)
        return 0;
    bnn_window_groups(&p->win, &p->in, p->out.w, TILE, w2_i8_pixels, &c, row_begin, row_end);
    return 1;
}

int bnn_bconv_w2_neon(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct w2_call c = {p, NULL, in, out_i8, out_bits};

    if (!bnn_count_fits(&p->win, &p->in))
        return 0;
    bnn_window_groups(&p->win, &p->in, p->out.w, BNN_COUNT_PIXELS, w2_bits_pixels, &c,
                      row_begin, row_end);
    return 1;
}

#endif /* BNN_USE_NEON */
