/* Ternary weights (TTQ), the reference: golden/int_ops.py's conv_i8_w2 and
 * bconv_w2 as plain loops, written to be read.
 *
 * acc = bias[o] + scale_pos[o] * S_pos - scale_neg[o] * S_neg in int64 (see
 * bnn_runtime.h), then the output stage (conv_i8_rows.h). */
#include "bnn_bits.h"
#include "conv_i8_rows.h"
#include "ternary_conv.h"

/* S_pos and S_neg of int8 activations: (q - in_zero) summed where each plane has a
 * 1 bit, over the in-bounds taps (padded taps add 0). */
static void i8_plane_sums(const struct bnn_ternary_conv_params *p, const int8_t *in,
                          const struct bnn_taps *t, int32_t o, int64_t *s_pos, int64_t *s_neg)
{
    int32_t kh, kw, i;

    *s_pos = *s_neg = 0;
    for (kh = t->kh0; kh < t->kh1; ++kh) {
        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * p->in.c;
            const uint64_t *pos = bnn_ternary_tap_words(p, p->weight_pos, o, kh, kw);
            const uint64_t *neg = bnn_ternary_tap_words(p, p->weight_neg, o, kh, kw);

            for (i = 0; i < p->in.c; ++i) {
                const int64_t v = (int64_t)x[i] - p->in_zero;

                *s_pos += (pos[i / 64] >> (i % 64) & 1) ? v : 0;
                *s_neg += (neg[i / 64] >> (i % 64) & 1) ? v : 0;
            }
        }
    }
}

/* The +-1 dot product of a plane with the bits of one tap: |plane| - 2 popcount(plane & x). */
static int64_t bits_plane_dot(const uint64_t *plane, const uint64_t *x, int32_t words)
{
    int64_t dot = 0;
    int32_t i;

    for (i = 0; i < words; ++i)
        dot += bnn_popcount64(plane[i]) - 2 * bnn_popcount64(plane[i] & x[i]);
    return dot;
}

/* S_pos and S_neg of binary activations over every tap of the window: an in-bounds
 * tap by bits_plane_dot, a padded one as +1 inputs (|plane|) if pad_one, else 0. */
static void bits_plane_sums(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                            const struct bnn_taps *t, int32_t o, int64_t *s_pos, int64_t *s_neg)
{
    const int32_t words = BNN_WORDS(p->in.c);
    int32_t kh, kw;

    *s_pos = *s_neg = 0;
    for (kh = 0; kh < p->win.kernel_h; ++kh) {
        for (kw = 0; kw < p->win.kernel_w; ++kw) {
            const uint64_t *pos = bnn_ternary_tap_words(p, p->weight_pos, o, kh, kw);
            const uint64_t *neg = bnn_ternary_tap_words(p, p->weight_neg, o, kh, kw);

            if (kh >= t->kh0 && kh < t->kh1 && kw >= t->kw0 && kw < t->kw1) {
                const uint64_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * words;

                *s_pos += bits_plane_dot(pos, x, words);
                *s_neg += bits_plane_dot(neg, x, words);
            } else if (p->pad_one) {
                *s_pos += bnn_popcount_words(pos, words);
                *s_neg += bnn_popcount_words(neg, words);
            }
        }
    }
}

/* acc of output channel o of conv_i8_w2 at the window t (a bnn_conv_acc_fn). */
static int64_t i8_acc(const void *params, const int8_t *in, const struct bnn_taps *t, int32_t o)
{
    int64_t s_pos, s_neg;

    i8_plane_sums(params, in, t, o, &s_pos, &s_neg);
    return bnn_ternary_acc(params, o, s_pos, s_neg);
}

/* A bconv_w2 call's parameters and bits, for bits_acc (the rows' int8 input is unused). */
struct bits_call {
    const struct bnn_ternary_conv_params *p;
    const uint64_t *in;
};

static int64_t bits_acc(const void *params, const int8_t *unused, const struct bnn_taps *t,
                        int32_t o)
{
    const struct bits_call *c = params;
    int64_t s_pos, s_neg;

    (void)unused;
    bits_plane_sums(c->p, c->in, t, o, &s_pos, &s_neg);
    return bnn_ternary_acc(c->p, o, s_pos, s_neg);
}

static void ternary_rows(const struct bnn_ternary_conv_params *p, const int8_t *in_i8,
                         const uint64_t *in_bits, int8_t *out_i8, uint64_t *out_bits,
                         int32_t row_begin, int32_t row_end)
{
    const struct bnn_conv_rows c = {p->in, p->out, p->win, p->threshold, p->rq,
                                    (size_t)p->out.c};
    const struct bits_call call = {p, in_bits};

    if (in_i8)
        bnn_conv_rows(&c, p, in_i8, i8_acc, out_bits, out_i8, row_begin, row_end);
    else
        bnn_conv_rows(&c, &call, NULL, bits_acc, out_bits, out_i8, row_begin, row_end);
}

void bnn_conv_i8_w2_to_i8_ref(const struct bnn_ternary_conv_params *p, const int8_t *in,
                              int8_t *out, int32_t row_begin, int32_t row_end)
{
    ternary_rows(p, in, NULL, out, NULL, row_begin, row_end);
}

void bnn_conv_i8_w2_to_bits_ref(const struct bnn_ternary_conv_params *p, const int8_t *in,
                                uint64_t *out, int32_t row_begin, int32_t row_end)
{
    ternary_rows(p, in, NULL, NULL, out, row_begin, row_end);
}

void bnn_bconv_w2_to_i8_ref(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                            int8_t *out, int32_t row_begin, int32_t row_end)
{
    ternary_rows(p, NULL, in, out, NULL, row_begin, row_end);
}

void bnn_bconv_w2_to_bits_ref(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                              uint64_t *out, int32_t row_begin, int32_t row_end)
{
    ternary_rows(p, NULL, in, NULL, out, row_begin, row_end);
}
