"""The command-line benchmark: a short quick-preset run, its CSV and its figure; the same update as OTT."""
import csv

import jax
import numpy as np

import pytest

import enot_lite
from enot_lite import bench


@pytest.mark.slow
def test_quick_preset_on_d2_beats_the_linear_baseline_and_writes_csv_and_png(tmp_path, capsys):
    rows = bench.main(["--dims", "2", "--preset", "quick", "--steps", "2000", "--seed", "3", "--out", str(tmp_path)])
    (row,) = rows
    assert row.solver == "enot_lite" and row.dim == 2 and row.steps == 2000
    assert row.l2_uvp < row.linear_l2_uvp / 10  # linear baseline ~14 %, ENOT well under 1.4 %
    assert row.cosine > 0.95
    assert row.steps_per_s > 0 and row.gflops > 0
    with open(tmp_path / "results.csv") as fh:
        (saved,) = list(csv.DictReader(fh))
    assert float(saved["l2_uvp"]) == pytest.approx(row.l2_uvp) and saved["seed"] == "3" == str(row.seed)
    assert (tmp_path / "l2_uvp.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "L2-UVP%" in out and "GFLOP/s" in out and "matmul peak" in out


def test_flops_per_step_matches_the_network_size():
    # 4 x 128 ELU at batch 1024: ~1.25 GFLOP per update (OTT's step: 1.35; enot_lite runs one
    # backward pass of g at T where autodiff runs two)
    settings = bench.PRESETS["ott"](2)
    assert 1.2e9 < bench.flops_per_step(2, settings) < 1.5e9


def test_steady_rate_ignores_the_first_chunk():
    assert bench.steady_rate([100, 200, 300], [5.0, 6.0, 7.0]) == pytest.approx(100.0)


def test_bad_arguments_exit_with_a_message():
    with pytest.raises(SystemExit):
        bench.main(["--preset", "nope"])
    with pytest.raises(SystemExit):
        bench.main(["--steps", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--seed", "-1"])


@pytest.mark.slow
def test_side_by_side_with_ott_on_presampled_arrays(tmp_path):
    pytest.importorskip("ott", reason="OTT-JAX is the optional 'compare' extra")
    rows = bench.main(["--dims", "2", "--preset", "ott", "--compare", "ott", "--steps", "200", "--presample", "4096",
                       "--out", str(tmp_path)])
    assert [r.solver for r in rows] == ["enot_lite", "ott"]
    assert all(r.steps == 200 and r.steps_per_s > 0 and r.l2_uvp < r.linear_l2_uvp for r in rows)


def test_one_update_is_otts_update():
    """Given the same parameters and batch, enot_lite's loss has OTT's gradients, so the two
    solvers differ only in how fast they run and in their random initialisation and batches."""
    pytest.importorskip("ott", reason="OTT-JAX is the optional 'compare' extra")
    from enot_lite import costs, solver

    settings = bench.PRESETS["ott"](3) | {"hidden": (32, 32)}
    model = bench.ott_solver(3, settings)
    state_f, state_g = model.state_f, model.state_g
    x, y = jax.random.normal(jax.random.key(1), (256, 3)), 1 + 2 * jax.random.normal(jax.random.key(2), (256, 3))
    _, (grad_f, grad_g) = jax.value_and_grad(model._loss_fn, argnums=(0, 1), has_aux=True)(
        state_f.params, state_g.params, state_f.potential_gradient_fn, state_g.potential_value_fn, {"source": x, "target": y}
    )
    ours = lambda params: {"params": params["model"]}  # OTT wraps the same flax MLP in a "model" scope
    _, (our_f, our_g) = jax.value_and_grad(solver.enot_loss, argnums=(0, 1), has_aux=True)(
        ours(state_f.params), ours(state_g.params), x, y, settings["tau"], settings["lam"],
        cost=costs.SqEuclidean(), hidden=settings["hidden"],
    )
    for theirs, mine in ((grad_f, our_f), (grad_g, our_g)):
        for a, b in zip(jax.tree.leaves(ours(theirs)), jax.tree.leaves(mine), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_fit_is_otts_training_given_the_same_draws():
    """The whole loop, not just one update: OTT's ExpectileNeuralDual, started from `fit`'s
    initialisation and fed `fit`'s own batches in `fit`'s order, ends at `fit`'s parameters.
    (At 3000 steps on Mix3toMix10, D = 8, the two maps' L2-UVP agree to 0.001 points,
    docs/benchmarks.md section 3.)"""
    pytest.importorskip("ott", reason="OTT-JAX is the optional 'compare' extra")
    dim, steps, seed = 3, 40, 5
    settings = bench.PRESETS["ott"](dim) | {"hidden": (32, 32), "batch_size": 128, "steps": steps}
    source = np.asarray(jax.random.normal(jax.random.key(1), (4096, dim)))
    target = np.asarray(1 + 2 * jax.random.normal(jax.random.key(2), (4096, dim)))
    result = enot_lite.fit(source, target, seed=seed, progress=False, **settings)

    params_f, params_g, from_source, from_target = bench.fit_draws(dim, settings, seed, (source, target))
    model = bench.ott_solver(dim, settings, seed, init=(params_f, params_g))
    model(iter(from_source), iter(from_target), iter(from_source), iter(from_target))
    for theirs, mine in ((model.state_f.params, result.params_f), (model.state_g.params, result.params_g)):
        for a, b in zip(jax.tree.leaves(theirs["model"]), jax.tree.leaves(mine["params"]), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


def test_fit_draws_replayed_step_by_step_give_fits_parameters():
    """`bench.fit_draws` returns exactly `fit`'s random numbers: one `solver.update` per batch in a
    plain Python loop (forward on even steps, inverse on odd ones, as OTT alternates) lands on
    `fit`'s parameters.  Runs without the compare extra."""
    from enot_lite import costs, solver

    dim, steps, seed = 2, 30, 3
    settings = bench.PRESETS["ott"](dim) | {"hidden": (16, 16), "batch_size": 64, "steps": steps}
    source = np.asarray(jax.random.normal(jax.random.key(3), (2048, dim)))
    target = np.asarray(2 + jax.random.normal(jax.random.key(4), (2048, dim)))
    result = enot_lite.fit(source, target, seed=seed, progress=False, **settings)

    pf, pg, from_source, from_target = bench.fit_draws(dim, settings, seed, (source, target))
    config = solver.Config(dim=dim, hidden=(16, 16), batch_size=64, chunk=1, bidirectional=True, cost=costs.SqEuclidean(),
                           sample_source=None, sample_target=None, b1=0.9, b2=0.9, final_lr_fraction=1.0)
    hyper = solver.Hyper(*(np.float32(v) for v in (settings["tau"], settings["lam"], settings["learning_rate"])), np.int32(steps))
    tx = solver.optimizer(config, hyper)
    of, og = tx.init(pf), tx.init(pg)
    update = jax.jit(lambda *args: solver.update(config, hyper, *args))
    for step, (x, y) in enumerate(zip(from_source, from_target)):
        if step % 2 == 0:
            pf, pg, of, og, _ = update(pf, pg, of, og, x, y)
        else:  # the inverse problem: g maps target to source
            pg, pf, og, of, _ = update(pg, pf, og, of, y, x)
    assert len(from_source) == steps
    for mine, replayed in ((result.params_f, pf), (result.params_g, pg)):
        for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(replayed), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
