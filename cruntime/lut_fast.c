/* The per-channel table (lut), the fast path of every target; bit-exact with
 * eltwise_ref.c's bnn_lut_u8_ref.
 *
 * Why plain C: each channel has its own 256-entry table, and NEON's TBL looks
 * up at most 64 bytes, one table for all lanes; a scalar load per value is
 * the cheapest lookup there is. What this saves over the reference: the
 * table pointer lives in a register (the reference reloads it, since the
 * int8 stores might alias the parameter struct), and four channels run per
 * step at fixed offsets from one table pointer (aarch64: LDRB with a 12-bit
 * offset), so a value costs about 4 instructions instead of 8.
 *
 * Work is split in independent pixel ranges, so a thread pool can hand out
 * parts of one call. */
#include "bnn_internal.h"

void bnn_lut_u8_fast(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out)
{
    const int32_t c = p->shape.c;
    const size_t pixels = (size_t)p->shape.h * p->shape.w;
    const int8_t *const table = p->table;
    size_t pix;

    for (pix = 0; pix < pixels; ++pix, in += c, out += c) {
        const int8_t *t = table;
        int32_t k = 0;

        for (; k + 4 <= c; k += 4, t += 4 * 256) {
            const uint8_t x0 = in[k], x1 = in[k + 1], x2 = in[k + 2], x3 = in[k + 3];

            out[k] = t[x0];
            out[k + 1] = t[256 + x1];
            out[k + 2] = t[512 + x2];
            out[k + 3] = t[768 + x3];
        }
        for (; k < c; ++k, t += 256)
            out[k] = t[in[k]];
    }
}
