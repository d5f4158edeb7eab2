"""The command-line benchmark: a short quick-preset run, its CSV and its figure; argument errors."""
import csv

import pytest

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
    # 4 x 128 ELU at batch 1024: 39 matmuls of 1024 x 128 x 128 or less per update, about 1.25 GFLOP
    settings = bench.PRESETS["ott"](2)
    assert 1.2e9 < bench.flops_per_step(2, settings) < 1.5e9


def test_steady_rate_ignores_the_first_chunk():
    assert bench.steady_rate([100, 200, 300], [5.0, 6.0, 7.0]) == pytest.approx(100.0)


@pytest.mark.parametrize("argv, why", [
    (["--preset", "nope"], "invalid choice"),
    (["--steps", "0"], "--steps must be in"),
    (["--seed", "-1"], "--seed must be in"),
    (["--seed", str(2**32)], "--seed must be in"),
    (["--dims", "3"], "mix3tomix10 pairs have dimensions 2, 4, 8"),
    (["--pair", "gaussian", "--dims", "0"], "--dims 0"),
    (["--presample", "100"], "smaller than a batch"),
    (["--out", "/proc/no/such/folder"], "not a writable folder"),
    (["--sweep", "tau=0.9,1.5"], r"--sweep tau=0.9,1.5: tau must be in (0.0, 1.0]"),
    (["--sweep", "lam=-1"], "lam must be in"),
    (["--sweep", "tau=x"], "could not convert"),
    (["--sweep", "gamma=1"], "expected tau=V1,V2,..., lam=... or seeds=..."),
    (["--sweep", "tau"], "expected tau=V1,V2"),
    (["--sweep", "seeds=0,0"], "repeated values"),
    (["--sweep", "seeds=1.5"], "--sweep seeds=1.5"),
    (["--sweep", "tau=0.9", "tau=1"], "names tau twice"),
    (["--sweep", "tau=0.9", "--suite", "robust"], "choose one"),
    (["--sweep", "seeds=" + ",".join(map(str, range(10**5))), "--dims", "64"], "a grid of 100000 cells"),
])
def test_a_bad_argument_is_one_line_and_exit_status_2_before_anything_runs(argv, why, monkeypatch, capsys):
    monkeypatch.setattr(bench, "matmul_peak", lambda: pytest.fail("the peak probe ran"))
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and why in err
    assert err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.slow
def test_a_robustness_pair_meets_its_target(tmp_path):
    from enot_lite import benchmark, robust

    pair = benchmark.gaussian(8, 3, condition=10, scale=1e-3, gap=5.0)
    row = robust.run_one(pair, dict(condition=10, scale=1e-3, gap=5.0), seed=3)
    assert row.target == 0.5 and row.l2_uvp <= row.target and row.steps == 5000
    robust.write_csv([row], tmp_path / "robust.csv")
    assert "gaussian_8_3_cond10_scale0.001_gap5" in (tmp_path / "robust.csv").read_text()


def test_a_sweep_prints_the_grid_and_writes_its_csv_and_heat_map(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "matmul_peak", lambda: 100.0)
    grids = bench.main(["--sweep", "tau=0.9,1", "lam=0.5,1", "--dims", "2", "--steps", "60", "--out", str(tmp_path)])
    (result,) = grids.values()
    assert result.shape == (2, 2, 1) and not result.diverged
    with open(tmp_path / "sweep.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["dim"], r["tau"], r["lam"], r["seed"]) for r in rows] == [
        ("2", "0.9", "0.5", "0"), ("2", "0.9", "1.0", "0"), ("2", "1.0", "0.5", "0"), ("2", "1.0", "1.0", "0")]
    assert all(0 < float(r["l2_uvp"]) < 100 for r in rows)
    assert (tmp_path / "sweep_D2.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "4 cells (2 x 2 x 1 tau x lam x seeds)" in out and "steps/s per cell" in out and "GFLOP/s" in out


def test_a_diverging_pair_is_a_row_and_the_other_dimensions_still_run(tmp_path, capsys, monkeypatch):
    quick = bench.PRESETS["quick"]
    monkeypatch.setitem(bench.PRESETS, "quick", lambda d: quick(d) | ({"learning_rate": 1.0} if d == 2 else {}))
    rows = bench.main(["--dims", "2", "4", "--preset", "quick", "--steps", "300", "--out", str(tmp_path)])
    assert [r.dim for r in rows] == [2, 4]
    assert rows[0].diverged_at >= 0 and rows[0].l2_uvp == float("inf")
    assert rows[1].diverged_at == -1 and rows[1].l2_uvp < rows[1].linear_l2_uvp
    assert f"diverged at step {rows[0].diverged_at} (DivergenceError)" in capsys.readouterr().out
    with open(tmp_path / "results.csv") as fh:
        assert [line["diverged_at"] for line in csv.DictReader(fh)] == [str(rows[0].diverged_at), "-1"]
