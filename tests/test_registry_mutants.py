"""Mutation gaps of gpubp/registry.py and of the register/get/from_spec/spec functions of
activations and losses: each test here kills a mutant the older tests let live."""

import pytest

import gpubp
from gpubp import activations, losses, registry
from gpubp.errors import ConfigError, NameNotFound


class Base:
    name = None


class Alpha(Base):
    name = "alpha"


# ---- registry.add --------------------------------------------------------------------------

def test_add_puts_a_new_name_in_the_table_and_returns_the_class():
    table = {}
    assert registry.add(table, Alpha, Base, "thing") is Alpha
    assert table == {"alpha": Alpha}
    assert registry.add(table, Alpha, Base, "thing") is Alpha  # again: nothing changes
    assert table == {"alpha": Alpha}


@pytest.mark.parametrize("name", [None, 3, "two words", "1st", ""])
def test_add_refuses_a_name_that_is_not_an_identifier(name):
    cls = type("Bad", (Base,), {"name": name})
    table = {}
    with pytest.raises(ConfigError, match=f"a thing's name must be an identifier; Bad has "
                                          f"name={name!r}"):
        registry.add(table, cls, Base, "thing")
    assert table == {}


@pytest.mark.parametrize("cls", [int, Alpha(), "alpha", activations.ReLU])
def test_add_refuses_what_is_not_a_subclass_of_the_base(cls):
    table = {}
    with pytest.raises(ConfigError, match="register takes a Base subclass"):
        registry.add(table, cls, Base, "thing")
    assert table == {}


def test_the_article_follows_the_base_name():
    with pytest.raises(ConfigError, match="register takes an Activation subclass"):
        activations.register(losses.MSE)
    with pytest.raises(ConfigError, match="register takes a Loss subclass; got <class 'gpubp"):
        losses.register(activations.ReLU)


def test_a_taken_name_leaves_the_table_as_it_was():
    table = {"alpha": Alpha}
    Other = type("Other", (Base,), {"name": "alpha"})
    with pytest.raises(ConfigError, match="thing name 'alpha' is taken by Alpha"):
        registry.add(table, Other, Base, "thing")
    assert table == {"alpha": Alpha}


# ---- activations: register, get, from_spec, spec ---------------------------------------------

def test_a_registered_activation_is_got_by_its_name(monkeypatch):
    monkeypatch.setattr(activations, "ACTIVATIONS", dict(activations.ACTIVATIONS))

    class Square(activations.Activation):
        name = "square"

    assert activations.register(Square) is Square
    assert activations.ACTIVATIONS["square"] is Square
    got = activations.get("square")
    assert type(got) is Square
    assert type(activations.from_spec({"name": "square"})) is Square


def test_get_gives_the_object_itself_and_a_new_one_per_name():
    relu = activations.ReLU()
    assert activations.get(relu) is relu
    a, b = activations.get("relu"), activations.get("relu")
    assert type(a) is activations.ReLU and a is not b


@pytest.mark.parametrize("name", ["swish", 3, None, activations.ReLU])
def test_get_refuses_an_unknown_name(name):
    with pytest.raises(NameNotFound, match=f"unknown activation {name!r}; valid activations "
                                           f"are: exp, identity"):
        activations.get(name)


def test_from_spec_passes_the_constant_on():
    back = activations.from_spec({"name": "leaky_relu", "alpha": 0.25})
    assert type(back) is activations.LeakyReLU and back.alpha == 0.25
    assert activations.from_spec({"name": "leaky_relu", "alpha": 0.125}).alpha == 0.125


def test_from_spec_takes_an_integer_constant():
    class Scaled(activations.Activation):
        name = "scaled"
        parameters = ("k",)

        def __init__(self, k=2):
            self.k = k

    table = dict(activations.ACTIVATIONS)
    registry.add(table, Scaled, activations.Activation, "activation")
    import unittest.mock as mock

    with mock.patch.object(activations, "ACTIVATIONS", table):
        back = activations.from_spec({"name": "scaled", "k": 3})
        assert type(back) is Scaled and back.k == 3 and back.spec() == {"name": "scaled", "k": 3}
        with pytest.raises(ConfigError, match="k must be a number; got None"):
            activations.from_spec({"name": "scaled", "k": None})


@pytest.mark.parametrize("spec, message", [
    ({"name": 3}, "a dict with a string 'name'; got {'name': 3}"),
    ({"name": "relu", "alpha": 0.1}, r"got \['alpha', 'name'\] \(extra \['alpha'\], missing \[\]\)"),
    ({"name": "leaky_relu"}, r"takes the fields \['name', 'alpha'\]; got \['name'\] "
                             r"\(extra \[\], missing \['alpha'\]\)"),
])
def test_from_spec_says_what_the_fields_are(spec, message):
    with pytest.raises(ConfigError, match=message):
        activations.from_spec(spec)


def test_spec_is_the_name_and_each_constant():
    assert activations.LeakyReLU(0.3).spec() == {"name": "leaky_relu", "alpha": 0.3}
    assert activations.Exp().spec() == {"name": "exp"}


# ---- losses: register, get, from_spec, spec -------------------------------------------------

def test_a_registered_loss_is_got_by_its_name(monkeypatch):
    monkeypatch.setattr(losses, "LOSSES", dict(losses.LOSSES))

    class Quartic(losses.MSE):
        name = "quartic"

    assert losses.register(Quartic) is Quartic
    assert losses.LOSSES["quartic"] is Quartic
    out = activations.get("identity")
    assert type(losses.get("quartic", out)) is Quartic
    assert type(losses.from_spec({"name": "quartic"}, out)) is Quartic
    assert type(losses.from_spec("quartic", out)) is Quartic
    assert Quartic().spec() == {"name": "quartic"}


def test_loss_get_gives_the_object_itself():
    loss = losses.MSE()
    assert losses.get(loss, activations.get("tanh")) is loss
    bce = losses.BCE()
    assert losses.get(bce, activations.get("sigmoid")) is bce


@pytest.mark.parametrize("name", ["huber", 3, None])
def test_loss_get_refuses_an_unknown_name(name):
    with pytest.raises(NameNotFound, match=f"unknown loss {name!r}; valid losses are: bce"):
        losses.get(name, activations.get("identity"))


@pytest.mark.parametrize("name, good, bad", [("bce", "sigmoid", "identity"),
                                             ("cross_entropy", "softmax", "sigmoid"),
                                             ("poisson", "exp", "relu")])
def test_a_log_loss_takes_only_its_canonical_output(name, good, bad):
    assert type(losses.get(name, activations.get(good))) is losses.LOSSES[name]
    with pytest.raises(ConfigError, match=f"loss {name!r} needs output={good!r}"):
        losses.get(name, activations.get(bad))


def test_a_loss_without_dA_takes_only_its_canonical_output(monkeypatch):
    monkeypatch.setattr(losses, "LOSSES", dict(losses.LOSSES))

    class Fused(losses.MSE):
        name = "fused_only"
        canonical = "identity"
        dA_formula = None

    losses.register(Fused)
    assert type(losses.get("fused_only", activations.get("identity"))) is Fused
    with pytest.raises(ConfigError, match="loss 'fused_only' needs output='identity'"):
        losses.get("fused_only", activations.get("tanh"))


def test_a_squared_error_takes_any_output():
    for out in ("identity", "tanh", "sigmoid", "relu"):
        assert type(losses.get("mse", activations.get(out))) is losses.MSE


@pytest.mark.parametrize("spec", [{"name": 3}, {"name": None}, {"loss": "mse"},
                                  {"name": "mse", "x": 1}, 3, None])
def test_loss_from_spec_refuses_a_malformed_record(spec):
    with pytest.raises(ConfigError, match="a loss spec is {'name': <loss>}; got"):
        losses.from_spec(spec, activations.get("identity"))


def test_loss_from_spec_names_the_unknown_loss_and_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown loss 'huber'; valid losses are: bce, "
                                          "cross_entropy, half_sse, mse, poisson, sse"):
        losses.from_spec("huber", activations.get("identity"))
    with pytest.raises(gpubp.errors.GpubpError):
        losses.from_spec({"name": "huber"}, activations.get("identity"))
