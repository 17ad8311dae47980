/* INT8 activations x 1-bit weights with NEON (aarch64 and armv7), bit-exact with
 * conv_i8_w1_ref.c.
 *
 * With w = 1 - 2b for weight bit b and the byte mask m = -b (0 or 0xff),
 * w * q = (q ^ m) + b (q ^ 0xff = -q - 1). Over the K = kernel_h * kernel_w * in.c
 * values of a window, acc = bias + sum(w * (q - Z)) = E + c with E = sum(q ^ m)
 * and the per-channel constant c = bias + M - Z * (K - 2M), M the popcount of
 * the channel's weights. Padded taps read a row of Z (they add w * (Z - Z) = 0,
 * as the reference's skipped taps), so every window has all K values and one
 * constant per channel serves the borders too; it is folded into the threshold
 * (bits: acc < T iff E < T - c, clamped: |E| < 2^31 - 1) or added with
 * saturation (int8: the reference's int64 acc saturated by the requant stage,
 * when c fits int32; else the reference runs), as in conv_i8_dot.c.
 *
 * E costs one EOR and one SADALP per 16 values of a (pixel, channel): int8
 * pairs into int16 lanes, at most 2 * 128 a call, so 127 steps before the
 * lanes are widened into int32 sums. A tile is W1_PIXELS consecutive output
 * pixels x 4 output channels whose masks were expanded from the bits once per
 * call (16 bytes per 16 values and channel, in the order the tile reads
 * them); per step one load of the 4 channels' masks and one per pixel: on
 * aarch64, 4 pixels, 37 instructions per 256 MACs. Input channels that are not
 * a multiple of 16: each tap's last step reads 16 bytes and zeroes the lanes
 * past in.c (their masks are 0 too); where those 16 bytes would pass the end
 * of the input they are copied first.
 *
 * Handles in.c <= W1_MAX_CIN, kernels of up to W1_MAX_TAPS taps, windows whose
 * masks fit W1_MASK_BYTES (3x3 x 1024 channels), in_zero within int8; anything
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
#include "bnn_masks_neon.h"
#include "conv_i8_neon.h"

#if defined(__aarch64__)
#define W1_PIXELS 4 /* 16 accumulators + 4 inputs + 4 masks of 32 registers */
#else
#define W1_PIXELS 2 /* armv7 has 16 q registers: 8 + 2 + 4 */
#endif
#define W1_CHANNELS 4
#define W1_MAX_STEPS 127  /* SADALP calls an int16 lane holds: 127 * 256 < 2^15 */
#define W1_MAX_CIN 4096
#define W1_MAX_TAPS 121   /* 11x11 */
#define W1_MASK_BYTES 36864

/* Output channels [o0, o0 + n), n <= 4 (missing ones have zero masks and are
 * not stored); mask: per tap, per step of 16 input channels, the 4 channels'
 * 16 byte masks. */
struct w1_block {
    int32_t o0, n;
    int8_t mask[W1_MASK_BYTES];
    int32_t lim[W1_CHANNELS]; /* to_bits: bit 1 iff E < lim */
    int32_t off[W1_CHANNELS]; /* to_i8: acc = saturate(E + off) */
    int32_t mult[W1_CHANNELS], shift[W1_CHANNELS];
};

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* Masks and per-channel constants of channels [o0, o0 + n); 0 if an int8
 * offset does not fit int32 (then the reference runs the whole call). */
static int setup_block(const struct bnn_conv_i8_w1_params *p, int32_t o0, int32_t n,
                       int to_bits, struct w1_block *b)
{
    const int32_t cin = p->in.c, words = BNN_WORDS(cin), steps = (cin + 15) / 16;
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    const int64_t k = (int64_t)taps * cin;
    int32_t j, t, s;

    b->o0 = o0, b->n = n;
    for (j = 0; j < W1_CHANNELS; ++j) {
        const uint64_t *w = p->weight + (size_t)(o0 + (j < n ? j : 0)) * taps * words;
        int64_t m = 0, c;

        for (t = 0; t < taps; ++t, w += words) {
            for (s = 0; s < steps; ++s) {
                const int32_t left = cin - 16 * s;
                uint32_t bits = (uint32_t)(w[s / 4] >> (16 * (s % 4))) & 0xffffu;

                if (left < 16)
                    bits &= (1u << left) - 1;
                if (j >= n)
                    bits = 0;
                m += bnn_popcount64(bits);
                vst1q_s8(b->mask + (((size_t)t * steps + s) * W1_CHANNELS + j) * 16,
                         bnn_spread_bits16(bits));
            }
        }
        if (j >= n) {
            b->lim[j] = INT32_MIN, b->off[j] = 0, b->mult[j] = 0, b->shift[j] = 0;
            continue;
        }
        c = (int64_t)p->bias[o0 + j] + m - (int64_t)p->in_zero * (k - 2 * m);
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

/* The sums of the 8 int16 lanes of each of a0..a3, as one int32x4. */
static inline int32x4_t lane_sums(int16x8_t a0, int16x8_t a1, int16x8_t a2, int16x8_t a3)
{
    return bnn_lane_sums4_s32(vpaddlq_s16(a0), vpaddlq_s16(a1), vpaddlq_s16(a2),
                              vpaddlq_s16(a3));
}

/* Where the tile reads tap t of slot q's pixel: interior tiles (every window
 * whole) at base + q * step + off[t], others at x[q][t]. */
struct w1_src {
    int interior;
    const int8_t *base;
    ptrdiff_t step;
    const ptrdiff_t *off; /* [taps]: (kh * in.w + kw) * in.c */
    const int8_t *x[W1_PIXELS][W1_MAX_TAPS];
};

/* One step of one pixel: its 16 values v against the 4 channels' masks. */
static inline void mac4(int16x8_t *a, int8x16_t v, const int8_t *mask)
{
    a[0] = vpadalq_s8(a[0], veorq_s8(v, vld1q_s8(mask)));
    a[1] = vpadalq_s8(a[1], veorq_s8(v, vld1q_s8(mask + 16)));
    a[2] = vpadalq_s8(a[2], veorq_s8(v, vld1q_s8(mask + 32)));
    a[3] = vpadalq_s8(a[3], veorq_s8(v, vld1q_s8(mask + 48)));
}

/* E of the W1_PIXELS pixels of src x the block's 4 channels, e[q] pixel q's 4
 * sums. Each tap: `full` steps of 16 channels, then, if tail, one of the first
 * `tail` channels (valid: 0xff in those lanes). */
static void w1_tile(const struct w1_src *src, int32_t taps, int32_t full, int32_t tail,
                    const int8_t *mask, int8x16_t valid, int32x4_t *e)
{
    const int32_t steps = full + (tail > 0);
    int16x8_t a[W1_PIXELS][W1_CHANNELS];
    int32_t t, i, pending = 0;
    int q, j;

    for (q = 0; q < W1_PIXELS; ++q) {
        e[q] = vdupq_n_s32(0);
        for (j = 0; j < W1_CHANNELS; ++j)
            a[q][j] = vdupq_n_s16(0);
    }
    for (t = 0; t < taps; ++t) {
        const int8_t *x[W1_PIXELS];

        if (pending + steps > W1_MAX_STEPS) {
            for (q = 0; q < W1_PIXELS; ++q) {
                e[q] = vaddq_s32(e[q], lane_sums(a[q][0], a[q][1], a[q][2], a[q][3]));
                for (j = 0; j < W1_CHANNELS; ++j)
                    a[q][j] = vdupq_n_s16(0);
            }
            pending = 0;
        }
        pending += steps;
        for (q = 0; q < W1_PIXELS; ++q)
            x[q] = src->interior ? src->base + q * src->step + src->off[t] : src->x[q][t];
        for (i = 0; i < full; ++i, mask += 16 * W1_CHANNELS)
            for (q = 0; q < W1_PIXELS; ++q)
                mac4(a[q], vld1q_s8(x[q] + 16 * i), mask);
        if (tail) {
            for (q = 0; q < W1_PIXELS; ++q)
                mac4(a[q], vandq_s8(vld1q_s8(x[q] + 16 * full), valid), mask);
            mask += 16 * W1_CHANNELS;
        }
    }
    for (q = 0; q < W1_PIXELS; ++q)
        e[q] = vaddq_s32(e[q], lane_sums(a[q][0], a[q][1], a[q][2], a[q][3]));
}

/* The outputs of the block's channels at pixel pix from their E. */
static void store4(const struct bnn_conv_i8_w1_params *p, const struct w1_block *b, int32x4_t e,
                   size_t pix, int8_t *out_i8, uint64_t *out_bits)
{
    if (out_bits) {
        static const uint32_t weights[4] = {1, 2, 4, 8};
        uint64_t *dst = out_bits + pix * BNN_WORDS(p->out.c) + b->o0 / 64;
        const uint64_t bits = bnn_add_lanes_u32(
            vandq_u32(vcltq_s32(e, vld1q_s32(b->lim)), vld1q_u32(weights)));

        /* blocks of 4 never cross a word, and a pixel's channels are stored
         * in increasing order: a word's first store is the one at its bit 0 */
        if (b->o0 % 64 == 0)
            *dst = bits;
        else
            *dst |= bits << (b->o0 % 64);
        return;
    }
    bnn_conv_out16_i8(&e, b->off, b->mult, b->shift, p->rq.zero_point, p->rq.lo, p->rq.hi,
                      out_i8 + pix * p->out.c + b->o0, b->n);
}

/* What a call's tiles read besides the input: the row of Z that padded taps
 * read, and (in.c not a multiple of 16) a copy of the input's last bytes for
 * the taps whose last step would read past its end. */
struct w1_rows {
    int8_t zrow[W1_MAX_CIN + 16];
    int8_t last[2 * (W1_MAX_CIN + 16)];
    size_t in_bytes, reach; /* bytes a tap's steps read */
    ptrdiff_t off[W1_MAX_TAPS];
};

/* Tap pointers of output pixel (oy, ox) into slot q: the input's pixels, their
 * copy near its end, or the row of Z for padded taps. */
static void pixel_taps(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                       const struct w1_rows *r, int32_t oy, int32_t ox, struct w1_src *src,
                       int q)
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

static void rows_setup(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                       struct w1_rows *r)
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

static void run_block(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                      const struct w1_rows *r, const struct w1_block *b, int8_t *out_i8,
                      uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    static const int8_t lanes[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    const int32_t full = p->in.c / 16, tail = p->in.c % 16;
    const int8x16_t valid =
        vreinterpretq_s8_u8(vcltq_s8(vld1q_s8(lanes), vdupq_n_s8((int8_t)tail)));
    struct w1_src src;
    int32x4_t e[W1_PIXELS];
    int32_t oy, ox;
    int q;

    src.off = r->off;
    src.step = (ptrdiff_t)p->win.stride_w * p->in.c;
    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ox += W1_PIXELS) {
            const int npix = bnn_min_i32(W1_PIXELS, p->out.w - ox);
            struct bnn_taps first, last;

            bnn_clip_window(&p->win, &p->in, oy, ox, &first);
            bnn_clip_window(&p->win, &p->in, oy, ox + npix - 1, &last);
            src.interior = npix == W1_PIXELS && bnn_taps_full(&p->win, &first) &&
                           bnn_taps_full(&p->win, &last) &&
                           (size_t)((first.iy + p->win.kernel_h - 1) * p->in.w + last.ix +
                                    p->win.kernel_w) * p->in.c + r->reach - p->in.c <=
                               r->in_bytes;
            src.base = in + ((size_t)first.iy * p->in.w + first.ix) * p->in.c;
            /* a short run repeats its first pixel in the missing slots */
            for (q = 0; q < W1_PIXELS && !src.interior; ++q)
                pixel_taps(p, in, r, oy, ox + (q < npix ? q : 0), &src, q);
            w1_tile(&src, taps, full, tail, b->mask, valid, e);
            for (q = 0; q < npix; ++q)
                store4(p, b, e[q], (size_t)oy * p->out.w + ox + q, out_i8, out_bits);
        }
    }
}

int bnn_conv_i8_w1_neon(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t taps = p->win.kernel_h * p->win.kernel_w;
    struct w1_rows r;
    struct w1_block b;
    int32_t o0;

    if (p->in.c > W1_MAX_CIN || taps > W1_MAX_TAPS ||
        (int64_t)taps * ((p->in.c + 15) / 16) * 16 * W1_CHANNELS > W1_MASK_BYTES ||
        p->in_zero < INT8_MIN || p->in_zero > INT8_MAX)
        return 0;
    rows_setup(p, in, &r);
    for (o0 = 0; o0 < p->out.c; o0 += W1_CHANNELS) {
        /* a failing block leaves earlier ones written: the reference then
         * rewrites every output of the call */
        if (!setup_block(p, o0, bnn_min_i32(W1_CHANNELS, p->out.c - o0), out_bits != NULL, &b))
            return 0;
        run_block(p, in, &r, &b, out_i8, out_bits, row_begin, row_end);
    }
    return 1;
}

#endif /* BNN_USE_NEON */
