"""ENOT with a map network: W1 in 1-D against the quantile coupling, the squared distance with a
network map against the Gaussian closed form, and the geodesic cost on S^2 against the exact
assignment and Sinkhorn of a subsample.

    python benchmarks/any_cost.py [--steps N] [--points 500]

Prints one line per case (value, reference, relative gap, wall time with compilation).
"""
import argparse
import time

import jax
import numpy as np

import enot_lite
from enot_lite import benchmark, costs, datasets, discrete


def energy(a, b):
    """The energy distance between two samples (0 exactly when their laws agree)."""
    d = lambda u, v: np.linalg.norm(u[:, None] - v[None], axis=-1).mean()  # noqa: E731
    return 2 * d(a, b) - d(a, a) - d(b, b)


def max_slope(potential, sample, n=121):
    """The largest slope of a 1-D function between neighbouring points of a grid over the
    sample's central 98 %."""
    grid = np.linspace(*np.quantile(sample, [0.01, 0.99]), n, dtype=np.float32)[:, None]
    values = np.asarray(potential(grid))
    return float(np.max(np.abs(np.diff(values)) / np.diff(grid[:, 0])))


def timed_fit(*args, **kwargs):
    start = time.perf_counter()
    result = enot_lite.fit(*args, progress=False, **kwargs)
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--points", type=int, default=500, help="points of the exact discrete references")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8192, 1)).astype(np.float32)
    y = (2 + 0.5 * rng.exponential(size=(8192, 1))).astype(np.float32)
    exact = np.mean(np.abs(np.sort(x[:, 0]) - np.sort(y[:, 0])))
    for label, kw in (("defaults", {}), ("lambda = 0", dict(lam=0.0)), ("tau = 0.5", dict(tau=0.5))):
        result, seconds = timed_fit(x, y, cost="euclidean", steps=args.steps, **kw)
        pushed = np.sort(np.asarray(result.transport(x))[:, 0])
        print(f"W1, 1-D, {label:10s}: dual {result.dual_value:.4f}, exact {exact:.4f} "
              f"({100 * (result.dual_value / exact - 1):+.2f} %), max slope of g on the target "
              f"{max_slope(result.g, y):.3f}, of g^T on the source {max_slope(result.c_transform, x):.3f}, "
              f"W1(T#mu, nu) {np.mean(np.abs(pushed - np.sort(y[:, 0]))):.3f}, {seconds:.1f} s")

    pair = benchmark.gaussian(2)
    result, seconds = timed_fit(pair.sample_source, pair.sample_target, map="network", steps=args.steps)
    print(f"1/2 ||x - y||^2 with a network map, gaussian(2): L2-UVP {benchmark.l2_uvp(result.transport, pair):.4f} %, "
          f"{seconds:.1f} s")

    source, target = datasets.SPHERE_PAIRS["two caps -> four caps"]
    result, seconds = timed_fit(source, target, cost="geodesic", steps=args.steps)
    unit = lambda z: z / np.linalg.norm(z, axis=1, keepdims=True)  # noqa: E731
    xs = unit(np.asarray(source(jax.random.key(1), args.points), np.float64))
    ys = unit(np.asarray(target(jax.random.key(2), args.points), np.float64))
    ts = np.asarray(result.transport(xs.astype(np.float32)), np.float64)
    exact = discrete.assignment(xs, ys, "geodesic")[1]
    entropic = discrete.sinkhorn(xs, ys, cost="geodesic", epsilon=0.01).cost
    moved = float(np.mean(costs.Geodesic().c(xs, ts)))
    print(f"sphere, geodesic: dual {result.dual_value:.4f} ({100 * (result.dual_value / exact - 1):+.2f} %), mean c(x, T(x)) "
          f"{moved:.4f} ({100 * (moved / exact - 1):+.2f} %), exact ({args.points} points) {exact:.4f}, Sinkhorn "
          f"(eps 0.01) {entropic:.4f}; max | |T(x)| - 1 | {np.abs(np.linalg.norm(ts, axis=1) - 1).max():.1e}; energy "
          f"distance to the target {energy(ts, ys):.4f} (source: {energy(xs, ys):.4f}); {seconds:.1f} s")


if __name__ == "__main__":
    main()
