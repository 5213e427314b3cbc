"""Network: shapes and numbering, clear errors, gradients against finite differences."""


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gpubp
from gpubp import optim
from gpubp.errors import ArgumentTypeError, ConfigError, DataError, GpubpError, NameNotFound, ShapeError
from conftest import HIDDEN, OUTPUT_LOSS_PAIRS, allocated_per_step, random_targets

TOL = 1e-7  # finite differences vs backprop, float64


def make(sizes, act="tanh", out="sigmoid", loss="bce", **kw):
    kw.setdefault("dtype", "float64")
    kw.setdefault("device", "cpu")
    kw.setdefault("seed", 0)
    return gpubp.Network(sizes, activation=act, output=out, loss=loss, **kw)


# ---- the API of the issue -------------------------------------------------------------------

def test_numbering_and_shapes(rng):
    net = make([2, 3, 2], "sigmoid", "sigmoid", "half_sse")
    assert net.L == 2
    assert net.W[1].shape == (3, 2) and net.b[1].shape == (3, 1)
    assert net.W[2].shape == (2, 3) and net.b[2].shape == (2, 1)
    X, Y = rng.normal(size=(2, 5)), rng.uniform(size=(2, 5))
    A = net.forward(X)
    assert A.shape == (2, 5)
    cost, grads = net.gradients(X, Y)
    for l in (1, 2):
        assert grads.W[l].shape == net.W[l].shape and grads.b[l].shape == net.b[l].shape
    assert cost == pytest.approx(0.5 * ((A - Y) ** 2).sum() / 5, rel=1e-12)


def test_forward_is_the_equations_of_the_notes(rng):
    net = make([3, 4, 2], "tanh", "sigmoid", "bce")
    X = rng.normal(size=(3, 6))
    A1 = np.tanh(net.W[1] @ X + net.b[1])
    A2 = 1 / (1 + np.exp(-(net.W[2] @ A1 + net.b[2])))
    np.testing.assert_allclose(net.forward(X), A2, rtol=1e-14)


@pytest.mark.parametrize("bad", [0, 3, -1, "1"])
def test_layers_are_numbered_from_one(bad):
    net = make([2, 3, 2])
    with pytest.raises(IndexError, match=r"numbered 1\.\.2"):
        net.W[bad]


def test_setting_a_parameter_checks_shape_and_keeps_the_array():
    net = make([2, 3, 2])
    live = net.W[2]
    net.W[2] = np.arange(6.0).reshape(2, 3)
    assert net.W[2] is live and live[1, 2] == 5.0
    with pytest.raises(ShapeError, match=r"W\[2\] must be \(n\[2\], n\[1\]\) = \(2, 3\); got \(3, 2\)"):
        net.W[2] = np.zeros((3, 2))


# ---- errors that teach ----------------------------------------------------------------------

def test_wrong_X_names_equation_layer_and_shapes():
    net = make([2, 3, 2])
    with pytest.raises(ShapeError) as e:
        net.forward(np.zeros((5, 4)))
    msg = str(e.value)
    assert "Z[1] = W[1] A[0] + b[1]" in msg and "(3, 2)" in msg and "(5, 4)" in msg
    assert "inner sizes 2 != 5" in msg


def test_transposed_X_gets_a_hint():
    net = make([2, 3, 2])
    with pytest.raises(ShapeError, match="pass X.T"):
        net.forward(np.zeros((7, 2)))


def test_one_dimensional_X_is_refused_with_advice():
    with pytest.raises(ShapeError, match=r"reshape\(-1, 1\)"):
        make([2, 3, 2]).forward(np.zeros(2))


def test_wrong_Y_shape():
    net = make([2, 3, 2])
    with pytest.raises(ShapeError, match=r"A\[2\] is \(2, 4\) but Y is \(4, 2\).*pass Y.T"):
        net.gradients(np.zeros((2, 4)), np.zeros((4, 2)))


def test_row_of_labels_is_accepted_for_one_output(rng):
    net = make([2, 3, 1])
    X, y = rng.normal(size=(2, 5)), rng.integers(0, 2, 5)
    assert net.cost(X, y) == pytest.approx(net.cost(X, y.reshape(1, -1)))


@pytest.mark.parametrize("where", ["X", "Y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(where, bad):
    net = make([2, 3, 1], out="identity", loss="mse")
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    (X if where == "X" else Y)[0, 2] = bad
    with pytest.raises(DataError, match=rf"{where} contains 1 NaN or Inf.*row 0, column 2"):
        net.gradients(X, Y)


def test_bce_labels_outside_unit_interval():
    with pytest.raises(DataError, match=r"bce needs targets Y in \[0, 1\]; got values from 0 to 2"):
        make([2, 3, 1]).gradients(np.ones((2, 3)), np.array([[0, 1, 2]]))


def test_cross_entropy_columns_must_sum_to_one():
    net = make([2, 3, 2], out="softmax", loss="cross_entropy")
    with pytest.raises(DataError, match="column 1 sums to 0.5"):
        net.gradients(np.ones((2, 2)), np.array([[1, 0.25], [0, 0.25]]))


def test_zero_examples():
    with pytest.raises(DataError, match="no examples"):
        make([2, 3, 1]).forward(np.zeros((2, 0)))


@pytest.mark.parametrize("kw, match", [
    (dict(act="swish"), "unknown activation 'swish'; valid activations are: exp, identity, leaky_relu, relu"),
    (dict(loss="hinge"), "unknown loss 'hinge'; valid losses are: bce, cross_entropy, half_sse, mse"),
    (dict(out="tanh", loss="bce"), "needs outputs in \\(0, 1\\)"),
    (dict(act="softmax"), "output layer only"),
    (dict(dtype="float16"), "dtype must be float32 or float64"),
    (dict(device="tpu"), "valid device values are: auto, cpu, gpu"),
])
def test_bad_configuration(kw, match):
    with pytest.raises((ValueError, NameNotFound), match=match):
        make([2, 3, 1], **kw)


def test_per_layer_activation_list_must_match_depth():
    with pytest.raises(ValueError, match="one name per hidden layer: 2"):
        make([2, 3, 3, 1], act=["tanh"])


# ---- gradients: finite differences in float64 ----------------------------------------------

def _check(sizes, acts, out, loss, m, seed, rng):
    net = make(sizes, acts, out, loss, seed=seed)
    X = rng.normal(0, 1, (sizes[0], m))
    Y = random_targets(rng, loss, sizes[-1], m)
    report = gpubp.gradcheck(net, X, Y)
    assert report.max_error < TOL, f"{net}\n{report}"
    assert sum(report.checked.values()) > 0


ARCHS = {1: [3, 2], 2: [3, 5, 2], 3: [4, 3, 5, 3], 4: [3, 4, 1, 5, 2]}


DEPTH_ACT = [(1, "identity")] + [(d, a) for d in (2, 3, 4) for a in HIDDEN]  # depth 1: no hidden layer


@pytest.mark.parametrize("out, loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("depth, act", DEPTH_ACT)
def test_gradients_match_finite_differences(depth, act, out, loss, rng):
    sizes = ARCHS[depth]
    if out == "softmax" or loss == "cross_entropy":
        sizes = sizes[:-1] + [3]
    _check(sizes, act, out, loss, m=1 if depth % 2 else 6, seed=depth, rng=rng)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
       data=st.data(), m=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_random_architectures(sizes, data, m, seed):
    acts = data.draw(st.lists(st.sampled_from(HIDDEN), min_size=len(sizes) - 2, max_size=len(sizes) - 2))
    out, loss = data.draw(st.sampled_from(OUTPUT_LOSS_PAIRS))
    if out == "softmax" and sizes[-1] == 1:
        sizes = sizes[:-1] + [2]  # a softmax over one output is refused: it is always 1
    _check(sizes, acts, out, loss, m, seed, np.random.default_rng(seed))


def test_float32_agrees_with_float64(rng):
    X, Y = rng.normal(size=(4, 9)), rng.uniform(size=(2, 9))
    n64 = make([4, 6, 2], "tanh", "sigmoid", "bce", seed=3)
    n32 = n64.copy(dtype="float32")
    c64, g64 = n64.gradients(X, Y)
    c32, g32 = n32.gradients(X, Y)
    assert g32.W[1].dtype == np.float32
    assert c32 == pytest.approx(c64, rel=1e-6)
    for l in (1, 2):
        np.testing.assert_allclose(g32.W[l], g64.W[l], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g32.b[l], g64.b[l], rtol=1e-4, atol=1e-6)


def test_gradients_are_copies(rng):
    net = make([2, 3, 1])
    X, Y = rng.normal(size=(2, 4)), rng.uniform(size=(1, 4))
    _, g1 = net.gradients(X, Y)
    before = g1.W[1].copy()
    net.gradients(2 * X, Y)
    np.testing.assert_array_equal(g1.W[1], before)


# ---- a training step allocates nothing once warmed up ---------------------------------------

@pytest.mark.parametrize("act, out, loss", [("relu", "sigmoid", "bce"), ("tanh", "identity", "mse"),
                                            ("leaky_relu", "sigmoid", "half_sse"),
                                            ("sigmoid", "softmax", "cross_entropy")])
@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_training_step_allocates_nothing(act, out, loss, opt, rng):
    # m large enough that NumPy's fixed ufunc buffer (8192 elements, used when b broadcasts over
    # the columns) is smaller than any (n[l], m) array: the test then catches any such temporary
    m = 4096
    net = make([32, 64, 48, 10], act, out, loss, dtype="float32")
    kept, peak = allocated_per_step(net, rng.normal(size=(32, m)), random_targets(rng, loss, 10, m),
                                    optim.get(opt, 1e-3), m)
    smallest = 4 * 10 * m  # bytes of the smallest (n[l], m) float32 array
    assert kept < 4096, "a training step kept memory"
    assert peak < smallest // 2, f"a training step made a temporary of {peak} bytes"


# ---- predict and predict_proba -------------------------------------------------------------

def test_predict_gives_classes_labels_or_values(rng):
    X = rng.normal(size=(2, 9))
    soft = make([2, 4, 3], out="softmax", loss="cross_entropy")
    A = soft.forward(X)
    assert np.array_equal(soft.predict(X), A.argmax(axis=0)) and soft.predict(X).shape == (9,)
    np.testing.assert_array_equal(soft.predict_proba(X), A)
    one = make([2, 4, 1], out="sigmoid", loss="bce")
    assert np.array_equal(one.predict(X), (one.forward(X)[0] > 0.5).astype(int))
    multi = make([2, 4, 3], out="sigmoid", loss="bce")
    assert multi.predict(X).shape == (3, 9)
    reg = make([2, 4, 2], out="identity", loss="mse")
    np.testing.assert_array_equal(reg.predict(X), reg.forward(X))
    with pytest.raises(gpubp.GpubpError, match="predict_proba needs a sigmoid or softmax output"):
        reg.predict_proba(X)


# ---- a fault table: bad calls of the public API, and the error each must give -------------------

def _net(**kw):
    return gpubp.Network([2, 3, 1], device="cpu", seed=0, **kw)


API_FAULTS = [  # (name, call, error class, words)
    ("sizes a number", lambda: gpubp.Network(5), ConfigError,
     r"sizes must be a list \[n\[0\], ..., n\[L\]\] of at least two positive integers .*got 5"),
    ("sizes None", lambda: gpubp.Network(None), ConfigError, r"sizes must be a list .*got None"),
    ("seed -1", lambda: _net_seed(-1), ConfigError, r"seed must be an integer >= 0 or None; got -1"),
    ("seed 'abc'", lambda: _net_seed("abc"), ArgumentTypeError,
     r"seed must be an integer >= 0 or None; got 'abc' \(str\)"),
    ("seed 1.5", lambda: _net_seed(1.5), ArgumentTypeError, r"got 1.5 \(float\)"),
    ("seed True", lambda: _net_seed(True), ArgumentTypeError, r"got True \(bool\)"),
    ("bias 'no'", lambda: _net(bias="no"), ArgumentTypeError, r"bias must be True or False; got 'no'"),
    ("a layer's bias 'no'", lambda: _graph_layer_bias("no"), ArgumentTypeError,
     r"bias must be True or False; got 'no'"),
    ("forward strings", lambda: _net().forward([["a", "b"], ["c", "d"]]), DataError,
     r"X must be an array of numbers; got an array of <U1 \(strings or objects\)"),
    ("forward ragged", lambda: _net().forward([[1.0, 2.0], [3.0]]), DataError,
     r"X must be an array of numbers \(one column per example\); .*inhomogeneous"),
    ("complex X", lambda: _net().forward(np.ones((2, 3)) * (1 + 1j)), DataError,
     r"X is complex \(complex128\); gpubp trains on real numbers: pass X.real"),
    ("complex Y", lambda: _net(loss="mse", output="identity").cost(np.ones((2, 3)), np.ones((1, 3)) * 1j),
     DataError, r"Y is complex"),
    ("Y strings", lambda: _net().cost(np.ones((2, 3)), [["a", "b", "c"]]), DataError,
     r"Y must be an array of numbers; got an array of <U1"),
    ("W[1] = strings", lambda: _net().W.__setitem__(1, [["a", "b"]] * 3), DataError,
     r"W\[1\] must be an array of real numbers; got <U1"),
    ("W[1] = all NaN", lambda: _net().W.__setitem__(1, np.full((3, 2), np.nan)), DataError,
     r"W\[1\] must be finite; the values given hold NaN or inf"),
    ("params['b[2]'] = inf", lambda: _net().params.__setitem__("b[2]", [[np.inf]]), DataError,
     r"b\[2\] must be finite"),
    ("unknown fit option", lambda: _net().fit(np.ones((2, 3)), np.full((1, 3), 0.5), epochz=3),
     ArgumentTypeError, r"fit has no option 'epochz'; did you mean 'epochs'\? Its options are: "
                        r"epochs, batch_size"),
    ("too large for memory", lambda: gpubp.Network([10 ** 6, 10 ** 6, 1], device="cpu"), ConfigError,
     r"the graph's 1000002000001 parameters need 3.64 TiB \(float32\), and as much again for "
     r"their gradients; this CPU cannot allocate them"),
]


def _net_seed(seed):
    return gpubp.Network([2, 3, 1], device="cpu", seed=seed)


def _graph_layer_bias(bias):
    g = gpubp.Graph(device="cpu")
    g.layer("H", g.weight("W", (2, 2)) @ g.input("X", 2), bias=bias)


@pytest.mark.parametrize("call, error, words", [f[1:] for f in API_FAULTS],
                         ids=[f[0] for f in API_FAULTS])
def test_a_bad_call_is_a_gpubp_error_that_says_what(call, error, words):
    with pytest.raises(error, match=words) as e:
        call()
    assert isinstance(e.value, GpubpError) and "\n" not in str(e.value)


def test_what_the_fault_table_refuses_is_accepted_when_right():
    """The calls of the fault table, made right, work: each fault is what is refused."""
    for seed in (0, 2 ** 70, np.int64(3), np.random.SeedSequence(1), None):
        gpubp.Network([2, 3, 1], device="cpu", seed=seed)
    net = _net(bias=np.bool_(False))
    assert "b[1]" not in net.params
    net = _net()
    net.W[1] = [[1, 2], [3, 4], [5, 6]]  # ints are numbers
    net.W[1] = np.ones((3, 2), dtype=bool)
    assert net.forward(np.ones((2, 3), dtype=np.int32)).shape == (1, 3)
    net.fit(np.ones((2, 3)), np.full((1, 3), 0.5), epochs=1, batch_size=2)
