"""`fit`: closed forms, exact discrete OT, determinism, the frame, the result, bad input."""
import dataclasses
import warnings

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


@dataclasses.dataclass(frozen=True)
class _ColumnCost:  # c(x, y) with a trailing axis: (n, 1) where (n,) is needed
    degree = 2

    def c(self, x, y):
        return 0.5 * jnp.sum((x - y) ** 2, axis=-1, keepdims=True)

    def grad_h_star(self, w):
        return w


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
        (dict(source=lambda key, n: np.random.normal(size=(n, 2)).astype(np.float32)), ValueError,
         "same batch for every key .* jax.random"),
        (dict(target=lambda key, n: jax.random.normal(key, (4, 2))), ValueError, "must return n points"),
        (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in \[0.0, 1.0\)"),
        (dict(betas=0.9), TypeError, "betas must be a pair"),
        (dict(adam_eps=0.0), ValueError, r"adam_eps must be in \(0.0, 1.0\]"),
        (dict(adam_eps="1e-5"), TypeError, "adam_eps must be a number"),
        (dict(ema=1.0), ValueError, r"ema must be in \[0.0, 1.0\)"),
        (dict(ema=-0.1), ValueError, r"ema must be in \[0.0, 1.0\)"),
        (dict(seed=2**32), ValueError, r"seed must be in \[0, 4294967295\]"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(steps=2**31), ValueError, "steps must be in"),
        (dict(batch_size=2**21), ValueError, "batch_size must be in"),
        (dict(hidden=(True, 4)), ValueError, "hidden"),
        (dict(hidden=64), ValueError, "hidden"),
        (dict(hidden=(200_000, 200_000)), ValueError, "GiB"),
        (dict(bidirectional=1), TypeError, "bidirectional must be True or False"),
        (dict(frame="whitened"), ValueError, "frame must be one of 'standard'"),
        (dict(schedule="linear"), ValueError, "schedule must be one of"),
        (dict(source=X.astype(np.float64) * 1e300), ValueError, "float32 range"),
        (dict(reference_map=lambda x: x[:, :1]), ValueError, r"reference_map must map points \(n, 2\)"),
        (dict(cost=_ColumnCost()), ValueError, "one number per pair of rows"),
        (dict(callback=3), TypeError, "callback"),
    ],
)
def test_bad_input_is_refused_before_compiling(kwargs, error, match):
    args = dict(source=X, target=X + 1) | kwargs
    source, target = args.pop("source"), args.pop("target")
    before = train.compilations()
    with pytest.raises(error, match=match):
        enot_lite.fit(source, target, progress=False, **args)
    assert train.compilations() == before


def test_numpy_ints_are_widths():
    result = enot_lite.fit(X, X + 1, hidden=(np.int64(8), np.int32(8)), steps=20, progress=False)
    assert result.hidden == (8, 8) and all(type(h) is int for h in result.hidden)


# ----------------------------------------------------------------------------- the frame


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_a_fit_on_scaled_data_is_the_scaled_fit(scale):
    """With the standard frame, fit(s x, s y) gives T_s(s x) = s T(x) and dual values times s^2."""
    pair = benchmark.gaussian(2, seed=1, condition=10, gap=5.0)
    x, y = (np.asarray(f(jax.random.key(i), 4096)) for i, f in enumerate((pair.sample_source, pair.sample_target)))
    kw = dict(steps=1500, progress=False)
    plain, scaled = enot_lite.fit(x, y, **kw), enot_lite.fit(scale * x, scale * y, **kw)
    probe = x[:1000]
    rms = np.sqrt(np.mean(np.sum((np.asarray(scaled.transport(scale * probe)) / scale - plain.transport(probe)) ** 2, 1)))
    assert rms < 0.02 * np.sqrt(pair.target_var)
    assert scaled.dual_value / scale**2 == pytest.approx(plain.dual_value, rel=0.02)
    np.testing.assert_allclose(np.asarray(scaled.g(scale * probe)) / scale**2, plain.g(probe), rtol=0.05,
                               atol=0.02 * np.abs(plain.g(probe)).max())
    assert scaled.frame.scale == pytest.approx(scale * plain.frame.scale, rel=1e-5)


def test_raw_units_with_frame_none_and_a_warning_for_a_custom_cost_far_from_unit_scale():
    @dataclasses.dataclass(frozen=True)
    class NoDegree:  # 1/2 ||x - y||^2 without declaring its degree
        def c(self, x, y):
            return 0.5 * jnp.sum((x - y) ** 2, -1)

        def grad_h_star(self, w):
            return w

    big = 1e3 * X
    with pytest.warns(UserWarning, match="scale is .* declares no `degree`"):
        result = enot_lite.fit(big, big + 1e3, cost=NoDegree(), steps=10, progress=False)
    assert result.frame.scale == 1.0 and not np.any(result.frame.shift)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = enot_lite.fit(X, X + 1, frame=None, steps=10, progress=False)
    assert raw.frame.scale == 1.0 and raw.settings["frame"] is None


def test_evaluation_uses_a_random_subset_not_the_first_rows():
    """40k rows sorted by the first coordinate: the dual value is still W2^2 / 2 = |b|^2 / 2 = 1."""
    x = _gaussian_cloud(40_000, 2, 5)
    x = x[np.argsort(x[:, 0])]
    result = enot_lite.fit(x, x + 1.0, steps=3000, progress=False)
    assert result.dual_value == pytest.approx(1.0, rel=0.05)


# ----------------------------------------------------------------------------- steps, divergence, Ctrl-C


@pytest.mark.parametrize("bidirectional", [True, False])
def test_steps_means_that_many_updates(bidirectional):
    result = enot_lite.fit(X, X + 1, steps=301, hidden=(8,), bidirectional=bidirectional, progress=False)
    assert result.history["step"][-1] == 301


def test_a_step_size_that_blows_up_raises_with_the_last_good_model():
    """learning_rate = 1 on gaussian(2) stays finite for a while, but its losses grow by orders of
    magnitude: that is a divergence, reported with the step and the last good model."""
    pair = benchmark.gaussian(2)
    with pytest.raises(enot_lite.DivergenceError, match="blew up") as err:
        enot_lite.fit(pair.sample_source, pair.sample_target, steps=300, learning_rate=1.0, progress=False)
    model = err.value.result
    assert 0 <= err.value.step < 300
    assert np.all(np.isfinite(np.asarray(model.transport(pair.sample_source(jax.random.key(0), 256)))))


def test_a_bad_but_bounded_fit_is_not_a_divergence():
    """lambda = 0 is worse, not divergent: its dual value grows from ~0 to its scale."""
    pair = benchmark.gaussian(8, seed=2, condition=10, gap=5.0)
    result = enot_lite.fit(pair.sample_source, pair.sample_target, steps=2000, lam=0.0, progress=False)
    assert np.isfinite(result.dual_value)


def test_ctrl_c_returns_the_last_finished_chunk_with_a_flag():
    def interrupt(step, result):
        if step >= 400:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted after"):
        result = enot_lite.fit(X, X + 1, steps=4000, callback=interrupt, progress=False)
    assert result.interrupted and 400 <= result.history["step"][-1] < 4000
    assert np.isfinite(result.dual_value)
    assert not enot_lite.fit(X, X + 1, steps=40, progress=False).interrupted


@pytest.mark.slow
def test_a_real_ctrl_c_stops_training_and_keeps_the_model():
    """SIGINT, as Ctrl-C sends it, to a process in the middle of `fit`."""
    import signal
    import subprocess
    import sys

    code = (
        "import numpy as np, enot_lite\n"
        "x = np.random.default_rng(0).normal(size=(512, 2)).astype(np.float32)\n"
        "r = enot_lite.fit(x, x + 1, steps=10**7, progress=False, callback=lambda s, _: print('step', s, flush=True))\n"
        "print('interrupted', r.interrupted, r.history['step'][-1], np.isfinite(r.dual_value), flush=True)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in child.stdout:
        if line.startswith("step"):
            break
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    last = out.strip().splitlines()[-1].split()
    assert last[:2] == ["interrupted", "True"] and 0 < int(last[2]) < 10**7 and last[3] == "True"
    assert "interrupted after" in err


@pytest.mark.slow
def test_more_steps_never_make_the_default_fit_worse():
    pair = benchmark.gaussian(2, seed=7, condition=10, gap=5.0, scale=1e3)
    uvp = [_l2_uvp(enot_lite.fit(pair.sample_source, pair.sample_target, steps=s, progress=False), pair)
           for s in (1000, 4000, 12000, 36000)]  # the last beyond solver.LONG_BUDGET: a smaller step size
    assert all(later <= 1.25 * earlier for earlier, later in zip(uvp, uvp[1:])), uvp
