"""Training and evaluation of the segmentation models (minseg by default, torch via a backend).

    from minseg.training import fit, evaluate, save_checkpoint, load_checkpoint
    history = fit(model, DigitScenes(512), steps=300, optimizer='adam', lr=1e-3)
    print(evaluate(model, DigitScenes(128, split='val'))['summary'])
"""
from .checkpoint import load_checkpoint, read_header, save_checkpoint
from .instances import InstanceBatches, evaluate_masks, instance_loss
from .loop import (eval_forward, evaluate, fit, make_optimizer, median_frequency_weights, predict,
                   segmentation_loss)

__all__ = ["fit", "evaluate", "predict", "eval_forward", "make_optimizer", "segmentation_loss",
           "median_frequency_weights",
           "save_checkpoint", "load_checkpoint", "read_header", "InstanceBatches", "instance_loss", "evaluate_masks"]
