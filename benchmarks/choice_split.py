"""Compare variants of a preset's model config on the CHOICE split (never val).

Each variant trains exactly as ``train_models --save-weights`` trains the preset (same scenes,
settings and seed; benchmarks/pretrained_weights.py) for ``--steps`` steps, and prints its choice
mIoU curve. Used to choose the shipped DeepLab v3+'s output stride:

    .venv/bin/python -m benchmarks.choice_split deeplabv3plus --steps 2400 output_stride=16 output_stride=8

A variant is ``key=value`` pairs joined by commas (values are Python literals), e.g.
``output_stride=8,low_level_width=48``.
"""
from __future__ import annotations

import argparse
import ast
import json
import re


def parse_variant(text: str) -> dict:
    """'a=1,b=(2, 3)' -> {'a': 1, 'b': (2, 3)}."""
    pairs = {}
    for item in filter(None, re.split(r",(?=\s*\w+\s*=)", text)):  # commas before the next key
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"choice_split: a variant is key=value[,key=value], got {text!r}")
        pairs[key.strip()] = ast.literal_eval(value.strip())
    return pairs


def choice_curve(preset: str, variant: dict, steps: int, train: int, choice: int) -> dict:
    """Train preset with its config updated by ``variant``; its choice curve and final choice score."""
    from benchmarks import pretrained_weights
    from minseg.training import presets

    class_name, config, fit = presets.CPU[preset]
    saved = presets.CPU[preset]
    presets.CPU[preset] = (class_name, dict(config, **variant), fit)
    try:
        options = dict(train=train, choice=choice, val=1, batch_size=16, steps=steps, minutes=0, seed=0,
                       command="choice_split", note="")
        record, _ = pretrained_weights.train_seed(preset, 0, options)
    finally:
        presets.CPU[preset] = saved
    return {"variant": variant, "steps": steps, "minutes": record["minutes"], "curve": record["choice_curve"],
            "choice": record["scores"]["choice"], "parameters": record["parameters"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("variants", nargs="+", help="key=value[,key=value] updates of the preset's config")
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--choice", type=int, default=200)
    args = parser.parse_args(argv)
    for text in args.variants:
        print(json.dumps(choice_curve(args.preset, parse_variant(text), args.steps, args.train, args.choice)))


if __name__ == "__main__":
    main()
