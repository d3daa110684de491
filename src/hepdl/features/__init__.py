"""Representations of jets: expert observables, energy flow polynomials, jet images, particle clouds.

Every function takes an awkward array of jets in hepdl's schema (or their constituents) and is
vectorised across jets.
"""

from __future__ import annotations

from hepdl.features.efp import EFPSet, efp, efp_graphs
from hepdl.features.substructure import (
    HLS4ML_FEATURES,
    ecf_ratios,
    energy_correlations,
    exclusive_subjets,
    girth,
    hls4ml_features,
    jet_kinematics,
    multiplicity,
    nsubjettiness,
    ptd,
    soft_drop,
    zlogz,
)

__all__ = [
    "EFPSet",
    "HLS4ML_FEATURES",
    "ecf_ratios",
    "efp",
    "efp_graphs",
    "energy_correlations",
    "exclusive_subjets",
    "girth",
    "hls4ml_features",
    "jet_kinematics",
    "multiplicity",
    "nsubjettiness",
    "ptd",
    "soft_drop",
    "zlogz",
]
