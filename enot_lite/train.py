"""The training machinery: state, one update, the scan over a chunk of iterations.

A *step* is one gradient update of both networks on one batch; an *iteration* of the scan is
one step, or two when bidirectional (the forward problem, then the inverse one with the roles
of (f, mu) and (g, nu) swapped); a *chunk* is `Config.chunk` iterations in one `lax.scan`, one
dispatch.  `Config` holds what fixes shapes or code (static under jit); `Hyper` holds tau,
lambda, the step size and the step budget, traced, so changing them never recompiles.

Two swaps that change speed, not results (each has a test against the plain version):
g's backward pass shared by L_f and L_g (`Config.share_backward`, see `shared_backward`), and
the chunk compiled with XLA:CPU's own dot emitter (`SMALL_MATMUL_OPTIONS`, probed once).
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from enot_lite import costs, loss, potentials
from enot_lite import shared_backward


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that fixes shapes or code (static for jit)."""

    dim: int
    hidden: tuple[int, ...]
    batch_size: int
    chunk: int  # scan iterations per dispatch
    bidirectional: bool
    cost: Any  # a hashable cost object
    sample_source: Callable | None  # None: resample rows of the source array
    sample_target: Callable | None
    b1: float  # Adam's betas
    b2: float
    final_lr_fraction: float  # 0.01: cosine decay to 1 % of the step size; 1.0: constant
    share_backward: bool = True  # g through `shared_backward.value` (same gradients, one backward pass)
    map: str = "gradient"  # T from f's gradient, or "network": f is a map network T_theta
    fold: bool = False  # bidirectional: both directions through one traced update (`both_ways`)
    adam_eps: float = 1e-8  # Adam's epsilon, added to sqrt(v)
    ema: float = 0.0  # decay of the parameters' moving average (`TrainState.average`); 0: none kept


class Hyper(NamedTuple):
    """Traced hyperparameters: changing them never recompiles."""

    tau: jax.Array
    lam: jax.Array
    learning_rate: jax.Array
    steps: jax.Array  # the step budget, for the schedule and the stop
    limit: jax.Array  # a step whose |L_f|, |L_g| or |dual value| exceeds this has blown up


class Data(NamedTuple):
    """What the batches are drawn from: arrays (None where `Config` has a sampler), and the frame
    x' = (x - shift) / scale that every batch is moved into."""

    source: jax.Array | None
    target: jax.Array | None
    shift: jax.Array
    scale: jax.Array


class TrainState(NamedTuple):
    params: tuple  # (theta of f, phi of g)
    opt_state: tuple  # Adam's state for each
    key: jax.Array
    step: jax.Array  # steps done so far (int32)
    average: Any = None  # `optax.ema`'s state over `params` when `Config.ema` > 0, else None


def chunk_size(steps, per_iteration):
    """Iterations per dispatch: about 20 chunks, at most 500 iterations each."""
    iterations = -(-steps // per_iteration)
    return max(1, min(500, -(-iterations // 20)))


def n_chunks(config, steps) -> int:
    """Dispatches of `config.chunk` scan iterations that cover `steps` updates (an iteration is
    two updates, one per direction, when bidirectional)."""
    return -(-int(steps) // ((2 if config.bidirectional else 1) * config.chunk))


FOLD_STEPS = 20_000
"""Budgets up to this train with `Config.fold`: for them compiling is a large part of the wall
time, and the folded program compiles faster (docs/benchmarks.md, section 10)."""


def configure(dim, *, hidden, batch_size, steps, tau, lam, learning_rate, schedule="cosine", betas=(0.9, 0.99),
              adam_eps=1e-8, bidirectional=True, cost=None, sample_source=None, sample_target=None, share_backward=True,
              limit=float("inf"), map="gradient", fold=None, ema=0.0):
    """(Config, Hyper) for these settings, unchecked (`fit` validates them first).  `fold=None`
    folds the directions (`both_ways`) for budgets of at most `FOLD_STEPS` updates."""
    config = Config(
        dim=dim, hidden=tuple(hidden), batch_size=batch_size, chunk=chunk_size(steps, 2 if bidirectional else 1),
        bidirectional=bool(bidirectional), cost=costs.SqEuclidean() if cost is None else cost,
        sample_source=sample_source, sample_target=sample_target, b1=betas[0], b2=betas[1],
        final_lr_fraction={"cosine": 0.01, "constant": 1.0}[schedule], share_backward=share_backward, map=map,
        fold=steps <= FOLD_STEPS if fold is None else bool(fold), adam_eps=adam_eps, ema=float(ema),
    )
    hyper = Hyper(jnp.float32(tau), jnp.float32(lam), jnp.float32(learning_rate), jnp.int32(steps), jnp.float32(limit))
    return config, hyper


CONFIGURE_NAMES = frozenset(inspect.signature(configure).parameters) - {"dim"}
"""The settings `configure` takes by name: a dict of settings filtered by them configures a training."""


def schedule(learning_rate, steps, final_lr_fraction):
    """eta(k) = eta_0 (r + (1 - r) (1 + cos(pi min(k / steps, 1))) / 2), r = final_lr_fraction:
    a cosine decay from eta_0 to r eta_0 over the budget (r = 1: constant)."""
    r = final_lr_fraction
    return lambda count: learning_rate * (r + (1 - r) * 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count / steps, 1.0))))


def optimizer(config: Config, hyper: Hyper | None) -> optax.GradientTransformation:
    """Adam (`config.adam_eps` added to sqrt(v)) with `schedule`; with `hyper=None` its only use is
    laying out the state (`init`)."""
    lr = schedule(*((0.0, 1) if hyper is None else (hyper.learning_rate, hyper.steps)), config.final_lr_fraction)
    return optax.adam(lr, b1=config.b1, b2=config.b2, eps=config.adam_eps)


def init_state(config: Config, key) -> TrainState:
    """Fresh networks f (or the map network) and g, Adam's state, the PRNG key of the batches,
    step 0 and, with `config.ema`, an empty average (from `key`, e.g. `jax.random.key(seed)`)."""
    key_f, key_g, key = jax.random.split(key, 3)
    init_f = potentials.init if config.map == "gradient" else potentials.map_init
    params = (init_f(config.hidden, key_f, config.dim), potentials.init(config.hidden, key_g, config.dim))
    tx = optimizer(config, hyper=None)
    average = optax.ema(config.ema).init(params) if config.ema else None
    return TrainState(params, tuple(tx.init(p) for p in params), key, jnp.zeros((), jnp.int32), average)


def model_params(config: Config, state: TrainState):
    """The networks (theta, phi) a result holds: `state.params`, or with `config.ema` = d > 0
    their moving average after k iterations, (1 - d) sum_{i=1..k} d^(k-i) params_i / (1 - d^k)
    (the initial networks while k = 0; the debiasing is optax's, as `optax.ema` applies it)."""
    if not config.ema:
        return state.params
    k = state.average.count
    average = optax.tree_utils.tree_bias_correction(state.average.ema, config.ema, jnp.maximum(k, 1))
    return jax.tree.map(lambda a, p: jnp.where(k > 0, a, p), average, state.params)


def functions(cost, hidden, share_backward=False, map="gradient"):
    """What the loss takes: c(x, y), the map T(theta, x) and the potential g(phi, y), for networks
    of widths `hidden`.  T(x) = x - grad h*(grad f_theta(x)), or with map="network" the map
    network's output, projected by the cost's `project` if it has one."""
    value = functools.partial(potentials.value, hidden)
    g = functools.partial(shared_backward.value, hidden) if share_backward else value
    if map == "gradient":
        T = functools.partial(loss.gradient_map, cost.grad_h_star, value)
    else:
        project = getattr(cost, "project", lambda t: t)
        T = lambda theta, x: project(potentials.map_value(hidden, theta, x))
    return dict(c=functools.partial(costs.pairwise, cost), T=T, g=g)


def draw(sampler, data, key, n):
    """A batch of n points: rows of `data` drawn with replacement, or sampler(key, n)."""
    if sampler is None:
        return data[jax.random.randint(key, (n,), 0, data.shape[0])]
    return sampler(key, n)


def batches(config: Config, data: Data, key):
    """The next key and the batches of one iteration, in the frame: (x, y) for the forward step
    and (x', y') for the inverse one (drawn always; XLA drops them when unused)."""
    key, kx, ky, kx2, ky2 = jax.random.split(key, 5)
    n = config.batch_size
    framed = lambda sampler, array, k: (draw(sampler, array, k, n) - data.shift) / data.scale
    pair = lambda k_source, k_target: (framed(config.sample_source, data.source, k_source),
                                       framed(config.sample_target, data.target, k_target))
    return key, pair(kx, ky), pair(kx2, ky2)


def raw(arrays, dim):
    """`Data` for training on arrays (source, target) in their own units (no frame)."""
    return Data(*arrays, jnp.zeros(dim, jnp.float32), jnp.float32(1.0))


def update(config: Config, hyper: Hyper, params, opt_state, x, y):
    """One step on the batch (x, y): Adam on the ENOT loss for (f, g) = params.
    Returns (params, opt_state, (L_f, L_g, dual value))."""
    grad_fn = jax.value_and_grad(loss.enot_loss, argnums=(0, 1), has_aux=True)
    fns = functions(config.cost, config.hidden, config.share_backward, config.map)
    (_, metrics), grads = grad_fn(*params, x, y, hyper.tau, hyper.lam, **fns)
    tx = optimizer(config, hyper)
    new_params, new_opt = [], []
    for p, g, s in zip(params, grads, opt_state):
        updates, s = tx.update(g, s)
        new_params.append(optax.apply_updates(p, updates))
        new_opt.append(s)
    return tuple(new_params), tuple(new_opt), metrics


def both_ways(step, config: Config, hyper: Hyper, data: Data, state: TrainState):
    """The updates of one scan iteration: step(params, opt_state, x, y) on the forward batch and,
    if bidirectional and within the budget, on the inverse one with (g, nu) in the role of
    (f, mu), i.e. params and batch swapped.  Returns (key, params, opt_state, the metrics of each
    direction stacked (k, ...), steps done).

    `config.fold` swaps the two traced updates for one `lax.scan` of length 2 over the same update
    (the roles swapped after each): the program holds one copy of it and compiles in about 2/3 of
    the time, and each iteration runs a loop (docs/benchmarks.md, section 10)."""
    key, (x, y), (x2, y2) = batches(config, data, state.key)
    if not config.bidirectional:
        params, opt_state, metrics = step(state.params, state.opt_state, x, y)
        return key, params, opt_state, jax.tree.map(lambda m: m[None], metrics), jnp.int32(1)
    second = state.step + 1 < hyper.steps  # `steps` counts updates: an odd budget ends forward

    def direction(carry, inputs):
        (a, b), on = inputs
        params, opt_state, metrics = step(*carry, a, b)
        params, opt_state = jax.tree.map(lambda new, old: jnp.where(on, new, old), (params, opt_state), carry)
        return (params[::-1], opt_state[::-1]), metrics

    carry = (state.params, state.opt_state)
    if config.fold:
        inputs = ((jnp.stack([x, y2]), jnp.stack([y, x2])), jnp.stack([jnp.bool_(True), second]))
        (params, opt_state), metrics = jax.lax.scan(direction, carry, inputs)
    else:
        carry, forward = direction(carry, ((x, y), True))
        (params, opt_state), inverse = direction(carry, ((y2, x2), second))
        metrics = jax.tree.map(lambda *m: jnp.stack(m), forward, inverse)
    return key, params, opt_state, metrics, 1 + second.astype(jnp.int32)


def iteration(config: Config, hyper: Hyper, data: Data, state: TrainState):
    """One scan iteration: `update` forward and, if bidirectional, inverse (`both_ways`).
    L_f and L_g are averaged over the directions that ran (L_f: the map's loss, L_g: the
    potential's); the dual value is the forward one.

    The state advances only within the budget and while the step is healthy (finite, and its
    losses and dual value within `hyper.limit`): a bad step leaves the state (key included)
    untouched, so every later iteration repeats it and training halts at the last good state.
    With `config.ema` = d > 0 the average moves towards the new networks, a <- d a + (1 - d) params
    (`optax.ema`; `model_params` reads it out)."""
    key, params, opt_state, (loss_map, loss_potential, dual), steps_done = both_ways(
        functools.partial(update, config, hyper), config, hyper, data, state)
    ran = jnp.arange(loss_map.shape[0]) < steps_done
    mean = lambda v: jnp.sum(jnp.where(ran, v, 0.0)) / steps_done
    average = optax.ema(config.ema).update(params, state.average)[1] if config.ema else None
    new = TrainState(params, opt_state, key, state.step + steps_done, average)
    metrics = jnp.stack([mean(loss_map), mean(loss_potential), dual[0]])
    params_sum = sum(jnp.sum(leaf) for leaf in jax.tree.leaves(params))
    finite = jnp.all(jnp.isfinite(metrics)) & jnp.isfinite(params_sum)
    bounded = jnp.all(jnp.abs(metrics) <= hyper.limit)
    active, good = state.step < hyper.steps, finite & bounded
    new = jax.tree.map(lambda a, b: jnp.where(active & good, a, b), new, state)
    return new, (metrics, active & good, active & ~finite, active & finite & ~bounded, state.step)


def _train_chunk(config: Config, hyper: Hyper, data: Data, state: TrainState):
    """`config.chunk` iterations in one `lax.scan`; returns (state, chunk metrics): the losses
    and dual value averaged over the iterations that ran, `diverged_at`, the step that first went
    bad (-1 if none), and `blew_up`, whether that step was finite but beyond `hyper.limit`."""
    state, (metrics, ran, non_finite, beyond, step) = jax.lax.scan(
        lambda s, _: iteration(config, hyper, data, s), state, None, length=config.chunk
    )
    mean = jnp.sum(jnp.where(ran[:, None], metrics, 0.0), axis=0) / jnp.maximum(ran.sum(), 1)
    bad = non_finite | beyond
    first = jnp.argmax(bad)
    return state, {"loss_f": mean[0], "loss_g": mean[1], "dual_value": mean[2],
                   "diverged_at": jnp.where(bad.any(), step[first], -1), "blew_up": bad.any() & beyond[first]}


# XLA:CPU hands matrix products to YNNPACK fusions by default; for ENOT's small products
# (batch x width x width) XLA's own dot emitter is faster (docs/benchmarks.md, section 3).
# Other backends ignore the option.
SMALL_MATMUL_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options(options=tuple(SMALL_MATMUL_OPTIONS.items())) -> dict:
    """The XLA `options` where this XLA has them (they are experimental, so they are probed
    once), none elsewhere."""
    try:
        jax.jit(jnp.negative, compiler_options=dict(options)).lower(1.0).compile()
    except RuntimeError:  # "No such compile option"
        return {}
    return dict(options)


@functools.cache
def compiled_train_chunk(options=tuple(SMALL_MATMUL_OPTIONS.items())):
    """`_train_chunk` jitted (`config` static) with `compiler_options(options)`."""
    return jax.jit(_train_chunk, static_argnames="config", compiler_options=compiler_options(options))


def train_chunk(config: Config, hyper: Hyper, data, state: TrainState):
    """One chunk of training, one dispatch: `_train_chunk` compiled by `compiled_train_chunk()`."""
    return compiled_train_chunk()(config, hyper, data, state)


init_state = jax.jit(init_state, static_argnums=0)

_compilations = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: _compilations.append(event) if "backend_compile" in event else None
)


def compilations() -> int:
    """How many programs this process has compiled so far, by XLA or by loading them from the
    compilation cache (`cache_compilations`); read it before and after."""
    return len(_compilations)


def cache_compilations(directory: str | os.PathLike | None = None) -> Path:
    """Keep every compiled program on disk (JAX's persistent compilation cache), so that a new
    process building the same program loads it instead of compiling it again: a notebook run a
    second time skips most of its compilation.  `directory` defaults to $ENOT_CACHE_DIR, else a
    directory JAX is already configured with, else $XDG_CACHE_HOME/enot_lite/xla
    (~/.cache/enot_lite/xla).  Nothing is ever deleted from it (a course run adds 2-4 MB per
    notebook): remove the directory to reclaim the space.  Returns the directory in use."""
    if directory is None:
        directory = os.environ.get("ENOT_CACHE_DIR") or jax.config.jax_compilation_cache_dir or (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "enot_lite" / "xla")
    directory = Path(directory).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return directory
