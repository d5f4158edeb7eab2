"""Widgets of the theory notebooks: plans, c-transforms, entropic OT, expectiles."""
from __future__ import annotations

import ipywidgets as W
import jax.numpy as jnp
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.ticker import MaxNLocator

import enot_lite
from enot_lite import discrete, plotting
from enot_lite.widgets.panel import Panel, _figure, _slider

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
