"""Command-line W2 benchmark: ENOT on Mix3toMix10 (or Gaussian) pairs.

    python -m enot_lite.bench --dims 2 4 8 16 --preset quick [--steps N] [--seed S] [--out DIR]
    python -m enot_lite.bench --suite robust                  # fit's defaults on the robustness suite
    python -m enot_lite.bench --sweep tau=0.9,0.99,1 lam=0,0.3,1 --dims 64   # a grid of tau x lambda (x seeds)
    python -m enot_lite.bench --dims 8 --compare w2ot         # ENOT beside the conjugate-problem baselines

(`benchmarks/compare_ott.py` runs the same table side by side with OTT-JAX.)

Prints one row per (solver, D): L2-UVP, cosine, linear-baseline L2-UVP, steps, wall time
(compilation included), steady-state steps/s, GFLOP/s achieved (XLA's cost analysis of
one training step times steps/s) against this machine's measured fp32 matmul peak.
A run that raises `DivergenceError` is a row with L2-UVP inf and the step it diverged at; the
other dimensions still run.  Writes results.csv and l2_uvp.png (L2-UVP vs D, log scale, with published numbers).
With --sweep: trains the grid of the listed values (`enot_lite.sweep`, the others from the preset)
on every D, prints each cell's dual value and L2-UVP (on the cell's evaluation sample) and the
grid's speed, and writes sweep.csv and one heat map of L2-UVP over tau x lambda per D
(sweep_D<d>.png).

`--compare w2ot` also trains the baselines of `enot_lite.baselines` (W2OT's L-BFGS conjugate, the
exact c-transform over the batch, the minimax objective) with the preset's network, batch,
optimiser and steps on the same pair and data, and prints them beside ENOT: milliseconds per
update (steady state), how many times ENOT's, wall time and L2-UVP.  Their GFLOP/s is not
reported (XLA's cost analysis counts a loop body once, and the inner solvers are loops).
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import tempfile
import warnings

import jax
import numpy as np

import enot_lite
from enot_lite import benchmark, checks, grid, robust
from enot_lite.bench.measure import (  # noqa: F401  (all of them are the command line's public names)
    COMPARE, PRESETS, Row, _fit_defaults, configure, evaluate, flops_per_step, matmul_peak, plot, print_side_by_side,
    print_table, run_baselines, run_enot, steady_rate, with_defaults, write_csv)


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(compare=(), prog="python -m enot_lite.bench"):
    """The command line; `compare` names the extra solvers `--compare` may add (see `run`)."""
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="+",
                        help="dimensions (default 2 4 8 16; with --suite, only these dimensions of the suite)")
    parser.add_argument("--pair", choices=["mix3tomix10", "gaussian"], default="mix3tomix10")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    if compare:
        parser.add_argument("--compare", choices=list(compare), help="also run this solver on the same pairs")
    parser.add_argument("--steps", type=int, help="override the preset's number of steps")
    parser.add_argument("--presample", type=int, default=0,
                        help="draw batches from N pre-sampled points (every solver) instead of the samplers")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batches")
    parser.add_argument("--suite", choices=["robust", "budget"],
                        help="instead: fit's defaults on the robustness suite (enot_lite.robust), or at 2k-50k steps")
    parser.add_argument("--sweep", nargs="+", metavar="NAME=V1,V2,...",
                        help="instead: train the grid of these values in one program (names tau, lam, seeds)")
    parser.add_argument("--out", default="bench_out", help="folder for results.csv and l2_uvp.png")
    return parser


SWEEP_AXES = {"tau": "tau", "lam": "lam", "lambda": "lam", "seed": "seeds", "seeds": "seeds"}


def parse_sweep(items):
    """{"tau": (...), "lam": (...), "seeds": (...)} from ["tau=0.9,0.99", "lam=0,1"]; ValueError
    naming the bad item."""
    axes = {}
    for item in items:
        name, sep, values = item.partition("=")
        axis = SWEEP_AXES.get(name.strip().lower())
        if not sep or axis is None:
            raise ValueError(f"--sweep {item}: expected tau=V1,V2,..., lam=... or seeds=...")
        if axis in axes:
            raise ValueError(f"--sweep names {axis} twice")
        kind, (low, high, low_open) = (int, (0, checks.MAX_SEED, False)) if axis == "seeds" else (
            float, {"tau": (0.0, 1.0, True), "lam": (0.0, float("inf"), False)}[axis])
        try:
            parsed = tuple(kind(v) for v in values.split(","))
            for v in parsed:
                checks.number(axis, v, low, high, low_open=low_open, kind=kind)
        except (TypeError, ValueError) as err:
            raise ValueError(f"--sweep {item}: {err}") from None
        if len(set(parsed)) < len(parsed):
            raise ValueError(f"--sweep {item}: repeated values")
        axes[axis] = parsed
    return axes


def parse(parser, argv=None):
    """Parsed and checked arguments: a bad one exits with status 2 and one line (argparse's
    `error`), before anything is measured."""
    args = parser.parse_args(argv)
    suite_dims, args.dims = args.dims, args.dims or [2, 4, 8, 16]
    if args.suite and args.sweep:
        parser.error("--sweep and --suite are two different runs: choose one")
    if args.suite:
        args.dims = suite_dims  # None: the whole suite
        if getattr(args, "compare", None):
            parser.error("--compare runs beside a preset's table, not with --suite")
        if args.steps is not None or args.presample:
            parser.error("--suite runs fit's defaults (and, for budget, its own step counts): drop --steps/--presample")
        return _writable(parser, args)
    if args.steps is not None and not 0 < args.steps <= checks.MAX_STEPS:
        parser.error(f"--steps must be in [1, {checks.MAX_STEPS}], got {args.steps}")
    if not 0 <= args.seed <= checks.MAX_SEED:
        parser.error(f"--seed must be in [0, {checks.MAX_SEED}], got {args.seed}")
    bad = [d for d in args.dims if d < 1 or (args.pair == "mix3tomix10" and d not in benchmark.DIMS)]
    if bad:
        allowed = ", ".join(map(str, benchmark.DIMS)) if args.pair == "mix3tomix10" else "positive integers"
        parser.error(f"--dims {' '.join(map(str, bad))}: the {args.pair} pairs have dimensions {allowed}")
    if args.presample < 0:
        parser.error(f"--presample must be >= 0, got {args.presample}")
    if args.presample:
        batch = max(with_defaults(d, PRESETS[args.preset](d))["batch_size"] for d in args.dims)
        if args.presample < batch:
            parser.error(f"--presample {args.presample} is smaller than a batch of the {args.preset} preset ({batch})")
    if args.sweep:
        if getattr(args, "compare", None):
            parser.error("--sweep trains enot_lite only: drop --compare")
        try:
            args.sweep = parse_sweep(args.sweep)
            cells = math.prod(len(v) for v in args.sweep.values())
            for d in args.dims:
                settings = with_defaults(d, PRESETS[args.preset](d))
                grid.fits_in_memory(d, settings["hidden"], settings["batch_size"], cells)
        except ValueError as err:
            parser.error(str(err))
    return _writable(parser, args)


def _writable(parser, args):
    try:
        os.makedirs(args.out, exist_ok=True)
        with tempfile.TemporaryFile(dir=args.out):
            pass
    except OSError as err:
        parser.error(f"--out {args.out} is not a writable folder: {err.strerror or err}")
    return args


def pair_data(args, dim):
    """The pair of dimension `dim` and what the solvers draw from: its samplers, or (--presample)
    arrays of that many points drawn once."""
    pair = benchmark.mix3tomix10(dim) if args.pair == "mix3tomix10" else benchmark.gaussian(dim, seed=0)
    data = (pair.sample_source, pair.sample_target)
    if args.presample:
        keys = jax.random.split(jax.random.key(2024))
        data = tuple(np.asarray(f(k, args.presample)) for f, k in zip(data, keys))
    return pair, data


def run(args, compare=None):
    """Train enot_lite on every pair of `args.dims` and print, save and plot the rows.  `compare`:
    {name: solver(pair, settings, data, seed) -> Row}, run after enot_lite on the same pair when
    `args.compare` names it."""
    os.makedirs(args.out, exist_ok=True)
    peak = matmul_peak()
    rows = []
    for dim in args.dims:
        pair, data = pair_data(args, dim)
        settings = PRESETS[args.preset](dim) | ({"steps": args.steps} if args.steps else {})
        transport, wall, rate, diverged_at = run_enot(pair, settings | {"seed": args.seed}, data)
        new = [evaluate("enot_lite", pair, transport, wall, rate, settings["steps"], flops_per_step(dim, settings),
                        args.seed, diverged_at)]
        if getattr(args, "compare", None):
            extra = compare[args.compare](pair, settings, data, args.seed)
            new += extra if isinstance(extra, list) else [extra]
        rows += new
        print_table(new, peak)
        write_csv(rows, peak, os.path.join(args.out, "results.csv"))  # after every pair: long runs keep what finished
    print()
    print_table(rows, peak)
    if getattr(args, "compare", None) in COMPARE:
        print()
        print_side_by_side(rows)
    plot(rows, os.path.join(args.out, "l2_uvp.png"), published=args.pair == "mix3tomix10")
    print(f"wrote {args.out}/results.csv and {args.out}/l2_uvp.png")
    return rows


def run_sweep(args):
    """Train the grid `args.sweep` on every pair of `args.dims`; print, save and plot it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peak, grids = matmul_peak(), {}
    for dim in args.dims:
        pair, data = pair_data(args, dim)
        settings = with_defaults(dim, PRESETS[args.preset](dim) | ({"steps": args.steps} if args.steps else {}))
        axes = {"tau": (settings["tau"],), "lam": (settings["lam"],), "seeds": (args.seed,)} | args.sweep
        fixed = {k: v for k, v in settings.items() if k not in ("tau", "lam")}
        result = enot_lite.sweep(*data, reference_map=pair.optimal_map, progress=True, **axes, **fixed)
        rate = steady_rate(result.results[0].history["step"], result.results[0].history["time"])
        gflops = rate * len(result) * flops_per_step(dim, settings) / 1e9
        print(f"\n{pair.name}: D = {dim}, {args.preset} preset, {fixed['steps']} steps per cell")
        print(result)
        print(f"{rate:.1f} steps/s per cell, {rate * len(result):.1f} model-steps/s in all, {gflops:.1f} GFLOP/s "
              f"({100 * gflops / peak:.1f} % of the {peak:.0f} GFLOP/s fp32 matmul peak measured here)")
        grids[dim] = result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fig, ax = plt.subplots(figsize=(5, 3.8), layout="constrained")
            result.plot(ax)
            ax.set_title(f"{pair.name}, D = {dim}: L2-UVP, {fixed['steps']} steps", fontsize=9)
            fig.savefig(os.path.join(args.out, f"sweep_D{dim}.png"), dpi=120)
            plt.close(fig)
        write_sweep_csv(grids, os.path.join(args.out, "sweep.csv"))  # after every pair: long runs keep what finished
    print(f"wrote {args.out}/sweep.csv and " + ", ".join(f"{args.out}/sweep_D{d}.png" for d in grids))
    return grids


def write_sweep_csv(grids, path):
    """One line per cell of every grid in {dim: SweepResult}."""
    rows = [{"dim": dim} | row for dim, result in grids.items() for row in result.table()]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    args = parse(build_parser(compare=COMPARE), argv)
    if args.suite:
        return robust.main(args.suite, args.seed, args.out, args.dims)
    if args.sweep:
        return run_sweep(args)
    return run(args, COMPARE)


if __name__ == "__main__":
    main()
