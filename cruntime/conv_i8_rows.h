/* The output loop the plain INT8-input conv paths share (conv_i8_ref.c,
 * conv_i8_portable.c, conv_i8_w1_ref.c): each value's accumulator from the
 * path's own function, then the output stage. Inlined with a constant acc
 * function, it costs no indirect call. */
#ifndef CONV_I8_ROWS_H
#define CONV_I8_ROWS_H

#include "bnn_internal.h"
#include "bnn_requant.h"

/* What the loop reads of a conv's parameters (struct bnn_conv_i8_params or
 * struct bnn_conv_i8_w1_params): its shapes, window and output stage. */
struct bnn_conv_rows {
    struct bnn_shape in, out;
    struct bnn_window win;
    const int32_t *threshold;
    struct bnn_requant rq;
    size_t out_pitch; /* int8 output: bytes from one pixel to the next */
};

/* acc = bias[o] + sum((q - in_zero) * w) of output channel o at the window t;
 * params is the conv's own parameter struct. */
typedef int64_t (*bnn_conv_acc_fn)(const void *params, const int8_t *in,
                                   const struct bnn_taps *t, int32_t o);

/* Output rows [row_begin, row_end) into out_bits (bit 1, i.e. -1, iff
 * acc < threshold[o]) or out_i8 (the requant stage). */
static inline void bnn_conv_rows(const struct bnn_conv_rows *c, const void *params,
                                 const int8_t *in, bnn_conv_acc_fn acc_of, uint64_t *out_bits,
                                 int8_t *out_i8, int32_t row_begin, int32_t row_end)
{
    const struct bnn_requant *rq = &c->rq;
    const int32_t out_words = BNN_WORDS(c->out.c);
    int32_t oy, ox, o;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < c->out.w; ++ox) {
            const size_t pix = (size_t)oy * c->out.w + ox;
            struct bnn_taps t;

            bnn_clip_window(&c->win, &c->in, oy, ox, &t);
            if (out_bits)
                for (o = 0; o < out_words; ++o)
                    out_bits[pix * out_words + o] = 0;
            for (o = 0; o < c->out.c; ++o) {
                const int64_t acc = acc_of(params, in, &t, o);

                if (out_bits)
                    out_bits[pix * out_words + o / 64] |= (uint64_t)(acc < c->threshold[o])
                                                           << (o % 64);
                else
                    out_i8[pix * c->out_pitch + o] = bnn_requant_i8(
                        acc, rq->multiplier[o], rq->shift[o], rq->zero_point, rq->lo, rq->hi);
            }
        }
    }
}

/* The same for an INT8 conv. */
static inline void bnn_conv_i8_rows(const struct bnn_conv_i8_params *p, const int8_t *in,
                                    bnn_conv_acc_fn acc_of, uint64_t *out_bits,
                                    int8_t *out_i8, int32_t row_begin, int32_t row_end)
{
    const struct bnn_conv_rows c = {p->in, p->out, p->win, p->threshold, p->rq,
                                    bnn_conv_i8_out_pitch(p)};

    bnn_conv_rows(&c, p, in, acc_of, out_bits, out_i8, row_begin, row_end);
}

#endif /* CONV_I8_ROWS_H */
