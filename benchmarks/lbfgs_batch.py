"""W2OT's inner solve two ways: one L-BFGS problem over the whole batch, or one solver per point.

    python benchmarks/lbfgs_batch.py --dim 16 --batch 256 --iterations 10

The conjugate problems min_y c(x_i, y) - g(y) of a batch are independent, so the minimiser of
their sum is every point's minimiser: `baselines.fine_tune` runs one `optax.lbfgs` over the
(n, d) array.  W2OT's code runs one solver per point (vmapped).  Both start from the same y0 on
the same network g (fit's default width, random initialisation); the script prints seconds per
solve (compiled, median of 5) and the mean objective each reaches.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from enot_lite import baselines, costs, potentials, solver, train


def per_point(c, g, phi, x, y0, iterations):
    """One L-BFGS solver per row of x (vmapped), `iterations` each: `baselines.fine_tune` on a
    batch of one row."""
    solve = lambda xi, yi: baselines.fine_tune(c, g, phi, xi[None], yi[None], iterations)[0]
    return jax.vmap(solve)(x, y0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args(argv)
    hidden = solver.default_hidden(args.dim)
    fns = train.functions(costs.SqEuclidean(), hidden)
    c, g = fns["c"], fns["g"]
    phi = potentials.init(hidden, jax.random.key(0), args.dim)
    x = jax.random.normal(jax.random.key(1), (args.batch, args.dim))
    y0 = x + 0.5 * jax.random.normal(jax.random.key(2), x.shape)
    objective = lambda y: float(jnp.mean(c(x, y) - g(phi, y)))
    print(f"D = {args.dim}, batch {args.batch}, {args.iterations} L-BFGS iterations, width {hidden[0]}; "
          f"load average {os.getloadavg()[0]:.1f}; objective at y0 {objective(y0):.4f}")
    ways = {"one problem over the batch": jax.jit(lambda y: baselines.fine_tune(c, g, phi, x, y, args.iterations)),
            "one solver per point (vmap)": jax.jit(lambda y: per_point(c, g, phi, x, y, args.iterations))}
    seconds = {}
    for name, solve in ways.items():
        y = jax.block_until_ready(solve(y0))
        times = []
        for _ in range(5):
            start = time.perf_counter()
            jax.block_until_ready(solve(y0))
            times.append(time.perf_counter() - start)
        seconds[name] = float(np.median(times))
        print(f"{name:30s} {1000 * seconds[name]:9.2f} ms per solve, objective {objective(y):.4f}")
    a, b = seconds.values()
    print(f"per point / over the batch: {b / a:.1f}x")


if __name__ == "__main__":
    main()
