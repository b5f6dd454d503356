"""``python -m benchmarks [--only TEXT] [--repeats N] [--readme README.md]``: every bench_*.py case, one
table of ratios (with ``--readme``, also written into that README's benchmark block)."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import benchmarks
from benchmarks.harness import format_table, run_case, same_threads
from benchmarks.readme_table import readme_problem, write_readme
from minseg.allocator import keep_freed_memory


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", default="", help="run only cases whose group or name contains this")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (median taken)")
    parser.add_argument("--readme", default="", help="also write the table into this README's benchmark block")
    args = parser.parse_args(argv)
    if args.readme and readme_problem(args.readme):
        parser.error(f"--readme {readme_problem(args.readme)}")
    threads = same_threads()
    # both libraries' arrays reuse freed memory instead of being page-faulted in (minseg/allocator.py)
    kept = keep_freed_memory()
    print(f"threads: {threads} (torch, BLAS and Numba alike); freed memory kept for reuse: {'yes' if kept else 'no'}; "
          "ratio = minseg time / torch time\n")
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
    if args.readme:
        write_readme(args.readme, rows, threads)
        print(f"\nwritten into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
