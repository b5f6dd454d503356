"""Train every minseg model on DigitScenes 64x64 on the CPU and print a results table.

    .venv/bin/python -m benchmarks.train_models                  # all presets, ~4 min each
    .venv/bin/python -m benchmarks.train_models --only fcn8s unet --minutes 2

Each preset (minseg.training.presets.CPU) gets the same data (train split scenes, seed 0), the same
time budget, and a poly schedule whose length is calibrated to fit the budget: a few timed steps
on a throwaway copy give seconds per step, then ``steps = budget / seconds per step``. Semantic
models report the validation mIoU and pixel accuracy; the mask heads report the mean mask IoU of
their masks given ground-truth boxes (RoIAlign vs RoIPool). The table goes to stdout and to
``--out`` (Markdown) plus a .json next to it.

With ``--save-weights`` it makes the weights shipped with the package (minseg.models.pretrained)
instead: each preset trains for a step count fixed by the arguments (``--steps``, or ``--minutes``
times its STEPS_PER_MINUTE; never by wall time, so the run is deterministic given its
arguments), the mask heads once per ``--mask-seeds`` seed, ``--jobs`` presets at a time in
separate one-thread processes; the weights and their records go to ``--weights-dir`` and the
records' table into README.md (see benchmarks/pretrained_weights.py); ``--readme-table`` only
regenerates that table.

    .venv/bin/python -m benchmarks.train_models --save-weights --minutes 1 --jobs 2

Not a bench_*.py on purpose: ``python -m benchmarks`` must not start hour-long training.
One thread per process by default (``--threads``): on a shared 2-core machine, Numba's and BLAS's
thread pools oversubscribe the cores and made training many times slower in our measurements.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

ALL = ("fcn32s", "fcn16s", "fcn8s", "unet", "segnet", "deeplabv3", "deeplabv3plus", "deeplab_largefov",
       "mask_roialign", "mask_roipool", "setr")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_models",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=list(ALL), choices=ALL, metavar="PRESET",
                        help=f"presets to train (default: all of {', '.join(ALL)})")
    parser.add_argument("--minutes", type=float, default=4.0, help="budget per model, calibration and "
                        "training (default 4; evaluation adds a few seconds)")
    parser.add_argument("--steps", type=int, default=None,
                        help="fixed steps instead of the calibrated number (the time budget still caps "
                             "them), for like-for-like comparisons such as RoIAlign vs RoIPool")
    parser.add_argument("--train", type=int, default=1000, help="training scenes (default 1000)")
    parser.add_argument("--val", type=int, default=200, help="validation scenes (default 200)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="Numba/BLAS threads (default 1)")
    parser.add_argument("--out", default="benchmarks/results/train_models.md", help="Markdown table to write")
    weights = parser.add_argument_group("--save-weights: the shipped weights")
    weights.add_argument("--save-weights", action="store_true",
                         help="train for fixed step counts and save weights + records instead of the table")
    weights.add_argument("--choice", type=int, default=200, help="choice scenes (decisions; default 200)")
    weights.add_argument("--mask-seeds", type=int, nargs="+", default=[0, 1, 2],
                         help="seeds of the mask heads (the first is shipped; default 0 1 2)")
    weights.add_argument("--jobs", type=int, default=1, help="presets trained at once, one process each")
    weights.add_argument("--weights-dir", default="minseg/models/weights")
    weights.add_argument("--readme", default="README.md",
                         help="README whose table to regenerate ('' for none)")
    weights.add_argument("--note", default="", help="a note stored in every record")
    weights.add_argument("--readme-table", action="store_true",
                         help="only regenerate README's table from the records in --weights-dir")
    return parser.parse_args(argv)


def _limit_threads(n: int) -> None:
    """Must run before NumPy / Numba are imported."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(n)


def _setup(name, args, train):
    """(model, data source, loss_fn, settings) for preset ``name``; semantic models get
    median-frequency class weights."""
    import minseg as ms
    from minseg import models
    from minseg.training import presets

    class_name, config, settings = presets.preset(name)
    ms.manual_seed(args.seed)
    model = models.create(class_name, num_classes=presets.preset_classes(class_name), **config)
    return (model, *presets.preset_task(model, train, settings))


def _seconds_per_step(name, args, train, steps=4) -> float:
    """Time a few steps on a throwaway copy of the model (after one warm-up step for the JIT)."""
    from minseg.training import fit

    model, source, loss_fn, settings = _setup(name, args, train)
    fit(model, source, 1, batch_size=args.batch_size, loss_fn=loss_fn, progress=False, **settings)
    history = fit(model, source, steps, batch_size=args.batch_size, loss_fn=loss_fn, progress=False,
                  **settings)
    return history["seconds"] / steps


def train_one(name, args, train, val) -> dict:
    """Calibrate, train within the budget, evaluate; one row of the results table."""
    from benchmarks.pretrained_weights import score
    from minseg.training import fit

    started = time.perf_counter()
    if args.steps:
        budget, steps = args.minutes * 60, args.steps
    else:
        per_step = _seconds_per_step(name, args, train)
        budget = args.minutes * 60 - (time.perf_counter() - started)
        steps = max(10, int(budget / per_step))  # fit anneals by time too if the machine slows down
    model, source, loss_fn, settings = _setup(name, args, train)
    history = fit(model, source, steps, batch_size=args.batch_size, loss_fn=loss_fn, seed=args.seed,
                  time_limit=budget, **settings)
    row = {"model": name, "class": type(model).__name__, "steps": history["steps"],
           "train_seconds": round(history["seconds"], 1), "final_loss": round(float(
               sum(history["loss"][-20:]) / len(history["loss"][-20:])), 4),
           "parameters": int(sum(p.data.size for p in model.parameters())),
           "optimizer": settings["optimizer"]}
    row.update(score(model, val))
    row["total_seconds"] = round(time.perf_counter() - started, 1)
    return row


def format_rows(rows) -> str:
    """A Markdown table: one row per model."""
    header = "| model | steps | train s | total s | params | final loss | val mIoU | pixel acc | mask IoU |"
    lines = [header, "|---" + "|---:" * 8 + "|"]

    def cell(row, key):
        return f"{row[key]:.3f}" if key in row else ""

    for r in rows:
        lines.append(f"| {r['model']} | {r['steps']} | {r['train_seconds']} | {r['total_seconds']} | "
                     f"{r['parameters']} | {r['final_loss']:.3f} | {cell(r, 'mean_iou')} | "
                     f"{cell(r, 'pixel_accuracy')} | {cell(r, 'mask_iou')} |")
    return "\n".join(lines)


def _train_seed(job):
    from benchmarks import pretrained_weights

    return pretrained_weights.train_seed(*job)


def save_weights(args, argv) -> int:
    """Train every chosen preset (every mask-head seed), save the weights and records, update README."""
    import concurrent.futures
    import multiprocessing

    from benchmarks import pretrained_weights as pw

    options = dict(vars(args), command="python -m benchmarks.train_models " + " ".join(argv))
    jobs = [(name, seed, options) for name in args.only
            for seed in (args.mask_seeds if name.startswith("mask_") else [args.seed])]
    context = multiprocessing.get_context("spawn")  # children inherit the one-thread environment
    done, failed = {}, []
    with concurrent.futures.ProcessPoolExecutor(max(1, args.jobs), mp_context=context) as pool:
        futures = {pool.submit(_train_seed, job): index for index, job in enumerate(jobs)}
        for future in concurrent.futures.as_completed(futures):  # a failed job loses no other job's result
            index = futures[future]
            name = jobs[index][0]
            try:
                done[index] = future.result()
            except Exception:  # noqa: BLE001 - reported below, and the run's exit status says so
                failed.append(name)
                print(f"{name} (seed {jobs[index][1]}) failed:\n{traceback.format_exc()}", file=sys.stderr,
                      flush=True)
                continue
            print(pw.dumps(done[index][0]), flush=True)
            seeds = [i for i, job in enumerate(jobs) if job[0] == name]
            if all(i in done for i in seeds):  # saved at once: a stopped run keeps it
                results = [done[i] for i in seeds]  # in seed order: the first seed's weights ship
                print(pw.save(pw.merge_seeds(results), results[0][1], args.weights_dir), flush=True)
    if args.readme:
        pw.update_readme(args.readme, pw.records_in(args.weights_dir))
    if failed:
        print(f"failed, not saved: {', '.join(sorted(set(failed)))}", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None) -> int:
    argv = list(argv if argv is not None else sys.argv[1:])
    args = _parse(argv)
    _limit_threads(args.threads)
    if args.readme_table:
        from benchmarks import pretrained_weights

        pretrained_weights.update_readme(args.readme, pretrained_weights.records_in(args.weights_dir))
        return 0
    if args.save_weights:
        return save_weights(args, argv)
    from minseg.data import DigitScenes

    train = DigitScenes(args.train, size=64, split="train", seed=args.seed)
    val = DigitScenes(args.val, size=64, split="val", seed=args.seed)
    rows = []
    for name in args.only:
        rows.append(train_one(name, args, train, val))
        print(json.dumps(rows[-1]), flush=True)
    table = format_rows(rows)
    print(table)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as handle:
            handle.write(f"DigitScenes 64x64, {args.train} train / {args.val} val scenes, "
                         f"{args.minutes} min per model, {args.threads} thread(s)\n\n{table}\n")
        with open(os.path.splitext(args.out)[0] + ".json", "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
