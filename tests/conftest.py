"""Shared fixtures: small datasets generated once per test session with the real chain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hepdl.data import generate_dataset
from hepdl.data import open as open_dataset
from hepdl.tasks import air_showers, higgs_tautau, top_tagging


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
    spec = top_tagging.dataset_spec(600, seed=7, per_part=150)
    return generate_dataset(spec, tmp_path_factory.mktemp("top") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def top_dataset(top_dataset_path: Path):
    return open_dataset(top_dataset_path)


@pytest.fixture(scope="session")
def tiny_spec():
    """A tiny, fast dataset spec (qcd + top, 12 jets each in parts of 6)."""
    return top_tagging.dataset_spec(24, seed=3, per_part=6)


@pytest.fixture(scope="session")
def airshower_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 air showers (300 proton, 300 iron) on the default 9 x 9 array, in parts of 150."""
    spec = air_showers.dataset_spec(600, seed=11, per_part=150)
    return generate_dataset(spec, tmp_path_factory.mktemp("showers") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def airshowers(airshower_path: Path):
    return open_dataset(airshower_path)


@pytest.fixture(scope="session")
def higgs_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 selected events at 8 TeV: ggH and VBF H -> tau tau, Z -> tau tau, W + jet, ttbar."""
    spec = higgs_tautau.dataset_spec(150, seed=5, per_part=100)
    return generate_dataset(spec, tmp_path_factory.mktemp("higgs") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def higgs(higgs_path: Path):
    return open_dataset(higgs_path)


@pytest.fixture(scope="session")
def jet_classes_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """250 jets of the five-class task (50 each of gluon, quark, W, Z, top) at pT ~ 1 TeV."""
    from hepdl.tasks import jet_classes

    spec = jet_classes.dataset_spec(250, seed=11, per_part=50)
    return generate_dataset(spec, tmp_path_factory.mktemp("jetclasses") / "ds", workers=1, progress=False)


@pytest.fixture(scope="session")
def jet_classes(jet_classes_path: Path):
    return open_dataset(jet_classes_path)


# --- runs of each task, shared by the tests of the trainer, the report and the browser check ----------

@pytest.fixture(scope="session")
def top_task_run(top_dataset_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hepdl.tasks.top_tagging.run`` on the 600 jets: mass-cut, BDT and a DNN (3 epochs), with its report."""
    return top_tagging.run("quick", models=["mass-cut", "bdt", "dnn"], dataset=top_dataset_path,
                           runs_dir=tmp_path_factory.mktemp("top-runs"), epochs=3, progress=False)


@pytest.fixture(scope="session")
def jet_classes_run(jet_classes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A five-class DNN (hls4ml features, 25 epochs) and BDT on the 250 jets, with the report."""
    from hepdl.report import make_report, write_run_info
    from hepdl.train import TrainConfig, train

    run = tmp_path_factory.mktemp("jet-classes-run")
    write_run_info(run, task="jet-classes", preset="test", recipe="five jet classes, hls4ml benchmark (arXiv:1804.06913)",
                   command=["pytest", "tests"], domain="jets")
    train(TrainConfig("dnn", preset="paper", epochs=25, batch_size=32, feature_set="hls4ml", n_bootstrap=10), jet_classes,
          run / "dnn", progress=False)
    train(TrainConfig("bdt", feature_set="hls4ml", n_bootstrap=10, model_config={"n_estimators": 50}), jet_classes, run / "bdt",
          progress=False)
    make_report(run, jet_classes)
    return run


@pytest.fixture(scope="session")
def higgs_task_run(higgs_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hepdl.tasks.higgs_tautau.run`` on the 150 events: AMS cuts, BDT, an ensemble of two DNNs and
    ParT (2 epochs), with its report."""
    return higgs_tautau.run(models=["ams-cuts", "bdt", "bdt-challenge", "dnn", "part"], dataset=higgs_path,
                            runs_dir=tmp_path_factory.mktemp("higgs-runs"), epochs=2, progress=False, ensemble=2)


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
