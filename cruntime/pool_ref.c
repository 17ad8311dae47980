/* Pooling, portable reference (golden/int_ops.py: bmaxpool, maxpool_i8,
 * avgpool_i8). Padded taps never take part: they are the identity of the
 * reduction (AND: 1, OR: 0, max: -128, sum: 0). */
#include "bnn_bits.h"
#include "bnn_internal.h"

void bnn_bmaxpool_ref(const struct bnn_bmaxpool_params *p, const uint64_t *in, uint64_t *out,
                      int32_t row_begin, int32_t row_end)
{
    const int32_t cw = BNN_WORDS(p->in.c);
    int32_t oy, ox, kh, kw, i;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            uint64_t *dst = out + ((size_t)oy * p->out.w + ox) * cw;
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (i = 0; i < cw; ++i) {
                uint64_t all = ~(uint64_t)0, any = 0;

                for (kh = t.kh0; kh < t.kh1; ++kh) {
                    for (kw = t.kw0; kw < t.kw1; ++kw) {
                        uint64_t x = in[((size_t)(t.iy + kh) * p->in.w + t.ix + kw) * cw + i];

                        all &= x;
                        any |= x;
                    }
                }
                dst[i] = (all & ~p->or_mask[i]) | (any & p->or_mask[i]);
            }
            /* a window with no in-bounds tap would set the unused bits */
            dst[cw - 1] &= bnn_tail_mask(p->in.c);
        }
    }
}

void bnn_maxpool_i8_ref(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                        int32_t row_begin, int32_t row_end)
{
    const int32_t c = p->in.c;
    int32_t oy, ox, kh, kw, k;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            int8_t *dst = out + ((size_t)oy * p->out.w + ox) * bnn_pool_out_pitch(p);
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (k = 0; k < c; ++k)
                dst[k] = INT8_MIN;
            for (kh = t.kh0; kh < t.kh1; ++kh) {
                for (kw = t.kw0; kw < t.kw1; ++kw) {
                    const int8_t *x = in + ((size_t)(t.iy + kh) * p->in.w + t.ix + kw) * c;

                    for (k = 0; k < c; ++k)
                        dst[k] = x[k] > dst[k] ? x[k] : dst[k];
                }
            }
        }
    }
}

/* num / den rounded half away from zero, den > 0 */
static int32_t round_div(int32_t num, int32_t den)
{
    int32_t q = ((num < 0 ? -num : num) + den / 2) / den;

    return num < 0 ? -q : q;
}

static int8_t avg_at(const struct bnn_pool_i8_params *p, const int8_t *in,
                     const struct bnn_taps *t, int32_t k)
{
    const int32_t c = p->in.c;
    int32_t kh, kw, sum = 0, count, q;

    for (kh = t->kh0; kh < t->kh1; ++kh)
        for (kw = t->kw0; kw < t->kw1; ++kw)
            sum += in[((size_t)(t->iy + kh) * p->in.w + t->ix + kw) * c + k] - p->zero_point;
    if (p->count_include_pad)
        count = p->win.kernel_h * p->win.kernel_w;
    else
        count = (t->kh1 - t->kh0) * (t->kw1 - t->kw0);
    q = p->zero_point + (count > 0 ? round_div(sum, count) : 0);
    return (int8_t)(q < INT8_MIN ? INT8_MIN : q > INT8_MAX ? INT8_MAX : q);
}

void bnn_avgpool_i8_ref(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                        int32_t row_begin, int32_t row_end)
{
    int32_t oy, ox, k;

    for (oy = row_begin; oy < row_end; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            int8_t *dst = out + ((size_t)oy * p->out.w + ox) * bnn_pool_out_pitch(p);
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (k = 0; k < p->in.c; ++k)
                dst[k] = avg_at(p, in, &t, k);
        }
    }
}
