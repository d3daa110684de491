"""H -> tau tau: event selection, weights, the challenge features and MMC, CSV formats, AMS, the task."""

from __future__ import annotations

import json
import math
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from hepdl import schema
from hepdl.data import open as open_dataset
from hepdl.data import read_challenge_csv, write_challenge_csv
from hepdl.errors import DataError
from hepdl.features.higgs import challenge_features, derived_features, event_objects, mmc_mass
from hepdl.metrics import ams, ams_at_threshold, ams_curve, best_threshold, renormalise_weights
from hepdl.tasks import higgs_tautau


@pytest.fixture(scope="session")
def higgs_features(higgs) -> pd.DataFrame:
    return challenge_features(higgs.events)


# --- AMS --------------------------------------------------------------------------------------------

def test_ams_hand_values() -> None:
    assert ams(10.0, 100.0) == pytest.approx(0.9395373741960071, rel=1e-12)
    # no background selected: the regularisation b_r = 10 keeps the AMS finite
    assert ams(5.0, 0.0) == pytest.approx(1.471038151525966, rel=1e-12)
    # s << b: the AMS tends to s / sqrt(b)
    assert ams(1.0, 1e6, 0.0) == pytest.approx(1e-3, rel=1e-3)
    with pytest.raises(DataError, match="no background"):
        ams(5.0, 0.0, 0.0)
    with pytest.raises(DataError, match="s >= 0"):
        ams(-1.0, 3.0)


def test_ams_does_not_depend_on_split_size() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    y = (rng.random(n) < 0.3).astype(int)
    w = np.where(y == 1, rng.uniform(0.001, 0.01, n), rng.uniform(0.5, 5.0, n))
    score = rng.normal(y * 1.5, 1.0)
    totals = {c: float(w[y == c].sum()) for c in (0, 1)}
    # a split of half the events renormalised to the totals, and the same events doubled
    half = np.arange(n // 2)
    w_half = renormalise_weights(w[half], y[half], totals)
    w_twice = renormalise_weights(np.r_[w[half], w[half]], np.r_[y[half], y[half]], totals)
    a = ams_at_threshold(score[half], y[half], w_half, 1.0, n_bootstrap=0)
    b = ams_at_threshold(np.r_[score[half], score[half]], np.r_[y[half], y[half]], w_twice, 1.0, n_bootstrap=0)
    assert a.value == pytest.approx(b.value, rel=1e-12)
    assert w_half[y[half] == 1].sum() == pytest.approx(totals[1])
    # renormalising the full sample changes nothing
    assert np.allclose(renormalise_weights(w, y, totals), w)


def test_threshold_needs_effective_background_events() -> None:
    """Twelve light background events in the tail and one heavy one just below them: counting events,
    the tight cut (12 events, N_eff = 12) passes the count safeguard and sits right above the heavy
    event; with N_eff >= 25 required the cut moves down to where the background is known to 20 %."""
    rng = np.random.default_rng(1)
    s_sc = rng.uniform(0.5, 1.0, 400)
    b_light = np.r_[rng.uniform(0.9, 1.0, 12), rng.uniform(0.0, 0.6, 400)]
    scores = np.r_[s_sc, b_light, 0.85]
    y = np.r_[np.ones(400), np.zeros(413)].astype(np.int64)
    w = np.r_[np.full(400, 0.5), np.full(12, 1.0), np.full(400, 5.0), 300.0]
    old, _ = best_threshold(scores, y, w, min_background_events=10, min_effective_background=0)
    new, _ = best_threshold(scores, y, w)
    c = ams_curve(scores, y, w)
    assert old > 0.85  # above the heavy event
    assert new < old and c["neff_background"][c["threshold"] == new][0] >= 25


def test_ams_curve_and_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 1, 0, 1, 0, 0])
    w = np.array([5.0, 5.0, 20.0, 5.0, 20.0, 20.0])
    c = ams_curve(scores, y, w)
    assert np.allclose(c["s"], [5, 10, 10, 15, 15, 15]) and np.allclose(c["b"], [0, 0, 20, 20, 40, 60])
    assert c["ams"][1] == pytest.approx(ams(10.0, 0.0))
    # without the safeguard the two signal-only events win; requiring background events moves the cut
    thr, best = best_threshold(scores, y, w, min_background_events=0, min_effective_background=0)
    assert thr == 0.8 and best == pytest.approx(ams(10.0, 0.0))
    thr2, _ = best_threshold(scores, y, w, min_background_events=1, min_effective_background=0)
    assert thr2 <= 0.7
    assert np.allclose(c["neff_background"], [0, 0, 1, 1, 2, 3])  # equal weights: the count
    with pytest.raises(DataError, match="no background"):
        ams_curve(scores[:2], y[:2], w[:2])
    with pytest.raises(DataError, match="no background"):
        renormalise_weights(w[:2], y[:2], {0: 1.0, 1: 1.0})


# --- events, weights, cutflow -----------------------------------------------------------------------

def test_lephad_selection_and_weights(higgs, higgs_path: Path) -> None:
    ev = higgs.events
    meta = json.loads((higgs_path / "dataset.json").read_text())
    assert len(higgs) == meta["counts"]["total"] >= 150 and set(higgs.class_counts()) == {"background", "signal"}
    assert ak.all(ev.lep_pt > 20) and ak.all(ev.tau_pt > 20) and ak.all(np.abs(ev.tau_eta) < 2.5)
    assert ak.all(ev.lep_charge * ev.tau_charge < 0)
    assert ak.all(ak.flatten(ev.jets.pt) > 30)
    # each event's weight is sigma * L / N_generated of its sample (dataset.json: Pythia's cross-section in
    # pb, the luminosity in fb^-1, the generated events of the cutflow) times its generator weight and its
    # tau-ID probability (the part files' columns), computed here by hand
    lumi_pb = 1000.0 * meta["settings"]["luminosity_fb"]
    assert lumi_pb == 20_000.0  # the task's 20 fb^-1
    raw = ak.concatenate([ak.from_parquet(higgs_path / p["file"]) for p in meta["parts"]])
    assert ak.to_list(raw["sample"]) == ak.to_list(ev["sample"])
    samples = ak.to_numpy(raw["sample"]).astype(str)
    assert set(samples) == set(meta["cutflow"]) == {row[0] for row in higgs_tautau.SAMPLES}
    for sample in set(samples):
        sel = samples == sample
        flow = meta["cutflow"][sample]
        assert flow["events"] >= flow["truth_lepton"] >= flow["one_lepton"] >= flow["tau_candidate"] >= flow["opposite_charge"] == flow["selected"]
        assert flow["selected"] == sel.sum()
        per_generated = meta["cross_section"][sample]["sigma_pb"] * lumi_pb / flow["events"]
        by_hand = per_generated * ak.to_numpy(raw.weight)[sel] * ak.to_numpy(raw.id_weight)[sel]
        assert np.allclose(higgs.weights[sel], by_hand, rtol=1e-12, atol=0)
        assert meta["expected_events"][sample]["selected"] == pytest.approx(per_generated * flow["selected"], rel=1e-12)
        assert meta["expected_events"][sample]["tau_id"] == pytest.approx(by_hand.sum(), rel=1e-9)
    # signal taus are real; W + jets taus are fakes (weight = fake rate)
    sig = higgs.labels == 1
    assert ak.to_numpy(ev.tau_true)[sig].mean() > 0.6
    w_jets = higgs.process == "wjets-lnu"
    assert not ak.to_numpy(ev.tau_true)[w_jets].any()
    assert np.allclose(ak.to_numpy(ev.id_weight)[w_jets], 0.01)
    # the Higgs cross-section times BR(tau tau) from Pythia: of order 1 pb at 8 TeV; the forced samples
    # carry the lepton + hadron branching fraction, 2 x 0.352 x 0.648 for both charge assignments
    ggh = sum(meta["cross_section"][s]["sigma_pb"] for s in ("ggh_lh", "ggh_hl"))
    assert 0.3 < ggh / (2 * 0.352 * 0.648) < 2.0
    assert "ggh-tautau" in higgs.summary()


def test_challenge_features(higgs, higgs_features: pd.DataFrame) -> None:
    f = higgs_features
    assert list(f.columns) == list(schema.CHALLENGE_FEATURES) and len(schema.CHALLENGE_FEATURES) == 30
    nj = f["PRI_jet_num"].to_numpy()
    assert set(np.unique(nj)) <= {0, 1, 2, 3}
    assert np.all((f["DER_mass_jet_jet"] == -999.0) == (nj <= 1))
    assert np.all((f["PRI_jet_leading_pt"] == -999.0) == (nj == 0))
    assert np.all(f["DER_mass_transverse_met_lep"] >= 0) and np.all(f["DER_deltar_tau_lep"] > 0.4)
    c = f["DER_met_phi_centrality"]
    assert np.all((c >= -math.sqrt(2) - 1e-9) & (c <= math.sqrt(2) + 1e-9))
    # signal peaks higher in mass than the Z background, in MMC and visible mass
    mmc = f["DER_mass_MMC"].to_numpy()
    sig, z = higgs.labels == 1, higgs.process == "ztautau"
    assert np.median(mmc[sig & (mmc > 0)]) > np.median(mmc[z & (mmc > 0)])
    assert np.mean(mmc[sig] > 0) > 0.85


def test_derived_features_analytic() -> None:
    pri = pd.DataFrame({c: [0.0, 0.0] for c in schema.PRI_FEATURES})
    pri["PRI_lep_pt"] = pri["PRI_tau_pt"] = [40.0, 40.0]
    pri["PRI_tau_phi"] = [1.0, 1.0]
    pri["PRI_met"] = [20.0, 20.0]
    pri["PRI_met_phi"] = [0.5, 0.0]  # on the bisector; along the lepton
    pri["PRI_jet_num"] = [2.0, 2.0]
    pri["PRI_jet_leading_pt"] = pri["PRI_jet_subleading_pt"] = [50.0, 50.0]
    pri["PRI_jet_leading_eta"] = [-2.0, -2.0]
    pri["PRI_jet_subleading_eta"] = [2.0, 2.0]
    pri["PRI_lep_eta"] = [0.0, 2.0]  # between the jets; at a jet
    d = derived_features(pri, mmc=False)
    assert d["DER_met_phi_centrality"].tolist() == pytest.approx([math.sqrt(2), 1.0])
    assert d["DER_lep_eta_centrality"].tolist() == pytest.approx([1.0, math.exp(-1)])
    assert d["DER_mass_transverse_met_lep"][1] == pytest.approx(0.0, abs=1e-9)
    assert d["DER_deltaeta_jet_jet"][0] == 4.0 and d["DER_prodeta_jet_jet"][0] == -4.0
    assert d["DER_mass_MMC"].tolist() == [-999.0, -999.0]


def test_mmc_recovers_the_generated_mass_with_true_neutrinos(higgs, higgs_features: pd.DataFrame) -> None:
    ev = higgs.events
    m_true = ak.to_numpy(ev.truth_m_tautau)
    sel = (higgs.labels == 1) & ak.to_numpy(ev.tau_true)
    m = mmc_mass(ev.lep_pt, ev.lep_eta, ev.lep_phi, ev.tau_pt, ev.tau_eta, ev.tau_phi, ev.truth_met_x, ev.truth_met_y,
                 ev.sumet)[sel]
    ok = m > 0
    assert ok.mean() > 0.9
    err_mmc = np.median(np.abs(m[ok] - m_true[sel][ok]))
    err_vis = np.median(np.abs(higgs_features["DER_mass_vis"].to_numpy()[sel][ok] - m_true[sel][ok]))
    assert abs(np.median(m[ok]) - 125.0) < 12.0
    assert err_mmc < 0.5 * err_vis


def test_event_objects(higgs) -> None:
    o = event_objects(higgs, n_objects=6)
    assert o["x"].shape == (len(higgs), 6, 12) and o["mask"][:, :3].all()
    n_jets = np.minimum(ak.to_numpy(ak.num(higgs.events.jets)), 3)
    assert np.array_equal(o["mask"][:, 3:].sum(axis=1), n_jets)
    assert np.all(o["x"][~o["mask"]] == 0) and np.all(o["x"][:, 0, 1] == 0)  # lepton at dphi = 0
    # the lepton four-vector has the lepton's pT
    assert np.allclose(np.hypot(o["p4"][:, 0, 0], o["p4"][:, 0, 1]), ak.to_numpy(higgs.events.lep_pt), rtol=1e-5)


# --- CSV formats ------------------------------------------------------------------------------------

def test_csv_round_trip(higgs, higgs_features: pd.DataFrame, tmp_path: Path) -> None:
    p = write_challenge_csv(tmp_path / "training.csv", higgs_features, labels=higgs.labels, weights=higgs.weights)
    back = read_challenge_csv(p)
    assert back.format == "challenge-csv (kaggle)" and len(back) == len(higgs)
    assert np.array_equal(back.labels, higgs.labels)
    assert np.allclose(back.weights, higgs.weights, rtol=1e-9)
    assert np.allclose(back.features.to_numpy(), higgs_features.to_numpy(), rtol=1e-9, atol=1e-9)
    header = p.read_text().splitlines()[0].split(",")
    assert header[0] == "EventId" and header[-2:] == ["Weight", "Label"]
    # open-data layout: KaggleWeight renormalised per set
    kset = np.where(np.arange(len(higgs)) % 2 == 0, "t", "b")
    q = write_challenge_csv(tmp_path / "opendata.csv", higgs_features, labels=higgs.labels, weights=higgs.weights,
                            fmt="opendata", kaggle_set=kset)
    od = read_challenge_csv(q)
    raw = pd.read_csv(q)
    for code in ("t", "b"):
        s = raw[(raw.KaggleSet == code) & (raw.Label == "s")]
        assert s.KaggleWeight.sum() == pytest.approx(higgs.weights[higgs.labels == 1].sum(), rel=1e-6)
    assert od.format == "challenge-csv (opendata)" and list(od.kaggle_set[:2]) == ["t", "b"]
    # the object lists of a CSV file come from its primitive columns
    o = event_objects(back, n_objects=5)
    assert o["mask"][:, :3].all()


def test_csv_bad_input(higgs_features: pd.DataFrame, tmp_path: Path) -> None:
    df = higgs_features.copy()
    df.drop(columns=["DER_mass_MMC"]).assign(Weight=1.0, Label="s", Foo=1).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['DER_mass_MMC'\].*unexpected column\(s\) \['Foo'\]"):
        read_challenge_csv(tmp_path / "bad.csv")
    df.assign(Weight=1.0, Label="x").to_csv(tmp_path / "label.csv", index=False)
    with pytest.raises(DataError, match="Label must hold 's' or 'b'"):
        read_challenge_csv(tmp_path / "label.csv")
    # unweighted data (the layout of the Kaggle test.csv): readable, refused for training and AMS
    write_challenge_csv(tmp_path / "test.csv", df)
    ds = open_dataset(tmp_path / "test.csv")
    assert ds.weights is None and (ds.labels == -1).all()
    with pytest.raises(DataError, match="unweighted"):
        ds.require_weights("the AMS")
    from hepdl.train import TrainConfig, train

    with pytest.raises(DataError, match="unlabelled"):
        train(TrainConfig("bdt"), ds, tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --- the task end to end ----------------------------------------------------------------------------

def test_higgs_task_end_to_end(higgs, higgs_path: Path, higgs_task_run: Path) -> None:
    out = higgs_task_run
    for name in ("ams-cuts", "bdt", "bdt-challenge", "dnn-1", "dnn-2", "dnn-ensemble", "part"):
        m = json.loads((out / name / "metrics.json").read_text())
        assert np.isfinite(m["ams"]["value"]) and m["ams"]["value"] > 0 and m["ams"]["error"] >= 0
        assert 0 < m["ams_selected_fraction"] <= 1
    # the ensemble: the members' stored test (and validation) scores averaged, same events; its AUC the
    # Mann-Whitney probability over all signal/background pairs of the averaged scores, counted here
    ens = np.load(out / "dnn-ensemble" / "scores.npz")
    members = [np.load(out / f"dnn-{k}" / "scores.npz") for k in (1, 2)]
    for key in ("index", "labels", "val_index", "val_labels"):
        assert all(np.array_equal(ens[key], m[key]) for m in members), key
    assert not np.allclose(members[0]["scores"], members[1]["scores"], atol=1e-3)  # two different networks
    avg = (members[0]["scores"] + members[1]["scores"]) / 2
    assert np.allclose(ens["scores"], avg, rtol=0, atol=1e-12)
    assert np.allclose(ens["val_scores"], (members[0]["val_scores"] + members[1]["val_scores"]) / 2, rtol=0, atol=1e-12)
    sig, bkg = avg[ens["labels"] == 1], avg[ens["labels"] == 0]
    pairs = (sig[:, None] > bkg[None, :]).mean() + 0.5 * (sig[:, None] == bkg[None, :]).mean()
    ens_metrics = json.loads((out / "dnn-ensemble" / "metrics.json").read_text())
    assert ens_metrics["auc"]["value"] == pytest.approx(pairs, abs=1e-12)
    # the quick preset cross-validates: the merged ensemble is made of the folds' ensembles
    assert ens_metrics["members"] == [f"dnn-ensemble-fold{k}" for k in range(1, 6)] and ens_metrics["folds"] == 5
    fold_ens = json.loads((out / "folds" / "dnn-ensemble-fold1" / "metrics.json").read_text())
    assert fold_ens["members"] == ["dnn-1-fold1", "dnn-2-fold1"]
    cuts = json.loads((out / "folds" / "ams-cuts-fold1" / "model.json").read_text())
    assert "DER_mass_MMC" in cuts["cuts"]
    for fig in ("ams", "scores", "roc", "masses"):
        assert (out / "plots" / f"{fig}.png").stat().st_size > 5000
    text = (out / "table.txt").read_text()
    assert "dnn-ensemble" in text and "after the tau-ID weight" in text  # the cutflow, with expected events
    assert "AMS − bdt" in text and ("compatible" in text or "ahead" in text or "behind" in text)  # paired difference to the BDT
    # predictions of a stored model on the same events reproduce its test scores (a fold's model)
    from hepdl.train import predict

    folds = [predict(out / "folds", higgs_path, models=[f"bdt-fold{k}"])[f"bdt-fold{k}"] for k in range(1, 6)]
    stored = np.load(out / "folds" / "bdt-fold2" / "scores.npz")
    assert np.allclose(folds[1][stored["index"]], stored["scores"], atol=1e-6)
    # the cross-validated model predicts new events with the mean of its fold models
    assert np.allclose(predict(out, higgs_path, models=["bdt"])["bdt"], np.mean(folds, axis=0), atol=1e-12)
    # and so do the event DNN's (log columns, -999 replaced, the stored mean/std), on every event
    d = predict(out / "folds", higgs_path, models=["dnn-1-fold1"])
    assert list(d) == ["dnn-1-fold1"] and d["dnn-1-fold1"].shape == (len(higgs),) and np.all((d["dnn-1-fold1"] >= 0) & (d["dnn-1-fold1"] <= 1))
    stored = np.load(out / "folds" / "dnn-1-fold1" / "scores.npz")
    assert np.allclose(d["dnn-1-fold1"][stored["index"]], stored["scores"], rtol=1e-5, atol=1e-6)
    assert np.allclose(d["dnn-1-fold1"][stored["val_index"]], stored["val_scores"], rtol=1e-5, atol=1e-6)


def test_csv_command(higgs_path: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hepdl.cli import app

    res = CliRunner().invoke(app, ["csv", str(higgs_path), str(tmp_path / "od.csv"), "--format", "opendata"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "od.csv")
    assert list(df.columns) == ["EventId", *schema.CHALLENGE_FEATURES, "Weight", "Label", "KaggleSet", "KaggleWeight"]
    assert set(df.KaggleSet) == {"t", "b", "v"}
    res = CliRunner().invoke(app, ["info", str(tmp_path / "od.csv")])
    assert res.exit_code == 0 and "challenge-csv (opendata)" in res.output, res.output


def test_same_model_on_csv_and_on_generated_events(higgs, higgs_features: pd.DataFrame, tmp_path: Path) -> None:
    """The CSV path gives the same BDT, scores and AMS as the generated dataset it was written from."""
    from hepdl.train import TrainConfig, train

    csv = write_challenge_csv(tmp_path / "training.csv", higgs_features, labels=higgs.labels, weights=higgs.weights)
    a = train(TrainConfig("bdt", model_config={"n_estimators": 50}), higgs, tmp_path / "gen", progress=False)
    b = train(TrainConfig("bdt", model_config={"n_estimators": 50}), csv, tmp_path / "csv", progress=False)
    sa, sb = np.load(tmp_path / "gen" / "scores.npz"), np.load(tmp_path / "csv" / "scores.npz")
    assert np.allclose(sa["scores"], sb["scores"], atol=1e-6)
    assert a["ams"]["value"] == pytest.approx(b["ams"]["value"], rel=1e-6)


def test_ams_difference_is_paired() -> None:
    """The paired bootstrap: a model against itself differs by exactly 0 ± 0, and two correlated
    selections differ with an error well below the unpaired sqrt(err_a^2 + err_b^2)."""
    from hepdl.metrics import ams_difference

    rng = np.random.default_rng(3)
    n = 20000
    y = (rng.random(n) < 0.3).astype(np.int64)
    w = np.where(y == 1, 0.05, 2.0)
    a = rng.normal(y * 1.5, 1.0)
    b = a + rng.normal(0, 0.15, n)  # nearly the same selection
    same = ams_difference(a, 1.0, a, 1.0, y, w, n_bootstrap=50)
    assert same["value"] == 0.0 and same["error"] == 0.0 and same["ratio"] == 1.0
    d = ams_difference(a, 1.0, b, 1.0, y, w, n_bootstrap=200)
    ea = ams_at_threshold(a, y, w, 1.0, n_bootstrap=200).error
    eb = ams_at_threshold(b, y, w, 1.0, n_bootstrap=200, seed=1).error
    assert 0 < d["error"] < 0.5 * math.hypot(ea, eb)
    # the value is the plain difference of the two AMS
    assert d["value"] == pytest.approx(ams_at_threshold(a, y, w, 1.0, n_bootstrap=0).value
                                       - ams_at_threshold(b, y, w, 1.0, n_bootstrap=0).value, abs=1e-12)
    with pytest.raises(DataError, match="same events"):
        ams_difference(a, 1.0, b[:-1], 1.0, y, w)


def test_rotate_reflect_augmentation_keeps_the_event(higgs) -> None:
    """The events' symmetry augmentation turns every azimuth by one angle and may reflect the event;
    angle differences (up to the reflection's sign), eta products, every derived feature and the
    absent jets are unchanged."""
    import torch

    from hepdl.features.higgs import event_inputs, rotate_reflect

    inputs = event_inputs(higgs, "features", np.arange(len(higgs)))
    pre, x = inputs.preprocess, inputs.arrays["features"]
    torch.manual_seed(0)
    y = rotate_reflect({"features": torch.from_numpy(x)}, pre["augment"])["features"].numpy()
    cols = pre["columns"]
    mean, std = np.array(pre["mean"]), np.array(pre["std"])
    raw_x, raw_y = x * std + mean, y * std + mean
    c = {n: i for i, n in enumerate(cols)}
    angles = {i for i in pre["augment"]["phi"] + pre["augment"]["eta"]}
    others = [i for i in range(len(cols)) if i not in angles]
    assert np.array_equal(x[:, others], y[:, others])
    dphi = lambda r: np.angle(np.exp(1j * (r[:, c["PRI_lep_phi"]] - r[:, c["PRI_tau_phi"]])))  # noqa: E731
    assert np.allclose(np.abs(dphi(raw_y)), np.abs(dphi(raw_x)), atol=1e-4)
    prod = lambda r: r[:, c["PRI_lep_eta"]] * r[:, c["PRI_tau_eta"]]  # noqa: E731
    assert np.allclose(prod(raw_y), prod(raw_x), atol=1e-4)
    assert np.all(np.abs(raw_y[:, c["PRI_met_phi"]]) <= np.pi + 1e-5)
    assert np.mean(np.abs(raw_y[:, c["PRI_tau_phi"]] - raw_x[:, c["PRI_tau_phi"]])) > 0.5  # it did turn them
    no_jet = ~(higgs_features_of(higgs)["PRI_jet_num"].to_numpy() > 0)
    assert no_jet.any() and np.array_equal(y[no_jet, c["PRI_jet_leading_phi"]], x[no_jet, c["PRI_jet_leading_phi"]])
    # a 0/1 indicator per undefined pattern comes with the features
    assert cols[-3:] == ["defined_DER_mass_MMC", "defined_PRI_jet_leading_pt", "defined_PRI_jet_subleading_pt"]


def higgs_features_of(ds) -> pd.DataFrame:
    from hepdl.features.higgs import dataset_features

    return dataset_features(ds)


def test_bagging_resamples_the_training_weights(higgs) -> None:
    from hepdl.features.higgs import event_inputs
    from hepdl.train import TrainConfig
    from hepdl.train.trainer import _bagged

    train = np.arange(0, len(higgs), 2)
    inputs = event_inputs(higgs, "features", train)
    a, b = (_bagged(inputs, train, TrainConfig("dnn", bagging=True, seed=s)).sample_weight for s in (1, 2))
    again = _bagged(inputs, train, TrainConfig("dnn", bagging=True, seed=1)).sample_weight
    counts = a[train] / inputs.sample_weight[train]
    assert np.array_equal(a, again) and not np.array_equal(a, b)
    assert np.allclose(counts, np.round(counts)) and (counts == 0).any() and counts.max() >= 2
    other = np.setdiff1d(np.arange(len(higgs)), train)
    assert np.array_equal(a[other], inputs.sample_weight[other])  # validation and test entries untouched
    assert _bagged(inputs, train, TrainConfig("dnn")) is inputs


def test_event_cloud_objects_carry_the_derived_features(higgs) -> None:
    from hepdl.features.higgs import OBJECT_FEATURES, event_inputs, event_objects

    train = np.arange(len(higgs))
    inputs = event_inputs(higgs, "cloud", train, n_particles=8)
    x, mask = inputs.arrays["x"], inputs.arrays["mask"]
    n_obj = len(OBJECT_FEATURES)
    g = inputs.preprocess["global"]
    assert g["columns"][-1] == "defined_DER_mass_MMC" and len(g["columns"]) == 14
    assert x.shape[-1] == n_obj + 14 and inputs.preprocess["features"][n_obj:] == g["columns"]
    assert np.array_equal(x[..., :n_obj], event_objects(higgs, 8)["x"])
    assert np.all(x[~mask] == 0)  # padding stays empty
    real = x[:, 0, n_obj:]  # the lepton is always there
    assert np.allclose(np.where(mask[..., None], x[..., n_obj:], real[:, None, :]), real[:, None, :])
    # rebuilding with the stored preprocessing (a trained model's) gives the same arrays on a subset
    again = event_inputs(higgs, "cloud", train[:10], n_particles=8, scaling=inputs.preprocess)
    assert np.array_equal(again.arrays["x"], x)


def test_challenge_bdt_takes_minus_999_as_missing(tmp_path: Path) -> None:
    """bdt-challenge (the challenge's XGBoost): -999 is a missing value, scored exactly as NaN, and
    the setting survives saving."""
    from hepdl.models import get

    rng = np.random.default_rng(0)
    n = 2000
    y = (rng.random(n) < 0.5).astype(np.int64)
    a = rng.normal(y, 1.0)
    b = np.where(rng.random(n) < 0.3, -999.0, rng.normal(-y, 1.0))
    X = pd.DataFrame({"a": a, "b": b})
    bdt = get("bdt-challenge", preset="small", n_estimators=40).fit(X, y)
    as_nan = X.assign(b=np.where(b == -999.0, np.nan, b))
    assert np.array_equal(bdt.score(X), bdt.score(as_nan))
    bdt.save(tmp_path / "m.json")
    again = type(bdt).load(tmp_path / "m.json")
    assert again.missing == -999.0 and np.array_equal(again.score(X), bdt.score(X))
    plain = get("bdt", n_estimators=40).fit(X, y)  # -999 as a number: NaN scores differently
    assert not np.array_equal(plain.score(X), plain.score(as_nan))


def test_fold_indices_partition_the_entries() -> None:
    from hepdl.errors import ConfigError
    from hepdl.train.inputs import fold_indices

    groups = np.repeat(np.arange(50), 2)  # two entries per event
    splits = [fold_indices(100, 5, f, seed=3, groups=groups) for f in range(5)]
    for key in ("test", "val"):
        everything = np.concatenate([s[key] for s in splits])
        assert np.array_equal(np.sort(everything), np.arange(100))  # each entry once
    for s in splits:
        assert not set(s["train"]) & (set(s["val"]) | set(s["test"])) and not set(s["val"]) & set(s["test"])
        assert len(s["train"]) + len(s["val"]) + len(s["test"]) == 100 and len(s["test"]) == 20
        assert set(groups[s["test"]]).isdisjoint(groups[s["train"]])  # an event's entries stay together
    assert np.array_equal(splits[0]["val"], splits[1]["test"])  # val is the next fold
    with pytest.raises(ConfigError, match="n_folds >= 3"):
        fold_indices(10, 2, 0)


def test_cross_validated_run_scores_every_event_once(higgs, higgs_path: Path, tmp_path: Path) -> None:
    """A preset with folds trains each model per fold under folds/ and merges the test scores: every
    event is scored by the fold model that never saw it, and the AMS is measured on all events."""
    from hepdl.tasks._runner import run_models

    presets = {"cv": {"n_events": 150, "epochs": 1, "model_preset": "small", "n_particles": 8, "folds": 3,
                      "ensembles": {"dnn": 2}, "train_options": {"dnn": {"bagging": True}}, "models": ["bdt", "dnn"]}}
    run = run_models("higgs-tautau", higgs_tautau.dataset_spec, presets, "cv", dataset=higgs_path, runs_dir=tmp_path,
                     progress=False, check=None)
    merged = np.load(run / "bdt" / "scores.npz")
    assert np.array_equal(merged["index"], np.arange(len(higgs))) and np.array_equal(merged["val_index"], np.arange(len(higgs)))
    for k in (1, 2, 3):
        fold = np.load(run / "folds" / f"bdt-fold{k}" / "scores.npz")
        assert np.array_equal(merged["scores"][fold["index"]], fold["scores"])
        assert json.loads((run / "folds" / f"bdt-fold{k}" / "metrics.json").read_text())["split"] == f"fold {k} of 3"
    m = json.loads((run / "bdt" / "metrics.json").read_text())
    assert m["folds"] == 3 and m["split"] == "3-fold cross-validation" and m["members"] == ["bdt-fold1", "bdt-fold2", "bdt-fold3"]
    assert np.isfinite(m["ams"]["value"]) and m["ams_b"] > 0
    # the weights need no renormalisation: the selection's s + b are those of all events
    thr = m["ams_threshold"]
    sel = merged["scores"] >= thr
    assert m["ams_s"] == pytest.approx(higgs.weights[sel & (higgs.labels == 1)].sum(), rel=1e-9)
    for name in ("dnn-1", "dnn-2", "dnn-ensemble"):
        assert (run / name / "metrics.json").exists() and (run / "folds" / f"{name}-fold3" / "scores.npz").exists()
    assert not (run / "dnn-1" / "config.json").exists()  # merged directories hold scores, the fold models the weights
    assert "AMS − bdt" in (run / "table.txt").read_text()
    # re-evaluating the run re-evaluates its fold models, reproducing their metrics exactly
    from hepdl.train import evaluate

    before = (run / "folds" / "bdt-fold2" / "metrics.json").read_bytes()
    assert "bdt-fold2" in evaluate(run)
    assert (run / "folds" / "bdt-fold2" / "metrics.json").read_bytes() == before
    # and the report rewritten from the stored outputs reopens the dataset through a fold model
    from hepdl.report import rewrite_report

    rewrite_report(run)
    text = (run / "table.txt").read_text()
    assert any(v in text for v in ("compatible", "ahead", "behind")) and "3-fold cross-validation" in (run / "report.html").read_text()
