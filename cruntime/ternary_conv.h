/* What the ternary-weight (TTQ) conv paths share (ternary_conv_ref.c,
 * ternary_conv_neon.c): a plane's weight words, the accumulator, and the NEON
 * paths' output stage of one accumulator (the reference runs conv_i8_rows.h's). */
#ifndef TERNARY_CONV_H
#define TERNARY_CONV_H

#include "bnn_internal.h"
#include "bnn_requant.h"

/* The words of tap (kh, kw) of output channel o in a weight plane. */
static inline const uint64_t *bnn_ternary_tap_words(const struct bnn_ternary_conv_params *p,
                                                    const uint64_t *plane, int32_t o,
                                                    int32_t kh, int32_t kw)
{
    return plane + (((size_t)o * p->win.kernel_h + kh) * p->win.kernel_w + kw) * BNN_WORDS(p->in.c);
}

/* acc = bias + scale_pos * S_pos - scale_neg * S_neg of output channel o. */
static inline int64_t bnn_ternary_acc(const struct bnn_ternary_conv_params *p, int32_t o,
                                      int64_t s_pos, int64_t s_neg)
{
    return (int64_t)p->bias[o] + (int64_t)p->scale_pos[o] * s_pos -
           (int64_t)p->scale_neg[o] * s_neg;
}

/* Output value o of output pixel pix: bit 1 (-1) into out_bits iff acc < threshold[o]
 * (the pixel's words zeroed before), else the requant stage into out_i8. */
static inline void bnn_ternary_store(const struct bnn_ternary_conv_params *p, int64_t acc,
                                     size_t pix, int32_t o, int8_t *out_i8, uint64_t *out_bits)
{
    const struct bnn_requant *rq = &p->rq;

    if (out_bits)
        out_bits[pix * BNN_WORDS(p->out.c) + o / 64] |= (uint64_t)(acc < p->threshold[o])
                                                        << (o % 64);
    else
        out_i8[pix * p->out.c + o] = bnn_requant_i8(acc, rq->multiplier[o], rq->shift[o],
                                                    rq->zero_point, rq->lo, rq->hi);
}

#endif /* TERNARY_CONV_H */
