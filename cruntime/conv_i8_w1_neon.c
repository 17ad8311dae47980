/* INT8 activations x weight bit planes with NEON (aarch64 and armv7): conv_i8_w1
 * (1-bit weights, one plane) and conv_i8_w2 (ternary weights, two planes),
 * bit-exact with conv_i8_w1_ref.c and ternary_conv_ref.c.
 *
 * A plane's bit b becomes the byte mask m = -b (0 or 0xff), and a tile sums one
 * masked byte per value of a window (K = kernel_h * kernel_w * in.c values):
 * - conv_i8_w1: with w = 1 - 2b, w * q = (q ^ m) + b (q ^ 0xff = -q - 1), so
 *   acc = bias + sum(w * (q - Z)) = E + c with E = sum(q ^ m) and the per-channel
 *   constant c = bias + M - Z * (K - 2M), M the popcount of the channel's weights;
 * - conv_i8_w2: S_pos = sum over weight_pos's 1 bits of (q - Z) = E_pos - Z * M_pos
 *   with E_pos = sum(q & m_pos), S_neg likewise, so acc = bias + P * S_pos -
 *   N * S_neg = P * E_pos - N * E_neg + c, c = bias - Z * (P * M_pos - N * M_neg),
 *   in int64 as the reference.
 * Padded taps read a row of Z (they add w * (Z - Z) = 0, as the reference's
 * skipped taps), so every window has all K values and one constant per channel
 * serves the borders too; it is folded into the threshold (bits: acc < T iff
 * E < T - c, for w1 clamped: |E| < 2^31 - 1) or added (int8; w1 with saturation:
 * the reference's int64 acc saturated by the requant stage, when c fits int32;
 * else the reference runs), as in conv_i8_dot.c.
 *
 * A masked sum costs one EOR (w1) or AND (w2) and one SADALP per 16 values of a
 * (pixel, plane): int8 pairs into int16 lanes, at most 2 * 128 a call, so 127
 * steps before the lanes are widened into int32 sums. A tile is PL_PIXELS
 * consecutive output pixels x 4 mask streams (4 output channels of w1, the two
 * planes of 2 output channels of w2) whose masks were expanded from the bits
 * once per call (16 bytes per 16 values and stream, in the order the tile reads
 * them); per step one load of the 4 streams' masks and one per pixel: on
 * aarch64, 4 pixels, 37 instructions per 256 w1 MACs (128 w2 MACs). Input
 * channels that are not a multiple of 16: each tap's last step reads 16 bytes
 * and zeroes the lanes past in.c (their masks are 0 too, which is enough for
 * AND); where those 16 bytes would pass the end of the input they are copied
 * first.
 *
 * Handles in.c <= PL_MAX_CIN, kernels of up to PL_MAX_TAPS taps, windows whose
 * masks fit PL_MASK_BYTES (3x3 x 1024 channels), in_zero within int8; anything
 * else returns 0 and the reference runs. Stack: the 36 KiB mask block, a 4 KiB
 * row of Z, the tap pointers of one tile.
 *
 * Work is split by output rows, so a thread pool can hand out parts of one
 * call.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>
#include <string.h>

#include "bnn_bits.h"
#include "bnn_groups.h"
#include "bnn_masks_neon.h"
#include "conv_i8_neon.h"

#if defined(__aarch64__)
#define PL_PIXELS 4 /* 16 accumulators + 4 inputs + 4 masks of 32 registers */
#else
#define PL_PIXELS 2 /* armv7 has 16 q registers: 8 + 2 + 4 */
#endif
#define PL_STREAMS 4
#define PL_MAX_STEPS 127  /* SADALP calls an int16 lane holds: 127 * 256 < 2^15 */
#define PL_MAX_CIN 4096
#define PL_MAX_TAPS 121   /* 11x11 */
#define PL_MASK_BYTES 36864

/* What the tiles read of a call's parameters (struct bnn_conv_i8_w1_params or
 * struct bnn_ternary_conv_params). */
struct pl_conv {
    struct bnn_shape in, out;
    struct bnn_window win;
    int32_t in_zero;
};

static int pl_fits(const struct pl_conv *p)
{
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;

    return p->in.c <= PL_MAX_CIN && taps <= PL_MAX_TAPS &&
           (int64_t)taps * ((p->in.c + 15) / 16) * 16 * PL_STREAMS <= PL_MASK_BYTES &&
           p->in_zero >= INT8_MIN && p->in_zero <= INT8_MAX;
}

/* The masks of a block's 4 streams: per tap, per step of 16 input channels, the
 * streams' 16 byte masks; stream k from plane[k] (its [taps][BNN_WORDS(cin)]
 * words; NULL: zero masks), m[k] its popcount. */
static void pl_expand(const uint64_t *const *plane, int32_t taps, int32_t cin, int8_t *mask,
                      int64_t *m)
{
    const int32_t words = BNN_WORDS(cin), steps = (cin + 15) / 16;
    int32_t k, t, s;

    for (k = 0; k < PL_STREAMS; ++k) {
        m[k] = 0;
        for (t = 0; t < taps; ++t) {
            for (s = 0; s < steps; ++s) {
                const int32_t left = cin - 16 * s;
                uint32_t bits = 0;

                if (plane[k])
                    bits = (uint32_t)(plane[k][(size_t)t * words + s / 4] >> (16 * (s % 4))) &
                           0xffffu;
                if (left < 16)
                    bits &= (1u << left) - 1;
                m[k] += bnn_popcount64(bits);
                vst1q_s8(mask + (((size_t)t * steps + s) * PL_STREAMS + k) * 16,
                         bnn_spread_bits16(bits));
            }
        }
    }
}

/* The sums of the 8 int16 lanes of each of a0..a3, as one int32x4. */
static inline int32x4_t lane_sums(int16x8_t a0, int16x8_t a1, int16x8_t a2, int16x8_t a3)
{
    return bnn_lane_sums4_s32(vpaddlq_s16(a0), vpaddlq_s16(a1), vpaddlq_s16(a2),
                              vpaddlq_s16(a3));
}

/* Where the tile reads tap t of slot q's pixel: interior tiles (every window
 * whole) at base + q * step + off[t], others at x[q][t]. */
struct pl_src {
    int interior;
    const int8_t *base;
    ptrdiff_t step;
    const ptrdiff_t *off; /* [taps]: (kh * in.w + kw) * in.c */
    const int8_t *x[PL_PIXELS][PL_MAX_TAPS];
};

/* One step of one pixel: its 16 values v against the 4 streams' masks, ANDed (w2)
 * or XORed (w1). */
static inline void mac4(int16x8_t *a, int8x16_t v, const int8_t *mask, int and_op)
{
    int k;

    for (k = 0; k < PL_STREAMS; ++k) {
        const int8x16_t m = vld1q_s8(mask + 16 * k);

        a[k] = vpadalq_s8(a[k], and_op ? vandq_s8(v, m) : veorq_s8(v, m));
    }
}

/* The masked sums of the PL_PIXELS pixels of src x the block's 4 streams, e[q]
 * pixel q's 4 sums. Each tap: `full` steps of 16 channels, then, if tail, one of
 * the first `tail` channels (valid: 0xff in those lanes). Inlined with a constant
 * and_op, each kernel gets its own copy. */
BNN_GROUP_INLINE void pl_tile(const struct pl_src *src, int32_t taps, int32_t full,
                              int32_t tail, const int8_t *mask, int8x16_t valid, int and_op,
                              int32x4_t *e)
{
    const int32_t steps = full + (tail > 0);
    int16x8_t a[PL_PIXELS][PL_STREAMS];
    int32_t t, i, pending = 0;
    int q, k;

    for (q = 0; q < PL_PIXELS; ++q) {
        e[q] = vdupq_n_s32(0);
        for (k = 0; k < PL_STREAMS; ++k)
            a[q][k] = vdupq_n_s16(0);
    }
    for (t = 0; t < taps; ++t) {
        const int8_t *x[PL_PIXELS];

        if (pending + steps > PL_MAX_STEPS) {
            for (q = 0; q < PL_PIXELS; ++q) {
                e[q] = vaddq_s32(e[q], lane_sums(a[q][0], a[q][1], a[q][2], a[q][3]));
                for (k = 0; k < PL_STREAMS; ++k)
                    a[q][k] = vdupq_n_s16(0);
            }
            pending = 0;
        }
        pending += steps;
        for (q = 0; q < PL_PIXELS; ++q)
            x[q] = src->interior ? src->base + q * src->step + src->off[t] : src->x[q][t];
        for (i = 0; i < full; ++i, mask += 16 * PL_STREAMS)
            for (q = 0; q < PL_PIXELS; ++q)
                mac4(a[q], vld1q_s8(x[q] + 16 * i), mask, and_op);
        if (tail) {
            for (q = 0; q < PL_PIXELS; ++q) {
                const int8x16_t v = vld1q_s8(x[q] + 16 * full);

                /* AND: the masks' zero lanes past in.c are enough */
                mac4(a[q], and_op ? v : vandq_s8(v, valid), mask, and_op);
            }
            mask += 16 * PL_STREAMS;
        }
    }
    for (q = 0; q < PL_PIXELS; ++q)
        e[q] = vaddq_s32(e[q], lane_sums(a[q][0], a[q][1], a[q][2], a[q][3]));
}

/* What a call's tiles read besides the input: the row of Z that padded taps
 * read, and (in.c not a multiple of 16) a copy of the input's last bytes for
 * the taps whose last step would read past its end. */
struct pl_rows {
    int8_t zrow[PL_MAX_CIN + 16];
    int8_t last[2 * (PL_MAX_CIN + 16)];
    size_t in_bytes, reach; /* bytes a tap's steps read */
    ptrdiff_t off[PL_MAX_TAPS];
};

/* Tap pointers of output pixel (oy, ox) into slot q: the input's pixels, their
 * copy near its end, or the row of Z for padded taps. */
static void pixel_taps(const struct pl_conv *p, const int8_t *in, const struct pl_rows *r,
                       int32_t oy, int32_t ox, struct pl_src *src, int q)
{
    struct bnn_taps t;
    int32_t kh, kw;

    bnn_clip_window(&p->win, &p->in, oy, ox, &t);
    for (kh = 0; kh < p->win.kernel_h; ++kh) {
        for (kw = 0; kw < p->win.kernel_w; ++kw) {
            const size_t at = ((size_t)(t.iy + kh) * p->in.w + t.ix + kw) * p->in.c;
            const int8_t **x = &src->x[q][kh * p->win.kernel_w + kw];

            if (kh < t.kh0 || kh >= t.kh1 || kw < t.kw0 || kw >= t.kw1)
                *x = r->zrow;
            else if (at + r->reach > r->in_bytes)
                *x = r->last + (at + r->reach - r->in_bytes);
            else
                *x = in + at;
        }
    }
}

static void rows_setup(const struct pl_conv *p, const int8_t *in, struct pl_rows *r)
{
    size_t tail;
    int32_t kh, kw;

    memset(r->zrow, (unsigned char)p->in_zero, sizeof r->zrow);
    r->in_bytes = (size_t)p->in.h * p->in.w * p->in.c;
    r->reach = (size_t)(p->in.c + 15) / 16 * 16;
    tail = r->in_bytes < r->reach ? r->in_bytes : r->reach;
    /* last[reach - n + i] = in[in_bytes - n + i] for the input's last n bytes */
    memset(r->last, 0, sizeof r->last);
    memcpy(r->last + r->reach - tail, in + r->in_bytes - tail, tail);
    for (kh = 0; kh < p->win.kernel_h; ++kh)
        for (kw = 0; kw < p->win.kernel_w; ++kw)
            r->off[kh * p->win.kernel_w + kw] = ((ptrdiff_t)kh * p->in.w + kw) * p->in.c;
}

/* Stores the outputs of pixel pix from its 4 streams' sums e. */
typedef void pl_store_fn(const void *ctx, int32x4_t e, size_t pix);

/* Output rows [row_begin, row_end) of one block of streams (masks), in tiles of
 * PL_PIXELS pixels. Inlined with a constant and_op and store, each kernel gets its
 * own copy. */
BNN_GROUP_INLINE void pl_run(const struct pl_conv *p, const int8_t *in, const struct pl_rows *r,
                             const int8_t *mask, int and_op, pl_store_fn *store,
                             const void *ctx, int32_t row_begin, int32_t row_end)
{
    static const int8_t lanes[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    const int32_t full = p->in.c / 16, tail = p->in.c % 16;
    const int8x16_t valid =
        vreinterpretq_s8_u8(vcltq_s8(vld1q_s8(lanes), vdupq_n_s8((int8_t)tail)));
    struct pl_src src;
    int32x4_t e[PL_PIXELS];
    int32_t oy, ox;
    int q;

    src.off = r->off;
    src.step = (ptrdiff_t)p->win.stride_w * p->in.c;
    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ox += PL_PIXELS) {
            const int npix = bnn_min_i32(PL_PIXELS, p->out.w - ox);
            struct bnn_taps first, last;

            bnn_clip_window(&p->win, &p->in, oy, ox, &first);
            bnn_clip_window(&p->win, &p->in, oy, ox + npix - 1, &last);
            src.interior = npix == PL_PIXELS && bnn_taps_full(&p->win, &first) &&
                           bnn_taps_full(&p->win, &last) &&
                           (size_t)((first.iy + p->win.kernel_h - 1) * p->in.w + last.ix +
                                    p->win.kernel_w) * p->in.c + r->reach - p->in.c <=
                               r->in_bytes;
            src.base = in + ((size_t)first.iy * p->in.w + first.ix) * p->in.c;
            /* a short run repeats its first pixel in the missing slots */
            for (q = 0; q < PL_PIXELS && !src.interior; ++q)
                pixel_taps(p, in, r, oy, ox + (q < npix ? q : 0), &src, q);
            pl_tile(&src, taps, full, tail, mask, valid, and_op, e);
            for (q = 0; q < npix; ++q)
                store(ctx, e[q], (size_t)oy * p->out.w + ox + q);
        }
    }
}

/* A pixel's output bits of the block's channels [o0, o0 + n) (bit j: channel
 * o0 + j) into its words. Blocks never cross a word, and a pixel's blocks are
 * stored in increasing order: a word's first store is the one at its bit 0. */
static inline void pl_store_bits(uint64_t *out_bits, int32_t out_c, size_t pix, int32_t o0,
                                 uint64_t bits)
{
    uint64_t *dst = out_bits + pix * BNN_WORDS(out_c) + o0 / 64;

    if (o0 % 64 == 0)
        *dst = bits;
    else
        *dst |= bits << (o0 % 64);
}

/* -- conv_i8_w1: a block is 4 output channels, one stream each ------------------- */

/* Output channels [o0, o0 + n), n <= 4 (missing ones have zero masks and are
 * not stored). */
struct w1_block {
    int32_t o0, n;
    int8_t mask[PL_MASK_BYTES];
    int32_t lim[PL_STREAMS]; /* to_bits: bit 1 iff E < lim */
    int32_t off[PL_STREAMS]; /* to_i8: acc = saturate(E + off) */
    int32_t mult[PL_STREAMS], shift[PL_STREAMS];
};

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* Masks and per-channel constants of channels [o0, o0 + n); 0 if an int8
 * offset does not fit int32 (then the reference runs the whole call). */
static int w1_setup_block(const struct bnn_conv_i8_w1_params *p, int32_t o0, int32_t n,
                          int to_bits, struct w1_block *b)
{
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    const int64_t k = (int64_t)taps * p->in.c;
    const uint64_t *plane[PL_STREAMS];
    int64_t m[PL_STREAMS];
    int32_t j;

    b->o0 = o0, b->n = n;
    for (j = 0; j < PL_STREAMS; ++j)
        plane[j] = j < n ? p->weight + (size_t)(o0 + j) * taps * BNN_WORDS(p->in.c) : NULL;
    pl_expand(plane, taps, p->in.c, b->mask, m);
    for (j = 0; j < PL_STREAMS; ++j) {
        int64_t c;

        if (j >= n) {
            b->lim[j] = INT32_MIN, b->off[j] = 0, b->mult[j] = 0, b->shift[j] = 0;
            continue;
        }
        c = (int64_t)p->bias[o0 + j] + m[j] - (int64_t)p->in_zero * (k - 2 * m[j]);
        if (to_bits) {
            b->lim[j] = clamp_i32((int64_t)p->threshold[o0 + j] - c);
            continue;
        }
        if (c != clamp_i32(c))
            return 0;
        b->off[j] = (int32_t)c;
        b->mult[j] = p->rq.multiplier[o0 + j];
        b->shift[j] = p->rq.shift[o0 + j];
    }
    return 1;
}

/* A w1 block of one call and the call's output. */
struct w1_out {
    const struct bnn_conv_i8_w1_params *p;
    const struct w1_block *b;
    int8_t *out_i8;
    uint64_t *out_bits;
};

/* The outputs of the block's channels at pixel pix from their E (a pl_store_fn). */
static inline void w1_store(const void *ctx, int32x4_t e, size_t pix)
{
    const struct w1_out *c = ctx;
    const struct bnn_conv_i8_w1_params *p = c->p;
    const struct w1_block *b = c->b;

    if (c->out_bits) {
        static const uint32_t weights[4] = {1, 2, 4, 8};

        pl_store_bits(c->out_bits, p->out.c, pix, b->o0,
                      bnn_add_lanes_u32(vandq_u32(vcltq_s32(e, vld1q_s32(b->lim)),
                                                  vld1q_u32(weights))));
        return;
    }
    bnn_conv_out16_i8(&e, b->off, b->mult, b->shift, p->rq.zero_point, p->rq.lo, p->rq.hi,
                      c->out_i8 + pix * p->out.c + b->o0, b->n);
}

int bnn_conv_i8_w1_neon(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct pl_conv g = {p->in, p->out, p->win, p->in_zero};
    struct pl_rows r;
    struct w1_block b;
    const struct w1_out c = {p, &b, out_i8, out_bits};
    int32_t o0;

    if (!pl_fits(&g))
        return 0;
    rows_setup(&g, in, &r);
    for (o0 = 0; o0 < p->out.c; o0 += PL_STREAMS) {
        /* a failing block leaves earlier ones written: the reference then
         * rewrites every output of the call */
        if (!w1_setup_block(p, o0, bnn_min_i32(PL_STREAMS, p->out.c - o0), out_bits != NULL,
                            &b))
            return 0;
        pl_run(&g, in, &r, b.mask, 0, w1_store, &c, row_begin, row_end);
    }
    return 1;
}

/* -- conv_i8_w2: a block is 2 output channels, streams (pos, neg) of each ---------- */

/* Output channels [o0, o0 + n), n <= 2 (a missing one has zero masks and is not
 * stored); channel o0 + j's acc = P * E_pos - N * E_neg + off[j], its streams
 * 2 j (pos) and 2 j + 1 (neg). */
struct w2_block {
    int32_t o0, n;
    int8_t mask[PL_MASK_BYTES];
    int32_t pos[2], neg[2];    /* P, N of the two channels */
    int64_t lim[2];            /* to_bits: bit 1 iff P * E_pos - N * E_neg < lim */
    int64_t off[2];            /* to_i8 */
    struct bnn_rq4 rq;         /* to_i8: the two channels' lanes twice */
};

static void w2_setup_block(const struct bnn_ternary_conv_params *p, int32_t o0, int32_t n,
                           int to_bits, struct w2_block *b)
{
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    const size_t words = (size_t)taps * BNN_WORDS(p->in.c);
    const uint64_t *plane[PL_STREAMS];
    int64_t m[PL_STREAMS];
    int32_t j, mult[4] = {0, 0, 0, 0}, shift[4] = {0, 0, 0, 0};

    b->o0 = o0, b->n = n;
    for (j = 0; j < 2; ++j) {
        plane[2 * j] = j < n ? p->weight_pos + (size_t)(o0 + j) * words : NULL;
        plane[2 * j + 1] = j < n ? p->weight_neg + (size_t)(o0 + j) * words : NULL;
    }
    pl_expand(plane, taps, p->in.c, b->mask, m);
    for (j = 0; j < 2; ++j) {
        const int32_t o = o0 + (j < n ? j : 0); /* a missing channel: o0's constants */
        const int64_t pos = p->scale_pos[o], neg = p->scale_neg[o];
        const int64_t c =
            (int64_t)p->bias[o] - (int64_t)p->in_zero * (pos * m[2 * j] - neg * m[2 * j + 1]);

        b->pos[j] = p->scale_pos[o], b->neg[j] = p->scale_neg[o];
        b->lim[j] = to_bits ? (int64_t)p->threshold[o] - c : 0;
        b->off[j] = c;
        if (!to_bits)
            mult[j] = mult[j + 2] = p->rq.multiplier[o], shift[j] = shift[j + 2] = p->rq.shift[o];
    }
    b->rq = bnn_rq4_load(mult, shift);
}

/* A w2 block of one call and the call's output. */
struct w2_out {
    const struct bnn_ternary_conv_params *p;
    const struct w2_block *b;
    int8_t *out_i8;
    uint64_t *out_bits;
};

/* The outputs of the block's channels at pixel pix from e = (E_pos, E_neg) of each
 * (a pl_store_fn): d = P * E_pos - N * E_neg in int64 lanes, then the threshold
 * (the sign of d - lim: both are below 2^55 in magnitude) or the requant stage of
 * saturate_i32(d + off). */
static inline void w2_store(const void *ctx, int32x4_t e, size_t pix)
{
    const struct w2_out *c = ctx;
    const struct bnn_ternary_conv_params *p = c->p;
    const struct w2_block *b = c->b;
    const int32x2x2_t pn = vuzp_s32(vget_low_s32(e), vget_high_s32(e));
    const int64x2_t d = vmlsl_s32(vmull_s32(pn.val[0], vld1_s32(b->pos)), pn.val[1],
                                  vld1_s32(b->neg));
    int8_t *dst;
    int32x2_t x;
    int16x4_t q;

    if (c->out_bits) {
        const uint64x2_t below =
            vshrq_n_u64(vreinterpretq_u64_s64(vsubq_s64(d, vld1q_s64(b->lim))), 63);

        pl_store_bits(c->out_bits, p->out.c, pix, b->o0,
                      vgetq_lane_u64(below, 0) | (b->n > 1 ? vgetq_lane_u64(below, 1) << 1 : 0));
        return;
    }
    x = vqmovn_s64(vaddq_s64(d, vld1q_s64(b->off)));
    q = bnn_clamp4(bnn_mbqm4(vcombine_s32(x, x), &b->rq), vdupq_n_s32(p->rq.zero_point),
                   vdupq_n_s32(p->rq.lo), vdupq_n_s32(p->rq.hi));
    dst = c->out_i8 + pix * p->out.c + b->o0;
    dst[0] = (int8_t)vget_lane_s16(q, 0);
    if (b->n > 1)
        dst[1] = (int8_t)vget_lane_s16(q, 1);
}

int bnn_conv_i8_w2_neon(const struct bnn_ternary_conv_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const struct pl_conv g = {p->in, p->out, p->win, p->in_zero};
    struct pl_rows r;
    struct w2_block b;
    const struct w2_out c = {p, &b, out_i8, out_bits};
    int32_t o0;

    if (!pl_fits(&g))
        return 0;
    rows_setup(&g, in, &r);
    for (o0 = 0; o0 < p->out.c; o0 += 2) {
        w2_setup_block(p, o0, bnn_min_i32(2, p->out.c - o0), out_bits != NULL, &b);
        pl_run(&g, in, &r, b.mask, 1, w2_store, &c, row_begin, row_end);
    }
    return 1;
}

#endif /* BNN_USE_NEON */
