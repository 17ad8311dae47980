"""C runtime vs the golden model, byte for byte, on the host (cffi ABI mode).

Every kernel is called twice, through its dispatching name (the fast path of
this build: the x86 popcount path on x86) and through its ``_ref`` name, on
hypothesis-drawn shapes and parameters, and both results are compared with
the golden function of golden/int_ops.py. The dispatching call computes the
output rows in two pieces, so row splitting is tested at the same time.
Output buffers start as random bytes: a kernel that skips an element fails.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import cffi
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnkit import cruntime
from bnnkit.golden import int_ops
from bnnkit.golden.quant import multiply_by_quantized_multiplier, quantize_multiplier
from bnnkit.golden.windows import out_size
from bnnkit.ir.bits import pack, words
from bnnkit.ir.graph import Node, Quant, Tensor

from .tooling import need

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
EXAMPLES = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------- build


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


X86 = platform.machine() in ("x86_64", "AMD64")
FLAGS = _cpu_flags()
EMULATION = Path(__file__).resolve().parent / "c" / "avx512_popcnt_emulation.h"
# Host builds whose fast paths differ, each one this CPU can run: on x86 the
# popcount build (plain C fast paths), the AVX2 build (bconv_x86.c's AVX2
# counting and the AVX2 conv_i8 stem path) and, on a CPU with AVX-512
# VPOPCNTDQ, the host preset's -march=native, which counts with it.
BUILD_FLAGS = {"popcnt": ["-mpopcnt"], "avx2": ["-mavx2", "-mpopcnt"],
               "avx512": ["-march=native"], "default": []}
if not X86:
    BUILDS = ["default"]
else:
    BUILDS = ["popcnt"] + ["avx2"] * ("avx2" in FLAGS) \
        + ["avx512"] * ({"avx512f", "avx512_vpopcntdq"} <= FLAGS)
# bconv_x86.c's AVX-512 path on any AVX2 CPU: its seven AVX-512 intrinsics
# replaced by plain C (tests/c/avx512_popcnt_emulation.h), everything else
# the real kernel. Only the binary conv differs in that build.
if "avx2" in BUILDS:
    BUILD_FLAGS["avx512-emulated"] = ["-mavx2", "-mpopcnt", "-Wno-psabi", "-include",
                                      str(EMULATION)]
BCONV_BUILDS = BUILDS + ["avx512-emulated"] * ("avx512-emulated" in BUILD_FLAGS)
_built: dict[str, tuple] = {}


def _runtime(build: str, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(ffi, lib) of the runtime built as a host shared library."""
    if build in _built:
        return _built[build]
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (apt-get install gcc)")
    so = tmp_path_factory.mktemp("cruntime") / f"libbnnrt_{build}.so"
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-shared", "-fPIC"]
    subprocess.run([cc, *flags, *BUILD_FLAGS[build], "-o", str(so),
                    *map(str, cruntime.sources())], check=True)
    ffi = cffi.FFI()
    ffi.cdef(cruntime.cdef())
    _built[build] = ffi, ffi.dlopen(str(so))
    return _built[build]


@pytest.fixture(scope="session", params=BUILDS)
def rt(request, tmp_path_factory):
    return _runtime(request.param, tmp_path_factory)


@pytest.fixture(scope="session", params=BCONV_BUILDS)
def rt_bconv(request, tmp_path_factory):
    return _runtime(request.param, tmp_path_factory)


def test_avx512_emulated_build_takes_the_avx512_path(tmp_path) -> None:
    """The emulated build compiles bconv_x86.c's AVX-512 counting, not AVX2's
    (which would make its bconv test a second AVX2 test)."""
    if "avx512-emulated" not in BUILD_FLAGS:
        assert not X86 or "avx2" not in FLAGS
        return
    source = Path(cruntime.__file__).resolve().parent / "bconv_x86.c"
    asm = tmp_path / "bconv_x86.s"
    subprocess.run(["gcc", "-std=c99", "-O2", "-S", *BUILD_FLAGS["avx512-emulated"], "-o",
                    str(asm), str(source)], check=True)
    text = asm.read_text()
    assert "bnn_bconv_to_bits_x86" in text and "vpshufb" not in text and "vpsadbw" not in text


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_avx512_path_builds_warning_free(compiler: str, tmp_path) -> None:
    """The AVX-512 VPOPCNTDQ path compiles -Werror clean on both compilers and
    uses the instruction (run on a CPU that has it: the avx512 build above)."""
    if not X86:
        return
    cc = need(compiler, compiler)
    source = Path(cruntime.__file__).resolve().parent / "bconv_x86.c"
    obj = tmp_path / "bconv_x86.o"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-mavx512f", "-mavx512vpopcntdq", "-mavx2", "-mpopcnt", "-c", "-o", str(obj),
                    str(source)], check=True)
    asm = subprocess.run(["objdump", "-d", str(obj)], capture_output=True, text=True,
                         check=True).stdout
    assert "vpopcntq" in asm and "vpshufb" not in asm


class Args:
    """Keeps numpy arrays alive while C holds pointers into them."""

    def __init__(self, ffi):
        self.ffi = ffi
        self.keep: list[np.ndarray] = []

    def ptr(self, ctype: str, arr: np.ndarray):
        arr = np.ascontiguousarray(arr)
        self.keep.append(arr)
        return self.ffi.cast(ctype + " *", self.ffi.from_buffer(arr))


def garbage(rng, shape, dtype) -> np.ndarray:
    """An output buffer of random bytes, so unwritten elements show."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return rng.integers(0, 256, n, dtype=np.uint8).view(dtype).reshape(shape)


def run_both(rt, name, params, inputs, out_shape, out_dtype, rng, rows=None, start=None,
             offset=0):
    """Run ``name`` (rows split in two when ``rows`` is the row count) and
    ``name_ref`` (all rows at once); return both outputs. Both start as ``start``
    (default: garbage) and are passed ``offset`` elements in."""
    ffi, lib = rt
    ctype = {np.dtype(np.int8): "int8_t", np.dtype(np.uint64): "uint64_t"}[np.dtype(out_dtype)]
    start = garbage(rng, out_shape, out_dtype) if start is None else start
    results = []
    for fn in (getattr(lib, name), getattr(lib, name + "_ref")):
        out = start.copy()
        ptr = ffi.cast(ctype + " *", ffi.from_buffer(out)) + offset
        if rows is None:
            fn(params, *inputs, ptr)
        elif fn is getattr(lib, name):
            split = int(rng.integers(0, rows + 1))
            fn(params, *inputs, ptr, 0, split)
            fn(params, *inputs, ptr, split, rows)
        else:
            fn(params, *inputs, ptr, 0, rows)
        results.append(out)
    return results


def assert_same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if not np.array_equal(got, want):
        bad = np.argwhere(got != want)
        i = tuple(bad[0])
        raise AssertionError(f"{what}: {len(bad)} elements differ, first at {i}: "
                             f"C {got[i]} golden {want[i]}")


def check(results, golden, what):
    for label, out in zip(("dispatch", "ref"), results, strict=True):
        assert_same(out, golden, f"{what} [{label}]")


def tensor(name, shape, dtype, zero=0):
    return Tensor(name, tuple(shape), dtype, Quant(0.1, int(zero)) if dtype != "bits" else None)


# --------------------------------------------------------------------------- strategies


@st.composite
def windows(draw, max_hw=11, kernels=(1, 2, 3, 5), allow_whole=True, pad_below_kernel=False):
    """(H, W, kernel, stride, padding [t, l, b, r]) with an output of >= 1 pixel."""
    if allow_whole and draw(st.integers(0, 5)) == 0:  # kernel covers the whole input
        h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
        return h, w, (h, w), (1, 1), (0, 0, 0, 0)
    kh = draw(st.sampled_from(kernels))
    kw = draw(st.sampled_from(kernels)) if draw(st.booleans()) else kh
    # Padding up to kernel + 1: windows that lie wholly in the padding.
    top_max = kh - 1 if pad_below_kernel else kh + 1
    left_max = kw - 1 if pad_below_kernel else kw + 1
    pad = (draw(st.integers(0, top_max)), draw(st.integers(0, left_max)),
           draw(st.integers(0, top_max)), draw(st.integers(0, left_max)))
    h = draw(st.integers(max(1, kh - pad[0] - pad[2]), max_hw))
    w = draw(st.integers(max(1, kw - pad[1] - pad[3]), max_hw))
    stride = (draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2, 3))))
    return h, w, (kh, kw), stride, pad


channels = st.one_of(st.integers(1, 300), st.sampled_from((1, 63, 64, 65, 128, 129, 192, 256)))
seeds = st.integers(0, 2**32 - 1)


def out_hw(h, w, kernel, stride, pad):
    return (out_size(h, kernel[0], stride[0], pad[0], pad[2]),
            out_size(w, kernel[1], stride[1], pad[1], pad[3]))


def random_multipliers(rng, n):
    """Per-channel (multiplier, shift): mostly realistic, some edge cases."""
    real = np.exp(rng.uniform(np.log(1e-6), np.log(4.0), n))
    pairs = [quantize_multiplier(float(r)) for r in real]
    mult = np.array([m for m, _ in pairs], dtype=np.int32)
    shift = np.array([s for _, s in pairs], dtype=np.int32)
    edge = rng.random(n) < 0.15
    mult[edge] = rng.choice([0, 1 << 30, INT32_MAX, INT32_MIN], edge.sum())
    shift[edge] = rng.choice([0, -31, -1, 1, 5], edge.sum())
    return mult, shift


def random_clamp(rng):
    if rng.random() < 0.5:
        return -128, 127
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
    return lo, hi


def window(ffi, win, kernel, stride, pad):
    win.kernel_h, win.kernel_w = kernel
    win.stride_h, win.stride_w = stride
    win.pad_top, win.pad_left, win.pad_bottom, win.pad_right = pad


def shape(s, h, w, c):
    s.h, s.w, s.c = h, w, c


# --------------------------------------------------------------------------- bconv


@EXAMPLES
@given(win=windows(), cin=channels, cout=st.integers(1, 140), pad_one=st.booleans(),
       to_bits=st.booleans(), wider=st.sampled_from((0, 0, 1, 7, 40)), seed=seeds)
def test_bconv(rt_bconv, win, cin, cout, pad_one, to_bits, wider, seed):
    check_bconv(rt_bconv, np.random.default_rng(seed), win, cin, cout, pad_one, to_bits,
                wider=wider)


def check_bconv(rt, rng, win, cin, cout, pad_one, to_bits, groups=1,
                dilation=(1, 1), wider=0) -> None:  # noqa: ANN001
    """Run bnn_bconv_to_bits or bnn_bconv_to_i8 (random output stage) and its reference
    on random bits and compare both with the golden model. An int8 output ``wider``
    > 0 is a channel slice of pixels ``cout + wider`` bytes apart (out_pitch), at a
    random first channel; the pixels' other bytes must stay as they were."""
    ffi, _ = rt
    h, w, kernel, stride, pad = win
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    oh, ow = out_hw(h, w, span, stride, pad)
    x_bits = rng.integers(0, 2, (1, h, w, cin), dtype=np.uint8)
    w_bits = rng.integers(0, 2, (cout, *kernel, cin // groups), dtype=np.uint8)
    weight = pack(w_bits)
    taps = kernel[0] * kernel[1] * cin // groups
    a = Args(ffi)
    p = ffi.new("struct bnn_bconv_params *")
    shape(getattr(p, "in"), h, w, cin)
    shape(p.out, oh, ow, cout)
    window(ffi, p.win, kernel, stride, pad)
    p.pad_one = int(pad_one)
    p.weight = a.ptr("uint64_t", weight)
    attrs = {"stride": list(stride), "padding": list(pad), "pad_mode": "one" if pad_one else "zero"}
    if groups != 1 or dilation != (1, 1):
        general = ffi.new("struct bnn_bconv_general *", (groups, *dilation))
        a.keep.append(general)
        p.general = general
        attrs.update(groups=groups, dilation=list(dilation))
    arrays = {"weight": weight}
    if to_bits:
        thr = np.round(rng.normal(0, np.sqrt(taps) + 1, cout)).astype(np.int32)
        wild = rng.random(cout) < 0.2  # some outside the reachable range
        thr[wild] = rng.choice([-taps - 1, taps + 1, INT32_MIN, INT32_MAX, 0], wild.sum())
        p.threshold = a.ptr("int32_t", thr)
        arrays["threshold"] = thr
        out_t = tensor("y", (1, oh, ow, cout), "bits")
        golden = pack(int_ops.bconv(Node("n", "bconv", ("x",), ("y",), attrs, arrays),
                                    [x_bits], [tensor("x", x_bits.shape, "bits")], out_t))[0]
        name, out_shape, dtype = "bnn_bconv_to_bits", (oh, ow, words(cout)), np.uint64
    else:
        acc_shift = int(rng.integers(0, 12))
        bias = rng.integers(-(2**20), 2**20, cout).astype(np.int32)
        mult, shift = random_multipliers(rng, cout)
        zero = int(rng.integers(-128, 128))
        lo, hi = random_clamp(rng)
        p.acc_shift = acc_shift
        p.bias = a.ptr("int32_t", bias)
        p.rq.multiplier, p.rq.shift = a.ptr("int32_t", mult), a.ptr("int32_t", shift)
        p.rq.zero_point, p.rq.lo, p.rq.hi = zero, lo, hi
        attrs.update(acc_shift=acc_shift, clamp=[lo, hi])
        arrays.update(bias=bias, multiplier=mult, shift=shift)
        out_t = tensor("y", (1, oh, ow, cout), "int8", zero)
        golden = int_ops.bconv(Node("n", "bconv", ("x",), ("y",), attrs, arrays),
                               [x_bits], [tensor("x", x_bits.shape, "bits")], out_t)[0]
        name, out_shape, dtype = "bnn_bconv_to_i8", (oh, ow, cout), np.int8
    offset, start = 0, None
    if wider and not to_bits:
        p.out_pitch = cout + wider
        offset = int(rng.integers(0, wider + 1))
        start = garbage(rng, (oh, ow, cout + wider), np.int8)
        golden = np.concatenate([start[..., :offset], golden,
                                 start[..., offset + cout:]], axis=-1)
        out_shape = start.shape
    x = a.ptr("uint64_t", pack(x_bits)[0])
    results = run_both(rt, name, p, [x], out_shape, dtype, rng, rows=oh, start=start,
                       offset=offset)
    check(results, golden, f"{name} in={h}x{w}x{cin} out={oh}x{ow}x{cout} k={kernel} "
                           f"s={stride} pad={pad} pad_one={pad_one} groups={groups} "
                           f"dilation={dilation}")


@st.composite
def dilated_windows(draw):
    """(window as windows() gives it, dilation): taps 1..3 apart, output >= 1 pixel."""
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kernel = (draw(st.sampled_from((1, 2, 3))), draw(st.sampled_from((1, 2, 3))))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    pad = [draw(st.integers(0, s)) for s in span + span]  # top, left, bottom, right
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, span[0] - pad[0] - pad[2]), 12))
    w = draw(st.integers(max(1, span[1] - pad[1] - pad[3]), 12))
    return (h, w, kernel, stride, tuple(pad)), dilation


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(win=dilated_windows(), group_channels=st.sampled_from((1, 5, 63, 64, 65, 100)),
       groups=st.integers(1, 4), og=st.integers(1, 9), pad_one=st.booleans(),
       to_bits=st.booleans(), wider=st.sampled_from((0, 5)), seed=seeds)
def test_bconv_grouped_dilated(rt, win, group_channels, groups, og, pad_one, to_bits, wider,
                               seed):
    """Groups whose channels start inside a word, dilation in either direction."""
    (window_, dilation) = win
    check_bconv(rt, np.random.default_rng(seed), window_, group_channels * groups,
                og * groups, pad_one, to_bits, groups, dilation, wider)


# --------------------------------------------------------------------------- conv_i8


def check_conv_i8(rt, rng, x, weight, bias, groups, in_zero, win, to_bits,
                  spread) -> None:  # noqa: ANN001
    """Run bnn_conv_i8_to_bits (thresholds ~ N(0, spread), a fifth of them extreme) or
    bnn_conv_i8_to_i8 (random requantization) on ``x`` and compare with the golden model."""
    ffi, _ = rt
    h, w, kernel, stride, pad = win
    oh, ow = out_hw(h, w, kernel, stride, pad)
    cin, cout = x.shape[3], weight.shape[0]
    a = Args(ffi)
    p = ffi.new("struct bnn_conv_i8_params *")
    shape(getattr(p, "in"), h, w, cin)
    shape(p.out, oh, ow, cout)
    window(ffi, p.win, kernel, stride, pad)
    p.groups, p.in_zero = groups, in_zero
    p.weight, p.bias = a.ptr("int8_t", weight), a.ptr("int32_t", bias)
    attrs = {"stride": list(stride), "padding": list(pad), "groups": groups}
    arrays = {"weight": weight, "bias": bias}
    in_t = tensor("x", x.shape, "int8", in_zero)
    node = Node("n", "conv_i8", ("x",), ("y",), attrs, arrays)
    if to_bits:
        thr = np.round(rng.normal(0, spread, cout)).astype(np.int32)
        wild = rng.random(cout) < 0.2
        thr[wild] = rng.choice([INT32_MIN, INT32_MAX, 0], wild.sum())
        p.threshold = a.ptr("int32_t", thr)
        arrays["threshold"] = thr
        golden = pack(int_ops.conv_i8(node, [x], [in_t],
                                      tensor("y", (1, oh, ow, cout), "bits")))[0]
        name, out_shape, dtype = "bnn_conv_i8_to_bits", (oh, ow, words(cout)), np.uint64
    else:
        mult, shift = random_multipliers(rng, cout)
        zero = int(rng.integers(-128, 128))
        lo, hi = random_clamp(rng)
        p.rq.multiplier, p.rq.shift = a.ptr("int32_t", mult), a.ptr("int32_t", shift)
        p.rq.zero_point, p.rq.lo, p.rq.hi = zero, lo, hi
        attrs["clamp"] = [lo, hi]
        arrays.update(multiplier=mult, shift=shift)
        golden = int_ops.conv_i8(node, [x], [in_t],
                                 tensor("y", (1, oh, ow, cout), "int8", zero))[0]
        name, out_shape, dtype = "bnn_conv_i8_to_i8", (oh, ow, cout), np.int8
    results = run_both(rt, name, p, [a.ptr("int8_t", x[0])], out_shape, dtype, rng, rows=oh)
    check(results, golden, f"{name} in={h}x{w}x{cin} out={oh}x{ow}x{cout} groups={groups} "
                           f"k={kernel} s={stride} pad={pad} in_zero={in_zero}")


@EXAMPLES
@given(win=windows(), cin=st.integers(1, 160), og=st.integers(1, 48),
       group_kind=st.sampled_from(("one", "depthwise", "some")), to_bits=st.booleans(),
       seed=seeds)
def test_conv_i8(rt, win, cin, og, group_kind, to_bits, seed):
    rng = np.random.default_rng(seed)
    h, w, kernel, _, _ = win
    if group_kind == "one":
        groups = 1
    elif group_kind == "depthwise":
        groups, og = cin, 1
    else:
        groups = int(rng.choice([d for d in range(1, cin + 1) if cin % d == 0]))
    cout = og * groups
    ig = cin // groups
    x = rng.integers(-128, 128, (1, h, w, cin)).astype(np.int8)
    weight = rng.integers(-127, 128, (cout, *kernel, ig)).astype(np.int8)
    bias = rng.integers(-(2**16), 2**16, cout).astype(np.int32)
    in_zero = int(rng.integers(-128, 128))
    check_conv_i8(rt, rng, x, weight, bias, groups, in_zero, win, to_bits,
                  spread=64 * np.sqrt(kernel[0] * kernel[1] * ig) + 1)


@EXAMPLES
@given(win=windows(kernels=(1, 2, 3, 5, 7)), cin=st.integers(1, 18),
       cout=st.one_of(st.integers(1, 140), st.sampled_from((16, 32, 48, 64, 80))),
       in_zero=st.one_of(st.integers(-128, 127), st.sampled_from((-128, 0, 127))),
       to_bits=st.booleans(), seed=seeds)
def test_conv_i8_few_channels(rt, win, cin, cout, in_zero, to_bits, seed):
    """The few-input-channel fast path (conv_i8_fast.c: a BNN's stem) against
    the golden model: channel counts around its 16-channel chunks and 64-bit
    words, every padding, stride 2 and 3, kernels up to 7x7 (K up to 160 and
    beyond, where it hands over to the reference), weights and inputs over
    the whole int8 range."""
    rng = np.random.default_rng(seed)
    h, w, kernel, _, _ = win
    x = rng.integers(-128, 128, (1, h, w, cin)).astype(np.int8)
    weight = rng.integers(-128, 128, (cout, *kernel, cin)).astype(np.int8)
    if rng.random() < 0.2:  # extreme weights: every product at its largest
        weight[...] = rng.choice([-128, 127])
    bias = rng.integers(-(2**16), 2**16, cout).astype(np.int32)
    check_conv_i8(rt, rng, x, weight, bias, 1, in_zero, win, to_bits,
                  spread=128 * np.sqrt(kernel[0] * kernel[1] * cin) + 1)


# --------------------------------------------------------------------------- threshold


@EXAMPLES
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=channels, seed=seeds)
def test_threshold(rt, h, w, c, seed):
    ffi, _ = rt
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
    thr = rng.integers(-140, 141, c).astype(np.int32)  # some outside int8
    flip = rng.integers(0, 2, c).astype(np.uint8)
    # x as channels [k, k + c) of a wider buffer (a concat's slice), or alone
    k, extra = (int(v) for v in rng.integers(0, 9, 2) * rng.integers(0, 2))
    wide = rng.integers(-128, 128, (h, w, k + c + extra)).astype(np.int8)
    wide[:, :, k:k + c] = x[0]
    a = Args(ffi)
    p = ffi.new("struct bnn_threshold_params *")
    shape(p.shape, h, w, c)
    p.in_pitch = k + c + extra
    p.threshold, p.flip = a.ptr("int32_t", thr), a.ptr("uint8_t", flip)
    node = Node("n", "threshold", ("x",), ("y",), {}, {"threshold": thr, "flip": flip})
    golden = pack(int_ops.threshold(node, [x], [tensor("x", x.shape, "int8")],
                                    tensor("y", x.shape, "bits")))[0]
    results = run_both(rt, "bnn_threshold_i8", p, [a.ptr("int8_t", wide.reshape(-1)[k:])],
                       (h, w, words(c)), np.uint64, rng, rows=h)
    check(results, golden, f"threshold {h}x{w}x{c}")


# --------------------------------------------------------------------------- pools


@EXAMPLES
@given(win=windows(max_hw=9, kernels=(1, 2, 3, 4)), c=channels, seed=seeds)
def test_bmaxpool(rt, win, c, seed):
    ffi, _ = rt
    rng = np.random.default_rng(seed)
    h, w, kernel, stride, pad = win
    oh, ow = out_hw(h, w, kernel, stride, pad)
    x = rng.integers(0, 2, (1, h, w, c), dtype=np.uint8)
    if rng.random() < 0.5:  # mostly -1, so that AND and OR differ
        x = (rng.random((1, h, w, c)) < 0.8).astype(np.uint8)
    or_mask = rng.integers(0, 2, c).astype(np.uint8)
    a = Args(ffi)
    p = ffi.new("struct bnn_bmaxpool_params *")
    shape(getattr(p, "in"), h, w, c)
    shape(p.out, oh, ow, c)
    window(ffi, p.win, kernel, stride, pad)
    p.or_mask = a.ptr("uint64_t", pack(or_mask))
    attrs = {"kernel": list(kernel), "stride": list(stride), "padding": list(pad)}
    node = Node("n", "bmaxpool", ("x",), ("y",), attrs, {"or_mask": or_mask})
    golden = pack(int_ops.bmaxpool(node, [x], [tensor("x", x.shape, "bits")],
                                   tensor("y", (1, oh, ow, c), "bits")))[0]
    results = run_both(rt, "bnn_bmaxpool", p, [a.ptr("uint64_t", pack(x)[0])],
                       (oh, ow, words(c)), np.uint64, rng, rows=oh)
    check(results, golden, f"bmaxpool {h}x{w}x{c} k={kernel} s={stride} pad={pad}")


@EXAMPLES
@given(win=windows(max_hw=9, kernels=(1, 2, 3, 4), pad_below_kernel=True), c=channels,
       avg=st.booleans(), include_pad=st.booleans(), seed=seeds)
def test_pool_i8(rt, win, c, avg, include_pad, seed):
    ffi, _ = rt
    rng = np.random.default_rng(seed)
    h, w, kernel, stride, pad = win
    oh, ow = out_hw(h, w, kernel, stride, pad)
    x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
    zero = int(rng.integers(-128, 128))
    p = ffi.new("struct bnn_pool_i8_params *")
    shape(getattr(p, "in"), h, w, c)
    shape(p.out, oh, ow, c)
    window(ffi, p.win, kernel, stride, pad)
    p.zero_point, p.count_include_pad = zero, int(include_pad)
    attrs = {"kernel": list(kernel), "stride": list(stride), "padding": list(pad),
             "count_include_pad": include_pad}
    op = "avgpool_i8" if avg else "maxpool_i8"
    node = Node("n", op, ("x",), ("y",), attrs, {})
    golden = getattr(int_ops, op)(node, [x], [tensor("x", x.shape, "int8", zero)],
                                  tensor("y", (1, oh, ow, c), "int8", zero))[0]
    a = Args(ffi)
    results = run_both(rt, "bnn_" + op, p, [a.ptr("int8_t", x[0])], (oh, ow, c), np.int8,
                       rng, rows=oh)
    check(results, golden, f"{op} {h}x{w}x{c} k={kernel} s={stride} pad={pad} "
                           f"include_pad={include_pad}")


# --------------------------------------------------------------------------- element-wise


@EXAMPLES
@given(n=st.integers(1, 3000), seed=seeds)
def test_add_i8(rt, n, seed):
    ffi, _ = rt
    rng = np.random.default_rng(seed)
    xa = rng.integers(-128, 128, (1, 1, 1, n)).astype(np.int8)
    xb = rng.integers(-128, 128, (1, 1, 1, n)).astype(np.int8)
    za, zb, zo = (int(v) for v in rng.integers(-128, 128, 3))
    (ma, mb, mo), (sa, sb, so) = random_multipliers(rng, 3)
    if rng.random() < 0.7:  # TFLite-like: inputs scaled down by 2^20-ish, output up
        sa, sb, so = (int(v) for v in rng.integers(-25, -15, 3))
        so = int(rng.integers(-2, 12))
    lo, hi = random_clamp(rng)
    p = ffi.new("struct bnn_add_i8_params *")
    p.size = n
    p.a_zero, p.a_multiplier, p.a_shift = za, int(ma), int(sa)
    p.b_zero, p.b_multiplier, p.b_shift = zb, int(mb), int(sb)
    p.out_zero, p.out_multiplier, p.out_shift = zo, int(mo), int(so)
    p.lo, p.hi = lo, hi
    attrs = {"scale_a": [int(ma), int(sa)], "scale_b": [int(mb), int(sb)],
             "scale_out": [int(mo), int(so)], "clamp": [lo, hi]}
    node = Node("n", "add_i8", ("a", "b"), ("y",), attrs, {})
    golden = int_ops.add_i8(node, [xa, xb], [tensor("a", xa.shape, "int8", za),
                                             tensor("b", xb.shape, "int8", zb)],
                            tensor("y", xa.shape, "int8", zo))
    a = Args(ffi)
    results = run_both(rt, "bnn_add_i8", p, [a.ptr("int8_t", xa), a.ptr("int8_t", xb)],
                       (n,), np.int8, rng)
    check(results, golden.reshape(-1), f"add_i8 n={n}")


@EXAMPLES
@given(h=st.integers(1, 6), w=st.integers(1, 6), c=channels, seed=seeds)
def test_channelwise_i8(rt, h, w, c, seed):
    ffi, _ = rt
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
    in_zero, out_zero = (int(v) for v in rng.integers(-128, 128, 2))
    acc_shift = int(rng.integers(0, 17))
    bias = rng.integers(-(2**20), 2**20, c).astype(np.int32)
    mp, sp = random_multipliers(rng, c)
    mn, sn = random_multipliers(rng, c)
    lo, hi = random_clamp(rng)
    a = Args(ffi)
    p = ffi.new("struct bnn_channelwise_i8_params *")
    shape(p.shape, h, w, c)
    p.in_zero, p.acc_shift, p.bias = in_zero, acc_shift, a.ptr("int32_t", bias)
    p.multiplier_pos, p.shift_pos = a.ptr("int32_t", mp), a.ptr("int32_t", sp)
    p.multiplier_neg, p.shift_neg = a.ptr("int32_t", mn), a.ptr("int32_t", sn)
    p.out_zero, p.lo, p.hi = out_zero, lo, hi
    arrays = {"bias": bias, "multiplier_pos": mp, "shift_pos": sp, "multiplier_neg": mn,
              "shift_neg": sn}
    node = Node("n", "channelwise_i8", ("x",), ("y",),
                {"acc_shift": acc_shift, "clamp": [lo, hi]}, arrays)
    golden = int_ops.channelwise_i8(node, [x], [tensor("x", x.shape, "int8", in_zero)],
                                    tensor("y", x.shape, "int8", out_zero))[0]
    results = run_both(rt, "bnn_channelwise_i8", p, [a.ptr("int8_t", x[0])], (h, w, c),
                       np.int8, rng)
    check(results, golden, f"channelwise_i8 {h}x{w}x{c} acc_shift={acc_shift}")


@EXAMPLES
@given(h=st.integers(1, 8), w=st.integers(1, 8), c=st.integers(1, 6), seed=seeds)
def test_lut_u8(rt, h, w, c, seed):
    ffi, _ = rt
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (1, h, w, c)).astype(np.uint8)
    table = rng.integers(-128, 128, (c, 256)).astype(np.int8)
    a = Args(ffi)
    p = ffi.new("struct bnn_lut_params *")
    shape(p.shape, h, w, c)
    p.table = a.ptr("int8_t", table)
    node = Node("n", "lut", ("x",), ("y",), {}, {"table": table})
    golden = int_ops.lut(node, [x], [tensor("x", x.shape, "uint8")],
                         tensor("y", x.shape, "int8"))[0]
    results = run_both(rt, "bnn_lut_u8", p, [a.ptr("uint8_t", x[0])], (h, w, c), np.int8, rng)
    check(results, golden, f"lut {h}x{w}x{c}")


# --------------------------------------------------------------------------- concat


@EXAMPLES
@given(h=st.integers(1, 5), w=st.integers(1, 5), parts=st.lists(channels, min_size=1, max_size=4),
       bits=st.booleans(), seed=seeds)
def test_concat(rt, h, w, parts, bits, seed):
    """Each input through its own part call, in a random order, onto garbage."""
    ffi, lib = rt
    rng = np.random.default_rng(seed)
    out_c = sum(parts)
    offsets = np.cumsum([0, *parts[:-1]])
    out_zero = int(rng.integers(-128, 128))
    if bits:
        xs = [rng.integers(0, 2, (1, h, w, c), dtype=np.uint8) for c in parts]
        ts = [tensor(f"x{i}", x.shape, "bits") for i, x in enumerate(xs)]
        node = Node("n", "concat_bits", tuple(t.name for t in ts), ("y",), {}, {})
        golden = pack(int_ops.concat_bits(node, xs, ts, tensor("y", (1, h, w, out_c), "bits")))[0]
        out_shape, dtype, ctype = (h, w, words(out_c)), np.uint64, "uint64_t"
        inputs = [pack(x)[0] for x in xs]
        rescale = [(0, 0)] * len(parts)
        zeros = [0] * len(parts)
    else:
        xs = [rng.integers(-128, 128, (1, h, w, c)).astype(np.int8) for c in parts]
        zeros = [int(z) for z in rng.integers(-128, 128, len(parts))]
        mult, shift = random_multipliers(rng, len(parts))
        rescale = [(int(m), int(s)) for m, s in zip(mult, shift, strict=True)]
        ts = [tensor(f"x{i}", x.shape, "int8", z) for i, (x, z) in enumerate(zip(xs, zeros,
                                                                                strict=True))]
        node = Node("n", "concat_i8", tuple(t.name for t in ts), ("y",),
                    {"rescale": [list(r) for r in rescale]}, {})
        golden = int_ops.concat_i8(node, xs, ts, tensor("y", (1, h, w, out_c), "int8",
                                                        out_zero))[0]
        out_shape, dtype, ctype = (h, w, out_c), np.int8, "int8_t"
        inputs = [x[0] for x in xs]
    name = "bnn_concat_bits_part" if bits else "bnn_concat_i8_part"
    start = garbage(rng, out_shape, dtype)
    order = rng.permutation(len(parts))
    a = Args(ffi)
    for fn_name in (name, name + "_ref"):
        out = start.copy()
        for i in order:
            p = ffi.new("struct bnn_concat_part_params *")
            shape(getattr(p, "in"), h, w, parts[i])
            p.out_c, p.c_offset = out_c, int(offsets[i])
            p.in_zero, p.out_zero = zeros[i], out_zero
            p.multiplier, p.shift = rescale[i]
            getattr(lib, fn_name)(p, a.ptr(ctype, inputs[i]),
                                  ffi.cast(ctype + " *", ffi.from_buffer(out)))
        assert_same(out, golden, f"{fn_name} parts={parts} order={list(order)}")


# --------------------------------------------------------------------------- requant


def _golden_mbqm(acc, mult, shift):
    return int(multiply_by_quantized_multiplier(np.array([acc], dtype=np.int64),
                                                np.array([mult]), np.array([shift]))[0])


EDGE_ACC = [INT32_MIN, INT32_MIN + 1, -(2**30), -5, -3, -2, -1, 0, 1, 2, 3, 5, 2**30,
            INT32_MAX - 1, INT32_MAX]
EDGE_MULT = [0, 1, 1 << 30, (1 << 30) + 1, 3 << 29, INT32_MAX, INT32_MIN, -(1 << 30)]
EDGE_SHIFT = [0, -1, -2, -30, -31, 1, 2, 30]


def test_requant_edge_vectors(rt):
    """INT32_MIN, negative ties, shift 0 and 31, M >= 1 (positive shift)."""
    _, lib = rt
    bad = []
    for acc in EDGE_ACC:
        for mult in EDGE_MULT:
            for shift in EDGE_SHIFT:
                got, want = lib.bnn_requant_i32(acc, mult, shift), _golden_mbqm(acc, mult, shift)
                if got != want:
                    bad.append((acc, mult, shift, got, want))
    assert not bad, f"{len(bad)} mismatches (acc, mult, shift, C, golden), e.g. {bad[:5]}"


def test_requant_negative_ties_round_away(rt):
    _, lib = rt
    half = 1 << 30  # M = 0.5 with shift 0: a tie inside SRDHM (gemmlowp nudge)
    for acc in (-7, -5, -3, -1, 1, 3, 5, 7):
        assert lib.bnn_requant_i32(acc, half, 0) == _golden_mbqm(acc, half, 0)
    one = INT32_MAX  # M ~ 1, then divide by 2: -2.5 -> -3
    assert lib.bnn_requant_i32(-5, one, -1) == _golden_mbqm(-5, one, -1) == -3
    assert lib.bnn_requant_i32(INT32_MIN, INT32_MIN, 0) == INT32_MAX


@settings(max_examples=300, deadline=None, database=None)
@given(acc=st.integers(-(2**32), 2**32) | st.integers(-3, 3),
       mult=st.integers(INT32_MIN, INT32_MAX), shift=st.integers(-40, 30))
def test_requant_random(rt, acc, mult, shift):
    _, lib = rt
    assert lib.bnn_requant_i32(acc, mult, shift) == _golden_mbqm(acc, mult, shift)
