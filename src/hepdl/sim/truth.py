"""Truth information from the Pythia event record, for labels.

Top matching follows the recipe of the top-tagging comparison (Kasieczka et al., "The Machine
Learning Landscape of Top Taggers", arXiv:1902.09914): a jet is a top jet when a hadronically
decaying top quark and all three of its decay quarks (b, and the two quarks of the W) lie within
Delta R < R of the jet axis.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = ["hadronic_tops", "delta_r", "match_top"]


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """Delta R = sqrt(Delta eta^2 + Delta phi^2), Delta phi wrapped into [-pi, pi)."""
    dphi = (np.asarray(phi1) - np.asarray(phi2) + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi)


def _eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-12)), np.arctan2(py, px)


def _first_per_event(event: np.ndarray, index: np.ndarray, n_events: int, slots: int) -> np.ndarray:
    """For flat candidates (event number, flat index) sorted by index, the first ``slots`` per event.

    Returns an ``(n_events, slots)`` array of flat indices, -1 where an event has fewer candidates.
    """
    out = np.full((n_events, slots), -1, dtype=np.int64)
    if len(event) == 0:
        return out
    start = np.searchsorted(event, np.arange(n_events))
    rank = np.arange(len(event)) - start[event]
    keep = rank < slots
    out[event[keep], rank[keep]] = index[keep]
    return out


def hadronic_tops(record: ak.Array) -> dict[str, np.ndarray]:
    """The top quark and anti-quark of each event and their decay quarks.

    A top's decay products are found through status codes: the first W copy (status -22) whose
    mother is a top marks that top's last copy (its momentum before decay); the b quark is the
    status -23 daughter of the top; the W's quarks are the status -23 daughters of the last W copy,
    assigned to the top of the same charge sign. Works on the flattened record, no loop over events.

    Parameters
    ----------
    record
        ``n_events * var * particle`` Pythia event records (``nextBatch().prt``).

    Returns
    -------
    dict
        Arrays of shape ``(n_events, 2)`` (index 0: top, 1: anti-top): ``top_pt, top_eta, top_phi,
        top_m``; ``quark_eta``, ``quark_phi`` of the decay quarks (b, q, q') with shape
        ``(n_events, 2, 3)``; and ``hadronic`` (bool: the top and both W quarks were found). NaN
        where a top is absent.
    """
    n = len(record)
    counts = ak.to_numpy(ak.num(record))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    event = np.repeat(np.arange(n), counts)
    pid = ak.to_numpy(ak.flatten(record.id)).astype(np.int64)
    status = ak.to_numpy(ak.flatten(record.status))
    mother = ak.to_numpy(ak.flatten(record.mother1)).astype(np.int64) + offsets[event]
    mother_id = pid[mother]
    p = record.p
    px, py, pz, e = (ak.to_numpy(ak.flatten(getattr(p, f))) for f in ("px", "py", "pz", "e"))

    def kinematics(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        ok = idx >= 0
        i = np.where(ok, idx, 0)
        qx, qy, qz, qe = px[i], py[i], pz[i], e[i]
        pt = np.hypot(qx, qy)
        eta, phi = _eta_phi(qx, qy, qz)
        m = np.sqrt(np.clip(qe**2 - qx**2 - qy**2 - qz**2, 0, None))
        nan = np.where(ok, 1.0, np.nan)
        return pt * nan, eta * nan, phi * nan, m * nan

    res = {k: np.full((n, 2), np.nan) for k in ("top_pt", "top_eta", "top_phi", "top_m")}
    q_eta = np.full((n, 2, 3), np.nan)
    q_phi = np.full((n, 2, 3), np.nan)
    hadronic = np.zeros((n, 2), dtype=bool)
    for k, sign in enumerate((1, -1)):
        w_first = np.nonzero((pid == 24 * sign) & (status == -22) & (mother_id == 6 * sign))[0]
        top = _first_per_event(event[w_first], mother[w_first], n, 1)[:, 0]
        res["top_pt"][:, k], res["top_eta"][:, k], res["top_phi"][:, k], res["top_m"][:, k] = kinematics(top)
        b = np.nonzero((pid == 5 * sign) & (status == -23) & (mother_id == 6 * sign))[0]
        q = np.nonzero((np.abs(pid) <= 5) & (status == -23) & (mother_id == 24 * sign))[0]
        quarks = np.concatenate([_first_per_event(event[b], b, n, 1), _first_per_event(event[q], q, n, 2)], axis=1)
        _, q_eta[:, k, :], q_phi[:, k, :], _ = kinematics(quarks)
        hadronic[:, k] = (top >= 0) & np.all(quarks >= 0, axis=1)
    res["quark_eta"], res["quark_phi"], res["hadronic"] = q_eta, q_phi, hadronic  # type: ignore[assignment]
    return res


def match_top(jet_eta: np.ndarray, jet_phi: np.ndarray, tops: dict[str, np.ndarray], radius: float) -> np.ndarray:
    """Index (0 top, 1 anti-top) of the hadronic top matched to each jet, -1 if none.

    A match needs the top and all three decay quarks within ``radius`` of the jet axis
    (arXiv:1902.09914). ``jet_eta``/``jet_phi`` have shape ``(n_events,)`` (NaN: no jet).
    """
    je, jp = np.asarray(jet_eta)[:, None], np.asarray(jet_phi)[:, None]
    top_ok = delta_r(je, jp, tops["top_eta"], tops["top_phi"]) < radius
    quarks_ok = np.all(delta_r(je[..., None], jp[..., None], tops["quark_eta"], tops["quark_phi"]) < radius, axis=2)
    ok = top_ok & quarks_ok & tops["hadronic"]
    return np.where(ok[:, 0], 0, np.where(ok[:, 1], 1, -1))
