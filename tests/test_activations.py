"""Activations against independent reference formulas and finite differences (float64).

Every number checked here comes from a formula written out below in plain NumPy (never from
gpubp itself), or from central finite differences of that formula in float64. Each body runs on
NumPy and, where a CUDA device answers, on CuPy (the ``device`` / ``xp`` fixtures).
"""

import numpy as np
import pytest

from gpubp import activations
from gpubp.activations import LeakyReLU
from gpubp.backend import to_host
from gpubp.errors import NameNotFound

H = 1e-6  # central-difference step (float64)


def _leaky(alpha):
    return lambda z: np.where(z > 0, z, alpha * z)


# name -> (make the activation, independent reference chi(z) in float64 NumPy)
ELEMENTWISE = {
    "identity": (lambda: activations.get("identity"), lambda z: z.copy()),
    "sigmoid": (lambda: activations.get("sigmoid"), lambda z: 1.0 / (1.0 + np.exp(-z))),
    "tanh": (lambda: activations.get("tanh"), np.tanh),
    "relu": (lambda: activations.get("relu"), lambda z: np.maximum(z, 0.0)),
    "leaky_relu": (lambda: activations.get("leaky_relu"), _leaky(0.01)),  # documented default
    "leaky_relu_0.2": (lambda: LeakyReLU(0.2), _leaky(0.2)),
}
NAMES = list(ELEMENTWISE)


def _z(rng, n=5, m=7, lo=0.1, hi=4.0):
    """Entries with |z| in [lo, hi], random sign: never within `lo` of the kink of relu/leaky_relu."""
    return rng.choice([-1.0, 1.0], (n, m)) * rng.uniform(lo, hi, (n, m))


def _fd_derivative(f, Z):
    """chi'(Z) elementwise by central differences of the reference formula, in float64."""
    Z = np.asarray(Z, dtype=np.float64)
    return (f(Z + H) - f(Z - H)) / (2 * H)


def _forward(act, xp, Z, dtype=np.float64):
    Zd = xp.asarray(Z, dtype=dtype)
    A = xp.empty_like(Zd)
    act.forward(Zd, A, xp.empty_like(Zd))
    return A


def _ref_softmax(Z):
    """exp(z) / sum exp(z) per column, straight from the definition (moderate z only)."""
    e = np.exp(Z)
    return e / e.sum(axis=0, keepdims=True)


# ---- elementwise activations: forward, forward_bias, backward, derivative --------------------

@pytest.mark.parametrize("name", NAMES)
def test_forward_equals_reference_formula(name, xp, rng):
    make, ref = ELEMENTWISE[name]
    Z = _z(rng, lo=0.0, hi=6.0)
    Z[0, :3] = [0.0, 30.0, -30.0]  # the kink, and saturation of sigmoid/tanh
    A = _forward(make(), xp, Z)
    np.testing.assert_allclose(to_host(A), ref(Z), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", NAMES)
def test_forward_bias_equals_forward_of_z_plus_b(name, xp, rng):
    make, ref = ELEMENTWISE[name]
    n, m = 4, 9
    Z = _z(rng, n, m, lo=0.0)
    b = rng.normal(0, 2, (n, 1))  # one bias per unit, broadcast over the m columns
    act = make()
    Zd, bd = xp.asarray(Z), xp.asarray(b)
    A = xp.empty_like(Zd)
    act.forward_bias(Zd, bd, A, xp.empty_like(Zd))
    assert A.shape == (n, m)
    expected = ref(Z + b)
    np.testing.assert_allclose(to_host(A), expected, rtol=1e-14, atol=1e-300)
    # and it is forward() of the sum, computed through the library's own forward
    np.testing.assert_allclose(to_host(A), to_host(_forward(act, xp, Z + b)), rtol=1e-15, atol=0)
    # Z and b are inputs: left as they were
    np.testing.assert_array_equal(to_host(Zd), Z)
    np.testing.assert_array_equal(to_host(bd), b)


@pytest.mark.parametrize("name", NAMES)
def test_backward_is_da_times_finite_difference_derivative(name, xp, rng):
    """backward reads chi' from A = chi(Z): it must agree with d chi / dz taken at Z."""
    make, ref = ELEMENTWISE[name]
    act = make()
    Z = _z(rng)
    dA = rng.normal(0, 1, Z.shape)
    A = _forward(act, xp, Z)
    dAd = xp.asarray(dA)
    dZ = xp.empty_like(A)
    act.backward(A, dAd, dZ)
    np.testing.assert_allclose(to_host(dZ), dA * _fd_derivative(ref, Z), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(to_host(dAd), dA)  # dA is an input


@pytest.mark.parametrize("name", NAMES)
def test_derivative_from_output_is_finite_difference_derivative(name, xp, rng):
    make, ref = ELEMENTWISE[name]
    act = make()
    Z = _z(rng)
    d = act.derivative(_forward(act, xp, Z))
    np.testing.assert_allclose(to_host(d), _fd_derivative(ref, Z), rtol=1e-6, atol=1e-9)


def test_sigmoid_and_tanh_derivatives_by_hand(xp):
    # sigma(0) = 1/2, sigma'(0) = 1/4; tanh'(0) = 1; sigma(ln 3) = 3/4, sigma' = 3/16;
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5, tanh' = 1 - 9/25 = 16/25
    Z = np.array([[0.0, np.log(3.0)]])
    sig = activations.get("sigmoid")
    A = _forward(sig, xp, Z)
    np.testing.assert_allclose(to_host(A), [[0.5, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(to_host(sig.derivative(A)), [[0.25, 3 / 16]], rtol=1e-15)
    th = activations.get("tanh")
    A = _forward(th, xp, np.array([[0.0, np.log(2.0)]]))
    np.testing.assert_allclose(to_host(A), [[0.0, 0.6]], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(to_host(th.derivative(A)), [[1.0, 16 / 25]], rtol=1e-15)


# ---- documented conventions ------------------------------------------------------------------

def test_relu_derivative_at_zero_is_zero(xp):
    relu = activations.get("relu")
    Z = np.array([[0.0, -0.0, -2.0, 3.0]])
    A = _forward(relu, xp, Z)
    np.testing.assert_array_equal(to_host(relu.derivative(A)), [[0.0, 0.0, 0.0, 1.0]])
    dZ = xp.empty_like(A)
    relu.backward(A, xp.asarray([[5.0, 5.0, 5.0, 5.0]]), dZ)
    np.testing.assert_array_equal(to_host(dZ), [[0.0, 0.0, 0.0, 5.0]])


@pytest.mark.parametrize("alpha", [0.01, 0.2, 0.5])
def test_leaky_relu_derivative_at_zero_is_alpha(alpha, xp):
    leaky = LeakyReLU(alpha)
    Z = np.array([[0.0, -0.0, -2.0, 3.0]])
    A = _forward(leaky, xp, Z)
    np.testing.assert_allclose(to_host(A), [[0.0, 0.0, -2.0 * alpha, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(to_host(leaky.derivative(A)), [[alpha, alpha, alpha, 1.0]],
                               rtol=1e-15)


def test_leaky_relu_default_alpha_and_repr():
    leaky = activations.get("leaky_relu")
    assert isinstance(leaky, LeakyReLU)
    assert leaky.alpha == 0.01
    assert "0.2" in repr(LeakyReLU(0.2))


@pytest.mark.parametrize("alpha", [0, 0.0, -0.1, 1, 1.0, 1.5, float("nan")])
def test_leaky_relu_alpha_outside_open_unit_interval_is_refused(alpha):
    with pytest.raises(ValueError, match="0 < alpha < 1"):
        LeakyReLU(alpha)


@pytest.mark.parametrize("alpha", [1e-6, 0.5, 0.999])
def test_leaky_relu_alpha_inside_interval_is_accepted(alpha):
    assert LeakyReLU(alpha).alpha == alpha


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "leaky_relu"])
def test_elementwise_activations_are_allowed_as_hidden(name):
    assert activations.get(name).hidden_ok is True


@pytest.mark.parametrize("name, lo, hi", [
    ("sigmoid", 0.0, 1.0), ("softmax", 0.0, 1.0), ("tanh", -1.0, 1.0),
    ("relu", 0.0, np.inf), ("identity", -np.inf, np.inf), ("leaky_relu", -np.inf, np.inf),
])
def test_declared_ranges(name, lo, hi):
    assert tuple(activations.get(name).range) == (lo, hi)


# ---- dtype: float32 stays float32 ------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name, xp, rng):
    make, ref = ELEMENTWISE[name]
    act = make()
    Z = _z(rng).astype(np.float32)
    b = rng.normal(0, 1, (Z.shape[0], 1)).astype(np.float32)
    Z64 = Z.astype(np.float64)

    A = _forward(act, xp, Z, np.float32)
    assert A.dtype == np.float32
    np.testing.assert_allclose(to_host(A), ref(Z64), rtol=1e-6, atol=1e-7)

    Zd, bd = xp.asarray(Z), xp.asarray(b)
    Ab = xp.empty_like(Zd)
    act.forward_bias(Zd, bd, Ab, xp.empty_like(Zd))
    assert Ab.dtype == np.float32
    np.testing.assert_allclose(to_host(Ab), ref(Z64 + b.astype(np.float64)), rtol=1e-6, atol=1e-6)

    dA = rng.normal(0, 1, Z.shape).astype(np.float32)
    dZ = xp.empty_like(A)
    act.backward(A, xp.asarray(dA), dZ)
    assert dZ.dtype == np.float32
    np.testing.assert_allclose(to_host(dZ), dA * _fd_derivative(ref, Z64), rtol=1e-5, atol=1e-6)

    d = act.derivative(A)
    assert d.dtype == np.float32
    np.testing.assert_allclose(to_host(d), _fd_derivative(ref, Z64), rtol=1e-5, atol=1e-6)


def test_softmax_float32_in_float32_out(xp, rng):
    sm = activations.get("softmax")
    Z = rng.normal(0, 3, (6, 5)).astype(np.float32)
    A = _forward(sm, xp, Z, np.float32)
    assert A.dtype == np.float32
    np.testing.assert_allclose(to_host(A), _ref_softmax(Z.astype(np.float64)), rtol=1e-5, atol=1e-7)
    dZ = xp.empty_like(A)
    sm.backward(A, xp.asarray(rng.normal(0, 1, Z.shape).astype(np.float32)), dZ)
    assert dZ.dtype == np.float32


# ---- softmax ---------------------------------------------------------------------------------

def test_softmax_by_hand(xp):
    # column 0: z = (0, ln 3) -> (1/4, 3/4); column 1: z = (1, 1) -> (1/2, 1/2)
    A = _forward(activations.get("softmax"), xp, np.array([[0.0, 1.0], [np.log(3.0), 1.0]]))
    np.testing.assert_allclose(to_host(A), [[0.25, 0.5], [0.75, 0.5]], rtol=1e-15)


def test_softmax_equals_definition_and_columns_sum_to_one(xp, rng):
    Z = rng.normal(0, 3, (6, 11))
    A = to_host(_forward(activations.get("softmax"), xp, Z))
    np.testing.assert_allclose(A, _ref_softmax(Z), rtol=1e-13)
    np.testing.assert_allclose(A.sum(axis=0), np.ones(11), rtol=1e-14)
    assert (A > 0).all()


def test_softmax_is_invariant_to_a_constant_per_column(xp, rng):
    sm = activations.get("softmax")
    Z = rng.normal(0, 2, (5, 8))
    c = rng.uniform(-50, 50, (1, 8))  # a different constant for each column
    np.testing.assert_allclose(to_host(_forward(sm, xp, Z + c)), to_host(_forward(sm, xp, Z)),
                               rtol=1e-12)


def test_softmax_acts_on_each_column_separately(xp, rng):
    sm = activations.get("softmax")
    Z = rng.normal(0, 2, (4, 6))
    A = to_host(_forward(sm, xp, Z))
    for j in range(Z.shape[1]):
        np.testing.assert_allclose(A[:, [j]], _ref_softmax(Z[:, [j]]), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_does_not_overflow_at_large_logits(dtype, xp):
    # column 0: (1000, 999, 0)   -> (1/(1+e^-1), e^-1/(1+e^-1), ~0)
    # column 1: (1000, 1000, 1000) -> 1/3 each
    # column 2: (-1000, -1000, -999) -> (e^-1, e^-1, 1) / (1 + 2 e^-1)
    Z = np.array([[1000.0, 1000.0, -1000.0],
                  [999.0, 1000.0, -1000.0],
                  [0.0, 1000.0, -999.0]])
    e = np.exp(-1.0)
    expected = np.array([[1 / (1 + e), 1 / 3, e / (1 + 2 * e)],
                         [e / (1 + e), 1 / 3, e / (1 + 2 * e)],
                         [0.0, 1 / 3, 1 / (1 + 2 * e)]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        A = to_host(_forward(activations.get("softmax"), xp, Z, dtype))
    assert A.dtype == dtype
    assert np.isfinite(A).all()
    np.testing.assert_allclose(A, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)


def test_softmax_backward_is_finite_difference_vector_jacobian_product(xp, rng):
    """dZ_j = sum_i dA_i d softmax_i / d z_j, column by column, by central differences."""
    sm = activations.get("softmax")
    n, m = 5, 6
    Z = rng.normal(0, 1.5, (n, m))
    dA = rng.normal(0, 1, (n, m))
    expected = np.empty((n, m))
    for j in range(n):  # perturb z_j of every column at once: the columns do not interact
        E = np.zeros((n, m))
        E[j] = H
        dS = (_ref_softmax(Z + E) - _ref_softmax(Z - E)) / (2 * H)  # d softmax / d z_j
        expected[j] = (dA * dS).sum(axis=0)
    A = _forward(sm, xp, Z)
    dZ = xp.empty_like(A)
    sm.backward(A, xp.asarray(dA), dZ)
    np.testing.assert_allclose(to_host(dZ), expected, rtol=1e-6, atol=1e-9)
    # an upstream gradient that is constant within a column has no effect (softmax sums to 1)
    sm.backward(A, xp.asarray(np.tile(rng.normal(0, 1, (1, m)), (n, 1))), dZ)
    np.testing.assert_allclose(to_host(dZ), 0, atol=1e-14)


def test_softmax_forward_bias_equals_softmax_of_z_plus_b(xp, rng):
    sm = activations.get("softmax")
    Z = rng.normal(0, 2, (4, 7))
    b = rng.normal(0, 2, (4, 1))
    A = xp.empty_like(xp.asarray(Z))
    sm.forward_bias(xp.asarray(Z), xp.asarray(b), A, xp.empty_like(A))
    np.testing.assert_allclose(to_host(A), _ref_softmax(Z + b), rtol=1e-13)


def test_softmax_is_refused_as_hidden():
    assert activations.get("softmax").hidden_ok is False


# ---- get() -----------------------------------------------------------------------------------

def test_get_unknown_name_lists_the_valid_names():
    with pytest.raises(NameNotFound) as info:
        activations.get("swish")
    msg = str(info.value)
    assert "'swish'" in msg
    for name in ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"):
        assert name in msg
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [None, 3, np.tanh, "Sigmoid"])
def test_get_refuses_what_is_neither_name_nor_activation(bad):
    with pytest.raises(NameNotFound):
        activations.get(bad)


def test_get_returns_an_activation_object_itself():
    leaky = LeakyReLU(0.3)
    assert activations.get(leaky) is leaky
    sm = activations.Softmax()
    assert activations.get(sm) is sm


@pytest.mark.parametrize("name, cls", [
    ("identity", activations.Identity), ("sigmoid", activations.Sigmoid),
    ("tanh", activations.Tanh), ("relu", activations.ReLU),
    ("leaky_relu", activations.LeakyReLU), ("softmax", activations.Softmax),
])
def test_get_by_name(name, cls):
    act = activations.get(name)
    assert type(act) is cls
    assert act.name == name


@pytest.mark.parametrize("step", ["forward", "forward_bias", "backward"])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_bind_does_what_the_step_does(name, step, rng):
    """A plan binds each step to its buffers once; the bound call gives the step's bits, on
    arrays big enough for the fused loops and on small ones."""
    act = ELEMENTWISE[name][0]()
    for n, m in ((3, 5), (64, 64)):
        Z, b, dA = (rng.normal(0, 2, s).astype(np.float32) for s in ((n, m), (n, 1), (n, m)))
        A = np.empty_like(Z)
        act.forward(Z, A)
        args = {"forward": (Z,), "forward_bias": (Z, b), "backward": (A, dA)}[step]
        direct, bound = np.full_like(Z, np.nan), np.full_like(Z, np.nan)
        getattr(act, step)(*args, direct)
        act.bind(step, *args, bound)()
        np.testing.assert_array_equal(bound, direct)


def test_a_subclass_that_writes_its_own_step_is_the_one_a_plan_runs():
    import gpubp

    class Sloppy(activations.Sigmoid):  # a learner's own derivative, sigma' written as A
        def backward(self, A, dA, dZ):
            np.multiply(dA, A, out=dZ)

    net = gpubp.Network([3, 4, 2], activation=Sloppy(), seed=0, device="cpu", dtype="float64")
    X, Y = np.random.default_rng(0).normal(size=(3, 5)), np.full((2, 5), 0.5)
    assert not gpubp.gradcheck(net, X, Y).ok()
    right = gpubp.Network([3, 4, 2], activation="sigmoid", seed=0, device="cpu", dtype="float64")
    assert gpubp.gradcheck(right, X, Y).ok()


# ---- spec and from_spec: what a checkpoint stores ---------------------------------------------

@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "softmax"])
def test_spec_is_the_name_and_from_spec_gives_the_activation_back(name):
    act = activations.get(name)
    assert act.spec() == {"name": name}
    assert type(activations.from_spec(act.spec())) is type(act)


def test_leaky_relu_spec_keeps_alpha():
    spec = LeakyReLU(0.2).spec()
    assert spec == {"name": "leaky_relu", "alpha": 0.2}
    back = activations.from_spec(spec)
    assert isinstance(back, LeakyReLU) and back.alpha == 0.2


@pytest.mark.parametrize("spec, message", [
    ({"name": "swish"}, "unknown activation 'swish'; valid activations are: exp, identity, leaky_relu"),
    ({"name": "relu", "alpha": 0.1}, "activation 'relu' takes the fields \\['name'\\]"),
    ({"name": "leaky_relu"}, "missing \\['alpha'\\]"),
    ({"name": "leaky_relu", "alpha": 0.1, "beta": 1}, "extra \\['beta'\\]"),
    ({"name": "leaky_relu", "alpha": "0.1"}, "alpha must be a number; got '0.1'"),
    ({"name": "leaky_relu", "alpha": True}, "alpha must be a number"),
    ({"name": "leaky_relu", "alpha": 2.0}, "0 < alpha < 1"),
    ({"alpha": 0.1}, "a dict with a string 'name'"),
    ("relu", "a dict with a string 'name'"),
])
def test_from_spec_refuses_what_it_cannot_build(spec, message):
    from gpubp.errors import ConfigError
    with pytest.raises(ConfigError, match=message):
        activations.from_spec(spec)


def test_register_takes_a_name_once(monkeypatch):
    from gpubp.errors import ConfigError
    monkeypatch.setattr(activations, "ACTIVATIONS", dict(activations.ACTIVATIONS))

    class Relu2(activations.ReLU):
        pass

    with pytest.raises(ConfigError, match="activation name 'relu' is taken by ReLU"):
        activations.register(Relu2)
    assert activations.register(activations.ReLU) is activations.ReLU  # again: nothing changes
    with pytest.raises(ConfigError, match="takes an Activation subclass"):
        activations.register(object)


# ---- the printed formulas are what the kernels compute ------------------------------------------

@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_the_formulas_explain_prints_are_what_the_kernels_compute(name, rng):
    act = activations.get(name)
    Z = _z(rng, n=4, m=9)
    A = np.empty_like(Z)
    act.forward(Z, A, np.empty_like(Z))
    np.testing.assert_allclose(act.reference_forward(Z), A, rtol=1e-14, atol=1e-300)
    dA, dZ = rng.normal(size=Z.shape), np.empty_like(Z)
    act.backward(A, dA, dZ)
    np.testing.assert_allclose(act.reference_backward(A, dA), dZ, rtol=1e-14, atol=1e-300)
    assert act.derivative_text("A[1]")  # it renders


def test_derivative_text_renders_the_formula_with_the_symbol_and_constants():
    assert activations.get("sigmoid").derivative_text("A[1]") == "A[1] (1 - A[1])"
    assert activations.get("tanh").derivative_text("H") == "1 - H^2"
    assert LeakyReLU(0.2).derivative_text("A[2]") == "where(A[2] > 0, 1, 0.2)"


def test_a_bias_kernel_must_be_declared_one():
    """An activation's bias_kernel declared without ``bias=True`` is refused at registration
    (its loop would be handed z and b flat); a bias kernel needs two inputs, z and the bias."""
    from gpubp import kernels
    from gpubp.errors import ConfigError

    try:
        class Shifted(activations.Activation):
            name = "test_shifted"
            formula = derivative_formula = "Z"

            @kernels.declare("test_bias_unflagged", "T z, T b", "T a", "a = z + b")
            def bias_kernel(z, b, a, scratch=None):
                np.add(z, b, out=a)

        with pytest.raises(ConfigError, match=r"'test_shifted': its bias_kernel must be declared "
                                              r"with kernels.declare\(\.\.\., bias=True\)"):
            activations.register(Shifted)
        assert "test_shifted" not in activations.ACTIVATIONS
        with pytest.raises(ConfigError, match="declared a bias kernel .* first two inputs are z"):
            kernels.declare("test_bias_alone", "T z", "T a", "a = z", bias=True)(lambda z, a: None)
        assert "test_bias_alone" not in kernels.KERNELS
    finally:
        kernels.KERNELS.pop("test_bias_unflagged", None)
