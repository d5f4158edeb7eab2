"""The side-by-side harness with OTT-JAX (benchmarks/compare_ott.py): the same update, the same
training given the same random numbers.  All but the last test need the compare extra."""
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import enot_lite
from enot_lite import bench, costs, loss, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import compare_ott  # noqa: E402


@pytest.mark.slow
def test_side_by_side_with_ott_on_presampled_arrays(tmp_path):
    pytest.importorskip("ott", reason="OTT-JAX is the optional 'compare' extra")
    rows = compare_ott.main(["--dims", "2", "--preset", "ott", "--compare", "ott", "--steps", "200", "--presample", "4096",
                       "--out", str(tmp_path)])
    assert [r.solver for r in rows] == ["enot_lite", "ott"]
    assert all(r.steps == 200 and r.steps_per_s > 0 and r.l2_uvp < r.linear_l2_uvp for r in rows)


def test_one_update_is_otts_update():
    """Given the same parameters and batch, enot_lite's loss has OTT's gradients, so the two
    solvers differ only in how fast they run and in their random initialisation and batches."""
    pytest.importorskip("ott", reason="OTT-JAX is the optional 'compare' extra")
    settings = bench.PRESETS["ott"](3) | {"hidden": (32, 32)}
    model = compare_ott.ott_solver(3, settings)
    state_f, state_g = model.state_f, model.state_g
    x, y = jax.random.normal(jax.random.key(1), (256, 3)), 1 + 2 * jax.random.normal(jax.random.key(2), (256, 3))
    _, (grad_f, grad_g) = jax.value_and_grad(model._loss_fn, argnums=(0, 1), has_aux=True)(
        state_f.params, state_g.params, state_f.potential_gradient_fn, state_g.potential_value_fn, {"source": x, "target": y}
    )
    ours = lambda params: {"params": params["model"]}  # OTT wraps the same flax MLP in a "model" scope
    fns = train.functions(costs.SqEuclidean(), settings["hidden"], share_backward=True)  # as train.update
    _, (our_f, our_g) = jax.value_and_grad(loss.enot_loss, argnums=(0, 1), has_aux=True)(
        ours(state_f.params), ours(state_g.params), x, y, settings["tau"], settings["lam"], **fns
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

    params_f, params_g, from_source, from_target = compare_ott.fit_draws(dim, settings, seed, (source, target))
    model = compare_ott.ott_solver(dim, settings, seed, init=(params_f, params_g))
    model(iter(from_source), iter(from_target), iter(from_source), iter(from_target))
    for theirs, mine in ((model.state_f.params, result.params_f), (model.state_g.params, result.params_g)):
        for a, b in zip(jax.tree.leaves(theirs["model"]), jax.tree.leaves(mine["params"]), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


def test_fit_draws_replayed_step_by_step_give_fits_parameters():
    """`compare_ott.fit_draws` returns exactly `fit`'s random numbers: one `train.update` per batch
    in a plain Python loop (forward on even steps, inverse on odd ones, as OTT alternates) lands
    on `fit`'s parameters.  Runs without the compare extra."""
    dim, steps, seed = 2, 30, 3
    settings = bench.PRESETS["ott"](dim) | {"hidden": (16, 16), "batch_size": 64, "steps": steps}
    source = np.asarray(jax.random.normal(jax.random.key(3), (2048, dim)))
    target = np.asarray(2 + jax.random.normal(jax.random.key(4), (2048, dim)))
    result = enot_lite.fit(source, target, seed=seed, progress=False, **settings)

    pf, pg, from_source, from_target = compare_ott.fit_draws(dim, settings, seed, (source, target))
    config, hyper = bench.configure(dim, settings)
    tx = train.optimizer(config, hyper)
    params, opt_state = (pf, pg), (tx.init(pf), tx.init(pg))
    update = jax.jit(lambda *args: train.update(config, hyper, *args))
    for step, (x, y) in enumerate(zip(from_source, from_target)):
        if step % 2 == 0:
            params, opt_state, _ = update(params, opt_state, x, y)
        else:  # the inverse problem: g maps target to source
            swapped, opt_swapped, _ = update(params[::-1], opt_state[::-1], y, x)
            params, opt_state = swapped[::-1], opt_swapped[::-1]
    assert len(from_source) == steps
    for mine, replayed in ((result.params_f, params[0]), (result.params_g, params[1])):
        for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(replayed), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
