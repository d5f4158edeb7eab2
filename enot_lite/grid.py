"""`sweep` (`enot_lite.sweep`): ENOT on a whole grid of tau, lambda and seeds, trained in one compiled program.

Each cell of the grid is the `fit` with its tau, lambda and seed, by construction: the same
checks, the same frame, blow-up limit and evaluation sample (pilot draws keyed by the seed), the
same initial state, the same chunks.  The cells train side by side: `jax.vmap` of
`train._train_chunk` over the traced settings (tau, lambda, the blow-up limit), the per-seed
frame and the per-cell state, sharing the data arrays (or the samplers, static in
`train.Config`).  lambda = 0 switches the expectile term off, and tau enters the loss only
through it, so the cells (t, 0, s) of every t are one training: it runs once per seed and each of
those cells gets its model with its own settings.  The grid axis is sharded over the local devices (`jax.sharding`), padded to a
multiple of their number; one dispatch per chunk trains every cell.  The divergence guard of
`train.iteration` freezes a cell that goes bad, so a diverging cell is reported by its settings
and the others train on.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from enot_lite import benchmark, checks, solver, train
from enot_lite.result import DivergenceError, ENOTResult

GRID = "grid"  # the name of the device mesh's one axis: the cells of the grid


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """A grid of trained models: one `ENOTResult` per (tau, lam, seed), as `fit` returns it.

    `grid[i, j, k]` is the cell tau[i], lam[j], seeds[k]; `grid.cell(tau=..., lam=..., seed=...)`
    finds one by its settings.  A cell that diverged holds its last good model (as
    `DivergenceError.result`), its error is in `.diverged[(tau, lam, seed)]`, and its dual value
    and L2-UVP read NaN in the table and the arrays."""

    tau: tuple[float, ...]
    lam: tuple[float, ...]
    seeds: tuple[int, ...]
    results: tuple[ENOTResult, ...]  # in the order of itertools.product(tau, lam, seeds)
    diverged: dict  # {(tau, lam, seed): DivergenceError}
    wall_s: float  # the whole sweep, compilation included
    devices: int  # the grid was sharded over this many devices
    padded: int  # cells added to divide the grid over them (trained, then dropped)
    trained: int  # trainings run: fewer than the cells when several taus share lam = 0
    interrupted: bool = False  # Ctrl-C (or the callback) stopped the sweep before its last step

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.tau), len(self.lam), len(self.seeds)

    def __len__(self):
        return len(self.results)

    def __getitem__(self, index) -> ENOTResult:
        i, j, k = (*index, 0)[:3] if isinstance(index, tuple) else (index, 0, 0)
        return self.results[int(np.ravel_multi_index((i, j, k), self.shape))]

    def cell(self, tau, lam, seed=None) -> ENOTResult:
        """The model trained with these settings (seed: the first seed if omitted)."""
        seed = self.seeds[0] if seed is None else seed
        try:
            return self[self.tau.index(tau), self.lam.index(lam), self.seeds.index(seed)]
        except ValueError:
            raise KeyError(f"no cell tau={tau!r}, lam={lam!r}, seed={seed!r} in this grid (tau {list(self.tau)}, lam "
                           f"{list(self.lam)}, seeds {list(self.seeds)})") from None

    def cells(self):
        """(tau, lam, seed, result) for every cell, in the order of `results`."""
        return [(*settings, result) for settings, result in zip(itertools.product(self.tau, self.lam, self.seeds),
                                                                self.results)]

    def _values(self, read):
        return np.array([np.nan if (t, l, s) in self.diverged else read(r) for t, l, s, r in self.cells()],
                        float).reshape(self.shape)

    @property
    def dual_value(self) -> np.ndarray:
        """The dual value of every cell, shape (tau, lam, seeds); NaN where a cell diverged."""
        return self._values(lambda r: r.dual_value)

    @property
    def l2_uvp(self) -> np.ndarray | None:
        """The final L2-UVP (%) of every cell on its evaluation sample (with a reference map),
        shape (tau, lam, seeds); NaN where a cell diverged."""
        if "l2_uvp" not in self.results[0].history:
            return None
        return self._values(lambda r: r.history["l2_uvp"][-1])

    def table(self) -> list[dict]:
        """One row per cell: tau, lam, seed, dual_value, l2_uvp (NaN without a reference map),
        steps done and diverged_at (-1 if the cell did not diverge)."""
        dual, uvp = self.dual_value.ravel(), self.l2_uvp
        uvp = np.full(len(self), np.nan) if uvp is None else uvp.ravel()
        return [dict(tau=t, lam=l, seed=s, dual_value=dual[c], l2_uvp=uvp[c],
                     steps=int(r.history["step"][-1]) if len(r.history["step"]) else 0,
                     diverged_at=self.diverged[t, l, s].step if (t, l, s) in self.diverged else -1)
                for c, (t, l, s, r) in enumerate(self.cells())]

    def __str__(self):
        head = f"{'tau':>7s} {'lam':>6s} {'seed':>5s} {'dual value':>11s} {'L2-UVP %':>9s}  status"
        lines = [head, "-" * len(head)]
        for row in self.table():
            status = f"diverged at step {row['diverged_at']}" if row["diverged_at"] >= 0 else f"{row['steps']} steps"
            lines.append(f"{row['tau']:7.4g} {row['lam']:6.3g} {row['seed']:5d} {row['dual_value']:11.5g} "
                         f"{row['l2_uvp']:9.4g}  {status}")
        n, extra = len(self), f", {self.padded} padding cell(s) dropped" if self.padded else ""
        if self.trained < n:
            extra = f", {self.trained} trainings (the lam = 0 cells of each seed are one)" + extra
        lines.append(f"{n} cells ({' x '.join(map(str, self.shape))} tau x lam x seeds) in {self.wall_s:.1f} s on "
                     f"{self.devices} device(s){extra}" + (", interrupted" if self.interrupted else ""))
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def plot(self, ax=None, metric="l2_uvp", **kwargs):
        """A heat map of `metric` ("l2_uvp" or "dual_value") over tau x lam, the mean over seeds;
        diverged cells are marked (`plotting.plot_grid`)."""
        from enot_lite import plotting

        values = {"l2_uvp": self.l2_uvp, "dual_value": self.dual_value}[metric]
        if values is None:
            raise ValueError("this grid has no L2-UVP: pass reference_map= to sweep")
        diverged = np.isnan(self.dual_value).any(axis=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the mean of an all-NaN row of seeds
            mean = np.nanmean(values, axis=2)
        label = {"l2_uvp": "L2-UVP (%)", "dual_value": "dual value"}[metric]
        if len(self.seeds) > 1:
            label += f", mean of {len(self.seeds)} seeds"
        return plotting.plot_grid(mean, self.tau, self.lam, ax=ax, diverged=diverged, label=label, **kwargs)


# ----------------------------------------------------------------------------- sweep


_FIT_DEFAULTS = {name: p.default for name, p in inspect.signature(solver.fit).parameters.items() if p.default is not p.empty}


def sweep(source, target, *, tau=(0.99,), lam=(1.0,), seeds=(0,), progress=True, callback=None,
          **fit_kwargs) -> SweepResult:
    """Train `fit(source, target, tau=t, lam=l, seed=s, **fit_kwargs)` for every (t, l, s) in
    the product of `tau`, `lam` and `seeds`, side by side in one compiled program.

    Args:
      source, target: as for `fit`.
      tau, lam, seeds: the values of each axis (a number is one value); no repeats.
      progress: a tqdm progress bar over chunks.
      callback: optional callback(step, grid) between chunks (`grid` a `SweepResult` of the
        models so far); return True to stop.
      **fit_kwargs: any other argument of `fit` (steps, hidden, cost, reference_map, ...).

    Returns a `SweepResult`: each cell is the `ENOTResult` of that `fit`: the same frame, keys,
    initial state and chunks, in a program whose batched matrix products round differently, so
    the two agree to float rounding early in training and drift apart as Adam amplifies it
    (docs/benchmarks.md, section 6, states the measured differences).  A cell whose training diverges does not raise: it keeps its last good model and
    its `DivergenceError` is in `.diverged`, reported in a warning by its settings.  Bad input,
    and a grid that does not fit in memory, are refused before anything compiles.
    """
    unknown = sorted(set(fit_kwargs) - set(_FIT_DEFAULTS) | set(fit_kwargs) & {"tau", "lam", "seed"})
    if unknown:
        hint = " (sweep takes seeds=[...])" if "seed" in unknown else ""
        raise TypeError(f"sweep got unexpected keyword argument(s) {', '.join(unknown)}{hint}")
    axes = dict(tau=_axis("tau", tau), lam=_axis("lam", lam), seed=_axis("seeds", seeds))
    kwargs = {k: v for k, v in _FIT_DEFAULTS.items() if k not in ("progress", "callback")} | fit_kwargs
    kwargs |= {name: values[0] for name, values in axes.items()}
    problem = solver._check(source, target, callback=callback, **kwargs)
    for name, values in axes.items():  # every value of every axis, with fit's checks
        checked = tuple(solver._settings(**problem.settings | {name: v})[name] for v in values)
        axes[name] = _distinct({"seed": "seeds"}.get(name, name), checked)
    cells = list(itertools.product(axes["tau"], axes["lam"], axes["seed"]))
    trained_as = lambda t, l, s: (axes["tau"][0] if l == 0 else t, l, s)  # at lam = 0, tau does not enter
    trainings = list(dict.fromkeys(trained_as(*cell) for cell in cells))
    slots = [trainings.index(trained_as(*cell)) for cell in cells]
    mesh = Mesh(np.array(jax.local_devices()), (GRID,))
    padding = -len(trainings) % mesh.size
    fits_in_memory(problem.dim, problem.hidden, problem.settings["batch_size"], len(trainings))

    start = time.perf_counter()
    runs = {seed: solver._prepare(problem, seed) for seed in axes["seed"]}
    padded = [*trainings, *[trainings[0]] * padding]  # a padding cell repeats the first one
    config, _ = solver._configure(problem, *cells[0][:2], runs[cells[0][2]].limit)
    column = lambda values, dtype=jnp.float32: jnp.asarray(values, dtype)
    hyper = train.Hyper(column([t for t, _, _ in padded]), column([l for _, l, _ in padded]),
                        column([problem.settings["learning_rate"]] * len(padded)),
                        column([problem.settings["steps"]] * len(padded), jnp.int32),
                        column([runs[s].limit for _, _, s in padded]))
    shared = runs[cells[0][2]].data  # the arrays (or None for samplers), the same for every seed
    data = train.Data(shared.source, shared.target, jnp.stack([runs[s].data.shift for _, _, s in padded]),
                      jnp.stack([runs[s].data.scale for _, _, s in padded]))
    keys = jax.random.wrap_key_data(jnp.stack([jax.random.key_data(runs[s].key) for _, _, s in padded]))
    models = [solver._model(problem, config, runs[s].frame, problem.settings | dict(tau=t, lam=l, seed=s))
              for t, l, s in cells]
    return _train(config, hyper, data, keys, mesh, cells, trainings, slots, runs, models, progress, callback, start)


def _axis(name, values):
    """The values of one axis of the grid as a tuple (a number is one value); no repeats."""
    if isinstance(values, (int, float, np.integer, np.floating)) and not isinstance(values, (bool, np.bool_)):
        values = (values,)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a number or a sequence of numbers, got {type(values).__name__}")
    values = tuple(values.tolist() if isinstance(values, np.ndarray) else values)
    if not values:
        raise ValueError(f"{name} must have at least one value, got none")
    return values


def _distinct(name, values):
    if len(set(values)) < len(values):
        raise ValueError(f"{name} has repeated values {list(values)}: each cell of the grid must be a different fit")
    return values


def fits_in_memory(dim, hidden, batch_size, cells):
    """Refuse (ValueError) a grid of `cells` models that does not fit in memory, before compiling:
    one model's `checks.memory_estimate` times the models that train at once in one device's
    memory (every cell, padding included, on CPU devices, which share the host's RAM; a device's
    share on accelerators).  Returns the estimate in bytes."""
    devices = jax.local_devices()
    one, total = checks.memory_estimate(dim, hidden, batch_size), cells + -cells % len(devices)
    at_once = total if devices[0].platform == "cpu" else total // len(devices)
    need, have = one * at_once, checks.available_memory()
    if need > have:
        raise ValueError(
            f"a grid of {cells} cells ({total} with padding over {len(devices)} device(s)) of networks {list(hidden)} on "
            f"R^{dim} with batch_size={batch_size} needs about {need / 2**30:.2f} GiB ({at_once} models at once, "
            f"{one / 2**20:.0f} MiB each), and {have / 2**30:.2f} GiB are free: use fewer values of tau, lam or seeds, "
            "a smaller hidden or batch_size")
    return need


@functools.cache
def _programs(mesh):
    """The compiled programs of a grid sharded over `mesh`: the initial states and a chunk of
    training, each cell's `train._train_chunk` under `jax.vmap` (`config` static)."""
    cells, shared = NamedSharding(mesh, PartitionSpec(GRID)), NamedSharding(mesh, PartitionSpec())
    data = train.Data(shared, shared, cells, cells)
    init = jax.jit(lambda config, keys: jax.vmap(lambda key: train.init_state(config, key))(keys), static_argnums=0,
                   in_shardings=cells, out_shardings=cells)
    batched = jax.vmap(train._train_chunk, in_axes=(None, 0, train.Data(None, None, 0, 0), 0))
    chunk = jax.jit(batched, static_argnums=0, in_shardings=(cells, data, cells), out_shardings=cells,
                    compiler_options=train.compiler_options())
    return init, chunk


def _train(config, hyper, data, keys, mesh, cells, trainings, slots, runs, models, progress, callback, start):
    """sweep's loop over chunks, `solver._train`'s with a history and a divergence per training
    and a model per cell: cell c is training `slots[c]` of `trainings`, `models[c](state,
    history)` makes its `ENOTResult`; `runs[seed]` holds a seed's frame and evaluation sample."""
    histories = [solver._history(runs[cells[0][2]].evaluation[2] is not None) for _ in trainings]
    diverged = {}  # training index -> (step, blew_up, its last good params on the host)
    learning_rate = float(hyper.learning_rate[0])
    networks = lambda state: jax.device_get(jax.vmap(functools.partial(train.model_params, config))(state))

    def model(params, c):  # cell c's model from its training's params (a host copy)
        history = {k: np.asarray(v) for k, v in histories[slots[c]].items()}
        return models[c](params, history)

    def error(c):  # cell c's DivergenceError, worded with its own settings
        (tau, lam, seed), (at, blew_up, params) = cells[c], diverged[slots[c]]
        return DivergenceError(solver._diverged(at, blew_up, tau, lam, learning_rate, seed), at, model(params, c))

    def log(state, metrics):  # the chunk's metrics into every live training's history; record divergences
        metrics, steps = jax.device_get((metrics, state.step))
        now, with_l2_uvp = time.perf_counter() - start, "l2_uvp" in histories[0]
        newly = any(metrics["diverged_at"][k] >= 0 for k in range(len(trainings)) if k not in diverged)
        params = networks(state) if with_l2_uvp or newly else None  # only when needed
        for k, (_, _, seed) in enumerate(trainings):
            if k in diverged:
                continue
            if (at := int(metrics["diverged_at"][k])) >= 0:
                diverged[k] = (at, bool(metrics["blew_up"][k]), jax.tree.map(lambda a: a[k], params))
                continue
            history, run = histories[k], runs[seed]
            solver._record(history, int(steps[k]), now, {name: v[k] for name, v in metrics.items()},
                           run.frame.cost_factor)
            if with_l2_uvp:
                x_eval, _, t_eval, var = run.evaluation
                transport = model(jax.tree.map(lambda a: a[k], params), slots.index(k)).transport
                history["l2_uvp"].append(benchmark.l2_uvp_of(transport(x_eval), t_eval, var))

    def grid(state, interrupted, final):  # the SweepResult of `state`
        params, results, errors = networks(state), [], {}
        for c, (_, _, seed) in enumerate(cells):
            if slots[c] in diverged:
                errors[cells[c]] = error(c)
                results.append(errors[cells[c]].result)
                continue
            result = model(jax.tree.map(lambda a: a[slots[c]], params), c)
            x_eval, y_eval, _, _ = runs[seed].evaluation
            dual = result.dual_objective(x_eval, y_eval) if final else histories[slots[c]]["dual_value"][-1]
            results.append(dataclasses.replace(result, dual_value=dual, interrupted=interrupted))
        axes = [tuple(dict.fromkeys(values)) for values in zip(*cells)]
        return SweepResult(*axes, tuple(results), errors, time.perf_counter() - start, mesh.size,
                           len(hyper.tau) - len(trainings), len(trainings), interrupted)

    init, chunk = _programs(mesh)
    state = init(config, keys)
    n_chunks = train.n_chunks(config, hyper.steps[0])
    bar, interrupted = solver._progress_bar(n_chunks, progress), False
    try:
        for _ in range(n_chunks):
            new, metrics = chunk(config, hyper, data, state)
            log(new, metrics)
            state = new  # `state` only ever holds a finished chunk
            bar.update(1)
            if diverged:
                bar.set_postfix(diverged=len(diverged), refresh=False)
            if len(diverged) == len(trainings):
                break
            if callback is not None and callback(int(np.max(jax.device_get(state.step))), grid(state, False, False)):
                break
    except KeyboardInterrupt:  # the state of the last chunk that finished
        interrupted = True
        warnings.warn(f"sweep interrupted after {int(np.max(jax.device_get(state.step)))} of {int(hyper.steps[0])} "
                      "steps: the grid holds the models at that step (.interrupted is True)", stacklevel=3)
    finally:
        bar.close()
    result = grid(state, interrupted, True)
    if result.diverged:
        warnings.warn(f"{len(result.diverged)} of {len(result)} cells diverged (the others trained; their errors are in "
                      ".diverged): " + "; ".join(f"tau={t:g}, lam={l:g}, seed={s} at step {e.step}"
                                                 for (t, l, s), e in result.diverged.items()), stacklevel=3)
    return result
