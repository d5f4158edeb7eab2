"""Live widgets for the notebooks: controls + one matplotlib figure updated in place.

Every widget is a `Panel`: an ipywidgets VBox of controls, the figure (an ipympl canvas
under `%matplotlib widget`) and an Output area where errors are shown.  Setting a
control's `.value` from Python fires the same callback as moving it in the browser.
"""
from __future__ import annotations

import base64
import io
import time

import ipywidgets as W
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.ticker import MaxNLocator

import enot_lite
from enot_lite import checks, datasets, discrete, plotting


class Panel(W.VBox):
    """Controls, a figure and an error area; `update()` runs on every change, errors go to `.output`."""

    def __init__(self, controls, figure, triggers=None):
        """`triggers`: the controls whose change redraws (default: all of them)."""
        self.figure, self.controls, self.output = figure, list(controls), W.Output()
        self.output.add_class("enot-output")
        canvas = figure.canvas if isinstance(figure.canvas, W.DOMWidget) else W.Output()
        if hasattr(figure.canvas, "header_visible"):
            figure.canvas.header_visible = False  # no "Figure N" title bar above the plot
        for control in self.controls if triggers is None else triggers:
            if isinstance(control, W.Button):
                control.on_click(lambda _: self.refresh())
            else:
                control.observe(lambda _: self.refresh(), names="value")
        super().__init__([W.HBox(self.controls), canvas, self.output])
        self.update()  # the first draw raises: a bad construction argument is the caller's error
        self.figure.canvas.draw_idle()

    def refresh(self):
        self.output.outputs = ()  # clear_output() only asks a front end to clear; this clears the state too
        try:
            self.update()
            self.figure.canvas.draw_idle()
        except Exception as err:  # shown to the student, not lost in the log
            self.output.append_stderr(f"{type(err).__name__}: {err}\n")

    def update(self):
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a PNG of the figure as it is when displayed (its first state):
        what a page without a kernel (the course site, a notebook viewer) shows instead."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi="figure")
            bundle["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
        return bundle


def _figure(*args, **kwargs):
    with plt.ioff():  # shown as part of the panel, not a second time by the backend
        return plt.subplots(*args, **kwargs)


def _dropdown(description, value, options):
    checks.one_of(description, value, tuple(options))
    return W.Dropdown(options=list(options), value=value, description=description)


def _slider(kind, description, value, low, high, step, css=None):
    """A slider that only moves on release; a starting value outside [low, high] is refused
    (ipywidgets would clamp it silently)."""
    checks.number(description, value, low, high, low_open=False, kind=int if kind is W.IntSlider else float)
    slider = kind(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
                  readout=True, style={"description_width": "initial"})
    if css:
        slider.add_class(css)
    return slider


# ----------------------------------------------------------------------------- plans


class PlanWidget(Panel):
    """Kantorovich plan between two random clouds: number of points, cost exponent p, reshuffle."""

    def __init__(self, n=8, p=2.0, seed=0):
        self.n = _slider(W.IntSlider, "points", n, 2, 30, 1)
        self.p = _slider(W.FloatSlider, "cost |x-y|^p, p", p, 1.0, 3.0, 0.25)
        self.shuffle = W.Button(description="reshuffle")
        self.rng = np.random.default_rng(seed)
        fig, self.ax = _figure(figsize=(5, 4))
        super().__init__([self.n, self.p, self.shuffle], fig)

    def update(self):
        n, p = self.n.value, self.p.value
        self.x, self.y = self.rng.normal(size=(n, 2)), self.rng.normal(size=(n + 3, 2)) + [2.5, 0.0]
        self.solution = discrete.solve(self.x, self.y, cost=lambda a, b: (np.linalg.norm(a[:, None] - b[None], axis=-1)) ** p)
        self.ax.clear()
        plotting.plot_plan(self.x, self.y, self.solution.plan, ax=self.ax)
        self.ax.set_title(f"n = {n}, m = {n + 3}, p = {p:g}: cost {self.solution.cost:.3f}")


# ----------------------------------------------------------------------------- duality


class CTransformWidget(Panel):
    """g(y) = w . y + s ||y||^2 / 2 on target samples; its c-transform f = g^c, the dual value
    <a, f> + <b, g> against the optimal cost, and the constraint gap C - f - g."""

    def __init__(self, x, y):
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.C = discrete.cost_matrix(self.x, self.y)
        self.optimum = discrete.solve(self.x, self.y).cost
        self.w1 = _slider(W.FloatSlider, "w1", 0.0, -3, 3, 0.1)
        self.w2 = _slider(W.FloatSlider, "w2", 0.0, -3, 3, 0.1)
        self.s = _slider(W.FloatSlider, "s", 0.0, -0.9, 0.9, 0.05)
        fig, (self.ax_f, self.ax_gap) = _figure(1, 2, figsize=(9.5, 3.8))
        zeros_x, zeros_y = np.zeros(len(self.x)), np.zeros(len(self.y))
        self.points_x = self.ax_f.scatter(*self.x.T, c=zeros_x, cmap=plotting.POTENTIAL_CMAP, s=30, edgecolors=plotting.SOURCE,
                                          label="$x_i$, fill $f_i = g^c_i$")
        self.points_y = self.ax_f.scatter(*self.y.T, c=zeros_y, cmap=plotting.POTENTIAL_CMAP, marker="s", s=30,
                                          edgecolors=plotting.TARGET, label="$y_j$, fill $g_j$")
        self.ax_f.set(xlabel="$x_1$", ylabel="$x_2$")
        self.ax_f.set_aspect("equal", adjustable="datalim")
        plotting.outside_legend(self.ax_f, fontsize=8)
        fig.colorbar(self.points_x, ax=self.ax_f, label="potential value", location="bottom", shrink=0.8)
        self.image = self.ax_gap.imshow(np.zeros_like(self.C), cmap=plotting.GAP_CMAP, aspect="auto")
        fig.colorbar(self.image, ax=self.ax_gap, label="$C_{ij} - f_i - g_j$")
        self.ax_gap.set(xlabel="j (target)", ylabel="i (source)")
        for axis in (self.ax_gap.xaxis, self.ax_gap.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))
        super().__init__([self.w1, self.w2, self.s], fig)

    def update(self):
        self.g = self.y @ np.array([self.w1.value, self.w2.value]) + 0.5 * self.s.value * (self.y**2).sum(1)
        self.f = discrete.c_transform(self.g, self.C)
        self.dual = discrete.dual_objective(self.f, self.g)
        gap = discrete.constraint_gap(self.f, self.g, self.C)
        both = np.concatenate([self.f, self.g])
        for points, values in ((self.points_x, self.f), (self.points_y, self.g)):
            points.set_array(values)
            points.set_clim(both.min(), both.max())
        self.image.set_data(gap)
        self.image.set_clim(0.0, gap.max())
        self.ax_f.set_title(f"dual {self.dual:.3f}  <=  OT cost {self.optimum:.3f}", fontsize=10)
        self.ax_gap.set_title(f"gap (min {gap.min():.1e}: feasible, tight in every row)", fontsize=10)


# ----------------------------------------------------------------------------- entropic OT


class SinkhornWidget(Panel):
    """epsilon (log slider): the entropic plan between two clouds, its barycentric map, and the
    transport cost <C, P> against epsilon next to the exact cost.  epsilon is traced by the
    jitted Sinkhorn loop, so moving it never recompiles."""

    def __init__(self, x, y, epsilon=0.1, cost="sqeuclidean", grid=np.logspace(-3, 0, 13)):
        self.x, self.y, self.cost = np.asarray(x, np.float64), np.asarray(y, np.float64), cost
        self.exact = discrete.solve(self.x, self.y, cost=cost)
        self.epsilon = W.FloatLogSlider(value=epsilon, base=10, min=-3, max=0, step=0.25, description="epsilon",
                                        continuous_update=False, readout_format=".3g")
        self.epsilon.add_class("enot-epsilon")
        fig, (self.ax_plan, self.ax_cost) = _figure(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1.2, 1]})
        self.segments = LineCollection([], color=plotting.PLAN, linewidths=1.2)
        self.ax_plan.add_collection(self.segments)
        self.ax_plan.scatter(*self.x.T, s=25, color=plotting.SOURCE, label="source $x_i$", zorder=3)
        self.ax_plan.scatter(*self.y.T, s=25, color=plotting.TARGET, label="target $y_j$", zorder=3)
        self.mapped = self.ax_plan.scatter(*self.x.T, s=25, marker="x", color=plotting.MAPPED,
                                           label="barycentric map", zorder=4)
        self.ax_plan.set(xlabel="$x_1$", ylabel="$x_2$")
        self.ax_plan.set_aspect("equal", adjustable="datalim")
        plotting.outside_legend(self.ax_plan, fontsize=8)
        self.grid = np.asarray(grid, np.float64)
        self.curve_costs = np.array([discrete.sinkhorn(self.x, self.y, cost=cost, epsilon=e).cost for e in self.grid])
        self.ax_cost.plot(self.grid, self.curve_costs, "o-", color=plotting.PLAN, ms=3, label="$\\langle C, P_\\epsilon \\rangle$")
        self.ax_cost.axhline(self.exact.cost, color="k", ls="--", lw=1, label="exact OT cost")
        (self.marker,) = self.ax_cost.plot([], [], "o", color=plotting.MAPPED, ms=9, label="current epsilon")
        self.ax_cost.set(xscale="log", xlabel="epsilon", ylabel="transport cost")
        plotting.plain_log_ticks(self.ax_cost, "x", minor=False)
        self.ax_cost.legend(loc="upper left", fontsize=8)
        self.solution = None
        super().__init__([self.epsilon], fig)

    def update(self):
        eps = float(self.epsilon.value)
        self.solution = discrete.sinkhorn(self.x, self.y, cost=self.cost, epsilon=eps)
        P = self.solution.plan
        i, j = np.nonzero(P > 1e-3 * P.max())
        self.segments.set_segments(np.stack([self.x[i], self.y[j]], axis=1))
        self.segments.set_alpha(None)
        colours = np.tile(np.array(to_rgba(plotting.PLAN)), (len(i), 1))
        colours[:, 3] = P[i, j] / P.max()
        self.segments.set_color(colours)
        self.mapped.set_offsets(discrete.barycentric_map(self.solution, self.y))
        self.marker.set_data([eps], [self.solution.cost])
        self.ax_plan.set_title(f"epsilon = {eps:.3g}: cost {self.solution.cost:.3f} (exact {self.exact.cost:.3f}), "
                               f"{self.solution.iterations} iterations", fontsize=9)


# ----------------------------------------------------------------------------- expectiles


class ExpectileWidget(Panel):
    """tau: the expectile regression curve through (t, u) and the loss landscape of one expectile."""

    def __init__(self, t, u, features):
        self.t, self.u, self.features = np.asarray(t), np.asarray(u), features
        self.tau = _slider(W.FloatSlider, "tau", 0.9, 0.5, 0.999, 0.001, css="enot-tau")
        fig, (self.ax_fit, self.ax_loss) = _figure(1, 2, figsize=(9, 3.5))
        self.ax_fit.scatter(self.t, self.u, s=5, color=plotting.PLAN, alpha=0.4, label="data")
        order = np.argsort(self.t)
        (self.curve,) = self.ax_fit.plot(self.t[order], 0 * self.t, color=plotting.MAPPED, lw=2, label="expectile fit")
        self.order = order
        self.ax_fit.set(xlabel="t", ylabel="u")
        self.ax_fit.legend(loc="upper left")
        self.grid = np.linspace(self.u.min(), self.u.max(), 200)
        (self.landscape,) = self.ax_loss.plot(self.grid, 0 * self.grid, color="k")
        self.marker = self.ax_loss.axvline(0, color=plotting.MAPPED, ls="--")
        self.ax_loss.set(xlabel="m", ylabel="mean $L_\\tau(u - m)$", title="loss of a constant expectile")
        super().__init__([self.tau], fig)

    def update(self):
        tau = self.tau.value
        self.coef = discrete.expectile_regression(self.features(self.t), self.u, tau)
        self.curve.set_ydata((self.features(self.t) @ self.coef)[self.order])
        loss = np.asarray(jnp.mean(enot_lite.expectile_loss(self.u[None, :] - self.grid[:, None], tau), axis=1))
        self.landscape.set_ydata(loss)
        self.marker.set_xdata([discrete.sample_expectile(self.u, tau)] * 2)
        self.ax_loss.set_ylim(0, loss.max() * 1.05)
        self.ax_fit.set_title(f"tau = {tau:.3f}")


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
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.89, wspace=0.05, hspace=0.2)
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
    fit takes several seconds) and plots the L2-UVP curve against the benchmark's linear map."""

    def __init__(self, pair, tau=0.99, lam=1.0, steps=1500, **fit_kwargs):
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
