"""Jet clustering with FastJet on whole batches of events, and the per-event selection of the hardest jets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepdl._util import quiet_stdout
from hepdl.errors import ConfigError
from hepdl.kinematics import delta_r

__all__ = ["JetSelection", "PairSelection", "cluster", "hardest_jets", "paired_jets", "ALGORITHMS"]

ALGORITHMS = ("antikt", "cambridge", "kt")


@dataclass
class JetSelection:
    """Jet definition and selection.

    Parameters
    ----------
    radius
        Jet radius R.
    algorithm
        ``antikt`` (default), ``cambridge`` or ``kt``.
    pt_min, pt_max
        Window on the jet pT in GeV.
    eta_max
        Upper bound on |eta| of the jet.
    max_constituents
        Constituents stored per jet (the hardest ones, pT ordered).
    cluster_pt_min
        pT threshold of the inclusive jets handed to the selection.
    jets_per_event
        How many of each event's hardest jets are candidates (1: the leading jet only; 2: the two
        hardest, as a dijet or tt̄ event has two). Each candidate passes or fails the cuts on its own.
    """

    radius: float = 0.8
    algorithm: str = "antikt"
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    max_constituents: int = 200
    cluster_pt_min: float = 20.0
    jets_per_event: int = 1

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"unknown jet algorithm {self.algorithm!r}; known: {', '.join(ALGORITHMS)}")
        if not 0 < self.radius <= 3.0:
            raise ConfigError(f"jet radius must lie in (0, 3], got {self.radius}")
        if not (0 <= self.pt_min < self.pt_max):
            raise ConfigError(
                f"empty or inverted jet pT window: pt_min={self.pt_min} must be >= 0 and below pt_max={self.pt_max} GeV"
            )
        if not self.eta_max > 0:
            raise ConfigError(f"eta_max must be positive, got {self.eta_max}")
        if self.max_constituents < 1:
            raise ConfigError(f"max_constituents must be >= 1, got {self.max_constituents}")
        if not isinstance(self.jets_per_event, int) or self.jets_per_event < 1:
            raise ConfigError(f"jets_per_event must be an integer >= 1, got {self.jets_per_event!r}")


def _jet_definition(algorithm: str, radius: float) -> Any:
    import fastjet

    algo = {"antikt": fastjet.antikt_algorithm, "cambridge": fastjet.cambridge_algorithm, "kt": fastjet.kt_algorithm}
    return fastjet.JetDefinition(algo[algorithm], radius)


def _cluster_unsorted(objects: ak.Array, radius: float, algorithm: str, pt_min: float) -> tuple[ak.Array, ak.Array]:
    import fastjet

    inputs = ak.zip({"px": objects.px, "py": objects.py, "pz": objects.pz, "E": objects.e}, with_name="Momentum4D")
    with quiet_stdout():  # FastJet prints its banner on first use
        seq = fastjet.ClusterSequence(inputs, _jet_definition(algorithm, radius))
        jets = seq.inclusive_jets(min_pt=pt_min)
        index = seq.constituent_index(min_pt=pt_min)
    return ak.zip({"px": jets.px, "py": jets.py, "pz": jets.pz, "e": jets.E}), index


def cluster(objects: ak.Array, radius: float = 0.8, algorithm: str = "antikt", pt_min: float = 20.0) -> tuple[ak.Array, ak.Array]:
    """Cluster every event of ``objects`` in one FastJet call.

    Parameters
    ----------
    objects
        ``n_events * var * {px, py, pz, e, ...}``.

    Returns
    -------
    jets
        ``n_events * var * {px, py, pz, e}``, pT ordered (hardest first), pT > ``pt_min``.
    constituents
        ``n_events * var * var * int``: for each jet the indices of its objects in ``objects``.
    """
    jets, index = _cluster_unsorted(objects, radius, algorithm, pt_min)
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)
    return jets[order], index[order]


def hardest_jets(objects: ak.Array, selection: JetSelection) -> dict[str, Any]:
    """Cluster, take the ``selection.jets_per_event`` hardest jets of each event as candidates, and
    report which candidates pass the window.

    Candidates are event-major: candidate ``c`` is the ``c % k``-th hardest jet (``rank``) of event
    ``c // k`` (``event``), ``k = jets_per_event``; a candidate an event lacks (fewer jets) fails
    ``has_jet``. Returns a dict of arrays of length ``n_events * k``: ``event``, ``rank``,
    ``constituents`` (the candidate's objects, pT ordered, at most ``max_constituents``), ``pt``,
    ``eta``, ``phi``, ``m``, ``e`` (NaN without a jet), and the cut masks ``has_jet``, ``eta_ok``,
    ``pt_ok``.
    """
    k = selection.jets_per_event
    n = len(objects)
    jets, index = _cluster_unsorted(objects, selection.radius, selection.algorithm, selection.cluster_pt_min)
    order = ak.argsort(jets.px**2 + jets.py**2, axis=1, ascending=False)[:, :k]
    top = ak.pad_none(jets[order], k, axis=1, clip=True)
    top_index = ak.pad_none(index[order], k, axis=1, clip=True)
    flat = ak.flatten(top, axis=1)  # n * k option records, event-major
    has_jet = ~ak.to_numpy(ak.is_none(flat))
    px, py, pz, e = (ak.to_numpy(ak.fill_none(flat[f], np.nan)) for f in ("px", "py", "pz", "e"))
    pt = np.hypot(px, py)
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    m = np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0, None))
    event = np.repeat(np.arange(n), k)
    cand_index = ak.fill_none(ak.flatten(top_index, axis=1), [], axis=0)
    cons = (objects[event] if k > 1 else objects)[cand_index]
    cons_pt = np.hypot(cons.px, cons.py)
    cons = cons[ak.argsort(cons_pt, axis=1, ascending=False)][:, : selection.max_constituents]
    with np.errstate(invalid="ignore"):
        eta_ok = has_jet & (np.abs(eta) < selection.eta_max)
        pt_ok = has_jet & (pt >= selection.pt_min) & (pt < selection.pt_max)
    return {
        "event": event, "rank": np.tile(np.arange(k), n),
        "constituents": cons,
        "pt": pt, "eta": eta, "phi": phi, "m": m, "e": e,
        "has_jet": has_jet, "eta_ok": eta_ok, "pt_ok": pt_ok,
    }


@dataclass
class PairSelection:
    """The leading jet of each event at particle level and at detector level, and their matching:
    the pairs an unfolding learns from (OmniFold, arXiv:1911.09107, uses R = 0.4 jets of Z + jet events).

    Each level's leading jet passes on its own if it lies in the pT window and within |eta| <
    ``eta_max``. The two are *matched* when both pass and lie within ``match_radius`` (default R/2)
    of each other. A passing particle-level jet without a matched detector-level jet is a *miss*
    (an inefficiency), a passing detector-level jet without a matched particle-level jet a *fake*;
    an event is kept when either level passes.

    Parameters
    ----------
    radius, algorithm, cluster_pt_min, max_constituents
        The jet definition at both levels, as in :class:`JetSelection`.
    pt_min, pt_max, eta_max
        The window each level's leading jet must pass (GeV).
    match_radius
        Largest Delta R between the particle- and detector-level jets of a matched pair (None: R/2).
    """

    radius: float = 0.4
    algorithm: str = "antikt"
    pt_min: float = 200.0
    pt_max: float = 1000.0
    eta_max: float = 2.0
    max_constituents: int = 150
    cluster_pt_min: float = 20.0
    match_radius: float | None = None

    def __post_init__(self) -> None:
        self.level()  # the jet definition and window are JetSelection's, checked there
        if self.match_radius is not None and not 0 < self.match_radius <= self.radius:
            raise ConfigError(f"match_radius must lie in (0, radius={self.radius}], got {self.match_radius}")

    @property
    def max_dr(self) -> float:
        """Delta R below which the two levels' jets are a pair."""
        return self.radius / 2 if self.match_radius is None else float(self.match_radius)

    def level(self) -> JetSelection:
        """The selection of one level's leading jet."""
        return JetSelection(radius=self.radius, algorithm=self.algorithm, pt_min=self.pt_min, pt_max=self.pt_max,
                            eta_max=self.eta_max, max_constituents=self.max_constituents,
                            cluster_pt_min=self.cluster_pt_min, jets_per_event=1)


def paired_jets(particles: ak.Array, objects: ak.Array, selection: PairSelection) -> dict[str, Any]:
    """Leading jets at particle level (``particles``: the visible final state) and detector level
    (``objects``: the detector's energy-flow objects) of every event, and their matching.

    Returns ``{"gen": ..., "reco": ...}`` (each :func:`hardest_jets`' dict for one jet per event)
    and arrays of length ``n_events``: ``gen_pass``, ``reco_pass`` (the level's leading jet passes the
    window), ``dr`` (Delta R of the two leading jets, NaN without both), ``matched``
    (both pass and ``dr`` < :attr:`PairSelection.max_dr`).
    """
    level = selection.level()
    gen, reco = hardest_jets(particles, level), hardest_jets(objects, level)
    gen_pass, reco_pass = gen["pt_ok"] & gen["eta_ok"], reco["pt_ok"] & reco["eta_ok"]
    with np.errstate(invalid="ignore"):
        dr = np.where(gen["has_jet"] & reco["has_jet"], delta_r(gen["eta"], gen["phi"], reco["eta"], reco["phi"]), np.nan)
        matched = gen_pass & reco_pass & (dr < selection.max_dr)
    return {"gen": gen, "reco": reco, "gen_pass": gen_pass, "reco_pass": reco_pass, "dr": dr, "matched": matched}
