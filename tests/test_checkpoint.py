"""Checkpoints: round trips bit for bit, no pickle, errors that say what is wrong, atomic writes,
and an exact resume (3 epochs + save + load + 2 epochs == 5 epochs in one go)."""

import io
import json
import os
import pickle
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import gpubp
from gpubp import activations, backend, checkpoint
from gpubp.errors import CheckpointError, GpubpError

KINDS = ["network", "graph", "rnn"]


# ---- three kinds of model and data for each ----------------------------------------------------

def make(kind, dtype="float32", device="cpu", seed=0):
    if kind == "network":
        # a leaky_relu with a non-default alpha: the alpha must travel too
        return gpubp.Network([3, 5, 4, 2], activation=["tanh", activations.LeakyReLU(0.3)],
                             output="sigmoid", loss="bce", dtype=dtype, device=device, seed=seed)
    if kind == "graph":
        # seed 000's graph (Wx shared by H1 and H2) with a shared bias, an auto bias, symbols,
        # fan-out (H1 feeds H2 and an output), two outputs and a parameter that no layer uses
        g = gpubp.Graph(dtype=dtype, device=device, seed=seed)
        X1, X2 = g.input("X1", 2, symbol="x1", size="n_x"), g.input("X2", 2)
        Wx, Wh = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3))
        Wy, Wz = g.weight("Wy", (2, 3)), g.weight("Wz", (2, 3))
        b = g.bias("b", 3)
        g.weight("unused", (4, 4))
        H1 = g.layer("H1", Wx @ X1 + b, activation="tanh", z="Z1", dz="dZ1")
        H2 = g.layer("H2", Wh @ H1 + Wx @ X2 + b, activation=activations.LeakyReLU(0.2),
                     size="n_h")
        Y1 = g.layer("Y1", Wy @ H2, activation="identity", bias=True, symbol="y_hat")
        Y2 = g.layer("Y2", Wz @ H1, activation="identity")
        g.output([Y1, Y2], loss="half_sse")
        return g
    return gpubp.ElmanRNN(2, 3, 2, 4, activation="tanh", output="sigmoid", loss="bce",
                          outputs="all", dtype=dtype, device=device, seed=seed)


def data(kind, m=23, seed=1):
    rng = np.random.default_rng(seed)
    if kind == "network":
        return rng.normal(size=(3, m)), rng.uniform(0, 1, (2, m))
    if kind == "graph":
        X = {"X1": rng.normal(size=(2, m)), "X2": rng.normal(size=(2, m))}
        return X, {"Y1": rng.normal(size=(2, m)), "Y2": rng.normal(size=(2, m))}
    return rng.normal(size=(4, 2, m)), rng.uniform(0, 1, (4, 2, m))


def host(a):
    if isinstance(a, dict):
        return {k: backend.to_host(v) for k, v in a.items()}
    return backend.to_host(a)


def assert_bitwise(a, b):
    a, b = host(a), host(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_bitwise(a[k], b[k])
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def rewrite(path, **changes):
    """Rewrite the checkpoint at ``path`` with entries changed (``None`` deletes one)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for k, v in changes.items():
        if v is None:
            del arrays[k]
        else:
            arrays[k] = v
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def edit_json(path, key, edit):
    with np.load(path, allow_pickle=False) as f:
        value = json.loads(str(f[key]))
    edit(value)
    rewrite(path, **{key: np.array(json.dumps(value))})


@pytest.fixture
def trained(tmp_path):
    net = make("network")
    X, Y = data("network")
    net.fit(X, Y, epochs=2, batch_size=8, optimizer="adam", lr=0.01)
    path = tmp_path / "net.ckpt"
    net.save(path)
    return net, path


# ---- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_is_bit_exact(kind, dtype, tmp_path):
    a = make(kind, dtype)
    X, Y = data(kind)
    a.fit(X, Y, epochs=1, batch_size=8, optimizer="momentum", lr=0.05)
    path = tmp_path / "model"
    a.save(path)
    assert os.listdir(tmp_path) == ["model"]  # exactly at path: no .npz added, no temporary left
    b = gpubp.load(path, device="cpu")
    assert type(b) is type(a) and b.dtype == a.dtype == np.dtype(dtype)
    assert repr(b) == repr(a)
    assert b.spec() == a.spec()
    assert list(b.params) == list(a.params)
    assert_bitwise(b.params.flat, a.params.flat)
    for name in a.params:  # the views share the loaded buffer
        assert_bitwise(b.params[name], a.params[name])
    assert_bitwise(b.forward(X), a.forward(X))
    assert_bitwise(b.forward(X), a.forward(X))
    assert b.cost(X, Y) == a.cost(X, Y)


def test_graph_structure_survives(tmp_path):
    a = make("graph")
    a.save(tmp_path / "g")
    b = gpubp.load(tmp_path / "g", device="cpu")
    assert [l.equation() for l in b.layers.values()] == [l.equation() for l in a.layers.values()]
    assert [(l.symbol, l.z, l.dz, l.size) for l in b.layers.values()] == \
        [(l.symbol, l.z, l.dz, l.size) for l in a.layers.values()]
    assert [(i.symbol, i.size) for i in b.inputs.values()] == [("x1", "n_x"), ("X2", None)]
    assert b.layers["H2"].activation.alpha == 0.2
    assert [o.name for o in b.outputs] == ["Y1", "Y2"] and b.loss.name == "half_sse"
    # Wx is still one parameter used twice, b one bias used twice
    uses = b.uses()
    assert [layer.name for layer, _ in uses["Wx"]] == ["H1", "H2"]
    assert [layer.name for layer, _ in uses["b"]] == ["H1", "H2"]
    assert uses["unused"] == []


def test_network_constructor_arguments_survive(tmp_path):
    a = gpubp.Network([2, 3, 1], activation="relu", output="identity", loss="sse", bias=False,
                      device="cpu", seed=7)
    a.save(tmp_path / "n")
    b = gpubp.load(tmp_path / "n", device="cpu")
    assert b.bias_terms is False and "b[1]" not in b.params and b.seed == 7
    assert [x.name for x in b.activations[1:]] == ["relu", "identity"] and b.loss.name == "sse"
    assert make("network").activations[2].alpha == 0.3
    make("network").save(tmp_path / "m")
    assert gpubp.load(tmp_path / "m", device="cpu").activations[2].alpha == 0.3


def test_untrained_model_has_no_training_state(tmp_path):
    make("rnn").save(tmp_path / "r")
    with np.load(tmp_path / "r", allow_pickle=False) as f:
        assert "training" not in f.files and not any(k.startswith("optimizer") for k in f.files)
    assert gpubp.load(tmp_path / "r", device="cpu").training is None


def test_default_device_follows_the_environment(trained, monkeypatch):
    monkeypatch.setenv("GPUBP_DEVICE", "cpu")
    assert gpubp.load(trained[1]).device == "cpu"


def test_saved_on_one_device_loads_on_the_other(device, tmp_path):
    a = make("network", device=device)
    X, Y = data("network")
    a.fit(X, Y, epochs=1, batch_size=8)
    a.save(tmp_path / "d")
    for there in ("cpu", device):
        b = gpubp.load(tmp_path / "d", device=there)
        assert b.device == there
        assert_bitwise(b.params.flat, a.params.flat)
        assert_bitwise(b.training.optimizer.state[0][0], a.training.optimizer.state[0][0])


# ---- no pickle ------------------------------------------------------------------------------

def test_the_file_is_plain_arrays(trained):
    net, path = trained
    with np.load(path, allow_pickle=False) as f:  # would raise on any pickled entry
        arrays = {k: f[k] for k in f.files}
    assert not any(a.dtype.hasobject for a in arrays.values())
    assert str(arrays["format"]) == "gpubp.checkpoint" and int(arrays["version"]) == 1
    arch = json.loads(str(arrays["architecture"]))
    assert arch["kind"] == "Network" and arch["sizes"] == [3, 5, 4, 2]
    # a reader without gpubp can cut the flat buffer into the parameters
    offset = 0
    for p in arch["params"]:
        size = int(np.prod(p["shape"]))
        np.testing.assert_array_equal(
            arrays["params"][offset:offset + size].reshape(p["shape"]), net.params[p["name"]])
        offset += size
    assert offset == arrays["params"].size
    training = json.loads(str(arrays["training"]))
    assert training["optimizer"]["kind"] == "adam" and training["optimizer"]["t"] == 6
    assert training["epoch"] == 2 and training["history"]["cost"] == net.training.history["cost"]
    assert arrays["optimizer_state_0"].shape == arrays["params"].shape


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # what unpickling would run
        return (os.mkdir, (self.marker,))


def test_an_object_array_is_refused_and_never_unpickled(trained, tmp_path):
    _, path = trained
    marker = str(tmp_path / "pwned")
    obj = np.empty(1, dtype=object)
    obj[0] = _Payload(marker)
    rewrite(path, params=obj)
    with pytest.raises(CheckpointError, match="object array, which needs pickle"):
        gpubp.load(path, device="cpu")
    assert not os.path.exists(marker)


def test_a_pickle_file_is_refused_and_never_unpickled(tmp_path):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="pickled data"):
        gpubp.load(path, device="cpu")
    assert not os.path.exists(marker)


def test_a_custom_activation_cannot_be_saved(tmp_path):
    class Mine(activations.Sigmoid):  # has code: a checkpoint stores names only
        pass

    net = gpubp.Network([2, 3, 1], activation=Mine(), device="cpu")
    with pytest.raises(CheckpointError, match="not one of gpubp's"):
        net.save(tmp_path / "x")
    assert os.listdir(tmp_path) == []


# ---- errors ---------------------------------------------------------------------------------

def load_error(path, match):
    with pytest.raises(CheckpointError, match=match) as e:
        gpubp.load(path, device="cpu")
    assert isinstance(e.value, GpubpError) and isinstance(e.value, ValueError)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_file(trained, keep):
    _, path = trained
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep)])
    load_error(path, "truncated or corrupt" if keep else r"empty \(truncated\?\)")


def test_not_a_gpubp_file(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    load_error(tmp_path / "other.npz", r"not a gpubp checkpoint \(no 'format' entry\)")
    np.save(tmp_path / "one.npy", np.zeros(3))
    load_error(tmp_path / "one.npy", "not a gpubp checkpoint")
    obj = np.empty(2, dtype=object)
    np.save(tmp_path / "objects.npy", obj, allow_pickle=True)
    load_error(tmp_path / "objects.npy", "holds pickled data")
    (tmp_path / "text").write_text("hello")
    load_error(tmp_path / "text", r"not a gpubp checkpoint \(not an .npz file\)")


def test_other_format_name(trained):
    rewrite(trained[1], format=np.array("someone.else"))
    load_error(trained[1], "format 'someone.else'")


def test_newer_version(trained):
    rewrite(trained[1], version=np.array(2))
    load_error(trained[1], "version 2 was written by a newer gpubp; this one reads versions up to 1")


@pytest.mark.parametrize("key", ["version", "architecture", "dtype", "params", "optimizer_state_1"])
def test_missing_entry(trained, key):
    rewrite(trained[1], **{key: None})
    load_error(trained[1], f"no '{key}' entry")


def test_tampered_params_shape(trained):
    _, path = trained
    with np.load(path) as f:
        flat = f["params"]
    rewrite(path, params=flat[:-1])
    load_error(path, r"'params' has shape \(53,\) but the architecture needs \(54,\)")
    rewrite(path, params=np.concatenate([flat, flat[:1]]))
    load_error(path, r"'params' has shape \(55,\)")


def test_tampered_optimizer_state_shape(trained):
    _, path = trained
    with np.load(path) as f:
        m = f["optimizer_state_0"]
    rewrite(path, optimizer_state_0=m[:-1])
    load_error(path, r"'optimizer_state_0' \(adam m\) is float32 of shape \(53,\); the parameters "
                     r"are float32 of shape \(54,\)")


def test_tampered_architecture_shape(trained):
    """n[1] changed in the architecture (and its parameter list): the buffer no longer fits."""
    def widen(a):
        a["sizes"][1] = 6
        a["params"][0]["shape"], a["params"][1]["shape"] = [6, 3], [6, 1]
        a["params"][2]["shape"] = [4, 6]
    edit_json(trained[1], "architecture", widen)
    load_error(trained[1], r"'params' has shape \(54,\) but the architecture needs \(62,\)")


def test_parameter_list_must_match(trained):
    _, path = trained
    raw = path.read_bytes()
    edit_json(path, "architecture", lambda a: a["sizes"].__setitem__(1, 6))  # 62 parameters
    load_error(path, r"'params' has shape \(54,\) but the architecture needs \(62,\)")
    path.write_bytes(raw)
    edit_json(path, "architecture", lambda a: a["params"][0].update(name="W[9]"))
    load_error(path, r"parameter 1 is listed as weight W\[9\] \(5, 3\) but the model it builds "
                     r"has weight W\[1\] \(5, 3\)")
    path.write_bytes(raw)
    edit_json(path, "architecture", lambda a: a["params"].pop())
    load_error(path, "5 parameters are listed but the model it builds has 6")


def test_dtype_mismatch(trained):
    _, path = trained
    with np.load(path) as f:
        flat = f["params"]
    rewrite(path, params=flat.astype(np.float64))
    load_error(path, "'params' is float64 but 'dtype' says float32")
    rewrite(path, dtype=np.array("int8"))
    load_error(path, "'dtype' is 'int8'")


def test_unknown_activation(trained):
    edit_json(trained[1], "architecture", lambda a: a["activation"][0].__setitem__("name", "swish"))
    load_error(trained[1], "unknown activation 'swish'; valid activations are: exp, identity, leaky_relu")


def test_unknown_activation_in_a_graph(tmp_path):
    make("graph").save(tmp_path / "g")
    edit_json(tmp_path / "g", "architecture",
              lambda a: a["layers"][1]["activation"].update(name="gelu"))
    load_error(tmp_path / "g", "unknown activation 'gelu'")


def test_bad_alpha_and_bad_fields(trained):
    _, path = trained
    raw = path.read_bytes()
    edit_json(path, "architecture", lambda a: a["activation"][1].update(alpha=2.0))
    load_error(path, "leaky_relu needs 0 < alpha < 1")
    path.write_bytes(raw)
    edit_json(path, "architecture", lambda a: a.pop("loss"))
    load_error(path, "missing field 'loss'")
    path.write_bytes(raw)
    edit_json(path, "architecture", lambda a: a.update(kind="os.system"))
    load_error(path, "unknown model kind 'os.system'")
    path.write_bytes(raw)
    edit_json(path, "training", lambda t: t["optimizer"].update(kind="lbfgs"))
    load_error(path, "unknown optimizer 'lbfgs'")
    path.write_bytes(raw)
    edit_json(path, "training", lambda t: t["rng"].update(bit_generator="Evil"))
    load_error(path, "unknown bit generator 'Evil'")
    path.write_bytes(raw)
    rewrite(path, architecture=np.array("{not json"))
    load_error(path, "'architecture' is not valid JSON")


def test_missing_file_and_bad_device_are_the_usual_errors(trained, tmp_path):
    with pytest.raises(FileNotFoundError):
        gpubp.load(tmp_path / "nothing", device="cpu")
    with pytest.raises(gpubp.NameNotFound, match="unknown device value 'tpu'"):
        gpubp.load(trained[1], device="tpu")


# ---- atomic writes --------------------------------------------------------------------------

@pytest.mark.parametrize("where, error", [("savez", KeyboardInterrupt), ("savez", OSError),
                                          ("fsync", OSError), ("replace", OSError)])
def test_a_failed_save_leaves_the_old_file_intact(trained, monkeypatch, where, error):
    net, path = trained
    old = path.read_bytes()
    X, Y = data("network")
    net.fit(X, Y, epochs=1)  # something new to write

    def savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")  # a partial write, then the failure
        raise error("stop")

    def fail(*args, **kwargs):
        raise error("stop")

    if where == "savez":
        monkeypatch.setattr(np, "savez", savez)
    else:
        monkeypatch.setattr(os, where, fail)
    with pytest.raises(error):
        net.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(path.parent) == [path.name]  # no temporary left behind
    assert gpubp.load(path, device="cpu").training.epoch == 2


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        make("rnn").save(tmp_path / "r")
    assert os.listdir(tmp_path) == []


def test_save_replaces_the_old_file(trained):
    net, path = trained
    X, Y = data("network")
    net.fit(X, Y, epochs=1)
    net.save(path)
    assert gpubp.load(path, device="cpu").training.epoch == 3
    assert os.listdir(path.parent) == [path.name]


# ---- exact resume ---------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("kind", KINDS)
def test_resume_is_exact(kind, optimizer, tmp_path):
    """3 epochs, save, load, 2 more == 5 epochs in one go: parameters bit for bit, same history."""
    X, Y = data(kind)
    options = dict(batch_size=7, optimizer=optimizer, lr=0.05)  # 23 = 7 + 7 + 7 + 2: a remainder
    a = make(kind, seed=3)
    a.fit(X, Y, epochs=3, **options)
    a.save(tmp_path / "a")
    b = gpubp.load(tmp_path / "a", device="cpu")
    assert b.training.optimizer.params[0] is b.params.flat  # rebound to b's own buffer
    later = b.fit(X, Y, epochs=2, **options)

    c = make(kind, seed=3)
    whole = c.fit(X, Y, epochs=5, **options)
    assert_bitwise(b.params.flat, c.params.flat)
    assert b.training.history == c.training.history == whole
    assert later["cost"] == whole["cost"][3:]
    assert b.training.epoch == c.training.epoch == 5
    assert b.training.optimizer.t == c.training.optimizer.t == 20
    for sb, sc in zip(b.training.optimizer.state[0], c.training.optimizer.state[0]):
        assert_bitwise(sb, sc)
    # and the shuffling goes on in step
    assert b.training.rng.bit_generator.state == c.training.rng.bit_generator.state


@pytest.mark.parametrize("kind", KINDS)
def test_an_untrained_model_trains_as_the_original_would(kind, tmp_path):
    """Without training state, the first fit seeds its shuffling with the model's seed: it travels."""
    X, Y = data(kind)
    a = make(kind, seed=11)
    a.save(tmp_path / "a")
    b = gpubp.load(tmp_path / "a", device="cpu")
    assert b.seed == 11
    a.fit(X, Y, epochs=2, batch_size=5)
    b.fit(X, Y, epochs=2, batch_size=5)
    assert_bitwise(b.params.flat, a.params.flat)


def test_resume_keeps_validation_history_and_float64(tmp_path):
    X, Y = data("network")
    Xv, Yv = data("network", m=9, seed=2)
    options = dict(batch_size=5, optimizer="adam", lr=0.02, validation_data=(Xv, Yv))
    a = make("network", dtype="float64", seed=4)
    a.fit(X, Y, epochs=2, **options)
    a.save(tmp_path / "a")
    b = gpubp.load(tmp_path / "a", device="cpu")
    b.fit(X, Y, epochs=3, **options)
    c = make("network", dtype="float64", seed=4)
    c.fit(X, Y, epochs=5, **options)
    assert_bitwise(b.params.flat, c.params.flat)
    assert b.training.history == c.training.history and len(c.training.history["val_cost"]) == 5


def test_a_loaded_optimizer_refuses_other_parameters(trained):
    _, path = trained
    b = gpubp.load(path, device="cpu")
    other = make("network")
    with pytest.raises(GpubpError, match="holds the state of other parameters"):
        b.training.optimizer.step(other.params, other.grads)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("patience", [None, 2])
def test_a_run_stopped_between_batches_resumes_exactly(kind, patience, tmp_path):
    """fit(stop=...) returns after a batch in the middle of epoch 3 (as the CLI does on Ctrl-C);
    save, load, fit again: the rest of epoch 3 and epochs 4 and 5 are those of one run."""
    X, Y = data(kind)
    options = dict(batch_size=7, optimizer="adam", lr=0.05, patience=patience, l2=1e-3)
    a = make(kind, seed=5)
    batches = iter(range(1000))
    a.fit(X, Y, epochs=5, stop=lambda: next(batches) == 9, **options)  # 4 batches an epoch
    assert a.training.epoch == 2 and a.training.mid_epoch and a.training.position == 14
    a.save(tmp_path / "a")
    b = gpubp.load(tmp_path / "a", device="cpu")
    assert b.training.position == 14 and np.array_equal(b.training.order, a.training.order)
    b.fit(X, Y, epochs=3, **options)
    c = make(kind, seed=5)
    c.fit(X, Y, epochs=5, **options)
    assert_bitwise(b.params.flat, c.params.flat)
    assert b.training.history == c.training.history
    assert b.training.epoch == 5 and not b.training.mid_epoch


def test_a_stopped_epoch_must_finish_on_the_same_data(tmp_path):
    X, Y = data("network")
    a = make("network")
    a.fit(X, Y, epochs=1, batch_size=7, stop=lambda: True)
    with pytest.raises(ValueError, match="middle of an epoch over 23 examples"):
        a.fit(X[:, :10], Y[:, :10], epochs=1)


def test_a_stopped_position_must_be_inside_the_epoch(tmp_path):
    X, Y = data("network")
    a = make("network")
    a.fit(X, Y, epochs=1, batch_size=7, stop=lambda: True)
    a.save(tmp_path / "a")
    edit_json(tmp_path / "a", "training", lambda t: t["stopped"].update(position=23))  # M
    load_error(tmp_path / "a", r"stopped.position must be in 0..22; got 23")


def test_a_stopped_epoch_order_must_be_a_permutation(tmp_path):
    X, Y = data("network")
    a = make("network")
    a.fit(X, Y, epochs=1, batch_size=7, stop=lambda: True)
    a.save(tmp_path / "a")
    rewrite(tmp_path / "a", order=np.zeros(23, np.int64))
    load_error(tmp_path / "a", "'order' must be a permutation")



def test_an_interrupt_and_a_stop_at_an_epoch_end_survive_a_checkpoint(tmp_path):
    """An interrupt before any batch of an epoch ran (position 0) and the flag that keeps the
    early-stopping watch across a stop both come back from the file."""
    X, Y = data("network")
    a = make("network")

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        a.fit(X, Y, epochs=1, batch_size=7, stop=interrupt)  # asked after the first batch
    a.save(tmp_path / "a")
    b = gpubp.load(tmp_path / "a", device="cpu")
    assert b.training.mid_epoch and b.training.position == 7 and b.training.interrupted
    a.training.position, a.training.partial = 0, 0.0  # as if it had come before the first batch
    a.save(tmp_path / "a0")
    assert gpubp.load(tmp_path / "a0", device="cpu").training.position == 0
    c = make("network")
    c.fit(X, Y, epochs=2, batch_size=7, patience=3, stop=lambda: c.training.epoch == 1)
    assert c.training.epoch == 1 and not c.training.mid_epoch and c.training.interrupted
    c.save(tmp_path / "c")
    assert gpubp.load(tmp_path / "c", device="cpu").training.interrupted


@pytest.mark.parametrize("state", [-1, 2 ** 200])
def test_a_generator_state_out_of_range_is_a_checkpoint_error(trained, tmp_path, state):
    _, path = trained
    edit_json(path, "training", lambda t: t["rng"]["state"].update(state=state))
    load_error(path, "state cannot be restored")


def test_saving_over_a_checkpoint_keeps_its_permissions(trained):
    import os
    import stat

    net, path = trained
    os.chmod(path, 0o600)
    net.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o640)
    net.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640

# ---- metadata: JSON kept beside the model (the command line's data options) ------------------

META = {"data": {"data": "digits", "seed": 0, "fraction": 0.2}, "classes": ["a", 3, None],
        "x_mean": [0.1, -2.5e-300, 1e300], "nested": {"ok": True, "list": [[1, 2], []]}}


def test_metadata_round_trip(tmp_path):
    net = make("network")
    gpubp.save(net, tmp_path / "m", metadata=META)
    b = gpubp.load(tmp_path / "m", device="cpu")
    assert b.metadata == META and b.metadata["x_mean"][1] == -2.5e-300  # floats exact
    assert checkpoint.load_metadata(tmp_path / "m") == META
    # it travels on: load, train, save again without naming it
    X, Y = data("network")
    b.fit(X, Y, epochs=1, batch_size=8)
    b.save(tmp_path / "m2")
    assert checkpoint.load_metadata(tmp_path / "m2") == META
    # and a new one replaces it
    gpubp.save(b, tmp_path / "m3", metadata={"other": 1})
    assert gpubp.load(tmp_path / "m3").metadata == {"other": 1}


def test_no_metadata_is_none(trained):
    _, path = trained
    assert gpubp.load(path, device="cpu").metadata is None
    assert checkpoint.load_metadata(path) is None
    with np.load(path) as f:
        assert "metadata" not in f.files


def test_metadata_is_plain_json_in_the_file(tmp_path):
    gpubp.save(make("network"), tmp_path / "m", metadata=META)
    with np.load(tmp_path / "m", allow_pickle=False) as f:
        a = f["metadata"]
        assert a.shape == () and a.dtype.kind == "U"
        assert json.loads(str(a)) == META


@pytest.mark.parametrize("bad, match", [
    ([1, 2], "must be a dict"),
    ({"a": np.zeros(2)}, "must be JSON data"),
    ({"a": float("nan")}, "must be JSON data"),
    ({"a": float("inf")}, "must be JSON data"),
    ({"a": {1, 2}}, "must be JSON data"),
    ({1: "int key"}, "keys must be strings"),
    ({"a": (1, 2)}, "sequences lists"),
])
def test_metadata_that_is_not_json_data_is_refused(bad, match, tmp_path):
    with pytest.raises(GpubpError, match=match) as e:  # a TypeError or a ValueError too
        gpubp.save(make("network"), tmp_path / "m", metadata=bad)
    assert isinstance(e.value, TypeError if match == "must be a dict" else (TypeError, ValueError))
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("text, match", [
    ("{not json", "'metadata' is not valid JSON"),
    ("[1, 2]", "'metadata' must be a JSON object"),
    ('{"a": NaN}', "NaN is not a finite number"),
    ('{"a": -Infinity}', "-Infinity is not a finite number"),
])
def test_tampered_metadata_is_refused(trained, text, match):
    _, path = trained
    rewrite(path, metadata=np.array(text))
    load_error(path, match)
    with pytest.raises(CheckpointError, match=match):
        checkpoint.load_metadata(path)


def test_metadata_that_is_not_a_string_is_refused(trained):
    _, path = trained
    rewrite(path, metadata=np.zeros(3))
    load_error(path, "'metadata' must be a 0-d string array")


def test_load_metadata_of_a_file_that_is_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "other.npz", metadata=np.array("{}"))
    with pytest.raises(CheckpointError, match="not a gpubp checkpoint"):
        checkpoint.load_metadata(tmp_path / "other.npz")


# ---- files written by earlier gpubp still load ------------------------------------------------

DATA = os.path.join(os.path.dirname(__file__), "data")
V1 = ["v1_network.npz", "v1_graph.npz", "v1_rnn.npz", "v1_rnn_untrained.npz"]


def entries(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", V1)
def test_a_version_1_file_written_before_the_records_loads_and_saves_back_the_same(name, tmp_path):
    """tests/data/v1_*.npz were written by gpubp before each class wrote its own record
    (tests/data/make_v1.py, run with that code): they load, and saving what was loaded writes
    the same entries, the same JSON and the same arrays, bit for bit."""
    old = entries(os.path.join(DATA, name))
    model = gpubp.load(os.path.join(DATA, name), device="cpu")
    assert type(model).__name__ == json.loads(str(old["architecture"]))["kind"]
    assert_bitwise(model.params.flat, old["params"])
    model.save(tmp_path / "again")
    new = entries(tmp_path / "again")
    assert sorted(new) == sorted(old)
    for key in old:  # the JSON too, as text: same fields, same order, same spelling
        assert_bitwise(new[key], old[key])


def test_a_version_1_file_resumes_its_stopped_epoch_and_watch():
    net = gpubp.load(os.path.join(DATA, "v1_network.npz"), device="cpu")
    old = entries(os.path.join(DATA, "v1_network.npz"))
    state = net.training
    assert state.mid_epoch and state.position > 0 and np.array_equal(state.order, old["order"])
    assert_bitwise(state.best_params, old["best_params"])
    assert state.optimizer.params[0] is net.params.flat and state.optimizer.t > 0
    assert_bitwise(state.optimizer.state[0][1], old["optimizer_state_1"])
    assert net.metadata == {"classes": ["a", "b"], "x": [0.5, 1e300]}
    X, Y = np.random.default_rng(1).normal(size=(3, 11)), np.full((2, 11), 0.5)
    net.fit(X, Y, epochs=1, batch_size=4, optimizer="adam", patience=3)  # finishes that epoch
    assert not net.training.mid_epoch


# ---- a fault table: damaged files, and the error each must give ----------------------------------

def raw_entries(path):
    """``[(name, bytes, compress_type)]`` of the zip at ``path``, as stored."""
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i), i.compress_type) for i in z.infolist()]


def write_zip(path, items):
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")  # "Duplicate name": wanted here
        for name, data, compress in items:
            z.writestr(name, data, compress_type=compress)


def npy(array=None, header=None, tail=b""):
    """The bytes of a .npy file: of ``array``, or of a ``header`` dict followed by ``tail``."""
    buf = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(tail)
    return buf.getvalue()


def replace_entry(path, key, data, compress=zipfile.ZIP_STORED):
    items = [(n, data if n == f"{key}.npy" else d, compress if n == f"{key}.npy" else c)
             for n, d, c in raw_entries(path)]
    if f"{key}.npy" not in [n for n, _, _ in items]:
        items.append((f"{key}.npy", data, compress))
    write_zip(path, items)


def central_field(path, entry, offset, value, size=2):
    """Overwrite a field of ``entry``'s record in the zip's central directory."""
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")  # the first central record, then find ours
    while True:
        length = int.from_bytes(raw[at + 28:at + 30], "little")
        if raw[at + 46:at + 46 + length] == f"{entry}.npy".encode():
            break
        at = raw.find(b"PK\x01\x02", at + 1)
    raw[at + offset:at + offset + size] = value.to_bytes(size, "little")
    path.write_bytes(bytes(raw))


def nan_in(key):
    def damage(path):
        a = entries(path)[key].copy()
        a[3] = np.nan
        rewrite(path, **{key: a})
    return damage


def graph_edit(edit):
    def damage(path):
        make("graph").save(path)
        edit_json(path, "architecture", edit)
    return damage


def huge_architecture(path):
    """A 3 KB file whose architecture says 12000-12000-1: 144,024,001 parameters."""
    def widen(a):
        a["sizes"] = [12000, 12000, 1]
        a["activation"], a["params"] = a["activation"][:1], [
            {"name": "W[1]", "shape": [12000, 12000], "role": "weight"},
            {"name": "b[1]", "shape": [12000, 1], "role": "bias"},
            {"name": "W[2]", "shape": [1, 12000], "role": "weight"},
            {"name": "b[2]", "shape": [1, 1], "role": "bias"}]
    edit_json(path, "architecture", widen)


def huge_params_header(path):
    """The architecture's 54 parameters, but an entry whose header says 144 million."""
    huge_architecture(path)
    replace_entry(path, "params", npy(header={"descr": "<f4", "fortran_order": False,
                                              "shape": (144024001,)}, tail=b"\0" * 64))


def zeros_entry(key, n, compress=zipfile.ZIP_DEFLATED, header=None):
    def damage(path):
        with zipfile.ZipFile(path, "a", compression=compress) as z, \
                z.open(f"{key}.npy", "w", force_zip64=True) as w:
            w.write(npy(header=header or {"descr": "|u1", "fortran_order": False, "shape": (n,)}))
            chunk = b"\0" * 2 ** 22
            for _ in range(n // len(chunk)):
                w.write(chunk)
    return damage


def deep_json(path):
    rewrite(path, architecture=np.array("[" * 100_000 + "]" * 100_000))


def big_endian(key):
    def damage(path):
        rewrite(path, **{key: entries(path)[key].astype(">f4")})
    return damage


FAULTS = [  # (name, damage(path of a trained Network's checkpoint), expected words)
    ("duplicate layer name", graph_edit(lambda a: a["layers"][1].update(name="H1")),
     r"architecture: cannot be rebuilt: the name 'H1' is already used"),
    ("a layer leading to no output", graph_edit(lambda a: a.update(outputs=["Y1"])),
     r"architecture: cannot be rebuilt: layer\(s\) Y2 lead to no output"),
    ("an output listed twice", graph_edit(lambda a: a.update(outputs=["Y1", "Y1", "Y2"])),
     r"architecture: cannot be rebuilt: output: a layer is listed twice"),
    ("an unknown layer as output", graph_edit(lambda a: a.update(outputs=["Y1", 7])),
     r"output 7 is not a layer"),
    ("3 KB file saying 12000-12000-1", huge_architecture,
     r"'params' has shape \(54,\) but the architecture needs \(144024001,\)"),
    ("params header larger than its entry", huge_params_header,
     r"entry 'params' is \d+ bytes in the zip directory but its header says float32 of shape "
     r"\(144024001,\) \(576096\d+ bytes\)"),
    ("directory size of a stored entry lies", lambda p: central_field(p, "params", 24, 2 ** 31, 4),
     r"entry 'params' says it holds 2147483648 bytes in \d+ of a \d+-byte file"),
    ("a compressed extra entry of 400 MB", zeros_entry("extra", 400 * 2 ** 20),
     r"entry 'extra' says it holds 419430528 bytes in \d+ of a \d+-byte file; a truncated, "
     r"corrupt or tampered file"),
    ("a compressed metadata of 400 MB", zeros_entry("metadata", 100 * 2 ** 20, header={
        "descr": "<U26214400", "fortran_order": False, "shape": ()}),
     r"entry 'metadata' says it holds 1048577\d\d bytes in \d+ of a"),
    ("an extra entry", lambda p: rewrite(p, extra=np.zeros(3)),
     r"unknown entry 'extra'; a gpubp checkpoint holds format, version"),
    ("flipped compression byte", lambda p: central_field(p, "params", 10, 0x63),
     r"entry 'params' uses zip compression method 99; a checkpoint's entries are stored or "
     r"deflated"),
    ("100,000 nested JSON lists", deep_json, r"'architecture' is JSON nested too deeply to read"),
    ("big-endian params", big_endian("params"),
     r"entry 'params' is stored big-endian \('>f4'\); a gpubp checkpoint holds little-endian "
     r"arrays \('<f4'\)"),
    ("big-endian adam moment", big_endian("optimizer_state_1"),
     r"entry 'optimizer_state_1' is stored big-endian"),
    ("NaN in params", nan_in("params"), r"'params' holds 1 NaN or inf value\(s\)"),
    ("NaN in best_params", nan_in("best_params"), r"'best_params' holds 1 NaN or inf value\(s\)"),
    ("NaN in an adam moment", nan_in("optimizer_state_0"),
     r"'optimizer_state_0' holds 1 NaN or inf value\(s\)"),
    ("the same entry twice", lambda p: write_zip(p, raw_entries(p) + raw_entries(p)[-1:]),
     r"the zip holds '\w+.npy' twice"),
    ("an entry that is not .npy", lambda p: write_zip(p, raw_entries(p) + [("x.txt", b"hi", 0)]),
     r"the zip holds 'x.txt' \(not an .npy array\)"),
    ("an unknown optimizer state", lambda p: rewrite(p, optimizer_state_9=np.zeros(3)),
     r"unknown entry 'optimizer_state_9'"),
    ("an optimizer state adam does not keep", lambda p: rewrite(p, optimizer_state_2=np.zeros(3)),
     r"entries 'optimizer_state_2' belong to none of the checkpoint's records"),
    ("an epoch count its cost history disagrees with",
     lambda p: edit_json(p, "training", lambda t: t.update(epoch=t["epoch"] + 1)),
     r"training: epoch is 3 but history\['cost'\] holds 2 epochs' costs; they must agree"),
    ("best parameters without a watch", lambda p: edit_json(p, "training", lambda t: t.pop("watch")),
     r"entries 'best_params' belong to none of the checkpoint's records"),
    ("a garbled .npy header", lambda p: replace_entry(p, "dtype", b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}  \n"),
     r"entry 'dtype' has no readable .npy header"),
    ("a truncated entry", lambda p: replace_entry(p, "params", npy(np.zeros(54, np.float32))[:-8]),
     r"entry 'params' is \d+ bytes in the zip directory but its header says"),
    ("a text entry of 20 M characters", lambda p: replace_entry(p, "metadata", npy(
        header={"descr": "<U20000000", "fortran_order": False, "shape": ()})),
     r"entry 'metadata' holds 20000000 characters; a gpubp checkpoint's text holds at most"),
    ("a complex array", lambda p: rewrite(p, params=entries(p)["params"].astype(np.complex64)),
     r"entry 'params' has dtype complex64"),
]


@pytest.mark.parametrize("damage, words", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_damaged_file_is_a_checkpoint_error_that_says_what(damage, words, tmp_path):
    net = make("network")
    X, Y = data("network")
    net.fit(X, Y, epochs=2, batch_size=8, optimizer="adam", lr=0.01, patience=5)
    assert net.training.best_params is not None
    path = tmp_path / "net.ckpt"
    net.save(path)
    damage(path)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        load_error(path, words)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # refused from the sizes, not after reading or allocating them
    assert time.perf_counter() - start < 5 and peak < 64 * 2 ** 20


def test_a_file_without_nan_loads_after_the_same_steps(tmp_path):
    """The fault table's starting file loads (so each fault is what makes its load fail)."""
    net = make("network")
    X, Y = data("network")
    net.fit(X, Y, epochs=2, batch_size=8, optimizer="adam", lr=0.01, patience=5)
    net.save(tmp_path / "ok")
    assert gpubp.load(tmp_path / "ok", device="cpu").training.best_params is not None
    make("graph").save(tmp_path / "g")
    assert type(gpubp.load(tmp_path / "g", device="cpu")) is gpubp.Graph


def test_save_refuses_non_finite_parameters_unless_asked(tmp_path):
    net = make("network")
    net.W[2][1, 1] = np.inf
    net.b[1][0, 0] = np.nan
    with pytest.raises(GpubpError, match=r"cannot save .*m: the parameters b\[1\], W\[2\] hold NaN "
                                         r"or inf \(did the training diverge\?\); pass "
                                         r"allow_nonfinite=True"):
        net.save(tmp_path / "m")
    with pytest.raises(GpubpError, match="allow_nonfinite=True"):
        gpubp.save(net, tmp_path / "m")
    assert os.listdir(tmp_path) == []
    net.save(tmp_path / "m", allow_nonfinite=True)
    load_error(tmp_path / "m", r"'params' holds 2 NaN or inf value\(s\) \(did the training "
                               r"diverge\?\); load\(..., allow_nonfinite=True\) reads it anyway")
    back = gpubp.load(tmp_path / "m", device="cpu", allow_nonfinite=True)
    assert np.isinf(back.W[2][1, 1])


def test_save_refuses_non_finite_optimizer_state(tmp_path):
    net = make("network")
    X, Y = data("network")
    net.fit(X, Y, epochs=1, batch_size=8, optimizer="momentum")
    net.training.optimizer.state[0][0][5] = np.nan
    with pytest.raises(CheckpointError, match=r"'optimizer_state_0' holds 1 NaN"):
        net.save(tmp_path / "m")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(CheckpointError, match=r"the folder .*nowhere does not exist; create it"):
        make("network").save(tmp_path / "nowhere" / "m")
    assert os.listdir(tmp_path) == []


def test_a_save_removes_the_temporaries_of_killed_saves_only(tmp_path):
    """A save killed by SIGKILL leaves its temporary; the next save to that path removes it,
    but not one of a save still running in another process, nor another path's."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)  # a process that has ended
    from gpubp.atomic import HOST

    stale = tmp_path / f".m.{dead}-0123456789ab@{HOST}.tmp"
    live = tmp_path / f".m.{os.getppid()}-0123456789ab@{HOST}.tmp"
    other = tmp_path / f".n.{dead}-0123456789ab@{HOST}.tmp"
    remote = tmp_path / f".m.{dead}-0123456789ab@{HOST}x.tmp"  # another machine's (shared folder)
    for p in (stale, live, other, remote):
        p.write_bytes(b"PK\x03\x04 half a zip")
    make("network").save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name, remote.name, "m"])


def test_a_save_killed_in_another_process_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    import subprocess
    import sys

    code = ("import os, numpy as np, gpubp\n"
            "np.savez = lambda f, **a: (f.write(b'PK partial'), f.flush(), os._exit(9))\n"
            f"gpubp.Network([2, 3, 1], device='cpu').save({str(tmp_path / 'm')!r})\n")
    killed = subprocess.run([sys.executable, "-c", code], env={**os.environ,
                            "PYTHONPATH": os.path.dirname(os.path.dirname(gpubp.__file__))})
    assert killed.returncode == 9
    (left,) = os.listdir(tmp_path)
    assert left.startswith(".m.") and left.endswith(".tmp")
    make("network").save(tmp_path / "m")
    assert os.listdir(tmp_path) == ["m"]
