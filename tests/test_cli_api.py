"""The command line and the public API."""

from __future__ import annotations

from typer.testing import CliRunner

import hepdl
import hepdl.data
import hepdl.deploy
import hepdl.features
import hepdl.metrics
import hepdl.models
import hepdl.sim
import hepdl.train
from hepdl.cli import app


def test_public_api_is_pinned():
    assert hepdl.__all__ == ["__version__"]
    assert sorted(hepdl.sim.__all__) == sorted([
        "DetectorCard", "EventGenerator", "GeneratedBatch", "GeneratorConfig", "JetSelection", "MATCHERS", "PROCESSES",
        "Process", "boson_decays", "cluster", "delta_r", "derive_seed", "get_process", "hadronic_tops", "hard_partons",
        "known_cards", "hardest_jets", "list_processes", "load_card", "match_jets", "match_top", "register_process",
        "simulate", "LepHadSelection", "reconstruct_lephad", "tau_truth", "PairSelection", "paired_jets",
    ])
    assert sorted(hepdl.data.__all__) == sorted([
        "DatasetSpec", "JetDataset", "SampleSpec", "cache_dir", "generate_dataset", "generate_part",
        "jets_from_cartesian", "open", "validate_jets", "write_toptagging_hdf5", "EventDataset", "read_challenge_csv",
        "write_challenge_csv", "JetParts", "open_parts", "AirShowerDataset", "AirShowerSpec", "TableDataset", "UnfoldingDataset",
        "open_unfolding",
    ])
    assert sorted(hepdl.features.__all__) == sorted([
        "EFPSet", "FEATURE_SETS", "HLS4ML_FEATURES", "ImageConfig", "PARTICLE_FEATURES", "ParticleCloud",
        "build_features", "compute_feature_set", "ecf_ratios", "efp", "efp_graphs", "energy_correlations",
        "exclusive_subjets", "girth", "hls4ml_features", "image_coordinates", "jet_images", "jet_kinematics",
        "list_feature_sets", "multiplicity", "nsubjettiness", "pairwise_features", "particle_cloud", "ptd",
        "soft_drop", "zlogz", "challenge_features", "derived_features", "event_objects", "mmc_mass", "primitive_features",
    ])
    assert sorted(hepdl.metrics.__all__) == sorted([
        "Measurement", "accuracy", "auc", "background_rejection", "bootstrap", "classifier_metrics", "confusion_matrix",
        "ensemble", "multiclass_metrics", "roc_curve", "ams", "ams_curve", "ams_at_threshold", "ams_difference", "best_threshold",
        "renormalise_weights", "AMSResult", "Rejection", "rejection", "poisson_upper_limit", "MIN_BACKGROUND_PASSING",
        "is_lower_limit"])
    assert sorted(hepdl.models.__all__) == sorted([
        "CNN", "ConditionalINN", "DNN", "EFN", "KAN", "LBN", "MODELS", "ModelSpec", "PFN", "ParticleNet", "ParticleTransformer",
        "ArrayCNN", "StationSet", "LDFFit", "get", "list_models", "register", "spec"])
    assert sorted(hepdl.train.__all__) == sorted([
        "BASELINES", "TrainConfig", "ams_metrics", "class_labels", "evaluate", "load_trained", "make_inputs", "model_inputs", "predict",
        "score_inputs", "split_indices", "train", "partial_dir", "run_split", "open_for_training"])
    assert sorted(hepdl.deploy.__all__) == sorted([
        "HLS_DEFAULT_PRECISION", "OnnxModel", "TriggerConfig", "check_contract", "convert_hls4ml", "export_onnx",
        "hls_agreement", "precision_scan", "run_trigger"])
    for mod in (hepdl.sim, hepdl.data, hepdl.features, hepdl.metrics, hepdl.models, hepdl.train, hepdl.deploy):
        for name in mod.__all__:
            assert hasattr(mod, name), name


def test_adding_a_process_is_a_few_lines():
    import awkward as ak
    import numpy as np

    from hepdl.sim import (
        EventGenerator,
        GeneratorConfig,
        JetSelection,
        Process,
        boson_decays,
        hardest_jets,
        register_process,
        simulate,
    )
    from hepdl.sim.processes import PROCESSES

    register_process(Process("zjets-test", ("WeakBosonAndParton:qqbar2gmZg = on", "23:onMode = off", "23:onIfAny = 1 2 3"),
                             "Z+jet, Z to light quarks", pthat_min=300.0))
    try:
        cfg = GeneratorConfig("zjets-test")
        assert "PhaseSpace:pTHatMin = 300.0" in cfg.pythia_settings(1)
        # the new process generates events: a Z (or gamma*) recoiling against a hard parton, decaying to d, u or s
        batch = EventGenerator(GeneratorConfig("zjets-test", mpi=False), seed=21).next_batch(4)
        assert len(batch) == 4
        z = boson_decays(batch.record, 23)
        assert z["found"].all() and np.all(z["pt"] > 200)
        rec = batch.record
        pid, status, mother = (ak.to_numpy(ak.flatten(rec[f])) for f in ("id", "status", "mother1"))
        event = np.repeat(np.arange(len(rec)), ak.to_numpy(ak.num(rec)))
        offsets = np.r_[0, np.cumsum(ak.to_numpy(ak.num(rec)))][:-1]
        from_z = (status == -23) & (pid[mother + offsets[event]] == 23)
        assert np.array_equal(np.bincount(event[from_z], minlength=4), [2] * 4)
        assert set(np.abs(pid[from_z]).tolist()) <= {1, 2, 3}
        # and jets: truth-level anti-kT R = 0.8, the leading one hard
        lead = hardest_jets(simulate(batch.particles, None, np.random.default_rng(0)), JetSelection())
        assert lead["has_jet"].all() and np.all(lead["pt"] > 200)
    finally:
        del PROCESSES["zjets-test"]


def test_info_command(top_dataset_path):
    res = CliRunner().invoke(app, ["info", str(top_dataset_path)])
    assert res.exit_code == 0, res.output
    assert "jets: 600" in res.output
    assert "cutflow [top]" in res.output and "matched to hadronic top" in res.output
    assert "cross-section [qcd, qcd-dijet]" in res.output


def test_features_command(top_dataset_path, tmp_path):
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(top_dataset_path, ds, ignore=shutil.ignore_patterns("features"))
    res = CliRunner().invoke(app, ["features", str(ds), "--set", "nsub"])
    assert res.exit_code == 0, res.output
    assert "600 jets x 7 features" in res.output and "tau32" in res.output
    from hepdl.data import open as open_dataset
    from hepdl.features.sets import feature_cache_path

    assert feature_cache_path(open_dataset(ds), "nsub").exists()
    assert not (ds / "features").exists()  # never beside the data


def test_list_command():
    res = CliRunner().invoke(app, ["list"])
    assert res.exit_code == 0
    assert "top-tagging" in res.output and "ttbar-allhad" in res.output and "atlas" in res.output
    assert "particlenet-lite" in res.output and "mass-cut" in res.output


def test_generate_command_end_to_end(tmp_path):
    out = tmp_path / "ds"
    res = CliRunner().invoke(app, ["generate", "top-tagging", "-n", "6", "--jets-per-part", "3", "--workers", "1",
                                   "--out", str(out), "--quiet", "--detector", "truth", "--no-mpi"])
    assert res.exit_code == 0, res.output
    assert "dataset written to" in res.output
    ds = hepdl.data.open(out)
    assert ds.class_counts() == {"qcd": 3, "top": 3}
    assert ds.metadata["settings"]["detector_card"] is None
    assert ds.metadata["settings"]["samples"][0]["generator"]["mpi"] is False


def test_train_on_part_of_the_training_split_from_the_command_line(top_dataset_path, tmp_path, run_main):
    import json

    import numpy as np

    res = run_main("train", "-m", "mass-cut", "--data", str(top_dataset_path), "--out", str(tmp_path / "lc"), "--n-train", "50")
    assert res.returncode == 0, res.stderr
    split = np.load(tmp_path / "lc" / "split.npz")
    assert len(split["train"]) == 50 and json.loads((tmp_path / "lc" / "metrics.json").read_text())["n_train"] == 50
    res = run_main("train", "-m", "mass-cut", "--data", str(top_dataset_path), "--out", str(tmp_path / "too"), "--n-train", "5000")
    assert res.returncode == 2 and "n_train=5000 is more than the 360 entries of the training split" in res.stderr
