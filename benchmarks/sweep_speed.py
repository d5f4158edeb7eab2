"""A 3 x 3 `sweep` of tau x lambda against one `fit` with the same settings, side by side in one run.

    python benchmarks/sweep_speed.py                      # everything below, one run
    python benchmarks/sweep_speed.py --steps 1000 --skip compare widgets

Four parts, each skippable (--skip):
- speed: Mix3toMix10 D = 2 with fit's defaults (5000 steps).  Each wall time is measured in a
  fresh process, so it includes all of its compilation (nothing is cached between them): one
  `fit` (tau 0.99, lambda 1), the 3 x 3 `sweep`, and the sweep with two host devices
  (XLA_FLAGS=--xla_force_host_platform_device_count=2, the grid split over two cores).  Per-model
  steps/s is the steady state (first to last logged chunk); FLOP utilisation is that rate times
  the cells times XLA's FLOPs per step (`bench.flops_per_step`) against the measured fp32 matmul
  peak (`bench.matmul_peak`).
- compare: in this process, each cell against a separate `fit` of its tau, lambda and seed: the
  largest difference of the maps on 4096 source points (absolute, and relative to the target's
  standard deviation per coordinate) and of the parameters.
- memory: Mix3toMix10 D = 64 (fit's default network), --memory-steps per cell (peak memory does
  not grow with the steps): the peak resident memory (VmHWM, reset after loading the pair) of a
  child that runs the 3 x 3 sweep, of one that runs the single fit and of one that only imports
  and loads the pair, XLA's memory analysis of the training chunk each ran, beside the estimate
  that `sweep` checks before compiling (`grid.fits_in_memory`).
- widgets: the explorer (1000 steps) and its grid view (300 steps per cell) on moons -> S-curve:
  the first draws (they compile), then three slider moves of the explorer and three clicks of
  the grid view after slider moves, each timed to the end of drawing the figure, and the XLA
  compilations after the first draw.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

TAUS, LAMS = (0.9, 0.99, 1.0), (0.3, 1.0, 2.0)  # the centre cell is fit's default (0.99, 1)

CHILD = r"""
import json, sys, time
args = json.loads(sys.argv[1])
import jax, numpy as np, enot_lite
from enot_lite import bench, benchmark, grid, train


def status(field):  # kB -> bytes, from /proc/self/status
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field + ":"))


programs = []  # (jitted chunk, its first arguments): XLA's memory analysis of the program that trained


def recording(jitted):
    def call(*a):
        programs.append((jitted, a)) if not programs else None
        return jitted(*a)
    return call


train.train_chunk = recording(train.compiled_train_chunk())  # fit's chunk, looked up at call time
_programs = grid._programs
grid._programs = lambda mesh: (lambda init, chunk: (init, recording(chunk)))(*_programs(mesh))
pair = benchmark.mix3tomix10(args["dim"])
kw = dict(steps=args["steps"], progress=False, reference_map=pair.optimal_map)
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak resident memory (VmHWM) to the current
    fh.write("5")
rss_loaded = status("VmRSS")
start = time.perf_counter()
if args["what"] == "fit":
    r = enot_lite.fit(pair.sample_source, pair.sample_target, tau=0.99, lam=1.0, **kw)
    wall, rate, cells, uvp = time.perf_counter() - start, bench.steady_rate(r.history["step"], r.history["time"]), 1, [r.history["l2_uvp"][-1]]
elif args["what"] == "sweep":
    g = enot_lite.sweep(pair.sample_source, pair.sample_target, tau=args["taus"], lam=args["lams"], **kw)
    wall, r = time.perf_counter() - start, g.results[0]
    rate, cells, uvp = bench.steady_rate(r.history["step"], r.history["time"]), len(g), g.l2_uvp.ravel().tolist()
else:
    wall, rate, cells, uvp = 0.0, float("nan"), 0, []
peak = status("VmHWM")
xla = {}
if programs:
    jitted, a = programs[0]
    m = jitted.lower(*a).compile().memory_analysis()
    xla = {k: getattr(m, k + "_size_in_bytes") for k in ("argument", "output", "temp", "alias")}
print(json.dumps(dict(what=args["what"], wall=wall, rate=rate, cells=cells, devices=len(jax.devices()), l2_uvp=uvp,
                      rss_loaded=rss_loaded, rss=peak, xla=xla)))
"""


def child(what, dim, steps, devices=1):
    """Run one measurement in a fresh process; its JSON line."""
    env = dict(os.environ)
    if devices > 1:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}".strip()
    args = json.dumps(dict(what=what, dim=dim, steps=steps, taus=TAUS, lams=LAMS))
    out = subprocess.run([sys.executable, "-c", CHILD, args], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load():
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def speed(args):
    from enot_lite import bench

    dim = 2
    flops = bench.flops_per_step(dim, bench.with_defaults(dim, {"steps": args.steps}))
    peak = bench.matmul_peak()
    print(f"\n== speed: Mix3toMix10 D = {dim}, fit's defaults, {args.steps} steps; grid tau {TAUS} x lam {LAMS}; "
          f"{flops / 1e6:.2f} MFLOP per step; matmul peak {peak:.0f} GFLOP/s; load {load()}")
    head = f"{'run':22s} {'wall s':>7s} {'cells':>5s} {'steps/s per model':>18s} {'GFLOP/s':>8s} {'% peak':>7s}"
    print(head + "\n" + "-" * len(head))
    rows = {}
    for what, devices in (("fit", 1), ("sweep", 1), ("sweep", 2)):
        row = rows[what, devices] = child(what, dim, args.steps, devices)
        gflops = row["rate"] * row["cells"] * flops / 1e9
        print(f"{what + f' ({devices} device' + ('s)' if devices > 1 else ')'):22s} {row['wall']:7.1f} "
              f"{row['cells']:5d} {row['rate']:18.1f} {gflops:8.2f} {100 * gflops / peak:6.2f}%   (load {load()})",
              flush=True)
    for devices in (1, 2):
        print(f"sweep ({devices} device(s)) / fit wall time: {rows['sweep', devices]['wall'] / rows['fit', 1]['wall']:.2f}x")
    print(f"L2-UVP of the cells (%): {[round(v, 3) for v in rows['sweep', 1]['l2_uvp']]}; "
          f"fit alone: {rows['fit', 1]['l2_uvp'][0]:.3f}")


def compare(args):
    """Each cell against a separate `fit` with its tau, lambda and seed."""
    import jax
    import numpy as np

    import enot_lite
    from enot_lite import benchmark

    dim = 2
    pair = benchmark.mix3tomix10(dim)
    kw = dict(steps=args.steps, progress=False)
    grid = enot_lite.sweep(pair.sample_source, pair.sample_target, tau=TAUS, lam=LAMS, **kw)
    x = np.asarray(pair.sample_source(jax.random.key(99), 4096))
    scale = float(np.sqrt(pair.target_var / dim))
    print(f"\n== compare: each cell against a separate fit (D = {dim}, {args.steps} steps): max |T_sweep - T_fit| on "
          f"4096 points, relative to the target's sd per coordinate, and max |param difference|; load {load()}")
    worst_map, worst_params = 0.0, 0.0
    for tau, lam, seed, cell in grid.cells():
        alone = enot_lite.fit(pair.sample_source, pair.sample_target, tau=tau, lam=lam, seed=seed, **kw)
        maps = float(np.max(np.abs(np.asarray(cell.transport(x)) - np.asarray(alone.transport(x)))))
        params = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
                     zip(jax.tree.leaves((cell.params_f, cell.params_g)), jax.tree.leaves((alone.params_f, alone.params_g))))
        worst_map, worst_params = max(worst_map, maps / scale), max(worst_params, params)
        print(f"  tau {tau:<5g} lam {lam:<4g}: map {maps:.2e} ({maps / scale:.1e} sd), params {params:.2e}, "
              f"dual {cell.dual_value:.6f} vs {alone.dual_value:.6f}", flush=True)
    print(f"largest map difference: {worst_map:.1e} of the target's sd; largest parameter difference {worst_params:.1e}")


def memory(args):
    from enot_lite import checks, grid, solver

    dim, hidden = 64, solver.default_hidden(64)
    one = checks.memory_estimate(dim, hidden, 256)
    print(f"\n== memory: Mix3toMix10 D = {dim}, fit's defaults (hidden {hidden}, batch 256), {args.memory_steps} steps "
          f"per cell; load {load()}")
    print(f"estimate checked before compiling: {one / 2**20:.1f} MiB per model, "
          f"{grid.fits_in_memory(dim, hidden, 256, 9) / 2**20:.0f} MiB for 3 x 3")
    for what in ("load", "fit", "sweep"):
        row = child(what, dim, args.memory_steps)
        xla = row["xla"]
        program = (f"; XLA's analysis of its training chunk: arguments {xla['argument'] / 2**20:.1f} MiB, outputs "
                   f"{xla['output'] / 2**20:.1f} MiB (aliased {xla['alias'] / 2**20:.1f}), temporaries "
                   f"{xla['temp'] / 2**20:.1f} MiB") if xla else ""
        print(f"{what:6s}: peak resident memory {row['rss'] / 2**20:5.0f} MiB, {(row['rss'] - row['rss_loaded']) / 2**20:4.0f} "
              f"MiB above the {row['rss_loaded'] / 2**20:.0f} MiB after loading the pair; wall {row['wall']:.1f} s{program}",
              flush=True)


def widgets(args):
    import matplotlib

    matplotlib.use("Agg")
    from enot_lite import train
    from enot_lite import widgets as W

    def timed(action, figure):
        start = time.perf_counter()
        action()
        figure.canvas.draw()
        return time.perf_counter() - start

    print(f"\n== widgets: moons -> S-curve, explorer 1000 steps, grid view 300 steps per cell; load {load()}")
    start = time.perf_counter()
    explorer = W.explorer(steps=1000)
    explorer.figure.canvas.draw()
    first_explorer = time.perf_counter() - start
    start = time.perf_counter()
    view = W.grid_view(explorer, steps=300)
    view.figure.canvas.draw()
    print(f"first draw (compiles): explorer {first_explorer:.1f} s, grid view {time.perf_counter() - start:.1f} s")
    compiled = train.compilations()
    moves = [(0.9, 0.3), (0.95, 0.5), (1.0, 1.5)]
    single = [timed(lambda: setattr(explorer.tau, "value", tau), explorer.figure) for tau, _ in moves]
    grids = []
    for tau, lam in moves:
        explorer.tau.value, explorer.lam.value = tau, lam
        grids.append(timed(view.train.click, view.figure))
        assert not view.output.outputs, view.output.outputs
    print(f"explorer redraw after a slider move: {', '.join(f'{s:.2f}' for s in single)} s")
    print(f"grid view redraw on its button (9 models): {', '.join(f'{s:.2f}' for s in grids)} s")
    print(f"compilations after the first draws: {train.compilations() - compiled}; load {load()}")


PARTS = {"speed": speed, "compare": compare, "memory": memory, "widgets": widgets}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000, help="steps per model in speed and compare")
    parser.add_argument("--memory-steps", type=int, default=500, help="steps per model in memory")
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(PARTS))
    args = parser.parse_args(argv)
    import jax

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, jax {jax.__version__}; load {load()}")
    for name, part in PARTS.items():
        if name not in args.skip:
            part(args)


if __name__ == "__main__":
    main()
