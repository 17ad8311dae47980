/* bnnkit C runtime internals shared by the reference and the fast paths.
 * Not part of the public API. */
#ifndef BNN_INTERNAL_H
#define BNN_INTERNAL_H

#include "bnn_runtime.h"

#if defined(__ARM_NEON) && !defined(BNN_PORTABLE)
#define BNN_USE_NEON 1
#else
#define BNN_USE_NEON 0
#endif

/* x86 fast paths: AVX2 when the build enables it (the host preset builds with
 * -march=native), never under BNN_PORTABLE. */
#if defined(__AVX2__) && !defined(BNN_PORTABLE)
#define BNN_USE_AVX2 1
#else
#define BNN_USE_AVX2 0
#endif

/* The x86 binary conv counts with AVX-512 VPOPCNTDQ when the build enables
 * it too (-march=native on a CPU that has it, or -mavx512vpopcntdq). */
#if BNN_USE_AVX2 && defined(__AVX512F__) && defined(__AVX512VPOPCNTDQ__)
#define BNN_USE_AVX512_POPCNT 1
#else
#define BNN_USE_AVX512_POPCNT 0
#endif

/* Fast paths at all (portable C ones included): off under BNN_PORTABLE. */
#if !defined(BNN_PORTABLE)
#define BNN_USE_FAST 1
#else
#define BNN_USE_FAST 0
#endif

/* The part of a window that lies inside the input: taps [kh0, kh1) x [kw0, kw1)
 * of the window whose top-left tap is input pixel (iy, ix), which may be
 * negative (padding). */
struct bnn_taps {
    int32_t iy, ix;
    int32_t kh0, kh1, kw0, kw1;
};

static inline int32_t bnn_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t bnn_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

static inline void bnn_clip_window(const struct bnn_window *win, const struct bnn_shape *in,
                                   int32_t oy, int32_t ox, struct bnn_taps *t)
{
    t->iy = oy * win->stride_h - win->pad_top;
    t->ix = ox * win->stride_w - win->pad_left;
    /* Clamped to the kernel: with padding wider than the kernel a window can
     * lie wholly in the padding, and then kh0 == kh1 (or kw0 == kw1). */
    t->kh0 = bnn_min_i32(bnn_max_i32(0, -t->iy), win->kernel_h);
    t->kh1 = bnn_max_i32(t->kh0, bnn_min_i32(win->kernel_h, in->h - t->iy));
    t->kw0 = bnn_min_i32(bnn_max_i32(0, -t->ix), win->kernel_w);
    t->kw1 = bnn_max_i32(t->kw0, bnn_min_i32(win->kernel_w, in->w - t->ix));
}

static inline int32_t bnn_taps_full(const struct bnn_window *win, const struct bnn_taps *t)
{
    return t->kh0 == 0 && t->kw0 == 0 && t->kh1 == win->kernel_h && t->kw1 == win->kernel_w;
}

/* Binary dot product y of output channel o at the window t (the reference,
 * bconv_ref.c: one tap at a time). */
int32_t bnn_bconv_dot_ref(const struct bnn_bconv_params *p, const uint64_t *in,
                          const struct bnn_taps *t, int32_t o);

/* Bytes from one int8 output pixel of a binary conv to the next (struct
 * bnn_bconv_params.out_pitch). */
static inline size_t bnn_bconv_out_pitch(const struct bnn_bconv_params *p)
{
    return (size_t)(p->out_pitch ? p->out_pitch : p->out.c);
}

/* The same for an INT8 conv (struct bnn_conv_i8_params.out_pitch). */
static inline size_t bnn_conv_i8_out_pitch(const struct bnn_conv_i8_params *p)
{
    return (size_t)(p->out_pitch ? p->out_pitch : p->out.c);
}

/* The same for an int8 pool (struct bnn_pool_i8_params.out_pitch). */
static inline size_t bnn_pool_out_pitch(const struct bnn_pool_i8_params *p)
{
    return (size_t)(p->out_pitch ? p->out_pitch : p->in.c);
}

/* The int8 output stage of a binary conv for dot product y of channel o;
 * acc_shift must be in 0..32. */
int8_t bnn_bconv_output_i8(const struct bnn_bconv_params *p, int32_t y, int32_t o);

/* The binary conv of builds without a SIMD path (bconv_portable.c); the SIMD
 * paths fall back to it for shapes they do not handle. */
void bnn_bconv_to_bits_portable(const struct bnn_bconv_params *p, const uint64_t *in,
                                uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_to_i8_portable(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                              int32_t row_begin, int32_t row_end);

/* The INT8 conv of shapes no SIMD path takes, and of BNN_PORTABLE builds
 * (conv_i8_portable.c). */
void bnn_conv_i8_to_i8_portable(const struct bnn_conv_i8_params *p, const int8_t *in,
                                int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_conv_i8_to_bits_portable(const struct bnn_conv_i8_params *p, const int8_t *in,
                                  uint64_t *out, int32_t row_begin, int32_t row_end);

/* INT8 convolution with few input channels (the stem of a BNN): the window
 * is gathered once per output pixel and multiplied with weights rearranged so
 * that output channels are contiguous. Returns 0 (and writes nothing) when
 * the shape is not one it handles; the caller then runs the next path. */
int bnn_conv_i8_fast(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end);

/* The per-channel table, plain C for every target (lut_fast.c). */
void bnn_lut_u8_fast(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out);

#if BNN_USE_NEON
/* The same for stems, grouped and 1x1 convs whose window (of one group) is 17
 * to 1024 values, as int8 dot products along the window (conv_i8_dot.c);
 * returns 0 like bnn_conv_i8_fast. */
int bnn_conv_i8_dot(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                    uint64_t *out_bits, int32_t row_begin, int32_t row_end);
#endif

#if BNN_USE_NEON && !defined(__aarch64__)
/* Grouped INT8 convs on armv7 (conv_i8_grouped_neon32.c), any input channels per
 * group; returns 0 like bnn_conv_i8_fast. */
int bnn_conv_i8_grouped_neon32(const struct bnn_conv_i8_params *p, const int8_t *in,
                               int8_t *out_i8, uint64_t *out_bits, int32_t row_begin,
                               int32_t row_end);
#endif

#if BNN_USE_AVX2
void bnn_bconv_to_bits_x86(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                           int32_t row_begin, int32_t row_end);
void bnn_bconv_to_i8_x86(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end);
#endif

/* add_into_i8 with `add` for the added channels of each pixel: the reference
 * passes bnn_add_i8_ref, the plain name bnn_add_i8 (and with it its NEON path). */
typedef void bnn_add_i8_fn(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                           int8_t *out);
void bnn_add_into_i8_with(const struct bnn_add_into_i8_params *p, const int8_t *x,
                          const int8_t *w, int8_t *out, bnn_add_i8_fn *add);

#if BNN_USE_NEON
void bnn_bconv_to_bits_neon(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                            int32_t row_begin, int32_t row_end);
void bnn_bconv_to_i8_neon(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                          int32_t row_begin, int32_t row_end);
/* INT8 conv: GEMM for one group (1x1, linear, gathered windows), depthwise;
 * returns 0 (having written nothing the reference will not rewrite) when it does
 * not handle the shape, like bnn_conv_i8_fast. */
int bnn_conv_i8_neon(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out_i8,
                     uint64_t *out_bits, int32_t row_begin, int32_t row_end);
void bnn_maxpool_i8_neon(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end);
void bnn_avgpool_i8_neon(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end);
void bnn_bmaxpool_neon(const struct bnn_bmaxpool_params *p, const uint64_t *in, uint64_t *out,
                       int32_t row_begin, int32_t row_end);
void bnn_threshold_i8_neon(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                           int32_t row_begin, int32_t row_end);
void bnn_add_i8_neon(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                     int8_t *out);
void bnn_channelwise_i8_neon(const struct bnn_channelwise_i8_params *p, const int8_t *in,
                             int8_t *out);
void bnn_concat_i8_part_neon(const struct bnn_concat_part_params *p, const int8_t *in,
                             int8_t *out);
/* INT8 activations x 1-bit weights (conv_i8_w1_neon.c); returns 0 (having written
 * nothing) when it does not handle the shape, like bnn_conv_i8_neon. */
int bnn_conv_i8_w1_neon(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end);
/* INT8 activations x ternary weights (conv_i8_w1_neon.c); returns 0 (having
 * written nothing) when it does not handle the shape, like bnn_conv_i8_neon. */
int bnn_conv_i8_w2_neon(const struct bnn_ternary_conv_params *p, const int8_t *in,
                        int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end);
/* Binary activations x ternary weights (ternary_conv_neon.c); returns 0 (having
 * written nothing) when it does not handle the shape. */
int bnn_bconv_w2_neon(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end);
#endif

#if BNN_USE_NEON
/* XNOR-Net's input scaling with NEON window sums of |x - Z| and binary dot
 * products (bconv_k_neon.c), bit-exact with bnn_bconv_k_ref; returns 0 (having
 * written nothing) when it does not handle the conv (grouped, dilated). */
int bnn_bconv_k_neon(const struct bnn_bconv_k_params *p, const uint64_t *bits, const int8_t *x,
                      int8_t *out_i8, uint64_t *out_bits, int32_t row_begin, int32_t row_end);
#endif

#endif /* BNN_INTERNAL_H */
