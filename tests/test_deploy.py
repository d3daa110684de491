"""Deployment: torch == ONNX Runtime (MLP and a particle model), the preprocess.json contract, the
hls4ml fixed-point emulation against the float model, and the trigger emulation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepdl.deploy import (
    OnnxModel,
    TriggerConfig,
    check_contract,
    convert_hls4ml,
    export_onnx,
    hls_agreement,
    run_trigger,
)
from hepdl.deploy.hls import split_inputs
from hepdl.errors import ConfigError, DataError
from hepdl.train import TrainConfig, model_inputs, predict, train
from hepdl.train.trainer import load_trained


@pytest.fixture(scope="module")
def run_dir(jet_classes, tmp_path_factory):
    """A run with the hls4ml MLP (5 classes), a small ParticleNet, a small ParT and a BDT on the five-class jets."""
    run = tmp_path_factory.mktemp("run")
    train(TrainConfig("dnn", preset="paper", epochs=25, batch_size=32, feature_set="hls4ml", n_bootstrap=5),
          jet_classes, run / "dnn", progress=False)
    train(TrainConfig("particlenet-lite", epochs=1, batch_size=32, n_particles=32, n_bootstrap=5,
                      model_config={"k": 4, "blocks": ((8, 8), (8, 8)), "fusion": 16, "dense": 8}),
          jet_classes, run / "particlenet-lite", progress=False)
    train(TrainConfig("part", epochs=1, batch_size=32, n_particles=32, n_bootstrap=5,
                      model_config={"embed": (8, 8), "pair_embed": (8,), "heads": 2, "n_blocks": 1, "n_class_blocks": 1, "ffn": 8}),
          jet_classes, run / "part", progress=False)
    train(TrainConfig("bdt", feature_set="hls4ml", n_bootstrap=5, model_config={"n_estimators": 20}), jet_classes,
          run / "bdt", progress=False)
    return run


# ParT: its pair features took atan2(0, 0) for padded particles, NaN in ONNX's decomposition
@pytest.mark.parametrize("model", ["dnn", "particlenet-lite", "part"])
def test_onnx_runtime_equals_torch(run_dir, jet_classes, model):
    exp = export_onnx(run_dir / model)
    assert (exp / "model.onnx").exists() and (exp / "preprocess.json").exists()
    onnx_model = OnnxModel(exp)
    ref = predict(run_dir, jet_classes, models=[model])[model]
    got = onnx_model.predict(jet_classes, batch_size=37)  # dynamic batch: 37, ..., and a short last batch
    assert got.shape == ref.shape == (len(jet_classes), 5)
    assert np.max(np.abs(got - ref)) < 1e-5
    # batch 1 == batched
    _, pre, _ = load_trained(run_dir / model)
    one = model_inputs(jet_classes, pre).take(np.array([3]))
    assert np.allclose(onnx_model.run(one), got[3:4], atol=1e-6)


def test_contract_names_what_does_not_match(run_dir, tmp_path):
    exp = export_onnx(run_dir / "dnn", tmp_path / "exp")
    pre = json.loads((exp / "preprocess.json").read_text())
    assert pre["inputs"] == [{"name": "features", "shape": ["batch", 16], "dtype": "float32"}]
    assert pre["class_names"] == ["gluon", "quark", "w", "z", "top"] and len(pre["mean"]) == 16
    bad = dict(pre, columns=pre["columns"][:-1])
    (exp / "preprocess.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match="'columns' has 15 entries but the model takes 16 features"):
        check_contract(exp)
    bad = dict(pre, inputs=[{"name": "x", "shape": ["batch", 16], "dtype": "float32"}])
    (exp / "preprocess.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"'inputs' names \['x'\] but .*model.onnx takes \['features'\]"):
        OnnxModel(exp)
    (exp / "preprocess.json").unlink()
    with pytest.raises(DataError, match="preprocess.json is missing"):
        check_contract(exp)


def test_export_refuses_what_onnx_cannot_express(run_dir):
    with pytest.raises(ConfigError, match="XGBoost booster"):
        export_onnx(run_dir / "bdt")
    with pytest.raises(ConfigError, match="dense tagger"):
        convert_hls4ml(run_dir / "particlenet-lite")
    with pytest.raises(ConfigError, match="ap_fixed<W,I>"):
        convert_hls4ml(run_dir / "dnn", precision="float16")


def test_hls4ml_emulation_agrees_with_the_float_model(run_dir, tmp_path):
    import contextlib
    import io

    x, y = split_inputs(run_dir / "dnn")
    stored = np.load(run_dir / "dnn" / "scores.npz")  # the float model's test scores, written by train()
    assert np.array_equal(stored["labels"], y) and stored["scores"].shape == (50, 5)
    float_decision = stored["scores"].argmax(axis=1)
    top2 = np.sort(stored["scores"], axis=1)[:, -2:]

    def emulate(precision: str) -> tuple[dict, np.ndarray]:
        hls = convert_hls4ml(run_dir / "dnn", tmp_path / precision.strip("ap_fixed<>").replace(",", "_"), precision=precision)
        with contextlib.redirect_stdout(io.StringIO()):
            fixed = np.asarray(hls.predict(x), dtype=np.float64).reshape(len(x), -1)
        return hls_agreement(run_dir / "dnn", x, y, hls_model=hls, precision=precision), fixed

    res, fixed = emulate("ap_fixed<16,6>")
    assert res["precision"] == "ap_fixed<16,6>" and res["n"] == len(x) == 50 and fixed.shape == (50, 5)
    # recomputed here from the emulation's outputs and the stored float scores
    agree = fixed.argmax(axis=1) == float_decision
    assert res["argmax_agreement"] == agree.mean()
    assert res["accuracy_fixed"] == np.mean(fixed.argmax(axis=1) == y)
    assert res["accuracy_float"] == np.mean(float_decision == y)
    # the default precision keeps the float decision on all but at most one of the 50 test jets, and a
    # decision flips only where the float model itself hesitated (its two best probabilities within 0.02)
    assert agree.mean() >= 0.98
    assert np.all(top2[~agree, 1] - top2[~agree, 0] < 0.02), top2[~agree]
    assert res["max_abs_diff_prob"] < 0.05
    # two more fractional bits: the float decision on at least 99 % of the test jets, closer logits
    wide, fixed18 = emulate("ap_fixed<18,6>")
    assert wide["argmax_agreement"] >= 0.99 and np.mean(fixed18.argmax(axis=1) == float_decision) >= 0.99
    assert wide["max_abs_diff_logit"] < res["max_abs_diff_logit"]
    with pytest.raises(DataError, match="16 features"):
        hls_agreement(run_dir / "dnn", x[:, :5], hls_model=object())


def test_trigger_at_a_rate_and_resume(run_dir, jet_classes, tmp_path):
    cfg = TriggerConfig(rate_hz=8e6, input_rate_hz=40e6, batch_size=60, model="dnn")
    s = run_trigger(run_dir, jet_classes, tmp_path / "t", cfg, progress=False)
    assert s["n_accepted"] == 50 and s["output_rate_hz"] == pytest.approx(8e6) and s["rate_reduction"] == pytest.approx(5)
    assert s["signal_classes"] == ["w", "z", "top"] and s["n_batches"] == 5
    p = predict(run_dir, jet_classes, models=["dnn"])["dnn"]
    score = p[:, 2:].sum(axis=1)
    assert np.sum(score >= s["threshold"]) == 50
    assert sum(c["accepted"] for c in s["per_class"].values()) == 50
    sig = sum(s["per_class"][c]["efficiency"] for c in ("w", "z", "top")) / 3
    bkg = sum(s["per_class"][c]["efficiency"] for c in ("gluon", "quark")) / 2
    assert sig > bkg  # the trigger prefers the heavy resonances
    import awkward as ak

    files = sorted((tmp_path / "t").glob("accepted-*.parquet"))
    acc = ak.concatenate([ak.from_parquet(f) for f in files])
    assert len(acc) == 50 and np.all(np.asarray(acc.trigger_score) >= s["threshold"])
    # interrupted after batch 2: the other accepted files are kept untouched, the result is identical
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    (tmp_path / "t" / "accepted-00002.json").unlink()
    (tmp_path / "t" / "accepted-00002.parquet").unlink()
    s2 = run_trigger(run_dir, jet_classes, tmp_path / "t", cfg, progress=False)
    assert s2["n_accepted"] == 50 and s2["threshold"] == s["threshold"]
    for f in sorted((tmp_path / "t").glob("accepted-*.parquet")):
        if f.name != "accepted-00002.parquet":
            assert f.stat().st_mtime_ns == mtimes[f.name]
    with pytest.raises(DataError, match="other settings"):
        run_trigger(run_dir, jet_classes, tmp_path / "t", TriggerConfig(threshold=0.5, model="dnn"), progress=False)


def test_trigger_with_the_onnx_export_matches_torch(run_dir, jet_classes, tmp_path):
    exp = export_onnx(run_dir / "dnn", tmp_path / "onnx")
    a = run_trigger(run_dir / "dnn", jet_classes, tmp_path / "a", TriggerConfig(threshold=0.5), progress=False)
    b = run_trigger(exp, jet_classes, tmp_path / "b", TriggerConfig(threshold=0.5), progress=False)
    assert a["per_class"] == b["per_class"]


def test_trigger_bad_input(run_dir, jet_classes, tmp_path):
    with pytest.raises(ConfigError, match="above the input rate"):
        TriggerConfig(rate_hz=5e7)
    with pytest.raises(ConfigError, match="exactly one"):
        TriggerConfig(rate_hz=1e5, threshold=0.3)
    with pytest.raises(ConfigError, match="several models"):
        run_trigger(run_dir, jet_classes, tmp_path / "x", TriggerConfig(rate_hz=1e6), progress=False)
    with pytest.raises(ConfigError, match="too short"):
        run_trigger(run_dir, jet_classes, tmp_path / "y", TriggerConfig(rate_hz=1e3, model="dnn"), progress=False)
    with pytest.raises(ConfigError, match=r"signal classes \['higgs'\]"):
        run_trigger(run_dir, jet_classes, tmp_path / "z", TriggerConfig(threshold=0.5, model="dnn", signal=("higgs",)),
                    progress=False)


def test_export_and_trigger_commands(run_dir, jet_classes_path, tmp_path):
    from typer.testing import CliRunner

    from hepdl.cli import app

    res = CliRunner().invoke(app, ["export", str(run_dir), "--model", "dnn", "--out", str(tmp_path / "onnx")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "onnx" / "model.onnx").exists()
    res = CliRunner().invoke(app, ["trigger", str(tmp_path / "onnx"), "--data", str(jet_classes_path), "--out",
                                   str(tmp_path / "trig"), "--rate", "8e6", "--batch-size", "100"])
    assert res.exit_code == 0, res.output
    assert "reduction 5x; 50 of 250 jets accepted" in res.output
    assert json.loads((tmp_path / "trig" / "trigger.json").read_text())["n_accepted"] == 50
