"""Model files: data only (npz + JSON), every cost and the frame round-trip, anything else refused."""
import dataclasses
import json
import pickle
import zipfile

import jax.numpy as jnp
import numpy as np
import pytest

import enot_lite

X = np.random.default_rng(0).normal(size=(256, 3)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Quartic:  # h(z) = sum z^4 / 4, a custom cost with no spec string
    degree = 4

    def h(self, z):
        return jnp.sum(z**4, axis=-1) / 4

    def grad_h_star(self, w):
        return jnp.sign(w) * jnp.abs(w) ** (1 / 3)


@pytest.mark.parametrize("cost", ["sqeuclidean", "pnorm:1.5", "pnorm:3", Quartic()])
def test_every_cost_and_the_frame_round_trip(tmp_path, cost):
    x, y = 1e3 * X + 5e3, 2e3 * X - 1e3  # far from the standard frame
    result = enot_lite.fit(x, y, steps=200, cost=cost, progress=False)
    result.save(tmp_path / "model.npz")
    back = enot_lite.load(tmp_path / "model.npz", cost=cost if isinstance(cost, Quartic) else None)
    for method in ("transport", "inverse_transport", "f", "g", "c_transform"):
        np.testing.assert_array_equal(getattr(back, method)(x), getattr(result, method)(x))
    assert back.cost == result.cost and back.frame.scale == result.frame.scale
    np.testing.assert_array_equal(back.frame.shift, result.frame.shift)
    assert back.dual_value == result.dual_value and back.settings == json.loads(json.dumps(result.settings))
    np.testing.assert_array_equal(back.history["dual_value"], result.history["dual_value"])


def test_a_custom_cost_must_be_handed_back(tmp_path):
    enot_lite.fit(X, X + 1, steps=20, cost=Quartic(), progress=False).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"custom cost: pass it back with load\(path, cost=...\)"):
        enot_lite.load(tmp_path / "m.npz")


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_file_whose_payload_would_run_code_runs_nothing(tmp_path):
    marker = tmp_path / "code-ran"
    model = tmp_path / "model.npz"
    enot_lite.fit(X, X + 1, steps=20, progress=False).save(model)
    with zipfile.ZipFile(model, "a") as archive:  # a valid model plus one pickled object array
        with archive.open("history/payload.npy", "w") as fh:
            np.lib.format.write_array(fh, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not an enot_lite model"):
        enot_lite.load(model)
    plain = tmp_path / "old.pkl"
    plain.write_bytes(pickle.dumps(_Payload(str(marker))))  # a bare pickle, as files used to be
    with pytest.raises(ValueError, match=r"not an enot_lite model: .*old.pkl"):
        enot_lite.load(plain)
    assert not marker.exists()


def test_anything_else_is_refused_with_the_reason(tmp_path):
    good = tmp_path / "good.npz"
    enot_lite.fit(X, X + 1, steps=20, progress=False).save(good)
    with np.load(good) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(str(arrays["header"]))

    def variant(name, **changes):
        path = tmp_path / name
        np.savez(path, **(arrays | changes))
        return path

    cases = [
        (variant("version.npz", header=np.array(json.dumps(header | {"version": 99}))), "format version 99"),
        (variant("format.npz", header=np.array(json.dumps(header | {"format": "other"}))), "does not name"),
        (variant("shape.npz", **{"params/f/params/Dense_0/kernel": np.zeros((4, 4), np.float32)}), "has shape"),
        (variant("frame.npz", header=np.array(json.dumps(header | {"frame": {"shift": [0.0], "scale": 1.0,
                                                                                  "degree": 2.0}}))), "frame"),
    ]
    text = tmp_path / "text.npz"
    text.write_text("hello")
    cases.append((text, "pickled"))  # numpy reads a file that is neither .npy nor .npz as a pickle, and refuses
    for path, why in cases:
        with pytest.raises(ValueError, match=f"not an enot_lite model: {path} \\(.*{why}"):
            enot_lite.load(path)
