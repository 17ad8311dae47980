/* XNOR-Net's input scaling with NEON (aarch64 and armv7), bit-exact with
 * bconv_k_ref.c.
 *
 * K: in the HWC layout the in-bounds taps of one kernel row are contiguous in
 * x, so a window's sum of |x - Z| is one absolute-difference pass (VABD,
 * pairwise widening adds) per kernel row, or per tap when dilated.
 * y: for one group and no dilation, the same rows of bits against the
 * channel's weights, two words at a time (EOR, CNT, pairwise widening add);
 * grouped and dilated convs, and border pixels under +1 padding, take the
 * reference's dot product. */
#include "bconv_k.h"

#if BNN_USE_NEON
#include <arm_neon.h>

#include "bnn_bits.h"

/* Longest row (in words) whose popcounts a 16-bit lane holds: 8 per lane and word pair. */
#define BCONV_K_MAX_ROW_WORDS 4096

static uint32_t sum_u32x4(uint32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_u32(v);
#else
    return vgetq_lane_u32(v, 0) + vgetq_lane_u32(v, 1) + vgetq_lane_u32(v, 2) +
           vgetq_lane_u32(v, 3);
#endif
}

/* sum of |x[i] - z| over n bytes; 16-bit lanes gather at most 64 vectors (510 each). */
static uint32_t abs_sum(const int8_t *x, int32_t n, int8_t z)
{
    const int8x16_t zero = vdupq_n_s8(z);
    uint32x4_t acc = vdupq_n_u32(0);
    uint32_t total;
    int32_t i = 0;

    while (i + 16 <= n) {
        const int32_t stop = n - i > 16 * 64 ? i + 16 * 64 : n;
        uint16x8_t part = vdupq_n_u16(0);

        for (; i + 16 <= stop; i += 16)
            part = vpadalq_u8(part, vreinterpretq_u8_s8(vabdq_s8(vld1q_s8(x + i), zero)));
        acc = vpadalq_u16(acc, part);
    }
    total = sum_u32x4(acc);
    for (; i < n; ++i)
        total += (uint32_t)(x[i] >= z ? x[i] - z : z - x[i]);
    return total;
}

static int64_t window_abs_sum(const struct bnn_bconv_k_params *p, const int8_t *x,
                              const struct bnn_taps *t)
{
    const struct bnn_bconv_params *c = &p->conv;
    int64_t k = 0;
    int32_t kh, kw;

    if (!c->general) {
        for (kh = t->kh0; kh < t->kh1; ++kh)
            k += abs_sum(x + ((size_t)(t->iy + kh) * c->in.w + t->ix + t->kw0) * c->in.c,
                         (t->kw1 - t->kw0) * c->in.c, (int8_t)p->x_zero);
        return k;
    }
    for (kh = 0; kh < c->win.kernel_h; ++kh) {
        for (kw = 0; kw < c->win.kernel_w; ++kw) {
            const int32_t iy = t->iy + kh * c->general->dilation_h;
            const int32_t ix = t->ix + kw * c->general->dilation_w;

            if (iy >= 0 && iy < c->in.h && ix >= 0 && ix < c->in.w)
                k += abs_sum(x + ((size_t)iy * c->in.w + ix) * c->in.c, c->in.c,
                             (int8_t)p->x_zero);
        }
    }
    return k;
}

/* popcount(x ^ w) over the in-bounds taps of window t, w the channel's weights. */
static int32_t differ(const struct bnn_bconv_params *c, const uint64_t *bits,
                      const struct bnn_taps *t, const uint64_t *w)
{
    const int32_t cw = BNN_WORDS(c->in.c), n = (t->kw1 - t->kw0) * cw;
    uint32x4_t acc = vdupq_n_u32(0);
    int32_t kh, j, d = 0;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        const uint64_t *xr = bits + ((size_t)(t->iy + kh) * c->in.w + t->ix + t->kw0) * cw;
        const uint64_t *wr = w + ((size_t)kh * c->win.kernel_w + t->kw0) * cw;
        uint16x8_t part = vdupq_n_u16(0);

        for (j = 0; j + 2 <= n; j += 2) {
            const uint8x16_t v = veorq_u8(vreinterpretq_u8_u64(vld1q_u64(xr + j)),
                                          vreinterpretq_u8_u64(vld1q_u64(wr + j)));

            part = vpadalq_u8(part, vcntq_u8(v));
        }
        if (j < n)
            d += bnn_popcount64(xr[j] ^ wr[j]);
        acc = vpadalq_u16(acc, part);
    }
    return d + (int32_t)sum_u32x4(acc);
}

void bnn_bconv_k_neon(const struct bnn_bconv_k_params *p, const uint64_t *bits, const int8_t *x,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct bnn_bconv_params *c = &p->conv;
    const size_t kernel_words = (size_t)c->win.kernel_h * c->win.kernel_w * BNN_WORDS(c->in.c);
    const int rows_ok = !c->general && c->win.kernel_w * BNN_WORDS(c->in.c) <=
                                           BCONV_K_MAX_ROW_WORDS;
    int32_t oy, ox, o;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < c->out.w; ++ox) {
            const size_t pix = (size_t)oy * c->out.w + ox;
            struct bnn_taps t;
            int64_t k;
            int32_t valid;
            int fast;

            bnn_clip_window(&c->win, &c->in, oy, ox, &t);
            k = window_abs_sum(p, x, &t);
            fast = rows_ok && (!c->pad_one || bnn_taps_full(&c->win, &t));
            valid = (t.kh1 - t.kh0) * (t.kw1 - t.kw0) * c->in.c;
            bnn_bconv_k_clear(p, pix, out_bits);
            for (o = 0; o < c->out.c; ++o) {
                const int32_t y = fast ? valid - 2 * differ(c, bits, &t,
                                                            c->weight + (size_t)o * kernel_words)
                                       : bnn_bconv_dot_ref(c, bits, &t, o);

                bnn_bconv_k_store(p, y, k, pix, o, out_i8, out_bits);
            }
        }
    }
}
#endif
