"""The paper's loss (enot_lite.loss): the expectile loss, the map, the c-transform, L_f + L_g."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from enot_lite import costs, discrete, loss, potentials
from enot_lite.loss import expectile_loss


def test_expectile_loss_at_one_half_is_half_the_squared_error():
    u = jnp.linspace(-3, 3, 101)
    np.testing.assert_allclose(expectile_loss(u, 0.5), 0.5 * u**2, rtol=1e-6)


def test_expectile_loss_weights_positive_side_by_tau():
    assert float(expectile_loss(2.0, 0.9)) == pytest.approx(0.9 * 4)
    assert float(expectile_loss(-2.0, 0.9)) == pytest.approx(0.1 * 4)


def test_sample_expectile_grows_to_the_max_as_tau_goes_to_one():
    u = np.random.default_rng(0).normal(size=2000)
    taus = [0.5, 0.9, 0.99, 0.999, 0.99999]
    e = [discrete.sample_expectile(u, t) for t in taus]
    assert e[0] == pytest.approx(u.mean(), abs=1e-6)  # tau = 1/2: the mean
    assert all(a < b for a, b in zip(e, e[1:]))  # monotone in tau
    assert u.max() - e[-1] < 0.1 * (u.max() - u.mean())  # close to the max


def test_gradient_map_of_a_quadratic_potential_is_affine():
    """f(x) = 1/2 x^T B x gives T(x) = x - B x for c = 1/2 ||x - y||^2."""
    B = jnp.array([[0.5, 0.1], [0.1, 0.2]])
    f = lambda theta, x: 0.5 * jnp.einsum("ni,ij,nj->n", x, theta, x)
    x = jax.random.normal(jax.random.key(0), (16, 2))
    np.testing.assert_allclose(loss.gradient_map(costs.SqEuclidean().grad_h_star, f, B, x), x - x @ B, rtol=1e-6)


def _setup(dim=2, hidden=(32, 32), n=128):
    params_f, params_g = (potentials.init(hidden, jax.random.key(i), dim) for i in (0, 1))
    x, y = jax.random.normal(jax.random.key(2), (n, dim)), 2 + jax.random.normal(jax.random.key(3), (n, dim))
    g = lambda phi, z: potentials.value(hidden, phi, z)
    T = lambda theta, z: z - jax.grad(lambda w: potentials.value(hidden, theta, w).sum())(z)
    return params_f, params_g, x, y, g, T


def test_enot_loss_values_are_the_formulas():
    params_f, params_g, x, y, g, T = _setup()
    c = costs.SqEuclidean().c
    tau, lam = 0.9, 0.7
    total, (L_f, L_g, dual) = loss.enot_loss(params_f, params_g, x, y, tau, lam, c=c, T=T, g=g)
    t = T(params_f, x)
    g_T = 0.5 * jnp.sum((x - t) ** 2, -1) - g(params_g, t)
    u = g_T + g(params_g, y) - 0.5 * jnp.sum((x - y) ** 2, -1)
    assert float(dual) == pytest.approx(float(jnp.mean(g_T) + jnp.mean(g(params_g, y))), rel=1e-5)
    assert float(L_f) == pytest.approx(float(jnp.mean(g_T)), rel=1e-5)  # same value, different gradients
    assert float(L_g) == pytest.approx(float(-dual + lam * jnp.mean(jnp.where(u < 0, 1 - tau, tau) * u**2)), rel=1e-5)
    assert float(total) == pytest.approx(float(L_f + L_g), rel=1e-6)
    np.testing.assert_allclose(loss.c_transform(c, T, g, params_f, params_g, x), g_T, rtol=1e-6)


def test_enot_loss_gradients_reach_only_where_the_paper_says():
    """theta's gradient is L_f's alone, phi's is L_g's alone (the stop-gradients)."""
    params_f, params_g, x, y, g, T = _setup()
    c = costs.SqEuclidean().c
    grads = jax.grad(lambda a, b: loss.enot_loss(a, b, x, y, 0.9, 0.7, c=c, T=T, g=g)[0], argnums=(0, 1))(params_f, params_g)
    grad_f_of_L_f = jax.grad(lambda a: loss.enot_loss(a, params_g, x, y, 0.9, 0.7, c=c, T=T, g=g)[1][0])(params_f)
    grad_g_of_L_g = jax.grad(lambda b: loss.enot_loss(params_f, b, x, y, 0.9, 0.7, c=c, T=T, g=g)[1][1])(params_g)
    for got, expected in ((grads[0], grad_f_of_L_f), (grads[1], grad_g_of_L_g)):
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
