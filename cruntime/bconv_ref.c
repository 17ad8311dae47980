/* Binary convolution, the reference: golden/int_ops.py's bconv as plain loops.
 *
 * The specification every fast path (bconv_portable.c, bconv_x86.c,
 * bconv_neon.c) must equal bit for bit; written to be read, not to be fast.
 * Popcounts run over whole words: the unused high bits of a channel vector
 * are 0 in the input and in the weights alike, so they never differ. */
#include "bnn_bits.h"
#include "bnn_internal.h"
#include "bnn_requant.h"

/* popcount(x ^ w) over the c channels of x starting at channel first: a
 * group's channels begin anywhere inside a word, so each of its words is
 * gathered from two input words and cut to the group. */
static int32_t popcount_xor_slice(const uint64_t *x, int32_t first, const uint64_t *w,
                                  int32_t c)
{
    int32_t j, count = 0;

    for (j = 0; j < BNN_WORDS(c); ++j) {
        const int32_t bit = first + 64 * j, shift = bit % 64, left = c - 64 * j;
        uint64_t v = x[bit / 64] >> shift;

        if (shift && left > 64 - shift)
            v |= x[bit / 64 + 1] << (64 - shift);
        if (left < 64)
            v &= ((uint64_t)1 << left) - 1;
        count += bnn_popcount64(v ^ w[j]);
    }
    return count;
}

int32_t bnn_bconv_dot_ref(const struct bnn_bconv_params *p, const uint64_t *in,
                          const struct bnn_taps *t, int32_t o)
{
    const int32_t groups = p->general ? p->general->groups : 1;
    const int32_t dh = p->general ? p->general->dilation_h : 1;
    const int32_t dw = p->general ? p->general->dilation_w : 1;
    const int32_t c = p->in.c / groups, first = o / (p->out.c / groups) * c;
    const int32_t cw = BNN_WORDS(p->in.c), gw = BNN_WORDS(c);
    int32_t kh, kw, y = 0;

    for (kh = 0; kh < p->win.kernel_h; ++kh) {
        for (kw = 0; kw < p->win.kernel_w; ++kw) {
            const int32_t iy = t->iy + kh * dh, ix = t->ix + kw * dw;
            const uint64_t *w =
                p->weight + (((size_t)o * p->win.kernel_h + kh) * p->win.kernel_w + kw) * gw;

            if (iy >= 0 && iy < p->in.h && ix >= 0 && ix < p->in.w) {
                const uint64_t *x = in + ((size_t)iy * p->in.w + ix) * cw;

                y += c - 2 * (groups == 1 ? bnn_popcount_xor(x, w, cw)
                                          : popcount_xor_slice(x, first, w, c));
            } else if (p->pad_one) {
                /* a +1 padded tap is input bit 0: it differs where the weight bit is 1 */
                y += c - 2 * bnn_popcount_words(w, gw);
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
 * stage, into out_bits (bit 1, i.e. -1, iff y < threshold) or out_i8 (pixels
 * bnn_bconv_out_pitch bytes apart). */
static void bconv(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out_bits,
                  int8_t *out_i8, int32_t row_begin, int32_t row_end)
{
    const int32_t out_words = BNN_WORDS(p->out.c);
    const size_t pitch = bnn_bconv_out_pitch(p);
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
                    out_i8[pix * pitch + o] = bnn_bconv_output_i8(p, y, o);
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
