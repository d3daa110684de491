"""Jet clustering with FastJet on whole batches of events, and the per-event selection of the hardest jets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepdl._util import quiet_stdout
from hepdl.errors import ConfigError

__all__ = ["JetSelection", "cluster", "hardest_jets", "ALGORITHMS"]

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
