"""The map network over seeds: how often `fit`'s defaults diverge, and how far the dual value and
the mean displacement land from the exact cost, on the three network-map cases of notebook 10.

    python benchmarks/network_seeds.py [--seeds 32] [--cases w1_2d w1_1d sphere] [--fit '{"learning_rate": 5e-3}']
    python benchmarks/network_seeds.py --cases sphere --steps 4000

Cases: W1 in 2-D (moons -> S-curve, 5000 steps, exact W1 of 1000 points), W1 in 1-D
(N(0, 1) -> 2 + Exp(2), 5000 steps, exact W1 from quantiles), the sphere (two caps -> four caps,
2000 steps, notebook 10's quick budget, exact cost of 1000 points).  Prints a line per case: fits
that raised `DivergenceError`, and the range over the other seeds of (dual / exact - 1) and of
(mean c(x, T(x)) / exact - 1).  To compare two versions of the package, run the script twice
with PYTHONPATH pointing at each checkout.
"""
import argparse
import json
import time

import jax
import numpy as np

import enot_lite
from enot_lite import costs, datasets, discrete


def w1_2d(n=1000):
    source, target = datasets.PAIRS["moons -> S-curve"]
    x = np.asarray(source(jax.random.key(11), n), np.float64)
    y = np.asarray(target(jax.random.key(12), n), np.float64)
    return source, target, "euclidean", 5000, x, discrete.assignment(x, y, "euclidean")[1]


def w1_1d():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8192, 1)).astype(np.float32)
    y = (2 + 0.5 * rng.exponential(size=(8192, 1))).astype(np.float32)
    return x, y, "euclidean", 5000, x.astype(np.float64), np.mean(np.abs(np.sort(x[:, 0]) - np.sort(y[:, 0])))


def sphere(n=1000):
    source, target = datasets.SPHERE_PAIRS["two caps -> four caps"]
    unit = lambda z: z / np.linalg.norm(z, axis=1, keepdims=True)  # noqa: E731
    x = unit(np.asarray(source(jax.random.key(21), n), np.float64))
    y = unit(np.asarray(target(jax.random.key(22), n), np.float64))
    return source, target, "geodesic", 2000, x, discrete.assignment(x, y, "geodesic")[1]


CASES = {"w1_2d": w1_2d, "w1_1d": w1_1d, "sphere": sphere}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=32, help="seeds 0 .. N-1 per case")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--steps", type=int, help="instead of each case's own budget")
    parser.add_argument("--fit", type=json.loads, default={}, help="extra keyword arguments of fit, as JSON")
    args = parser.parse_args()
    print(f"{jax.devices()[0].device_kind}, jax {jax.__version__}")
    print(f"{'case':7s} {'steps':>5s} {'seeds':>5s} {'diverged':>8s} {'dual - exact':>18s} {'mean c(x,T(x)) - exact':>24s} {'wall s':>7s}")
    for name in args.cases:
        source, target, cost, steps, x, exact = CASES[name]()
        steps = args.steps or steps
        start, diverged, dual, moved = time.perf_counter(), [], [], []
        for seed in range(args.seeds):
            try:
                result = enot_lite.fit(source, target, cost=cost, steps=steps, seed=seed, progress=False, **args.fit)
            except enot_lite.DivergenceError as err:
                diverged.append(f"{seed}@{err.step}")
                continue
            t = np.asarray(result.transport(x.astype(np.float32)), np.float64)
            dual.append(100 * (result.dual_value / exact - 1))
            moved.append(100 * (np.mean(costs.get_cost(cost).c(x, t)) / exact - 1))
        span = lambda v: f"{min(v):+6.1f} .. {max(v):+5.1f} %" if v else "-"  # noqa: E731
        print(f"{name:7s} {steps:5d} {args.seeds:5d} {len(diverged):8d} {span(dual):>18s} {span(moved):>24s} "
              f"{time.perf_counter() - start:7.1f}" + (f"   diverged (seed@step): {' '.join(diverged)}" if diverged else ""),
              flush=True)


if __name__ == "__main__":
    main()
