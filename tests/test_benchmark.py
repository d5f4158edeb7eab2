"""The W2 benchmark port (Mix3toMix10) and the Gaussian pairs, against reference values."""
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from enot_lite import benchmark

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "reference_values.json").read_text())
GRADS = json.loads((DATA / "reference_grads.json").read_text())["values"]
POINTS = ("zeros", "half", "ramp")


@pytest.mark.parametrize("dim", benchmark.DIMS)
def test_optimal_map_matches_the_original_potentials(dim):
    x = np.stack([np.zeros(dim), 0.5 * np.ones(dim), np.arange(dim) / dim]).astype(np.float32)
    t = np.asarray(benchmark.mix3tomix10(dim).optimal_map(x))
    for point, t_point in zip(POINTS, t):
        np.testing.assert_allclose(t_point, GRADS[str(dim)][point]["psi"], atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(t_point[:4], REFERENCE[str(dim)]["grad_psi_first4"][point], atol=1e-5)


@pytest.mark.parametrize("dim", [2, 4, 8, 16, 32, 64, pytest.param(128, marks=pytest.mark.slow)])
def test_identity_and_linear_baselines_match_the_reference_table(dim):
    pair, ref = benchmark.mix3tomix10(dim), REFERENCE[str(dim)]
    assert pair.target_var == pytest.approx(ref["target_var"], rel=1e-6)
    # both sides are Monte Carlo estimates from 2^14 samples: about 1-2 % relative error each
    assert benchmark.l2_uvp(lambda x: x, pair) == pytest.approx(ref["l2uvp_identity"], rel=0.04)
    assert benchmark.l2_uvp(pair.linear_map, pair) == pytest.approx(ref["l2uvp_linear"], rel=0.04)
    assert benchmark.cosine(pair.linear_map, pair) == pytest.approx(ref["cos_linear"], abs=0.02)


@pytest.mark.parametrize("dim", [2, 16])
def test_target_variance_from_samples(dim):
    pair = benchmark.mix3tomix10(dim)
    y = pair.sample_target(jax.random.key(5), 2**14)
    assert float(jnp.sum(jnp.var(y, axis=0))) == pytest.approx(pair.target_var, rel=0.05)
    assert float(jnp.abs(y.mean(0)).max()) < 0.1  # scale/shift standardise nu to mean zero


@pytest.mark.parametrize("make_pair", [lambda: benchmark.mix3tomix10(4), lambda: benchmark.gaussian(3, seed=2)],
                         ids=["mix3tomix10", "gaussian"])
def test_samplers_run_inside_jit_and_scan_with_a_traced_key(make_pair):
    pair = make_pair()

    @jax.jit
    def draw(key):
        def step(key, _):
            key, kx, ky = jax.random.split(key, 3)
            return key, (pair.sample_source(kx, 16), pair.sample_target(ky, 16))

        return jax.lax.scan(step, key, None, length=3)[1]

    for out in draw(jax.random.key(0)):
        assert out.shape == (3, 16, pair.dim) and out.dtype == jnp.float32
        assert not np.allclose(out[0], out[1])  # the key is threaded through the scan
    assert pair.sample_source(jax.random.key(1), 7).shape == (7, pair.dim)


@pytest.mark.parametrize("options", [{}, dict(condition=30.0, gap=5.0, scale=1e3)])
def test_gaussian_pair_pushes_source_onto_target(options):
    dim, n = 3, 200_000
    pair = benchmark.gaussian(dim, seed=1, **options)
    m1, s1, m2, s2 = pair.moments
    scale = options.get("scale", 1.0)
    x = np.asarray(pair.sample_source(jax.random.key(0), n))
    y = np.asarray(pair.sample_target(jax.random.key(0), n))
    np.testing.assert_allclose(x.mean(0), m1, atol=0.03 * scale)
    np.testing.assert_allclose(np.cov(x.T), s1, atol=0.05 * scale**2 * np.abs(s1).max())
    np.testing.assert_allclose(y.mean(0), m2, atol=0.03 * scale)
    np.testing.assert_allclose(np.cov(y.T), s2, atol=0.05 * scale**2 * np.abs(s2).max())
    assert pair.target_var == pytest.approx(np.trace(s2))
    # T*(x) = A x + b with A symmetric positive definite (the gradient of a convex quadratic) and A S1 A = S2
    a = np.asarray(jax.jacfwd(lambda z: pair.optimal_map(z[None])[0])(jnp.zeros(dim)), np.float64)
    np.testing.assert_allclose(a, a.T, atol=1e-6)
    assert np.linalg.eigvalsh(a).min() > 0
    np.testing.assert_allclose(a @ s1 @ a, s2, rtol=1e-4, atol=1e-5 * scale**2)
    assert pair.linear_map is pair.optimal_map
    if "condition" in options:  # each covariance has exactly that condition number, the means that gap
        for s in (s1, s2):
            assert np.linalg.cond(s) == pytest.approx(options["condition"], rel=1e-6)
        assert np.linalg.norm(m2 - m1) == pytest.approx(options["gap"] * scale, rel=1e-9)


def test_the_default_gaussian_pairs_are_the_ones_of_before():
    """condition, scale and gap left out give the pairs that the documented numbers were measured on."""
    assert benchmark.gaussian(8, 0).target_var == pytest.approx(8.711210421236038, rel=1e-12)
    assert benchmark.gaussian(2, 3).target_var == pytest.approx(3.2729187177024652, rel=1e-12)


def test_gaussian_pair_is_deterministic_per_seed():
    x = jnp.ones((2, 4))
    np.testing.assert_array_equal(benchmark.gaussian(4, 0).optimal_map(x), benchmark.gaussian(4, seed=0).optimal_map(x))
    assert not np.allclose(benchmark.gaussian(4, 0).optimal_map(x), benchmark.gaussian(4, 1).optimal_map(x))


def test_metrics_on_known_maps():
    pair = benchmark.gaussian(2, seed=0)
    assert benchmark.l2_uvp(pair.optimal_map, pair) == 0.0
    assert benchmark.l2_uvp(lambda x: x, pair) > 1.0
    assert benchmark.cosine(pair.optimal_map, pair) == pytest.approx(1.0, abs=1e-5)
    # halfway map x + (T*(x) - x) / 2: same direction, a quarter of the squared error of the identity
    half = lambda x: 0.5 * (x + pair.optimal_map(x))  # noqa: E731
    assert benchmark.cosine(half, pair) == pytest.approx(1.0, abs=1e-5)
    assert benchmark.l2_uvp(half, pair) == pytest.approx(benchmark.l2_uvp(lambda x: x, pair) / 4, rel=1e-4)
    assert benchmark.l2_uvp(lambda x: x, pair, key=jax.random.key(1)) != benchmark.l2_uvp(lambda x: x, pair)


def test_bad_input():
    for dim in (3, 256, 0, True, "8"):
        with pytest.raises(ValueError, match="dim"):
            benchmark.mix3tomix10(dim)
    with pytest.raises(ValueError, match="dim"):
        benchmark.gaussian(0)
    for options, why in ((dict(condition=0.5), "condition"), (dict(scale=0.0), "scale"), (dict(gap=-1.0), "gap"),
                         (dict(condition=float("inf")), "condition")):
        with pytest.raises(ValueError, match=why):
            benchmark.gaussian(2, **options)
    with pytest.raises(ValueError, match="1-D covariance"):
        benchmark.gaussian(1, condition=10)
    pair = benchmark.gaussian(2)
    for n in (1, 2.5, None):
        with pytest.raises(ValueError, match="n must be"):
            benchmark.l2_uvp(lambda x: x, pair, n=n)
    with pytest.raises(ValueError, match="map_fn must return"):
        benchmark.cosine(lambda x: x[:, :1], pair)
