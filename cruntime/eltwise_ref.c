/* Element-wise and channel-wise ops, portable reference (golden/int_ops.py:
 * threshold, add_i8, add_into_i8, channelwise_i8, lut, concat_i8, concat_bits). */
#include "bnn_bits.h"
#include "bnn_internal.h"
#include "bnn_requant.h"

#define BNN_ADD_LEFT_SHIFT 20 /* headroom of add_i8, as in TFLite (golden/quant.py) */

int32_t bnn_requant_i32(int64_t acc, int32_t multiplier, int32_t shift)
{
    return bnn_mbqm(acc, multiplier, shift);
}

void bnn_threshold_i8_ref(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                          int32_t row_begin, int32_t row_end)
{
    const int32_t c = p->shape.c, cw = BNN_WORDS(c);
    size_t pix;

    for (pix = (size_t)row_begin * p->shape.w; pix < (size_t)row_end * p->shape.w; ++pix) {
        const int8_t *x = in + pix * p->in_pitch;
        uint64_t *dst = out + pix * cw;
        int32_t k;

        for (k = 0; k < cw; ++k)
            dst[k] = 0;
        for (k = 0; k < c; ++k) {
            uint64_t negative = (x[k] >= p->threshold[k]) == (p->flip[k] != 0);
            dst[k / 64] |= negative << (k % 64);
        }
    }
}

void bnn_add_i8_ref(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                    int8_t *out)
{
    int32_t i;

    for (i = 0; i < p->size; ++i) {
        int64_t sa = ((int64_t)a[i] - p->a_zero) * ((int64_t)1 << BNN_ADD_LEFT_SHIFT);
        int64_t sb = ((int64_t)b[i] - p->b_zero) * ((int64_t)1 << BNN_ADD_LEFT_SHIFT);
        int64_t sum = (int64_t)bnn_mbqm(sa, p->a_multiplier, p->a_shift) +
                      bnn_mbqm(sb, p->b_multiplier, p->b_shift);

        out[i] = bnn_requant_i8(sum, p->out_multiplier, p->out_shift, p->out_zero, p->lo, p->hi);
    }
}

void bnn_add_into_i8_with(const struct bnn_add_into_i8_params *p, const int8_t *x,
                          const int8_t *w, int8_t *out, bnn_add_i8_fn *add)
{
    const int32_t c = p->c, wc = p->add.size, end = p->offset + wc;
    int32_t pix, k;

    for (pix = 0; pix < p->pixels; ++pix) {
        const int8_t *src = x + (size_t)pix * p->pitch;
        int8_t *dst = out + (size_t)pix * p->pitch;

        for (k = 0; dst != src && k < c; ++k)
            if (k < p->offset || k >= end)
                dst[k] = bnn_requant_i8((int64_t)src[k] - p->in_zero, p->multiplier,
                                        p->shift, p->out_zero, INT8_MIN, INT8_MAX);
        add(&p->add, src + p->offset, w + (size_t)pix * wc, dst + p->offset);
    }
}

void bnn_add_into_i8_ref(const struct bnn_add_into_i8_params *p, const int8_t *x,
                         const int8_t *w, int8_t *out)
{
    bnn_add_into_i8_with(p, x, w, out, bnn_add_i8_ref);
}

/* acc_shift must be in 0..32 */
void bnn_channelwise_i8_ref(const struct bnn_channelwise_i8_params *p, const int8_t *in,
                            int8_t *out)
{
    const int32_t c = p->shape.c;
    const size_t pixels = (size_t)p->shape.h * p->shape.w;
    size_t pix;
    int32_t k;

    for (pix = 0; pix < pixels; ++pix) {
        for (k = 0; k < c; ++k) {
            size_t i = pix * c + k;
            int64_t acc = ((int64_t)in[i] - p->in_zero) * ((int64_t)1 << p->acc_shift) + p->bias[k];

            if (acc >= 0)
                out[i] = bnn_requant_i8(acc, p->multiplier_pos[k], p->shift_pos[k], p->out_zero,
                                        p->lo, p->hi);
            else
                out[i] = bnn_requant_i8(acc, p->multiplier_neg[k], p->shift_neg[k], p->out_zero,
                                        p->lo, p->hi);
        }
    }
}

void bnn_lut_u8_ref(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out)
{
    const int32_t c = p->shape.c;
    const size_t pixels = (size_t)p->shape.h * p->shape.w;
    size_t pix;
    int32_t k;

    for (pix = 0; pix < pixels; ++pix)
        for (k = 0; k < c; ++k)
            out[pix * c + k] = p->table[(size_t)k * 256 + in[pix * c + k]];
}

void bnn_concat_i8_part_ref(const struct bnn_concat_part_params *p, const int8_t *in,
                            int8_t *out)
{
    const int32_t c = p->in.c;
    const size_t pixels = (size_t)p->in.h * p->in.w;
    size_t pix;
    int32_t k;

    for (pix = 0; pix < pixels; ++pix) {
        int8_t *dst = out + pix * p->out_c + p->c_offset;

        for (k = 0; k < c; ++k)
            dst[k] = bnn_requant_i8((int64_t)in[pix * c + k] - p->in_zero, p->multiplier,
                                    p->shift, p->out_zero, INT8_MIN, INT8_MAX);
    }
}

/* Write the n (1..64) low bits of v at bit offset `bit` of dst, keeping the others. */
static void put_bits(uint64_t *dst, int32_t bit, uint64_t v, int32_t n)
{
    const uint64_t mask = n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
    const int32_t word = bit / 64, shift = bit % 64;

    dst[word] = (dst[word] & ~(mask << shift)) | (v << shift);
    if (shift + n > 64)
        dst[word + 1] = (dst[word + 1] & ~(mask >> (64 - shift))) | (v >> (64 - shift));
}

void bnn_concat_bits_part_ref(const struct bnn_concat_part_params *p, const uint64_t *in,
                              uint64_t *out)
{
    const int32_t in_words = BNN_WORDS(p->in.c), out_words = BNN_WORDS(p->out_c);
    const size_t pixels = (size_t)p->in.h * p->in.w;
    const int32_t ends_output = p->c_offset + p->in.c == p->out_c;
    size_t pix;
    int32_t i;

    for (pix = 0; pix < pixels; ++pix) {
        uint64_t *dst = out + pix * out_words;

        for (i = 0; i < in_words; ++i)
            put_bits(dst, p->c_offset + 64 * i, in[pix * in_words + i],
                     bnn_min_i32(64, p->in.c - 64 * i));
        if (ends_output)
            dst[out_words - 1] &= bnn_tail_mask(p->out_c);
    }
}
