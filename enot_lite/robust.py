"""The robustness suite: `fit` with only data passed, on a family of pairs it was not tuned on.

    python -m enot_lite.bench --suite robust [--seed S]     # every pair once, at fit's defaults
    python -m enot_lite.bench --suite budget [--seed S]     # 2k / 5k / 20k / 50k steps per pair

Gaussian pairs (`benchmark.gaussian`, pair seed S) with d in {2, 8, 16, 32}, covariance condition
numbers {1, 10, 100}, scales {1e-3, 1, 1e3} and mean gaps {0, 5}, and the Mix3toMix10 pairs for
D = 2 ... 64.  Targets for `fit`'s defaults (wall time includes compilation): L2-UVP <= 0.5 % at
condition <= 10 and <= 1 % at condition 100 for d <= 16, within 30 s per pair; d = 32 and the W2
pairs are reported.  The budget table checks that more steps never make the default fit worse.
"""
from __future__ import annotations

import csv
import dataclasses
import itertools
import os
import time

import jax

import enot_lite
from enot_lite import benchmark

DIMS, CONDITIONS, SCALES, GAPS = (2, 8, 16, 32), (1, 10, 100), (1e-3, 1.0, 1e3), (0.0, 5.0)
W2_DIMS = (2, 4, 8, 16, 32, 64)
BUDGETS = (2000, 5000, 20000, 50000)
SECONDS = 30.0


def target(dim, condition):
    """The L2-UVP (%) the defaults must reach on a Gaussian pair, or None where it is reported only."""
    if dim > 16:
        return None
    return 0.5 if condition <= 10 else 1.0


@dataclasses.dataclass
class Result:
    pair: str
    dim: int
    condition: float | None
    scale: float | None
    gap: float | None
    steps: int
    l2_uvp: float
    wall_s: float
    target: float | None
    passed: bool | None  # None: no target


def gaussian_pairs(seed):
    for dim, condition, scale, gap in itertools.product(DIMS, CONDITIONS, SCALES, GAPS):
        yield benchmark.gaussian(dim, seed, condition=condition, scale=scale, gap=gap), dict(
            condition=condition, scale=scale, gap=gap)


def w2_pairs():
    for dim in W2_DIMS:
        yield benchmark.mix3tomix10(dim), dict(condition=None, scale=None, gap=None)


def run_one(pair, about, seed, steps=None):
    """`fit` with only data passed (and `steps` when given) on `pair`: one `Result`."""
    start = time.perf_counter()
    defaults = steps is None  # the targets are for fit's defaults; other budgets are compared with each other
    kwargs = {} if defaults else {"steps": steps}
    try:
        result = enot_lite.fit(pair.sample_source, pair.sample_target, seed=seed, progress=False, **kwargs)
        uvp = benchmark.l2_uvp(result.transport, pair)
        steps = result.settings["steps"]
    except enot_lite.DivergenceError:
        uvp, steps = float("inf"), steps or 0
    wall = time.perf_counter() - start
    jax.clear_caches()  # every pair compiles its own programs: keep a long suite's memory flat
    goal = target(pair.dim, about["condition"]) if about["condition"] is not None and defaults else None
    passed = None if goal is None else bool(uvp <= goal and wall <= SECONDS)
    return Result(pair.name, pair.dim, **about, steps=steps, l2_uvp=uvp, wall_s=wall, target=goal, passed=passed)


def robust(seed, dims=None):
    """Every pair of the suite once (of dimension in `dims`, if given), at fit's defaults (a
    generator of `Result`s)."""
    for pair, about in itertools.chain(gaussian_pairs(seed), w2_pairs()):
        if dims is None or pair.dim in dims:
            yield run_one(pair, about, seed)


def budget(seed, dims=None):
    """Every budget of `BUDGETS` on one Gaussian pair per (d, condition) (gap 5, scale 1) and on
    every W2 pair (of dimension in `dims`, if given; a generator of `Result`s)."""
    pairs = [(benchmark.gaussian(d, seed, condition=c, gap=5.0), dict(condition=c, scale=1.0, gap=5.0))
             for d, c in itertools.product(DIMS, CONDITIONS)] + list(w2_pairs())
    for pair, about in pairs:
        if dims is not None and pair.dim not in dims:
            continue
        for steps in BUDGETS:
            yield run_one(pair, about, seed, steps)


HEAD = f"{'pair':40s} {'D':>3s} {'steps':>6s} {'L2-UVP%':>8s} {'wall s':>7s} {'target%':>8s}"


def print_row(r):
    goal = "" if r.target is None else f"{r.target:8.2f}"
    mark = {True: "ok", False: "FAIL", None: ""}[r.passed]
    print(f"{r.pair:40s} {r.dim:3d} {r.steps:6d} {r.l2_uvp:8.3f} {r.wall_s:7.1f} {goal:>8s} {mark}", flush=True)


def print_budget(rows, tolerance=1.25):
    """One line per pair: L2-UVP at each budget, and whether it never grew by more than
    `tolerance` (seed noise) from one budget to the next."""
    print(f"{'pair':40s} " + " ".join(f"{b:>8d}" for b in BUDGETS) + "  non-increasing")
    for name in dict.fromkeys(r.pair for r in rows):
        uvp = [r.l2_uvp for r in rows if r.pair == name]
        ok = all(b <= tolerance * a for a, b in zip(uvp, uvp[1:]))
        print(f"{name:40s} " + " ".join(f"{u:8.3f}" for u in uvp) + f"  {'yes' if ok else 'NO'}", flush=True)


def summary(rows):
    checked = [r for r in rows if r.passed is not None]
    failed = [r for r in checked if not r.passed]
    print(f"{len(checked) - len(failed)} of {len(checked)} pairs with a target met it"
          + (f"; failed: {', '.join(r.pair for r in failed)}" if failed else ""))


def write_csv(rows, path):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in dataclasses.fields(Result)])
        writer.writeheader()
        writer.writerows(dataclasses.asdict(r) for r in rows)


def main(suite, seed, out, dims=None):
    """Run `suite` ("robust" or "budget"), on the pairs of dimension in `dims` if given,
    printing each row as it finishes, then the summary; writes OUT/<suite>.csv."""
    print(HEAD)
    print("-" * len(HEAD))
    rows = []
    for row in (robust(seed, dims) if suite == "robust" else budget(seed, dims)):
        print_row(row)
        rows.append(row)
        write_csv(rows, os.path.join(out, f"{suite}.csv"))  # after every row: long runs keep what finished
    print()
    if suite == "robust":
        summary(rows)
    else:
        print_budget(rows)
    print(f"wrote {os.path.join(out, f'{suite}.csv')}")
    return rows
