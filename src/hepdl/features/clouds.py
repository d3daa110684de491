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


def _pad(a: ak.Array, n_max: int) -> np.ndarray:
    return ak.to_numpy(ak.fill_none(ak.pad_none(a, n_max, clip=True), 0.0)).astype(np.float64)


def particle_cloud(jets: ak.Array, n_max: int = 128, features: tuple[str, ...] = PARTICLE_FEATURES) -> ParticleCloud:
    """Per-particle features of the ``n_max`` hardest constituents of each jet (pT ordered).

    Shapes are stated on :class:`ParticleCloud`; jets with fewer particles are zero padded and
    masked, so padding never leaks into masked outputs.
    """
    if n_max < 1:
        raise ConfigError(f"n_max must be >= 1, got {n_max}")
    unknown = [f for f in features if f not in PARTICLE_FEATURES]
    if unknown:
        raise ConfigError(f"unknown particle feature(s) {unknown}; known: {', '.join(PARTICLE_FEATURES)}")
    cons = jets.constituents if "constituents" in jets.fields else jets
    cons = cons[ak.argsort(cons.pt, axis=1, ascending=False)]
    px_all, py_all, pz_all = cons.pt * np.cos(cons.phi), cons.pt * np.sin(cons.phi), cons.pt * np.sinh(cons.eta)
    jpx, jpy, jpz, je = (ak.to_numpy(ak.sum(a, axis=1)) for a in (px_all, py_all, pz_all, cons.e))
    jpt = np.maximum(np.hypot(jpx, jpy), 1e-300)
    # the axis in rapidity: a boost along z shifts it, and the eta of massless constituents, alike
    jeta, jphi = 0.5 * np.log(np.maximum(je + jpz, 1e-300) / np.maximum(je - jpz, 1e-300)), np.arctan2(jpy, jpx)
    counts = np.minimum(ak.to_numpy(ak.num(cons)), n_max)
    mask = np.arange(n_max)[None, :] < counts[:, None]
    pt, eta, phi, e = (_pad(cons[f], n_max) for f in ("pt", "eta", "phi", "e"))
    charge = _pad(cons.charge, n_max)
    ptype = _pad(cons["type"], n_max).astype(np.int64)
    safe_pt = np.where(mask, pt, 1.0)
    safe_e = np.where(mask, e, 1.0)
    deta = eta - jeta[:, None]
    dphi = delta_phi(phi, jphi[:, None])
    cols = {
        "deta": deta,
        "dphi": dphi,
        "log_pt": np.log(safe_pt),
        "log_e": np.log(safe_e),
        "log_pt_rel": np.log(safe_pt / jpt[:, None]),
        "log_e_rel": np.log(safe_e / np.maximum(je, 1e-300)[:, None]),
        "delta_r": np.hypot(deta, dphi),
        "charge": charge,
        "is_charged_hadron": ptype == schema.TYPE_CHARGED_HADRON,
        "is_neutral_hadron": ptype == schema.TYPE_NEUTRAL_HADRON,
        "is_photon": ptype == schema.TYPE_PHOTON,
        "is_electron": ptype == schema.TYPE_ELECTRON,
        "is_muon": ptype == schema.TYPE_MUON,
    }
    feats = np.stack([np.where(mask, cols[f], 0.0) for f in features], axis=-1).astype(np.float32)
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e], axis=-1) * mask[..., None]
    return ParticleCloud(feats, mask, p4.astype(np.float32), tuple(features))
