/* INT8 convolution with few input channels (a BNN's stem, e.g. 3 -> 64, 3x3):
 * fast path, bit-exact with conv_i8_ref.c.
 *
 * Why it is shaped like this: the reference computes one output channel at a
 * time as int8 dot products over a kernel row, which is kernel_w * in.c = 9
 * elements for an RGB 3x3 stem: too short for SIMD, and the window is walked
 * again for every output channel. Here the window of an output pixel is read
 * as kernel_h rows of R = kernel_w * in.c int8 values, each row padded to
 * Rp = R rounded up to 4 taps, and a matrix-vector product with the weights,
 * rearranged per call so that 16 output channels are contiguous (with zero
 * weights for the Rp - R padding taps of each row), gives 16 channels at
 * once. A window wholly inside the input is read in place: its rows are
 * contiguous in the HWC input, and the bytes a row's padding taps read are
 * whatever follows the row (their weights are 0, so they add 0), as long as
 * they lie inside the input tensor (checked). A window that crosses the
 * border is gathered into a patch whose padded taps hold the input zero
 * point, so they contribute (Z - Z) * w = 0 like the reference's skipped taps.
 * On aarch64, runs of 4 such in-place pixels share each weight load, and in
 * them chunks with at most 8 valid channels (an 8-channel stem) compute 8.
 *   NEON:  vmlal_lane_s16, int16 x int16 -> int32, 4 channels per instruction;
 *   armv7: the window as one run of K int8 taps instead (rows not padded: an
 *          RGB 3x3 window is 27 taps, one piece of 32, not 36), its rows
 *          copied together, and per channel int8 dot products in asm: VLD4
 *          of 32 taps of window and weights alike (which taps pair up does
 *          not matter in a sum), VMULL.S8 + VMLAL.S8 (2 products per int16
 *          lane: |x * w| <= 128 * 127 needs weights > -128, checked per
 *          block, else one VMULL per VPADAL), VPADAL.S16; 8 channels at a
 *          time, whose bits are one output byte (2.57 M -> 1.05 M armv7
 *          instructions for cifar_bnn's 3 -> 64 stem);
 *   AVX2:  _mm256_madd_epi16 on pairs of taps, 8 channels per instruction;
 *   other: plain C over 16 channels, which compilers vectorize.
 * acc = sum(x * w) - Z * sum(w) + bias; sum(x * w) fits int32
 * (K <= 192, |x|, |w| <= 128). The per-channel constant -Z * sum(w) + bias
 * is folded into the threshold (bits) or added with saturation (int8).
 *
 * Handles groups == 1, in.c <= 16, kernel_h * Rp <= 192, in_zero within int8;
 * anything else returns 0 and the caller runs the next path.
 * Stack: a 6 KiB weight block (FAST_W_ELEMS int16), 1 KiB of per-channel
 * constants, a 200-byte patch: under 8 KiB in all.
 */
#include "bnn_internal.h"
#include "bnn_requant.h"

#if BNN_USE_FAST

#include <string.h>

#if BNN_USE_NEON
#include <arm_neon.h>

#include "conv_i8_neon.h"
#elif BNN_USE_AVX2
#include <immintrin.h>
#endif

#define FAST_MAX_CIN 16   /* "few" input channels */
#define FAST_MAX_K 192    /* kernel_h * Rp: the window with its rows padded to 4 taps */
#define FAST_W_ELEMS 3072 /* rearranged weights of one block: 6 KiB */
#define FAST_MAX_CB 64    /* output channels of one block */
#define CHUNK 16          /* output channels computed together */

#if BNN_USE_NEON && !defined(__aarch64__)
#define STEM_A32 1    /* armv7: whole windows as int8 dot products (above) */
#define OVERREAD 32   /* bytes read past a window's K taps (pieces of 32; rows copied 16 at a time) */
#else
#define STEM_A32 0
#define OVERREAD 4    /* bytes a row's last load may read past the row's Rp taps */
#endif

/* One block of output channels [o0, o0 + n), padded to cb (a multiple of
 * CHUNK) with zero weights, for windows of `rows` rows of `rowpad` taps. */
struct block {
    int32_t o0, n, cb, rows, rowpad;
#if STEM_A32
    /* w[a32_index(k, j, K rounded up to 32)], k = row * rowpad + tap */
    int8_t w[2 * FAST_W_ELEMS];
    int pairs; /* no weight is -128: two products per int16 lane */
#else
    /* NEON and plain C: w[k * cb + j]; AVX2: w[(k / 2 * cb + j) * 2 + k % 2],
     * k = row * rowpad + tap */
    int16_t w[FAST_W_ELEMS];
#endif
    int32_t lim[FAST_MAX_CB]; /* to_bits: bit 1 iff sum(x * w) < lim */
    int32_t off[FAST_MAX_CB]; /* to_i8: acc = saturate(sum(x * w) + off) */
    int32_t mult[FAST_MAX_CB], shift[FAST_MAX_CB];
    int sra; /* every channel's shift is a right shift: bnn_conv_out16_i8_sra */
};

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

#if STEM_A32
/* Where tap k of block channel j goes on armv7: per group of 8 channels, per
 * piece of 32 taps, the 8 channels' 32 taps one after the other (what the
 * tile reads, in order). k32: the window's taps rounded up to 32. */
static size_t a32_index(int32_t k, int32_t j, int32_t k32)
{
    return (size_t)(j / 8) * 8 * k32 + (size_t)(k / 32) * 32 * 8 + (size_t)(j % 8) * 32 + k % 32;
}
#endif

/* Rearranged weights and per-channel constants; 0 if an int8 offset does not
 * fit int32 (then the next path runs the whole call). */
static int setup_block(const struct bnn_conv_i8_params *p, int32_t o0, int32_t n, int32_t cb,
                       int32_t rowpad, int to_bits, struct block *b)
{
    const int32_t rowlen = p->win.kernel_w * p->in.c;
    const int32_t k_real = p->win.kernel_h * rowlen, kpad = p->win.kernel_h * rowpad;
    int32_t j, k;

    b->o0 = o0, b->n = n, b->cb = cb, b->rows = p->win.kernel_h, b->rowpad = rowpad;
    b->sra = 1;
#if STEM_A32
    b->pairs = 1;
    memset(b->w, 0, sizeof b->w); /* the taps past K of each piece of 32 */
#endif
    for (j = 0; j < cb; ++j) {
        const int8_t *w = p->weight + (size_t)(o0 + (j < n ? j : 0)) * k_real;
        int64_t off = 0;
        int32_t w_sum = 0;

        for (k = 0; k < kpad; ++k) {
            const int32_t tap = k % rowpad;
            const int16_t v = (int16_t)(j < n && tap < rowlen ? w[k / rowpad * rowlen + tap] : 0);
#if STEM_A32
            b->w[a32_index(k, j, (kpad + 31) / 32 * 32)] = (int8_t)v;
            b->pairs &= v != -128;
#elif BNN_USE_AVX2
            b->w[(k / 2 * cb + j) * 2 + k % 2] = v;
#else
            b->w[k * cb + j] = v;
#endif
            w_sum += v;
        }
        if (j < n)
            off = (int64_t)p->bias[o0 + j] - (int64_t)p->in_zero * w_sum;
        if (to_bits) {
            /* acc < T iff sum < T - off; |sum| < 2^23, so clamping is exact */
            b->lim[j] = j < n ? clamp_i32((int64_t)p->threshold[o0 + j] - off) : INT32_MIN;
            continue;
        }
        if (off != clamp_i32(off))
            return 0;
        b->off[j] = (int32_t)off;
        b->mult[j] = j < n ? p->rq.multiplier[o0 + j] : 0;
        /* RDBPOT by 62 or more is RDBPOT by 62 (both give 0) */
        b->shift[j] = j < n ? bnn_max_i32(p->rq.shift[o0 + j], -62) : 0;
        b->sra &= j >= n || p->rq.shift[o0 + j] < 0;
    }
    return 1;
}

/* The window of output pixel (oy, ox) as kernel_h rows of rowpad int8 values:
 * padded taps and each row's tail hold the input zero point; the OVERREAD
 * bytes after the last row are 0. */
static void gather(const struct bnn_conv_i8_params *p, const int8_t *in, int32_t oy, int32_t ox,
                   int32_t rowpad, int8_t *patch)
{
    const int32_t cin = p->in.c, kw = p->win.kernel_w;
    const int32_t iy0 = oy * p->win.stride_h - p->win.pad_top;
    const int32_t ix0 = ox * p->win.stride_w - p->win.pad_left;
    const int8_t zero = (int8_t)p->in_zero;
    int32_t r, c, i;

    for (r = 0; r < p->win.kernel_h; ++r) {
        const int32_t iy = iy0 + r;
        const int8_t *src = in + ((ptrdiff_t)iy * p->in.w + ix0) * cin;
        int8_t *dst = patch + (size_t)r * rowpad;

        memset(dst, zero, (size_t)rowpad);
        if (iy < 0 || iy >= p->in.h)
            continue;
        for (c = 0; c < kw; ++c)
            if (ix0 + c >= 0 && ix0 + c < p->in.w)
                for (i = 0; i < cin; ++i)
                    dst[c * cin + i] = src[c * cin + i];
    }
    memset(patch + (size_t)p->win.kernel_h * rowpad, 0, OVERREAD);
}

#if BNN_USE_NEON && defined(__aarch64__)

#define MLAL_HIGH(a, w, x, i) vmlal_high_lane_s16(a, w, x, i)
#define TILE 4 /* pixels sharing each weight load: 16 accumulators of 32 registers */

typedef int32x4_t chunk_acc[4]; /* the chunk's 16 channels, 4 per vector */

/* Tap i of xv[q] (four taps of pixel q) times the weights at wk, for every
 * pixel of the tile and the chunk's channels (the first 8 if half). */
#define TAP(i, wk)                                                              \
    do {                                                                        \
        const int16x8_t w0 = vld1q_s16(wk);                                     \
        const int16x8_t w1 = half ? w0 : vld1q_s16((wk) + 8);                   \
        for (q = 0; q < npix; ++q) {                                            \
            a[q][0] = vmlal_lane_s16(a[q][0], vget_low_s16(w0), xv[q], i);      \
            a[q][1] = MLAL_HIGH(a[q][1], w0, xv[q], i);                         \
            if (!half) {                                                        \
                a[q][2] = vmlal_lane_s16(a[q][2], vget_low_s16(w1), xv[q], i);  \
                a[q][3] = MLAL_HIGH(a[q][3], w1, xv[q], i);                     \
            }                                                                   \
        }                                                                       \
    } while (0)

/* sum(x * w) of the chunk's 16 channels (the first 8 if half; the others 0)
 * for npix pixels: pixel q's window row r at x + q * pix_step + r * stride.
 * Each load of 8 bytes for 4 taps reads up to OVERREAD bytes past a row's
 * rowpad taps. */
static inline void chunk_sums(const int8_t *x, ptrdiff_t pix_step, ptrdiff_t stride,
                              const struct block *b, int32_t j0, int half, int npix,
                              chunk_acc *acc)
{
    const int32_t cb = b->cb, rowpad = b->rowpad;
    const int16_t *w = b->w + j0;
    int32x4_t a[TILE][4];
    int32_t r, t;
    int q, j;

    for (q = 0; q < npix; ++q)
        for (j = 0; j < 4; ++j)
            a[q][j] = vdupq_n_s32(0);
    for (r = 0; r < b->rows; ++r, x += stride) {
        for (t = 0; t < rowpad; t += 4, w += 4 * cb) {
            int16x4_t xv[TILE];

            /* npix >= 1: pixel 0 outside the loop, so that GCC -O1 sees xv[0] set */
            xv[0] = vget_low_s16(vmovl_s8(vld1_s8(x + t)));
            for (q = 1; q < npix; ++q)
                xv[q] = vget_low_s16(vmovl_s8(vld1_s8(x + q * pix_step + t)));
            TAP(0, w);
            TAP(1, w + cb);
            TAP(2, w + 2 * cb);
            TAP(3, w + 3 * cb);
        }
    }
    for (q = 0; q < npix; ++q)
        for (j = 0; j < 4; ++j)
            acc[q][j] = a[q][j];
}

#elif STEM_A32

#define TILE 1
typedef int32x4_t chunk_acc[4]; /* the chunk's 16 channels, 4 per vector */

/* The armv7 group of 8 channels is asm (compiled intrinsics kept its 8
 * accumulators on the stack: measured). The window's piece of 32 taps is in
 * d16-d19 (VLD4: de-interleaved like the weights), each channel's weights go
 * to d20-d23 by one VLD4 from %[w] (moved on), the sums to q0-q7, started by
 * ADD ("vpaddl.s16" on the first piece, else "vpadal.s16"). With pairs (no
 * weight is -128) VMLAL adds a second product to each int16 lane; two
 * channels interleave their chains for in-order cores. */
#define A32_STEM_PAIRS(ADD, A, B)                                               \
    "vld4.8 {d20-d23}, [%[w]]!\n\t"                                            \
    "vmull.s8 q12, d16, d20\n\t"                                               \
    "vmull.s8 q13, d18, d22\n\t"                                               \
    "vmlal.s8 q12, d17, d21\n\t"                                               \
    "vmlal.s8 q13, d19, d23\n\t"                                               \
    "vld4.8 {d20-d23}, [%[w]]!\n\t"                                            \
    "vmull.s8 q14, d16, d20\n\t"                                               \
    "vmull.s8 q15, d18, d22\n\t"                                               \
    "vmlal.s8 q14, d17, d21\n\t"                                               \
    "vmlal.s8 q15, d19, d23\n\t"                                               \
    ADD " " A ", q12\n\t"                                                      \
    ADD " " B ", q14\n\t"                                                      \
    "vpadal.s16 " A ", q13\n\t"                                                \
    "vpadal.s16 " B ", q15\n\t"

/* Without pairs: one product per int16 lane. */
#define A32_STEM_SINGLE(ADD, A, B)                                              \
    "vld4.8 {d20-d23}, [%[w]]!\n\t"                                            \
    "vmull.s8 q12, d16, d20\n\t"                                               \
    "vmull.s8 q13, d17, d21\n\t"                                               \
    "vmull.s8 q14, d18, d22\n\t"                                               \
    "vmull.s8 q15, d19, d23\n\t"                                               \
    ADD " " A ", q12\n\t"                                                      \
    "vpadal.s16 " A ", q13\n\t"                                                \
    "vpadal.s16 " A ", q14\n\t"                                                \
    "vpadal.s16 " A ", q15\n\t"                                                \
    "vld4.8 {d20-d23}, [%[w]]!\n\t"                                            \
    "vmull.s8 q12, d16, d20\n\t"                                               \
    "vmull.s8 q13, d17, d21\n\t"                                               \
    "vmull.s8 q14, d18, d22\n\t"                                               \
    "vmull.s8 q15, d19, d23\n\t"                                               \
    ADD " " B ", q12\n\t"                                                      \
    "vpadal.s16 " B ", q13\n\t"                                                \
    "vpadal.s16 " B ", q14\n\t"                                                \
    "vpadal.s16 " B ", q15\n\t"

#define A32_STEM_PIECE(CH, ADD)                                                 \
    "vld4.8 {d16-d19}, [%[xp]]!\n\t"                                           \
    CH(ADD, "q0", "q1") CH(ADD, "q2", "q3") CH(ADD, "q4", "q5") CH(ADD, "q6", "q7")

/* Every piece of the window at %[xp] (%[n] >= 1 of them), then the lane sums
 * of q0-q7: the 8 channels' sums in q0-q1. */
#define A32_STEM_SUMS(CH)                                                       \
    A32_STEM_PIECE(CH, "vpaddl.s16")                                           \
    "subs %[n], %[n], #1\n\t"                                                  \
    "beq 2f\n"                                                                 \
    "1:\n\t"                                                                   \
    A32_STEM_PIECE(CH, "vpadal.s16")                                           \
    "subs %[n], %[n], #1\n\t"                                                  \
    "bne 1b\n"                                                                 \
    "2:\n\t"                                                                   \
    "vpadd.i32 d0, d0, d1\n\t"                                                 \
    "vpadd.i32 d2, d2, d3\n\t"                                                 \
    "vpadd.i32 d4, d4, d5\n\t"                                                 \
    "vpadd.i32 d6, d6, d7\n\t"                                                 \
    "vpadd.i32 d8, d8, d9\n\t"                                                 \
    "vpadd.i32 d10, d10, d11\n\t"                                              \
    "vpadd.i32 d12, d12, d13\n\t"                                              \
    "vpadd.i32 d14, d14, d15\n\t"                                              \
    "vpadd.i32 d0, d0, d2\n\t"                                                 \
    "vpadd.i32 d1, d4, d6\n\t"                                                 \
    "vpadd.i32 d2, d8, d10\n\t"                                                \
    "vpadd.i32 d3, d12, d14\n\t"

#define A32_STEM_CLOBBERS                                                       \
    "cc", "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", \
        "d11", "d12", "d13", "d14", "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22", \
        "d23", "d24", "d25", "d26", "d27", "d28", "d29", "d30", "d31"

#define A32_STEM_GROUP_SUMS(CH)                                                 \
    __asm__ volatile(A32_STEM_SUMS(CH) "vst1.32 {d0-d3}, [%[out]]\n\t"         \
                     : [xp] "+r"(x), [w] "+r"(w), [n] "+r"(n)                   \
                     : [out] "r"(out)                                           \
                     : A32_STEM_CLOBBERS)

/* sum(x * w) of the 8 channels whose weights start at w, for the window x of
 * `pieces` pieces of 32 taps, to out[0..8). */
static void group_sums(const int8_t *x, const int8_t *w, int32_t pieces, int pairs,
                       int32_t *out)
{
    int32_t n = pieces;

    if (pairs)
        A32_STEM_GROUP_SUMS(A32_STEM_PAIRS);
    else
        A32_STEM_GROUP_SUMS(A32_STEM_SINGLE);
}

/* Per group of 8 channels (%[g] >= 1 of them) the sums, then one byte of bits
 * to %[dst] (moved on): bit c = 1 iff sum c < lim c (8 limits from %[lim],
 * moved on), lane masks narrowed to bytes, ANDed with their bit (%[bit]) and
 * added pairwise. */
#define A32_STEM_GROUP_BITS(CH)                                                 \
    __asm__ volatile("0:\n\t"                                                  \
                     "mov %[xp], %[x]\n\t"                                      \
                     "mov %[n], %[pieces]\n\t"                                  \
                     A32_STEM_SUMS(CH)                                          \
                     "vld1.32 {d4-d7}, [%[lim]]!\n\t"                           \
                     "vcgt.s32 q2, q2, q0\n\t"                                  \
                     "vcgt.s32 q3, q3, q1\n\t"                                  \
                     "vmovn.i32 d0, q2\n\t"                                     \
                     "vmovn.i32 d1, q3\n\t"                                     \
                     "vmovn.i16 d4, q0\n\t"                                     \
                     "vld1.8 {d5}, [%[bit]]\n\t"                                \
                     "vand d4, d4, d5\n\t"                                      \
                     "vpadd.i8 d4, d4, d4\n\t"                                  \
                     "vpadd.i8 d4, d4, d4\n\t"                                  \
                     "vpadd.i8 d4, d4, d4\n\t"                                  \
                     "vst1.8 {d4[0]}, [%[dst]]!\n\t"                            \
                     "subs %[g], %[g], #1\n\t"                                  \
                     "bne 0b\n\t"                                               \
                     : [xp] "=&r"(xp), [n] "=&r"(n), [w] "+r"(w), [lim] "+r"(lim), \
                       [dst] "+r"(dst), [g] "+r"(groups)                        \
                     : [x] "r"(x), [pieces] "r"(pieces), [bit] "r"(bit_of_lane)  \
                     : A32_STEM_CLOBBERS)

/* Every channel of b at output pixel pix as bits, for the window x (one run
 * of taps): one byte per group of 8 channels, little-endian in the output
 * words, the bytes of the last word past the channels set to 0. */
static void pixel_bits(const struct bnn_conv_i8_params *p, const struct block *b,
                       const int8_t *x, size_t pix, uint64_t *out_bits)
{
    static const uint8_t bit_of_lane[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const int32_t pieces = (b->rows * b->rowpad + 31) / 32;
    const int32_t end = (b->o0 + b->n + 7) / 8, row_bytes = BNN_WORDS(p->out.c) * 8;
    uint8_t *row = (uint8_t *)(out_bits + pix * BNN_WORDS(p->out.c));
    uint8_t *dst = row + b->o0 / 8;
    const int8_t *w = b->w, *xp;
    const int32_t *lim = b->lim;
    int32_t groups = (b->n + 7) / 8, n;

    if (b->pairs)
        A32_STEM_GROUP_BITS(A32_STEM_PAIRS);
    else
        A32_STEM_GROUP_BITS(A32_STEM_SINGLE);
    if (b->o0 + b->n == p->out.c && end < row_bytes)
        memset(row + end, 0, (size_t)(row_bytes - end));
}

/* sum(x * w) of the chunk's 16 channels (the first 8 if half; the others 0)
 * for the window of one pixel, its K taps in one run at x, readable up to K
 * rounded up to 32 (the weights of the taps past K are 0). */
static inline void chunk_sums(const int8_t *x, ptrdiff_t pix_step, ptrdiff_t stride,
                              const struct block *b, int32_t j0, int half, int npix,
                              chunk_acc *acc)
{
    const int32_t pieces = (b->rows * b->rowpad + 31) / 32;
    const int8_t *w = b->w + (size_t)j0 * 32 * pieces;
    int32_t *sums = (int32_t *)acc[0];

    (void)pix_step, (void)stride, (void)npix;
    group_sums(x, w, pieces, b->pairs, sums);
    if (half)
        acc[0][2] = acc[0][3] = vdupq_n_s32(0);
    else
        group_sums(x, w + 8 * 32 * pieces, pieces, b->pairs, sums + 8);
}

/* The window at x (rows stride bytes apart, rowlen taps each) copied to
 * patch as one run of taps, 16 bytes at a time: that reads up to 15 bytes
 * past each row (the caller checked they lie inside the input) and writes as
 * far past the window's end. */
static const int8_t *window_run(const int8_t *x, ptrdiff_t stride, int32_t rows, int32_t rowlen,
                                int8_t *patch)
{
    int32_t r, t;

    for (r = 0; r < rows; ++r, x += stride)
        for (t = 0; t < rowlen; t += 16)
            vst1q_s8(patch + r * rowlen + t, vld1q_s8(x + t));
    return patch;
}

#elif BNN_USE_AVX2

#define TILE 1
typedef int32_t chunk_acc[CHUNK];

/* The same on pairs of taps: madd(pair, w) = x[2i] w[2i] + x[2i+1] w[2i+1]. */
static inline void chunk_sums(const int8_t *x, ptrdiff_t pix_step, ptrdiff_t stride,
                              const struct block *b, int32_t j0, int half, int npix,
                              chunk_acc *acc)
{
    const int32_t cb = b->cb, rowpad = b->rowpad;
    const int16_t *w = b->w + 2 * j0;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    int32_t r, t;

    (void)pix_step, (void)half, (void)npix;
    for (r = 0; r < b->rows; ++r, x += stride) {
        for (t = 0; t < rowpad; t += 2, w += 2 * cb) {
            const uint32_t pair = (uint32_t)(uint16_t)x[t] | (uint32_t)(uint16_t)x[t + 1] << 16;
            const __m256i xv = _mm256_set1_epi32((int32_t)pair);

            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)w),
                                                        xv));
            a1 = _mm256_add_epi32(
                a1, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(w + 16)), xv));
        }
    }
    _mm256_storeu_si256((__m256i *)acc[0], a0);
    _mm256_storeu_si256((__m256i *)(acc[0] + 8), a1);
}

#else

#define TILE 1
typedef int32_t chunk_acc[CHUNK];

static inline void chunk_sums(const int8_t *x, ptrdiff_t pix_step, ptrdiff_t stride,
                              const struct block *b, int32_t j0, int half, int npix,
                              chunk_acc *acc)
{
    const int32_t cb = b->cb, rowpad = b->rowpad;
    const int16_t *w = b->w + j0;
    int32_t a[CHUNK], r, t, j;

    (void)pix_step, (void)half, (void)npix;
    for (j = 0; j < CHUNK; ++j)
        a[j] = 0;
    for (r = 0; r < b->rows; ++r, x += stride) {
        for (t = 0; t < rowpad; ++t, w += cb) {
            const int32_t xv = x[t];

            for (j = 0; j < CHUNK; ++j)
                a[j] += xv * w[j];
        }
    }
    for (j = 0; j < CHUNK; ++j)
        acc[0][j] = a[j];
}

#endif

/* The outputs of the chunk's `valid` channels from channel o = b->o0 + j0 at
 * output pixel pix. */
static void store_chunk(const struct bnn_conv_i8_params *p, const struct block *b, int32_t j0,
                        int32_t valid, const chunk_acc acc, size_t pix, int8_t *out_i8,
                        uint64_t *out_bits)
{
    const int32_t o = b->o0 + j0;

    if (out_bits) {
        uint64_t *dst = out_bits + pix * BNN_WORDS(p->out.c) + o / 64;
        uint64_t bits;
#if BNN_USE_NEON
        bits = bnn_conv_out16_bits(acc, b->lim + j0);
#else
        int32_t j;

        bits = 0;
        for (j = 0; j < CHUNK; ++j)
            bits |= (uint64_t)(acc[j] < b->lim[j0 + j]) << j;
#endif
        bits &= ((uint64_t)1 << valid) - 1;
        if (o % 64 == 0)
            *dst = bits;
        else
            *dst |= bits << (o % 64);
        return;
    }
#if BNN_USE_NEON
    bnn_conv_out16_i8_pick(b->sra, acc, b->off + j0, b->mult + j0, b->shift + j0,
                           p->rq.zero_point, p->rq.lo, p->rq.hi,
                           out_i8 + pix * bnn_conv_i8_out_pitch(p) + o, valid);
#else
    {
        int8_t *dst = out_i8 + pix * bnn_conv_i8_out_pitch(p) + o;
        int32_t j;

        for (j = 0; j < valid; ++j)
            dst[j] = bnn_requant_i8((int64_t)acc[j] + b->off[j0 + j], b->mult[j0 + j],
                                    b->shift[j0 + j], p->rq.zero_point, p->rq.lo, p->rq.hi);
    }
#endif
}

/* Every channel of b at npix (TILE or 1) consecutive output pixels from pix,
 * whose windows start at x, pix_step bytes apart, rows stride bytes apart. */
static void run_pixels(const struct bnn_conv_i8_params *p, const struct block *b,
                       const int8_t *x, ptrdiff_t pix_step, ptrdiff_t stride, int npix,
                       size_t pix, int8_t *out_i8, uint64_t *out_bits)
{
    int32_t j0;
    int q;

#if STEM_A32
    if (out_bits) {
        pixel_bits(p, b, x, pix, out_bits);
        return;
    }
#endif
    for (j0 = 0; j0 < b->cb; j0 += CHUNK) {
        const int32_t valid = bnn_min_i32(CHUNK, p->out.c - b->o0 - j0);
        chunk_acc acc[TILE];

        if (npix == TILE && valid <= CHUNK / 2)
            chunk_sums(x, pix_step, stride, b, j0, 1, TILE, acc);
        else if (npix == TILE)
            chunk_sums(x, pix_step, stride, b, j0, 0, TILE, acc);
        else
            chunk_sums(x, pix_step, stride, b, j0, 0, 1, acc);
        for (q = 0; q < npix; ++q)
            store_chunk(p, b, j0, valid, acc[q], pix + (size_t)q, out_i8, out_bits);
    }
}

/* Every output pixel of rows [row_begin, row_end) for the channels of b: runs
 * of TILE pixels whose windows lie inside the input (in place), the others
 * one by one, gathered when their window crosses the border. */
static void run_block(const struct bnn_conv_i8_params *p, const int8_t *in, const struct block *b,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t cin = p->in.c, kh = p->win.kernel_h, kw = p->win.kernel_w;
    const ptrdiff_t in_stride = (ptrdiff_t)p->in.w * cin;
    const ptrdiff_t in_bytes = p->in.h * in_stride;
    const ptrdiff_t pix_step = (ptrdiff_t)p->win.stride_w * cin;
    int8_t patch[FAST_MAX_K + OVERREAD];
    int32_t oy, ox;

#if STEM_A32
    memset(patch, 0, sizeof patch); /* every byte a piece of 32 taps may read is set */
#endif
    for (oy = row_begin; oy < row_end; ++oy) {
        const int32_t iy0 = oy * p->win.stride_h - p->win.pad_top;
        const int rows_inside = iy0 >= 0 && iy0 + kh <= p->in.h;
        /* the window of ox is in place iff ox_lo <= ox < ox_hi */
        int32_t ox_lo = (p->win.pad_left + p->win.stride_w - 1) / p->win.stride_w;
        int32_t ox_hi = 0;

        if (rows_inside) {
            const ptrdiff_t last_row = (ptrdiff_t)(iy0 + kh - 1) * in_stride;

            for (ox_hi = p->out.w; ox_hi > ox_lo; --ox_hi) {
                const int32_t ix0 = (ox_hi - 1) * p->win.stride_w - p->win.pad_left;

                if (ix0 + kw <= p->in.w &&
                    last_row + (ptrdiff_t)ix0 * cin + b->rowpad + OVERREAD <= in_bytes)
                    break;
            }
        }
        for (ox = 0; ox < p->out.w;) {
            const size_t pix = (size_t)oy * p->out.w + ox;
            const int32_t ix0 = ox * p->win.stride_w - p->win.pad_left;
            const int npix = ox >= ox_lo && ox + TILE <= ox_hi ? TILE : 1;

            if (ox >= ox_lo && ox < ox_hi) {
                const int8_t *x = in + (ptrdiff_t)iy0 * in_stride + (ptrdiff_t)ix0 * cin;
#if STEM_A32
                run_pixels(p, b, window_run(x, in_stride, kh, b->rowpad, patch), pix_step,
                           b->rowpad, 1, pix, out_i8, out_bits);
#else
                run_pixels(p, b, x, pix_step, in_stride, npix, pix, out_i8, out_bits);
#endif
            } else {
                gather(p, in, oy, ox, b->rowpad, patch);
                run_pixels(p, b, patch, 0, b->rowpad, 1, pix, out_i8, out_bits);
            }
            ox += npix;
        }
    }
}

int bnn_conv_i8_fast(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    /* armv7 reads a window's rows as one run of taps, the others 4 taps at a time */
    const int32_t rowpad = STEM_A32 ? p->win.kernel_w * p->in.c
                                    : (p->win.kernel_w * p->in.c + 3) / 4 * 4;
    const int32_t kpad = p->win.kernel_h * rowpad;
    /* weights of one block: int16, or int8 in vectors of 8 taps on armv7 */
    const int32_t w_room = STEM_A32 ? 2 * FAST_W_ELEMS / ((kpad + 31) / 32 * 32)
                                    : FAST_W_ELEMS / kpad;
    int32_t cb, o0;
    struct block b;

    if (p->groups != 1 || p->in.c > FAST_MAX_CIN || kpad > FAST_MAX_K ||
        p->in_zero < -128 || p->in_zero > 127)
        return 0;
    if (row_end <= row_begin || (int64_t)(row_end - row_begin) * p->out.w < 2)
        return 0; /* one pixel: rearranging the weights costs more than it saves */
    cb = bnn_min_i32(w_room / CHUNK * CHUNK, FAST_MAX_CB);
    cb = bnn_min_i32(cb, (p->out.c + CHUNK - 1) / CHUNK * CHUNK);
    for (o0 = 0; o0 < p->out.c; o0 += cb) {
        const int32_t n = bnn_min_i32(cb, p->out.c - o0);

        /* a failing block leaves earlier ones written: the next path then
         * rewrites every output of the call */
        if (!setup_block(p, o0, n, (n + CHUNK - 1) / CHUNK * CHUNK, rowpad, out_bits != NULL,
                         &b))
            return 0;
        run_block(p, in, &b, out_i8, out_bits, row_begin, row_end);
    }
    return 1;
}

#else

int bnn_conv_i8_fast(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    (void)p, (void)in, (void)out_i8, (void)out_bits, (void)row_begin, (void)row_end;
    return 0;
}

#endif /* BNN_USE_FAST */
