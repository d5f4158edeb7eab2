"""Steps/s of this checkout's training loop against an earlier commit's, side by side in one process.

    python benchmarks/ab_speed.py --base 838b486 --preset ott --dim 8 --rounds 10
    python benchmarks/ab_speed.py --base 838b486 --preset quick --dim 2

The base commit's `enot_lite/` is exported with `git archive` into a temporary folder as the
package `enot_base`, so both versions are imported side by side.  Both compile one training chunk
for the same settings and the same pre-sampled arrays; then the rounds alternate one chunk of
each (timed after `block_until_ready`) and the script prints steps/s per round, the median of the
per-round ratios (this checkout / base), whether the two trainings give the same parameters and
whether XLA compiled the same program for both (instructions compared with value names and
source locations dropped).
"""
from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def import_base(rev, folder):
    """The package `enot_lite` at git revision `rev`, imported as `enot_base`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "enot_lite"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    package = Path(folder) / "enot_lite"
    for path in package.rglob("*.py"):
        path.write_text(path.read_text().replace("enot_lite", "enot_base"))
    package.rename(Path(folder) / "enot_base")
    sys.path.insert(0, folder)
    importlib.import_module("enot_base.bench")
    return importlib.import_module("enot_base")


def chunk_runner(package, dim, settings, data, seed=0):
    """(run_one_chunk, steps per chunk, parameters, compiled program) for `package`'s own training loop: the
    machinery of `train` where the package has it, else the older `solver` layout."""
    if hasattr(package, "train"):
        config, hyper = package.bench.configure(dim, settings)
        if hasattr(package.train, "raw"):  # batches moved into a frame, networks from a key
            data = package.train.raw(data, dim)
            state = [package.train.init_state(config, jax.random.key(seed))]
        else:
            state = [package.train.init_state(config, seed)]
        params = lambda: state[0].params
        step_fn, compiled = package.train.train_chunk, package.train.compiled_train_chunk()
    else:  # before the solver was split into loss / train / result / solver
        s, fit_defaults = package.solver, package.bench._fit_defaults(dim) | settings
        config = s.Config(dim=dim, hidden=tuple(fit_defaults["hidden"]), batch_size=fit_defaults["batch_size"],
                          chunk=s._chunk_size(fit_defaults["steps"], 2), bidirectional=True,
                          cost=package.costs.SqEuclidean(), sample_source=None, sample_target=None,
                          b1=fit_defaults["betas"][0], b2=fit_defaults["betas"][1],
                          final_lr_fraction=0.01 if fit_defaults["schedule"] == "cosine" else 1.0)
        hyper = s.Hyper(*(jnp.float32(fit_defaults[k]) for k in ("tau", "lam", "learning_rate")),
                        jnp.int32(fit_defaults["steps"]))
        state = [s.init_state(config, seed)]
        params = lambda: (state[0].params_f, state[0].params_g)
        step_fn, compiled = s.train_chunk, s._compiled_train_chunk()

    def run():
        state[0], metrics = step_fn(config, hyper, data, state[0])
        jax.block_until_ready(metrics)

    def program():
        """The compiled chunk's instructions, with value names and source locations dropped."""
        text = compiled.lower(config, hyper, data, state[0]).compile().as_text()
        text = re.sub(r", metadata=\{[^}]*\}", "", text)
        return [re.sub(r"[%\w.-]+\.\d+", "v", line) for line in text.splitlines() if " = " in line]

    per_chunk = config.chunk * (2 if config.bidirectional else 1)
    return run, per_chunk, params, program


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--preset", default="ott", help="a preset of `python -m enot_lite.bench`")
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    import enot_lite
    import enot_lite.bench

    with tempfile.TemporaryDirectory() as folder:
        base = import_base(args.base, folder)
        preset = enot_lite.bench.PRESETS[args.preset](args.dim)
        # a budget that never ends, at the step size of the preset's own budget
        settings = preset | {"steps": 10**6, "learning_rate": enot_lite.bench.with_defaults(args.dim, preset)["learning_rate"]}
        pair = enot_lite.benchmark.mix3tomix10(args.dim)
        keys = jax.random.split(jax.random.key(2024))
        data = tuple(jnp.asarray(f(k, 65536)) for f, k in zip((pair.sample_source, pair.sample_target), keys))
        runners = {name: chunk_runner(package, args.dim, settings, data) for name, package in
                   (("base", base), ("this", enot_lite))}
        same_program = runners["base"][3]() == runners["this"][3]()
        for run, *_ in runners.values():
            run()  # compile, and one warm-up chunk
        same = all(np.array_equal(a, b) for a, b in zip(*(jax.tree.leaves(r[2]()) for r in runners.values()), strict=True))
        rates = {name: [] for name in runners}
        for i in range(args.rounds):
            for name, (run, per_chunk, *_) in (runners.items() if i % 2 else reversed(runners.items())):
                start = time.perf_counter()
                run()
                rates[name].append(per_chunk / (time.perf_counter() - start))
            print(f"round {i}: base {rates['base'][-1]:7.1f}  this {rates['this'][-1]:7.1f} steps/s", flush=True)
    ratios = np.array(rates["this"]) / np.array(rates["base"])
    print(f"{args.preset} preset, D = {args.dim}, {runners['this'][1]} steps per chunk: median steps/s base "
          f"{np.median(rates['base']):.1f}, this {np.median(rates['this']):.1f}; median per-round ratio "
          f"{np.median(ratios):.3f} (range {ratios.min():.3f}-{ratios.max():.3f}); "
          f"parameters after the first chunk bit-identical: {same}; compiled programs identical instruction "
          f"for instruction: {same_program}")


if __name__ == "__main__":
    main()
