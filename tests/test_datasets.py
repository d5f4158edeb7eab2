"""2-D toy samplers: shapes, determinism, jittable with a traced key, supports as described."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from enot_lite import datasets

SAMPLERS = sorted({f for pair in datasets.PAIRS.values() for f in pair}, key=lambda f: f.__name__)


@pytest.mark.parametrize("sample", SAMPLERS, ids=lambda f: f.__name__)
def test_shape_dtype_determinism_and_jit(sample):
    x = sample(jax.random.key(0), 128)
    assert x.shape == (128, 2) and x.dtype == jnp.float32
    np.testing.assert_array_equal(x, sample(jax.random.key(0), 128))
    np.testing.assert_allclose(jax.jit(sample, static_argnums=1)(jax.random.key(0), 128), x, atol=1e-5)


def test_supports():
    sq = datasets.square(jax.random.key(1), 5000)
    assert float(jnp.abs(sq).max()) <= 1.0
    board = np.asarray(datasets.checkerboard(jax.random.key(2), 5000))
    cells = (np.floor(board[:, 0]) + np.floor(board[:, 1])) % 2
    assert np.all(cells == 0)  # only one colour of the board
    radii = jnp.linalg.norm(datasets.eight_gaussians(jax.random.key(3), 5000), axis=1)
    assert 2.2 < float(jnp.median(radii)) < 2.8
