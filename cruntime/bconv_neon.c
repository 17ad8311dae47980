/* Binary convolution, NEON fast path for aarch64 and armv7; bit-exact with
 * bconv_ref.c.
 *
 * Why it is shaped like this:
 * - In the [h][w][words] layout one kernel row of a window is L = kernel_w *
 *   words(c_in) contiguous words, and one output channel's weights are
 *   kernel_h * L contiguous words. So a window is kernel_h runs of L words,
 *   `pitch` words apart, and needs no im2col copy in the interior.
 * - A tile computes PIXELS output pixels x 4 output channels: every loaded
 *   input vector serves 4 channels and every weight vector PIXELS pixels,
 *   so the inner loop is EOR + CNT + pairwise-accumulate (vpadalq_u8) per
 *   128 binary MACs, with few loads. The accumulators are u16 lanes; a
 *   window of at most BNN_NEON_MAX_WORDS words keeps every lane and every
 *   pairwise sum below 65536.
 * - With L odd (odd words(c_in) and odd kernel_w, e.g. 64 channels 3x3) the
 *   last word of two kernel rows is paired into one vector, so that odd
 *   tails cost half a vector each.
 * - One padding is exact with zero words in place of the padded taps (input
 *   bit 0 is +1), so border windows are copied into a small stack patch with
 *   zero words and run through the same tile; zero padding then subtracts
 *   the border class's constant (pad_fix). Border windows too large for the
 *   patch run one pixel at a time through the reference, convs too deep for
 *   the u16 lanes through the portable kernel.
 * - Pixels wait in groups of PIXELS (interior and border apart, across
 *   output rows) so that almost every tile is full.
 * - y = kernel_h * kernel_w * c_in - 2 * popcount, compared with four
 *   thresholds at once, and the four result bits are ORed into the word.
 * - INT8 output (e.g. the last binary conv before a real-valued head): the
 *   output stage runs on four channels at once (bnn_requant_neon.h), exact
 *   as long as y * 2^acc_shift fits int32, else per value.
 * - aarch64 (BNN_BCONV_TILES) runs 4 pixels x 8 channels per tile instead:
 *   the tile generated at export for the layer's window shape, straight
 *   inline asm (struct bnn_bconv_tile8, codegen/bconv_gen.py: a build
 *   carries only its model's shapes), or without one inline asm with its
 *   own loops over rows and word pairs; the weights stream on across tiles in the order of codegen/bconv_tiles.py. Bit
 *   output: one asm statement runs all channel blocks of 4 pixels, each
 *   block compared with popcount limits tabulated once per call
 *   (LIMIT_TABLE). INT8 output: 8 channels at a time from a per-call table
 *   of folded output-stage constants (rq8_table), where exact. 4 windows
 *   starting 1, 2 or 4 words apart (3x3 at 64, 128, 256 channels, stride 1)
 *   run as runs: their overlapping rows are read a few vectors at a time.
 *   Padded convs run from strips (one output row's input rows, zero words
 *   at the borders, in the patch buffer), so that a row's windows are runs
 *   and no border window needs a patch; a strip row's runs with bit output
 *   run in one asm loop. Two strips alternate in the buffer where they fit,
 *   so a group of 4 windows fills across the end of a row, not computing a
 *   row's last windows twice.
 * - armv7 (BNN_BCONV_TILES too) runs 2 pixels x 8 channels per block from the
 *   same weight stream, as two halves of 4 channels, and its int8 output
 *   from the same rq8_table (bconv_neon32.h).
 * Stack: one 4 KiB patch (PATCH_WORDS), a 4 KiB output-stage table, plus
 * under 512 bytes of locals.
 */
#include "bnn_internal.h"

#if BNN_USE_NEON

#include <arm_neon.h>

#include <string.h>

#include "bconv_tile8.h"
#include "bnn_bits.h"
#include "bnn_requant_neon.h"

#if defined(__GNUC__)
#define BNN_INLINE static inline __attribute__((always_inline))
#else
#define BNN_INLINE static inline
#endif

#if defined(__aarch64__)
#define PIXELS 4 /* 16 accumulators + 8 operands fit the 32 vector registers */
#else
#define PIXELS 2 /* armv7 has 16 q registers: 8 accumulators + 6 operands */
#endif

#define BNN_NEON_MAX_WORDS 1023 /* 1023 * 64 bits < 65536: u16 lanes never wrap */
#define PATCH_WORDS 512         /* stack patch for border windows: 4 KiB */

struct geom {
    int32_t cw;        /* words per input pixel */
    int32_t rows;      /* kernel_h */
    int32_t row_words; /* L: one kernel row of a window */
    int32_t k_words;   /* one output channel's weights */
    int32_t full;      /* y of an all-equal window: kernel_h * kernel_w * c_in */
};

BNN_INLINE uint8x16_t xor_count(uint64x2_t x, uint64x2_t w)
{
    return vcntq_u8(vreinterpretq_u8_u64(veorq_u64(x, w)));
}

/* The four lane sums of a0..a3 as one u32 vector. */
BNN_INLINE uint32x4_t sum4(uint16x8_t a0, uint16x8_t a1, uint16x8_t a2, uint16x8_t a3)
{
#if defined(__aarch64__)
    return vpaddlq_u16(vpaddq_u16(vpaddq_u16(a0, a1), vpaddq_u16(a2, a3)));
#else
    uint16x4_t s0 = vpadd_u16(vget_low_u16(a0), vget_high_u16(a0));
    uint16x4_t s1 = vpadd_u16(vget_low_u16(a1), vget_high_u16(a1));
    uint16x4_t s2 = vpadd_u16(vget_low_u16(a2), vget_high_u16(a2));
    uint16x4_t s3 = vpadd_u16(vget_low_u16(a3), vget_high_u16(a3));
    return vpaddlq_u16(vcombine_u16(vpadd_u16(s0, s1), vpadd_u16(s2, s3)));
#endif
}

/* Accumulate popcount(x ^ w0..w3) of pixel P into its four accumulators. */
#define ACC_PIXEL(P, xv)                                                   \
    do {                                                                   \
        if (np > (P)) {                                                    \
            const uint64x2_t x_ = (xv);                                    \
            a##P##0 = vpadalq_u8(a##P##0, xor_count(x_, w0));              \
            a##P##1 = vpadalq_u8(a##P##1, xor_count(x_, w1));              \
            a##P##2 = vpadalq_u8(a##P##2, xor_count(x_, w2));              \
            a##P##3 = vpadalq_u8(a##P##3, xor_count(x_, w3));              \
        }                                                                  \
    } while (0)

/* One vector (two words) at offset j of the current kernel row. */
#define COUNT_STEP(j)                                                      \
    do {                                                                   \
        w0 = vld1q_u64(v0 + (j));                                          \
        w1 = vld1q_u64(v1 + (j));                                          \
        w2 = vld1q_u64(v2 + (j));                                          \
        w3 = vld1q_u64(v3 + (j));                                          \
        ACC_PIXEL(0, vld1q_u64(b0 + (j)));                                 \
        ACC_PIXEL(1, vld1q_u64(b1 + (j)));                                 \
        ACC_PIXEL(2, vld1q_u64(b2 + (j)));                                 \
        ACC_PIXEL(3, vld1q_u64(b3 + (j)));                                 \
    } while (0)

#define ZERO4(P) a##P##0 = a##P##1 = a##P##2 = a##P##3 = vdupq_n_u16(0)

/* popcount(window p XOR channel w[o]) for np (1..4, a constant after
 * inlining) pixels x 4 channels, in d[p]. Window p is `rows` runs of L
 * words starting at base[p], pitch apart. Written out with named variables
 * so that the accumulators stay in registers. */
BNN_INLINE void count_tile(int32_t rows, int32_t L, int np, const uint64_t *const *base,
                           int32_t pitch, const uint64_t *v0, const uint64_t *v1,
                           const uint64_t *v2, const uint64_t *v3, uint32x4_t *d)
{
    const uint64_t *b0 = base[0], *b1 = base[np > 1], *b2 = base[np > 2 ? 2 : 0];
    const uint64_t *b3 = base[np > 3 ? 3 : 0];
    uint16x8_t a00, a01, a02, a03, a10, a11, a12, a13;
    uint16x8_t a20, a21, a22, a23, a30, a31, a32, a33;
    uint64x2_t w0, w1, w2, w3;
    int32_t r, j;

    ZERO4(0);
    ZERO4(1);
    ZERO4(2);
    ZERO4(3);
    for (r = 0; r < rows; ++r) {
        for (j = 0; j + 2 <= L; j += 2)
            COUNT_STEP(j);
        if ((L & 1) && (r & 1)) { /* odd L: the last words of rows r - 1 and r */
            w0 = vcombine_u64(vld1_u64(v0 - 1), vld1_u64(v0 + L - 1));
            w1 = vcombine_u64(vld1_u64(v1 - 1), vld1_u64(v1 + L - 1));
            w2 = vcombine_u64(vld1_u64(v2 - 1), vld1_u64(v2 + L - 1));
            w3 = vcombine_u64(vld1_u64(v3 - 1), vld1_u64(v3 + L - 1));
            ACC_PIXEL(0, vcombine_u64(vld1_u64(b0 - pitch + L - 1), vld1_u64(b0 + L - 1)));
            ACC_PIXEL(1, vcombine_u64(vld1_u64(b1 - pitch + L - 1), vld1_u64(b1 + L - 1)));
            ACC_PIXEL(2, vcombine_u64(vld1_u64(b2 - pitch + L - 1), vld1_u64(b2 + L - 1)));
            ACC_PIXEL(3, vcombine_u64(vld1_u64(b3 - pitch + L - 1), vld1_u64(b3 + L - 1)));
        }
        v0 += L, v1 += L, v2 += L, v3 += L;
        if (r + 1 < rows) /* never form a pointer past the window */
            b0 += pitch, b1 += pitch, b2 += pitch, b3 += pitch;
    }
    if ((L & 1) && (rows & 1)) { /* the last row's word, paired with zero */
        const uint64x1_t zero = vdup_n_u64(0);

        w0 = vcombine_u64(vld1_u64(v0 - 1), zero);
        w1 = vcombine_u64(vld1_u64(v1 - 1), zero);
        w2 = vcombine_u64(vld1_u64(v2 - 1), zero);
        w3 = vcombine_u64(vld1_u64(v3 - 1), zero);
        ACC_PIXEL(0, vcombine_u64(vld1_u64(b0 + L - 1), zero));
        ACC_PIXEL(1, vcombine_u64(vld1_u64(b1 + L - 1), zero));
        ACC_PIXEL(2, vcombine_u64(vld1_u64(b2 + L - 1), zero));
        ACC_PIXEL(3, vcombine_u64(vld1_u64(b3 + L - 1), zero));
    }
    d[0] = sum4(a00, a01, a02, a03);
    if (np > 1)
        d[1] = sum4(a10, a11, a12, a13);
    if (np > 2)
        d[2] = sum4(a20, a21, a22, a23);
    if (np > 3)
        d[3] = sum4(a30, a31, a32, a33);
}

#if BNN_BCONV_TILES && defined(__aarch64__)
/* The aarch64 tile: 4 pixels x 8 output channels, in inline asm because
 * GCC and clang spill at this register pressure (measured: +40-55% with
 * intrinsics). Per pixel and 128 input bits: 8 EOR, 8 CNT, 7 byte-wise ADDP
 * (LCE's tree: after them byte 2c and 2c + 1 hold channel c's counts of the
 * low and high word) and one UADALP, so one u16x8 accumulator holds the 8
 * channels of a pixel. Weights (v24-v31) come from the tile-order stream,
 * 8 vectors per step with two 4-register loads; v16-v23 are scratch. */
#define BNN_ASM_WEIGHTS                                                    \
    "ld1 {v24.16b, v25.16b, v26.16b, v27.16b}, [%[w]], #64\n\t"          \
    "ld1 {v28.16b, v29.16b, v30.16b, v31.16b}, [%[w]], #64\n\t"

/* popcount(x ^ w_c) of the 8 channels, as byte pairs in v16 */
#define BNN_ASM_TREE(x)                                                    \
    "eor v16.16b, " x ".16b, v24.16b\n\t"                                  \
    "eor v17.16b, " x ".16b, v25.16b\n\t"                                  \
    "eor v18.16b, " x ".16b, v26.16b\n\t"                                  \
    "eor v19.16b, " x ".16b, v27.16b\n\t"                                  \
    "eor v20.16b, " x ".16b, v28.16b\n\t"                                  \
    "eor v21.16b, " x ".16b, v29.16b\n\t"                                  \
    "eor v22.16b, " x ".16b, v30.16b\n\t"                                  \
    "eor v23.16b, " x ".16b, v31.16b\n\t"                                  \
    "cnt v16.16b, v16.16b\n\t"                                             \
    "cnt v17.16b, v17.16b\n\t"                                             \
    "cnt v18.16b, v18.16b\n\t"                                             \
    "cnt v19.16b, v19.16b\n\t"                                             \
    "cnt v20.16b, v20.16b\n\t"                                             \
    "cnt v21.16b, v21.16b\n\t"                                             \
    "cnt v22.16b, v22.16b\n\t"                                             \
    "cnt v23.16b, v23.16b\n\t"                                             \
    "addp v16.16b, v16.16b, v17.16b\n\t"                                   \
    "addp v18.16b, v18.16b, v19.16b\n\t"                                   \
    "addp v20.16b, v20.16b, v21.16b\n\t"                                   \
    "addp v22.16b, v22.16b, v23.16b\n\t"                                   \
    "addp v16.16b, v16.16b, v18.16b\n\t"                                   \
    "addp v20.16b, v20.16b, v22.16b\n\t"                                   \
    "addp v16.16b, v16.16b, v20.16b\n\t"

#define BNN_ASM_PIXEL(x, acc) BNN_ASM_TREE(x) "uadalp " acc ".8h, v16.16b\n\t"

/* Two windows' trees interleaved (xa's in v16-v23, xb's in v8-v15, sums
 * in v16 and v8): in-order cores (Cortex-A53) stall on one window's
 * dependency chain; llvm-mca: 6.2 -> 4.7 cycles per 128 binary MACs there,
 * unchanged 1.5 on A72/A76. xa may be v23 and xb v15: each tree reads its
 * input for the last time where it first writes that register. */
#define BNN_ASM_TREE2(xa, xb) \
    "eor v16.16b, " xa ".16b, v24.16b\n\t" \
    "eor v8.16b, " xb ".16b, v24.16b\n\t"  \
    "eor v17.16b, " xa ".16b, v25.16b\n\t" \
    "eor v9.16b, " xb ".16b, v25.16b\n\t"  \
    "eor v18.16b, " xa ".16b, v26.16b\n\t" \
    "eor v10.16b, " xb ".16b, v26.16b\n\t" \
    "eor v19.16b, " xa ".16b, v27.16b\n\t" \
    "eor v11.16b, " xb ".16b, v27.16b\n\t" \
    "eor v20.16b, " xa ".16b, v28.16b\n\t" \
    "eor v12.16b, " xb ".16b, v28.16b\n\t" \
    "eor v21.16b, " xa ".16b, v29.16b\n\t" \
    "eor v13.16b, " xb ".16b, v29.16b\n\t" \
    "eor v22.16b, " xa ".16b, v30.16b\n\t" \
    "eor v14.16b, " xb ".16b, v30.16b\n\t" \
    "eor v23.16b, " xa ".16b, v31.16b\n\t" \
    "eor v15.16b, " xb ".16b, v31.16b\n\t" \
    "cnt v16.16b, v16.16b\n\t"             \
    "cnt v8.16b, v8.16b\n\t"               \
    "cnt v17.16b, v17.16b\n\t"             \
    "cnt v9.16b, v9.16b\n\t"               \
    "cnt v18.16b, v18.16b\n\t"             \
    "cnt v10.16b, v10.16b\n\t"             \
    "cnt v19.16b, v19.16b\n\t"             \
    "cnt v11.16b, v11.16b\n\t"             \
    "cnt v20.16b, v20.16b\n\t"             \
    "cnt v12.16b, v12.16b\n\t"             \
    "cnt v21.16b, v21.16b\n\t"             \
    "cnt v13.16b, v13.16b\n\t"             \
    "cnt v22.16b, v22.16b\n\t"             \
    "cnt v14.16b, v14.16b\n\t"             \
    "cnt v23.16b, v23.16b\n\t"             \
    "cnt v15.16b, v15.16b\n\t"             \
    "addp v16.16b, v16.16b, v17.16b\n\t"   \
    "addp v8.16b, v8.16b, v9.16b\n\t"      \
    "addp v18.16b, v18.16b, v19.16b\n\t"   \
    "addp v10.16b, v10.16b, v11.16b\n\t"   \
    "addp v20.16b, v20.16b, v21.16b\n\t"   \
    "addp v12.16b, v12.16b, v13.16b\n\t"   \
    "addp v22.16b, v22.16b, v23.16b\n\t"   \
    "addp v14.16b, v14.16b, v15.16b\n\t"   \
    "addp v16.16b, v16.16b, v18.16b\n\t"   \
    "addp v8.16b, v8.16b, v10.16b\n\t"     \
    "addp v20.16b, v20.16b, v22.16b\n\t"   \
    "addp v12.16b, v12.16b, v14.16b\n\t"   \
    "addp v16.16b, v16.16b, v20.16b\n\t"   \
    "addp v8.16b, v8.16b, v12.16b\n\t"     \
    ""

/* acc_op is "uadalp" (accumulate), or "uaddlp" for a tile's first step
 * (no zeroing). */
#define BNN_ASM_PIXEL2_OP(acc_op, xa, acca, xb, accb) \
    BNN_ASM_TREE2(xa, xb) \
    acc_op " " acca ".8h, v16.16b\n\t" \
    acc_op " " accb ".8h, v8.16b\n\t"

#define BNN_ASM_CLOBBERS                                                   \
    "memory", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", \
        "v27", "v28", "v29", "v30", "v31"

#define BNN_ASM_PIXEL2(xa, acca, xb, accb) BNN_ASM_PIXEL2_OP("uadalp", xa, acca, xb, accb)

/* One step: the next 8 weight vectors against one vector (two words) of
 * each of the 4 windows, whose pointers then move on by `stride` bytes. */
#define BNN_ASM_STEP_OP(acc_op, stride)                                    \
    BNN_ASM_WEIGHTS                                                        \
    "ld1 {%[x].2d}, [%[b0]], " stride "\n\t"                               \
    "ld1 {%[y].2d}, [%[b1]], " stride "\n\t"                               \
    BNN_ASM_PIXEL2_OP(acc_op, "%[x]", "%[a0]", "%[y]", "%[a1]")            \
    "ld1 {%[x].2d}, [%[b2]], " stride "\n\t"                               \
    "ld1 {%[y].2d}, [%[b3]], " stride "\n\t"                               \
    BNN_ASM_PIXEL2_OP(acc_op, "%[x]", "%[a2]", "%[y]", "%[a3]")
#define BNN_ASM_STEP(stride) BNN_ASM_STEP_OP("uadalp", stride)

/* j steps of 16 bytes (j may be 0); labels l (loop) and d (done) */
#define BNN_ASM_PAIRS(l, d)                                                \
    "mov %[j], %[pairs]\n\t"                                               \
    "cbz %[j], " d "f\n\t"                                                 \
    l ":\n\t" BNN_ASM_STEP("#16")                                   \
    "subs %[j], %[j], #1\n\t"                                              \
    "b.ne " l "b\n\t"                                                      \
    d ":\n\t"

/* After an odd row r's pairs: (last word of row r - 1, last word of row r)
 * as one vector per window; the pointers then move from row r's last word
 * (back) to row r - 1's and on (fwd) to row r + 1's start. */
#define BNN_ASM_ROW_ENDS                                                   \
    BNN_ASM_WEIGHTS                                                        \
    "ld1 {%[x].d}[1], [%[b0]], %[back]\n\t"                                \
    "ld1 {%[y].d}[1], [%[b1]], %[back]\n\t"                                \
    "ld1 {%[x].d}[0], [%[b0]], %[fwd]\n\t"                                 \
    "ld1 {%[y].d}[0], [%[b1]], %[fwd]\n\t"                                 \
    BNN_ASM_PIXEL2("%[x]", "%[a0]", "%[y]", "%[a1]")                       \
    "ld1 {%[x].d}[1], [%[b2]], %[back]\n\t"                                \
    "ld1 {%[y].d}[1], [%[b3]], %[back]\n\t"                                \
    "ld1 {%[x].d}[0], [%[b2]], %[fwd]\n\t"                                 \
    "ld1 {%[y].d}[0], [%[b3]], %[fwd]\n\t"                                 \
    BNN_ASM_PIXEL2("%[x]", "%[a2]", "%[y]", "%[a3]")

/* An even row's last word waits for the next row: skip it */
#define BNN_ASM_SKIP_WORD                                                  \
    "add %[b0], %[b0], %[skip]\n\t"                                        \
    "add %[b1], %[b1], %[skip]\n\t"                                        \
    "add %[b2], %[b2], %[skip]\n\t"                                        \
    "add %[b3], %[b3], %[skip]\n\t"

/* An odd last row's last word: windows 0, 1 in x and 2, 3 in y against the
 * weight word held twice; UZP separates the windows' byte sums. */
#define BNN_ASM_LAST_WORD                                                  \
    "ld1 {%[x].d}[0], [%[b0]]\n\t"                                         \
    "ld1 {%[x].d}[1], [%[b1]]\n\t"                                         \
    "ld1 {%[y].d}[0], [%[b2]]\n\t"                                         \
    "ld1 {%[y].d}[1], [%[b3]]\n\t" BNN_ASM_WEIGHTS                         \
    BNN_ASM_TREE("%[x]")                                                   \
    "uzp1 v17.16b, v16.16b, v16.16b\n\t"                                   \
    "uzp2 v18.16b, v16.16b, v16.16b\n\t"                                   \
    "uaddw %[a0].8h, %[a0].8h, v17.8b\n\t"                                 \
    "uaddw %[a1].8h, %[a1].8h, v18.8b\n\t"                                 \
    BNN_ASM_TREE("%[y]")                                                   \
    "uzp1 v17.16b, v16.16b, v16.16b\n\t"                                   \
    "uzp2 v18.16b, v16.16b, v16.16b\n\t"                                   \
    "uaddw %[a2].8h, %[a2].8h, v17.8b\n\t"                                 \
    "uaddw %[a3].8h, %[a3].8h, v18.8b\n\t"

#define BNN_ASM_ZERO                                                       \
    "movi %[a0].8h, #0\n\t"                                                \
    "movi %[a1].8h, #0\n\t"                                                \
    "movi %[a2].8h, #0\n\t"                                                \
    "movi %[a3].8h, #0\n\t"

#define BNN_ASM_TILE_OUTPUTS                                               \
    [w] "+r"(w), [b0] "+r"(b0), [b1] "+r"(b1), [b2] "+r"(b2), [b3] "+r"(b3), [j] "=&r"(j), \
        [r] "=&r"(r), [a0] "=&w"(t->acc[0]), [a1] "=&w"(t->acc[1]), [a2] "=&w"(t->acc[2]), \
        [a3] "=&w"(t->acc[3]), [x] "=&w"(x), [y] "=&w"(y)

#define BNN_ASM_TILE_CLOBBERS                                              \
    BNN_ASM_CLOBBERS, "cc", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15"

#define BNN_ASM_STEP16 BNN_ASM_STEP("#16")

/* How a group of windows runs: SHAPE_GEN the tile generated at export for
 * the layer's window shape (struct bnn_bconv_tile8: straight, no loops);
 * SHAPE_ANY, without one, loops over rows and pairs (2 instructions per step
 * of 102); SHAPE_RUN3, SHAPE_RUN6 and SHAPE_RUN12: 3x3, 3x6 and 3x12 on
 * runs of consecutive windows (below). */
enum tile_shape { SHAPE_ANY, SHAPE_GEN, SHAPE_RUN3, SHAPE_RUN6, SHAPE_RUN12 };

struct tile8 {
    uint16x8_t acc[4];
};

/* A tile's asm is one string literal longer than the 4095 characters ISO
 * C99 guarantees; GCC and clang take any length, clang -pedantic says so. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Woverlength-strings"
#endif

/* The step sizes of the tile asm (bytes, or counts), for windows of `rows`
 * runs of L words `pitch` words apart. */
struct tile8_steps {
    int64_t rows, pairs, last, row_pairs;
    int64_t skip_even; /* after a row's last pair, to the next row (L even) */
    int64_t skip_odd;  /* an even row's last word (L odd), to the next row */
    int64_t back, fwd; /* an odd row's last word: to the row before, then on */
};

BNN_INLINE struct tile8_steps tile8_steps(int32_t rows, int32_t L, int32_t pitch)
{
    struct tile8_steps c;

    c.rows = rows, c.pairs = L / 2, c.last = L / 2 - 1, c.row_pairs = rows / 2;
    c.skip_even = (int64_t)(pitch - L + 2) * 8;
    c.skip_odd = (int64_t)(pitch - L + 1) * 8;
    c.back = -(int64_t)pitch * 8;
    c.fwd = (int64_t)(2 * pitch - L + 1) * 8;
    return c;
}

/* The looped tile's asm (it zeroes the accumulators), with its input
 * operands, handed to ASM: BNN_TILE8_ASM runs one tile, BNN_BITS8_ASM all
 * channel blocks with their bit output. Steps in the order of
 * bconv_tiles.py. */
#define BNN_TILE8_SHAPES(ASM)                                                               \
    do {                                                                                   \
        if (L % 2 == 0) /* the last pair of a row moves on to the next row */         \
            ASM(BNN_ASM_ZERO "mov %[r], %[rows]\n\t"                                       \
                "1:\n\t"                                                                   \
                "mov %[j], %[last]\n\t"                                                    \
                "cbz %[j], 3f\n\t"                                                         \
                "2:\n\t" BNN_ASM_STEP16 "subs %[j], %[j], #1\n\t"                          \
                "b.ne 2b\n\t"                                                              \
                "3:\n\t" BNN_ASM_STEP("%[skip]") "subs %[r], %[r], #1\n\t"                 \
                "b.ne 1b\n\t",                                                             \
                [rows] "r"(c.rows), [last] "r"(c.last),          \
                [skip] "r"(c.skip_even));                                                  \
        else /* rows in twos, then an odd last row */                                      \
            ASM(BNN_ASM_ZERO "mov %[r], %[row_pairs]\n\t"                                  \
                "cbz %[r], 5f\n\t"                                                         \
                "1:\n\t" BNN_ASM_PAIRS("2", "3") BNN_ASM_SKIP_WORD BNN_ASM_PAIRS("4", "6") \
                    BNN_ASM_ROW_ENDS "subs %[r], %[r], #1\n\t"                             \
                "b.ne 1b\n\t"                                                              \
                "5:\n\t"                                                                   \
                "tbz %[rows], #0, 9f\n\t" BNN_ASM_PAIRS("7", "8") BNN_ASM_LAST_WORD        \
                "9:\n\t",                                                                  \
                [rows] "r"(c.rows), [row_pairs] "r"(c.row_pairs), [pairs] "r"(c.pairs),    \
                [skip] "r"(c.skip_odd), [back] "r"(c.back),      \
                [fwd] "r"(c.fwd));                                                         \
    } while (0)

#define BNN_TILE8_ASM(body, ...)                                                            \
    __asm__ volatile(body : BNN_ASM_TILE_OUTPUTS : __VA_ARGS__                \
                     : BNN_ASM_TILE_CLOBBERS)

/* Popcounts of 4 windows (base[0..3], rows `pitch` words apart) against
 * the 8 channels whose tile-order weights start at *wp, in t->acc[pixel];
 * *wp moves on to the next 8 channels. One asm statement with its own loops
 * (rows, and the L / 2 word pairs of a row), so that no compiler moves the
 * accumulators around. */
BNN_INLINE void count_tile8(int32_t rows, int32_t L,
                            const uint64_t *const *base, int32_t pitch, const uint64_t **wp,
                            struct tile8 *t)
{
    const uint64_t *b0 = base[0], *b1 = base[1], *b2 = base[2], *b3 = base[3], *w = *wp;
    const struct tile8_steps c = tile8_steps(rows, L, pitch);
    uint64x2_t x, y;
    int64_t j, r;

    BNN_TILE8_SHAPES(BNN_TILE8_ASM);
    *wp = w;
}

/* BNN_ASM_BITS8: the bit output of a tile's 8 channels (bconv_tile8.h). */

/* Every channel block: window pointers to the windows' starts (bases), the
 * tile, its bit output; the weights and limits stream on. */
#define BNN_BITS8_ASM(body, ...)                                                            \
    __asm__ volatile("10:\n\t"                                                             \
                     "ldp %[b0], %[b1], [%[bases]]\n\t"                                    \
                     "ldp %[b2], %[b3], [%[bases], #16]\n\t" body BNN_ASM_BITS8 \
                     "subs %[blocks], %[blocks], #1\n\t"                                   \
                     "b.ne 10b\n\t"                                                        \
                     : [w] "+r"(w), [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2),         \
                       [b3] "=&r"(b3), [j] "=&r"(j), [r] "=&r"(r), [a0] "=&w"(a0),          \
                       [a1] "=&w"(a1), [a2] "=&w"(a2), [a3] "=&w"(a3), [x] "=&w"(x),        \
                       [y] "=&w"(y), [blocks] "+r"(blocks), [limits] "+r"(limits)           \
                     : [bases] "r"(base), [dsts] "r"(dst), [bit] "w"(bit), __VA_ARGS__       \
                     : BNN_ASM_TILE_CLOBBERS)

static const uint8_t bit_weights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                       1, 2, 4, 8, 16, 32, 64, 128};

/* The bit output of all `blocks` channel blocks of 4 windows from the
 * tile-order weights w and the limit table (limits8 of every channel), one
 * asm statement: one byte per block to dst[p], which moves on past them. */

BNN_INLINE void bits_tiles8(int32_t rows, int32_t L,
                            const uint64_t *const *base, int32_t pitch, const uint64_t *w,
                            const uint16_t *limits, uint8_t **dst, int64_t blocks)
{
    const uint8x16_t bit = vld1q_u8(bit_weights);
    const struct tile8_steps c = tile8_steps(rows, L, pitch);
    const uint64_t *b0, *b1, *b2, *b3;
    uint16x8_t a0, a1, a2, a3;
    uint64x2_t x, y;
    int64_t j, r;

    BNN_TILE8_SHAPES(BNN_BITS8_ASM);
}

/* Runs: 4 windows whose starts lie `spacing` words apart (run_spacing; in
 * the interior at stride 1). Their kernel rows overlap, so one kernel row of
 * all 4 is read a few vectors at a time into v0-v3 and each window's vector
 * is formed there, or by EXT / ZIP into v9-v11; one pointer, b0, walks the
 * run. Same steps and weight stream as the tiles above: SHAPE_RUN3 is
 * the 3x3 window of 64 channels on 4 windows 1 word apart, SHAPE_RUN6 that
 * of 128 channels on 4 windows 2 words apart, SHAPE_RUN12 that of 256
 * channels 4 words apart.
 *
 * A step runs as BNN_ASM_TREE4: the 4 windows' trees in the order
 * tools/schedule_trees.py lists them for an in-order core (Cortex-A53: one
 * NEON pipe, results 6 cycles later; llvm-mca 5.4-6.1 -> 3.6-4.3 cycles per
 * 128 binary MACs, A72 / A76 unchanged), the inputs of windows 1-3 formed in
 * its form slots and the next step's weights and inputs loaded in its load
 * slots, while this step's trees finish. BNN_ASM_TREE2_HALVES: the same for
 * an odd row's last word, 2 vectors of two windows' words each, whose byte
 * sums UZP separates. Generated: edit the script, not the macros
 * (tests/test_bconv_schedule.py compares them). */
#define BNN_ASM_TREE4(acc_op, x0, a0, x1, a1, x2, a2, x3, a3, form1, form2, form3, ld1, ld2, ld3, ld4) \
    "eor v12.16b, " x0 ".16b, v24.16b\n\t" \
    "eor v13.16b, " x0 ".16b, v25.16b\n\t" \
    "eor v14.16b, " x0 ".16b, v26.16b\n\t" \
    "eor v15.16b, " x0 ".16b, v27.16b\n\t" \
    "eor v16.16b, " x0 ".16b, v28.16b\n\t" \
    "eor v17.16b, " x0 ".16b, v29.16b\n\t" \
    "eor v18.16b, " x0 ".16b, v30.16b\n\t" \
    "eor v19.16b, " x0 ".16b, v31.16b\n\t" \
    form1 \
    "cnt v12.16b, v12.16b\n\t" \
    "cnt v13.16b, v13.16b\n\t" \
    "cnt v14.16b, v14.16b\n\t" \
    "cnt v15.16b, v15.16b\n\t" \
    "cnt v16.16b, v16.16b\n\t" \
    "cnt v17.16b, v17.16b\n\t" \
    "cnt v18.16b, v18.16b\n\t" \
    "cnt v19.16b, v19.16b\n\t" \
    "eor v20.16b, " x1 ".16b, v24.16b\n\t" \
    "eor v21.16b, " x1 ".16b, v25.16b\n\t" \
    "eor v22.16b, " x1 ".16b, v26.16b\n\t" \
    "eor v23.16b, " x1 ".16b, v27.16b\n\t" \
    form2 \
    "addp v12.16b, v12.16b, v13.16b\n\t" \
    "eor v13.16b, " x1 ".16b, v28.16b\n\t" \
    "addp v14.16b, v14.16b, v15.16b\n\t" \
    "eor v15.16b, " x1 ".16b, v29.16b\n\t" \
    "addp v16.16b, v16.16b, v17.16b\n\t" \
    "eor v17.16b, " x1 ".16b, v30.16b\n\t" \
    "addp v18.16b, v18.16b, v19.16b\n\t" \
    "eor v19.16b, " x1 ".16b, v31.16b\n\t" \
    "cnt v20.16b, v20.16b\n\t" \
    "cnt v21.16b, v21.16b\n\t" \
    "cnt v22.16b, v22.16b\n\t" \
    "cnt v23.16b, v23.16b\n\t" \
    "cnt v13.16b, v13.16b\n\t" \
    "cnt v15.16b, v15.16b\n\t" \
    "cnt v17.16b, v17.16b\n\t" \
    "cnt v19.16b, v19.16b\n\t" \
    form3 \
    "addp v12.16b, v12.16b, v14.16b\n\t" \
    "eor v14.16b, " x2 ".16b, v24.16b\n\t" \
    "addp v16.16b, v16.16b, v18.16b\n\t" \
    "eor v18.16b, " x2 ".16b, v25.16b\n\t" \
    "addp v20.16b, v20.16b, v21.16b\n\t" \
    "eor v21.16b, " x2 ".16b, v26.16b\n\t" \
    "addp v22.16b, v22.16b, v23.16b\n\t" \
    "eor v23.16b, " x2 ".16b, v27.16b\n\t" \
    "addp v13.16b, v13.16b, v15.16b\n\t" \
    "eor v15.16b, " x2 ".16b, v28.16b\n\t" \
    "addp v17.16b, v17.16b, v19.16b\n\t" \
    "eor v19.16b, " x2 ".16b, v29.16b\n\t" \
    "cnt v14.16b, v14.16b\n\t" \
    "cnt v18.16b, v18.16b\n\t" \
    "cnt v21.16b, v21.16b\n\t" \
    "cnt v23.16b, v23.16b\n\t" \
    "cnt v15.16b, v15.16b\n\t" \
    "cnt v19.16b, v19.16b\n\t" \
    "addp v12.16b, v12.16b, v16.16b\n\t" \
    "eor v16.16b, " x2 ".16b, v30.16b\n\t" \
    "addp v20.16b, v20.16b, v22.16b\n\t" \
    "eor v22.16b, " x2 ".16b, v31.16b\n\t" \
    "addp v13.16b, v13.16b, v17.16b\n\t" \
    "eor v17.16b, " x3 ".16b, v24.16b\n\t" \
    "addp v14.16b, v14.16b, v18.16b\n\t" \
    "cnt v16.16b, v16.16b\n\t" \
    "eor v18.16b, " x3 ".16b, v25.16b\n\t" \
    "cnt v22.16b, v22.16b\n\t" \
    "addp v21.16b, v21.16b, v23.16b\n\t" \
    "eor v23.16b, " x3 ".16b, v26.16b\n\t" \
    "addp v15.16b, v15.16b, v19.16b\n\t" \
    "eor v19.16b, " x3 ".16b, v27.16b\n\t" \
    "cnt v17.16b, v17.16b\n\t" \
    "addp v16.16b, v16.16b, v22.16b\n\t" \
    "eor v22.16b, " x3 ".16b, v28.16b\n\t" \
    "cnt v18.16b, v18.16b\n\t" \
    "cnt v23.16b, v23.16b\n\t" \
    "cnt v19.16b, v19.16b\n\t" \
    acc_op " " a0 ".8h, v12.16b\n\t" \
    "eor v12.16b, " x3 ".16b, v29.16b\n\t" \
    "cnt v22.16b, v22.16b\n\t" \
    "addp v20.16b, v20.16b, v13.16b\n\t" \
    "eor v13.16b, " x3 ".16b, v30.16b\n\t" \
    "addp v14.16b, v14.16b, v21.16b\n\t" \
    "eor v21.16b, " x3 ".16b, v31.16b\n\t" \
    "cnt v12.16b, v12.16b\n\t" \
    "addp v15.16b, v15.16b, v16.16b\n\t" \
    "addp v17.16b, v17.16b, v18.16b\n\t" \
    "cnt v13.16b, v13.16b\n\t" \
    "addp v23.16b, v23.16b, v19.16b\n\t" \
    "cnt v21.16b, v21.16b\n\t" \
    "addp v22.16b, v22.16b, v12.16b\n\t" \
    acc_op " " a1 ".8h, v20.16b\n\t" \
    "addp v14.16b, v14.16b, v15.16b\n\t" \
    "addp v17.16b, v17.16b, v23.16b\n\t" \
    "addp v13.16b, v13.16b, v21.16b\n\t" \
    acc_op " " a2 ".8h, v14.16b\n\t" \
    "addp v22.16b, v22.16b, v13.16b\n\t" \
    ld1 \
    "addp v17.16b, v17.16b, v22.16b\n\t" \
    ld2 \
    acc_op " " a3 ".8h, v17.16b\n\t" \
    ld3 \
    ld4

#define BNN_ASM_TREE2_HALVES(x0, a0, a1, x1, a2, a3) \
    "eor v12.16b, " x0 ".16b, v24.16b\n\t" \
    "eor v13.16b, " x0 ".16b, v25.16b\n\t" \
    "eor v14.16b, " x0 ".16b, v26.16b\n\t" \
    "eor v15.16b, " x0 ".16b, v27.16b\n\t" \
    "eor v16.16b, " x0 ".16b, v28.16b\n\t" \
    "eor v17.16b, " x0 ".16b, v29.16b\n\t" \
    "eor v18.16b, " x0 ".16b, v30.16b\n\t" \
    "eor v19.16b, " x0 ".16b, v31.16b\n\t" \
    "cnt v12.16b, v12.16b\n\t" \
    "cnt v13.16b, v13.16b\n\t" \
    "cnt v14.16b, v14.16b\n\t" \
    "cnt v15.16b, v15.16b\n\t" \
    "cnt v16.16b, v16.16b\n\t" \
    "cnt v17.16b, v17.16b\n\t" \
    "cnt v18.16b, v18.16b\n\t" \
    "cnt v19.16b, v19.16b\n\t" \
    "eor v20.16b, " x1 ".16b, v24.16b\n\t" \
    "eor v21.16b, " x1 ".16b, v25.16b\n\t" \
    "eor v22.16b, " x1 ".16b, v26.16b\n\t" \
    "eor v23.16b, " x1 ".16b, v27.16b\n\t" \
    "addp v12.16b, v12.16b, v13.16b\n\t" \
    "eor v13.16b, " x1 ".16b, v28.16b\n\t" \
    "addp v14.16b, v14.16b, v15.16b\n\t" \
    "eor v15.16b, " x1 ".16b, v29.16b\n\t" \
    "addp v16.16b, v16.16b, v17.16b\n\t" \
    "eor v17.16b, " x1 ".16b, v30.16b\n\t" \
    "addp v18.16b, v18.16b, v19.16b\n\t" \
    "eor v19.16b, " x1 ".16b, v31.16b\n\t" \
    "cnt v20.16b, v20.16b\n\t" \
    "cnt v21.16b, v21.16b\n\t" \
    "cnt v22.16b, v22.16b\n\t" \
    "cnt v23.16b, v23.16b\n\t" \
    "cnt v13.16b, v13.16b\n\t" \
    "cnt v15.16b, v15.16b\n\t" \
    "cnt v17.16b, v17.16b\n\t" \
    "cnt v19.16b, v19.16b\n\t" \
    "addp v12.16b, v12.16b, v14.16b\n\t" \
    "addp v16.16b, v16.16b, v18.16b\n\t" \
    "addp v20.16b, v20.16b, v21.16b\n\t" \
    "addp v22.16b, v22.16b, v23.16b\n\t" \
    "addp v13.16b, v13.16b, v15.16b\n\t" \
    "addp v17.16b, v17.16b, v19.16b\n\t" \
    "addp v12.16b, v12.16b, v16.16b\n\t" \
    "addp v20.16b, v20.16b, v22.16b\n\t" \
    "addp v13.16b, v13.16b, v17.16b\n\t" \
    "uzp1 v14.16b, v12.16b, v12.16b\n\t" \
    "uzp2 v12.16b, v12.16b, v12.16b\n\t" \
    "addp v20.16b, v20.16b, v13.16b\n\t" \
    "uaddw " a0 ".8h, " a0 ".8h, v14.8b\n\t" \
    "uaddw " a1 ".8h, " a1 ".8h, v12.8b\n\t" \
    "uzp1 v18.16b, v20.16b, v20.16b\n\t" \
    "uzp2 v20.16b, v20.16b, v20.16b\n\t" \
    "uaddw " a2 ".8h, " a2 ".8h, v18.8b\n\t" \
    "uaddw " a3 ".8h, " a3 ".8h, v20.8b\n\t"

#define BNN_LD_WEIGHTS_LO "ld1 {v24.16b, v25.16b, v26.16b, v27.16b}, [%[w]], #64\n\t"
#define BNN_LD_WEIGHTS_HI "ld1 {v28.16b, v29.16b, v30.16b, v31.16b}, [%[w]], #64\n\t"

/* A kernel row of 3 words: the run's row is words 0..5, window p's first
 * two words are p, p + 1: v0 (window 0), v1 (window 2) and EXTs of v0:v1
 * (window 1) and v1:v2 (window 3). The row was loaded by BNN_RUN3_LOAD;
 * ld1..ld4 load the next step. */
#define BNN_RUN3_LOAD(post) "ld1 {v0.2d, v1.2d, v2.2d}, [%[b0]]" post "\n\t"
#define BNN_RUN3_ROW(acc_op, ld1, ld2, ld3, ld4)                                           \
    BNN_ASM_TREE4(acc_op, "v0", "%[a0]", "v9", "%[a1]", "v1", "%[a2]", "v10", "%[a3]",        \
                  "ext v9.16b, v0.16b, v1.16b, #8\n\t", "",                                 \
                  "ext v10.16b, v1.16b, v2.16b, #8\n\t", ld1, ld2, ld3, ld4)

/* The last words of rows 0 and 1 (one step): window p's vector is (row 0
 * word p + 2, row 1 word p + 2), zipped from the two rows' words 2..5
 * (v0, v1 and v2, v3, loaded by BNN_RUN3_ENDS_LOAD0 and 1: b0 comes at row 0's
 * word 2 and moves on to row 2). */
#define BNN_RUN3_ENDS_LOAD0 "ld1 {v0.2d, v1.2d}, [%[b0]], %[pitch]\n\t"
#define BNN_RUN3_ENDS_LOAD1 "ld1 {v2.2d, v3.2d}, [%[b0]], %[fwd]\n\t"
#define BNN_RUN3_ROW_ENDS(ld1, ld2, ld3, ld4)                                              \
    "zip1 v9.2d, v0.2d, v2.2d\n\t"                                                          \
    BNN_ASM_TREE4("uadalp", "v9", "%[a0]", "v10", "%[a1]", "v11", "%[a2]", "v1", "%[a3]",     \
                  "zip2 v10.2d, v0.2d, v2.2d\n\t", "zip1 v11.2d, v1.2d, v3.2d\n\t",           \
                  "zip2 v1.2d, v1.2d, v3.2d\n\t", ld1, ld2, ld3, ld4)

/* Row 2's last words against its weight word held twice: windows 0, 1 are
 * v1 and 2, 3 are v2 as the row loaded them (BNN_ASM_TREE2_HALVES separates
 * the windows' byte sums). Its weights come in the slots of row 2's step. */
#define BNN_RUN3_LAST_WORD BNN_ASM_TREE2_HALVES("v1", "%[a0]", "%[a1]", "v2", "%[a2]", "%[a3]")

#define BNN_RUN3_BODY                                                                       \
    BNN_RUN3_LOAD(", %[pitch]") BNN_ASM_WEIGHTS                                             \
    BNN_RUN3_ROW("uaddlp", BNN_RUN3_LOAD(", %[back]"), BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI, "") \
    BNN_RUN3_ROW("uadalp", BNN_RUN3_ENDS_LOAD0, BNN_RUN3_ENDS_LOAD1, BNN_LD_WEIGHTS_LO,     \
                 BNN_LD_WEIGHTS_HI)                                                         \
    BNN_RUN3_ROW_ENDS(BNN_RUN3_LOAD(", %[rewind]"), BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI, "") \
    BNN_RUN3_ROW("uadalp", BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI, "", "") BNN_RUN3_LAST_WORD

/* Two words per pixel: window p's k-th vector of a row is the row's vector
 * p + k, so one 4-vector load (BNN_RUN6_LOAD, b0 then moves by `post`)
 * serves a step; ld1..ld3 load the next step. */
#define BNN_RUN6_LOAD(post) "ld1 {v0.2d, v1.2d, v2.2d, v3.2d}, [%[b0]], " post "\n\t"
#define BNN_RUN6_STEP(acc_op, ld1, ld2, ld3)                                                \
    BNN_ASM_TREE4(acc_op, "v0", "%[a0]", "v1", "%[a1]", "v2", "%[a2]", "v3", "%[a3]", "", "", \
                  "", ld1, ld2, ld3, "")
#define BNN_RUN6_NEXT(post) BNN_RUN6_STEP("uadalp", BNN_RUN6_LOAD(post), BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI)
#define BNN_RUN6_BODY                                                                       \
    BNN_RUN6_LOAD("%[px]") BNN_ASM_WEIGHTS                                                  \
    BNN_RUN6_STEP("uaddlp", BNN_RUN6_LOAD("%[px]"), BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI)   \
    BNN_RUN6_NEXT("%[skip]") BNN_RUN6_NEXT("%[px]") BNN_RUN6_NEXT("%[px]")                  \
    BNN_RUN6_NEXT("%[skip]") BNN_RUN6_NEXT("%[px]") BNN_RUN6_NEXT("%[px]")                  \
    BNN_RUN6_NEXT("%[rewind]") BNN_RUN6_STEP("uadalp", "", "", "")

/* Four words per pixel (256 channels): a tap's two steps, vectors 2k and
 * 2k + 1 of each window, all 8 from two 4-vector loads (BNN_RUN12_LOAD:
 * windows 0, 1 into v0-v3, 2, 3 into v8-v11; b0 then moves by `post` from
 * window 2's start). The tap's second step loads the next tap (ld1..ld4, or
 * nothing after the last). */
#define BNN_RUN12_LOAD_LO "ld1 {v0.2d, v1.2d, v2.2d, v3.2d}, [%[b0]], #64\n\t"
#define BNN_RUN12_LOAD_HI(post) "ld1 {v8.2d, v9.2d, v10.2d, v11.2d}, [%[b0]], " post "\n\t"
#define BNN_RUN12_TAP(acc_op, ld1, ld2, ld3, ld4)                                          \
    BNN_ASM_TREE4(acc_op, "v0", "%[a0]", "v8", "%[a2]", "v2", "%[a1]", "v10", "%[a3]", "",    \
                  "", "", BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI, "", "")                     \
    BNN_ASM_TREE4("uadalp", "v1", "%[a0]", "v9", "%[a2]", "v3", "%[a1]", "v11", "%[a3]", "",  \
                  "", "", ld1, ld2, ld3, ld4)
#define BNN_RUN12_NEXT(acc_op, post)                                                        \
    BNN_RUN12_TAP(acc_op, BNN_RUN12_LOAD_LO, BNN_LD_WEIGHTS_LO, BNN_LD_WEIGHTS_HI,          \
                  BNN_RUN12_LOAD_HI(post))
#define BNN_RUN12_BODY                                                                      \
    BNN_RUN12_LOAD_LO BNN_RUN12_LOAD_HI("%[back]") BNN_ASM_WEIGHTS                          \
    BNN_RUN12_NEXT("uaddlp", "%[back]") BNN_RUN12_NEXT("uadalp", "%[skip]")                 \
    BNN_RUN12_NEXT("uadalp", "%[back]") BNN_RUN12_NEXT("uadalp", "%[back]")                 \
    BNN_RUN12_NEXT("uadalp", "%[skip]") BNN_RUN12_NEXT("uadalp", "%[back]")                 \
    BNN_RUN12_NEXT("uadalp", "%[back]") BNN_RUN12_NEXT("uadalp", "%[rewind]")               \
    BNN_RUN12_TAP("uadalp", "", "", "", "")

#define BNN_RUN_CLOBBERS BNN_ASM_TILE_CLOBBERS, "v0", "v1", "v2", "v3"

/* The step sizes of the run asm (bytes) for rows `pitch` words apart. */
struct run8_steps {
    int64_t pitch, back, fwd; /* SHAPE_RUN3: next row; row 1 to row 0's word 2; on to row 2 */
    int64_t px, skip;         /* SHAPE_RUN6: next vector; a row's last step to the next row */
    int64_t back12, skip12;   /* SHAPE_RUN12: window 2 to the next tap; to the next row */
    int64_t rewind3, rewind6, rewind12; /* the last step back to the run's start */
};

BNN_INLINE struct run8_steps run8_steps(int32_t pitch)
{
    struct run8_steps c;

    c.pitch = (int64_t)pitch * 8;
    c.back = 16 - c.pitch;
    c.fwd = c.pitch - 16;
    c.px = 16;
    c.skip = c.pitch - 32;
    c.back12 = -32;
    c.skip12 = c.pitch - 128;
    c.rewind3 = -2 * c.pitch;
    c.rewind6 = -2 * c.pitch - 32;
    c.rewind12 = -2 * c.pitch - 128;
    return c;
}

#define BNN_RUN8_SHAPES(ASM)                                                                \
    do {                                                                                   \
        if (shape == SHAPE_RUN3)                                                           \
            ASM(BNN_RUN3_BODY, BNN_RUN_BITS8("v8"), [pitch] "r"(c.pitch), [back] "r"(c.back), \
                [fwd] "r"(c.fwd), [rewind] "r"(c.rewind3));                                \
        else if (shape == SHAPE_RUN6)                                                      \
            ASM(BNN_RUN6_BODY, BNN_RUN_BITS8("v8"), [px] "r"(c.px), [skip] "r"(c.skip),    \
                [rewind] "r"(c.rewind6));                                                  \
        else                                                                               \
            ASM(BNN_RUN12_BODY, "ld1 {v0.16b}, [%[bitp]]\n\t" BNN_RUN_BITS8("v0"),          \
                [back] "r"(c.back12), [skip] "r"(c.skip12), [rewind] "r"(c.rewind12));     \
    } while (0)

#define BNN_RUN8_ASM(body, tail, ...)                                                       \
    __asm__ volatile(body                                                                  \
                     : [w] "+r"(w), [b0] "+r"(b0), [a0] "=&w"(t->acc[0]),                  \
                       [a1] "=&w"(t->acc[1]), [a2] "=&w"(t->acc[2]), [a3] "=&w"(t->acc[3]) \
                     : __VA_ARGS__                                                         \
                     : BNN_RUN_CLOBBERS)

/* count_tile8 of a run starting at base. */
BNN_INLINE void count_run8(enum tile_shape shape, const uint64_t *base, int32_t pitch,
                           const uint64_t **wp, struct tile8 *t)
{
    const uint64_t *b0 = base, *w = *wp;
    const struct run8_steps c = run8_steps(pitch);

    BNN_RUN8_SHAPES(BNN_RUN8_ASM);
    *wp = w;
}

/* The bit output of a run's block: BNN_ASM_BITS8_REGS, the bit weights in
 * register `bit`: v8 (loaded once: SHAPE_RUN3 and SHAPE_RUN6 leave it alone)
 * or v0 (loaded per block: free after the body). */
#define BNN_RUN_BITS8(bit) BNN_ASM_BITS8_REGS(bit)

/* Every channel block of a run, as BNN_BITS8_ASM. */
#define BNN_RUN_BITS8_ASM(body, tail, ...)                                                  \
    __asm__ volatile("ld1 {v8.16b}, [%[bitp]]\n\t"                                          \
                     "10:\n\t" body tail                                                   \
                     "subs %[blocks], %[blocks], #1\n\t"                                   \
                     "b.ne 10b\n\t"                                                        \
                     : [w] "+r"(w), [b0] "+r"(b0), [d0] "+r"(dst[0]), [d1] "+r"(dst[1]),    \
                       [d2] "+r"(dst[2]), [d3] "+r"(dst[3]), [a0] "=&w"(a0),                \
                       [a1] "=&w"(a1), [a2] "=&w"(a2), [a3] "=&w"(a3),                      \
                       [blocks] "+r"(blocks), [limits] "+r"(limits)                         \
                     : [bitp] "r"(bit_weights), __VA_ARGS__                                 \
                     : BNN_RUN_CLOBBERS)

/* bits_tiles8 of a run starting at base. */
BNN_INLINE void bits_runs8(enum tile_shape shape, const uint64_t *base, int32_t pitch,
                           const uint64_t *w, const uint16_t *limits, uint8_t **dst,
                           int64_t blocks)
{
    const struct run8_steps c = run8_steps(pitch);
    const uint64_t *b0 = base;
    uint16x8_t a0, a1, a2, a3;

    BNN_RUN8_SHAPES(BNN_RUN_BITS8_ASM);
}

/* `runs` runs one after the other (4 windows on), every channel block of
 * each, as BNN_RUN_BITS8_ASM in one more loop (two blocks per turn: an
 * even number of blocks): the weights and limits start again per run, the
 * output pointers move on to the next 4 pixels. */
#define BNN_ROW_BITS8_ASM(body, tail, ...)                                                  \
    __asm__ volatile("ld1 {v8.16b}, [%[bitp]]\n\t"                                          \
                     "20:\n\t"                                                             \
                     "mov %[w], %[w0]\n\t"                                                 \
                     "mov %[limits], %[limits0]\n\t"                                       \
                     "mov %[left], %[blocks]\n\t"                                          \
                     "10:\n\t" body tail body tail                                         \
                     "subs %[left], %[left], #2\n\t"                                       \
                     "b.ne 10b\n\t"                                                        \
                     "add %[b0], %[b0], %[run_bytes]\n\t"                                   \
                     "add %[d0], %[d0], %[dst_step]\n\t"                                    \
                     "add %[d1], %[d1], %[dst_step]\n\t"                                    \
                     "add %[d2], %[d2], %[dst_step]\n\t"                                    \
                     "add %[d3], %[d3], %[dst_step]\n\t"                                    \
                     "subs %[runs], %[runs], #1\n\t"                                       \
                     "b.ne 20b\n\t"                                                        \
                     : [w] "=&r"(w), [d0] "+r"(dst[0]), [d1] "+r"(dst[1]),                 \
                       [d2] "+r"(dst[2]), [d3] "+r"(dst[3]), [a0] "=&w"(a0),                \
                       [a1] "=&w"(a1), [a2] "=&w"(a2), [a3] "=&w"(a3), [left] "=&r"(left),  \
                       [limits] "=&r"(limits), [b0] "+r"(b0), [runs] "+r"(runs)             \
                     : [w0] "r"(w0), [limits0] "r"(limits0), [blocks] "r"(blocks),          \
                       [run_bytes] "r"(run_bytes), [dst_step] "r"(dst_step),                \
                       [bitp] "r"(bit_weights), __VA_ARGS__                                 \
                     : BNN_RUN_CLOBBERS)

/* bits_runs8 of `runs` (>= 1) runs from base on, whose pixels' bits are
 * pixel_bytes apart, starting at dst[0..3]; blocks even. */
BNN_INLINE void bits_row_runs8(enum tile_shape shape, const uint64_t *base, int32_t pitch,
                               int32_t cw, const uint64_t *w0, const uint16_t *limits0,
                               uint8_t **dst, int64_t blocks, int64_t pixel_bytes,
                               int64_t runs)
{
    const struct run8_steps c = run8_steps(pitch);
    const int64_t run_bytes = (int64_t)4 * cw * 8, dst_step = 4 * pixel_bytes - blocks;
    const uint64_t *b0 = base, *w;
    const uint16_t *limits;
    uint16x8_t a0, a1, a2, a3;
    int64_t left;

    BNN_RUN8_SHAPES(BNN_ROW_BITS8_ASM);
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
#endif

/* Where a tile's results go: bits (dst words of each pixel) or int8. */
struct sink {
    const struct bnn_bconv_params *p;
    uint64_t *bits; /* NULL for int8 output */
    int8_t *i8;
    size_t pixel_elems; /* words per output pixel, or bytes (bnn_bconv_out_pitch) */
    int vec_i8;         /* int8 output stage 4 channels at a time (bnn_requant_neon.h) */
    const uint16_t *limits; /* NULL, or the bit output's limits8 of every channel */
    const int32_t *rq8;     /* NULL, or the int8 output's rq8_table */
};

/* Up to PIXELS pixels waiting to run as one tile. Interior pixels and
 * border pixels (stack patches) wait in separate groups, since the pitch
 * between the rows of their windows differs; a group fills across output
 * rows, so that nearly every tile is a full one. */
struct group {
    const uint64_t *base[PIXELS];
    size_t pix[PIXELS];
    const int32_t *fix[PIXELS]; /* border pixels under zero padding */
    int32_t pitch;
    int n;
    int fixed; /* whether fix[] applies */
};

/* Four values v[0..n) (the rest repeat v[0]). */
BNN_INLINE int32x4_t load4(const int32_t *v, int32_t n)
{
    int32_t t[4], k;

    if (n == 4)
        return vld1q_s32(v);
    for (k = 0; k < 4; ++k)
        t[k] = v[k < n ? k : 0];
    return vld1q_s32(t);
}

/* y = full - 2 * D of channels o..o+3 (n valid), with fix (NULL, or the
 * pixel's zero-padding fix at o) subtracted from full. */
BNN_INLINE int32x4_t full4(const struct geom *g, const int32_t *fix, int32_t n)
{
    const int32x4_t full = vdupq_n_s32(g->full);

    return fix ? vsubq_s32(full, load4(fix, n)) : full;
}

/* Thresholds of channels o..o+3 (n valid) moved to popcount space: y < T
 * iff 2 * D > full - T iff D > floor((full - T) / 2). The saturating
 * subtract keeps T = INT32_MIN exact (no D reaches 2^30). */
BNN_INLINE int32x4_t popcount_limits(const struct geom *g, const int32_t *thr,
                                     const int32_t *fix, int32_t n)
{
    return vshrq_n_s32(vqsubq_s32(full4(g, fix, n), load4(thr, n)), 1);
}

/* The 4 result bits of each pixel ORed into word[p] at bit `shift`. */
BNN_INLINE void emit_bits(int np, const uint32x4_t *d, int32x4_t limit, int32_t shift,
                          uint64_t valid, uint64_t *word)
{
    static const uint32_t weights[4] = {1, 2, 4, 8};
    const uint32x4_t bit = vld1q_u32(weights);
    int p;

    for (p = 0; p < np; ++p) {
        uint32x4_t negative = vcgtq_s32(vreinterpretq_s32_u32(d[p]), limit);

        word[p] |= ((uint64_t)bnn_add_lanes_u32(vandq_u32(negative, bit)) & valid) << shift;
    }
}

/* The int8 output stage of channels o..o+3 (n valid) of np pixels. Vector:
 * y = full - 2 * popcount and acc = saturate(y * 2^acc_shift + bias) are
 * exact in int32 lanes when full * 2^acc_shift fits (s->vec_i8), then
 * bnn_mbqm4 and the clamp; 4 bytes per pixel. */
BNN_INLINE void emit_i8(const struct sink *s, const struct geom *g, int np, const size_t *pix,
                        const int32_t *const *fix, int32_t o, int32_t n, const uint32x4_t *d)
{
    uint32_t dd[4];
    int32_t k;
    int p;

    if (n == 4 && s->vec_i8) {
        const struct bnn_bconv_params *bp = s->p;
        const struct bnn_rq4 r = bnn_rq4_load(bp->rq.multiplier + o, bp->rq.shift + o);
        const int32x4_t bias = vld1q_s32(bp->bias + o);
        const int32x4_t left = vdupq_n_s32(bp->acc_shift);
        const int32x4_t zero = vdupq_n_s32(bp->rq.zero_point);
        const int32x4_t lo = vdupq_n_s32(bp->rq.lo), hi = vdupq_n_s32(bp->rq.hi);

        for (p = 0; p < np; ++p) {
            const int32x4_t y = vsubq_s32(full4(g, fix ? fix[p] + o : NULL, 4),
                                          vreinterpretq_s32_u32(vshlq_n_u32(d[p], 1)));
            const int32x4_t acc = vqaddq_s32(vshlq_s32(y, left), bias);
            const int16x4_t q = bnn_clamp4(bnn_mbqm4(acc, &r), zero, lo, hi);
            const uint32_t v =
                vget_lane_u32(vreinterpret_u32_s8(vmovn_s16(vcombine_s16(q, q))), 0);

            memcpy(s->i8 + pix[p] * s->pixel_elems + o, &v, sizeof v);
        }
        return;
    }
    for (p = 0; p < np; ++p) {
        vst1q_u32(dd, d[p]);
        for (k = 0; k < n; ++k)
            s->i8[pix[p] * s->pixel_elems + o + k] = bnn_bconv_output_i8(
                s->p, g->full - (fix ? fix[p][o + k] : 0) - 2 * (int32_t)dd[k], o + k);
    }
}

/* Results d[0..np) of channels o..o+3 (n valid): int8 out, or bits ORed
 * into word[] and stored when a word is complete. fix: NULL, or each pixel's
 * zero-padding fix (struct bnn_bconv_params.pad_fix). */
BNN_INLINE void emit4(const struct sink *s, const struct geom *g, int np, const size_t *pix,
                      const int32_t *const *fix, int32_t o, int32_t n, const uint32x4_t *d,
                      uint64_t *word)
{
    const int32_t oc = s->p->out.c, *thr = s->p->threshold + o;
    const uint64_t valid = ((uint64_t)1 << n) - 1;
    int p;

    if (!s->bits) {
        emit_i8(s, g, np, pix, fix, o, n, d);
        return;
    }
    if (o % 64 == 0)
        for (p = 0; p < np; ++p)
            word[p] = 0;
    if (fix)
        for (p = 0; p < np; ++p)
            emit_bits(1, d + p, popcount_limits(g, thr, fix[p] + o, n), o % 64, valid, word + p);
    else
        emit_bits(np, d, popcount_limits(g, thr, NULL, n), o % 64, valid, word);
    if (o % 64 == 60 || o + 4 >= oc)
        for (p = 0; p < np; ++p)
            s->bits[pix[p] * s->pixel_elems + o / 64] = word[p];
}

#if BNN_BCONV_TILES
/* Output channels whose popcount limits (limits8) the bit output tabulates
 * once per call: 2 KiB of stack; wider layers compute them per tile. */
#define LIMIT_TABLE 1024

/* D >= limit iff the bit of channel o + k is 1 (k < n): bit 1 iff y = full -
 * 2 * D < T iff D > (full - T) / 2 (floored) iff D >= that + 1, saturated to
 * u16: a limit 0 always holds; 65535 never does (D <= 1023 * 64), which
 * makes the bits of the n..7 missing channels 0. */
BNN_INLINE uint16x8_t limits8(const struct geom *g, const int32_t *thr, const int32_t *fix,
                              int32_t n)
{
    static const uint16_t lane[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const int32x4_t one = vdupq_n_s32(1);
    const int32_t n_hi = n > 4 ? n - 4 : 1, at_hi = n > 4 ? 4 : 0;
    int32x4_t lo = popcount_limits(g, thr, fix, n < 4 ? n : 4);
    int32x4_t hi = popcount_limits(g, thr + at_hi, fix ? fix + at_hi : NULL, n_hi);
    uint16x8_t limit =
        vcombine_u16(vqmovun_s32(vaddq_s32(lo, one)), vqmovun_s32(vaddq_s32(hi, one)));

    if (n < 8)
        limit = vorrq_u16(limit, vcgeq_u16(vld1q_u16(lane), vdupq_n_u16((uint16_t)n)));
    return limit;
}

#endif

#if BNN_BCONV_TILES && defined(__aarch64__)
/* The bit output of 8 channels of a tile: one byte per pixel, stored
 * straight into the little-endian output words at dst[p], which moves on by
 * one byte. The compare masks of the 4 pixels are narrowed to bytes, weighted
 * by bit and summed pairwise down to one byte per pixel. */
BNN_INLINE void emit_bits8(uint8_t **dst, const struct tile8 *t, const uint16x8_t *limit)
{
    static const uint8_t weights[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bit = vld1q_u8(weights);
    uint8x16_t m01, m23, b;

    m01 = vuzp1q_u8(vreinterpretq_u8_u16(vcgeq_u16(t->acc[0], limit[0])),
                    vreinterpretq_u8_u16(vcgeq_u16(t->acc[1], limit[1])));
    m23 = vuzp1q_u8(vreinterpretq_u8_u16(vcgeq_u16(t->acc[2], limit[2])),
                    vreinterpretq_u8_u16(vcgeq_u16(t->acc[3], limit[3])));
    b = vpaddq_u8(vandq_u8(m01, bit), vandq_u8(m23, bit));
    b = vpaddq_u8(b, b);
    b = vpaddq_u8(b, b); /* byte p: pixel p */
    vst1q_lane_u8(dst[0]++, b, 0);
    vst1q_lane_u8(dst[1]++, b, 1);
    vst1q_lane_u8(dst[2]++, b, 2);
    vst1q_lane_u8(dst[3]++, b, 3);
}

/* A group of 1..4 windows as the 4 of a tile: a short group repeats its
 * window 0 in the missing places, whose results equal window 0's and land
 * where window 0's do. */
struct tile_pixels {
    const uint64_t *base[4];
    size_t pix[4];
    const int32_t *fix[4];
};

BNN_INLINE void tile_pixels(const struct group *q, const int32_t *const *fix,
                            struct tile_pixels *t)
{
    int p;

    for (p = 0; p < 4; ++p) {
        const int i = p < q->n ? p : 0;

        t->base[p] = q->base[i];
        t->pix[p] = q->pix[i];
        t->fix[p] = fix ? fix[i] : NULL;
    }
}

#endif

#if BNN_BCONV_TILES /* the int8 output stage's table: aarch64 and armv7 */
/* Int8 output channels whose output stage run_rows tabulates (rq8_table):
 * 4 KiB of stack, shared with the limit table; wider layers run emit_i8. */
#define RQ8_CHANNELS 256

/* The int8 output stage of 8 channels at a time, folded into constants per
 * channel: with y = full - 2 * D, bnn_mbqm's saturate(saturate(y * 2^acc_shift
 * + bias) * 2^left) is B - D * K (mod 2^32: exact, as the true value fits)
 * for B = (full * 2^acc_shift + bias) * 2^left and K = 2^(acc_shift + 1 +
 * left), when neither saturation can happen for any D in [0, full], i.e.
 * (full * 2^acc_shift + |bias|) * 2^left fits int32. The zero point is then
 * added in int16 lanes: exact for |zero_point| <= 32639, as [lo, hi] lies in
 * int8. Per block of 8 channels: B[8], K[8], multiplier[8], right[8]
 * (bnn_rq4's). Returns 0 (then emit_i8 runs) if a channel could saturate. */
static int rq8_table(const struct bnn_bconv_params *p, const struct geom *g, int32_t *table)
{
    const int32_t s = p->acc_shift, oc = p->out.c;
    int64_t scaled;
    int32_t o;

    if (s < 0 || s > 30 || oc > RQ8_CHANNELS || p->rq.zero_point < -32639 ||
        p->rq.zero_point > 32639)
        return 0;
    scaled = (int64_t)g->full << s;
    for (o = 0; o < oc; ++o) {
        const int32_t shift = p->rq.shift[o], left = bnn_min_i32(bnn_max_i32(shift, 0), 31);
        const int64_t bias = p->bias[o], bound = scaled + (bias < 0 ? -bias : bias);
        int32_t *block = table + o / 8 * 32 + o % 8;
        const int32_t e = s + 1 + left;

        if (bound > (INT32_MAX >> left))
            return 0;
        block[0] = (int32_t)((scaled + bias) * ((int64_t)1 << left));
        block[8] = e < 31 ? (int32_t)1 << e : e == 31 ? INT32_MIN : 0;
        block[16] = p->rq.multiplier[o];
        block[24] = bnn_max_i32(bnn_min_i32(shift, 0), -62);
    }
    return 1;
}

#endif

#if BNN_BCONV_TILES && defined(__aarch64__)
/* The int8 output of 8 channels of a tile's 4 pixels from their rq8_table
 * block: 8 bytes to dst[p], which moves on by 8. */
BNN_INLINE void emit_i8_8(int8_t **dst, const struct tile8 *t, const int32_t *block,
                          int16x8_t zero, int8x8_t lo, int8x8_t hi)
{
    const int32x4x4_t bk = vld1q_s32_x4(block), mr = vld1q_s32_x4(block + 16);
    int p;

    for (p = 0; p < 4; ++p) {
        const uint32x4_t acc_lo =
            vmlsq_u32(vreinterpretq_u32_s32(bk.val[0]), vmovl_u16(vget_low_u16(t->acc[p])),
                      vreinterpretq_u32_s32(bk.val[2]));
        const uint32x4_t acc_hi = vmlsq_u32(vreinterpretq_u32_s32(bk.val[1]),
                                            vmovl_high_u16(t->acc[p]),
                                            vreinterpretq_u32_s32(bk.val[3]));
        const int32x4_t q_lo =
            bnn_mbqm4_right(vreinterpretq_s32_u32(acc_lo), mr.val[0], mr.val[2]);
        const int32x4_t q_hi =
            bnn_mbqm4_right(vreinterpretq_s32_u32(acc_hi), mr.val[1], mr.val[3]);
        const int16x8_t q = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(q_lo), q_hi), zero);

        vst1_s8(dst[p], vmin_s8(vmax_s8(vqmovn_s16(q), lo), hi));
        dst[p] += 8;
    }
}

/* count_tile8, count_run8 for the run shapes, or the layer's generated tile
 * (gen, for SHAPE_GEN; shape is a constant after inlining) */
BNN_INLINE void count8(enum tile_shape shape, int32_t rows, int32_t L,
                       const uint64_t *const *base, int32_t pitch, const uint64_t **wp,
                       struct tile8 *t, const struct bnn_bconv_tile8 *gen)
{
    if (shape == SHAPE_GEN) {
        uint16_t acc[32];
        int p;

        gen->count(base, pitch, wp, acc);
        for (p = 0; p < 4; ++p)
            t->acc[p] = vld1q_u16(acc + 8 * p);
    } else if (shape >= SHAPE_RUN3) {
        count_run8(shape, base[0], pitch, wp, t);
    } else {
        count_tile8(rows, L, base, pitch, wp, t);
    }
}

/* Bit output of all channels of the group q's windows, 8 at a time, from
 * the tile-order weights. Under zero padding, fix is q->fix (the border pixels' own
 * limits), else NULL; a constant after inlining too. */
BNN_INLINE void tiles_to_bits(const struct sink *s, const struct geom *g, const struct group *q,
                              const int32_t *const *fix, enum tile_shape shape)
{
    /* in locals: the byte stores may alias anything the loop reads */
    const int32_t oc = s->p->out.c, last = (oc - 1) / 8; /* last byte of a pixel's bits */
    const int32_t rows = g->rows, L = g->row_words, pitch = q->pitch;
    const int32_t *thr = s->p->threshold;
    const uint16_t *table = s->limits;
    const uint64_t *w = s->p->tiles;
    struct tile_pixels tp;
    uint8_t *dst[4];
    uint16x8_t limit[4];
    struct tile8 t;
    int32_t o;
    int p;

    tile_pixels(q, fix, &tp);
    for (p = 0; p < 4; ++p)
        dst[p] = (uint8_t *)(s->bits + tp.pix[p] * s->pixel_elems);
    if (!fix && table && shape >= SHAPE_RUN3)
        bits_runs8(shape, tp.base[0], pitch, w, table, dst, last + 1);
    else if (!fix && table && shape == SHAPE_GEN)
        s->p->tile8->bits(tp.base, pitch, w, table, dst, last + 1);
    else if (!fix && table)
        bits_tiles8(rows, L, tp.base, pitch, w, table, dst, last + 1);
    else
        for (o = 0; o < oc; o += 8) {
            const int32_t n = oc - o < 8 ? oc - o : 8;

            count8(shape, rows, L, tp.base, pitch, &w, &t, s->p->tile8);
            if (fix) {
                for (p = 0; p < 4; ++p)
                    limit[p] = limits8(g, thr + o, tp.fix[p] + o, n);
            } else {
                limit[0] = table ? vld1q_u16(table + o) : limits8(g, thr + o, NULL, n);
                limit[1] = limit[2] = limit[3] = limit[0];
            }
            emit_bits8(dst, &t, limit);
        }
    if (last % 8 != 7) /* the rest of the last word is zero */
        for (p = 0; p < 4; ++p)
            memset(dst[p], 0, (size_t)(7 - last % 8));
}

/* tiles_to_bits for int8 output: 8 channels at a time through emit_i8_8
 * (interior pixels, full blocks, when s->rq8 is set), else 4 at a time
 * through emit_i8. */
BNN_INLINE void tiles_to_i8(const struct sink *s, const struct geom *g, const struct group *q,
                            const int32_t *const *fix, enum tile_shape shape)
{
    const int32_t oc = s->p->out.c, rows = g->rows, L = g->row_words, pitch = q->pitch;
    const uint64_t *w = s->p->tiles;
    struct tile_pixels tp;
    uint32x4_t d[4];
    struct tile8 t;
    int32_t o = 0;
    int p;

    tile_pixels(q, fix, &tp);
    if (s->rq8 && !fix) {
        const struct bnn_requant *rq = &s->p->rq;
        const int16x8_t zero = vdupq_n_s16((int16_t)rq->zero_point);
        const int8x8_t lo = vdup_n_s8((int8_t)rq->lo), hi = vdup_n_s8((int8_t)rq->hi);
        int8_t *dst[4];

        for (p = 0; p < 4; ++p)
            dst[p] = s->i8 + tp.pix[p] * s->pixel_elems;
        for (; o + 8 <= oc; o += 8) {
            count8(shape, rows, L, tp.base, pitch, &w, &t, s->p->tile8);
            emit_i8_8(dst, &t, s->rq8 + o * 4, zero, lo, hi);
        }
    }
    for (; o < oc; o += 8) {
        count8(shape, rows, L, tp.base, pitch, &w, &t, s->p->tile8);
        for (p = 0; p < 4; ++p)
            d[p] = vmovl_u16(vget_low_u16(t.acc[p]));
        emit_i8(s, g, 4, tp.pix, fix ? tp.fix : NULL, o, oc - o < 4 ? oc - o : 4, d);
        if (oc - o <= 4)
            break;
        for (p = 0; p < 4; ++p)
            d[p] = vmovl_high_u16(t.acc[p]);
        emit_i8(s, g, 4, tp.pix, fix ? tp.fix : NULL, o + 4, oc - o - 4 < 4 ? oc - o - 4 : 4, d);
    }
}

BNN_INLINE void run_tiles(const struct sink *s, const struct geom *g, const struct group *q,
                          const int32_t *const *fix, enum tile_shape shape)
{
    if (s->bits)
        tiles_to_bits(s, g, q, fix, shape);
    else
        tiles_to_i8(s, g, q, fix, shape);
}

/* Whether q's 4 windows start `spacing` words apart: a run. */
static int is_run(const struct group *q, int32_t spacing)
{
    return q->n == 4 && q->base[1] == q->base[0] + spacing &&
           q->base[2] == q->base[0] + 2 * spacing && q->base[3] == q->base[0] + 3 * spacing;
}

/* run_tiles with constant fix (NULL or not) and shape; the interior's runs
 * (never fixed) as runs */
BNN_INLINE void run_tile_shapes(const struct sink *s, const struct geom *g,
                                const struct group *q, const int32_t *const *fix)
{
    if (g->rows == 3 && g->row_words == 3 && !fix && is_run(q, 1))
        run_tiles(s, g, q, fix, SHAPE_RUN3);
    else if (g->rows == 3 && g->row_words == 6 && !fix && is_run(q, 2))
        run_tiles(s, g, q, fix, SHAPE_RUN6);
    else if (g->rows == 3 && g->row_words == 12 && !fix && is_run(q, 4))
        run_tiles(s, g, q, fix, SHAPE_RUN12);
    else if (s->p->tile8)
        run_tiles(s, g, q, fix, SHAPE_GEN);
    else
        run_tiles(s, g, q, fix, SHAPE_ANY);
}

static void run_tile_group(const struct sink *s, const struct geom *g, const struct group *q,
                           const int32_t *const *fix)
{
    if (fix)
        run_tile_shapes(s, g, q, fix);
    else
        run_tile_shapes(s, g, q, NULL);
}
#endif

#if BNN_BCONV_TILES && !defined(__aarch64__)
#include "bconv_neon32.h"
#endif

/* All output channels of np pixels whose windows start at base[], pitch apart.
 * Bits are collected in registers and stored one whole word at a time. */
BNN_INLINE void run_pixels(const struct sink *s, const struct geom *g, int np,
                           const uint64_t *const *base, int32_t pitch, const size_t *pix,
                           const int32_t *const *fix)
{
    const int32_t oc = s->p->out.c, k = g->k_words;
    uint64_t word[PIXELS] = {0};
    uint32x4_t d[PIXELS];
    int32_t o;

#if BNN_BCONV_TILES && !defined(__aarch64__)
    if (s->p->tiles) {
        run_pixels_a32(s, g, np, base, pitch, pix, fix);
        return;
    }
#endif
    for (o = 0; o < oc; o += 4) {
        const uint64_t *w = s->p->weight + (size_t)o * k;
        int32_t n = oc - o < 4 ? oc - o : 4;

        const uint64_t *w1 = n > 1 ? w + k : w, *w2 = n > 2 ? w + 2 * k : w;
        const uint64_t *w3 = n > 3 ? w + 3 * k : w;

        /* past the last channel: recompute an earlier one and drop the lane.
         * 3x3 windows of 64 channels (and of 128 on aarch64, where it pays;
         * armv7 runs out of registers) get unrolled copies. */
        if (g->rows == 3 && g->row_words == 3)
            count_tile(3, 3, np, base, pitch, w, w1, w2, w3, d);
#if defined(__aarch64__)
        else if (g->rows == 3 && g->row_words == 6)
            count_tile(3, 6, np, base, pitch, w, w1, w2, w3, d);
#endif
        else
            count_tile(g->rows, g->row_words, np, base, pitch, w, w1, w2, w3, d);
        emit4(s, g, np, pix, fix, o, n, d, word);
    }
}

/* One border pixel through the reference. */
static void run_pixel_ref(const struct sink *s, const uint64_t *in, const struct bnn_taps *t,
                          size_t pix)
{
    const struct bnn_bconv_params *p = s->p;
    int32_t o;

    if (s->bits) {
        uint64_t *dst = s->bits + pix * s->pixel_elems;

        for (o = 0; o < (int32_t)s->pixel_elems; ++o)
            dst[o] = 0;
        for (o = 0; o < p->out.c; ++o) {
            uint64_t negative = bnn_bconv_dot_ref(p, in, t, o) < p->threshold[o];
            dst[o / 64] |= negative << (o % 64);
        }
        return;
    }
    for (o = 0; o < p->out.c; ++o)
        s->i8[pix * s->pixel_elems + o] = bnn_bconv_output_i8(p, bnn_bconv_dot_ref(p, in, t, o), o);
}

/* The window t copied to patch (rows of L words), zero words where padded. */
static void fill_patch(const struct bnn_bconv_params *p, const struct geom *g,
                       const uint64_t *in, const struct bnn_taps *t, uint64_t *patch)
{
    int32_t r, j;

    for (r = 0; r < g->rows; ++r) {
        uint64_t *dst = patch + (size_t)r * g->row_words;
        int32_t begin = t->kw0 * g->cw, end = t->kw1 * g->cw;
        const uint64_t *src = in;

        if (r < t->kh0 || r >= t->kh1)
            begin = end = 0;
        else
            src = in + ((size_t)(t->iy + r) * p->in.w + t->ix + t->kw0) * g->cw;
        for (j = 0; j < g->row_words; ++j)
            dst[j] = j >= begin && j < end ? src[j - begin] : 0;
    }
}

/* The tile of q's pixels; fix is NULL or q->fix, a constant after inlining,
 * so that interior tiles carry no border code. */
BNN_INLINE void flush_with(const struct sink *s, const struct geom *g, const struct group *q,
                           const int32_t *const *fix)
{
#if BNN_BCONV_TILES && defined(__aarch64__)
    if (s->p->tiles && q->n > 0) {
        run_tile_group(s, g, q, fix);
        return;
    }
#endif
    switch (q->n) {
#if PIXELS == 4
    case 4:
        run_pixels(s, g, 4, q->base, q->pitch, q->pix, fix);
        break;
    case 3:
        run_pixels(s, g, 3, q->base, q->pitch, q->pix, fix);
        break;
#endif
    case 2:
        run_pixels(s, g, 2, q->base, q->pitch, q->pix, fix);
        break;
    case 1:
        run_pixels(s, g, 1, q->base, q->pitch, q->pix, fix);
        break;
    default:
        break;
    }
}

static void flush(const struct sink *s, const struct geom *g, struct group *q)
{
    if (q->fixed)
        flush_with(s, g, q, q->fix);
    else
        flush_with(s, g, q, NULL);
    q->n = 0;
}

/* Output columns whose windows lie inside the input horizontally: [*lo, *hi). */
static void interior_columns(const struct bnn_bconv_params *p, int32_t *lo, int32_t *hi)
{
    const struct bnn_window *win = &p->win;
    int32_t last = p->in.w - win->kernel_w + win->pad_left; /* largest ox * stride */

    *lo = (win->pad_left + win->stride_w - 1) / win->stride_w;
    *hi = last < 0 ? 0 : bnn_min_i32(last / win->stride_w + 1, p->out.w);
    if (*hi < *lo)
        *hi = *lo;
}

#if BNN_BCONV_TILES && defined(__aarch64__)
/* Padded convs on aarch64 run from strips: the kernel_h input rows of one
 * output row copied with zero words where the windows reach past the input
 * (input bit 0 is +1), `cols` pixels wide, so that every window of the row
 * is read the same way, consecutive ones as runs, and no border window needs
 * a patch of its own; zero padding subtracts the border classes' fix as the
 * patches do. */
static int32_t strip_columns(const struct bnn_bconv_params *p)
{
    return (p->out.w - 1) * p->win.stride_w + p->win.kernel_w;
}

static void fill_strip(const struct bnn_bconv_params *p, const struct geom *g,
                       const uint64_t *in, int32_t oy, int32_t cols, uint64_t *strip)
{
    const int32_t left = bnn_min_i32(p->win.pad_left, cols);
    const int32_t inside = bnn_max_i32(0, bnn_min_i32(p->in.w, cols - left)); /* input columns */
    const size_t cw = (size_t)g->cw, row = (size_t)cols * cw;
    int32_t r;

    for (r = 0; r < g->rows; ++r) {
        const int32_t iy = oy * p->win.stride_h - p->win.pad_top + r;
        uint64_t *dst = strip + (size_t)r * row;

        if (iy < 0 || iy >= p->in.h) {
            memset(dst, 0, row * sizeof *dst);
            continue;
        }
        memset(dst, 0, (size_t)left * cw * sizeof *dst);
        memcpy(dst + left * cw, in + (size_t)iy * p->in.w * cw, (size_t)inside * cw * sizeof *dst);
        memset(dst + (left + inside) * cw, 0, (size_t)(cols - left - inside) * cw * sizeof *dst);
    }
}

/* The run shape of windows cw words apart (stride 1), or SHAPE_ANY. */
static enum tile_shape run_shape(const struct geom *g)
{
    if (g->rows == 3 && g->row_words == 3 && g->cw == 1)
        return SHAPE_RUN3;
    if (g->rows == 3 && g->row_words == 6 && g->cw == 2)
        return SHAPE_RUN6;
    if (g->rows == 3 && g->row_words == 12 && g->cw == 4)
        return SHAPE_RUN12;
    return SHAPE_ANY;
}

/* The bit output of the run of 4 windows at base (output pixels pix..pix +
 * 3), straight to the run asm: tiles_to_bits without a group. Or `runs`
 * runs on from there, when the blocks fill the pixels' words. */
BNN_INLINE void bits_row_runs(const struct sink *s, enum tile_shape shape, const uint64_t *base,
                              int32_t pitch, int32_t cw, size_t pix, int32_t runs)
{
    const int64_t blocks = (s->p->out.c + 7) / 8, pixel_bytes = (int64_t)s->pixel_elems * 8;
    uint8_t *dst[4];
    int p;

    for (p = 0; p < 4; ++p)
        dst[p] = (uint8_t *)(s->bits + (pix + (size_t)p) * s->pixel_elems);
    bits_row_runs8(shape, base, pitch, cw, s->p->tiles, s->limits, dst, blocks, pixel_bytes,
                   runs);
}

BNN_INLINE void bits_run(const struct sink *s, enum tile_shape shape, const uint64_t *base,
                         int32_t pitch, size_t pix)
{
    const int32_t last = (s->p->out.c - 1) / 8; /* last byte of a pixel's bits */
    uint8_t *dst[4];
    int p;

    for (p = 0; p < 4; ++p)
        dst[p] = (uint8_t *)(s->bits + (pix + (size_t)p) * s->pixel_elems);
    bits_runs8(shape, base, pitch, s->p->tiles, s->limits, dst, last + 1);
    if (last % 8 != 7) /* the rest of the last word is zero */
        for (p = 0; p < 4; ++p)
            memset(dst[p], 0, (size_t)(7 - last % 8));
}

/* Output rows [row_begin, row_end) from strips (strip: kernel_h * cols *
 * words(c_in) words), 4 windows at a time. When a row's width is not a
 * multiple of 4, the group of its last windows is filled from the next row,
 * as the patch path's groups are: two strips alternate in the buffer. Where
 * only one fits, the caller takes strips only for widths that are whole
 * groups (overlapping the tail with the windows before, computing them
 * twice, cost more than the runs save at widths like 14 or 7: 256->256
 * @14x14 bits 3.24 M that way vs 2.89 M from patches). */
static void run_strips(struct sink *s, const struct geom *g, const uint64_t *in,
                       int32_t row_begin, int32_t row_end, uint64_t *buf)
{
    const struct bnn_bconv_params *p = s->p;
    const int32_t cols = strip_columns(p), ow = p->out.w, step = p->win.stride_w * g->cw;
    const size_t strip_words = (size_t)cols * g->cw * g->rows;
    const int cross = 2 * strip_words <= PATCH_WORDS; /* groups may span two rows */
    /* runs of bit output with the limit table go straight to the asm */
    const enum tile_shape run = p->win.stride_w == 1 && s->limits ? run_shape(g) : SHAPE_ANY;
    int32_t oy, ox, lo, hi, k, pend_row = 0;
    struct group q;

    interior_columns(p, &lo, &hi);
    q.pitch = cols * g->cw;
    q.n = 0;
    q.fixed = 0;
    for (oy = row_begin; oy < row_end; ++oy) {
        const int32_t iy = oy * p->win.stride_h - p->win.pad_top;
        const int32_t inside = iy >= 0 && iy + g->rows <= p->in.h;
        uint64_t *strip = buf + (cross ? (size_t)(oy & 1) * strip_words : 0);

        if (q.n > 0 && (!cross || pend_row < oy - 1)) { /* its strip is to be refilled */
            flush(s, g, &q);
            q.fixed = 0;
        }
        fill_strip(p, g, in, oy, cols, strip);
        for (ox = 0; ox < ow;) {
            int32_t first = ox, n;

            n = q.n > 0 || first + 4 > ow ? bnn_min_i32(4 - q.n, ow - first) : 4;
            if (q.n == 0 && n == 4 && run != SHAPE_ANY &&
                (p->pad_one || (inside && first >= lo && first + 4 <= hi))) {
                const uint64_t *base = strip + (size_t)first * step;
                const size_t pix = (size_t)oy * ow + first;
                /* the full runs of the row from here that need no fix, when whole
                 * blocks fill the words */
                const int32_t end = p->pad_one ? ow : hi;
                const int32_t runs = p->out.c % 64 == 0 && first == ox ? (end - ox) / 4 : 0;

                if (runs > 1) {
                    if (run == SHAPE_RUN3)
                        bits_row_runs(s, SHAPE_RUN3, base, q.pitch, g->cw, pix, runs);
                    else if (run == SHAPE_RUN6)
                        bits_row_runs(s, SHAPE_RUN6, base, q.pitch, g->cw, pix, runs);
                    else
                        bits_row_runs(s, SHAPE_RUN12, base, q.pitch, g->cw, pix, runs);
                    ox = first + 4 * runs;
                    continue;
                }
                if (run == SHAPE_RUN3)
                    bits_run(s, SHAPE_RUN3, base, q.pitch, pix);
                else if (run == SHAPE_RUN6)
                    bits_run(s, SHAPE_RUN6, base, q.pitch, pix);
                else
                    bits_run(s, SHAPE_RUN12, base, q.pitch, pix);
                ox = first + 4;
                continue;
            }
            if (q.n == 0)
                pend_row = oy;
            for (k = 0; k < n; ++k) {
                const int32_t x = first + k;

                q.base[q.n] = strip + (size_t)x * step;
                q.pix[q.n] = (size_t)oy * ow + x;
                /* zero padding: the border classes' fix when the group has a border window */
                if (!p->pad_one) {
                    q.fix[q.n] = p->pad_fix + ((size_t)p->row_class[oy] * p->col_classes +
                                               p->col_class[x]) * (size_t)p->out.c;
                    q.fixed |= !inside || x < lo || x >= hi;
                }
                ++q.n;
            }
            ox = first + n;
            if (q.n == 4 || !cross) {
                flush(s, g, &q);
                q.fixed = 0;
            }
        }
    }
    if (q.n > 0)
        flush(s, g, &q);
}
#endif

static void run_rows(struct sink *s, const uint64_t *in, int32_t row_begin, int32_t row_end)
{
    const struct bnn_bconv_params *p = s->p;
    uint64_t patch[PATCH_WORDS];
#if BNN_BCONV_TILES
    union { /* the output stage's per-channel table, of bits or int8 */
        uint16_t limits[LIMIT_TABLE];
        int32_t rq8[4 * RQ8_CHANNELS];
    } table;
#endif
    struct group inner, border;
    struct geom g;
    int32_t oy, ox, lo, hi, border_cap, patches;

    g.cw = BNN_WORDS(p->in.c);
    g.rows = p->win.kernel_h;
    g.row_words = p->win.kernel_w * g.cw;
    g.k_words = g.rows * g.row_words;
    g.full = p->win.kernel_h * p->win.kernel_w * p->in.c;
    if (g.k_words > BNN_NEON_MAX_WORDS) {
        if (s->bits) /* too large for the u16 lanes */
            bnn_bconv_to_bits_portable(p, in, s->bits, row_begin, row_end);
        else
            bnn_bconv_to_i8_portable(p, in, s->i8, row_begin, row_end);
        return;
    }
#if BNN_BCONV_TILES
    if (s->bits && p->tiles && p->out.c <= LIMIT_TABLE) {
        for (ox = 0; ox < p->out.c; ox += 8)
            vst1q_u16(table.limits + ox, limits8(&g, p->threshold + ox, NULL,
                                                 bnn_min_i32(8, p->out.c - ox)));
        s->limits = table.limits;
    }
#endif
#if BNN_BCONV_TILES
    if (s->i8 && p->tiles && rq8_table(p, &g, table.rq8))
        s->rq8 = table.rq8;
#endif
    patches = (p->pad_one || p->pad_fix) && g.k_words <= PATCH_WORDS;
#if BNN_BCONV_TILES && defined(__aarch64__)
    /* strips only where no window is computed twice: two of them fit (groups
     * cross rows) or rows are whole groups (ReActNet-A's 512 and 1024-channel
     * 3x3 convs at 14x14 and 7x7 fit one strip: from patches its binary convs
     * took 156.6 M aarch64 instructions, from one strip with overlapping
     * tails 165.5 M) */
    {
        const size_t strip_words = (size_t)strip_columns(p) * g.cw * g.rows;

        if (patches && p->tiles && strip_words <= PATCH_WORDS &&
            (2 * strip_words <= PATCH_WORDS || p->out.w % PIXELS == 0)) {
            run_strips(s, &g, in, row_begin, row_end, patch);
            return;
        }
    }
#endif
    interior_columns(p, &lo, &hi);
    /* border windows run from patches padded with +1 (zero words); zero
     * padding then subtracts the border class's fix */
    border_cap = bnn_max_i32(1, bnn_min_i32(PIXELS, PATCH_WORDS / g.k_words));
    inner.n = border.n = 0;
    inner.fixed = 0;
    border.fixed = !p->pad_one;
    inner.pitch = p->in.w * g.cw;
    border.pitch = g.row_words;
    for (oy = row_begin; oy < row_end; ++oy) {
        int32_t iy = oy * p->win.stride_h - p->win.pad_top;
        int32_t inside = iy >= 0 && iy + g.rows <= p->in.h;

        for (ox = 0; ox < p->out.w; ++ox) {
            size_t pix = (size_t)oy * p->out.w + ox;
            struct bnn_taps t;

            if (inside && ox >= lo && ox < hi) {
                inner.base[inner.n] = in + ((size_t)iy * p->in.w + ox * p->win.stride_w -
                                            p->win.pad_left) * g.cw;
                inner.pix[inner.n] = pix;
                if (++inner.n == PIXELS)
                    flush(s, &g, &inner);
                continue;
            }
            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            if (!patches) {
                run_pixel_ref(s, in, &t, pix);
                continue;
            }
            border.base[border.n] = patch + (size_t)border.n * g.k_words;
            fill_patch(p, &g, in, &t, patch + (size_t)border.n * g.k_words);
            border.pix[border.n] = pix;
            if (border.fixed)
                border.fix[border.n] =
                    p->pad_fix + ((size_t)p->row_class[oy] * p->col_classes + p->col_class[ox]) *
                                     (size_t)p->out.c;
            if (++border.n == border_cap)
                flush(s, &g, &border);
        }
    }
    flush(s, &g, &inner);
    flush(s, &g, &border);
}

void bnn_bconv_to_bits_neon(const struct bnn_bconv_params *p, const uint64_t *in, uint64_t *out,
                            int32_t row_begin, int32_t row_end)
{
    struct sink s;

    s.p = p;
    s.bits = out;
    s.i8 = NULL;
    s.pixel_elems = (size_t)BNN_WORDS(p->out.c);
    s.vec_i8 = 0;
    s.limits = NULL;
    s.rq8 = NULL;
    run_rows(&s, in, row_begin, row_end);
}

void bnn_bconv_to_i8_neon(const struct bnn_bconv_params *p, const uint64_t *in, int8_t *out,
                          int32_t row_begin, int32_t row_end)
{
    struct sink s;

    s.p = p;
    s.bits = NULL;
    s.i8 = out;
    s.pixel_elems = bnn_bconv_out_pitch(p);
    /* |y| <= kernel_h * kernel_w * in.c, so y * 2^acc_shift fits int32 lanes */
    s.limits = NULL;
    s.rq8 = NULL;
    s.vec_i8 = p->acc_shift >= 0 && p->acc_shift < 31 &&
               ((int64_t)p->win.kernel_h * p->win.kernel_w * p->in.c << p->acc_shift) <= INT32_MAX;
    run_rows(&s, in, row_begin, row_end);
}

#else

typedef int bnn_bconv_neon_unused; /* ISO C forbids an empty translation unit */

#endif /* BNN_USE_NEON */
