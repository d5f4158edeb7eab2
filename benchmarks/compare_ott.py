"""enot_lite side by side with OTT-JAX's ExpectileNeuralDual, on the pairs of `python -m enot_lite.bench`.

    python benchmarks/compare_ott.py --dims 8 --preset ott --compare ott --steps 3000 --presample 65536
    python benchmarks/compare_ott.py --dims 2 8 --preset quick --compare ott-defaults --ott-steps 4000

Needs the compare extra (`pip install -e ".[compare]"`).  `--compare ott` runs OTT with the
preset's network, batch, optimiser, tau, lambda and steps; `ott-defaults` with OTT's own
defaults.  Prints `bench`'s table with one row per solver and D.  OTT's steps/s is its jitted
`train_step` alone on a fixed batch; its wall time is its own Python training loop.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from enot_lite import bench, train


def ott_solver(dim, settings, seed=0, init=None):
    """OTT-JAX's ExpectileNeuralDual with the given network, optimiser, tau, lambda and steps,
    initialised from `seed`, or from enot_lite parameters `init = (params_f, params_g)`.

    OTT's SqEuclidean is ||x - y||^2; it gets the cost 1/2 ||x - y||^2 so that tau and lambda
    mean the same thing on both sides."""
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

    settings = bench.with_defaults(dim, settings)
    config, hyper = bench.configure(dim, settings)
    lr = train.schedule(hyper.learning_rate, hyper.steps, config.final_lr_fraction)
    adam = lambda: optax.adam(lr, b1=config.b1, b2=config.b2)
    mlp = lambda: MLP(dim_hidden=list(config.hidden) + [1], act_fn=jax.nn.elu)
    model = ExpectileNeuralDual(
        dim_data=dim, neural_f=mlp(), neural_g=mlp(), optimizer_f=adam(), optimizer_g=adam(),
        cost_fn=HalfSqEuclidean(), expectile=settings["tau"], expectile_loss_coef=settings["lam"],
        num_train_iters=int(hyper.steps), valid_freq=int(hyper.steps) + 1, rng=jax.random.key(seed),
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
    config, _ = bench.configure(dim, settings)
    state = train.init_state(config, jax.random.key(seed))
    arrays = train.raw(tuple(jnp.asarray(a, jnp.float32) for a in data), dim)
    next_batches = jax.jit(lambda key: train.batches(config, arrays, key))  # fit's own draws
    key, from_source, from_target = state.key, [], []
    for _ in range(-(-settings["steps"] // 2)):
        key, (x, y), (x2, y2) = next_batches(key)
        from_source += [np.asarray(x), np.asarray(x2)]
        from_target += [np.asarray(y), np.asarray(y2)]
    return *state.params, from_source, from_target


def run_ott(pair, settings, data, seed=0, init=None):
    """`ott_solver` trained on batches drawn from the same samplers or arrays (`data`) as
    enot_lite, with enot_lite's draw.  Returns (map, wall seconds, steps/s of its jitted step
    alone, FLOPs per step of that step)."""
    model = ott_solver(pair.dim, settings, seed, init)
    n = settings["batch_size"]
    draw = [jax.jit(lambda key, f=f: train.draw(f, None, key, n)) if callable(f)
            else jax.jit(lambda key, a=jnp.asarray(f): train.draw(None, a, key, n)) for f in data]

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
    start = time.perf_counter()
    for _ in range(reps):
        jax.block_until_ready(model.train_step(state_f, state_g, batch))
    rate = reps / (time.perf_counter() - start)
    analysis = model.train_step.lower(state_f, state_g, batch).compile().cost_analysis()
    flops = (analysis[0] if isinstance(analysis, list) else analysis)["flops"]
    return jax.jit(potentials.transport), wall, rate, flops


def main(argv=None):
    parser = bench.build_parser(compare=("ott", "ott-defaults"), prog="python benchmarks/compare_ott.py")
    parser.add_argument("--ott-steps", type=int, default=4000, help="steps for --compare ott-defaults")
    args = bench.parse(parser, argv)
    if args.ott_steps <= 0:
        parser.error("--ott-steps must be positive")

    def ott(pair, settings, data, seed):
        if args.compare == "ott-defaults":
            settings = bench.PRESETS["ott"](pair.dim) | {"steps": args.ott_steps}
        transport, wall, rate, flops = run_ott(pair, settings, data, seed=seed)
        return bench.evaluate("ott", pair, transport, wall, rate, settings["steps"], flops, seed)

    return bench.run(args, compare={"ott": ott, "ott-defaults": ott})


if __name__ == "__main__":
    main()
