/* XNOR-Net's input scaling with NEON (aarch64 and armv7), bit-exact with
 * bconv_k_ref.c.
 *
 * K: in the HWC layout the in-bounds taps of one kernel row are contiguous in
 * x, so a window's sum of |x - Z| is one absolute-difference pass (VABD,
 * pairwise widening adds) per kernel row, once per output pixel.
 * y: the binary conv's popcount(x ^ w) from the count tile (bconv_count_neon.h),
 * BNN_COUNT_PIXELS whole windows x 4 output channels at once, border windows one
 * at a time over their in-bounds taps: y = valid - 2 * popcount for zero padding;
 * one padding counts the padded taps as +1 inputs (y = full - 2 * (popcount +
 * the weights' popcount there)). Grouped and dilated convs run the reference. */
#include "bconv_k.h"

#if BNN_USE_NEON
#include <arm_neon.h>

#include "bconv_count_neon.h"

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

/* K of the window t (no dilation): one run of bytes per in-bounds kernel row. */
static int64_t window_abs_sum(const struct bnn_bconv_k_params *p, const int8_t *x,
                              const struct bnn_taps *t)
{
    const struct bnn_bconv_params *c = &p->conv;
    int64_t k = 0;
    int32_t kh;

    for (kh = t->kh0; kh < t->kh1; ++kh)
        k += abs_sum(x + ((size_t)(t->iy + kh) * c->in.w + t->ix + t->kw0) * c->in.c,
                     (t->kw1 - t->kw0) * c->in.c, (int8_t)p->x_zero);
    return k;
}

/* One call: parameters, inputs and output. */
struct k_call {
    const struct bnn_bconv_k_params *p;
    const uint64_t *bits;
    const int8_t *x;
    int8_t *out_i8;
    uint64_t *out_bits;
};

/* Output pixels (oy, ox .. ox + n - 1), every output channel (a bnn_group_fn). */
BNN_GROUP_INLINE void k_pixels(const void *ctx, int32_t oy, int32_t ox, int32_t n,
                               const struct bnn_taps *t)
{
    const struct k_call *call = ctx;
    const struct bnn_bconv_k_params *p = call->p;
    const struct bnn_bconv_params *c = &p->conv;
    const int32_t cw = BNN_WORDS(c->in.c), k_words = c->win.kernel_h * c->win.kernel_w * cw;
    /* y = base - 2 * (popcount + the padded taps' weight popcount) */
    const int32_t base = c->pad_one ? c->win.kernel_h * c->win.kernel_w * c->in.c
                                    : (t->kh1 - t->kh0) * (t->kw1 - t->kw0) * c->in.c;
    struct bnn_count_group g;
    int64_t k[BNN_COUNT_PIXELS];
    int32_t o, q, j;

    bnn_count_group(&c->win, &c->in, &c->out, c->pad_one, call->bits, oy, ox, n, t,
                    call->out_bits, &g);
    for (q = 0; q < n; ++q) {
        struct bnn_taps tq = *t;

        tq.ix += q * c->win.stride_w;
        k[q] = window_abs_sum(p, call->x, &tq);
    }
    for (o = 0; o < c->out.c; o += 4) {
        const int32_t m = bnn_min_i32(4, c->out.c - o); /* channels of this tile */
        const uint64_t *plane[4];
        int32_t counts[BNN_COUNT_PIXELS][4];

        for (j = 0; j < 4; ++j) /* past the last channel: the last one again */
            plane[j] = c->weight + (size_t)(o + bnn_min_i32(j, m - 1)) * k_words;
        bnn_count4_group(&c->win, cw, &g, t, n, plane, counts);
        for (q = 0; q < n; ++q)
            for (j = 0; j < m; ++j)
                bnn_bconv_k_store(p, base - 2 * counts[q][j], k[q], g.pix[q], o + j,
                                  call->out_i8, call->out_bits);
    }
}

int bnn_bconv_k_neon(const struct bnn_bconv_k_params *p, const uint64_t *bits, const int8_t *x,
                     int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct k_call call = {p, bits, x, out_i8, out_bits};

    if (p->conv.general || !bnn_count_fits(&p->conv.win, &p->conv.in))
        return 0;
    bnn_window_groups(&p->conv.win, &p->conv.in, p->conv.out.w, BNN_COUNT_PIXELS, k_pixels,
                      &call, row_begin, row_end);
    return 1;
}
#endif
