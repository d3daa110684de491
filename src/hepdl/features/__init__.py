"""Representations of jets (expert observables, energy flow polynomials, jet images, particle clouds)
and of events (the Higgs challenge's features with the missing-mass calculator, object lists).

Every function takes an awkward array of jets in hepdl's schema (or their constituents) and is
vectorised across jets.
"""

from __future__ import annotations

from hepdl.features.airshowers import shower_inputs  # noqa: F401 - registers the air-shower input builder
from hepdl.features.clouds import PARTICLE_FEATURES, ParticleCloud, particle_cloud
from hepdl.features.efp import EFPSet, efp, efp_graphs
from hepdl.features.higgs import challenge_features, derived_features, event_objects, mmc_mass, primitive_features
from hepdl.features.images import ImageConfig, image_coordinates, jet_images
from hepdl.features.jet_inputs import jet_inputs  # noqa: F401 - registers the jet domain's input builder
from hepdl.features.sets import FEATURE_SETS, build_features, compute_feature_set, list_feature_sets
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
    "FEATURE_SETS",
    "HLS4ML_FEATURES",
    "ImageConfig",
    "PARTICLE_FEATURES",
    "ParticleCloud",
    "build_features",
    "challenge_features",
    "derived_features",
    "event_objects",
    "mmc_mass",
    "primitive_features",
    "compute_feature_set",
    "image_coordinates",
    "jet_images",
    "list_feature_sets",
    "pairwise_features",
    "particle_cloud",
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


def __getattr__(name: str):  # torch is imported only when the pairwise features are asked for
    if name == "pairwise_features":
        from hepdl.features.pairwise import pairwise_features

        return pairwise_features
    raise AttributeError(f"module 'hepdl.features' has no attribute {name!r}")
