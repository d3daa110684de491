"""Particle clouds: per-particle features padded to a fixed length with a mask, as used by
ParticleNet (Qu, Gouskos, arXiv:1902.08570) and Particle Transformer (Qu, Li, Qian, arXiv:2202.03772).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepdl import schema
from hepdl.errors import ConfigError
from hepdl.kinematics import delta_phi

__all__ = ["PARTICLE_FEATURES", "ParticleCloud", "particle_cloud"]

#: Per-particle features, in order. ``deta``/``dphi`` are relative to the jet axis (the sum of the
#: constituents; its rapidity, so that boosts along z leave them unchanged for massless constituents).
PARTICLE_FEATURES = (
    "deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r", "charge",
    "is_charged_hadron", "is_neutral_hadron", "is_photon", "is_electron", "is_muon",
)


@dataclass
class ParticleCloud:
    """Padded particle features.

    Attributes
    ----------
    features
        ``(n_jets, n_max, n_features)`` float32, zero where masked.
    mask
        ``(n_jets, n_max)`` bool, True for real particles.
    four_momenta
        ``(n_jets, n_max, 4)`` float32 ``px, py, pz, e`` (zero where masked), for Lorentz-aware models.
    names
        Feature names (see :data:`PARTICLE_FEATURES`).
    """

    features: np.ndarray
    mask: np.ndarray
    four_momenta: np.ndarray
    names: tuple[str, ...]


def _flat(cons: ak.Array) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The constituents as flat arrays, pT ordered within each jet: ``(counts, jet index of each
    particle, field -> values)``; one stable sort over all particles, and none when the jets come
    sorted (as every hepdl reader writes them)."""
    counts = ak.to_numpy(ak.num(cons)).astype(np.int64)
    jet = np.repeat(np.arange(len(counts)), counts)
    cols = {f: ak.to_numpy(ak.flatten(cons[f])) for f in ("pt", "eta", "phi", "e", "charge", "type")}
    pt = cols["pt"]
    same_jet = jet[1:] == jet[:-1]
    if np.any(same_jet & (pt[1:] > pt[:-1])):
        order = np.lexsort((-pt, jet))  # by jet, then pT descending; ties keep their order, as ak.argsort
        cols = {f: v[order] for f, v in cols.items()}
    return counts, jet, cols


def particle_cloud(jets: ak.Array, n_max: int = 128, features: tuple[str, ...] = PARTICLE_FEATURES) -> ParticleCloud:
    """Per-particle features of the ``n_max`` hardest constituents of each jet (pT ordered).

    Shapes are stated on :class:`ParticleCloud`; jets with fewer particles are zero padded and
    masked, so padding never leaks into masked outputs. The jet axis is the sum of all constituents.
    Columnar: flat arrays scattered into the padded ones, no per-feature padding of jagged arrays.
    """
    if n_max < 1:
        raise ConfigError(f"n_max must be >= 1, got {n_max}")
    unknown = [f for f in features if f not in PARTICLE_FEATURES]
    if unknown:
        raise ConfigError(f"unknown particle feature(s) {unknown}; known: {', '.join(PARTICLE_FEATURES)}")
    cons = jets.constituents if "constituents" in jets.fields else jets
    counts, jet, c = _flat(cons)
    n = len(counts)
    fpt, feta, fphi, fe = (c[f].astype(np.float64) for f in ("pt", "eta", "phi", "e"))
    fpx, fpy, fpz = fpt * np.cos(fphi), fpt * np.sin(fphi), fpt * np.sinh(feta)
    jpx, jpy, jpz, je = (np.bincount(jet, weights=a, minlength=n) for a in (fpx, fpy, fpz, fe))
    jpt = np.maximum(np.hypot(jpx, jpy), 1e-300)
    # the axis in rapidity: a boost along z shifts it, and the eta of massless constituents, alike
    jeta, jphi = 0.5 * np.log(np.maximum(je + jpz, 1e-300) / np.maximum(je - jpz, 1e-300)), np.arctan2(jpy, jpx)
    local = np.arange(len(jet)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = local < n_max
    at = (jet[keep], local[keep])
    mask = np.zeros((n, n_max), dtype=bool)
    mask[at] = True
    kpt, keta, kphi, ke = fpt[keep], feta[keep], fphi[keep], fe[keep]
    kj = jet[keep]
    deta = keta - jeta[kj]
    dphi = delta_phi(kphi, jphi[kj])
    ptype = c["type"][keep].astype(np.int64)
    cols = {
        "deta": lambda: deta,
        "dphi": lambda: dphi,
        "log_pt": lambda: np.log(kpt),
        "log_e": lambda: np.log(ke),
        "log_pt_rel": lambda: np.log(kpt / jpt[kj]),
        "log_e_rel": lambda: np.log(ke / np.maximum(je, 1e-300)[kj]),
        "delta_r": lambda: np.hypot(deta, dphi),
        "charge": lambda: c["charge"][keep],
        "is_charged_hadron": lambda: ptype == schema.TYPE_CHARGED_HADRON,
        "is_neutral_hadron": lambda: ptype == schema.TYPE_NEUTRAL_HADRON,
        "is_photon": lambda: ptype == schema.TYPE_PHOTON,
        "is_electron": lambda: ptype == schema.TYPE_ELECTRON,
        "is_muon": lambda: ptype == schema.TYPE_MUON,
    }
    feats = np.zeros((n, n_max, len(features)), dtype=np.float32)
    for k, f in enumerate(features):
        feats[at[0], at[1], k] = cols[f]()
    p4 = np.zeros((n, n_max, 4), dtype=np.float32)
    for k, v in enumerate((fpx[keep], fpy[keep], fpz[keep], ke)):
        p4[at[0], at[1], k] = v
    return ParticleCloud(feats, mask, p4, tuple(features))
