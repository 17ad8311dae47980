/* bnnkit C runtime: kernel parameters and entry points.
 *
 * Every kernel has a reference implementation (``*_ref.c``): portable C99
 * loops that transcribe bnnkit's golden model (golden/int_ops.py), written
 * to be read. The plain name (``bnn_bconv_to_bits``) dispatches at compile
 * time (bnn_dispatch.c) to the build's fastest path, bit-exact with the
 * reference: NEON (``*_neon.c``, aarch64 and armv7), x86 AVX2 / AVX-512
 * (``bconv_x86.c``), tuned portable C (``bconv_portable.c``,
 * ``conv_i8_fast.c``), or the reference itself. The ``_ref`` names are always
 * compiled, for tests.
 *
 * Layouts (batch 1): int8/uint8 tensors are HWC contiguous; bit tensors are
 * [h][w][bnn_words(c)] uint64 words, channel k in word k / 64, bit k % 64,
 * bit 1 meaning -1, unused bits of the last word 0.
 *
 * Spatial kernels compute output rows [row_begin, row_end), so a caller can
 * split the rows of one layer across threads.
 */
#ifndef BNN_RUNTIME_H
#define BNN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#define BNN_WORDS(c) (((c) + 63) / 64)

/* aarch64 and armv7 NEON builds (little-endian: the aarch64 tile stores
 * output bytes into the words) read binary conv weights in tile order too
 * (struct bnn_bconv_params.tiles); generated projects emit that array only
 * where this is 1. */
#if (defined(__aarch64__) && defined(__AARCH64EL__) || defined(__arm__) && defined(__ARMEL__)) && \
    defined(__ARM_NEON) && !defined(BNN_PORTABLE)
#define BNN_BCONV_TILES 1
#else
#define BNN_BCONV_TILES 0
#endif

struct bnn_shape {
    int32_t h, w, c;
};

struct bnn_window {
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
};

/* int8 output stage: q = clamp(zero_point + MBQM(acc, multiplier[c], shift[c]), lo, hi).
 * A multiplier may be negative (channelwise_i8's PReLU slopes): MBQM rounds
 * symmetrically, so MBQM(x, -m, s) == -MBQM(x, m, s). */
struct bnn_requant {
    const int32_t *multiplier; /* per output channel, Q31 */
    const int32_t *shift;      /* per output channel, > 0 shifts left */
    int32_t zero_point;
    int32_t lo, hi;
};

/* A grouped or dilated binary conv's layout: output channel o reads input
 * channels [g * in.c / groups, (g + 1) * in.c / groups) for its group
 * g = o / (out.c / groups), and tap (kh, kw) reads the input pixel
 * (iy + kh * dilation_h, ix + kw * dilation_w). */
struct bnn_bconv_general {
    int32_t groups;
    int32_t dilation_h, dilation_w;
};

/* A binary conv tile generated at export for one window shape (kernel_h,
 * kernel_w, words per tap), written out straight: on aarch64 4 windows
 * (codegen/bconv_gen.py), on armv7 2 (codegen/bconv_gen32.py) (base[p],
 * kernel rows `pitch` words apart) x 8 output channels from the tile-order
 * weights (tiles). */
struct bnn_bconv_tile8 {
    /* popcount(window p ^ channel c) into acc[8 * p + c]; *w moves on past
     * the block */
    void (*count)(const uint64_t *const *base, int32_t pitch, const uint64_t **w,
                  uint16_t *acc);
    /* all `blocks` blocks from w on, each compared with its 8 popcount
     * limits (limits, 8 a block: bit 1 iff the count >= the limit) into
     * one byte to dst[p], which moves on by one */
    void (*bits)(const uint64_t *const *base, int32_t pitch, const uint64_t *w,
                 const uint16_t *limits, uint8_t **dst, int64_t blocks);
};

/* Binary convolution (also binary linear: kernel = input size, 1x1 output).
 * y = sum over taps of (c - 2 * popcount(x ^ w)), c = in.c / groups; a padded
 * tap adds 0 (pad_one = 0, PyTorch zero padding) or c - 2 * popcount(w)
 * (pad_one = 1).
 * to_bits: bit = 0 iff y >= threshold[o].
 * to_i8:   acc = (y << acc_shift) + bias[o], then the requant stage. */
struct bnn_bconv_params {
    struct bnn_shape in, out;
    struct bnn_window win;
    int32_t pad_one;
    /* [out.c][kernel_h][kernel_w][BNN_WORDS(in.c / groups)] */
    const uint64_t *weight;
    /* Grouped or dilated convs (bnn_dispatch.c: no SIMD path takes them), or
     * NULL: one group, taps next to each other. */
    const struct bnn_bconv_general *general;
    /* The same weights in the order the aarch64 tile reads them (the armv7
     * tile reads half of each block), or NULL (then a 4-channel path runs).
     * Blocks of 8 output channels (missing ones zero); per block, per kernel
     * row r: the row's word pairs (2j, 2j + 1), 8 channels x 2 words each;
     * with odd row length L = kernel_w * words(in.c),
     * after each odd row the pair (last word of row r - 1, last word of row
     * r), and after an odd last row its last word twice. */
    const uint64_t *tiles;
    /* aarch64 and armv7: the tile generated for this window shape, or NULL
     * (then a looped tile runs the windows the runtime has no straight code
     * for) */
    const struct bnn_bconv_tile8 *tile8;
    /* Zero padding (pad_one = 0) at the speed of one padding, or NULL: a
     * border pixel's y is its y under one padding minus
     * pad_fix[(row_class[oy] * col_classes + col_class[ox]) * out.c + o]. */
    const int32_t *pad_fix;
    const int32_t *row_class, *col_class;
    int32_t col_classes;
    const int32_t *threshold;  /* to_bits only */
    int32_t acc_shift;         /* to_i8 only */
    const int32_t *bias;       /* to_i8 only */
    struct bnn_requant rq;     /* to_i8 only */
    /* to_i8 only: bytes from one output pixel to the next, or 0 for out.c (the
     * dense layout); wider when the output is a channel slice of a concat's
     * buffer (codegen/slices.py), whose other channels are left alone */
    int32_t out_pitch;
};

/* INT8 convolution (also depthwise: groups = in.c = out.c, and linear).
 * acc = bias[o] + sum((q - in_zero) * w); padded taps add 0.
 * to_bits: bit = 0 iff acc >= threshold[o]. to_i8: requant stage. */
struct bnn_conv_i8_params {
    struct bnn_shape in, out;
    struct bnn_window win;
    int32_t groups;
    int32_t in_zero;
    const int8_t *weight;      /* [out.c][kernel_h][kernel_w][in.c / groups] */
    const int32_t *bias;
    const int32_t *threshold;  /* to_bits only */
    struct bnn_requant rq;     /* to_i8 only */
    /* to_i8 only: bytes from one output pixel to the next, or 0 for out.c (as
     * struct bnn_bconv_params.out_pitch) */
    int32_t out_pitch;
};

/* INT8 activations x 1-bit weights (BinaryConnect, XNOR-Net's BWN; linear too).
 * acc = bias[o] + sum((q - in_zero) * w), w = +1 for weight bit 0, -1 for bit 1;
 * padded taps add 0. Equivalently acc = bias[o] + S - 2 * N: S sums the window's
 * (q - in_zero), N those under the bit-1 weights. Output stage as conv_i8. */
struct bnn_conv_i8_w1_params {
    struct bnn_shape in, out;
    struct bnn_window win;
    int32_t in_zero;
    const uint64_t *weight;    /* [out.c][kernel_h][kernel_w][BNN_WORDS(in.c)] */
    const int32_t *bias;
    const int32_t *threshold;  /* to_bits only */
    struct bnn_requant rq;     /* to_i8 only */
};

/* Ternary weights (TTQ: {-Wn, 0, +Wp} as integers): conv_i8_w2 (int8 activations)
 * and bconv_w2 (binary activations; linear too), weights in two bit planes.
 * acc = bias[o] + scale_pos[o] * S_pos - scale_neg[o] * S_neg: S_pos sums the
 * window's activations where weight_pos has a 1 bit, S_neg where weight_neg has one.
 * An int8 activation is q - in_zero, padded taps add 0; a bit is +1 (0) or -1
 * (1), so a plane's sum is |plane| - 2 popcount(plane & in), and a padded tap
 * is +1 if pad_one, else adds 0. Output stage as conv_i8. */
struct bnn_ternary_conv_params {
    struct bnn_shape in, out;
    struct bnn_window win;
    int32_t in_zero;           /* conv_i8_w2 only */
    int32_t pad_one;           /* bconv_w2 only */
    const uint64_t *weight_pos, *weight_neg;  /* [out.c][kernel_h][kernel_w][BNN_WORDS(in.c)] */
    const int32_t *scale_pos, *scale_neg;
    const int32_t *bias;
    const int32_t *threshold;  /* to_bits only */
    struct bnn_requant rq;     /* to_i8 only */
};

/* int8 -> bits: bit = 0 iff (q >= threshold[c]) != flip[c]. Input pixels are
 * in_pitch (>= shape.c) bytes apart: the input may be a channel slice of a wider
 * buffer (a concat written in place, codegen/slices.py). */
struct bnn_threshold_params {
    struct bnn_shape shape;
    int32_t in_pitch;
    const int32_t *threshold;
    const uint8_t *flip;
};

/* Max-pool on bits: AND over the window (padded taps ignored); channels whose
 * bit is set in or_mask take the OR instead. */
struct bnn_bmaxpool_params {
    struct bnn_shape in, out;
    struct bnn_window win;
    const uint64_t *or_mask;   /* BNN_WORDS(c) words */
};

/* Max-pool on int8 (padded taps ignored); same quantization in and out. */
struct bnn_pool_i8_params {
    struct bnn_shape in, out;
    struct bnn_window win;
    int32_t zero_point;         /* avgpool: Z + round_half_away(sum(q - Z) / count) */
    int32_t count_include_pad;  /* avgpool: count = kernel area, else in-bounds taps */
    /* bytes from one output pixel to the next, or 0 for in.c (dense): a channel
     * slice of a concat's buffer, as struct bnn_bconv_params.out_pitch */
    int32_t out_pitch;
};

/* TFLite-style add: each input (q - Z) << 20 rescaled by MBQM, summed, requantized. */
struct bnn_add_i8_params {
    int32_t size;               /* elements */
    int32_t a_zero, a_multiplier, a_shift;
    int32_t b_zero, b_multiplier, b_shift;
    int32_t out_zero, out_multiplier, out_shift;
    int32_t lo, hi;
};

/* MeliusNet's improvement: w (add.size channels a pixel) added with add_i8's
 * arithmetic into channels [offset, offset + add.size) of x (c channels a
 * pixel). x's other channels are rescaled to the output like a concat part,
 * unless the output is x's own buffer: the planner puts it there only when
 * both have one quantization, and then only the added channels are written.
 * Pixels of x and the output are pitch (>= c) bytes apart: in place, x may be a
 * channel slice of a wider buffer (a concat written in place, codegen/slices.py). */
struct bnn_add_into_i8_params {
    int32_t pixels, c, pitch, offset;
    struct bnn_add_i8_params add;
    int32_t in_zero, multiplier, shift, out_zero;  /* x's other channels */
};

/* Per-channel affine + PReLU: acc = ((q - in_zero) << acc_shift) + bias[c];
 * requantized with the _pos or _neg multiplier by the sign of acc. */
struct bnn_channelwise_i8_params {
    struct bnn_shape shape;
    int32_t in_zero, acc_shift;
    const int32_t *bias;
    const int32_t *multiplier_pos, *shift_pos;
    const int32_t *multiplier_neg, *shift_neg;
    int32_t out_zero, lo, hi;
};

/* uint8 pixels (or int8 values, as their bytes) -> int8 through a per-channel
 * table [c][256]. */
struct bnn_lut_params {
    struct bnn_shape shape;
    const int8_t *table;
};

/* One input of a channel concat, written into its channel slice of the output.
 * int8: q_out = clamp(out_zero + MBQM(q - in_zero, multiplier, shift), -128, 127).
 * bits: the part rewrites exactly its channel range, keeping the other bits of
 * shared words; the part that ends at out_c also zeroes the unused high bits. */
struct bnn_concat_part_params {
    struct bnn_shape in;        /* this input */
    int32_t out_c;              /* channels of an output pixel (int8: more when the output
                                 * is a slice of a wider buffer, codegen/slices.py) */
    int32_t c_offset;           /* first output channel of this input */
    int32_t in_zero, multiplier, shift, out_zero;  /* int8 only */
};

/* XNOR-Net's input scaling (BinaryConv2d(input_scaling=True)): the binary conv
 * `conv` of the bits of x (its y as struct bnn_bconv_params defines it; its
 * tiles, pad_fix and acc_shift unused) times K, the sum over the window's
 * in-bounds taps (the conv's window and dilation; padded taps add 0) and all
 * conv.in.c channels of |q - x_zero| of the int8 x (same h, w, c):
 * acc = round_half_away(y * K / 2^k_shift) in int64 (k_shift < 0: y * K * 2^-k_shift).
 * to_bits: bit = 0 iff acc >= conv.threshold[o].
 * to_i8:   acc + conv.bias[o], then the requant stage conv.rq. */
struct bnn_bconv_k_params {
    struct bnn_bconv_params conv;
    int32_t x_zero;
    int32_t k_shift;           /* -16..32 */
};

void bnn_bconv_to_bits(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                       int32_t row_begin, int32_t row_end);
void bnn_bconv_to_i8(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                     int32_t row_begin, int32_t row_end);
void bnn_conv_i8_to_i8(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out,
                       int32_t row_begin, int32_t row_end);
void bnn_conv_i8_to_bits(const struct bnn_conv_i8_params *p, const int8_t *in, uint64_t *out,
                         int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w1_to_i8(const struct bnn_conv_i8_w1_params *p, const int8_t *in, int8_t *out,
                          int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w1_to_bits(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                            uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w2_to_i8(const struct bnn_ternary_conv_params *p, const int8_t *in,
                          int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w2_to_bits(const struct bnn_ternary_conv_params *p, const int8_t *in,
                            uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_w2_to_i8(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                        int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_w2_to_bits(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                          uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_threshold_i8(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                      int32_t row_begin, int32_t row_end);
void bnn_bconv_k_to_i8(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                       const int8_t *x, int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_k_to_bits(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                         const int8_t *x, uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_bmaxpool(const struct bnn_bmaxpool_params *p, const uint64_t *in, uint64_t *out,
                  int32_t row_begin, int32_t row_end);
void bnn_maxpool_i8(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                    int32_t row_begin, int32_t row_end);
void bnn_avgpool_i8(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                    int32_t row_begin, int32_t row_end);
void bnn_add_i8(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                int8_t *out);
void bnn_channelwise_i8(const struct bnn_channelwise_i8_params *p, const int8_t *in,
                        int8_t *out);
void bnn_add_into_i8(const struct bnn_add_into_i8_params *p, const int8_t *x, const int8_t *w,
                     int8_t *out);
void bnn_lut_u8(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out);
void bnn_concat_i8_part(const struct bnn_concat_part_params *p, const int8_t *in, int8_t *out);
void bnn_concat_bits_part(const struct bnn_concat_part_params *p, const uint64_t *in,
                          uint64_t *out);

/* Portable C99 reference kernels: the specification the dispatching names
 * above must equal bit for bit. Always compiled; tests call both. Building
 * with BNN_PORTABLE defined (the generic target) keeps every plain name in
 * portable C: these, and bconv_portable.c for the binary conv. */
void bnn_bconv_to_bits_ref(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                           int32_t row_begin, int32_t row_end);
void bnn_bconv_to_i8_ref(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                         int32_t row_begin, int32_t row_end);
void bnn_conv_i8_to_i8_ref(const struct bnn_conv_i8_params *p, const int8_t *in, int8_t *out,
                           int32_t row_begin, int32_t row_end);
void bnn_conv_i8_to_bits_ref(const struct bnn_conv_i8_params *p, const int8_t *in, uint64_t *out,
                             int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w1_to_i8_ref(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                              int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w1_to_bits_ref(const struct bnn_conv_i8_w1_params *p, const int8_t *in,
                                uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w2_to_i8_ref(const struct bnn_ternary_conv_params *p, const int8_t *in,
                              int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_conv_i8_w2_to_bits_ref(const struct bnn_ternary_conv_params *p, const int8_t *in,
                                uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_w2_to_i8_ref(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                            int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_w2_to_bits_ref(const struct bnn_ternary_conv_params *p, const uint64_t *in,
                              uint64_t *out, int32_t row_begin, int32_t row_end);
void bnn_threshold_i8_ref(const struct bnn_threshold_params *p, const int8_t *in, uint64_t *out,
                          int32_t row_begin, int32_t row_end);
void bnn_bconv_k_to_i8_ref(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                           const int8_t *x, int8_t *out, int32_t row_begin, int32_t row_end);
void bnn_bconv_k_to_bits_ref(const struct bnn_bconv_k_params *p, const uint64_t *bits,
                             const int8_t *x, uint64_t *out, int32_t row_begin,
                             int32_t row_end);
void bnn_bmaxpool_ref(const struct bnn_bmaxpool_params *p, const uint64_t *in, uint64_t *out,
                      int32_t row_begin, int32_t row_end);
void bnn_maxpool_i8_ref(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                        int32_t row_begin, int32_t row_end);
void bnn_avgpool_i8_ref(const struct bnn_pool_i8_params *p, const int8_t *in, int8_t *out,
                        int32_t row_begin, int32_t row_end);
void bnn_add_i8_ref(const struct bnn_add_i8_params *p, const int8_t *a, const int8_t *b,
                    int8_t *out);
void bnn_add_into_i8_ref(const struct bnn_add_into_i8_params *p, const int8_t *x,
                         const int8_t *w, int8_t *out);
void bnn_channelwise_i8_ref(const struct bnn_channelwise_i8_params *p, const int8_t *in,
                            int8_t *out);
void bnn_lut_u8_ref(const struct bnn_lut_params *p, const uint8_t *in, int8_t *out);
void bnn_concat_i8_part_ref(const struct bnn_concat_part_params *p, const int8_t *in,
                            int8_t *out);
void bnn_concat_bits_part_ref(const struct bnn_concat_part_params *p, const uint64_t *in,
                              uint64_t *out);

/* The requantization helper of bnn_requant.h, exported so that tests can hold
 * it against golden/quant.py: round(acc * multiplier * 2^(shift - 31)). */
int32_t bnn_requant_i32(int64_t acc, int32_t multiplier, int32_t shift);

#endif /* BNN_RUNTIME_H */
