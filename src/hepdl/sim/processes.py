"""Registry of named physics processes: Pythia 8 settings plus default kinematics.

Adding a process is one :func:`register_process` call with its Pythia settings strings, e.g.::

    register_process(Process("zjets-nunu", ("WeakBosonAndParton:qqbar2gmZg = on", ...), "..."))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hepdl.errors import ConfigError
from hepdl.registry import Registry

__all__ = ["Process", "ForcedDecay", "DECAY_CLASSES", "PROCESSES", "register_process", "get_process", "list_processes"]

#: Classes of decay channels a :class:`ForcedDecay` can keep: ``leptonic`` (an electron, muon or tau
#: among the products), ``hadronic`` (none of them), ``any`` (every channel).
DECAY_CLASSES = ("leptonic", "hadronic", "any")


@dataclass(frozen=True)
class ForcedDecay:
    """Keep only one class of decay channels of particle ``pid`` (``particle``) and of its antiparticle
    (``antiparticle``), each one of :data:`DECAY_CLASSES`.

    The generator sets each channel's ``onMode`` from Pythia's own decay table, so the classes need
    no channel numbers. Pythia's cross-section already holds the branching fraction of a forced
    *resonance* (W, Z, top: decayed at the process level); for any other particle (the tau, decayed
    at the hadron level) the generator multiplies the cross-section by the kept fractions of the
    particle and of the antiparticle, which is exact when every event holds one of each (Z/gamma*,
    H -> tau+ tau-). Example: ``ForcedDecay(15, "leptonic", "hadronic")`` keeps the events where the
    tau- decays to e or mu and the tau+ to hadrons, and weights them by
    B(tau -> l nu nu) x B(tau -> hadrons nu) ~ 0.35 x 0.65.
    """

    pid: int
    particle: str = "any"
    antiparticle: str = "any"

    def __post_init__(self) -> None:
        for side in ("particle", "antiparticle"):
            if getattr(self, side) not in DECAY_CLASSES:
                raise ConfigError(f"ForcedDecay({self.pid}).{side} must be one of {', '.join(DECAY_CLASSES)}, got {getattr(self, side)!r}")
        if self.pid <= 0:
            raise ConfigError(f"ForcedDecay needs the particle's positive PDG id (its antiparticle is implied), got {self.pid}")


@dataclass(frozen=True)
class Process:
    """A named physics process.

    Parameters
    ----------
    name
        Registry key, e.g. ``"ttbar-allhad"``.
    settings
        Pythia 8 settings strings that switch the process on and force its decays.
    description
        One line for humans.
    pthat_min, pthat_max
        Default window of the hard-process pT-hat in GeV (``None``: no cut). Ignored for
        processes without a pT-hat (soft QCD, s-channel resonances).
    sqrt_s
        Default centre-of-mass energy in GeV.
    decays
        Decays restricted to a class of channels (:class:`ForcedDecay`), applied after ``settings``;
        their branching fractions are in the cross-section the generator reports.
    family
        The physics process the events belong to, written into each event's ``process`` field
        (default: ``name``). Samples that split one process into decay modes or phase-space slices
        (``ztautau-lh``, ``ztautau-hl``) share a family (``ztautau``), so that reports group them.
    """

    name: str
    settings: tuple[str, ...]
    description: str
    pthat_min: float | None = None
    pthat_max: float | None = None
    sqrt_s: float = 14000.0
    tags: tuple[str, ...] = field(default_factory=tuple)
    decays: tuple[ForcedDecay, ...] = field(default_factory=tuple)
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)


PROCESSES: Registry[Process] = Registry("process")


def register_process(process: Process, *, overwrite: bool = False) -> Process:
    """Add ``process`` to the registry (an existing name is an error unless ``overwrite``)."""
    return PROCESSES.add(process.name, process, overwrite=overwrite)


def get_process(name: str) -> Process:
    """Look a process up by name; unknown names raise with the list of known ones."""
    return PROCESSES.lookup(name)


def list_processes() -> list[str]:
    """Names of all registered processes."""
    return PROCESSES.names()


_HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")

register_process(
    Process(
        "ttbar-allhad",
        ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_HADRONIC_W),
        "top-quark pairs, both W bosons decaying to quarks",
        pthat_min=500.0,
        pthat_max=750.0,
        tags=("top",),
    )
)
register_process(
    Process(
        "qcd-dijet",
        ("HardQCD:all = on",),
        "QCD 2->2 scattering (HardQCD:all)",
        pthat_min=500.0,
        pthat_max=750.0,
    )
)
register_process(
    Process(
        "minbias",
        ("SoftQCD:inelastic = on",),
        "inelastic minimum-bias events (SoftQCD:inelastic), used for pile-up",
    )
)

# --- jet classes at about 1 TeV (the hls4ml jet-tagging benchmark, arXiv:1804.06913) -------------
# Each sample is defined by its hard process; the jet's label is confirmed by truth matching
# (see hepdl.sim.truth): a gluon or light-quark jet must be matched to an outgoing hard parton of
# that flavour, a W/Z jet to the boson and both of its decay quarks, a top jet to the top and its
# three decay quarks.
_JETCLASS_PTHAT: dict[str, Any] = dict(pthat_min=850.0, pthat_max=1150.0, sqrt_s=13000.0)

register_process(
    Process(
        "qcd-gluon",
        ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
        "QCD 2->2 with two outgoing gluons (gg->gg, qqbar->gg)",
        tags=("gluon",),
        **_JETCLASS_PTHAT,
    )
)
register_process(
    Process(
        "qcd-light-quark",
        ("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"),
        "QCD 2->2 with two outgoing quarks (qq->qq, qqbar->q'qbar', light flavours)",
        tags=("quark",),
        **_JETCLASS_PTHAT,
    )
)
register_process(
    Process(
        "wjet-hadronic",
        ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_HADRONIC_W),
        "W + jet, W -> q qbar'",
        tags=("w",),
        **_JETCLASS_PTHAT,
    )
)
register_process(
    Process(
        "zjet-hadronic",
        ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
         "23:onMode = off", "23:onIfAny = 1 2 3 4 5"),
        "Z + jet (no gamma*), Z -> q qbar",
        tags=("z",),
        **_JETCLASS_PTHAT,
    )
)

# --- H -> tau tau at 8 TeV (the ATLAS Higgs machine-learning challenge, 2014) ---------------------
# Pythia decays the taus. Cross-sections are Pythia's leading-order estimates, including the
# branching fractions of the forced decays.
_HIGGS_TAUTAU = ("25:m0 = 125.0", "25:onMode = off", "25:onIfMatch = 15 -15")

register_process(
    Process(
        "ggh-tautau",
        ("HiggsSM:gg2H = on", *_HIGGS_TAUTAU),
        "gluon-fusion Higgs production, H -> tau+ tau- (m_H = 125 GeV)",
        sqrt_s=8000.0,
        tags=("signal",),
    )
)
register_process(
    Process(
        "vbf-tautau",
        ("HiggsSM:ff2Hff(t:ZZ) = on", "HiggsSM:ff2Hff(t:WW) = on", *_HIGGS_TAUTAU),
        "vector-boson-fusion Higgs production, H -> tau+ tau- (m_H = 125 GeV)",
        sqrt_s=8000.0,
        tags=("signal",),
    )
)
register_process(
    Process(
        "ztautau",
        ("WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 15", "PhaseSpace:mHatMin = 60.0"),
        "Drell-Yan Z/gamma* -> tau+ tau- (m_tautau > 60 GeV)",
        sqrt_s=8000.0,
    )
)
register_process(
    Process(
        "ttbar",
        ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
        "top-quark pairs, all decays (the lepton + tau selection keeps those with a leptonic W or tau)",
        sqrt_s=8000.0,
    )
)
register_process(
    Process(
        "wjets-lnu",
        ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", "24:onMode = off", "24:onIfAny = 11 13 15"),
        "W + jet, W -> e nu, mu nu, tau nu (pT-hat > 20 GeV)",
        pthat_min=20.0,
        sqrt_s=8000.0,
    )
)

# --- the same backgrounds and signals, simulated where they count (issue 18) ---------------------
# Only lepton + hadronic-tau final states pass the selection. Forcing the decays to them spends
# Pythia's time on events that can pass, and the forced branching fractions are in the reported
# cross-section (ForcedDecay), so the weighted yields are those of the inclusive samples; every
# trick is checked against its inclusive sample in tests/test_higgs_sampling.py. Each tau pair is
# simulated in both charge assignments (tau- leptonic and tau+ hadronic, and the reverse) so that
# the samples stay charge-symmetric.
_LH = (ForcedDecay(15, "leptonic", "hadronic"),)
_HL = (ForcedDecay(15, "hadronic", "leptonic"),)
for _name, _settings, _what in (
    ("ggh-tautau", ("HiggsSM:gg2H = on", *_HIGGS_TAUTAU), "gluon-fusion Higgs production, H -> tau+ tau-"),
    ("vbf-tautau", ("HiggsSM:ff2Hff(t:ZZ) = on", "HiggsSM:ff2Hff(t:WW) = on", *_HIGGS_TAUTAU),
     "vector-boson-fusion Higgs production, H -> tau+ tau-"),
    ("ztautau", ("WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 15", "PhaseSpace:mHatMin = 60.0"),
     "Drell-Yan Z/gamma* -> tau+ tau- (m_tautau > 60 GeV)"),
):
    _signal = ("signal",) if _name.endswith("h-tautau") else ()
    register_process(Process(f"{_name}-lh", _settings, f"{_what}; tau- -> l nu nu, tau+ -> hadrons nu (forced, weighted)",
                             sqrt_s=8000.0, tags=_signal, decays=_LH, family=_name))
    register_process(Process(f"{_name}-hl", _settings, f"{_what}; tau- -> hadrons nu, tau+ -> l nu nu (forced, weighted)",
                             sqrt_s=8000.0, tags=_signal, decays=_HL, family=_name))
# top pairs with at least one leptonic W, as two disjoint samples: W+ -> l nu with any W-, and
# W+ -> q q' with W- -> l nu (the all-hadronic 45 % of top pairs never has an isolated lepton)
_TTBAR = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on")
register_process(Process("ttbar-wplep", _TTBAR, "top pairs, W+ -> l nu (l = e, mu, tau), W- any (forced)", sqrt_s=8000.0,
                         decays=(ForcedDecay(24, "leptonic", "any"),), family="ttbar"))
register_process(Process("ttbar-wmlep", _TTBAR, "top pairs, W+ -> q q', W- -> l nu (forced)", sqrt_s=8000.0,
                         decays=(ForcedDecay(24, "hadronic", "leptonic"),), family="ttbar"))
