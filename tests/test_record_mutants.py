"""gpubp/cli/record.py, function by function (the gaps a mutation run found): what read() refuses
and takes, what recorded() fills in, and how resume_options() merges a resumed run's options."""

import argparse
import copy
import os

import pytest

from gpubp import checkpoint
from gpubp.cli import record
from gpubp.cli.options import RECORDED, TRAIN_DEFAULTS, UsageError
from gpubp.errors import CheckpointError


def _meta(task="multiclass", **changes):
    """A valid metadata dict, as gpubp train writes it."""
    meta = {"format": record.META_FORMAT, "version": record.META_VERSION}
    meta.update({s: {k: TRAIN_DEFAULTS[k] for k in names} for s, names in RECORDED.items()})
    meta.update({"fingerprint": "abc", "task": task, "target": None, "feature_names": ["a", "b"],
                 "classes": [0, 1, 2] if task != "regression" else None,
                 "x_mean": [0.0, 0.0], "x_std": [1.0, 1.0],
                 "y_mean": 1.5 if task == "regression" else None,
                 "y_std": 2.0 if task == "regression" else None, "stopped_early": False})
    meta.update(changes)
    return meta


@pytest.fixture
def model(tmp_path, monkeypatch):
    """A path that exists, whose metadata are what the test puts in ``holder[0]``."""
    path = tmp_path / "m.npz"
    path.write_bytes(b"")
    holder = [None]
    monkeypatch.setattr(checkpoint, "load_metadata", lambda p: copy.deepcopy(holder[0]))

    def read(meta):
        holder[0] = meta
        return record.read(str(path))
    return read


def test_metadata_version_is_2():
    assert record.META_VERSION == 2


def test_read_returns_a_valid_metadata_as_it_is(model):
    for task in ("binary", "multiclass", "regression"):
        meta = _meta(task, classes=["x", "y"] if task != "regression" else None)
        assert model(meta) == meta


def test_read_a_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        record.read(str(tmp_path / "none.npz"))


@pytest.mark.parametrize("meta", [None, {"version": 2}, {"format": "other", "version": 2}])
def test_read_refuses_a_checkpoint_not_from_gpubp_train(model, meta):
    with pytest.raises(CheckpointError, match="saved by gpubp train"):
        model(meta)


@pytest.mark.parametrize("version", ["2", None, 2.0, record.META_VERSION + 1])
def test_read_refuses_a_version_it_cannot_read(model, version):
    with pytest.raises(CheckpointError, match=f"newer gpubp .*version {version!r}"):
        model(_meta(version=version))


@pytest.mark.parametrize("version", [1, record.META_VERSION])
def test_read_takes_its_own_and_older_versions(model, version):
    assert model(_meta(version=version))["version"] == version


@pytest.mark.parametrize("key,bad", [("data", []), ("fingerprint", 3), ("task", None),
                                     ("feature_names", "ab"), ("x_mean", None), ("x_std", {}),
                                     ("network", None), ("training", [])])
def test_read_names_a_missing_or_mistyped_key(model, key, bad):
    with pytest.raises(CheckpointError, match=f"lack {key!r}"):
        model(_meta(**{key: bad}))
    meta = _meta()
    del meta[key]
    with pytest.raises(CheckpointError, match=f"lack {key!r}"):
        model(meta)


def test_read_refuses_an_unknown_task(model):
    with pytest.raises(CheckpointError, match="unknown task 'ranking'"):
        model(_meta(task="ranking", classes=[0, 1]))


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("classes", [None, [0], [], "ab", (0, 1)])
def test_read_needs_two_class_labels_for_a_classification(model, task, classes):
    with pytest.raises(CheckpointError, match="lack the class labels"):
        model(_meta(task, classes=classes))
    assert model(_meta(task, classes=[3, 4]))["classes"] == [3, 4]


@pytest.mark.parametrize("key", ["y_mean", "y_std"])
@pytest.mark.parametrize("bad", [None, "1.0", [1.0]])
def test_read_needs_a_regressions_target_mean_and_std(model, key, bad):
    with pytest.raises(CheckpointError, match="lack the target's mean and std"):
        model(_meta("regression", **{key: bad}))
    assert model(_meta("regression", y_mean=3, y_std=0.5))["y_mean"] == 3


def test_read_needs_every_data_option(model):
    for k in RECORDED["data"]:
        meta = _meta()
        del meta["data"][k]
        with pytest.raises(CheckpointError, match=f"lack the data option {k!r}"):
            model(meta)


# ---- recorded ----------------------------------------------------------------------------------

def test_recorded_gives_every_option_and_the_default_of_one_left_out():
    meta = _meta()
    meta["training"]["epochs"] = 7
    del meta["training"]["l2"]           # an option newer than the file
    meta["output"] = "not a dict"        # a damaged section: its defaults
    del meta["data"]
    saved = record.recorded(meta)
    assert set(saved) == {k for names in RECORDED.values() for k in names}
    assert saved["epochs"] == 7 and saved["l2"] == TRAIN_DEFAULTS["l2"]
    assert saved["plot"] == TRAIN_DEFAULTS["plot"] and saved["data"] == TRAIN_DEFAULTS["data"]


def test_recorded_takes_the_hidden_sizes_of_version_1_from_sizes():
    meta = _meta(version=1)
    meta["network"] = {"sizes": [7, 5], "activation": "tanh"}
    saved = record.recorded(meta)
    assert saved["hidden"] == [7, 5] and saved["activation"] == "tanh"
    meta = _meta()
    meta["network"].update(hidden=[9], sizes=[7, 5])
    assert record.recorded(meta)["hidden"] == [9]


# ---- resume_options ----------------------------------------------------------------------------

def _args(**given):
    names = [k for names in RECORDED.values() for k in names]
    args = argparse.Namespace(**{k: None for k in names})
    args.resume, args.no_plot = "m.npz", False
    for k, v in given.items():
        setattr(args, k, v)
    return args


def test_resume_with_nothing_given_keeps_the_recorded_options(capsys):
    meta = _meta()
    meta["training"].update(epochs=9, lr=0.5)
    saved = record.resume_options(_args(), meta)
    assert saved == record.recorded(meta)
    assert capsys.readouterr().err == ""


def test_resume_data_and_network_options_given_again_must_agree(capsys):
    meta = _meta()
    meta["network"]["hidden"] = [8]
    saved = record.resume_options(_args(hidden=[8], data="digits", seed=0), meta)
    assert saved["hidden"] == [8] and record.MOVED not in saved
    with pytest.raises(UsageError) as e:
        record.resume_options(_args(hidden=[8, 4]), meta)
    assert ("--hidden 8,4 differs from 8, with which m.npz was trained; a resumed run keeps its "
            "data, split and network (leave --hidden out)") in str(e.value)
    with pytest.raises(UsageError) as e:
        record.resume_options(_args(hidden=[8, 4]), meta, spelled={"hidden": "--sizes 3,8,4"})
    assert "--sizes 3,8,4 (--hidden 8,4) differs from 8" in str(e.value)
    assert "(leave --sizes out)" in str(e.value)
    with pytest.raises(UsageError, match="--validation-fraction 0.3 differs from 0.2"):
        record.resume_options(_args(validation_fraction=0.3), meta)


def test_resume_options_left_out_when_trained_compare_with_what_that_run_used():
    meta = _meta(task="binary", target="label")
    assert meta["data"]["task"] is None and meta["data"]["target"] is None
    saved = record.resume_options(_args(task="binary", target="label"), meta)
    assert saved["task"] is None and saved["target"] is None  # as recorded
    with pytest.raises(UsageError, match="--task multiclass differs from binary"):
        record.resume_options(_args(task="multiclass"), meta)
    with pytest.raises(UsageError, match="--target y differs from label"):
        record.resume_options(_args(target="y"), meta)
    # --samples: the fingerprint decides; the given value is taken
    assert record.resume_options(_args(samples=300), meta)["samples"] == 300


def test_resume_on_data_at_another_path_notes_where_it_was(tmp_path):
    old = str(tmp_path / "old.csv")
    meta = _meta()
    meta["data"]["data"] = old
    saved = record.resume_options(_args(data="new.csv"), meta)
    assert saved["data"] == os.path.abspath("new.csv") and saved[record.MOVED] == old
    # the same path, spelled relatively: not moved
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        saved = record.resume_options(_args(data="old.csv"), meta)
    finally:
        os.chdir(here)
    assert saved["data"] == old and record.MOVED not in saved
    # a file where a data set was trained, or a data set where a file was: refused
    with pytest.raises(UsageError, match="differs from digits"):
        record.resume_options(_args(data="new.csv"), _meta())
    with pytest.raises(UsageError, match=f"--data iris differs from {old}"):
        record.resume_options(_args(data="iris"), meta)
    with pytest.raises(UsageError, match="--data iris differs from digits"):
        record.resume_options(_args(data="iris"), _meta())


def test_resume_with_another_optimizer_takes_its_default_rate():
    meta = _meta()
    meta["training"].update(optimizer="adam", lr=0.01)
    assert record.resume_options(_args(optimizer="sgd"), meta, quiet=True)["lr"] is None
    saved = record.resume_options(_args(optimizer="sgd", lr=0.3), meta, quiet=True)
    assert saved["lr"] == 0.3 and saved["optimizer"] == "sgd"
    assert record.resume_options(_args(optimizer="adam"), meta)["lr"] == 0.01


def test_resume_training_options_given_again_replace_with_a_note(capsys):
    meta = _meta()
    meta["training"].update(epochs=5, batch_size=32)
    saved = record.resume_options(_args(epochs=9, batch_size=64), meta)
    assert saved["epochs"] == 9 and saved["batch_size"] == 64
    err = capsys.readouterr().err
    assert "note: --batch-size 64 replaces 32: the run will differ" in err
    assert "epochs" not in err  # more epochs: the same run, longer
    saved = record.resume_options(_args(batch_size=64), meta, quiet=True)
    assert saved["batch_size"] == 64 and capsys.readouterr().err == ""
    record.resume_options(_args(batch_size=32), meta)  # the same value: no note
    assert capsys.readouterr().err == ""


def test_resume_output_options_the_latest_word_counts():
    meta = _meta()
    meta["output"].update(plot="old.png", no_plot=False)
    saved = record.resume_options(_args(plot="new.png"), meta)
    assert saved["plot"] == "new.png" and saved["no_plot"] is False
    saved = record.resume_options(_args(no_plot=True), meta)
    assert saved["plot"] is None and saved["no_plot"] is True
    saved = record.resume_options(_args(), meta)
    assert saved["plot"] == "old.png" and saved["no_plot"] is False
    meta["output"].update(plot=None, no_plot=True)
    saved = record.resume_options(_args(plot="p.svg"), meta)
    assert saved["plot"] == "p.svg" and saved["no_plot"] is False
