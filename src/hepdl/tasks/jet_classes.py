"""Five jet classes at about 1 TeV — gluon, light quark, W, Z, top — the hls4ml trigger benchmark.

The recipe follows the jet-tagging dataset of Duarte et al., "Fast inference of deep neural networks
in FPGAs for particle physics" (arXiv:1804.06913) and Coleman et al. (arXiv:1709.08705): 13 TeV,
anti-kT R = 0.8 jets with pT around 1 TeV, five classes from five hard processes. Here each class
comes from its own Pythia process (QCD gg->gg / qqbar->gg, QCD qq->qq, W+jet, Z+jet, tt̄ all-hadronic,
pT-hat 850-1150 GeV), the event's leading jet must have 900 < pT < 1100 GeV and |eta| < 2, and its
label is confirmed by truth matching (:func:`hepdl.sim.truth.match_jets`):

- gluon / light quark: the nearest outgoing parton of the hard 2->2 process within R is a gluon /
  a u, d or s quark;
- W / Z: the hadronically decaying boson and both of its decay quarks lie within R;
- top: the top and its three decay quarks lie within R (as in arXiv:1902.09914).

Labels: 0 gluon, 1 quark, 2 w, 3 z, 4 top (the benchmark's order g, q, W, Z, t).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hepdl.data.generate import DatasetSpec, SampleSpec
from hepdl.errors import ConfigError
from hepdl.sim.generator import GeneratorConfig
from hepdl.sim.jets import JetSelection
from hepdl.tasks import Task, register_task

__all__ = ["dataset_spec", "run", "PRESETS", "TASK", "CLASSES"]

#: (class name, process, truth matcher), in label order.
CLASSES: tuple[tuple[str, str, str], ...] = (
    ("gluon", "qcd-gluon", "gluon"),
    ("quark", "qcd-light-quark", "light-quark"),
    ("w", "wjet-hadronic", "w"),
    ("z", "zjet-hadronic", "z"),
    ("top", "ttbar-allhad", "top"),
)


def dataset_spec(
    n_jets: int = 2500,
    *,
    seed: int = 1,
    detector: str = "atlas",
    sqrt_s: float = 13000.0,
    mpi: bool = True,
    pileup_mu: float = 0.0,
    pthat_min: float | None = 850.0,
    pthat_max: float | None = 1150.0,
    radius: float = 0.8,
    pt_min: float = 900.0,
    pt_max: float = 1100.0,
    eta_max: float = 2.0,
    max_constituents: int = 150,
    jets_per_event: int = 1,
    per_part: int = 500,
) -> DatasetSpec:
    """The balanced five-class dataset: ``n_jets`` in total, a fifth of each class."""
    if not isinstance(n_jets, int) or n_jets < len(CLASSES):
        raise ConfigError(f"number of jets must be an integer of at least {len(CLASSES)} (one per class), got {n_jets!r}")
    gen: dict[str, Any] = dict(sqrt_s=sqrt_s, mpi=mpi, pileup_mu=pileup_mu, pthat_min=pthat_min, pthat_max=pthat_max)
    per = n_jets // len(CLASSES)
    samples = []
    for label, (name, process, matcher) in enumerate(CLASSES):
        n = per + (1 if label < n_jets - per * len(CLASSES) else 0)
        samples.append(SampleSpec(name, label, GeneratorConfig(process, **gen), n, truth_match=matcher))
    return DatasetSpec(
        task="jet-classes",
        samples=samples,
        selection=JetSelection(radius=radius, pt_min=pt_min, pt_max=pt_max, eta_max=eta_max, max_constituents=max_constituents,
                               jets_per_event=jets_per_event),
        detector=detector,
        seed=seed,
        per_part=per_part,
    )


#: Run presets. ``dnn`` is the published hls4ml MLP (16 -> 64 -> 32 -> 32 -> 5, 4389 parameters) on the 16 hls4ml
#: features; in ``quick`` the KAN of about as many parameters (``kan`` paper, 16 -> 20 -> 5, 4225; arXiv:2404.19756)
#: on the same features, for the comparison at equal parameter count.
PRESETS: dict[str, dict] = {
    "quick": {"n_jets": 10_000, "epochs": 20, "model_preset": "small", "model_presets": {"dnn": "paper", "kan": "paper"},
              "n_particles": 64, "feature_set": "hls4ml",
              "models": ["bdt", "dnn", "kan", "pfn", "particlenet-lite", "part"]},
    "paper": {"n_jets": 1_000_000, "epochs": 50, "model_preset": "paper", "n_particles": 128, "feature_set": "hls4ml",
              "models": ["bdt", "dnn", "pfn", "particlenet", "part"]},
}


def run(preset: str = "quick", *, models: list[str] | None = None, dataset: str | Path | None = None,
        runs_dir: str | Path = "runs", cache: str | Path | None = None, workers: int | None = None, seed: int = 1,
        epochs: int | None = None, progress: bool = True) -> Path:
    """The five-class tagger end to end: dataset, the hls4ml MLP, the BDT and particle models, per-class
    ROC/AUC and confusion matrices in ``runs/jet-classes/<timestamp>/``."""
    from hepdl.tasks._runner import run_models

    return run_models("jet-classes", dataset_spec, PRESETS, preset, models=models, dataset=dataset, runs_dir=runs_dir,
                      cache=cache, workers=workers, seed=seed, epochs=epochs, progress=progress,
                      title=f"jet classes g/q/W/Z/t ({preset})")


TASK = register_task(Task("jet-classes", "gluon / light-quark / W / Z / top jets at 1 TeV (hls4ml benchmark, arXiv:1804.06913)",
                          dataset_spec, run, PRESETS))
