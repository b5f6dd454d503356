"""Receptive field of a chain of convolution / pooling layers: size, jump and start per layer.

For a layer with kernel k, stride s, padding p and dilation d (effective kernel k' = d(k - 1) + 1),
seen from the input image:

    size_out  = size_in + (k' - 1) * jump_in         how many input pixels one output unit sees
    jump_out  = jump_in * s                          input pixels between neighbouring outputs
    start_out = start_in + ((k' - 1) / 2 - p) * jump_in   centre of the first output's field

starting from size 1, jump 1, start 0 (input pixel i has its centre at coordinate i). So L 3x3
convolutions with stride 1 see 1 + 2L pixels, and dilations 1, 2, 4 give 3, 7, 15.

``receptive_field(layers)`` takes tuples ``(kernel, stride=1, padding=0, dilation=1)``, dicts with
those names (``kernel_size`` also accepted), or layer objects with ``kernel_size`` / ``stride`` /
``padding`` / ``dilation`` attributes (nn.Conv2d, pooling layers; a container is walked in order,
skipping layers without a kernel). Values may be ints, or (h, w) pairs for 2-D layers: the results
are ints when every layer is square and pairs otherwise. Only plain chains are meaningful (no
skip connections, no transposed convolutions).
"""
from __future__ import annotations

from typing import NamedTuple

from .functional.checks import pair
from .functional.conv.geometry import conv_out_size

FIELDS = ("kernel", "stride", "padding", "dilation")
DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1}
OP = "receptive_field"


class FieldRow(NamedTuple):
    """One layer of the table: its parameters and the field after it (ints or (h, w) pairs)."""

    name: str
    kernel: object
    stride: object
    padding: object
    dilation: object
    size: object  # receptive field size in input pixels
    jump: object  # distance in input pixels between neighbouring output units
    start: object  # input coordinate of the centre of the first output unit's field
    output: object = None  # feature map size, when input_size was given


def _from_object(layer) -> dict:
    if hasattr(layer, "output_padding"):
        raise ValueError(f"{OP}: {type(layer).__name__} is a transposed convolution; "
                         "only chains of convolutions and poolings are supported")
    params = {"kernel": layer.kernel_size}
    for name in ("stride", "padding", "dilation"):
        value = getattr(layer, name, None)
        params[name] = DEFAULTS[name] if value is None else value
    if getattr(layer, "stride", 0) is None:  # pooling: stride defaults to the kernel size
        params["stride"] = layer.kernel_size
    return params


def _flatten(layers):
    """(name, raw parameters) for every layer with a kernel, walking containers in order."""
    for index, layer in enumerate(layers):
        name = f"layer{index + 1}"
        if isinstance(layer, dict):
            params = {("kernel" if k == "kernel_size" else k): v for k, v in layer.items()}
            yield params.pop("name", name), params
        elif isinstance(layer, (tuple, list)):
            if not 1 <= len(layer) <= 4:
                raise ValueError(f"{OP}: {name} must be (kernel, stride, padding, dilation), got {layer!r}")
            yield name, dict(zip(FIELDS, layer))
        elif hasattr(layer, "kernel_size"):
            yield type(layer).__name__.lower() + str(index + 1), _from_object(layer)
        elif hasattr(layer, "children"):
            yield from _flatten(layer.children())
        elif not hasattr(layer, "forward"):
            raise ValueError(f"{OP}: {name} must be a tuple, a dict or a layer, got {layer!r}")


def _normalise(name: str, params: dict) -> dict:
    unknown = set(params) - set(FIELDS)
    if unknown or "kernel" not in params:
        raise ValueError(f"{OP}: {name} needs a kernel and only {FIELDS}, got {sorted(params)}")
    full = {**DEFAULTS, **params}
    if isinstance(full["padding"], str):  # 'same' / 'valid' as in conv2d
        k, d = (pair(OP, f"{name} {key}", full[key]) for key in ("kernel", "dilation"))
        full["padding"] = (0, 0) if full["padding"] == "valid" else tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))
    return {key: pair(OP, f"{name} {key}", full[key], minimum=0 if key == "padding" else 1) for key in FIELDS}


def receptive_field(layers, input_size=None) -> list[FieldRow]:
    """The field after every layer of the chain ``layers`` (see the module doc for the formulas).

    ``input_size`` (int or (H, W)) adds each layer's output size. Returns a list of FieldRow;
    ``receptive_field(layers)[-1].size`` is the whole chain's receptive field.
    """
    rows, square = [], True
    size, jump, start = [1, 1], [1, 1], [0.0, 0.0]
    extent = None if input_size is None else list(pair(OP, "input_size", input_size))
    for name, raw in _flatten(layers):
        p = _normalise(name, raw)
        for axis in range(2):
            span = p["dilation"][axis] * (p["kernel"][axis] - 1)
            size[axis] += span * jump[axis]
            start[axis] += (span / 2 - p["padding"][axis]) * jump[axis]
            jump[axis] *= p["stride"][axis]
            if extent is not None:
                extent[axis] = conv_out_size(extent[axis], p["kernel"][axis], p["stride"][axis],
                                             p["padding"][axis], p["padding"][axis], p["dilation"][axis])
        square = square and all(v[0] == v[1] for v in p.values())
        rows.append((name, p, tuple(size), tuple(jump), tuple(start), None if extent is None else tuple(extent)))
    if extent is not None and min(extent) < 1:
        raise ValueError(f"{OP}: input_size {input_size!r} is too small for this chain")
    pick = (lambda v: v[0] if square and v is not None and v[0] == v[1] else v)
    return [FieldRow(name, *(pick(p[k]) for k in FIELDS), pick(sz), pick(j), pick(st), pick(out))
            for name, p, sz, j, st, out in rows]


def format_table(rows: list[FieldRow]) -> str:
    """The rows as a plain-text table (one line per layer) for notebooks."""
    header = ["layer", "kernel", "stride", "padding", "dilation", "field", "jump", "start"]
    with_output = any(r.output is not None for r in rows)
    table = [header + (["output"] if with_output else [])]
    for r in rows:
        table.append([str(v) for v in r[:8]] + ([str(r.output)] if with_output else []))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in table)
