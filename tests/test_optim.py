"""Optimizers against hand calculations and textbook recursions, on every backend (``xp``).

The hand-worked examples use binary fractions (multiples of 1/8) so that every intermediate is
exact in floating point and the result must match to the last bit on NumPy and on the GPU alike
(fused multiply-add or not).
"""

import math

import numpy as np
import pytest

from gpubp import backend, optim
from gpubp.errors import NameNotFound


def on(xp, a, dtype=np.float64):
    """A fresh copy of ``a`` on ``xp`` (never ``a`` itself: to_device does not copy on NumPy)."""
    return backend.to_device(np.array(a, dtype=dtype), xp)


def host(a):
    return backend.to_host(a)


# ---- SGD ---------------------------------------------------------------------------------------

def test_sgd_one_step_is_w_minus_lr_g_exactly(xp):
    W = on(xp, [[1.0, -2.0, 0.5]])
    g = on(xp, [[0.5, 1.0, -4.0]])
    params = [W]
    optim.SGD(0.25).step(params, [g])
    # 1 - 0.25*0.5 = 0.875; -2 - 0.25*1 = -2.25; 0.5 - 0.25*(-4) = 1.5
    np.testing.assert_array_equal(host(W), [[0.875, -2.25, 1.5]])
    assert params[0] is W  # updated in place, not replaced


def test_sgd_leaves_the_gradient_unchanged(xp):
    W = on(xp, [[1.0, -2.0, 0.5]])
    g = on(xp, [[0.5, 1.0, -4.0]])
    optim.SGD(0.25).step([W], [g])
    np.testing.assert_array_equal(host(g), [[0.5, 1.0, -4.0]])


def test_sgd_second_step_uses_the_new_gradient(xp):
    W, g = on(xp, [[1.0, 2.0]]), on(xp, [[1.0, -1.0]])
    opt = optim.SGD(0.5)
    opt.step([W], [g])               # [0.5, 2.5]
    g[...] = on(xp, [[-2.0, 3.0]])  # a training loop rewrites its gradient buffer in place
    opt.step([W], [g])               # [0.5 + 1, 2.5 - 1.5]
    np.testing.assert_array_equal(host(W), [[1.5, 1.0]])


def test_sgd_float32_stays_float32(xp):
    W = on(xp, [[1.0, -2.0]], np.float32)
    g = on(xp, [[0.5, 1.0]], np.float32)
    optim.SGD(0.25).step([W], [g])
    assert W.dtype == np.float32
    np.testing.assert_array_equal(host(W), np.array([[0.875, -2.25]], np.float32))


# ---- Momentum ----------------------------------------------------------------------------------

def test_momentum_two_steps_by_hand(xp):
    # v = mu v - lr g; W += v   with lr = 1/4, mu = 1/2 (different, so swapping them shows)
    W = on(xp, [[1.0, 2.0]])
    g = on(xp, [[1.0, -2.0]])
    opt = optim.Momentum(0.25, mu=0.5)
    opt.step([W], [g])
    # v = -0.25*[1, -2] = [-0.25, 0.5];  W = [0.75, 2.5]
    np.testing.assert_array_equal(host(W), [[0.75, 2.5]])
    g[...] = on(xp, [[0.5, 4.0]])
    opt.step([W], [g])
    # v = 0.5*[-0.25, 0.5] - 0.25*[0.5, 4] = [-0.25, -0.75];  W = [0.5, 1.75]
    np.testing.assert_array_equal(host(W), [[0.5, 1.75]])


def test_momentum_default_mu_follows_the_recursion(xp, rng):
    W0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(3)]
    W, opt = on(xp, W0), optim.Momentum(0.1)  # default mu = 0.9
    W_ref, v_ref = W0.copy(), np.zeros_like(W0)
    for g in grads:
        opt.step([W], [on(xp, g)])
        v_ref = 0.9 * v_ref - 0.1 * g
        W_ref = W_ref + v_ref
    np.testing.assert_allclose(host(W), W_ref, rtol=1e-13, atol=1e-15)


def test_momentum_with_mu_zero_is_sgd(xp, rng):
    W0, g = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    W_m, W_s = on(xp, W0), on(xp, W0)
    optim.Momentum(0.3, mu=0.0).step([W_m], [on(xp, g)])
    optim.SGD(0.3).step([W_s], [on(xp, g)])
    np.testing.assert_allclose(host(W_m), host(W_s), rtol=1e-15, atol=1e-16)


# ---- Adam --------------------------------------------------------------------------------------

def adam_reference(W0, grads, lr, b1, b2, eps):
    """Kingma and Ba, Algorithm 1, written out step by step in float64."""
    W, m, v = W0.astype(np.float64), np.zeros(W0.shape), np.zeros(W0.shape)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        mhat = m / (1 - b1 ** t)
        vhat = v / (1 - b2 ** t)
        W = W - lr * mhat / (np.sqrt(vhat) + eps)
    return W


ADAM_SETTINGS = [
    dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),  # the defaults
    dict(lr=0.1, beta1=0.8, beta2=0.99, eps=0.1),     # eps large enough to matter
]


@pytest.mark.parametrize("hp", ADAM_SETTINGS, ids=["defaults", "large_lr_eps"])
def test_adam_five_steps_match_textbook_float64(xp, rng, hp):
    W0 = rng.normal(size=(5, 4))
    grads = [rng.normal(size=(5, 4)) for _ in range(5)]
    W, g = on(xp, W0), on(xp, np.zeros((5, 4)))
    opt = optim.Adam(**hp)
    for gt in grads:
        g[...] = on(xp, gt)
        opt.step([W], [g])
    ref = adam_reference(W0, grads, hp["lr"], hp["beta1"], hp["beta2"], hp["eps"])
    np.testing.assert_allclose(host(W), ref, rtol=1e-12)
    assert W.dtype == np.float64


def test_adam_default_hyperparameters(xp, rng):
    W0 = rng.normal(size=(3, 3))
    grads = [rng.normal(size=(3, 3)) for _ in range(5)]
    W, opt = on(xp, W0), optim.Adam(1e-3)
    for g in grads:
        opt.step([W], [on(xp, g)])
    np.testing.assert_allclose(host(W), adam_reference(W0, grads, 1e-3, 0.9, 0.999, 1e-8),
                               rtol=1e-12)


def test_adam_first_step_moves_each_weight_by_lr(xp):
    # t = 1: mhat = g, vhat = g^2, so the step is lr * g / (|g| + eps) = lr * sign(g) (eps -> 0)
    W = on(xp, [[0.0, 1.0, -1.0]])
    optim.Adam(0.5, eps=1e-300).step([W], [on(xp, [[3.0, -0.001, 1e6]])])
    np.testing.assert_allclose(host(W), [[-0.5, 1.5, -1.5]], rtol=1e-15)


def test_adam_keeps_separate_state_per_parameter(xp, rng):
    shapes = [(4, 3), (4, 1)]
    W0 = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(5)]
    params, opt = [on(xp, w) for w in W0], optim.Adam(0.05)
    for gs in grads:
        opt.step(params, [on(xp, g) for g in gs])
    for i in range(2):
        ref = adam_reference(W0[i], [gs[i] for gs in grads], 0.05, 0.9, 0.999, 1e-8)
        np.testing.assert_allclose(host(params[i]), ref, rtol=1e-12)


def test_adam_float32_stays_float32(xp, rng):
    W0 = rng.normal(size=(5, 4)).astype(np.float32)
    grads = [rng.normal(size=(5, 4)).astype(np.float32) for _ in range(5)]
    W, opt = on(xp, W0, np.float32), optim.Adam(0.01)
    for g in grads:
        opt.step([W], [on(xp, g, np.float32)])
        assert W.dtype == np.float32
    ref = adam_reference(W0, [g.astype(np.float64) for g in grads], 0.01, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(host(W), ref, rtol=1e-5, atol=1e-6)


def test_adam_matches_torch_float64(rng):
    torch = pytest.importorskip("torch")
    W0 = rng.normal(size=(5, 4))
    grads = [rng.normal(size=(5, 4)) for _ in range(5)]
    p = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    ref_opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    W, opt = W0.copy(), optim.Adam(0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        ref_opt.step()
        opt.step([W], [g])
    np.testing.assert_allclose(W, p.detach().numpy(), rtol=1e-12)


# ---- construction: names, defaults, bad hyperparameters ----------------------------------------

def test_get_adam_default_lr():
    opt = optim.get("adam")
    assert isinstance(opt, optim.Adam) and opt.lr == 1e-3


def test_get_sgd_default_lr():
    opt = optim.get("sgd")
    assert isinstance(opt, optim.SGD) and opt.lr == 0.01


def test_get_passes_lr_and_returns_optimizers_unchanged():
    assert optim.get("momentum", lr=0.2).lr == 0.2
    opt = optim.Adam(0.5)
    assert optim.get(opt) is opt


def test_get_unknown_name_lists_the_valid_ones():
    with pytest.raises(NameNotFound) as err:
        optim.get("nesterov")
    msg = str(err.value)
    assert "'nesterov'" in msg and msg.endswith("are: adam, momentum, sgd")


@pytest.mark.parametrize("cls", [optim.SGD, optim.Momentum, optim.Adam])
@pytest.mark.parametrize("lr", [0.0, -0.01, math.nan])
def test_non_positive_lr_raises(cls, lr):
    with pytest.raises(ValueError, match="learning rate"):
        cls(lr)


def test_get_with_zero_lr_raises():
    with pytest.raises(ValueError):
        optim.get("adam", lr=0)


@pytest.mark.parametrize("mu", [1.0, 1.5, -0.1])
def test_momentum_mu_outside_zero_one_raises(mu):
    with pytest.raises(ValueError, match="mu"):
        optim.Momentum(0.1, mu=mu)


def test_get_refuses_a_rate_that_the_object_would_ignore():
    with pytest.raises(ValueError, match="lr=0.1 was given with an optimizer object that has lr=0.5"):
        optim.get(optim.Adam(0.5), lr=0.1)


def test_step_refuses_parameters_and_gradients_that_do_not_pair_up():
    W, b = np.ones((2, 2)), np.ones((2, 1))
    with pytest.raises(ValueError, match="got 2 parameters and 1 gradients"):
        optim.SGD(0.1).step([W, b], [np.ones((2, 2))])


# ---- a user's own optimizer: the two methods a subclass writes ------------------------------

class _HeavyBall(optim.Optimizer):
    """Momentum written as a user would: v <- mu v + g, W <- W - lr v (with a step counter)."""

    def __init__(self, lr, mu=0.5):
        super().__init__(lr)
        self.mu, self.seen = mu, []

    def new_state(self, p):
        return (backend.xp_of(p).zeros_like(p),)

    def update(self, p, g, v, scratch=None):
        self.seen.append(self.t)
        v *= self.mu
        v += g
        p -= self.lr * v


def test_a_subclass_writes_new_state_and_update_and_fit_runs_it():
    import gpubp

    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((2, 16)), rng.standard_normal((1, 16))
    net = gpubp.Network([2, 3, 1], activation="tanh", output="identity", loss="half_sse",
                        device="cpu", seed=1)
    W0 = net.params.flat.copy()
    opt = _HeavyBall(0.25)
    net.fit(X, Y, epochs=2, batch_size=8, optimizer=opt, shuffle=False)
    assert opt.seen == [1, 2, 3, 4]  # t already advanced when update runs, once a step

    # the same two epochs by hand, from the same start, on the network's own gradients
    again = gpubp.Network([2, 3, 1], activation="tanh", output="identity", loss="half_sse",
                          device="cpu", seed=1)
    again.params.flat[...] = W0
    v = np.zeros_like(W0)
    plan = again.plan(8)
    for _ in range(2):
        for start in (0, 8):
            plan.stage(again.check_inputs(X[:, start:start + 8]),
                       again.check_targets(Y[:, start:start + 8], 8))
            plan.forward()
            plan.backward()
            v = 0.5 * v + again.grads.flat
            again.params.flat[...] -= 0.25 * v
    np.testing.assert_array_equal(net.params.flat, again.params.flat)


# ---- records: each optimizer writes and reads its own ------------------------------------------

def Fields():
    """How a checkpoint's reader reads the record: errors name the file and the record."""
    from gpubp.checkpoint import Fields

    return Fields("training", "model.npz")


def _flat(values, dtype=np.float64):
    from gpubp.params import FlatArrays, Layout

    flat = FlatArrays(Layout([("W", (len(values),))]), np, np.dtype(dtype))
    flat.flat[...] = values
    return flat


@pytest.mark.parametrize("kind, hyper", [("sgd", {}), ("momentum", {"mu": 0.75}),
                                         ("adam", {"beta1": 0.5, "beta2": 0.875, "eps": 0.25})])
def test_record_and_restore_continue_exactly(kind, hyper):
    """An optimizer recorded after two steps and restored onto a copy of the parameters takes
    the third step exactly as the original does."""
    p, g = _flat([1.0, -2.0, 0.5]), _flat([0.5, 1.0, -4.0])
    opt = optim.OPTIMIZERS[kind](0.125, **hyper)
    opt.step(p, g)
    opt.step(p, g)
    record, states = opt.record(p)
    assert record == {"kind": kind, "lr": 0.125, "t": 2, "bound": True, **hyper}
    assert [s.shape for s in states] == [(3,)] * len(opt.state_names)
    q = _flat(p.flat.copy())
    again, restored = optim.Optimizer.restore(record, Fields(), lambda i, what: states[i].copy())
    assert type(again) is type(opt) and again.t == 2 and restored is not None
    again.bind(q, restored)
    assert again.params[0] is q.flat and again.bound_to(q) and not again.bound_to(p)
    opt.step(p, g)
    again.step(q, g)
    assert np.array_equal(p.flat, q.flat)
    for a, b in zip(opt.state[0], again.state[0]):
        assert np.array_equal(a, b)


def test_a_record_before_the_first_step_holds_no_state():
    opt = optim.Adam(0.01)
    record, states = opt.record(_flat([1.0]))
    assert record["bound"] is False and states == []
    asked = []
    again, restored = optim.Optimizer.restore(record, Fields(), lambda i, what: asked.append(what))
    assert restored is None and asked == [] and again.params is None


def test_restore_names_each_state_array():
    p, g = _flat([1.0, 2.0]), _flat([0.5, 0.5])
    opt = optim.Adam(0.01)
    opt.step(p, g)
    record, states = opt.record(p)
    asked = []
    optim.Optimizer.restore(record, Fields(), lambda i, what: asked.append((i, what)) or states[i])
    assert asked == [(0, "adam m"), (1, "adam v")]


@pytest.mark.parametrize("edit, words", [
    (lambda r: r.update(kind="lbfgs"), "unknown optimizer 'lbfgs'; valid optimizers are: adam"),
    (lambda r: r.update(lr=-1), "optimizer: learning rate must be a finite number > 0"),
    (lambda r: r.update(beta1=1.0), "optimizer: adam needs 0 <= beta1, beta2 < 1"),
    (lambda r: r.update(t=-1), "field 't' must be an integer >= 0"),
    (lambda r: r.update(t=1.5), "field 't' has the wrong type"),
    (lambda r: r.pop("beta2"), "missing field 'beta2'"),
    (lambda r: r.update(bound="yes"), "field 'bound' has the wrong type"),
])
def test_a_malformed_record_is_a_checkpoint_error(edit, words):
    from gpubp.errors import CheckpointError

    record, _ = optim.Adam(0.01).record(_flat([1.0]))
    edit(record)
    with pytest.raises(CheckpointError, match=f"model.npz: training: {words}"):
        optim.Optimizer.restore(record, Fields(), lambda i, what: None)


def test_only_gpubps_own_optimizers_write_a_record():
    from gpubp.errors import CheckpointError

    class Mine(optim.Adam):
        pass

    with pytest.raises(CheckpointError, match="optimizer Mine is not one of gpubp's"):
        Mine(0.1).record(_flat([1.0]))
    p, other = _flat([1.0]), _flat([2.0])
    opt = optim.SGD(0.1)
    opt.step(p, _flat([1.0]))
    with pytest.raises(CheckpointError, match="holds the state of other arrays"):
        opt.record(other)


def test_bind_checks_the_count_and_the_shapes_of_the_state():
    from gpubp.errors import ConfigError

    p = _flat([1.0, 2.0])
    with pytest.raises(ConfigError, match=r"Adam keeps 2 state arrays \(m, v\); got 1"):
        optim.Adam(0.1).bind(p, [np.zeros(2)])
    with pytest.raises(ConfigError, match=r"Momentum state v must be shaped like the parameters "
                                          r"\(2,\); got \(3,\)"):
        optim.Momentum(0.1).bind(p, [np.zeros(3)])
    opt = optim.Momentum(0.1)
    v = np.array([0.5, 0.25])
    opt.bind(p, [v])
    assert opt.state[0][0] is not v and np.array_equal(opt.state[0][0], v)  # a copy


# ---- found missing by a mutation run of gpubp/optim.py ------------------------------------------

@pytest.mark.parametrize("make, words", [
    (lambda v: optim.SGD(v), "lr must be a number; got lr="),
    (lambda v: optim.Momentum(0.1, mu=v), "mu must be a number; got mu="),
    (lambda v: optim.Adam(0.1, beta1=v), "beta1 must be a number; got beta1="),
])
@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_a_hyperparameter_that_is_not_a_number_is_an_argument_type_error(make, words, value):
    from gpubp.errors import ArgumentTypeError

    with pytest.raises(ArgumentTypeError, match=f"{words}{value!r}".replace("[", r"\[")):
        make(value)


def test_numpy_numbers_are_hyperparameters_kept_as_floats():
    opt = optim.Momentum(np.float32(0.5), mu=np.int64(0))
    assert (opt.lr, opt.mu) == (0.5, 0.0) and type(opt.lr) is float and type(opt.mu) is float


def test_a_bound_optimizer_refuses_another_networks_flat_buffer():
    """Its moments belong to the buffer it first stepped: another buffer (of the same layout)
    is an error, not an update with the wrong moments."""
    from gpubp.errors import GpubpError

    p, q, g = _flat([1.0, 2.0]), _flat([1.0, 2.0]), _flat([0.5, 0.5])
    opt = optim.Adam(0.125)
    opt.step(p, g)
    with pytest.raises(GpubpError, match="holds the state of other parameters"):
        opt.step(q, g)
    assert opt.t == 1 and np.array_equal(q.flat, [1.0, 2.0])


def test_reset_forgets_the_step_count_and_the_moments_and_binds_afresh():
    p, q, g = _flat([1.0, 2.0]), _flat([1.0, 2.0]), _flat([0.5, -4.0])
    opt = optim.Adam(0.125, beta1=0.5, beta2=0.75)
    for _ in range(3):
        opt.step(p, g)
    opt.reset()
    assert (opt.t, opt.params, opt.state) == (0, None, None)
    assert (opt.lr, opt.beta1, opt.beta2) == (0.125, 0.5, 0.75)
    opt.step(q, g)  # another buffer: bound afresh; its first step again moves each weight by lr
    assert opt.t == 1 and opt.params[0] is q.flat
    np.testing.assert_allclose(q.flat, [1.0 - 0.125, 2.0 + 0.125], rtol=1e-7)


def test_an_optimizers_repr_names_its_kind_and_rate():
    assert [repr(c(0.5)) for c in (optim.SGD, optim.Momentum, optim.Adam)] == [
        "sgd(lr=0.5)", "momentum(lr=0.5)", "adam(lr=0.5)"]


@pytest.mark.parametrize("eps", [0.0, -1e-8, math.inf, math.nan])
def test_adam_needs_a_finite_positive_eps(eps):
    from gpubp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"a finite eps > 0; got .*eps=" + str(eps)):
        optim.Adam(0.1, eps=eps)
    assert optim.Adam(0.1, eps=5e-324).eps == 5e-324  # the smallest positive one is allowed
