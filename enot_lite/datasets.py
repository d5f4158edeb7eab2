"""Two-dimensional toy pairs for the notebooks: pure-JAX samplers `sample(key, n) -> (n, 2)`.

Each is jitted with n static (`sampler`), so drawing from one outside training builds one program
per n instead of one per operation; inside `enot_lite.fit`'s loop it is traced into the loop's
program.  They are module-level objects, so passing the same sampler twice reuses the compiled
training loop.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

sampler = functools.partial(jax.jit, static_argnums=1)
"""The decorator of a sampler sample(key, n): jitted, n static."""


@sampler
def gaussian(key, n):
    """Standard normal N(0, I)."""
    return jax.random.normal(key, (n, 2))


@sampler
def eight_gaussians(key, n, radius=2.5, scale=0.25):
    """8 small Gaussians evenly spaced on a circle."""
    k_comp, k_noise = jax.random.split(key)
    angle = 2 * jnp.pi * jax.random.randint(k_comp, (n,), 0, 8) / 8
    centers = radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    return centers + scale * jax.random.normal(k_noise, (n, 2))


def _rotate(z, angle):
    c, s = jnp.cos(angle), jnp.sin(angle)
    return z @ jnp.array([[c, s], [-s, c]])


@sampler
def moons(key, n, noise=0.05):
    """Two interleaving half circles (as scikit-learn's make_moons), centred, rotated by -pi/6."""
    k_t, k_side, k_noise = jax.random.split(key, 3)
    t = jnp.pi * jax.random.uniform(k_t, (n,))
    upper = jax.random.bernoulli(k_side, 0.5, (n,))[:, None]
    z = jnp.where(upper, jnp.stack([jnp.cos(t), jnp.sin(t)], 1), jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], 1))
    z = z - jnp.array([0.5, 0.25]) + noise * jax.random.normal(k_noise, (n, 2))
    return _rotate(z, -jnp.pi / 6)


@sampler
def s_curve(key, n, noise=0.05):
    """The 2-D S curve (as scikit-learn's make_s_curve, coordinates x and z), rotated by pi/6."""
    k_t, k_noise = jax.random.split(key)
    t = 3 * jnp.pi * (jax.random.uniform(k_t, (n,)) - 0.5)
    z = jnp.stack([jnp.sin(t), jnp.sign(t) * (jnp.cos(t) - 1)], 1) + noise * jax.random.normal(k_noise, (n, 2))
    return _rotate(z, jnp.pi / 6)


@sampler
def square(key, n):
    """Uniform on the square [-1, 1]^2."""
    return jax.random.uniform(key, (n, 2), minval=-1.0, maxval=1.0)


@sampler
def rotated_square(key, n):
    """Uniform on a square of side 3 rotated by pi/4 and shifted by (1, 0.5)."""
    return _rotate(1.5 * square(key, n), jnp.pi / 4) + jnp.array([1.0, 0.5])


@sampler
def checkerboard(key, n):
    """Uniform on the black cells of a 4 x 4 checkerboard on [-2, 2]^2."""
    k1, k2, k3 = jax.random.split(key, 3)
    x1 = jax.random.uniform(k1, (n,), minval=-2.0, maxval=2.0)
    x2 = jax.random.uniform(k2, (n,)) - 2.0 * jax.random.randint(k3, (n,), 0, 2)
    return jnp.stack([x1, x2 + jnp.floor(x1) % 2], axis=1)


PAIRS = {
    "gaussian -> 8 gaussians": (gaussian, eight_gaussians),
    "moons -> S-curve": (moons, s_curve),
    "square -> square": (square, rotated_square),
    "gaussian -> checkerboard": (gaussian, checkerboard),
}
"""name -> (sample_source, sample_target)."""


# ----------------------------------------------------------------------------- the sphere S^2


def _unit(v):
    v = jnp.asarray(v, jnp.float32)
    return v / jnp.linalg.norm(v, axis=-1, keepdims=True)


@sampler
def von_mises_fisher(key, n, mean, kappa):
    """n points on S^2 from the von Mises-Fisher law with unit mean direction `mean` and
    concentration kappa: cos(angle to the mean) = 1 + log(u + (1 - u) e^(-2 kappa)) / kappa, u
    uniform, and a uniform angle around the mean (then a reflection takes e_3 to `mean`)."""
    k_w, k_phi = jax.random.split(key)
    u = jax.random.uniform(k_w, (n,))
    w = 1.0 + jnp.log(u + (1.0 - u) * jnp.exp(-2.0 * kappa)) / kappa
    phi = 2 * jnp.pi * jax.random.uniform(k_phi, (n,))
    r = jnp.sqrt(jnp.clip(1.0 - w * w, 0.0, 1.0))
    z = jnp.stack([r * jnp.cos(phi), r * jnp.sin(phi), w], axis=1)  # around e_3
    mean, e3 = _unit(mean), jnp.array([0.0, 0.0, 1.0])
    v = e3 - mean
    norm = jnp.linalg.norm(v)
    v = jnp.where(norm > 1e-6, v / jnp.maximum(norm, 1e-12), 0.0)
    return z - 2.0 * (z @ v)[:, None] * v[None, :]  # Householder reflection e_3 -> mean


def sphere_mixture(means, kappa):
    """A pure-JAX sampler(key, n) of an equal mixture of von Mises-Fisher caps on S^2."""
    means = _unit(means)

    @sampler
    def sample(key, n):
        k_comp, k_points = jax.random.split(key)
        which = jax.random.randint(k_comp, (n,), 0, means.shape[0])
        caps = jax.vmap(lambda k, m: von_mises_fisher(k, n, m, kappa))(jax.random.split(k_points, means.shape[0]), means)
        return caps[which, jnp.arange(n)]

    return sample


two_caps = sphere_mixture([[1.0, 0.0, 0.3], [-0.5, 0.8, 0.3]], kappa=12.0)
"""Two caps on the northern side of S^2."""
four_caps = sphere_mixture([[0.3, 0.9, -0.4], [-0.9, -0.2, -0.3], [0.6, -0.7, -0.3], [0.0, 0.0, -1.0]], kappa=20.0)
"""Four tighter caps, mostly on the southern side."""

SPHERE_PAIRS = {"two caps -> four caps": (two_caps, four_caps)}
"""name -> (sample_source, sample_target) on the unit sphere S^2."""
