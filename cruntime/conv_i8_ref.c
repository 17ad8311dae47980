/* INT8 convolution (grouped, depthwise, linear), the reference:
 * golden/int_ops.py's conv_i8 as plain loops, written to be read.
 *
 * acc = bias[o] + sum over the in-bounds taps and the input channels of o's
 * group of (q - in_zero) * w, in int64; padded taps add 0. Then the output
 * stage (conv_i8_rows.h). */
#include "conv_i8_rows.h"

static int64_t conv_i8_acc(const void *params, const int8_t *in, const struct bnn_taps *t,
                           int32_t o)
{
    const struct bnn_conv_i8_params *p = params;
    const int32_t ig = p->in.c / p->groups;
    const int32_t c0 = o / (p->out.c / p->groups) * ig; /* first input channel of o's group */
    int64_t acc = p->bias[o];
    int32_t kh, kw, i;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * p->in.c + c0;
            const int8_t *w =
                p->weight + (((size_t)o * p->win.kernel_h + kh) * p->win.kernel_w + kw) * ig;

            for (i = 0; i < ig; ++i)
                acc += ((int64_t)x[i] - p->in_zero) * w[i];
        }
    }
    return acc;
}

void bnn_conv_i8_to_i8_ref(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out,
                           int32_t row_begin, int32_t row_end)
{
    bnn_conv_i8_rows(p, in, conv_i8_acc, NULL, out, row_begin, row_end);
}

void bnn_conv_i8_to_bits_ref(const struct bnn_conv_i8_params *p, const int8_t *in,
                             uint64_t *out, int32_t row_begin, int32_t row_end)
{
    bnn_conv_i8_rows(p, in, conv_i8_acc, out, NULL, row_begin, row_end);
}
