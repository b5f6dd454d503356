"""Hypothesis strategies for the op tests: random but always valid arguments of each op, drawn like
real use (awkward scale factors, boxes off the image, ignored labels, ...). The op table
(tests/op_table.py) turns each into ``Case``s; hand-written tests use them directly."""
import numpy as np
import torch
from hypothesis import assume
from hypothesis import strategies as st

TF = torch.nn.functional


INT_OR_PAIR = lambda lo, hi: st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))  # noqa: E731


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


@st.composite
def channels(draw):
    """(groups, in_channels, out_channels): groups 1, 2 or depthwise (groups = in_channels)."""
    kind = draw(st.sampled_from(["one", "two", "depthwise"]))
    if kind == "one":
        return 1, draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if kind == "two":
        return 2, 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    c = draw(st.integers(1, 4))
    return c, c, c * draw(st.integers(1, 2))


@st.composite
def conv_config(draw, max_side=4):
    """Arguments of a conv2d call whose output is at least 1x1."""
    groups, cin, cout = draw(channels())
    kernel = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    stride, dilation = draw(INT_OR_PAIR(1, 3)), draw(INT_OR_PAIR(1, 3))
    choices = [INT_OR_PAIR(0, 3), st.just("valid")] + ([st.just("same")] if as_pair(stride) == (1, 1) else [])
    padding = draw(st.one_of(*choices))
    pads = (0, 0) if isinstance(padding, str) else as_pair(padding)
    size = []
    for k, d, p in zip(kernel, as_pair(dilation), pads):
        span = d * (k - 1) + 1
        size.append(max(1, span - 2 * p) + draw(st.integers(0, 4)))
    return dict(n=draw(st.integers(0, 3)), cin=cin, cout=cout, groups=groups, kernel=kernel, size=tuple(size),
                stride=stride, padding=padding, dilation=dilation, bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])), seed=draw(st.integers(0, 2**16)))


@st.composite
def pointwise_conv_config(draw):
    """conv_config with a 1x1 kernel and no padding: the convolutions conv2d runs as one GEMM per image."""
    return dict(draw(conv_config()), kernel=(1, 1), padding=draw(st.sampled_from([0, (0, 0), "valid"])))


@st.composite
def transpose_config(draw):
    """Arguments of a conv_transpose2d call with a valid output_padding and output >= 1x1."""
    groups, cin, cout = draw(channels())
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride, dilation = as_pair(draw(INT_OR_PAIR(1, 3))), as_pair(draw(INT_OR_PAIR(1, 3)))
    padding = as_pair(draw(INT_OR_PAIR(0, 3)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    for n, k, s, p, e, d in zip(size, kernel, stride, padding, output_padding, dilation):
        assume((n - 1) * s - 2 * p + d * (k - 1) + e + 1 >= 1)
    return dict(n=draw(st.integers(0, 3)), cin=cin, cout=cout, groups=groups, kernel=kernel, size=size,
                stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
                bias=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**16)))


def conv_arrays(cfg, transposed=False):
    """Input, weight and (optional) bias arrays for a config."""
    rng = np.random.default_rng(cfg["seed"])
    g = cfg["groups"]
    wshape = (cfg["cin"], cfg["cout"] // g) if transposed else (cfg["cout"], cfg["cin"] // g)
    arrays = [rng.standard_normal((cfg["n"], cfg["cin"]) + cfg["size"]).astype(cfg["dtype"]),
              rng.standard_normal(wshape + cfg["kernel"]).astype(cfg["dtype"])]
    if cfg["bias"]:
        arrays.append(rng.standard_normal(cfg["cout"]).astype(cfg["dtype"]))
    return arrays


@st.composite
def pool_configs(draw, dilation=True):
    """A random valid pooling geometry and an input big enough for at least one window."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    low = [max(1, dd * (kk - 1) + 1 - 2 * pp) for kk, pp, dd in zip(k, p, d)]
    size = (draw(st.integers(low[0], low[0] + 6)), draw(st.integers(low[1], low[1] + 6)))
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 3))) + size
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal(shape).astype(dtype)
    return x, k, s, p, d, draw(st.booleans())


@st.composite
def unpool_configs(draw):
    """Indices from a real max pooling (torch's), and an output_size inside torch's allowed range."""
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    h, w = draw(st.integers(max(1, k - 2 * p), 8)), draw(st.integers(max(1, k - 2 * p), 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = rng.standard_normal((draw(st.integers(0, 2)), draw(st.integers(1, 3)), h, w)).astype(np.float32)
    pooled, indices = TF.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    default = [(n - 1) * s - 2 * p + k for n in pooled.shape[-2:]]
    size = (h, w) if draw(st.booleans()) else None  # the pooled input's own size, or torch's default
    valid = all(d - s < n < d + s for n, d in zip((h, w), default)) if size else min(default) > 0
    assume(valid and (indices.numel() == 0 or indices.max() < np.prod(size or default)))
    planes = indices.numpy().reshape(-1, indices.shape[-2] * indices.shape[-1])
    # overlapping windows can pick one position twice; torch's threads then race for it
    assume(all(len(np.unique(plane)) == plane.size for plane in planes))
    values = rng.standard_normal(pooled.shape).astype(np.float32)
    return values, indices.numpy(), k, s, p, size


# awkward factors whose float32 products land on or near integers (where floor() rules matter)
FACTORS = [0.5, 1 / 3, 2 / 3, 0.7, 1.1, 1.5, 2.5, 3.0, 10 / 3, 4.0, 0.3]


def _scale_factor():
    one = st.one_of(st.sampled_from(FACTORS), st.floats(0.25, 4.0, allow_nan=False, allow_infinity=False))
    return st.one_of(one, st.tuples(one, one))


@st.composite
def resize_configs(draw, mode):
    """An input, and keyword arguments torch accepts for it (size or scale_factor, corners, ...)."""
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.sampled_from([2, 2, 2, 1, 0]))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal((n, 2, h, w)).astype(dtype)
    kwargs = {"mode": mode}
    if mode in ("bilinear", "bicubic"):
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans()):
        side = st.integers(1, 11)
        kwargs["size"] = draw(st.one_of(side, st.tuples(side, side)))
    else:
        factor = draw(_scale_factor())
        factors = factor if isinstance(factor, tuple) else (factor, factor)
        assume(all(np.floor(n * f) >= 1 for n, f in zip((h, w), factors)))
        kwargs["scale_factor"] = factor
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    return x, kwargs


SCALES = [1.0, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32]


def _floats(low: float, high: float):
    """Floats in [low, high] that float32 holds exactly (so float32 and float64 runs see one box)."""
    return st.floats(low, high).map(lambda v: float(np.float32(v)))


def _coordinate(extent: float):
    """An image coordinate: sometimes whole or half (rounding edges), sometimes well outside the image."""
    return st.one_of(_floats(-0.5 * extent, 1.5 * extent),
                     st.integers(int(-0.3 * extent) - 2, int(1.3 * extent) + 2).map(float),
                     st.integers(-4 * int(extent), 4 * int(extent)).map(lambda v: v / 4 + 0.5))


@st.composite
def problems(draw, max_side=12, max_out=14):
    """A feature map, boxes (K, 5) in image coordinates and the op's arguments (drawn like real use)."""
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float64]))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    scale = draw(st.sampled_from(SCALES))
    image_h, image_w = h / scale, w / scale
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        x1, y1 = draw(_coordinate(image_w)), draw(_coordinate(image_h))
        kind = draw(st.sampled_from(["box", "box", "degenerate", "thin"]))
        width = 0.0 if kind == "degenerate" else draw(_floats(0, 1.2 * image_w))
        height = draw(_floats(0, 3.0 / scale)) if kind == "thin" else (
            0.0 if kind == "degenerate" else draw(_floats(0, 1.2 * image_h)))
        rows.append([draw(st.integers(0, n - 1)), x1, y1, x1 + width, y1 + height])
    boxes = np.array(rows, dtype=dtype).reshape(-1, 5)
    boxes[:, 3:] = np.maximum(boxes[:, 3:], boxes[:, 1:3])  # float32 rounding must not flip a box
    out = (draw(st.integers(1, max_out)), draw(st.integers(1, max_out)))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((n, c, h, w)).astype(dtype)
    return x, boxes, out, scale


@st.composite
def ce_case(draw):
    """Logits (N, K, *spatial), targets with some ignored positions, optional class weights."""
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    n, k = draw(st.integers(1, 3)), draw(st.integers(2, 5))
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    x = (rng.standard_normal((n, k) + spatial) * draw(st.sampled_from([0.5, 3.0, 30.0]))).astype(np.float32)
    ignore_index = draw(st.sampled_from([-100, 0, 255]))
    t = rng.integers(0, k, (n,) + spatial)
    t = np.where(rng.uniform(size=t.shape) < 0.25, ignore_index, t)
    t.flat[0] = k - 1  # at least one counted position (ignore_index may equal 0, never k - 1 here)
    weight = rng.uniform(0.2, 3.0, k).astype(np.float32) if draw(st.booleans()) else None
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return x, t, weight, ignore_index, reduction


@st.composite
def overlap_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    n, k = draw(st.integers(1, 3)), draw(st.integers(2, 5))
    spatial = tuple(draw(st.lists(st.integers(1, 5), min_size=0, max_size=2)))
    x = (rng.standard_normal((n, k) + spatial) * draw(st.sampled_from([0.5, 4.0]))).astype(np.float32)
    t = rng.integers(0, k, (n,) + spatial)
    ignore_index = draw(st.sampled_from([None, 255]))
    if ignore_index is not None:
        t = np.where(rng.uniform(size=t.shape) < 0.3, ignore_index, t)
    eps = draw(st.sampled_from([0.0, 1e-3, 1.0])) if ignore_index is None else 1.0
    return x, t, eps, ignore_index, draw(st.sampled_from(["dice", "jaccard"]))


@st.composite
def unfold_configs(draw):
    """An input and unfold's arguments (int or pair, as torch) with at least one window; batch 0 and
    1-pixel axes included."""
    kernel, dilation = draw(INT_OR_PAIR(1, 4)), draw(INT_OR_PAIR(1, 3))
    padding, stride = draw(INT_OR_PAIR(0, 3)), draw(INT_OR_PAIR(1, 3))
    size = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
            for k, d, p in zip(as_pair(kernel), as_pair(dilation), as_pair(padding))]
    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 3))) + tuple(size)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal(shape).astype(dtype)
    return x, dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)


@st.composite
def broadcast_shape(draw, shape):
    """A shape that broadcasts to ``shape``: some leading axes dropped, some others kept at size 1
    (e.g. () or (1,) for one value, (C, 1, 1) per channel of (N, C, H, W), or ``shape`` itself)."""
    kept = shape[draw(st.integers(0, len(shape))):]
    return tuple(n if draw(st.booleans()) else 1 for n in kept)


@st.composite
def bce_case(draw, scales=(1.0, 20.0)):
    """Logits (some large), probability or 0/1 targets, optional weight and pos_weight of any shape
    that broadcasts to the input's, float32 or float64, and a reduction."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = (rng.standard_normal(shape) * draw(st.sampled_from(scales))).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    if draw(st.booleans()):
        y = np.round(y)
    weight, pos_weight = (rng.uniform(0.1, high, draw(broadcast_shape(shape))).astype(dtype)
                          if draw(st.booleans()) else None for high in (2, 4))
    return x, y, weight, pos_weight, draw(st.sampled_from(["mean", "sum", "none"]))


@st.composite
def pad_configs(draw):
    """An input and F.pad's arguments: 2 or 4 pads (negative ones crop, constant mode only)."""
    n, c, h, w = draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
    low = -2 if mode == "constant" else 0
    left, right = (draw(st.integers(low, w - 1)) for _ in range(2))
    top, bottom = (draw(st.integers(low, h - 1)) for _ in range(2))
    pads = draw(st.sampled_from([(left, right), (left, right, top, bottom)]))
    assume(w + left + right > 0 and (len(pads) == 2 or h + top + bottom > 0))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((n, c, h, w)).astype(np.float32)
    return x, dict(pad=pads, mode=mode, value=1.5 if mode == "constant" else 0.0)



@st.composite
def softmax_config(draw):
    """Logits of 1 to 4 axes (sizes 0 to 5, mostly >= 2) at scales 1 to 30 and an axis to normalise over."""
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return (rng.standard_normal(shape) * draw(st.sampled_from([1.0, 5.0, 30.0]))).astype(dtype), dim
