"""Drawing label maps: colour a mask (with a legend), overlay it on an image, and show
image / ground truth / prediction side by side.

The array functions (``palette``, ``colorize``, ``overlay``, ``to_hwc``) need only NumPy; the
``show_*`` functions draw with matplotlib (imported when called) and return the figure or axes.
Images may be (3, H, W) as the data sets store them, (H, W, 3), or grey (H, W).
"""
from __future__ import annotations

import numpy as np

from ..autograd import as_array

__all__ = ["palette", "colorize", "overlay", "to_hwc", "show_mask", "show_overlay", "show_predictions"]

IGNORE_COLOUR = (1.0, 1.0, 1.0)


def palette(num_classes: int) -> np.ndarray:
    """(K, 3) float32 colours in [0, 1]: black background, then well-separated colours.

    PASCAL VOC's colour map: the bits of the class index are spread over the high bits of R, G, B,
    so neighbouring indices get very different colours and the map never runs out.
    """
    if int(num_classes) < 1:
        raise ValueError(f"palette: num_classes must be >= 1, got {num_classes!r}")
    colours = np.zeros((int(num_classes), 3), np.int64)
    for c in range(int(num_classes)):
        index, shift = c, 7
        while index:
            for channel in range(3):
                colours[c, channel] |= ((index >> channel) & 1) << shift
            index >>= 3
            shift -= 1
    return (colours / 255.0).astype(np.float32)


def _labels(op: str, mask) -> np.ndarray:
    """``mask`` (ndarray or Tensor) as an (H, W) int64 label map; ``op`` names the caller in errors."""
    mask = as_array(mask)
    if mask.ndim != 2 or mask.dtype.kind not in "iub":
        raise ValueError(f"{op}: mask must be an (H, W) integer label map, got {mask.dtype} {mask.shape}")
    return mask.astype(np.int64)


def colorize(mask, num_classes: int | None = None, colours=None,
             ignore_index: int | None = None) -> np.ndarray:
    """(H, W, 3) float32 picture of an (H, W) label map; ignore_index pixels are white."""
    mask = _labels("colorize", mask)
    ignored = np.zeros(mask.shape, bool) if ignore_index is None else mask == ignore_index
    largest = int(mask[~ignored].max()) if (~ignored).any() else 0
    if colours is None:
        colours = palette(max(num_classes or 0, largest + 1))
    colours = np.asarray(colours, np.float32)
    if (mask[~ignored] < 0).any() or largest >= len(colours):
        raise ValueError(f"colorize: mask labels must lie in [0, {len(colours)}) or be ignore_index, "
                         f"found {largest if largest >= len(colours) else mask[~ignored].min()}")
    out = colours[np.where(ignored, 0, mask)]
    out[ignored] = IGNORE_COLOUR
    return out


def to_hwc(image) -> np.ndarray:
    """An image as (H, W, 3) float32 for imshow, from (3, H, W), (H, W, 3) or grey (H, W)."""
    image = as_array(image).astype(np.float32, copy=False)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = image.transpose(1, 2, 0)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"to_hwc: image must be (3, H, W), (H, W, 3) or (H, W), got shape {image.shape}")
    return np.repeat(image, 3, axis=2) if image.shape[-1] == 1 else image


def overlay(image, mask, alpha: float = 0.5, num_classes: int | None = None,
            show_background: bool = False, ignore_index: int | None = None) -> np.ndarray:
    """(H, W, 3) blend (1 - alpha) image + alpha colour, on labelled pixels (and background too
    with ``show_background``)."""
    picture, labels = to_hwc(image), _labels("overlay", mask)
    if picture.shape[:2] != labels.shape:
        raise ValueError(f"overlay: mask shape {labels.shape} must match the image's {picture.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay: alpha must lie in [0, 1], got {alpha!r}")
    colours = colorize(labels, num_classes, ignore_index=ignore_index)
    painted = (labels != 0) if not show_background else np.ones(labels.shape, bool)
    if ignore_index is not None:
        painted &= labels != ignore_index
    out = picture.copy()
    out[painted] = (1 - alpha) * picture[painted] + alpha * colours[painted]
    return np.clip(out, 0.0, 1.0)


def _legend(ax, class_names, present, colours) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[c], edgecolor="0.5", label=class_names[c]) for c in present]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  frameon=False)


def _names(class_names, num_classes):
    return list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]


def _show(ax, picture, present, class_names, num_classes, title):
    """Draw ``picture`` on ``ax`` (the current axes if None) with a legend of the classes ``present``."""
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    ax.imshow(picture, interpolation="nearest")
    _legend(ax, _names(class_names, num_classes), present, palette(num_classes))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_mask(mask, class_names=None, ax=None, title: str | None = None, ignore_index: int | None = None):
    """Draw a coloured label map with a legend of the classes it contains; returns the axes."""
    labels = _labels("show_mask", mask)
    num_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    present = [int(c) for c in np.unique(labels) if c != ignore_index and c < num_classes]
    return _show(ax, colorize(labels, num_classes, ignore_index=ignore_index), present, class_names,
                 num_classes, title)


def show_overlay(image, mask, class_names=None, alpha: float = 0.5, ax=None, title: str | None = None):
    """Draw the image with its mask blended on top, and a legend; returns the axes."""
    labels = _labels("show_overlay", mask)
    num_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    present = [int(c) for c in np.unique(labels) if c > 0]
    return _show(ax, overlay(image, labels, alpha, num_classes), present, class_names, num_classes, title)


def show_predictions(images, truths, predictions, class_names=None, max_rows: int = 4,
                     ignore_index: int | None = None):
    """A figure with one row per sample: image | ground truth | prediction (with per-image mIoU).

    images (N, 3, H, W); truths (N, H, W); predictions (N, H, W) labels or (N, K, H, W) scores.
    """
    import matplotlib.pyplot as plt

    from ..metrics import mean_iou

    truths = as_array(truths)
    predictions = as_array(predictions)
    if predictions.ndim == truths.ndim + 1:
        predictions = predictions.argmax(axis=1)
    largest = int(max(truths.max(), predictions.max()))
    num_classes = len(class_names) if class_names is not None else largest + 1
    rows = min(len(truths), max_rows)
    fig, axes = plt.subplots(rows, 3, figsize=(9.5, 3 * rows), squeeze=False)
    for i in range(rows):
        axes[i, 0].imshow(to_hwc(images[i]))
        axes[i, 0].set_axis_off()
        axes[i, 0].set_title("image" if i == 0 else "")
        show_mask(truths[i], class_names, axes[i, 1], "ground truth" if i == 0 else None, ignore_index)
        score = mean_iou(predictions[i], truths[i], max(num_classes, 2), ignore_index)
        show_mask(predictions[i], class_names, axes[i, 2], f"prediction (mIoU {score:.2f})", ignore_index)
    fig.tight_layout()
    return fig
