"""Transport costs c(x, y) and, where it exists, the map they give.

A cost is an object with `c(x, y)` on paired rows (the last axis holds coordinates; leading
axes broadcast).  Translation-invariant costs c(x, y) = h(x - y) with h strictly convex also
give `grad_h_star`, and then the optimal map comes from a potential f:

    T(x) = x - grad h*(grad f(x))                       (h* the convex conjugate of h)

Optional, each used where present:
- `degree` = p: the cost is translation invariant and homogeneous, c(m + s x, m + s y) =
  s^p c(x, y), so `fit` trains in a standard frame (`enot_lite.frame`);
- `project(t)`: puts a map's output back on the data's manifold (network maps);
- `check(name, points)`: refuses data off that manifold;
- `spec`: a string that `get_cost` reads back (how model files name the cost).
A cost without `grad_h_star` gets its map as a network (`fit(..., map="network")`).  A cost is a
static argument of the jitted training loop, so it must be hashable (a frozen dataclass).  A
cost written as just `h` and `grad_h_star` (no `c`) is accepted too.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import jax.numpy as jnp
import numpy as np


@runtime_checkable
class Cost(Protocol):
    """What the solver needs from a cost: c(x, y) on paired rows, (..., d), (..., d) -> (...)."""

    def c(self, x, y): ...


def pairwise(cost, x, y):
    """c(x_i, y_i) for paired rows of x, y (n, d) -> (n,); broadcasts over leading axes."""
    return cost.c(x, y) if hasattr(cost, "c") else cost.h(x - y)


@dataclasses.dataclass(frozen=True)
class SqEuclidean:
    """c(x, y) = 1/2 ||x - y||^2.  h* = h, so T(x) = x - grad f(x) (Brenier)."""

    spec = "sqeuclidean"
    degree = 2  # c(m + s x, m + s y) = s^2 c(x, y): the standard frame is exact

    def h(self, z):  # plain arithmetic: works on numpy (float64) and jax arrays alike
        return 0.5 * (z * z).sum(axis=-1)

    def c(self, x, y):
        return self.h(x - y)

    def grad_h_star(self, w):
        return w


@dataclasses.dataclass(frozen=True)
class PNorm:
    """c(x, y) = ||x - y||_p^p / p,  p > 1.

    h*(w) = ||w||_q^q / q with 1/p + 1/q = 1, so grad h*(w) = sign(w) |w|^(1/(p-1)).
    """

    p: float

    def __post_init__(self):
        if isinstance(self.p, bool) or not (isinstance(self.p, (int, float)) and self.p > 1 and jnp.isfinite(self.p)):
            raise ValueError(f"p must be a finite number > 1 for the p-norm cost, got {self.p!r}")

    @property
    def spec(self):
        return f"pnorm:{self.p!r}"

    @property
    def degree(self):
        return self.p

    def h(self, z):
        return (abs(z) ** self.p).sum(axis=-1) / self.p

    def c(self, x, y):
        return self.h(x - y)

    def grad_h_star(self, w):
        return jnp.sign(w) * jnp.abs(w) ** (1.0 / (self.p - 1.0))


def _norm(z):
    """||z|| over the last axis, with gradient 0 (not NaN) at z = 0."""
    sq = (z * z).sum(axis=-1)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


@dataclasses.dataclass(frozen=True)
class Euclidean:
    """c(x, y) = ||x - y||, the W1 cost.  h = ||.|| is not strictly convex, so no map comes from a
    potential's gradient: `fit` learns the map as a network (transport rays are not unique)."""

    spec = "euclidean"
    degree = 1

    def c(self, x, y):
        return _norm(x - y)


@dataclasses.dataclass(frozen=True)
class Geodesic:
    """c(x, y) = arccos <x, y> on the unit sphere S^{d-1}, the great-circle distance, computed as
    2 arcsin(||x - y|| / 2) (the same number for unit vectors, with a finite derivative near
    x = y).  The map is a network whose output is projected onto the sphere."""

    spec = "geodesic"
    tolerance = 1e-4  # inputs must have | ||x|| - 1 | below this

    def c(self, x, y):
        return 2.0 * jnp.arcsin(jnp.minimum(_norm(x - y) / 2.0, 1.0))

    def project(self, t):
        """t / ||t||: the nearest point of the sphere."""
        return t / jnp.maximum(jnp.linalg.norm(t, axis=-1, keepdims=True), 1e-12)

    def check(self, name, points):
        """Refuse points off the unit sphere (numpy arrays of shape (n, d))."""
        off = np.abs(np.linalg.norm(np.asarray(points, np.float64), axis=-1) - 1.0)
        if off.size and off.max() > self.tolerance:
            raise ValueError(f"the geodesic cost needs points on the unit sphere: {name} has a point at distance "
                             f"{off.max():.3g} from it (normalise with x / ||x||)")


_BUILT_IN = {"sqeuclidean": SqEuclidean, "euclidean": Euclidean, "geodesic": Geodesic}


def get_cost(cost):
    """Resolve `cost`: "sqeuclidean", "euclidean", "geodesic", "pnorm:<p>" (e.g. "pnorm:1.5"),
    or a cost object."""
    if isinstance(cost, str):
        if cost in _BUILT_IN:
            return _BUILT_IN[cost]()
        if cost.startswith("pnorm:"):
            try:
                p = float(cost.split(":", 1)[1])
            except ValueError:
                p = None
            if p is not None:
                return PNorm(p)
        raise ValueError(
            f"unknown cost {cost!r}: use 'sqeuclidean', 'euclidean', 'geodesic', 'pnorm:<p>' with p > 1 "
            "(e.g. 'pnorm:1.5'), or an object with a method c(x, y) (or h(z) and grad_h_star(w))"
        )
    if callable(getattr(cost, "c", None)) or callable(getattr(cost, "h", None)):
        try:
            hash(cost)
        except TypeError:
            raise TypeError("cost objects must be hashable (use a frozen dataclass)") from None
        return cost
    raise TypeError(
        f"cost must be a string or an object with a method c(x, y) (or h(z) and grad_h_star(w)), "
        f"got {type(cost).__name__}"
    )


def has_gradient_map(cost) -> bool:
    """Whether the cost gives T(x) = x - grad h*(grad f(x)) (it has `grad_h_star`)."""
    return callable(getattr(cost, "grad_h_star", None))
