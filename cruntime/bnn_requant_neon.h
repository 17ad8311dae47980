/* bnnkit requantization, four lanes at a time with NEON (aarch64 and armv7);
 * bit-exact with bnn_mbqm / bnn_requant_i8 of bnn_requant.h.
 *
 * Why these instructions are exact:
 * - vqaddq_s32 computes saturate_i32(a + b) exactly, so the saturation of
 *   acc = y * 2^acc_shift + bias is one instruction when y * 2^acc_shift
 *   fits in int32 (the caller checks that once per call).
 * - vqshlq_s32 (register form, shift 0..31) is saturate_i32(x * 2^shift),
 *   as bnn_mbqm; a shift of 31 saturates every nonzero x exactly as 32 does.
 * - vqrdmulhq_s32 is saturate((2ab + 2^31) >> 32) = floor((ab + 2^30) / 2^31).
 *   gemmlowp's SRDHM is trunc((ab + nudge) / 2^31), nudge 2^30 or 1 - 2^30.
 *   For ab >= 0 both are floor((ab + 2^30) / 2^31). For ab = -(q 2^31 + r),
 *   0 <= r < 2^31: gemmlowp gives -q - [r > 2^30], vqrdmulh -q - [r > 2^30]:
 *   negative ties round toward zero in both. INT32_MIN * INT32_MIN
 *   saturates to INT32_MAX in both. So it is the same function.
 * - RDBPOT (ties away from zero): vrshlq_s32 by -e rounds ties up, so
 *   negative values first get -1 (gemmlowp's fixup: the sign bit of x & -e is
 *   set iff x < 0 and e > 0): floor((x - 1 + 2^(e-1)) / 2^e) is x / 2^e
 *   rounded half away from zero for x < 0. The fixup saturates only for
 *   x = INT32_MIN, which SRDHM never returns (|ab| < 2^62 - 2^30 unless both
 *   are INT32_MIN). vrshlq is exact for e up to 62 (the result is 0 for
 *   e >= 32, as bnn_rdbpot's), so e is clamped to 62 like bnn_mbqm does.
 * - zero_point is added with saturation and then clamped to [lo, hi], which
 *   lie inside int8: saturation keeps the order, so the clamp is exact.
 */
#ifndef BNN_REQUANT_NEON_H
#define BNN_REQUANT_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* The per-channel part of the output stage of four channels. */
struct bnn_rq4 {
    int32x4_t mult;  /* Q31 multiplier */
    int32x4_t left;  /* clamp(shift, 0, 31) */
    int32x4_t right; /* -clamp(-shift, 0, 62): a right shift as vrshlq wants it */
};

static inline struct bnn_rq4 bnn_rq4_load(const int32_t *multiplier, const int32_t *shift)
{
    struct bnn_rq4 r;
    const int32x4_t s = vld1q_s32(shift);

    r.mult = vld1q_s32(multiplier);
    r.left = vminq_s32(vmaxq_s32(s, vdupq_n_s32(0)), vdupq_n_s32(31));
    r.right = vmaxq_s32(vminq_s32(s, vdupq_n_s32(0)), vdupq_n_s32(-62));
    return r;
}

/* bnn_mbqm after its left shift: SRDHM by mult, then RDBPOT by -right. */
static inline int32x4_t bnn_mbqm4_right(int32x4_t x, int32x4_t mult, int32x4_t right)
{
    int32x4_t fixup;

    x = vqrdmulhq_s32(x, mult);
    fixup = vshrq_n_s32(vandq_s32(x, right), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), right);
}

/* bnn_mbqm of four int32 accumulators (already saturated to int32). */
static inline int32x4_t bnn_mbqm4(int32x4_t x, const struct bnn_rq4 *r)
{
    return bnn_mbqm4_right(vqshlq_s32(x, r->left), r->mult, r->right);
}

/* clamp(zero + v, lo, hi) of four lanes, as int16 (the caller narrows). */
static inline int16x4_t bnn_clamp4(int32x4_t v, int32x4_t zero, int32x4_t lo, int32x4_t hi)
{
    return vmovn_s32(vminq_s32(vmaxq_s32(vqaddq_s32(v, zero), lo), hi));
}

/* Sum of the four lanes; both NEON output stages pack threshold bits with it. */
static inline uint32_t bnn_add_lanes_u32(uint32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_u32(v);
#else
    uint32x2_t s = vadd_u32(vget_low_u32(v), vget_high_u32(v));
    return vget_lane_u32(vpadd_u32(s, s), 0);
#endif
}

#endif /* BNN_REQUANT_NEON_H */
