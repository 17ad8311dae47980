/* INT8 pools with NEON (aarch64 and armv7), bit-exact with pool_ref.c; padded
 * taps take no part, as there.
 *
 * max: 16 channels per vmaxq_s8 over the in-bounds taps (a window without any
 * gives -128). average: sum(q - Z) over the in-bounds taps in int32 lanes, then
 * round_div(sum, count) = sign * floor((|sum| + count / 2) / count) with the
 * division as a multiply: floor(a / d) = (a * ceil(2^31 / d)) >> 31 is exact
 * for a < 2^N when N + ceil(log2 d) <= 31 (Lemire, Kaser and Kurz, "Faster
 * remainder by direct computation", 2019); a < 256 * d <= 2^19 and d <= 2^11
 * for windows up to AVG_MAX_TAPS, so 19 + 11 <= 31. Larger windows go to the
 * reference. Output rows [row_begin, row_end) are independent: the split can
 * go to threads. */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#define AVG_MAX_TAPS 2048

void bnn_maxpool_i8_neon(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end)
{
    const int32_t c = p->in.c, full = c / 16 * 16;
    int32_t oy, ox, kh, kw, k;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            int8_t *dst = out + ((size_t)oy * p->out.w + ox) * c;
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (k = 0; k < full; k += 16) {
                int8x16_t m = vdupq_n_s8(INT8_MIN);

                for (kh = t.kh0; kh < t.kh1; ++kh) {
                    const int8_t *x = in + ((size_t)(t.iy + kh) * p->in.w + t.ix) * c + k;

                    for (kw = t.kw0; kw < t.kw1; ++kw)
                        m = vmaxq_s8(m, vld1q_s8(x + (size_t)kw * c));
                }
                vst1q_s8(dst + k, m);
            }
            for (; k < c; ++k) { /* the last 1..15 channels */
                int8_t m = INT8_MIN;

                for (kh = t.kh0; kh < t.kh1; ++kh)
                    for (kw = t.kw0; kw < t.kw1; ++kw) {
                        const int8_t x = in[((size_t)(t.iy + kh) * p->in.w + t.ix + kw) * c + k];

                        m = x > m ? x : m;
                    }
                dst[k] = m;
            }
        }
    }
}

/* Z + round_div(sum, d) of four lanes, d > 0, with recip = ceil(2^31 / d). */
static int32x4_t avg4(int32x4_t sum, uint32_t half, uint32_t recip, int32x4_t zero)
{
    const uint32x4_t neg = vcltq_s32(sum, vdupq_n_s32(0));
    const uint32x4_t a = vaddq_u32(vreinterpretq_u32_s32(vabsq_s32(sum)), vdupq_n_u32(half));
    const uint32x2_t lo = vshrn_n_u64(vmull_n_u32(vget_low_u32(a), recip), 31);
    const uint32x2_t hi = vshrn_n_u64(vmull_n_u32(vget_high_u32(a), recip), 31);
    const int32x4_t q = vreinterpretq_s32_u32(vcombine_u32(lo, hi));

    return vaddq_s32(vbslq_s32(neg, vnegq_s32(q), q), zero);
}

/* The averages of channels [k, k + 16) of the window t. */
static int8x16_t avg16(const struct bnn_pool_i8_params *p, const int8_t *in,
                       const struct bnn_taps *t, int32_t k, int32_t count)
{
    const int8x8_t zero8 = vdup_n_s8((int8_t)p->zero_point);
    const int32x4_t zero = vdupq_n_s32(p->zero_point);
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    uint32_t recip;
    int32_t kh, kw;

    for (kh = t->kh0; kh < t->kh1; ++kh) {
        const int8_t *x = in + ((size_t)(t->iy + kh) * p->in.w + t->ix) * p->in.c + k;

        for (kw = t->kw0; kw < t->kw1; ++kw) {
            const int8x16_t v = vld1q_s8(x + (size_t)kw * p->in.c);
            const int16x8_t d0 = vsubl_s8(vget_low_s8(v), zero8);
            const int16x8_t d1 = vsubl_s8(vget_high_s8(v), zero8);

            s0 = vaddw_s16(s0, vget_low_s16(d0)), s1 = vaddw_s16(s1, vget_high_s16(d0));
            s2 = vaddw_s16(s2, vget_low_s16(d1)), s3 = vaddw_s16(s3, vget_high_s16(d1));
        }
    }
    if (count == 0) /* no in-bounds tap: the zero point */
        return vdupq_n_s8((int8_t)p->zero_point);
    recip = (uint32_t)((((uint64_t)1 << 31) + (uint64_t)count - 1) / (uint64_t)count);
    s0 = avg4(s0, (uint32_t)count / 2, recip, zero), s1 = avg4(s1, (uint32_t)count / 2, recip, zero);
    s2 = avg4(s2, (uint32_t)count / 2, recip, zero), s3 = avg4(s3, (uint32_t)count / 2, recip, zero);
    return vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(s0), vqmovn_s32(s1))),
                       vqmovn_s16(vcombine_s16(vqmovn_s32(s2), vqmovn_s32(s3))));
}

void bnn_avgpool_i8_neon(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end)
{
    const int32_t c = p->in.c, full = c / 16 * 16;
    int32_t oy, ox, k;

    if (p->win.kernel_h * p->win.kernel_w > AVG_MAX_TAPS || p->zero_point < INT8_MIN ||
        p->zero_point > INT8_MAX || full < c) {
        bnn_avgpool_i8_ref(p, in, out, row_begin, row_end);
        return;
    }
    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            int8_t *dst = out + ((size_t)oy * p->out.w + ox) * c;
            struct bnn_taps t;
            int32_t count;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            count = p->count_include_pad ? p->win.kernel_h * p->win.kernel_w
                                         : (t.kh1 - t.kh0) * (t.kw1 - t.kw0);
            for (k = 0; k < full; k += 16)
                vst1q_s8(dst + k, avg16(p, in, &t, k, count));
        }
    }
}

#endif /* BNN_USE_NEON */
