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
event          int64                 event number, unique within its sample (part << 32 | index in the part)
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
    "PRI_FEATURES",
    "DER_FEATURES",
    "CHALLENGE_FEATURES",
    "UNDEFINED",
    "EVENT_FIELDS",
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

#: The 17 primitive features of the Higgs machine-learning challenge (ATLAS 2014, lepton + hadronic tau).
PRI_FEATURES: tuple[str, ...] = (
    "PRI_tau_pt", "PRI_tau_eta", "PRI_tau_phi", "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi", "PRI_met", "PRI_met_phi",
    "PRI_met_sumet", "PRI_jet_num", "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi",
    "PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi", "PRI_jet_all_pt",
)
#: The 13 derived features of the challenge.
DER_FEATURES: tuple[str, ...] = (
    "DER_mass_MMC", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltaeta_jet_jet",
    "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_tau_lep", "DER_pt_tot", "DER_sum_pt",
    "DER_pt_ratio_lep_tau", "DER_met_phi_centrality", "DER_lep_eta_centrality",
)
#: The 30 features in the order of the challenge's CSV files.
CHALLENGE_FEATURES: tuple[str, ...] = DER_FEATURES + PRI_FEATURES
#: The challenge's value for an undefined feature (no jet, no MMC solution).
UNDEFINED = -999.0

#: Top-level fields of an event record of an event dataset (lepton + hadronic tau; see
#: :mod:`hepdl.sim.events`): ``lep_*``, ``tau_*``, ``met``, ``met_phi``, ``sumet``, ``jets``
#: (``var * {pt, eta, phi, m}``), ``id_weight`` (tau-identification probability), ``label``,
#: ``process``, ``sample``, ``weight`` (generator weight), ``event``, ``truth_*``.
EVENT_FIELDS: tuple[str, ...] = (
    "lep_pt", "lep_eta", "lep_phi", "lep_charge", "lep_flavour", "tau_pt", "tau_eta", "tau_phi", "tau_m", "tau_charge",
    "met", "met_phi", "sumet", "jets", "id_weight", "label", "process", "sample", "weight",
)
