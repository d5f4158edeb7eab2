"""L2-UVP at equal steps, enot_lite vs OTT-JAX's ExpectileNeuralDual (docs/benchmarks.md, section 3).

    python benchmarks/equal_steps.py independent --dim 8 --seeds 0 40    # each solver its own draws per seed
    python benchmarks/equal_steps.py replay --dim 8 --seeds 0 6          # OTT fed fit's initialisation and batches
    python benchmarks/equal_steps.py crossover --dim 8 --seeds 0 12      # initialisations swapped between the solvers

OTT's settings (4 x 128 ELU, batch 1024, Adam 3e-4, b1 = b2 = 0.9, tau 0.99, lambda 1), 3000
updates, batches from the CLI's 65536 pre-sampled points (`--presample 65536`).  Prints one line
per seed and, for two columns, their means, the ratio of means with a bootstrap 95 % interval
and Welch's p.  Needs the compare extra (pip install -e ".[compare]").
"""
import argparse

import compare_ott
import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

import enot_lite
from enot_lite import bench, benchmark, train


def train_from(params, dim, settings, seed, data):
    """The map of `fit(*data, seed=seed, **settings)`'s training (its batches, in its order) started
    from the parameters `params` = (theta, phi) instead of fit's initialisation."""
    config, hyper = bench.configure(dim, settings)
    state = train.init_state(config, jax.random.key(seed))._replace(params=params)
    arrays = train.raw(tuple(jnp.asarray(a, jnp.float32) for a in data), dim)
    for _ in range(-(-settings["steps"] // (2 * config.chunk))):
        state, _ = train.train_chunk(config, hyper, arrays, state)
    T = train.functions(config.cost, config.hidden)["T"]
    return jax.jit(lambda x: T(state.params[0], x))


def summary(name_a, a, name_b, b):
    a, b = np.asarray(a), np.asarray(b)
    rng = np.random.default_rng(0)
    boot = [rng.choice(a, len(a)).mean() / rng.choice(b, len(b)).mean() for _ in range(20_000)]
    print(f"{name_a}: {a.mean():.3f} % (sd {a.std(ddof=1):.3f})   {name_b}: {b.mean():.3f} % (sd {b.std(ddof=1):.3f})   "
          f"ratio {a.mean() / b.mean():.3f} (95 % interval {np.percentile(boot, 2.5):.3f}-{np.percentile(boot, 97.5):.3f}), "
          f"Welch p = {stats.ttest_ind(a, b, equal_var=False).pvalue:.2f}, n = {len(a)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["independent", "replay", "crossover"])
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 6], metavar=("FIRST", "END"))
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()

    pair = benchmark.mix3tomix10(args.dim)
    keys = jax.random.split(jax.random.key(2024))  # the CLI's --presample draw
    data = tuple(np.asarray(f(k, 65536)) for f, k in zip((pair.sample_source, pair.sample_target), keys))
    settings = bench.PRESETS["ott"](args.dim) | {"steps": args.steps}
    uvp = lambda transport: benchmark.l2_uvp(transport, pair)
    columns = {
        "independent": ("enot_lite", "OTT"),
        "replay": ("enot_lite", "OTT replaying fit's draws"),
        "crossover": ("OTT's init, trained by fit", "fit's init, trained by OTT"),
    }[args.mode]
    results = []
    for seed in range(*args.seeds):
        if args.mode == "independent":
            a = uvp(bench.run_enot(pair, settings | {"seed": seed}, data, progress=False)[0])
            b = uvp(compare_ott.run_ott(pair, settings, data, seed=seed)[0])
        elif args.mode == "replay":
            a = uvp(enot_lite.fit(*data, seed=seed, progress=False, **settings).transport)
            params_f, params_g, from_source, from_target = compare_ott.fit_draws(args.dim, settings, seed, data)
            model = compare_ott.ott_solver(args.dim, settings, seed, init=(params_f, params_g))
            b = uvp(jax.jit(model(iter(from_source), iter(from_target), iter(from_source), iter(from_target)).transport))
        else:
            # fit's batches with OTT's initialisation
            ott_model = compare_ott.ott_solver(args.dim, settings, seed)
            ott_init = tuple({"params": s.params["model"]} for s in (ott_model.state_f, ott_model.state_g))
            a = uvp(train_from(ott_init, args.dim, settings, seed, data))
            # OTT's batches with fit's initialisation
            params_f, params_g, *_ = compare_ott.fit_draws(args.dim, settings | {"steps": 0}, seed, data)
            b = uvp(compare_ott.run_ott(pair, settings, data, seed=seed, init=(params_f, params_g))[0])
        results.append((a, b))
        print(f"D = {args.dim}, seed {seed}: {columns[0]} {a:.4f} %, {columns[1]} {b:.4f} %", flush=True)
    summary(columns[0], [r[0] for r in results], columns[1], [r[1] for r in results])


if __name__ == "__main__":
    main()
