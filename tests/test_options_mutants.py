"""Mutation gaps of gpubp/cli/options.py, through the command line's parser (build_parser,
cli.main): each value type's accepted and refused values and its message, the defaults each
command parses and prints in its --help (as the README and the help document them), what `gpubp
train` leaves unset for a resume, what a run records, and that an abbreviated option is refused."""

import argparse

import pytest

from gpubp import cli
from gpubp.cli import options


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def refused(capsys, *argv):
    """cli.main's exit status and its one line on stderr."""
    code = cli.main(list(argv))
    return code, " ".join(capsys.readouterr().err.split())


def help_text(capsys, command):
    assert cli.main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_an_abbreviated_option_is_refused(capsys):
    """allow_abbrev=False: `--batc 2` must not become --batch (nor --epoch --epochs)."""
    code, err = refused(capsys, "explain", "--batc", "2")
    assert code == 2 and "unrecognized arguments: --batc 2" in err


@pytest.mark.parametrize("argv, message", [
    (["gradcheck", "--batch", "0"], "argument --batch: expected a positive integer; got '0'"),
    (["gradcheck", "--batch", "x"], "argument --batch: expected a positive integer; got 'x'"),
    (["train", "--epochs", "-1"], "argument --epochs: expected an integer >= 0; got '-1'"),
    (["train", "--validation-fraction", "1"],
     "argument --validation-fraction: expected a number >= 0 and < 1; got '1'"),
    (["train", "--validation-fraction", "-0.1"],
     "argument --validation-fraction: expected a number >= 0 and < 1; got '-0.1'"),
    (["train", "--validation-fraction", "nan"], "expected a number >= 0 and < 1; got 'nan'"),
    (["train", "--lr", "0"], "argument --lr: expected a number > 0; got '0'"),
    (["gradcheck", "--tol", "0"], "argument --tol: expected a number > 0; got '0'"),
    (["gradcheck", "--tol", "-1"], "argument --tol: expected a number > 0; got '-1'"),
    (["train", "--lr", "inf"], "argument --lr: expected a number > 0; got 'inf'"),
    (["train", "--lr", "fast"], "argument --lr: expected a number; got 'fast'"),
    (["train", "--l2=-1e-9"], "argument --l2: expected a number >= 0; got '-1e-9'"),
    (["train", "--hidden", "0"], "every size must be a positive integer; got '0'"),
    (["train", "--hidden", "8,a"], "expected sizes separated by commas, e.g. 128 or 256,64; got "
     "'8,a'"),
    (["explain", "--sizes", "4"], "expected all the sizes n[0],...,n[L]"),
    (["train", "--activation", "relu,"], "expected a name, or names separated by commas; got "
     "'relu,'"),
    (["train", "--separator", "pipe"], "expected comma, semicolon, tab or space; got 'pipe'"),
])
def test_a_bad_value_is_refused_with_what_was_expected(capsys, argv, message):
    code, err = refused(capsys, *argv)
    assert code == 2 and message in err, err


def test_the_values_each_type_takes():
    a = parse("train", "--epochs", "0", "--batch-size", "1", "--validation-fraction", "0",
              "--lr", "1e-300", "--l2", "0", "--hidden", "none", "--activation", " tanh ",
              "--separator", "TAB", "--min-delta", "0")
    assert (a.epochs, a.batch_size, a.validation_fraction, a.lr, a.l2) == (0, 1, 0.0, 1e-300, 0.0)
    assert a.hidden == [] and a.activation == "tanh" and a.separator == "\t" and a.min_delta == 0.0
    a = parse("train", "--hidden", "256,64", "--activation", "relu,tanh", "--separator", "\\t",
              "--validation-fraction", "0.999")
    assert a.hidden == [256, 64] and a.activation == ["relu", "tanh"] and a.separator == "\t"
    assert a.validation_fraction == 0.999
    for given, sep in [(",", ","), (";", ";"), ("semicolon", ";"), ("Space", " "), ("comma", ",")]:
        assert parse("train", "--separator", given).separator == sep
    assert parse("train", "--hidden", " ").hidden == []
    assert parse("explain", "--sizes", "2,1").sizes == [2, 1]


def test_number_with_a_closed_upper_bound():
    """number()'s bounds, open and closed, on both sides (no option has a closed upper bound)."""
    closed, open_ = options.number(0, 1), options.number(0, 1, low_open=True, high_open=True)
    assert closed("0") == 0.0 and closed("1") == 1.0
    assert open_("0.5") == 0.5
    for parse_, text, bounds in [(closed, "1.5", ">= 0 and <= 1"), (open_, "1", "> 0 and < 1"),
                                 (open_, "0", "> 0 and < 1"), (closed, "-1", ">= 0 and <= 1")]:
        with pytest.raises(argparse.ArgumentTypeError, match=f"expected a number {bounds}; got"):
            parse_(text)
    assert options.number()("-1e300") == -1e300


def test_show_and_flag():
    assert options.show([784, 256, 10]) == "784,256,10" and options.show([]) == "none"
    assert options.show(0.2) == "0.2" and options.flag("batch_size") == "--batch-size"


def test_the_commands_defaults():
    g = parse("gradcheck")
    assert (g.sizes, g.activation, g.output, g.loss, g.seed) == ([784, 256, 10], "tanh",
                                                                  "softmax", None, 0)
    assert (g.batch, g.entries, g.all, g.tol, g.quiet, g.device) == (8, 50, False, 1e-7, False,
                                                                      None)
    e = parse("explain")
    assert (e.sizes, e.activation, e.output, e.batch, e.seed) == ([2, 3, 2], "sigmoid", "sigmoid",
                                                                  5, 0)
    assert (e.check, e.format, e.no_bias, e.picture, e.model, e.force) == (False, "text", False,
                                                                          None, None, False)
    p = parse("predict", "--model", "m.npz", "--input", "x.csv")
    assert (p.proba, p.force, p.output, p.header) == (False, False, None, None)


def test_train_leaves_every_option_not_given_unset_and_takes_its_defaults_from_the_table():
    """A resumed run takes the recorded value of an option not given: so parse leaves it None,
    and TRAIN_DEFAULTS holds what a fresh run uses (the help's defaults)."""
    t = parse("train")
    assert all(v is None for k, v in vars(t).items() if k != "command")
    assert cli.TRAIN_DEFAULTS == {
        "data": "digits", "target": None, "task": None, "samples": None, "features": None,
        "classes": None, "header": None, "separator": None, "validation_fraction": 0.2,
        "hidden": [128], "activation": "relu", "output": None, "loss": None, "dtype": "float32",
        "optimizer": "adam", "lr": None, "epochs": 20, "batch_size": 32, "patience": None,
        "min_delta": 0.0, "l2": 0.0, "seed": 0, "plot": None, "no_plot": False}


def test_what_a_run_records_and_where():
    assert options.RECORDED == {
        "data": ("data", "target", "task", "samples", "features", "classes", "header",
                 "separator", "validation_fraction", "seed"),
        "network": ("hidden", "activation", "output", "loss", "dtype"),
        "training": ("optimizer", "lr", "epochs", "batch_size", "patience", "min_delta", "l2"),
        "output": ("plot", "no_plot")}
    not_recorded = {"sizes", "device", "comm", "save", "resume", "force", "quiet"}
    assert not not_recorded & set(cli.TRAIN_DEFAULTS)


def test_the_help_says_each_default(capsys):
    train = help_text(capsys, "train")
    for words in ["(default digits)", "--validation-fraction F share of the examples held out",
                  "(default 0.2)", "--hidden N,N,... the hidden sizes", "(default 128)",
                  "(default relu)", "(default float32)", "(default adam)", "(default 20)",
                  "(default 32)", "(default: no early stopping)", "(default 0.0)", "(default 0)",
                  "(default: 0.001 for adam, 0.01 for sgd and momentum)",
                  "(default: gpubp-model.npz; with --resume: the resumed file)",
                  "(default: GPUBP_DEVICE or auto)"]:
        assert words in train, words
    # the headings of train's groups, in order; a flag's default False is not printed
    heads = [train.index(f" {h}: --") for h in ("data", "network", "training",
                                                 "where and what to write")]
    assert heads == sorted(heads)
    assert "--no-plot draw no loss curve (nor does a resumed run) --force" in train
    explain = help_text(capsys, "explain")
    assert "(default 2,3,2)" in explain and "(default 5)" in explain and "(default text)" in explain
    for command in ("explain", "gradcheck", "predict"):  # only train's options are grouped
        text = help_text(capsys, command)
        for heading in ("data", "network", "training", "where and what to write"):
            assert f" {heading}: --" not in text, (command, heading)
    grad = help_text(capsys, "gradcheck")
    assert "(default 784,256,10)" in grad and "(default 8)" in grad and "(default 50)" in grad
    assert "(default 1e-07)" in grad


def test_version_and_no_command(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("gpubp ")
    assert cli.main([]) == 2
    assert "train" in capsys.readouterr().out


def test_predict_requires_a_model_and_an_input(capsys):
    code, err = refused(capsys, "predict")
    assert code == 2 and "the following arguments are required: --model, --input" in err
    code, err = refused(capsys, "predict", "--model", "m.npz")
    assert code == 2 and "the following arguments are required: --input" in err


def test_a_flag_whose_default_is_false_shows_no_default(capsys):
    train = help_text(capsys, "train")
    assert "--quiet, -q print nothing but errors (the exit status says the rest)" in train
    assert train.endswith("(the exit status says the rest)") or "the rest) (default" not in train
    assert "(default False)" not in train and "(default True)" not in train
    for command in ("predict", "gradcheck", "explain"):
        text = help_text(capsys, command)
        assert "(default False)" not in text and "(default True)" not in text, command
