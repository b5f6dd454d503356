"""minseg against torch: ``python -m benchmarks`` (see __main__.py). minseg is imported first, so that its
quiet worker-thread settings (minseg/threads.py) are in place before NumPy loads OpenBLAS."""
import minseg  # noqa: F401
