/* Binary convolution, the fast path of builds without SIMD (the generic
 * target, x86 without AVX2) and of dilated and grouped convs on every target
 * (groups whose channels are whole words; others run the reference):
 * bit-exact with bconv_ref.c.
 *
 * Word-wise popcount (a single instruction with -mpopcnt on x86; on NEON
 * builds VCNT over word pairs, below). In the [h][w][words] layout the
 * in-bounds taps of one kernel row are contiguous in the input and in the
 * weights, so a window is a short list of segments: one per in-bounds kernel
 * row, plus, in `one` padding mode, the padded taps, whose input bits are 0
 * (+1) and so differ wherever the weight bit is 1. A dilated or grouped
 * window has a segment per tap (a group's segment is its words of the tap).
 * The segments are found once per output pixel and reused for every output
 * channel (of every group: a group's words start xoff words further); four
 * channels run together so that each input word is loaded once for four
 * weights. */
#include "bnn_bits.h"
#include "bnn_internal.h"
#include "bnn_requant.h"

#if BNN_USE_NEON
#include <arm_neon.h>
#endif

/* Enough for kernels up to 16 rows (three segments per row at most); taller
 * windows (binary linear layers on large maps) take the per-channel path. */
#define BNN_MAX_SEGMENTS 48
#define BNN_Y_BLOCK 64

/* The window of one output pixel as segments of words. x[s] == NULL marks
 * padded +1 taps: they differ from the weight where the weight bit is 1. */
struct bnn_segments {
    const uint64_t *x[BNN_MAX_SEGMENTS];
    int32_t w_off[BNN_MAX_SEGMENTS];
    int32_t n[BNN_MAX_SEGMENTS];
    int32_t count;
    int32_t k; /* elements that count: y = k - 2 * differ */
};

static void add_segment(struct bnn_segments *s, const uint64_t *x, int32_t w_off, int32_t n)
{
    int32_t last = s->count - 1;

    if (n <= 0)
        return;
    if (x == NULL && last >= 0 && s->x[last] == NULL && s->w_off[last] + s->n[last] == w_off) {
        s->n[last] += n; /* padded taps next to each other in the weights */
        return;
    }
    s->x[s->count] = x;
    s->w_off[s->count] = w_off;
    s->n[s->count] = n;
    s->count++;
}

/* Segments of a dilated or grouped window for group 0 (the others' words start
 * g * words(in.c / groups) further): taps are apart in the input, so each is
 * its own segment (padded ones still merge); 0 if there are too many. */
static int32_t general_segments(const struct bnn_bconv_params *p, const uint64_t *in,
                                const struct bnn_taps *t, struct bnn_segments *s)
{
    const int32_t cw = BNN_WORDS(p->in.c), c = p->in.c / p->general->groups;
    const int32_t gw = BNN_WORDS(c);
    const int32_t dh = p->general->dilation_h, dw = p->general->dilation_w;
    int32_t kh, kw, inside = 0;

    if (p->win.kernel_h * p->win.kernel_w > BNN_MAX_SEGMENTS)
        return 0;
    s->count = 0;
    for (kh = 0; kh < p->win.kernel_h; ++kh) {
        for (kw = 0; kw < p->win.kernel_w; ++kw) {
            const int32_t iy = t->iy + kh * dh, ix = t->ix + kw * dw;
            const int32_t w_off = (kh * p->win.kernel_w + kw) * gw;

            if (iy >= 0 && iy < p->in.h && ix >= 0 && ix < p->in.w) {
                add_segment(s, in + ((size_t)iy * p->in.w + ix) * cw, w_off, gw);
                inside++;
            } else if (p->pad_one) {
                add_segment(s, NULL, w_off, gw);
            }
        }
    }
    s->k = (p->pad_one ? p->win.kernel_h * p->win.kernel_w : inside) * c;
    return 1;
}

/* Segments of the window t; 0 if it has too many for struct bnn_segments. */
static int32_t window_segments(const struct bnn_bconv_params *p, const uint64_t *in,
                               const struct bnn_taps *t, struct bnn_segments *s)
{
    const int32_t cw = BNN_WORDS(p->in.c);
    const int32_t kw = p->win.kernel_w;
    const int32_t pad = p->pad_one;
    int32_t kh;

    if (p->general)
        return general_segments(p, in, t, s);
    if (3 * p->win.kernel_h > BNN_MAX_SEGMENTS)
        return 0;
    s->count = 0;
    for (kh = 0; kh < p->win.kernel_h; ++kh) {
        const int32_t row = kh * kw * cw;

        if (kh < t->kh0 || kh >= t->kh1) {
            if (pad)
                add_segment(s, NULL, row, kw * cw);
            continue;
        }
        if (pad)
            add_segment(s, NULL, row, t->kw0 * cw);
        add_segment(s, in + ((size_t)(t->iy + kh) * p->in.w + t->ix + t->kw0) * cw,
                    row + t->kw0 * cw, (t->kw1 - t->kw0) * cw);
        if (pad)
            add_segment(s, NULL, row + t->kw1 * cw, (kw - t->kw1) * cw);
    }
    s->k = (pad ? p->win.kernel_h * kw : (t->kh1 - t->kh0) * (t->kw1 - t->kw0)) * p->in.c;
    return 1;
}

#if BNN_USE_NEON
/* popcount(x ^ w) over a segment's word pairs and its odd last word, of 4
 * channels: VCNT then UADALP into u16 lanes (at most 16 a pair, so 4095
 * pairs before they are widened). */
static void differ4(const struct bnn_segments *s, int32_t xoff, const uint64_t *w,
                    size_t stride, int32_t *differ)
{
    uint32x4_t d[4];
    uint16x4_t odd[4];
    int32_t i, j, q;

    for (q = 0; q < 4; ++q)
        d[q] = vdupq_n_u32(0), odd[q] = vdup_n_u16(0);
    for (i = 0; i < s->count; ++i) {
        const uint8_t *x = s->x[i] ? (const uint8_t *)(s->x[i] + xoff) : NULL;
        const int32_t n = s->n[i];
        const uint8_t *wq[4];

        for (q = 0; q < 4; ++q)
            wq[q] = (const uint8_t *)(w + q * stride + s->w_off[i]);
        for (j = 0; j + 2 <= n;) {
            const int32_t stop = j + bnn_min_i32((n - j) / 2, 4095) * 2;
            uint16x8_t a[4];

            for (q = 0; q < 4; ++q)
                a[q] = vdupq_n_u16(0);
            for (; j < stop; j += 2) {
                const uint8x16_t v = x ? vld1q_u8(x + 8 * j) : vdupq_n_u8(0);

                for (q = 0; q < 4; ++q)
                    a[q] = vpadalq_u8(a[q], vcntq_u8(veorq_u8(v, vld1q_u8(wq[q] + 8 * j))));
            }
            for (q = 0; q < 4; ++q)
                d[q] = vpadalq_u16(d[q], a[q]);
        }
        if (j < n) {
            const uint8x8_t v = x ? vld1_u8(x + 8 * j) : vdup_n_u8(0);

            /* at most 48 odd words a window: 8 * 48 per u16 lane */
            for (q = 0; q < 4; ++q)
                odd[q] = vpadal_u8(odd[q], vcnt_u8(veor_u8(v, vld1_u8(wq[q] + 8 * j))));
        }
    }
    for (q = 0; q < 4; ++q) {
        const uint64x2_t sum = vpaddlq_u32(vaddw_u16(d[q], odd[q]));

        differ[q] = (int32_t)(vgetq_lane_u64(sum, 0) + vgetq_lane_u64(sum, 1));
    }
}
#else
/* differ[0..3] of output channels o..o+3 (weights w, w + stride, ...); the
 * group's input words start xoff words into each pixel's. */
static void differ4(const struct bnn_segments *s, int32_t xoff, const uint64_t *w,
                    size_t stride, int32_t *differ)
{
    const uint64_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    int32_t d0 = 0, d1 = 0, d2 = 0, d3 = 0, i, j;

    for (i = 0; i < s->count; ++i) {
        const uint64_t *x = s->x[i] ? s->x[i] + xoff : NULL;
        const int32_t off = s->w_off[i], n = s->n[i];

        if (x == NULL) {
            d0 += bnn_popcount_words(w0 + off, n);
            d1 += bnn_popcount_words(w1 + off, n);
            d2 += bnn_popcount_words(w2 + off, n);
            d3 += bnn_popcount_words(w3 + off, n);
            continue;
        }
        for (j = 0; j < n; ++j) {
            const uint64_t v = x[j];

            d0 += bnn_popcount64(v ^ w0[off + j]);
            d1 += bnn_popcount64(v ^ w1[off + j]);
            d2 += bnn_popcount64(v ^ w2[off + j]);
            d3 += bnn_popcount64(v ^ w3[off + j]);
        }
    }
    differ[0] = d0;
    differ[1] = d1;
    differ[2] = d2;
    differ[3] = d3;
}
#endif

static int32_t differ1(const struct bnn_segments *s, int32_t xoff, const uint64_t *w)
{
    int32_t d = 0, i;

    for (i = 0; i < s->count; ++i)
        d += s->x[i] == NULL ? bnn_popcount_words(w + s->w_off[i], s->n[i])
                             : bnn_popcount_xor(s->x[i] + xoff, w + s->w_off[i], s->n[i]);
    return d;
}

/* Dot products y of output channels [o0, o0 + count), count <= BNN_Y_BLOCK,
 * four at a time within each group. */
static void window_dots(const struct bnn_bconv_params *p, const struct bnn_segments *s,
                        int32_t o0, int32_t count, int32_t *y)
{
    const int32_t groups = p->general ? p->general->groups : 1;
    const int32_t og = p->out.c / groups, gw = BNN_WORDS(p->in.c / groups);
    const size_t kernel_words = (size_t)p->win.kernel_h * p->win.kernel_w * gw;
    int32_t o = 0, i;

    while (o < count) {
        const int32_t g = (o0 + o) / og, end = bnn_min_i32(count, (g + 1) * og - o0);

        for (; o + 4 <= end; o += 4) {
            differ4(s, g * gw, p->weight + (size_t)(o0 + o) * kernel_words, kernel_words, y + o);
            for (i = 0; i < 4; ++i)
                y[o + i] = s->k - 2 * y[o + i];
        }
        for (; o < end; ++o)
            y[o] = s->k - 2 * differ1(s, g * gw, p->weight + (size_t)(o0 + o) * kernel_words);
    }
}

/* y of channels [o0, o0 + count) at window t, by segments or channel by channel
 * (the reference's dot product). */
static void pixel_dots(const struct bnn_bconv_params *p, const uint64_t *in,
                       const struct bnn_taps *t, const struct bnn_segments *s, int32_t ok,
                       int32_t o0, int32_t count, int32_t *y)
{
    int32_t o;

    if (ok) {
        window_dots(p, s, o0, count, y);
        return;
    }
    for (o = 0; o < count; ++o)
        y[o] = bnn_bconv_dot_ref(p, in, t, o0 + o);
}

/* Output rows [row_begin, row_end) into out_bits (bits) or out_i8 (int8). */
static void run(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out_bits,
                int8_t *out_i8, int32_t row_begin, int32_t row_end)
{
    const size_t pixel_elems = out_bits ? (size_t)BNN_WORDS(p->out.c) : bnn_bconv_out_pitch(p);
    int32_t oy, ox, o0, o, ok;
    int32_t y[BNN_Y_BLOCK];

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            const size_t pix = (size_t)oy * p->out.w + ox;
            struct bnn_taps t;
            struct bnn_segments s;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            ok = window_segments(p, in, &t, &s);
            for (o0 = 0; o0 < p->out.c; o0 += BNN_Y_BLOCK) {
                const int32_t count = bnn_min_i32(BNN_Y_BLOCK, p->out.c - o0);

                pixel_dots(p, in, &t, &s, ok, o0, count, y);
                if (out_bits) { /* a block is one output word */
                    uint64_t word = 0;

                    for (o = 0; o < count; ++o)
                        word |= (uint64_t)(y[o] < p->threshold[o0 + o]) << o;
                    out_bits[pix * pixel_elems + o0 / 64] = word;
                } else {
                    for (o = 0; o < count; ++o)
                        out_i8[pix * pixel_elems + o0 + o] = bnn_bconv_output_i8(p, y[o], o0 + o);
                }
            }
        }
    }
}

void bnn_bconv_to_bits_portable(const struct bnn_bconv_params *p, const uint64_t *in,
                                uint64_t *out, int32_t row_begin, int32_t row_end)
{
    run(p, in, out, NULL, row_begin, row_end);
}

void bnn_bconv_to_i8_portable(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                              int32_t row_begin, int32_t row_end)
{
    run(p, in, NULL, out, row_begin, row_end);
}
