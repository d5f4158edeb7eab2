"""Three other answers to the conjugate problem, beside ENOT, with the same networks and data.

The semi-dual needs the c-transform g^c(x) = inf_y c(x, y) - g(y) at every x of a batch: an
inner optimisation per point.  ENOT amortises it (the map T = x - grad h*(grad f(x)) predicts the
argmin) and ties the amortisation to the truth with the expectile term.  The baselines answer
it in the three ways the literature did before:

    exact    the c-transform over the batch, an n x n minimum per step (no inner model):
             f^c(y_j) = min_i c(x_i, y_j) - f(x_i);  max_f mean f(x) + mean f^c(y), and the
             same for g with the roles swapped.
    w2ot     the amortised conjugate fine-tuned by an inner solve (Amos 2022, "On amortizing
             convex conjugates for optimal transport", W2OT with the objective-based amortisation
             and L-BFGS): from T(x), `inner_steps` iterations of L-BFGS (`optax.lbfgs`) on
             y -> c(x, y) - g(y) give y_hat, and
                 L_g = -mean[c(x, y_hat) - g(y_hat)] - mean g(y),   L_f = ENOT's L_f.
    minimax  Makkuva, Taghvaei, Oh & Lee (2020), "Optimal transport mapping via input convex
             neural networks": the max-min objective, the map trained `inner_steps` Adam steps
             on L_f for every step of g on -mean[c(x, T) - g(T)] - mean g(y) (sg(T)).  The paper
             uses input-convex networks and a convexity penalty; here both are the same MLPs as
             ENOT's, so only the objective and the inner steps differ.

With inner_steps = 0, w2ot is ENOT with lambda = 0 (the amortised map alone); minimax with one
inner step differs from it only in updating f before g.  Everything else is ENOT's machinery
from `train`: `train.configure` for the settings, `train.init_state` (so a seed gives ENOT's
initial networks), `train.batches` (ENOT's batches for that seed), Adam with the same schedule,
bidirectional iterations (the inverse problem with (f, mu) and (g, nu) swapped), and chunks of
iterations in one jitted `lax.scan`.  Data is moved to the standard frame as `fit` does.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from enot_lite import benchmark, checks, costs, frame as frames, solver, train
from enot_lite.result import _transport

METHODS = ("exact", "w2ot", "minimax")
INNER_STEPS = {"exact": 0, "w2ot": 10, "minimax": 5}
"""Default inner iterations: L-BFGS iterations per point (w2ot), Adam steps of the map (minimax)."""

sg = jax.lax.stop_gradient


def fine_tune(c, g, phi, x, y0, iterations):
    """y_hat ~ argmin_y c(x_i, y) - g(phi, y) for every row x_i of x: `iterations` of L-BFGS
    (`optax.lbfgs`, zoom line search) from y0.

    The problems of different rows are independent, so their sum has every row's minimiser as
    its own: one L-BFGS solve over the whole batch (n x d unknowns) finds them all.  W2OT's code
    runs one solver per row instead (vmapped); on CPU that reaches the same objective at a
    far higher cost per solve (`benchmarks/lbfgs_batch.py`; docs/benchmarks.md, section 6)."""
    objective = lambda y: jnp.sum(c(x, y) - g(phi, y))
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry, _):
        y, state = carry
        value, grad = value_and_grad(y, state=state)
        updates, state = opt.update(grad, state, y, value=value, grad=grad, value_fn=objective)
        return (optax.apply_updates(y, updates), state), None

    (y, _), _ = jax.lax.scan(step, (y0, opt.init(y0)), None, length=iterations)
    return y


def exact_semi_dual(c, f, theta, x, y):
    """mean_i f(x_i) + mean_j f^c(y_j) with f^c(y_j) = min_i c(x_i, y_j) - f(x_i) over the batch."""
    f_x = f(theta, x)
    f_c = jnp.min(c(x[:, None, :], y[None, :, :]) - f_x[:, None], axis=0)
    return jnp.mean(f_x) + jnp.mean(f_c)


def _adam_step(tx, grads, opt_state, params):
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state


def update(method, inner_steps, config: train.Config, hyper: train.Hyper, params, opt_state, x, y):
    """One step of `method` on the batch (x, y) for (f, g) = params; returns
    (params, opt_state, (L_f, L_g, dual value)), the metrics of `train.update`."""
    fns = train.functions(config.cost, config.hidden)
    c, T, g = fns["c"], fns["T"], fns["g"]
    tx = train.optimizer(config, hyper)
    (theta, phi), (opt_f, opt_g) = params, opt_state
    L_f = lambda theta, phi: jnp.mean(c(x, T(theta, x)) - g(sg(phi), T(theta, x)))

    if method == "exact":  # each network against its own exact c-transform over the batch
        dual_f, grad_f = jax.value_and_grad(exact_semi_dual, argnums=2)(c, g, theta, x, y)
        dual_g, grad_g = jax.value_and_grad(lambda phi: exact_semi_dual(c, g, phi, y, x))(phi)
        theta, opt_f = _adam_step(tx, jax.tree.map(jnp.negative, grad_f), opt_f, theta)
        phi, opt_g = _adam_step(tx, jax.tree.map(jnp.negative, grad_g), opt_g, phi)
        return (theta, phi), (opt_f, opt_g), (-dual_f, -dual_g, dual_f)

    if method == "minimax":  # the map first: inner_steps Adam steps on L_f, g fixed
        inner = train.optimizer(config, hyper._replace(steps=hyper.steps * inner_steps))

        def map_step(carry, _):
            theta, opt_f = carry
            value, grad = jax.value_and_grad(L_f)(theta, phi)
            return _adam_step(inner, grad, opt_f, theta), value

        (theta, opt_f), values = jax.lax.scan(map_step, (theta, opt_f), None, length=inner_steps)
        loss_f, y_hat = values[-1], sg(T(theta, x))
    else:  # w2ot: the amortised prediction, fine-tuned by L-BFGS
        y_hat = sg(fine_tune(c, g, phi, x, sg(T(theta, x)), inner_steps))
        loss_f, grad_f = jax.value_and_grad(L_f)(theta, phi)
        theta, opt_f = _adam_step(tx, grad_f, opt_f, theta)

    def L_g(phi):
        dual = jnp.mean(c(x, y_hat) - g(phi, y_hat)) + jnp.mean(g(phi, y))
        return -dual, dual

    (loss_g, dual), grad_g = jax.value_and_grad(L_g, has_aux=True)(phi)
    phi, opt_g = _adam_step(tx, grad_g, opt_g, phi)
    return (theta, phi), (opt_f, opt_g), (loss_f, loss_g, dual)


def iteration(method, inner_steps, config, hyper, data, state: train.TrainState):
    """One scan iteration, as `train.iteration`: the forward step and, if bidirectional and within
    the budget, the inverse one with (f, mu) and (g, nu) swapped (`train.both_ways`)."""
    step = functools.partial(update, method, inner_steps, config, hyper)
    key, params, opt_state, metrics, done = train.both_ways(step, config, hyper, data, state)
    new = train.TrainState(params, opt_state, key, state.step + done)
    active = state.step < hyper.steps
    return jax.tree.map(lambda a, b: jnp.where(active, a, b), new, state), jnp.stack([m[0] for m in metrics])


@functools.partial(jax.jit, static_argnames=("method", "inner_steps", "config"))
def train_chunk(method, inner_steps, config, hyper, data, state):
    """`config.chunk` iterations in one `lax.scan` (one dispatch); returns (state, mean metrics)."""
    state, metrics = jax.lax.scan(lambda s, _: iteration(method, inner_steps, config, hyper, data, s), state, None,
                                  length=config.chunk)
    return state, jnp.mean(metrics, axis=0)


@dataclasses.dataclass(frozen=True)
class BaselineResult:
    """A trained baseline: the two networks, as in `ENOTResult`, and its training history."""

    method: str
    inner_steps: int
    params_f: Any
    params_g: Any
    dim: int
    hidden: tuple
    cost: Any
    frame: frames.Frame
    history: dict  # numpy arrays per chunk: step, time (s, compilation included), dual_value[, l2_uvp]
    settings: dict
    diverged_at: int | None = None  # the first step of the chunk whose metrics were not finite

    def transport(self, x):
        """The forward map T(x) = x - grad h*(grad f(x)), for x of shape (n, d)."""
        return _transport(self.cost, self.hidden, "gradient", self.params_f, self.frame, jnp.asarray(x, jnp.float32))

    def inverse_transport(self, y):
        """The inverse map S(y) = y - grad h*(grad g(y))."""
        return _transport(self.cost, self.hidden, "gradient", self.params_g, self.frame, jnp.asarray(y, jnp.float32))

    @property
    def seconds_per_update(self) -> float:
        """Steady-state seconds per step, between the first and the last chunk (no compilation)."""
        steps, seconds = self.history["step"], self.history["time"]
        if len(steps) < 2:
            return float("nan")
        return float((seconds[-1] - seconds[0]) / (steps[-1] - steps[0]))


def _draw(sampler, array, key, n):
    """n points: sampler(key, n), or a random subset of the rows of `array` (all if it has fewer)."""
    if sampler is not None:
        return jnp.asarray(sampler(key, n), jnp.float32)
    if array.shape[0] <= n:
        return array
    return array[jax.random.choice(key, array.shape[0], (n,), replace=False)]


def fit(source, target, method, *, inner_steps=None, cost="sqeuclidean", steps=5000, batch_size=256, hidden=None,
        learning_rate=None, schedule="cosine", betas=(0.9, 0.99), bidirectional=True, seed=0, reference_map=None,
        max_seconds=None) -> BaselineResult:
    """Train `method` ("exact", "w2ot" or "minimax") between `source` and `target` (arrays or
    samplers, as `enot_lite.fit` takes them) with `fit`'s settings and defaults.

    inner_steps: L-BFGS iterations (w2ot) or map steps per step of g (minimax); `INNER_STEPS`.
    reference_map: optional T*(x); then history["l2_uvp"] is logged after every chunk.
    max_seconds: stop after the first chunk that ends past this wall time (compilation included).
    A chunk whose losses are not finite stops training; the result keeps the chunk before it and
    `diverged_at` says where.
    """
    checks.one_of("method", method, METHODS)
    inner_steps = INNER_STEPS[method] if inner_steps is None else checks.number(
        "inner_steps", inner_steps, 0, 1000, low_open=method == "minimax", kind=int)
    cost = costs.get_cost(cost)
    sample_source, source_data, dim = checks.data("source", source)
    sample_target, target_data, _ = checks.data("target", target)
    hidden = tuple(hidden) if hidden is not None else solver.default_hidden(dim)  # fit's default
    checked = solver._settings(tau=1.0, lam=0.0, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                               schedule=schedule, betas=betas, bidirectional=bidirectional, frame=None, seed=seed)
    steps, batch_size, learning_rate, seed = (checked[k] for k in ("steps", "batch_size", "learning_rate", "seed"))
    if max_seconds is not None:
        max_seconds = checks.number("max_seconds", max_seconds, 0.0, math.inf, low_open=True)
    key = jax.random.key(seed)
    pilot = [_draw(s, a, jax.random.fold_in(key, i), 8192) for i, (s, a) in
             enumerate(((sample_source, source_data), (sample_target, target_data)), start=11)]
    degree = getattr(cost, "degree", None)
    box = frames.standard(*pilot, degree) if degree is not None else frames.identity(dim)
    data = train.Data(source_data, target_data, jnp.asarray(box.shift), jnp.float32(box.scale))
    config, hyper = train.configure(dim, hidden=hidden, batch_size=batch_size, steps=steps, tau=1.0, lam=0.0,
                                    learning_rate=learning_rate, schedule=schedule, betas=betas,
                                    bidirectional=bidirectional, cost=cost, sample_source=sample_source,
                                    sample_target=sample_target)
    x_eval = _draw(sample_source, source_data, jax.random.fold_in(key, 7), 8192)
    t_eval = None if reference_map is None else jnp.asarray(reference_map(x_eval), jnp.float32)
    var = None if t_eval is None else float(jnp.sum(jnp.var(_draw(sample_target, target_data, jax.random.fold_in(key, 8), 8192), axis=0)))
    settings = dict(steps=steps, batch_size=batch_size, learning_rate=learning_rate, schedule=schedule,
                    betas=tuple(betas), bidirectional=bidirectional, seed=seed)
    model = lambda state, history, diverged=None: BaselineResult(
        method, inner_steps, *state.params, dim, hidden, cost, box,
        {k: np.asarray(v) for k, v in history.items()}, settings, diverged)

    history = {"step": [], "time": [], "dual_value": []} | ({"l2_uvp": []} if t_eval is not None else {})
    start = time.perf_counter()
    state = train.init_state(config, key)
    n_chunks = train.n_chunks(config, steps)
    for _ in range(n_chunks):
        new, metrics = train_chunk(method, inner_steps, config, hyper, data, state)
        if not bool(jnp.all(jnp.isfinite(metrics))):
            return model(state, history, int(state.step))
        state = new
        history["step"].append(int(state.step))
        history["time"].append(time.perf_counter() - start)
        history["dual_value"].append(float(metrics[2]) * box.cost_factor)
        if t_eval is not None:
            history["l2_uvp"].append(benchmark.l2_uvp_of(model(state, {}).transport(x_eval), t_eval, var))
        if max_seconds is not None and history["time"][-1] > max_seconds:
            break
    return model(state, history)


def amortisation_gap(result, x, iterations=20):
    """How far the amortised c-transform g_T(x) = c(x, T(x)) - g(T(x)) is above the c-transform
    found by `iterations` of L-BFGS from T(x), per point of x (in the data's units); >= 0 up to
    the solver's accuracy, 0 where T(x) is the argmin.  Works for an `ENOTResult` or a
    `BaselineResult` (anything with params_f, params_g, hidden, cost, frame)."""
    return np.asarray(_gap(result.cost, result.hidden, iterations, result.params_f, result.params_g, result.frame,
                           jnp.asarray(x, jnp.float32)))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _gap(cost, hidden, iterations, theta, phi, frame, x):
    fns = train.functions(cost, hidden)
    c, T, g = fns["c"], fns["T"], fns["g"]
    x = frame.to_frame(x)
    t = T(theta, x)
    y_hat = fine_tune(c, g, phi, x, t, iterations)
    return frame.cost_factor * ((c(x, t) - g(phi, t)) - (c(x, y_hat) - g(phi, y_hat)))
