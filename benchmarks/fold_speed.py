"""Compile time and run time of the training chunk with the two directions as two traced updates
(`Config.fold=False`) and folded into one (`fold=True`), side by side in one process.

    python benchmarks/fold_speed.py                 # fit's defaults at D = 2 and 8, the paper preset at D = 64
    python benchmarks/fold_speed.py --rounds 12

For each case both programs are compiled (timed, each once: they are different programs) for the
same settings, pre-sampled arrays and PRNG key; then the rounds alternate one chunk of each (timed
after `block_until_ready`; the order flips every round).  It prints the compile times, the median
ms per chunk, the median per-round ratio folded / plain, the steps at which the compile time saved
equals the extra run time, and the largest parameter difference after the rounds.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from enot_lite import bench, benchmark, train

CASES = (("quick", 2), ("quick", 8), ("paper", 64))


def program(preset, dim, fold, data, iterations):
    """(compile seconds, run one chunk, state getter, steps per chunk) for one variant."""
    settings = bench.PRESETS[preset](dim) | {"steps": 10**6}  # a budget that never ends
    config, hyper = bench.configure(dim, settings, fold=fold)
    config = dataclasses.replace(config, chunk=iterations)
    state = [train.init_state(config, jax.random.key(0))]
    start = time.perf_counter()
    compiled = train.compiled_train_chunk().lower(config, hyper, data, state[0]).compile()
    seconds = time.perf_counter() - start

    def run():
        state[0], metrics = compiled(hyper, data, state[0])
        jax.block_until_ready(metrics)

    return seconds, run, lambda: state[0].params, 2 * iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=50, help="scan iterations per chunk")
    args = parser.parse_args()
    print(f"{'case':12s} {'compile plain':>13s} {'folded':>7s} {'ms/chunk plain':>14s} {'folded':>7s} "
          f"{'folded/plain':>12s} {'break-even steps':>16s} {'max |dparam|':>12s}")
    for preset, dim in CASES:
        pair = benchmark.mix3tomix10(dim)
        keys = jax.random.split(jax.random.key(2024))
        arrays = tuple(jnp.asarray(f(k, 65536)) for f, k in zip((pair.sample_source, pair.sample_target), keys))
        data = train.raw(arrays, dim)
        variants = {fold: program(preset, dim, fold, data, args.iterations) for fold in (False, True)}
        for _, run, _, _ in variants.values():
            run()  # one warm-up chunk
        times = {fold: [] for fold in variants}
        for i in range(args.rounds):
            for fold in ((False, True) if i % 2 else (True, False)):
                start = time.perf_counter()
                variants[fold][1]()
                times[fold].append(time.perf_counter() - start)
        ratio = np.median(np.array(times[True]) / np.array(times[False]))
        plain, folded = np.median(times[False]), np.median(times[True])
        saved = variants[False][0] - variants[True][0]
        steps = variants[False][3]
        even = saved / ((folded - plain) / steps) if folded > plain else float("inf")
        diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
                   zip(jax.tree.leaves(variants[False][2]()), jax.tree.leaves(variants[True][2]())))
        print(f"{preset + ' D=' + str(dim):12s} {variants[False][0]:12.1f}s {variants[True][0]:6.1f}s {1000 * plain:14.1f} "
              f"{1000 * folded:7.1f} {ratio:12.3f} {even:16.0f} {diff:12.1e}", flush=True)
    print(f"{args.iterations} scan iterations ({2 * args.iterations} updates) per chunk, {args.rounds} alternating rounds; "
          f"jax {jax.__version__}, {jax.devices()[0].device_kind}")


if __name__ == "__main__":
    main()
