"""`fit`: ENOT between two samples or samplers, trained on device in chunks (see `train`)."""
from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from enot_lite import benchmark, checks, train
from enot_lite.costs import get_cost
from enot_lite.result import DivergenceError, ENOTResult


def default_hidden(dim):
    """The default network: three hidden layers of width max(64, 2 d)."""
    return (max(64, 2 * dim),) * 3


def fit(source, target, *, cost="sqeuclidean", tau=0.99, lam=1.0, steps=5000, batch_size=256, hidden=None,
        learning_rate=5e-3, schedule="cosine", betas=(0.9, 0.99), bidirectional=True, seed=0,
        reference_map=None, progress=True, callback=None) -> ENOTResult:
    """Fit ENOT between `source` (mu) and `target` (nu).

    Args:
      source, target: arrays (n, d) (batches are resampled on device) or callables
        sample(key, n) -> (n, d) (pure JAX, called inside the jitted loop).
      cost: "sqeuclidean" (1/2 ||x - y||^2), "pnorm:<p>", or a cost object (`costs`).
      tau: expectile in (0, 1]; tau -> 1 makes g_T a tight c-transform.
      lam: weight >= 0 of the expectile regulariser.
      steps: gradient updates (forward and inverse updates alternate when bidirectional).
      batch_size, hidden, learning_rate: batch per update, MLP widths (default: three
        layers of width max(64, 2d)), Adam's step size.
      schedule: "cosine" (decay the step size to 1 % of it over `steps`) or "constant".
      betas: Adam's (b1, b2).
      bidirectional: also learn the inverse map with g (alternating roles every step).
      seed: PRNG seed for initialisation and batches; same seed, same result.
      reference_map: optional callable T*(x); then history["l2_uvp"] is logged.
      progress: show a tqdm progress bar over chunks.
      callback: optional callback(step, result) called between chunks; return True to stop.

    Returns an `ENOTResult`.  Raises `DivergenceError` on a non-finite loss.
    """
    tau = checks.number("tau", tau, 0.0, 1.0, low_open=True)
    lam = checks.number("lam", lam, 0.0, math.inf, low_open=False)
    steps = checks.number("steps", steps, 0, math.inf, low_open=True, kind=int)
    batch_size = checks.number("batch_size", batch_size, 0, math.inf, low_open=True, kind=int)
    learning_rate = checks.number("learning_rate", learning_rate, 0.0, math.inf, low_open=True)
    seed = checks.number("seed", seed, 0, math.inf, low_open=False, kind=int)
    cost = get_cost(cost)
    sample_source, source_data, dim = checks.data("source", source)
    sample_target, target_data, dim_target = checks.data("target", target)
    if dim != dim_target:
        raise ValueError(f"source and target must have the same dimension, got {dim} and {dim_target}")
    hidden = checks.widths(default_hidden(dim) if hidden is None else hidden)
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    betas = tuple(checks.number(f"betas[{i}]", b, 0.0, 1.0, low_open=False) for i, b in enumerate(betas))
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(step, result)")

    settings = dict(tau=tau, lam=lam, learning_rate=learning_rate, schedule=schedule, betas=betas, steps=steps,
                    batch_size=batch_size, seed=seed)
    config, hyper = train.configure(dim, hidden=hidden, batch_size=batch_size, steps=steps, tau=tau, lam=lam,
                                    learning_rate=learning_rate, schedule=schedule, betas=betas,
                                    bidirectional=bidirectional, cost=cost, sample_source=sample_source,
                                    sample_target=sample_target)
    data = (source_data, target_data)
    x_eval, y_eval = _evaluation_sample(sample_source, source_data, seed), _evaluation_sample(sample_target, target_data, seed + 1)
    if reference_map is not None:
        t_eval = jnp.asarray(reference_map(x_eval), jnp.float32)
        target_var = float(jnp.sum(jnp.var(y_eval, axis=0)))

    def result(state, dual):
        return ENOTResult(*state.params, dim, hidden, cost, config.bidirectional, settings,
                          {k: np.asarray(v) for k, v in history.items()}, dual)

    history = {"step": [], "time": [], "loss_f": [], "loss_g": [], "dual_value": []}
    history |= {"l2_uvp": []} if reference_map is not None else {}
    start = time.perf_counter()
    state = train.init_state(config, seed)
    n_chunks = -(-steps // ((2 if config.bidirectional else 1) * config.chunk))
    bar = _progress_bar(n_chunks, progress)
    for _ in range(n_chunks):
        state, metrics = train.train_chunk(config, hyper, data, state)
        step = int(state.step)
        if int(metrics["diverged_at"]) >= 0:
            bar.close()
            at = int(metrics["diverged_at"])
            raise DivergenceError(
                f"training diverged at step {at}: the loss became NaN or inf (tau={tau}, lam={lam}, "
                f"learning_rate={learning_rate}). Try a smaller learning_rate or a larger lam; "
                "the last finite model is in this error's .result",
                at, result(state, float("nan")),
            )
        history["step"].append(step)
        history["time"].append(time.perf_counter() - start)
        for name in ("loss_f", "loss_g", "dual_value"):
            history[name].append(float(metrics[name]))
        if reference_map is not None:
            t_hat = result(state, float("nan")).transport(x_eval)
            history["l2_uvp"].append(benchmark.l2_uvp_of(t_hat, t_eval, target_var))
        bar.update(1)
        bar.set_postfix(dual=f"{history['dual_value'][-1]:.4f}", refresh=False)
        if callback is not None and callback(step, result(state, history["dual_value"][-1])):
            break
    bar.close()
    return result(state, result(state, float("nan")).dual_objective(x_eval, y_eval))


def _evaluation_sample(sampler, data, seed, n=8192):
    """Up to n points for evaluation: the data itself, or n draws with a fixed key."""
    if sampler is None:
        return data[:n]
    return jnp.asarray(sampler(jax.random.fold_in(jax.random.key(seed), 7), n), jnp.float32)


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="ENOT", unit="chunk", disable=not enabled, leave=False)
