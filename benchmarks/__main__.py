"""``python -m benchmarks [--only TEXT] [--repeats N]``: every bench_*.py case, one table of ratios."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import benchmarks
from benchmarks.harness import format_table, run_case, same_threads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", default="", help="run only cases whose group or name contains this")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (median taken)")
    args = parser.parse_args(argv)
    threads = same_threads()
    print(f"threads: {threads} (torch, BLAS and Numba alike); ratio = minseg time / torch time\n")
    rows = []
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for case in module.cases():
            if args.only and args.only not in case.group and args.only not in case.name:
                continue
            if args.repeats:
                case.repeats = args.repeats
            rows.append(run_case(case))
            print(f"  done: {case.group} / {case.name}", file=sys.stderr)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
