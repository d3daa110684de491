"""The trainer: outputs of a run, determinism, baselines through the same entry point, bad input."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from hepdl.data import JetDataset
from hepdl.errors import ConfigError, DataError, UnknownNameError
from hepdl.train import TrainConfig, split_indices, train


def test_splits_are_deterministic_and_disjoint():
    a, b = split_indices(1000, seed=3), split_indices(1000, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    joined = np.concatenate(list(a.values()))
    assert len(np.unique(joined)) == 1000 and [len(a[k]) for k in ("train", "val", "test")] == [600, 200, 200]
    assert not np.array_equal(split_indices(1000, seed=4)["test"], a["test"])


def test_torch_run_outputs_and_determinism(top_dataset, tmp_path):
    cfg = TrainConfig("pfn", epochs=2, batch_size=64, model_config={"phi": (16, 16), "f": (16,)}, n_bootstrap=10)
    m1 = train(cfg, top_dataset, tmp_path / "a", progress=False)
    for f in ("config.json", "preprocess.json", "model.ckpt", "history.csv", "scores.npz", "metrics.json", "split.npz"):
        assert (tmp_path / "a" / f).exists(), f
    assert set(m1) >= {"auc", "accuracy", "rej_at_0.3", "rej_at_0.5", "train_seconds", "inference_jets_per_s", "n_parameters"}
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["model"] == "pfn"
    m2 = train(cfg, top_dataset, tmp_path / "b", progress=False)
    s1, s2 = np.load(tmp_path / "a" / "scores.npz")["scores"], np.load(tmp_path / "b" / "scores.npz")["scores"]
    assert np.array_equal(s1, s2) and m1["auc"] == m2["auc"]
    test_idx = np.load(tmp_path / "a" / "split.npz")["test"]
    assert np.array_equal(np.load(tmp_path / "a" / "scores.npz")["index"], test_idx)
    with pytest.raises(ConfigError, match=r"checkpoint .* holds model 'pfn', not 'efn'"):
        train(TrainConfig("efn", epochs=1), top_dataset, tmp_path / "c", resume=tmp_path / "a" / "model.ckpt", progress=False)


def test_baselines_through_the_same_entry_point(top_dataset, tmp_path):
    cut = train(TrainConfig("mass-cut", n_bootstrap=10), top_dataset, tmp_path / "cut", progress=False)
    bdt = train(TrainConfig("bdt", model_config={"n_estimators": 100, "max_depth": 3}, n_bootstrap=10), top_dataset,
                tmp_path / "bdt", progress=False)
    assert cut["auc"]["value"] > 0.8 and bdt["auc"]["value"] > 0.85
    assert (tmp_path / "bdt" / "model.json").exists() and (tmp_path / "cut" / "metrics.json").exists()


def test_bad_input_fails_before_training(top_dataset, tmp_path):
    with pytest.raises(UnknownNameError, match=r"unknown model 'transformer'; known models: .*part"):
        TrainConfig("transformer")
    with pytest.raises(ConfigError, match="model 'pfn' takes the 'cloud' representation, not 'image'"):
        TrainConfig("pfn", representation="image")
    one_class = JetDataset(top_dataset.jets[top_dataset.labels == 1], {}, top_dataset.path, "parquet", ["qcd", "top"])
    with pytest.raises(DataError, match="single class \\(\\[1\\]\\)"):
        train(TrainConfig("dnn"), one_class, tmp_path / "x", progress=False)
    few = JetDataset(top_dataset.jets[::75], {}, top_dataset.path, "parquet", ["qcd", "top"])
    with pytest.raises(DataError, match="too few"):
        train(TrainConfig("dnn"), few, tmp_path / "y", progress=False)
    some = top_dataset.jets[::15]  # 40 jets of both classes
    c = some.constituents
    bad_pt = ak.where(ak.local_index(c.pt) == 0, np.nan, c.pt)
    jets = ak.with_field(some, ak.with_field(c, bad_pt, "pt"), "constituents")
    with pytest.raises(DataError, match="'pt' has 40 NaN/inf"):
        train(TrainConfig("dnn"), JetDataset(jets, {}, tmp_path / "nan.parquet", "parquet", ["qcd", "top"]), tmp_path / "z", progress=False)
    assert not (tmp_path / "z" / "model.ckpt").exists()


def test_tiny_top_tagging_run_writes_the_report(top_task_run, top_dataset_path, tmp_path):
    from hepdl.report import FIGURES

    out = top_task_run
    page = (out / "report.html").read_text()
    for fig in FIGURES:
        assert (out / "plots" / f"{fig}.png").stat().st_size > 5000, fig
        assert f"plots/{fig}.png" in page
    metrics = {m: json.loads((out / m / "metrics.json").read_text()) for m in ("mass-cut", "bdt", "dnn")}
    assert max(metrics[m]["auc"]["value"] for m in ("bdt", "dnn")) > metrics["mass-cut"]["auc"]["value"]
    assert "1/eps_B @ eps_S=0.3" in (out / "table.txt").read_text()

    # predict on the dataset reproduces the stored test scores; evaluate reproduces the metrics
    from hepdl.train import evaluate, predict

    scores = predict(out, top_dataset_path)
    for m in ("mass-cut", "bdt", "dnn"):
        stored = np.load(out / m / "scores.npz")
        assert np.allclose(scores[m][stored["index"]], stored["scores"], rtol=1e-5, atol=1e-6), m
    stored_bytes = {m: (out / m / "metrics.json").read_bytes() for m in ("mass-cut", "bdt", "dnn")}
    again = evaluate(out)
    for m in ("mass-cut", "bdt", "dnn"):
        assert (out / m / "metrics.json").read_bytes() == stored_bytes[m], m  # re-evaluating changes nothing
        assert again[m]["auc"] == metrics[m]["auc"] and again[m]["accuracy"] == metrics[m]["accuracy"]
        # the AUC is the Mann-Whitney probability that a top jet outscores a QCD jet (ties count one half),
        # counted here over all pairs of stored test scores
        z = np.load(out / m / "scores.npz")
        sig, bkg = z["scores"][z["labels"] == 1], z["scores"][z["labels"] == 0]
        assert len(sig) > 20 and len(bkg) > 20
        pairs = (sig[:, None] > bkg[None, :]).mean() + 0.5 * (sig[:, None] == bkg[None, :]).mean()
        assert metrics[m]["auc"]["value"] == pytest.approx(pairs, abs=1e-12), m
        threshold = metrics[m]["evaluation"]["threshold"]
        assert metrics[m]["accuracy"]["value"] == pytest.approx(np.mean((z["scores"] >= threshold) == (z["labels"] == 1)), abs=1e-12), m
    from typer.testing import CliRunner

    from hepdl.cli import app

    for suffix in ("parquet", "root"):
        res = CliRunner().invoke(app, ["predict", str(out), "--data", str(top_dataset_path), "--out", str(tmp_path / f"s.{suffix}"),
                                       "--models", "bdt,dnn"])
        assert res.exit_code == 0, res.output
    import pandas as pd
    import uproot

    df = pd.read_parquet(tmp_path / "s.parquet")
    assert list(df.columns) == ["score_bdt", "score_dnn", "label"] and len(df) == 600
    assert np.allclose(uproot.open(tmp_path / "s.root")["scores"]["score_bdt"].array(library="np"), df["score_bdt"])
