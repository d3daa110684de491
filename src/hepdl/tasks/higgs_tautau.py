"""H -> tau tau in the lepton + hadronic-tau channel: the ATLAS Higgs machine-learning challenge
(2014) regenerated with Pythia 8 and hepdl's parametric detector, scored by the approximate median
significance (AMS).

Signal: gluon-fusion and VBF Higgs production, H -> tau tau (m_H = 125 GeV). Backgrounds:
Z/gamma* -> tau tau, top pairs, W(-> l nu) + jets. Events at 8 TeV pass the lepton + hadronic-tau
selection of :mod:`hepdl.sim.events`; each carries a weight, the expected number of such events for
20 fb^-1 (Pythia's leading-order cross-sections). The features are the challenge's 30
(:func:`hepdl.features.challenge_features`, with the missing-mass calculator of arXiv:1012.4686), and
the set models see the objects (lepton, tau, jets, missing momentum).

References: Adam-Bourdarios et al., "The Higgs boson machine learning challenge", JMLR W&CP 42
(2015) 19; ATLAS, "Evidence for the Higgs-boson Yukawa coupling to tau leptons", arXiv:1501.04943.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hepdl.data.generate import DatasetSpec, SampleSpec
from hepdl.errors import ConfigError
from hepdl.sim.events import LepHadSelection
from hepdl.sim.generator import GeneratorConfig
from hepdl.tasks import Task, register_task

__all__ = ["dataset_spec", "run", "export_csv", "SAMPLES", "PRESETS", "TASK"]

#: (sample name, process, label, share of the events): signal 50 %, background 50 %.
SAMPLES: tuple[tuple[str, str, int, float], ...] = (
    ("ggh", "ggh-tautau", 1, 0.35),
    ("vbf", "vbf-tautau", 1, 0.15),
    ("ztautau", "ztautau", 0, 0.20),
    ("wjets", "wjets-lnu", 0, 0.18),
    ("ttbar", "ttbar", 0, 0.12),
)


def dataset_spec(
    n_events: int = 2000,
    *,
    seed: int = 1,
    detector: str = "atlas",
    sqrt_s: float = 8000.0,
    mpi: bool = True,
    pileup_mu: float = 0.0,
    luminosity_fb: float = 20.0,
    jets_per_part: int = 500,
    selection: LepHadSelection | None = None,
    shares: dict[str, float] | None = None,
) -> DatasetSpec:
    """The H -> tau tau dataset: ``n_events`` selected events in total, split over the samples by
    ``shares`` (default :data:`SAMPLES`: half signal, half background).

    The shares decide only how many events of each process are simulated; the weights restore the
    expected yields, so physics results do not depend on them (only their statistical precision).
    """
    if not isinstance(n_events, int) or n_events < len(SAMPLES):
        raise ConfigError(f"number of events must be an integer of at least {len(SAMPLES)} (one per sample), got {n_events!r}")
    share = {name: s for name, _, _, s in SAMPLES}
    if shares:
        unknown = sorted(set(shares) - set(share))
        if unknown:
            raise ConfigError(f"unknown sample(s) {unknown} in shares; samples: {', '.join(share)}")
        share.update(shares)
    total = sum(share.values())
    samples = []
    for name, process, label, _ in SAMPLES:
        n = max(1, int(round(n_events * share[name] / total)))
        gen = GeneratorConfig(process, sqrt_s=sqrt_s, mpi=mpi, pileup_mu=pileup_mu)
        samples.append(SampleSpec(name, label, gen, n))
    return DatasetSpec(task="higgs-tautau", samples=samples, class_names=["background", "signal"],
                       selection=selection or LepHadSelection(), detector=detector, seed=seed,
                       jets_per_part=jets_per_part, luminosity_fb=luminosity_fb)


#: Run presets. ``dnn`` is an ensemble: ``ensemble`` networks with different seeds, scores averaged.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"n_events": 6000, "epochs": 40, "model_preset": "small", "n_objects": 8, "ensemble": 5,
              "model_configs": {"dnn": {"hidden": (128, 64, 64)}},
              "models": ["ams-cuts", "bdt", "dnn", "part"]},
    # the challenge's size (250 000 training events) for a cluster or a GPU
    "paper": {"n_events": 800_000, "epochs": 60, "model_preset": "paper", "n_objects": 8, "ensemble": 10,
              "model_configs": {"dnn": {"hidden": (600, 600, 600)}},
              "models": ["ams-cuts", "bdt", "dnn", "pfn", "part"]},
}


def export_csv(dataset: str | Path, out: str | Path, fmt: str = "kaggle", *, split_seed: int = 0) -> Path:
    """Write an event dataset (generated, or a CSV file) as a challenge CSV file: the 30 features,
    ``Weight`` and ``Label`` (``fmt="kaggle"``, as ``training.csv``), plus ``KaggleSet`` (our
    train / validation / test split as t / b / v, the split of :func:`hepdl.train.split_indices` with
    ``split_seed``) and ``KaggleWeight`` (``fmt="opendata"``, as ``atlas-higgs-challenge-2014-v2.csv``).
    """
    import numpy as np

    from hepdl.data import open as open_dataset
    from hepdl.data.events import write_challenge_csv
    from hepdl.features.higgs import dataset_features
    from hepdl.train.inputs import split_indices

    ds = open_dataset(dataset)
    if not hasattr(ds, "require_weights"):
        raise ConfigError(f"{dataset} is a jet dataset; only event datasets have the challenge's features")
    labelled = bool((ds.labels >= 0).all()) and ds.weights is not None
    kset = None
    if fmt == "opendata":
        ds.require_weights("the open-data CSV format")
        kset = np.full(len(ds), "u", dtype="<U1")
        for name, code in (("train", "t"), ("val", "b"), ("test", "v")):
            kset[split_indices(len(ds), seed=split_seed)[name]] = code
    return write_challenge_csv(out, dataset_features(ds), labels=ds.labels if labelled else None,
                               weights=ds.weights if labelled else None, event_id=100000 + np.arange(len(ds)), fmt=fmt,
                               kaggle_set=kset)


def _ensemble(run: Path, members: list[Path], name: str, ds: Any, n_bootstrap: int) -> dict[str, Any]:
    """Average the test and validation scores of ``members`` and write ``<run>/<name>/`` with the
    ensemble's metrics (AMS, AUC) and scores."""
    import json

    import numpy as np

    from hepdl.data.paths import atomic_write_json
    from hepdl.metrics import classifier_metrics
    from hepdl.train.trainer import ams_metrics

    loaded = [np.load(m / "scores.npz") for m in members]
    first = loaded[0]
    scores = np.mean([s["scores"] for s in loaded], axis=0)
    val_scores = np.mean([s["val_scores"] for s in loaded], axis=0)
    split = {"test": first["index"], "val": first["val_index"]}
    y = ds.labels
    out = run / name
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "scores.npz", scores=scores, labels=first["labels"], index=first["index"], val_scores=val_scores,
             val_labels=first["val_labels"], val_index=first["val_index"])
    m = {k: {"value": v.value, "error": v.error} for k, v in classifier_metrics(first["labels"], scores, n_bootstrap=n_bootstrap).items()}
    m.update(ams_metrics(y, ds.weights, split, val_scores, scores, n_bootstrap=n_bootstrap))
    member_metrics = [json.loads((p / "metrics.json").read_text()) for p in members]
    metrics = {"model": name, "paper": "ensemble of " + ", ".join(p.name for p in members), "n_classes": 2, **m,
               "members": [p.name for p in members], "member_ams": [mm["ams"]["value"] for mm in member_metrics],
               "train_seconds": sum(mm["train_seconds"] for mm in member_metrics),
               "n_parameters": sum(mm["n_parameters"] for mm in member_metrics)}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def run(preset: str = "quick", *, models: list[str] | None = None, dataset: str | Path | None = None,
        runs_dir: str | Path = "runs", cache: str | Path | None = None, workers: int | None = None, seed: int = 1,
        epochs: int | None = None, progress: bool = True, ensemble: int | None = None) -> Path:
    """H -> tau tau end to end: generate (or reuse) the events, train the cut-based selection, the BDT,
    the DNN ensemble and the set/transformer model, compute each one's AMS (threshold optimised on
    the validation split, applied to the test split) and write ``runs/higgs-tautau/<timestamp>/``
    with the report. ``dataset`` may also be a challenge CSV file (Kaggle ``training.csv`` or the
    open-data file). ``ensemble`` overrides the preset's number of DNNs. Returns the run directory.
    """
    from hepdl.data import open as open_dataset
    from hepdl.data.generate import ensure_dataset
    from hepdl.report.higgs import make_higgs_report
    from hepdl.tasks._runner import new_run_dir
    from hepdl.train import TrainConfig, train

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} for task 'higgs-tautau'; presets: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    names = list(models or p["models"])
    configs = [TrainConfig(m, preset=p["model_preset"], epochs=epochs or p["epochs"], seed=seed, n_particles=p["n_objects"],
                           model_config=dict(p["model_configs"].get(m, {})), patience=8) for m in names]
    if dataset is None:
        dataset = ensure_dataset(dataset_spec(p["n_events"], seed=seed), cache, workers=workers, progress=progress)
    ds = open_dataset(dataset)
    if not hasattr(ds, "require_weights"):
        raise ConfigError(f"{dataset} is a jet dataset; higgs-tautau needs an event dataset or a challenge CSV file")
    ds.require_weights("the higgs-tautau task (AMS)")
    out = new_run_dir(runs_dir, "higgs-tautau")
    for cfg in configs:
        n_members = (ensemble or p["ensemble"]) if cfg.model == "dnn" else 1
        if n_members == 1:
            if progress:
                print(f"training {cfg.model} ...", flush=True)
            train(cfg, ds, out / cfg.model, progress=progress)
            continue
        members = []
        for k in range(n_members):
            if progress:
                print(f"training {cfg.model} {k + 1}/{n_members} ...", flush=True)
            member = dataclasses.replace(cfg, seed=seed * 1000 + k)
            train(member, ds, out / f"{cfg.model}-{k + 1}", progress=progress)
            members.append(out / f"{cfg.model}-{k + 1}")
        _ensemble(out, members, f"{cfg.model}-ensemble", ds, cfg.n_bootstrap)
    make_higgs_report(out, ds, title=f"H -> tau tau ({preset}, {len(ds)} events)")
    return out


TASK = register_task(Task("higgs-tautau", "H -> tau tau (lepton + hadronic tau) against Z, W and top backgrounds, "
                          "scored by the AMS (the 2014 Higgs ML challenge)", dataset_spec, run, PRESETS))
