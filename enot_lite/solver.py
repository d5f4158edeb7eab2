"""`fit`: ENOT between two samples or samplers, trained on device in chunks (see `train`)."""
from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from enot_lite import benchmark, checks, frame as frames, potentials, train
from enot_lite.costs import get_cost, has_gradient_map, pairwise
from enot_lite.result import DivergenceError, ENOTResult

BLOW_UP = 1e4
"""A step blows up when |L_f|, |L_g| or |dual value| passes BLOW_UP * (C + C^2), C the mean cost
of a random pairing of the data in the training frame (the scale every one of them starts at)."""

LEARNING_RATE = {"gradient": 5e-3, "network": 3e-3}
"""fit's default Adam step size per map mode, for budgets up to `LONG_BUDGET` updates.  A map
network at 5e-3 diverged or ended with its dual value 13-32 % off on some seeds of the W1 and
sphere pairs; at 3e-3 none did (docs/benchmarks.md, section 9)."""

LONG_BUDGET = 20_000
"""Beyond this many updates the default step size shrinks as 1 / sqrt(steps) (`default_learning_rate`):
at a constant 5e-3, Mix3toMix10 D = 4 ended worse after 50k updates than after 20k at every seed
(docs/benchmarks.md, section 8)."""


def default_learning_rate(map, steps):
    """eta_0 sqrt(LONG_BUDGET / max(steps, LONG_BUDGET)), eta_0 = LEARNING_RATE[map]: fit's step
    size when none is given."""
    return LEARNING_RATE[map] * math.sqrt(LONG_BUDGET / max(steps, LONG_BUDGET))


def default_hidden(dim):
    """The default network: three hidden layers of width max(64, min(4 d, 128), 2 d), at most 512
    (64 up to d = 16, then 4 d up to 128 at d = 32, then 2 d from d = 64)."""
    return (min(512, max(64, min(4 * dim, 128), 2 * dim)),) * 3


def fit(source, target, *, cost="sqeuclidean", tau=0.99, lam=1.0, steps=5000, batch_size=256, hidden=None,
        learning_rate=None, schedule="cosine", betas=(0.9, 0.99), adam_eps=1e-8, ema=0.0, map=None,
        bidirectional=None, frame="standard", seed=0, reference_map=None, progress=True,
        callback=None) -> ENOTResult:
    """Fit ENOT between `source` (mu) and `target` (nu).

    Args:
      source, target: arrays (n, d) (batches are resampled on device) or pure-JAX samplers
        sample(key, n) -> (n, d), called inside the jitted loop.
      cost: "sqeuclidean" (1/2 ||x - y||^2), "pnorm:<p>", "euclidean" (||x - y||), "geodesic"
        (arccos <x, y> on the unit sphere), or a cost object (`costs`).
      tau: expectile in (0, 1]; tau -> 1 makes g_T a tight c-transform.
      lam: weight >= 0 of the expectile regulariser.
      steps: gradient updates, exactly (forward and inverse alternate when bidirectional).
      batch_size, hidden: batch per update, MLP widths (`default_hidden`).
      learning_rate: Adam's step size; default `LEARNING_RATE[map]` (5e-3 for a gradient map,
        3e-3 for a map network) up to `LONG_BUDGET` = 20k steps, times sqrt(20k / steps) beyond
        (`default_learning_rate`).
      schedule: "cosine" (decay the step size to 1 % of it over `steps`) or "constant".
      betas: Adam's (b1, b2), each in [0, 1).
      adam_eps: Adam's epsilon (> 0), added to sqrt(v): the step of a parameter whose gradients
        are of this size or smaller shrinks (optax's default 1e-8; the `paper` preset's 1e-5 keeps the
        potentials' mean values from drifting at step size 2e-3, docs/benchmarks.md, section 4g).
      ema: decay d in [0, 1) of a moving average of both networks' parameters, updated after
        every iteration (one update of each network, or two when bidirectional) as
        a <- d a + (1 - d) params and debiased by 1 - d^k after k iterations; the result holds
        the average (Polyak averaging), which weighs about the last 1 / (1 - d) iterations (the
        `paper` preset's 0.999: its last ~2000 of 40-80k updates; docs/benchmarks.md, section 4i).
        0 (the default): the trained networks themselves.
      map: "gradient" (T(x) = x - grad h*(grad f(x)), for costs with `grad_h_star`) or "network"
        (T a residual MLP R^d -> R^d, projected by the cost's `project`; the only choice for a cost
        that gives just c(x, y)).  Default: "gradient" where the cost allows it.
      bidirectional: also learn the inverse map with g (alternating roles every step); gradient
        maps only.  Default: True for gradient maps, False for network maps.
      frame: "standard" trains on (x - m) / s, one shift m and scale s for both samples (`frame`),
        when the cost declares a `degree` (it is translation invariant and homogeneous), else in
        the data's units with a warning if their scale is far from 1; None: the data's units.
        tau, lam and learning_rate act in the frame; every result is in the data's units.
      seed: PRNG seed of the initialisation, the batches, the frame's pilot draw of a sampler and
        the evaluation sample; same seed, same result.
      reference_map: optional T*(x); then history["l2_uvp"] is logged.
      progress: show a tqdm progress bar over chunks.
      callback: optional callback(step, result) called between chunks; return True to stop.

    Returns an `ENOTResult`.  Ctrl-C returns the last finished chunk's model with
    `.interrupted = True`.  Raises `DivergenceError` (with the last good model) when a step's loss
    is not finite or blows up (see `BLOW_UP`).
    """
    problem = _check(source, target, cost=cost, tau=tau, lam=lam, steps=steps, batch_size=batch_size, hidden=hidden,
                     learning_rate=learning_rate, schedule=schedule, betas=betas, adam_eps=adam_eps, ema=ema, map=map,
                     bidirectional=bidirectional, frame=frame, seed=seed, reference_map=reference_map, callback=callback)
    run = _prepare(problem, problem.settings["seed"])
    config, hyper = _configure(problem, problem.settings["tau"], problem.settings["lam"], run.limit)
    return _train(config, hyper, run.data, run.key, _model(problem, config, run.frame, problem.settings), run.evaluation,
                  progress, callback)


class _Problem(NamedTuple):
    """What `fit` checked: the cost, the map mode, the settings, the data (a sampler or an array
    for each side), the dimension, the widths and the reference map."""

    cost: object
    map: str
    settings: dict
    sample_source: object
    source: object
    sample_target: object
    target: object
    dim: int
    hidden: tuple
    reference_map: object


class _Run(NamedTuple):
    """What one seed fixes: the PRNG key, the frame (from a pilot draw), `train.Data`, the
    blow-up limit and the evaluation sample (x, y, T*(x), Var(y)) in the data's units (T*(x) and
    Var(y), the L2-UVP denominator, None without a reference map)."""

    key: jax.Array
    frame: frames.Frame
    data: train.Data
    limit: float
    evaluation: tuple


def _check(source, target, *, cost, tau, lam, steps, batch_size, hidden, learning_rate, schedule, betas, adam_eps,
           ema, map, bidirectional, frame, seed, reference_map, callback) -> _Problem:
    """fit's arguments checked (nothing compiles); ValueError or TypeError naming the argument."""
    cost = get_cost(cost)
    map = _map(map, cost)
    bidirectional = (map == "gradient") if bidirectional is None else bidirectional
    settings = _settings(tau, lam, steps, batch_size, learning_rate, schedule, betas, bidirectional, frame, seed, map,
                         adam_eps, ema)
    if map == "network" and settings["bidirectional"]:
        raise ValueError("bidirectional=True needs a gradient map (the inverse map is g's gradient); a network map "
                         "is one-directional: leave bidirectional unset or False")
    sample_source, source_data, dim = checks.data("source", source)
    sample_target, target_data, dim_target = checks.data("target", target)
    if dim != dim_target:
        raise ValueError(f"source and target must have the same dimension, got {dim} and {dim_target}")
    hidden = checks.widths(default_hidden(dim) if hidden is None else hidden)
    checks.fits_in_memory(dim, hidden, batch_size)
    checks.cost_shapes(cost, dim)
    if reference_map is not None:
        checks.map_shape("reference_map", reference_map, dim)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(step, result)")
    return _Problem(cost, map, settings, sample_source, source_data, sample_target, target_data, dim, hidden,
                    reference_map)


def _prepare(problem: _Problem, seed) -> _Run:
    """The key, frame, data, blow-up limit and evaluation sample of `seed`: the frame and the limit
    come from a pilot draw, the evaluation sample from another, both keyed by the seed."""
    p, key = problem, jax.random.key(seed)
    sides = ((p.sample_source, p.source), (p.sample_target, p.target))
    x_pilot, y_pilot = (_sample(s, a, jax.random.fold_in(key, i), 8192) for i, (s, a) in enumerate(sides, start=11))
    if hasattr(p.cost, "check"):
        for name, a, pilot in (("source", p.source, x_pilot), ("target", p.target, y_pilot)):
            p.cost.check(name, pilot if a is None else a)
    box = _frame(p.settings["frame"], p.cost, x_pilot, y_pilot)
    data = train.Data(p.source, p.target, jnp.asarray(box.shift), jnp.float32(box.scale))
    mean_cost = float(_mean_cost(p.cost, box, x_pilot, y_pilot))
    x_eval, y_eval = (_sample(s, a, jax.random.fold_in(key, i), 8192) for i, (s, a) in enumerate(sides, start=7))
    t_eval, var = None, None
    if p.reference_map is not None:
        t_eval, var = jnp.asarray(p.reference_map(x_eval), jnp.float32), float(jnp.sum(jnp.var(y_eval, axis=0)))
    return _Run(key, box, data, BLOW_UP * (mean_cost + mean_cost**2), (x_eval, y_eval, t_eval, var))


@functools.partial(jax.jit, static_argnums=0)
def _mean_cost(cost, box, x, y):
    """The mean cost of a random pairing of x and y (y reversed) in the frame `box`."""
    return jnp.mean(pairwise(cost, box.to_frame(x), box.to_frame(y[::-1])))


def _configure(problem: _Problem, tau, lam, limit):
    """(Config, Hyper) of the problem's settings with these tau, lambda and blow-up limit."""
    settings = {k: v for k, v in problem.settings.items() if k in train.CONFIGURE_NAMES} | dict(tau=tau, lam=lam)
    return train.configure(problem.dim, hidden=problem.hidden, cost=problem.cost, sample_source=problem.sample_source,
                           sample_target=problem.sample_target, map=problem.map, limit=limit, **settings)


def _model(problem: _Problem, config, box, settings):
    """model(params, history) -> the `ENOTResult` of the networks `params` = (theta, phi)
    (`train.model_params` of a training state; dual value still unset)."""
    return lambda params, history: ENOTResult(*params, problem.dim, problem.hidden, problem.cost,
                                             config.bidirectional, settings | {"map": problem.map}, history,
                                             float("nan"), box, map=problem.map)


def _map(choice, cost):
    """The map mode for `cost`: "gradient" where it has grad_h_star, else "network"."""
    if choice is None:
        return "gradient" if has_gradient_map(cost) else "network"
    checks.one_of("map", choice, ("gradient", "network"))
    if choice == "gradient" and not has_gradient_map(cost):
        raise ValueError(f"map='gradient' needs a cost with grad_h_star (T(x) = x - grad h*(grad f(x))); the cost "
                         f"{getattr(cost, 'spec', cost)!r} gives only c(x, y): use map='network'")
    return choice


def _settings(tau, lam, steps, batch_size, learning_rate, schedule, betas, bidirectional, frame, seed, map="gradient",
              adam_eps=1e-8, ema=0.0):
    """The checked scalar settings, as they are recorded in the result (learning_rate=None:
    `default_learning_rate` for `map` and `steps`)."""
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise TypeError(f"betas must be a pair (b1, b2), got {betas!r}")
    steps = checks.number("steps", steps, 0, checks.MAX_STEPS, low_open=True, kind=int)
    if learning_rate is None:
        learning_rate = default_learning_rate(map, steps)
    return dict(
        tau=checks.number("tau", tau, 0.0, 1.0, low_open=True),
        lam=checks.number("lam", lam, 0.0, math.inf, low_open=False),
        steps=steps,
        batch_size=checks.number("batch_size", batch_size, 0, checks.MAX_BATCH, low_open=True, kind=int),
        learning_rate=checks.number("learning_rate", learning_rate, 0.0, math.inf, low_open=True),
        schedule=checks.one_of("schedule", schedule, ("cosine", "constant")),
        betas=tuple(checks.number(f"betas[{i}]", b, 0.0, 1.0, low_open=False, high_open=True) for i, b in enumerate(betas)),
        adam_eps=checks.number("adam_eps", adam_eps, 0.0, 1.0, low_open=True),
        ema=checks.number("ema", ema, 0.0, 1.0, low_open=False, high_open=True),
        bidirectional=checks.flag("bidirectional", bidirectional),
        frame=None if frame is None else checks.one_of("frame", frame, ("standard",)),
        seed=checks.number("seed", seed, 0, checks.MAX_SEED, low_open=False, kind=int),
    )


def _frame(choice, cost, x, y):
    """The training frame: `frame.standard` where the cost's degree makes it exact, else none."""
    degree = getattr(cost, "degree", None)
    if choice == "standard" and degree is not None:
        return frames.standard(x, y, degree)
    if choice == "standard":
        scale = frames.scale_of(x, y)
        if not 1e-2 <= scale <= 1e2:
            warnings.warn(f"the data's scale is {scale:.3g}, and the cost {cost!r} declares no `degree`, so it is trained in "
                          "the data's units, where tau, lam and learning_rate are tuned for a scale near 1 (and a map "
                          f"network moves points at most {potentials.REACH:g} per coordinate): rescale the "
                          "data, or give the cost a `degree` if it is translation invariant and homogeneous", stacklevel=4)
    return frames.identity(x.shape[1])


def _sample(sampler, data, key, n):
    """n evaluation points: sampler(key, n), or all rows of `data` if it has at most n, else a
    random subset of n rows (never the first rows: data may be sorted)."""
    if sampler is not None:
        return jnp.asarray(sampler(key, n), jnp.float32)
    if data.shape[0] <= n:
        return data
    return data[jax.random.choice(key, data.shape[0], (n,), replace=False)]


def _train(config, hyper, data, key, model, evaluation, progress, callback):
    """fit's loop over chunks: the history, divergence, the callback, Ctrl-C.  `model(state,
    history)` makes an `ENOTResult`; `evaluation` = (x, y, T*(x), Var(y)) as `_Run` has it."""
    x_eval, y_eval, t_eval, target_var = evaluation
    history = _history(t_eval is not None)
    snapshot = lambda state: model(train.model_params(config, state), {k: np.asarray(v) for k, v in history.items()})
    start = time.perf_counter()
    state = train.init_state(config, key)
    n_chunks = train.n_chunks(config, hyper.steps)
    bar, interrupted = _progress_bar(n_chunks, progress), False
    try:
        for _ in range(n_chunks):
            new, metrics = train.train_chunk(config, hyper, data, state)
            at = int(metrics["diverged_at"])
            if at >= 0:
                why = _diverged(at, bool(metrics["blew_up"]), float(hyper.tau), float(hyper.lam), float(hyper.learning_rate))
                raise DivergenceError(why, at, snapshot(new))
            state, current = new, snapshot(new)  # `state` only ever holds a finished chunk
            _record(history, int(state.step), time.perf_counter() - start, metrics, current.frame.cost_factor)
            if t_eval is not None:
                history["l2_uvp"].append(benchmark.l2_uvp_of(current.transport(x_eval), t_eval, target_var))
            bar.update(1)
            bar.set_postfix(dual=f"{history['dual_value'][-1]:.4g}", refresh=False)
            if callback is not None and callback(int(state.step), dataclasses.replace(current, dual_value=history["dual_value"][-1])):
                break
    except KeyboardInterrupt:  # the state of the last chunk that finished
        interrupted = True
        warnings.warn(f"training interrupted after {int(state.step)} of {int(hyper.steps)} steps: the result is the "
                      "model at that step (.interrupted is True)", stacklevel=3)
    finally:
        bar.close()
    result = snapshot(state)
    return dataclasses.replace(result, dual_value=result.dual_objective(x_eval, y_eval), interrupted=interrupted)


def _history(l2_uvp):
    """The empty history: one entry per chunk of each column."""
    return {"step": [], "time": [], "loss_f": [], "loss_g": [], "dual_value": []} | ({"l2_uvp": []} if l2_uvp else {})


def _record(history, step, seconds, metrics, cost_factor):
    """Append one chunk's row to `history`: its step, time, losses and dual value (the dual
    scaled by `cost_factor` from the training frame to the data's units)."""
    history["step"].append(step)
    history["time"].append(seconds)
    history["loss_f"].append(float(metrics["loss_f"]))
    history["loss_g"].append(float(metrics["loss_g"]))
    history["dual_value"].append(float(metrics["dual_value"]) * cost_factor)


def _diverged(step, blew_up, tau, lam, learning_rate, seed=None):
    """The message of a `DivergenceError` at `step` (with `seed`: of that cell of a grid)."""
    why = "blew up (beyond its scale by orders of magnitude)" if blew_up else "became NaN or inf"
    cell = "" if seed is None else f"seed={seed}, "
    return (f"training{'' if seed is None else ' of a grid cell'} diverged at step {step}: the loss {why} (tau={tau:g}, "
            f"lam={lam:g}, {cell}learning_rate={learning_rate:g}). Try a smaller learning_rate or a larger lam; the last good "
            "model is in this error's .result")


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="ENOT", unit="chunk", disable=not enabled, leave=False)
