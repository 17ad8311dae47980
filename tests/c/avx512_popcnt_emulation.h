/* Test-only: runs bconv_x86.c's AVX-512 VPOPCNTDQ path on a CPU without
 * AVX-512 (qemu 7.2 cannot emulate it and Intel SDE is not installed).
 *
 * Force-included (-include) into an AVX2 build of the runtime: it includes
 * <immintrin.h> first (its include guard then makes the kernel's own
 * #include a no-op), claims the two features so that bnn_internal.h picks
 * the AVX-512 path, and replaces the seven AVX-512 intrinsics that path
 * uses by plain C with Intel's documented semantics. The 512-bit vector is
 * the compiler's own __m512i type, handled as eight 64-bit lanes, so the
 * lane order and layout the kernel relies on are the real ones. */
#ifndef BNN_TEST_AVX512_POPCNT_EMULATION_H
#define BNN_TEST_AVX512_POPCNT_EMULATION_H

#include <immintrin.h>
#include <string.h>

#define __AVX512F__ 1
#define __AVX512VPOPCNTDQ__ 1

typedef long long emu_lanes __attribute__((vector_size(64)));

static inline __m512i emu_from(emu_lanes v)
{
    __m512i r;

    memcpy(&r, &v, sizeof r);
    return r;
}

static inline emu_lanes emu_to(__m512i v)
{
    emu_lanes r;

    memcpy(&r, &v, sizeof r);
    return r;
}

static inline __m512i emu_setzero_si512(void)
{
    emu_lanes z = {0, 0, 0, 0, 0, 0, 0, 0};

    return emu_from(z);
}

static inline __m512i emu_set1_epi64(long long x)
{
    emu_lanes v = {x, x, x, x, x, x, x, x};

    return emu_from(v);
}

static inline __m512i emu_loadu_si512(const void *p)
{
    emu_lanes v;

    memcpy(&v, p, sizeof v);
    return emu_from(v);
}

static inline __m512i emu_xor_si512(__m512i a, __m512i b)
{
    return emu_from(emu_to(a) ^ emu_to(b));
}

static inline __m512i emu_add_epi64(__m512i a, __m512i b)
{
    emu_lanes x = emu_to(a), y = emu_to(b), r;
    int i;

    for (i = 0; i < 8; ++i) /* wrapping, as the instruction */
        r[i] = (long long)((unsigned long long)x[i] + (unsigned long long)y[i]);
    return emu_from(r);
}

static inline __m512i emu_popcnt_epi64(__m512i a)
{
    emu_lanes x = emu_to(a), r;
    int i;

    for (i = 0; i < 8; ++i)
        r[i] = __builtin_popcountll((unsigned long long)x[i]);
    return emu_from(r);
}

/* vpmovqd: lane i of the result is the low 32 bits of 64-bit lane i */
static inline __m256i emu_cvtepi64_epi32(__m512i a)
{
    emu_lanes x = emu_to(a);
    int lanes[8];
    int i;

    for (i = 0; i < 8; ++i)
        lanes[i] = (int)(unsigned)(unsigned long long)x[i];
    return _mm256_loadu_si256((const __m256i *)lanes);
}

#define _mm512_setzero_si512 emu_setzero_si512
#define _mm512_set1_epi64 emu_set1_epi64
#define _mm512_loadu_si512 emu_loadu_si512
#define _mm512_xor_si512 emu_xor_si512
#define _mm512_add_epi64 emu_add_epi64
#define _mm512_popcnt_epi64 emu_popcnt_epi64
#define _mm512_cvtepi64_epi32 emu_cvtepi64_epi32

#endif /* BNN_TEST_AVX512_POPCNT_EMULATION_H */
