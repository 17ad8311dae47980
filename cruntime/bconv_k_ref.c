/* XNOR-Net's input scaling, the reference: golden/int_ops.py's bconv_k as plain
 * loops, written to be read.
 *
 * For each output pixel: K = the sum over the window's in-bounds taps and every
 * channel of |x - x_zero| (padded taps add 0), then for each output channel the
 * binary conv's y (bnn_bconv_dot_ref) and the output stage of bconv_k.h (int8, or
 * bits by threshold). */
#include "bconv_k.h"

static int64_t window_abs_sum(const struct bnn_bconv_k_params *p, const int8_t *x,
                              const struct bnn_taps *t)
{
    const struct bnn_bconv_params *c = &p->conv;
    const int32_t dh = c->general ? c->general->dilation_h : 1;
    const int32_t dw = c->general ? c->general->dilation_w : 1;
    int64_t k = 0;
    int32_t kh, kw, i;

    for (kh = 0; kh < c->win.kernel_h; ++kh) {
        for (kw = 0; kw < c->win.kernel_w; ++kw) {
            const int32_t iy = t->iy + kh * dh, ix = t->ix + kw * dw;
            const int8_t *px;

            if (iy < 0 || iy >= c->in.h || ix < 0 || ix >= c->in.w)
                continue;
            px = x + ((size_t)iy * c->in.w + ix) * c->in.c;
            for (i = 0; i < c->in.c; ++i)
                k += px[i] >= p->x_zero ? px[i] - p->x_zero : p->x_zero - px[i];
        }
    }
    return k;
}

static void rows(const struct bnn_bconv_k_params *p, const uint64_t *bits, const int8_t *x,
                 int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct bnn_bconv_params *c = &p->conv;
    int32_t oy, ox, o;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < c->out.w; ++ox) {
            const size_t pix = (size_t)oy * c->out.w + ox;
            struct bnn_taps t;
            int64_t k;

            bnn_clip_window(&c->win, &c->in, oy, ox, &t);
            k = window_abs_sum(p, x, &t);
            bnn_bconv_k_clear(p, pix, out_bits);
            for (o = 0; o < c->out.c; ++o)
                bnn_bconv_k_store(p, bnn_bconv_dot_ref(c, bits, &t, o), k, pix, o, out_i8,
                                  out_bits);
        }
    }
}

void bnn_bconv_k_to_i8_ref(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                           const int8_t *x, int8_t *out, int32_t row_begin, int32_t row_end)
{
    rows(p, bits, x, out, NULL, row_begin, row_end);
}

void bnn_bconv_k_to_bits_ref(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                             const int8_t *x, uint64_t *out, int32_t row_begin,
                             int32_t row_end)
{
    rows(p, bits, x, NULL, out, row_begin, row_end);
}
