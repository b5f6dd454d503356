"""Before/after Python-side redraw cost of widget controls, back to back in one process.

usage: python benchmarks/widget_redraw.py CASE [CASE ...] [--base REV] [--rounds N]
(CASE: a key of CASES, e.g. 06-layers). Each case builds the widget as its lecture does, puts the
other controls where the browser test has moved them (one step right each, in order) and moves one
control back and forth; ``FigureWidget.seconds`` (draw or update, then the PNG) is the time of a move.
The 'before' widgets come from minseg/viz at REV (loaded from git under other names), the 'after'
ones from the working tree; both are moved in turn, so a busy machine slows both alike: read only
the ratio. Needs the shipped weights (lectures 04, 05 and 10).
"""
import contextlib
import importlib.util
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import minseg.viz  # noqa: F401

ROOT = str(Path(__file__).resolve().parents[1])


def old_module(name, rev):
    """minseg/viz/<name>.py at rev as module minseg.viz._old_<name> (its _figure also the old one)."""
    full = f"minseg.viz._old_{name}"
    if full in sys.modules:
        return sys.modules[full]
    source = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:minseg/viz/{name}.py"], capture_output=True,
                            text=True, check=True).stdout
    if name != "_figure":
        old_module("_figure", rev)
        source = source.replace("from ._figure import", "from ._old__figure import")
        source = source.replace("from .masks import", "from ._old_masks import") if name != "masks" else source
        if "_old_masks" in source:
            old_module("masks", rev)
    spec = importlib.util.spec_from_loader(full, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "minseg.viz"
    sys.modules[full] = module
    exec(compile(source, f"old/{name}.py", "exec"), module.__dict__)
    return module


def new_module(name):
    return importlib.import_module(f"minseg.viz.{name}")


# ---- widget builders: (module) -> FigureWidget, as the lectures build them
def stepper(m):
    from minseg.data import digit_samples
    digits = digit_samples("val")[0].astype(np.float64)
    edge = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    return m.ConvStepper(digits[0][1:7, 1:7] * 16, edge).widget()


def interp(m):
    return m.InterpolationExplorer([1.0, 2.0, 4.0, 3.0]).widget()


def stamps(m):
    return m.TransposedConvStamps(np.array([[1.0, 2.0, 1.0], [2.0, -1.0, 3.0], [1.0, 0.0, 2.0]])).widget()


_CACHE = {}


def conv_matrix(m):
    return m.conv_matrix_widget(np.arange(1.0, 10.0).reshape(3, 3), max_size=6)


def skip_fusion(m):
    if "fcn" not in _CACHE:
        from minseg.data import DigitScenes
        from minseg.models import pretrained
        scenes = DigitScenes(8, split="val", seed=1)
        _CACHE["fcn"] = {v: pretrained.load(f"fcn{v}") for v in ("32s", "16s", "8s")}, scenes.images, scenes.masks
    return m.SkipFusionViewer(*_CACHE["fcn"]).widget()


def _unpadded_scene():
    if "tile" not in _CACHE:
        from minseg import models
        from minseg.data import DigitScenes
        from minseg.models import pretrained
        unet = pretrained.load("unet")
        unpadded = models.UNet(**{**unet.config, "padding": False}).eval()
        unpadded.load_state_dict(unet.state_dict())
        scene = DigitScenes(1, size=192, split="val", seed=3, digits_per_scene=(10, 14), digit_size=(16, 32))
        _CACHE["tile"] = unpadded, scene.images[0]
    return _CACHE["tile"]


def tiles(m):
    model, image = _unpadded_scene()
    return m.TileExplorer(model, image, tile=64).widget()


def weights(m):
    if "crowd" not in _CACHE:
        from minseg.data import DigitScenes
        crowd = DigitScenes(40, size=64, split="val", seed=5, digits_per_scene=(5, 8), digit_size=(16, 28))
        crowded = 8  # the scene lecture 05 picks (the most digits close to another; its checked output)
        inst = crowd.instances[crowded]
        ids = (inst["masks"] * np.arange(1, len(inst["masks"]) + 1)[:, None, None]).sum(0)
        _CACHE["crowd"] = crowd.images[crowded], ids
    return m.WeightMapExplorer(*_CACHE["crowd"]).widget()


def field(m):
    return m.field_widget(rates=(1, 2, 3, 1), layers=3)


def meanfield(m):
    if "crf" not in _CACHE:
        import minseg as ms
        from minseg.crf import softmax_labels
        from minseg.data import sample_photo
        image = sample_photo("coffee", size=(32, 48)).transpose(1, 2, 0).astype(np.float64) * 255
        unary, _, _ = ms.crf.coarse_unary(image, num_labels=3, factor=4, confidence=0.6, seed=0)
        logits = -unary + np.random.default_rng(0).normal(0, 0.8, unary.shape)
        _CACHE["crf"] = image, -np.log(softmax_labels(logits))
    return m.MeanFieldExplorer(*_CACHE["crf"]).widget()


def attention(m):
    if "setr" not in _CACHE:
        import minseg as ms
        from minseg.data import DigitScenes
        from minseg.models import pretrained
        setr = pretrained.load("setr")
        scene = DigitScenes(64, size=64, split="val", seed=0).images[1]
        with ms.no_grad():
            maps = [a[0] for a in setr.attention_maps(ms.tensor(scene[None]))]
        _CACHE["setr"] = scene, maps
    return m.attention_widget(*_CACHE["setr"])


def rois(m):
    return m.RoIExplorer(m.example_features()).widget()


CORNERS_MOVED = {"x1": 1.4, "y1": 2.3, "x2": 8.7, "y2": 9.5}  # lecture 08: the four corners one step right


# case name -> (module, builder, prior control values (the browser test's state when it moves this
# control: every control before it moved one step right), control, values moved through)
CASES = {
    "02-padding": ("convolution", stepper, {"step": 1, "stride": 2}, "padding", [1, 0] * 3),
    "03-scale": ("upsampling", interp, {"mode": "nearest", "align_corners": True}, "scale_factor", [2.5, 2.0] * 3),
    "03-stride": ("upsampling", stamps, {"step": 1, "kernel_size": 4}, "stride", [3, 2] * 3),
    "03-padding": ("upsampling", stamps, {"step": 1, "kernel_size": 4, "stride": 3}, "padding", [1, 0] * 3),
    "05-tile": ("encoder_decoder", tiles, {}, "step", [1, 0] * 3),
    "05-w0": ("encoder_decoder", weights, {}, "w0", [11.0, 10.0] * 3),
    "05-sigma": ("encoder_decoder", weights, {"w0": 11.0}, "sigma", [5.5, 5.0] * 3),
    "06-layers": ("dilation", field, {}, "layers", [4, 3] * 3),
    "07-w1": ("crf", meanfield, {"iteration": 6}, "w1", None),
    "07-theta_alpha": ("crf", meanfield, {"iteration": 6, "w1": 10.5}, "theta_alpha", None),
    "07-theta_beta": ("crf", meanfield, {"iteration": 6, "w1": 10.5, "theta_alpha": 81.0}, "theta_beta", None),
    "10-row": ("attention", attention, {"layer": 1, "head": 1}, "row", [5, 4] * 3),
    "07-iteration": ("crf", meanfield, {}, "iteration", [6, 5] * 3),
    "08-x1": ("roi", rois, {}, "x1", [1.4, 1.3] * 3),
    "08-x2": ("roi", rois, {"x1": 1.4, "y1": 2.3}, "x2", [8.7, 8.6] * 3),
    "08-y2": ("roi", rois, {"x1": 1.4, "y1": 2.3, "x2": 8.7}, "y2", [9.5, 9.4] * 3),
    "08-output": ("roi", rois, CORNERS_MOVED, "output_size", [3, 2] * 3),
    "08-samples": ("roi", rois, {**CORNERS_MOVED, "output_size": 3}, "sampling_ratio", [3, 2] * 3),
    "08-aligned": ("roi", rois, {**CORNERS_MOVED, "output_size": 3, "sampling_ratio": 3}, "aligned",
                   [True, False] * 3),
    "02-input": ("convolution", conv_matrix, {}, "size", [5, 4] * 3),
    "02-stride": ("convolution", conv_matrix, {"size": 5}, "stride", [2, 1] * 3),
    "04-scene": ("fcn", skip_fusion, {}, "scene", [1, 0] * 3),
    "04-variant": ("fcn", skip_fusion, {"scene": 1}, "variant", ["32s", "8s"] * 3),
}


def fresh_values(widget, control, count, offset):
    """count slider values one step apart never shown before (mean-field results are cached)."""
    slider = widget.controls[control]
    return [float(slider.value + slider.step * (1 + offset * count + i)) for i in range(count)]


def time_moves(widget, control, values):
    times = []
    with contextlib.redirect_stdout(io.StringIO()):
        for value in values:
            widget.controls[control].value = value
            times.append(widget.seconds)
    return times


def main(argv):
    rev = "7d2eaf4"  # the commit before the redraw work
    rounds = 3
    if "--base" in argv:
        rev = argv[argv.index("--base") + 1]
    if "--rounds" in argv:
        rounds = int(argv[argv.index("--rounds") + 1])
    names = [a for a in argv if a in CASES]
    for name in names:
        module, build, prior, control, values = CASES[name]
        with contextlib.redirect_stdout(io.StringIO()):
            widgets = {"before": build(old_module(module, rev)), "after": build(new_module(module))}
            for widget in widgets.values():
                for key, value in prior.items():
                    widget.controls[key].value = value
        times = {"before": [], "after": []}
        for r in range(rounds):
            for label, widget in widgets.items():
                moves = values if values is not None else fresh_values(widget, control, 3, r)
                times[label] += time_moves(widget, control, moves)
        before, after = statistics.median(times["before"]), statistics.median(times["after"])
        print(f"{name:16s} before {before * 1000:7.1f} ms  after {after * 1000:7.1f} ms  "
              f"ratio {after / before:.2f}  (median of {len(times['after'])} moves)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
