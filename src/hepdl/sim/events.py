"""Event-level reconstruction for the lepton + hadronic-tau channel of H -> tau tau, fully columnar.

From the detector's energy-flow objects (:func:`hepdl.sim.detector.simulate`) of a batch of events:

1. **Leptons**: electron and muon tracks with pT > ``lepton_pt_min`` and |eta| < ``lepton_eta_max``,
   identified with the card's efficiency (``[lepton_id]``, drawn at random per lepton) and
   isolated: the scalar pT sum of the other objects within ``isolation_radius`` is below
   ``isolation_max`` times the lepton pT. An event needs exactly one such lepton.
2. **Jets**: anti-kT R = ``jet_radius`` on every object except the selected lepton.
3. **Hadronic-tau candidate**: the hardest jet with pT > ``tau_pt_min``, |eta| < ``tau_eta_max``,
   Delta R > ``overlap_radius`` from the lepton, and 1 to 3 tracks (pT > ``track_pt_min``) inside
   ``tau_core_radius`` of its axis whose charges sum to +-1 (a narrow, low-multiplicity jet).
   The lepton and the candidate must have opposite charges.
4. **Tau identification** (the card's ``[tau_id]``): the candidate is identified with the
   efficiency for true hadronic taus (a visible hadronic tau within the card's match radius) or the
   fake rate for quark and gluon jets. The probability is stored as a per-event weight
   (``id_weight``) instead of being drawn at random: with a fake rate of 1 % a random draw would
   throw away 99 % of the W+jets events that are the background, and the weighted sample has the
   same expectation with a hundred times more events.
5. **Jets of the event**: the other jets with pT > ``jet_pt_min`` and |eta| < ``jet_eta_max``.
6. **Missing transverse momentum**: minus the vector sum of all objects; ``sumet`` their scalar sum.

This follows the preselection of the ATLAS H -> tau tau analysis behind the Higgs machine-learning
challenge (Adam-Bourdarios et al., JMLR W&CP 42 (2015) 19, and arXiv:1501.04943).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepdl import schema
from hepdl.errors import ConfigError
from hepdl.kinematics import pt_eta_phi
from hepdl.sim.detector import DetectorCard
from hepdl.sim.jets import cluster
from hepdl.sim.truth import delta_r

__all__ = ["LepHadSelection", "reconstruct_lephad", "truth_lepton_filter", "LEPHAD_STEPS"]

#: Cutflow steps of the lepton + hadronic-tau selection, in order.
LEPHAD_STEPS = ("one_lepton", "tau_candidate", "opposite_charge")


@dataclass
class LepHadSelection:
    """Settings of the lepton + hadronic-tau event selection (GeV)."""

    lepton_pt_min: float = 20.0
    lepton_eta_max: float = 2.5
    isolation_radius: float = 0.3
    isolation_max: float = 0.15
    jet_radius: float = 0.4
    tau_pt_min: float = 20.0
    tau_eta_max: float = 2.5
    tau_core_radius: float = 0.2
    track_pt_min: float = 1.0
    overlap_radius: float = 0.4
    jet_pt_min: float = 30.0
    jet_eta_max: float = 4.5
    max_jets: int = 8
    #: Generator-level filter before the detector: an event needs a final-state electron or muon with
    #: pT above this (GeV) and |eta| < lepton_eta_max + 0.2 (0 switches the filter off). The detector
    #: reconstructs leptons only from true ones with a few per cent pT resolution, so at 3/4 of the
    #: lepton cut the filter drops only events that cannot pass; the events it drops count in the
    #: cutflow and in N_generated, so the weights need no filter efficiency of their own.
    truth_lepton_pt_min: float = 15.0

    def __post_init__(self) -> None:
        for name in ("lepton_pt_min", "tau_pt_min", "jet_pt_min", "track_pt_min", "truth_lepton_pt_min"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 GeV, got {getattr(self, name)}")
        for name in ("lepton_eta_max", "tau_eta_max", "jet_eta_max", "isolation_radius", "jet_radius", "tau_core_radius",
                     "overlap_radius", "isolation_max"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.truth_lepton_pt_min > self.lepton_pt_min:
            raise ConfigError(f"truth_lepton_pt_min ({self.truth_lepton_pt_min} GeV) above lepton_pt_min ({self.lepton_pt_min} GeV) "
                              "would drop events the selection keeps; keep it at most at the lepton cut (3/4 of it by default)")
        if self.max_jets < 2:
            raise ConfigError(f"max_jets must be at least 2 (leading and subleading jet), got {self.max_jets}")


def _kin(px: Any, py: Any, pz: Any) -> tuple[Any, Any, Any]:
    return pt_eta_phi(px, py, pz)


def _first(arr: ak.Array, fill: float = np.nan) -> np.ndarray:
    return ak.to_numpy(ak.fill_none(ak.firsts(arr), fill)).astype(np.float64)


def truth_lepton_filter(particles: ak.Array, selection: LepHadSelection) -> np.ndarray:
    """Events (``(n_events,)`` bool) with a final-state electron or muon of pT >
    ``selection.truth_lepton_pt_min`` and |eta| < ``selection.lepton_eta_max + 0.2``: the generator-level
    filter of :class:`LepHadSelection`, applied before the detector. ``particles``: ``n_events * var *
    {px, py, pz, pid}`` (pile-up included: its leptons can be reconstructed too). All True when the
    filter is off."""
    n = len(particles)
    if selection.truth_lepton_pt_min <= 0:
        return np.ones(n, dtype=bool)
    apid = np.abs(particles.pid)
    pt, eta, _ = _kin(particles.px, particles.py, particles.pz)
    ok = ((apid == 11) | (apid == 13)) & (pt > selection.truth_lepton_pt_min) & (abs(eta) < selection.lepton_eta_max + 0.2)
    return ak.to_numpy(ak.any(ok, axis=1))


def reconstruct_lephad(objects: ak.Array, truth: dict[str, Any], card: DetectorCard | None, selection: LepHadSelection,
                       rng: np.random.Generator) -> dict[str, Any]:
    """Reconstruct the lepton, tau candidate, jets and missing momentum of every event of a batch.

    Parameters
    ----------
    objects
        ``n_events * var * {px, py, pz, e, charge, type}`` energy-flow objects.
    truth
        :func:`hepdl.sim.truth.tau_truth` of the same events (visible hadronic taus, true MET, m_tautau).
    card
        The detector card (its ``lepton_id`` and ``tau_id``); ``None`` (truth level) identifies every
        lepton and gives true hadronic taus probability 1, other jets 0.
    selection
        The cuts.
    rng
        Random generator for the lepton identification.

    Returns
    -------
    dict
        ``masks``: one boolean ``(n_events,)`` array per step of :data:`LEPHAD_STEPS` (each on its own,
        not cumulative); ``fields``: per-event columns (``lep_*``, ``tau_*``, ``met``, ``met_phi``,
        ``sumet``, ``jets`` (``var * {pt, eta, phi, m}``), ``id_weight``, ``truth_*``), valid where all
        masks pass.
    """
    sel = selection
    n = len(objects)
    pt, eta, phi = _kin(objects.px, objects.py, objects.pz)
    idx = ak.local_index(objects.px)
    is_lep = (objects["type"] == schema.TYPE_ELECTRON) | (objects["type"] == schema.TYPE_MUON)
    cand = is_lep & (pt > sel.lepton_pt_min) & (np.abs(eta) < sel.lepton_eta_max)
    # identification, at random per lepton
    flat_cand = ak.to_numpy(ak.flatten(cand))
    flat_type = ak.to_numpy(ak.flatten(objects["type"]))
    flat_pt, flat_aeta = ak.to_numpy(ak.flatten(pt)), np.abs(ak.to_numpy(ak.flatten(eta)))
    eff = np.ones(len(flat_cand))
    if card is not None and card.lepton_id is not None:
        for t, table in ((schema.TYPE_ELECTRON, card.lepton_id.electron), (schema.TYPE_MUON, card.lepton_id.muon)):
            s = flat_cand & (flat_type == t)
            eff[s] = table(flat_aeta[s], flat_pt[s])
    ident = flat_cand & (rng.random(len(flat_cand)) < eff)
    counts = ak.to_numpy(ak.num(objects))
    lep_idx = idx[ak.unflatten(ident, counts)]
    # isolation: scalar pT of the other objects within the cone
    kin = ak.zip({"i": idx, "pt": pt, "eta": eta, "phi": phi})
    a, b = ak.unzip(ak.cartesian([kin[lep_idx], kin], nested=True))
    dr = delta_r(a.eta, a.phi, b.eta, b.phi)
    cone = ak.sum(ak.where((dr < sel.isolation_radius) & (a.i != b.i), b.pt, 0.0), axis=2)
    iso_lep = lep_idx[cone < sel.isolation_max * pt[lep_idx]]
    one_lepton = ak.to_numpy(ak.num(iso_lep)) == 1
    lep = ak.fill_none(ak.firsts(iso_lep), -1)
    l_rec = objects[idx == lep]
    lep_px, lep_py, lep_pz, lep_e = (_first(l_rec[f]) for f in ("px", "py", "pz", "e"))
    lep_pt, lep_eta, lep_phi = _kin(lep_px, lep_py, lep_pz)
    lep_charge = _first(l_rec.charge, 0)
    lep_flavour = np.where(_first(l_rec["type"], -1) == schema.TYPE_ELECTRON, 11, 13)
    lep_pt, lep_eta, lep_phi = (np.where(one_lepton, a, np.nan) for a in (lep_pt, lep_eta, lep_phi))

    # jets from everything but the selected lepton
    remove = ak.to_numpy(ak.flatten(idx == lep))
    rest_counts = counts - np.bincount(np.repeat(np.arange(n), counts)[remove], minlength=n)
    rest = ak.unflatten(ak.flatten(objects)[~remove], rest_counts)
    jets, cons_index = cluster(rest, sel.jet_radius, "antikt", min(sel.tau_pt_min, sel.jet_pt_min))
    j_pt, j_eta, j_phi = _kin(jets.px, jets.py, jets.pz)
    j_m = np.sqrt(np.maximum(jets.e**2 - jets.px**2 - jets.py**2 - jets.pz**2, 0.0))
    # tau candidates: narrow jets with 1-3 core tracks of total charge +-1, away from the lepton
    offsets = ak.Array(np.concatenate([[0], np.cumsum(rest_counts)[:-1]]).astype(np.int64))
    per_jet = ak.flatten(cons_index + offsets, axis=1)  # (all jets) * var, flat object indices
    flat_cons = ak.flatten(rest)[ak.to_numpy(ak.flatten(per_jet))]
    cons = ak.unflatten(ak.unflatten(flat_cons, ak.to_numpy(ak.num(per_jet))), ak.to_numpy(ak.num(cons_index)))
    c_pt, c_eta, c_phi = _kin(cons.px, cons.py, cons.pz)
    core = (delta_r(c_eta, c_phi, j_eta, j_phi) < sel.tau_core_radius) & (cons.charge != 0) & (c_pt > sel.track_pt_min)
    prongs = ak.sum(core, axis=2)
    t_charge = ak.sum(ak.where(core, cons.charge, 0), axis=2)
    lep_eta_b = ak.Array(np.nan_to_num(lep_eta, nan=99.0))
    lep_phi_b = ak.Array(np.nan_to_num(lep_phi, nan=0.0))
    away = delta_r(j_eta, j_phi, lep_eta_b, lep_phi_b) > sel.overlap_radius
    is_cand = (j_pt > sel.tau_pt_min) & (np.abs(j_eta) < sel.tau_eta_max) & away & (prongs >= 1) & (prongs <= 3) \
        & (np.abs(t_charge) == 1)
    tau_i = ak.firsts(ak.local_index(j_pt)[is_cand])
    tau_candidate = ~ak.to_numpy(ak.is_none(tau_i))
    tau_pt, tau_eta, tau_phi, tau_m = (_first(a[is_cand]) for a in (j_pt, j_eta, j_phi, j_m))
    tau_charge = _first(t_charge[is_cand], 0)
    tau_prongs = _first(prongs[is_cand], 0)
    opposite = (lep_charge * tau_charge) < 0

    # identification probability of the candidate (stored as a weight)
    dr_true = delta_r(truth["had_eta"], truth["had_phi"], ak.Array(np.nan_to_num(tau_eta, nan=99.0)),
                      ak.Array(np.nan_to_num(tau_phi)))
    match_r = card.tau_id.match_radius if card is not None and card.tau_id is not None else 0.2
    tau_true = ak.to_numpy(ak.any(dr_true < match_r, axis=1))
    safe_pt, safe_aeta = np.nan_to_num(tau_pt), np.abs(np.nan_to_num(tau_eta))
    if card is not None and card.tau_id is not None:
        id_weight = card.tau_id.probability(safe_aeta, safe_pt, tau_true)
    else:
        id_weight = tau_true.astype(np.float64)

    # the event's jets: all others above threshold
    j_keep = (j_pt > sel.jet_pt_min) & (np.abs(j_eta) < sel.jet_eta_max) & (ak.local_index(j_pt) != ak.fill_none(tau_i, -1)) \
        & (delta_r(j_eta, j_phi, lep_eta_b, lep_phi_b) > sel.overlap_radius)
    ev_jets = ak.zip({"pt": j_pt[j_keep], "eta": j_eta[j_keep], "phi": j_phi[j_keep], "m": j_m[j_keep]})[:, : sel.max_jets]

    met_x = -ak.to_numpy(ak.sum(objects.px, axis=1))
    met_y = -ak.to_numpy(ak.sum(objects.py, axis=1))
    fields = {
        "lep_pt": lep_pt, "lep_eta": lep_eta, "lep_phi": lep_phi, "lep_e": lep_e, "lep_charge": lep_charge.astype(np.int8),
        "lep_flavour": lep_flavour.astype(np.int8),
        "tau_pt": tau_pt, "tau_eta": tau_eta, "tau_phi": tau_phi, "tau_m": tau_m, "tau_charge": tau_charge.astype(np.int8),
        "tau_prongs": tau_prongs.astype(np.int8), "tau_true": tau_true,
        "met": np.hypot(met_x, met_y), "met_phi": np.arctan2(met_y, met_x), "sumet": ak.to_numpy(ak.sum(pt, axis=1)),
        "jets": ev_jets, "id_weight": id_weight.astype(np.float64),
        "truth_met_x": truth["met_x"], "truth_met_y": truth["met_y"], "truth_m_tautau": truth["m_tautau"],
    }
    masks = {"one_lepton": one_lepton, "tau_candidate": tau_candidate, "opposite_charge": opposite}
    return {"masks": masks, "fields": fields}
