"""One figure style for every notebook: the same colours for source, target and map.

    SOURCE  blue    samples of mu (x)
    TARGET  orange  samples of nu (y)
    MAPPED  green   transported samples T(x)
    PLAN    grey    couplings / arrows x -> T(x)
    OTHER_SOLVERS   purple, brown, pink: other solvers' results beside ENOT's
    SWEEP_CMAP      viridis: a family of curves over one parameter (tau, epsilon, p, D)
    POTENTIAL_CMAP  viridis: potentials and other scalar fields; GAP_CMAP magma: gaps and errors

Figures use constrained layout (set by `use_style`), so labels, colorbars and legends placed
outside the axes are never clipped; legends go outside the data (`outside_legend`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

SOURCE = "#1f77b4"
TARGET = "#ff7f0e"
MAPPED = "#2ca02c"
PLAN = "#7f7f7f"
POTENTIAL_CMAP = "viridis"
GAP_CMAP = "magma"
SWEEP_CMAP = "viridis"
OTHER_SOLVERS = ("#9467bd", "#8c564b", "#e377c2")  # other solvers' results beside ENOT's (MAPPED)

_RC = {
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
    "figure.constrained_layout.use": True,
}


def use_style():
    """Apply the package's matplotlib style (call once at the top of a notebook)."""
    plt.rcParams.update(_RC)


def sweep_colors(n):
    """n colours along SWEEP_CMAP, for curves indexed by one parameter (dark = smallest)."""
    return [plt.get_cmap(SWEEP_CMAP)(v) for v in np.linspace(0.0, 0.85, n)]


def outside_legend(ax, **kwargs):
    """A legend to the right of the axes, off the data (constrained layout makes room for it)."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def plain_log_ticks(ax, axis="y", minor=True):
    """Tick labels on a log axis written as plain numbers (0.5, 2, 30) instead of 5x10^-1 or
    3x10^0; with `minor`, ticks at 2 and 5 times each power of ten are labelled too."""
    from matplotlib import ticker

    target = ax.yaxis if axis == "y" else ax.xaxis
    fmt = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    target.set_major_formatter(fmt)
    if minor:
        target.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
        target.set_minor_formatter(fmt)
    else:
        target.set_minor_formatter(ticker.NullFormatter())
    return ax


def _axes(ax, figsize=(5, 5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _legend(ax, where, **kwargs):
    if where == "outside":
        outside_legend(ax, **kwargs)
    elif where:
        ax.legend(loc=where, **kwargs)


def scatter_pair(x, y, ax=None, *, s=6, alpha=0.5, labels=("source $x\\sim\\mu$", "target $y\\sim\\nu$"),
                 legend="outside"):
    """Scatter source samples x and target samples y (2-D) in the package colours.  `legend`:
    "outside" (right of the axes), a matplotlib location, or None."""
    ax = _axes(ax)
    x, y = np.asarray(x), np.asarray(y)
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, color=SOURCE, label=labels[0])
    ax.scatter(y[:, 0], y[:, 1], s=s, alpha=alpha, color=TARGET, label=labels[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="datalim")
    _legend(ax, legend, markerscale=2)
    return ax


def plot_map(x, y, y_hat, ax=None, *, arrows=64, s=6, title=None, legend="outside",
             labels=("source $x\\sim\\mu$", "target $y\\sim\\nu$", "mapped $T(x)$")):
    """Samples x (SOURCE), y (TARGET) and their images y_hat (MAPPED), with arrows x -> y_hat for a
    subset.  For an inverse map pass (y, x, S(y)) and labels that say so: the colours follow the
    measure (blue mu, orange nu), not the argument's position."""
    ax = _axes(ax)
    x, y, y_hat = np.asarray(x), np.asarray(y), np.asarray(y_hat)
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=0.5, color=SOURCE, label=labels[0])
    ax.scatter(y[:, 0], y[:, 1], s=s, alpha=0.5, color=TARGET, label=labels[1])
    ax.scatter(y_hat[:, 0], y_hat[:, 1], s=s, alpha=0.6, color=MAPPED, label=labels[2])
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    ax.set_aspect("equal", adjustable="datalim")
    map_arrows(ax, x, y_hat, arrows)
    _legend(ax, legend, markerscale=2)
    if title:
        ax.set_title(title)
    return ax


def map_arrows(ax, x, t, k=64, quiver=None):
    """Arrows x_i -> t_i (2-D) for the first k rows: a new quiver, or `quiver` moved in place."""
    x, t = np.asarray(x)[:k], np.asarray(t)[:k]
    if quiver is not None:
        quiver.set_offsets(x)
        quiver.set_UVC(*(t - x).T)
        return quiver
    return ax.quiver(*x.T, *(t - x).T, angles="xy", scale_units="xy", scale=1, color=PLAN, alpha=0.7, width=0.004)


def plot_plan(x, y, plan, ax=None, *, threshold=1e-3, s=30, legend="outside"):
    """Points x, y and a coupling matrix plan[i, j]: a segment x_i - y_j, opacity ~ mass."""
    ax = _axes(ax)
    x, y, plan = np.asarray(x), np.asarray(y), np.asarray(plan)
    if x.ndim == 1:  # 1-D measures: draw them on two horizontal lines
        x = np.stack([x, np.zeros_like(x)], 1)
        y = np.stack([y, np.ones_like(y)], 1)
    top = plan.max() if plan.size and plan.max() > 0 else 1.0
    for i, j in zip(*np.nonzero(plan > threshold * top)):
        ax.plot([x[i, 0], y[j, 0]], [x[i, 1], y[j, 1]], color=PLAN, lw=1.5, alpha=float(plan[i, j] / top))
    ax.scatter(x[:, 0], x[:, 1], s=s, color=SOURCE, label="source", zorder=3)
    ax.scatter(y[:, 0], y[:, 1], s=s, color=TARGET, label="target", zorder=3)
    _legend(ax, legend)
    return ax


def plot_history(history, ax=None, *, keys=("dual_value",), reference=None):
    """Training curves from `result.history` against the step; optional horizontal reference."""
    ax = _axes(ax, figsize=(5, 3))
    for key in keys:
        ax.plot(history["step"], history[key], label=key.replace("_", " "))
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label="reference")
    ax.set_xlabel("step")
    outside_legend(ax)
    return ax


def plot_l2_uvp_by_dim(ax, measured, linear, published=None):
    """L2-UVP (%) against the dimension on log axes: `measured` {label: {D: value}} in the map's
    colour family, the benchmark's linear map `linear` {D: value} (the OT map between the
    moment-matched Gaussians) dashed black, and `published`
    {label: {D: value}} (quoted numbers) dotted grey.  Only the measured dimensions are ticks."""
    dims = sorted(set(linear).union(*(v.keys() for v in measured.values())))
    for (label, values), marker, color in zip(measured.items(), "os^v", (MAPPED, *OTHER_SOLVERS)):
        ax.plot(sorted(values), [values[d] for d in sorted(values)], marker=marker, color=color, label=label)
    ax.plot(dims, [linear[d] for d in dims], "k--", marker="x", label="linear (Gaussian) map")
    for (label, values), style in zip((published or {}).items(), (":", "-.")):
        ax.plot(dims, [values[d] for d in dims], style, color="grey", marker=".", label=f"{label}, quoted")
    ax.set(xscale="log", yscale="log", xlabel="dimension D", ylabel="L2-UVP (%)")
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    plain_log_ticks(ax, "y")
    outside_legend(ax, fontsize=7)
    return ax


def plot_grid(values, tau, lam, ax=None, *, diverged=None, label="", log=True):
    """A heat map of values[i, j] over tau[i] (rows) x lambda[j] (columns), each cell annotated
    with its value; cells marked in `diverged` (a boolean array) read "diverged".  `log`: a log
    colour scale where the values are positive and span more than a factor of 10 (L2-UVP often
    spans orders of magnitude)."""
    from matplotlib.colors import LogNorm

    ax = _axes(ax, figsize=(4.5, 3.6))
    values = np.asarray(values, float)
    diverged = np.zeros(values.shape, bool) if diverged is None else np.asarray(diverged, bool)
    shown = np.where(diverged, np.nan, values)
    finite = shown[np.isfinite(shown)]
    spread = finite.size and finite.min() > 0 and finite.max() > 10 * finite.min()
    norm = LogNorm(finite.min(), finite.max()) if log and spread else None
    image = ax.imshow(shown, cmap="viridis_r", norm=norm, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        r, g, b, _ = image.cmap(image.norm(v)) if np.isfinite(shown[i, j]) else (1, 1, 1, 1)
        ax.text(j, i, "diverged" if diverged[i, j] else f"{v:.3g}", ha="center", va="center", fontsize=8,
                color="k" if 0.3 * r + 0.6 * g + 0.1 * b > 0.5 else "w")
    ax.set_xticks(range(len(lam)), [f"{v:g}" for v in lam])
    ax.set_yticks(range(len(tau)), [f"{v:g}" for v in tau])
    ax.set(xlabel="lambda", ylabel="tau")
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label=label)
    return ax


def geodesic_arc(a, b, n=24):
    """n points along the great circle from unit vector a to unit vector b (slerp)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    angle = np.arccos(np.clip(a @ b, -1.0, 1.0))
    s = np.linspace(0.0, 1.0, n)[:, None]
    if angle < 1e-9:
        return np.repeat(a[None], n, axis=0)
    return (np.sin((1 - s) * angle) * a + np.sin(s * angle) * b) / np.sin(angle)


def sphere_axes(ax):
    """A 3-D axes prepared for points on S^2: a faint wireframe sphere, equal aspect, no panes."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 25), np.linspace(0, np.pi, 13))
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color=PLAN, alpha=0.15, linewidth=0.5)
    ax.set_box_aspect((1, 1, 1))
    ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), xticks=[-1, 0, 1], yticks=[-1, 0, 1], zticks=[-1, 0, 1])
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.set_visible(False)
    return ax


def plot_sphere_map(ax, x, y, t, arcs=24, s=4):
    """Source x, target y and mapped T(x) on S^2 (3-D axes from `sphere_axes`), with the
    great-circle arcs x -> T(x) of the first `arcs` points.  Returns (mapped scatter, arc lines)."""
    x, y, t = (np.asarray(z) for z in (x, y, t))
    ax.scatter(*x.T, s=s, color=SOURCE, alpha=0.4, label="source")
    ax.scatter(*y.T, s=s, color=TARGET, alpha=0.4, label="target")
    mapped = ax.scatter(*t.T, s=s, color=MAPPED, alpha=0.8, label="mapped T(x)")
    lines = [ax.plot(*geodesic_arc(a, b).T, color=PLAN, lw=0.8)[0] for a, b in zip(x[:arcs], t[:arcs])]
    ax.legend(loc="upper left", markerscale=3, fontsize=8)
    return mapped, lines
