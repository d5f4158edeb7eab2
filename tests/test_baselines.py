"""The conjugate-problem baselines (enot_lite.baselines): their formulas, the inner solve, training."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import enot_lite
from enot_lite import baselines, benchmark, costs, discrete, potentials, train

HIDDEN = (16, 16)


def _networks(dim=2):
    return potentials.init(HIDDEN, jax.random.key(0), dim), potentials.init(HIDDEN, jax.random.key(1), dim)


def _fns(cost=costs.SqEuclidean()):
    fns = train.functions(cost, HIDDEN)
    return fns["c"], fns["T"], fns["g"]


def test_the_exact_semi_dual_is_a_brute_force_minimum_over_the_batch():
    c, _, f = _fns()
    theta, _ = _networks()
    x, y = jax.random.normal(jax.random.key(2), (12, 2)), 1 + jax.random.normal(jax.random.key(3), (9, 2))
    f_x = np.asarray(f(theta, x), np.float64)
    C = discrete.cost_matrix(np.asarray(x), np.asarray(y))
    brute = np.mean(f_x) + np.mean([min(C[i, j] - f_x[i] for i in range(12)) for j in range(9)])
    assert float(baselines.exact_semi_dual(c, f, theta, x, y)) == pytest.approx(brute, rel=1e-5)
    # ... which is the discrete c-bar-transform of notebook 02
    assert brute == pytest.approx(discrete.dual_objective(f_x, discrete.c_bar_transform(f_x, C)), rel=1e-9)


def test_lbfgs_fine_tuning_lowers_the_conjugate_objective_to_its_minimum():
    """From a poor start, L-BFGS lowers mean c(x, y) - g(y) at every iteration count; for
    g(y) = -s/2 |y|^2 the minimiser is closed form: argmin_y 1/2 |x - y|^2 + s/2 |y|^2 = x / (1 + s)."""
    c, _, _ = _fns()
    s = 0.5
    g = lambda phi, y: -0.5 * phi * jnp.sum(y * y, -1)
    x = jax.random.normal(jax.random.key(4), (64, 3))
    y0 = jnp.zeros_like(x) + 2.0
    objective = lambda y: float(jnp.mean(c(x, y) - g(s, y)))
    tuned = [baselines.fine_tune(c, g, s, x, y0, k) for k in (1, 3, 10)]
    values = [objective(y0)] + [objective(y) for y in tuned]
    assert all(a >= b - 1e-7 for a, b in zip(values, values[1:])) and values[-1] < values[0]
    np.testing.assert_allclose(tuned[-1], x / (1 + s), atol=1e-4)


def test_lbfgs_fine_tuning_of_a_network_potential_improves_on_the_amortised_map():
    c, T, g = _fns()
    theta, phi = _networks()
    x = jax.random.normal(jax.random.key(5), (128, 2))
    t = T(theta, x)
    y_hat = baselines.fine_tune(c, g, phi, x, t, 10)
    before, after = (jnp.mean(c(x, y) - g(phi, y)) for y in (t, y_hat))
    assert float(after) < float(before)


@pytest.mark.parametrize("method", ["w2ot", "minimax"])
def test_updates_are_finite_and_move_both_networks(method):
    config, hyper = train.configure(2, hidden=HIDDEN, batch_size=32, steps=10, tau=1.0, lam=0.0, learning_rate=1e-2)
    state = train.init_state(config, jax.random.key(0))
    x, y = jax.random.normal(jax.random.key(6), (32, 2)), 2 + jax.random.normal(jax.random.key(7), (32, 2))
    params, _, metrics = baselines.update(method, 2, config, hyper, state.params, state.opt_state, x, y)
    assert np.all(np.isfinite(np.asarray(metrics)))
    for new, old in zip(params, state.params):
        assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(old)))


def test_w2ot_without_inner_steps_is_enot_without_the_regulariser():
    """Zero L-BFGS iterations leave the amortised prediction: the step is ENOT's with lambda = 0."""
    config, hyper = train.configure(2, hidden=HIDDEN, batch_size=32, steps=10, tau=0.9, lam=0.0, learning_rate=1e-2,
                                    share_backward=False)
    state = train.init_state(config, jax.random.key(0))
    x, y = jax.random.normal(jax.random.key(8), (32, 2)), 2 + jax.random.normal(jax.random.key(9), (32, 2))
    ours = baselines.update("w2ot", 0, config, hyper, state.params, state.opt_state, x, y)
    enot = train.update(config, hyper, state.params, state.opt_state, x, y)
    for a, b in zip(jax.tree.leaves(ours[0]), jax.tree.leaves(enot[0])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[2][2], enot[2][2], rtol=1e-5)  # the dual value


def test_a_seed_gives_enots_initial_networks_and_training_is_reproducible():
    x = np.asarray(jax.random.normal(jax.random.key(10), (256, 2)))
    y = x + np.array([1.0, -0.5], np.float32)
    a, b = (baselines.fit(x, y, "exact", steps=20, batch_size=64, hidden=HIDDEN, seed=3) for _ in range(2))
    for u, v in zip(jax.tree.leaves(a.params_f), jax.tree.leaves(b.params_f)):
        np.testing.assert_array_equal(u, v)
    assert a.history["step"][-1] == 20 and a.seconds_per_update > 0


def test_bad_arguments_are_refused():
    x = np.zeros((8, 2), np.float32)
    with pytest.raises(ValueError, match="method must be one of"):
        baselines.fit(x, x, "sinkhorn")
    with pytest.raises(ValueError, match="inner_steps must be in"):
        baselines.fit(x, x, "minimax", inner_steps=0)
    for bad, why in [(dict(steps=0), "steps must be in"), (dict(steps=-5), "steps must be in"),
                     (dict(batch_size=0), "batch_size must be in"), (dict(learning_rate=-1e-3), "learning_rate must be in"),
                     (dict(max_seconds=0), "max_seconds must be in")]:
        with pytest.raises(ValueError, match=why):
            baselines.fit(x, x, "exact", **bad)
    with pytest.raises(TypeError, match="steps must be an integer"):
        baselines.fit(x, x, "exact", steps=10.5)


@pytest.mark.slow
@pytest.mark.parametrize("method", baselines.METHODS)
def test_each_baseline_learns_the_2d_benchmark_map(method):
    """Mix3toMix10 in 2-D: every method gets well below the linear baseline (14 % L2-UVP)."""
    pair = benchmark.mix3tomix10(2)
    result = baselines.fit(pair.sample_source, pair.sample_target, method, steps=800, reference_map=pair.optimal_map)
    assert result.diverged_at is None
    assert benchmark.l2_uvp(result.transport, pair) < 3.0
    assert result.history["l2_uvp"][-1] < result.history["l2_uvp"][0]


@pytest.mark.slow
def test_the_amortisation_gap_of_a_trained_enot_model_is_small_and_non_negative():
    source, target = enot_lite.datasets.PAIRS["gaussian -> 8 gaussians"]
    result = enot_lite.fit(source, target, steps=1500, progress=False)
    x = np.asarray(source(jax.random.key(1), 512))
    gap = baselines.amortisation_gap(result, x)
    scale = float(np.mean(discrete.cost_matrix(x[:64], np.asarray(target(jax.random.key(2), 64)))))
    assert gap.min() > -1e-3 * scale and np.median(gap) < 0.05 * scale


@pytest.mark.slow
def test_bench_compare_w2ot_prints_enot_and_the_baselines_side_by_side(tmp_path, capsys):
    from enot_lite import bench

    rows = bench.main(["--dims", "2", "--steps", "400", "--compare", "w2ot", "--out", str(tmp_path)])
    assert [r.solver for r in rows] == ["enot_lite", "w2ot", "exact", "minimax"]
    assert all(r.steps == 400 and r.steps_per_s > 0 and np.isfinite(r.l2_uvp) for r in rows)
    out = capsys.readouterr().out
    assert "ms/update" in out and "x ENOT" in out and out.count("minimax") >= 2


@pytest.mark.parametrize("argv, why", [(["--compare", "ott"], "invalid choice"),
                                       (["--suite", "robust", "--compare", "w2ot"], "--compare runs beside")])
def test_bench_compare_refuses_bad_arguments_in_one_line(argv, why, monkeypatch, capsys):
    from enot_lite import bench

    monkeypatch.setattr(bench, "matmul_peak", lambda: pytest.fail("the peak probe ran"))
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and why in err and err.count("\n") == 1, err
