"""Benchmark pairs with a known optimal map, and the metrics L2-UVP and cosine.

* `mix3tomix10(dim)`: the Wasserstein-2 benchmark of Korotin et al., "Do Neural Optimal
  Transport Solvers Work? A Continuous Wasserstein-2 Benchmark" (NeurIPS 2021).  The
  pretrained potentials ship in `enot_lite/data/` (MIT, see
  `LICENSE-Wasserstein2Benchmark.txt` there); `FORMAT.md` of the conversion is followed
  exactly.
* `gaussian(dim, seed)`: Gaussian to Gaussian, whose optimal map is affine and closed form.

Every pair has pure-JAX samplers `sample_source(key, n)`, `sample_target(key, n)` (usable
inside jit / lax.scan with a static n), the optimal map `optimal_map(x)` and the best
linear (Gaussian-approximation) map `linear_map(x)`, both jitted and batched.
"""
from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

DIMS = (2, 4, 8, 16, 32, 64, 128)


@dataclasses.dataclass(frozen=True, eq=False)
class Pair:
    """A source mu, a target nu = T*#mu and the optimal map T*."""

    name: str
    dim: int
    sample_source: Callable  # (key, n) -> (n, dim)
    optimal_map: Callable  # (n, dim) -> (n, dim)
    linear_map: Callable  # (n, dim) -> (n, dim)
    target_var: float  # sum of per-coordinate variances of nu: the L2-UVP denominator

    def sample_target(self, key, n):
        """y = T*(x), x ~ mu."""
        return self.optimal_map(self.sample_source(key, n))


# ----------------------------------------------------------------------------- Mix3toMix10


def _celu(x):
    return jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, 0.0)))


def _icnn(w, prefix, x):
    """DenseICNN: h = quad_0(x); h = celu(W_k h + quad_k(x)), k = 1, 2; w_out h + s/2 ||x||^2,
    with quad_i(x) = sum_r (x @ Q_i[:, r, :])^2 + W_i x + b_i."""

    def quad(i):
        p = f"{prefix}.quadratic_layers.{i}."
        return (jnp.einsum("d,dro->ro", x, w[p + "quadratic_decomposed"]) ** 2).sum(0) + w[p + "weight"] @ x + w[p + "bias"]

    h = quad(0)
    for k in (0, 1):
        h = _celu(w[f"{prefix}.convex_layers.{k}.weight"] @ h + quad(k + 1))
    return (w[f"{prefix}.final_layer.weight"] @ h)[0] + 0.5 * w["strong_convexity"] * x @ x


@functools.lru_cache(maxsize=None)
def mix3tomix10(dim: int) -> Pair:
    """The Mix3toMix10 pair in dimension `dim` (2, 4, ..., 128).

    mu: mixture of 3 Gaussians, x = centers[k] + std * maps[k] e;  T* = grad psi with
    psi(x) = scale * (icnn_v1(x) + icnn_v2(x) + shift . x) pretrained so that nu = T*#mu
    is close to a mixture of 10 Gaussians."""
    if dim not in DIMS:
        raise ValueError(f"dim must be one of {DIMS} for mix3tomix10, got {dim!r}")
    with resources.files("enot_lite").joinpath(f"data/mix3tomix10_{dim}.npz").open("rb") as fh:
        w = {k: jnp.asarray(v) for k, v in np.load(fh).items()}

    def psi(x):
        return w["scale"] * (_icnn(w, "v1", x) + _icnn(w, "v2", x) + w["shift"] @ x)

    def sample_source(key, n):
        k_comp, k_noise = jax.random.split(key)
        comp = jax.random.randint(k_comp, (n,), 0, 3)
        e = jax.random.normal(k_noise, (n, dim))
        return w["centers"][comp] + w["std"] * jnp.einsum("nij,nj->ni", w["maps"][comp], e)

    W, b = w["linear_W"], w["linear_b"]
    return Pair(
        name=f"mix3tomix10_{dim}", dim=dim, sample_source=sample_source,
        optimal_map=jax.jit(jax.vmap(jax.grad(psi))), linear_map=jax.jit(lambda x: x @ W.T + b),
        target_var=float(w["target_var"]),
    )


# ----------------------------------------------------------------------------- Gaussians


def gaussian(dim: int, seed: int = 0) -> Pair:
    """N(m1, S1) -> N(m2, S2) with random means ~ N(0, I) and covariances Q diag(e) Q^T
    (Q a random rotation, eigenvalues e log-uniform in [1/2, 2]).  The optimal map is
    T*(x) = m2 + A (x - m1),  A = S1^-1/2 (S1^1/2 S2 S1^1/2)^1/2 S1^-1/2,  so the best
    linear map is T* itself."""
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    rng = np.random.default_rng(seed)

    def covariance():
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        return (q * np.exp(rng.uniform(np.log(0.5), np.log(2.0), dim))) @ q.T

    m1, m2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = covariance(), covariance()
    r1 = np.real(scipy.linalg.sqrtm(s1))
    r1_inv = np.linalg.inv(r1)
    a = r1_inv @ np.real(scipy.linalg.sqrtm(r1 @ s2 @ r1)) @ r1_inv
    a = 0.5 * (a + a.T)
    chol, a, m1, m2 = (jnp.asarray(v, jnp.float32) for v in (np.linalg.cholesky(s1), a, m1, m2))

    def sample_source(key, n):
        return m1 + jax.random.normal(key, (n, dim)) @ chol.T

    transport = jax.jit(lambda x: m2 + (x - m1) @ a.T)
    return Pair(name=f"gaussian_{dim}_{seed}", dim=dim, sample_source=sample_source, optimal_map=transport,
                linear_map=transport, target_var=float(np.trace(s2)))


# ----------------------------------------------------------------------------- metrics


def _mapped(map_fn, pair, n, key):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    x = pair.sample_source(key, int(n))
    t_hat = jnp.asarray(map_fn(x))
    if t_hat.shape != x.shape:
        raise ValueError(f"map_fn must return an array of shape {x.shape}, got {t_hat.shape}")
    return x, t_hat, pair.optimal_map(x)


def l2_uvp(map_fn, pair: Pair, n: int = 2**14, key=None) -> float:
    """L2-UVP(T) = 100 * E_mu ||T(x) - T*(x)||^2 / Var(nu)   (in %)."""
    _, t_hat, t_star = _mapped(map_fn, pair, n, jax.random.key(0) if key is None else key)
    return 100.0 * float(jnp.mean(jnp.sum((t_hat - t_star) ** 2, axis=1))) / pair.target_var


def cosine(map_fn, pair: Pair, n: int = 2**14, key=None) -> float:
    """cos(T) = E <T*(x) - x, T(x) - x> / sqrt(2 cost * E ||T(x) - x||^2),  cost = E ||x - T*(x)||^2 / 2."""
    x, t_hat, t_star = _mapped(map_fn, pair, n, jax.random.key(0) if key is None else key)
    cost = 0.5 * jnp.mean(jnp.sum((x - t_star) ** 2, axis=1))
    inner = jnp.mean(jnp.sum((t_star - x) * (t_hat - x), axis=1))
    return float(inner / jnp.sqrt(2 * cost * jnp.mean(jnp.sum((t_hat - x) ** 2, axis=1))))
