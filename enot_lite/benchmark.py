"""Benchmark pairs with a known optimal map, and the metrics L2-UVP and cosine.

* `mix3tomix10(dim)`: the Wasserstein-2 benchmark of Korotin, Li, Genevay, Solomon,
  Filippov & Burnaev, "Do Neural Optimal Transport Solvers Work? A Continuous
  Wasserstein-2 Benchmark" (NeurIPS 2021).  Its pretrained potentials ship in
  `enot_lite/data/` under the MIT licence (`enot_lite/data/LICENSE-Wasserstein2Benchmark.txt`).
* `gaussian(dim, seed)`: Gaussian to Gaussian, whose optimal map is affine and closed form.

A pair holds pure-JAX samplers `sample_source(key, n)`, `sample_target(key, n)` (jitted,
usable inside jit / lax.scan with a static int n), the optimal map `optimal_map(x)` and the
benchmark's linear baseline `linear_map(x)` (the OT map between the Gaussians with the moments of
mu and nu), both jitted and batched over rows of x (n, dim).  It is not the best affine map:
`least_squares_affine` fits one to T* and scores lower.
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

# Published L2-UVP (%) on Mix3toMix10, D = 2 ... 128 (quoted, not measured here).
PUBLISHED = {
    "ENOT (Buzun et al. 2024, Table 1)": {2: 0.02, 4: 0.03, 8: 0.14, 16: 0.24, 32: 0.67, 64: 0.56, 128: 0.30},
    "W2OT (Amos 2022, via Buzun et al. 2024)": {2: 0.03, 4: 0.22, 8: 0.60, 16: 0.80, 32: 2.09, 64: 2.08, 128: 0.67},
}


@dataclasses.dataclass(frozen=True, eq=False)
class Pair:
    """A source mu, a target nu = T*#mu and the optimal map T* for c(x, y) = ||x - y||^2 / 2."""

    name: str
    dim: int
    sample_source: Callable  # (key, n) -> (n, dim) float32, x ~ mu
    optimal_map: Callable  # (n, dim) -> (n, dim), T*
    linear_map: Callable  # (n, dim) -> (n, dim), W x + b: the OT map between the moment-matched Gaussians
    target_var: float  # sum of per-coordinate variances of nu: the L2-UVP denominator
    moments: tuple | None = None  # (m1, S1, m2, S2) of a Gaussian pair, float64, in its units

    def sample_target(self, key, n):
        """y = T*(x), x ~ mu."""
        return self.optimal_map(self.sample_source(key, n))


def _affine(w, b):
    """x -> W x + b on the rows of x, jitted."""
    return jax.jit(lambda x: x @ w.T + b)


# ----------------------------------------------------------------------------- Mix3toMix10


def _icnn(w, prefix, x):
    """DenseICNN: h = quad_0(x); h = celu(W_k h + quad_k(x)), k = 1, 2; net = w_out h + s/2 ||x||^2,
    with quad_i(x) = sum_r (x @ Q_i[:, r, :])^2 + W_i x + b_i."""

    def quad(i):
        p = f"{prefix}.quadratic_layers.{i}."
        squares = jnp.einsum("d,dro->ro", x, w[p + "quadratic_decomposed"]) ** 2
        return squares.sum(0) + w[p + "weight"] @ x + w[p + "bias"]

    h = quad(0)
    for k in (0, 1):
        h = jax.nn.celu(w[f"{prefix}.convex_layers.{k}.weight"] @ h + quad(k + 1))
    return (w[f"{prefix}.final_layer.weight"] @ h)[0] + 0.5 * w["strong_convexity"] * x @ x


def mix3tomix10(dim: int) -> Pair:
    """The Mix3toMix10 pair in dimension `dim` (2, 4, ..., 128); loaded once per dim.

    mu: equal mixture of 3 Gaussians, x = centers[k] + std * maps[k] e, e ~ N(0, I);
    T* = grad psi,  psi(x) = scale * (icnn_v1(x) + icnn_v2(x) + shift . x),  nu = T*#mu
    (pretrained to be close to a mixture of 10 Gaussians).  `linear_map` is the
    Gaussian approximation W = S1^-1/2 (S1^1/2 S2 S1^1/2)^1/2 S1^-1/2, b = m2 - W m1."""
    if isinstance(dim, bool) or dim not in DIMS:
        raise ValueError(f"dim must be one of {DIMS} for mix3tomix10, got {dim!r}")
    return _mix3tomix10(int(dim))


@functools.lru_cache(maxsize=None)
def _mix3tomix10(dim):
    with resources.files("enot_lite").joinpath(f"data/mix3tomix10_{dim}.npz").open("rb") as fh:
        w = {k: jnp.asarray(v) for k, v in np.load(fh).items()}

    def psi(x):
        return w["scale"] * (_icnn(w, "v1", x) + _icnn(w, "v2", x) + w["shift"] @ x)

    def sample_source(key, n):
        key_k, key_e = jax.random.split(key)
        k = jax.random.randint(key_k, (n,), 0, 3)
        e = jax.random.normal(key_e, (n, dim))
        # all three maps applied to e (n x 3 x dim), not maps[k] gathered (n x dim x dim)
        z = jnp.einsum("kij,nj->nki", w["maps"], e)[jnp.arange(n), k]
        return w["centers"][k] + w["std"] * z

    return Pair(name=f"mix3tomix10_{dim}", dim=dim, sample_source=jax.jit(sample_source, static_argnums=1),
                optimal_map=jax.jit(jax.vmap(jax.grad(psi))), linear_map=_affine(w["linear_W"], w["linear_b"]),
                target_var=float(w["target_var"]))


# ----------------------------------------------------------------------------- Gaussians


def _gaussian_moments(dim, seed, condition, gap):
    """m1, S1, m2, S2 (float64) of `gaussian(dim, seed, condition=..., gap=...)`."""
    rng = np.random.default_rng(seed)

    def covariance():
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        if condition is None:
            eig = np.exp(rng.uniform(np.log(0.5), np.log(2.0), dim))
        else:  # log-uniform in [c^-1/2, c^1/2], both ends taken: condition number exactly c
            eig = np.exp(rng.uniform(-0.5, 0.5, dim) * np.log(condition))
            eig[[0, -1]] = condition ** -0.5, condition**0.5
        return (q * eig) @ q.T

    m1, m2 = rng.normal(size=dim), rng.normal(size=dim)
    if gap is not None:
        m2 = m1 + gap * m2 / np.linalg.norm(m2)
    return m1, covariance(), m2, covariance()


def _positive(name, value, allow_none=True, at_least=0.0, open_low=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) \
            or (value <= at_least if open_low else value < at_least):
        raise ValueError(f"{name} must be a finite number {'>' if open_low else '>='} {at_least:g}, got {value!r}")
    return float(value)


@functools.lru_cache(maxsize=None)
def gaussian(dim: int, seed: int = 0, *, condition=None, scale=1.0, gap=None) -> Pair:
    """N(m1, S1) -> N(m2, S2), both samples then multiplied by `scale`; the same arguments give
    the same pair.

    Covariances Q diag(e) Q^T (Q a random rotation).  `condition`: the condition number of each
    covariance (eigenvalues log-uniform in [c^-1/2, c^1/2], both ends taken); None: eigenvalues
    log-uniform in [1/2, 2] (condition number <= 4).  Means: m1 ~ N(0, I) and m2 ~ N(0, I), or
    m2 = m1 + gap u with u a random unit vector when `gap` (|m2 - m1| before scaling) is given.

    T*(x) = s m2 + A (x - s m1),  A = S1^-1/2 (S1^1/2 S2 S1^1/2)^1/2 S1^-1/2 (symmetric positive
    definite, s = scale), so `linear_map` is T* itself;  target_var = s^2 trace(S2)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    dim = int(dim)
    condition = _positive("condition", condition, at_least=1.0, open_low=False)
    if condition is not None and dim == 1 and condition != 1.0:
        raise ValueError(f"a 1-D covariance has condition number 1, got condition={condition!r}")
    scale, gap = _positive("scale", scale, allow_none=False), _positive("gap", gap, open_low=False)
    m1, s1, m2, s2 = _gaussian_moments(dim, seed, condition, gap)
    r1 = np.real(scipy.linalg.sqrtm(s1))
    r1_inv = np.linalg.inv(r1)
    a = r1_inv @ np.real(scipy.linalg.sqrtm(r1 @ s2 @ r1)) @ r1_inv
    a = (a + a.T) / 2  # symmetric up to rounding; make it exactly so
    transport = _affine(*(jnp.asarray(v, jnp.float32) for v in (a, scale * (m2 - a @ m1))))
    mean, chol = jnp.asarray(scale * m1, jnp.float32), jnp.asarray(scale * np.linalg.cholesky(s1), jnp.float32)

    def sample_source(key, n):
        return mean + jax.random.normal(key, (n, dim)) @ chol.T

    options = "".join(f"_{k}{v:g}" for k, v in (("cond", condition), ("scale", scale if scale != 1 else None),
                                                   ("gap", gap)) if v is not None)
    return Pair(name=f"gaussian_{dim}_{seed}{options}", dim=dim, sample_source=jax.jit(sample_source, static_argnums=1),
                optimal_map=transport, linear_map=transport, target_var=float(scale**2 * np.trace(s2)),
                moments=(scale * m1, scale**2 * s1, scale * m2, scale**2 * s2))


# ----------------------------------------------------------------------------- metrics


def _mapped(map_fn, pair, n, key):
    """x ~ mu (fixed key 0 by default, so numbers are reproducible), T_hat(x), T*(x)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    x = pair.sample_source(jax.random.key(0) if key is None else key, int(n))
    t_hat = jnp.asarray(map_fn(x))
    if t_hat.shape != x.shape:
        raise ValueError(f"map_fn must return an array of shape {x.shape} (like its input), got {t_hat.shape}")
    return x, t_hat, pair.optimal_map(x)


def least_squares_affine(pair: Pair, n: int = 2**14, key=None) -> Callable:
    """The affine map x -> W x + b closest to T* in mean square over n samples of mu (least
    squares, float64): the lowest L2-UVP any affine map reaches, up to sampling.  `linear_map`,
    the map between the moment-matched Gaussians, only matches the first two moments of nu.
    The fit's samples are drawn with key 1 by default, the metrics' with key 0."""
    x, _, t_star = _mapped(lambda z: z, pair, n, jax.random.key(1) if key is None else key)
    features = np.concatenate([np.asarray(x, np.float64), np.ones((n, 1))], axis=1)
    coef = np.linalg.lstsq(features, np.asarray(t_star, np.float64), rcond=None)[0]
    return _affine(jnp.asarray(coef[:-1].T, jnp.float32), jnp.asarray(coef[-1], jnp.float32))


def l2_uvp_of(t_hat, t_star, target_var) -> float:
    """L2-UVP = 100 * mean_i ||t_hat_i - t_star_i||^2 / Var(nu)  (in %; Var = sum of per-coordinate variances)."""
    return 100.0 * float(_mean_squared_distance(t_hat, t_star)) / target_var


@jax.jit
def _mean_squared_distance(a, b):
    return jnp.mean(jnp.sum((a - b) ** 2, axis=1))


def l2_uvp(map_fn: Callable, pair: Pair, n: int = 2**14, key=None) -> float:
    """L2-UVP(T) = 100 * E_mu ||T(x) - T*(x)||^2 / Var(nu)   (in %; Var = pair.target_var)."""
    _, t_hat, t_star = _mapped(map_fn, pair, n, key)
    return l2_uvp_of(t_hat, t_star, pair.target_var)


def cosine(map_fn: Callable, pair: Pair, n: int = 2**14, key=None) -> float:
    """cos(T) = E <T*(x) - x, T(x) - x> / sqrt(2 cost * E ||T(x) - x||^2),  cost = E ||x - T*(x)||^2 / 2."""
    x, t_hat, t_star = _mapped(map_fn, pair, n, key)
    cost = 0.5 * jnp.mean(jnp.sum((x - t_star) ** 2, axis=1))
    inner = jnp.mean(jnp.sum((t_star - x) * (t_hat - x), axis=1))
    return float(inner / jnp.sqrt(2 * cost * jnp.mean(jnp.sum((t_hat - x) ** 2, axis=1))))
