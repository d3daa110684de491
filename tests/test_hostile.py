"""The hostile-input suite: interruptions, failing commands, wrong caches, re-evaluation, resume.

Every case runs the real chain on tiny real data and asserts the exit status, that the message is
one line naming the file, column or key, and that nothing already written changed (the run or
dataset directory is hashed before and after).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hepdl.cli import app
from hepdl.data import generate_dataset
from hepdl.data import open as open_dataset
from hepdl.errors import ConfigError, UnknownNameError
from hepdl.features import build_features
from hepdl.tasks import top_tagging
from hepdl.train import TrainConfig, train

HEPDL = [sys.executable, "-m", "hepdl.cli"]


def tree_hash(path: Path) -> str:
    """sha256 over every file's relative name, mode and bytes under ``path``."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(str(stat.S_IMODE(f.stat().st_mode)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HEPDL, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def one_line_error(err: str) -> str:
    """The last stderr line, which must be hepdl's one-line error (no traceback before it)."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), err
    return lines[-1]


def interrupt(cmd: list[str], ready: callable, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Start ``cmd`` in its own process group, wait until ``ready()``, then press Ctrl-C (SIGINT
    to the whole group, as a terminal does)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0 = time.monotonic()
    while not ready():
        if p.poll() is not None:
            out, err = p.communicate()
            raise AssertionError(f"{cmd} ended before it could be interrupted (rc {p.returncode}): {err[-2000:]}")
        if time.monotonic() - t0 > timeout:
            p.kill()
            raise AssertionError(f"{cmd} never became ready")
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


@pytest.fixture(scope="module")
def trained_run(top_dataset_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished `hepdl run` directory with a cut baseline and a small DNN."""
    runs = tmp_path_factory.mktemp("runs")
    top_tagging.run("quick", models=["mass-cut", "dnn"], dataset=top_dataset_path, runs_dir=runs, epochs=2, progress=False)
    return next((runs / "top-tagging").iterdir())


# ------------------------------------------------------------------------------------ 1. Ctrl-C


def test_sigint_generate_exits_130_and_keeps_parts(tmp_path):
    out = tmp_path / "ds"
    res = interrupt([*HEPDL, "generate", "top-tagging", "-n", "4000", "--jets-per-part", "20", "--workers", "1", "--out", str(out), "-q"],
                    ready=lambda: len(list(out.glob("*-00000.json"))) >= 1)
    assert res.returncode == 130, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and str(out) in last and "rerun the same command" in last
    assert json.loads((out / "dataset.json").read_text())["complete"] is False
    with pytest.raises(Exception, match="incomplete"):
        open_dataset(out)


def test_sigint_train_exits_130_and_leaves_the_run_untouched(trained_run, top_dataset_path):
    target = trained_run / "dnn"
    before = tree_hash(target)
    res = interrupt([*HEPDL, "train", "-m", "dnn", "--data", str(top_dataset_path), "--out", str(target), "--epochs", "1000",
                     "--lr", "1e-6"], ready=lambda: (trained_run / "dnn.partial" / "last.ckpt").exists())
    assert res.returncode == 130, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "--resume" in last and "dnn.partial/last.ckpt" in last
    assert tree_hash(target) == before
    shutil.rmtree(trained_run / "dnn.partial")


def test_sigint_streamed_train_exits_130_and_writes_no_run(trained_run, top_dataset_path):
    """Ctrl-C while a streamed loader is reading parts: exit 130, the note, no run directory."""
    target = trained_run / "pfn-stream"
    res = interrupt([*HEPDL, "train", "-m", "pfn", "--data", str(top_dataset_path), "--out", str(target), "--epochs", "1000",
                     "--stream", "--stream-window", "100"], ready=lambda: (trained_run / "pfn-stream.partial" / "last.ckpt").exists())
    assert res.returncode == 130, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "pfn-stream.partial/last.ckpt" in last
    assert not target.exists()
    shutil.rmtree(trained_run / "pfn-stream.partial")


@pytest.mark.slow  # the same interruption path as train, through the task loop
def test_sigint_run_exits_130(top_dataset_path, tmp_path):
    runs = tmp_path / "runs"
    res = interrupt([*HEPDL, "run", "top-tagging", "--data", str(top_dataset_path), "--models", "dnn", "--epochs", "1000",
                     "--runs", str(runs)], ready=lambda: any(runs.glob("top-tagging/*/dnn.partial/last.ckpt")))
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("interrupted: run ")
    assert not any(runs.glob("top-tagging/*/report.html"))


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_refused(tmp_path, workers, run_main):
    res = run_main("generate", "top-tagging", "-n", "24", "--workers", workers, "--out", str(tmp_path / "ds"), "-q")
    assert res.returncode == 2
    assert "workers must be at least 1" in one_line_error(res.stderr)
    assert not (tmp_path / "ds").exists() or not any((tmp_path / "ds").iterdir())


# ------------------------------------------------------------------ 2. failing train is harmless


@pytest.mark.parametrize("args,match", [
    (["--preset", "huge"], "no preset 'huge'"),
    (["--devices", "0"], "devices must be"),
    (["--num-nodes", "0"], "num_nodes must be"),
    (["--resume", "nowhere.ckpt"], r"checkpoint nowhere.ckpt \(--resume\) does not exist"),
    (["-m", "pfn", "--resume", "{run}/dnn/last.ckpt"], "holds model 'dnn', not 'pfn'"),
    (["--feature-set", "higgs-challenge"], "needs event data"),
    (["-m", "nosuchmodel"], r"unknown model 'nosuchmodel'; known models: .*bdt.*mass-cut.*tau32-cut"),
])
def test_failing_train_changes_nothing(trained_run, top_dataset_path, args, match, run_main):
    before = tree_hash(trained_run)
    args = [a.replace("{run}", str(trained_run)) for a in args]
    model = [] if "-m" in args else ["-m", "dnn"]
    res = run_main("train", *model, "--data", str(top_dataset_path), "--out", str(trained_run / "dnn"), "--epochs", "1", *args)
    assert res.returncode == 2, res.stderr
    import re

    assert re.search(match, one_line_error(res.stderr))
    assert tree_hash(trained_run) == before
    assert not (trained_run / "dnn.partial").exists()


def test_unknown_model_lists_the_baselines():
    with pytest.raises(UnknownNameError, match=r"known models: .*ams-cuts, bdt, .*mass-cut.*tau32-cut"):
        TrainConfig("bdtt")


# ------------------------------------------------------------------------------ 3. feature cache


def _root_file(ds, path: Path) -> Path:
    """The jets of ``ds`` as a flat-branch ROOT file with two label branches (is_top, is_qcd)."""
    import awkward as ak
    import uproot

    c = ds.jets.constituents
    with uproot.recreate(path) as f:
        f["jets"] = {"c_pt": c.pt, "c_eta": c.eta, "c_phi": c.phi, "c_e": c.e,
                     "is_top": ak.to_numpy(ds.jets.label).astype(np.int32),
                     "is_qcd": 1 - ak.to_numpy(ds.jets.label).astype(np.int32)}
    return path


def test_feature_cache_is_keyed_by_options_and_never_beside_the_data(top_dataset, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    f = _root_file(top_dataset, data_dir / "jets.root")
    base = {"pt": "c_pt", "eta": "c_eta", "phi": "c_phi", "e": "c_e"}
    listing = sorted(p.name for p in data_dir.iterdir())
    small = build_features(open_dataset(f, mapping={**base, "label": "is_top"}, max_jets=100), "kinematics")
    full_top = build_features(open_dataset(f, mapping={**base, "label": "is_top"}), "kinematics")
    full_qcd = build_features(open_dataset(f, mapping={**base, "label": "is_qcd"}), "kinematics")
    assert len(small) == 100 and len(full_top) == len(top_dataset) == len(full_qcd)
    assert np.array_equal(full_top["label"], top_dataset.labels)
    assert np.array_equal(full_qcd["label"], 1 - top_dataset.labels)  # not the first mapping's cached labels
    assert sorted(p.name for p in data_dir.iterdir()) == listing  # nothing written beside the data
    cache = Path(os.environ["HEPDL_CACHE"]) / "features"
    assert len([p for p in cache.iterdir() if (p / "kinematics.parquet").exists()]) >= 3


def test_features_of_read_only_data(top_dataset_path, tmp_path):
    """A dataset on a read-only file system: the cache goes to the hepdl cache, the data is untouched."""
    ro = tmp_path / "ro"
    shutil.copytree(top_dataset_path, ro)
    for p in [ro, *ro.iterdir()]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        before = tree_hash(ro)
        res = cli("features", str(ro), "--set", "kinematics")
        assert res.returncode == 0, res.stderr
        assert tree_hash(ro) == before
    finally:
        ro.chmod(0o755)


# ---------------------------------------------------------------------------------- 4. evaluate


def test_evaluate_reproduces_metrics_byte_for_byte(trained_run):
    before = {d.name: (d / "metrics.json").read_bytes() for d in trained_run.iterdir() if (d / "metrics.json").exists()}
    assert {"mass-cut", "dnn"} <= set(before)
    res = cli("evaluate", str(trained_run))
    assert res.returncode == 0, res.stderr
    after = {d.name: (d / "metrics.json").read_bytes() for d in trained_run.iterdir() if (d / "metrics.json").exists()}
    assert after == before
    lines = res.stdout.strip().splitlines()
    assert len({ln.index("AUC") if "AUC" in ln else None for ln in lines[:1]}) == 1
    starts = {ln.index(ln.split()[2]) for ln in lines[1:] if len(ln.split()) > 2}
    assert len(lines) == 3 and len(starts) == 1  # aligned columns


def test_evaluate_with_missing_scores_is_one_line_and_changes_nothing(trained_run, tmp_path, run_main):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "dnn" / "scores.npz").unlink()
    before = tree_hash(run)
    res = run_main("evaluate", str(run))
    assert res.returncode == 2
    assert "scores.npz" in one_line_error(res.stderr)
    assert tree_hash(run) == before


# ------------------------------------------------------------------------------------ 6. resume

KILL_AT_EPOCH = textwrap.dedent("""
    import os, signal, sys
    from hepdl.train import TrainConfig, train
    from hepdl.train.module import Classifier

    def die(self, batch, batch_idx):
        if self.current_epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return step(self, batch, batch_idx)

    step = Classifier.training_step
    Classifier.training_step = die
    cfg = TrainConfig("dnn", epochs=4, batch_size=64, patience=10, model_config={"dropout": 0.3}, n_bootstrap=5)
    train(cfg, sys.argv[1], sys.argv[2], progress=False)
""")


def test_resume_after_kill_9_equals_an_uninterrupted_run(top_dataset_path, tmp_path):
    cfg = TrainConfig("dnn", epochs=4, batch_size=64, patience=10, model_config={"dropout": 0.3}, n_bootstrap=5)
    train(cfg, top_dataset_path, tmp_path / "straight", progress=False)
    res = subprocess.run([sys.executable, "-c", KILL_AT_EPOCH, str(top_dataset_path), str(tmp_path / "killed")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == -signal.SIGKILL, res.stderr
    partial = tmp_path / "killed.partial"
    assert (partial / "last.ckpt").exists() and not (tmp_path / "killed").exists()
    train(cfg, top_dataset_path, tmp_path / "killed", resume=partial / "last.ckpt", progress=False)
    assert not partial.exists()
    a, b = (np.load(tmp_path / d / "scores.npz")["scores"] for d in ("straight", "killed"))
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    ha, hb = (np.genfromtxt(tmp_path / d / "history.csv", delimiter=",", names=True) for d in ("straight", "killed"))
    assert len(ha) == len(hb) == 4
    for col in ha.dtype.names:
        np.testing.assert_allclose(hb[col], ha[col], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------ 7. smaller


@pytest.fixture(scope="module")
def umask_dataset(tiny_spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny dataset generated under umask 002."""
    old = os.umask(0o002)
    try:
        return generate_dataset(tiny_spec, tmp_path_factory.mktemp("umask") / "ds", workers=1, progress=False)
    finally:
        os.umask(old)


def test_outputs_respect_the_umask(umask_dataset, top_dataset, tmp_path):
    old = os.umask(0o002)
    try:
        train(TrainConfig("mass-cut", n_bootstrap=2), top_dataset, tmp_path / "run", progress=False)
    finally:
        os.umask(old)
    for f in [*umask_dataset.iterdir(), *(tmp_path / "run").iterdir()]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o664, f


def test_rerunning_generate_on_a_finished_dataset_writes_nothing(tiny_spec, umask_dataset):
    out = umask_dataset
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    before = tree_hash(out)
    generate_dataset(tiny_spec, out, workers=1, progress=False)
    assert tree_hash(out) == before and {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamp


def test_too_few_background_jets_prints_na(top_dataset, tmp_path):
    import awkward as ak

    y = top_dataset.labels
    keep = np.sort(np.r_[np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)[:30]])
    small = tmp_path / "small.parquet"
    ak.to_parquet(top_dataset.jets[keep], small)
    res = cli("train", "-m", "mass-cut", "--data", str(small), "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    assert "inf" not in res.stdout
    assert "background jets of the test split" in res.stderr and "95 % CL" in res.stderr
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())["rej_at_0.3"]
    assert m["n_background"] < 20 and f"> {m['lower_limit']:.1f} ({m['n_background']} bkg)" in res.stdout  # a limit, not a number


# ------------------------------------------------------------------------------- 8. chatter


def test_lightning_chatter_goes_to_the_run_log(top_dataset_path, tmp_path):
    res = cli("train", "-m", "dnn", "--data", str(top_dataset_path), "--out", str(tmp_path / "run"), "--epochs", "2")
    assert res.returncode == 0, res.stderr
    for noise in ("GPU available", "Tip:", "exists and is not empty", "LeafSpec", "Sanity Checking", "Validation:"):
        assert noise not in res.stderr + res.stdout, noise
    assert "GPU available" in (tmp_path / "run" / "train.log").read_text()


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="num_nodes must be a positive integer; got 0"):
        TrainConfig("dnn", num_nodes=0)


def test_cli_no_traceback_on_bad_mapping(tmp_path, run_main):
    res = run_main("info", str(tmp_path), "--mapping", "pt")
    assert res.returncode == 2 and "not column=branch" in one_line_error(res.stderr)


def test_ctrl_c_message_is_one_line_even_without_work(monkeypatch):
    """KeyboardInterrupt outside any hepdl work still exits 130 (typer's own 130 is not thrown away)."""
    import hepdl.cli as cli_mod

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_mod, "app", boom)
    with pytest.raises(SystemExit) as exc:
        cli_mod.main()
    assert exc.value.code == 130


def test_cli_runner_train_help_lists_mapping():
    res = CliRunner().invoke(app, ["train", "--help"])
    assert "--mapping" in res.output and "--tree" in res.output and "--key" in res.output
