/* Weight bits as byte masks, for the NEON paths that multiply int8 activations by
 * 1-bit planes (conv_i8_w1_neon.c: conv_i8_w1 and conv_i8_w2). */
#ifndef BNN_MASKS_NEON_H
#define BNN_MASKS_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* 0xff in lane i where bit i of `bits` is 1 (bits 0..15). */
static inline int8x16_t bnn_spread_bits16(uint32_t bits)
{
    static const uint8_t lane_bit[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                         1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bytes =
        vcombine_u8(vdup_n_u8((uint8_t)bits), vdup_n_u8((uint8_t)(bits >> 8)));

    return vreinterpretq_s8_u8(vtstq_u8(bytes, vld1q_u8(lane_bit)));
}

#endif /* BNN_MASKS_NEON_H */
