"""What the user sees on a typo: one line naming the command or option, the usage hint, exit 2 —
with whichever click typer brings (typer >= 0.24 bundles its own). And `hepdl --version`."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

HEPDL = [sys.executable, "-m", "hepdl.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HEPDL, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,names", [
    (["bogus"], ["No such command 'bogus'", "(hepdl)"]),
    (["train", "--bogus"], ["No such option: --bogus", "(hepdl train)"]),
    (["train"], ["Missing option '--data'", "(hepdl train)"]),
    (["train", "-m", "dnn", "--data", "x", "--epochs", "many"], ["'--epochs'", "(hepdl train)"]),
])
def test_usage_errors_are_one_line_and_a_hint(args, names, run_main):
    res = run_main(*args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert "Traceback" not in res.stderr and len(lines) == 2, res.stderr
    assert lines[0].startswith("error: ") and all(n in lines[0] for n in names), lines[0]
    assert lines[1].startswith("Usage: hepdl") and "--help" in lines[1]


def test_train_without_a_model_says_how_to_name_one(run_main):
    res = run_main("train", "--data", "somewhere")
    assert res.returncode == 2 and "say which model to train: --model NAME" in res.stderr


def test_an_option_the_task_does_not_take_is_named(run_main, tmp_path):
    res = run_main("generate", "higgs-tautau", "--jets-per-event", "2", "--out", tmp_path / "ds", "-q")
    assert res.returncode == 2 and "task 'higgs-tautau' has no option --jets-per-event" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "ds").exists()


def test_version_names_the_stack():
    res = run("--version")  # a real process: what a user types first
    assert res.returncode == 0
    import hepdl

    for part in (f"hepdl {hepdl.__version__}", "torch ", "pythia8mc ", "fastjet "):
        assert part in res.stdout


def test_max_jets_keeps_every_class(top_dataset_path):
    """A dataset written sample by sample: its first rows are one class; max_jets keeps both in proportion."""
    from hepdl.data import open as open_dataset

    full = open_dataset(top_dataset_path)
    assert len(np.unique(full.labels[:100])) == 1  # the first rows alone would be one class
    a, b = open_dataset(top_dataset_path, max_jets=100), open_dataset(top_dataset_path, max_jets=100)
    assert np.bincount(a.labels).tolist() == [50, 50]
    assert np.array_equal(a.jets.jet_pt.to_numpy(), b.jets.jet_pt.to_numpy())  # seeded


def test_labels_do_not_wrap_around():
    import awkward as ak

    from hepdl.data import jets_from_cartesian
    from hepdl.errors import DataError

    one = ak.Array([[1.0]])
    with pytest.raises(DataError, match=r"column 'label': 1 value\(s\) are not integers in \[0, 127\] \(e.g. \[200\]\)"):
        jets_from_cartesian(one, one, one, one * 3, label=np.array([200]))
    with pytest.raises(DataError, match=r"column 'charge'"):
        jets_from_cartesian(one, one, one, one * 3, charge=ak.Array([[300]]))


def test_a_class_missing_from_the_test_split_is_named():
    from hepdl.metrics import multiclass_metrics

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)  # class 2 never occurs
    p = rng.dirichlet([1, 1, 1], 200)
    m = multiclass_metrics(y, p, ["a", "b", "c"], n_bootstrap=2)
    assert m["classes_missing"] == ["c"] and set(m["auc_per_class"]) == {"a", "b"}


def test_train_from_a_config_file(top_dataset_path, tmp_path, run_main):
    """`hepdl train --config FILE`: settings from TOML, flags typed on the line override them,
    unknown keys are errors listing the valid ones."""
    import json

    (tmp_path / "c.toml").write_text('model = "mass-cut"\nn_bootstrap = 7\nseed = 3\n')
    res = run_main("train", "--data", top_dataset_path, "--config", tmp_path / "c.toml", "--seed", "5", "--out", tmp_path / "run")
    assert res.returncode == 0, res.stderr
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (cfg["model"], cfg["n_bootstrap"], cfg["seed"]) == ("mass-cut", 7, 5)
    (tmp_path / "bad.toml").write_text('model = "dnn"\nepochz = 3\n')
    res = run_main("train", "--data", top_dataset_path, "--config", tmp_path / "bad.toml", "--out", tmp_path / "bad")
    assert res.returncode == 2 and "unknown key(s) 'epochz'; valid keys: " in res.stderr and "epochs" in res.stderr
