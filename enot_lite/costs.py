"""Translation-invariant transport costs c(x, y) = h(x - y) and their maps.

For a strictly convex h and a c-concave potential f, the optimal map is

    T(x) = x - grad h*(grad f(x))                       (h* the convex conjugate of h)

so a cost only needs two pieces: `h` and `grad_h_star`.  Adding a cost in a notebook
is a frozen dataclass with those two methods (see `Cost`).
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import jax.numpy as jnp


@runtime_checkable
class Cost(Protocol):
    """What the solver needs from a cost c(x, y) = h(x - y).

    Both methods act on the last axis and broadcast over leading axes.
    Implementations must be hashable (e.g. frozen dataclasses): the cost is a
    static argument of the jitted training loop.
    """

    def h(self, z: jnp.ndarray) -> jnp.ndarray: ...

    def grad_h_star(self, w: jnp.ndarray) -> jnp.ndarray: ...


def cost_matrix(cost: Cost, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """C[i, j] = c(x_i, y_j) = h(x_i - y_j) for x (n, d), y (m, d)."""
    return cost.h(x[:, None, :] - y[None, :, :])


def pairwise(cost: Cost, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """c(x_i, y_i) = h(x_i - y_i) for paired rows of x, y (n, d) -> (n,)."""
    return cost.h(x - y)


def transport_with(cost: Cost, x: jnp.ndarray, grad_f: jnp.ndarray) -> jnp.ndarray:
    """The c-optimal map  T(x) = x - grad h*(grad f(x))  given grad f(x)."""
    return x - cost.grad_h_star(grad_f)


@dataclasses.dataclass(frozen=True)
class SqEuclidean:
    """c(x, y) = 1/2 ||x - y||^2.  h* = h, so T(x) = x - grad f(x) (Brenier)."""

    def h(self, z):  # plain arithmetic: works on numpy (float64) and jax arrays alike
        return 0.5 * (z * z).sum(axis=-1)

    def grad_h_star(self, w):
        return w


@dataclasses.dataclass(frozen=True)
class PNorm:
    """c(x, y) = ||x - y||_p^p / p,  p > 1.

    h*(w) = ||w||_q^q / q with 1/p + 1/q = 1, so grad h*(w) = sign(w) |w|^(1/(p-1)).
    """

    p: float

    def __post_init__(self):
        if not (isinstance(self.p, (int, float)) and self.p > 1 and jnp.isfinite(self.p)):
            raise ValueError(f"p must be a finite number > 1 for the p-norm cost, got {self.p!r}")

    def h(self, z):
        return (abs(z) ** self.p).sum(axis=-1) / self.p

    def grad_h_star(self, w):
        return jnp.sign(w) * jnp.abs(w) ** (1.0 / (self.p - 1.0))


def get_cost(cost: str | Cost) -> Cost:
    """Resolve `cost`: "sqeuclidean", "pnorm:<p>" (e.g. "pnorm:1.5"), or a `Cost` object."""
    if isinstance(cost, str):
        if cost == "sqeuclidean":
            return SqEuclidean()
        if cost.startswith("pnorm:"):
            try:
                p = float(cost.split(":", 1)[1])
            except ValueError:
                p = None
            if p is not None:
                return PNorm(p)
        raise ValueError(
            f"unknown cost {cost!r}: use 'sqeuclidean', 'pnorm:<p>' with p > 1 "
            "(e.g. 'pnorm:1.5'), or an object with methods h(z) and grad_h_star(w)"
        )
    if isinstance(cost, Cost):
        try:
            hash(cost)
        except TypeError:
            raise TypeError("cost objects must be hashable (use a frozen dataclass)") from None
        return cost
    raise TypeError(
        f"cost must be a string or an object with methods h(z) and grad_h_star(w), "
        f"got {type(cost).__name__}"
    )
