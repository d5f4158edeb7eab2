"""bf16 matrix products on this CPU (issue #20's lever "bf16 matmuls where this CPU gains from them").

    python benchmarks/bf16_matmul.py                          # products alone, then ENOT's potential gradient
    python benchmarks/bf16_matmul.py --fit 64 --products f32  # instead: the paper preset for 2000 updates
    python benchmarks/bf16_matmul.py --fit 64 --products bf16 # (one process each: nothing traced is shared)

bf16 here means bf16 operands with f32 accumulation and f32 parameters and activations: every
Dense layer's product is `matmul` below, whose custom VJP makes the backward products bf16 too
(plain autodiff would multiply an f32 cotangent by a bf16 operand, an f32 product).  Prints
GFLOP/s of single products of ENOT's shapes (batch x width x width) under XLA's default options
and under the training chunk's (`train.compiler_options()`), then milliseconds per gradient of
the T-loss mean ||x - grad f(x)||^2 in the parameters (the second-order product chain of an
update), and with --fit the preset's steps/s and L2-UVP after 2000 updates.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import time

import flax.linen as nn
import jax
import jax.numpy as jnp

import enot_lite
from enot_lite import bench, benchmark, potentials, shared_backward, train

BF16 = jnp.bfloat16


@jax.custom_vjp
def matmul(a, w):
    """a @ w with bf16 operands, accumulated in f32 (a: (..., k), w: (k, n))."""
    return jax.lax.dot_general(a.astype(BF16), w.astype(BF16), (((a.ndim - 1,), (0,)), ((), ())),
                               preferred_element_type=jnp.float32)


def _matmul_fwd(a, w):
    return matmul(a, w), (a, w)


def _matmul_bwd(residuals, ct):
    a, w = residuals
    return matmul(ct, w.T), matmul(a.reshape(-1, a.shape[-1]).T, ct.reshape(-1, ct.shape[-1]))


matmul.defvjp(_matmul_fwd, _matmul_bwd)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """flax's Dense product, as `matmul` (Dense contracts the last axis with the kernel's first)."""
    assert dimension_numbers == (((lhs.ndim - 1,), (0,)), ((), ())), dimension_numbers
    return matmul(lhs, rhs)


@contextlib.contextmanager
def bf16_products():
    """Every flax Dense layer built inside (so `potentials.Potential`'s) multiplies with `matmul`."""
    dense = nn.Dense
    nn.Dense = functools.partial(dense, dot_general=dot_general)
    try:
        yield
    finally:
        nn.Dense = dense


def seconds(fn, *args, repeats=50):
    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats


def products():
    print("| product (n x k x m) | options | f32 GFLOP/s | bf16 GFLOP/s |\n|---|---|---|---|")
    for options, name in (({}, "XLA default"), (train.compiler_options(), "training chunk's")):
        for n, k, m in ((1024, 256, 256), (1024, 128, 128), (256, 128, 128)):
            rates = []
            for dtype in (jnp.float32, BF16):
                a = jax.random.normal(jax.random.key(0), (n, k)).astype(dtype)
                b = jax.random.normal(jax.random.key(1), (k, m)).astype(dtype)
                f = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32), compiler_options=options)
                rates.append(2 * n * k * m / seconds(f, a, b, repeats=100) / 1e9)
            print(f"| {n} x {k} x {m} | {name} | {rates[0]:.0f} | {rates[1]:.0f} |", flush=True)


def potential_gradient(width=256, dim=64, batch=1024):
    x = jax.random.normal(jax.random.key(0), (batch, dim))
    hidden = (width,) * 3
    params = potentials.Potential(hidden).init(jax.random.key(1), x)
    print(f"\n| T-loss gradient, width {width}, D = {dim}, batch {batch} | options | ms |\n|---|---|---|")

    def t_loss(p, x):
        grad_f = jax.grad(lambda z: potentials.value(hidden, p, z).sum())(x)
        return jnp.mean(jnp.sum((x - grad_f) ** 2, axis=1))

    for name, context in (("f32", contextlib.nullcontext), ("bf16", bf16_products)):
        for options, opt_name in (({}, "XLA default"), (train.compiler_options(), "training chunk's")):
            with context():
                f = jax.jit(jax.grad(t_loss), compiler_options=options)
                ms = 1e3 * seconds(f, params, x)
            print(f"| {name} | {opt_name} | {ms:.2f} |", flush=True)


@contextlib.contextmanager
def bf16_training():
    """fit with `bf16_products`, plain autodiff for g (the shared backward pass multiplies in
    f32) and XLA's default options (the bf16 products' fast path)."""
    saved = shared_backward.value, train.train_chunk
    shared_backward.value = lambda hidden, params, x: potentials.value(hidden, params, x)
    train.train_chunk = lambda config, hyper, data, state: train.compiled_train_chunk(())(config, hyper, data, state)
    try:
        with bf16_products():
            yield
    finally:
        shared_backward.value, train.train_chunk = saved


def fit(dim, name, steps=2000):
    pair = benchmark.mix3tomix10(dim)
    settings = bench.with_defaults(dim, bench.PRESETS["paper"](dim) | {"steps": steps})
    with bf16_training() if name == "bf16" else contextlib.nullcontext():
        start = time.perf_counter()
        result = enot_lite.fit(pair.sample_source, pair.sample_target, progress=False, **settings)
        wall = time.perf_counter() - start
        h = result.history
        rate = (h["step"][-1] - h["step"][1]) / (h["time"][-1] - h["time"][1])
        print(json.dumps(dict(dim=dim, steps=steps, products=name, steps_per_s=round(rate, 1), wall_s=round(wall, 1),
                              l2_uvp=round(benchmark.l2_uvp(result.transport, pair), 3))), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", type=int, metavar="D", help="instead: train the paper preset at this D")
    parser.add_argument("--products", choices=["f32", "bf16"], default="f32", help="with --fit: the products' operands")
    args = parser.parse_args()
    if args.fit:
        fit(args.fit, args.products)
    else:
        products()
        potential_gradient()
