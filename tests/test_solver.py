"""`fit`: closed forms, exact discrete OT, determinism, the result, bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import enot_lite
from enot_lite import benchmark, discrete, train


def _gaussian_cloud(n=512, d=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _l2_uvp(result, pair, n=8192):
    return benchmark.l2_uvp(result.transport, pair, n=n)


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
    result.save(tmp_path / "model.npz")
    back = enot_lite.load(tmp_path / "model.npz")
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
    before = train.compilations()
    with pytest.raises(error, match=match):
        enot_lite.fit(source, target, progress=False, **args)
    assert train.compilations() == before
