/* INT8 convolution with a window of 17 to DOT_MAX_K values as int8 dot
 * products along the window, aarch64 and armv7: stems of few input channels
 * (a 3x3 RGB stem's 27 taps, Bi-Real Net's 7x7 stride 2, 3 -> 64, AlexNet's
 * 11x11 stride 4), grouped convs (a group's window) and 1x1 convs (their
 * window is one pixel's channels, read in place); bit-exact with
 * conv_i8_ref.c. On armv7 it runs after conv_i8_fast.c (whose armv7 stem
 * kernel is faster on the windows it takes), so there it runs 1x1 convs,
 * grouped convs (before conv_i8_grouped_neon32.c, which keeps the shapes
 * refused here) and the stems too large for conv_i8_fast.c (AlexNet's).
 *
 * Why it is shaped like this: conv_i8_fast.c multiplies int16 lanes (4 MACs
 * per instruction, one tap broadcast to 4 channels), conv_i8_neon.c's GEMM
 * takes 4 instructions per 16 MACs and one pixel per weight load. Here the
 * window of an output pixel is gathered once into K = kernel_h * kernel_w *
 * in.c contiguous bytes (padded with zero weights to Kp, a multiple of 16), and
 * 16 taps of one channel take 3 instructions: SMULL (the low 8 taps into
 * int16 lanes), SMLAL2 (the high 8 added) and SADALP (pairs into the int32
 * accumulator), 16 MACs for 3 instead of 4. On aarch64 a window whose last
 * step would hold 1 to 8 taps ends in a half step of 8 instead (SMULL and
 * SADALP; Kp a multiple of 8): Bi-Real Net's 7x7 RGB stem, 147 taps, 10
 * steps -> 9 and a half, 37.65 -> 36.85 M instructions. Two products fit an
 * int16 lane as long as no weight is -128 (|x * w| <= 128 * 127, twice that < 2^15;
 * the exporter's weights are in [-127, 127]; a call with a -128 weight runs
 * the next path). A tile is 4 pixels x 4 channels (16 accumulators, 4 + 4
 * vector loads per 16 taps); the 4 lanes of a pixel-channel accumulator are
 * summed pairwise at the end, so the 4 channels of a pixel come out as one
 * int32x4 and 16 channels as the chunk the shared output stage takes
 * (conv_i8_neon.h). armv7 has 16 q registers, not 32: its tile is 2 pixels x
 * 4 channels (8 accumulators, 2 + 2 vector loads per 16 taps: 28
 * instructions per 128 MACs where aarch64 takes 55 per 256), run twice per 4
 * pixels on the same weights. armv7 instructions, before (1x1 convs and the
 * 11x11 stem on conv_i8_neon.c's GEMM, 1 pixel x 4 channels; grouped convs on
 * conv_i8_grouped_neon32.c) -> now: QuickNetSmall's 1x1 convs 32 -> 64 at
 * 28x28 1.71 -> 1.08 M, 256 -> 512 at 7x7 3.57 -> 2.07 M; XNOR-Net's 11x11
 * stride-4 stem 69.84 -> 41.76 M; MeliusNet22's 3x3 convs at 112x112, 32 ->
 * 32 in 4 groups 37.68 -> 21.98 M, 32 -> 64 in 8 groups 55.71 -> 37.89 M.
 * acc = sum(x * w) - Z * sum(w) + bias as in conv_i8_fast.c: the window's
 * padded taps hold the input zero point Z, so they add (Z - Z) * w = 0, and
 * the per-channel constant is folded into the threshold or added with
 * saturation.
 *
 * Grouped convs (1 < groups, MeliusNet's stem, ResNeXt's 3x3s) run the same
 * tile on each group's window (K = kernel_h * kernel_w * in.c / groups
 * values, gathered tap by tap): a block holds as many whole groups as its
 * weights and patches take, their windows gathered together (larger groups
 * a part of one group), each group's channels padded to whole 16-channel
 * chunks (a group of 8 fills half of one; the empty 4-channel tiles are
 * skipped). MeliusNet22's 3x3 convs in 8 groups, 32 -> 64 at 112x112: 37.6 M
 * aarch64 instructions, 48.4 M when each group's windows were gathered
 * alone; the gather is still about half of it.
 * A window wholly inside the input is gathered by gather_inside(), with no
 * clipping tests: one run of COPY-byte moves per tap row (one group; rows of
 * up to 2 moves straight: the 7x7 RGB stem 36.85 -> 35.81 M with run_block's
 * per-group loop made leaner) or one move per tap and group (cg <= COPY).
 * Bi-Real Net's 7x7 stride-2 stem,
 * 224x224x3 -> 64: 39.89 M instructions, 45.73 M when every window took
 * the clipping path with a per-byte loop at the borders.
 * A 1x1 conv without padding and in one group reads each window in place
 * (gathering them cost more than the tile saved: QuickNetSmall's 1x1 convs
 * took 15.8 M instructions that way, 14.2 M in conv_i8_neon.c's GEMM), and
 * with stride 1 its pixels are one run across rows, 4 at a time; a window
 * whose Kp-byte read would pass the input's end is gathered.
 * Handles out.c >= DOT_MIN_COUT and either groups == 1 with in.c <=
 * DOT_MAX_CIN unless the window is read in place, or 1 < groups but not
 * depthwise (groups == in.c == out.c: conv_i8_neon.c's path); 17 <= K <=
 * DOT_MAX_K with K / Kp >= 3/4 (padding wastes at most a quarter; a window
 * of one 16-tap step stays with conv_i8_fast.c), no weight -128, in_zero
 * within int8; anything else returns 0 and the caller runs the next path.
 * Stack: a 16 KiB weight block (64 channels of a 7x7 RGB window at once, so
 * that each window is gathered once), 1 KiB of per-channel constants, 4
 * window patches of at most 1040 bytes: under 22 KiB.
 *
 * Work is split by output rows, so a thread pool can hand out parts of one
 * call. */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>
#include <string.h>

#include "conv_i8_neon.h"

#define DOT_MAX_CIN 16     /* "few" input channels: the window must be gathered */
#define DOT_MAX_K 1024     /* window taps, padded to 16 */
#define DOT_W_BYTES 16384  /* rearranged weights of one block */
#define DOT_MAX_CB 64      /* output channels of one block */
#define DOT_PIXELS 4       /* pixels of a tile */
#define CHUNK 16           /* output channels of one output-stage call */
#if defined(__aarch64__)
#define DOT_HALF 1         /* a window may end in a half step of 8 taps */
#else
#define DOT_HALF 0
#endif
/* Bytes a row copy moves at a time: a 3x3 RGB stem's tap row (9 bytes) in one
 * move (cifar_bnn's stem: 1.29 M aarch64 instructions with 8-byte moves, two
 * a row, 1.19 M with one) */
#define COPY 16
/* Output channels that share one gathered window: with fewer, the gather and
 * the per-pixel output stage outweigh the tile's gain over conv_i8_fast.c (a
 * 3x3 stride-2 RGB stem at 224x224, aarch64 instructions, here / there: 8
 * channels 4.59 / 3.44 M, 16 5.94 / 4.93 M, 32 9.32 / 9.52 M). A grouped
 * conv counts all its groups' channels: each pixel's input is gathered once
 * all the same (MeliusNet's grouped stems, 32 and 64 channels, were measured
 * above it). */
#define DOT_MIN_COUT 32

/* Output channels of ng consecutive groups, n of each from channel o0 of the
 * first (ng > 1 only when n is a whole group): slot j holds channel
 * o0 + (j / span) * (out.c / groups) + j % span if j % span < n, else zero
 * weights; span, a multiple of CHUNK, is the slots of one group. w: slots in
 * fours, each kp / 16 steps of 4 x 16 taps (channel-major within a step) and,
 * if kp % 16 == 8, a half step of 4 x 8, so that one 4-register load serves a
 * step. */
struct dot_block {
    int32_t o0, n, ng, span, kp;
    int sra; /* every channel's shift is a right shift: bnn_conv_out16_i8_sra */
    int8_t w[DOT_W_BYTES];
    int32_t lim[DOT_MAX_CB]; /* to_bits: bit 1 iff sum(x * w) < lim */
    int32_t off[DOT_MAX_CB]; /* to_i8: acc = saturate(sum(x * w) + off) */
    int32_t mult[DOT_MAX_CB], shift[DOT_MAX_CB];
};

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* The output channel of slot j, or -1 for an empty slot. */
static int32_t slot_channel(const struct bnn_conv_i8_params *p, const struct dot_block *b,
                            int32_t j)
{
    return j % b->span < b->n ? b->o0 + j / b->span * (p->out.c / p->groups) + j % b->span : -1;
}

/* Sum of the four lanes (|sum| < 2^24 here). */
static inline int32_t lane_sum(int32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_s32(v);
#else
    const int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));

    return vget_lane_s32(vpadd_s32(s, s), 0);
#endif
}

/* Whether any byte of v is nonzero. */
static inline int any_lane_set(uint8x16_t v)
{
#if defined(__aarch64__)
    return vmaxvq_u8(v) != 0;
#else
    const uint32x2_t h = vreinterpret_u32_u8(vorr_u8(vget_low_u8(v), vget_high_u8(v)));

    return (vget_lane_u32(h, 0) | vget_lane_u32(h, 1)) != 0;
#endif
}

/* Rearranged weights and per-channel constants; 0 if a weight is -128 or an
 * int8 offset does not fit int32 (then the next path runs the whole call).
 * Weights move 16 bytes at a time (a 1x1 conv's block is up to 16 KiB, and
 * small images have few pixels to spread its setup over). */
static int setup_block(const struct bnn_conv_i8_params *p, int32_t k, int to_bits,
                       struct dot_block *b)
{
    const int8x16_t min8 = vdupq_n_s8(INT8_MIN);
    const int32_t kp = b->kp; /* a local: the stores below could alias *b */
    uint8x16_t bad = vdupq_n_u8(0);
    int32_t j, t;

    b->sra = 1;
    for (j = 0; j < b->ng * b->span; ++j) {
        const int32_t o = slot_channel(p, b, j);
        const int8_t *w = p->weight + (size_t)(o < 0 ? 0 : o) * k;
        int8_t *const dst = b->w + (size_t)(j / 4) * 4 * kp;
        int32x4_t sum = vdupq_n_s32(0);
        int64_t off = 0;

        for (t = 0; t < kp; t += 16) {
            int8x16_t v = vdupq_n_s8(0);

            if (o >= 0 && t + 16 <= k) {
                v = vld1q_s8(w + t);
            } else if (o >= 0) { /* the window's last, partial step */
                int8_t tail[16] = {0};

                memcpy(tail, w + t, (size_t)(k - t));
                v = vld1q_s8(tail);
            }
            if (t + 16 <= kp) /* else the half step of 8 taps that ends the window */
                vst1q_s8(dst + 4 * t + j % 4 * 16, v);
            else
                vst1_s8(dst + 4 * t + j % 4 * 8, vget_low_s8(v));
            bad = vorrq_u8(bad, vceqq_s8(v, min8));
            sum = vpadalq_s16(sum, vpaddlq_s8(v)); /* |sum| <= DOT_MAX_K * 128 */
        }
        if (o < 0) {
            b->lim[j] = INT32_MIN, b->off[j] = 0, b->mult[j] = 0, b->shift[j] = 0;
            continue;
        }
        off = (int64_t)p->bias[o] - (int64_t)p->in_zero * lane_sum(sum);
        if (to_bits) {
            /* acc < T iff sum < T - off; |sum| < 2^24, so clamping is exact */
            b->lim[j] = clamp_i32((int64_t)p->threshold[o] - off);
            continue;
        }
        if (off != clamp_i32(off))
            return 0;
        b->off[j] = (int32_t)off;
        b->mult[j] = p->rq.multiplier[o];
        /* RDBPOT by 62 or more is RDBPOT by 62 (both give 0) */
        b->shift[j] = bnn_max_i32(p->rq.shift[o], -62);
        b->sra &= p->rq.shift[o] < 0;
    }
    return !any_lane_set(bad);
}

/* n bytes from src to dst; `whole` moves COPY bytes at a time (the source
 * has COPY - 1 bytes to spare after them; the bytes written past dst + n are
 * rewritten later or lie in the window's tail, which the zero weights
 * ignore). */
static inline void copy_run(int8_t *dst, const int8_t *src, int32_t n, int whole)
{
    int32_t c = 0;

    if (!whole) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    do
        memcpy(dst + c, src + c, COPY);
    while ((c += COPY) < n);
}

/* gather() of a window wholly inside the input whose last move reads at most
 * COPY - 1 bytes past its taps, inside the input too; src is its first tap's
 * first channel of group g0. */
static void gather_inside(const struct bnn_conv_i8_params *p, const int8_t *src,
                          const struct dot_block *b, int8_t *patch)
{
    const int32_t cin = p->in.c, cg = cin / p->groups, kw = p->win.kernel_w, rowlen = kw * cg;
    const ptrdiff_t row_stride = (ptrdiff_t)p->in.w * cin;
    const size_t gstride = (size_t)b->kp + COPY;
    /* locals: the stores below could alias *b and *p (Bi-Real Net's 7x7 RGB
     * stem: 38.29 -> 37.65 M aarch64 instructions; they reloaded the kernel
     * height and the group count every row) */
    const int32_t ng = b->ng, kh = p->win.kernel_h;
    int32_t r, i, g, c;

    if (p->groups == 1 && rowlen <= 2 * COPY) { /* a tap row of 1 or 2 moves, straight */
        const int two = rowlen > COPY; /* 7x7 RGB: 21 bytes */

        for (r = 0; r < kh; ++r, src += row_stride, patch += rowlen) {
            const int8x16_t v0 = vld1q_s8(src);

            if (two)
                vst1q_s8(patch + COPY, vld1q_s8(src + COPY));
            vst1q_s8(patch, v0);
        }
        return;
    }
    if (p->groups == 1) { /* a tap row is one run */
        for (r = 0; r < kh; ++r, src += row_stride, patch += rowlen)
            for (c = 0; c < rowlen; c += COPY)
                vst1q_s8(patch + c, vld1q_s8(src + c));
        return;
    }
    for (r = 0; r < kh; ++r, src += row_stride, patch += rowlen) {
        for (i = 0; i < kw; ++i) {
            const int8_t *s = src + (ptrdiff_t)i * cin;
            int8_t *d = patch + i * cg;

            if (cg <= COPY) { /* a group's tap: one move */
                for (g = 0; g < ng; ++g, s += cg, d += gstride)
                    vst1q_s8(d, vld1q_s8(s));
                continue;
            }
            for (g = 0; g < ng; ++g, s += cg, d += gstride)
                for (c = 0; c < cg; c += COPY)
                    memcpy(d + c, s + c, COPY);
        }
    }
}

/* The windows of output pixel (oy, ox) over the input channels of groups
 * [g0, g0 + ng), each as K contiguous bytes, group g0 + i's at
 * patch + i * (kp + COPY): padded taps hold the input zero point. Of a tap
 * row, only the taps [t0, t1) inside the input are read: with one group as
 * one run of the source, with several each tap's cg channels of each group
 * (a run each); the taps outside are set after the runs, so that they
 * overwrite what a run's last move wrote past it. */
static void gather(const struct bnn_conv_i8_params *p, const int8_t *in, int32_t oy, int32_t ox,
                   const struct dot_block *b, int32_t g0, int8_t *patch)
{
    const int32_t cin = p->in.c, cg = cin / p->groups, kh = p->win.kernel_h;
    const int32_t kw = p->win.kernel_w, rowlen = kw * cg;
    const int32_t iy0 = oy * p->win.stride_h - p->win.pad_top;
    const int32_t ix0 = ox * p->win.stride_w - p->win.pad_left;
    const int32_t t0 = bnn_min_i32(ix0 < 0 ? -ix0 : 0, kw), t1 = bnn_min_i32(kw, p->in.w - ix0);
    const int8_t zero = (int8_t)p->in_zero;
    const size_t gstride = (size_t)b->kp + COPY;
    const ptrdiff_t in_bytes = (ptrdiff_t)p->in.h * p->in.w * cin;
    /* from a row's first byte read to the end of its last run's last move */
    const ptrdiff_t reach = (ptrdiff_t)(t1 - t0 - (p->groups > 1)) * cin +
                            (p->groups > 1 ? (ptrdiff_t)(b->ng - 1) * cg + cg : 0) + COPY - 1;
    const ptrdiff_t top = ((ptrdiff_t)iy0 * p->in.w + ix0 + t0) * cin + (ptrdiff_t)g0 * cg;
    int32_t r, i, g;

    if (t0 == 0 && t1 == kw && iy0 >= 0 && iy0 + kh <= p->in.h &&
        top + (ptrdiff_t)(kh - 1) * p->in.w * cin + reach <= in_bytes) {
        gather_inside(p, in + top, b, patch);
        return;
    }
    for (r = 0; r < kh; ++r) {
        const int32_t iy = iy0 + r;
        const ptrdiff_t first = top + (ptrdiff_t)r * p->in.w * cin;
        const int whole = first + reach <= in_bytes;
        int8_t *dst = patch + (size_t)r * rowlen;

        if (iy < 0 || iy >= p->in.h || t1 <= t0) {
            for (g = 0; g < b->ng; ++g)
                memset(dst + g * gstride, zero, (size_t)rowlen);
            continue;
        }
        if (p->groups == 1)
            copy_run(dst + t0 * cin, in + first, (t1 - t0) * cin, whole);
        else
            for (i = t0; i < t1; ++i)
                for (g = 0; g < b->ng; ++g)
                    copy_run(dst + g * gstride + i * cg,
                             in + first + (ptrdiff_t)(i - t0) * cin + g * cg, cg, whole);
        for (g = 0; g < b->ng && (t0 > 0 || t1 < kw); ++g) {
            memset(dst + g * gstride, zero, (size_t)t0 * cg);
            memset(dst + g * gstride + t1 * cg, zero, (size_t)(kw - t1) * cg);
        }
    }
}

#if defined(__aarch64__)
/* (Instructions end in a bare newline: with a tab too, the asm string of
 * dot_tile passes the 4095 characters ISO C99 promises, and clang -pedantic
 * refuses it.)
 * The 16 products of pixel register X with each of the group's 4 channels
 * (v0..v3), added pairwise into the pixel's accumulators A0..A3 by OP: saddlp
 * on a tile's first step sets them (no zeroing), sadalp adds. The four
 * SMULL, SMLAL2 and OP run in groups so that neighbours do not depend on each
 * other (an in-order core issues them back to back). */
#define DOT_PIXEL(op, x, a0, a1, a2, a3)                                                \
    "smull v8.8h, " x ".8b, v0.8b\n"                                                    \
    "smull v9.8h, " x ".8b, v1.8b\n"                                                    \
    "smull v10.8h, " x ".8b, v2.8b\n"                                                   \
    "smull v11.8h, " x ".8b, v3.8b\n"                                                   \
    "smlal2 v8.8h, " x ".16b, v0.16b\n"                                                 \
    "smlal2 v9.8h, " x ".16b, v1.16b\n"                                                 \
    "smlal2 v10.8h, " x ".16b, v2.16b\n"                                                \
    "smlal2 v11.8h, " x ".16b, v3.16b\n"                                                \
    op " " a0 ".4s, v8.8h\n" op " " a1 ".4s, v9.8h\n"                                   \
    op " " a2 ".4s, v10.8h\n" op " " a3 ".4s, v11.8h\n"

/* The 8 products of pixel register X (its low half) with each of the group's 4
 * channels (v0..v3, low halves), added pairwise into A0..A3. */
#define DOT_HALF_PIXEL(x, a0, a1, a2, a3)                                               \
    "smull v8.8h, " x ".8b, v0.8b\n"                                                    \
    "smull v9.8h, " x ".8b, v1.8b\n"                                                    \
    "smull v10.8h, " x ".8b, v2.8b\n"                                                   \
    "smull v11.8h, " x ".8b, v3.8b\n"                                                   \
    "sadalp " a0 ".4s, v8.8h\n" "sadalp " a1 ".4s, v9.8h\n"                             \
    "sadalp " a2 ".4s, v10.8h\n" "sadalp " a3 ".4s, v11.8h\n"

/* One step: 16 taps of the 4 pixels (v4..v7) x the group's 4 channels, 256 MACs
 * in 48 arithmetic instructions and 5 loads. */
#define DOT_STEP(op)                                                                    \
    "ld1 {v0.16b-v3.16b}, [%[w]], #64\n"                                                \
    "ldr q4, [%[x0]], #16\n"                                                            \
    "ldr q5, [%[x1]], #16\n"                                                            \
    "ldr q6, [%[x2]], #16\n"                                                            \
    "ldr q7, [%[x3]], #16\n"                                                            \
    DOT_PIXEL(op, "v4", "v16", "v17", "v18", "v19")                                     \
    DOT_PIXEL(op, "v5", "v20", "v21", "v22", "v23")                                     \
    DOT_PIXEL(op, "v6", "v24", "v25", "v26", "v27")                                     \
    DOT_PIXEL(op, "v7", "v28", "v29", "v30", "v31")

/* The half step: 8 taps, 128 MACs in 32 arithmetic instructions and 5 loads. */
#define DOT_HALF_STEP                                                                   \
    "ld1 {v0.8b-v3.8b}, [%[w]], #32\n"                                                  \
    "ldr d4, [%[x0]]\n"                                                                 \
    "ldr d5, [%[x1]]\n"                                                                 \
    "ldr d6, [%[x2]]\n"                                                                 \
    "ldr d7, [%[x3]]\n"                                                                 \
    DOT_HALF_PIXEL("v4", "v16", "v17", "v18", "v19")                                    \
    DOT_HALF_PIXEL("v5", "v20", "v21", "v22", "v23")                                    \
    DOT_HALF_PIXEL("v6", "v24", "v25", "v26", "v27")                                    \
    DOT_HALF_PIXEL("v7", "v28", "v29", "v30", "v31")

/* sum(x * w) of 4 pixels (patches x[0..3]) x the 4 channels of the group at
 * w over steps >= 1 steps of 16 taps and, if half, a half step of 8, as s[q]:
 * pixel q's 4 channel sums (all 4 pixels whatever npix, the pixels the caller
 * stores).
 * Inline asm: the 16 accumulators, 4 + 4 operands and the products need 28
 * vector registers, where GCC 12's schedule of the same intrinsics spilled
 * two products per step (63 instructions a step instead of 55). */
static inline void dot_tile(const int8_t *const *x, int32_t npix, const int8_t *w,
                            int32_t steps, int half, int32x4_t *s)
{
    const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    int32x4_t s0, s1, s2, s3;

    __asm__("" DOT_STEP("saddlp")
            "subs %w[steps], %w[steps], #1\n"
            "b.eq 2f\n"
            "1:\n" DOT_STEP("sadalp")
            "subs %w[steps], %w[steps], #1\n"
            "b.ne 1b\n"
            "2:\n"
            "cbz %w[half], 3f\n" DOT_HALF_STEP
            "3:\n"
            "addp v16.4s, v16.4s, v17.4s\n"
            "addp v18.4s, v18.4s, v19.4s\n"
            "addp v20.4s, v20.4s, v21.4s\n"
            "addp v22.4s, v22.4s, v23.4s\n"
            "addp v24.4s, v24.4s, v25.4s\n"
            "addp v26.4s, v26.4s, v27.4s\n"
            "addp v28.4s, v28.4s, v29.4s\n"
            "addp v30.4s, v30.4s, v31.4s\n"
            "addp %[s0].4s, v16.4s, v18.4s\n"
            "addp %[s1].4s, v20.4s, v22.4s\n"
            "addp %[s2].4s, v24.4s, v26.4s\n"
            "addp %[s3].4s, v28.4s, v30.4s\n"
            : [s0] "=w"(s0), [s1] "=w"(s1), [s2] "=w"(s2), [s3] "=w"(s3), [w] "+r"(w),
              [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [x3] "+r"(x3), [steps] "+r"(steps)
            : [half] "r"(half)
            : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9",
              "v10", "v11", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24",
              "v25", "v26", "v27", "v28", "v29", "v30", "v31");
    (void)npix;
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
}

#else /* armv7 */

/* The 16 products of pixel 0 (q2) and pixel 1 (q3) with each of two channels
 * (q0 and q1), added pairwise into the accumulators A0, A1 (pixel 0) and B0,
 * B1 (pixel 1) by OP: vpaddl on a tile's first step sets them (no zeroing),
 * vpadal adds. Four product registers, so that neighbours do not depend on
 * each other (an in-order core issues them back to back). */
#define DOT32_PAIR(op, a0, a1, b0, b1)                                                  \
    "vmull.s8 q4, d4, d0\n\t"                                                           \
    "vmull.s8 q5, d4, d2\n\t"                                                           \
    "vmull.s8 q14, d6, d0\n\t"                                                          \
    "vmull.s8 q15, d6, d2\n\t"                                                          \
    "vmlal.s8 q4, d5, d1\n\t"                                                           \
    "vmlal.s8 q5, d5, d3\n\t"                                                           \
    "vmlal.s8 q14, d7, d1\n\t"                                                          \
    "vmlal.s8 q15, d7, d3\n\t"                                                          \
    op " " a0 ", q4\n\t" op " " a1 ", q5\n\t" op " " b0 ", q14\n\t" op " " b1 ", q15\n\t"

/* One step: 16 taps of the 2 pixels x the group's 4 channels (two at a time),
 * 128 MACs in 24 arithmetic instructions and 4 loads. */
#define DOT32_STEP(op)                                                                  \
    "vld1.8 {d0-d3}, [%[w]]!\n\t"                                                       \
    "vld1.8 {d4-d5}, [%[x0]]!\n\t"                                                      \
    "vld1.8 {d6-d7}, [%[x1]]!\n\t"                                                      \
    DOT32_PAIR(op, "q6", "q7", "q10", "q11")                                            \
    "vld1.8 {d0-d3}, [%[w]]!\n\t"                                                       \
    DOT32_PAIR(op, "q8", "q9", "q12", "q13")

/* sum(x * w) of 2 pixels (x0, x1) x the 4 channels of the group at w over
 * steps >= 1 steps of 16 taps, as s[0] and s[1]. armv7 has 16 q registers:
 * 8 accumulators, 2 + 2 operands and 4 products use them all, so the sums
 * leave through memory. */
static inline void dot_pair(const int8_t *x0, const int8_t *x1, const int8_t *w,
                            int32_t steps, int32x4_t *s)
{
    int32_t sums[8];
    int32_t *out = sums;

    __asm__("" DOT32_STEP("vpaddl.s16")
            "subs %[steps], %[steps], #1\n\t"
            "beq 2f\n"
            "1:\n\t" DOT32_STEP("vpadal.s16")
            "subs %[steps], %[steps], #1\n\t"
            "bne 1b\n"
            "2:\n\t"
            "vpadd.i32 d12, d12, d13\n\t"
            "vpadd.i32 d13, d14, d15\n\t"
            "vpadd.i32 d14, d16, d17\n\t"
            "vpadd.i32 d15, d18, d19\n\t"
            "vpadd.i32 d12, d12, d13\n\t"
            "vpadd.i32 d13, d14, d15\n\t"
            "vpadd.i32 d20, d20, d21\n\t"
            "vpadd.i32 d21, d22, d23\n\t"
            "vpadd.i32 d22, d24, d25\n\t"
            "vpadd.i32 d23, d26, d27\n\t"
            "vpadd.i32 d20, d20, d21\n\t"
            "vpadd.i32 d21, d22, d23\n\t"
            "vst1.32 {d12-d13}, [%[out]]!\n\t"
            "vst1.32 {d20-d21}, [%[out]]\n\t"
            : [w] "+r"(w), [x0] "+r"(x0), [x1] "+r"(x1), [steps] "+r"(steps), [out] "+r"(out),
              [sums] "=m"(sums)
            :
            : "cc", "memory", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9",
              "q10", "q11", "q12", "q13", "q14", "q15");
    s[0] = vld1q_s32(sums), s[1] = vld1q_s32(sums + 4);
}

/* sum(x * w) of the first npix of 4 pixels (patches x[0..3]) x the 4 channels
 * of the group at w, as s[q]: two tiles of 2 pixels on the same weights, the
 * second only when it holds a pixel to store (no half step: DOT_HALF is 0). */
static inline void dot_tile(const int8_t *const *x, int32_t npix, const int8_t *w,
                            int32_t steps, int half, int32x4_t *s)
{
    (void)half;
    dot_pair(x[0], x[1], w, steps, s);
    if (npix > 2)
        dot_pair(x[2], x[3], w, steps, s + 2);
}

#endif /* __aarch64__ */

/* The outputs of channels o..o+valid-1 (the block's slots from j0) for pixel
 * pix. */
static void store_chunk(const struct bnn_conv_i8_params *p, const struct dot_block *b,
                        int32_t j0, int32_t o, int32_t valid, const int32x4_t *acc, size_t pix,
                        int8_t *out_i8, uint64_t *out_bits)
{
    if (out_bits) {
        /* a pixel's channels are stored in increasing order (a group's block
         * may start inside a word and end in the next): a word's first store
         * is the one at its bit 0 */
        uint64_t *dst = out_bits + pix * BNN_WORDS(p->out.c) + o / 64;
        const uint64_t bits =
            bnn_conv_out16_bits(acc, b->lim + j0) & (((uint64_t)1 << valid) - 1);

        if (o % 64 == 0)
            *dst = bits;
        else
            *dst |= bits << (o % 64);
        if (o % 64 + valid > 64)
            dst[1] = bits >> (64 - o % 64);
        return;
    }
    bnn_conv_out16_i8_pick(b->sra, acc, b->off + j0, b->mult + j0, b->shift + j0,
                           p->rq.zero_point, p->rq.lo, p->rq.hi, out_i8 + pix * bnn_conv_i8_out_pitch(p) + o,
                           valid);
}

/* Whether the window of every output pixel is `kp` bytes of the input read in
 * place (a 1x1 window inside it, of the one group) rather than gathered. */
static int in_place(const struct bnn_conv_i8_params *p)
{
    const struct bnn_window *win = &p->win;

    return p->groups == 1 && win->kernel_h == 1 && win->kernel_w == 1 && win->pad_top == 0 &&
           win->pad_left == 0 && win->pad_bottom == 0 && win->pad_right == 0;
}

/* The windows of output pixel (oy, ox) for the groups of b from g0 and the
 * tile's reads past them (against zero weights): in place when `direct` and
 * the Kp-byte read stays inside the input, else gathered into patch. */
static const int8_t *window_of(const struct bnn_conv_i8_params *p, const int8_t *in, int32_t oy,
                               int32_t ox, int direct, const struct dot_block *b, int32_t g0,
                               int8_t *patch)
{
    const ptrdiff_t start =
        ((ptrdiff_t)oy * p->win.stride_h * p->in.w + (ptrdiff_t)ox * p->win.stride_w) * p->in.c;

    if (direct && start + b->kp <= (ptrdiff_t)p->in.h * p->in.w * p->in.c)
        return in + start;
    gather(p, in, oy, ox, b, g0, patch);
    return patch;
}

/* Every output pixel of rows [row_begin, row_end) for the channels of b, 4
 * consecutive pixels of a row at a time, or of all the rows when a stride-1
 * window is read in place (a short run repeats its first window in the
 * missing places and stores only its own pixels); the windows of all the
 * block's groups are gathered together. */
static void run_block(const struct bnn_conv_i8_params *p, const int8_t *in,
                      const struct dot_block *b, int8_t (*patch)[DOT_MAX_K + COPY],
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t steps = b->kp / 16, half = b->kp % 16 != 0, w = p->out.w;
    const int32_t g0 = b->o0 / (p->out.c / p->groups);
    const int32_t chunks = b->ng * b->span / CHUNK;
    const int direct = in_place(p);
    const int flat = direct && p->win.stride_h == 1 && p->win.stride_w == 1;
    const size_t end = (size_t)row_end * w;
    const int8_t *window[DOT_PIXELS], *x[DOT_PIXELS];
    int32x4_t s[DOT_PIXELS], acc[DOT_PIXELS][4];
    /* per chunk: its first channel, its valid channels, where its group's window
     * lies in a pixel's patches (in place, the only group's): found once, as
     * armv7 divides in a library call */
    int32_t chunk_o[DOT_MAX_CB / CHUNK], chunk_valid[DOT_MAX_CB / CHUNK];
    size_t chunk_at[DOT_MAX_CB / CHUNK];
    size_t pix;
    int32_t c, g, npix, oy, ox;
    int q;

    for (q = 0; q < DOT_PIXELS; ++q) /* armv7's dot_tile sets only the pixels it computes */
        s[q] = vdupq_n_s32(0);
    for (c = 0; c < chunks; ++c) {
        chunk_o[c] = slot_channel(p, b, c * CHUNK);
        chunk_valid[c] = bnn_min_i32(CHUNK, b->n - c * CHUNK % b->span);
        chunk_at[c] = (size_t)(c * CHUNK / b->span) * (b->kp + COPY);
    }
    for (pix = (size_t)row_begin * w; pix < end; pix += (size_t)npix) {
        const size_t run_end = flat ? end : (pix / (size_t)w + 1) * (size_t)w;

        npix = (int32_t)(run_end - pix < DOT_PIXELS ? run_end - pix : DOT_PIXELS);
        oy = (int32_t)(pix / (size_t)w), ox = (int32_t)(pix % (size_t)w);
        for (q = 0; q < npix; ++q) {
            window[q] = window_of(p, in, oy, ox, direct, b, g0, patch[q]);
            if (++ox == w)
                ox = 0, ++oy;
        }
        for (q = npix; q < DOT_PIXELS; ++q)
            window[q] = window[0];
        for (c = 0; c < chunks; ++c) {
            const int32_t j0 = c * CHUNK, valid = chunk_valid[c];

            const int8_t *wg = b->w + (size_t)j0 * b->kp; /* group g's weights */

            for (q = 0; q < DOT_PIXELS; ++q)
                x[q] = window[q] + chunk_at[c];
            /* all DOT_PIXELS rows of acc are set (no loop on npix): those past
             * npix are never stored */
            for (g = 0; g < 4; ++g, wg += 4 * b->kp) {
                if (4 * g >= valid) {
                    for (q = 0; q < DOT_PIXELS; ++q)
                        acc[q][g] = vdupq_n_s32(0);
                    continue;
                }
                dot_tile(x, npix, wg, steps, half, s);
                for (q = 0; q < DOT_PIXELS; ++q)
                    acc[q][g] = s[q];
            }
            for (q = 0; q < npix; ++q)
                store_chunk(p, b, j0, chunk_o[c], valid, acc[q], pix + (size_t)q, out_i8,
                            out_bits);
        }
    }
}

int bnn_conv_i8_dot(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                    uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t cg = p->in.c / p->groups, og = p->out.c / p->groups;
    const int32_t k = p->win.kernel_h * p->win.kernel_w * cg;
    const int32_t kp16 = (k + 15) / 16 * 16;
    /* the window's bytes: a last half step of 8 taps where 8 cover its tail */
    const int32_t kp = DOT_HALF && k % 16 != 0 && k % 16 <= 8 ? kp16 - 8 : kp16;
    int8_t patch[DOT_PIXELS][DOT_MAX_K + COPY];
    struct dot_block b;
    int32_t cb, g, o0;

    if ((p->groups == 1 && p->in.c > DOT_MAX_CIN && !in_place(p)) ||
        (p->groups == p->in.c && p->out.c == p->in.c) || k < 17 || kp16 > DOT_MAX_K ||
        4 * k < 3 * kp16 || p->in_zero < -128 || p->in_zero > 127)
        return 0;
    if (row_end <= row_begin || (int64_t)(row_end - row_begin) * p->out.w < 2)
        return 0; /* one pixel: rearranging the weights costs more than it saves */
    if (p->out.c < DOT_MIN_COUT)
        return 0;
    memset(patch, 0, sizeof patch); /* the tails past K, read against zero weights */
    cb = bnn_min_i32(DOT_W_BYTES / kp / CHUNK * CHUNK, DOT_MAX_CB);
    b.kp = kp;
    b.span = (og + CHUNK - 1) / CHUNK * CHUNK;
    /* a failing block leaves earlier ones written: the next path then rewrites
     * every output of the call */
    if (b.span <= cb) { /* whole groups, as many as the weights and patches hold */
        const int32_t fit = bnn_min_i32(cb / b.span, (DOT_MAX_K + COPY) / (kp + COPY));

        for (g = 0; g < p->groups; g += b.ng) {
            b.o0 = g * og, b.n = og, b.ng = bnn_min_i32(fit, p->groups - g);
            if (!setup_block(p, k, out_bits != NULL, &b))
                return 0;
            run_block(p, in, &b, patch, out_i8, out_bits, row_begin, row_end);
        }
        return 1;
    }
    for (g = 0; g < p->groups; ++g) { /* groups of more than cb channels, cb at a time */
        for (o0 = g * og; o0 < (g + 1) * og; o0 += cb) {
            b.o0 = o0, b.n = bnn_min_i32(cb, (g + 1) * og - o0), b.ng = 1;
            b.span = (b.n + CHUNK - 1) / CHUNK * CHUNK;
            if (!setup_block(p, k, out_bits != NULL, &b))
                return 0;
            run_block(p, in, &b, patch, out_i8, out_bits, row_begin, row_end);
        }
    }
    return 1;
}

#else

typedef int bnn_conv_i8_dot_unused; /* ISO C forbids an empty translation unit */

#endif /* BNN_USE_NEON */
