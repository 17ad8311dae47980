/* bnnkit bit helpers: popcount and the packed-channel layout (DESIGN.md 2). */
#ifndef BNN_BITS_H
#define BNN_BITS_H

#include <stddef.h>
#include <stdint.h>

/* One popcount per 64-bit word: the x86 popcount path when built with
 * -mpopcnt, a NEON cnt on aarch64, a SWAR fallback for other compilers. */
static inline int32_t bnn_popcount64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (int32_t)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (int32_t)((x * 0x0101010101010101u) >> 56);
#endif
}

/* popcount(a ^ b) over n words: the binary dot product's inner loop. */
static inline int32_t bnn_popcount_xor(const uint64_t *restrict a, const uint64_t *restrict b,
                                       int32_t n)
{
    int32_t i, count = 0;

    for (i = 0; i < n; ++i)
        count += bnn_popcount64(a[i] ^ b[i]);
    return count;
}

static inline int32_t bnn_popcount_words(const uint64_t *a, int32_t n)
{
    int32_t i, count = 0;

    for (i = 0; i < n; ++i)
        count += bnn_popcount64(a[i]);
    return count;
}

/* Valid-channel mask of the last word of a c-channel bit vector. */
static inline uint64_t bnn_tail_mask(int32_t c)
{
    return c % 64 ? ((uint64_t)1 << (c % 64)) - 1 : ~(uint64_t)0;
}

#endif /* BNN_BITS_H */
