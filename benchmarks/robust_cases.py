"""The cases that showed `fit` silently wrong off its tuned pairs, run as a new user would.

    python benchmarks/robust_cases.py

Prints one line per case: what it is, and what `fit` now does (L2-UVP and wall time, or the
error it raises).  docs/benchmarks.md, section 5, has the table before and after.
"""
import pickle
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import enot_lite
from enot_lite import benchmark


def timed(fn):
    start = time.perf_counter()
    try:
        return fn(), time.perf_counter() - start
    except Exception as err:  # the refusals are the point of several cases
        return err, time.perf_counter() - start


def uvp_case(name, pair, scale=1.0, **kw):
    source = lambda key, n: scale * pair.sample_source(key, n)
    target = lambda key, n: scale * pair.sample_target(key, n)
    result, seconds = timed(lambda: enot_lite.fit(source, target, progress=False, **kw))
    if isinstance(result, Exception):
        print(f"{name:58s} {type(result).__name__}: {str(result)[:110]} ({seconds:.1f} s)")
    else:
        uvp = benchmark.l2_uvp(lambda x: result.transport(scale * x) / scale, pair)
        print(f"{name:58s} L2-UVP {uvp:7.3f} % in {seconds:5.1f} s")


def refusal_case(name, fn):
    result, seconds = timed(fn)
    text = f"{type(result).__name__}: {str(result)[:110]}" if isinstance(result, Exception) else f"returned {result!r:.60}"
    print(f"{name:58s} {text} ({seconds:.2f} s)")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def main():
    pair8 = benchmark.gaussian(8, seed=0, condition=10, gap=5.0)
    uvp_case("Gaussian d=8, condition 10, gap 5: defaults", pair8)
    uvp_case("  same pair, steps=20000", pair8, steps=20000)
    uvp_case("  same pair, learning_rate=1e-3", pair8, learning_rate=1e-3)
    pair2 = benchmark.gaussian(2)
    for scale in (1e6, 1e-3, 1e-6):
        uvp_case(f"gaussian(2) with the data x {scale:g}", pair2, scale=scale)
    uvp_case("gaussian(2), learning_rate=1.0, 300 steps", pair2, learning_rate=1.0, steps=300)
    uvp_case("gaussian(2), learning_rate=0.3, 300 steps", pair2, learning_rate=0.3, steps=300)

    x = np.random.default_rng(0).normal(size=(40_000, 2)).astype(np.float32)
    x = x[np.argsort(x[:, 0])]
    result, seconds = timed(lambda: enot_lite.fit(x, x + 1.0, progress=False))
    print(f"{'40k rows sorted by x1, y = x + (1, 1): dual value (exact 1.00)':58s} {result.dual_value:.3f} in {seconds:.1f} s")

    numpy_sampler = lambda key, n: np.random.normal(size=(n, 2)).astype(np.float32)
    refusal_case("a sampler that uses np.random", lambda: enot_lite.fit(numpy_sampler, x, progress=False))
    with tempfile.TemporaryDirectory() as folder:
        marker, crafted = Path(folder) / "code-ran", Path(folder) / "model.pkl"
        crafted.write_bytes(pickle.dumps(_Payload(str(marker))))
        refusal_case("a crafted model file (a pickle that writes a file)", lambda: enot_lite.load(crafted))
        print(f"{'  ... and the code in it ran':58s} {marker.exists()}")
    refusal_case("d = 5000 with hidden=(20000,) * 3", lambda: enot_lite.fit(
        np.zeros((4, 5000), np.float32), np.ones((4, 5000), np.float32), hidden=(20000,) * 3, progress=False))
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}")


if __name__ == "__main__":
    main()
