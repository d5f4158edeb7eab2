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


def _points(dim):
    return {"zeros": np.zeros(dim), "half": 0.5 * np.ones(dim), "ramp": np.arange(dim) / dim}


@pytest.mark.parametrize("dim", benchmark.DIMS)
def test_optimal_map_matches_the_original_potentials(dim):
    pair = benchmark.mix3tomix10(dim)
    for name, x in _points(dim).items():
        t = np.asarray(pair.optimal_map(jnp.asarray(x[None], jnp.float32))[0])
        np.testing.assert_allclose(t, GRADS[str(dim)][name]["psi"], atol=2e-5, rtol=1e-5)
        np.testing.assert_allclose(t[:4], REFERENCE[str(dim)]["grad_psi_first4"][name], atol=2e-5)


@pytest.mark.parametrize("dim", [2, 8, 64, pytest.param(128, marks=pytest.mark.slow)])
def test_identity_and_linear_baselines_match_the_reference_table(dim):
    pair, ref = benchmark.mix3tomix10(dim), REFERENCE[str(dim)]
    assert pair.target_var == pytest.approx(ref["target_var"], rel=1e-6)
    # Monte Carlo error with 2^14 samples is about 1-2 % relative
    assert benchmark.l2_uvp(lambda x: x, pair) == pytest.approx(ref["l2uvp_identity"], rel=0.04)
    assert benchmark.l2_uvp(pair.linear_map, pair) == pytest.approx(ref["l2uvp_linear"], rel=0.04)
    assert benchmark.cosine(pair.linear_map, pair) == pytest.approx(ref["cos_linear"], abs=0.02)


def test_target_variance_from_samples():
    pair = benchmark.mix3tomix10(8)
    y = pair.sample_target(jax.random.key(5), 2**14)
    assert float(jnp.sum(jnp.var(y, axis=0))) == pytest.approx(pair.target_var, rel=0.05)


def test_samplers_run_inside_jit_and_scan_with_a_traced_key():
    pair = benchmark.mix3tomix10(4)

    @jax.jit
    def draw(key):
        return jax.lax.scan(lambda k, _: (jax.random.split(k)[0], pair.sample_target(k, 16)), key, None, length=3)[1]

    out = draw(jax.random.key(0))
    assert out.shape == (3, 16, 4) and out.dtype == jnp.float32
    assert pair.sample_source(jax.random.key(1), 7).shape == (7, 4)


def test_gaussian_pair_closed_form():
    pair = benchmark.gaussian(3, seed=1)
    x = pair.sample_source(jax.random.key(0), 200_000)
    y = pair.optimal_map(x)
    ref = benchmark.gaussian(3, seed=1).sample_target(jax.random.key(1), 200_000)
    np.testing.assert_allclose(y.mean(0), ref.mean(0), atol=0.03)
    np.testing.assert_allclose(np.cov(np.asarray(y).T), np.cov(np.asarray(ref).T), atol=0.05)
    assert float(jnp.sum(jnp.var(y, axis=0))) == pytest.approx(pair.target_var, rel=0.02)
    # A is symmetric positive definite: the gradient of a convex quadratic (Brenier)
    a = np.asarray(jax.jacfwd(lambda z: pair.optimal_map(z[None])[0])(jnp.zeros(3)))
    np.testing.assert_allclose(a, a.T, atol=1e-5)
    assert np.all(np.linalg.eigvalsh(a) > 0)


def test_gaussian_pair_is_deterministic_per_seed():
    x = jnp.ones((2, 4))
    np.testing.assert_array_equal(benchmark.gaussian(4, 0).optimal_map(x), benchmark.gaussian(4, 0).optimal_map(x))
    assert not np.allclose(benchmark.gaussian(4, 0).optimal_map(x), benchmark.gaussian(4, 1).optimal_map(x))


def test_metrics_on_known_maps():
    pair = benchmark.gaussian(2, seed=0)
    assert benchmark.l2_uvp(pair.optimal_map, pair) == 0.0
    assert benchmark.l2_uvp(lambda x: x, pair) > 1.0
    assert benchmark.cosine(pair.optimal_map, pair) == pytest.approx(1.0, abs=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="dim must be one of"):
        benchmark.mix3tomix10(3)
    pair = benchmark.gaussian(2)
    with pytest.raises(ValueError, match="n must be"):
        benchmark.l2_uvp(lambda x: x, pair, n=1)
    with pytest.raises(ValueError, match="map_fn must return"):
        benchmark.l2_uvp(lambda x: x[:, :1], pair)
