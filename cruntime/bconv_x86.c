/* Binary convolution, fast path for x86-64 hosts (the `host` preset builds
 * with -march=native, so the build machine's CPU picks the popcount):
 * AVX-512 VPOPCNTDQ where the build enables it (BNN_USE_AVX512_POPCNT),
 * AVX2 otherwise; bit-exact with bconv_ref.c.
 *
 * Why it is shaped like this:
 * - Output channels in lanes: the weights of a block of 16 output channels
 *   (8 for windows over 64 words) are rearranged per call into a stack block
 *   so that word k of 4 channels is one 256-bit vector. One input word,
 *   broadcast to 4 lanes, is XORed with every group: each 64-bit lane is one
 *   output channel, so there is no horizontal reduction, no im2col and no
 *   tail of odd words (64-channel layers have 3 words per kernel row).
 * - AVX2: popcount per byte with the nibble table (_mm256_shuffle_epi8).
 *   The weights are stored already split into low and high nibbles, so the
 *   split of the input word (and, shift, and) is done once per step for all
 *   groups and a group costs xor + shuffle per nibble. Byte sums grow by at
 *   most 8 per step, so they are folded into 64-bit lane sums
 *   (_mm256_sad_epu8) every 31 steps at most.
 * - AVX-512 VPOPCNTDQ: 8 channels per 512-bit vector, the weights stored
 *   as they are; a step is xor + vpopcntq + add into 64-bit lane sums per
 *   8 channels, which never overflow, so there is nothing to fold. Only the
 *   counting differs: windows, padding and output stages are shared.
 * - Interior windows are kernel_h runs of kernel_w * words(c_in) contiguous
 *   input words; border windows in `one` mode are copied into a small patch
 *   with zero words (+1) for the padded taps; in `zero` mode only the
 *   in-bounds taps are counted and y uses their number, as the reference.
 * - y = taps * c_in - 2 * popcount, then 8 thresholds at once (bits) or the
 *   int8 output stage 8 channels at a time, exact as bnn_requant.h (below).
 * Stack: a 16 KiB weight block (KB_WORDS), a 1 KiB patch, under 512 bytes of
 * locals. Windows of more than KB_WORDS / 16 = 128 words per channel run
 * bconv_portable.c (on both paths: the same blocks, half used by AVX-512).
 */
#include "bnn_internal.h"

#if BNN_USE_AVX2

#include <immintrin.h>
#include <string.h>

#include "bnn_bits.h"
#include "bnn_requant.h"

#define KB_WORDS 2048 /* rearranged weights of one block: 16 KiB */
#define MAX_G 4       /* groups of 4 output channels per block */

struct x86_ctx {
    const struct bnn_bconv_params *p;
    int32_t cw, k_words, row_words;
    int32_t g;      /* groups of 4 channels per block: 4, or 2 for large windows */
    int32_t vec_i8; /* the vector int8 output stage is exact for this layer */
};

#if BNN_USE_AVX512_POPCNT

#define RUN (1 << 20) /* 64-bit lane sums: no run limit worth the name */
#define STEP_WORDS(G) (4 * (G)) /* weight words per step: one per channel */

/* Popcounts of 4G channels, one 64-bit lane per channel, 8 per vector. */
struct sums {
    __m512i q[MAX_G / 2];
};

static inline void sums_clear(struct sums *s, int G)
{
    int v;

    for (v = 0; v < G / 2; ++v)
        s->q[v] = _mm512_setzero_si512();
}

static inline void sums_flush(struct sums *s, int G)
{
    (void)s;
    (void)G;
}

/* One step: input word x against word k of the block's channels (wk). */
static inline void step(struct sums *s, int G, uint64_t x, const uint64_t *wk)
{
    const __m512i xv = _mm512_set1_epi64((long long)x);
    int v;

    for (v = 0; v < G / 2; ++v) {
        const __m512i w = _mm512_loadu_si512((const void *)(wk + 8 * v));

        s->q[v] = _mm512_add_epi64(s->q[v], _mm512_popcnt_epi64(_mm512_xor_si512(xv, w)));
    }
}

/* Channels 8h..8h+7 of the block as int32 lanes in channel order. */
static inline __m256i sums_channels(const struct sums *s, int h)
{
    return _mm512_cvtepi64_epi32(s->q[h]);
}

/* Word k of channel j of the block goes to wb[k * STEP_WORDS + j]. */
static inline void store_weight_word(uint64_t *wb, int G, int32_t k, int32_t j, uint64_t v)
{
    wb[(size_t)k * STEP_WORDS(G) + j] = v;
}

#else

#define RUN 31 /* steps before the byte sums could overflow */
#define STEP_WORDS(G) (8 * (G)) /* weight words per step: two per channel */

/* Byte popcounts of G groups, summed over steps. */
struct sums {
    __m256i b[MAX_G];  /* byte sums of the current run */
    __m256i q[MAX_G];  /* 64-bit lane sums: one lane per output channel */
};

static inline void sums_clear(struct sums *s, int G)
{
    int g;

    for (g = 0; g < G; ++g)
        s->b[g] = s->q[g] = _mm256_setzero_si256();
}

static inline void sums_flush(struct sums *s, int G)
{
    int g;

    for (g = 0; g < G; ++g) {
        s->q[g] = _mm256_add_epi64(s->q[g], _mm256_sad_epu8(s->b[g], _mm256_setzero_si256()));
        s->b[g] = _mm256_setzero_si256();
    }
}

/* One step: input word x against word k of the block's channels. wk holds
 * the low nibbles of the G groups' words, then the high nibbles. */
static inline void step(struct sums *s, int G, uint64_t x, const uint64_t *wk)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i xv = _mm256_set1_epi64x((long long)x);
    const __m256i xl = _mm256_and_si256(xv, low);
    const __m256i xh = _mm256_and_si256(_mm256_srli_epi16(xv, 4), low);
    int g;

    for (g = 0; g < G; ++g) {
        const __m256i wl = _mm256_loadu_si256((const __m256i *)(wk + 4 * g));
        const __m256i wh = _mm256_loadu_si256((const __m256i *)(wk + 4 * G + 4 * g));

        const __m256i cl = _mm256_shuffle_epi8(lut, _mm256_xor_si256(xl, wl));
        const __m256i ch = _mm256_shuffle_epi8(lut, _mm256_xor_si256(xh, wh));

        s->b[g] = _mm256_add_epi8(s->b[g], _mm256_add_epi8(cl, ch));
    }
}

/* Channels 8h..8h+7 of the block as int32 lanes in channel order: lanes
 * (q[2h][i], q[2h+1][i]) -> int32 [q0_0, q1_0, q0_1, ...] -> channel order. */
static inline __m256i sums_channels(const struct sums *s, int h)
{
    const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);

    return _mm256_permutevar8x32_epi32(
        _mm256_or_si256(s->q[2 * h], _mm256_slli_epi64(s->q[2 * h + 1], 32)), order);
}

/* Word k of channel j of the block: its low nibbles to wb[k * STEP_WORDS + j],
 * its high nibbles 4G words further. */
static inline void store_weight_word(uint64_t *wb, int G, int32_t k, int32_t j, uint64_t v)
{
    const uint64_t low = 0x0f0f0f0f0f0f0f0fu;

    wb[(size_t)k * STEP_WORDS(G) + j] = v & low;
    wb[(size_t)k * STEP_WORDS(G) + 4 * G + j] = (v >> 4) & low;
}

#endif /* BNN_USE_AVX512_POPCNT */

/* rows runs of L words, the input's pitch words apart, against weight words
 * [w0, w0 + rows * L) of the block; byte sums flushed before they overflow. */
static inline void count_rows(struct sums *s, int G, const uint64_t *x, size_t pitch,
                              const uint64_t *wb, int32_t w0, int32_t rows, int32_t L)
{
    const int32_t per_run = L <= RUN ? RUN / (L > 0 ? L : 1) : 0;
    int32_t r = 0, j, end;

    if (L <= 0)
        return;
    if (per_run == 0) { /* a row longer than a run: chunk it */
        for (r = 0; r < rows; ++r)
            for (j = 0; j < L; j += end) {
                int32_t i;

                end = L - j < RUN ? L - j : RUN;
                for (i = 0; i < end; ++i)
                    step(s, G, x[(size_t)r * pitch + j + i],
                         wb + (size_t)(w0 + r * L + j + i) * STEP_WORDS(G));
                sums_flush(s, G);
            }
        return;
    }
    while (r < rows) {
        end = rows - r < per_run ? rows : r + per_run;
        for (; r < end; ++r) {
            const uint64_t *xr = x + (size_t)r * pitch;
            const uint64_t *wr = wb + (size_t)(w0 + r * L) * STEP_WORDS(G);

            for (j = 0; j < L; ++j)
                step(s, G, xr[j], wr + (size_t)j * STEP_WORDS(G));
        }
        sums_flush(s, G);
    }
}

/* The 4G channel popcounts of the window of output pixel (oy, ox), as int32
 * lanes in channel order (d[0]: channels 0..7, d[1]: 8..15); *k gets the
 * number of elements that count. patch: room for one window (k_words). */
static inline void window_counts(const struct x86_ctx *c, int G, const uint64_t *in,
                                 int32_t oy, int32_t ox, const uint64_t *wb, uint64_t *patch,
                                 __m256i *d, int32_t *k)
{
    const struct bnn_bconv_params *p = c->p;
    const int32_t cw = c->cw, kh = p->win.kernel_h, kw = p->win.kernel_w, L = c->row_words;
    struct bnn_taps t;
    struct sums s;

    sums_clear(&s, G);
    bnn_clip_window(&p->win, &p->in, oy, ox, &t);
    if (bnn_taps_full(&p->win, &t)) {
        count_rows(&s, G, in + ((size_t)t.iy * p->in.w + t.ix) * cw, (size_t)p->in.w * cw, wb, 0,
                   kh, L);
        *k = kh * kw * p->in.c;
    } else if (p->pad_one) { /* padded taps are input words 0 (+1): a patch */
        int32_t r, j;

        for (r = 0; r < kh; ++r) {
            const int inside = r >= t.kh0 && r < t.kh1;
            const int32_t begin = inside ? t.kw0 * cw : 0, end = inside ? t.kw1 * cw : 0;
            /* word j of the row is input word base + j (formed only when inside) */
            const ptrdiff_t base = ((ptrdiff_t)(t.iy + r) * p->in.w + t.ix) * cw;

            for (j = 0; j < L; ++j)
                patch[r * L + j] = j >= begin && j < end ? in[base + j] : 0;
        }
        count_rows(&s, G, patch, (size_t)L, wb, 0, kh, L);
        *k = kh * kw * p->in.c;
    } else { /* zero padding: only the in-bounds taps count */
        int32_t r;

        for (r = t.kh0; r < t.kh1; ++r)
            count_rows(&s, G, in + ((size_t)(t.iy + r) * p->in.w + t.ix + t.kw0) * cw, 0, wb,
                       r * L + t.kw0 * cw, 1, (t.kw1 - t.kw0) * cw);
        *k = (t.kh1 - t.kh0) * (t.kw1 - t.kw0) * p->in.c;
    }
    d[0] = sums_channels(&s, 0);
    if (G == 4)
        d[1] = sums_channels(&s, 1);
}

/* saturate_i32(x * 2^left), left in 0..31 */
static inline __m256i sat_shift_left(__m256i x, __m256i left)
{
    const __m256i y = _mm256_sllv_epi32(x, left);
    const __m256i lost = _mm256_xor_si256(_mm256_srav_epi32(y, left), x); /* != 0: overflow */
    const __m256i neg = _mm256_srai_epi32(x, 31);
    const __m256i sat = _mm256_xor_si256(neg, _mm256_set1_epi32(INT32_MAX)); /* MIN or MAX */
    const __m256i exact = _mm256_cmpeq_epi32(lost, _mm256_setzero_si256());

    /* select by the comparison itself, not by its complement: GCC 12 with
     * AVX-512VL+BW+DQ (-march=native on Zen 4/5) folds the complement into
     * VPBLENDVB without swapping the operands, and saturated every lane */
    return _mm256_blendv_epi8(sat, y, exact);
}

/* gemmlowp SRDHM of 8 lanes: floor((a b + 2^30) / 2^31) (for a b < 0 this is
 * gemmlowp's truncation of (a b + 1 - 2^30) / 2^31: both round negative ties
 * toward zero), INT32_MIN * INT32_MIN -> INT32_MAX. The quotient fits int32,
 * so bits 31..62 of the 64-bit sum (a logical shift) are the result. */
static inline __m256i srdhm8(__m256i a, __m256i b)
{
    const __m256i nudge = _mm256_set1_epi64x((long long)1 << 30);
    const __m256i min = _mm256_set1_epi32(INT32_MIN);
    __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, b), nudge);
    __m256i odd = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)), nudge);
    __m256i r;

    even = _mm256_srli_epi64(even, 31);
    odd = _mm256_slli_epi64(_mm256_srli_epi64(odd, 31), 32);
    r = _mm256_blend_epi32(even, odd, 0xaa);
    /* INT32_MIN * INT32_MIN gave 2^31 = INT32_MIN: flip it to INT32_MAX */
    return _mm256_xor_si256(r, _mm256_and_si256(_mm256_cmpeq_epi32(a, min),
                                                _mm256_cmpeq_epi32(b, min)));
}

/* RDBPOT of 8 lanes by e (0..62), ties away from zero. e >= 32 gives 0 for
 * every x but INT32_MIN, which SRDHM never returns. */
static inline __m256i rdbpot8(__m256i x, __m256i e)
{
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i e31 = _mm256_min_epi32(e, _mm256_set1_epi32(31));
    const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e31), one);
    const __m256i neg = _mm256_srai_epi32(x, 31); /* -1 where x < 0 */
    const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), neg);
    const __m256i up = _mm256_cmpgt_epi32(_mm256_and_si256(x, mask), threshold);
    const __m256i r = _mm256_sub_epi32(_mm256_srav_epi32(x, e31), up);

    return _mm256_andnot_si256(_mm256_cmpgt_epi32(e, _mm256_set1_epi32(31)), r);
}

/* The int8 output stage of 8 channels o..o+7 from their popcounts d:
 * acc = (k - 2 d) * 2^acc_shift + bias (fits int32 before the bias:
 * c->vec_i8), saturated, then bnn_mbqm, zero point and clamp; 8 bytes. */
static inline void output_i8_8(const struct bnn_bconv_params *p, __m256i d, int32_t k, int32_t o,
                               int8_t *dst)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i shift = _mm256_loadu_si256((const __m256i *)(p->rq.shift + o));
    const __m256i y = _mm256_sub_epi32(_mm256_set1_epi32(k), _mm256_add_epi32(d, d));
    const __m256i bias = _mm256_loadu_si256((const __m256i *)(p->bias + o));
    __m256i acc = _mm256_sllv_epi32(y, _mm256_set1_epi32(p->acc_shift));
    __m256i sum = _mm256_add_epi32(acc, bias);
    /* saturating add: overflow iff acc and bias share a sign the sum lacks */
    const __m256i ovf = _mm256_andnot_si256(_mm256_xor_si256(acc, bias),
                                            _mm256_xor_si256(sum, acc));
    const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(acc, 31),
                                         _mm256_set1_epi32(INT32_MAX));
    __m256i q;
    __m128i b;

    acc = _mm256_blendv_epi8(sum, sat, _mm256_srai_epi32(ovf, 31));
    acc = sat_shift_left(acc, _mm256_min_epi32(_mm256_max_epi32(shift, zero),
                                                _mm256_set1_epi32(31)));
    acc = srdhm8(acc, _mm256_loadu_si256((const __m256i *)(p->rq.multiplier + o)));
    acc = rdbpot8(acc, _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero),
                                        _mm256_set1_epi32(62)));
    /* |zero_point| <= 2^24 (c->vec_i8): clamping to +-2^25 first keeps the
     * order and makes the addition exact */
    acc = _mm256_min_epi32(_mm256_max_epi32(acc, _mm256_set1_epi32(-(1 << 25))),
                           _mm256_set1_epi32(1 << 25));
    q = _mm256_add_epi32(acc, _mm256_set1_epi32(p->rq.zero_point));
    q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(p->rq.lo)),
                         _mm256_set1_epi32(p->rq.hi));
    q = _mm256_packs_epi32(q, q);   /* within 128-bit halves: exact, |q| <= 128 */
    q = _mm256_packs_epi16(q, q);
    q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
    b = _mm256_castsi256_si128(q);
    _mm_storel_epi64((__m128i *)dst, b);
}

/* Weights of channels [o0, o0 + 4G) as blocks of STEP_WORDS(G) words per
 * weight word k, in the layout step() reads. Channels past out.c get zero
 * weights (their lanes are dropped). */
static void rearrange(const struct x86_ctx *c, int G, int32_t o0, uint64_t *wb)
{
    const struct bnn_bconv_params *p = c->p;
    int32_t j, k;

    for (j = 0; j < 4 * G; ++j) {
        const int have = o0 + j < p->out.c;
        const uint64_t *w = p->weight + (size_t)(have ? o0 + j : 0) * c->k_words;

        for (k = 0; k < c->k_words; ++k)
            store_weight_word(wb, G, k, j, have ? w[k] : 0);
    }
}

/* The thresholds of channels [o0, o0 + 4G) as G / 2 vectors of 8 (channels past
 * out.c repeat channel o0's: their bits are dropped); tv[1] is kept for G = 2. */
static inline void load_thresholds(const struct bnn_bconv_params *p, int G, int32_t o0,
                                   int32_t valid, __m256i *tv)
{
    int32_t thr[16], j;

    for (j = 0; j < 4 * G; ++j)
        thr[j] = p->threshold[o0 + (j < valid ? j : 0)];
    tv[0] = _mm256_loadu_si256((const __m256i *)thr);
    if (G == 4)
        tv[1] = _mm256_loadu_si256((const __m256i *)(thr + 8));
}

/* Bits output stage of one pixel: bit 1 iff y = k - 2 * d < threshold, for
 * the `valid` channels starting at o0, into the pixel's words dst. */
static inline void store_bits(int G, const __m256i *tv, const __m256i *d, int32_t k,
                              int32_t o0, int32_t valid, uint64_t *dst)
{
    uint64_t bits = 0;
    int h;

    for (h = 0; h < G / 2; ++h) {
        const __m256i y = _mm256_sub_epi32(_mm256_set1_epi32(k), _mm256_add_epi32(d[h], d[h]));

        bits |= (uint64_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(tv[h], y)))
                << (8 * h);
    }
    bits &= ((uint64_t)1 << valid) - 1;
    if (o0 % 64 == 0)
        dst[o0 / 64] = bits;
    else
        dst[o0 / 64] |= bits << (o0 % 64);
}

/* int8 output stage of one pixel for channels [o0, o0 + 4G) below out.c:
 * 8 channels at a time where output_i8_8 is exact, else one by one. */
static inline void store_i8(const struct x86_ctx *c, int G, const __m256i *d, int32_t k,
                            int32_t o0, int8_t *dst)
{
    const struct bnn_bconv_params *p = c->p;
    int32_t h, j;

    for (h = 0; h < G / 2; ++h) {
        const int32_t o = o0 + 8 * h, n = bnn_min_i32(8, p->out.c - o);
        int32_t dd[8];

        if (n <= 0)
            break;
        if (n == 8 && c->vec_i8) {
            output_i8_8(p, d[h], k, o, dst + o);
            continue;
        }
        _mm256_storeu_si256((__m256i *)dd, d[h]);
        for (j = 0; j < n; ++j)
            dst[o + j] = bnn_bconv_output_i8(p, k - 2 * dd[j], o + j);
    }
}

/* Output rows [row_begin, row_end), 4G channels at a time: their weights
 * rearranged once, then every pixel's counts and output stage. */
static inline void run_g(const struct x86_ctx *c, int G, const uint64_t *in, uint64_t *out_bits,
                         int8_t *out_i8, int32_t row_begin, int32_t row_end)
{
    const struct bnn_bconv_params *p = c->p;
    const int32_t out_words = BNN_WORDS(p->out.c);
    uint64_t wb[KB_WORDS];
    uint64_t patch[KB_WORDS / 16];
    int32_t o0, oy, ox;

    for (o0 = 0; o0 < p->out.c; o0 += 4 * G) {
        const int32_t valid = bnn_min_i32(4 * G, p->out.c - o0);
        __m256i tv[2];

        rearrange(c, G, o0, wb);
        tv[0] = tv[1] = _mm256_setzero_si256();
        if (out_bits)
            load_thresholds(p, G, o0, valid, tv);
        for (oy = row_begin; oy < row_end; ++oy) {
            for (ox = 0; ox < p->out.w; ++ox) {
                const size_t pix = (size_t)oy * p->out.w + ox;
                int32_t k;
                __m256i d[2];

                window_counts(c, G, in, oy, ox, wb, patch, d, &k);
                if (out_bits)
                    store_bits(G, tv, d, k, o0, valid, out_bits + pix * out_words);
                else
                    store_i8(c, G, d, k, o0, out_i8 + pix * bnn_bconv_out_pitch(p));
            }
        }
    }
}

static void run(const struct x86_ctx *c, const uint64_t *in, uint64_t *out_bits, int8_t *out_i8,
                int32_t row_begin, int32_t row_end)
{
    if (c->g == 4)
        run_g(c, 4, in, out_bits, out_i8, row_begin, row_end);
    else
        run_g(c, 2, in, out_bits, out_i8, row_begin, row_end);
}

/* 0 if the window is too large for the weight block: bconv_portable.c runs. */
static int setup(const struct bnn_bconv_params *p, struct x86_ctx *c)
{
    const int64_t full = (int64_t)p->win.kernel_h * p->win.kernel_w * p->in.c;

    c->p = p;
    c->cw = BNN_WORDS(p->in.c);
    c->row_words = p->win.kernel_w * c->cw;
    c->k_words = p->win.kernel_h * c->row_words;
    c->vec_i8 = p->acc_shift >= 0 && p->acc_shift < 31 && (full << p->acc_shift) <= INT32_MAX &&
                p->rq.zero_point >= -(1 << 24) && p->rq.zero_point <= (1 << 24);
    /* 16 channels while 32 words per weight word fit, else 8 */
    c->g = c->k_words * 32 <= KB_WORDS ? 4 : 2;
    /* the AVX2 block size on both paths: the patch holds KB_WORDS / 16 words */
    return c->k_words * 8 * c->g <= KB_WORDS;
}

void bnn_bconv_to_bits_x86(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                            int32_t row_begin, int32_t row_end)
{
    struct x86_ctx c;

    if (!setup(p, &c)) {
        bnn_bconv_to_bits_portable(p, in, out, row_begin, row_end);
        return;
    }
    run(&c, in, out, NULL, row_begin, row_end);
}

void bnn_bconv_to_i8_x86(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                          int32_t row_begin, int32_t row_end)
{
    struct x86_ctx c;

    if (!setup(p, &c)) {
        bnn_bconv_to_i8_portable(p, in, out, row_begin, row_end);
        return;
    }
    run(&c, in, NULL, out, row_begin, row_end);
}

#else

typedef int bnn_bconv_x86_unused; /* ISO C forbids an empty translation unit */

#endif /* BNN_USE_AVX2 */
