"""The neural potentials f_theta and g_phi: plain MLPs R^d -> R."""
from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


@jax.custom_jvp
def elu(x):
    """elu(x) = x if x > 0 else exp(x) - 1.  Same function as `flax.linen.elu`, but its
    derivative reuses the output, elu'(x) = 1 if x > 0 else elu(x) + 1, which makes the
    second-order gradients of ENOT's map about 12% cheaper."""
    return jnp.where(x > 0, x, jnp.exp(jnp.minimum(x, 0.0)) - 1.0)


@elu.defjvp
def _elu_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    out = elu(x)
    return out, jnp.where(x > 0, 1.0, out + 1.0) * dx


class Potential(nn.Module):
    """phi(x) = w^T a_k + b  with  a_l = elu(z_l),  z_l = a_{l-1} W_l + b_l,  a_0 = x:
    a scalar per row of x.  Returns phi and the activations [a_0, ..., a_k]."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x: jnp.ndarray):
        acts = [x]
        for width in self.hidden:
            acts.append(elu(nn.Dense(width)(acts[-1])))
        return nn.Dense(1)(acts[-1])[..., 0], acts


def value(hidden, params, x):
    """phi(x) for a batch x (n, d) -> (n,)."""
    return Potential(tuple(hidden)).apply(params, x)[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def value_shared_backward(hidden, params, x):
    """phi(x) like `value`, with a hand-written backward pass that every cotangent shares
    (see `_value_bwd`).  Reverse mode only (no jax.jvp / jax.hessian); the solver uses it
    for g in the training loss."""
    return value(hidden, params, x)


def _value_fwd(hidden, params, x):
    """phi(x), and its backward pass for a unit cotangent on every row: the errors
    e_l = d phi(x_i) / d z_l  (row i, l = k, ..., 1) and  grad phi(x) = e_1 W_1^T."""
    out, acts = Potential(tuple(hidden)).apply(params, x)
    *kernels, w = [params["params"][f"Dense_{i}"]["kernel"] for i in range(len(hidden) + 1)]
    delta, errors = w[:, 0], []  # delta = d phi / d a_l, starting at l = k
    for kernel, a in zip(reversed(kernels), reversed(acts[1:])):
        errors.insert(0, delta * jnp.where(a > 0, 1.0, a + 1.0))  # times elu'(z_l), read off a_l
        delta = errors[0] @ kernel.T
    return out, (acts, errors, delta)


def _value_bwd(hidden, residuals, c):
    """phi is a scalar per row, so its backward pass is linear in the row cotangents c:

        d/dW_l sum_i c_i phi(x_i) = a_{l-1}^T (c * e_l),   d/db_l = sum_i c_i e_l[i],
        d/dx_i sum_i c_i phi(x_i) = c_i grad phi(x_i).

    So one backward pass (in `_value_fwd`) serves every cotangent.  ENOT needs two at the
    same points T(x): L_f differentiates g(T) in T, L_g in g's weights; XLA then computes the
    forward and backward pass of g at T once for both, where autodiff runs two backward
    passes (3 of 39 large matmuls per update; 1.03-1.10x steps/s, docs/benchmarks.md section 3)."""
    acts, errors, grad_x = residuals
    errors = [c[:, None] * e for e in errors] + [c[:, None]]  # the output layer: d phi / d z = 1
    grads = {f"Dense_{i}": {"kernel": a.T @ e, "bias": e.sum(0)} for i, (a, e) in enumerate(zip(acts, errors))}
    return {"params": grads}, c[:, None] * grad_x


value_shared_backward.defvjp(_value_fwd, _value_bwd)


def gradient(hidden, params, x):
    """grad phi(x) for a batch x (n, d) -> (n, d); rows are independent, so grad of the sum."""
    return jax.grad(lambda z: value(hidden, params, z).sum())(x)


def init(hidden, key, dim):
    """Fresh parameters for a potential on R^dim."""
    return Potential(tuple(hidden)).init(key, jnp.zeros((1, dim), jnp.float32))
