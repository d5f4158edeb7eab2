"""Rank accuracy levers for the `paper` preset with short runs (issue #20): the preset with one
change, on Mix3toMix10, one JSON line per run.

    python benchmarks/levers.py 8 20000                          # the preset, 20k updates at D = 8
    python benchmarks/levers.py 8 20000 learning_rate=4e-3       # one change (any fit setting)
    python benchmarks/levers.py 64 8000 warm=0.05                # linear warm-up over 5 % of the budget
    python benchmarks/levers.py 8 20000 zero_init=True           # f's and g's last layer at zero: T starts at the identity
    python benchmarks/levers.py 8 20000 seed=1
    python benchmarks/levers.py 8 20000 ema=0.9999              # another decay of the parameters' average
    python benchmarks/levers.py 8 40000 small="(0.5, 256)"      # the first half of the updates at batch 256
    python benchmarks/levers.py 2 80000 learning_rate=2e-3 adam_eps=1e-8   # Adam's epsilon as optax's default
    python benchmarks/levers.py 2 80000 learning_rate=2e-3 until=17000 trace=True   # the first 17k of 80k, traced

The line has the L2-UVP % of the trained networks ("raw") and of what `fit` returns ("result":
the parameters' moving average of the preset's `ema`, or of `ema=...` given here; with `ema=0.0`
the same as "raw"), so averaging is measured on the same run.  `reached` is the updates done:
fewer than the budget means a step went bad (NaN, inf or beyond `fit`'s blow-up limit) and, as in
`fit`, training stopped at the last good state (this script reports it rather than raising).
`until` stops after that many updates (the schedule is still the budget's); `trace=True` prints a
line after every chunk (1000 updates at an 80k-update budget): the updates done, the means of f over mu's
and of g over nu's evaluation sample (in the frame), and whether the chunk went bad (then the
run ends there).
The training is `fit`'s (its checks, frame, configuration and iteration); only the loop around
it is this script's.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import sys
import time

import jax
import jax.numpy as jnp

from enot_lite import bench, benchmark, potentials, solver, train


def warmed(schedule, fraction):
    """`train.schedule` times a linear warm-up min(1, (k + 1) / (fraction * steps))."""
    def with_warm_up(learning_rate, steps, final_lr_fraction):
        base = schedule(learning_rate, steps, final_lr_fraction)
        return lambda count: base(count) * jnp.minimum(1.0, (count + 1) / jnp.maximum(1.0, fraction * steps))
    return with_warm_up


def run(dim, steps, seed=0, warm=0.0, zero_init=False, small=None, until=None, trace=False, **change):
    pair = benchmark.mix3tomix10(dim)
    settings = bench.with_defaults(dim, bench.PRESETS["paper"](dim) | {"steps": steps} | change)
    problem = solver._check(pair.sample_source, pair.sample_target, cost="sqeuclidean", map=None, bidirectional=None,
                            seed=seed, reference_map=None, callback=None, **settings)
    prepared = solver._prepare(problem, seed)
    config, hyper = solver._configure(problem, settings["tau"], settings["lam"], prepared.limit)
    schedule = train.schedule
    if warm:
        train.schedule = warmed(schedule, warm)
    try:
        state = train.init_state(config, prepared.key)
        if zero_init:
            last = f"Dense_{len(config.hidden)}"
            zeroed = lambda p: {"params": p["params"] | {last: jax.tree.map(jnp.zeros_like, p["params"][last])}}
            state = state._replace(params=tuple(zeroed(p) for p in state.params))
        # small = (fraction, batch): the first `fraction` of the updates at batch size `batch`
        # (the schedule and Adam's state run on through both phases), the rest at the preset's
        fraction, batch = small or (0.0, config.batch_size)
        first = dataclasses.replace(config, batch_size=batch)
        n_first = train.n_chunks(config, int(fraction * steps))
        x_eval, y_eval = (prepared.frame.to_frame(a) for a in prepared.evaluation[:2])
        means = jax.jit(lambda params: [potentials.value(config.hidden, p, z).mean() for p, z in zip(params, (x_eval, y_eval))])
        start = time.perf_counter()
        for k in range(train.n_chunks(config, until or steps)):
            state, metrics = train.train_chunk(first if k < n_first else config, hyper, prepared.data, state)
            if trace:
                f_mean, g_mean = means(state.params)
                halted = int(metrics["diverged_at"]) >= 0
                print(json.dumps(dict(updates=int(state.step), f_mean=round(float(f_mean), 3), g_mean=round(float(g_mean), 3),
                                      halted=halted, seconds=round(time.perf_counter() - start, 1))), flush=True)
                if halted:  # the later chunks would only repeat the last good state
                    break
        jax.block_until_ready(state)
        wall = time.perf_counter() - start
    finally:
        train.schedule = schedule
    model = solver._model(problem, config, prepared.frame, problem.settings)
    scores = {name: round(benchmark.l2_uvp(model(params, {}).transport, pair), 4)
              for name, params in (("raw", state.params), ("result", train.model_params(config, state)))}
    return dict(dim=dim, steps=steps, seed=seed, warm=warm, zero_init=zero_init, small=small, until=until, **change,
                wall=round(wall, 1), reached=int(state.step), **scores)


if __name__ == "__main__":
    dim, steps = int(sys.argv[1]), int(sys.argv[2])
    change = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
    print(json.dumps(run(dim, steps, **change)), flush=True)
