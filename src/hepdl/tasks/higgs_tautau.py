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

from pathlib import Path
from typing import Any

from hepdl.data.generate import DatasetSpec, SampleSpec
from hepdl.errors import ConfigError
from hepdl.sim.events import LepHadSelection
from hepdl.sim.generator import GeneratorConfig
from hepdl.tasks import Task, register_task

__all__ = ["dataset_spec", "run", "export_csv", "SAMPLES", "SCHEMES", "PRESETS", "TASK"]

#: A sample of a scheme: (name, process, label, share of the selected events, generator settings
#: beyond the process's: ``pthat_min``/``pthat_max`` and ``extra_settings``).
SampleRow = tuple[str, str, int, float, dict[str, Any]]

_Z_SPLIT = 100.0  # GeV: m_tautau slices of Z/gamma* -> tau tau (the Higgs lies above, the Z peak below)
_W_SPLIT = 50.0  # GeV: pT-hat slices of W + jet (fakes of the tau candidate above 20 GeV come from hard jets)

#: The samples of each generation scheme. ``inclusive``: each process as it is (the first version;
#: most Z -> tau tau events decay to a final state the selection cannot keep). ``weighted`` (the
#: default): every tau pair forced to lepton + hadron, in both charge assignments, with the branching
#: fraction in the weight; Z/gamma* -> tau tau in m_tautau slices and W + jet in pT-hat slices, each
#: with its own cross-section; top pairs with at least one leptonic W. The weighted yields are the
#: same (tests/test_higgs_sampling.py). The shares are the Neyman allocation of CPU time that minimises
#: the AMS error of the BDT's selection (measured on a pilot quick run: per sample, its expected events in
#: the selection, the fraction of its simulated events that land there and its CPU cost per event; the
#: signal, cheap and with a statistical error that enters the AMS at full weight, gets a third),
#: at least 2 % for each sample so that every background is in the training set.
SCHEMES: dict[str, tuple[SampleRow, ...]] = {
    "inclusive": (
        ("ggh", "ggh-tautau", 1, 0.35, {}),
        ("vbf", "vbf-tautau", 1, 0.15, {}),
        ("ztautau", "ztautau", 0, 0.20, {}),
        ("wjets", "wjets-lnu", 0, 0.18, {}),
        ("ttbar", "ttbar", 0, 0.12, {}),
    ),
    "weighted": (
        ("ggh_lh", "ggh-tautau-lh", 1, 0.17, {}),
        ("ggh_hl", "ggh-tautau-hl", 1, 0.17, {}),
        ("vbf_lh", "vbf-tautau-lh", 1, 0.04, {}),
        ("vbf_hl", "vbf-tautau-hl", 1, 0.04, {}),
        ("ztautau_lh_low", "ztautau-lh", 0, 0.165, {"extra_settings": (f"PhaseSpace:mHatMax = {_Z_SPLIT}",)}),
        ("ztautau_hl_low", "ztautau-hl", 0, 0.165, {"extra_settings": (f"PhaseSpace:mHatMax = {_Z_SPLIT}",)}),
        ("ztautau_lh_high", "ztautau-lh", 0, 0.065, {"extra_settings": (f"PhaseSpace:mHatMin = {_Z_SPLIT}",)}),
        ("ztautau_hl_high", "ztautau-hl", 0, 0.065, {"extra_settings": (f"PhaseSpace:mHatMin = {_Z_SPLIT}",)}),
        ("wjets_low", "wjets-lnu", 0, 0.03, {"pthat_max": _W_SPLIT}),
        ("wjets_high", "wjets-lnu", 0, 0.05, {"pthat_min": _W_SPLIT}),
        ("ttbar_wplep", "ttbar-wplep", 0, 0.02, {}),
        ("ttbar_wmlep", "ttbar-wmlep", 0, 0.02, {}),
    ),
}
#: The default scheme's samples.
SAMPLES = SCHEMES["weighted"]


def dataset_spec(
    n_events: int = 2000,
    *,
    seed: int = 1,
    detector: str = "atlas",
    sqrt_s: float = 8000.0,
    mpi: bool = True,
    pileup_mu: float = 0.0,
    luminosity_fb: float = 20.0,
    per_part: int = 500,
    selection: LepHadSelection | None = None,
    shares: dict[str, float] | None = None,
    scheme: str = "weighted",
) -> DatasetSpec:
    """The H -> tau tau dataset: ``n_events`` selected events in total, split over the samples of
    ``scheme`` (:data:`SCHEMES`) by ``shares`` (sample name -> share; default: the scheme's).

    The shares decide only how many events of each sample are simulated; the weights restore the
    expected yields, so physics results do not depend on them (only their statistical precision).
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown sample scheme {scheme!r}; schemes: {', '.join(SCHEMES)}")
    rows = SCHEMES[scheme]
    if not isinstance(n_events, int) or n_events < len(rows):
        raise ConfigError(f"number of events must be an integer of at least {len(rows)} (one per sample), got {n_events!r}")
    share = {row[0]: row[3] for row in rows}
    if shares:
        unknown = sorted(set(shares) - set(share))
        if unknown:
            raise ConfigError(f"unknown sample(s) {unknown} in shares of scheme {scheme!r}; samples: {', '.join(share)}")
        share.update(shares)
    total = sum(share.values())
    samples = []
    for name, process, label, _, extra in rows:
        n = max(1, int(round(n_events * share[name] / total)))
        gen = GeneratorConfig(process, sqrt_s=sqrt_s, mpi=mpi, pileup_mu=pileup_mu, **extra)
        samples.append(SampleSpec(name, label, gen, n))
    return DatasetSpec(task="higgs-tautau", samples=samples, class_names=["background", "signal"],
                       selection=selection or LepHadSelection(), detector=detector, seed=seed,
                       per_part=per_part, luminosity_fb=luminosity_fb)


#: Run presets (keys of :func:`hepdl.tasks._runner.run_models`; ``n_particles`` is the number of objects
#: per event). ``dnn`` is an ensemble: networks with different seeds, scores averaged.
PRESETS: dict[str, dict[str, Any]] = {
    # ~12 minutes of generation and ~6 of training on 2 cores; 5-fold cross-validation, so that the AMS
    # is measured on every event (each scored by the model that did not see it), not on a test fifth
    "quick": {"n_events": 8000, "epochs": 40, "model_preset": "small", "n_particles": 8, "patience": 8, "ensembles": {"dnn": 5},
              "folds": 5, "model_configs": {"dnn": {"hidden": (128, 64, 64)}},
              "train_options": {"dnn": {"bagging": True}},
              "models": ["ams-cuts", "bdt", "bdt-challenge", "dnn", "part"]},
    # ~1.3 CPU-hours of generation (Dask-parallel: about 40 minutes on 2 cores, 10 on 8) and ~25 minutes of training
    # on 2 cores; the AMS error should scale to ~4 % (7.5 % x sqrt(8000 / 30000)), not measured here
    "standard": {"n_events": 30_000, "epochs": 60, "model_preset": "small", "n_particles": 8, "patience": 10, "ensembles": {"dnn": 5},
                 "folds": 5, "model_configs": {"dnn": {"hidden": (256, 128, 128)}},
                 "train_options": {"dnn": {"bagging": True}},
                 "models": ["ams-cuts", "bdt", "bdt-challenge", "dnn", "part"]},
    # the challenge's size (250 000 training events) for a cluster or a GPU
    "paper": {"n_events": 800_000, "epochs": 60, "model_preset": "paper", "n_particles": 8, "patience": 8, "ensembles": {"dnn": 10},
              "model_configs": {"dnn": {"hidden": (600, 600, 600)}}, "train_options": {"dnn": {"bagging": True}},
              "models": ["ams-cuts", "bdt", "bdt-challenge", "dnn", "pfn", "part"]},
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


def run(preset: str = "quick", *, models: list[str] | None = None, dataset: str | Path | None = None,
        runs_dir: str | Path = "runs", cache: str | Path | None = None, workers: int | None = None, seed: int = 1,
        epochs: int | None = None, progress: bool = True, ensemble: int | None = None) -> Path:
    """H -> tau tau end to end: generate (or reuse) the events, train the cut-based selection, the BDT,
    the DNN ensemble and the set/transformer model, compute each one's AMS (threshold optimised on
    the validation split, applied to the test split) and write ``runs/higgs-tautau/<timestamp>/``
    with the report. ``dataset`` may also be a challenge CSV file (Kaggle ``training.csv`` or the
    open-data file). ``ensemble`` overrides the preset's number of DNNs. Returns the run directory.
    """
    from hepdl.tasks._runner import run_models

    def check(ds: Any) -> None:
        if not hasattr(ds, "require_weights"):
            raise ConfigError(f"{ds.path} is a jet dataset; higgs-tautau needs an event dataset or a challenge CSV file")
        ds.require_weights("the higgs-tautau task (AMS)")

    return run_models("higgs-tautau", dataset_spec, PRESETS, preset, models=models, dataset=dataset, runs_dir=runs_dir,
                      cache=cache, workers=workers, seed=seed, epochs=epochs, progress=progress, ensemble=ensemble,
                      check=check)


TASK = register_task(Task("higgs-tautau", "H -> tau tau (lepton + hadronic tau) against Z, W and top backgrounds, "
                          "scored by the AMS (the 2014 Higgs ML challenge)", dataset_spec, run, PRESETS))
