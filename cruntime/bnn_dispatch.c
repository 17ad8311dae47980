/* The public kernel names: each picks its fast path at compile time.
 *
 * Unless BNN_PORTABLE is defined (the `generic` target): NEON (aarch64 and
 * armv7) or x86 (bconv_x86.c: AVX-512 VPOPCNTDQ or AVX2 popcounts, as the
 * build enables them; the host preset's -march=native picks the build
 * machine's best) binary convs, and the few-input-channel INT8 conv
 * (conv_i8_fast.c, NEON / AVX2 / plain C; for windows of 17 to 1024 values,
 * dot products along the window: conv_i8_dot.c, which also runs grouped convs
 * on each group's window and 1x1 convs, on aarch64 before conv_i8_fast.c, on
 * armv7 after it: armv7's stem kernel beats its 2-pixel dot tile on the
 * windows it takes, Bi-Real Net's 7x7 RGB stem 47.3 M instructions against
 * 52.7 M); NEON INT8
 * GEMM and depthwise convs for the rest (conv_i8_neon.c), on armv7 grouped convs
 * conv_i8_dot.c refuses (conv_i8_grouped_neon32.c), conv_i8_portable.c for shapes none takes (and under
 * BNN_PORTABLE); NEON threshold, residual add,
 * channel-wise affine and int8 concat (eltwise_neon.c); NEON int8 max and
 * average pools and the bit max-pool (pool_neon.c); the per-channel table (lut_fast.c, plain C)
 * everywhere; the reference everywhere else. Binary convs
 * without a SIMD path (BNN_PORTABLE, x86 without AVX2, where -mpopcnt makes
 * it the popcount path) run bconv_portable.c. */
#include "bnn_internal.h"

#if BNN_USE_NEON
#define BNN_FAST(neon, x86, ref) neon
#elif BNN_USE_AVX2
#define BNN_FAST(neon, x86, ref) x86
#else
#define BNN_FAST(neon, x86, ref) ref
#endif

/* Dilated and grouped binary convs (p->general) run bconv_portable.c on every
 * target (NEON popcounts on ARM), but groups whose channels are not whole
 * words: those run the reference. */
static int whole_words(const struct bnn_bconv_general *g, int32_t in_c)
{
    return g->groups == 1 || (in_c / g->groups) % 64 == 0;
}

void bnn_bconv_to_bits(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                       int32_t row_begin, int32_t row_end)
{
    if (p->general) {
        (whole_words(p->general, p->in.c) ? bnn_bconv_to_bits_portable : bnn_bconv_to_bits_ref)
        (p, in, out, row_begin, row_end);
        return;
    }
    BNN_FAST(bnn_bconv_to_bits_neon, bnn_bconv_to_bits_x86, bnn_bconv_to_bits_portable)
    (p, in, out, row_begin, row_end);
}

void bnn_bconv_to_i8(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                     int32_t row_begin, int32_t row_end)
{
    if (p->general) {
        (whole_words(p->general, p->in.c) ? bnn_bconv_to_i8_portable : bnn_bconv_to_i8_ref)
        (p, in, out, row_begin, row_end);
        return;
    }
    BNN_FAST(bnn_bconv_to_i8_neon, bnn_bconv_to_i8_x86, bnn_bconv_to_i8_portable)
    (p, in, out, row_begin, row_end);
}

void bnn_conv_i8_to_i8(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out,
                       int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON && defined(__aarch64__)
    if (bnn_conv_i8_dot(p, in, out, NULL, row_begin, row_end))
        return;
#endif
#if BNN_USE_FAST
    if (bnn_conv_i8_fast(p, in, out, NULL, row_begin, row_end))
        return;
#endif
#if BNN_USE_NEON && !defined(__aarch64__)
    if (bnn_conv_i8_dot(p, in, out, NULL, row_begin, row_end))
        return;
#endif
#if BNN_USE_NEON
    if (bnn_conv_i8_neon(p, in, out, NULL, row_begin, row_end))
        return;
#endif
#if BNN_USE_NEON && !defined(__aarch64__)
    if (bnn_conv_i8_grouped_neon32(p, in, out, NULL, row_begin, row_end))
        return;
#endif
    bnn_conv_i8_to_i8_portable(p, in, out, row_begin, row_end);
}

void bnn_conv_i8_to_bits(const struct bnn_conv_i8_params *p, const int8_t *in, uint64_t *out,
                         int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON && defined(__aarch64__)
    if (bnn_conv_i8_dot(p, in, NULL, out, row_begin, row_end))
        return;
#endif
#if BNN_USE_FAST
    if (bnn_conv_i8_fast(p, in, NULL, out, row_begin, row_end))
        return;
#endif
#if BNN_USE_NEON && !defined(__aarch64__)
    if (bnn_conv_i8_dot(p, in, NULL, out, row_begin, row_end))
        return;
#endif
#if BNN_USE_NEON
    if (bnn_conv_i8_neon(p, in, NULL, out, row_begin, row_end))
        return;
#endif
#if BNN_USE_NEON && !defined(__aarch64__)
    if (bnn_conv_i8_grouped_neon32(p, in, NULL, out, row_begin, row_end))
        return;
#endif
    bnn_conv_i8_to_bits_portable(p, in, out, row_begin, row_end);
}

void bnn_conv_i8_w1_to_i8(const struct bnn_conv_i8_w1_params *p, const int8_t *in, int8_t *out,
                          int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_conv_i8_w1_neon(p, in, out, NULL, row_begin, row_end))
        return;
#endif
    bnn_conv_i8_w1_to_i8_ref(p, in, out, row_begin, row_end);
}

void bnn_conv_i8_w1_to_bits(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                            uint64_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_conv_i8_w1_neon(p, in, NULL, out, row_begin, row_end))
        return;
#endif
    bnn_conv_i8_w1_to_bits_ref(p, in, out, row_begin, row_end);
}

/* Ternary weights (TTQ): NEON for int8 and binary activations, else the reference. */
void bnn_conv_i8_w2_to_i8(const struct bnn_ternary_conv_params *p, const int8_t *in,
                          int8_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_conv_i8_w2_neon(p, in, out, NULL, row_begin, row_end))
        return;
#endif
    bnn_conv_i8_w2_to_i8_ref(p, in, out, row_begin, row_end);
}

void bnn_conv_i8_w2_to_bits(const struct bnn_ternary_conv_params *p, const int8_t *in,
                            uint64_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_conv_i8_w2_neon(p, in, NULL, out, row_begin, row_end))
        return;
#endif
    bnn_conv_i8_w2_to_bits_ref(p, in, out, row_begin, row_end);
}

void bnn_bconv_w2_to_i8(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                        int8_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_bconv_w2_neon(p, in, out, NULL, row_begin, row_end))
        return;
#endif
    bnn_bconv_w2_to_i8_ref(p, in, out, row_begin, row_end);
}

void bnn_bconv_w2_to_bits(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                          uint64_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_bconv_w2_neon(p, in, NULL, out, row_begin, row_end))
        return;
#endif
    bnn_bconv_w2_to_bits_ref(p, in, out, row_begin, row_end);
}

void bnn_threshold_i8(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                      int32_t row_begin, int32_t row_end)
{
    BNN_FAST(bnn_threshold_i8_neon, bnn_threshold_i8_ref, bnn_threshold_i8_ref)
    (p, in, out, row_begin, row_end);
}

void bnn_bconv_k_to_i8(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                       const int8_t *x, int8_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_bconv_k_neon(p, bits, x, out, NULL, row_begin, row_end))
        return;
#endif
    bnn_bconv_k_to_i8_ref(p, bits, x, out, row_begin, row_end);
}

void bnn_bconv_k_to_bits(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                         const int8_t *x, uint64_t *out, int32_t row_begin, int32_t row_end)
{
#if BNN_USE_NEON
    if (bnn_bconv_k_neon(p, bits, x, NULL, out, row_begin, row_end))
        return;
#endif
    bnn_bconv_k_to_bits_ref(p, bits, x, out, row_begin, row_end);
}

void bnn_bmaxpool(const struct bnn_bmaxpool_params *p, const uint64_t *in, uint64_t *out,
                  int32_t row_begin, int32_t row_end)
{
    BNN_FAST(bnn_bmaxpool_neon, bnn_bmaxpool_ref, bnn_bmaxpool_ref)(p, in, out, row_begin, row_end);
}

void bnn_maxpool_i8(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                    int32_t row_begin, int32_t row_end)
{
    BNN_FAST(bnn_maxpool_i8_neon, bnn_maxpool_i8_ref, bnn_maxpool_i8_ref)
    (p, in, out, row_begin, row_end);
}

void bnn_avgpool_i8(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                    int32_t row_begin, int32_t row_end)
{
    BNN_FAST(bnn_avgpool_i8_neon, bnn_avgpool_i8_ref, bnn_avgpool_i8_ref)
    (p, in, out, row_begin, row_end);
}

void bnn_add_i8(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                int8_t *out)
{
    BNN_FAST(bnn_add_i8_neon, bnn_add_i8_ref, bnn_add_i8_ref)(p, a, b, out);
}

void bnn_add_into_i8(const struct bnn_add_into_i8_params *p, const int8_t *x, const int8_t *w,
                     int8_t *out)
{
    bnn_add_into_i8_with(p, x, w, out, bnn_add_i8);
}

void bnn_channelwise_i8(const struct bnn_channelwise_i8_params *p, const int8_t *in,
                        int8_t *out)
{
    BNN_FAST(bnn_channelwise_i8_neon, bnn_channelwise_i8_ref, bnn_channelwise_i8_ref)(p, in, out);
}

void bnn_lut_u8(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out)
{
    bnn_lut_u8_fast(p, in, out);
}

void bnn_concat_i8_part(const struct bnn_concat_part_params *p, const int8_t *in, int8_t *out)
{
    BNN_FAST(bnn_concat_i8_part_neon, bnn_concat_i8_part_ref, bnn_concat_i8_part_ref)(p, in, out);
}

void bnn_concat_bits_part(const struct bnn_concat_part_params *p, const uint64_t *in,
                          uint64_t *out)
{
    bnn_concat_bits_part_ref(p, in, out);
}
