/* INT8 max-pool with NEON (aarch64 and armv7): 16 channels per vmaxq_s8 over
 * the in-bounds taps of each window; bit-exact with pool_ref.c (padded taps take
 * no part; a window without in-bounds taps gives -128, as there). Output rows
 * [row_begin, row_end) are independent: the split can go to threads. */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

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

#endif /* BNN_USE_NEON */
