"""Errors that teach: every error gpubp raises on purpose is a GpubpError (and the matching
built-in), and its message names what was wrong and what was expected."""

import numpy as np
import pytest

import gpubp
from gpubp import backend, optim
from gpubp.errors import ArgumentTypeError, ConfigError, DeviceError, GpubpError, ShapeError


def net(**kw):
    kw.setdefault("device", "cpu")
    kw.setdefault("seed", 0)
    return gpubp.Network(kw.pop("sizes", [3, 4, 2]), **kw)


X, Y = np.zeros((3, 5)), np.full((2, 5), 0.5)

# (what a new user tries, the built-in it must also be, fragments the message must hold)
CASES = {
    "transposed X": (lambda: net().forward(X.T), ShapeError,
                     ["Z[1] = W[1] A[0] + b[1]", "(4, 3)", "(5, 3)", "pass X.T"]),
    "transposed validation X": (lambda: net().fit(X, Y, validation_data=(X.T, Y)), ShapeError,
                                ["A[0] = validation X is (5, 3)", "validation X looks transposed"]),
    "transposed validation Y": (lambda: net().fit(X, Y, validation_data=(X, Y.T)), ShapeError,
                                ["validation Y is (5, 2)", "pass validation Y.T"]),
    "1-D X with n[0] = 1": (lambda: net(sizes=[1, 3, 1]).forward(np.zeros(7)), ShapeError,
                            ["(n[0], m) = (1, m)", "X is one row of m examples: pass X.reshape(1, -1)"]),
    "1-D single example": (lambda: net().forward(np.zeros(3)), ShapeError,
                           ["single example use X.reshape(-1, 1)"]),
    "class labels for softmax": (
        lambda: net(output="softmax", loss="cross_entropy").gradients(X, np.array([0, 1, 1, 0, 1])),
        ShapeError, ["vector of 5 values: class labels?", "gpubp.one_hot(Y, 2), which is (2, 5)"]),
    "lr as a string": (lambda: net().fit(X, Y, lr="0.1"), ArgumentTypeError,
                       ["lr must be a number; got lr='0.1' (str)"]),
    "momentum mu as a string": (lambda: optim.Momentum(0.1, mu="0.9"), ArgumentTypeError,
                                ["mu must be a number"]),
    "zero learning rate": (lambda: net().fit(X, Y, lr=0), ConfigError, ["learning rate must be a finite number > 0"]),
    "infinite learning rate": (lambda: net().fit(X, Y, lr=float("inf")), ConfigError,
                               ["learning rate must be a finite number > 0; got lr=inf"]),
    "infinite adam eps": (lambda: optim.Adam(0.1, eps=float("inf")), ConfigError, ["a finite eps > 0"]),
    "epochs True": (lambda: net().fit(X, Y, epochs=True), ConfigError,
                    ["epochs must be an integer >= 0; got True"]),
    "patience True": (lambda: net().fit(X, Y, patience=True), ConfigError,
                      ["patience (or None) must be an integer >= 1; got True"]),
    "infinite l2": (lambda: net().fit(X, Y, l2=float("inf")), ConfigError,
                    ["l2 must be a finite number >= 0; got inf"]),
    "l2 True": (lambda: net().fit(X, Y, l2=True), ConfigError, ["l2 must be a finite number >= 0"]),
    "min_delta nan": (lambda: net().fit(X, Y, patience=2, min_delta=float("nan")), ConfigError,
                      ["min_delta must be a finite number >= 0; got nan"]),
    "min_delta str": (lambda: net().fit(X, Y, patience=2, min_delta="x"), ConfigError,
                      ["min_delta must be a finite number >= 0; got 'x'"]),
    "verbose str": (lambda: net().fit(X, Y, verbose="no"), ArgumentTypeError,
                    ["verbose must be True or False; got 'no'"]),
    "seed True": (lambda: net().fit(X, Y, seed=True), ArgumentTypeError,
                  ["seed must be an integer >= 0 or None; got True (bool)"]),
    "seed -1": (lambda: net().fit(X, Y, seed=-1), ConfigError,
                ["seed must be an integer >= 0 or None; got -1"]),
    "check_finite 1": (lambda: net().fit(X, Y, check_finite=1), ArgumentTypeError,
                       ["check_finite must be True or False; got 1"]),
    "optimizer list": (lambda: net().fit(X, Y, optimizer=["adam"]), ArgumentTypeError,
                       ["optimizer must be a name (adam, momentum, sgd) or an Optimizer; got list"]),
    "validation_data of one": (lambda: net().fit(X, Y, validation_data=(X,)), ArgumentTypeError,
                               ["validation_data must be a pair (X_val, Y_val); got a tuple of 1 item"]),
    "batch size 0": (lambda: net().fit(X, Y, batch_size=0), ConfigError, ["batch_size"]),
    "epochs -1": (lambda: net().fit(X, Y, epochs=-1), ConfigError, ["epochs must be"]),
    "float16": (lambda: net(dtype="float16"), ConfigError, ["dtype must be float32 or float64"]),
    "sizes": (lambda: net(sizes=[3]), ConfigError, ["sizes must be [n[0], ..., n[L]]"]),
    "activation list": (lambda: net(sizes=[3, 4, 4, 2], activation=["tanh"]), ConfigError,
                        ["one name per hidden layer: 2"]),
    "one softmax output": (lambda: net(sizes=[3, 4, 1], output="softmax", loss="cross_entropy"),
                           ConfigError, ["softmax over one output is always 1",
                                         "output='sigmoid' and loss='bce'"]),
    "softmax left with the default bce": (lambda: net(output="softmax"), ConfigError,
                                          ["loss 'bce' needs output='sigmoid'",
                                           "output='softmax' with loss='cross_entropy'"]),
    "layer 0": (lambda: net().W[0], IndexError, ["numbered 1..2"]),
    "leaky alpha": (lambda: gpubp.activations.LeakyReLU(2), ConfigError, ["0 < alpha < 1"]),
    "bad parameter shape": (lambda: net().W.__setitem__(1, np.zeros((3, 4))), ShapeError,
                            ["W[1] must be (n[1], n[0]) = (4, 3); got (3, 4)"]),
    "graph input missing": (lambda: _graph().gradients({"X1": np.zeros((2, 3))}, np.zeros((1, 3))),
                            GpubpError, ["every input of the graph by name: X1, X2", "missing X2"]),
    "rnn softmax over one output": (
        lambda: gpubp.ElmanRNN(2, 3, 1, T=2, output="softmax", loss="cross_entropy", device="cpu"),
        ConfigError, ["output y_hat: a softmax over one output is always 1", "output='sigmoid'"]),
    "weight shape a number": (lambda: gpubp.Graph().weight("W", 3), ConfigError,
                              ["weight 'W': shape must be two positive integers (rows, cols); got 3"]),
    "graph term shapes": (lambda: _bad_graph(), ShapeError,
                          ["Z_H = W X: W is (3, 2) but X is (5, m); inner sizes 2 != 5"]),
    "rnn X": (lambda: gpubp.ElmanRNN(2, 3, 1, 4, device="cpu").forward(np.zeros((2, 4, 5))),
              ShapeError, ["(T, n_x, m) = (4, 2, m)"]),
    "one_hot of floats": (lambda: gpubp.one_hot([0.5, 1]), ArgumentTypeError, ["integer class labels"]),
    "validation data not a pair": (lambda: net().fit(X, Y, validation_data=X), ArgumentTypeError,
                                   ["validation_data must be a pair (X_val, Y_val)"]),
    "callback not callable": (lambda: net().fit(X, Y, callback=3), ArgumentTypeError,
                              ["callback must be a function"]),
    "shuffle not a bool": (lambda: net().fit(X, Y, shuffle="no"), ArgumentTypeError,
                           ["shuffle must be True or False"]),
    "save to a folder": (lambda: net().save("."), gpubp.CheckpointError,
                         ["it is a folder; give a file name"]),
    "unknown parameter": (lambda: net().params["Q"], gpubp.NameNotFound,
                          ["no parameter named 'Q'; the parameters are: W[1], b[1], W[2], b[2]"]),
    "Y of the wrong size": (lambda: net().gradients(X, np.zeros((3, 5))), ShapeError,
                            ["A[2] is (2, 5) but Y is (3, 5)"]),
    "explain m as a string": (lambda: gpubp.explain(net(), m="5"), ConfigError,
                              ["must be a positive integer; got '5'"]),
    "gradcheck with a short Y": (lambda: gpubp.gradcheck(net(), X, np.zeros((2, 4))), ShapeError,
                                 ["Y must be (n[2], m) = (2, 5)"]),
    "bad batch for forward": (lambda: net().forward(X, batch_size=-1), ConfigError,
                              ["batch_size must be a positive integer or None"]),
}


def _graph():
    g = gpubp.Graph(device="cpu")
    X1, X2 = g.input("X1", 2), g.input("X2", 2)
    W = g.weight("W", (1, 2))
    g.output(g.layer("Y", W @ X1 + W @ X2))
    return g


def _bad_graph():
    g = gpubp.Graph(device="cpu")
    g.layer("H", g.weight("W", (3, 2)) @ g.input("X", 5))


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_error_teaches(case):
    call, builtin, fragments = CASES[case]
    with pytest.raises(GpubpError) as e:
        call()
    assert isinstance(e.value, builtin), type(e.value).__mro__
    for f in fragments:
        assert f in str(e.value), f"{f!r} not in: {e.value}"


def test_one_hot_is_what_the_message_offers():
    y = np.array([0, 1, 1, 0, 1])
    Y1 = gpubp.one_hot(y, 2)
    assert Y1.shape == (2, 5) and Y1[1].tolist() == [0, 1, 1, 0, 1] and (Y1.sum(axis=0) == 1).all()
    net(output="softmax", loss="cross_entropy").gradients(X, Y1)  # accepted


def test_gpu_without_cupy_gives_the_command_that_works(monkeypatch):
    monkeypatch.setattr(backend, "cupy_status", lambda: (None, "not installed"))
    with pytest.raises(DeviceError, match=r'pip install -e "\.\[cuda12\]"'):
        net(device="gpu")


def test_gpubp_device_variable_is_named_as_the_cause(monkeypatch):
    monkeypatch.setattr(backend, "cupy_status", lambda: (None, "not installed"))
    monkeypatch.setenv("GPUBP_DEVICE", "gpu")
    with pytest.raises(DeviceError, match="environment variable GPUBP_DEVICE=gpu asks for the GPU"):
        gpubp.Network([2, 1], device=None)
    monkeypatch.setenv("GPUBP_DEVICE", "tpu")
    with pytest.raises(GpubpError, match="environment variable GPUBP_DEVICE value 'tpu'"):
        gpubp.Network([2, 1], device=None)


def test_every_error_class_of_the_package_is_a_gpubp_error():
    """Every Exception subclass defined in a module of gpubp (the command line's and the
    estimators' included) is a GpubpError; a KeyboardInterrupt kind (cli's Interrupted) is not
    an Exception and stays out."""
    import importlib
    import inspect
    import pkgutil

    import gpubp

    found = {}
    for info in pkgutil.walk_packages(gpubp.__path__, "gpubp."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, Exception):
                found[f"{info.name}.{name}"] = cls
    assert "gpubp.cli.options.UsageError" in found and "gpubp.distributed.RankFailed" in found
    assert [name for name, cls in found.items() if not issubclass(cls, GpubpError)] == []
