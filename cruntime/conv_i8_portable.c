/* INT8 convolution (grouped, depthwise, linear), the path of shapes no
 * faster one takes: portable C99, bit-exact with conv_i8_ref.c.
 *
 * acc = bias + sum((q - Z) * w) is computed as sum(q * w) - Z * sum(w) over
 * the in-bounds taps, so the inner loop is a plain int8 dot product. With
 * one group the in-bounds taps of a kernel row are contiguous in the input
 * and the weights. One kernel row's products are summed in int32: bounded
 * by kernel_w * in.c / groups * 128 * 128, fine below 131072 elements. */
#include "conv_i8_rows.h"

static int32_t dot_i8(const int8_t *restrict x, const int8_t *restrict w, int32_t n,
                      int32_t *restrict w_sum)
{
    int32_t i, acc = 0, ws = 0;

    for (i = 0; i < n; ++i) {
        acc += x[i] * w[i];
        ws += w[i];
    }
    *w_sum += ws;
    return acc;
}

static int64_t conv_i8_acc(const void *params, const int8_t *in, const struct bnn_taps *t,
                           int32_t o)
{
    const struct bnn_conv_i8_params *p = params;
    const int32_t ig = p->in.c / p->groups;
    const int32_t og = p->out.c / p->groups;
    const int32_t c0 = o / og * ig; /* first input channel of o's group */
    const int32_t kw = p->win.kernel_w;
    const int8_t *w = p->weight + (size_t)o * p->win.kernel_h * kw * ig;
    int64_t acc = 0;
    int32_t kh, k, w_sum = 0;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix) * p->in.c;
        const int8_t *wr = w + (size_t)kh * kw * ig;

        if (p->groups == 1) {
            acc += dot_i8(x + (size_t)t->kw0 * ig, wr + (size_t)t->kw0 * ig,
                          (t->kw1 - t->kw0) * ig, &w_sum);
            continue;
        }
        for (k = t->kw0; k < t->kw1; ++k)
            acc += dot_i8(x + (size_t)k * p->in.c + c0, wr + (size_t)k * ig, ig, &w_sum);
    }
    return acc - (int64_t)p->in_zero * w_sum + p->bias[o];
}

void bnn_conv_i8_to_i8_portable(const struct bnn_conv_i8_params *p, const int8_t *in,
                                int8_t *out, int32_t row_begin, int32_t row_end)
{
    bnn_conv_i8_rows(p, in, conv_i8_acc, NULL, out, row_begin, row_end);
}

void bnn_conv_i8_to_bits_portable(const struct bnn_conv_i8_params *p, const int8_t *in,
                                  uint64_t *out, int32_t row_begin, int32_t row_end)
{
    bnn_conv_i8_rows(p, in, conv_i8_acc, out, NULL, row_begin, row_end);
}
