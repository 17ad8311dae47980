/* INT8 activations x 1-bit weights, the reference: golden/int_ops.py's
 * conv_i8_w1 as plain loops, written to be read.
 *
 * acc = bias[o] + sum over the in-bounds taps and the input channels of
 * (q - in_zero) * w, w = +1 where the weight bit is 0 and -1 where it is 1, in
 * int64; padded taps add 0. Then the output stage (conv_i8_rows.h). */
#include "conv_i8_rows.h"

static int64_t conv_i8_w1_acc(const void *params, const int8_t *in, const struct bnn_taps *t,
                              int32_t o)
{
    const struct bnn_conv_i8_w1_params *p = params;
    const int32_t words = BNN_WORDS(p->in.c);
    int64_t acc = p->bias[o];
    int32_t kh, kw, i;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * p->in.c;
            const uint64_t *w =
                p->weight + (((size_t)o * p->win.kernel_h + kh) * p->win.kernel_w + kw) * words;

            for (i = 0; i < p->in.c; ++i) {
                const int64_t v = (int64_t)x[i] - p->in_zero;

                acc += (w[i / 64] >> (i % 64) & 1) ? -v : v;
            }
        }
    }
    return acc;
}

static void conv_i8_w1_rows(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                            int8_t *out_i8, uint64_t *out_bits, int32_t row_begin,
                            int32_t row_end)
{
    const struct bnn_conv_rows c = {p->in, p->out, p->win, p->threshold, p->rq,
                                    (size_t)p->out.c};

    bnn_conv_rows(&c, p, in, conv_i8_w1_acc, out_bits, out_i8, row_begin, row_end);
}

void bnn_conv_i8_w1_to_i8_ref(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                              int8_t *out, int32_t row_begin, int32_t row_end)
{
    conv_i8_w1_rows(p, in, out, NULL, row_begin, row_end);
}

void bnn_conv_i8_w1_to_bits_ref(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                                uint64_t *out, int32_t row_begin, int32_t row_end)
{
    conv_i8_w1_rows(p, in, NULL, out, row_begin, row_end);
}
