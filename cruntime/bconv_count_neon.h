/* Raw binary window counts with NEON (aarch64 and armv7), for the kernels whose
 * output stage needs popcount(x ^ w) itself rather than a binary conv's output:
 * XNOR-Net's input scaling (bconv_k_neon.c: y times the pixel's K) and ternary
 * weights on bits (ternary_conv_neon.c: two planes per output channel).
 *
 * A tile is up to BNN_COUNT_PIXELS windows x 4 weight streams: each loaded input
 * vector serves the 4 streams and each weight vector every window, so the inner
 * loop is EOR + CNT + UADALP per 128 bits of a (window, stream) pair. In the
 * [h][w][words] layout the in-bounds taps of one kernel row are contiguous in the
 * input and in the weights, so a window is `rows` runs of `words` words (a span):
 * whole windows and clipped border ones alike, with no copy. The u16 lanes take
 * at most 16 per step of two words: BNN_COUNT_MAX_STEPS steps a window. */
#ifndef BCONV_COUNT_NEON_H
#define BCONV_COUNT_NEON_H

#include <arm_neon.h>

#include "bnn_bits.h"
#include "bnn_groups.h"
#include "conv_i8_neon.h"

#if defined(__aarch64__)
#define BNN_COUNT_PIXELS 4 /* 16 accumulators + 4 weights + input of 32 registers */
#else
#define BNN_COUNT_PIXELS 2 /* armv7 has 16 q registers: 8 + 4 + 2 */
#endif
#define BNN_COUNT_MAX_STEPS 4095 /* 4095 * 16 < 65536: u16 lanes never wrap */

/* The in-bounds taps of a window: `rows` runs of `words` words, x_pitch words apart
 * in the input from x_at, w_pitch apart in a stream's weights from w_at. */
struct bnn_count_span {
    int32_t rows, words, x_pitch, w_pitch;
    size_t x_at, w_at;
};

/* The span of taps t of a conv of window win on input in (one group, no dilation). */
static inline void bnn_count_span(const struct bnn_window *win, const struct bnn_shape *in,
                                  const struct bnn_taps *t, struct bnn_count_span *s)
{
    const int32_t cw = BNN_WORDS(in->c);

    s->rows = t->kh1 - t->kh0;
    s->words = (t->kw1 - t->kw0) * cw;
    s->x_pitch = in->w * cw;
    s->w_pitch = win->kernel_w * cw;
    s->x_at = s->w_at = 0;
    if (s->rows == 0 || s->words == 0) { /* a window wholly in the padding */
        s->rows = 0;
        return;
    }
    s->x_at = ((size_t)(t->iy + t->kh0) * in->w + t->ix + t->kw0) * cw;
    s->w_at = ((size_t)t->kh0 * win->kernel_w + t->kw0) * cw;
}

/* Whether every window of the conv fits the u16 lanes. */
static inline int bnn_count_fits(const struct bnn_window *win, const struct bnn_shape *in)
{
    return (int64_t)win->kernel_h * ((win->kernel_w * BNN_WORDS(in->c) + 1) / 2) <=
           BNN_COUNT_MAX_STEPS;
}

/* popcount(x ^ w) of window q x stream k into lane k of d[q], q < np (a constant
 * after inlining); x[q] and w[k] point at the span's first word. */
BNN_GROUP_INLINE void bnn_count4(const struct bnn_count_span *s, int32_t np,
                                 const uint64_t *const *x, const uint64_t *const *w,
                                 int32x4_t *d)
{
    uint16x8_t a[BNN_COUNT_PIXELS][4];
    uint64x2_t wv[4];
    int32_t r, j, q, k;

    for (q = 0; q < np; ++q)
        for (k = 0; k < 4; ++k)
            a[q][k] = vdupq_n_u16(0);
    for (r = 0; r < s->rows; ++r) {
        const size_t xo = (size_t)r * s->x_pitch, wo = (size_t)r * s->w_pitch;

        for (j = 0; j + 2 <= s->words; j += 2) {
            for (k = 0; k < 4; ++k)
                wv[k] = vld1q_u64(w[k] + wo + j);
            for (q = 0; q < np; ++q) {
                const uint64x2_t xv = vld1q_u64(x[q] + xo + j);

                for (k = 0; k < 4; ++k)
                    a[q][k] = vpadalq_u8(a[q][k], vcntq_u8(vreinterpretq_u8_u64(
                                                      veorq_u64(xv, wv[k]))));
            }
        }
        if (j < s->words) { /* an odd run's last word, paired with zero */
            const uint64x1_t zero = vdup_n_u64(0);

            for (k = 0; k < 4; ++k)
                wv[k] = vcombine_u64(vld1_u64(w[k] + wo + j), zero);
            for (q = 0; q < np; ++q) {
                const uint64x2_t xv = vcombine_u64(vld1_u64(x[q] + xo + j), zero);

                for (k = 0; k < 4; ++k)
                    a[q][k] = vpadalq_u8(a[q][k], vcntq_u8(vreinterpretq_u8_u64(
                                                      veorq_u64(xv, wv[k]))));
            }
        }
    }
    for (q = 0; q < np; ++q)
        d[q] = bnn_lane_sums4_s32(vreinterpretq_s32_u32(vpaddlq_u16(a[q][0])),
                                  vreinterpretq_s32_u32(vpaddlq_u16(a[q][1])),
                                  vreinterpretq_s32_u32(vpaddlq_u16(a[q][2])),
                                  vreinterpretq_s32_u32(vpaddlq_u16(a[q][3])));
}

/* popcount of a stream's weights w (its tap (0, 0)) over the padded taps of t: what
 * one padding (x bit 0 at those taps) adds to popcount(x ^ w). */
static inline int32_t bnn_count_padded(const struct bnn_window *win, int32_t cw,
                                       const uint64_t *w, const struct bnn_taps *t)
{
    int32_t kh, kw, n = 0;

    for (kh = 0; kh < win->kernel_h; ++kh)
        for (kw = 0; kw < win->kernel_w; ++kw)
            if (kh < t->kh0 || kh >= t->kh1 || kw < t->kw0 || kw >= t->kw1)
                n += bnn_popcount_words(w + ((size_t)kh * win->kernel_w + kw) * cw, cw);
    return n;
}

/* popcount of window x (at the span's first word) over the span: its -1 inputs. */
static inline int32_t bnn_count_ones(const struct bnn_count_span *s, const uint64_t *x)
{
    int32_t r, n = 0;

    for (r = 0; r < s->rows; ++r)
        n += bnn_popcount_words(x + (size_t)r * s->x_pitch, s->words);
    return n;
}

/* What a bnn_group_fn of a count kernel starts with: for the n windows of output pixels
 * (oy, ox .. ox + n - 1) of a conv on input bits, the span of the taps t (of the
 * first one), each window's first word and output pixel, whether one padding adds
 * padded taps (a border window: n == 1 then); their output words are zeroed when
 * out_bits is set, before the bits are ORed in. */
struct bnn_count_group {
    struct bnn_count_span s;
    const uint64_t *x[BNN_COUNT_PIXELS];
    size_t pix[BNN_COUNT_PIXELS];
    int padded;
};

static inline void bnn_count_group(const struct bnn_window *win, const struct bnn_shape *in,
                                   const struct bnn_shape *out, int32_t pad_one,
                                   const uint64_t *bits, int32_t oy, int32_t ox, int32_t n,
                                   const struct bnn_taps *t, uint64_t *out_bits,
                                   struct bnn_count_group *g)
{
    const int32_t cw = BNN_WORDS(in->c), out_words = BNN_WORDS(out->c);
    int32_t q, j;

    bnn_count_span(win, in, t, &g->s);
    g->padded = pad_one && !bnn_taps_full(win, t);
    for (q = 0; q < n; ++q) {
        g->x[q] = bits + g->s.x_at + (size_t)q * win->stride_w * cw;
        g->pix[q] = (size_t)oy * out->w + ox + q;
        for (j = 0; out_bits && j < out_words; ++j)
            out_bits[g->pix[q] * out_words + j] = 0;
    }
}

/* popcount(x ^ w) of the group's window q x stream k, plus (g->padded) the stream's
 * weight popcount over the padded taps, into c[q][k], q < n; plane[k] is stream k's
 * tap (0, 0). */
BNN_GROUP_INLINE void bnn_count4_group(const struct bnn_window *win, int32_t cw,
                                       const struct bnn_count_group *g,
                                       const struct bnn_taps *t, int32_t n,
                                       const uint64_t *const *plane, int32_t (*c)[4])
{
    const uint64_t *w[4];
    int32_t pad[4] = {0, 0, 0, 0}, q, k;
    int32x4_t d[BNN_COUNT_PIXELS];

    for (k = 0; k < 4; ++k) {
        w[k] = plane[k] + g->s.w_at;
        if (g->padded)
            pad[k] = bnn_count_padded(win, cw, plane[k], t);
    }
    bnn_count4(&g->s, n, g->x, w, d);
    for (q = 0; q < n; ++q)
        vst1q_s32(c[q], vaddq_s32(d[q], vld1q_s32(pad)));
}

#endif /* BCONV_COUNT_NEON_H */
