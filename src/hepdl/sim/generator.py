"""Pythia 8 event generation in batches (``Pythia.nextBatch``), with optional pile-up overlay.

Nothing here loops over particles in Python: every step works on whole awkward batches.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from hepdl._util import quiet_stdout
from hepdl.errors import ConfigError
from hepdl.sim.processes import get_process

__all__ = ["GeneratorConfig", "GeneratedBatch", "EventGenerator", "derive_seed", "force_decays", "MAX_PYTHIA_SEED"]

#: Pythia accepts seeds in [1, 900 000 000].
MAX_PYTHIA_SEED = 900_000_000


def derive_seed(seed: int, *keys: str | int) -> int:
    """A reproducible seed in [1, 900 000 000] for a component named by ``keys``.

    Independent streams (each part of each process, the detector, pile-up) get seeds that are
    decorrelated hashes of the user's seed and their names, so the same settings always give the
    same events and no two parts share a random sequence.
    """
    words = [int(seed)] + [zlib.crc32(str(k).encode()) for k in keys]
    state = np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]
    return int(state % (MAX_PYTHIA_SEED - 1)) + 1


@dataclass
class GeneratorConfig:
    """Settings of one Pythia 8 process.

    Parameters
    ----------
    process
        Name in :data:`hepdl.sim.processes.PROCESSES`.
    sqrt_s
        Centre-of-mass energy in GeV (``None``: the process default, 14 TeV for the LHC ones).
    pthat_min, pthat_max
        pT-hat window in GeV (``None``: the process default).
    mpi
        Multiple parton interactions (underlying event) on or off.
    pileup_mu
        Mean number of minimum-bias (SoftQCD:inelastic) events overlaid per event, Poisson
        distributed; 0 switches pile-up off.
    extra_settings
        Further Pythia settings strings, applied last.
    """

    process: str
    sqrt_s: float | None = None
    pthat_min: float | None = None
    pthat_max: float | None = None
    mpi: bool = True
    pileup_mu: float = 0.0
    extra_settings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        proc = get_process(self.process)
        if self.sqrt_s is None:
            self.sqrt_s = proc.sqrt_s
        if self.pthat_min is None:
            self.pthat_min = proc.pthat_min
        if self.pthat_max is None:
            self.pthat_max = proc.pthat_max
        if not self.sqrt_s > 0:
            raise ConfigError(f"sqrt_s must be positive (GeV), got {self.sqrt_s}")
        if self.pthat_min is not None and self.pthat_min < 0:
            raise ConfigError(f"pthat_min must be >= 0 GeV, got {self.pthat_min}")
        if self.pthat_min is not None and self.pthat_max is not None and not self.pthat_max > self.pthat_min:
            raise ConfigError(
                f"empty pT-hat window for process {self.process!r}: "
                f"pthat_min={self.pthat_min} must be below pthat_max={self.pthat_max} GeV"
            )
        if not (self.pileup_mu >= 0 and np.isfinite(self.pileup_mu)):
            raise ConfigError(f"pileup_mu must be a finite number >= 0, got {self.pileup_mu}")
        self.extra_settings = tuple(self.extra_settings)

    def pythia_settings(self, seed: int) -> list[str]:
        """All settings strings given to Pythia for this process and seed."""
        proc = get_process(self.process)
        out = [
            "Print:quiet = on",
            "Next:numberCount = 0",
            f"Beams:eCM = {self.sqrt_s}",
            "Random:setSeed = on",
            f"Random:seed = {seed}",
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            *proc.settings,
        ]
        if self.pthat_min is not None:
            out.append(f"PhaseSpace:pTHatMin = {self.pthat_min}")
        if self.pthat_max is not None:
            out.append(f"PhaseSpace:pTHatMax = {self.pthat_max}")
        out.extend(self.extra_settings)
        return out


@dataclass
class GeneratedBatch:
    """One batch of generated events.

    Attributes
    ----------
    particles
        ``n_events * var * {px, py, pz, e, pid, charge}``: final-state particles (hard event plus
        overlaid pile-up), neutrinos included (the detector removes invisible particles).
    record
        The full Pythia event record of the hard events (``nextBatch``'s ``prt``), for truth labels.
    weight
        Event weights, shape ``(n_events,)``.
    n_pileup
        Number of overlaid minimum-bias events per event, shape ``(n_events,)``.
    """

    particles: ak.Array
    record: ak.Array
    weight: np.ndarray
    n_pileup: np.ndarray

    def __len__(self) -> int:
        return len(self.weight)


def _make_pythia(settings: list[str], decays: tuple[Any, ...] = ()) -> tuple[Any, float]:
    """An initialised Pythia with ``settings`` and the forced ``decays``
    (:class:`hepdl.sim.processes.ForcedDecay`), and the branching fraction of those forced decays
    that Pythia's cross-section does not hold (1 without any; see :func:`force_decays`)."""
    import pythia8mc

    with quiet_stdout():
        pythia = pythia8mc.Pythia("", False)
        for s in settings:
            if not pythia.readString(s):
                raise ConfigError(f"Pythia rejected the setting {s!r}")
        modes, fraction = force_decays(pythia.particleData, decays)
        for s in modes:
            if not pythia.readString(s):
                raise ConfigError(f"Pythia rejected the forced-decay setting {s!r}")
        if not pythia.init():
            raise ConfigError(f"Pythia failed to initialise with settings {settings + modes}")
    return pythia, fraction


_LEPTONS = (11, 13, 15)


def force_decays(particle_data: Any, decays: tuple[Any, ...]) -> tuple[list[str], float]:
    """Pythia settings (``"<id>:<channel>:onMode = <mode>"``) that keep only the channel classes of
    ``decays``, read from Pythia's decay table ``particle_data``, and the product of the kept
    branching fractions of the particles that are no resonances (their decays are not part of
    Pythia's cross-section; one particle and one antiparticle per event is assumed, as in a
    tau pair). ``onMode``: 0 off, 1 on, 2 on for the particle only, 3 on for the antiparticle only.
    """
    out: list[str] = []
    fraction = 1.0
    for d in decays:
        entry = particle_data.particleDataEntryPtr(int(d.pid))
        if entry is None or entry.sizeChannels() == 0:
            raise ConfigError(f"ForcedDecay: particle {d.pid} has no decay channels in Pythia's table")
        kept = {"particle": 0.0, "antiparticle": 0.0}
        total = 0.0
        for i in range(entry.sizeChannels()):
            ch = entry.channel(i)
            products = [abs(ch.product(j)) for j in range(ch.multiplicity())]
            leptonic = any(p in _LEPTONS for p in products)
            on = {side: cls == "any" or (cls == "leptonic") == leptonic
                  for side, cls in (("particle", d.particle), ("antiparticle", d.antiparticle))}
            mode = {(True, True): 1, (True, False): 2, (False, True): 3, (False, False): 0}[(on["particle"], on["antiparticle"])]
            out.append(f"{d.pid}:{i}:onMode = {mode}")
            if ch.onMode() != 0:  # channels already off stay out of the total
                total += ch.bRatio()
                for side in kept:
                    kept[side] += ch.bRatio() if on[side] else 0.0
        if kept["particle"] <= 0 or kept["antiparticle"] <= 0:
            raise ConfigError(f"ForcedDecay({d.pid}, {d.particle!r}, {d.antiparticle!r}) keeps no open decay channel")
        if not entry.isResonance():
            fraction *= kept["particle"] / total * kept["antiparticle"] / total
    return out, fraction


class _ChargeTable:
    """Charge and visibility of PDG ids, looked up once per distinct id (a few hundred at most)."""

    def __init__(self, pythia: Any) -> None:
        self._pd = pythia.particleData
        self._ids = np.zeros(0, dtype=np.int64)
        self._charge = np.zeros(0, dtype=np.float64)

    def charge(self, pid: np.ndarray) -> np.ndarray:
        uniq = np.unique(pid)
        new = np.setdiff1d(uniq, self._ids)
        if len(new):
            self._ids = np.concatenate([self._ids, new])
            self._charge = np.concatenate([self._charge, [self._pd.charge(int(i)) for i in new]])
            order = np.argsort(self._ids)
            self._ids, self._charge = self._ids[order], self._charge[order]
        return self._charge[np.searchsorted(self._ids, pid)]


def _final_state(record: ak.Array, charges: _ChargeTable) -> ak.Array:
    """Final-state particles (status > 0) with the columns the detector needs, built from flat arrays."""
    n = len(record)
    counts = ak.to_numpy(ak.num(record))
    keep = ak.to_numpy(ak.flatten(record.status)) > 0
    event = np.repeat(np.arange(n), counts)[keep]
    pid = ak.to_numpy(ak.flatten(record.id))[keep].astype(np.int64)
    p = record.p
    flat = ak.zip(
        {
            "px": ak.to_numpy(ak.flatten(p.px))[keep],
            "py": ak.to_numpy(ak.flatten(p.py))[keep],
            "pz": ak.to_numpy(ak.flatten(p.pz))[keep],
            "e": ak.to_numpy(ak.flatten(p.e))[keep],
            "pid": pid.astype(np.int32),
            "charge": charges.charge(pid).astype(np.int8),
        }
    )
    return ak.unflatten(flat, np.bincount(event, minlength=n))


class EventGenerator:
    """Batches of events of one process from Pythia 8.

    Parameters
    ----------
    config
        The process settings.
    seed
        Seed of this stream (1 ... 900 000 000); pile-up uses a seed derived from it.
    """

    def __init__(self, config: GeneratorConfig, seed: int) -> None:
        if not 1 <= seed <= MAX_PYTHIA_SEED:
            raise ConfigError(f"Pythia seed must lie in [1, {MAX_PYTHIA_SEED}], got {seed}")
        self.config = config
        self.seed = seed
        self._pythia, self.decay_fraction = _make_pythia(config.pythia_settings(seed), get_process(config.process).decays)
        self._charges = _ChargeTable(self._pythia)
        self._pileup = None
        if config.pileup_mu > 0:
            mb = GeneratorConfig("minbias", sqrt_s=config.sqrt_s, mpi=True)
            self._pileup, _ = _make_pythia(mb.pythia_settings(derive_seed(seed, "pileup")))
            self._rng = np.random.default_rng(derive_seed(seed, "pileup-count"))

    def next_batch(self, n: int) -> GeneratedBatch:
        """Generate ``n`` events (events Pythia fails to produce are skipped)."""
        with quiet_stdout():
            events = self._pythia.nextBatch(int(n))
        record = events.prt
        particles = _final_state(record, self._charges)
        weight = ak.to_numpy(ak.fill_none(ak.firsts(events.info.weights), 1.0)).astype(np.float64)
        n_pu = np.zeros(len(record), dtype=np.int64)
        if self._pileup is not None and len(record):
            n_pu = self._rng.poisson(self.config.pileup_mu, size=len(record)).astype(np.int64)
            total = int(n_pu.sum())
            if total:
                with quiet_stdout():
                    pu_events = self._pileup.nextBatch(total)
                pu = _final_state(pu_events.prt, self._charges)
                if len(pu) != total:  # a failed min-bias event is skipped: overlay what came
                    n_pu = _fit_counts(n_pu, len(pu))
                grouped = ak.flatten(ak.unflatten(pu, n_pu, axis=0), axis=2)
                particles = ak.concatenate([particles, grouped], axis=1)
        return GeneratedBatch(particles=particles, record=record, weight=weight, n_pileup=n_pu)

    @property
    def sigma_mb(self) -> float:
        """The cross-section of the events generated, in mb: Pythia's estimate (with the branching
        fractions of forced resonance decays) times :attr:`decay_fraction`, the branching fraction
        of forced decays of other particles (the taus of ``ztautau-lh``)."""
        return float(self._pythia.infoPython().sigmaGen()) * self.decay_fraction

    @property
    def sigma_err_mb(self) -> float:
        """Statistical uncertainty of :attr:`sigma_mb` in mb."""
        return float(self._pythia.infoPython().sigmaErr()) * self.decay_fraction

    @property
    def n_tried(self) -> int:
        """Number of hard-process trials so far (for cross-section bookkeeping)."""
        return int(self._pythia.infoPython().nTried())


def _fit_counts(wanted: np.ndarray, available: int) -> np.ndarray:
    """Reduce per-event counts (from the end) so that they sum to ``available``."""
    counts = wanted.copy()
    excess = int(counts.sum()) - available
    i = len(counts) - 1
    while excess > 0 and i >= 0:
        take = min(excess, int(counts[i]))
        counts[i] -= take
        excess -= take
        i -= 1
    return counts
