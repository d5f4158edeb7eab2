"""Seconds per notebook in a fresh kernel, first with an empty compilation cache, then again with
the cache that first run left (each notebook calls `enot_lite.cache_compilations()` in its first
cell), side by side in one run.

    ENOT_QUICK=1 python benchmarks/notebook_times.py                      # every notebook
    ENOT_QUICK=1 python benchmarks/notebook_times.py notebooks/08_*.ipynb

Each notebook runs as `make test` runs it (`course.execute.execute`: every cell, each exercise's
student version probed first) with its own new cache directory, so the cold run shares nothing
with other notebooks.  It prints a markdown table: cold seconds, warm seconds, their ratio, the
cache's size, and the 1-minute load average before each notebook.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from course import execute, notebooks


def run(path: Path, cache: Path) -> float:
    """The notebook's seconds (as `course.execute` records them) with `cache` as its cache."""
    os.environ["ENOT_CACHE_DIR"] = str(cache)  # the kernel inherits the environment
    return execute.execute(path).metadata["course"]["seconds"]


def main(paths):
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, quick mode: {execute.quick()}, "
          f"{os.cpu_count()} CPUs\n")
    print("| notebook | load | cold cache s | warm cache s | warm / cold | cache MB |")
    print("|---|---|---|---|---|---|")
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            load = os.getloadavg()[0]
            cold, warm = run(path, Path(tmp)), run(path, Path(tmp))
            size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
            print(f"| {path.name[:2]} | {load:.1f} | {cold:.1f} | {warm:.1f} | {warm / cold:.2f} | {size:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main([Path(a).resolve() for a in sys.argv[1:]] or notebooks())
