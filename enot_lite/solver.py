"""ENOT: expectile-regularised neural optimal transport (Buzun, Bobrin & Dylov, 2024).

One training step on a batch x ~ mu, y ~ nu (paired at random), map network f, potential g:

    T(x)  = x - grad h*(grad f(x))                       the map, from f's gradient
    gT(x) = c(x, sg T(x)) - g(sg T(x))                   amortised c-transform  >= g^c(x)
    L_f   = mean[ c(x, T(x)) - sg(g)(T(x)) ]             T learns argmin_y c(x, y) - g(y)
    u     = gT(x) + g(y) - c(x, y)                       dual constraint residual, want u <= 0
    L_g   = -mean[ gT(x) + g(y) ] + lam * mean[ L_tau(u) ]
    L_tau(u) = |tau - 1[u < 0]| u^2                      the expectile loss

(sg = stop_gradient).  With `bidirectional=True` the roles of (f, mu) and (g, nu)
swap every other step, so g's gradient also learns the inverse map.

The whole loop runs on device: `train_chunk` is one jitted `lax.scan` over a chunk of
steps that draws its own batches.  tau, lam, the learning rate and the step budget
are traced values, so changing them never recompiles.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import pickle
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from enot_lite import potentials
from enot_lite.costs import Cost, get_cost, pairwise, transport_with

# ----------------------------------------------------------------------------- the loss


def expectile_loss(u, tau):
    """L_tau(u) = |tau - 1[u < 0]| u^2: weight tau above zero, 1 - tau below."""
    return jnp.where(u < 0, 1.0 - tau, tau) * u * u


def transport(cost: Cost, hidden, params, x):
    """T(x) = x - grad h*(grad f(x)) for the potential network with `params`."""
    return transport_with(cost, x, potentials.gradient(hidden, params, x))


def c_transform(cost: Cost, hidden, params_f, params_g, x):
    """Amortised c-transform  gT(x) = c(x, T(x)) - g(T(x)),  T from f.  An upper bound of
    g^c(x) = inf_y c(x, y) - g(y), tight when T(x) is the argmin."""
    t = transport(cost, hidden, params_f, x)
    return pairwise(cost, x, t) - potentials.value(hidden, params_g, t)


def enot_loss(params_f, params_g, x, y, tau, lam, *, cost: Cost, hidden):
    """L_f + L_g for one direction; returns (loss, (L_f, L_g, dual value estimate)).

    Gradients w.r.t. params_f come only from L_f, w.r.t. params_g only from L_g."""
    g = functools.partial(potentials.value_shared_backward, hidden)  # g_phi(.), one backward pass at T for L_f and L_g
    t = transport(cost, hidden, params_f, x)
    t_sg = jax.lax.stop_gradient(t)
    g_star = pairwise(cost, x, t_sg) - g(params_g, t_sg)  # gT(x)
    g_y = g(params_g, y)
    # Same forward and backward pass of g at T as above (XLA shares them); only what the gradient reaches differs.
    loss_f = jnp.mean(pairwise(cost, x, t) - g(jax.lax.stop_gradient(params_g), t))
    u = g_star + g_y - pairwise(cost, x, y)
    dual = jnp.mean(g_star) + jnp.mean(g_y)
    loss_g = -dual + lam * jnp.mean(expectile_loss(u, tau))
    return loss_f + loss_g, (loss_f, loss_g, dual)


# ----------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that fixes shapes or code (static for jit)."""

    dim: int
    hidden: tuple[int, ...]
    batch_size: int
    chunk: int  # scan iterations per dispatch (one iteration = 1 or 2 gradient updates)
    bidirectional: bool
    cost: Any  # a hashable Cost
    sample_source: Callable | None  # None: resample rows of the source array
    sample_target: Callable | None
    b1: float  # Adam's betas
    b2: float
    final_lr_fraction: float  # 0.01: cosine decay to 1% of the step size; 1.0: constant


class TrainState(NamedTuple):
    params_f: Any
    params_g: Any
    opt_f: Any
    opt_g: Any
    key: jax.Array
    step: jax.Array  # gradient updates done so far (int32)


class Hyper(NamedTuple):
    """Traced hyperparameters: changing them never recompiles."""

    tau: jax.Array
    lam: jax.Array
    learning_rate: jax.Array
    steps: jax.Array  # total budget, for the cosine schedule and the stop


def optimizer(config: Config, hyper: Hyper) -> optax.GradientTransformation:
    """Adam with a cosine decay from learning_rate to final_lr_fraction * learning_rate."""
    schedule = lambda count: hyper.learning_rate * (
        config.final_lr_fraction
        + (1 - config.final_lr_fraction) * 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count / hyper.steps, 1.0)))
    )
    return optax.adam(schedule, b1=config.b1, b2=config.b2)


def init_state(config: Config, seed: int) -> TrainState:
    key_f, key_g, key = jax.random.split(jax.random.key(seed), 3)
    params_f = potentials.init(config.hidden, key_f, config.dim)
    params_g = potentials.init(config.hidden, key_g, config.dim)
    tx = optimizer(config, hyper=None)  # init only lays out Adam's state; the schedule runs in updates
    return TrainState(params_f, params_g, tx.init(params_f), tx.init(params_g), key, jnp.zeros((), jnp.int32))


def _draw(sampler, data, key, n):
    """A batch of n points: rows of `data` with replacement, or sampler(key, n)."""
    if sampler is None:
        return data[jax.random.randint(key, (n,), 0, data.shape[0])]
    return sampler(key, n)


def update(config, hyper, params_map, params_pot, opt_map, opt_pot, x, y):
    """One gradient update of the map network and the potential network on (x, y)."""
    grad_fn = jax.value_and_grad(enot_loss, argnums=(0, 1), has_aux=True)
    (_, metrics), (grad_map, grad_pot) = grad_fn(
        params_map, params_pot, x, y, hyper.tau, hyper.lam, cost=config.cost, hidden=config.hidden
    )
    tx = optimizer(config, hyper)
    upd_map, opt_map = tx.update(grad_map, opt_map)
    upd_pot, opt_pot = tx.update(grad_pot, opt_pot)
    return optax.apply_updates(params_map, upd_map), optax.apply_updates(params_pot, upd_pot), opt_map, opt_pot, metrics


def train_step(config: Config, hyper: Hyper, data, state: TrainState):
    """Forward update (f maps mu -> nu), then, if bidirectional, the inverse one (g maps nu -> mu).

    Both directions live in one scan iteration (no lax.cond between them): the inverse
    update is the same `update` with the roles of (f, mu) and (g, nu) swapped."""
    source, target = data
    key, kx, ky, kx2, ky2 = jax.random.split(state.key, 5)
    n = config.batch_size
    x, y = _draw(config.sample_source, source, kx, n), _draw(config.sample_target, target, ky, n)
    pf, pg, of, og, (loss_f, loss_g, dual) = update(config, hyper, state.params_f, state.params_g, state.opt_f, state.opt_g, x, y)
    steps_done = 1
    if config.bidirectional:
        x2, y2 = _draw(config.sample_source, source, kx2, n), _draw(config.sample_target, target, ky2, n)
        pg, pf, og, of, (loss_map, loss_potential, _) = update(config, hyper, pg, pf, og, of, y2, x2)
        loss_f, loss_g, steps_done = (loss_f + loss_map) / 2, (loss_g + loss_potential) / 2, 2  # both directions
    new = TrainState(pf, pg, of, og, key, state.step + steps_done)
    metrics = jnp.stack([loss_f, loss_g, dual])
    # Advance only within budget and while finite.  A non-finite step leaves the state
    # (key included) untouched, so every later iteration repeats it: training halts at
    # the last finite state.
    params_sum = sum(jnp.sum(leaf) for leaf in jax.tree.leaves((pf, pg)))
    active, finite = state.step < hyper.steps, jnp.all(jnp.isfinite(metrics)) & jnp.isfinite(params_sum)
    new = jax.tree.map(lambda a, b: jnp.where(active & finite, a, b), new, state)
    return new, (metrics, active & finite, active & ~finite, state.step)


def _train_chunk(config: Config, hyper: Hyper, data, state: TrainState):
    """`config.chunk` training iterations in one `lax.scan`; returns (state, chunk metrics).

    Metrics are averaged over the iterations that ran; `diverged_at` is the step whose
    loss was first not finite (-1 if none)."""
    state, (metrics, ran, bad, step) = jax.lax.scan(
        lambda s, _: train_step(config, hyper, data, s), state, None, length=config.chunk
    )
    mean = jnp.sum(jnp.where(ran[:, None], metrics, 0.0), axis=0) / jnp.maximum(ran.sum(), 1)
    diverged_at = jnp.where(bad.any(), step[jnp.argmax(bad)], -1)
    return state, {"loss_f": mean[0], "loss_g": mean[1], "dual_value": mean[2], "diverged_at": diverged_at}


# XLA:CPU hands matrix products to YNNPACK fusions by default; for ENOT's small products
# (batch x width x width) XLA's own dot emitter is faster: 0-9 % per training step on 2 cores
# (docs/benchmarks.md, section 3).  Other backends ignore the option.
_SMALL_MATMUL_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def _compiled_train_chunk():
    """`_train_chunk` jitted with `_SMALL_MATMUL_OPTIONS` where this XLA has them (an
    experimental option, so it is probed once, on the first call), without them elsewhere."""
    try:
        jax.jit(jnp.negative, compiler_options=_SMALL_MATMUL_OPTIONS).lower(1.0).compile()
        options = _SMALL_MATMUL_OPTIONS
    except RuntimeError:  # "No such compile option"
        options = {}
    return jax.jit(_train_chunk, static_argnames="config", compiler_options=options)


def train_chunk(config: Config, hyper: Hyper, data, state: TrainState):
    """`_train_chunk`, jitted (`config` static): one dispatch per chunk."""
    return _compiled_train_chunk()(config, hyper, data, state)


init_state = jax.jit(init_state, static_argnums=0)


# ----------------------------------------------------------------------------- the result


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss.  `.step` is where; `.result` holds the last finite state."""

    def __init__(self, message, step, result):
        super().__init__(message)
        self.step, self.result = step, result


_transport = jax.jit(transport, static_argnums=(0, 1))
_value = jax.jit(potentials.value, static_argnums=0)
_c_transform = jax.jit(c_transform, static_argnums=(0, 1))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _dual_value(cost, hidden, params_f, params_g, x, y):
    """E_mu gT(x) + E_nu g(y): the dual objective, an estimate of the transport cost."""
    return jnp.mean(c_transform(cost, hidden, params_f, params_g, x)) + jnp.mean(potentials.value(hidden, params_g, y))


@dataclasses.dataclass(frozen=True)
class ENOTResult:
    """A trained ENOT model: the two potentials and what is needed to use them."""

    params_f: Any
    params_g: Any
    dim: int
    hidden: tuple[int, ...]
    cost: Any
    bidirectional: bool
    hyper: dict  # tau, lam, learning_rate, steps, batch_size, seed
    history: dict  # numpy arrays per logged chunk: step, time (s), loss_f, loss_g, dual_value[, l2_uvp]
    dual_value: float  # E gT(x) + E g(y) on an evaluation sample

    def _points(self, z, name):
        z = jnp.asarray(z, jnp.float32)
        if z.ndim not in (1, 2) or z.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (n, {self.dim}) or ({self.dim},), got {z.shape}")
        return z

    def transport(self, x):
        """The forward map T(x) = x - grad h*(grad f(x)), for x of shape (n, d) or (d,)."""
        x = self._points(x, "x")
        return _transport(self.cost, self.hidden, self.params_f, jnp.atleast_2d(x)).reshape(x.shape)

    def inverse_transport(self, y):
        """The inverse map S(y) = y - grad h*(grad g(y)) (learned only with bidirectional=True;
        the inverse problem uses the same h, so costs are assumed symmetric, h(z) = h(-z))."""
        if not self.bidirectional:
            raise ValueError("inverse_transport needs a model fitted with bidirectional=True")
        y = self._points(y, "y")
        return _transport(self.cost, self.hidden, self.params_g, jnp.atleast_2d(y)).reshape(y.shape)

    def c_transform(self, x):
        """The amortised c-transform gT(x) = c(x, T(x)) - g(T(x)), an upper bound of g^c(x)."""
        x = self._points(x, "x")
        return _c_transform(self.cost, self.hidden, self.params_f, self.params_g, jnp.atleast_2d(x)).reshape(x.shape[:-1])

    def f(self, x):
        """The source potential f(x) (its gradient defines the forward map)."""
        x = self._points(x, "x")
        return _value(self.hidden, self.params_f, jnp.atleast_2d(x)).reshape(x.shape[:-1])

    def g(self, y):
        """The target potential g(y)."""
        y = self._points(y, "y")
        return _value(self.hidden, self.params_g, jnp.atleast_2d(y)).reshape(y.shape[:-1])

    def save(self, path):
        """Write the model to `path` (a pickle of numpy arrays; only load files you trust)."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        fields["params_f"], fields["params_g"] = jax.tree.map(np.asarray, (self.params_f, self.params_g))
        with open(path, "wb") as fh:
            pickle.dump(fields, fh)


def load(path) -> ENOTResult:
    """Restore a model written by `ENOTResult.save`."""
    with open(path, "rb") as fh:
        fields = pickle.load(fh)
    fields["params_f"], fields["params_g"] = jax.tree.map(jnp.asarray, (fields["params_f"], fields["params_g"]))
    return ENOTResult(**fields)


# ----------------------------------------------------------------------------- fit


def _check_data(name, data):
    """(sampler, array) for `data`: an (n, d) array of finite floats, or sample(key, n) -> (n, d)."""
    if callable(data):
        try:
            out = jax.eval_shape(lambda: data(jax.random.key(0), 2))  # traces, compiles nothing
        except Exception as err:
            raise TypeError(f"{name} is callable but sample(key, n) failed to trace: {err}") from err
        if not hasattr(out, "shape") or len(out.shape) != 2 or out.shape[0] != 2:
            raise ValueError(f"{name}(key, n) must return an array of shape (n, d), got {getattr(out, 'shape', out)}")
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise TypeError(f"{name}(key, n) must return floats, got dtype {out.dtype}")
        return data, None, out.shape[1]
    if not hasattr(data, "shape") and not isinstance(data, (list, tuple)):
        raise TypeError(f"{name} must be an array of shape (n, d) or a callable sample(key, n), got {type(data).__name__}")
    arr = np.asarray(data)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n, d), got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples of dimension >= 1, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return None, jnp.asarray(arr, jnp.float32), arr.shape[1]


def _check_number(name, value, low, high, low_open, kind=float):
    """`value` as a Python number of `kind`, inside (low, high] / [low, high] or else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if kind is int and int(value) != value:
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = kind(value)
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value > high:
        interval = f"{'(' if low_open else '['}{low}, {high}{']' if math.isfinite(high) else ')'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def default_hidden(dim):
    """The default network: three hidden layers of width max(64, 2 d)."""
    return (max(64, 2 * dim),) * 3


def _chunk_size(steps, per_iteration):
    """Iterations per dispatch: about 20 chunks, at most 500 iterations each."""
    iterations = -(-steps // per_iteration)
    return max(1, min(500, -(-iterations // 20)))


def fit(
    source,
    target,
    *,
    cost="sqeuclidean",
    tau=0.99,
    lam=1.0,
    steps=5000,
    batch_size=256,
    hidden=None,
    learning_rate=5e-3,
    schedule="cosine",
    betas=(0.9, 0.99),
    bidirectional=True,
    seed=0,
    reference_map=None,
    progress=True,
    callback=None,
) -> ENOTResult:
    """Fit ENOT between `source` (mu) and `target` (nu).

    Args:
      source, target: arrays (n, d) (batches are resampled on device) or callables
        sample(key, n) -> (n, d) (pure JAX, called inside the jitted loop).
      cost: "sqeuclidean" (1/2 ||x - y||^2), "pnorm:<p>", or a `costs.Cost` object.
      tau: expectile in (0, 1]; tau -> 1 makes gT a tight c-transform.
      lam: weight >= 0 of the expectile regulariser.
      steps: gradient updates (forward and inverse updates alternate when bidirectional).
      batch_size, hidden, learning_rate: batch per update, MLP widths (default: three
        layers of width max(64, 2d)), Adam's step size.
      schedule: "cosine" (decay the step size to 1% of it over `steps`) or "constant".
      betas: Adam's (b1, b2).
      bidirectional: also learn the inverse map with g (alternating roles every step).
      seed: PRNG seed for initialisation and batches; same seed, same result.
      reference_map: optional callable T*(x); then history["l2_uvp"] is logged.
      progress: show a tqdm progress bar over chunks.
      callback: optional callback(step, result) called between chunks; return True to stop.

    Returns an `ENOTResult`.  Raises `DivergenceError` on a non-finite loss.
    """
    tau = _check_number("tau", tau, 0.0, 1.0, low_open=True)
    lam = _check_number("lam", lam, 0.0, math.inf, low_open=False)
    steps = _check_number("steps", steps, 0, math.inf, low_open=True, kind=int)
    batch_size = _check_number("batch_size", batch_size, 0, math.inf, low_open=True, kind=int)
    learning_rate = _check_number("learning_rate", learning_rate, 0.0, math.inf, low_open=True)
    seed = _check_number("seed", seed, 0, math.inf, low_open=False, kind=int)
    cost = get_cost(cost)
    sample_source, source_data, dim = _check_data("source", source)
    sample_target, target_data, dim_target = _check_data("target", target)
    if dim != dim_target:
        raise ValueError(f"source and target must have the same dimension, got {dim} and {dim_target}")
    hidden = default_hidden(dim) if hidden is None else hidden
    if isinstance(hidden, int) or not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ValueError(f"hidden must be a non-empty sequence of positive ints (layer widths), got {hidden!r}")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    b1, b2 = (_check_number(f"betas[{i}]", b, 0.0, 1.0, low_open=False) for i, b in enumerate(betas))
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(step, result)")

    per_iteration = 2 if bidirectional else 1
    config = Config(
        dim=dim, hidden=tuple(hidden), batch_size=batch_size, chunk=_chunk_size(steps, per_iteration),
        bidirectional=bool(bidirectional), cost=cost, sample_source=sample_source, sample_target=sample_target,
        b1=b1, b2=b2, final_lr_fraction=0.01 if schedule == "cosine" else 1.0,
    )
    hyper = Hyper(*(jnp.asarray(v, jnp.float32) for v in (tau, lam, learning_rate)), jnp.asarray(steps, jnp.int32))
    data = (source_data, target_data)
    x_eval, y_eval = _evaluation_sample(sample_source, source_data, seed), _evaluation_sample(sample_target, target_data, seed + 1)
    if reference_map is not None:
        t_eval = jnp.asarray(reference_map(x_eval), jnp.float32)
        target_var = float(jnp.sum(jnp.var(y_eval, axis=0)))

    settings = dict(tau=tau, lam=lam, learning_rate=learning_rate, schedule=schedule, betas=(b1, b2), steps=steps,
                    batch_size=batch_size, seed=seed)
    make_result = lambda state, hist, dual: ENOTResult(
        state.params_f, state.params_g, dim, config.hidden, cost, config.bidirectional, settings,
        {k: np.asarray(v) for k, v in hist.items()}, dual,
    )
    history = {"step": [], "time": [], "loss_f": [], "loss_g": [], "dual_value": []}
    history |= {"l2_uvp": []} if reference_map is not None else {}
    start = time.perf_counter()
    state = init_state(config, seed)
    n_chunks = -(-steps // (per_iteration * config.chunk))
    bar = _progress_bar(n_chunks, progress)
    for _ in range(n_chunks):
        state, metrics = train_chunk(config, hyper, data, state)
        step = int(state.step)
        if int(metrics["diverged_at"]) >= 0:
            bar.close()
            at = int(metrics["diverged_at"])
            raise DivergenceError(
                f"training diverged at step {at}: the loss became NaN or inf (tau={tau}, lam={lam}, "
                f"learning_rate={learning_rate}). Try a smaller learning_rate or a larger lam; "
                "the last finite model is in this error's .result",
                at, make_result(state, history, float("nan")),
            )
        history["step"].append(step)
        history["time"].append(time.perf_counter() - start)
        for name in ("loss_f", "loss_g", "dual_value"):
            history[name].append(float(metrics[name]))
        if reference_map is not None:
            err = jnp.sum((_transport(cost, config.hidden, state.params_f, x_eval) - t_eval) ** 2, axis=1)
            history["l2_uvp"].append(100 * float(jnp.mean(err)) / target_var)
        bar.update(1)
        bar.set_postfix(dual=f"{history['dual_value'][-1]:.4f}", refresh=False)
        if callback is not None and callback(step, make_result(state, history, history["dual_value"][-1])):
            break
    bar.close()
    dual = float(_dual_value(cost, config.hidden, state.params_f, state.params_g, x_eval, y_eval))
    return make_result(state, history, dual)


def _evaluation_sample(sampler, data, seed, n=8192):
    """Up to n points for evaluation: the data itself, or n draws with a fixed key."""
    if sampler is None:
        return data[:n]
    return jnp.asarray(sampler(jax.random.fold_in(jax.random.key(seed), 7), n), jnp.float32)


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="ENOT", unit="chunk", disable=not enabled, leave=False)
