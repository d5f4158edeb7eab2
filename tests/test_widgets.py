"""The live widgets, driven from Python as the browser would: set a control's value."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from enot_lite import discrete, train, widgets  # noqa: E402


@pytest.fixture(scope="module")
def explorer():
    return widgets.explorer(steps=1000)


def test_explorer_has_tau_and_lambda_sliders_and_a_figure(explorer):
    descriptions = [c.description for c in explorer.controls]
    assert "tau" in descriptions and "lambda" in descriptions and "pair" in descriptions and "cost" in descriptions
    assert all(c.continuous_update is False for c in (explorer.tau, explorer.lam))
    assert explorer.figure is not None and explorer.result is not None
    assert not explorer.output.outputs


def test_moving_tau_and_lambda_retrains_without_compiling(explorer):
    before = np.array(explorer.scatter_t.get_offsets())
    compiled = train.compilations()
    for tau, lam in [(0.9, 1.0), (0.95, 0.5), (0.99, 1.5)]:
        explorer.tau.value = tau
        explorer.lam.value = lam
        assert not explorer.output.outputs, explorer.output.outputs
        assert explorer.result.settings["tau"] == tau and explorer.result.settings["lam"] == lam
    after = np.array(explorer.scatter_t.get_offsets())
    assert train.compilations() == compiled
    assert not np.allclose(before, after)


def test_explorer_dual_value_is_close_to_the_exact_discrete_cost(explorer):
    explorer.tau.value, explorer.lam.value = 0.99, 1.0
    assert explorer.result.dual_value == pytest.approx(explorer.exact, rel=0.15)


def test_errors_are_shown_in_the_output_area(explorer, monkeypatch):
    def broken(*args, **kwargs):
        raise FloatingPointError("boom")

    monkeypatch.setattr(widgets.enot_lite, "fit", broken)
    explorer.tau.value = 0.97
    text = "".join(o.get("text", "") for o in explorer.output.outputs)
    assert "FloatingPointError: boom" in text


def test_plan_widget_redraws_with_the_new_size():
    w = widgets.PlanWidget()
    w.n.value = 5
    assert w.solution.plan.shape == (5, 8)
    np.testing.assert_allclose(w.solution.plan.sum(), 1.0)
    first = w.x.copy()
    w.shuffle.click()
    assert not np.allclose(first, w.x)


def test_a_widget_displays_with_a_png_of_its_first_state():
    """Without a kernel (the course site, a notebook viewer) a widget shows this picture."""
    import base64
    import io

    import matplotlib.image

    w = widgets.PlanWidget(seed=0)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/plain" in bundle
    png = matplotlib.image.imread(io.BytesIO(base64.b64decode(bundle["image/png"])), format="png")
    width, height = (w.figure.get_size_inches() * w.figure.dpi).round().astype(int)
    assert png.shape[:2] == (height, width) and png[..., :3].std() > 0.05  # the figure, not a blank canvas


def test_c_transform_widget_dual_never_exceeds_the_ot_cost():
    rng = np.random.default_rng(0)
    w = widgets.CTransformWidget(rng.normal(size=(10, 2)), rng.normal(size=(12, 2)) + 1)
    for value in (-2.0, 0.0, 1.5):
        w.w1.value = value
        assert w.dual <= w.optimum + 1e-9
        assert discrete.constraint_gap(w.f, w.g, w.C).min() > -1e-9


def test_expectile_widget_moves_the_curve_up_with_tau():
    rng = np.random.default_rng(1)
    t = rng.uniform(-2, 2, 300)
    u = np.sin(t) + 0.3 * rng.normal(size=300)
    w = widgets.ExpectileWidget(t, u, lambda t: np.stack([np.ones_like(t), t, t**2, t**3], 1))
    w.tau.value = 0.5
    low = w.curve.get_ydata().copy()
    w.tau.value = 0.95
    assert np.all(w.curve.get_ydata() > low)


def test_benchmark_widget_trains_only_on_click():
    from enot_lite import benchmark

    w = widgets.BenchmarkWidget(benchmark.mix3tomix10(2), steps=300)
    first = w.result
    w.tau.value = 0.9  # no retrain yet
    assert w.result is first
    w.train.click()
    assert w.result is not first and w.result.settings["tau"] == 0.9
    assert w.result.history["l2_uvp"][-1] < w.linear


def test_benchmark_widget_draws_a_given_fit_first_and_refuses_a_mismatched_one():
    import enot_lite
    from enot_lite import benchmark

    pair = benchmark.mix3tomix10(2)
    fitted = enot_lite.fit(pair.sample_source, pair.sample_target, steps=200, progress=False,
                           reference_map=pair.optimal_map)
    w = widgets.BenchmarkWidget(pair, steps=200, result=fitted)
    assert w.result is fitted
    assert list(w.curve.get_xdata()) == list(fitted.history["step"])
    w.train.click()
    assert w.result is not fitted and w.result.settings["steps"] == 200
    with pytest.raises(ValueError, match="result must be a fit of this D = 2 pair"):
        widgets.BenchmarkWidget(pair, steps=300, result=fitted)
    with pytest.raises(ValueError, match="result must be"):
        widgets.BenchmarkWidget(pair, tau=0.9, steps=200, result=fitted)
    with pytest.raises(ValueError, match="'learning_rate': 0.01"):
        widgets.BenchmarkWidget(pair, steps=200, learning_rate=1e-2, result=fitted)
    assert widgets.BenchmarkWidget(pair, steps=200, learning_rate=None, result=fitted).result is fitted


def test_import_enot_lite_stays_light_and_widgets_load_on_access():
    import subprocess
    import sys

    code = ("import sys, enot_lite; assert 'ipywidgets' not in sys.modules; "
            "assert enot_lite.widgets.explorer is not None; assert 'ipywidgets' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("make, why", [
    (lambda: widgets.explorer(tau=1.5), r"tau must be in \[0.5, 1.0\]"),
    (lambda: widgets.explorer(lam=-1.0), "lambda must be in"),
    (lambda: widgets.explorer(pair="no such pair"), "pair must be one of"),
    (lambda: widgets.explorer(cost="manhattan"), "cost must be one of"),
    (lambda: widgets.explorer(n_exact=10_000), "n_exact must be in"),
    (lambda: widgets.explorer(steps=0), "steps must be in"),
    (lambda: widgets.PlanWidget(n=100), "points must be in"),
])
def test_out_of_range_construction_arguments_are_refused(make, why):
    with pytest.raises(ValueError, match=why):
        make()


def test_a_gaussian_pair_in_the_benchmark_widget_draws_without_warnings():
    import warnings

    from enot_lite import benchmark

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = widgets.BenchmarkWidget(benchmark.gaussian(2), steps=200)
        w.figure.canvas.draw()
    assert w.result.history["l2_uvp"][-1] > 0 and not w.output.outputs


def test_the_sphere_explorer_keeps_points_on_the_sphere_and_retrains_without_compiling():
    w = widgets.SphereExplorer(steps=300)
    first = np.array(w.mapped._offsets3d).T
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    compiled = train.compilations()
    w.tau.value = 0.9
    assert train.compilations() == compiled and not w.output.outputs
    assert not np.allclose(first, np.array(w.mapped._offsets3d).T)
    assert w.result.settings["tau"] == 0.9 and w.exact > 0


def test_the_explorer_shows_g_for_a_network_map(explorer):
    explorer.cost.value = "euclidean"
    try:
        assert explorer.result.map == "network" and not explorer.output.outputs
        assert "contours of g" in explorer.ax_map.get_title()
    finally:
        explorer.cost.value = "sqeuclidean"


def test_around_picks_three_values_of_the_ladder_about_the_slider():
    assert widgets.around(0.99, widgets.TAU_LADDER) == (0.98, 0.99, 0.995)
    assert widgets.around(0.97, widgets.TAU_LADDER) == (0.95, 0.97, 0.98)  # the value itself in the middle
    assert widgets.around(1.0, widgets.TAU_LADDER) == (0.995, 0.999, 1.0)  # at an end: the two rungs before it
    assert widgets.around(0.0, widgets.LAM_LADDER) == (0.0, 0.1, 0.2)


@pytest.fixture(scope="module")
def grid_view(explorer):
    explorer.tau.value, explorer.lam.value = 0.99, 1.0
    return widgets.grid_view(explorer, steps=300)


def test_the_grid_view_draws_a_3_by_3_grid_about_the_sliders(grid_view, explorer):
    g = grid_view.grid
    assert g.shape == (3, 3, 1) and g.tau == (0.98, 0.99, 0.995) and g.lam == (0.7, 1.0, 1.5) and not g.diverged
    assert all(r.history["step"][-1] == 300 for r in g.results)
    assert "300 steps per cell (the main view trains 1000)" in grid_view.figure.get_suptitle()
    centre = grid_view.axes[1, 1]
    assert centre.get_title().startswith("tau 0.99, lambda 1") and centre.title.get_fontweight() == "bold"
    assert all(len(m.get_offsets()) == grid_view.n_plot for m in grid_view.mapped)
    assert not grid_view.output.outputs


def test_the_grid_view_retrains_on_its_button_only_in_place_without_compiling(grid_view, explorer):
    first, artists = grid_view.grid, list(grid_view.mapped)
    before = [np.array(m.get_offsets()) for m in artists]
    explorer.tau.value, explorer.lam.value = 0.9, 0.3
    assert grid_view.grid is first  # a slider move retrains the main view only
    compiled = train.compilations()
    grid_view.train.click()
    assert train.compilations() == compiled and not grid_view.output.outputs, grid_view.output.outputs
    g = grid_view.grid
    assert g.tau == (0.8, 0.9, 0.95) and g.lam == (0.2, 0.3, 0.5)
    assert grid_view.mapped == artists and not np.allclose(before[4], grid_view.mapped[4].get_offsets())
    assert grid_view.last_update_seconds > 0


def test_grid_view_errors_are_shown_in_its_output_area(grid_view, monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("no room for the grid")

    monkeypatch.setattr(widgets.enot_lite, "sweep", broken)
    grid_view.train.click()
    text = "".join(o.get("text", "") for o in grid_view.output.outputs)
    assert "MemoryError: no room for the grid" in text


@pytest.mark.parametrize("kwargs, why", [(dict(steps=0), "steps must be in"), (dict(n_plot=10**6), "n_plot must be in")])
def test_grid_view_construction_arguments_are_checked(explorer, kwargs, why):
    with pytest.raises(ValueError, match=why):
        widgets.grid_view(explorer, **kwargs)
