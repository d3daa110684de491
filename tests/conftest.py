"""Shared fixtures: small datasets generated once per test session with the real chain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hepdl.data import generate_dataset
from hepdl.data import open as open_dataset
from hepdl.tasks import higgs_tautau, top_tagging


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Every test session gets its own hepdl cache (feature tables, datasets): nothing is read from
    or written to the user's ~/.cache/hepdl."""
    old = os.environ.get("HEPDL_CACHE")
    os.environ["HEPDL_CACHE"] = str(tmp_path_factory.mktemp("hepdl-cache"))
    yield
    if old is None:
        os.environ.pop("HEPDL_CACHE", None)
    else:
        os.environ["HEPDL_CACHE"] = old


@pytest.fixture(scope="session")
def top_dataset_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 jets (300 top, 300 QCD) of the top-tagging task, ATLAS-like detector, one process."""
    spec = top_tagging.dataset_spec(600, seed=7, jets_per_part=150)
    return generate_dataset(spec, tmp_path_factory.mktemp("top") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def top_dataset(top_dataset_path: Path):
    return open_dataset(top_dataset_path)


@pytest.fixture(scope="session")
def tiny_spec():
    """A tiny, fast dataset spec (qcd + top, 12 jets each in parts of 6)."""
    return top_tagging.dataset_spec(24, seed=3, jets_per_part=6)


@pytest.fixture(scope="session")
def higgs_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 selected events at 8 TeV: ggH and VBF H -> tau tau, Z -> tau tau, W + jet, ttbar."""
    spec = higgs_tautau.dataset_spec(150, seed=5, jets_per_part=100)
    return generate_dataset(spec, tmp_path_factory.mktemp("higgs") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def higgs(higgs_path: Path):
    return open_dataset(higgs_path)


@pytest.fixture(scope="session")
def jet_classes_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """250 jets of the five-class task (50 each of gluon, quark, W, Z, top) at pT ~ 1 TeV."""
    from hepdl.tasks import jet_classes

    spec = jet_classes.dataset_spec(250, seed=11, jets_per_part=50)
    return generate_dataset(spec, tmp_path_factory.mktemp("jetclasses") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def jet_classes(jet_classes_path: Path):
    return open_dataset(jet_classes_path)


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture[str]):
    """``run_main("train", "--model", ...)``: the real ``hepdl`` entry point (``hepdl.cli.main``) in this
    process, as a user runs it: returns the exit status and the two streams."""
    import signal
    import subprocess
    import sys

    import hepdl.cli

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        old_argv, old_handler = sys.argv, signal.getsignal(signal.SIGINT)
        sys.argv = ["hepdl", *map(str, args)]
        capsys.readouterr()
        try:
            hepdl.cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        finally:
            sys.argv = old_argv
            signal.signal(signal.SIGINT, old_handler)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return run
