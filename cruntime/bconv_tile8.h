/* What the aarch64 binary-conv tiles of bconv_neon.c share with the tiles an
 * export generates per window shape (codegen/bconv_gen.py, in the model's C):
 * the bit output that follows a tile in the same asm statement, and the
 * registers a tile uses. */
#ifndef BNN_BCONV_TILE8_H
#define BNN_BCONV_TILE8_H

#include "bnn_runtime.h"

#if BNN_BCONV_TILES && defined(__aarch64__)

#include <arm_neon.h>

/* The bit output of a tile's 8 channels, in the same asm: accumulators >=
 * the next 8 limits (limits8) narrowed to bytes, weighted by bit (the bytes
 * 1, 2, .., 128 twice, in register `bit`) and summed pairwise to one byte
 * per pixel, stored to the pointers d0..d3, which move on by one; `load`
 * and `save` (asm text, may be empty) fetch and write back those pointers
 * where they are not kept in registers. */
#define BNN_ASM_BITS8_TO(bit, load, d0, d1, d2, d3, save)                                   \
    "ld1 {v16.8h}, [%[limits]], #16\n\t"                                                   \
    "cmhs %[a0].8h, %[a0].8h, v16.8h\n\t"                                                  \
    "cmhs %[a1].8h, %[a1].8h, v16.8h\n\t"                                                  \
    "cmhs %[a2].8h, %[a2].8h, v16.8h\n\t"                                                  \
    "cmhs %[a3].8h, %[a3].8h, v16.8h\n\t" load                                             \
    "uzp1 v17.16b, %[a0].16b, %[a1].16b\n\t"                                               \
    "uzp1 v18.16b, %[a2].16b, %[a3].16b\n\t"                                               \
    "and v17.16b, v17.16b, " bit ".16b\n\t"                                                \
    "and v18.16b, v18.16b, " bit ".16b\n\t"                                                \
    "addp v17.16b, v17.16b, v18.16b\n\t"                                                   \
    "addp v17.16b, v17.16b, v17.16b\n\t"                                                   \
    "addp v17.16b, v17.16b, v17.16b\n\t"                                                   \
    "st1 {v17.b}[0], [" d0 "], #1\n\t"                                                     \
    "st1 {v17.b}[1], [" d1 "], #1\n\t"                                                     \
    "st1 {v17.b}[2], [" d2 "], #1\n\t"                                                     \
    "st1 {v17.b}[3], [" d3 "], #1\n\t" save

/* A tile's bit output with the 4 output pointers at dsts, held in b0..b3
 * (free until the next tile) while it stores. */
#define BNN_ASM_BITS8_WITH(bit)                                                             \
    BNN_ASM_BITS8_TO(bit,                                                                   \
                     "ldp %[b0], %[b1], [%[dsts]]\n\t"                                      \
                     "ldp %[b2], %[b3], [%[dsts], #16]\n\t",                                \
                     "%[b0]", "%[b1]", "%[b2]", "%[b3]",                                    \
                     "stp %[b0], %[b1], [%[dsts]]\n\t"                                      \
                     "stp %[b2], %[b3], [%[dsts], #16]\n\t")
#define BNN_ASM_BITS8 BNN_ASM_BITS8_WITH("%[bit]")

/* A tile's bit output with the 4 output pointers kept in registers d0..d3
 * across the blocks (no loads or stores of the pointers per block). */
#define BNN_ASM_BITS8_REGS(bit) BNN_ASM_BITS8_TO(bit, "", "%[d0]", "%[d1]", "%[d2]", "%[d3]", "")

/* The vector registers a generated tile writes besides its accumulators:
 * inputs v0-v3, scratch v12-v23, weights v24-v31 (BNN_ASM_BITS8 uses
 * v16-v18). */
#define BNN_TILE8_CLOBBERS                                                                  \
    "memory", "cc", "v0", "v1", "v2", "v3", "v12", "v13", "v14", "v15", "v16", "v17", "v18", \
        "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"

#endif
#endif
