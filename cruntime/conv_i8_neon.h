/* The output stage of 16 output channels of an INT8 conv with NEON, shared by the
 * few-input-channel path (conv_i8_fast.c) and the GEMM and depthwise paths
 * (conv_i8_neon.c). Each takes sum(q * w) of the 16 channels as four int32x4. */
#ifndef CONV_I8_NEON_H
#define CONV_I8_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "bnn_requant_neon.h"

/* Sum of each of the four vectors' lanes: {sum a0, sum a1, sum a2, sum a3}. */
static inline int32x4_t bnn_lane_sums4_s32(int32x4_t a0, int32x4_t a1, int32x4_t a2,
                                           int32x4_t a3)
{
#if defined(__aarch64__)
    return vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
#else
    const int32x2_t s0 = vpadd_s32(vget_low_s32(a0), vget_high_s32(a0));
    const int32x2_t s1 = vpadd_s32(vget_low_s32(a1), vget_high_s32(a1));
    const int32x2_t s2 = vpadd_s32(vget_low_s32(a2), vget_high_s32(a2));
    const int32x2_t s3 = vpadd_s32(vget_low_s32(a3), vget_high_s32(a3));

    return vcombine_s32(vpadd_s32(s0, s1), vpadd_s32(s2, s3));
#endif
}

/* Bits of the 16 channels: bit j = 1 (-1) iff sum[j] < lim[j]. */
static inline uint32_t bnn_conv_out16_bits(const int32x4_t *acc, const int32_t *lim)
{
    static const uint32_t weights[16] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048,
                                         4096, 8192, 16384, 32768};
    uint32x4_t m0 = vandq_u32(vcltq_s32(acc[0], vld1q_s32(lim)), vld1q_u32(weights));
    uint32x4_t m1 = vandq_u32(vcltq_s32(acc[1], vld1q_s32(lim + 4)), vld1q_u32(weights + 4));
    uint32x4_t m2 = vandq_u32(vcltq_s32(acc[2], vld1q_s32(lim + 8)), vld1q_u32(weights + 8));
    uint32x4_t m3 = vandq_u32(vcltq_s32(acc[3], vld1q_s32(lim + 12)), vld1q_u32(weights + 12));

    return bnn_add_lanes_u32(vorrq_u32(vorrq_u32(m0, m1), vorrq_u32(m2, m3)));
}

/* int8 outputs of the first `valid` of the 16 channels:
 * clamp(zero + mbqm(saturate(sum + off), mult, shift), lo, hi). Only the
 * groups of 4 channels that hold valid ones are computed. With `sra` (a
 * constant in each caller) every valid channel's shift is in [-62, -1]: there
 * is no left shift, and RDBPOT's fixup (x & shift) >> 31 is x >> 31, added by
 * one SSRA (x + (x >> 31) cannot overflow: SRDHM never returns INT32_MIN), as
 * add_i8 does; 8 instructions per 4 channels instead of 14. */
static inline void bnn_conv_out16_i8_as(const int32x4_t *acc, const int32_t *off,
                                        const int32_t *mult, const int32_t *shift, int sra,
                                        int32_t zero_point, int32_t lo, int32_t hi, int8_t *dst,
                                        int32_t valid)
{
    const int32x4_t zero = vdupq_n_s32(zero_point);
    const int32x4_t vlo = vdupq_n_s32(lo), vhi = vdupq_n_s32(hi);
    const int groups = (valid + 3) / 4;
    int16x4_t q[4] = {vdup_n_s16(0), vdup_n_s16(0), vdup_n_s16(0), vdup_n_s16(0)};
    int8x8_t low;
    int8_t tmp[16];
    int i;

    for (i = 0; i < groups; ++i) {
        const int32x4_t x = vqaddq_s32(acc[i], vld1q_s32(off + 4 * i));
        int32x4_t y;

        if (sra) {
            y = vqrdmulhq_s32(x, vld1q_s32(mult + 4 * i));
            y = vrshlq_s32(vsraq_n_s32(y, y, 31), vld1q_s32(shift + 4 * i));
        } else {
            const struct bnn_rq4 r = bnn_rq4_load(mult + 4 * i, shift + 4 * i);

            y = bnn_mbqm4(x, &r);
        }
        q[i] = bnn_clamp4(y, zero, vlo, vhi);
    }
    low = vmovn_s16(vcombine_s16(q[0], q[1]));
    if (valid == 8) {
        vst1_s8(dst, low);
        return;
    }
    if (valid == 16) {
        vst1q_s8(dst, vcombine_s8(low, vmovn_s16(vcombine_s16(q[2], q[3]))));
        return;
    }
    vst1q_s8(tmp, vcombine_s8(low, vmovn_s16(vcombine_s16(q[2], q[3]))));
    memcpy(dst, tmp, (size_t)valid);
}

/* The output stage for any shifts. */
static inline void bnn_conv_out16_i8(const int32x4_t *acc, const int32_t *off,
                                     const int32_t *mult, const int32_t *shift, int32_t zero_point,
                                     int32_t lo, int32_t hi, int8_t *dst, int32_t valid)
{
    bnn_conv_out16_i8_as(acc, off, mult, shift, 0, zero_point, lo, hi, dst, valid);
}

/* The output stage when every valid channel's shift is in [-62, -1]. */
static inline void bnn_conv_out16_i8_sra(const int32x4_t *acc, const int32_t *off,
                                         const int32_t *mult, const int32_t *shift,
                                         int32_t zero_point, int32_t lo, int32_t hi, int8_t *dst,
                                         int32_t valid)
{
    bnn_conv_out16_i8_as(acc, off, mult, shift, 1, zero_point, lo, hi, dst, valid);
}

/* The output stage a block's flag picks (sra: every shift is a right shift),
 * each branch compiled with its own constant, not one loop testing the flag. */
static inline void bnn_conv_out16_i8_pick(int sra, const int32x4_t *acc, const int32_t *off,
                                          const int32_t *mult, const int32_t *shift,
                                          int32_t zero_point, int32_t lo, int32_t hi, int8_t *dst,
                                          int32_t valid)
{
    if (sra)
        bnn_conv_out16_i8_sra(acc, off, mult, shift, zero_point, lo, hi, dst, valid);
    else
        bnn_conv_out16_i8(acc, off, mult, shift, zero_point, lo, hi, dst, valid);
}

#endif /* CONV_I8_NEON_H */
