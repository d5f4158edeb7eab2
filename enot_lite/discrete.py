"""Exact optimal transport between small point clouds, and sample expectiles, for teaching (numpy + scipy).

Uniform empirical measures mu = 1/n sum delta_{x_i}, nu = 1/m sum delta_{y_j} (or weights a, b):

    primal   min_P  <C, P>        s.t.  P 1 = a,  P^T 1 = b,  P >= 0           (Kantorovich)
    dual     max_{f,g}  <a, f> + <b, g>   s.t.  f_i + g_j <= C_ij
    c-transform   g^c_i = min_j C_ij - g_j   (the best f for a given g)

Everything returns numpy arrays; the LP is solved by HiGHS through `scipy.optimize.linprog`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment, linprog

from enot_lite.costs import get_cost, pairwise


def cost_matrix(x, y, cost="sqeuclidean"):
    """C_ij = c(x_i, y_j) with the package's costs ("sqeuclidean" is 1/2 ||x - y||^2),
    or `cost(x, y) -> (n, m)` if `cost` is a plain function.  1-D inputs are points on a line."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = (x[:, None] if x.ndim == 1 else x), (y[:, None] if y.ndim == 1 else y)
    if callable(cost) and not (hasattr(cost, "c") or hasattr(cost, "h")):
        return np.asarray(cost(x, y), np.float64)
    return np.asarray(pairwise(get_cost(cost), x[:, None, :], y[None, :, :]), np.float64)


def _weights(w, n, name):
    if w is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(w, np.float64)
    if w.shape != (n,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"{name} must be {n} non-negative weights summing to 1")
    return w


@dataclasses.dataclass(frozen=True)
class Solution:
    """An optimal plan P, the optimal cost <C, P>, and optimal dual potentials f, g."""

    plan: np.ndarray
    cost: float
    f: np.ndarray
    g: np.ndarray
    C: np.ndarray

    @property
    def dual_value(self) -> float:
        """<a, f> + <b, g>: equals `cost` (strong duality)."""
        return float(self.plan.sum(1) @ self.f + self.plan.sum(0) @ self.g)


def solve(x, y, a=None, b=None, cost="sqeuclidean") -> Solution:
    """Kantorovich's linear programme and its dual, exactly (HiGHS)."""
    C = cost_matrix(x, y, cost)
    n, m = C.shape
    a, b = _weights(a, n, "a"), _weights(b, m, "b")
    rows = np.kron(np.eye(n), np.ones((1, m)))  # sum_j P_ij = a_i
    cols = np.kron(np.ones((1, n)), np.eye(m))  # sum_i P_ij = b_j
    res = linprog(C.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"linear programme failed: {res.message}")
    duals = res.eqlin.marginals
    return Solution(plan=res.x.reshape(n, m), cost=float(res.fun), f=duals[:n], g=duals[n:], C=C)


def assignment(x, y, cost="sqeuclidean"):
    """Monge's problem between two clouds of the same size: the permutation sigma minimising
    1/n sum_i c(x_i, y_sigma(i)).  Returns (sigma, cost)."""
    C = cost_matrix(x, y, cost)
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"assignment needs clouds of the same size, got {C.shape[0]} and {C.shape[1]}")
    rows, cols = linear_sum_assignment(C)
    return cols[np.argsort(rows)], float(C[rows, cols].mean())


def ot_cost(x, y, cost="sqeuclidean") -> float:
    """Exact OT cost between the uniform empirical measures on x (n, d) and y (m, d)."""
    n, m = len(x), len(y)
    return assignment(x, y, cost)[1] if n == m else solve(x, y, cost=cost).cost


def quantile_map(x, y):
    """1-D optimal map for any convex cost: T = F_nu^-1 o F_mu, the monotone rearrangement.
    Returns a function mapping points to the empirical quantiles of y."""
    xs, ys = np.sort(np.asarray(x, np.float64).ravel()), np.sort(np.asarray(y, np.float64).ravel())
    levels = (np.arange(len(xs)) + 0.5) / len(xs)
    return lambda z: np.quantile(ys, np.interp(np.asarray(z, np.float64), xs, levels))


def c_transform(g, C):
    """g^c_i = min_j C_ij - g_j: the largest f with f_i + g_j <= C_ij."""
    return np.min(np.asarray(C) - np.asarray(g)[None, :], axis=1)


def c_bar_transform(f, C):
    """f^c_j = min_i C_ij - f_i (the c-transform on the other side)."""
    return np.min(np.asarray(C) - np.asarray(f)[:, None], axis=0)


def dual_objective(f, g, a=None, b=None):
    """<a, f> + <b, g> (uniform weights by default)."""
    f, g = np.asarray(f), np.asarray(g)
    return float(_weights(a, len(f), "a") @ f + _weights(b, len(g), "b") @ g)


def constraint_gap(f, g, C):
    """C_ij - f_i - g_j: non-negative for a feasible pair, zero where the plan puts mass."""
    return np.asarray(C) - np.asarray(f)[:, None] - np.asarray(g)[None, :]


def sample_expectile(u, tau, iterations=100):
    """The tau-expectile of samples u: argmin_m mean |tau - 1[u < m]| (u - m)^2 (bisection on the
    monotone first-order condition).  tau = 1/2 gives the mean; tau -> 1 the maximum."""
    u = np.asarray(u, np.float64).ravel()
    lo, hi = u.min(), u.max()
    for _ in range(iterations):
        m = 0.5 * (lo + hi)
        slope = np.mean(np.where(u < m, 1 - tau, tau) * (u - m))
        lo, hi = (m, hi) if slope > 0 else (lo, m)
    return 0.5 * (lo + hi)


def expectile_regression(features, u, tau, iterations=100):
    """argmin_w mean |tau - 1[u < Phi w]| (u - Phi w)^2 for a feature matrix Phi (n, k),
    by iteratively reweighted least squares (it stops when the weights stop changing)."""
    features, u = np.asarray(features, np.float64), np.asarray(u, np.float64)
    weights = np.full(len(u), 0.5)
    for _ in range(iterations):
        root = np.sqrt(weights)
        coef = np.linalg.lstsq(features * root[:, None], u * root, rcond=None)[0]
        new = np.where(u < features @ coef, 1.0 - tau, tau)
        if np.array_equal(new, weights):
            break
        weights = new
    return coef
