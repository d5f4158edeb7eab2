"""`enot_lite.sweep`: a grid of tau, lambda and seeds in one program, each cell the separate `fit`.

The tests share one grid size (four cells), small networks and one step count, so most of them
reuse one compiled program.
"""
import json
import os
import subprocess
import sys
import warnings

import jax
import numpy as np
import pytest

import enot_lite
from enot_lite import checks, grid, train

X = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
Y = (X @ np.array([[1.5, 0.3], [0.0, 0.6]]) + [2.0, -1.0]).astype(np.float32)
SHIFT = lambda z: z @ np.array([[1.5, 0.3], [0.0, 0.6]], np.float32) + np.array([2.0, -1.0], np.float32)  # noqa: E731
KW = dict(steps=60, hidden=(8, 8), progress=False)
TOL = dict(rtol=1e-5, atol=1e-5)  # batched products round differently; docs/benchmarks.md, section 6


def _leaves(result):
    return jax.tree.leaves((result.params_f, result.params_g))


@pytest.fixture(scope="module")
def four():
    """tau (0.9, 1) x lam (0.5) x seeds (0, 1), with a reference map."""
    return enot_lite.sweep(X, Y, tau=[0.9, 1.0], lam=0.5, seeds=[0, 1], reference_map=SHIFT, **KW)


def test_the_grid_has_a_cell_per_setting_and_a_table(four):
    assert four.shape == (2, 1, 2) and len(four) == 4 and four.tau == (0.9, 1.0) and four.seeds == (0, 1)
    rows = four.table()
    assert [(r["tau"], r["lam"], r["seed"]) for r in rows] == [(0.9, 0.5, 0), (0.9, 0.5, 1), (1.0, 0.5, 0), (1.0, 0.5, 1)]
    assert all(r["steps"] == 60 and r["diverged_at"] == -1 for r in rows)
    assert four.dual_value.shape == four.l2_uvp.shape == (2, 1, 2) and np.all(np.isfinite(four.l2_uvp))
    cell = four.cell(tau=1.0, lam=0.5, seed=1)
    assert cell is four[1, 0, 1] and isinstance(cell, enot_lite.ENOTResult)
    assert cell.settings["tau"] == 1.0 and cell.settings["lam"] == 0.5 and cell.settings["seed"] == 1
    assert cell.transport(X).shape == X.shape and cell.inverse_transport(Y).shape == Y.shape
    assert cell.history["dual_value"][-1] == pytest.approx(four.table()[3]["dual_value"], rel=0.2)
    assert "4 cells (2 x 1 x 2 tau x lam x seeds)" in str(four) and "60 steps" in str(four)
    with pytest.raises(KeyError, match="no cell tau=0.5"):
        four.cell(tau=0.5, lam=0.5)


def test_each_cell_is_the_separate_fit(four):
    """Same keys, frame, limit and chunks by construction; vmap may round differently."""
    for tau, lam, seed, cell in four.cells():
        alone = enot_lite.fit(X, Y, tau=tau, lam=lam, seed=seed, reference_map=SHIFT, **KW)
        np.testing.assert_array_equal(cell.frame.shift, alone.frame.shift)
        assert cell.frame.scale == alone.frame.scale
        assert cell.settings == alone.settings
        for a, b in zip(_leaves(cell), _leaves(alone), strict=True):
            np.testing.assert_allclose(a, b, **TOL)
        np.testing.assert_allclose(cell.transport(X), alone.transport(X), **TOL)
        np.testing.assert_array_equal(cell.history["step"], alone.history["step"])
        for key in ("dual_value", "loss_f", "loss_g", "l2_uvp"):
            np.testing.assert_allclose(cell.history[key], alone.history[key], rtol=1e-4, atol=1e-6)
        assert cell.dual_value == pytest.approx(alone.dual_value, rel=1e-5)


def test_with_a_moving_average_each_cell_is_the_fit_with_it_and_trains_the_same():
    """`ema` reaches the grid as any fit setting: the cells hold the averaged networks, as `fit`
    does, and the training (its history) is the one without the average."""
    averaged = enot_lite.sweep(X, Y, tau=[0.9, 1.0], lam=0.5, seeds=0, ema=0.9, **KW)
    for tau, lam, seed, cell in averaged.cells():
        alone = enot_lite.fit(X, Y, tau=tau, lam=lam, seed=seed, ema=0.9, **KW)
        plain = enot_lite.fit(X, Y, tau=tau, lam=lam, seed=seed, **KW)
        assert cell.settings == alone.settings and alone.settings["ema"] == 0.9 and plain.settings["ema"] == 0.0
        for a, b in zip(_leaves(cell), _leaves(alone), strict=True):
            np.testing.assert_allclose(a, b, **TOL)
        np.testing.assert_allclose(alone.history["loss_f"], plain.history["loss_f"], rtol=1e-6)
        assert not np.allclose(alone.transport(X), plain.transport(X), rtol=1e-4, atol=1e-4)


def test_lambda_zero_cells_share_one_training_and_are_each_the_fit():
    """At lam = 0 tau does not enter the loss: the two lam = 0 cells are one training, each with
    its own settings, and equal to the separate fit of its tau."""
    grid_ = enot_lite.sweep(X, Y, tau=[0.9, 1.0], lam=[0.0, 0.5], seeds=0, reference_map=SHIFT, **KW)
    assert len(grid_) == 4 and grid_.trained == 3 and "3 trainings (the lam = 0 cells of each seed are one)" in str(grid_)
    for a, b in zip(_leaves(grid_.cell(0.9, 0.0)), _leaves(grid_.cell(1.0, 0.0)), strict=True):
        np.testing.assert_array_equal(a, b)
    for tau, lam, seed, cell in grid_.cells():
        alone = enot_lite.fit(X, Y, tau=tau, lam=lam, seed=seed, reference_map=SHIFT, **KW)
        assert cell.settings == alone.settings
        for a, b in zip(_leaves(cell), _leaves(alone), strict=True):
            np.testing.assert_allclose(a, b, **TOL)
        np.testing.assert_allclose(cell.history["l2_uvp"], alone.history["l2_uvp"], rtol=1e-4, atol=1e-6)


def test_a_second_grid_of_other_values_does_not_compile(four):
    """tau, lambda, the seeds' frames and limits are traced: a grid of the same shape with other
    values reuses every compiled program."""
    before = train.compilations()
    other = enot_lite.sweep(X, Y, tau=[0.95, 0.8], lam=1.5, seeds=[3, 4], reference_map=SHIFT, **KW)
    assert train.compilations() == before
    assert other.cell(tau=0.8, lam=1.5, seed=4).settings["tau"] == 0.8 and np.all(np.isfinite(other.l2_uvp))


def test_a_diverging_cell_is_reported_by_its_settings_and_spoils_nothing(four):
    """lam = 1e10 blows the loss up at the first step; the cell beside it trains as if alone."""
    with pytest.warns(UserWarning, match=r"2 of 4 cells diverged .* tau=0.9, lam=1e\+10, seed=0 at step 0; tau=1, lam"):
        mixed = enot_lite.sweep(X, Y, tau=[0.9, 1.0], lam=[0.5, 1e10], seeds=0, reference_map=SHIFT, **KW)
    assert set(mixed.diverged) == {(0.9, 1e10, 0), (1.0, 1e10, 0)}
    error = mixed.diverged[1.0, 1e10, 0]
    assert isinstance(error, enot_lite.DivergenceError) and error.step == 0
    assert "grid cell" in str(error) and "lam=1e+10, seed=0" in str(error) and "blew up" in str(error)
    assert mixed.table()[3]["diverged_at"] == 0 and np.isnan(mixed.dual_value[1, 1, 0]) and "diverged at step 0" in str(mixed)
    assert np.all(np.isfinite(np.asarray(mixed[1, 1].transport(X))))  # the last good model (here the first)
    for i in (0, 1):  # the healthy cells: the same as in a grid without the bad ones
        for a, b in zip(_leaves(mixed[i, 0]), _leaves(four[i, 0, 0]), strict=True):
            np.testing.assert_allclose(a, b, **TOL)
    with pytest.raises(enot_lite.DivergenceError, match="diverged at step 0"):
        enot_lite.fit(X, Y, tau=1.0, lam=1e10, **KW)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(tau=[0.9, 1.5]), ValueError, r"tau must be in \(0.0, 1.0\], got 1.5"),
    (dict(lam=[]), ValueError, "lam must have at least one value"),
    (dict(seeds=[0, 0]), ValueError, "seeds has repeated values"),
    (dict(tau=[1, 1.0]), ValueError, "tau has repeated values"),
    (dict(seeds=[0, 2**32]), ValueError, "seed must be in"),
    (dict(tau="high"), TypeError, "tau must be a number or a sequence"),
    (dict(seed=3), TypeError, r"unexpected keyword argument\(s\) seed \(sweep takes seeds"),
    (dict(stesp=3), TypeError, "stesp"),
    (dict(steps=0), ValueError, "steps must be in"),
    (dict(target=X[:, :1]), ValueError, "same dimension"),
])
def test_bad_input_is_refused_before_compiling(kwargs, error, match):
    args = dict(source=X, target=Y) | kwargs
    before = train.compilations()
    with pytest.raises(error, match=match):
        enot_lite.sweep(args.pop("source"), args.pop("target"), progress=False, **args)
    assert train.compilations() == before


def test_a_grid_too_large_for_memory_is_refused_before_compiling(monkeypatch):
    one = checks.memory_estimate(2, (8, 8), 256)
    monkeypatch.setattr(checks, "available_memory", lambda: 5 * one)  # one model fits, nine do not
    before = train.compilations()
    with pytest.raises(ValueError, match=r"a grid of 9 cells .* needs about .* GiB \(9 models at once"):
        enot_lite.sweep(X, Y, tau=[0.9, 0.99, 1.0], lam=[0.3, 1.0, 2.0], **KW)
    assert train.compilations() == before
    assert grid.fits_in_memory(2, (8, 8), 256, 4) == 4 * one


def test_the_callback_sees_the_grid_and_can_stop(four):
    seen = []
    stopped = enot_lite.sweep(X, Y, tau=[0.9, 1.0], lam=0.5, seeds=[0, 1],
                              callback=lambda step, g: seen.append((step, len(g))) or len(seen) == 2, **KW)
    assert [n for _, n in seen] == [4, 4] and seen[0][0] < seen[1][0] < 60
    assert stopped[0, 0, 0].history["step"][-1] == seen[1][0]


@pytest.mark.slow
def test_two_devices_give_the_one_device_grid_with_padding(tmp_path, four):
    """XLA_FLAGS=--xla_force_host_platform_device_count=2: the grid is sharded over two CPU
    devices; three cells are padded to four and the padding is dropped."""
    code = (
        "import json, sys, numpy as np, jax, enot_lite\n"
        "sys.path.insert(0, sys.argv[1]); from test_sweep import X, Y, SHIFT, KW\n"
        "g = enot_lite.sweep(X, Y, tau=[0.9, 1.0], lam=0.5, seeds=[0, 1], reference_map=SHIFT, **KW)\n"
        "h = enot_lite.sweep(X, Y, tau=[0.9, 1.0, 0.95], lam=0.5, seeds=0, **KW)\n"
        "np.savez(sys.argv[2], *[np.asarray(leaf) for r in g.results for leaf in jax.tree.leaves((r.params_f, r.params_g))])\n"
        "print(json.dumps(dict(devices=[g.devices, h.devices, len(jax.devices())], padded=[g.padded, h.padded], "
        "cells=len(h), tau=h.tau)))\n"
    )
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__), str(tmp_path / "p.npz")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["devices"] == [2, 2, 2] and report["padded"] == [0, 1] and report["cells"] == 3
    assert report["tau"] == [0.9, 1.0, 0.95]
    with np.load(tmp_path / "p.npz") as saved:
        two = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    one = [np.asarray(leaf) for r in four.results for leaf in _leaves(r)]
    assert len(one) == len(two)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, **TOL)


def test_a_heat_map_of_the_grid(four):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        four.plot(ax)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 2 and all(float(t) > 0 for t in texts)  # one per (tau, lam), the mean over seeds
    assert "mean of 2 seeds" in fig.axes[-1].get_ylabel()
    plt.close(fig)
