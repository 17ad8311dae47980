/* Binary convolution, portable reference (golden/int_ops.py: bconv).
 *
 * Word-wise popcount over the in-bounds part of each kernel row: in the
 * [h][w][words] layout the valid taps of one kernel row are contiguous in
 * the input and in the weights, so the inner loop is one popcount per word
 * (a single instruction with -mpopcnt on x86). */
#include "bnn_bits.h"
#include "bnn_internal.h"
#include "bnn_requant.h"

int32_t bnn_bconv_dot_ref(const struct bnn_bconv_params *p, const uint64_t *in,
                          const struct bnn_taps *t, int32_t o)
{
    const int32_t cw = BNN_WORDS(p->in.c);
    const int32_t kernel_words = p->win.kernel_h * p->win.kernel_w * cw;
    const int32_t row_words = (t->kw1 - t->kw0) * cw;
    const int32_t valid_taps = (t->kh1 - t->kh0) * (t->kw1 - t->kw0);
    const uint64_t *w = p->weight + (size_t)o * kernel_words;
    int32_t kh, differ = 0, w_valid = 0;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        const uint64_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix + t->kw0) * cw;
        const uint64_t *wr = w + ((size_t)kh * p->win.kernel_w + t->kw0) * cw;

        differ += bnn_popcount_xor(x, wr, row_words);
        if (p->pad_one)
            w_valid += bnn_popcount_words(wr, row_words);
    }
    if (!p->pad_one || valid_taps == p->win.kernel_h * p->win.kernel_w)
        return valid_taps * p->in.c - 2 * differ;
    /* a +1 padded tap is input bit 0, so it differs where the weight bit is 1 */
    differ += bnn_popcount_words(w, kernel_words) - w_valid;
    return p->win.kernel_h * p->win.kernel_w * p->in.c - 2 * differ;
}

void bnn_bconv_to_bits_ref(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                           int32_t row_begin, int32_t row_end)
{
    const int32_t out_words = BNN_WORDS(p->out.c);
    int32_t oy, ox, o;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            uint64_t *dst = out + ((size_t)oy * p->out.w + ox) * out_words;
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (o = 0; o < out_words; ++o)
                dst[o] = 0;
            for (o = 0; o < p->out.c; ++o) {
                uint64_t negative = bnn_bconv_dot_ref(p, in, &t, o) < p->threshold[o];
                dst[o / 64] |= negative << (o % 64);
            }
        }
    }
}

/* acc = y * 2^acc_shift + bias in int64: y may be negative, so no left shift. */
int8_t bnn_bconv_output_i8(const struct bnn_bconv_params *p, int32_t y, int32_t o)
{
    int64_t acc = (int64_t)y * ((int64_t)1 << p->acc_shift) + p->bias[o];

    return bnn_requant_i8(acc, p->rq.multiplier[o], p->rq.shift[o], p->rq.zero_point,
                          p->rq.lo, p->rq.hi);
}

void bnn_bconv_to_i8_ref(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end)
{
    int32_t oy, ox, o;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            int8_t *dst = out + ((size_t)oy * p->out.w + ox) * p->out.c;
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (o = 0; o < p->out.c; ++o)
                dst[o] = bnn_bconv_output_i8(p, bnn_bconv_dot_ref(p, in, &t, o), o);
        }
    }
}
