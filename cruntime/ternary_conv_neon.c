/* Ternary weights (TTQ) on binary activations (bconv_w2) with NEON (aarch64 and
 * armv7), bit-exact with ternary_conv_ref.c; INT8 activations (conv_i8_w2) are
 * conv_i8_w1_neon.c's masked sums over two planes.
 *
 * An input bit x is the value 1 - 2x, so a plane bit p adds p (1 - 2x) =
 * popcount(p ^ x) - x, and over the in-bounds taps S_pos = popcount(pos ^ x) - X,
 * X the window's count of -1 inputs (once per pixel); one padding adds pos's
 * popcount over the padded taps (+1 inputs). Both planes of two output channels
 * are the 4 weight streams of a count tile (bconv_count_neon.h), BNN_COUNT_PIXELS
 * pixels at once in the interior.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#include "bconv_count_neon.h"
#include "bnn_bits.h"
#include "bnn_groups.h"
#include "ternary_conv.h"

/* One call of bconv_w2: its parameters, input and output. */
struct w2_call {
    const struct bnn_ternary_conv_params *p;
    const uint64_t *in_bits;
    int8_t *out_i8;
    uint64_t *out_bits;
};

/* Output pixels (oy, ox .. ox + n - 1) of bconv_w2 (a bnn_group_fn): output channels
 * o and o + 1 per count tile, lanes (pos o, neg o, pos o + 1, neg o + 1). */
BNN_GROUP_INLINE void w2_bits_pixels(const void *ctx, int32_t oy, int32_t ox, int32_t n,
                                     const struct bnn_taps *t)
{
    const struct w2_call *c = ctx;
    const struct bnn_ternary_conv_params *p = c->p;
    const int32_t cw = BNN_WORDS(p->in.c), k_words = p->win.kernel_h * p->win.kernel_w * cw;
    struct bnn_count_group g;
    int32_t ones[BNN_COUNT_PIXELS], o, q;

    bnn_count_group(&p->win, &p->in, &p->out, p->pad_one, c->in_bits, oy, ox, n, t,
                    c->out_bits, &g);
    for (q = 0; q < n; ++q)
        ones[q] = bnn_count_ones(&g.s, g.x[q]);
    for (o = 0; o < p->out.c; o += 2) {
        const int32_t o1 = o + 1 < p->out.c ? o + 1 : o; /* past the last: o again */
        const uint64_t *plane[4] = {p->weight_pos + (size_t)o * k_words,
                                    p->weight_neg + (size_t)o * k_words,
                                    p->weight_pos + (size_t)o1 * k_words,
                                    p->weight_neg + (size_t)o1 * k_words};
        int32_t counts[BNN_COUNT_PIXELS][4];

        bnn_count4_group(&p->win, cw, &g, t, n, plane, counts);
        for (q = 0; q < n; ++q) {
            const int32_t *lanes = counts[q];

            bnn_ternary_store(p, bnn_ternary_acc(p, o, lanes[0] - ones[q], lanes[1] - ones[q]),
                              g.pix[q], o, c->out_i8, c->out_bits);
            if (o1 != o)
                bnn_ternary_store(p, bnn_ternary_acc(p, o1, lanes[2] - ones[q],
                                                     lanes[3] - ones[q]),
                                  g.pix[q], o1, c->out_i8, c->out_bits);
        }
    }
}

int bnn_bconv_w2_neon(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct w2_call c = {p, in, out_i8, out_bits};

    if (!bnn_count_fits(&p->win, &p->in))
        return 0;
    bnn_window_groups(&p->win, &p->in, p->out.w, BNN_COUNT_PIXELS, w2_bits_pixels, &c,
                      row_begin, row_end);
    return 1;
}

#endif /* BNN_USE_NEON */
