/* What the bconv_k paths share (bconv_k_ref.c, bconv_k_neon.c): the product of
 * y and K through the layer's shift, and the output stage. */
#ifndef BNN_BCONV_K_H
#define BNN_BCONV_K_H

#include "bnn_internal.h"
#include "bnn_requant.h"

/* round_half_away(y * k / 2^k_shift), or y * k * 2^-k_shift for k_shift < 0; the
 * exporter picks k_shift so that this and the bias stay within 2^30. */
static inline int64_t bnn_bconv_k_scaled(int32_t y, int64_t k, int32_t k_shift)
{
    const int64_t v = (int64_t)y * k;
    int64_t half;

    if (k_shift <= 0)
        return v * ((int64_t)1 << -k_shift);
    half = (int64_t)1 << (k_shift - 1);
    return v >= 0 ? (v + half) >> k_shift : -((-v + half) >> k_shift);
}

/* Output value o of output pixel pix, for binary dot product y and window sum k: bit 1
 * (-1) into out_bits iff acc < threshold[o] (the pixel's words zeroed before), else the
 * requant stage of acc + bias[o] into out_i8. */
static inline void bnn_bconv_k_store(const struct bnn_bconv_k_params *p, int32_t y, int64_t k,
                                     size_t pix, int32_t o, int8_t *out_i8, uint64_t *out_bits)
{
    const struct bnn_requant *rq = &p->conv.rq;
    const int64_t acc = bnn_bconv_k_scaled(y, k, p->k_shift);

    if (out_bits)
        out_bits[pix * BNN_WORDS(p->conv.out.c) + o / 64] |=
            (uint64_t)(acc < p->conv.threshold[o]) << (o % 64);
    else
        out_i8[pix * p->conv.out.c + o] = bnn_requant_i8(acc + p->conv.bias[o],
                                                         rq->multiplier[o], rq->shift[o],
                                                         rq->zero_point, rq->lo, rq->hi);
}

/* Zeroes the output words of pixel pix before its bits are ORed in. */
static inline void bnn_bconv_k_clear(const struct bnn_bconv_k_params *p, size_t pix,
                                     uint64_t *out_bits)
{
    int32_t j;

    if (out_bits)
        for (j = 0; j < BNN_WORDS(p->conv.out.c); ++j)
            out_bits[pix * BNN_WORDS(p->conv.out.c) + j] = 0;
}

#endif /* BNN_BCONV_K_H */
