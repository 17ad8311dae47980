/* The pixel loop of the conv fast paths that compute several output pixels of a
 * row at once (ternary_conv_neon.c, bconv_k_neon.c): the output rows in groups of
 * n consecutive pixels whose windows lie wholly inside the input, so that they
 * share their taps and differ only by the stride, and one pixel with its clipped
 * taps everywhere else. */
#ifndef BNN_GROUPS_H
#define BNN_GROUPS_H

#include "bnn_internal.h"

#if defined(__GNUC__)
#define BNN_GROUP_INLINE static inline __attribute__((always_inline))
#else
#define BNN_GROUP_INLINE static inline
#endif

/* Output pixels (oy, ox .. ox + n - 1) of the kernel's call ctx; t is the taps of
 * the first one (whole windows when n > 1). */
typedef void bnn_group_fn(const void *ctx, int32_t oy, int32_t ox, int32_t n,
                          const struct bnn_taps *t);

/* Rows [row_begin, row_end) of out_w pixels in groups of n. Inlined with a constant
 * fn and n, each group size compiles to its own copy of fn. */
BNN_GROUP_INLINE void bnn_window_groups(const struct bnn_window *win, const struct bnn_shape *in,
                                        int32_t out_w, int32_t n, bnn_group_fn *fn,
                                        const void *ctx, int32_t row_begin, int32_t row_end)
{
    int32_t oy, ox;

    for (oy = row_begin; oy < row_end; ++oy) {
        ox = 0;
        while (ox < out_w) {
            struct bnn_taps first, last;

            bnn_clip_window(win, in, oy, ox, &first);
            if (ox + n <= out_w && bnn_taps_full(win, &first)) {
                bnn_clip_window(win, in, oy, ox + n - 1, &last);
                if (bnn_taps_full(win, &last)) {
                    fn(ctx, oy, ox, n, &first);
                    ox += n;
                    continue;
                }
            }
            fn(ctx, oy, ox, 1, &first);
            ++ox;
        }
    }
}

#endif /* BNN_GROUPS_H */
