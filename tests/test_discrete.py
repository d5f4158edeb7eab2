"""Exact discrete OT: strong duality, complementary slackness, c-transforms, 1-D maps, expectiles."""
import numpy as np
import pytest

from enot_lite import discrete


def _clouds(n=12, m=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + [2.0, 0.5]


def test_lp_and_assignment_agree_for_equal_uniform_clouds():
    x, y = _clouds()
    sol = discrete.solve(x, y)
    sigma, cost = discrete.assignment(x, y)
    assert sol.cost == pytest.approx(cost, abs=1e-9)
    assert discrete.ot_cost(x, y) == pytest.approx(cost)
    assert sorted(sigma) == list(range(len(x)))
    # the LP's optimal plan is a permutation matrix / n here (a vertex of the Birkhoff polytope)
    np.testing.assert_allclose(sol.plan.sum(1), 1 / 12)
    assert np.count_nonzero(sol.plan > 1e-9) == 12


def test_strong_duality_and_complementary_slackness():
    x, y = _clouds(10, 7, seed=1)
    sol = discrete.solve(x, y)
    assert sol.dual_value == pytest.approx(sol.cost, abs=1e-8)
    gap = discrete.constraint_gap(sol.f, sol.g, sol.C)
    assert gap.min() > -1e-8  # feasible
    assert np.all(np.abs(gap[sol.plan > 1e-9]) < 1e-8)  # tight where the plan puts mass
    assert discrete.ot_cost(x, y) == pytest.approx(sol.cost)


def test_c_transform_improves_any_feasible_pair():
    x, y = _clouds(8, 9, seed=2)
    C = discrete.cost_matrix(x, y)
    g = np.random.default_rng(0).normal(size=9)
    f = discrete.c_transform(g, C) - 0.3  # feasible but not tight
    assert discrete.constraint_gap(f, g, C).min() >= 0
    f1 = discrete.c_transform(g, C)
    g1 = discrete.c_bar_transform(f1, C)
    values = [discrete.dual_objective(f, g), discrete.dual_objective(f1, g), discrete.dual_objective(f1, g1)]
    assert values[0] < values[1] <= values[2] + 1e-12
    assert discrete.constraint_gap(f1, g1, C).min() > -1e-12
    assert values[2] <= discrete.solve(x, y).cost + 1e-9  # weak duality


def test_quantile_map_is_the_sorted_matching_in_1d():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=50), rng.exponential(size=50)
    T = discrete.quantile_map(x, y)
    assert np.all(np.diff(T(np.sort(x))) > 0)
    sigma, _ = discrete.assignment(x, y)
    np.testing.assert_allclose(np.sort(y[sigma]), np.sort(y))
    assert np.all(np.diff(y[sigma][np.argsort(x)]) > 0)  # the optimal assignment is monotone


def test_cost_names_and_callables():
    x, y = _clouds(3, 4)
    np.testing.assert_allclose(discrete.cost_matrix(x, y), 0.5 * ((x[:, None] - y[None]) ** 2).sum(-1))
    np.testing.assert_allclose(discrete.cost_matrix(x, y, "pnorm:1.5"), (np.abs(x[:, None] - y[None]) ** 1.5).sum(-1) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(discrete.cost_matrix(x, y, lambda a, b: np.ones((3, 4))), 1.0)
    with pytest.raises(ValueError, match="unknown cost"):
        discrete.cost_matrix(x, y, "nope")
    with pytest.raises(ValueError, match="weights"):
        discrete.solve(x, y, a=[1, 0, 0.5])


def test_sample_expectile_from_mean_to_max():
    u = np.random.default_rng(4).normal(size=1000)
    assert discrete.sample_expectile(u, 0.5) == pytest.approx(u.mean(), abs=1e-9)
    e = [discrete.sample_expectile(u, t) for t in (0.5, 0.9, 0.99, 0.9999)]
    assert np.all(np.diff(e) > 0) and u.max() - e[-1] < 0.5


def test_expectile_regression_at_one_half_is_least_squares_and_grows_with_tau():
    rng = np.random.default_rng(5)
    t = rng.uniform(-2, 2, 400)
    u = np.sin(t) + (0.2 + 0.2 * np.abs(t)) * rng.normal(size=400)
    phi = np.stack([np.ones_like(t), t, t**2, t**3], 1)
    np.testing.assert_allclose(discrete.expectile_regression(phi, u, 0.5), np.linalg.lstsq(phi, u, rcond=None)[0], atol=1e-10)
    low, high = (phi @ discrete.expectile_regression(phi, u, tau) for tau in (0.5, 0.95))
    assert np.all(high > low)
    assert np.mean(u > high) < 0.2  # the 0.95-expectile curve lies above most of the data


def test_sinkhorn_plan_has_the_marginals_and_its_dual_equals_its_primal():
    x, y = _clouds(10, 14, seed=6)
    a = np.random.default_rng(1).dirichlet(np.ones(10))
    sol = discrete.sinkhorn(x, y, a=a, epsilon=0.1)
    np.testing.assert_allclose(sol.plan.sum(1), a, atol=1e-8)
    np.testing.assert_allclose(sol.plan.sum(0), 1 / 14, atol=1e-12)
    assert sol.marginal_error < 1e-8 and sol.iterations < 10_000
    assert sol.dual_value == pytest.approx(sol.objective, abs=1e-7)  # strong duality, entropic
    assert sol.cost == pytest.approx(float(np.sum(sol.C * sol.plan)))


def test_sinkhorn_tends_to_the_exact_cost_as_epsilon_goes_to_zero():
    x, y = _clouds(15, 12, seed=7)
    exact = discrete.solve(x, y).cost
    gaps = [discrete.sinkhorn(x, y, epsilon=eps).cost - exact for eps in (1.0, 0.1, 0.01)]
    assert all(gap > -1e-6 for gap in gaps)  # the entropic plan is feasible, so never cheaper
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-2 * exact


def test_sinkhorn_takes_any_cost_matrix_cost_name_or_callable():
    x, y = _clouds(6, 7, seed=8)
    C = discrete.cost_matrix(x, y, "pnorm:1.5")
    by_matrix = discrete.sinkhorn_matrix(C, epsilon=0.2)
    by_name = discrete.sinkhorn(x, y, cost="pnorm:1.5", epsilon=0.2)
    by_callable = discrete.sinkhorn(x, y, cost=lambda a, b: discrete.cost_matrix(a, b, "pnorm:1.5"), epsilon=0.2)
    for sol in (by_name, by_callable):
        np.testing.assert_allclose(sol.plan, by_matrix.plan, atol=1e-12)
        np.testing.assert_allclose(sol.f + sol.g.mean(), by_matrix.f + by_matrix.g.mean(), atol=1e-9)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        discrete.sinkhorn_matrix(C, epsilon=0.0)


def test_the_entropic_map_is_the_barycentric_projection_on_the_source_points():
    x, y = _clouds(20, 20, seed=9)
    sol = discrete.sinkhorn(x, y, epsilon=0.05)
    np.testing.assert_allclose(discrete.entropic_map(sol, y)(x), discrete.barycentric_map(sol, y), atol=1e-9)
    sigma, _ = discrete.assignment(x, y)  # small epsilon: close to the exact assignment
    sharp = discrete.sinkhorn(x, y, epsilon=1e-3)
    assert np.mean(np.sum((discrete.barycentric_map(sharp, y) - y[sigma]) ** 2, 1)) < 1e-2
