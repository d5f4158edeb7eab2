"""Command-line W2 benchmark: ENOT on Mix3toMix10 pairs, optionally side by side with OTT-JAX.

    python -m enot_lite.bench --dims 2 4 8 16 --preset quick [--compare ott] [--steps N] [--seed S] [--out DIR]

Prints one row per (solver, D): L2-UVP, cosine, linear-baseline L2-UVP, steps, wall time
(compilation included), steady-state steps/s, GFLOP/s achieved (XLA's cost analysis of
one training step times steps/s) against this machine's measured fp32 matmul peak.
Writes results.csv and l2_uvp.png (L2-UVP vs D, log scale, with published numbers).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import inspect
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import enot_lite
from enot_lite import benchmark, solver

# Published L2-UVP (%) on Mix3toMix10, D = 2 ... 128 (quoted, not measured here).
PUBLISHED = {
    "ENOT (Buzun et al. 2024, Table 1)": {2: 0.02, 4: 0.03, 8: 0.14, 16: 0.24, 32: 0.67, 64: 0.56, 128: 0.30},
    "W2OT (Amos 2022, via Buzun et al. 2024)": {2: 0.03, 4: 0.22, 8: 0.60, 16: 0.80, 32: 2.09, 64: 2.08, 128: 0.67},
}

def _fit_defaults(dim):
    """What `enot_lite.fit` does when only data is passed."""
    params = inspect.signature(enot_lite.fit).parameters
    names = ("steps", "batch_size", "learning_rate", "tau", "lam", "schedule", "betas")
    return {name: params[name].default for name in names} | {"hidden": solver.default_hidden(dim)}


def _paper(dim):
    """tau = 1, lambda = 0.5 as in the ENOT authors' W2 scripts, with a network and budget sized
    for about 10 minutes per pair on 2 CPU cores (they trained 512-wide networks for 300k steps):
    80k updates at width 128 (D <= 32), 40k at width 4D (D >= 64: 13 min at D = 64, and D = 128
    needs a GPU).  Measured: docs/benchmarks.md, section 4."""
    width = max(128, 4 * dim)
    return dict(hidden=(width,) * 3, batch_size=1024, steps=80_000 if width == 128 else 40_000,
                learning_rate=1e-3, tau=1.0, lam=0.5)


# Training settings per preset.  "quick" is `fit` with only data passed (its defaults);
# "paper" aims at the ENOT paper's L2-UVP (`_paper`);
# "ott" is OTT-JAX's ExpectileNeuralDual default (MLP 4 x 128 ELU, batch 1024, Adam 3e-4, b1 = b2 = 0.9).
PRESETS = {
    "quick": _fit_defaults,
    "paper": _paper,
    "ott": lambda d: dict(hidden=(128,) * 4, batch_size=1024, steps=4000, learning_rate=3e-4, schedule="constant",
                          betas=(0.9, 0.9), tau=0.99, lam=1.0),
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


def flops_per_step(dim, settings):
    """FLOPs of one gradient update (`solver.update`) by XLA's cost analysis."""
    hidden, n = tuple(settings["hidden"]), settings["batch_size"]
    config = solver.Config(
        dim=dim, hidden=hidden, batch_size=n, chunk=1, bidirectional=True, cost=enot_lite.costs.SqEuclidean(),
        sample_source=None, sample_target=None, b1=0.9, b2=0.99, final_lr_fraction=1.0,
    )
    hyper = solver.Hyper(*(jnp.float32(v) for v in (0.99, 1.0, 1e-3)), jnp.int32(1))
    state = solver.init_state(config, 0)
    batch = jnp.zeros((n, dim), jnp.float32)
    step = jax.jit(lambda *nets: solver.update(config, hyper, *nets, batch, batch))
    analysis = step.lower(state.params_f, state.params_g, state.opt_f, state.opt_g).compile().cost_analysis()
    return (analysis[0] if isinstance(analysis, list) else analysis)["flops"]


def steady_rate(steps, seconds):
    """Steps per second between the first and the last logged chunk (compilation excluded)."""
    steps, seconds = np.asarray(steps, float), np.asarray(seconds, float)
    if len(steps) < 2 or seconds[-1] <= seconds[0]:
        return float("nan")
    return (steps[-1] - steps[0]) / (seconds[-1] - seconds[0])


def run_enot(pair, settings, data, progress=True):
    start = time.perf_counter()
    result = enot_lite.fit(*data, progress=progress, **settings)
    wall = time.perf_counter() - start
    rate = steady_rate(result.history["step"], result.history["time"])
    return result.transport, wall, rate


def ott_solver(dim, settings, seed=0, init=None):
    """OTT-JAX's ExpectileNeuralDual with the given network, optimiser, tau, lambda and steps,
    initialised from `seed`, or from enot_lite parameters `init = (params_f, params_g)`.

    OTT's SqEuclidean is ||x - y||^2; we pass the cost 1/2 ||x - y||^2 so that tau and
    lambda mean the same thing on both sides."""
    import optax
    from ott.geometry import costs as ott_costs
    from ott.neural.methods.expectile_neural_dual import ExpectileNeuralDual
    from ott.neural.networks.potentials import MLP

    @jax.tree_util.register_pytree_node_class
    class HalfSqEuclidean(ott_costs.TICost):
        def h(self, z):
            return 0.5 * jnp.dot(z, z)

        def h_legendre(self, z):
            return 0.5 * jnp.dot(z, z)

    lr, steps = settings["learning_rate"], settings["steps"]
    if settings.get("schedule", "cosine") == "cosine":
        lr = lambda count: settings["learning_rate"] * (0.01 + 0.99 * 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count / steps, 1.0))))
    b1, b2 = settings.get("betas", (0.9, 0.99))
    hidden = list(settings["hidden"])
    model = ExpectileNeuralDual(
        dim_data=dim, neural_f=MLP(dim_hidden=hidden + [1], act_fn=jax.nn.elu),
        neural_g=MLP(dim_hidden=hidden + [1], act_fn=jax.nn.elu),
        optimizer_f=optax.adam(lr, b1=b1, b2=b2), optimizer_g=optax.adam(lr, b1=b1, b2=b2),
        cost_fn=HalfSqEuclidean(), expectile=settings["tau"], expectile_loss_coef=settings["lam"],
        num_train_iters=steps, valid_freq=steps + 1, rng=jax.random.key(seed),
    )
    if init is not None:  # OTT wraps the same flax MLP in a "model" scope
        model.state_f = model.state_f.replace(params={"model": init[0]["params"]})
        model.state_g = model.state_g.replace(params={"model": init[1]["params"]})
    return model


def fit_draws(dim, settings, seed, data):
    """The random numbers of `fit(source, target, seed=seed, **settings)` on arrays `data`:
    (params_f, params_g, from_source, from_target), the initial parameters and the batches in
    the order OTT's loaders hand them out (its inverse steps also read the source loader).
    Fed to `ott_solver(..., init=(params_f, params_g))`, OTT trains exactly what `fit` trains."""
    config = solver.Config(dim=dim, hidden=tuple(settings["hidden"]), batch_size=settings["batch_size"], chunk=1,
                           bidirectional=True, cost=None, sample_source=None, sample_target=None, b1=0.9, b2=0.9,
                           final_lr_fraction=1.0)
    state = solver.init_state(config, seed)
    rows = jax.jit(lambda a, key: solver._draw(None, a, key, config.batch_size))  # fit's draw from an array
    source, target = (jnp.asarray(a, jnp.float32) for a in data)
    key, from_source, from_target = state.key, [], []
    for _ in range(-(-settings["steps"] // 2)):
        key, kx, ky, kx2, ky2 = jax.random.split(key, 5)  # as in solver.train_step
        from_source += [np.asarray(rows(source, kx)), np.asarray(rows(source, kx2))]
        from_target += [np.asarray(rows(target, ky)), np.asarray(rows(target, ky2))]
    return state.params_f, state.params_g, from_source, from_target


def run_ott(pair, settings, data, seed=0, init=None):
    """`ott_solver` trained on batches drawn from the same samplers or arrays (`data`) as
    enot_lite.  Returns (map, wall seconds, steps/s of its jitted step alone, FLOPs per step
    of that step)."""
    model = ott_solver(pair.dim, settings, seed, init)
    n = settings["batch_size"]
    draw = [jax.jit(lambda key, f=f: solver._draw(f, None, key, n)) if callable(f)
            else jax.jit(lambda key, a=jnp.asarray(f): solver._draw(None, a, key, n)) for f in data]  # as fit draws

    def loader(which):
        key = jax.random.key(seed + 1 + which)
        while True:
            key, sub = jax.random.split(key)
            yield np.asarray(draw[which](sub))

    start = time.perf_counter()
    potentials = model(loader(0), loader(1), loader(0), loader(1))
    wall = time.perf_counter() - start
    batch = {"source": np.asarray(draw[0](jax.random.key(9))), "target": np.asarray(draw[1](jax.random.key(9)))}
    state_f, state_g = model.state_f, model.state_g
    jax.block_until_ready(model.train_step(state_f, state_g, batch))
    reps = 50
    seconds = _timed(lambda: [jax.block_until_ready(model.train_step(state_f, state_g, batch)) for _ in range(reps)])
    analysis = model.train_step.lower(state_f, state_g, batch).compile().cost_analysis()
    flops = (analysis[0] if isinstance(analysis, list) else analysis)["flops"]
    return jax.jit(potentials.transport), wall, reps / seconds, flops


def evaluate(name, pair, transport, wall, rate, steps, flops, seed):
    return Row(name, pair.dim, benchmark.l2_uvp(transport, pair), benchmark.cosine(transport, pair),
               benchmark.l2_uvp(pair.linear_map, pair), steps, wall, rate, rate * flops / 1e9, seed)


def print_table(rows, peak):
    head = f"{'solver':10s} {'D':>4s} {'L2-UVP%':>8s} {'cos':>6s} {'linear%':>8s} {'steps':>7s} {'wall s':>7s} {'steps/s':>8s} {'GFLOP/s':>8s} {'% peak':>7s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.solver:10s} {r.dim:4d} {r.l2_uvp:8.3f} {r.cosine:6.3f} {r.linear_l2_uvp:8.2f} {r.steps:7d} "
              f"{r.wall_s:7.1f} {r.steps_per_s:8.1f} {r.gflops:8.1f} {100 * r.gflops / peak:6.1f}%")
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, marker in (("enot_lite", "o"), ("ott", "s")):
        mine = sorted((r.dim, r.l2_uvp) for r in rows if r.solver == name)
        if mine:
            ax.plot(*zip(*mine), marker=marker, label=f"{name} (measured here)")
    linear = sorted({(r.dim, r.linear_l2_uvp) for r in rows})
    ax.plot(*zip(*linear), "k--", marker="x", label="best linear map")
    dims = sorted({r.dim for r in rows})
    for (name, values), style in zip(PUBLISHED.items() if published else (), (":", "-.")):
        ax.plot(dims, [values[d] for d in dims], style, color="grey", marker=".", label=f"{name}, quoted")
    title = "Mix3toMix10 (W2 benchmark)" if published else "Gaussian pairs (closed-form map)"
    ax.set(xscale="log", yscale="log", xlabel="dimension D", ylabel="L2-UVP (%)", title=title)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.xaxis.set_minor_locator(plt.NullLocator())  # only the dimensions as ticks
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--pair", choices=["mix3tomix10", "gaussian"], default="mix3tomix10")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--compare", choices=["ott", "ott-defaults"],
                        help="also run OTT-JAX (pip install enot_lite[compare]): with the preset's settings, "
                             "or with OTT's own defaults (--ott-steps)")
    parser.add_argument("--steps", type=int, help="override the preset's number of steps")
    parser.add_argument("--ott-steps", type=int, default=4000, help="steps for --compare ott-defaults")
    parser.add_argument("--presample", type=int, default=0,
                        help="draw batches from N pre-sampled points (both solvers) instead of the samplers")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of both solvers' initialisation and batches (fit's seed, OTT's rng)")
    parser.add_argument("--out", default="bench_out", help="folder for results.csv and l2_uvp.png")
    args = parser.parse_args(argv)
    for name in ("steps", "ott_steps"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.seed < 0:
        parser.error("--seed must be >= 0")

    os.makedirs(args.out, exist_ok=True)
    peak = matmul_peak()
    rows = []
    for dim in args.dims:
        pair = benchmark.mix3tomix10(dim) if args.pair == "mix3tomix10" else benchmark.gaussian(dim, seed=0)
        data = (pair.sample_source, pair.sample_target)
        if args.presample:
            keys = jax.random.split(jax.random.key(2024))
            data = tuple(np.asarray(f(k, args.presample)) for f, k in zip(data, keys))
        settings = PRESETS[args.preset](dim) | ({"steps": args.steps} if args.steps else {})
        transport, wall, rate = run_enot(pair, settings | {"seed": args.seed}, data)
        rows.append(evaluate("enot_lite", pair, transport, wall, rate, settings["steps"], flops_per_step(dim, settings),
                             args.seed))
        if args.compare:
            ott = settings if args.compare == "ott" else PRESETS["ott"](dim) | {"steps": args.ott_steps}
            transport, wall, rate, flops = run_ott(pair, ott, data, seed=args.seed)
            rows.append(evaluate("ott", pair, transport, wall, rate, ott["steps"], flops, args.seed))
        print_table(rows[-2 if args.compare else -1:], peak)
        write_csv(rows, peak, os.path.join(args.out, "results.csv"))  # after every pair: long runs keep what finished
    print()
    print_table(rows, peak)
    plot(rows, os.path.join(args.out, "l2_uvp.png"), published=args.pair == "mix3tomix10")
    print(f"wrote {args.out}/results.csv and {args.out}/l2_uvp.png")
    return rows


if __name__ == "__main__":
    main()
