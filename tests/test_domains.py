"""A new domain and new objectives pass through the one trainer without an edit to ``train/``.

The toy domain lives only here: points in R^d whose continuous target is a known function of the
coordinates (regress), and a background population with an admixture of off-manifold signal
points (reconstruct: an autoencoder trained on background only flags the signal). A ``domain``
fixture runs the run-layout contract over the jets and the toy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from hepdl.features.inputs import Inputs, register_inputs, standardisation
from hepdl.train import TrainConfig, evaluate, predict, train

RUN_FILES = ("config.json", "preprocess.json", "split.npz", "scores.npz", "metrics.json")


@dataclass
class Points:
    """The toy domain: ``x`` (n, d) points, ``labels`` (0 background on a plane, 1 signal off it),
    ``targets`` (n, 1) = |x|^2 + noise. Only the attributes the trainer reads."""

    x: np.ndarray
    labels: np.ndarray
    targets: np.ndarray
    path: Path
    label_names: list[str] = field(default_factory=lambda: ["background", "signal"])
    target_names: list[str] = field(default_factory=lambda: ["r2"])
    domain = "points"

    def __len__(self) -> int:
        return len(self.x)


def points_inputs(ds: Points, kind: str, train_idx: np.ndarray, *, scaling=None, **_) -> Inputs:
    """The toy's one representation: its coordinates, standardised on the training split."""
    assert kind == "features", kind
    cols = [f"x{i}" for i in range(ds.x.shape[1])]
    mean, std = standardisation(cols, ds.x, train_idx, scaling, str(ds.path))
    return Inputs(kind, {"features": ((ds.x - mean) / std).astype(np.float32)}, ds.labels,
                  {"columns": cols, "mean": mean.tolist(), "std": std.tolist()})


register_inputs(Points, points_inputs)


def make_points(tmp_path: Path, n: int = 1200, d: int = 6, signal_fraction: float = 0.0, seed: int = 0) -> Points:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[:, d // 2:] = 0.3 * x[:, : d - d // 2] + 0.05 * rng.normal(size=(n, d - d // 2))  # background: near a plane
    labels = np.zeros(n, np.int64)
    n_sig = int(signal_fraction * n)
    if n_sig:
        labels[:n_sig] = 1
        x[:n_sig] = rng.normal(size=(n_sig, d)) * 1.5  # signal: anywhere
    t = (x**2).sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))
    return Points(x, labels, t, tmp_path)


@pytest.fixture(params=["jets", "events", "airshowers", "points", "table"])
def domain(request, tmp_path):
    """(dataset, model, objective) of every domain for the run-layout contract: jets (top tagging),
    weighted collision events (H -> tau tau, with the AMS as task metric), air showers (regression,
    with the reconstruction figures as task metrics) and the toy."""
    if request.param == "jets":
        return request.getfixturevalue("top_dataset"), "dnn", "classify"
    if request.param == "events":
        return request.getfixturevalue("higgs"), "dnn", "classify"
    if request.param == "airshowers":
        return request.getfixturevalue("airshowers"), "airshower-cnn", "regress"
    if request.param == "table":  # an in-memory table with training weights, as each OmniFold step hands the trainer
        import pandas as pd

        from hepdl.data.table import TableDataset

        pts = make_points(tmp_path, signal_fraction=0.3)
        w = np.random.default_rng(2).uniform(0.5, 2.0, len(pts))
        return TableDataset(pd.DataFrame(pts.x, columns=[f"x{i}" for i in range(pts.x.shape[1])]), pts.labels, w,
                            path=str(tmp_path / "table"), label_names=["background", "signal"]), "dnn", "classify"
    return make_points(tmp_path, signal_fraction=0.2), "dnn", "regress"


def test_run_layout_and_reevaluation_in_every_domain(domain, tmp_path):
    ds, model, objective = domain
    cfg = TrainConfig(model, objective=objective, epochs=3, batch_size=64, n_bootstrap=10)
    m = train(cfg, ds, tmp_path / "run" / model, progress=False)
    d = tmp_path / "run" / model
    for f in RUN_FILES + ("history.csv", "model.ckpt", "last.ckpt"):
        assert (d / f).exists(), f
    before = (d / "metrics.json").read_bytes()
    evaluate(tmp_path / "run")
    assert (d / "metrics.json").read_bytes() == before
    assert json.loads(before)["objective"] == objective == m["objective"]
    if getattr(ds, "domain", None) == "events":
        assert "ams" in m and m["ams"]["value"] >= 0  # the event domain's own figure of merit
    if getattr(ds, "domain", None) == "airshowers":
        assert m["angular_resolution_deg"]["value"] > 0 and len(m["binned"]["energy"]) == 3  # the array's own figures
    stored = np.load(d / "scores.npz")
    again = predict(tmp_path / "run", ds)[model]
    np.testing.assert_allclose(again[stored["index"]], stored["scores"], rtol=1e-5, atol=1e-6)


def test_regression_learns_the_target(tmp_path):
    ds = make_points(tmp_path, n=2000)
    m = train(TrainConfig("dnn", objective="regress", epochs=40, batch_size=64, lr=3e-3, patience=40, n_bootstrap=20),
              ds, tmp_path / "reg", progress=False)
    spread = float(np.std(ds.targets))
    assert m["resolution_r2"]["value"] < 0.3 * spread  # far better than predicting the mean
    assert abs(m["bias_r2"]["value"]) < 0.1 * spread
    pre = json.loads((tmp_path / "reg" / "preprocess.json").read_text())
    assert pre["objective"] == "regress" and pre["target_names"] == ["r2"] and len(pre["target_std"]) == 1


@pytest.mark.slow
def test_regression_with_a_per_event_uncertainty(tmp_path):
    ds = make_points(tmp_path, n=2000)
    m = train(TrainConfig("dnn", objective="regress", objective_config={"nll": True}, epochs=40, batch_size=64, lr=3e-3,
                          patience=40, n_bootstrap=20), ds, tmp_path / "nll", progress=False)
    scores = np.load(tmp_path / "nll" / "scores.npz")["scores"]
    assert scores.shape[1] == 2 and (scores[:, 1] > 0).all()  # prediction and its standard deviation
    assert 0.45 < m["coverage_r2"]["value"] < 0.9  # roughly calibrated (0.683 for Gaussian errors)


def test_autoencoder_on_background_only_flags_the_signal(tmp_path):
    ds = make_points(tmp_path, n=2000, signal_fraction=0.1, seed=1)
    m = train(TrainConfig("ae", epochs=40, batch_size=64, lr=3e-3, patience=40, n_bootstrap=20), ds, tmp_path / "ae", progress=False)
    log = np.genfromtxt(tmp_path / "ae" / "history.csv", delimiter=",", names=True)
    assert log["val_loss"][-1] < log["val_loss"][0]  # trained on the background's reconstruction
    assert m["auc"]["value"] > 0.9  # signal points leave the background's plane
    # one-class data is fine for an autoencoder (a classifier refuses it)
    bg = make_points(tmp_path, n=600)
    m1 = train(TrainConfig("ae", epochs=2, batch_size=64, n_bootstrap=5), bg, tmp_path / "ae1", progress=False)
    assert "auc" not in m1 and m1["mean_score"]["value"] > 0
    from hepdl.errors import DataError

    with pytest.raises(DataError, match="single class"):
        train(TrainConfig("dnn", epochs=1), bg, tmp_path / "cls", progress=False)


def test_models_declare_their_objectives():
    from hepdl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model 'bdt' learns classify, not 'regress'"):
        TrainConfig("bdt", objective="regress")
    import hepdl.models

    assert type(hepdl.models.get("bdt")).__name__ == "BDT"


def test_every_objective_exports_to_onnx(top_dataset, tmp_path):
    """The ONNX head is the objective's: an autoencoder exports its anomaly score, a regressor its
    predictions; ONNX Runtime agrees with torch on the run's own test jets."""
    from hepdl.deploy import export_onnx

    train(TrainConfig("ae", epochs=2, batch_size=64, n_bootstrap=5), top_dataset, tmp_path / "ae", progress=False)
    out = export_onnx(tmp_path / "ae")
    chk = json.loads((out / "preprocess.json").read_text())
    assert chk["objective"] == "reconstruct" and "test split" in chk["check"]["inputs"]
    assert chk["check"]["max_abs_diff"] <= chk["check"]["tolerance"]
    assert chk["outputs"][0]["shape"] == ["batch", 1]


def test_the_run_record_is_typed_and_versioned(top_dataset, tmp_path):
    """config.json is a schema-versioned RunRecord: read back through config.from_dict, an unknown key
    or a newer schema is an error naming the file; the file names live in ModelDir."""
    from hepdl.errors import ConfigError
    from hepdl.train.rundir import RUN_SCHEMA_VERSION, ModelDir

    train(TrainConfig("mass-cut", n_bootstrap=2), top_dataset, tmp_path / "run" / "cut", progress=False)
    d = ModelDir(tmp_path / "run" / "cut")
    rec = d.record()
    assert rec.schema_version == RUN_SCHEMA_VERSION and rec.model == "mass-cut" and rec.class_names == ["qcd", "top"]
    raw = d.json(ModelDir.CONFIG)
    (d / ModelDir.CONFIG).write_text(json.dumps({**raw, "colour": "blue"}))
    with pytest.raises(ConfigError, match=r"config\.json: unknown key\(s\) 'colour'; valid keys: .*schema_version"):
        evaluate(tmp_path / "run")
    (d / ModelDir.CONFIG).write_text(json.dumps({**raw, "schema_version": RUN_SCHEMA_VERSION + 1}))
    with pytest.raises(ConfigError, match=r"config\.json: run record schema version 2 is newer"):
        d.record()


def test_task_presets_are_validated():
    from hepdl.config import from_dict
    from hepdl.errors import ConfigError
    from hepdl.tasks import higgs_tautau, jet_classes, top_tagging
    from hepdl.tasks._runner import Preset

    for task in (top_tagging, jet_classes, higgs_tautau):
        for name, p in task.PRESETS.items():
            assert from_dict(Preset, p, where=name).size > 0
    with pytest.raises(ConfigError, match=r"preset 'x': unknown key\(s\) 'n_jet'; valid keys: .*n_jets"):
        from_dict(Preset, {"models": ["dnn"], "epochs": 1, "model_preset": "small", "n_particles": 8, "n_jet": 10}, where="preset 'x'")
    with pytest.raises(ConfigError, match="exactly one of n_jets or n_events"):
        Preset(models=["dnn"], epochs=1, model_preset="small", n_particles=8)


def test_capped_log_variance_never_weights_a_target_below_the_mse():
    import torch

    from hepdl.train.objectives import get_objective

    obj = get_objective("regress", nll=True, log_var_max=0.0, target_mean=[0.0, 10.0], target_std=[2.0, 5.0])
    out = torch.tensor([[0.0, 10.0, 8.0, -3.0]])  # means (standardised), log-variances: one far above the cap
    sigma = obj.output(out, ())[0, 2:]
    assert torch.allclose(sigma, torch.tensor([2.0, 5.0 * float(np.exp(-1.5))]))  # capped at the target's spread
    # the pull on a badly predicted target's mean (its weight 1/sigma^2) stays at least the MSE's; free, the
    # likelihood can inflate sigma and let the target go
    y = torch.tensor([[2.0, 10.0]])  # standardised: 1 and 0
    free = get_objective("regress", nll=True, target_mean=[0.0, 10.0], target_std=[2.0, 5.0])

    def pull(objective):
        o = torch.tensor([[0.0, 0.0, 8.0, -3.0]], requires_grad=True)
        objective.per_event_loss(o, y, ()).sum().backward()
        return float(o.grad[0, 0])

    assert pull(obj) == pytest.approx(-0.5) and abs(pull(free)) < 1e-3  # -(z - mu) / (T e^logvar), T = 2 targets
