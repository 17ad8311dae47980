/* Binary convolution, the reference: golden/int_ops.py's bconv as plain loops.
 *
 * The specification every fast path (bconv_portable.c, bconv_x86.c,
 * bconv_neon.c) must equal bit for bit; written to be read, not to be fast.
 * Popcounts run over whole words: the unused high bits of a channel vector
 * are 0 in the input and in the weights alike, so they never differ. */
#include "bnn_bits.h"
#include "bnn_internal.h"
#include "bnn_requant.h"

int32_t bnn_bconv_dot_ref(const struct bnn_bconv_params *p, const uint64_t *in,
                          const struct bnn_taps *t, int32_t o)
{
    const int32_t cw = BNN_WORDS(p->in.c);
    int32_t kh, kw, y = 0;

    for (kh = 0; kh < p->win.kernel_h; ++kh) {
        for (kw = 0; kw < p->win.kernel_w; ++kw) {
            const uint64_t *w =
                p->weight + (((size_t)o * p->win.kernel_h + kh) * p->win.kernel_w + kw) * cw;

            if (kh >= t->kh0 && kh < t->kh1 && kw >= t->kw0 && kw < t->kw1) {
                const uint64_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * cw;

                y += p->in.c - 2 * bnn_popcount_xor(x, w, cw);
            } else if (p->pad_one) {
                /* a +1 padded tap is input bit 0: it differs where the weight bit is 1 */
                y += p->in.c - 2 * bnn_popcount_words(w, cw);
            } /* a zero padded tap adds 0 */
        }
    }
    return y;
}

/* acc = y * 2^acc_shift + bias in int64: y may be negative, so no left shift. */
int8_t bnn_bconv_output_i8(const struct bnn_bconv_params *p, int32_t y, int32_t o)
{
    int64_t acc = (int64_t)y * ((int64_t)1 << p->acc_shift) + p->bias[o];

    return bnn_requant_i8(acc, p->rq.multiplier[o], p->rq.shift[o], p->rq.zero_point,
                          p->rq.lo, p->rq.hi);
}

/* Output rows [row_begin, row_end): each value's dot product y, then the output
 * stage, into out_bits (bit 1, i.e. -1, iff y < threshold) or out_i8. */
static void bconv(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out_bits,
                  int8_t *out_i8, int32_t row_begin, int32_t row_end)
{
    const int32_t out_words = BNN_WORDS(p->out.c);
    int32_t oy, ox, o;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            const size_t pix = (size_t)oy * p->out.w + ox;
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            if (out_bits)
                for (o = 0; o < out_words; ++o)
                    out_bits[pix * out_words + o] = 0;
            for (o = 0; o < p->out.c; ++o) {
                const int32_t y = bnn_bconv_dot_ref(p, in, &t, o);

                if (out_bits)
                    out_bits[pix * out_words + o / 64] |= (uint64_t)(y < p->threshold[o])
                                                           << (o % 64);
                else
                    out_i8[pix * p->out.c + o] = bnn_bconv_output_i8(p, y, o);
            }
        }
    }
}

void bnn_bconv_to_bits_ref(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                           int32_t row_begin, int32_t row_end)
{
    bconv(p, in, out, NULL, row_begin, row_end);
}

void bnn_bconv_to_i8_ref(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end)
{
    bconv(p, in, NULL, out, row_begin, row_end);
}
