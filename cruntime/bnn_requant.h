/* bnnkit requantization: the one fixed-point variant used by every kernel.
 *
 * The C transcription of golden/quant.py (gemmlowp / TFLite reference
 * arithmetic): M = multiplier * 2^(shift - 31), multiplier a Q31 value,
 * shift > 0 shifting left. Everything is computed in int64 so that no step
 * can overflow, and right shifts of negative values go through floor
 * division, so there is no undefined or implementation-defined behaviour.
 */
#ifndef BNN_REQUANT_H
#define BNN_REQUANT_H

#include <stdint.h>

static inline int32_t bnn_saturate_i32(int64_t x)
{
    if (x > INT32_MAX)
        return INT32_MAX;
    if (x < INT32_MIN)
        return INT32_MIN;
    return (int32_t)x;
}

/* floor(x / 2^e) for 0 <= e <= 62, without shifting a negative value. */
static inline int64_t bnn_floor_shift(int64_t x, int32_t e)
{
    if (x >= 0)
        return x >> e;
    return -((-(x + 1)) >> e) - 1;
}

/* Saturating rounding doubling high multiply: round_half_away(a * b / 2^31). */
static inline int32_t bnn_srdhm(int32_t a, int32_t b)
{
    int64_t ab, nudge;

    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX; /* the only product whose result does not fit */
    ab = (int64_t)a * b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates */
}

/* Rounding divide by 2^e, ties away from zero. */
static inline int32_t bnn_rdbpot(int32_t x, int32_t e)
{
    int64_t mask, remainder, threshold;

    if (e <= 0)
        return x;
    if (e > 62)
        e = 62; /* any int32 gives 0 or -1 + rounding, as for 62 */
    mask = ((int64_t)1 << e) - 1;
    remainder = (int64_t)x & mask;
    threshold = (mask >> 1) + (x < 0);
    return (int32_t)(bnn_floor_shift(x, e) + (remainder > threshold));
}

/* acc * M, rounded; acc beyond int32 saturates like the golden model. */
static inline int32_t bnn_mbqm(int64_t acc, int32_t multiplier, int32_t shift)
{
    int64_t x = bnn_saturate_i32(acc);
    int32_t right;

    if (shift > 0) {
        /* |x| <= 2^31 and a shift of at most 32 keep the product in int64 */
        x *= (int64_t)1 << (shift > 32 ? 32 : shift);
        x = bnn_saturate_i32(x);
    }
    right = shift >= 0 ? 0 : shift < -62 ? 62 : -shift;
    return bnn_rdbpot(bnn_srdhm((int32_t)x, multiplier), right);
}

/* The int8 output stage: clamp(zero_point + acc * M, lo, hi), lo/hi within int8. */
static inline int8_t bnn_requant_i8(int64_t acc, int32_t multiplier, int32_t shift,
                                    int32_t zero_point, int32_t lo, int32_t hi)
{
    int64_t q = (int64_t)zero_point + bnn_mbqm(acc, multiplier, shift);

    if (q < lo)
        q = lo;
    if (q > hi)
        q = hi;
    return (int8_t)q;
}

#endif /* BNN_REQUANT_H */
