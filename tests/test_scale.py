"""Training beyond one CPU process: DDP on CPU (gloo, 2 processes) and the GPU paths (mixed
precision, several GPUs, CUDA == CPU). GPU tests skip with a reason where no CUDA device is present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HEPDL = [sys.executable, "-m", "hepdl.cli"]


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _train_cli(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([*HEPDL, "train", "-m", "dnn", "--data", str(data), "--out", str(out), "--epochs", "3", *extra],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.mark.slow
def test_cpu_ddp_two_processes_rank_zero_writes(top_dataset_path, tmp_path):
    """Two gloo processes with batch 32 each train like one process with batch 64 (same global batches:
    the epoch's permutation split between the ranks); only rank 0 writes the run directory."""
    _train_cli(top_dataset_path, tmp_path / "single", "--batch-size", "64", "--devices", "1")
    res = _train_cli(top_dataset_path, tmp_path / "ddp", "--batch-size", "32", "--devices", "2")
    assert res.stdout.count("written to") == 1  # the second rank reports nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]  # no partial or stray directory
    log = (tmp_path / "ddp" / "train.log").read_text()
    assert "Starting with 2 processes" in log and "gloo" in log
    a, b = (np.load(tmp_path / d / "scores.npz") for d in ("single", "ddp"))
    assert np.array_equal(a["index"], b["index"])
    np.testing.assert_allclose(b["scores"], a["scores"], atol=0.02)
    ma, mb = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("single", "ddp"))
    assert abs(ma["auc"]["value"] - mb["auc"]["value"]) < 2 * ma["auc"]["error"]


@pytest.mark.slow
def test_cpu_ddp_streamed_training(top_dataset_path, tmp_path):
    """--stream under DDP (two gloo processes): each rank reads its own parts (ChunkSampler), rank 0
    writes, and the model learns."""
    res = subprocess.run([*HEPDL, "train", "-m", "pfn", "--data", str(top_dataset_path), "--out", str(tmp_path / "pfn"),
                          "--epochs", "2", "--stream", "--devices", "2"], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("written to") == 1
    assert "Starting with 2 processes" in (tmp_path / "pfn" / "train.log").read_text()
    m = json.loads((tmp_path / "pfn" / "metrics.json").read_text())
    assert m["auc"]["value"] > 0.7


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_generate_on_a_dask_cluster_equals_a_local_run(tmp_path):
    """`hepdl generate --scheduler tcp://...` on a running Dask scheduler with its own worker process
    (as on a cluster) writes byte for byte the dataset a local run writes: each part has its own seed."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    sched = subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(bindir / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    args = ["generate", "top-tagging", "-n", "120", "--per-part", "30", "-q"]
    try:
        res = subprocess.run([*HEPDL, *args, "--scheduler", address, "--out", str(tmp_path / "cluster")],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
    finally:
        worker.terminate()
        sched.terminate()
        worker.wait(30)
        sched.wait(30)
    res = subprocess.run([*HEPDL, *args, "--workers", "1", "--out", str(tmp_path / "local")], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    parts = [json.loads((tmp_path / d / "dataset.json").read_text())["parts"] for d in ("cluster", "local")]
    assert len(parts[0]) == 4 and [p["sha256"] for p in parts[0]] == [p["sha256"] for p in parts[1]]


@pytest.mark.gpu
@pytest.mark.skipif(_cuda_devices() < 1, reason="needs a CUDA device")
def test_gpu_mixed_precision_equals_cpu(top_dataset, tmp_path):
    """On a GPU the default is 16-bit mixed precision; its scores agree with a CPU float32 run."""
    from hepdl.train import TrainConfig, train

    cfg = dict(epochs=3, batch_size=64, n_bootstrap=5)
    train(TrainConfig("dnn", devices=1, precision="32-true", **cfg), top_dataset, tmp_path / "gpu32", progress=False)
    m16 = train(TrainConfig("dnn", devices=1, **cfg), top_dataset, tmp_path / "gpu16", progress=False)
    import os

    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, "-c", "import sys; from hepdl.train import TrainConfig, train; "
                          "train(TrainConfig('dnn', epochs=3, batch_size=64, n_bootstrap=5), sys.argv[1], sys.argv[2], progress=False)",
                          str(top_dataset.path), str(tmp_path / "cpu")], env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    cpu, g32, g16 = (np.load(tmp_path / d / "scores.npz")["scores"] for d in ("cpu", "gpu32", "gpu16"))
    np.testing.assert_allclose(g32, cpu, atol=1e-3)
    np.testing.assert_allclose(g16, cpu, atol=0.05)
    assert 0.5 < m16["auc"]["value"] <= 1.0


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(_cuda_devices() < 2, reason="needs two CUDA devices")
def test_gpu_ddp_two_devices(top_dataset_path, tmp_path):
    _train_cli(top_dataset_path, tmp_path / "one", "--batch-size", "64", "--devices", "1")
    _train_cli(top_dataset_path, tmp_path / "two", "--batch-size", "32", "--devices", "2")
    a, b = (np.load(tmp_path / d / "scores.npz")["scores"] for d in ("one", "two"))
    np.testing.assert_allclose(b, a, atol=0.05)
