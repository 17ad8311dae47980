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

/* Output value o of a pixel with binary dot product y and window sum k. */
static inline int8_t bnn_bconv_k_output(const struct bnn_bconv_k_params *p, int32_t y, int64_t k,
                                        int32_t o)
{
    const struct bnn_requant *rq = &p->conv.rq;

    return bnn_requant_i8(bnn_bconv_k_scaled(y, k, p->k_shift) + p->conv.bias[o],
                          rq->multiplier[o], rq->shift[o], rq->zero_point, rq->lo, rq->hi);
}

#endif /* BNN_BCONV_K_H */
