"""The networks, MLPs with ELU activations: a potential R^d -> R (f_theta, g_phi), and a map
network R^d -> R^d (T_theta, for costs whose map does not come from a potential's gradient)."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def elu_slope(positive, out):
    """elu'(z) from elu's output a = elu(z): 1 where z > 0 (equivalently a > 0), else a + 1."""
    return jnp.where(positive, 1.0, out + 1.0)


@jax.custom_jvp
def elu(z):
    """elu(z) = z if z > 0 else exp(z) - 1, the same function as `flax.linen.elu`; its
    derivative is read off its output (`elu_slope`), so no second exp is computed."""
    return jnp.where(z > 0, z, jnp.exp(jnp.minimum(z, 0.0)) - 1.0)


@elu.defjvp
def _elu_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    out = elu(z)
    return out, elu_slope(z > 0, out) * dz


def layer_names(hidden):
    """The names of the Dense layers of `Potential(hidden)`, input to output."""
    return [f"Dense_{i}" for i in range(len(hidden) + 1)]


class Potential(nn.Module):
    """phi(x) = w^T a_k + b  with  a_l = elu(z_l),  z_l = a_{l-1} W_l + b_l,  a_0 = x:
    a scalar per row of x.  Returns phi and the activations [a_0, ..., a_k]."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x: jnp.ndarray):
        *inner, last = layer_names(self.hidden)
        acts = [x]
        for width, name in zip(self.hidden, inner):
            acts.append(elu(nn.Dense(width, name=name)(acts[-1])))
        return nn.Dense(1, name=last)(acts[-1])[..., 0], acts


def value(hidden, params, x):
    """phi(x) for a batch x (n, d) -> (n,)."""
    return Potential(tuple(hidden)).apply(params, x)[0]


def init(hidden, key, dim):
    """Fresh parameters for a potential on R^dim (flax's default initialisers)."""
    return Potential(tuple(hidden)).init(key, jnp.zeros((1, dim), jnp.float32))


REACH = 5.0
"""R of `MapNetwork`: T(x) - x stays within R in every coordinate.  Training happens in the
standard frame, where both samples have unit scale, so R = 5 bounds nothing a transport between
them needs; it stops a map that chases a potential steeper than the cost outside the data from
running away (docs/benchmarks.md, section 9)."""


class MapNetwork(nn.Module):
    """T(x) = x + R tanh((W a_k + b) / R) with a_l = elu(z_l) as in `Potential` and R = `REACH`:
    a residual MLP R^d -> R^d whose displacement is bounded by R.  The output layer starts at
    zero, so T starts as the identity."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x: jnp.ndarray):
        *inner, last = layer_names(self.hidden)
        a = x
        for width, name in zip(self.hidden, inner):
            a = elu(nn.Dense(width, name=name)(a))
        v = nn.Dense(x.shape[-1], name=last, kernel_init=nn.initializers.zeros)(a)
        return x + REACH * jnp.tanh(v / REACH)


def map_value(hidden, params, x):
    """T(x) for a batch x (n, d) -> (n, d)."""
    return MapNetwork(tuple(hidden)).apply(params, x)


def map_init(hidden, key, dim):
    """Fresh parameters for a map network on R^dim (T = identity)."""
    return MapNetwork(tuple(hidden)).init(key, jnp.zeros((1, dim), jnp.float32))
