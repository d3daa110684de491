"""Simulation: physics processes -> Pythia 8 batches -> parametric detector -> FastJet jets / selected events."""

from __future__ import annotations

from hepdl.sim.detector import DetectorCard, known_cards, load_card, simulate
from hepdl.sim.events import LepHadSelection, reconstruct_lephad
from hepdl.sim.generator import EventGenerator, GeneratedBatch, GeneratorConfig, derive_seed
from hepdl.sim.jets import JetSelection, PairSelection, cluster, hardest_jets, paired_jets
from hepdl.sim.processes import PROCESSES, Process, get_process, list_processes, register_process
from hepdl.sim.truth import (
    MATCHERS,
    boson_decays,
    delta_r,
    hadronic_tops,
    hard_partons,
    match_jets,
    match_top,
    tau_truth,
)

__all__ = [
    "DetectorCard",
    "EventGenerator",
    "GeneratedBatch",
    "GeneratorConfig",
    "JetSelection",
    "PairSelection",
    "paired_jets",
    "LepHadSelection",
    "MATCHERS",
    "PROCESSES",
    "Process",
    "boson_decays",
    "cluster",
    "delta_r",
    "derive_seed",
    "get_process",
    "hadronic_tops",
    "hard_partons",
    "known_cards",
    "hardest_jets",
    "list_processes",
    "load_card",
    "match_jets",
    "match_top",
    "reconstruct_lephad",
    "register_process",
    "simulate",
    "tau_truth",
]
