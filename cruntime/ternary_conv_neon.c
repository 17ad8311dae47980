/* INT8 activations x ternary weights (conv_i8_w2) with NEON (aarch64 and armv7),
 * bit-exact with ternary_conv_ref.c.
 *
 * S_pos = sum over the +Wp weights of (q - Z) = P - Z * m_pos: P sums the raw
 * int8 q under the weight_pos plane's 1 bits, m_pos counts those bits over the
 * in-bounds taps (a popcount); S_neg likewise. P is a masked sum: 16 weight
 * bits become 16 byte masks (vtst of the bits spread over the lanes against
 * each lane's bit), ANDed with 16 input bytes and added pairwise into int16
 * lanes (vpadalq_s8 adds at most 2 * 128 to a lane, so 127 calls fit before
 * the lanes are widened into int32). Interior windows run TILE output pixels
 * of a row at once, sharing each mask; border pixels one at a time over their
 * clipped taps.
 *
 * Takes in.c a multiple of 16 (whole vectors); other shapes run the reference.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#include "bnn_bits.h"
#include "ternary_conv.h"

#define TILE 4           /* output pixels of a row sharing each weight mask */
#define MAX_PENDING 127  /* vpadalq_s8 calls an int16 lane holds: 127 * 256 < 2^15 */
#define MAX_WINDOW (1 << 22)  /* window values: |P| <= 128 * 2^22 fits int32 */

static const uint8_t LANE_BITS[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                      1, 2, 4, 8, 16, 32, 64, 128};

/* 0xff in lane i where bit 16 j + i of a tap's plane words is 1. */
static inline int8x16_t w2_mask(const uint64_t *w, int32_t j, uint8x16_t lane_bits)
{
    const uint32_t bits = (uint32_t)(w[j / 4] >> (16 * (j % 4)));
    const uint8x16_t spread =
        vcombine_u8(vdup_n_u8((uint8_t)bits), vdup_n_u8((uint8_t)(bits >> 8)));

    return vreinterpretq_s8_u8(vtstq_u8(spread, lane_bits));
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

/* Output pixels (oy, ox .. ox + n - 1), every output channel, over the taps t of the
 * first one, which the others share (n > 1 only for whole windows). Called with n
 * a constant (TILE or 1), so each use compiles to its own loop. */
static inline void w2_pixels(const struct bnn_ternary_conv_params *p, const int8_t *in,
                             int32_t oy, int32_t ox, int32_t n, const struct bnn_taps *t,
                             int8_t *out_i8, uint64_t *out_bits, uint8x16_t lane_bits)
{
    const int32_t c16 = p->in.c / 16, words = BNN_WORDS(p->in.c);
    const int64_t z = p->in_zero;
    size_t pix[TILE];
    int32_t o, q;

    for (q = 0; q < n; ++q) {
        pix[q] = (size_t)oy * p->out.w + ox + q;
        bnn_ternary_clear(p, pix[q], out_bits);
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
                    const int8x16_t mp = w2_mask(wp, j, lane_bits);
                    const int8x16_t mn = w2_mask(wn, j, lane_bits);

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

            bnn_ternary_store(p, bnn_ternary_acc(p, o, s_pos, s_neg), pix[q], o, out_i8,
                              out_bits);
        }
    }
}

int bnn_conv_i8_w2_neon(const struct bnn_ternary_conv_params *p, const int8_t *in,
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
                    w2_pixels(p, in, oy, ox, TILE, &first, out_i8, out_bits, lane_bits);
                    ox += TILE;
                    continue;
                }
            }
            w2_pixels(p, in, oy, ox, 1, &first, out_i8, out_bits, lane_bits);
            ++ox;
        }
    }
    return 1;
}

#endif /* BNN_USE_NEON */
