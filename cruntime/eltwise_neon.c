/* Element-wise and channel-wise ops with NEON (aarch64 and armv7): residual add,
 * per-channel affine/PReLU, threshold to bits, the rescaling copy of an int8
 * concat; bit-exact with eltwise_ref.c.
 *
 * Why this is exact: the reference computes in int64, but every value here fits
 * int32 where it is formed, and each saturation of the reference is one
 * saturating NEON instruction (bnn_requant_neon.h says why its four-lane
 * requantization equals bnn_mbqm):
 * - add_i8: (q - zero) << 20 is at most 255 * 2^20 in magnitude, so bnn_mbqm of
 *   it needs no saturation; the int64 sum of the two rescaled inputs is
 *   saturated to int32 by bnn_requant_i8, which vqaddq_s32 is.
 * - channelwise_i8: (q - in_zero) << acc_shift fits int32 for acc_shift <= 23
 *   (255 * 2^23 < 2^31); adding the int32 bias with vqaddq_s32 is the
 *   reference's saturation of the int64 sum, and keeps its sign, which picks the
 *   _pos or _neg multiplier per lane.
 * - threshold: q >= threshold for an int8 q and an int32 threshold is
 *   q >= clamp(threshold, -128, 127) except above 127, where it is never true;
 *   such channels compare against -128 (always true) with their flip inverted.
 * - concat_i8: q - in_zero fits int32 as it is; clamping to [-128, 127] is the
 *   saturating narrow. A part whose rescale is exactly 1 (multiplier 2^30,
 *   shift 1: bnn_mbqm(x) = x) with equal zero points is a plain copy.
 * Zero points outside int8 and larger acc_shifts go to the reference (never
 * produced by the exporter, allowed by the C API).
 *
 * Work is split in independent ranges (elements, rows), so a thread pool can
 * hand out parts of one call.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>
#include <string.h>

#include "bnn_bits.h"
#include "bnn_requant_neon.h"

#define ADD_LEFT_SHIFT 20 /* as eltwise_ref.c's BNN_ADD_LEFT_SHIFT (golden/quant.py) */
#define CHUNK_C 256       /* channels whose parameters are prepared at a time */

static int fits_i8(int32_t v) { return v >= INT8_MIN && v <= INT8_MAX; }

static struct bnn_rq4 rq4_dup(int32_t multiplier, int32_t shift)
{
    const int32_t m[4] = {multiplier, multiplier, multiplier, multiplier};
    const int32_t s[4] = {shift, shift, shift, shift};

    return bnn_rq4_load(m, s);
}

/* Four int8 results of lanes v0..v3 (each four lanes of int32) as one vector. */
static int8x16_t narrow16(int16x4_t v0, int16x4_t v1, int16x4_t v2, int16x4_t v3)
{
    return vcombine_s8(vmovn_s16(vcombine_s16(v0, v1)), vmovn_s16(vcombine_s16(v2, v3)));
}

/* ------------------------------------------------------------------ add_i8 */

struct add_consts {
    struct bnn_rq4 a, b, out;
    int8x8_t a_zero, b_zero;
    int32x4_t out_zero, lo, hi;
};

/* The variants of add_range, as flags that are constants in each call: */
#define ADD_A_UNIT 1 /* the first input is not rescaled */
#define ADD_B_UNIT 2 /* the second input is not rescaled */
#define ADD_LEFT 4   /* the general case: left shifts, any right shifts */
#define ADD_SRA 8    /* every rescale that runs shifts right by at least 1 */

/* bnn_mbqm4 with the left shift skipped when the caller knows it is 0. With
 * ADD_SRA the right shift e is known to be > 0, so RDBPOT's fixup (x & -e) >> 31
 * is x >> 31, one SSRA with the add; x + (x >> 31) cannot overflow, SRDHM never
 * returning INT32_MIN. */
static inline int32x4_t mbqm4(int32x4_t x, const struct bnn_rq4 *r, int flags)
{
    int32x4_t fixup;

    if (flags & ADD_LEFT)
        x = vqshlq_s32(x, r->left);
    x = vqrdmulhq_s32(x, r->mult);
    if (flags & ADD_SRA)
        return vrshlq_s32(vsraq_n_s32(x, x, 31), r->right);
    fixup = vshrq_n_s32(vandq_s32(x, r->right), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), r->right);
}

/* bnn_mbqm((q - zero) << 20, multiplier, shift); a unit input (multiplier
 * 2^30, shift 0) is (q - zero) << 19 exactly: the product
 * ((q - zero) << 20) * 2^30 / 2^31 is an integer, so rounding keeps it.
 * `shifted` is (q - zero) << (20 - 16), or << (19 - 16) for a unit input, in
 * int16 (|q - zero| <= 255, so it fits): one SSHLL by 16 widens it. */
static inline int32x4_t add_rescale(int16x4_t shifted, const struct bnn_rq4 *r, int unit,
                                    int flags)
{
    if (unit)
        return vshll_n_s16(shifted, 16);
    return mbqm4(vshll_n_s16(shifted, 16), r, flags);
}

/* (x - zero) << 4, or << 3 for a unit input, as add_rescale takes it. */
static inline int16x8_t add_center(int16x8_t centered, int unit)
{
    return unit ? vshlq_n_s16(centered, ADD_LEFT_SHIFT - 17)
                : vshlq_n_s16(centered, ADD_LEFT_SHIFT - 16);
}

static inline int16x4_t add4(int16x4_t a, int16x4_t b, const struct add_consts *k, int flags)
{
    const int32x4_t sum = vqaddq_s32(add_rescale(a, &k->a, flags & ADD_A_UNIT, flags),
                                     add_rescale(b, &k->b, flags & ADD_B_UNIT, flags));

    return bnn_clamp4(mbqm4(sum, &k->out, flags), k->out_zero, k->lo, k->hi);
}

/* The high 8 lanes of x minus zero, widened (aarch64: one SSUBL2). */
static inline int16x8_t sub_high(int8x16_t x, int8x8_t zero)
{
#if defined(__aarch64__)
    return vsubl_high_s8(x, vcombine_s8(zero, zero));
#else
    return vsubl_s8(vget_high_s8(x), zero);
#endif
}

static inline int8x16_t add16(const int8_t *a, const int8_t *b, const struct add_consts *k,
                              int flags)
{
    const int8x16_t va = vld1q_s8(a), vb = vld1q_s8(b);
    const int a_unit = flags & ADD_A_UNIT, b_unit = flags & ADD_B_UNIT;
    const int16x8_t a0 = add_center(vsubl_s8(vget_low_s8(va), k->a_zero), a_unit);
    const int16x8_t a1 = add_center(sub_high(va, k->a_zero), a_unit);
    const int16x8_t b0 = add_center(vsubl_s8(vget_low_s8(vb), k->b_zero), b_unit);
    const int16x8_t b1 = add_center(sub_high(vb, k->b_zero), b_unit);

    return narrow16(add4(vget_low_s16(a0), vget_low_s16(b0), k, flags),
                    add4(vget_high_s16(a0), vget_high_s16(b0), k, flags),
                    add4(vget_low_s16(a1), vget_low_s16(b1), k, flags),
                    add4(vget_high_s16(a1), vget_high_s16(b1), k, flags));
}

/* Elements [begin, end); flags (ADD_*) are constants in each call below, so
 * each variant compiles without the steps it does not need (GCC 12 otherwise
 * keeps one copy that tests the flags in the loop). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void add_range(const struct bnn_add_i8_params *p, const int8_t *a,
                             const int8_t *b, int8_t *out, int32_t begin, int32_t end, int flags)
{
    struct add_consts k;
    int32_t i = begin;

    k.a = rq4_dup(p->a_multiplier, p->a_shift);
    k.b = rq4_dup(p->b_multiplier, p->b_shift);
    k.out = rq4_dup(p->out_multiplier, p->out_shift);
    k.a_zero = vdup_n_s8((int8_t)p->a_zero);
    k.b_zero = vdup_n_s8((int8_t)p->b_zero);
    k.out_zero = vdupq_n_s32(p->out_zero);
    k.lo = vdupq_n_s32(p->lo);
    k.hi = vdupq_n_s32(p->hi);
    for (; i + 16 <= end; i += 16)
        vst1q_s8(out + i, add16(a + i, b + i, &k, flags));
    if (i < end) { /* the last 1..15 elements, through a padded copy */
        int8_t ta[16] = {0}, tb[16] = {0}, to[16];
        const size_t n = (size_t)(end - i);

        memcpy(ta, a + i, n);
        memcpy(tb, b + i, n);
        vst1q_s8(to, add16(ta, tb, &k, flags));
        memcpy(out + i, to, n);
    }
}

/* The multiplier and shift of an input that the add does not rescale. */
static int add_unit(int32_t multiplier, int32_t shift)
{
    return multiplier == (INT32_C(1) << 30) && shift == 0;
}

void bnn_add_i8_neon(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                     int8_t *out)
{
    const int a_unit = add_unit(p->a_multiplier, p->a_shift);
    const int b_unit = add_unit(p->b_multiplier, p->b_shift);
    /* as exported: every rescale that runs shifts right */
    const int sra = p->out_shift < 0 && (a_unit || p->a_shift < 0) && (b_unit || p->b_shift < 0);

    if (!fits_i8(p->a_zero) || !fits_i8(p->b_zero)) {
        bnn_add_i8_ref(p, a, b, out);
        return;
    }
    if (!sra) /* a left shift, or a rescale without a right shift */
        add_range(p, a, b, out, 0, p->size, ADD_LEFT);
    else if (a_unit)
        add_range(p, a, b, out, 0, p->size, ADD_A_UNIT | ADD_SRA);
    else if (b_unit)
        add_range(p, a, b, out, 0, p->size, ADD_B_UNIT | ADD_SRA);
    else
        add_range(p, a, b, out, 0, p->size, ADD_SRA);
}

/* ---------------------------------------------------------- channelwise_i8 */

/* The per-channel constants of up to CHUNK_C channels, lane-ready. */
struct affine_chunk {
    int32_t bias[CHUNK_C];
    int32_t mult_pos[CHUNK_C], left_pos[CHUNK_C], right_pos[CHUNK_C];
    int32_t mult_neg[CHUNK_C], left_neg[CHUNK_C], right_neg[CHUNK_C];
};

static void affine_chunk_load(const struct bnn_channelwise_i8_params *p, int32_t c0, int32_t n,
                              struct affine_chunk *ch)
{
    int32_t k;

    memset(ch, 0, sizeof *ch); /* channels past n: zero bias and multipliers */
    for (k = 0; k < n; ++k) {
        const int32_t sp = p->shift_pos[c0 + k], sn = p->shift_neg[c0 + k];

        ch->bias[k] = p->bias[c0 + k];
        ch->mult_pos[k] = p->multiplier_pos[c0 + k];
        ch->left_pos[k] = sp < 0 ? 0 : sp > 31 ? 31 : sp;
        ch->right_pos[k] = sp > 0 ? 0 : sp < -62 ? -62 : sp;
        ch->mult_neg[k] = p->multiplier_neg[c0 + k];
        ch->left_neg[k] = sn < 0 ? 0 : sn > 31 ? 31 : sn;
        ch->right_neg[k] = sn > 0 ? 0 : sn < -62 ? -62 : sn;
    }
}

struct affine_consts {
    int8x8_t in_zero;
    int32x4_t acc_shift, out_zero, lo, hi;
};

/* Channels k..k+3 of the chunk for the centered inputs x. */
static int16x4_t affine4(int16x4_t x, const struct affine_chunk *ch, int32_t k,
                         const struct affine_consts *c)
{
    const int32x4_t acc = vqaddq_s32(vshlq_s32(vmovl_s16(x), c->acc_shift),
                                     vld1q_s32(ch->bias + k));
    const uint32x4_t neg = vcltq_s32(acc, vdupq_n_s32(0));
    struct bnn_rq4 r;

    r.mult = vbslq_s32(neg, vld1q_s32(ch->mult_neg + k), vld1q_s32(ch->mult_pos + k));
    r.left = vbslq_s32(neg, vld1q_s32(ch->left_neg + k), vld1q_s32(ch->left_pos + k));
    r.right = vbslq_s32(neg, vld1q_s32(ch->right_neg + k), vld1q_s32(ch->right_pos + k));
    return bnn_clamp4(bnn_mbqm4(acc, &r), c->out_zero, c->lo, c->hi);
}

/* Channels k..k+15 of the chunk. */
static int8x16_t affine16(const int8_t *in, const struct affine_chunk *ch, int32_t k,
                          const struct affine_consts *c)
{
    const int8x16_t v = vld1q_s8(in);
    const int16x8_t x0 = vsubl_s8(vget_low_s8(v), c->in_zero);
    const int16x8_t x1 = vsubl_s8(vget_high_s8(v), c->in_zero);

    return narrow16(affine4(vget_low_s16(x0), ch, k, c), affine4(vget_high_s16(x0), ch, k + 4, c),
                    affine4(vget_low_s16(x1), ch, k + 8, c),
                    affine4(vget_high_s16(x1), ch, k + 12, c));
}

/* Pixels [pix_begin, pix_end), channels [c0, c0 + n) with n <= CHUNK_C. */
static void affine_part(const struct bnn_channelwise_i8_params *p, const int8_t *in, int8_t *out,
                        size_t pix_begin, size_t pix_end, int32_t c0, int32_t n,
                        const struct affine_consts *c)
{
    struct affine_chunk ch;
    const int32_t full = n / 16 * 16, c_all = p->shape.c;
    size_t pix;
    int32_t k;

    affine_chunk_load(p, c0, n, &ch);
    for (pix = pix_begin; pix < pix_end; ++pix) {
        const int8_t *x = in + pix * c_all + c0;
        int8_t *y = out + pix * c_all + c0;

        for (k = 0; k < full; k += 16)
            vst1q_s8(y + k, affine16(x + k, &ch, k, c));
        if (k < n) { /* the last 1..15 channels, through a padded copy */
            int8_t tx[16] = {0}, ty[16];

            memcpy(tx, x + k, (size_t)(n - k));
            vst1q_s8(ty, affine16(tx, &ch, k, c));
            memcpy(y + k, ty, (size_t)(n - k));
        }
    }
}

void bnn_channelwise_i8_neon(const struct bnn_channelwise_i8_params *p, const int8_t *in,
                             int8_t *out)
{
    const size_t pixels = (size_t)p->shape.h * p->shape.w;
    struct affine_consts c;
    int32_t c0;

    if (!fits_i8(p->in_zero) || p->acc_shift < 0 || p->acc_shift > 23) {
        bnn_channelwise_i8_ref(p, in, out);
        return;
    }
    c.in_zero = vdup_n_s8((int8_t)p->in_zero);
    c.acc_shift = vdupq_n_s32(p->acc_shift);
    c.out_zero = vdupq_n_s32(p->out_zero);
    c.lo = vdupq_n_s32(p->lo);
    c.hi = vdupq_n_s32(p->hi);
    for (c0 = 0; c0 < p->shape.c; c0 += CHUNK_C)
        affine_part(p, in, out, 0, pixels, c0, bnn_min_i32(CHUNK_C, p->shape.c - c0), &c);
}

/* --------------------------------------------------------------- threshold */

/* Per channel of a chunk: the int8 threshold and the byte to XOR the comparison
 * with (0xff where +1 means q < threshold, and for thresholds above 127). */
struct threshold_chunk {
    int8_t thr[CHUNK_C];
    uint8_t invert[CHUNK_C];
};

static void threshold_chunk_load(const struct bnn_threshold_params *p, int32_t c0, int32_t n,
                                 struct threshold_chunk *ch)
{
    int32_t k;

    memset(ch, 0, sizeof *ch); /* channels past n: q >= 0 xor 0: masked off below */
    for (k = 0; k < n; ++k) {
        const int32_t t = p->threshold[c0 + k];
        /* bit 1 (-1) iff (q >= t) == flip, i.e. (q >= t) xor !flip */
        const int invert = (p->flip[c0 + k] == 0) != (t > INT8_MAX);

        ch->thr[k] = (int8_t)(t > INT8_MAX ? INT8_MIN : t < INT8_MIN ? INT8_MIN : t);
        ch->invert[k] = invert ? 0xff : 0;
    }
}

/* One output word: 64 bytes of 0xff/0x00 to 64 bits, channel j to bit j, as
 * the word's 8 bytes (stored with one vector store: armv7 moved a 64-bit lane
 * through the stack). */
static uint8x8_t pack64(uint8x16_t b0, uint8x16_t b1, uint8x16_t b2, uint8x16_t b3)
{
    static const uint8_t weights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                        1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t w = vld1q_u8(weights);
    uint8x8_t s0, s1, s2, s3, t0, t1;

    /* pairwise adds of weighted bytes: each step halves the bytes per channel */
    b0 = vandq_u8(b0, w), b1 = vandq_u8(b1, w), b2 = vandq_u8(b2, w), b3 = vandq_u8(b3, w);
    s0 = vpadd_u8(vget_low_u8(b0), vget_high_u8(b0));
    s1 = vpadd_u8(vget_low_u8(b1), vget_high_u8(b1));
    s2 = vpadd_u8(vget_low_u8(b2), vget_high_u8(b2));
    s3 = vpadd_u8(vget_low_u8(b3), vget_high_u8(b3));
    t0 = vpadd_u8(s0, s1);
    t1 = vpadd_u8(s2, s3);
    return vpadd_u8(t0, t1);
}

/* The constants of one output word (64 channels of a chunk), held in registers. */
struct threshold_word {
    int8x16_t thr[4];
    uint8x16_t invert[4];
};

/* One word of `pixels` pixels (x and dst `in_pitch` bytes and `cw` words apart),
 * of 16 * full + part channels: the whole vectors of 16 read in place, a last
 * partial one (part > 0) through a padded copy and its bits past the channels
 * masked off, absent ones as zero bytes. full and part are constants in each
 * call below, so that the loop has no tests but its own. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void threshold_word_rows(const int8_t *x, uint64_t *dst, size_t pixels,
                                       int32_t in_pitch, int32_t cw,
                                       const struct threshold_word *c, int32_t full,
                                       int32_t part)
{
    const uint8x8_t mask = vcreate_u8(part ? bnn_tail_mask(16 * full + part) : ~(uint64_t)0);
    size_t pix;
    int i;

    for (pix = 0; pix < pixels; ++pix, x += in_pitch, dst += cw) {
        uint8x16_t b[4];

        for (i = 0; i < 4; ++i) {
            if (i < full) {
                b[i] = veorq_u8(vcgeq_s8(vld1q_s8(x + 16 * i), c->thr[i]), c->invert[i]);
            } else if (i == full && part) {
                int8_t tx[16] = {0};

                memcpy(tx, x + 16 * i, (size_t)part);
                b[i] = veorq_u8(vcgeq_s8(vld1q_s8(tx), c->thr[i]), c->invert[i]);
            } else {
                b[i] = vdupq_n_u8(0);
            }
        }
        vst1_u8((uint8_t *)dst, vand_u8(pack64(b[0], b[1], b[2], b[3]), mask));
    }
}

/* Pixels [pix_begin, pix_end), words of channels [c0, c0 + n), c0 a multiple
 * of 64, one word at a time over the pixels, so that its constants stay in
 * registers (armv7 reloaded them from the stack per pixel, each load after an
 * address add). QuickNetSmall's thresholds, armv7 / aarch64 instructions
 * before -> now: 32 channels at 56x56 (one partial word, copied whole before)
 * 0.40 / 0.28 -> 0.06 / 0.07 M; 64 at 28x28 0.048 / 0.034 -> 0.030 / 0.031 M. */
static void threshold_part(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                           size_t pix_begin, size_t pix_end, int32_t c0, int32_t n)
{
    struct threshold_chunk ch;
    const int32_t cw = BNN_WORDS(p->shape.c);
    const size_t pixels = pix_end - pix_begin;
    int32_t k, i;

    threshold_chunk_load(p, c0, n, &ch);
    for (k = 0; k < n; k += 64) {
        const int32_t r = bnn_min_i32(64, n - k);
        const int8_t *x = in + pix_begin * p->in_pitch + c0 + k;
        uint64_t *dst = out + pix_begin * cw + (c0 + k) / 64;
        struct threshold_word c;

        for (i = 0; i < 4; ++i) {
            c.thr[i] = vld1q_s8(ch.thr + k + 16 * i);
            c.invert[i] = vld1q_u8(ch.invert + k + 16 * i);
        }
        if (r == 64)
            threshold_word_rows(x, dst, pixels, p->in_pitch, cw, &c, 4, 0);
        else if (r % 16 == 0)
            threshold_word_rows(x, dst, pixels, p->in_pitch, cw, &c, r / 16, 0);
        else
            threshold_word_rows(x, dst, pixels, p->in_pitch, cw, &c, r / 16, r % 16);
    }
}

void bnn_threshold_i8_neon(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                           int32_t row_begin, int32_t row_end)
{
    const size_t w = (size_t)p->shape.w;
    int32_t c0;

    for (c0 = 0; c0 < p->shape.c; c0 += CHUNK_C)
        threshold_part(p, in, out, (size_t)row_begin * w, (size_t)row_end * w, c0,
                       bnn_min_i32(CHUNK_C, p->shape.c - c0));
}

/* --------------------------------------------------------------- concat_i8 */

static int8x16_t rescale16(const int8_t *in, int8x8_t in_zero, const struct bnn_rq4 *r,
                           int32x4_t out_zero)
{
    const int8x16_t v = vld1q_s8(in);
    const int16x8_t x0 = vsubl_s8(vget_low_s8(v), in_zero);
    const int16x8_t x1 = vsubl_s8(vget_high_s8(v), in_zero);
    int32x4_t q[4];
    int i;

    q[0] = vmovl_s16(vget_low_s16(x0)), q[1] = vmovl_s16(vget_high_s16(x0));
    q[2] = vmovl_s16(vget_low_s16(x1)), q[3] = vmovl_s16(vget_high_s16(x1));
    for (i = 0; i < 4; ++i)
        q[i] = vqaddq_s32(bnn_mbqm4(q[i], r), out_zero);
    return vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]))),
                       vqmovn_s16(vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]))));
}

void bnn_concat_i8_part_neon(const struct bnn_concat_part_params *p, const int8_t *in,
                             int8_t *out)
{
    const int32_t c = p->in.c;
    const size_t pixels = (size_t)p->in.h * p->in.w;
    const int copy = p->multiplier == 1 << 30 && p->shift == 1 && p->in_zero == p->out_zero;
    const struct bnn_rq4 r = rq4_dup(p->multiplier, p->shift);
    const int8x8_t in_zero = vdup_n_s8((int8_t)p->in_zero);
    const int32x4_t out_zero = vdupq_n_s32(p->out_zero);
    size_t pix;
    int32_t k;

    if (!fits_i8(p->in_zero)) {
        bnn_concat_i8_part_ref(p, in, out);
        return;
    }
    for (pix = 0; pix < pixels; ++pix) {
        const int8_t *x = in + pix * c;
        int8_t *dst = out + pix * p->out_c + p->c_offset;

        if (copy) {
            memcpy(dst, x, (size_t)c);
            continue;
        }
        for (k = 0; k + 16 <= c; k += 16)
            vst1q_s8(dst + k, rescale16(x + k, in_zero, &r, out_zero));
        if (k < c) { /* the last 1..15 channels, through a padded copy */
            int8_t tx[16] = {0}, ty[16];

            memcpy(tx, x + k, (size_t)(c - k));
            vst1q_s8(ty, rescale16(tx, in_zero, &r, out_zero));
            memcpy(dst + k, ty, (size_t)(c - k));
        }
    }
}

#endif /* BNN_USE_NEON */
