"""Expert jet observables, vectorised across jets (numba kernels for the clustering-based ones).

Every function takes ``jets``: an awkward array of jet records with ``constituents`` (hepdl's
schema, from :func:`hepdl.data.open`) or of the constituents themselves (``pt, eta, phi, e``), and
returns numpy arrays of shape ``(n_jets,)`` (or ``(n_jets, k)``). Angles are rapidity-azimuth
distances; momentum fractions are z_i = pT_i / sum_j pT_j over the jet's constituents.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepdl.errors import ConfigError
from hepdl.features import _kernels as K
from hepdl.features._arrays import FlatJets, flat_jets
from hepdl.kinematics import delta_phi, pt_eta_phi

__all__ = [
    "jet_kinematics",
    "multiplicity",
    "ptd",
    "girth",
    "zlogz",
    "soft_drop",
    "nsubjettiness",
    "energy_correlations",
    "ecf_ratios",
    "exclusive_subjets",
    "HLS4ML_FEATURES",
    "hls4ml_features",
]

#: The 16 inputs of the hls4ml jet-tagging benchmark (arXiv:1804.06913), in its order.
HLS4ML_FEATURES = (
    "zlogz", "c1_b0", "c1_b1", "c1_b2", "c2_b1", "c2_b2", "d2_b1", "d2_b2", "d2_a1_b1", "d2_a1_b2",
    "m2_b1", "m2_b2", "n2_b1", "n2_b2", "mass_mmdt", "multiplicity",
)


def _flat(jets: ak.Array | FlatJets) -> FlatJets:
    return jets if isinstance(jets, FlatJets) else flat_jets(jets)


def jet_kinematics(jets: ak.Array | FlatJets) -> dict[str, np.ndarray]:
    """Jet ``pt, eta, phi, mass, e`` from the sum of the constituents (E-scheme)."""
    f = _flat(jets)
    px, py, pz, e = (f.jet_sum(a) for a in (f.px, f.py, f.pz, f.e))
    pt, eta, phi = pt_eta_phi(px, py, pz)
    return {
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0, None)),
        "e": e,
    }


def multiplicity(jets: ak.Array | FlatJets) -> np.ndarray:
    """Number of constituents."""
    return _flat(jets).counts.astype(np.float64)


def ptd(jets: ak.Array | FlatJets) -> np.ndarray:
    """p_T^D = sqrt(sum pT_i^2) / sum pT_i (CMS quark/gluon discrimination, arXiv:1307.5218 uses it)."""
    f = _flat(jets)
    s = f.jet_sum(f.pt)
    return np.sqrt(f.jet_sum(f.pt**2)) / np.where(s > 0, s, 1.0)


def _axis(f: FlatJets) -> tuple[np.ndarray, np.ndarray]:
    px, py, pz, e = (f.jet_sum(a) for a in (f.px, f.py, f.pz, f.e))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 0.5 * np.log((e + pz) / (e - pz))
    return np.nan_to_num(y), np.arctan2(py, px)


def _dr_to_axis(f: FlatJets) -> np.ndarray:
    y, phi = _axis(f)
    dphi = delta_phi(f.phi, phi[f.jet_index])
    return np.hypot(f.rap - y[f.jet_index], dphi)


def girth(jets: ak.Array | FlatJets) -> np.ndarray:
    """Girth (linear radial moment) g = sum_i pT_i dR(i, jet) / pT_jet (arXiv:1106.3076)."""
    f = _flat(jets)
    s = f.jet_sum(f.pt)
    return f.jet_sum(f.pt * _dr_to_axis(f)) / np.where(s > 0, s, 1.0)


def zlogz(jets: ak.Array | FlatJets) -> np.ndarray:
    """sum_i z_i log z_i, z_i = pT_i / sum pT (the hls4ml benchmark's ``zlogz``)."""
    f = _flat(jets)
    s = f.jet_sum(f.pt)
    z = f.pt / np.where(s > 0, s, 1.0)[f.jet_index]
    return f.jet_sum(np.where(z > 0, z * np.log(np.where(z > 0, z, 1.0)), 0.0))


def soft_drop(jets: ak.Array | FlatJets, beta: float = 0.0, z_cut: float = 0.1, r0: float = 0.8) -> dict[str, np.ndarray]:
    """Soft-drop grooming (Larkoski, Marzani, Soyez, Thaler, arXiv:1402.2657).

    The constituents are reclustered with Cambridge/Aachen (our own pairwise clustering, E-scheme);
    the tree is declustered from the top, dropping the softer branch until
    min(pT1, pT2) / (pT1 + pT2) > z_cut (dR12 / r0)^beta. With beta = 0 this is the modified
    mass-drop tagger (mMDT, arXiv:1307.0007) without its mass-drop condition.

    Returns
    -------
    dict
        ``mass``, ``pt``, ``eta``, ``phi`` of the groomed jet, ``z_g`` and ``r_g`` of the
        splitting that passed (0 when none did), each of shape ``(n_jets,)``.
    """
    if z_cut < 0 or beta < 0 or r0 <= 0:
        raise ConfigError(f"soft drop needs z_cut >= 0, beta >= 0, r0 > 0; got z_cut={z_cut}, beta={beta}, r0={r0}")
    f = _flat(jets)
    out = K.soft_drop_kernel(f.px, f.py, f.pz, f.e, f.offsets, float(beta), float(z_cut), float(r0))
    px, py, pz, e = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
    pt, eta, phi = pt_eta_phi(px, py, pz)
    return {
        "mass": np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0, None)),
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "z_g": out[:, 4],
        "r_g": out[:, 5],
    }


def nsubjettiness(jets: ak.Array | FlatJets, n_max: int = 4, beta: float = 1.0, r0: float = 0.8) -> np.ndarray:
    """N-subjettiness tau_1 ... tau_{n_max} (Thaler, Van Tilburg, arXiv:1011.2268).

    tau_N = sum_i pT_i min_k dR(i, a_k)^beta / (sum_i pT_i r0^beta), with the axes a_k the exclusive
    kT subjets (pairwise kT clustering to N pseudo-jets, E-scheme). tau_N = 0 for jets with at most
    N constituents.

    Returns
    -------
    np.ndarray
        Shape ``(n_jets, n_max)``; column N-1 is tau_N.
    """
    if n_max < 1 or beta <= 0 or r0 <= 0:
        raise ConfigError(f"N-subjettiness needs n_max >= 1, beta > 0, r0 > 0; got {n_max}, {beta}, {r0}")
    f = _flat(jets)
    return K.nsubjettiness_kernel(f.px, f.py, f.pz, f.e, f.offsets, int(n_max), float(beta), float(r0))


def exclusive_subjets(jets: ak.Array | FlatJets, n_sub: int = 3) -> np.ndarray:
    """The ``n_sub`` exclusive kT subjets of each jet, pT ordered: shape ``(n_jets, n_sub, 4)`` (px, py, pz, e)."""
    f = _flat(jets)
    return K.exclusive_subjets_kernel(f.px, f.py, f.pz, f.e, f.offsets, int(n_sub))


def energy_correlations(jets: ak.Array | FlatJets, betas: tuple[float, ...] = (1.0, 2.0)) -> dict[str, np.ndarray]:
    """Energy correlation functions (arXiv:1305.0007) and generalised ECFs (arXiv:1609.07483).

    For each beta: ``e2_b{beta}`` = sum_{i<j} z_i z_j dR_ij^beta, ``e3_b{beta}`` = sum_{i<j<k}
    z_i z_j z_k (dR_ij dR_ik dR_jk)^beta, ``1e3_b{beta}`` (the smallest of the three angles) and
    ``2e3_b{beta}`` (the product of the two smallest). Keys use the integer beta when it is one.
    """
    f = _flat(jets)
    out = K.ecf_kernel(f.pt, f.rap, f.phi, f.offsets, np.asarray(betas, dtype=np.float64))
    res = {}
    for b, beta in enumerate(betas):
        tag = f"b{int(beta)}" if float(beta).is_integer() else f"b{beta}"
        res[f"e2_{tag}"], res[f"e3_{tag}"], res[f"1e3_{tag}"], res[f"2e3_{tag}"] = (out[:, b, k] for k in range(4))
    return res


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def ecf_ratios(ecf: dict[str, np.ndarray], betas: tuple[int, ...] = (1, 2)) -> dict[str, np.ndarray]:
    """C2 = e3/e2^2, D2 = e3/e2^3 (arXiv:1409.6298), D2^(alpha=1, beta) = e3^(1) / (e2^(beta))^(3/beta),
    N2 = 2e3/e2^2 and M2 = 1e3/e2 (arXiv:1609.07483), from :func:`energy_correlations` output (which
    must include beta = 1)."""
    out = {}
    for b in betas:
        e2, e3 = ecf[f"e2_b{b}"], ecf[f"e3_b{b}"]
        out[f"c1_b{b}"] = e2
        out[f"c2_b{b}"] = _safe_div(e3, e2**2)
        out[f"d2_b{b}"] = _safe_div(e3, e2**3)
        out[f"d2_a1_b{b}"] = _safe_div(ecf["e3_b1"], e2 ** (3.0 / b))
        out[f"n2_b{b}"] = _safe_div(ecf[f"2e3_b{b}"], e2**2)
        out[f"m2_b{b}"] = _safe_div(ecf[f"1e3_b{b}"], e2)
    return out


def hls4ml_features(jets: ak.Array | FlatJets) -> dict[str, np.ndarray]:
    """The 16 high-level inputs of the hls4ml jet tagger (Duarte et al., arXiv:1804.06913).

    ``c1_b0`` = e2 at beta = 0 = sum_{i<j} z_i z_j; ``mass_mmdt`` is the soft-drop mass with beta = 0,
    z_cut = 0.1 (mMDT). Keys in the order of :data:`HLS4ML_FEATURES`.
    """
    f = _flat(jets)
    ecf = energy_correlations(f, (1.0, 2.0))
    ratios = ecf_ratios(ecf)
    z2 = f.jet_sum((f.pt / np.maximum(f.jet_sum(f.pt), 1e-300)[f.jet_index]) ** 2)
    values = dict(ratios)
    values["c1_b0"] = 0.5 * (1.0 - z2) * (f.counts > 0)
    values["zlogz"] = zlogz(f)
    values["mass_mmdt"] = soft_drop(f, beta=0.0, z_cut=0.1)["mass"]
    values["multiplicity"] = multiplicity(f)
    return {k: values[k] for k in HLS4ML_FEATURES}
