"""What the command line measures: the presets, one ENOT run and its row (L2-UVP, cosine, the
linear baseline, wall time, steps/s, GFLOP/s against this machine's matmul peak), the table, the
CSV and the plot, and the baselines run beside ENOT (`--compare w2ot`)."""
from __future__ import annotations

import csv
import dataclasses
import inspect
import os
import platform
import time
from math import inf, nan

import jax
import jax.numpy as jnp
import numpy as np

import enot_lite
from enot_lite import benchmark, plotting, solver, train


def _fit_defaults(dim):
    """What `enot_lite.fit` does when only data is passed (the W2 cost, a gradient map)."""
    params = inspect.signature(enot_lite.fit).parameters
    names = ("steps", "batch_size", "tau", "lam", "schedule", "betas", "adam_eps", "ema", "frame")
    return {name: params[name].default for name in names} | {"hidden": solver.default_hidden(dim)}


def _paper(dim):
    """tau = 1, lambda = 0.5 as in the ENOT authors' W2 scripts, with a network and budget sized
    for about 10 minutes per pair on 2 CPU cores (they trained 512-wide networks for 300k steps):
    80k updates at width 128 (D <= 32), 40k at width 4D (D >= 64); Adam's step size 2e-3 (the
    lever ranking of docs/benchmarks.md, section 4c) with its epsilon 1e-5 up to D = 16 (below it
    optax's 1e-8 let the potentials' mean values drift until a step blew up, section 4g; at D = 16
    the two end alike, section 4h) and 1e-8 from D = 32; the result is the networks' moving
    average with decay 0.999 (`fit`'s `ema`; below the trained networks' L2-UVP at every D measured
    at full length, section 4i).  Measured: docs/benchmarks.md, section 4."""
    width = max(128, 4 * dim)
    return dict(hidden=(width,) * 3, batch_size=1024, steps=80_000 if width == 128 else 40_000,
                learning_rate=2e-3, adam_eps=1e-5 if dim <= 16 else 1e-8, ema=0.999, tau=1.0, lam=0.5)


# Training settings per preset.  "quick" is `fit` with only data passed (its defaults);
# "paper" aims at the ENOT paper's L2-UVP (`_paper`);
# "ott" is OTT-JAX's ExpectileNeuralDual default (MLP 4 x 128 ELU, batch 1024, Adam 3e-4, b1 = b2 = 0.9),
# for comparing with it at its own settings, which include training in the data's units (frame=None).
PRESETS = {
    "quick": _fit_defaults,
    "paper": _paper,
    "ott": lambda d: dict(hidden=(128,) * 4, batch_size=1024, steps=4000, learning_rate=3e-4, schedule="constant",
                          betas=(0.9, 0.9), tau=0.99, lam=1.0, frame=None),
}


@dataclasses.dataclass
class Row:
    solver: str
    dim: int
    l2_uvp: float
    cosine: float
    linear_l2_uvp: float
    steps: int
    wall_s: float
    steps_per_s: float
    gflops: float
    seed: int
    diverged_at: int = -1  # the step of a DivergenceError (then L2-UVP is inf), -1 if none


def matmul_peak(n=2048, repeats=10):
    """Measured fp32 matmul throughput (GFLOP/s) of this machine at n x n x n."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = min(_timed(lambda: f(a).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def with_defaults(dim, settings):
    """A preset's training settings, with `fit`'s defaults for what it leaves out (its step size
    for the preset's budget)."""
    settings = _fit_defaults(dim) | settings
    return {"learning_rate": solver.default_learning_rate("gradient", settings["steps"])} | settings


def configure(dim, settings, **extra):
    """`train.configure` for a preset's settings."""
    settings = {k: v for k, v in with_defaults(dim, settings).items() if k in train.CONFIGURE_NAMES}
    return train.configure(dim, **settings | extra)


def flops_per_step(dim, settings):
    """FLOPs of one gradient update (`train.update`) by XLA's cost analysis."""
    config, hyper = configure(dim, settings)
    state = train.init_state(config, jax.random.key(0))
    batch = jnp.zeros((config.batch_size, dim), jnp.float32)
    step = jax.jit(lambda params, opt_state: train.update(config, hyper, params, opt_state, batch, batch))
    analysis = step.lower(state.params, state.opt_state).compile().cost_analysis()
    return (analysis[0] if isinstance(analysis, list) else analysis)["flops"]


def steady_rate(steps, seconds):
    """Steps per second between the first and the last logged chunk (compilation excluded)."""
    steps, seconds = np.asarray(steps, float), np.asarray(seconds, float)
    if len(steps) < 2 or seconds[-1] <= seconds[0]:
        return float("nan")
    return (steps[-1] - steps[0]) / (seconds[-1] - seconds[0])


def run_enot(pair, settings, data, progress=True):
    """(transport, wall seconds, steady steps/s, the step it diverged at or -1); a run that raises
    `DivergenceError` gives transport None and the rate of its last good state."""
    start = time.perf_counter()
    try:
        result, diverged_at = enot_lite.fit(*data, progress=progress, **settings), -1
    except enot_lite.DivergenceError as err:
        result, diverged_at = err.result, err.step
    wall = time.perf_counter() - start
    rate = steady_rate(result.history["step"], result.history["time"])
    return (result.transport if diverged_at < 0 else None), wall, rate, diverged_at


def evaluate(name, pair, transport, wall, rate, steps, flops, seed, diverged_at=-1):
    """The Row of `transport` (None for a run that diverged: L2-UVP inf, cosine nan)."""
    if transport is None:
        uvp, cos = inf, nan
    else:
        uvp, cos = benchmark.l2_uvp(transport, pair), benchmark.cosine(transport, pair)
    return Row(name, pair.dim, uvp, cos, benchmark.l2_uvp(pair.linear_map, pair), steps, wall, rate, rate * flops / 1e9,
               seed, diverged_at)


def print_table(rows, peak):
    head = f"{'solver':10s} {'D':>4s} {'L2-UVP%':>8s} {'cos':>6s} {'linear%':>8s} {'steps':>7s} {'wall s':>7s} {'steps/s':>8s} {'GFLOP/s':>8s} {'% peak':>7s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.solver:10s} {r.dim:4d} {r.l2_uvp:8.3f} {r.cosine:6.3f} {r.linear_l2_uvp:8.2f} {r.steps:7d} "
              f"{r.wall_s:7.1f} {r.steps_per_s:8.1f} {r.gflops:8.1f} {100 * r.gflops / peak:6.1f}%"
              + (f"   diverged at step {r.diverged_at} (DivergenceError)" if r.diverged_at >= 0 else ""))
    print(f"fp32 matmul peak measured here: {peak:.0f} GFLOP/s ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, jax {jax.__version__})")


def write_csv(rows, peak, path):
    """One line per row, with the measured matmul peak; rewritten whole after every pair."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in dataclasses.fields(Row)] + ["peak_gflops"])
        writer.writeheader()
        for r in rows:
            writer.writerow(dataclasses.asdict(r) | {"peak_gflops": round(peak, 1)})


def plot(rows, path, published=True):
    """L2-UVP against D for each solver in `rows`, the linear baseline and (for Mix3toMix10) the
    quoted published numbers; saved to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    measured = {f"{name} (measured here)": {r.dim: r.l2_uvp for r in rows if r.solver == name}
                for name in dict.fromkeys(r.solver for r in rows)}
    plotting.plot_l2_uvp_by_dim(ax, measured, {r.dim: r.linear_l2_uvp for r in rows},
                                benchmark.PUBLISHED if published else {})
    ax.set_title("Mix3toMix10 (W2 benchmark)" if published else "Gaussian pairs (closed-form map)")
    fig.savefig(path, dpi=120)


def run_baselines(pair, settings, data, seed):
    """The three `enot_lite.baselines` on the pair, with the preset's settings: one Row each."""
    from enot_lite import baselines

    settings = with_defaults(pair.dim, settings)
    names = ("steps", "batch_size", "hidden", "learning_rate", "schedule", "betas")
    rows = []
    for method in ("w2ot", "exact", "minimax"):
        start = time.perf_counter()
        result = baselines.fit(*data, method, seed=seed, **{name: settings[name] for name in names})
        wall = time.perf_counter() - start
        rate = 1 / result.seconds_per_update
        rows.append(evaluate(method, pair, result.transport, wall, rate, settings["steps"], float("nan"), seed))
    return rows


COMPARE = {"w2ot": run_baselines}


def print_side_by_side(rows):
    """Time per update, wall time and L2-UVP of every solver beside ENOT's, per dimension."""
    print(f"{'solver':10s} {'D':>4s} {'ms/update':>10s} {'x ENOT':>7s} {'wall s':>7s} {'L2-UVP%':>8s}")
    for r in rows:
        enot = next(e for e in rows if e.dim == r.dim and e.solver == "enot_lite")
        print(f"{r.solver:10s} {r.dim:4d} {1000 / r.steps_per_s:10.2f} {enot.steps_per_s / r.steps_per_s:7.1f} "
              f"{r.wall_s:7.1f} {r.l2_uvp:8.3f}")
