"""Input checks for `fit`: each refuses bad input with a ValueError or TypeError that names the
argument and the allowed range, before anything compiles."""
from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np


def number(name, value, low, high, low_open, kind=float, high_open=False):
    """`value` as a Python number of `kind`, inside its interval (open or closed at each end)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if kind is int and int(value) != value:
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = kind(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        closing = ")" if high_open or not math.isfinite(high) else "]"
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}{closing}, got {value!r}")
    return value


def data(name, data):
    """(sampler, array, dim) for `data`: an (n, d) array of finite reals, or sample(key, n) -> (n, d)."""
    if callable(data):
        try:
            out = jax.eval_shape(lambda: data(jax.random.key(0), 2))  # traces, compiles nothing
        except Exception as err:
            raise TypeError(f"{name} is callable but sample(key, n) failed to trace: {err}") from err
        if not hasattr(out, "shape") or len(out.shape) != 2:
            raise ValueError(f"{name}(key, n) must return an array of shape (n, d), got {getattr(out, 'shape', out)}")
        if out.shape[0] != 2:
            raise ValueError(f"{name}(key, n) must return n points, shape (n, d): for n = 2 it gave {out.shape}")
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise TypeError(f"{name}(key, n) must return floats, got dtype {out.dtype}")
        sampler_draws_from_its_key(name, data, out.shape[1])
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
    within_float32(name, arr)
    return None, jnp.asarray(arr, jnp.float32), arr.shape[1]


def widths(hidden):
    """`hidden` as a tuple of positive ints (layer widths); numpy ints count, bools do not."""
    ok = not isinstance(hidden, (int, np.integer, str)) and hasattr(hidden, "__len__") and len(hidden) > 0 and all(
        isinstance(h, (int, np.integer)) and not isinstance(h, (bool, np.bool_)) and h > 0 for h in hidden)
    if not ok:
        raise ValueError(f"hidden must be a non-empty sequence of positive ints (layer widths), got {hidden!r}")
    return tuple(int(h) for h in hidden)


def flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def one_of(name, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


MAX_SEED = 2**32 - 1  # jax.random.key(seed) without x64 reads 32 bits: larger seeds repeat smaller ones
MAX_STEPS = 2**31 - 2  # the step counter is int32
MAX_BATCH = 2**20
FLOAT32_MAX = float(np.finfo(np.float32).max)


def sampler_draws_from_its_key(name, sampler, dim):
    """Refuse a sampler whose batches do not depend on its key (numpy's global random state, a
    fixed array), or whose batch size ignores n.  Reads the traced program; compiles nothing."""
    shapes = [jax.eval_shape(lambda n=n: sampler(jax.random.key(0), n)).shape for n in (2, 3)]
    if shapes != [(2, dim), (3, dim)]:
        raise ValueError(f"{name}(key, n) must return n points: it gave shapes {shapes[0]} and {shapes[1]} for n = 2, 3")
    key = jax.eval_shape(jax.random.key, 0)  # an abstract key: nothing runs
    closed = jax.make_jaxpr(lambda key: sampler(key, 2))(key)
    if not _depends_on_inputs(closed.jaxpr):
        raise ValueError(
            f"{name}(key, n) returns the same batch for every key (does it use numpy's random state? inside the "
            "jitted loop it is called once, while tracing): draw with jax.random and the key it is given")


def _depends_on_inputs(jaxpr):
    """Whether every output of `jaxpr` depends on one of its inputs (sub-jaxprs read whole)."""
    live = set(map(id, jaxpr.invars))
    for eqn in jaxpr.eqns:
        if any(id(v) in live for v in eqn.invars):
            live.update(map(id, eqn.outvars))
    return all(id(v) in live for v in jaxpr.outvars)  # a literal or a closed-over constant is not


def within_float32(name, arr):
    if arr.size and np.issubdtype(arr.dtype, np.floating) and np.abs(arr).max() > FLOAT32_MAX:
        raise ValueError(f"{name} has values beyond the float32 range (|x| <= {FLOAT32_MAX:.3g}): rescale it")


def memory_estimate(dim, hidden, batch_size):
    """Bytes that training needs, roughly: both networks' parameters with their gradients and
    Adam's two moments, and the activations of the forward, backward and second-order passes
    of four batches (forward and inverse step, x and y)."""
    widths = (dim, *hidden, 1)
    params = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    return 4 * (2 * 5 * params + 4 * 12 * batch_size * sum(widths))


def available_memory():
    """Bytes free on the default device: its allocator's limit on an accelerator, free RAM on CPU."""
    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "bytes_limit" in stats:
        return stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def fits_in_memory(dim, hidden, batch_size):
    need, have = memory_estimate(dim, hidden, batch_size), available_memory()
    if need > have:
        raise ValueError(f"training networks of widths {list(hidden)} on R^{dim} with batch_size={batch_size} needs about "
                         f"{need / 2**30:.1f} GiB, and {have / 2**30:.1f} GiB are free: use a smaller hidden or batch_size")


def cost_shapes(cost, dim):
    """The cost's c(x, y) maps paired rows (n, d), (n, d) to (n,), and its grad_h_star (if any)
    keeps the shape (n, d); checked on abstract shapes, so nothing runs or compiles."""
    from enot_lite.costs import pairwise

    rows = jax.ShapeDtypeStruct((3, dim), jnp.float32)
    try:
        out = jax.eval_shape(lambda x, y: pairwise(cost, x, y), rows, rows)
        grad = jax.eval_shape(cost.grad_h_star, rows) if hasattr(cost, "grad_h_star") else rows
    except Exception as err:
        raise TypeError(f"the cost {cost!r} failed on rows of shape (3, {dim}): {type(err).__name__}: {err}") from err
    if getattr(out, "shape", None) != (3,):
        raise ValueError(f"the cost's c(x, y) must give one number per pair of rows, shape (n,); it gave "
                         f"{getattr(out, 'shape', out)} for rows of shape (3, {dim})")
    if getattr(grad, "shape", None) != (3, dim):
        raise ValueError(f"the cost's grad_h_star(w) must keep the shape (n, d) = (3, {dim}), got {getattr(grad, 'shape', grad)}")


def map_shape(name, fn, dim):
    """`fn` maps (n, d) to (n, d): on abstract shapes where it traces, else on two zero rows."""
    rows = jax.ShapeDtypeStruct((2, dim), jnp.float32)
    try:
        shape = jax.eval_shape(fn, rows).shape
    except Exception:  # not traceable (numpy inside, say): call it on two points instead
        try:
            shape = np.shape(fn(np.zeros((2, dim), np.float32)))
        except Exception as err:
            raise TypeError(f"{name} failed on points of shape (2, {dim}): {type(err).__name__}: {err}") from err
    if tuple(shape) != (2, dim):
        raise ValueError(f"{name} must map points (n, {dim}) to (n, {dim}), got shape {tuple(shape)} for (2, {dim})")
