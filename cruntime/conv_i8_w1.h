/* What the conv_i8_w1 paths share (conv_i8_w1_ref.c, conv_i8_w1_neon.c): the
 * output stage of one accumulator. */
#ifndef CONV_I8_W1_H
#define CONV_I8_W1_H

#include "bnn_internal.h"
#include "bnn_requant.h"

/* Output value o of output pixel pix: bit 1 (-1) into out_bits iff acc < threshold[o]
 * (the pixel's words zeroed before), else the requant stage into out_i8. */
static inline void bnn_conv_i8_w1_store(const struct bnn_conv_i8_w1_params *p, int64_t acc,
                                        size_t pix, int32_t o, int8_t *out_i8,
                                        uint64_t *out_bits)
{
    const struct bnn_requant *rq = &p->rq;

    if (out_bits)
        out_bits[pix * BNN_WORDS(p->out.c) + o / 64] |= (uint64_t)(acc < p->threshold[o])
                                                        << (o % 64);
    else
        out_i8[pix * p->out.c + o] = bnn_requant_i8(acc, rq->multiplier[o], rq->shift[o],
                                                    rq->zero_point, rq->lo, rq->hi);
}

#endif /* CONV_I8_W1_H */
