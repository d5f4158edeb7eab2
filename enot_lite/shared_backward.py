"""g's backward pass, computed once and shared by L_f and L_g: a swap for `potentials.value`.

phi(x) is one number per row, so its backward pass is linear in the row cotangents c:

    d/dW_l sum_i c_i phi(x_i) = a_{l-1}^T (c * e_l),   d/db_l = sum_i c_i e_l[i],
    d/dx_i sum_i c_i phi(x_i) = c_i grad phi(x_i),

with the errors e_l = d phi(x_i) / d z_l of a unit cotangent on every row.  ENOT needs two
backward passes of g at the same points T(x): L_f differentiates g(T) in T, L_g in g's weights.
`value` computes the errors once in its forward pass and every cotangent reuses them, so XLA
runs one backward pass of g at T where plain autodiff runs two.  Reverse mode only (no jvp).
The training loop uses it for g when `Config.share_backward` is set; tests check that it has
autodiff's gradients for any cotangent.
"""
from __future__ import annotations

import functools

import jax

from enot_lite import potentials


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def value(hidden, params, x):
    """phi(x) = `potentials.value(hidden, params, x)`, with the shared backward pass."""
    return potentials.value(hidden, params, x)


def _value_fwd(hidden, params, x):
    """phi(x), and the backward pass of a unit cotangent on every row: e_l (l = k, ..., 1) and
    grad phi(x) = e_1 W_1^T."""
    out, acts = potentials.Potential(tuple(hidden)).apply(params, x)
    *kernels, w = [params["params"][name]["kernel"] for name in potentials.layer_names(hidden)]
    delta, errors = w[:, 0], []  # delta = d phi / d a_l, starting at l = k
    for kernel, a in zip(reversed(kernels), reversed(acts[1:])):
        errors.insert(0, delta * potentials.elu_slope(a > 0, a))  # times elu'(z_l), read off a_l
        delta = errors[0] @ kernel.T
    return out, (acts, errors, delta)


def _value_bwd(hidden, residuals, c):
    """The formulas of the module docstring, for the row cotangents c."""
    acts, errors, grad_x = residuals
    errors = [c[:, None] * e for e in errors] + [c[:, None]]  # the output layer: d phi / d z = 1
    grads = {name: {"kernel": a.T @ e, "bias": e.sum(0)}
             for name, a, e in zip(potentials.layer_names(hidden), acts, errors, strict=True)}
    return {"params": grads}, c[:, None] * grad_x


value.defvjp(_value_fwd, _value_bwd)
