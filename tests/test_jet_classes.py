"""The five-class jet task: truth labels, physics of each class, multi-class training and metrics."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hepdl.errors import ConfigError, DataError
from hepdl.features import build_features, multiplicity, soft_drop
from hepdl.metrics import auc, confusion_matrix, multiclass_metrics
from hepdl.train import TrainConfig, predict, train


def test_classes_labels_and_cutflow(jet_classes):
    assert jet_classes.label_names == ["gluon", "quark", "w", "z", "top"]
    assert np.bincount(jet_classes.labels).tolist() == [50] * 5
    flow = jet_classes.metadata["cutflow"]
    for name, step in (("gluon", "gluon_match"), ("quark", "light-quark_match"), ("w", "w_match"), ("z", "z_match"),
                       ("top", "top_match")):
        assert flow[name]["jets"] == flow[name][step] == 50
        assert flow[name][step] <= flow[name]["jet_pt"] <= flow[name]["events"]
    pt = np.asarray(jet_classes.jets.jet_pt)
    assert pt.min() >= 900 and pt.max() < 1100


def test_each_class_has_its_mass(jet_classes):
    """Soft-drop mass peaks: W near 80, Z near 91, top near 172 GeV. QCD jets have no peak; at 1 TeV the
    mMDT mass of gluon jets is broad (the Sudakov exponent scales with C_A = 3, median near 90 GeV),
    that of quark jets (C_F = 4/3) lower."""
    msd = soft_drop(jet_classes.jets)["mass"]
    truth_m = np.asarray(jet_classes.jets.truth_m)
    y = jet_classes.labels
    med = {k: np.median(msd[y == i]) for i, k in enumerate(jet_classes.label_names)}
    assert 65 < med["w"] < 95 and 75 < med["z"] < 105 and 150 < med["top"] < 195
    assert med["w"] < med["z"] < med["top"]
    assert med["quark"] < 60 and med["quark"] < med["gluon"]
    assert abs(np.median(truth_m[y == 2]) - 80.4) < 3 and abs(np.median(truth_m[y == 3]) - 91.2) < 3
    assert abs(np.median(truth_m[y == 4]) - 172.5) < 5


def test_gluon_jets_have_more_constituents_than_quark_jets(jet_classes):
    n = multiplicity(jet_classes.jets)
    y = jet_classes.labels
    assert n[y == 0].mean() > 1.15 * n[y == 1].mean()


def test_confusion_matrix_and_multiclass_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .8, .1], [.1, .6, .3], [.1, .1, .8], [.5, .2, .3]])
    cm = confusion_matrix(y, p)
    assert np.allclose(cm, [[.5, .5, 0], [0, 1, 0], [.5, 0, .5]])
    m = multiclass_metrics(y, p, ["a", "b", "c"], n_bootstrap=5)
    assert m["accuracy"].value == pytest.approx(4 / 6)
    for k, name in enumerate("abc"):
        assert m["auc_per_class"][name].value == pytest.approx(auc((y == k).astype(int), p[:, k]))
    assert m["auc"].value == pytest.approx(np.mean([m["auc_per_class"][c].value for c in "abc"]))
    perfect = multiclass_metrics(y, np.eye(3)[y], n_bootstrap=5)
    assert perfect["accuracy"].value == 1 and perfect["auc"].value == 1
    with pytest.raises(DataError, match="shape"):
        multiclass_metrics(y, p[:, :2].T)


def test_multiclass_training_dnn_and_bdt(jet_classes, jet_classes_run):
    run = jet_classes_run
    m = json.loads((run / "dnn" / "metrics.json").read_text())
    assert m["n_classes"] == 5 and sorted(m["auc_per_class"]) == sorted(jet_classes.label_names)
    assert np.array(m["confusion"]).shape == (5, 5)
    s = np.load(run / "dnn" / "scores.npz")
    assert s["scores"].shape == (len(s["labels"]), 5) and np.allclose(s["scores"].sum(axis=1), 1, atol=1e-5)
    assert m["auc"]["value"] > 0.7  # 16 hls4ml features separate the classes even on 150 training jets
    assert m["auc_per_class"]["top"]["value"] > 0.8
    b = json.loads((run / "bdt" / "metrics.json").read_text())
    assert np.load(run / "bdt" / "scores.npz")["scores"].shape[1] == 5 and b["auc"]["value"] > 0.7
    # predict reproduces the stored test scores of both, one column per class
    p = predict(run, jet_classes)
    for name in ("dnn", "bdt"):
        stored = np.load(run / name / "scores.npz")
        assert np.allclose(p[name][stored["index"]], stored["scores"], atol=1e-6)
    from hepdl.report import MULTICLASS_FIGURES

    page = (run / "report.html").read_text()
    for fig in MULTICLASS_FIGURES:
        assert (run / "plots" / f"{fig}.png").stat().st_size > 5000 and f"plots/{fig}.png" in page, fig
    header = (run / "table.txt").read_text().splitlines()[2]
    assert [c for c in re.split(r"\s{2,}", header) if c.startswith("AUC ")] == [f"AUC {c}" for c in jet_classes.label_names]  # label order


def test_cut_baseline_refuses_five_classes_before_writing(jet_classes, tmp_path):
    with pytest.raises(ConfigError, match="separates two classes.*gluon, quark, w, z, top"):
        train(TrainConfig("mass-cut"), jet_classes, tmp_path / "cut", progress=False)
    assert not (tmp_path / "cut").exists()


def test_hls4ml_feature_set_names(jet_classes):
    """The 16 inputs of the hls4ml jet tagger (arXiv:1804.06913; the j_* columns of its dataset), by
    hepdl's names, in the paper's order: the dataset's names without the j_ prefix and the _mmdt suffix
    of the energy-correlation ratios (the dataset computes those on the mMDT-groomed jet, hepdl on the
    whole jet)."""
    from hepdl.features import HLS4ML_FEATURES, hls4ml_features

    paper = ("zlogz", "c1_b0", "c1_b1", "c1_b2", "c2_b1", "c2_b2", "d2_b1", "d2_b2", "d2_a1_b1", "d2_a1_b2",
             "m2_b1", "m2_b2", "n2_b1", "n2_b2", "mass_mmdt", "multiplicity")
    assert HLS4ML_FEATURES == paper
    df = build_features(jet_classes, "hls4ml")
    assert list(df.columns) == [*paper, "label"] and df.shape == (250, 17)
    assert list(hls4ml_features(jet_classes.jets[:3])) == list(paper)
    # the columns hold what their names say, computed here by hand
    import awkward as ak

    n = ak.to_numpy(ak.num(jet_classes.jets.constituents))
    assert np.array_equal(df["multiplicity"].to_numpy(), n)
    assert np.array_equal(df["label"].to_numpy(), jet_classes.labels)
    for i in (0, 77, 249):
        pt = ak.to_numpy(jet_classes.jets.constituents.pt[i]).astype(np.float64)
        z = pt / pt.sum()
        assert df["zlogz"][i] == pytest.approx(np.sum(z * np.log(z)), rel=1e-9)
        assert df["c1_b0"][i] == pytest.approx((1 - np.sum(z**2)) / 2, rel=1e-9)  # sum_{i<j} z_i z_j
    assert np.allclose(df["mass_mmdt"], soft_drop(jet_classes.jets, beta=0.0, z_cut=0.1)["mass"], rtol=1e-12)
    from hepdl.features.sets import feature_cache_path

    assert json.loads(feature_cache_path(jet_classes, "hls4ml").with_suffix(".json").read_text())["n_jets"] == 250
