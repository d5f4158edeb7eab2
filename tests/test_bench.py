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


def test_bad_arguments_exit_with_a_message():
    with pytest.raises(SystemExit):
        bench.main(["--preset", "nope"])
    with pytest.raises(SystemExit):
        bench.main(["--steps", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--seed", "-1"])
