"""A parametric detector in the spirit of Delphes (arXiv:1307.6346), fully columnar.

The card (``cards/atlas.toml``) takes its numbers from the Delphes ATLAS card. The chain, per batch:

1. Invisible particles (neutrinos, neutralinos) are dropped.
2. Charged particles inside the tracker acceptance are reconstructed as tracks with a
   pT- and |eta|-dependent efficiency and a log-normal relative pT smearing; muons are seen only
   as tracks.
3. Everything else that is visible (neutral particles, charged particles without a track)
   deposits its energy in ECAL and HCAL cells on an eta-phi grid, split by the card's energy
   fractions; each cell's summed energy is smeared with sqrt((cE)^2 + s^2 E + n^2) and kept above an
   energy and significance threshold, at a position drawn uniformly inside the cell.
4. The energy-flow objects are the tracks (charged hadron, electron, muon) plus the ECAL cells
   (photons) and HCAL cells (neutral hadrons), massless for the cells.

This is an idealised particle flow: a track's own calorimeter deposit is removed exactly, where
Delphes subtracts the expected deposit from the tower. With ``card=None`` (``--detector truth``)
the visible final-state particles are returned unchanged.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepdl import schema
from hepdl.config import from_dict
from hepdl.errors import ConfigError

__all__ = [
    "DetectorCard",
    "EfficiencyTable",
    "TrackResolution",
    "CaloRegion",
    "CaloResolution",
    "Calorimeter",
    "Tracking",
    "LeptonID",
    "TauID",
    "load_card",
    "known_cards",
    "simulate",
    "INVISIBLE_PIDS",
    "particle_type",
]

#: |PDG id| of particles that leave no trace: neutrinos, the lightest neutralino, gravitino.
INVISIBLE_PIDS = np.array([12, 14, 16, 1000012, 1000014, 1000016, 1000022, 1000039])

_SPECIES = ("charged_hadron", "electron", "muon")


def _check_edges(edges: list[float], what: str) -> None:
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ConfigError(f"{what}: edges must be at least two increasing numbers, got {edges}")


def _check_resolution_terms(**terms: list[float]) -> None:
    """A :class:`ConfigError` naming the key (``s``, ``a``, ...) and bin of the first resolution term
    that is negative or not finite. The caller's key path (``ecal.resolution``) is prefixed by
    :func:`hepdl.config.from_dict`."""
    for name, values in terms.items():
        v = np.asarray(values, dtype=float)
        bad = np.flatnonzero(~np.isfinite(v) | (v < 0))
        if len(bad):
            i = int(bad[0])
            raise ConfigError(f"{name}[{i}] = {values[i]!r} ({name} = {list(values)}): resolution terms must be finite and >= 0")


@dataclass
class EfficiencyTable:
    """Efficiency in bins of |eta| (rows) and pT (columns); 0 outside the table."""

    eta_edges: list[float]
    pt_edges: list[float]
    values: list[list[float]]

    def __post_init__(self) -> None:
        _check_edges(self.eta_edges, "eta_edges")
        _check_edges(self.pt_edges, "pt_edges")
        v = np.asarray(self.values, dtype=float)
        if v.shape != (len(self.eta_edges) - 1, len(self.pt_edges) - 1):
            raise ConfigError(
                f"values must have shape (len(eta_edges)-1, len(pt_edges)-1) = "
                f"({len(self.eta_edges) - 1}, {len(self.pt_edges) - 1}), got {v.shape}"
            )
        if not np.all((v >= 0) & (v <= 1)):  # also catches nan
            raise ConfigError(f"efficiencies must lie in [0, 1], got {self.values}")

    def __call__(self, abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
        v = np.asarray(self.values, dtype=float)
        i = np.searchsorted(self.eta_edges, abs_eta, side="right") - 1
        j = np.searchsorted(self.pt_edges, pt, side="right") - 1
        ok = (i >= 0) & (i < v.shape[0]) & (j >= 0) & (j < v.shape[1])
        out = np.zeros(len(abs_eta))
        out[ok] = v[i[ok], j[ok]]
        return out


@dataclass
class TrackResolution:
    """Relative track resolution sigma(pT)/pT = sqrt(a^2 + (b pT)^2) in bins of |eta|."""

    eta_edges: list[float]
    a: list[float]
    b: list[float]

    def __post_init__(self) -> None:
        _check_edges(self.eta_edges, "eta_edges")
        n = len(self.eta_edges) - 1
        if len(self.a) != n or len(self.b) != n:
            raise ConfigError(f"a and b need one value per |eta| bin ({n}), got {len(self.a)} and {len(self.b)}")
        _check_resolution_terms(a=self.a, b=self.b)

    def __call__(self, abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(self.eta_edges, abs_eta, side="right") - 1, 0, len(self.a) - 1)
        a, b = np.asarray(self.a)[i], np.asarray(self.b)[i]
        return np.sqrt(a**2 + (b * pt) ** 2)


@dataclass
class Tracking:
    """Tracker acceptance, efficiencies and resolutions per species."""

    eta_max: float
    pt_min: float
    efficiency: dict[str, Any]
    resolution: dict[str, Any]

    def __post_init__(self) -> None:
        for name, table, cls in (("efficiency", self.efficiency, EfficiencyTable), ("resolution", self.resolution, TrackResolution)):
            missing = [s for s in _SPECIES if s not in table]
            unknown = [s for s in table if s not in _SPECIES]
            if missing or unknown:
                raise ConfigError(f"tracking.{name} needs exactly the species {list(_SPECIES)}; missing {missing}, unknown {unknown}")
            for s in _SPECIES:
                if isinstance(table[s], dict):
                    table[s] = from_dict(cls, table[s], f"tracking.{name}.{s}")


@dataclass
class CaloRegion:
    """Cells of size deta x dphi covering eta_min <= |eta| < eta_max (both sides)."""

    eta_min: float
    eta_max: float
    deta: float
    dphi: float

    def __post_init__(self) -> None:
        if not (0 <= self.eta_min < self.eta_max):
            raise ConfigError(f"calorimeter region needs 0 <= eta_min < eta_max, got {self.eta_min}, {self.eta_max}")
        if not (self.deta > 0 and 0 < self.dphi <= 2 * np.pi):
            raise ConfigError(f"calorimeter cell size must be positive, got deta={self.deta}, dphi={self.dphi}")


@dataclass
class CaloResolution:
    """sigma(E) = sqrt((c E)^2 + s^2 E + n^2) in bins of |eta|."""

    eta_edges: list[float]
    c: list[float]
    s: list[float]
    n: list[float]

    def __post_init__(self) -> None:
        _check_edges(self.eta_edges, "eta_edges")
        k = len(self.eta_edges) - 1
        if not (len(self.c) == len(self.s) == len(self.n) == k):
            raise ConfigError(f"c, s and n need one value per |eta| bin ({k})")
        _check_resolution_terms(c=self.c, s=self.s, n=self.n)

    def __call__(self, abs_eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(self.eta_edges, abs_eta, side="right") - 1, 0, len(self.c) - 1)
        c, s, n = np.asarray(self.c)[i], np.asarray(self.s)[i], np.asarray(self.n)[i]
        return np.sqrt((c * energy) ** 2 + s**2 * energy + n**2)


@dataclass
class Calorimeter:
    """One calorimeter: its cell regions, resolution and cell thresholds."""

    energy_min: float
    significance_min: float
    regions: list[CaloRegion]
    resolution: CaloResolution
    smear_cell_center: bool = True

    def __post_init__(self) -> None:
        if not self.regions:
            raise ConfigError("a calorimeter needs at least one region")
        spans = sorted((r.eta_min, r.eta_max) for r in self.regions)
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)):
            raise ConfigError(f"calorimeter regions overlap in |eta|: {spans}")


@dataclass
class LeptonID:
    """Identification efficiencies of reconstructed electrons and muons (applied at random per lepton)."""

    electron: EfficiencyTable
    muon: EfficiencyTable

    def __post_init__(self) -> None:
        for name in ("electron", "muon"):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, from_dict(EfficiencyTable, getattr(self, name), f"lepton_id.{name}"))


@dataclass
class TauID:
    """Hadronic-tau identification: the efficiency for a jet matched to a true hadronic tau (visible
    tau within ``match_radius``) and the fake rate for any other (quark or gluon) jet, in |eta| x pT."""

    efficiency: EfficiencyTable
    fake_rate: EfficiencyTable
    match_radius: float = 0.2

    def __post_init__(self) -> None:
        for name in ("efficiency", "fake_rate"):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, from_dict(EfficiencyTable, getattr(self, name), f"tau_id.{name}"))
        if not self.match_radius > 0:
            raise ConfigError(f"tau_id.match_radius must be positive, got {self.match_radius}")

    def probability(self, abs_eta: np.ndarray, pt: np.ndarray, true_tau: np.ndarray) -> np.ndarray:
        """Probability that each candidate is identified as a hadronic tau."""
        return np.where(true_tau, self.efficiency(abs_eta, pt), self.fake_rate(abs_eta, pt))


@dataclass
class DetectorCard:
    """A detector description: tracker, ECAL, HCAL and energy fractions (see ``cards/atlas.toml``)."""

    name: str
    tracking: Tracking
    ecal: Calorimeter
    hcal: Calorimeter
    energy_fraction: dict[str, list[float]] = field(default_factory=dict)
    reference: str = ""
    lepton_id: LeptonID | None = None
    tau_id: TauID | None = None

    def __post_init__(self) -> None:
        if isinstance(self.lepton_id, dict):
            self.lepton_id = from_dict(LeptonID, self.lepton_id, "lepton_id")
        if isinstance(self.tau_id, dict):
            self.tau_id = from_dict(TauID, self.tau_id, "tau_id")
        for key, frac in self.energy_fraction.items():
            if not key.lstrip("-").isdigit():
                raise ConfigError(f"energy_fraction keys are PDG ids, got {key!r}")
            if len(frac) != 2 or min(frac) < 0 or sum(frac) > 1 + 1e-9:
                raise ConfigError(f"energy_fraction[{key!r}] must be [ecal, hcal] with sum <= 1, got {frac}")

    def to_dict(self) -> dict[str, Any]:
        """The card as plain data (stored in every dataset's ``dataset.json``)."""
        return dataclasses.asdict(self)

    def fractions(self, abs_pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ECAL and HCAL energy fractions for each |PDG id| (hadrons default to all-HCAL)."""
        fe = np.zeros(len(abs_pid))
        fh = np.ones(len(abs_pid))
        for key, (e, h) in self.energy_fraction.items():
            sel = abs_pid == abs(int(key))
            fe[sel], fh[sel] = e, h
        return fe, fh


def known_cards() -> list[str]:
    """Names of the cards shipped with hepdl, plus ``truth`` (no detector)."""
    files = resources.files("hepdl.sim") / "cards"
    return sorted([p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml")] + ["truth"])


def load_card(card: str | Path | None) -> DetectorCard | None:
    """Load a detector card by name (``atlas``), by path to a TOML file, or ``truth``/None (no detector)."""
    if card is None or str(card) == "truth":
        return None
    path = Path(card)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise ConfigError(f"detector card file {path} does not exist")
        text = path.read_text()
        where = str(path)
    else:
        res = resources.files("hepdl.sim") / "cards" / f"{card}.toml"
        if not res.is_file():
            raise ConfigError(f"unknown detector card {str(card)!r}; known cards: {', '.join(known_cards())}, or a path to a .toml card")
        text = res.read_text()
        where = f"card {card}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"detector card {where} is not valid TOML: {exc}") from None
    return from_dict(DetectorCard, data, where=where)


def _pt_eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / np.where(pt > 0, pt, 1.0), np.sign(pz) * 1e6))
    return pt, eta, np.arctan2(py, px)


def particle_type(abs_pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """Energy-flow class of each particle from its |PDG id| and charge (see :data:`hepdl.schema.PARTICLE_TYPES`)."""
    t = np.where(charge != 0, schema.TYPE_CHARGED_HADRON, schema.TYPE_NEUTRAL_HADRON)
    t = np.where(abs_pid == 22, schema.TYPE_PHOTON, t)
    t = np.where(abs_pid == 11, schema.TYPE_ELECTRON, t)
    t = np.where(abs_pid == 13, schema.TYPE_MUON, t)
    return t.astype(np.int8)


def _cells(
    calo: Calorimeter,
    event: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sum deposits into cells, smear and threshold them. Returns (event, E, eta, phi) of kept cells."""
    abs_eta = np.abs(eta)
    nb, nphi_max = 1 << 14, 1 << 12
    key = np.full(len(eta), -1, dtype=np.int64)
    for r, reg in enumerate(calo.regions):
        sel = (abs_eta >= reg.eta_min) & (abs_eta < reg.eta_max) & (energy > 0)
        nphi = int(round(2 * np.pi / reg.dphi))
        ieta = np.floor((abs_eta[sel] - reg.eta_min) / reg.deta).astype(np.int64)
        iphi = np.floor((phi[sel] + np.pi) / (2 * np.pi) * nphi).astype(np.int64) % nphi
        side = (eta[sel] >= 0).astype(np.int64)
        key[sel] = ((r * 2 + side) * nb + ieta) * nphi_max + iphi
    ok = key >= 0
    n_keys = len(calo.regions) * 2 * nb * nphi_max
    gkey = event[ok] * n_keys + key[ok]
    cell, inverse = np.unique(gkey, return_inverse=True)
    e_cell = np.bincount(inverse, weights=energy[ok], minlength=len(cell))
    cell_event = cell // n_keys
    local = cell % n_keys
    iphi = local % nphi_max
    ieta = (local // nphi_max) % nb
    side = (local // (nphi_max * nb)) % 2
    reg_idx = local // (nphi_max * nb * 2)
    eta_min = np.array([r.eta_min for r in calo.regions])[reg_idx]
    deta = np.array([r.deta for r in calo.regions])[reg_idx]
    nphi = np.array([int(round(2 * np.pi / r.dphi)) for r in calo.regions])[reg_idx]
    u = rng.random((2, len(cell))) if calo.smear_cell_center else np.full((2, len(cell)), 0.5)
    c_abs_eta = eta_min + (ieta + u[0]) * deta
    c_eta = np.where(side == 1, c_abs_eta, -c_abs_eta)
    c_phi = -np.pi + (iphi + u[1]) * (2 * np.pi / nphi)
    sigma = calo.resolution(c_abs_eta, e_cell)
    e_meas = e_cell + sigma * rng.standard_normal(len(cell))
    keep = (e_meas > calo.energy_min) & (e_meas > calo.significance_min * sigma)
    return cell_event[keep], e_meas[keep], c_eta[keep], c_phi[keep]


def simulate(particles: ak.Array, card: DetectorCard | None, rng: np.random.Generator) -> ak.Array:
    """Turn final-state particles into energy-flow objects.

    Parameters
    ----------
    particles
        ``n_events * var * {px, py, pz, e, pid, charge}`` (GeV), as from
        :class:`hepdl.sim.generator.EventGenerator`.
    card
        The detector card, or ``None`` for truth level (visible particles only).
    rng
        Random generator; the same generator state and input give the same output.

    Returns
    -------
    ak.Array
        ``n_events * var * {px, py, pz, e, charge, type}`` energy-flow objects.
    """
    n_events = len(particles)
    counts = ak.to_numpy(ak.num(particles))
    event = np.repeat(np.arange(n_events, dtype=np.int64), counts)
    px, py, pz, e = (ak.to_numpy(ak.flatten(particles[f])).astype(np.float64) for f in ("px", "py", "pz", "e"))
    pid = ak.to_numpy(ak.flatten(particles.pid)).astype(np.int64)
    charge = ak.to_numpy(ak.flatten(particles.charge)).astype(np.int8)
    abs_pid = np.abs(pid)
    visible = ~np.isin(abs_pid, INVISIBLE_PIDS)

    if card is None:
        return _assemble(
            n_events,
            [(event[visible], px[visible], py[visible], pz[visible], e[visible], charge[visible], particle_type(abs_pid, charge)[visible])],
        )

    pt, eta, phi = _pt_eta_phi(px, py, pz)
    abs_eta = np.abs(eta)
    u_track = rng.random(len(pt))
    g_track = rng.standard_normal(len(pt))
    eff = np.zeros(len(pt))
    rel = np.zeros(len(pt))
    species = np.where(abs_pid == 11, 1, np.where(abs_pid == 13, 2, 0))
    tk = card.tracking
    for k, name in enumerate(_SPECIES):
        sel = species == k
        eff[sel] = tk.efficiency[name](abs_eta[sel], pt[sel])
        rel[sel] = tk.resolution[name](abs_eta[sel], pt[sel])
    charged = visible & (charge != 0)
    tracked = charged & (abs_eta < tk.eta_max) & (pt > tk.pt_min) & (u_track < eff)

    # log-normal pT smearing with mean 1 and relative width rel
    s2 = np.log1p(rel**2)
    scale = np.exp(np.sqrt(s2) * g_track - 0.5 * s2)
    m2 = np.clip(e**2 - (px**2 + py**2 + pz**2), 0.0, None)
    t = tracked
    tpx, tpy, tpz = px[t] * scale[t], py[t] * scale[t], pz[t] * scale[t]
    te = np.sqrt(tpx**2 + tpy**2 + tpz**2 + m2[t])
    tracks = (event[t], tpx, tpy, tpz, te, charge[t], particle_type(abs_pid[t], charge[t]))

    calo_in = visible & ~tracked
    fe, fh = card.fractions(abs_pid)
    pieces = [tracks]
    for calo, frac, ptype in ((card.ecal, fe, schema.TYPE_PHOTON), (card.hcal, fh, schema.TYPE_NEUTRAL_HADRON)):
        dep = calo_in & (frac > 0)
        ev_c, e_c, eta_c, phi_c = _cells(calo, event[dep], eta[dep], phi[dep], e[dep] * frac[dep], rng)
        pt_c = e_c / np.cosh(eta_c)
        pieces.append(
            (ev_c, pt_c * np.cos(phi_c), pt_c * np.sin(phi_c), pt_c * np.sinh(eta_c), e_c,
             np.zeros(len(e_c), np.int8), np.full(len(e_c), ptype, np.int8))
        )
    return _assemble(n_events, pieces)


def _assemble(n_events: int, pieces: list[tuple[np.ndarray, ...]]) -> ak.Array:
    cols = [np.concatenate([p[i] for p in pieces]) for i in range(7)]
    order = np.argsort(cols[0], kind="stable")
    cols = [c[order] for c in cols]
    counts = np.bincount(cols[0], minlength=n_events)
    flat = ak.zip(
        {
            "px": cols[1].astype(np.float64),
            "py": cols[2].astype(np.float64),
            "pz": cols[3].astype(np.float64),
            "e": cols[4].astype(np.float64),
            "charge": cols[5].astype(np.int8),
            "type": cols[6].astype(np.int8),
        }
    )
    return ak.unflatten(flat, counts)
