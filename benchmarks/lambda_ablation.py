"""What lambda and tau buy on the W2 benchmark: `fit` on Mix3toMix10 with lambda 0 or 1, tau 0.5 or 1.

    python benchmarks/lambda_ablation.py --dim 64                               # fit's defaults
    python benchmarks/lambda_ablation.py --dim 32 --steps 1000 --learning-rate 1e-2 --seeds 0 1 2 3

Every setting starts from `fit`'s defaults (tau 0.99, lambda 1, 5000 steps, step size 5e-3) and
changes one thing: lambda = 0, tau = 0.5 or tau = 1.  Prints, per seed, the final L2-UVP, the
wall time (compilation included) and whether `fit` raised DivergenceError, next to the benchmark's
linear map.  Records are in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import time

import enot_lite
from enot_lite import benchmark

SETTINGS = {"tau 0.99, lambda 1": {}, "lambda 0": dict(lam=0.0), "tau 0.5": dict(tau=0.5), "tau 1": dict(tau=1.0)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=64, choices=benchmark.DIMS)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), help="run only these settings")
    args = parser.parse_args(argv)
    pair = benchmark.mix3tomix10(args.dim)
    print(f"Mix3toMix10 D = {args.dim}, {args.steps} steps, step size {args.learning_rate:g}; "
          f"linear map {benchmark.l2_uvp(pair.linear_map, pair):.1f} %; load average {os.getloadavg()[0]:.1f}")
    print(f"{'setting':20s} {'seed':>4s} {'L2-UVP %':>9s} {'wall s':>7s}")
    rows = []
    for label in args.only or SETTINGS:
        for seed in args.seeds:
            start = time.perf_counter()
            try:
                result = enot_lite.fit(pair.sample_source, pair.sample_target, steps=args.steps,
                                       learning_rate=args.learning_rate, seed=seed, progress=False,
                                       **SETTINGS[label])
                uvp, note = benchmark.l2_uvp(result.transport, pair), ""
            except enot_lite.DivergenceError as err:
                uvp, note = float("nan"), f"  diverged at step {err.step}"
            rows.append((label, seed, uvp, time.perf_counter() - start))
            print(f"{label:20s} {seed:4d} {uvp:9.2f} {rows[-1][3]:7.1f}{note}", flush=True)
    return rows


if __name__ == "__main__":
    main()
