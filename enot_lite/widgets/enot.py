"""Widgets that train ENOT: the 2-D explorer and its grid view, the sphere explorer, the W2 benchmark."""
from __future__ import annotations

import time

import ipywidgets as W
import jax
import matplotlib.pyplot as plt
import numpy as np

import enot_lite
from enot_lite import checks, datasets, discrete, plotting
from enot_lite.widgets.panel import Panel, _dropdown, _figure, _slider

# ----------------------------------------------------------------------------- ENOT


class Explorer(Panel):
    """Retrain ENOT live on a 2-D pair when tau or lambda move, and redraw in place.

    Shows the transported samples, map arrows, contours of the potential f, the dual value
    against the exact discrete OT cost of a subsample, and the training curve.  tau and
    lambda are traced, so after the first draw nothing compiles again."""

    def __init__(self, pair="moons -> S-curve", cost="sqeuclidean", tau=0.99, lam=1.0, steps=1000,
                 batch_size=256, hidden=(64, 64, 64), n_plot=400, n_exact=256, seed=0):
        self.settings = dict(steps=steps, batch_size=batch_size, hidden=hidden, seed=seed, progress=False)
        self.pair = _dropdown("pair", pair, datasets.PAIRS)
        self.cost = _dropdown("cost", cost, ["sqeuclidean", "pnorm:1.5", "pnorm:3", "euclidean"])
        self.tau = _slider(W.FloatSlider, "tau", tau, 0.5, 1.0, 0.005, css="enot-tau")
        self.lam = _slider(W.FloatSlider, "lambda", lam, 0.0, 2.0, 0.05, css="enot-lambda")
        self.n_plot = checks.number("n_plot", n_plot, 2, 100_000, low_open=False, kind=int)
        self.n_exact = checks.number("n_exact", n_exact, 2, n_plot, low_open=False, kind=int)
        self.exact_cache = {}
        fig, (self.ax_map, self.ax_curve) = _figure(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
        self.scatter_x = self.ax_map.scatter([], [], s=5, color=plotting.SOURCE, alpha=0.4, label="source")
        self.scatter_y = self.ax_map.scatter([], [], s=5, color=plotting.TARGET, alpha=0.4, label="target")
        self.scatter_t = self.ax_map.scatter([], [], s=5, color=plotting.MAPPED, alpha=0.7, label="mapped T(x)")
        self.arrows, self.contours = None, None
        self.ax_map.set(xlabel="$x_1$", ylabel="$x_2$")
        (self.curve,) = self.ax_curve.plot([], [], color=plotting.MAPPED, label="dual objective (ENOT)")
        self.exact_line = self.ax_curve.axhline(0, color="k", ls="--", lw=1, label="exact OT cost (subsample)")
        self.ax_curve.set(xlabel="step", ylabel="dual objective")
        handles = [h for ax in (self.ax_map, self.ax_curve) for h in ax.get_legend_handles_labels()[0]]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, markerscale=3)
        self.result, self.last_update_seconds = None, float("nan")
        super().__init__([self.pair, self.cost, self.tau, self.lam], fig)

    def update(self):
        start = time.perf_counter()
        source, target = datasets.PAIRS[self.pair.value]
        x = np.asarray(source(jax.random.key(101), self.n_plot))
        y = np.asarray(target(jax.random.key(102), self.n_plot))
        key = (self.pair.value, self.cost.value)
        if key not in self.exact_cache:
            self.exact_cache[key] = discrete.ot_cost(x[: self.n_exact], y[: self.n_exact], self.cost.value)
        exact = self.exact_cache[key]
        self.result = None
        result = enot_lite.fit(source, target, cost=self.cost.value, tau=self.tau.value, lam=self.lam.value, **self.settings)
        mapped = np.asarray(result.transport(x))
        self._draw_map(result, x, y, mapped)
        h = result.history
        self.curve.set_data(h["step"], h["dual_value"])
        self.exact_line.set_ydata([exact, exact])
        lo, hi = min(h["dual_value"].min(), exact), max(h["dual_value"].max(), exact)
        self.ax_curve.set_xlim(0, h["step"][-1])
        self.ax_curve.set_ylim(lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9))
        self.result, self.exact = result, exact
        self.last_update_seconds = time.perf_counter() - start
        self.ax_curve.set_title(f"tau = {self.tau.value:.3f}, lambda = {self.lam.value:.2f}: dual {result.dual_value:.3f}"
                                f" vs exact {exact:.3f}  ({self.last_update_seconds:.1f} s)", fontsize=9)

    def _draw_map(self, result, x, y, mapped):
        self.scatter_x.set_offsets(x)
        self.scatter_y.set_offsets(y)
        self.scatter_t.set_offsets(mapped)
        self.arrows = plotting.map_arrows(self.ax_map, x, mapped, quiver=self.arrows)
        pts = np.concatenate([x, y, mapped])
        lo, hi = pts.min(0) - 0.3, pts.max(0) + 0.3
        g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 60), np.linspace(lo[1], hi[1], 60))
        grid = np.stack([g1.ravel(), g2.ravel()], 1).astype(np.float32)
        gradient = result.map == "gradient"  # a network map has no f: show g, the potential it trains against
        levels = np.asarray(result.f(grid) if gradient else result.g(grid)).reshape(g1.shape)
        if self.contours is not None:
            self.contours.remove()
        self.contours = self.ax_map.contour(g1, g2, levels, levels=12, cmap=plotting.POTENTIAL_CMAP, linewidths=0.7,
                                            alpha=0.6)
        self.ax_map.set_xlim(lo[0], hi[0])
        self.ax_map.set_ylim(lo[1], hi[1])
        self.ax_map.set_title("map T(x) = x - grad h*(grad f(x)); contours of f" if gradient else
                              "map network T(x); contours of g", fontsize=9)


TAU_LADDER = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0)
LAM_LADDER = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)


def around(value, ladder):
    """Three values of `ladder` around `value`, with `value` itself in place of its nearest rung:
    (below, value, above), or the two rungs above / below it at the ends of the ladder."""
    below, above = [v for v in ladder if v < value - 1e-9], [v for v in ladder if v > value + 1e-9]
    if below and above:
        return below[-1], value, above[0]
    return (value, *above[:2]) if not below else (*below[-2:], value)


class GridView(Panel):
    """A 3 x 3 grid of tau x lambda around the explorer's sliders, trained in one `enot_lite.sweep`
    when "train grid" is clicked: small multiples of the mapped samples over the target, the
    sliders' own cell framed.  The grid trains `steps` per cell (fewer than the explorer's main
    view; the title says how many); tau and lambda are traced, so after the first draw nothing
    compiles again (a new pair or cost compiles once)."""

    def __init__(self, explorer, steps=300, n_plot=200):
        self.explorer = explorer
        self.steps = checks.number("steps", steps, 0, checks.MAX_STEPS, low_open=True, kind=int)
        n_plot = checks.number("n_plot", n_plot, 2, explorer.n_plot, low_open=False, kind=int)
        self.train = W.Button(description="train 3 x 3 grid", button_style="primary")
        self.train.add_class("enot-grid-train")
        fig, axes = _figure(3, 3, figsize=(8, 7.4), sharex=True, sharey=True)
        self.axes, self.n_plot = axes, n_plot
        self.targets = [ax.scatter([], [], s=3, color=plotting.TARGET, alpha=0.25) for ax in axes.flat]
        self.mapped = [ax.scatter([], [], s=3, color=plotting.MAPPED, alpha=0.8) for ax in axes.flat]
        self.notes = [ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", color="crimson")
                      for ax in axes.flat]
        for ax in axes.flat:
            ax.set_xticks([]), ax.set_yticks([])
        self.grid, self.last_update_seconds = None, float("nan")
        super().__init__([self.train], fig, triggers=[self.train])

    def update(self):
        start, e = time.perf_counter(), self.explorer
        taus, lams = around(e.tau.value, TAU_LADDER), around(e.lam.value, LAM_LADDER)
        source, target = datasets.PAIRS[e.pair.value]
        settings = {k: v for k, v in e.settings.items() if k not in ("steps", "seed")}
        self.grid = None
        grid = enot_lite.sweep(source, target, cost=e.cost.value, tau=taus, lam=lams, seeds=[e.settings["seed"]],
                               steps=self.steps, **settings)
        x = np.asarray(source(jax.random.key(101), self.n_plot))
        y = np.asarray(target(jax.random.key(102), self.n_plot))
        pts = [x, y]
        for c, (tau, lam, seed, result) in enumerate(grid.cells()):
            i, j = divmod(c, 3)
            ax, diverged = self.axes[i, j], (tau, lam, seed) in grid.diverged
            mapped = np.empty((0, 2)) if diverged else np.asarray(result.transport(x))
            self.targets[c].set_offsets(y)
            self.mapped[c].set_offsets(mapped)
            self.notes[c].set_text(f"diverged at step {grid.diverged[tau, lam, seed].step}" if diverged else "")
            pts.append(mapped)
            centre = tau == e.tau.value and lam == e.lam.value
            ax.set_title(f"tau {tau:g}, lambda {lam:g}" + ("" if diverged else f": {result.dual_value:.3f}"), fontsize=8,
                         fontweight="bold" if centre else "normal")
            for spine in ax.spines.values():
                spine.set(visible=True, color="k" if centre else "0.8", linewidth=2 if centre else 0.8)
        pts = np.concatenate(pts)
        lo, hi = pts.min(0) - 0.3, pts.max(0) + 0.3
        self.axes[0, 0].set_xlim(lo[0], hi[0])
        self.axes[0, 0].set_ylim(lo[1], hi[1])
        self.grid, self.last_update_seconds = grid, time.perf_counter() - start
        self.figure.suptitle(f"{e.pair.value}: T(x) (green) over the target; dual value in each title\n{self.steps} steps "
                             f"per cell (the main view trains {e.settings['steps']}): 9 models in one program, "
                             f"{self.last_update_seconds:.1f} s", fontsize=9)


class BenchmarkWidget(Panel):
    """tau and lambda on one W2-benchmark pair; retrains when "train" is clicked (a high-dimensional
    fit takes several seconds) and plots the L2-UVP curve against the benchmark's linear map.

    `result`: optionally a fit of this pair with these tau, lambda and steps, the `fit_kwargs`
    that `result.settings` records, and a `reference_map` (so its history has L2-UVP), drawn first
    instead of training the same model again."""

    def __init__(self, pair, tau=0.99, lam=1.0, steps=1500, result=None, **fit_kwargs):
        if result is not None:  # a setting passed as None is fit's default, which result.settings holds resolved
            wanted = dict(tau=tau, lam=lam, steps=steps) | {k: v for k, v in fit_kwargs.items()
                                                           if v is not None and k in result.settings}
            got = {k: result.settings.get(k) for k in wanted}
            if got != wanted or result.dim != pair.dim or "l2_uvp" not in result.history:
                raise ValueError(f"result must be a fit of this D = {pair.dim} pair with {wanted} and a "
                                 f"reference_map; got D = {result.dim} with {got}")
        self._first = result
        self.pair, self.settings = pair, dict(steps=steps, progress=False, **fit_kwargs)
        self.tau = _slider(W.FloatSlider, "tau", tau, 0.5, 1.0, 0.005, css="enot-tau")
        self.lam = _slider(W.FloatSlider, "lambda", lam, 0.0, 2.0, 0.05, css="enot-lambda")
        self.train = W.Button(description="train", button_style="primary")
        self.linear = enot_lite.benchmark.l2_uvp(pair.linear_map, pair)
        fig, self.ax = _figure(figsize=(6, 3.6))
        (self.curve,) = self.ax.plot([], [], color=plotting.MAPPED, marker=".", label="ENOT")
        if self.linear > 0:  # a Gaussian pair's linear map is exact: nothing to draw on a log axis
            self.ax.axhline(self.linear, color="k", ls="--", lw=1, label="linear (Gaussian) map")
        self.ax.set(xlabel="step", ylabel="L2-UVP (%)", yscale="log")
        plotting.plain_log_ticks(self.ax, "y")
        plotting.outside_legend(self.ax)
        self.result = None
        super().__init__([self.tau, self.lam, self.train], fig, triggers=[self.train])

    def update(self):
        if self._first is not None:  # the given fit, drawn once
            self.result, self._first = self._first, None
        else:
            self.result = enot_lite.fit(self.pair.sample_source, self.pair.sample_target, tau=self.tau.value,
                                        lam=self.lam.value, reference_map=self.pair.optimal_map, **self.settings)
        h = self.result.history
        self.curve.set_data(h["step"], h["l2_uvp"])
        self.ax.set_xlim(0, h["step"][-1])
        shown = [v for v in (*h["l2_uvp"], self.linear) if v > 0]
        self.ax.set_ylim(min(shown) / 2, max(shown) * 2)
        self.ax.set_title(f"{self.pair.name}: tau = {self.tau.value:.3f}, lambda = {self.lam.value:.2f}, "
                          f"final L2-UVP {h['l2_uvp'][-1]:.2f}%", fontsize=9)


class SphereExplorer(Panel):
    """tau and lambda on a pair of distributions on S^2 with the geodesic cost: ENOT retrains (a
    map network projected onto the sphere) and the mapped points and their great-circle arcs
    move in place; the title compares the dual value with the exact cost of a subsample."""

    def __init__(self, pair="two caps -> four caps", tau=0.99, lam=1.0, steps=1500, n_plot=400, n_exact=400,
                 arcs=30, seed=0):
        source, target = datasets.SPHERE_PAIRS[_dropdown("pair", pair, datasets.SPHERE_PAIRS).value]
        self.sample_source, self.sample_target = source, target
        self.settings = dict(cost="geodesic", steps=steps, seed=seed, progress=False)
        self.tau = _slider(W.FloatSlider, "tau", tau, 0.5, 1.0, 0.005, css="enot-tau")
        self.lam = _slider(W.FloatSlider, "lambda", lam, 0.0, 2.0, 0.05, css="enot-lambda")
        n_plot = checks.number("n_plot", n_plot, 2, 100_000, low_open=False, kind=int)
        n_exact = checks.number("n_exact", n_exact, 2, n_plot, low_open=False, kind=int)
        unit = lambda z: z / np.linalg.norm(z, axis=1, keepdims=True)
        self.x = unit(np.asarray(source(jax.random.key(101), n_plot), np.float64))
        self.y = unit(np.asarray(target(jax.random.key(102), n_plot), np.float64))
        self.exact = discrete.ot_cost(self.x[:n_exact], self.y[:n_exact], "geodesic")
        with plt.ioff():
            fig = plt.figure(figsize=(6, 5.5), layout="constrained")
        self.ax = plotting.sphere_axes(fig.add_subplot(projection="3d"))
        self.mapped, self.arcs = plotting.plot_sphere_map(self.ax, self.x, self.y, self.x, arcs=arcs)
        self.result = None
        super().__init__([self.tau, self.lam], fig)

    def update(self):
        self.result = enot_lite.fit(self.sample_source, self.sample_target, tau=self.tau.value, lam=self.lam.value,
                                    **self.settings)
        t = np.asarray(self.result.transport(self.x.astype(np.float32)), np.float64)
        self.mapped._offsets3d = tuple(t.T)
        for line, a, b in zip(self.arcs, self.x, t):
            line.set_data_3d(*plotting.geodesic_arc(a, b).T)
        self.ax.set_title(f"tau = {self.tau.value:.3f}, lambda = {self.lam.value:.2f}: dual "
                          f"{self.result.dual_value:.3f}, exact {self.exact:.3f} ({len(self.x)} points)", fontsize=9)


def explorer(**kwargs) -> Explorer:
    """The live ENOT explorer (see `Explorer`); trains and draws once before it is returned."""
    return Explorer(**kwargs)


def grid_view(explorer, **kwargs) -> GridView:
    """The explorer's 3 x 3 grid view (see `GridView`); trains and draws once before it is returned."""
    return GridView(explorer, **kwargs)
