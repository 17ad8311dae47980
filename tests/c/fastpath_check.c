/* Fast path vs reference: every dispatching kernel name against its _ref twin
 * on randomized parameters from a fixed-seed PRNG, byte for byte; the convs'
 * portable paths (bconv_portable.c, conv_i8_portable.c) too, on every target.
 *
 * Built for aarch64 and armv7 (NEON paths) by tests/test_cruntime_arm.py and
 * run under qemu-user. Prints the kernel and the parameters of the first
 * mismatch and exits 1; prints "ok <cases>" otherwise.
 * Usage: fastpath_check [cases] [seed]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnn_internal.h"
#include "bnn_requant.h"
#include "bnn_runtime.h"

#if defined(__ARM_NEON)
#include "bnn_requant_neon.h"
#endif

static uint64_t rng_state;

static uint64_t next_u64(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int32_t uniform(int32_t lo, int32_t hi) /* inclusive */
{
    return (int32_t)((int64_t)lo + (int64_t)(next_u64() % (uint64_t)((int64_t)hi - lo + 1)));
}

static void fill_bits(uint64_t *a, size_t pixels, int32_t c)
{
    const int32_t cw = BNN_WORDS(c);
    size_t i;
    int32_t k;

    for (i = 0; i < pixels; ++i)
        for (k = 0; k < cw; ++k) {
            uint64_t word = next_u64();

            if (k == cw - 1 && c % 64)
                word &= ((uint64_t)1 << (c % 64)) - 1;
            a[i * cw + k] = word;
        }
}

static void fill_bytes(void *a, size_t n)
{
    unsigned char *b = a;
    size_t i;

    for (i = 0; i < n; ++i)
        b[i] = (unsigned char)next_u64();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static int32_t out_size(int32_t size, int32_t k, int32_t s, int32_t before, int32_t after)
{
    return (size + before + after - k) / s + 1;
}

/* A per-channel (multiplier, shift): mostly realistic Q31 values, some edge
 * cases (0, negative, INT32_MIN, INT32_MAX, shifts -62..31). */
static void random_rq(int32_t *mult, int32_t *shift)
{
    static const int32_t edge_mult[] = {0, 1, 1 << 30, INT32_MAX, INT32_MIN, -(1 << 30), -5};
    static const int32_t edge_shift[] = {0, -1, -31, -32, -33, -62, -70, 1, 5, 31, 40};

    *mult = uniform(1 << 30, INT32_MAX);
    *shift = uniform(-20, 2);
    if (uniform(0, 9) == 0)
        *mult = uniform(0, 1) ? edge_mult[uniform(0, 6)] : uniform(INT32_MIN, INT32_MAX);
    if (uniform(0, 9) == 0)
        *shift = edge_shift[uniform(0, 10)];
}

static void random_clamp(struct bnn_requant *rq)
{
    int32_t a = uniform(-128, 127), b = uniform(-128, 127);

    rq->lo = -128, rq->hi = 127;
    if (uniform(0, 1))
        rq->lo = a < b ? a : b, rq->hi = a < b ? b : a;
}

/* The NEON requantization helper against bnn_mbqm (the C transcription of
 * golden/quant.py) on edge vectors and random ones: INT32_MIN, negative
 * ties, shifts 0, -31, beyond -31 and positive, negative multipliers. */
static int check_requant(void)
{
#if defined(__ARM_NEON)
    static const int32_t acc[] = {INT32_MIN, INT32_MIN + 1, -(1 << 30), -7, -5, -3, -2, -1,
                                  0, 1, 2, 3, 5, 7, 1 << 30, INT32_MAX - 1, INT32_MAX};
    static const int32_t mult[] = {0, 1, 1 << 30, (1 << 30) + 1, 3 << 29, INT32_MAX,
                                   INT32_MIN, -(1 << 30), -1};
    static const int32_t shift[] = {0, -1, -2, -30, -31, -32, -33, -62, -63, -100,
                                    1, 2, 30, 31, 32, 40};
    const size_t na = sizeof acc / sizeof *acc, nm = sizeof mult / sizeof *mult;
    const size_t ns = sizeof shift / sizeof *shift;
    size_t a, m, sh;
    int i, bad = 0;

    for (a = 0; a < na; ++a)
        for (m = 0; m < nm; ++m)
            for (sh = 0; sh < ns; ++sh) {
                int32_t mv[4], sv[4], x[4], got[4];
                struct bnn_rq4 r;
                int k;

                for (k = 0; k < 4; ++k)
                    mv[k] = mult[m], sv[k] = shift[sh], x[k] = acc[a];
                x[1] = acc[(a + 3) % na], mv[2] = mult[(m + 1) % nm], sv[3] = shift[(sh + 5) % ns];
                r = bnn_rq4_load(mv, sv);
                vst1q_s32(got, bnn_mbqm4(vld1q_s32(x), &r));
                for (k = 0; k < 4; ++k)
                    if (got[k] != bnn_mbqm(x[k], mv[k], sv[k]) && bad++ < 5)
                        printf("MISMATCH requant acc=%d mult=%d shift=%d: neon %d ref %d\n",
                               x[k], mv[k], sv[k], got[k], bnn_mbqm(x[k], mv[k], sv[k]));
            }
    for (i = 0; i < 200000; ++i) {
        int32_t mv[4], sv[4], x[4], got[4];
        struct bnn_rq4 r;
        int k;

        for (k = 0; k < 4; ++k) {
            x[k] = uniform(0, 3) ? uniform(-100000, 100000) : uniform(INT32_MIN, INT32_MAX);
            mv[k] = uniform(INT32_MIN, INT32_MAX);
            sv[k] = uniform(-40, 8);
            if (uniform(0, 3) == 0) /* exact ties: x * m a multiple of 2^30 */
                mv[k] = 1 << 30, sv[k] = uniform(-6, 0);
        }
        r = bnn_rq4_load(mv, sv);
        vst1q_s32(got, bnn_mbqm4(vld1q_s32(x), &r));
        for (k = 0; k < 4; ++k)
            if (got[k] != bnn_mbqm(x[k], mv[k], sv[k]) && bad++ < 5)
                printf("MISMATCH requant acc=%d mult=%d shift=%d: neon %d ref %d\n", x[k],
                       mv[k], sv[k], got[k], bnn_mbqm(x[k], mv[k], sv[k]));
    }
    return bad == 0;
#else
    return 1;
#endif
}

struct bconv_case {
    int32_t h, w, cin, cout, kh, kw, sh, sw, pt, pl, pb, pr, pad_one;
    int32_t to_i8; /* 0 bits out; 1 int8 out; 2 int8 out without requantization edge values */
    int32_t groups, dh, dw; /* grouped or dilated (struct bnn_bconv_general) unless 1, 1, 1 */
    /* int8 out: bytes between output pixels (0: cout), and the output's first
     * byte in each pixel (a channel slice of a wider buffer) */
    int32_t pitch, offset;
};

static void describe(const char *kernel, const struct bconv_case *c, size_t at)
{
    printf("MISMATCH %s in=%dx%dx%d cout=%d kernel=%dx%d stride=%dx%d pad=[%d,%d,%d,%d] "
           "pad_one=%d groups=%d dilation=%dx%d pitch=%d offset=%d first differing byte %zu\n",
           kernel, c->h, c->w, c->cin, c->cout, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl, c->pb,
           c->pr, c->pad_one, c->groups, c->dh, c->dw, c->pitch, c->offset, at);
}

static size_t first_diff(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    size_t i;

    for (i = 0; i < n && x[i] == y[i]; ++i)
        ;
    return i;
}

/* Per-output-channel arrays of a conv's output stage; the caller fills the
 * threshold and bias, then calls channels_requant. */
struct channels {
    int32_t *thr, *bias, *mult, *shift;
};

static struct channels channels_new(int32_t cout)
{
    struct channels ch;

    ch.thr = xmalloc((size_t)cout * 4);
    ch.bias = xmalloc((size_t)cout * 4);
    ch.mult = xmalloc((size_t)cout * 4);
    ch.shift = xmalloc((size_t)cout * 4);
    return ch;
}

static void channels_requant(const struct channels *ch, struct bnn_requant *rq)
{
    rq->multiplier = ch->mult;
    rq->shift = ch->shift;
    rq->zero_point = uniform(-128, 127);
    random_clamp(rq);
}

static void channels_free(struct channels *ch)
{
    free(ch->thr), free(ch->bias), free(ch->mult), free(ch->shift);
}

/* The two output buffers of one fast-vs-reference run, holding the same random
 * bytes (so bytes a kernel leaves unwritten show too), and a random row split
 * (the fast kernel runs as two row ranges, as threads would call it). */
struct outputs {
    void *fast, *ref;
    size_t bytes;
    int32_t split;
};

static struct outputs outputs_new(int32_t oh, int32_t ow, int32_t cout, int32_t to_i8)
{
    struct outputs out;

    out.bytes = (size_t)oh * ow * (to_i8 ? (size_t)cout : (size_t)BNN_WORDS(cout) * 8);
    out.fast = xmalloc(out.bytes);
    out.ref = xmalloc(out.bytes);
    fill_bytes(out.fast, out.bytes);
    memcpy(out.ref, out.fast, out.bytes);
    out.split = uniform(0, oh);
    return out;
}

/* Frees both buffers; returns the first differing byte, or SIZE_MAX if they are equal. */
static size_t outputs_compare(struct outputs *out)
{
    size_t at = first_diff(out->fast, out->ref, out->bytes);

    free(out->fast), free(out->ref);
    return at == out->bytes ? SIZE_MAX : at;
}

#if BNN_BCONV_TILES
/* One tile step: words i0 and i1 of the windows of channels 8b..8b+7. */
static uint64_t *tile_step(uint64_t *dst, const uint64_t *weight, int32_t b, int32_t cout,
                           int32_t k, int32_t i0, int32_t i1)
{
    int32_t ch;

    for (ch = 0; ch < 8; ++ch) {
        const int32_t o = b * 8 + ch;

        dst[2 * ch] = o < cout ? weight[(size_t)o * k + i0] : 0;
        dst[2 * ch + 1] = o < cout ? weight[(size_t)o * k + i1] : 0;
    }
    return dst + 16;
}

/* The weights in tile order (codegen/bconv_tiles.py), written here from its
 * description so that a packing error on either side shows as a mismatch. */
static uint64_t *tile_order(const uint64_t *weight, int32_t cout, int32_t kh, int32_t L)
{
    const int32_t k = kh * L, blocks = (cout + 7) / 8;
    uint64_t *tiles = xmalloc((size_t)blocks * ((k + 1) / 2) * 16 * 8), *dst = tiles;
    int32_t b, r, j;

    for (b = 0; b < blocks; ++b) {
        for (r = 0; r < kh; ++r) {
            for (j = 0; j + 1 < L; j += 2)
                dst = tile_step(dst, weight, b, cout, k, r * L + j, r * L + j + 1);
            if (L % 2 && r % 2)
                dst = tile_step(dst, weight, b, cout, k, r * L - 1, r * L + L - 1);
        }
        if (L % 2 && kh % 2)
            dst = tile_step(dst, weight, b, cout, k, k - 1, k - 1);
    }
    return tiles;
}
#endif

/* Zero padding's fix per output pixel (every pixel its own border class),
 * from the reference: y under one padding minus y under zero padding. */
static int32_t *zero_pad_fix(struct bnn_bconv_params *p, const uint64_t *in)
{
    int32_t *fix = xmalloc((size_t)p->out.h * p->out.w * p->out.c * 4), *rows, *cols;
    int32_t oy, ox, o;

    rows = xmalloc((size_t)p->out.h * 4), cols = xmalloc((size_t)p->out.w * 4);
    for (oy = 0; oy < p->out.h; ++oy)
        rows[oy] = oy;
    for (ox = 0; ox < p->out.w; ++ox)
        cols[ox] = ox;
    for (oy = 0; oy < p->out.h; ++oy) {
        for (ox = 0; ox < p->out.w; ++ox) {
            struct bnn_taps t;

            bnn_clip_window(&p->win, &p->in, oy, ox, &t);
            for (o = 0; o < p->out.c; ++o) {
                int32_t y_zero, y_one;

                p->pad_one = 0, y_zero = bnn_bconv_dot_ref(p, in, &t, o);
                p->pad_one = 1, y_one = bnn_bconv_dot_ref(p, in, &t, o);
                fix[((size_t)oy * p->out.w + ox) * p->out.c + o] = y_one - y_zero;
            }
        }
    }
    p->pad_one = 0;
    p->row_class = rows, p->col_class = cols, p->col_classes = p->out.w;
    return fix;
}

typedef void (*bconv_bits_fn)(const struct bnn_bconv_params *, const uint64_t *, uint64_t *,
                              int32_t, int32_t);
typedef void (*bconv_i8_fn)(const struct bnn_bconv_params *, const uint64_t *, int8_t *,
                            int32_t, int32_t);

static int check_bconv(const struct bconv_case *c)
{
    struct bnn_bconv_params p;
    struct bnn_bconv_general general;
    const int32_t cw = BNN_WORDS(c->cin / c->groups);
    const int general_case = c->groups > 1 || c->dh > 1 || c->dw > 1;
    int32_t oh = out_size(c->h, (c->kh - 1) * c->dh + 1, c->sh, c->pt, c->pb);
    int32_t ow = out_size(c->w, (c->kw - 1) * c->dw + 1, c->sw, c->pl, c->pr);
    size_t at, k_words = (size_t)c->kh * c->kw * cw;
    uint64_t *in, *weight;
    struct channels ch = channels_new(c->cout);
    struct outputs out;
    int32_t o, path, paths;

    memset(&p, 0, sizeof p);
    p.in.h = c->h, p.in.w = c->w, p.in.c = c->cin;
    p.out.h = oh, p.out.w = ow, p.out.c = c->cout;
    p.win.kernel_h = c->kh, p.win.kernel_w = c->kw;
    p.win.stride_h = c->sh, p.win.stride_w = c->sw;
    p.win.pad_top = c->pt, p.win.pad_left = c->pl, p.win.pad_bottom = c->pb;
    p.win.pad_right = c->pr;
    p.pad_one = c->pad_one;
    in = xmalloc((size_t)c->h * c->w * BNN_WORDS(c->cin) * 8);
    weight = xmalloc((size_t)c->cout * k_words * 8);
    fill_bits(in, (size_t)c->h * c->w, c->cin);
    fill_bits(weight, (size_t)c->cout * c->kh * c->kw, c->cin / c->groups);
    general.groups = c->groups, general.dilation_h = c->dh, general.dilation_w = c->dw;
    p.general = general_case ? &general : NULL;
    for (o = 0; o < c->cout; ++o) {
        int32_t spread = c->kh * c->kw * c->cin / 8 + 2;

        ch.thr[o] = uniform(-spread, spread);
        ch.bias[o] = uniform(-100000, 100000);
        random_rq(&ch.mult[o], &ch.shift[o]);
        if (c->to_i8 == 2) /* no edge values: the folded int8 output stage applies */
            ch.mult[o] = uniform(1 << 30, INT32_MAX), ch.shift[o] = uniform(-20, 2);
    }
    p.weight = weight;
#if BNN_BCONV_TILES
    p.tiles = !general_case && uniform(0, 3) ? tile_order(weight, c->cout, c->kh, c->kw * cw)
                                              : NULL;
#endif
    if (!general_case && !c->pad_one && uniform(0, 3))
        p.pad_fix = zero_pad_fix(&p, in);
    p.threshold = ch.thr;
    p.acc_shift = uniform(0, 8) == 0 && c->to_i8 != 2 ? uniform(9, 32) : uniform(0, 8);
    p.bias = ch.bias;
    p.out_pitch = c->pitch;
    channels_requant(&ch, &p.rq);
    /* the dispatching name, then bconv_portable.c (the SIMD paths' fallback;
     * groups of whole words only, others run the reference) */
    paths = c->groups == 1 || c->cin / c->groups % 64 == 0 ? 2 : 1;
    for (path = 0, at = SIZE_MAX; path < paths && at == SIZE_MAX; ++path) {
        /* a wider pitch's other bytes must stay as they were: compared too */
        out = outputs_new(oh, ow, c->pitch ? c->pitch : c->cout, c->to_i8);
        if (c->to_i8) {
            bconv_i8_fn fn = path ? bnn_bconv_to_i8_portable : bnn_bconv_to_i8;
            int8_t *fast = (int8_t *)out.fast + c->offset, *ref = (int8_t *)out.ref + c->offset;

            fn(&p, in, fast, 0, out.split);
            fn(&p, in, fast, out.split, oh);
            bnn_bconv_to_i8_ref(&p, in, ref, 0, oh);
        } else {
            bconv_bits_fn fn = path ? bnn_bconv_to_bits_portable : bnn_bconv_to_bits;

            fn(&p, in, out.fast, 0, out.split);
            fn(&p, in, out.fast, out.split, oh);
            bnn_bconv_to_bits_ref(&p, in, out.ref, 0, oh);
        }
        at = outputs_compare(&out);
        if (at != SIZE_MAX)
            describe(path ? (c->to_i8 ? "bnn_bconv_to_i8_portable" : "bnn_bconv_to_bits_portable")
                          : (c->to_i8 ? "bnn_bconv_to_i8" : "bnn_bconv_to_bits"),
                     c, at);
    }
    free(in), free(weight), free((void *)p.tiles), free((void *)p.pad_fix);
    free((void *)p.row_class), free((void *)p.col_class);
    channels_free(&ch);
    return at == SIZE_MAX;
}

static int random_bconv(void)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 3, 5};
    static const int32_t chans[] = {1, 63, 64, 65, 127, 128, 129, 192, 256, 300};
    struct bconv_case c;

    c.kh = kernels[uniform(0, 5)];
    c.kw = uniform(0, 1) ? c.kh : kernels[uniform(0, 5)];
    c.sh = uniform(1, 2), c.sw = uniform(1, 3);
    c.pt = uniform(0, c.kh), c.pl = uniform(0, c.kw);
    c.pb = uniform(0, c.kh), c.pr = uniform(0, c.kw);
    c.h = uniform(c.kh - c.pt - c.pb > 1 ? c.kh - c.pt - c.pb : 1, 12);
    c.w = uniform(c.kw - c.pl - c.pr > 1 ? c.kw - c.pl - c.pr : 1, 12);
    if (uniform(0, 7) == 0) { /* a whole-input ("linear") kernel */
        c.h = c.kh = uniform(1, 7), c.w = c.kw = uniform(1, 7);
        c.sh = c.sw = 1, c.pt = c.pl = c.pb = c.pr = 0;
    }
    c.cin = uniform(0, 1) ? chans[uniform(0, 9)] : uniform(1, 300);
    c.cout = uniform(0, 1) ? chans[uniform(0, 9)] : uniform(1, 70);
    c.pad_one = uniform(0, 1);
    c.to_i8 = uniform(0, 3) == 0;
    c.groups = c.dh = c.dw = 1;
    if (uniform(0, 4) == 0) { /* grouped (whole words a group, or not) and dilated */
        c.groups = uniform(1, 4);
        c.cin = c.groups * (uniform(0, 1) ? 64 * uniform(1, 3) : uniform(1, 100));
        c.cout = c.groups * uniform(1, 20);
        c.dh = uniform(1, 3), c.dw = uniform(1, 3);
        c.h += (c.kh - 1) * (c.dh - 1), c.w += (c.kw - 1) * (c.dw - 1);
    }
    c.pitch = c.offset = 0;
    if (c.to_i8 && uniform(0, 1)) /* a slice of a concat's pixels (or the dense pitch) */
        c.pitch = c.cout + uniform(0, 9), c.offset = uniform(0, c.pitch - c.cout);
    return check_bconv(&c);
}

struct conv_case {
    int32_t h, w, cin, cout, kh, kw, sh, sw, pt, pl, pb, pr, groups, to_i8;
    /* weights: 0 any int8; 1 in [-127, 127], as exported (armv7's stem then adds two
     * products in int16); inputs -128 and weights only -127 and 127 (2: those sums'
     * extremes) or -128 and 127 (3: where two products overflow int16) */
    int32_t weights;
};

typedef void (*conv_i8_i8_fn)(const struct bnn_conv_i8_params *, const int8_t *, int8_t *,
                              int32_t, int32_t);
typedef void (*conv_i8_bits_fn)(const struct bnn_conv_i8_params *, const int8_t *, uint64_t *,
                                int32_t, int32_t);

static int check_conv_i8(const struct conv_case *c)
{
    struct bnn_conv_i8_params p;
    int32_t oh = out_size(c->h, c->kh, c->sh, c->pt, c->pb);
    int32_t ow = out_size(c->w, c->kw, c->sw, c->pl, c->pr);
    size_t at, k = (size_t)c->kh * c->kw * (c->cin / c->groups);
    int8_t *in, *weight;
    struct channels ch = channels_new(c->cout);
    struct outputs out;
    int32_t o, path;
    /* int8 out now and then into a channel slice of wider pixels (a concat's),
     * whose other bytes must stay as they were */
    const int32_t pitch = c->to_i8 && uniform(0, 2) == 0 ? c->cout + uniform(0, 20) : 0;
    const int32_t offset = pitch ? uniform(0, pitch - c->cout) : 0;

    memset(&p, 0, sizeof p);
    p.out_pitch = pitch;
    p.in.h = c->h, p.in.w = c->w, p.in.c = c->cin;
    p.out.h = oh, p.out.w = ow, p.out.c = c->cout;
    p.win.kernel_h = c->kh, p.win.kernel_w = c->kw;
    p.win.stride_h = c->sh, p.win.stride_w = c->sw;
    p.win.pad_top = c->pt, p.win.pad_left = c->pl, p.win.pad_bottom = c->pb;
    p.win.pad_right = c->pr;
    p.groups = c->groups;
    p.in_zero = uniform(0, 3) ? uniform(-128, 127) : uniform(-1000, 1000);
    in = xmalloc((size_t)c->h * c->w * c->cin);
    weight = xmalloc((size_t)c->cout * k);
    fill_bytes(in, (size_t)c->h * c->w * c->cin);
    fill_bytes(weight, (size_t)c->cout * k);
    for (at = 0; c->weights && at < (size_t)c->cout * k; ++at)
        weight[at] = c->weights == 1 ? (weight[at] == -128 ? -127 : weight[at])
                     : weight[at] >= 0 ? 127 : c->weights == 2 ? -127 : -128;
    if (c->weights >= 2)
        memset(in, 0x80, (size_t)c->h * c->w * c->cin);
    for (o = 0; o < c->cout; ++o) {
        int32_t spread = 64 * (int32_t)k + 2;

        ch.thr[o] = uniform(0, 9) ? uniform(-spread, spread) : uniform(INT32_MIN, INT32_MAX);
        ch.bias[o] = uniform(0, 9) ? uniform(-100000, 100000) : uniform(INT32_MIN, INT32_MAX);
        random_rq(&ch.mult[o], &ch.shift[o]);
    }
    /* half the cases as exported, every shift a right shift (the SSRA output stage) */
    if (uniform(0, 1))
        for (o = 0; o < c->cout; ++o)
            ch.shift[o] = ch.shift[o] < 0 ? ch.shift[o] : -1 - ch.shift[o];
    p.weight = weight, p.bias = ch.bias, p.threshold = ch.thr;
    channels_requant(&ch, &p.rq);
    /* the dispatching name, then conv_i8_portable.c (the other paths' fallback) */
    for (path = 0, at = SIZE_MAX; path < 2 && at == SIZE_MAX; ++path) {
        out = outputs_new(oh, ow, pitch ? pitch : c->cout, c->to_i8);
        if (c->to_i8) {
            conv_i8_i8_fn fn = path ? bnn_conv_i8_to_i8_portable : bnn_conv_i8_to_i8;
            int8_t *fast = (int8_t *)out.fast + offset, *ref = (int8_t *)out.ref + offset;

            fn(&p, in, fast, 0, out.split);
            fn(&p, in, fast, out.split, oh);
            bnn_conv_i8_to_i8_ref(&p, in, ref, 0, oh);
        } else {
            conv_i8_bits_fn fn = path ? bnn_conv_i8_to_bits_portable : bnn_conv_i8_to_bits;

            fn(&p, in, out.fast, 0, out.split);
            fn(&p, in, out.fast, out.split, oh);
            bnn_conv_i8_to_bits_ref(&p, in, out.ref, 0, oh);
        }
        at = outputs_compare(&out);
        if (at != SIZE_MAX)
            printf("MISMATCH %s%s in=%dx%dx%d cout=%d kernel=%dx%d stride=%dx%d "
                   "pad=[%d,%d,%d,%d] groups=%d in_zero=%d pitch=%d offset=%d first differing "
                   "byte %zu\n",
                   c->to_i8 ? "bnn_conv_i8_to_i8" : "bnn_conv_i8_to_bits", path ? "_portable" : "",
                   c->h, c->w, c->cin, c->cout, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl, c->pb,
                   c->pr, c->groups, p.in_zero, pitch, offset, at);
    }
    free(in), free(weight);
    channels_free(&ch);
    return at == SIZE_MAX;
}

/* Few input channels (the stem fast path) and many (the GEMM path: 1x1, KxK
 * windows, linear layers whose kernel is the whole input), and depthwise. */
static int random_conv_i8(void)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 3, 5, 7};
    struct conv_case c;
    const int32_t kind = uniform(0, 9);

    c.groups = 1;
    c.kh = kernels[uniform(0, 6)];
    c.kw = uniform(0, 1) ? c.kh : kernels[uniform(0, 6)];
    c.sh = uniform(1, 2), c.sw = uniform(1, 3);
    c.pt = uniform(0, c.kh), c.pl = uniform(0, c.kw);
    c.pb = uniform(0, c.kh), c.pr = uniform(0, c.kw);
    c.h = uniform(c.kh - c.pt - c.pb > 1 ? c.kh - c.pt - c.pb : 1, 12);
    c.w = uniform(c.kw - c.pl - c.pr > 1 ? c.kw - c.pl - c.pr : 1, 12);
    c.cin = uniform(0, 5) ? uniform(1, 8) : uniform(9, 20);
    c.cout = uniform(0, 1) ? 16 * uniform(1, 5) : uniform(1, 140);
    c.to_i8 = uniform(0, 1);
    c.weights = uniform(0, 1);
    if (kind < 3) { /* many input channels, 1x1 mostly */
        c.cin = uniform(17, 300);
        if (uniform(0, 1))
            c.kh = c.kw = 1, c.pt = c.pl = c.pb = c.pr = 0;
    } else if (kind < 5) { /* depthwise */
        c.cin = c.cout = c.groups = uniform(0, 1) ? uniform(1, 150) : 16 * uniform(1, 6);
    } else if (kind == 5) { /* linear: the kernel covers the whole input */
        c.cin = uniform(1, 90), c.cout = uniform(1, 200);
        c.kh = c.h, c.kw = c.w, c.sh = c.sw = 1, c.pt = c.pl = c.pb = c.pr = 0;
    } else if (kind == 6) { /* grouped: 2..8 groups, channels per group any */
        c.groups = uniform(2, 8);
        c.cin = c.groups * uniform(1, uniform(0, 1) ? 12 : 40);
        c.cout = c.groups * uniform(1, 24);
    }
    return check_conv_i8(&c);
}

typedef void (*conv_i8_w1_i8_fn)(const struct bnn_conv_i8_w1_params *, const int8_t *,
                                 int8_t *, int32_t, int32_t);
typedef void (*conv_i8_w1_bits_fn)(const struct bnn_conv_i8_w1_params *, const int8_t *,
                                   uint64_t *, int32_t, int32_t);

/* INT8 x 1-bit convs (conv_i8_w1_neon.c): input channels mostly whole vectors of
 * 16 (the NEON path), sometimes not (the reference runs); every padding, strides
 * 1..3, linear kernels, rows split in two calls. */
static int random_conv_i8_w1(void)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 3, 5, 7};
    struct bnn_conv_i8_w1_params p;
    struct channels ch;
    struct outputs out;
    int32_t kh = kernels[uniform(0, 6)], kw = uniform(0, 1) ? kh : kernels[uniform(0, 6)];
    int32_t h, w, cin, cout, to_i8, o, oh, ow;
    int8_t *in;
    uint64_t *weight;
    size_t at, taps;

    memset(&p, 0, sizeof p);
    p.win.stride_h = uniform(1, 2), p.win.stride_w = uniform(1, 3);
    p.win.pad_top = uniform(0, kh - 1), p.win.pad_left = uniform(0, kw - 1);
    p.win.pad_bottom = uniform(0, kh - 1), p.win.pad_right = uniform(0, kw - 1);
    h = uniform(kh - p.win.pad_top - p.win.pad_bottom > 1 ? kh - p.win.pad_top - p.win.pad_bottom
                                                          : 1, 9);
    w = uniform(kw - p.win.pad_left - p.win.pad_right > 1 ? kw - p.win.pad_left - p.win.pad_right
                                                          : 1, 10);
    if (uniform(0, 7) == 0) { /* linear: the kernel covers the whole input */
        kh = h, kw = w;
        p.win.stride_h = p.win.stride_w = 1;
        p.win.pad_top = p.win.pad_left = p.win.pad_bottom = p.win.pad_right = 0;
    }
    cin = uniform(0, 4) ? 16 * uniform(1, 6) : uniform(1, 70);
    cout = uniform(1, 40);
    to_i8 = uniform(0, 1);
    oh = out_size(h, kh, p.win.stride_h, p.win.pad_top, p.win.pad_bottom);
    ow = out_size(w, kw, p.win.stride_w, p.win.pad_left, p.win.pad_right);
    p.in.h = h, p.in.w = w, p.in.c = cin;
    p.out.h = oh, p.out.w = ow, p.out.c = cout;
    p.win.kernel_h = kh, p.win.kernel_w = kw;
    p.in_zero = uniform(0, 3) ? uniform(-128, 127) : uniform(-1000, 1000);
    taps = (size_t)cout * kh * kw;
    in = xmalloc((size_t)h * w * cin);
    weight = xmalloc(taps * BNN_WORDS(cin) * sizeof *weight);
    fill_bytes(in, (size_t)h * w * cin);
    fill_bits(weight, taps, cin);
    ch = channels_new(cout);
    for (o = 0; o < cout; ++o) {
        int32_t spread = 64 * kh * kw * cin + 2;

        ch.thr[o] = uniform(0, 9) ? uniform(-spread, spread) : uniform(INT32_MIN, INT32_MAX);
        ch.bias[o] = uniform(0, 9) ? uniform(-100000, 100000) : uniform(INT32_MIN, INT32_MAX);
        random_rq(&ch.mult[o], &ch.shift[o]);
    }
    p.weight = weight, p.bias = ch.bias, p.threshold = ch.thr;
    channels_requant(&ch, &p.rq);
    out = outputs_new(oh, ow, cout, to_i8);
    if (to_i8) {
        conv_i8_w1_i8_fn fn = bnn_conv_i8_w1_to_i8;

        fn(&p, in, out.fast, 0, out.split);
        fn(&p, in, out.fast, out.split, oh);
        bnn_conv_i8_w1_to_i8_ref(&p, in, out.ref, 0, oh);
    } else {
        conv_i8_w1_bits_fn fn = bnn_conv_i8_w1_to_bits;

        fn(&p, in, out.fast, 0, out.split);
        fn(&p, in, out.fast, out.split, oh);
        bnn_conv_i8_w1_to_bits_ref(&p, in, out.ref, 0, oh);
    }
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH %s in=%dx%dx%d cout=%d kernel=%dx%d stride=%dx%d pad=[%d,%d,%d,%d] "
               "in_zero=%d first differing byte %zu\n",
               to_i8 ? "bnn_conv_i8_w1_to_i8" : "bnn_conv_i8_w1_to_bits", h, w, cin, cout, kh,
               kw, p.win.stride_h, p.win.stride_w, p.win.pad_top, p.win.pad_left,
               p.win.pad_bottom, p.win.pad_right, p.in_zero, at);
    free(in), free(weight);
    channels_free(&ch);
    return at == SIZE_MAX;
}

typedef void (*ternary_i8_fn)(const struct bnn_ternary_conv_params *, const int8_t *,
                              int8_t *, int32_t, int32_t);
typedef void (*ternary_bits_fn)(const struct bnn_ternary_conv_params *, const int8_t *,
                                uint64_t *, int32_t, int32_t);
typedef void (*bconv_w2_i8_fn)(const struct bnn_ternary_conv_params *, const uint64_t *,
                               int8_t *, int32_t, int32_t);
typedef void (*bconv_w2_bits_fn)(const struct bnn_ternary_conv_params *, const uint64_t *,
                                 uint64_t *, int32_t, int32_t);

/* Ternary convs, INT8 (conv_i8_w2, conv_i8_w1_neon.c) or binary (bconv_w2,
 * ternary_conv_neon.c, both paddings) activations: square kernels 1..5 with every
 * padding below the kernel, strides 1..3, INT8 input channels whole vectors of 16
 * or not (a tap's last step), binary ones across word boundaries,
 * overlapping planes now and then, signed per-channel scales up to 2^15, rows split
 * in two calls. */
static int random_ternary(void)
{
    struct bnn_ternary_conv_params p;
    struct channels ch;
    struct outputs out;
    const int32_t k = uniform(1, 5), bits_in = uniform(0, 1);
    int32_t h, w, cin, cout, to_i8, o, oh, ow;
    int32_t *scale_pos, *scale_neg;
    void *in;
    uint64_t *pos, *neg;
    size_t at, taps, i, in_bytes;
    const char *name;

    memset(&p, 0, sizeof p);
    p.win.kernel_h = p.win.kernel_w = k;
    p.win.stride_h = uniform(1, 2), p.win.stride_w = uniform(1, 3);
    p.win.pad_top = uniform(0, k - 1), p.win.pad_left = uniform(0, k - 1);
    p.win.pad_bottom = uniform(0, k - 1), p.win.pad_right = uniform(0, k - 1);
    h = uniform(k, 7), w = uniform(k, 10);
    if (bits_in)
        cin = uniform(0, 2) ? 64 * uniform(1, 3) : uniform(1, 200);
    else
        cin = uniform(0, 1) ? 16 * uniform(1, 4) : uniform(1, 70);
    cout = uniform(1, 20);
    to_i8 = uniform(0, 1);
    oh = out_size(h, k, p.win.stride_h, p.win.pad_top, p.win.pad_bottom);
    ow = out_size(w, k, p.win.stride_w, p.win.pad_left, p.win.pad_right);
    p.in.h = h, p.in.w = w, p.in.c = cin;
    p.out.h = oh, p.out.w = ow, p.out.c = cout;
    p.in_zero = bits_in ? 0 : uniform(-128, 127);
    p.pad_one = bits_in ? uniform(0, 1) : 0;
    taps = (size_t)cout * k * k;
    in_bytes = bits_in ? (size_t)h * w * BNN_WORDS(cin) * 8 : (size_t)h * w * cin;
    in = xmalloc(in_bytes);
    pos = xmalloc(taps * BNN_WORDS(cin) * sizeof *pos);
    neg = xmalloc(taps * BNN_WORDS(cin) * sizeof *neg);
    scale_pos = xmalloc((size_t)cout * sizeof *scale_pos);
    scale_neg = xmalloc((size_t)cout * sizeof *scale_neg);
    if (bits_in)
        fill_bits(in, (size_t)h * w, cin);
    else
        fill_bytes(in, in_bytes);
    fill_bits(pos, taps, cin);
    fill_bits(neg, taps, cin);
    if (uniform(0, 3))  /* TTQ's planes are disjoint; the op adds both where not */
        for (i = 0; i < taps * BNN_WORDS(cin); ++i)
            neg[i] &= ~pos[i];
    ch = channels_new(cout);
    for (o = 0; o < cout; ++o) {
        const int32_t spread = 64 * k * k * cin * 512 + 2;

        scale_pos[o] = uniform(-32768, 32768), scale_neg[o] = uniform(-32768, 32768);
        ch.thr[o] = uniform(0, 9) ? uniform(-spread, spread) : uniform(INT32_MIN, INT32_MAX);
        ch.bias[o] = uniform(0, 9) ? uniform(-100000, 100000) : uniform(INT32_MIN, INT32_MAX);
        random_rq(&ch.mult[o], &ch.shift[o]);
    }
    p.weight_pos = pos, p.weight_neg = neg, p.scale_pos = scale_pos, p.scale_neg = scale_neg;
    p.bias = ch.bias, p.threshold = ch.thr;
    channels_requant(&ch, &p.rq);
    out = outputs_new(oh, ow, cout, to_i8);
    if (bits_in && to_i8) {
        bconv_w2_i8_fn fn = bnn_bconv_w2_to_i8;

        name = "bnn_bconv_w2_to_i8";
        fn(&p, in, out.fast, 0, out.split);
        fn(&p, in, out.fast, out.split, oh);
        bnn_bconv_w2_to_i8_ref(&p, in, out.ref, 0, oh);
    } else if (bits_in) {
        bconv_w2_bits_fn fn = bnn_bconv_w2_to_bits;

        name = "bnn_bconv_w2_to_bits";
        fn(&p, in, out.fast, 0, out.split);
        fn(&p, in, out.fast, out.split, oh);
        bnn_bconv_w2_to_bits_ref(&p, in, out.ref, 0, oh);
    } else if (to_i8) {
        ternary_i8_fn fn = bnn_conv_i8_w2_to_i8;

        name = "bnn_conv_i8_w2_to_i8";
        fn(&p, in, out.fast, 0, out.split);
        fn(&p, in, out.fast, out.split, oh);
        bnn_conv_i8_w2_to_i8_ref(&p, in, out.ref, 0, oh);
    } else {
        ternary_bits_fn fn = bnn_conv_i8_w2_to_bits;

        name = "bnn_conv_i8_w2_to_bits";
        fn(&p, in, out.fast, 0, out.split);
        fn(&p, in, out.fast, out.split, oh);
        bnn_conv_i8_w2_to_bits_ref(&p, in, out.ref, 0, oh);
    }
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH %s in=%dx%dx%d cout=%d kernel=%dx%d stride=%dx%d pad=[%d,%d,%d,%d] "
               "in_zero=%d pad_one=%d first differing byte %zu\n", name, h, w, cin, cout, k, k,
               p.win.stride_h, p.win.stride_w, p.win.pad_top, p.win.pad_left, p.win.pad_bottom,
               p.win.pad_right, p.in_zero, p.pad_one, at);
    free(in), free(pos), free(neg), free(scale_pos), free(scale_neg);
    channels_free(&ch);
    return at == SIZE_MAX;
}

/* XNOR-Net's input scaling (bconv_k_neon.c): K's window sums over runs of bytes
 * (channels not a multiple of 16 too), binary dot products over runs of words
 * (channel counts across word boundaries), every padding, strides 1..2, grouped
 * and dilated convs (the reference's dot product), random product shifts. */
static int random_bconv_k(void)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 5};
    struct bnn_bconv_k_params p;
    struct bnn_bconv_general general;
    struct channels ch;
    struct outputs out;
    int32_t kh = kernels[uniform(0, 4)], kw = uniform(0, 1) ? kh : kernels[uniform(0, 4)];
    int32_t h, w, cin, cout, o, oh, ow, dh = 1, dw = 1, groups = 1, to_i8 = uniform(0, 1);
    int8_t *x;
    uint64_t *bits, *weight;
    size_t at, taps;

    memset(&p, 0, sizeof p);
    p.conv.win.stride_h = uniform(1, 2), p.conv.win.stride_w = uniform(1, 2);
    p.conv.win.pad_top = uniform(0, kh - 1), p.conv.win.pad_left = uniform(0, kw - 1);
    p.conv.win.pad_bottom = uniform(0, kh - 1), p.conv.win.pad_right = uniform(0, kw - 1);
    cin = uniform(0, 2) ? 16 * uniform(1, 9) : uniform(1, 150);
    if (uniform(0, 3) == 0) { /* grouped and/or dilated */
        groups = cin % 2 ? 1 : 2;
        dh = uniform(1, 2), dw = uniform(1, 2);
    }
    h = uniform(dh * (kh - 1) + 1, 9), w = uniform(dw * (kw - 1) + 1, 10);
    cout = groups * uniform(1, 12);
    oh = out_size(h, dh * (kh - 1) + 1, p.conv.win.stride_h, p.conv.win.pad_top,
                  p.conv.win.pad_bottom);
    ow = out_size(w, dw * (kw - 1) + 1, p.conv.win.stride_w, p.conv.win.pad_left,
                  p.conv.win.pad_right);
    p.conv.in.h = h, p.conv.in.w = w, p.conv.in.c = cin;
    p.conv.out.h = oh, p.conv.out.w = ow, p.conv.out.c = cout;
    p.conv.win.kernel_h = kh, p.conv.win.kernel_w = kw;
    p.conv.pad_one = uniform(0, 1);
    general.groups = groups, general.dilation_h = dh, general.dilation_w = dw;
    if (groups != 1 || dh != 1 || dw != 1)
        p.conv.general = &general;
    p.x_zero = uniform(-128, 127);
    p.k_shift = uniform(-4, 12);
    taps = (size_t)cout * kh * kw;
    x = xmalloc((size_t)h * w * cin);
    bits = xmalloc((size_t)h * w * BNN_WORDS(cin) * sizeof *bits);
    weight = xmalloc(taps * BNN_WORDS(cin / groups) * sizeof *weight);
    fill_bytes(x, (size_t)h * w * cin);
    fill_bits(bits, (size_t)h * w, cin);
    fill_bits(weight, taps, cin / groups);
    ch = channels_new(cout);
    for (o = 0; o < cout; ++o) {
        ch.thr[o] = uniform(0, 9) ? uniform(-1000000, 1000000) : uniform(INT32_MIN, INT32_MAX);
        ch.bias[o] = uniform(0, 9) ? uniform(-1000000, 1000000) : uniform(INT32_MIN, INT32_MAX);
        random_rq(&ch.mult[o], &ch.shift[o]);
    }
    p.conv.weight = weight, p.conv.bias = ch.bias, p.conv.threshold = ch.thr;
    channels_requant(&ch, &p.conv.rq);
    out = outputs_new(oh, ow, cout, to_i8);
    if (to_i8) {
        bnn_bconv_k_to_i8(&p, bits, x, out.fast, 0, out.split);
        bnn_bconv_k_to_i8(&p, bits, x, out.fast, out.split, oh);
        bnn_bconv_k_to_i8_ref(&p, bits, x, out.ref, 0, oh);
    } else {
        bnn_bconv_k_to_bits(&p, bits, x, out.fast, 0, out.split);
        bnn_bconv_k_to_bits(&p, bits, x, out.fast, out.split, oh);
        bnn_bconv_k_to_bits_ref(&p, bits, x, out.ref, 0, oh);
    }
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_bconv_k_to_%s in=%dx%dx%d cout=%d kernel=%dx%d stride=%dx%d "
               "pad=[%d,%d,%d,%d] pad_one=%d groups=%d dilation=%dx%d x_zero=%d k_shift=%d "
               "first differing byte %zu\n", to_i8 ? "i8" : "bits", h, w, cin, cout, kh, kw, p.conv.win.stride_h,
               p.conv.win.stride_w, p.conv.win.pad_top, p.conv.win.pad_left,
               p.conv.win.pad_bottom, p.conv.win.pad_right, p.conv.pad_one, groups, dh, dw,
               p.x_zero, p.k_shift, at);
    free(x), free(bits), free(weight);
    channels_free(&ch);
    return at == SIZE_MAX;
}

/* A zero point: inside int8, sometimes outside (the NEON paths then defer to
 * the reference, which the C API allows). */
static int32_t random_zero(void)
{
    return uniform(0, 19) ? uniform(-128, 127) : uniform(0, 1) ? 200 : -300;
}

static void random_lo_hi(int32_t *lo, int32_t *hi)
{
    int32_t a = uniform(-128, 127), b = uniform(-128, 127);

    *lo = -128, *hi = 127;
    if (uniform(0, 1))
        *lo = a < b ? a : b, *hi = a < b ? b : a;
}

/* Element counts and channel counts of the element-wise checks: short and long,
 * most not a multiple of 16 or 64. */
static int32_t random_count(void)
{
    return uniform(0, 2) ? uniform(1, 80) : uniform(81, 700);
}

static int check_add_i8(void)
{
    struct bnn_add_i8_params p;
    const int32_t n = random_count() * uniform(1, 4);
    int8_t *a = xmalloc((size_t)n), *b = xmalloc((size_t)n);
    struct outputs out = outputs_new(1, 1, n, 1);
    size_t at;

    fill_bytes(a, (size_t)n), fill_bytes(b, (size_t)n);
    p.size = n;
    p.a_zero = random_zero(), p.b_zero = random_zero(), p.out_zero = uniform(-128, 127);
    random_rq(&p.a_multiplier, &p.a_shift);
    random_rq(&p.b_multiplier, &p.b_shift);
    random_rq(&p.out_multiplier, &p.out_shift);
    if (uniform(0, 2) == 0) { /* TFLite-like: inputs scaled down by about 2^20, output up */
        p.a_shift = uniform(-25, -15), p.b_shift = uniform(-25, -15),
        p.out_shift = uniform(-2, 12);
    } else if (uniform(0, 1)) { /* as exported: one input not rescaled, output down */
        if (uniform(0, 1))
            p.a_multiplier = 1 << 30, p.a_shift = 0, p.b_shift = uniform(-8, 0);
        else
            p.b_multiplier = 1 << 30, p.b_shift = 0, p.a_shift = uniform(-8, 0);
        p.out_shift = uniform(-22, -15);
    }
    random_lo_hi(&p.lo, &p.hi);
    bnn_add_i8(&p, a, b, out.fast);
    bnn_add_i8_ref(&p, a, b, out.ref);
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_add_i8 size=%d zeros=%d,%d,%d shifts=%d,%d,%d at %zu\n", n,
               p.a_zero, p.b_zero, p.out_zero, p.a_shift, p.b_shift, p.out_shift, at);
    free(a), free(b);
    return at == SIZE_MAX;
}

static int check_channelwise_i8(void)
{
    struct bnn_channelwise_i8_params p;
    const int32_t h = uniform(1, 5), w = uniform(1, 7), c = random_count();
    const size_t n = (size_t)h * w * c;
    int32_t *bias = xmalloc((size_t)c * 4), *mp = xmalloc((size_t)c * 4);
    int32_t *sp = xmalloc((size_t)c * 4), *mn = xmalloc((size_t)c * 4);
    int32_t *sn = xmalloc((size_t)c * 4);
    int8_t *in = xmalloc(n);
    struct outputs out = outputs_new(h, w, c, 1);
    size_t at;
    int32_t k;

    fill_bytes(in, n);
    for (k = 0; k < c; ++k) {
        bias[k] = uniform(0, 19) ? uniform(-(1 << 20), 1 << 20)
                                 : uniform(0, 1) ? INT32_MAX : INT32_MIN; /* saturation */
        random_rq(&mp[k], &sp[k]);
        random_rq(&mn[k], &sn[k]);
    }
    p.shape.h = h, p.shape.w = w, p.shape.c = c;
    p.in_zero = random_zero(), p.out_zero = uniform(-128, 127);
    p.acc_shift = uniform(0, 9) ? uniform(0, 23) : uniform(24, 32);
    p.bias = bias, p.multiplier_pos = mp, p.shift_pos = sp, p.multiplier_neg = mn,
    p.shift_neg = sn;
    random_lo_hi(&p.lo, &p.hi);
    bnn_channelwise_i8(&p, in, out.fast);
    bnn_channelwise_i8_ref(&p, in, out.ref);
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_channelwise_i8 %dx%dx%d in_zero=%d acc_shift=%d at %zu\n", h, w,
               c, p.in_zero, p.acc_shift, at);
    free(bias), free(mp), free(sp), free(mn), free(sn), free(in);
    return at == SIZE_MAX;
}

static int check_lut(void)
{
    struct bnn_lut_params p;
    /* up to 144 pixels: lut_fast.c works in blocks of 64 */
    const int32_t h = uniform(1, 12), w = uniform(1, 12), c = random_count();
    const size_t n = (size_t)h * w * c;
    int8_t *table = xmalloc((size_t)c * 256);
    uint8_t *in = xmalloc(n);
    struct outputs out = outputs_new(h, w, c, 1);
    size_t at;

    fill_bytes(in, n);
    fill_bytes(table, (size_t)c * 256);
    p.shape.h = h, p.shape.w = w, p.shape.c = c;
    p.table = table;
    bnn_lut_u8(&p, in, out.fast);
    bnn_lut_u8_ref(&p, in, out.ref);
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_lut_u8 %dx%dx%d at %zu\n", h, w, c, at);
    free(table), free(in);
    return at == SIZE_MAX;
}

static int check_threshold(void)
{
    struct bnn_threshold_params p;
    /* a quarter in whole vectors of 16 (no partial vector in the last word) */
    const int32_t h = uniform(1, 6), w = uniform(1, 7),
                  c = uniform(0, 3) ? random_count() : 16 * uniform(1, 20);
    const int32_t sliced = uniform(0, 1);
    const int32_t pitch = c + sliced * uniform(1, 70); /* sometimes a slice of a wider buffer */
    int32_t *thr = xmalloc((size_t)c * 4);
    uint8_t *flip = xmalloc((size_t)c);
    int8_t *in = xmalloc((size_t)h * w * pitch);
    struct outputs out = outputs_new(h, w, c, 0);
    size_t at;
    int32_t k;

    fill_bytes(in, (size_t)h * w * pitch);
    for (k = 0; k < c; ++k) {
        thr[k] = uniform(-140, 140); /* some outside int8 */
        flip[k] = (uint8_t)uniform(0, 1);
    }
    p.shape.h = h, p.shape.w = w, p.shape.c = c, p.in_pitch = pitch;
    p.threshold = thr, p.flip = flip;
    bnn_threshold_i8(&p, in, out.fast, 0, out.split);
    bnn_threshold_i8(&p, in, out.fast, out.split, h);
    bnn_threshold_i8_ref(&p, in, out.ref, 0, h);
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_threshold_i8 %dx%dx%d (pitch %d) at %zu\n", h, w, c, pitch, at);
    free(thr), free(flip), free(in);
    return at == SIZE_MAX;
}

/* One part of an int8 concat written into its channel range of a wider output;
 * sometimes an exact copy (rescale 1, equal zero points). */
static int check_concat_i8(void)
{
    struct bnn_concat_part_params p;
    const int32_t h = uniform(1, 5), w = uniform(1, 7), c = random_count();
    int8_t *in = xmalloc((size_t)h * w * c);
    struct outputs out;
    size_t at;

    fill_bytes(in, (size_t)h * w * c);
    p.in.h = h, p.in.w = w, p.in.c = c;
    p.c_offset = uniform(0, 40);
    p.out_c = p.c_offset + c + uniform(0, 40);
    p.in_zero = random_zero(), p.out_zero = uniform(-128, 127);
    random_rq(&p.multiplier, &p.shift);
    if (uniform(0, 3) == 0)
        p.multiplier = 1 << 30, p.shift = 1, p.out_zero = p.in_zero = uniform(-128, 127);
    out = outputs_new(h, w, p.out_c, 1);
    bnn_concat_i8_part(&p, in, out.fast);
    bnn_concat_i8_part_ref(&p, in, out.ref);
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_concat_i8_part %dx%dx%d -> %d at %d, rescale %d,%d zeros %d,%d "
               "at %zu\n", h, w, c, p.out_c, p.c_offset, p.multiplier, p.shift, p.in_zero,
               p.out_zero, at);
    free(in);
    return at == SIZE_MAX;
}

/* A pool's window up to 4x4 on a c-channel input up to 9x9, strides 1..3,
 * padding up to the kernel (windows wholly in the padding too), and its output. */
static void random_pool_window(int32_t c, struct bnn_window *win, struct bnn_shape *in,
                               struct bnn_shape *out)
{
    const int32_t kh = uniform(1, 4), kw = uniform(1, 4);

    memset(win, 0, sizeof *win);
    win->kernel_h = kh, win->kernel_w = kw;
    win->stride_h = uniform(1, 3), win->stride_w = uniform(1, 3);
    win->pad_top = uniform(0, kh), win->pad_bottom = uniform(0, kh);
    win->pad_left = uniform(0, kw), win->pad_right = uniform(0, kw);
    in->h = uniform(1, 9), in->w = uniform(1, 9), in->c = c;
    if (in->h + win->pad_top + win->pad_bottom < kh)
        win->pad_bottom = kh;
    if (in->w + win->pad_left + win->pad_right < kw)
        win->pad_right = kw;
    out->h = out_size(in->h, kh, win->stride_h, win->pad_top, win->pad_bottom);
    out->w = out_size(in->w, kw, win->stride_w, win->pad_left, win->pad_right);
    out->c = c;
}

/* int8 max or average pool: random_pool_window's (or a global 7x7 / 15x15 average). */
static int check_pool_i8(int avg)
{
    struct bnn_pool_i8_params p;
    const int32_t c = uniform(0, 1) ? 16 * uniform(1, 12) : random_count();
    /* now and then a channel slice of wider pixels (a concat's), whose other
     * bytes must stay as they were */
    const int32_t pitch = uniform(0, 2) ? 0 : c + uniform(0, 20);
    const int32_t offset = pitch ? uniform(0, pitch - c) : 0;
    int8_t *in, *fast, *ref;
    struct outputs out;
    size_t at;

    memset(&p, 0, sizeof p);
    random_pool_window(c, &p.win, &p.in, &p.out);
    if (avg && uniform(0, 4) == 0) { /* global average pool */
        memset(&p.win, 0, sizeof p.win);
        p.in.h = p.in.w = p.win.kernel_h = p.win.kernel_w = uniform(0, 1) ? 7 : 15;
        p.win.stride_h = p.win.stride_w = 1;
        p.out.h = p.out.w = 1;
    }
    p.zero_point = uniform(0, 9) ? uniform(-128, 127) : 300;
    p.count_include_pad = uniform(0, 1);
    p.out_pitch = pitch;
    in = xmalloc((size_t)p.in.h * p.in.w * c);
    fill_bytes(in, (size_t)p.in.h * p.in.w * c);
    out = outputs_new(p.out.h, p.out.w, pitch ? pitch : c, 1);
    fast = (int8_t *)out.fast + offset, ref = (int8_t *)out.ref + offset;
    if (avg) {
        bnn_avgpool_i8(&p, in, fast, 0, out.split);
        bnn_avgpool_i8(&p, in, fast, out.split, p.out.h);
        bnn_avgpool_i8_ref(&p, in, ref, 0, p.out.h);
    } else {
        bnn_maxpool_i8(&p, in, fast, 0, out.split);
        bnn_maxpool_i8(&p, in, fast, out.split, p.out.h);
        bnn_maxpool_i8_ref(&p, in, ref, 0, p.out.h);
    }
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH %s %dx%dx%d k=%dx%d zero=%d include_pad=%d pitch=%d offset=%d at %zu\n",
               avg ? "bnn_avgpool_i8" : "bnn_maxpool_i8", p.in.h, p.in.w, c,
               p.win.kernel_h, p.win.kernel_w, p.zero_point, p.count_include_pad, pitch,
               offset, at);
    free(in);
    return at == SIZE_MAX;
}

/* Bit max-pool: random_pool_window's, channels of whole vectors of words or
 * not, or_mask random, all-zero (a plain max-pool) or all-one. */
static int check_bmaxpool(void)
{
    struct bnn_bmaxpool_params p;
    const int32_t c = uniform(0, 1) ? 128 * uniform(1, 4) : random_count();
    const int32_t cw = BNN_WORDS(c), masks = uniform(0, 2);
    uint64_t *in, *or_mask = xmalloc((size_t)cw * sizeof *or_mask);
    struct outputs out;
    size_t at;

    random_pool_window(c, &p.win, &p.in, &p.out);
    fill_bits(or_mask, 1, c);
    if (masks)
        memset(or_mask, masks == 1 ? 0 : 0xff, (size_t)cw * sizeof *or_mask);
    p.or_mask = or_mask;
    in = xmalloc((size_t)p.in.h * p.in.w * cw * sizeof *in);
    fill_bits(in, (size_t)p.in.h * p.in.w, c);
    out = outputs_new(p.out.h, p.out.w, c, 0);
    bnn_bmaxpool(&p, in, out.fast, 0, out.split);
    bnn_bmaxpool(&p, in, out.fast, out.split, p.out.h);
    bnn_bmaxpool_ref(&p, in, out.ref, 0, p.out.h);
    at = outputs_compare(&out);
    if (at != SIZE_MAX)
        printf("MISMATCH bnn_bmaxpool %dx%dx%d k=%dx%d stride %d,%d at %zu\n", p.in.h, p.in.w,
               c, p.win.kernel_h, p.win.kernel_w, p.win.stride_h, p.win.stride_w, at);
    free(in), free(or_mask);
    return at == SIZE_MAX;
}

/* Stems and few-channel 1x1 convs of the zoo and cifar_bnn, shrunk in height:
 * {h, w, cin, cout, kernel, stride, padding}; MeliusNet's grouped ones. */
static int stem_shapes(void)
{
    static const int32_t shapes[][7] = {
        {6, 32, 3, 64, 3, 1, 1},  /* cifar_bnn */
        {9, 30, 3, 8, 3, 2, 1},   /* QuickNet's 3 -> 8 stride-2 stem */
        {13, 28, 3, 64, 7, 2, 3}, /* ResNet-style 7x7 stride-2 stem */
        {5, 11, 8, 32, 1, 1, 0},  /* a 1x1 conv on 8 channels */
        {7, 15, 6, 40, 3, 2, 1},  /* 54 taps: the dot tile's half step (aarch64) */
        {8, 13, 1, 33, 7, 1, 3},  /* 49 taps, stride 1, channels not whole chunks */
    };
    /* MeliusNet's grouped stem convs: {h, w, cin, cout, groups} */
    static const int32_t grouped[][5] = {{5, 13, 32, 32, 4}, {6, 9, 32, 64, 8}};
    int ok = 1, i, mode;

    for (i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); ++i) {
        for (mode = 0; mode < 8; ++mode) {
            struct conv_case c;

            c.h = shapes[i][0], c.w = shapes[i][1], c.cin = shapes[i][2];
            c.cout = shapes[i][3], c.groups = 1;
            c.kh = c.kw = shapes[i][4], c.sh = c.sw = shapes[i][5];
            c.pt = c.pl = c.pb = c.pr = shapes[i][6];
            c.to_i8 = mode & 1, c.weights = mode >> 1;
            ok &= check_conv_i8(&c);
        }
    }
    for (i = 0; i < (int)(sizeof grouped / sizeof grouped[0]); ++i) {
        for (mode = 0; mode < 4; ++mode) {
            struct conv_case c;

            c.h = grouped[i][0], c.w = grouped[i][1], c.cin = grouped[i][2];
            c.cout = grouped[i][3], c.groups = grouped[i][4];
            c.kh = c.kw = 3, c.sh = c.sw = 1, c.pt = c.pl = c.pb = c.pr = 1;
            c.to_i8 = mode & 1, c.weights = mode >> 1;
            ok &= check_conv_i8(&c);
        }
    }
    return ok;
}

/* The five binary layers of cifar_bnn (peers.md), shrunk in height, and 3x3
 * windows of 512 and 500 channels (QuickNet's; armv7 runs them straight):
 * bits out under zero and one padding, and int8 out under one padding, also
 * without requantization edge values (as exported models have them), and so
 * into channels 16.. of 40 more (a concat's slice). */
static int cifar_shapes(void)
{
    static const int32_t shapes[7][3] = {
        {32, 64, 64}, {32, 64, 128}, {16, 128, 128}, {16, 128, 256}, {16, 256, 256},
        {7, 512, 20}, {6, 500, 9}};
    int ok = 1, i, mode;

    for (i = 0; i < 7; ++i) {
        for (mode = 0; mode < 5; ++mode) {
            struct bconv_case c;

            c.h = 5, c.w = shapes[i][0], c.cin = shapes[i][1], c.cout = shapes[i][2];
            c.kh = c.kw = 3, c.sh = c.sw = 1, c.pt = c.pl = c.pb = c.pr = 1;
            c.pad_one = mode != 1, c.to_i8 = mode < 2 ? 0 : mode < 4 ? mode - 1 : 2;
            c.pitch = mode == 4 ? c.cout + 40 : 0, c.offset = mode == 4 ? 16 : 0;
            c.groups = c.dh = c.dw = 1;
            ok &= check_bconv(&c);
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    int cases = argc > 1 ? atoi(argv[1]) : 300;
    int i, failures = 0;

    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 12345;
    failures += !check_requant();
    failures += !cifar_shapes();
    failures += !stem_shapes();
    for (i = 0; i < cases && failures < 5; ++i) {
        failures += !random_bconv();
        failures += !random_conv_i8();
        failures += !random_conv_i8_w1();
        failures += !random_ternary();
        failures += !check_add_i8();
        failures += !check_channelwise_i8();
        failures += !check_lut();
        failures += !check_threshold();
        failures += !check_concat_i8();
        failures += !check_pool_i8(0);
        failures += !check_pool_i8(1);
        failures += !check_bmaxpool();
        failures += !random_bconv_k();
    }
    if (failures) {
        printf("FAILED %d\n", failures);
        return 1;
    }
    printf("ok %d\n", 12 * cases + 17);
    return 0;
}
