"""Exact optimal transport between small point clouds, and sample expectiles, for teaching (numpy + scipy).

Uniform empirical measures mu = 1/n sum delta_{x_i}, nu = 1/m sum delta_{y_j} (or weights a, b):

    primal   min_P  <C, P>        s.t.  P 1 = a,  P^T 1 = b,  P >= 0           (Kantorovich)
    dual     max_{f,g}  <a, f> + <b, g>   s.t.  f_i + g_j <= C_ij
    c-transform   g^c_i = min_j C_ij - g_j   (the best f for a given g)

Entropic OT adds eps KL(P | a b^T) to the primal; its dual replaces the hard constraint by a
penalty, and the c-transform by a soft minimum (Cuturi 2013; Peyre & Cuturi 2019, ch. 4):

    primal   min_P  <C, P> + eps KL(P | a b^T)      s.t.  P 1 = a,  P^T 1 = b
    dual     max_{f,g}  <a, f> + <b, g> - eps sum_ij a_i b_j (exp((f_i + g_j - C_ij) / eps) - 1)
    plan     P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)
    Sinkhorn f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)   (a soft c-transform), then g likewise

Everything returns numpy arrays; the LP is solved by HiGHS through `scipy.optimize.linprog`,
Sinkhorn runs in JAX (log domain, float64, jitted; epsilon is traced, so changing it never
recompiles).
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
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


@dataclasses.dataclass(frozen=True)
class EntropicSolution:
    """The entropic plan P, its transport cost <C, P>, the dual potentials f, g (P_ij =
    a_i b_j exp((f_i + g_j - C_ij) / eps)), and how Sinkhorn got there."""

    plan: np.ndarray
    cost: float  # <C, P>: what moving mass along the entropic plan costs (>= the exact OT cost)
    f: np.ndarray
    g: np.ndarray
    C: np.ndarray
    epsilon: float
    iterations: int  # Sinkhorn iterations run (one = an update of f and one of g)
    marginal_error: float  # sum_i |P 1 - a|_i after the last iteration (P^T 1 = b holds exactly)

    a: np.ndarray  # the weights of the source and target points
    b: np.ndarray

    @property
    def objective(self) -> float:
        """<C, P> + eps KL(P | a b^T), KL(P | Q) = sum P log(P / Q) - sum P + sum Q: the entropic
        primal value; equal to `dual_value` at convergence."""
        P, Q = self.plan, np.outer(self.a, self.b)
        kl = np.sum(P * np.log(np.where(P > 0, P, 1.0) / np.where(Q > 0, Q, 1.0))) - P.sum() + Q.sum()
        return float(self.cost + self.epsilon * kl)

    @property
    def dual_value(self) -> float:
        """<a, f> + <b, g> - eps (sum_ij P_ij - 1): the entropic dual at (f, g)."""
        return float(self.a @ self.f + self.b @ self.g - self.epsilon * (self.plan.sum() - 1.0))


@functools.partial(jax.jit, static_argnames="check_every")
def _sinkhorn_log(C, log_a, log_b, epsilon, max_iterations, tol, check_every=10):
    """Log-domain Sinkhorn: alternate the soft c-transforms until the row marginals are within
    `tol` (L1) or `max_iterations` is reached.  Returns (f, g, iterations, marginal error)."""
    lse = jax.scipy.special.logsumexp
    f_of = lambda g: -epsilon * lse((g[None, :] - C) / epsilon + log_b[None, :], axis=1)
    g_of = lambda f: -epsilon * lse((f[:, None] - C) / epsilon + log_a[:, None], axis=0)

    def error(f, g):  # L1 distance of P 1 to a (P^T 1 = b holds right after a g-update)
        log_p = (f[:, None] + g[None, :] - C) / epsilon + log_a[:, None] + log_b[None, :]
        return jnp.sum(jnp.abs(jnp.exp(lse(log_p, axis=1)) - jnp.exp(log_a)))

    def body(state):
        f, g, k, _ = state
        for _ in range(check_every):  # a few updates between two checks of the marginals
            f = f_of(g)
            g = g_of(f)
        return f, g, k + check_every, error(f, g)

    def more(state):
        return (state[3] > tol) & (state[2] < max_iterations)

    g0 = jnp.zeros(C.shape[1], C.dtype)
    f0 = f_of(g0)
    state = (f0, g_of(f0), jnp.int32(1), jnp.asarray(jnp.inf, C.dtype))
    return jax.lax.while_loop(more, body, state)


def sinkhorn_matrix(C, a=None, b=None, *, epsilon=0.05, max_iterations=10_000, tol=1e-9) -> EntropicSolution:
    """Entropic OT for a cost matrix C (n, m) and weights a, b (uniform by default), by
    log-domain Sinkhorn in float64.  `epsilon` is absolute (in the units of C); the iterations
    needed grow like max(C) / epsilon."""
    C = np.asarray(C, np.float64)
    if C.ndim != 2 or not np.all(np.isfinite(C)):
        raise ValueError(f"C must be a finite matrix (n, m), got shape {C.shape}")
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    n, m = C.shape
    a, b = _weights(a, n, "a"), _weights(b, m, "b")
    with jax.enable_x64(True):
        with np.errstate(divide="ignore"):  # log 0 = -inf: a zero weight gets no mass
            log_a, log_b = jnp.asarray(np.log(a)), jnp.asarray(np.log(b))
        f, g, k, err = _sinkhorn_log(jnp.asarray(C), log_a, log_b, jnp.float64(epsilon), jnp.int32(max_iterations),
                                     jnp.float64(tol))
        f, g = np.asarray(f), np.asarray(g)
    plan = a[:, None] * b[None, :] * np.exp((f[:, None] + g[None, :] - C) / epsilon)
    return EntropicSolution(plan=plan, cost=float(np.sum(C * plan)), f=f, g=g, C=C, epsilon=float(epsilon),
                            iterations=int(k), marginal_error=float(err), a=a, b=b)


def sinkhorn(x, y, a=None, b=None, cost="sqeuclidean", *, epsilon=0.05, max_iterations=10_000,
             tol=1e-9) -> EntropicSolution:
    """Entropic OT between point clouds x (n, d) and y (m, d) for any cost `cost_matrix` takes
    (a name, a cost object, or a function (x, y) -> C); see `sinkhorn_matrix`."""
    return sinkhorn_matrix(cost_matrix(x, y, cost), a, b, epsilon=epsilon, max_iterations=max_iterations, tol=tol)


def barycentric_map(solution, y):
    """The entropic map on the source points: T(x_i) = sum_j P_ij y_j / sum_j P_ij, the mean of
    where the plan sends x_i (for c = 1/2 ||x - y||^2 it tends to the Brenier map as eps -> 0)."""
    P = np.asarray(solution.plan)
    return (P @ np.asarray(y, np.float64)) / P.sum(1, keepdims=True)


def entropic_map(solution, y, cost="sqeuclidean"):
    """The entropic map at any point: T(x) = sum_j w_j(x) y_j with w(x) = softmax_j((g_j -
    c(x, y_j)) / eps + log b_j), Sinkhorn's own f-update evaluated at a new x (Pooladian &
    Niles-Weed 2021).  On the source points it is `barycentric_map`.  Returns a function of x (k, d)."""
    y = np.asarray(y, np.float64)
    with np.errstate(divide="ignore"):
        log_b = np.log(solution.b)
    g, eps = solution.g, solution.epsilon

    def transport(x):
        logits = (g[None, :] - cost_matrix(x, y, cost)) / eps + log_b[None, :]
        w = np.exp(logits - logits.max(1, keepdims=True))
        return (w @ y) / w.sum(1, keepdims=True)

    return transport


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
