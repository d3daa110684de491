"""Event features of the Higgs machine-learning challenge (ATLAS 2014, H -> tau tau, lepton + hadronic tau).

The 30 features carry the challenge's names (:data:`hepdl.schema.CHALLENGE_FEATURES`): 17 primitive
``PRI_*`` features (lepton, tau, missing momentum, jets) and 13 derived ``DER_*`` ones, with
-999.0 where a feature is undefined (no or one jet, no MMC solution), as in the challenge
(Adam-Bourdarios et al., JMLR W&CP 42 (2015) 19, appendix B). The derived features are computed
from the primitive ones only, treating the lepton, the tau and the jets as massless as the
challenge's primitive columns do (they have no mass), so :func:`derived_features` gives the same
values on the original CSV files and on ours.

``DER_mass_MMC`` is a missing-mass calculator after Elagin, Murat, Pranko, Safonov
(arXiv:1012.4686), simplified; see :func:`mmc_mass`.

Dimensions of the object lists: B events, N objects (lepton, tau, missing momentum, jets), F features.
"""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numba as nb
import numpy as np
import pandas as pd

from hepdl import schema
from hepdl.data.events import EventDataset
from hepdl.errors import ConfigError
from hepdl.features.inputs import (
    Inputs,
    check_finite,
    register_augmentation,
    register_inputs,
    standardisation,
    training_weights,
)
from hepdl.kinematics import delta_phi, wrap_phi

__all__ = ["primitive_features", "derived_features", "challenge_features", "dataset_features", "mmc_mass", "event_objects",
           "OBJECT_FEATURES", "OBJECT_TYPES", "M_TAU", "EVENT_FEATURE_SET", "LOG_COLUMNS", "INDICATOR_COLUMNS", "event_inputs",
           "rotate_reflect"]

M_TAU = 1.77686
M_TAU_SQ = M_TAU**2
U = schema.UNDEFINED
#: Object types of :func:`event_objects` (one-hot features ``is_<type>``).
OBJECT_TYPES = ("electron", "muon", "tau", "met", "jet")
#: Per-object features of :func:`event_objects`.
#: The first two are the angles (as in hepdl's particle clouds, for ParticleNet's and the EFN's geometry).
OBJECT_FEATURES = ("eta", "dphi", "log_pt", "log_e", "cos_dphi", "sin_dphi", *(f"is_{t}" for t in OBJECT_TYPES), "charge")


def primitive_features(events: ak.Array) -> pd.DataFrame:
    """The 17 ``PRI_*`` features of each event record (see :data:`hepdl.schema.EVENT_FIELDS`).

    ``PRI_jet_num`` counts the jets (pT > 30 GeV in the default selection), capped at 3; the leading
    and subleading jet columns are -999 when absent; ``PRI_jet_all_pt`` sums the pT of all jets.
    """
    jets = events.jets
    n_jets = ak.to_numpy(ak.num(jets)).astype(np.int64)
    padded = ak.fill_none(ak.pad_none(jets, 2, axis=1, clip=True), {"pt": U, "eta": U, "phi": U, "m": U})
    d: dict[str, Any] = {
        "PRI_tau_pt": events.tau_pt, "PRI_tau_eta": events.tau_eta, "PRI_tau_phi": events.tau_phi,
        "PRI_lep_pt": events.lep_pt, "PRI_lep_eta": events.lep_eta, "PRI_lep_phi": events.lep_phi,
        "PRI_met": events.met, "PRI_met_phi": events.met_phi, "PRI_met_sumet": events.sumet,
        "PRI_jet_num": np.minimum(n_jets, 3),
    }
    for k, name in ((0, "leading"), (1, "subleading")):
        for f in ("pt", "eta", "phi"):
            d[f"PRI_jet_{name}_{f}"] = padded[f][:, k]
    d["PRI_jet_all_pt"] = ak.sum(jets.pt, axis=1)
    return pd.DataFrame({k: np.asarray(ak.to_numpy(v) if isinstance(v, ak.Array) else v, dtype=np.float64)
                         for k, v in d.items()})[list(schema.PRI_FEATURES)]


def _p4(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Massless four-vectors (px, py, pz, E), shape (B, 4)."""
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p[:, 3] ** 2 - p[:, 0] ** 2 - p[:, 1] ** 2 - p[:, 2] ** 2, 0.0))


def derived_features(pri: pd.DataFrame, *, mmc: bool = True) -> pd.DataFrame:
    """The 13 ``DER_*`` features from the primitive ones (definitions of the challenge, appendix B).

    ``mmc=False`` leaves ``DER_mass_MMC`` undefined (-999) and skips the scan.
    """
    g = {c: pri[c].to_numpy(np.float64) for c in schema.PRI_FEATURES}
    lep = _p4(g["PRI_lep_pt"], g["PRI_lep_eta"], g["PRI_lep_phi"])
    tau = _p4(g["PRI_tau_pt"], g["PRI_tau_eta"], g["PRI_tau_phi"])
    metx, mety = g["PRI_met"] * np.cos(g["PRI_met_phi"]), g["PRI_met"] * np.sin(g["PRI_met_phi"])
    nj = g["PRI_jet_num"]
    has1, has2 = nj >= 1, nj >= 2
    j1 = _p4(np.where(has1, g["PRI_jet_leading_pt"], 0.0), np.where(has1, g["PRI_jet_leading_eta"], 0.0),
             np.where(has1, g["PRI_jet_leading_phi"], 0.0))
    j2 = _p4(np.where(has2, g["PRI_jet_subleading_pt"], 0.0), np.where(has2, g["PRI_jet_subleading_eta"], 0.0),
             np.where(has2, g["PRI_jet_subleading_phi"], 0.0))
    e1, e2 = g["PRI_jet_leading_eta"], g["PRI_jet_subleading_eta"]
    out: dict[str, np.ndarray] = {}
    out["DER_mass_MMC"] = mmc_mass(g["PRI_lep_pt"], g["PRI_lep_eta"], g["PRI_lep_phi"], g["PRI_tau_pt"], g["PRI_tau_eta"],
                                   g["PRI_tau_phi"], metx, mety, g["PRI_met_sumet"]) if mmc else np.full(len(nj), U)
    dphi = g["PRI_lep_phi"] - g["PRI_met_phi"]
    out["DER_mass_transverse_met_lep"] = np.sqrt(np.maximum(2 * g["PRI_lep_pt"] * g["PRI_met"] * (1 - np.cos(dphi)), 0.0))
    out["DER_mass_vis"] = _mass(lep + tau)
    out["DER_pt_h"] = np.hypot(lep[:, 0] + tau[:, 0] + metx, lep[:, 1] + tau[:, 1] + mety)
    out["DER_deltaeta_jet_jet"] = np.where(has2, np.abs(e1 - e2), U)
    out["DER_mass_jet_jet"] = np.where(has2, _mass(j1 + j2), U)
    out["DER_prodeta_jet_jet"] = np.where(has2, e1 * e2, U)
    dphi_lt = delta_phi(g["PRI_tau_phi"], g["PRI_lep_phi"])
    out["DER_deltar_tau_lep"] = np.hypot(g["PRI_tau_eta"] - g["PRI_lep_eta"], dphi_lt)
    tot = lep + tau + j1 * has1[:, None] + j2 * has2[:, None]
    out["DER_pt_tot"] = np.hypot(tot[:, 0] + metx, tot[:, 1] + mety)
    out["DER_sum_pt"] = g["PRI_lep_pt"] + g["PRI_tau_pt"] + g["PRI_jet_all_pt"]
    out["DER_pt_ratio_lep_tau"] = g["PRI_lep_pt"] / g["PRI_tau_pt"]
    s = np.sign(np.sin(g["PRI_tau_phi"] - g["PRI_lep_phi"]))
    a = np.sin(g["PRI_met_phi"] - g["PRI_lep_phi"]) * s
    b = np.sin(g["PRI_tau_phi"] - g["PRI_met_phi"]) * s
    norm = np.sqrt(a**2 + b**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["DER_met_phi_centrality"] = np.where(norm > 0, (a + b) / np.where(norm > 0, norm, 1.0), U)
        centre = np.where(has2, np.exp(-4.0 / np.where(has2, (e1 - e2) ** 2, 1.0) * (g["PRI_lep_eta"] - (e1 + e2) / 2) ** 2), U)
    out["DER_lep_eta_centrality"] = np.where(has2 & (e1 != e2), centre, U)
    return pd.DataFrame(out)[list(schema.DER_FEATURES)]


def challenge_features(events: ak.Array, *, mmc: bool = True) -> pd.DataFrame:
    """The 30 features in the column order of the challenge's CSV files, one row per event."""
    pri = primitive_features(events)
    return pd.concat([derived_features(pri, mmc=mmc), pri], axis=1)[list(schema.CHALLENGE_FEATURES)]


def dataset_features(ds: Any) -> pd.DataFrame:
    """The 30 features of an event dataset: as read from its CSV file, or computed from its events."""
    return ds.features if ds.features is not None else challenge_features(ds.events)


# --- missing-mass calculator ----------------------------------------------------------------------

#: Scan of the azimuth of each neutrino system around its visible tau product (radians).
_DPHI = np.linspace(-1.2, 1.2, 25)
#: Scan of the invariant mass of the two neutrinos of the leptonic tau decay (GeV).
_MNUNU = np.array([0.2, 0.6, 1.0, 1.4])
_BINS = np.arange(0.0, 502.0, 2.0)


@nb.njit(cache=True, inline="always")
def _angle_weight(vx: float, vy: float, vz: float, nx: float, ny: float, nz: float) -> float:
    """Weight of the opening angle alpha between the visible and invisible tau products:
    (alpha / theta) exp(-alpha / theta), theta = m_tau / |p_tau|: the shape of a Gamma(2) density
    in alpha, largest at alpha = theta, with the same maximum at every tau momentum (a normalised
    density, ~ 1/theta, would favour high-momentum solutions and bias the mass upwards)."""
    px, py, pz = vx + nx, vy + ny, vz + nz
    p = np.sqrt(px * px + py * py + pz * pz)
    a = np.sqrt(vx * vx + vy * vy + vz * vz)
    b = np.sqrt(nx * nx + ny * ny + nz * nz)
    if a <= 0.0 or b <= 0.0 or p <= 0.0:
        return 0.0
    c = (vx * nx + vy * ny + vz * nz) / (a * b)
    c = min(1.0, max(-1.0, c))
    alpha = np.arccos(c)
    theta = 1.77686 / p
    return alpha / theta * np.exp(-alpha / theta)


@nb.njit(cache=True)
def _mmc_fill(hist: np.ndarray, lv: np.ndarray, tv: np.ndarray, metx: float, mety: float, weight: float,
              dphi: np.ndarray, mnunu: np.ndarray, edges: np.ndarray) -> bool:
    """Add the weighted m_tautau solutions of one missing-momentum hypothesis to ``hist``."""
    nb_ = len(edges) - 1
    lphi = np.arctan2(lv[1], lv[0])
    tphi = np.arctan2(tv[1], tv[0])
    lpt = np.hypot(lv[0], lv[1])
    tpt = np.hypot(tv[0], tv[1])
    leta = np.arcsinh(lv[2] / lpt)
    teta = np.arcsinh(tv[2] / tpt)
    found = False
    for i in range(len(dphi)):
        p1 = lphi + dphi[i]
        c1, s1 = np.cos(p1), np.sin(p1)
        for j in range(len(dphi)):
            p2 = tphi + dphi[j]
            c2, s2 = np.cos(p2), np.sin(p2)
            det = c1 * s2 - s1 * c2
            if abs(det) < 1e-6:
                continue
            pt1 = (metx * s2 - mety * c2) / det
            pt2 = (mety * c1 - metx * s1) / det
            if pt1 <= 0.0 or pt2 <= 0.0:
                continue
            # hadronic tau: one massless neutrino; massless visible: cosh(eta - eta_vis) = ratio
            r2 = (M_TAU_SQ / 2.0 + tpt * pt2 * np.cos(p2 - tphi)) / (tpt * pt2)
            if r2 < 1.0:
                continue
            d2 = np.arccosh(r2)
            for k in range(len(mnunu)):
                m1 = mnunu[k]
                mt1 = np.sqrt(pt1 * pt1 + m1 * m1)
                r1 = ((M_TAU_SQ - m1 * m1) / 2.0 + lpt * pt1 * np.cos(p1 - lphi)) / (lpt * mt1)
                if r1 < 1.0:
                    continue
                d1 = np.arccosh(r1)
                for sa in (-1.0, 1.0):
                    eta1 = leta + sa * d1
                    n1x, n1y, n1z, n1e = pt1 * c1, pt1 * s1, mt1 * np.sinh(eta1), mt1 * np.cosh(eta1)
                    w1 = _angle_weight(lv[0], lv[1], lv[2], n1x, n1y, n1z)
                    for sb in (-1.0, 1.0):
                        eta2 = teta + sb * d2
                        n2x, n2y, n2z, n2e = pt2 * c2, pt2 * s2, pt2 * np.sinh(eta2), pt2 * np.cosh(eta2)
                        w = weight * w1 * _angle_weight(tv[0], tv[1], tv[2], n2x, n2y, n2z)
                        if not w > 0.0:
                            continue
                        ex = lv[0] + tv[0] + n1x + n2x
                        ey = lv[1] + tv[1] + n1y + n2y
                        ez = lv[2] + tv[2] + n1z + n2z
                        ee = lv[3] + tv[3] + n1e + n2e
                        m = np.sqrt(max(ee * ee - ex * ex - ey * ey - ez * ez, 0.0))
                        b = int((m - edges[0]) / (edges[1] - edges[0]))
                        if 0 <= b < nb_:
                            hist[b] += w
                            found = True
    return found


@nb.njit(cache=True)
def _peak(hist: np.ndarray, edges: np.ndarray) -> float:
    """Most probable value: the peak of the histogram smoothed over three bins."""
    nb_ = len(hist)
    best, at = -1.0, 0
    for b in range(nb_):
        s = hist[b] + (hist[b - 1] if b > 0 else 0.0) + (hist[b + 1] if b + 1 < nb_ else 0.0)
        if s > best:
            best, at = s, b
    return 0.5 * (edges[at] + edges[at + 1])



@nb.njit(cache=True)
def _mmc_kernel(lv: np.ndarray, tv: np.ndarray, metx: np.ndarray, mety: np.ndarray, sigma: np.ndarray,
                dphi: np.ndarray, mnunu: np.ndarray, edges: np.ndarray) -> np.ndarray:
    n = lv.shape[0]
    out = np.full(n, -999.0)
    hist = np.zeros(len(edges) - 1)
    for i in range(n):
        if not (lv[i, 3] > 0.0 and tv[i, 3] > 0.0):
            continue
        hist[:] = 0.0
        found = False
        found = _mmc_fill(hist, lv[i], tv[i], metx[i], mety[i], 1.0, dphi, mnunu, edges)
        # no solution: let the missing momentum move by 1, then 2 sigma in x and y
        for k in range(1, 3):
            if found:
                break
            for ax in range(-1, 2):
                for ay in range(-1, 2):
                    if ax != 0 or ay != 0:
                        w = np.exp(-0.5 * k * k * (ax * ax + ay * ay))
                        found |= _mmc_fill(hist, lv[i], tv[i], metx[i] + ax * k * sigma[i], mety[i] + ay * k * sigma[i], w,
                                           dphi, mnunu, edges)
        if found:
            out[i] = _peak(hist, edges)
    return out


def mmc_mass(lep_pt: np.ndarray, lep_eta: np.ndarray, lep_phi: np.ndarray, tau_pt: np.ndarray, tau_eta: np.ndarray,
             tau_phi: np.ndarray, met_x: np.ndarray, met_y: np.ndarray, sumet: np.ndarray | None = None) -> np.ndarray:
    """Missing-mass calculator (MMC) estimate of m_tautau for lepton + hadronic-tau events, shape (B,).

    After Elagin, Murat, Pranko, Safonov, "A new mass reconstruction technique for resonances
    decaying to tau tau", arXiv:1012.4686. The unknowns are the momenta of the two neutrino systems
    (two neutrinos of mass m_nunu from the leptonic tau, one from the hadronic tau). For each point
    of a grid in their azimuths (each within +-1.2 rad of its visible product, 25 x 25 points) and in
    m_nunu (0.2 ... 1.4 GeV), the two missing-momentum components fix both neutrino pT, and the tau
    mass fixes each neutrino's rapidity up to a two-fold ambiguity. Each solution is weighted by the
    probability of the opening angle alpha between visible and invisible products, and the result
    is the most probable m_tautau of the weighted histogram (2 GeV bins, smoothed over three).

    Simplifications with respect to the paper: the angle probability is an analytic Gamma(2)
    density in alpha with scale m_tau / p_tau (the paper fits per-decay-mode Gaussian + Landau
    functions of Delta R in bins of p_tau); m_nunu is scanned uniformly; visible products are
    massless (the challenge's primitive features carry no masses); the missing-momentum likelihood
    enters only for events without a solution at the measured value, which are scanned again with
    the missing momentum moved by 1, then 2 sigma in x and y (sigma = 0.5 sqrt(sum E_T) GeV,
    ``sumet``; Gaussian weights). Averaging over the resolution for every event, as the paper does,
    pushed the mass upwards with our simplified angle weights (Z -> tau tau peaked at ~180 GeV), so
    it is not done. Events without any solution get -999, as in the challenge.

    On our simulation with the true neutrino momenta the estimate peaks at the generated mass
    (H: median 125 GeV, median |error| 6 GeV, against 47 GeV below for the visible mass); with the
    detector's missing momentum H peaks near 133 GeV and Z near 115 GeV.
    """
    lv = _p4(np.asarray(lep_pt, float), np.asarray(lep_eta, float), np.asarray(lep_phi, float))
    tv = _p4(np.asarray(tau_pt, float), np.asarray(tau_eta, float), np.asarray(tau_phi, float))
    bad = ~(np.isfinite(lv).all(axis=1) & np.isfinite(tv).all(axis=1) & (np.asarray(lep_pt) > 0) & (np.asarray(tau_pt) > 0))
    lv[bad], tv[bad] = 0.0, 0.0
    sig = 0.5 * np.sqrt(np.maximum(np.asarray(sumet, float), 1.0)) if sumet is not None else np.full(len(lv), 5.0)
    return _mmc_kernel(np.ascontiguousarray(lv), np.ascontiguousarray(tv), np.asarray(met_x, float),
                       np.asarray(met_y, float), sig, _DPHI, _MNUNU, _BINS)


# --- object lists for set and transformer models --------------------------------------------------

def event_objects(data: Any, n_objects: int = 8) -> dict[str, np.ndarray]:
    """Objects of each event as a padded set, for PFN / ParticleNet / ParT models.

    ``data`` is an event dataset (:class:`hepdl.data.events.EventDataset`). Generated datasets give
    the lepton, the tau candidate, the missing momentum and up to ``n_objects - 3`` jets (with their
    masses); CSV files give the objects their primitive features describe (lepton, tau, missing
    momentum, up to two jets, massless). Azimuths are taken relative to the lepton (the physics is
    symmetric under rotations about the beam).

    Returns
    -------
    dict
        ``x`` (B, N, F) features :data:`OBJECT_FEATURES`, ``mask`` (B, N) bool, ``p4`` (B, N, 4)
        (px, py, pz, E) in the rotated frame.
    """
    if n_objects < 3:
        raise ValueError(f"n_objects must be at least 3 (lepton, tau, missing momentum), got {n_objects}")
    if data.events is not None:
        ev = data.events
        jets = ak.fill_none(ak.pad_none(ev.jets, n_objects - 3, axis=1, clip=True), {"pt": 0.0, "eta": 0.0, "phi": 0.0, "m": 0.0})
        jpt, jeta, jphi, jm = (ak.to_numpy(jets[f]).astype(np.float64) for f in ("pt", "eta", "phi", "m"))
        lep = [ak.to_numpy(ev[f]).astype(np.float64) for f in ("lep_pt", "lep_eta", "lep_phi")]
        tau = [ak.to_numpy(ev[f]).astype(np.float64) for f in ("tau_pt", "tau_eta", "tau_phi")]
        tau_m = ak.to_numpy(ev.tau_m).astype(np.float64)
        met = [ak.to_numpy(ev.met).astype(np.float64), ak.to_numpy(ev.met_phi).astype(np.float64)]
        electron = ak.to_numpy(ev.lep_flavour) == 11
        lq, tq = ak.to_numpy(ev.lep_charge).astype(np.float64), ak.to_numpy(ev.tau_charge).astype(np.float64)
    else:
        f = data.features
        nj = f["PRI_jet_num"].to_numpy()
        k = min(2, n_objects - 3)
        cols = [("leading", 1), ("subleading", 2)][:k]
        jpt = np.zeros((len(f), n_objects - 3))
        jeta, jphi, jm = np.zeros_like(jpt), np.zeros_like(jpt), np.zeros_like(jpt)
        for i, (name, need) in enumerate(cols):
            ok = nj >= need
            jpt[:, i] = np.where(ok, f[f"PRI_jet_{name}_pt"], 0.0)
            jeta[:, i] = np.where(ok, f[f"PRI_jet_{name}_eta"], 0.0)
            jphi[:, i] = np.where(ok, f[f"PRI_jet_{name}_phi"], 0.0)
        lep = [f[c].to_numpy(np.float64) for c in ("PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi")]
        tau = [f[c].to_numpy(np.float64) for c in ("PRI_tau_pt", "PRI_tau_eta", "PRI_tau_phi")]
        tau_m = np.zeros(len(f))
        met = [f["PRI_met"].to_numpy(np.float64), f["PRI_met_phi"].to_numpy(np.float64)]
        electron = np.zeros(len(f), dtype=bool)  # the CSV files do not say which lepton it is
        lq, tq = np.zeros(len(f)), np.zeros(len(f))
    b = len(lep[0])
    pt = np.concatenate([lep[0][:, None], tau[0][:, None], met[0][:, None], jpt], axis=1)
    eta = np.concatenate([lep[1][:, None], tau[1][:, None], np.zeros((b, 1)), jeta], axis=1)
    phi = np.concatenate([lep[2][:, None], tau[2][:, None], met[1][:, None], jphi], axis=1) - lep[2][:, None]
    mass = np.concatenate([np.zeros((b, 1)), tau_m[:, None], np.zeros((b, 1)), jm], axis=1)
    mask = pt > 0
    pt_s = np.where(mask, pt, 1.0)
    pz = pt_s * np.sinh(eta)
    e = np.sqrt(pt_s**2 + pz**2 + mass**2)
    p4 = np.stack([pt_s * np.cos(phi), pt_s * np.sin(phi), pz, e], axis=-1) * mask[..., None]
    types = np.zeros((b, n_objects, len(OBJECT_TYPES)), dtype=np.float64)
    types[:, 0, 0] = electron
    types[:, 0, 1] = ~electron
    types[:, 1, 2] = 1.0
    types[:, 2, 3] = 1.0
    types[:, 3:, 4] = 1.0
    charge = np.zeros((b, n_objects))
    charge[:, 0], charge[:, 1] = lq, tq
    x = np.concatenate([
        np.stack([eta, wrap_phi(phi), np.log(pt_s), np.log(np.where(mask, e, 1.0)), np.cos(phi),
                  np.sin(phi)], axis=-1),
        types, charge[..., None]], axis=-1) * mask[..., None]
    return {"x": x.astype(np.float32), "mask": mask, "p4": p4.astype(np.float32)}


#: The feature set of event datasets: the 30 features of the Higgs machine-learning challenge.
EVENT_FEATURE_SET = "higgs-challenge"
#: Challenge features a network sees as log(1 + x): momenta, energies and masses (heavy tails).
LOG_COLUMNS = ("DER_mass_MMC", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_mass_jet_jet", "DER_pt_tot",
               "DER_sum_pt", "DER_pt_ratio_lep_tau", "PRI_tau_pt", "PRI_lep_pt", "PRI_met", "PRI_met_sumet",
               "PRI_jet_leading_pt", "PRI_jet_subleading_pt", "PRI_jet_all_pt")


#: Columns whose definedness a network sees as an extra 0/1 input: the MMC has a solution, there is a
#: leading jet, there is a subleading jet (every other -999 of the challenge follows one of these).
INDICATOR_COLUMNS = ("DER_mass_MMC", "PRI_jet_leading_pt", "PRI_jet_subleading_pt")


def event_inputs(ds: Any, kind: str, train_idx: np.ndarray, *, n_particles: int = 64, scaling: dict[str, Any] | None = None,
                 **_: Any) -> Inputs:
    """Inputs of an event dataset (the event domain's builder for :func:`hepdl.features.inputs.model_inputs`):
    the 30 challenge features (``features``: log(1 + x) of momenta and masses, standardised on the
    defined values, -999 -> 0, plus a 0/1 indicator per :data:`INDICATOR_COLUMNS`, with the
    rotation/reflection augmentation declared; ``bdt``/``cut``: as they are) or the object lists
    (``cloud``: :func:`event_objects`, each real object also carrying the 13 derived features and the
    MMC indicator, standardised as for ``features``), with training weights
    (:func:`hepdl.features.inputs.training_weights`) and the physics weights."""
    labels = ds.labels
    sw = training_weights(ds.weights, labels, train_idx) if ds.weights is not None and (labels >= 0).all() else None
    if kind not in ("features", "bdt", "cut", "cloud"):
        raise ConfigError(f"event datasets have the representations features, bdt, cut and cloud (objects), not {kind!r}")
    df = dataset_features(ds)
    check_finite(df, f"features of {ds.path}")
    if kind == "cloud":
        # the objects, each also carrying the event's derived features (standardised, with their
        # indicators): what the set model cannot easily build itself, e.g. the MMC mass
        obj = event_objects(ds, n_objects=max(3, n_particles))
        der = df[[c for c in df.columns if c.startswith("DER_")]]
        g, gpre = _standardised(der, train_idx, None if scaling is None else scaling.get("global"), str(ds.path))
        mask = obj["mask"][..., None]
        obj["x"] = np.concatenate([obj["x"], np.where(mask, g[:, None, :], 0.0).astype(np.float32)], axis=-1)
        return Inputs(kind, obj, labels, {"n_particles": obj["x"].shape[1], "features": [*OBJECT_FEATURES, *gpre["columns"]],
                                          "events": True, "global": gpre}, sample_weight=sw, physics_weight=ds.weights)
    pre: dict[str, Any] = {"feature_set": EVENT_FEATURE_SET, "columns": list(df.columns), "events": True,
                           "undefined": schema.UNDEFINED}
    if kind != "features":
        return Inputs(kind, {"frame": df}, labels, pre, sample_weight=sw, physics_weight=ds.weights)
    arr, std_pre = _standardised(df, train_idx, scaling, str(ds.path))
    pre.update(std_pre)
    pre["augment"] = _augment_settings(pre["columns"], np.asarray(pre["mean"]), np.asarray(pre["std"]))
    return Inputs(kind, {"features": arr}, labels, pre, sample_weight=sw, physics_weight=ds.weights)


def _standardised(df: pd.DataFrame, train_idx: np.ndarray, scaling: dict[str, Any] | None, where: str
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """Challenge features as a network sees them, ``(B, F)`` float32, and their preprocessing
    (``columns``, ``log_columns``, ``mean``, ``std``): log(1 + x) of momenta and masses, standardised
    on the defined values of ``train_idx`` (or ``scaling``'s), undefined -> 0, plus a 0/1 indicator per
    column of :data:`INDICATOR_COLUMNS` among ``df``'s."""
    # heavy-tailed momenta and masses on a log scale, then standardise on the defined values;
    # undefined (-999) values become 0, the mean. Missing-value indicators, as the challenge's winning
    # networks had (G. Melis, 2014), tell a 0 that stands for "undefined" from a value at the mean.
    x = np.array(df.to_numpy(np.float64), copy=True)  # a column subset may be a read-only view
    undefined = x == schema.UNDEFINED
    logs = [i for i, c in enumerate(df.columns) if c in LOG_COLUMNS]
    x[:, logs] = np.where(undefined[:, logs], x[:, logs], np.log1p(np.maximum(x[:, logs], 0.0)))
    indicators = [c for c in INDICATOR_COLUMNS if c in df.columns]
    flags = np.stack([df[c].to_numpy() != schema.UNDEFINED for c in indicators], axis=1).astype(np.float64)
    x = np.concatenate([x, flags], axis=1)
    undefined = np.concatenate([undefined, np.zeros_like(flags, dtype=bool)], axis=1)
    columns = [*df.columns, *(f"defined_{c}" for c in indicators)]
    mean, std = standardisation(columns, np.where(undefined, np.nan, x), train_idx, scaling, where)
    arr = np.where(undefined, 0.0, (x - mean) / std).astype(np.float32)
    return arr, {"columns": columns, "log_columns": [df.columns[i] for i in logs], "mean": mean.tolist(), "std": std.tolist()}


#: Azimuth and pseudorapidity columns of the challenge's objects, and the column whose definedness
#: each follows (None: always defined).
_ANGLES = (("PRI_tau_phi", "PRI_tau_eta", None), ("PRI_lep_phi", "PRI_lep_eta", None), ("PRI_met_phi", None, None),
           ("PRI_jet_leading_phi", "PRI_jet_leading_eta", "defined_PRI_jet_leading_pt"),
           ("PRI_jet_subleading_phi", "PRI_jet_subleading_eta", "defined_PRI_jet_subleading_pt"))


def _augment_settings(columns: list[str], mean: np.ndarray, std: np.ndarray) -> dict[str, Any]:
    """The settings of :func:`rotate_reflect` for standardised ``columns`` (their training mean / std)."""
    pos = {c: i for i, c in enumerate(columns)}
    phi = [pos[p] for p, _, _ in _ANGLES]
    eta = [pos[e] for _, e, _ in _ANGLES if e is not None]
    flag_of = {p: (pos[f] if f is not None else -1) for p, _, f in _ANGLES}
    flag_of.update({e: (pos[f] if f is not None else -1) for _, e, f in _ANGLES if e is not None})
    return {"name": "event-rotate-reflect", "phi": phi, "eta": eta,
            "phi_flag": [flag_of[columns[i]] for i in phi], "eta_flag": [flag_of[columns[i]] for i in eta],
            "mean": [float(mean[i]) for i in phi + eta], "std": [float(std[i]) for i in phi + eta],
            "flag_mean": [float(mean[f]) if f >= 0 else 0.0 for f in [flag_of[columns[i]] for i in phi + eta]],
            "flag_std": [float(std[f]) if f >= 0 else 1.0 for f in [flag_of[columns[i]] for i in phi + eta]]}


def rotate_reflect(arrays: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Augment a batch of standardised challenge features (``arrays["features"]``, a torch tensor
    (B, F)) by the symmetries of a collision event: every azimuth turned by one random angle per
    event, and with probability 1/2 the event reflected (phi -> -phi, eta -> -eta for every object).
    The derived features depend on angle differences, |Delta eta| and eta products only and are
    left as they are; undefined entries (an absent jet: 0) stay 0. The augmentation of the winning
    Higgs-challenge networks (G. Melis, 2014; Adam-Bourdarios et al., JMLR W&CP 42 (2015) 19).
    """
    import torch

    x = arrays["features"]
    out = x.clone()
    n = x.shape[0]
    cols = settings["phi"] + settings["eta"]
    flags = settings["phi_flag"] + settings["eta_flag"]
    mean = torch.tensor(settings["mean"], dtype=x.dtype, device=x.device)
    std = torch.tensor(settings["std"], dtype=x.dtype, device=x.device)
    raw = x[:, cols] * std + mean
    # an object is defined when its flag column (standardised 0/1) is above the midpoint, or always
    defined = torch.ones_like(raw, dtype=torch.bool)
    for k, f in enumerate(flags):
        if f >= 0:
            defined[:, k] = x[:, f] * settings["flag_std"][k] + settings["flag_mean"][k] > 0.5
    n_phi = len(settings["phi"])
    turn = (torch.rand(n, 1, dtype=x.dtype, device=x.device) * 2 - 1) * math.pi
    sign = torch.where(torch.rand(n, 1, device=x.device) < 0.5, -1.0, 1.0).to(x.dtype)
    phi = torch.remainder(raw[:, :n_phi] + turn + math.pi, 2 * math.pi) - math.pi
    new = torch.cat([sign * phi, sign * raw[:, n_phi:]], dim=1)
    out[:, cols] = torch.where(defined, (new - mean) / std, x[:, cols])
    return {**arrays, "features": out}


register_augmentation("event-rotate-reflect", rotate_reflect)
register_inputs(EventDataset, event_inputs)
