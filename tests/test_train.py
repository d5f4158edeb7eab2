"""The training machinery (enot_lite.train): the swaps that change speed only, compilations, replays."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import enot_lite
from enot_lite import potentials, shared_backward, train


def _close(a, b, rtol=1e-5, atol=1e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)


def test_shared_backward_pass_is_the_autodiff_vjp_for_any_cotangent():
    hidden = (32, 16)
    params = potentials.init(hidden, jax.random.key(0), 3)
    x = jax.random.normal(jax.random.key(1), (64, 3))
    c = jax.random.normal(jax.random.key(2), (64,))  # per-row cotangents, of both signs
    out, vjp = jax.vjp(lambda p, z: potentials.value(hidden, p, z), params, x)
    out_shared, vjp_shared = jax.vjp(lambda p, z: shared_backward.value(hidden, p, z), params, x)
    np.testing.assert_array_equal(out_shared, out)
    _close(vjp_shared(c), vjp(c))


def _config(**kw):
    settings = dict(hidden=(16, 16), batch_size=64, steps=40, tau=0.9, lam=0.7, learning_rate=1e-2) | kw
    return train.configure(2, **settings)


def _arrays(n=512):
    return (jax.random.normal(jax.random.key(3), (n, 2)), 2 + 0.5 * jax.random.normal(jax.random.key(4), (n, 2)))


def _data(n=512):
    return train.raw(_arrays(n), 2)


def test_update_with_the_shared_backward_pass_is_the_plain_update():
    """The swap changes how g's backward pass is computed, not the step."""
    (config, hyper), (plain, _) = _config(), _config(share_backward=False)
    state = train.init_state(config, jax.random.key(0))
    x, y = (d[:64] for d in _arrays())
    new = train.update(config, hyper, state.params, state.opt_state, x, y)
    reference = train.update(plain, hyper, state.params, state.opt_state, x, y)
    _close(new, reference)


def test_adam_eps_shrinks_the_first_step_where_gradients_are_small():
    """Adam's first step is lr g / (|g| + eps) per parameter: about lr wherever g != 0 with
    optax's eps = 1e-8, and smaller where |g| is near or below a larger eps."""
    steps = {}
    for eps in (1e-8, 1e-2):
        config, hyper = _config(adam_eps=eps)
        state = train.init_state(config, jax.random.key(0))
        x, y = (d[:64] for d in _arrays())
        params = train.update(config, hyper, state.params, state.opt_state, x, y)[0]
        steps[eps] = np.abs(np.concatenate([np.ravel(a - b) for a, b in
                                            zip(jax.tree.leaves(params), jax.tree.leaves(state.params))]))
    lr = float(hyper.learning_rate)
    assert steps[1e-8].max() == pytest.approx(lr, rel=1e-3)
    assert np.all(steps[1e-2] <= steps[1e-8] * (1 + 1e-4) + 1e-9)
    assert np.mean(steps[1e-2] < 0.5 * steps[1e-8]) > 0.05  # the eps binds for some parameters


def test_the_moving_average_is_the_debiased_average_of_the_iterates_and_leaves_training_alone():
    """With ema = d the state also carries a <- d a + (1 - d) params; `model_params` reads out
    a / (1 - d^k) after k iterations (the initial networks at k = 0); the training itself, and
    `model_params` without an average, are unchanged."""
    (plain, hyper), (averaged, _) = _config(), _config(ema=0.8)
    data, key = _data(), jax.random.key(0)
    state, reference = train.init_state(averaged, key), train.init_state(plain, key)
    assert reference.average is None and train.model_params(plain, reference) is reference.params
    _close(train.model_params(averaged, state), state.params, rtol=0, atol=0)
    iterates = []
    for _ in range(5):
        state, _ = train.iteration(averaged, hyper, data, state)
        reference, _ = train.iteration(plain, hyper, data, reference)
        iterates.append(state.params)
    _close(state.params, reference.params, rtol=0, atol=0)
    weights = np.array([0.2 * 0.8 ** (4 - i) for i in range(5)]) / (1 - 0.8**5)
    by_hand = jax.tree.map(lambda *p: sum(w * q for w, q in zip(weights, p)), *iterates)
    _close(train.model_params(averaged, state), by_hand)
    assert not np.allclose(jax.tree.leaves(by_hand)[0], jax.tree.leaves(state.params)[0])


def test_training_compiles_with_and_without_the_small_matmul_option():
    """The XLA option is probed: an XLA without it (an unknown option here) trains the same."""
    config, hyper = _config()
    data, state = _data(), train.init_state(config, jax.random.key(0))
    with_option = train.compiled_train_chunk()(config, hyper, data, state)
    unknown = train.compiled_train_chunk((("xla_cpu_no_such_option_in_any_xla", ""),))(config, hyper, data, state)
    without = train.compiled_train_chunk(())(config, hyper, data, state)
    _close(with_option[0].params, without[0].params, rtol=1e-4, atol=1e-5)
    _close(unknown[0].params, without[0].params, rtol=0, atol=0)
    if jax.default_backend() == "cpu":  # the option exists in this jaxlib, and takes effect
        hlo = train.compiled_train_chunk().lower(config, hyper, data, state).compile().as_text()
        assert "ynn_fusion" not in hlo


def test_steps_count_updates_and_the_budget_stops_the_loop():
    config, hyper = _config(steps=7, bidirectional=False)
    state = train.init_state(config, jax.random.key(0))
    assert config.chunk == 1
    for _ in range(10):  # more iterations than the budget
        state, metrics = train.train_chunk(config, hyper, _data(), state)
    assert int(state.step) == 7 and int(metrics["diverged_at"]) == -1


def test_a_non_finite_step_halts_at_the_last_finite_state():
    config, hyper = _config(learning_rate=1e6, lam=0.0, steps=2000)
    x, y = _arrays()
    data, state = train.raw((x, 50 * y + 100), 2), train.init_state(config, jax.random.key(0))
    diverged = []
    for _ in range(-(-2000 // (2 * config.chunk))):
        state, metrics = train.train_chunk(config, hyper, data, state)
        diverged.append(int(metrics["diverged_at"]))
    first = next(d for d in diverged if d >= 0)
    assert 0 <= first < 2000 and int(state.step) == first  # the state stopped where the step went bad
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(state.params))


@pytest.mark.parametrize("fold", [False, True])
def test_iteration_is_the_forward_then_the_inverse_update_on_fits_batches(fold):
    """One scan iteration = `update` on the forward batch, then `update` with (g, f) swapped on
    the inverse batch, the batches being `train.batches`' draws (a plain-Python replay), with
    the two directions as two traced updates or folded into one."""
    config, hyper = _config(steps=6, fold=fold)
    data, state = _data(), train.init_state(config, jax.random.key(0))
    trained = state
    for _ in range(-(-3 // config.chunk)):
        trained, _ = train.train_chunk(config, hyper, data, trained)
    params, opt_state, key = state.params, state.opt_state, state.key
    for _ in range(3):
        key, (x, y), (x2, y2) = train.batches(config, data, key)
        params, opt_state, _ = train.update(config, hyper, params, opt_state, x, y)
        swapped, opt_swapped, _ = train.update(config, hyper, params[::-1], opt_state[::-1], y2, x2)
        params, opt_state = swapped[::-1], opt_swapped[::-1]
    _close(trained.params, params, rtol=1e-4, atol=1e-6)


def test_folded_directions_train_as_the_two_updates_with_an_odd_budget():
    """`Config.fold` changes the program, not the training: same parameters and chunk metrics
    after a budget that ends on a forward step, and the folded program is the shorter one."""
    data, out = _data(), {}
    for fold in (False, True):
        config, hyper = _config(steps=31, fold=fold)
        state = train.init_state(config, jax.random.key(5))
        chunk = train.compiled_train_chunk()
        for _ in range(train.n_chunks(config, 31)):
            state, metrics = chunk(config, hyper, data, state)
        text = chunk.lower(config, hyper, data, state).as_text()
        out[fold] = state, metrics, text.count("dot_general")
    assert int(out[True][0].step) == int(out[False][0].step) == 31
    _close(out[True][0].params, out[False][0].params, rtol=1e-4, atol=1e-6)
    _close(out[True][1], out[False][1], rtol=1e-4, atol=1e-6)
    assert out[True][2] < out[False][2]


def test_new_tau_and_lambda_compile_nothing():
    x = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
    enot_lite.fit(x, x + 2, steps=200, progress=False, tau=0.99, lam=1.0)
    before = train.compilations()
    result = enot_lite.fit(x, x + 2, steps=200, progress=False, tau=0.9, lam=0.3, learning_rate=1e-3)
    assert train.compilations() == before
    assert result.settings["tau"] == 0.9 and result.settings["lam"] == 0.3


def test_the_compile_counter_counts():
    before = train.compilations()
    jax.jit(lambda z: z * 3.0 + 1.0)(jnp.arange(7.0))
    assert train.compilations() > before


_CACHED_RUN = """
import jax, jax.numpy as jnp, enot_lite
from enot_lite import train
loaded = []
jax.monitoring.register_event_listener(
    lambda event, **kw: loaded.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
print(enot_lite.cache_compilations())
z = jnp.arange(11.0)
before, loaded_before = train.compilations(), len(loaded)
jax.jit(lambda z: jnp.sin(z) * 3.0 + 1.0)(z).block_until_ready()
print(train.compilations() - before, len(loaded) - loaded_before)
"""


def test_a_cached_program_is_loaded_in_a_new_process_and_counted(tmp_path):
    runs = [subprocess.run([sys.executable, "-c", _CACHED_RUN], capture_output=True, text=True, check=True,
                           env={**os.environ, "ENOT_CACHE_DIR": str(tmp_path / "xla")}).stdout.split("\n")
            for _ in range(2)]
    assert runs[0][0] == runs[1][0] == str(tmp_path / "xla") and any((tmp_path / "xla").iterdir())
    assert runs[0][1] == "1 0"   # compiled by XLA, then stored
    assert runs[1][1] == "1 1"   # loaded from the cache, and counted
