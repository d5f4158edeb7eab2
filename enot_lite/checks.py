"""Input checks for `fit`: each refuses bad input with a ValueError or TypeError that names the
argument and the allowed range, before anything compiles."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def number(name, value, low, high, low_open, kind=float):
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


def data(name, data):
    """(sampler, array, dim) for `data`: an (n, d) array of finite reals, or sample(key, n) -> (n, d)."""
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


def widths(hidden):
    """`hidden` as a tuple of positive ints (layer widths)."""
    if isinstance(hidden, int) or not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ValueError(f"hidden must be a non-empty sequence of positive ints (layer widths), got {hidden!r}")
    return tuple(hidden)
