"""Names and codes shared by every layer of hepdl (the most upstream module).

A jet record, as stored in a dataset part file and as returned by every reader of
:func:`hepdl.data.open`, has these fields:

============== ===================== =====================================================
field          type                  meaning
============== ===================== =====================================================
constituents   var * record          pT-ordered constituents: ``pt, eta, phi, e`` (GeV),
                                     ``charge`` (int8), ``type`` (int8, :data:`PARTICLE_TYPES`)
jet_pt ...     float64               jet four-momentum: ``jet_pt, jet_eta, jet_phi, jet_m, jet_e``
label          int8                  class index (names in the dataset metadata)
process        string                physics process the jet came from
weight         float64               event weight
event          int64                 event number inside its part file
truth_pt ...   float64               matched truth object (``truth_pt, truth_eta, truth_phi,
                                     truth_m``), NaN when there is none
============== ===================== =====================================================
"""

from __future__ import annotations

__all__ = [
    "SCHEMA_VERSION",
    "PARTICLE_TYPES",
    "TYPE_CHARGED_HADRON",
    "TYPE_NEUTRAL_HADRON",
    "TYPE_PHOTON",
    "TYPE_ELECTRON",
    "TYPE_MUON",
    "TYPE_UNKNOWN",
    "CONSTITUENT_FIELDS",
    "JET_FIELDS",
    "TRUTH_FIELDS",
    "REQUIRED_FIELDS",
]

SCHEMA_VERSION = 1

TYPE_UNKNOWN = -1
TYPE_CHARGED_HADRON = 0
TYPE_NEUTRAL_HADRON = 1
TYPE_PHOTON = 2
TYPE_ELECTRON = 3
TYPE_MUON = 4

#: Particle-type classes of energy-flow objects, code -> name.
PARTICLE_TYPES: dict[int, str] = {
    TYPE_CHARGED_HADRON: "charged_hadron",
    TYPE_NEUTRAL_HADRON: "neutral_hadron",
    TYPE_PHOTON: "photon",
    TYPE_ELECTRON: "electron",
    TYPE_MUON: "muon",
}

CONSTITUENT_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "e", "charge", "type")
JET_FIELDS: tuple[str, ...] = ("jet_pt", "jet_eta", "jet_phi", "jet_m", "jet_e")
TRUTH_FIELDS: tuple[str, ...] = ("truth_pt", "truth_eta", "truth_phi", "truth_m")
#: Top-level fields every jet record has.
REQUIRED_FIELDS: tuple[str, ...] = ("constituents", *JET_FIELDS, "label", "process", "weight")
