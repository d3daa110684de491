"""Top tagging: hadronic top jets against QCD jets, as in the top-tagging comparison.

The dataset recipe follows Kasieczka et al., "The Machine Learning Landscape of Top Taggers"
(arXiv:1902.09914): Pythia 8 at 14 TeV without multiple parton interactions or pile-up, hadronic tt̄
against QCD dijets, anti-kT R = 0.8 jets (the two hardest of each event) with 550 < pT < 650 GeV and |eta| < 2, top
jets truth-matched (top and its three decay quarks within R of the jet axis), up to 200 constituents,
balanced classes (label 1 = top, 0 = QCD). Where it differs: the detector is hepdl's parametric
ATLAS-like card, not Delphes (see the README); ``mpi=True`` and ``pileup_mu`` are there for studies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hepdl.data.generate import DatasetSpec, SampleSpec
from hepdl.errors import ConfigError
from hepdl.sim.generator import GeneratorConfig
from hepdl.sim.jets import JetSelection
from hepdl.tasks import Task, register_task

__all__ = ["dataset_spec", "run", "PRESETS", "TASK"]


def dataset_spec(
    n_jets: int = 2000,
    *,
    seed: int = 1,
    detector: str = "atlas",
    sqrt_s: float = 14000.0,
    mpi: bool = False,
    pileup_mu: float = 0.0,
    pthat_min: float | None = None,
    pthat_max: float | None = None,
    radius: float = 0.8,
    pt_min: float = 550.0,
    pt_max: float = 650.0,
    eta_max: float = 2.0,
    max_constituents: int = 200,
    jets_per_event: int = 2,
    per_part: int = 500,
) -> DatasetSpec:
    """The balanced top/QCD dataset: ``n_jets`` in total, half of each class.

    The pT-hat window (default 500-750 GeV for both processes) sits around the jet pT window so that
    few events are wasted; widen it when you move the jet window. Both hardest jets of an event are
    candidates (``jets_per_event=2``): a dijet or all-hadronic tt̄ event has two, and the reference
    dataset's description selects jets, not events; ``jets_per_event=1`` keeps the leading jet only.
    """
    if not isinstance(n_jets, int) or n_jets < 2:
        raise ConfigError(f"number of jets must be a positive integer of at least 2 (one per class), got {n_jets!r}")
    gen: dict[str, Any] = dict(sqrt_s=sqrt_s, mpi=mpi, pileup_mu=pileup_mu, pthat_min=pthat_min, pthat_max=pthat_max)
    n_top = n_jets // 2
    return DatasetSpec(
        task="top-tagging",
        samples=[
            SampleSpec("qcd", 0, GeneratorConfig("qcd-dijet", **gen), n_jets - n_top),
            SampleSpec("top", 1, GeneratorConfig("ttbar-allhad", **gen), n_top, truth_match="top"),
        ],
        selection=JetSelection(radius=radius, pt_min=pt_min, pt_max=pt_max, eta_max=eta_max, max_constituents=max_constituents,
                               jets_per_event=jets_per_event),
        detector=detector,
        seed=seed,
        per_part=per_part,
    )


#: Run presets: dataset size, epochs, the model configurations to use, and the models.
PRESETS: dict[str, dict] = {
    # 50 000 jets: 25 000 to train, a test split of 20 500 (10 000 QCD jets or more, so that 1/eps_B near
    # 1000 rests on ~10 background jets passing, not ~1); few epochs on many jets rather than many on few;
    # the 48 hardest particles of each jet (QCD jets have ~50, top jets ~60), to fit 15 minutes on 2 cores
    "quick": {"n_jets": 50_000, "epochs": 3, "fractions": (0.5, 0.09, 0.41), "model_preset": "small", "n_particles": 48,
              # kan-gam: the additive KAN on the same expert observables as dnn, read back as a formula in the report
              "models": ["mass-cut", "tau32-cut", "bdt", "dnn", "kan-gam", "cnn", "pfn", "efn", "particlenet-lite", "part", "lbn"],
              # where do the networks on particles overtake the observables? (the full split is the last point)
              "learning_curve": {"models": ["bdt", "dnn", "particlenet-lite"], "sizes": [1000, 5000]}},
    # the Landscape sizes (1.2M / 400k / 400k jets) and the published configurations, for a GPU
    "paper": {"n_jets": 2_000_000, "epochs": 30, "model_preset": "paper", "n_particles": 128, "fractions": (0.6, 0.2, 0.2),
              "models": ["mass-cut", "tau32-cut", "bdt", "dnn", "cnn", "pfn", "efn", "particlenet", "part", "lbn"]},
}


def run(preset: str = "quick", *, models: list[str] | None = None, dataset: str | Path | None = None,
        runs_dir: str | Path = "runs", cache: str | Path | None = None, workers: int | None = None, seed: int = 1,
        epochs: int | None = None, progress: bool = True) -> Path:
    """Top tagging end to end: generate (or reuse) the dataset, build features, train every model,
    evaluate on the test split, write ``runs/top-tagging/<timestamp>/`` with the report.

    Returns the run directory.
    """
    from hepdl.tasks._runner import run_models

    return run_models("top-tagging", dataset_spec, PRESETS, preset, models=models, dataset=dataset, runs_dir=runs_dir,
                      cache=cache, workers=workers, seed=seed, epochs=epochs, progress=progress,
                      title=f"top tagging ({preset})")


TASK = register_task(Task("top-tagging", "hadronic top jets vs QCD jets (arXiv:1902.09914 recipe)", dataset_spec, run,
                          PRESETS))
