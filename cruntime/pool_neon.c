/* Pools with NEON (aarch64 and armv7), bit-exact with pool_ref.c; padded
 * taps take no part, as there.
 *
 * max: 16 channels per vmaxq_s8 over the in-bounds taps (a window without any
 * gives -128), 64 channels at a time over a table of the window's taps, so that
 * one offset load per tap serves four vectors and interior windows need no
 * clipping (cifar_bnn's 2x2 max-pool of 256 channels at 16x16: 63.2 K aarch64
 * instructions with one vector per two nested tap loops, 20.0 K now).
 * bits: the AND (or_mask's channels: the OR) of two words per vector over the
 * same tap table (the reference's per-word tap loops took 41.6 K aarch64
 * instructions on cifar_bnn's 2x2 pool of 128 channels at 32x32, 25.9 K now).
 * average: sum(q - Z) over the in-bounds taps in int32 lanes, then
 * round_div(sum, count) = sign * floor((|sum| + count / 2) / count) with the
 * division as a multiply: floor(a / d) = (a * ceil(2^31 / d)) >> 31 is exact
 * for a < 2^N when N + ceil(log2 d) <= 31 (Lemire, Kaser and Kurz, "Faster
 * remainder by direct computation", 2019); a < 256 * d <= 2^19 and d <= 2^11
 * for windows up to AVG_MAX_TAPS, so 19 + 11 <= 31. Larger windows go to the
 * reference. Output rows [row_begin, row_end) are independent: the split can
 * go to threads. */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#include "bnn_bits.h"

#if defined(__GNUC__)
#define POOL_INLINE static inline __attribute__((always_inline))
#else
#define POOL_INLINE static inline
#endif

#define AVG_MAX_TAPS 2048

/* Windows of at most POOL_MAX_TAPS taps run from tap tables (max and bit
 * max-pools; larger ones run the reference). */
#define POOL_MAX_TAPS 64

/* The in-bounds taps of one window: offsets (in elements of the input) from
 * the element `first`; interior windows share the table of the whole window,
 * built once per call, so that a window is one loop over its taps with no
 * clipping, whatever its kernel. */
struct pool_taps {
    ptrdiff_t whole[POOL_MAX_TAPS]; /* the whole window's, from its top-left tap */
    ptrdiff_t clipped[POOL_MAX_TAPS];
    int32_t n_whole;
    int32_t lo, hi; /* output columns whose windows lie inside the input horizontally */
};

static void pool_taps_init(const struct bnn_window *win, const struct bnn_shape *in,
                           const struct bnn_shape *out, size_t elems, struct pool_taps *pt)
{
    const int32_t last = in->w - win->kernel_w + win->pad_left; /* largest ox * stride */
    int32_t kh, kw;

    pt->n_whole = 0;
    for (kh = 0; kh < win->kernel_h; ++kh)
        for (kw = 0; kw < win->kernel_w; ++kw)
            pt->whole[pt->n_whole++] = ((ptrdiff_t)kh * in->w + kw) * (ptrdiff_t)elems;
    pt->lo = (win->pad_left + win->stride_w - 1) / win->stride_w;
    pt->hi = last < 0 ? 0 : bnn_min_i32(last / win->stride_w + 1, out->w);
    if (pt->hi < pt->lo)
        pt->hi = pt->lo;
}

/* The in-bounds taps of border pixel (oy, ox)'s window into pt->clipped,
 * from element 0 of the input; returns their count. */
static int32_t border_taps(const struct bnn_window *win, const struct bnn_shape *in,
                           size_t elems, struct pool_taps *pt, int32_t oy, int32_t ox)
{
    struct bnn_taps t;
    int32_t kh, kw, n = 0;

    bnn_clip_window(win, in, oy, ox, &t);
    for (kh = t.kh0; kh < t.kh1; ++kh)
        for (kw = t.kw0; kw < t.kw1; ++kw)
            pt->clipped[n++] = ((ptrdiff_t)(t.iy + kh) * in->w + t.ix + kw) * (ptrdiff_t)elems;
    return n;
}

/* Output pixel (oy, ox)'s taps: the table (whole or clipped) and its count,
 * from element *first of the input. rows_inside: whether the window's rows
 * all lie inside the input. */
POOL_INLINE const ptrdiff_t *pool_window(const struct bnn_window *win,
                                         const struct bnn_shape *in, size_t elems,
                                         struct pool_taps *pt, int32_t oy, int32_t ox,
                                         int rows_inside, size_t *first, int32_t *n)
{
    if (rows_inside && ox >= pt->lo && ox < pt->hi) {
        *first = ((size_t)(oy * win->stride_h - win->pad_top) * (size_t)in->w +
                  (size_t)(ox * win->stride_w - win->pad_left)) * elems;
        *n = pt->n_whole;
        return pt->whole;
    }
    *first = 0;
    *n = border_taps(win, in, elems, pt, oy, ox);
    return pt->clipped;
}

/* Whether output row oy's windows lie inside the input vertically. */
static int pool_rows_inside(const struct bnn_window *win, const struct bnn_shape *in, int32_t oy)
{
    const int32_t iy = oy * win->stride_h - win->pad_top;

    return iy >= 0 && iy + win->kernel_h <= in->h;
}

/* Output pixel pix's window of a tap-table pool: its taps off[0..n) from element
 * first of the input. */
typedef void pool_pixel_fn(const void *ctx, const ptrdiff_t *off, int32_t n, size_t first,
                           size_t pix);

/* Every window of output rows [row_begin, row_end) of a pool over elems elements
 * per pixel, from its tap table; inlined with a constant fn, each pool gets its own
 * copy. */
POOL_INLINE void pool_windows(const struct bnn_window *win, const struct bnn_shape *in,
                              const struct bnn_shape *out, size_t elems, pool_pixel_fn *fn,
                              const void *ctx, int32_t row_begin, int32_t row_end)
{
    struct pool_taps pt;
    int32_t oy, ox, n;

    pool_taps_init(win, in, out, elems, &pt);
    for (oy = row_begin; oy < row_end; ++oy) {
        const int inside = pool_rows_inside(win, in, oy);

        for (ox = 0; ox < out->w; ++ox) {
            size_t first;
            const ptrdiff_t *off = pool_window(win, in, elems, &pt, oy, ox, inside, &first, &n);

            fn(ctx, off, n, first, (size_t)oy * out->w + ox);
        }
    }
}

/* The max of n (1 or 4, a constant after inlining) vectors of channels from
 * x over the taps off[0..taps), stored at dst. */
POOL_INLINE void max_vectors(const int8_t *x, const ptrdiff_t *off, int32_t taps, int n,
                             int8_t *dst)
{
    int8x16_t m[4];
    int32_t k;
    int i;

    for (i = 0; i < n; ++i)
        m[i] = vdupq_n_s8(INT8_MIN);
    for (k = 0; k < taps; ++k)
        for (i = 0; i < n; ++i)
            m[i] = vmaxq_s8(m[i], vld1q_s8(x + off[k] + 16 * i));
    for (i = 0; i < n; ++i)
        vst1q_s8(dst + 16 * i, m[i]);
}

/* One max-pool call's input, output and channels (a copy: stores to out cannot
 * change it, so it stays in registers). */
struct max_call {
    const int8_t *in;
    int8_t *out;
    int32_t c;
    size_t pitch; /* bytes between output pixels */
};

/* The max of output pixel pix's window (a pool_pixel_fn). */
POOL_INLINE void max_pixel(const void *ctx, const ptrdiff_t *off, int32_t n, size_t first,
                           size_t pix)
{
    const struct max_call *call = ctx;
    const int32_t c = call->c, full = c / 16 * 16;
    const int8_t *x = call->in + first;
    int8_t *dst = call->out + pix * call->pitch;
    int32_t k, j;

    for (k = 0; k + 64 <= full; k += 64)
        max_vectors(x + k, off, n, 4, dst + k);
    for (; k < full; k += 16)
        max_vectors(x + k, off, n, 1, dst + k);
    for (; k < c; ++k) { /* the last 1..15 channels */
        int8_t m = INT8_MIN;

        for (j = 0; j < n; ++j)
            m = x[off[j] + k] > m ? x[off[j] + k] : m;
        dst[k] = m;
    }
}

void bnn_maxpool_i8_neon(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end)
{
    const struct max_call call = {in, out, p->in.c, bnn_pool_out_pitch(p)};

    if (p->win.kernel_h * p->win.kernel_w > POOL_MAX_TAPS) {
        bnn_maxpool_i8_ref(p, in, out, row_begin, row_end);
        return;
    }
    pool_windows(&p->win, &p->in, &p->out, (size_t)p->in.c, max_pixel, &call, row_begin,
                 row_end);
}

/* The AND and the OR of n (1 or 2, a constant after inlining) vectors of
 * words from x over the taps off[0..taps), each word's channels picked by
 * or_mask, stored at dst. */
POOL_INLINE void bits_vectors(const uint64_t *x, const ptrdiff_t *off, int32_t taps, int n,
                              const uint64_t *or_mask, uint64_t *dst)
{
    uint64x2_t all[2], any[2];
    int32_t k;
    int j;

    for (j = 0; j < n; ++j)
        all[j] = vdupq_n_u64(~(uint64_t)0), any[j] = vdupq_n_u64(0);
    for (k = 0; k < taps; ++k)
        for (j = 0; j < n; ++j) {
            const uint64x2_t v = vld1q_u64(x + off[k] + 2 * j);

            all[j] = vandq_u64(all[j], v), any[j] = vorrq_u64(any[j], v);
        }
    for (j = 0; j < n; ++j)
        vst1q_u64(dst + 2 * j, vbslq_u64(vld1q_u64(or_mask + 2 * j), any[j], all[j]));
}

/* One bit max-pool call's input, output, or_mask, words per pixel and the valid bits
 * of the last (copies, as struct max_call). */
struct bits_call {
    const uint64_t *in;
    uint64_t *out;
    const uint64_t *or_mask;
    int32_t cw;
    uint64_t tail;
};

/* The AND (or_mask's channels: the OR) of output pixel pix's window (a
 * pool_pixel_fn). */
POOL_INLINE void bits_pixel(const void *ctx, const ptrdiff_t *off, int32_t n, size_t first,
                            size_t pix)
{
    const struct bits_call *call = ctx;
    const uint64_t *or_mask = call->or_mask;
    const int32_t cw = call->cw;
    const uint64_t *x = call->in + first;
    uint64_t *dst = call->out + pix * cw;
    int32_t i, j;

    for (i = 0; i + 4 <= cw; i += 4)
        bits_vectors(x + i, off, n, 2, or_mask + i, dst + i);
    for (; i + 2 <= cw; i += 2)
        bits_vectors(x + i, off, n, 1, or_mask + i, dst + i);
    if (i < cw) { /* an odd last word */
        uint64_t all = ~(uint64_t)0, any = 0;

        for (j = 0; j < n; ++j)
            all &= x[off[j] + i], any |= x[off[j] + i];
        dst[i] = (all & ~or_mask[i]) | (any & or_mask[i]);
    }
    /* a window with no in-bounds tap would set the unused bits */
    dst[cw - 1] &= call->tail;
}

void bnn_bmaxpool_neon(const struct bnn_bmaxpool_params *p, const uint64_t *in, uint64_t *out,
                       int32_t row_begin, int32_t row_end)
{
    const struct bits_call call = {in, out, p->or_mask, BNN_WORDS(p->in.c),
                                   bnn_tail_mask(p->in.c)};

    if (p->win.kernel_h * p->win.kernel_w > POOL_MAX_TAPS) {
        bnn_bmaxpool_ref(p, in, out, row_begin, row_end);
        return;
    }
    pool_windows(&p->win, &p->in, &p->out, (size_t)call.cw, bits_pixel, &call, row_begin,
                 row_end);
}

/* Z + round_div(sum, d) of four lanes, d > 0, with recip = ceil(2^31 / d). */
static int32x4_t avg4(int32x4_t sum, uint32_t half, uint32_t recip, int32x4_t zero)
{
    const uint32x4_t neg = vcltq_s32(sum, vdupq_n_s32(0));
    const uint32x4_t a = vaddq_u32(vreinterpretq_u32_s32(vabsq_s32(sum)), vdupq_n_u32(half));
    const uint32x2_t lo = vshrn_n_u64(vmull_n_u32(vget_low_u32(a), recip), 31);
    const uint32x2_t hi = vshrn_n_u64(vmull_n_u32(vget_high_u32(a), recip), 31);
    const int32x4_t q = vreinterpretq_s32_u32(vcombine_u32(lo, hi));

    return vaddq_s32(vbslq_s32(neg, vnegq_s32(q), q), zero);
}

/* The averages of channels [k, k + 16) of the window t. */
static int8x16_t avg16(const struct bnn_pool_i8_params *p, const int8_t *in,
                       const struct bnn_taps *t, int32_t k, int32_t count)
{
    const int8x8_t zero8 = vdup_n_s8((int8_t)p->zero_point);
    const int32x4_t zero = vdupq_n_s32(p->zero_point);
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    uint32_t recip;
    int32_t kh, kw;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix) * p->in.c + k;

        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8x16_t v = vld1q_s8(x + (size_t)kw * p->in.c);
            const int16x8_t d0 = vsubl_s8(vget_low_s8(v), zero8);
            const int16x8_t d1 = vsubl_s8(vget_high_s8(v), zero8);

            s0 = vaddw_s16(s0, vget_low_s16(d0)), s1 = vaddw_s16(s1, vget_high_s16(d0));
            s2 = vaddw_s16(s2, vget_low_s16(d1)), s3 = vaddw_s16(s3, vget_high_s16(d1));
        }
    }
    if (count == 0) /* no in-bounds tap: the zero point */
        return vdupq_n_s8((int8_t)p->zero_point);
    recip = (uint32_t)((((uint64_t)1 << 31) + (uint64_t)count - 1) / (uint64_t)count);
    s0 = avg4(s0, (uint32_t)count / 2, recip, zero), s1 = avg4(s1, (uint32_t)count / 2, recip, zero);
    s2 = avg4(s2, (uint32_t)count / 2, recip, zero), s3 = avg4(s3, (uint32_t)count / 2, recip, zero);
    return vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(s0), vqmovn_s32(s1))),
                       vqmovn_s16(vcombine_s16(vqmovn_s32(s2), vqmovn_s32(s3))));
}

void bnn_avgpool_i8_neon(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end)
{
    const int32_t c = p->in.c, full = c / 16 * 16;
    int32_t oy, ox, k;

    if (p->win.kernel_h * p->win.kernel_w > AVG_MAX_TAPS || p->zero_point < INT8_MIN ||
        p->zero_point > INT8_MAX || full < c) {
        bnn_avgpool_i8_ref(p, in, out, row_begin, row_end);
        return;
    }
    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            int8_t *dst = out + ((size_t)oy * p->out.w + ox) * bnn_pool_out_pitch(p);
            struct bnn_taps t;
            int32_t count;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            count = p->count_include_pad ? p->win.kernel_h * p->win.kernel_w
                                         : (t.kh1 - t.kh0) * (t.kw1 - t.kw0);
            for (k = 0; k < full; k += 16)
                vst1q_s8(dst + k, avg16(p, in, &t, k, count));
        }
    }
}

#endif /* BNN_USE_NEON */
