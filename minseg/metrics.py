"""Segmentation metrics on label maps (NumPy, no autograd).

Every metric starts from the confusion matrix ``C`` (rows = target class, columns = predicted
class), so a whole data set can be accumulated pixel count by pixel count and scored at the end:

- IoU / Jaccard of class c:  |A ∩ B| / |A ∪ B| = C[c,c] / (row_c + col_c - C[c,c])
- Dice of class c:            2|A ∩ B| / (|A| + |B|) = 2 C[c,c] / (row_c + col_c)
  (so Dice = 2 IoU / (1 + IoU) class by class)
- pixel accuracy ("global accuracy" in the SegNet tables): trace(C) / sum(C)
- class accuracy ("class average"): mean over classes present in the target of C[c,c] / row_c
- boundary F1 (the BF score): precision / recall of boundary pixels matched within a tolerance

A class absent from both prediction and target has no IoU or Dice (nan), and means skip it.
``pred`` may be a label map (same shape as ``target``) or class scores: (N, K, ...) logits, or
(K, H, W) for an (H, W) target; then the argmax over the class axis is taken. Pixels whose target
equals ``ignore_index`` are left out of every count.
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from .autograd import as_array

__all__ = ["confusion_matrix", "iou", "mean_iou", "dice", "pixel_accuracy", "class_accuracy",
           "boundary_f1", "SegmentationMetrics", "box_iou", "panoptic_quality"]


# ----- argument checks ------------------------------------------------------------------------
def _check_num_classes(op: str, num_classes) -> int:
    if not isinstance(num_classes, (numbers.Integral, np.integer)) or isinstance(num_classes, bool) \
            or num_classes < 2:
        raise ValueError(f"{op}: num_classes must be an int >= 2, got {num_classes!r}")
    return int(num_classes)


def _labels(op: str, pred, target, num_classes, ignore_index):
    """Checked (pred, target, valid) arrays of one shape; ``valid`` marks the pixels to count."""
    num_classes = _check_num_classes(op, num_classes)
    pred, target = as_array(pred), as_array(target)
    if pred.ndim == target.ndim + 1:  # scores: (K, H, W) for an (H, W) target, else (N, K, ...)
        pred = pred.argmax(axis=0 if (pred.ndim == 3 and target.ndim == 2) else 1)
    if pred.shape != target.shape:
        raise ValueError(f"{op}: pred must have the target's shape {target.shape} "
                         f"(or (N, K, ...) scores), got shape {pred.shape}")
    for name, a in (("pred", pred), ("target", target)):
        if a.dtype.kind not in "iub":
            raise ValueError(f"{op}: {name} must hold integer class labels, got dtype {a.dtype}")
    valid = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    everything = ignore_index is None or valid.all()
    for name, a in (("target", target), ("pred", pred)):
        counted = a if everything else np.where(valid, a, 0)
        if counted.size and (counted.min() < 0 or counted.max() >= num_classes):
            found = counted[(counted < 0) | (counted >= num_classes)].flat[0]
            raise ValueError(f"{op}: {name} labels must lie in [0, {num_classes}) "
                             f"(or be ignore_index={ignore_index}), found {found}")
    return pred.astype(np.int64, copy=False), target.astype(np.int64, copy=False), valid


# ----- the confusion matrix and the scores read from it ---------------------------------------
def confusion_matrix(pred, target, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """(K, K) int64 counts: entry [t, p] = number of pixels of target class t predicted as p."""
    return _confusion("confusion_matrix", pred, target, num_classes, ignore_index)


def _confusion(op, pred, target, num_classes, ignore_index) -> np.ndarray:
    """Check the inputs (``op`` names the caller in errors), then count them."""
    return _count(*_labels(op, pred, target, num_classes, ignore_index), num_classes)


def _count(pred, target, valid, num_classes) -> np.ndarray:
    """The (K, K) counts of checked int64 label maps, over the pixels marked ``valid``."""
    codes = target * num_classes + pred
    if not valid.all():
        codes = codes[valid]
    counts = np.bincount(codes.ravel(), minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def confusion_matrix_reference(pred, target, num_classes: int, ignore_index: int | None = None):
    """The same counts with a plain loop over pixels (readable; used by the tests)."""
    pred, target, valid = _labels("confusion_matrix", pred, target, num_classes, ignore_index)
    counts = np.zeros((num_classes, num_classes), np.int64)
    for t, p, keep in zip(target.ravel(), pred.ravel(), valid.ravel()):
        if keep:  # C[t, p] += 1 for every counted pixel
            counts[t, p] += 1
    return counts


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, nan where the denominator is 0 (the class never appears)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    out = np.full(np.shape(denominator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class |A∩B| / |A∪B| from a confusion matrix (nan for classes absent from both)."""
    tp = np.diag(cm)
    return _ratio(tp, cm.sum(0) + cm.sum(1) - tp)


def dice_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class 2|A∩B| / (|A|+|B|) from a confusion matrix (nan for classes absent from both)."""
    return _ratio(2 * np.diag(cm), cm.sum(0) + cm.sum(1))


def class_recall_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class accuracy C[c,c] / row_c (nan for classes absent from the target)."""
    return _ratio(np.diag(cm), cm.sum(1))


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    return float(np.nan) if np.isnan(values).all() else float(np.nanmean(values))


def iou(pred, target, num_classes: int, ignore_index: int | None = None, op: str = "iou") -> np.ndarray:
    """Per-class IoU (Jaccard index), shape (K,); nan where a class is in neither map."""
    return iou_from_confusion(_confusion(op, pred, target, num_classes, ignore_index))


def mean_iou(pred, target, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean of the per-class IoU over the classes that appear (in prediction or target)."""
    return _nanmean(iou(pred, target, num_classes, ignore_index, op="mean_iou"))


def dice(pred, target, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Per-class Dice coefficient (F1), shape (K,); nan where a class is in neither map."""
    return dice_from_confusion(_confusion("dice", pred, target, num_classes, ignore_index))


def pixel_accuracy(pred, target, num_classes: int, ignore_index: int | None = None) -> float:
    """Fraction of counted pixels whose label is right (SegNet's "global accuracy")."""
    cm = _confusion("pixel_accuracy", pred, target, num_classes, ignore_index)
    return float(_ratio(np.trace(cm), cm.sum()))


def class_accuracy(pred, target, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean over target classes of the fraction of their pixels found (SegNet's "class average")."""
    return _nanmean(class_recall_from_confusion(_confusion("class_accuracy", pred, target, num_classes,
                                                           ignore_index)))


# ----- boundary F1 ----------------------------------------------------------------------------
def label_boundaries(labels: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels with a 4-neighbour of another label; the image edge is no boundary, and with
    ``valid`` only pairs of two valid pixels count (an ignored region draws no boundary)."""
    edge = np.zeros(labels.shape, bool)
    vertical = labels[..., 1:, :] != labels[..., :-1, :]
    horizontal = labels[..., :, 1:] != labels[..., :, :-1]
    if valid is not None:
        vertical &= valid[..., 1:, :] & valid[..., :-1, :]
        horizontal &= valid[..., :, 1:] & valid[..., :, :-1]
    edge[..., 1:, :] |= vertical
    edge[..., :-1, :] |= vertical
    edge[..., :, 1:] |= horizontal
    edge[..., :, :-1] |= horizontal
    return edge


def _matched(points: np.ndarray, other: np.ndarray, tolerance: float) -> int:
    """How many ``points`` lie within ``tolerance`` pixels (Euclidean) of a pixel of ``other``."""
    if not other.any():
        return 0
    distance = ndimage.distance_transform_edt(~other)
    return int((distance[points] <= tolerance).sum())


def _boundary_f1_image(pred, target, valid, num_classes, tolerance) -> np.ndarray:
    """Per-class BF of one (H, W) image: F1 of boundary precision and recall; nan if class absent."""
    pred_edge, target_edge = label_boundaries(pred, valid), label_boundaries(target, valid)
    scores = np.full(num_classes, np.nan)
    for c in range(num_classes):
        in_pred, in_target = (pred == c) & valid, (target == c) & valid
        if not (in_pred.any() or in_target.any()):
            continue
        bp, bt = pred_edge & in_pred, target_edge & in_target
        n_p, n_t = bp.sum(), bt.sum()
        if n_p == 0 and n_t == 0:  # the class fills its region without any boundary: both agree
            scores[c] = 1.0 if (in_pred == in_target).all() else 0.0
            continue
        precision = _matched(bp, bt, tolerance) / n_p if n_p else 0.0
        recall = _matched(bt, bp, tolerance) / n_t if n_t else 0.0
        total = precision + recall
        scores[c] = 2 * precision * recall / total if total > 0 else 0.0
    return scores


def boundary_f1(pred, target, num_classes: int, tolerance: float = 2.0,
                ignore_index: int | None = None, per_class: bool = False):
    """The BF score: per image and class, boundary pixels of the prediction count as correct when
    a target boundary pixel of that class lies within ``tolerance`` pixels (precision), and vice
    versa (recall); BF = 2PR / (P + R). Returns the mean over images of the mean over the classes
    present in each image, or with ``per_class`` the per-class mean over images (nan if never present).

    pred / target: (H, W) or (N, H, W) label maps (or scores, see the module docstring).
    """
    pred, target, valid = _labels("boundary_f1", pred, target, num_classes, ignore_index)
    if target.ndim not in (2, 3):
        raise ValueError(f"boundary_f1: target must be (H, W) or (N, H, W), got shape {target.shape}")
    if not isinstance(tolerance, numbers.Real) or tolerance < 0:
        raise ValueError(f"boundary_f1: tolerance must be a number of pixels >= 0, got {tolerance!r}")
    if target.ndim == 2:
        pred, target, valid = pred[None], target[None], valid[None]
    scores = np.stack([_boundary_f1_image(p, t, v, num_classes, tolerance)
                       for p, t, v in zip(pred, target, valid)])
    if per_class:
        return np.array([_nanmean(column) for column in scores.T])
    return _nanmean([_nanmean(row) for row in scores])


# ----- accumulation over a data set -----------------------------------------------------------
class SegmentationMetrics:
    """Accumulates a confusion matrix (and optionally BF scores) batch by batch.

        metrics = SegmentationMetrics(11, class_names=CLASSES)
        for images, masks in data.batches(32):
            metrics.update(model(images), masks)
        print(metrics.summary())
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None, class_names=None,
                 boundary_tolerance: float | None = None):
        self.num_classes = _check_num_classes("SegmentationMetrics", num_classes)
        if class_names is not None and len(class_names) != self.num_classes:
            raise ValueError(f"SegmentationMetrics: class_names must have num_classes={num_classes} "
                             f"entries, got {len(class_names)}")
        default_names = [str(c) for c in range(self.num_classes)]
        self.class_names = list(class_names) if class_names is not None else default_names
        self.ignore_index = ignore_index
        self.boundary_tolerance = boundary_tolerance
        self.reset()

    def reset(self) -> None:
        """Forget every batch added so far."""
        self.confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        self._bf_scores = []

    def update(self, pred, target) -> None:
        """Add one batch: label maps or (N, K, H, W) scores, and target labels."""
        p, t, v = _labels("SegmentationMetrics", pred, target, self.num_classes, self.ignore_index)
        self.confusion += _count(p, t, v, self.num_classes)
        if self.boundary_tolerance is not None:
            p, t, v = (a.reshape((-1,) + a.shape[-2:]) for a in (p, t, v))
            self._bf_scores += [_boundary_f1_image(*args, self.num_classes, self.boundary_tolerance)
                                for args in zip(p, t, v)]

    def compute(self) -> dict:
        """All scores so far: scalars and per-class arrays (nan for classes never seen)."""
        cm = self.confusion
        result = {"pixel_accuracy": float(_ratio(np.trace(cm), cm.sum())),
                  "class_accuracy": _nanmean(class_recall_from_confusion(cm)),
                  "mean_iou": _nanmean(iou_from_confusion(cm)),
                  "mean_dice": _nanmean(dice_from_confusion(cm)),
                  "iou": iou_from_confusion(cm), "dice": dice_from_confusion(cm),
                  "class_recall": class_recall_from_confusion(cm)}
        if self.boundary_tolerance is not None:
            scores = np.array(self._bf_scores).reshape(-1, self.num_classes)
            result["boundary_f1"] = _nanmean([_nanmean(row) for row in scores]) if len(scores) else np.nan
        return result

    def summary(self) -> str:
        """A plain-text table: one row per class (IoU, Dice, accuracy, pixels), then the means."""
        r = self.compute()
        width = max(8, *(len(n) for n in self.class_names))
        lines = [f"{'class':<{width}}  {'IoU':>6}  {'Dice':>6}  {'acc':>6}  {'pixels':>9}"]
        lines.append("-" * len(lines[0]))

        def cell(v):
            return f"{v:6.3f}" if np.isfinite(v) else f"{'-':>6}"

        for c, name in enumerate(self.class_names):
            lines.append(f"{name:<{width}}  {cell(r['iou'][c])}  {cell(r['dice'][c])}  "
                         f"{cell(r['class_recall'][c])}  {int(self.confusion[c].sum()):>9d}")
        lines.append("-" * len(lines[0]))
        lines.append(f"{'mean':<{width}}  {cell(r['mean_iou'])}  {cell(r['mean_dice'])}  "
                     f"{cell(r['class_accuracy'])}  {int(self.confusion.sum()):>9d}")
        lines.append(f"pixel accuracy {r['pixel_accuracy']:.4f}")
        if "boundary_f1" in r:
            lines.append(f"boundary F1 (tolerance {self.boundary_tolerance} px) {r['boundary_f1']:.4f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SegmentationMetrics(num_classes={self.num_classes}, pixels={int(self.confusion.sum())})"


# ----- instances: boxes and panoptic segments -------------------------------------------------

def _boxes(op: str, name: str, boxes) -> np.ndarray:
    """A (K, 4) float64 array of boxes (an empty input gives (0, 4))."""
    array = np.asarray(as_array(boxes), np.float64)
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{op}: {name} must be a (K, 4) array of [x1, y1, x2, y2] rows, got shape {array.shape}")
    return array


def box_iou(boxes1, boxes2) -> np.ndarray:
    """(K1, K2) IoU of every box in ``boxes1`` (K1, 4) with every box in ``boxes2`` (K2, 4), rows
    [x1, y1, x2, y2] in pixel-edge coordinates (area (x2 - x1)(y2 - y1)), as torchvision.ops.box_iou."""
    a, b = (_boxes("box_iou", name, boxes) for name, boxes in (("boxes1", boxes1), ("boxes2", boxes2)))
    area_a, area_b = ((x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1]) for x in (a, b))
    # the intersection is the box between the larger top-left and the smaller bottom-right corner
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = width * height
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match_segments(pred: np.ndarray, target: np.ndarray, label_divisor: int, counts: dict) -> None:
    """Add one image's matches to ``counts`` {class: [TP, FP, FN, sum of matched IoUs]}.

    A predicted and a true segment match when they have the same class and IoU > 0.5; at most one
    such pair exists per segment (two segments of one map cannot both cover over half of a third).
    """
    pair_ids, inter = np.unique(np.stack([target.ravel(), pred.ravel()]), axis=1, return_counts=True)
    areas = [dict(zip(*np.unique(m, return_counts=True))) for m in (target, pred)]
    matched = (set(), set())
    for (t, p), overlap in zip(pair_ids.T, inter):
        if t // label_divisor != p // label_divisor:
            continue
        iou = overlap / (areas[0][t] + areas[1][p] - overlap)
        if iou > 0.5:
            row = counts.setdefault(int(t // label_divisor), [0, 0, 0, 0.0])
            row[0] += 1
            row[3] += float(iou)
            matched[0].add(t), matched[1].add(p)
    for column, side in ((2, 0), (1, 1)):  # unmatched true segments are FN, unmatched predicted ones FP
        for segment in areas[side]:
            if segment not in matched[side]:
                counts.setdefault(int(segment // label_divisor), [0, 0, 0, 0.0])[column] += 1


def panoptic_quality(pred, target, label_divisor: int = 1000) -> dict:
    """Panoptic quality (Kirillov et al. 2019) of panoptic maps ``pred`` against ``target``.

    Maps: (H, W) or (N, H, W) ints, segment id = class * label_divisor + instance (stuff: one
    segment per class, e.g. instance 0). Per class c, with TP the matched pairs (same class,
    IoU > 0.5), FP the unmatched predicted and FN the unmatched true segments, summed over images:
    SQ_c = sum of TP IoUs / |TP|, RQ_c = |TP| / (|TP| + |FP|/2 + |FN|/2), PQ_c = SQ_c * RQ_c.
    Returns 'pq', 'sq', 'rq' (means over the classes that occur), and 'classes', 'per_class_pq',
    'per_class_sq', 'per_class_rq', 'tp', 'fp', 'fn' (arrays in the order of 'classes').
    No void label: every pixel counts.
    """
    pred, target = as_array(pred), as_array(target)
    if pred.shape != target.shape or target.ndim not in (2, 3):
        raise ValueError(f"panoptic_quality: pred and target must be (H, W) or (N, H, W) maps of one shape, "
                         f"got {pred.shape} and {target.shape}")
    for name, a in (("pred", pred), ("target", target)):
        if a.dtype.kind not in "iu" or (a.size and a.min() < 0):
            raise ValueError(f"panoptic_quality: {name} must hold segment ids >= 0 (ints), got dtype {a.dtype}")
    if not isinstance(label_divisor, (numbers.Integral, np.integer)) or label_divisor < 1:
        raise ValueError(f"panoptic_quality: label_divisor must be an int >= 1, got {label_divisor!r}")
    counts: dict = {}
    for p, t in zip(pred.reshape(-1, *pred.shape[-2:]), target.reshape(-1, *target.shape[-2:])):
        _match_segments(p.astype(np.int64), t.astype(np.int64), int(label_divisor), counts)
    classes = np.array(sorted(counts), np.int64)
    tp, fp, fn, iou_sum = (np.array([counts[c][k] for c in classes], np.float64) for k in range(4))
    sq = np.where(tp > 0, iou_sum / np.maximum(tp, 1), 0.0)
    rq = tp / np.maximum(tp + 0.5 * fp + 0.5 * fn, 1e-12)
    pq = sq * rq
    mean = (lambda v: float(v.mean()) if len(v) else float("nan"))
    return {"pq": mean(pq), "sq": mean(sq), "rq": mean(rq), "classes": classes, "per_class_pq": pq,
            "per_class_sq": sq, "per_class_rq": rq, "tp": tp.astype(np.int64), "fp": fp.astype(np.int64),
            "fn": fn.astype(np.int64)}
