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


def hadronic_tops(record: ak.Array) -> dict[str, np.ndarray]:
    """The top quark and anti-quark of each event and their decay quarks.

    A top's decay products are found through status codes: the first W copy (status -22) whose
    mother is a top marks that top's last copy (its momentum before decay); the b quark is the
    status -23 daughter of the top; the W's quarks are the status -23 daughters of the last W copy,
    assigned to the top of the same charge sign.

    Parameters
    ----------
    record
        ``n_events * var * particle`` Pythia event records (``nextBatch().prt``).

    Returns
    -------
    dict
        Arrays of shape ``(n_events, 2)`` (index 0: top, 1: anti-top): ``top_pt, top_eta, top_phi,
        top_m`` and ``eta``/``phi`` of the decay quarks with shape ``(n_events, 2, 3)``
        (``quark_eta``, ``quark_phi``), and ``hadronic`` (bool, both W quarks found). NaN where a
        top is absent.
    """
    pid, status, m1 = record.id, record.status, record.mother1
    mother_id = pid[m1]
    n = len(record)
    out_shape = (n, 2)
    res = {k: np.full(out_shape, np.nan) for k in ("top_pt", "top_eta", "top_phi", "top_m")}
    q_eta = np.full((n, 2, 3), np.nan)
    q_phi = np.full((n, 2, 3), np.nan)
    hadronic = np.zeros(out_shape, dtype=bool)
    for k, sign in enumerate((1, -1)):
        w_first = (pid == 24 * sign) & (status == -22) & (mother_id == 6 * sign)
        top_idx = ak.firsts(m1[w_first])
        has_top = ~ak.to_numpy(ak.is_none(top_idx))
        ti = ak.to_numpy(ak.fill_none(top_idx, 0))
        ev = np.nonzero(has_top)[0]
        p = record.p
        tpx = ak.to_numpy(p.px[ev, ti[ev]]) if len(ev) else np.zeros(0)
        tpy = ak.to_numpy(p.py[ev, ti[ev]]) if len(ev) else np.zeros(0)
        tpz = ak.to_numpy(p.pz[ev, ti[ev]]) if len(ev) else np.zeros(0)
        te = ak.to_numpy(p.e[ev, ti[ev]]) if len(ev) else np.zeros(0)
        res["top_pt"][ev, k] = np.hypot(tpx, tpy)
        res["top_eta"][ev, k], res["top_phi"][ev, k] = _eta_phi(tpx, tpy, tpz)
        res["top_m"][ev, k] = np.sqrt(np.clip(te**2 - tpx**2 - tpy**2 - tpz**2, 0, None))
        b_sel = (pid == 5 * sign) & (status == -23) & (mother_id == 6 * sign)
        q_sel = (abs(pid) <= 5) & (status == -23) & (mother_id == 24 * sign)
        for j, sel, slots in ((0, b_sel, 1), (1, q_sel, 2)):
            cand = p[sel]
            padded = ak.pad_none(cand, slots, clip=True)
            for s in range(slots):
                c = padded[:, s]
                present = ~ak.to_numpy(ak.is_none(c))
                cpx = ak.to_numpy(ak.fill_none(c.px, 0.0))
                cpy = ak.to_numpy(ak.fill_none(c.py, 0.0))
                cpz = ak.to_numpy(ak.fill_none(c.pz, 0.0))
                eta, phi = _eta_phi(cpx, cpy, cpz)
                q_eta[present, k, j + s] = eta[present]
                q_phi[present, k, j + s] = phi[present]
        hadronic[:, k] = has_top & np.all(np.isfinite(q_eta[:, k, :]), axis=1)
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
