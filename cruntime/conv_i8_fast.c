/* INT8 convolution with few input channels (a BNN's stem, e.g. 3 -> 64, 3x3):
 * fast path, bit-exact with conv_i8_ref.c.
 *
 * Why it is shaped like this: the reference computes one output channel at a
 * time as int8 dot products over a kernel row, which is kernel_w * in.c = 9
 * elements for an RGB 3x3 stem: too short for SIMD, and the window is walked
 * again for every output channel. Here the window of an output pixel is
 * gathered once into a patch of K = kernel_h * kernel_w * in.c int16 values
 * (padded taps hold the input zero point, so they contribute (Z - Z) * w = 0
 * like the reference's skipped taps), and a matrix-vector product with the
 * weights, rearranged per call so that 16 output channels are contiguous,
 * gives 16 channels at once:
 *   NEON:  vmlal_lane_s16, int16 x int16 -> int32, 4 channels per instruction;
 *   AVX2:  _mm256_madd_epi16 on pairs of taps, 8 channels per instruction;
 *   other: plain C over 16 channels, which compilers vectorize.
 * acc = sum(patch * w) - Z * sum(w) + bias; sum(patch * w) fits int32
 * (K <= 160, |patch|, |w| <= 128). The per-channel constant -Z * sum(w) + bias
 * is folded into the threshold (bits) or added with saturation (int8).
 *
 * Handles groups == 1, in.c <= 16, K <= 160, in_zero within int8; anything
 * else returns 0 and the caller runs the next path.
 * Stack: a 5 KiB weight block (FAST_W_ELEMS int16), 1 KiB of per-channel
 * constants, a 320-byte patch: under 7 KiB in all.
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
#define FAST_MAX_K 160    /* kernel_h * kernel_w * in.c, padded to a multiple of 4 */
#define FAST_W_ELEMS 2560 /* rearranged weights of one block: 5 KiB */
#define FAST_MAX_CB 64    /* output channels of one block */
#define CHUNK 16          /* output channels computed together */

/* One block of output channels [o0, o0 + n), padded to cb (a multiple of
 * CHUNK) with zero weights. */
struct block {
    int32_t o0, n, cb, kpad;
    /* NEON and plain C: w[k * cb + j]; AVX2: w[(k / 2 * cb + j) * 2 + k % 2] */
    int16_t w[FAST_W_ELEMS];
    int32_t lim[FAST_MAX_CB]; /* to_bits: bit 1 iff sum(patch * w) < lim */
    int32_t off[FAST_MAX_CB]; /* to_i8: acc = saturate(sum(patch * w) + off) */
    int32_t mult[FAST_MAX_CB], shift[FAST_MAX_CB];
};

static int32_t clamp_i32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* Rearranged weights and per-channel constants; 0 if an int8 offset does not
 * fit int32 (then the next path runs the whole call). */
static int setup_block(const struct bnn_conv_i8_params *p, int32_t o0, int32_t n, int32_t cb,
                       int32_t kpad, int to_bits, struct block *b)
{
    const int32_t k_real = p->win.kernel_h * p->win.kernel_w * p->in.c;
    int32_t j, k;

    b->o0 = o0, b->n = n, b->cb = cb, b->kpad = kpad;
    for (j = 0; j < cb; ++j) {
        const int8_t *w = p->weight + (size_t)(o0 + (j < n ? j : 0)) * k_real;
        int64_t off = 0;
        int32_t w_sum = 0;

        for (k = 0; k < kpad; ++k) {
            int16_t v = (int16_t)(j < n && k < k_real ? w[k] : 0);
#if BNN_USE_AVX2 && !BNN_USE_NEON
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
        b->shift[j] = j < n ? p->rq.shift[o0 + j] : 0;
    }
    return 1;
}

/* The window of output pixel (oy, ox) as kpad int16 values: padded taps and
 * the tail beyond K hold the input zero point. */
static void gather(const struct bnn_conv_i8_params *p, const int8_t *in, int32_t oy, int32_t ox,
                   int32_t kpad, int16_t *patch)
{
    const int32_t cin = p->in.c, kw = p->win.kernel_w, row = kw * cin;
    const int32_t iy0 = oy * p->win.stride_h - p->win.pad_top;
    const int32_t ix0 = ox * p->win.stride_w - p->win.pad_left;
    const int16_t zero = (int16_t)p->in_zero;
    const int full_w = ix0 >= 0 && ix0 + kw <= p->in.w;
    int32_t r, c, i, k = 0;

    for (r = 0; r < p->win.kernel_h; ++r) {
        const int32_t iy = iy0 + r;
        const int8_t *src = in + ((size_t)iy * p->in.w + ix0) * cin;

        if (iy < 0 || iy >= p->in.h) {
            for (i = 0; i < row; ++i)
                patch[k++] = zero;
        } else if (full_w) {
            for (i = 0; i < row; ++i)
                patch[k++] = src[i];
        } else {
            for (c = 0; c < kw; ++c) {
                const int inside = ix0 + c >= 0 && ix0 + c < p->in.w;

                for (i = 0; i < cin; ++i)
                    patch[k++] = inside ? src[c * cin + i] : zero;
            }
        }
    }
    for (; k < kpad; ++k)
        patch[k] = zero; /* their weights are 0 */
}

#if BNN_USE_NEON

#if defined(__aarch64__)
#define MLAL_HIGH(a, w, x, i) vmlal_high_lane_s16(a, w, x, i)
#else
#define MLAL_HIGH(a, w, x, i) vmlal_lane_s16(a, vget_high_s16(w), x, i)
#endif

#define TAP(i)                                                                  \
    do {                                                                        \
        const int16x8_t w0 = vld1q_s16(w + (k + (i)) * cb);                     \
        const int16x8_t w1 = vld1q_s16(w + (k + (i)) * cb + 8);                 \
        a0 = vmlal_lane_s16(a0, vget_low_s16(w0), x, i);                        \
        a1 = MLAL_HIGH(a1, w0, x, i);                                           \
        a2 = vmlal_lane_s16(a2, vget_low_s16(w1), x, i);                        \
        a3 = MLAL_HIGH(a3, w1, x, i);                                           \
    } while (0)

/* sum(patch * w) of the 16 channels whose weights start at w (stride cb). */
static inline void chunk_sums(const int16_t *patch, const int16_t *w, int32_t kpad, int32_t cb,
                              int32x4_t *acc)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t k;

    for (k = 0; k < kpad; k += 4) {
        const int16x4_t x = vld1_s16(patch + k);

        TAP(0);
        TAP(1);
        TAP(2);
        TAP(3);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

#elif BNN_USE_AVX2

/* The same on pairs of taps: madd(pair, w) = p[2i] w[2i] + p[2i+1] w[2i+1]. */
static inline void chunk_sums(const int16_t *patch, const int16_t *w, int32_t kpad, int32_t cb,
                              int32_t *acc)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    int32_t k;

    for (k = 0; k < kpad; k += 2) {
        int32_t pair;
        __m256i x;
        const int16_t *wr = w + (size_t)k * cb;

        memcpy(&pair, patch + k, sizeof pair);
        x = _mm256_set1_epi32(pair);
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)wr), x));
        a1 = _mm256_add_epi32(a1,
                              _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(wr + 16)), x));
    }
    _mm256_storeu_si256((__m256i *)acc, a0);
    _mm256_storeu_si256((__m256i *)(acc + 8), a1);
}

#else

static inline void chunk_sums(const int16_t *patch, const int16_t *w, int32_t kpad, int32_t cb,
                              int32_t *acc)
{
    int32_t a[CHUNK], k, j;

    for (j = 0; j < CHUNK; ++j)
        a[j] = 0;
    for (k = 0; k < kpad; ++k) {
        const int32_t x = patch[k];
        const int16_t *wr = w + (size_t)k * cb;

        for (j = 0; j < CHUNK; ++j)
            a[j] += x * wr[j];
    }
    for (j = 0; j < CHUNK; ++j)
        acc[j] = a[j];
}

#endif

/* Every output pixel of rows [row_begin, row_end) for the channels of b. */
static void run_block(const struct bnn_conv_i8_params *p, const int8_t *in, const struct block *b,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t words = BNN_WORDS(p->out.c);
    int16_t patch[FAST_MAX_K];
    int32_t oy, ox, j0;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            const size_t pix = (size_t)oy * p->out.w + ox;

            gather(p, in, oy, ox, b->kpad, patch);
            for (j0 = 0; j0 < b->cb; j0 += CHUNK) {
                const int32_t o = b->o0 + j0;
                const int32_t valid = bnn_min_i32(CHUNK, p->out.c - o);
#if BNN_USE_NEON
                int32x4_t acc[4];
#else
                int32_t acc[CHUNK];
#endif
#if BNN_USE_AVX2 && !BNN_USE_NEON
                chunk_sums(patch, b->w + 2 * j0, b->kpad, b->cb, acc);
#else
                chunk_sums(patch, b->w + j0, b->kpad, b->cb, acc);
#endif
                if (out_bits) {
                    uint64_t *dst = out_bits + pix * words + o / 64;
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
                    continue;
                }
#if BNN_USE_NEON
                bnn_conv_out16_i8(acc, b->off + j0, b->mult + j0, b->shift + j0,
                                  p->rq.zero_point, p->rq.lo, p->rq.hi,
                                  out_i8 + pix * p->out.c + o, valid);
#else
                {
                    int8_t *dst = out_i8 + pix * p->out.c + o;
                    int32_t j;

                    for (j = 0; j < valid; ++j)
                        dst[j] = bnn_requant_i8((int64_t)acc[j] + b->off[j0 + j],
                                                b->mult[j0 + j], b->shift[j0 + j],
                                                p->rq.zero_point, p->rq.lo, p->rq.hi);
                }
#endif
            }
        }
    }
}

int bnn_conv_i8_fast(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end)
{
    const int32_t k_real = p->win.kernel_h * p->win.kernel_w * p->in.c;
    const int32_t kpad = (k_real + 3) / 4 * 4;
    int32_t cb, o0;
    struct block b;

    if (p->groups != 1 || p->in.c > FAST_MAX_CIN || kpad > FAST_MAX_K ||
        p->in_zero < -128 || p->in_zero > 127)
        return 0;
    if (row_end <= row_begin || (int64_t)(row_end - row_begin) * p->out.w < 2)
        return 0; /* one pixel: rearranging the weights costs more than it saves */
    cb = bnn_min_i32(FAST_W_ELEMS / kpad / CHUNK * CHUNK, FAST_MAX_CB);
    cb = bnn_min_i32(cb, (p->out.c + CHUNK - 1) / CHUNK * CHUNK);
    for (o0 = 0; o0 < p->out.c; o0 += cb) {
        const int32_t n = bnn_min_i32(cb, p->out.c - o0);

        /* a failing block leaves earlier ones written: the next path then
         * rewrites every output of the call */
        if (!setup_block(p, o0, n, (n + CHUNK - 1) / CHUNK * CHUNK, kpad, out_bits != NULL, &b))
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
