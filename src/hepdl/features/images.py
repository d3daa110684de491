"""Jet images on an eta-phi grid with the preprocessing of de Oliveira et al. (arXiv:1511.05190).

Each preprocessing step can be switched on or off: centring (pT-weighted centroid, the leading
exclusive-kT subjet, or the jet axis), rotation of the principal axis onto the vertical, flipping so
that most intensity lies in a fixed quadrant, and normalisation to unit sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepdl import schema
from hepdl.errors import ConfigError
from hepdl.features._arrays import FlatJets, flat_jets
from hepdl.kinematics import wrap_phi

__all__ = ["ImageConfig", "image_coordinates", "jet_images", "CENTRES", "CHANNELS"]

CENTRES = ("centroid", "leading_subjet", "axis")
CHANNELS = ("total", "charged_neutral")


@dataclass
class ImageConfig:
    """Jet-image settings.

    Parameters
    ----------
    n_pixels
        Pixels per side (default 40).
    extent
        Half-width of the window in eta and phi (default 0.8: pixels of 0.04).
    intensity
        ``pt`` or ``e``.
    channels
        ``total`` (one channel) or ``charged_neutral`` (two: charged constituents, then neutral).
    centre, rotate, flip, normalise
        The preprocessing steps (arXiv:1511.05190).
    """

    n_pixels: int = 40
    extent: float = 0.8
    intensity: str = "pt"
    channels: str = "total"
    centre: str = "centroid"
    rotate: bool = True
    flip: bool = True
    normalise: bool = True

    def __post_init__(self) -> None:
        if self.n_pixels < 1 or self.extent <= 0:
            raise ConfigError(f"image needs n_pixels >= 1 and extent > 0, got {self.n_pixels}, {self.extent}")
        if self.intensity not in ("pt", "e"):
            raise ConfigError(f"image intensity must be 'pt' or 'e', got {self.intensity!r}")
        if self.channels not in CHANNELS:
            raise ConfigError(f"image channels must be one of {CHANNELS}, got {self.channels!r}")
        if self.centre not in CENTRES:
            raise ConfigError(f"image centre must be one of {CENTRES}, got {self.centre!r}")

    @property
    def n_channels(self) -> int:
        return 1 if self.channels == "total" else 2


def _wrap(x: np.ndarray) -> np.ndarray:
    return wrap_phi(x)


def image_coordinates(jets: ak.Array | FlatJets, config: ImageConfig | None = None) -> tuple[np.ndarray, np.ndarray, FlatJets]:
    """Per-constituent image coordinates (x ~ eta, y ~ phi) after centring, rotation and flipping.

    Returns ``(x, y, flat)`` with ``x``, ``y`` flat arrays aligned with ``flat`` (the flattened jets).
    """
    cfg = config or ImageConfig()
    f = jets if isinstance(jets, FlatJets) else flat_jets(jets)
    j = f.jet_index
    s = np.maximum(f.jet_sum(f.pt), 1e-300)
    # reference direction: the jet axis (pT-weighted sums avoid the phi wrap)
    px, py, pz = (f.jet_sum(a) for a in (f.px, f.py, f.pz))
    ax_pt = np.maximum(np.hypot(px, py), 1e-300)
    ax_eta, ax_phi = np.arcsinh(pz / ax_pt), np.arctan2(py, px)
    deta = f.eta - ax_eta[j]
    dphi = _wrap(f.phi - ax_phi[j])
    if cfg.centre == "centroid":
        c_eta, c_phi = f.jet_sum(f.pt * deta) / s, f.jet_sum(f.pt * dphi) / s
    elif cfg.centre == "leading_subjet":
        from hepdl.features.substructure import exclusive_subjets

        sub = exclusive_subjets(f, 3)[:, 0, :]
        spt = np.maximum(np.hypot(sub[:, 0], sub[:, 1]), 1e-300)
        c_eta = np.arcsinh(sub[:, 2] / spt) - ax_eta
        c_phi = _wrap(np.arctan2(sub[:, 1], sub[:, 0]) - ax_phi)
    else:
        c_eta = c_phi = np.zeros(f.n_jets)
    x = deta - c_eta[j]
    y = _wrap(dphi - c_phi[j])
    w = f.pt
    if cfg.rotate:
        sxx, syy, sxy = (f.jet_sum(w * a) / s for a in (x * x, y * y, x * y))
        # angle of the principal axis to the x axis; rotate it onto the y axis
        theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
        alpha = np.pi / 2 - theta
        ca, sa = np.cos(alpha)[j], np.sin(alpha)[j]
        x, y = ca * x - sa * y, sa * x + ca * y
    if cfg.flip:
        # more intensity in the right (x > 0) and upper (y > 0) halves; the first moments vanish
        # after centroid centring, so the halves decide
        sx = f.jet_sum(w * np.sign(x))
        sy = f.jet_sum(w * np.sign(y))
        x = x * np.where(sx < 0, -1.0, 1.0)[j]
        y = y * np.where(sy < 0, -1.0, 1.0)[j]
    return x, y, f


def jet_images(jets: ak.Array, config: ImageConfig | None = None) -> np.ndarray:
    """Jet images, shape ``(n_jets, n_channels, n_pixels, n_pixels)`` (float32); axis 2 is eta-like
    (x), axis 3 phi-like (y). Constituents outside the window are dropped."""
    cfg = config or ImageConfig()
    x, y, f = image_coordinates(jets, cfg)
    n = cfg.n_pixels
    ix = np.floor((x + cfg.extent) / (2 * cfg.extent) * n).astype(np.int64)
    iy = np.floor((y + cfg.extent) / (2 * cfg.extent) * n).astype(np.int64)
    inside = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
    value = f.pt if cfg.intensity == "pt" else f.e
    channel = np.zeros(len(x), dtype=np.int64)
    if cfg.n_channels == 2:
        cons = jets.constituents if "constituents" in jets.fields else jets
        charge = ak.to_numpy(ak.flatten(cons.charge))
        ptype = ak.to_numpy(ak.flatten(cons["type"]))
        charged = (charge != 0) | np.isin(ptype, [schema.TYPE_CHARGED_HADRON, schema.TYPE_ELECTRON, schema.TYPE_MUON])
        channel = np.where(charged, 0, 1)
    c = cfg.n_channels
    flat_index = ((f.jet_index * c + channel) * n + ix) * n + iy
    img = np.bincount(flat_index[inside], weights=value[inside], minlength=f.n_jets * c * n * n)
    img = img.reshape(f.n_jets, c, n, n)
    if cfg.normalise:
        tot = img.sum(axis=(1, 2, 3), keepdims=True)
        img = img / np.where(tot > 0, tot, 1.0)
    return img.astype(np.float32)
