/* The per-channel table (lut), the fast path of every target; bit-exact with
 * eltwise_ref.c's bnn_lut_u8_ref.
 *
 * Why plain C: each channel has its own 256-entry table, and NEON's TBL looks
 * up at most 64 bytes, one table for all lanes; a scalar load per value is
 * the cheapest lookup there is. What this saves over the reference: the
 * table pointers live in registers. LUT_GROUP channels run per pass over a
 * block of pixels, each with its own table pointer, so a value costs a load,
 * a table load (register offset) and a store, with no address arithmetic
 * (aarch64: 3.5 instructions a value; four channels from one pointer at
 * 256-byte offsets took 5, the offset add included; armv7 4.35 with 4
 * channels a pass, 4.7 with 8: QuickNetSmall's 56x56x32 table 0.472 ->
 * 0.436 M). Blocks of LUT_BLOCK
 * pixels keep the passes of one block within the cache.
 *
 * Work is split in independent pixel ranges, so a thread pool can hand out
 * parts of one call. */
#include "bnn_internal.h"

/* Channels of one pass: 8, but 4 on 32-bit ARM, whose 14 core registers do
 * not hold 8 table pointers beside the loop's (GCC 12 spilled them and
 * reloaded every pointer for every pixel). */
#if defined(__arm__)
#define LUT_GROUP 4
#else
#define LUT_GROUP 8
#endif
#define LUT_BLOCK 64  /* pixels of one block */

/* GCC folds the pointers 256 bytes apart back into one base with immediate
 * offsets, which costs an add per value (the offset of a register-offset load
 * cannot be added to an immediate); an empty asm hides where they point. */
#if defined(__GNUC__)
#define LUT_OPAQUE(ptr) __asm__("" : "+r"(ptr))
#else
#define LUT_OPAQUE(ptr) (void)0
#endif

/* Channels [0, LUT_GROUP) of `pixels` pixels `c` bytes apart, through tables t. */
static void lut_pass(const int8_t *t, const uint8_t *in, int8_t *out, size_t pixels, int32_t c)
{
    const int8_t *t0 = t, *t1 = t + 256, *t2 = t + 512, *t3 = t + 768;
#if LUT_GROUP == 8
    const int8_t *t4 = t + 1024, *t5 = t + 1280, *t6 = t + 1536, *t7 = t + 1792;
#endif
    size_t i;

    LUT_OPAQUE(t1);
    LUT_OPAQUE(t2);
    LUT_OPAQUE(t3);
#if LUT_GROUP == 8
    LUT_OPAQUE(t4);
    LUT_OPAQUE(t5);
    LUT_OPAQUE(t6);
    LUT_OPAQUE(t7);
#endif

    for (i = 0; i < pixels; ++i, in += c, out += c) {
        const uint8_t x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3];
#if LUT_GROUP == 8
        const uint8_t x4 = in[4], x5 = in[5], x6 = in[6], x7 = in[7];
#endif

        out[0] = t0[x0], out[1] = t1[x1], out[2] = t2[x2], out[3] = t3[x3];
#if LUT_GROUP == 8
        out[4] = t4[x4], out[5] = t5[x5], out[6] = t6[x6], out[7] = t7[x7];
#endif
    }
}

void bnn_lut_u8_fast(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out)
{
    const int32_t c = p->shape.c;
    const size_t pixels = (size_t)p->shape.h * p->shape.w;
    size_t p0, n, i;
    int32_t k;

    for (p0 = 0; p0 < pixels; p0 += n) {
        const uint8_t *src = in + p0 * (size_t)c;
        int8_t *dst = out + p0 * (size_t)c;

        n = pixels - p0 < LUT_BLOCK ? pixels - p0 : LUT_BLOCK;
        for (k = 0; k + LUT_GROUP <= c; k += LUT_GROUP)
            lut_pass(p->table + (size_t)k * 256, src + k, dst + k, n, c);
        for (; k < c; ++k) {
            const int8_t *const t = p->table + (size_t)k * 256;

            for (i = 0; i < n; ++i)
                dst[i * (size_t)c + (size_t)k] = t[src[i * (size_t)c + (size_t)k]];
        }
    }
}
