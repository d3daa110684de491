"""Every bad input named in the foundation issue gets a clear error, and nothing written is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import hepdl.data.generate as gen_mod
from hepdl.cli import app
from hepdl.data import generate_dataset
from hepdl.errors import ConfigError, DataError, UnknownNameError
from hepdl.sim import GeneratorConfig, JetSelection, load_card
from hepdl.tasks import get as get_task
from hepdl.tasks import top_tagging


def test_unknown_process_lists_known():
    with pytest.raises(UnknownNameError, match=r"unknown process 'ttbar-semilep'; known processes: .*qcd-dijet.*ttbar-allhad"):
        GeneratorConfig("ttbar-semilep")


def test_unknown_task_lists_known():
    with pytest.raises(UnknownNameError, match=r"unknown task 'higgs'.*top-tagging"):
        get_task("higgs")


@pytest.mark.parametrize("lo,hi", [(650.0, 550.0), (600.0, 600.0)])
def test_empty_or_inverted_jet_pt_window(lo, hi):
    with pytest.raises(ConfigError, match="empty or inverted jet pT window"):
        JetSelection(pt_min=lo, pt_max=hi)


def test_inverted_pthat_window():
    with pytest.raises(ConfigError, match=r"empty pT-hat window for process 'qcd-dijet'"):
        GeneratorConfig("qcd-dijet", pthat_min=800, pthat_max=500)


@pytest.mark.parametrize("n", [0, -10, 1])
def test_non_positive_number_of_jets(n):
    with pytest.raises(ConfigError, match="number of jets"):
        top_tagging.dataset_spec(n)


def test_unwritable_output_directory(tmp_path, tiny_spec):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    with pytest.raises(DataError, match=r"cannot write to output directory .*a_file/ds"):
        generate_dataset(tiny_spec, blocker / "ds", workers=1, progress=False)
    assert blocker.read_text() == "keep me"


def test_impossible_cuts_stop_with_the_cutflow(tmp_path, monkeypatch):
    monkeypatch.setattr(gen_mod, "MAX_EVENTS_WITHOUT_JET", 100)
    spec = top_tagging.dataset_spec(4, pt_min=5000, pt_max=6000, per_part=2)
    spec.batch_size = 50
    with pytest.raises(DataError, match=r"no jet of sample '(qcd|top)' passed the selection in 100 events.*jet pT in window: 0"):
        generate_dataset(spec, tmp_path / "ds", workers=1, progress=False)


def test_unknown_and_bad_detector_cards(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown detector card 'cms'; known cards: atlas, truth"):
        load_card("cms")
    text = (Path(load_card.__code__.co_filename).parent / "cards" / "atlas.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("values = [[0.70, 0.95], [0.60, 0.85]]", "values = [[0.70, 0.95]]"))
    with pytest.raises(ConfigError, match=r"bad\.toml.*charged_hadron.*shape"):
        load_card(bad)
    bad.write_text(text.replace("energy_min = 0.5", "energy_minimum = 0.5"))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'energy_minimum'; valid keys: .*energy_min"):
        load_card(bad)


def test_edited_card_is_used(tmp_path):
    """A copied card with the tracker switched off gives only calorimeter objects."""
    import numpy as np

    from hepdl.sim import EventGenerator, simulate

    text = (Path(load_card.__code__.co_filename).parent / "cards" / "atlas.toml").read_text()
    card_path = tmp_path / "notracker.toml"
    card_path.write_text(text.replace("eta_max = 2.5\npt_min = 0.1", "eta_max = 0.0\npt_min = 0.1"))
    batch = EventGenerator(GeneratorConfig("qcd-dijet"), seed=5).next_batch(5)
    objs = simulate(batch.particles, load_card(card_path), np.random.default_rng(0))
    import awkward as ak

    assert ak.all(objs.charge == 0)
    assert set(np.unique(ak.to_numpy(ak.flatten(objs["type"])))) <= {1, 2}


def test_cli_errors_are_one_clear_line(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["generate", "higgs", "--out", str(tmp_path / "x")], standalone_mode=False)
    assert isinstance(res.exception, UnknownNameError)
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "hepdl.cli", "generate", "top-tagging", "-n", "0", "--out", str(tmp_path / "y")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: number of jets must be a positive integer")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "y").exists()
