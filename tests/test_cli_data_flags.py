"""The data options are declared once: their rows in gpubp/cli/options.py's OPTIONS say which
parameter of the data functions each sets (DATA_FLAGS is made from them), so the data functions'
messages name the flag; --separator takes gpubp.table's own separator names."""

import inspect

import pytest

from gpubp import cli, datasets, table
from gpubp.cli import options


def test_each_data_flag_sets_a_parameter_of_the_data_functions():
    params = set(inspect.signature(datasets.load).parameters) | set(
        inspect.signature(datasets.split).parameters)
    assert set(options.DATA_FLAGS) <= params
    flags = {f for o in options.OPTIONS if "train" in o.commands for f in o.flags}
    assert set(options.DATA_FLAGS.values()) <= flags


@pytest.mark.parametrize("argv, flag", [
    (["--data", "iris", "--samples", "50"], "--samples"),
    (["--data", "iris", "--features", "3"], "--features"),
    (["--data", "iris", "--classes", "3"], "--classes"),
    (["--data", "iris", "--target", "x"], "--target"),
    (["--data", "iris", "--header"], "--header"),
    (["--data", "iris", "--separator", "tab"], "--separator"),
    (["--data", "SMALL"], "--validation-fraction"),
])
def test_a_data_functions_message_names_the_flag(argv, flag, tmp_path, capsys):
    small = tmp_path / "small.csv"
    small.write_text("a,t\n1,0\n2,1\n3,0\n")  # class 1 has 1 example: no held-out split
    argv = [str(small) if a == "SMALL" else a for a in argv]
    code = cli.main(["train", "--device", "cpu", "--no-plot", "--epochs", "1", "--save",
                     str(tmp_path / "m.npz"), *argv])
    err = capsys.readouterr().err
    (param,) = [p for p, f in options.DATA_FLAGS.items() if f == flag]
    assert code == 1 and f"{flag} " in err and param not in err.replace(flag, ""), err


@pytest.mark.parametrize("sep, name", table.SEPARATORS.items())
def test_separator_takes_the_tables_names(sep, name):
    assert options.separator(name) == sep == options.separator(name.upper())
    assert options.separator(sep) == sep


def test_a_bad_separator_lists_the_tables_names():
    with pytest.raises(Exception, match=r"expected comma, semicolon, tab or space; got 'pipe'"):
        options.separator("pipe")
