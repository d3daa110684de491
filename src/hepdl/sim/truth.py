"""Truth information from the Pythia event record, for labels.

Top matching follows the recipe of the top-tagging comparison (Kasieczka et al., "The Machine
Learning Landscape of Top Taggers", arXiv:1902.09914): a jet is a top jet when a hadronically
decaying top quark and all three of its decay quarks (b, and the two quarks of the W) lie within
Delta R < R of the jet axis.

The same idea labels the other jet classes (the hls4ml jet-tagging benchmark, arXiv:1804.06913):
a W or Z jet holds the boson and both of its decay quarks; a gluon or light-quark jet is matched to
the nearest outgoing parton of the hard 2 -> 2 process within R, and takes that parton's flavour.
:func:`match_jets` applies a matcher by name.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepdl import kinematics
from hepdl.kinematics import pt_eta_phi

__all__ = ["hadronic_tops", "delta_r", "match_top", "boson_decays", "hard_partons", "match_jets", "MATCHERS", "tau_truth"]

#: Truth matchers known to :func:`match_jets`, name -> one line for humans.
MATCHERS: dict[str, str] = {
    "none": "no truth requirement",
    "top": "hadronic top + b, q, q' within R",
    "w": "hadronic W + both quarks within R",
    "z": "hadronic Z + both quarks within R",
    "gluon": "nearest hard parton within R is a gluon",
    "light-quark": "nearest hard parton within R is a u, d or s quark",
}


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    """Delta R = sqrt(Delta eta^2 + Delta phi^2), Delta phi wrapped into [-pi, pi).

    Takes numpy arrays (or sequences) or awkward arrays, which broadcast as awkward does (a per-event
    value against a per-object list)."""
    eta1, phi1, eta2, phi2 = (a if isinstance(a, ak.Array) else np.asarray(a) for a in (eta1, phi1, eta2, phi2))
    return kinematics.delta_r(eta1, phi1, eta2, phi2)


def _eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return pt_eta_phi(px, py, pz)[1:]


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


def _flat(record: ak.Array) -> dict[str, np.ndarray]:
    """Flat columns of a batch of event records, with mothers as flat indices."""
    n = len(record)
    counts = ak.to_numpy(ak.num(record))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    event = np.repeat(np.arange(n), counts)
    pid = ak.to_numpy(ak.flatten(record.id)).astype(np.int64)
    local_mother = ak.to_numpy(ak.flatten(record.mother1)).astype(np.int64)
    mother = local_mother + offsets[event]
    p = record.p
    px, py, pz, e = (ak.to_numpy(ak.flatten(getattr(p, f))) for f in ("px", "py", "pz", "e"))
    return {"n": np.asarray(n), "event": event, "pid": pid, "status": ak.to_numpy(ak.flatten(record.status)),
            "mother": mother, "local_mother": local_mother, "mother_id": pid[mother], "px": px, "py": py, "pz": pz, "e": e}


def _kinematics(f: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    ok = idx >= 0
    i = np.where(ok, idx, 0)
    qx, qy, qz, qe = f["px"][i], f["py"][i], f["pz"][i], f["e"][i]
    pt = np.hypot(qx, qy)
    eta, phi = _eta_phi(qx, qy, qz)
    m = np.sqrt(np.clip(qe**2 - qx**2 - qy**2 - qz**2, 0, None))
    nan = np.where(ok, 1.0, np.nan)
    return {"pt": pt * nan, "eta": eta * nan, "phi": phi * nan, "m": m * nan}


def boson_decays(record: ak.Array, pdg: int) -> dict[str, np.ndarray]:
    """The hadronically decaying boson ``|id| == pdg`` (24: W, 23: Z) of each event and its two quarks.

    The decay quarks are the status -23 quarks whose mother is the boson; that mother is the
    boson's last copy, whose momentum is the one after initial-state recoils. Vectorised over the
    flat record.

    Returns
    -------
    dict
        ``pt, eta, phi, m`` of the boson, shape ``(n_events,)``; ``quark_eta, quark_phi`` with shape
        ``(n_events, 2)``; ``found`` (bool, boson and two quarks present). NaN where absent.
    """
    f = _flat(record)
    n = int(f["n"])
    q = np.nonzero((np.abs(f["pid"]) <= 5) & (f["status"] == -23) & (np.abs(f["mother_id"]) == pdg))[0]
    quarks = _first_per_event(f["event"][q], q, n, 2)
    boson = np.where(quarks[:, 0] >= 0, f["mother"][np.maximum(quarks[:, 0], 0)], -1)
    out = _kinematics(f, boson)
    qk = _kinematics(f, quarks)
    out["quark_eta"], out["quark_phi"] = qk["eta"], qk["phi"]
    out["found"] = np.all(quarks >= 0, axis=1)
    return out


def hard_partons(record: ak.Array) -> dict[str, np.ndarray]:
    """The two outgoing partons of the hard 2 -> 2 process (status -23, daughters of record entry 3).

    Returns ``pid``, ``pt``, ``eta``, ``phi``, ``m`` with shape ``(n_events, 2)`` (pid 0 and NaN where
    an event has fewer; a boson + parton process has one parton).
    """
    f = _flat(record)
    n = int(f["n"])
    parton = (f["status"] == -23) & (f["local_mother"] == 3) & ((np.abs(f["pid"]) <= 6) | (f["pid"] == 21))
    idx = np.nonzero(parton)[0]
    slots = _first_per_event(f["event"][idx], idx, n, 2)
    out = _kinematics(f, slots)
    out["pid"] = np.where(slots >= 0, f["pid"][np.maximum(slots, 0)], 0)
    return out


def match_jets(record: ak.Array, jet_eta: np.ndarray, jet_phi: np.ndarray, matcher: str,
               radius: float, event: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Apply the truth matcher ``matcher`` (a key of :data:`MATCHERS`) to jets.

    Parameters
    ----------
    record
        ``n_events * var * particle`` Pythia records.
    jet_eta, jet_phi
        Shape ``(n_jets,)``, NaN where there is no jet.
    radius
        Matching radius (the jet radius R).
    event
        The event (row of ``record``) of each jet, shape ``(n_jets,)``; ``None``: one jet per event.
        Two jets of one event may match the same truth object (each is tested on its own).

    Returns
    -------
    ok
        Bool ``(n_jets,)``: the jet is matched.
    truth
        ``truth_pt, truth_eta, truth_phi, truth_m`` of the matched object (top, boson or parton),
        NaN where unmatched; ``truth_pid`` (0 where unmatched).
    """
    from hepdl.errors import ConfigError

    if matcher not in MATCHERS:
        raise ConfigError(f"unknown truth matcher {matcher!r}; known: {', '.join(MATCHERS)}")
    n = len(jet_eta)
    truth = {f"truth_{k}": np.full(n, np.nan) for k in ("pt", "eta", "phi", "m")}
    truth["truth_pid"] = np.zeros(n, dtype=np.int64)
    if matcher == "none":
        return np.ones(n, dtype=bool), truth
    je, jp = np.asarray(jet_eta), np.asarray(jet_phi)
    rows = np.arange(n)
    ev = np.arange(n) if event is None else np.asarray(event)
    if len(ev) != n:
        raise ValueError(f"event has {len(ev)} entries for {n} jets")

    def per_jet(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: np.asarray(v)[ev] for k, v in d.items()}

    with np.errstate(invalid="ignore"):
        if matcher == "top":
            tops = per_jet(hadronic_tops(record))
            which = match_top(je, jp, tops, radius)
            ok = which >= 0
            w = np.maximum(which, 0)
            obj = {k: tops[f"top_{k}"][rows, w] for k in ("pt", "eta", "phi", "m")}
            pid = np.where(w == 0, 6, -6)
        elif matcher in ("w", "z"):
            b = per_jet(boson_decays(record, 24 if matcher == "w" else 23))
            near_b = delta_r(je, jp, b["eta"], b["phi"]) < radius
            near_q = np.all(delta_r(je[:, None], jp[:, None], b["quark_eta"], b["quark_phi"]) < radius, axis=1)
            ok = b["found"] & near_b & near_q
            obj = {k: b[k] for k in ("pt", "eta", "phi", "m")}
            pid = np.full(n, 24 if matcher == "w" else 23)
        else:
            p = per_jet(hard_partons(record))
            dr = delta_r(je[:, None], jp[:, None], p["eta"], p["phi"])
            dr = np.where(np.isfinite(dr), dr, np.inf)
            w = np.argmin(dr, axis=1)
            near = dr[rows, w] < radius
            flav = p["pid"][rows, w]
            ok = near & ((flav == 21) if matcher == "gluon" else np.isin(np.abs(flav), (1, 2, 3)))
            obj = {k: p[k][rows, w] for k in ("pt", "eta", "phi", "m")}
            pid = flav
    for k, v in obj.items():
        truth[f"truth_{k}"] = np.where(ok, v, np.nan)
    truth["truth_pid"] = np.where(ok, pid, 0).astype(np.int64)
    return ok, truth


def tau_truth(record: ak.Array, vis_pt_min: float = 10.0) -> dict[str, Any]:
    """Truth of tau leptons and neutrinos, for tau-ID matching and for the missing-mass calculation.

    A tau's *last copy* is a |id| = 15 entry whose first daughter is not a tau (its decay products);
    its neutrinos are the neutrinos whose mother is that copy, and its visible momentum is the tau
    momentum minus theirs. A tau is hadronic when no electron or muon is among its daughters.
    Vectorised over the flat record.

    Returns
    -------
    dict
        ``had_eta``, ``had_phi``, ``had_pt`` (``n_events * var``: visible hadronic taus with visible
        pT > ``vis_pt_min``); ``met_x``, ``met_y`` (``(n_events,)``: the summed pT of all final-state
        neutrinos, the "true" missing transverse momentum); ``m_tautau`` (``(n_events,)``: the mass of
        the boson, H or Z/gamma*, that decays to the tau pair; NaN without one).
    """
    f = _flat(record)
    n = int(f["n"])
    counts = np.bincount(f["event"], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    pid, status = f["pid"], f["status"]
    d1 = ak.to_numpy(ak.flatten(record.daughter1)).astype(np.int64)
    has_d = d1 > 0
    d1g = np.where(has_d, d1 + offsets[f["event"]], 0)
    apid = np.abs(pid)
    last_tau = (apid == 15) & has_d & (apid[d1g] != 15)
    neutrino = np.isin(apid, (12, 14, 16))
    from_tau = last_tau[f["mother"]] & (f["local_mother"] > 0)
    # visible momentum = tau - its neutrinos; leptonic taus have an e or mu daughter
    nu_tau = neutrino & from_tau
    vis = {k: f[k].copy() for k in ("px", "py", "pz", "e")}
    for k in vis:
        np.subtract.at(vis[k], f["mother"][nu_tau], f[k][nu_tau])
    leptonic = np.zeros(len(pid), dtype=bool)
    leptonic[f["mother"][from_tau & np.isin(apid, (11, 13))]] = True
    had = np.nonzero(last_tau & ~leptonic)[0]
    vpt = np.hypot(vis["px"][had], vis["py"][had])
    eta, phi = _eta_phi(vis["px"][had], vis["py"][had], vis["pz"][had])
    keep = vpt > vis_pt_min
    had, vpt, eta, phi = had[keep], vpt[keep], eta[keep], phi[keep]
    n_had = np.bincount(f["event"][had], minlength=n)
    final_nu = neutrino & (status > 0)
    met_x = np.bincount(f["event"][final_nu], weights=f["px"][final_nu], minlength=n)
    met_y = np.bincount(f["event"][final_nu], weights=f["py"][final_nu], minlength=n)
    boson = np.isin(apid, (23, 25)) & has_d & (apid[d1g] == 15)
    m = np.sqrt(np.clip(f["e"] ** 2 - f["px"] ** 2 - f["py"] ** 2 - f["pz"] ** 2, 0, None))
    m_tt = np.full(n, np.nan)
    m_tt[f["event"][boson]] = m[boson]
    return {
        "had_pt": ak.unflatten(vpt, n_had), "had_eta": ak.unflatten(eta, n_had), "had_phi": ak.unflatten(phi, n_had),
        "met_x": met_x, "met_y": met_y, "m_tautau": m_tt,
    }
