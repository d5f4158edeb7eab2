"""The ENOT solver: closed forms, exact discrete OT, determinism, compilations, bad input."""
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import enot_lite
from enot_lite import benchmark, discrete
from enot_lite.solver import expectile_loss

# ----------------------------------------------------------------------------- helpers

_compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: _compiles.append(event) if "backend_compile" in event else None
)


def _gaussian_cloud(n=512, d=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _l2_uvp(result, pair, n=8192):
    return benchmark.l2_uvp(result.transport, pair, n=n)


# ----------------------------------------------------------------------------- the potentials


def test_shared_backward_pass_is_the_autodiff_vjp_for_any_cotangent():
    from enot_lite import potentials

    hidden, key = (32, 16), jax.random.key(0)
    params = potentials.init(hidden, key, 3)
    x = jax.random.normal(jax.random.key(1), (64, 3))
    c = jax.random.normal(jax.random.key(2), (64,))  # per-row cotangents, of both signs
    out, vjp = jax.vjp(lambda p, z: potentials.value(hidden, p, z), params, x)
    out_shared, vjp_shared = jax.vjp(lambda p, z: potentials.value_shared_backward(hidden, p, z), params, x)
    np.testing.assert_array_equal(out_shared, out)
    for a, b in zip(jax.tree.leaves(vjp(c)), jax.tree.leaves(vjp_shared(c)), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_enot_loss_gradient_is_the_one_of_the_formulas():
    """enot_loss with g's shared backward pass against the ENOT.md formulas with plain autodiff."""
    from enot_lite import costs, potentials, solver

    hidden, cost, tau, lam = (32, 32), costs.SqEuclidean(), 0.9, 0.7
    params_f, params_g = (potentials.init(hidden, jax.random.key(i), 2) for i in (0, 1))
    x, y = jax.random.normal(jax.random.key(2), (128, 2)), 2 + jax.random.normal(jax.random.key(3), (128, 2))

    def reference(pf, pg):
        g, sg = (lambda p, z: potentials.value(hidden, p, z)), jax.lax.stop_gradient
        t = x - potentials.gradient(hidden, pf, x)
        g_star = 0.5 * jnp.sum((x - sg(t)) ** 2, -1) - g(pg, sg(t))
        loss_f = jnp.mean(0.5 * jnp.sum((x - t) ** 2, -1) - g(sg(pg), t))
        u = g_star + g(pg, y) - 0.5 * jnp.sum((x - y) ** 2, -1)
        return loss_f - jnp.mean(g_star) - jnp.mean(g(pg, y)) + lam * jnp.mean(expectile_loss(u, tau))

    expected = jax.grad(reference, argnums=(0, 1))(params_f, params_g)
    got = jax.grad(lambda pf, pg: solver.enot_loss(pf, pg, x, y, tau, lam, cost=cost, hidden=hidden)[0], argnums=(0, 1))(
        params_f, params_g
    )
    for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- the loss


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


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.slow
@pytest.mark.parametrize("dim, steps, bound", [(2, 3000, 0.25), (8, 6000, 0.6)])
def test_gaussian_closed_form(dim, steps, bound):
    pair = benchmark.gaussian(dim, seed=0)
    result = enot_lite.fit(pair.sample_source, pair.sample_target, steps=steps, progress=False)
    assert _l2_uvp(result, pair) < bound
    # the inverse map (bidirectional) sends the target back onto the source
    y = pair.sample_target(jax.random.key(3), 4096)
    x = pair.sample_source(jax.random.key(3), 4096)
    back = result.inverse_transport(y)
    np.testing.assert_allclose(back.mean(0), x.mean(0), atol=0.1)


@pytest.mark.slow
def test_one_dimensional_map_is_the_monotone_rearrangement():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4096, 1)).astype(np.float32)
    y = rng.exponential(size=(4096, 1)).astype(np.float32)
    result = enot_lite.fit(x, y, steps=3000, progress=False)
    probe = np.quantile(x, np.linspace(0.05, 0.95, 19))[:, None].astype(np.float32)
    mapped = np.asarray(result.transport(probe))[:, 0]
    expected = np.quantile(y, np.linspace(0.05, 0.95, 19))  # T = F_nu^-1 o F_mu
    assert np.all(np.diff(mapped) > 0)
    np.testing.assert_allclose(mapped, expected, rtol=0.1, atol=0.02)


@pytest.mark.slow
def test_dual_value_matches_exact_discrete_ot_cost():
    x = _gaussian_cloud(256, 2, seed=2)
    y = (_gaussian_cloud(256, 2, seed=3) @ np.array([[1.5, 0.3], [0.0, 0.6]]) + [2.0, -1.0]).astype(np.float32)
    exact = discrete.ot_cost(x, y)
    result = enot_lite.fit(x, y, steps=4000, progress=False)
    assert result.dual_value == pytest.approx(exact, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("p", [1.5, 3.0])
def test_pnorm_map_of_a_translation_is_the_translation(p):
    # For c = h(x - y), h strictly convex, Jensen gives E h(x - T x) >= h(-b): T(x) = x + b.
    x = _gaussian_cloud(4096, 2, seed=4)
    shift = np.array([1.0, -0.5], np.float32)
    result = enot_lite.fit(x, x + shift, cost=f"pnorm:{p}", steps=3000, progress=False)
    probe = x[:512]
    err = np.asarray(result.transport(probe)) - (probe + shift)
    assert np.sqrt(np.mean(np.sum(err**2, axis=1))) < 0.1


# ----------------------------------------------------------------------------- the machinery


def test_same_seed_same_result_and_other_seed_differs():
    x, y = _gaussian_cloud(256, 2, 0), _gaussian_cloud(256, 2, 1) + 2
    a = enot_lite.fit(x, y, steps=200, progress=False, seed=3)
    b = enot_lite.fit(x, y, steps=200, progress=False, seed=3)
    c = enot_lite.fit(x, y, steps=200, progress=False, seed=4)
    np.testing.assert_array_equal(a.transport(x), b.transport(x))
    np.testing.assert_array_equal(a.history["dual_value"], b.history["dual_value"])
    assert not np.array_equal(a.transport(x), c.transport(x))


def test_training_compiles_with_and_without_the_small_matmul_option(monkeypatch):
    """The XLA option is probed: an XLA without it trains the same, just without it."""
    from enot_lite import solver

    x, y = _gaussian_cloud(256, 2, seed=0), _gaussian_cloud(256, 2, seed=1) + 3
    kwargs = dict(steps=40, batch_size=64, hidden=(16, 16), progress=False)
    with_option = enot_lite.fit(x, y, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(solver, "_SMALL_MATMUL_OPTIONS", {"xla_cpu_no_such_option_in_any_xla": ""})
        solver._compiled_train_chunk.cache_clear()
        try:
            without = enot_lite.fit(x, y, **kwargs)
        finally:
            solver._compiled_train_chunk.cache_clear()
    np.testing.assert_allclose(without.transport(x), with_option.transport(x), rtol=1e-4, atol=1e-4)
    if jax.default_backend() == "cpu":  # the option exists in this jaxlib, and takes effect
        hlo = solver._compiled_train_chunk().lower(*_chunk_arguments(solver)).compile().as_text()
        assert "ynn_fusion" not in hlo


def _chunk_arguments(solver):
    config = solver.Config(dim=2, hidden=(16,), batch_size=8, chunk=1, bidirectional=True, cost=enot_lite.costs.SqEuclidean(),
                           sample_source=None, sample_target=None, b1=0.9, b2=0.99, final_lr_fraction=1.0)
    hyper = solver.Hyper(*(jnp.float32(v) for v in (0.99, 1.0, 1e-3)), jnp.int32(10))
    data = (jnp.zeros((8, 2)), jnp.ones((8, 2)))
    return config, hyper, data, solver.init_state(config, 0)


def test_new_tau_and_lambda_compile_nothing():
    x, y = _gaussian_cloud(256, 2, 0), _gaussian_cloud(256, 2, 1) + 2
    enot_lite.fit(x, y, steps=200, progress=False, tau=0.99, lam=1.0)
    before = len(_compiles)
    start = time.perf_counter()
    result = enot_lite.fit(x, y, steps=200, progress=False, tau=0.9, lam=0.3, learning_rate=1e-3)
    assert len(_compiles) == before, _compiles[before:]
    assert result.hyper["tau"] == 0.9 and result.hyper["lam"] == 0.3
    assert time.perf_counter() - start < 10


def test_history_logs_steps_and_l2_uvp_with_a_reference_map():
    x = _gaussian_cloud(512, 2, 0)
    result = enot_lite.fit(x, x + 1, steps=400, progress=False, reference_map=lambda z: z + 1)
    h = result.history
    assert h["step"][-1] == 400 and np.all(np.diff(h["step"]) > 0)
    assert len(h["l2_uvp"]) == len(h["step"]) == len(h["dual_value"])
    assert h["l2_uvp"][-1] < h["l2_uvp"][0]


def test_callback_runs_between_chunks_and_can_stop():
    x = _gaussian_cloud(256, 2, 0)
    seen = []
    result = enot_lite.fit(x, x + 1, steps=1000, progress=False, callback=lambda step, r: seen.append(step) or len(seen) == 3)
    assert len(seen) == 3 and seen == sorted(seen)
    assert result.history["step"][-1] == seen[-1] < 1000


def test_save_load_round_trip(tmp_path):
    x = _gaussian_cloud(256, 3, 0)
    result = enot_lite.fit(x, x * 2, steps=200, cost="pnorm:1.5", progress=False)
    result.save(tmp_path / "model.pkl")
    back = enot_lite.load(tmp_path / "model.pkl")
    np.testing.assert_array_equal(back.transport(x), result.transport(x))
    np.testing.assert_array_equal(back.inverse_transport(x), result.inverse_transport(x))
    np.testing.assert_array_equal(back.g(x), result.g(x))
    assert back.dual_value == result.dual_value and back.cost == result.cost
    np.testing.assert_array_equal(back.history["dual_value"], result.history["dual_value"])


def test_divergence_names_the_step_and_keeps_the_last_finite_state():
    x = _gaussian_cloud(256, 2, 0)
    with pytest.raises(enot_lite.DivergenceError, match=r"diverged at step \d+") as err:
        enot_lite.fit(x, x * 50 + 100, steps=2000, learning_rate=1e6, lam=0.0, progress=False)
    assert 0 <= err.value.step < 2000
    assert np.all(np.isfinite(np.asarray(err.value.result.transport(x))))


def test_custom_cost_object_in_a_few_lines():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Quartic:  # h(z) = |z|^4 / 4 per coordinate, h*'(w) = sign(w) |w|^(1/3)
        def h(self, z):
            return jnp.sum(z**4, axis=-1) / 4

        def grad_h_star(self, w):
            return jnp.sign(w) * jnp.abs(w) ** (1 / 3)

    x = _gaussian_cloud(256, 2, 0)
    result = enot_lite.fit(x, x + 0.5, cost=Quartic(), steps=200, progress=False)
    assert result.transport(x).shape == x.shape


def test_transport_accepts_single_points_and_checks_shapes():
    x = _gaussian_cloud(64, 2, 0)
    result = enot_lite.fit(x, x + 1, steps=100, progress=False)
    assert result.transport(x[0]).shape == (2,)
    assert result.f(x).shape == (64,)
    with pytest.raises(ValueError, match="shape"):
        result.transport(np.zeros((4, 3)))


# ----------------------------------------------------------------------------- bad input

X = _gaussian_cloud(32, 2, 0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(tau=0.0), ValueError, r"tau must be in \(0.0, 1.0\]"),
        (dict(tau=1.5), ValueError, "tau"),
        (dict(tau="high"), TypeError, "tau"),
        (dict(lam=-0.1), ValueError, r"lam must be in \[0.0"),
        (dict(lam=float("nan")), ValueError, "lam"),
        (dict(steps=0), ValueError, "steps"),
        (dict(steps=2.5), TypeError, "steps"),
        (dict(batch_size=-1), ValueError, "batch_size"),
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(cost="manhattan"), ValueError, "unknown cost 'manhattan'"),
        (dict(cost="pnorm:1"), ValueError, "p must be"),
        (dict(cost=3), TypeError, "cost"),
        (dict(hidden=()), ValueError, "hidden"),
        (dict(target=X[:, :1]), ValueError, "same dimension"),
        (dict(source=X[0]), ValueError, "source must be 2-D"),
        (dict(source=X[:1]), ValueError, "at least 2 samples"),
        (dict(source=X[:0]), ValueError, "at least 2 samples"),
        (dict(target=np.where(X > 1, np.nan, X)), ValueError, "target contains NaN or inf"),
        (dict(target=np.where(X > 1, np.inf, X)), ValueError, "NaN or inf"),
        (dict(source=X.astype(complex)), TypeError, "real numbers"),
        (dict(source="data"), TypeError, "source must be an array"),
        (dict(source=lambda key, n: jnp.zeros((n,))), ValueError, r"shape \(n, d\)"),
    ],
)
def test_bad_input_is_refused_before_compiling(kwargs, error, match):
    args = dict(source=X, target=X + 1) | kwargs
    source, target = args.pop("source"), args.pop("target")
    before = len(_compiles)
    start = time.perf_counter()
    with pytest.raises(error, match=match):
        enot_lite.fit(source, target, progress=False, **args)
    assert time.perf_counter() - start < 1.0
    assert len(_compiles) == before
