"""Keras input forms through ``rnndyn.capture``, run once per Keras backend.

Not collected by default: ``tests/test_keras_inputs.py`` runs this file in a
subprocess (``KERAS_BACKEND=tensorflow python -m pytest tests/_keras_cases_inputs.py``).

A two-input model fed every form Keras takes (a dict keyed by input name in
any order, a list, a tuple, ``rnndyn.Args(...)``, ``forward=``, an iterable of
``([a, b], y)`` batches), each compared with the model's own output and the
float64 reference of ``_keras_cases``, to 1e-5; then the forms refused.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _keras_cases import T, assert_close, lstm_ref  # noqa: E402
from keras import layers  # noqa: E402

import rnndyn  # noqa: E402

N = 5


@pytest.fixture(scope="module")
def two_inputs():
    """Inputs declared in the order (z_in, a_in): sorted names are the other order."""
    keras.utils.set_random_seed(3)
    z_in = keras.Input((T, 2), name="z_in")
    a_in = keras.Input((T, 3), name="a_in")
    seq = layers.LSTM(4, return_sequences=True, name="lstm")(layers.Concatenate(name="cat")([z_in, a_in]))
    model = keras.Model([z_in, a_in], seq)
    rng = np.random.default_rng(4)
    z = rng.normal(size=(N, T, 2)).astype("float32")
    a = rng.normal(size=(N, T, 3)).astype("float32")
    want = lstm_ref(model.get_layer("lstm"), np.concatenate([z, a], axis=-1))
    own = keras.ops.convert_to_numpy(model.predict_on_batch([z, a]))
    assert_close(own, want["h"], "model output vs reference")
    return model, z, a, want


def _capture(model, inputs, batched=True, **kw):
    if batched:
        kw.setdefault("batch_size", 2)
    return rnndyn.capture(model, inputs, layer="lstm", state=["h", "c"], progress=False, **kw)


def _check(traj, want, what):
    assert traj.shape == (N, T, 8), what
    assert_close(traj.select(state="h").states, want["h"], f"{what}: h")
    assert_close(traj.select(state="c").states, want["c"], f"{what}: c")


def test_every_form_keras_takes_gives_the_same_states(two_inputs):
    model, z, a, want = two_inputs
    forms = {
        "dict, model order": {"z_in": z, "a_in": a},
        "dict, sorted order": {"a_in": a, "z_in": z},
        "list": [z, a],
        "tuple": (z, a),
        "Args(list)": rnndyn.Args([z, a]),
        "Args(dict)": rnndyn.Args({"a_in": a, "z_in": z}),
    }
    for what, inputs in forms.items():
        _check(_capture(model, inputs), want, what)
    # forward=: the user calls the model (eagerly); the layers' calls are recorded
    calls = []

    def forward(m, batch):
        calls.append(sorted(batch))
        return m([batch["z_in"], batch["a_in"]], training=False)

    _check(_capture(model, {"a_in": a, "z_in": z}, forward=forward), want, "forward=")
    assert calls == [["a_in", "z_in"]] * 3
    # an iterable of batches, ([z, a], y) as a tf.data.Dataset or a generator yields them
    batches = (([z[s], a[s]], None) for s in (slice(0, 3), slice(3, N)))
    _check(_capture(model, batches, batched=False), want, "iterable")
    # lengths= are split along the sequences of every form
    lengths = np.array([T, 3, 5, T, 1])
    traj = _capture(model, [z, a], lengths=lengths)
    np.testing.assert_array_equal(traj.lengths, lengths)


def test_single_input_model_takes_its_dict_and_list_of_examples(two_inputs):
    keras.utils.set_random_seed(5)
    inp = keras.Input((T, 3), name="only")
    model = keras.Model(inp, layers.LSTM(4, return_sequences=True, name="lstm")(inp))
    x = np.random.default_rng(6).normal(size=(N, T, 3)).astype("float32")
    want = lstm_ref(model.get_layer("lstm"), x)
    _check(_capture(model, {"only": x}), want, "single-input dict")
    _check(_capture(model, list(x)), want, "list of examples")  # one input: a list is examples


def test_forms_refused_name_the_inputs(two_inputs):
    model, z, a, _ = two_inputs
    with pytest.raises(
        rnndyn.RnndynError, match=r"input names \['z_in', 'a_in'\].*unknown name\(s\) \['a'\]"
    ):
        _capture(model, {"a": a, "z_in": z})
    with pytest.raises(rnndyn.RnndynError, match=r"missing input\(s\) \['a_in'\]"):
        _capture(model, {"z_in": z})
    with pytest.raises(rnndyn.RnndynError, match=r"a list of 3 arrays, but the model takes 2 inputs"):
        _capture(model, [z, a, a])
    with pytest.raises(rnndyn.RnndynError, match=r"inputs\[0\] \('z_in'\): 5, inputs\[1\] \('a_in'\): 4"):
        _capture(model, [z, a[:4]])
    with pytest.raises(rnndyn.RnndynError, match=r"inputs\['z_in'\]: 5.*inputs\['a_in'\]: 4"):
        _capture(model, {"z_in": z, "a_in": a[:4]})
    with pytest.raises(rnndyn.RnndynError, match=r"exactly one positional argument"):
        _capture(model, rnndyn.Args(z, a))
    with pytest.raises(rnndyn.RnndynError, match=r"expects input shape \[\(None, 7, 2\), \(None, 7, 3\)\]"):
        _capture(model, [a, z])  # swapped: the shapes say so
