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

from hepdl.data.generate import DatasetSpec, SampleSpec
from hepdl.errors import ConfigError
from hepdl.sim.events import LepHadSelection
from hepdl.sim.generator import GeneratorConfig

__all__ = ["dataset_spec", "SAMPLES"]

#: (sample name, process, label, share of the events): signal 50 %, background 50 %.
SAMPLES: tuple[tuple[str, str, int, float], ...] = (
    ("ggh", "ggh-tautau", 1, 0.35),
    ("vbf", "vbf-tautau", 1, 0.15),
    ("ztautau", "ztautau", 0, 0.25),
    ("wjets", "wjets-lnu", 0, 0.15),
    ("ttbar", "ttbar", 0, 0.10),
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
    jets_per_part: int = 1000,
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
