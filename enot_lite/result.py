"""A trained ENOT model (`ENOTResult`), and its file format: data only, never code.

A model file is an `.npz` archive read with `allow_pickle=False`: a JSON header (format,
version, dim, widths, the cost as a spec string, the map mode, the frame, settings, dual value) and one array
per network parameter and history column.  Loading one can only ever read numbers and text.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from enot_lite import costs, loss, potentials, train
from enot_lite.frame import Frame

FORMAT, VERSION = "enot_lite-model", 1


class DivergenceError(RuntimeError):
    """Training diverged.  `.step` is where; `.result` holds the last good state."""

    def __init__(self, message, step, result):
        super().__init__(message)
        self.step, self.result = step, result


# The model's functions in the data's units, each one program: z of shape (n, d) or (d,) is moved
# into the frame z' = (z - m) / s, and maps come back as m + s T'(z'), potentials as s^p phi(z').

@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _transport(cost, hidden, map, params, frame, z):
    t = train.functions(cost, hidden, map=map)["T"](params, frame.to_frame(jnp.atleast_2d(z)))
    return frame.from_frame(t).reshape(z.shape)


@functools.partial(jax.jit, static_argnums=0)
def _value(hidden, params, frame, z):
    return (frame.cost_factor * potentials.value(hidden, params, frame.to_frame(jnp.atleast_2d(z)))).reshape(z.shape[:-1])


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _c_transform(cost, hidden, map, params_f, params_g, frame, z):
    g_T = loss.c_transform(**train.functions(cost, hidden, map=map), theta=params_f, phi=params_g,
                           x=frame.to_frame(jnp.atleast_2d(z)))
    return (frame.cost_factor * g_T).reshape(z.shape[:-1])


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _dual_objective(cost, hidden, map, params_f, params_g, frame, x, y):
    return (jnp.mean(_c_transform(cost, hidden, map, params_f, params_g, frame, x))
            + jnp.mean(_value(hidden, params_g, frame, y)))


@dataclasses.dataclass(frozen=True)
class ENOTResult:
    """A trained ENOT model: the two potentials and what is needed to use them."""

    params_f: Any
    params_g: Any
    dim: int
    hidden: tuple[int, ...]
    cost: Any
    bidirectional: bool
    settings: dict  # fit's arguments: tau, lam, learning_rate, schedule, betas, steps, batch_size, seed
    history: dict  # numpy arrays per chunk: step, time (s), loss_f, loss_g, dual_value[, l2_uvp]
    dual_value: float  # mean g_T(x) + mean g(y) on an evaluation sample, in the data's units
    frame: Frame  # the networks were trained on (x - frame.shift) / frame.scale
    interrupted: bool = False  # training was stopped by Ctrl-C before its last step
    map: str = "gradient"  # T from f's gradient, or "network": params_f are a map network's

    def _gradient_mode(self, what):
        if self.map != "gradient":
            raise ValueError(f"{what} needs a map from a potential's gradient; this model's map is a network "
                             f"(cost {getattr(self.cost, 'spec', self.cost)!r} has no grad_h_star), and g is its only potential")

    def _points(self, z, name):
        """z as a float32 array, checked to have shape (n, d) or (d,)."""
        z = jnp.asarray(z, jnp.float32)
        if z.ndim not in (1, 2) or z.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (n, {self.dim}) or ({self.dim},), got {z.shape}")
        return z

    def transport(self, x):
        """The forward map T(x) = x - grad h*(grad f(x)) (or the map network's T(x)), for x of
        shape (n, d) or (d,)."""
        return _transport(self.cost, self.hidden, self.map, self.params_f, self.frame, self._points(x, "x"))

    def inverse_transport(self, y):
        """The inverse map S(y) = y - grad h*(grad g(y)) (learned only with bidirectional=True;
        the inverse problem uses the same h, so costs are assumed symmetric, h(z) = h(-z))."""
        self._gradient_mode("inverse_transport")
        if not self.bidirectional:
            raise ValueError("inverse_transport needs a model fitted with bidirectional=True")
        return _transport(self.cost, self.hidden, self.map, self.params_g, self.frame, self._points(y, "y"))

    def c_transform(self, x):
        """The amortised c-transform g_T(x) = c(x, T(x)) - g(T(x)), an upper bound of g^c(x)."""
        return _c_transform(self.cost, self.hidden, self.map, self.params_f, self.params_g, self.frame,
                            self._points(x, "x"))

    def f(self, x):
        """The source potential f(x) (its gradient defines the forward map)."""
        self._gradient_mode("f")
        return _value(self.hidden, self.params_f, self.frame, self._points(x, "x"))

    def g(self, y):
        """The target potential g(y)."""
        return _value(self.hidden, self.params_g, self.frame, self._points(y, "y"))

    def dual_objective(self, x, y):
        """mean_i g_T(x_i) + mean_j g(y_j): the dual objective of the learned potentials on samples.
        It estimates the transport cost, but is neither an upper nor a lower bound of it."""
        return float(_dual_objective(self.cost, self.hidden, self.map, self.params_f, self.params_g, self.frame,
                                     self._points(x, "x"), self._points(y, "y")))

    def save(self, path):
        """Write the model to `path` (.npz: a JSON header and arrays, no pickle).  A custom cost
        is not written: hand it back with `load(path, cost=...)`."""
        header = dict(format=FORMAT, version=VERSION, dim=self.dim, hidden=list(self.hidden),
                      cost=getattr(self.cost, "spec", None), bidirectional=self.bidirectional,
                      frame=dict(shift=[float(v) for v in self.frame.shift], scale=self.frame.scale,
                                 degree=self.frame.degree),
                      settings=self.settings, dual_value=self.dual_value, interrupted=self.interrupted,
                      map=self.map)
        arrays = {f"params/{name}/{path}": np.asarray(leaf) for name, params in (("f", self.params_f), ("g", self.params_g))
                  for path, leaf in _flatten(params).items()}
        arrays |= {f"history/{k}": np.asarray(v) for k, v in self.history.items()}
        with open(path, "wb") as fh:
            np.savez(fh, header=np.array(json.dumps(header)), **arrays)


def _flatten(params, prefix=""):
    """{"params/Dense_0/kernel": leaf, ...} for a nested dict."""
    out = {}
    for key, value in params.items():
        if isinstance(value, dict) or hasattr(value, "items"):
            out |= _flatten(value, f"{prefix}{key}/")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _unflatten(flat):
    out = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split("/")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = jnp.asarray(value)
    return out


def load(path, cost=None) -> ENOTResult:
    """Restore a model written by `ENOTResult.save`.  `cost`: the cost object of a model trained
    with a custom cost (built-in costs are restored from the file)."""
    def refuse(why):
        return ValueError(f"not an enot_lite model: {path} ({why})")

    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as err:  # not a zip, or an entry that needs pickle
        raise refuse(f"{type(err).__name__}: {err}") from None
    try:
        header = json.loads(str(arrays.pop("header")))
    except (KeyError, ValueError) as err:
        raise refuse(f"no readable header: {err}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise refuse("its header does not name the enot_lite model format")
    if header.get("version") != VERSION:
        raise refuse(f"format version {header.get('version')!r}, this enot_lite reads version {VERSION}")
    try:
        dim, hidden = int(header["dim"]), tuple(int(h) for h in header["hidden"])
        spec = header["cost"]
        box = Frame(np.asarray(header["frame"]["shift"], np.float32), float(header["frame"]["scale"]),
                    float(header["frame"]["degree"]))
    except (KeyError, TypeError, ValueError) as err:
        raise refuse(f"incomplete header: {err!r}") from None
    if box.shift.shape != (dim,) or not (np.isfinite(box.scale) and box.scale > 0):
        raise refuse(f"its frame does not fit R^{dim}")
    if cost is None:
        if spec is None:
            raise ValueError(f"{path} was trained with a custom cost: pass it back with load(path, cost=...)")
        cost = costs.get_cost(spec)
    else:
        cost = costs.get_cost(cost)
    map = header.get("map", "gradient")
    if map not in ("gradient", "network"):
        raise refuse(f"unknown map {map!r}")
    init = {"f": potentials.init if map == "gradient" else potentials.map_init, "g": potentials.init}
    params = {}
    for name in ("f", "g"):
        expected = _flatten(jax.eval_shape(lambda: init[name](hidden, jax.random.key(0), dim)))
        found = {k.split("/", 2)[2]: v for k, v in arrays.items() if k.startswith(f"params/{name}/")}
        if set(found) != set(expected):
            raise refuse(f"the parameters of {name} do not match a network of widths {list(hidden)} on R^{dim}")
        for key, value in found.items():
            if value.shape != expected[key].shape or value.dtype != np.float32:
                raise refuse(f"parameter {name}/{key} has shape {value.shape}, dtype {value.dtype}; "
                             f"expected {expected[key].shape} float32")
        params[name] = _unflatten(found)
    history = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("history/")}
    return ENOTResult(params["f"], params["g"], dim, hidden, cost, bool(header.get("bidirectional", True)),
                      header.get("settings", {}), history, float(header.get("dual_value", float("nan"))), box,
                      bool(header.get("interrupted", False)), map)
