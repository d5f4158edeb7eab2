"""ENOT's loss, in the notation of Buzun, Bobrin & Dylov (2024), "ENOT: Expectile Regularization
for Fast and Accurate Training of Neural Optimal Transport", arXiv 2403.03777.

A batch x ~ mu, y ~ nu (paired at random), a map T_theta and a potential g_phi; sg = stop_gradient:

    g_T(x)   = c(x, sg T(x)) - g(sg T(x))                  amortised c-transform, >= g^c(x)
    L_f      = mean[ c(x, T(x)) - sg(g)(T(x)) ]            T learns argmin_y c(x, y) - g(y)
    u        = g_T(x) + g(y) - c(x, y)                     dual constraint residual, want u <= 0
    L_g      = -mean[ g_T(x) + g(y) ] + lambda mean[ L_tau(u) ]
    L_tau(u) = |tau - 1[u < 0]| u^2                        the expectile loss

For a cost c(x, y) = h(x - y) the map comes from a potential f_theta:
T(x) = x - grad h*(grad f(x)).  Everything here is plain autodiff; the networks are passed in
as functions `f(theta, x)`, `g(phi, y)` and the map as `T(theta, x)`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def expectile_loss(u, tau):
    """L_tau(u) = |tau - 1[u < 0]| u^2: weight tau above zero, 1 - tau below."""
    return jnp.where(u < 0, 1.0 - tau, tau) * u * u


def gradient_map(grad_h_star, f, theta, x):
    """T(x) = x - grad h*(grad f_theta(x)) for a batch x (n, d); rows are independent, so
    grad f is the gradient of the sum of f over the batch."""
    grad_f = jax.grad(lambda z: f(theta, z).sum())(x)
    return x - grad_h_star(grad_f)


def c_transform(c, T, g, theta, phi, x):
    """g_T(x) = c(x, T(x)) - g(T(x)): an upper bound of g^c(x) = inf_y c(x, y) - g(y),
    tight where T(x) is the argmin."""
    t = T(theta, x)
    return c(x, t) - g(phi, t)


def enot_loss(theta, phi, x, y, tau, lam, *, c, T, g):
    """L_f + L_g on one batch; returns (loss, (L_f, L_g, dual value mean g_T(x) + mean g(y))).

    The stop-gradients make theta's gradient come only from L_f and phi's only from L_g."""
    sg = jax.lax.stop_gradient
    t = T(theta, x)
    g_T = c(x, sg(t)) - g(phi, sg(t))
    g_y = g(phi, y)
    L_f = jnp.mean(c(x, t) - g(sg(phi), t))
    u = g_T + g_y - c(x, y)
    dual = jnp.mean(g_T) + jnp.mean(g_y)
    L_g = -dual + lam * jnp.mean(expectile_loss(u, tau))
    return L_f + L_g, (L_f, L_g, dual)
