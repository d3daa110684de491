"""Air-shower datasets: events of a surface-detector array (:mod:`hepdl.sim.airshowers`) in Parquet
parts with ``dataset.json`` provenance, generated like the jet datasets (resumable, deterministic,
Dask fan-out through :func:`hepdl.data.generate.generate_dataset`), and read back as an
:class:`AirShowerDataset`.

One record per event, with fixed-length station lists (S stations, T trace bins):

================ ============= ==============================================================
field            shape         meaning
================ ============= ==============================================================
time             (S,) float64  signal start time, ns, relative to the earliest triggered station
signal           (S,) float64  integrated signal, VEM (0: not triggered)
triggered        (S,) bool     above threshold (broken stations never trigger)
saturated        (S,) bool     the FADC saturated (the signal is a lower limit)
trace            (S, T) f32    VEM per 25 ns bin from two bins before the start
trace_mu         (S, T) f32    the muons' part of the trace (truth, for the report)
station_x, _y    (S,) float32  station positions, m (the same in every event of a fixed array)
lg_energy ...    float64       truth: lg_energy (log10 E/eV), zenith, azimuth (rad), core_x,
                               core_y (m), xmax, dx (g/cm^2), mass (A), label (0 proton, 1 iron)
================ ============= ==============================================================

``dataset.json`` holds the array configuration (:func:`hepdl.sim.airshowers.station_positions` gives
the positions the records carry).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepdl.config import from_dict, to_dict
from hepdl.errors import ConfigError, DataError
from hepdl.sim.airshowers import PRIMARIES, ArrayConfig, shower_axis, simulate_showers, station_positions
from hepdl.sim.generator import derive_seed

__all__ = ["AirShowerSpec", "AirShowerDataset", "open_airshowers", "TARGET_NAMES", "FORMAT", "MIN_STATIONS"]

FORMAT = "hepdl-airshowers"
#: The regression targets, in this order: the axis (unit vector to the sky), the core (m), log10 E/eV, X_max.
TARGET_NAMES = ["axis_x", "axis_y", "axis_z", "core_x", "core_y", "lg_energy", "xmax"]
#: Fewest triggered stations an event needs to be kept (three fix a plane).
MIN_STATIONS = 3
_STATION_FIELDS = ("time", "signal", "triggered", "saturated", "trace", "trace_mu", "station_x", "station_y")
_TRUTH_FIELDS = ("lg_energy", "zenith", "azimuth", "core_x", "core_y", "xmax", "dx", "mass")
#: Cutflow steps and their labels.
STEPS = {"events": "showers simulated", "three_stations": f"at least {MIN_STATIONS} triggered stations"}


@dataclass
class AirShowerSpec:
    """Everything that determines an air-shower dataset (and its hash): ``n`` events in all, shared
    over the ``primaries`` (name -> share; names from :data:`hepdl.sim.airshowers.PRIMARIES`), the
    array and energy range (:class:`ArrayConfig`), the seed and the events per part file."""

    n: int
    primaries: dict[str, float] = field(default_factory=lambda: {"proton": 0.5, "iron": 0.5})
    array: ArrayConfig = field(default_factory=ArrayConfig)
    seed: int = 1
    per_part: int = 1000
    batch_size: int = 500
    task: str = "air-showers"

    def __post_init__(self) -> None:
        if isinstance(self.array, dict):
            self.array = from_dict(ArrayConfig, self.array, "air-shower array")
        if not isinstance(self.n, (int, np.integer)) or self.n < len(self.primaries):
            raise ConfigError(f"number of events must be an integer of at least {len(self.primaries)} (one per primary), got {self.n!r}")
        unknown = sorted(set(self.primaries) - set(PRIMARIES))
        if unknown or not self.primaries:
            raise ConfigError(f"unknown primaries {unknown or '(none given)'}; known: {', '.join(PRIMARIES)}")
        if any(not v > 0 for v in self.primaries.values()):
            raise ConfigError(f"primary shares must be positive, got {self.primaries}")
        if self.per_part <= 0 or self.batch_size <= 0:
            raise ConfigError(f"per_part and batch_size must be positive, got {self.per_part}, {self.batch_size}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")

    @property
    def label_names(self) -> list[str]:
        """Class names by label: the primaries in order of mass."""
        return sorted(self.primaries, key=PRIMARIES.__getitem__)

    def counts(self) -> dict[str, int]:
        """Events per primary (largest remainder of the shares)."""
        total = sum(self.primaries.values())
        names = self.label_names
        raw = [self.n * self.primaries[p] / total for p in names]
        out = [max(1, math.floor(r)) for r in raw]
        for i in np.argsort([-(r - math.floor(r)) for r in raw], kind="stable"):
            if sum(out) >= self.n:
                break
            out[i] += 1
        return dict(zip(names, out, strict=True))

    def plan(self) -> Any:
        """How :func:`hepdl.data.generate.generate_dataset` makes this dataset."""
        from hepdl.data.generate import GenerationPlan

        names = self.label_names
        parts = []
        for i, name in enumerate(names):
            n = self.counts()[name]
            parts += [(i, k, min(self.per_part, n - k * self.per_part)) for k in range(math.ceil(n / self.per_part))]
        parts.sort(key=lambda t: (t[1], t[0]))
        return GenerationPlan(task=self.task, label_names=names, format=FORMAT, unit="event", settings=to_dict(self),
                              parts=parts, sample_names=names, run_part=functools.partial(_run_part, self),
                              summarise=functools.partial(_summarise, self))


def generate_part(spec: AirShowerSpec, sample_index: int, part_index: int, n: int,
                  progress: Any = None) -> tuple[ak.Array, dict[str, Any]]:
    """``n`` kept events of one primary (its own seed) and the part's cutflow (counted over exactly
    the showers used: simulation stops at the shower that gives the last kept event)."""
    primary = spec.label_names[sample_index]
    seed = derive_seed(spec.seed, primary, part_index)
    rng = np.random.default_rng(seed)
    chunks: list[dict[str, np.ndarray]] = []
    kept = used = 0
    while kept < n:
        ev = simulate_showers(spec.batch_size, primary, rng, spec.array)
        ok = ev["triggered"].sum(axis=1) >= MIN_STATIONS
        cum = np.cumsum(ok)
        stop = len(ok)
        if cum[-1] >= n - kept:
            stop = int(np.searchsorted(cum, n - kept)) + 1
        sel = np.flatnonzero(ok[:stop])
        used += stop
        chunks.append({k: v[sel] for k, v in ev.items() if k not in ("signal_em", "signal_mu")})
        kept += len(sel)
        if progress is not None and len(sel):
            progress(len(sel))
        if used >= 50 * max(n, 1) and kept == 0:
            raise DataError(f"no {primary} shower of {used} triggered {MIN_STATIONS} stations: the array settings "
                            f"({to_dict(spec.array)}) look impossible")
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    fields: dict[str, Any] = {k: arrays[k] for k in _TRUTH_FIELDS}
    for k in _STATION_FIELDS[:-2]:  # the positions follow
        fields[k] = ak.to_regular(ak.from_numpy(arrays[k]), axis=-1) if arrays[k].ndim == 2 else ak.from_numpy(arrays[k])
    pos = station_positions(spec.array).astype(np.float32)
    for k, col in (("station_x", 0), ("station_y", 1)):
        fields[k] = ak.to_regular(ak.from_numpy(np.broadcast_to(pos[:, col], (n, len(pos))).copy()), axis=-1)
    fields["label"] = np.full(n, sample_index, np.int8)
    records = ak.zip(fields, depth_limit=1)
    meta = {"sample": primary, "part": part_index, "n": kept, "label": sample_index, "seed": seed,
            "cutflow": {"events": used, "three_stations": kept}}
    return records, meta


def _run_part(spec: AirShowerSpec, sample_index: int, part_index: int, n: int, out: str, progress: Any = None) -> dict[str, Any]:
    from hepdl.data.generate import write_part

    records, meta = generate_part(spec, sample_index, part_index, n, progress)
    return write_part(records, meta, Path(out))


def _summarise(spec: AirShowerSpec, parts: list[dict[str, Any]]) -> dict[str, Any]:
    parts = sorted(parts, key=lambda m: (m["sample"], m["part"]))
    cutflow: dict[str, dict[str, int]] = {}
    for name in spec.label_names:
        flow = dict.fromkeys(STEPS, 0)
        for p in parts:
            if p["sample"] == name:
                for k, v in p["cutflow"].items():
                    flow[k] += v
        cutflow[name] = flow
    counts = {name: cutflow[name]["three_stations"] for name in spec.label_names}
    counts["total"] = sum(counts.values())
    return {"parts": parts, "cutflow": cutflow, "counts": counts, "cut_labels": STEPS}


@dataclass
class AirShowerDataset:
    """Air-shower events of a surface array, in memory.

    ``arrays``: the fields of the module docstring as numpy arrays, event axis first. ``positions``:
    (B, S, 2) station positions in m. ``labels``: 0 proton, 1 iron. ``targets``: (B, 7) in the order of
    :data:`TARGET_NAMES`.
    """

    arrays: dict[str, np.ndarray]
    positions: np.ndarray
    array: ArrayConfig
    metadata: dict[str, Any]
    path: Path
    format: str = FORMAT
    label_names: list[str] = field(default_factory=lambda: ["proton", "iron"])
    target_names: list[str] = field(default_factory=lambda: list(TARGET_NAMES))

    #: The domain name models declare (``ModelSpec.domains``).
    domain = "airshowers"

    def __len__(self) -> int:
        return len(self.arrays["lg_energy"])

    @property
    def labels(self) -> np.ndarray:
        return self.arrays["label"].astype(np.int64)

    @property
    def axis(self) -> np.ndarray:
        """(B, 3) true shower axes (unit vectors to the sky)."""
        return shower_axis(self.arrays["zenith"], self.arrays["azimuth"])

    @property
    def targets(self) -> np.ndarray:
        a = self.arrays
        return np.column_stack([self.axis, a["core_x"], a["core_y"], a["lg_energy"], a["xmax"]])

    def task_metrics(self, split: dict[str, np.ndarray], val_scores: np.ndarray, test_scores: np.ndarray, *,
                     objective: str = "regress", n_bootstrap: int = 100, seed: int = 0) -> dict[str, Any]:
        """The reconstruction figures of the test events (:func:`hepdl.metrics.regression.shower_metrics`):
        angular, core, energy and X_max resolution, overall and per energy and zenith bin, and the
        proton-iron merit factor of the reconstructed X_max. Regression only."""
        if objective != "regress":
            return {}
        from hepdl.metrics.regression import shower_metrics

        idx = split["test"]
        return shower_metrics(test_scores[:, :7], self.targets[idx], self.arrays["zenith"][idx], self.labels[idx],
                              n_bootstrap=n_bootstrap, seed=seed)

    def class_counts(self) -> dict[str, int]:
        return {n: int(np.sum(self.labels == i)) for i, n in enumerate(self.label_names)}

    def summary(self) -> str:
        """One paragraph for humans."""
        nt = self.arrays["triggered"].sum(axis=1)
        lines = [f"{self.path} ({self.format}): {len(self)} showers, " + ", ".join(f"{k}: {v}" for k, v in self.class_counts().items()),
                 f"  array: {self.array.n_side} x {self.array.n_side} stations, {self.array.spacing_m:g} m spacing; "
                 f"lg(E/eV) {self.array.lg_e_min}-{self.array.lg_e_max}, zenith < {self.array.zenith_max_deg:g} deg",
                 f"  triggered stations per event: median {np.median(nt):.0f}, 10-90 % {np.quantile(nt, 0.1):.0f}-{np.quantile(nt, 0.9):.0f}"]
        for name, flow in self.metadata.get("cutflow", {}).items():
            lines.append(f"  {name}: " + ", ".join(f"{STEPS.get(k, k)}: {v}" for k, v in flow.items()))
        return "\n".join(lines)


def open_airshowers(path: str | Path, *, verify: bool = True) -> AirShowerDataset:
    """Open a generated air-shower dataset directory (``dataset.json`` of format ``hepdl-airshowers``).

    Raises :class:`DataError` naming the file and the field for a damaged or incomplete dataset,
    missing fields, or stations lists of the wrong length.
    """
    from hepdl.data.parts import read_metadata, read_parts

    path = Path(path)
    meta = read_metadata(path, FORMAT, "air-shower")
    try:
        array = from_dict(ArrayConfig, meta["settings"]["array"], f"{path / 'dataset.json'}: settings.array")
    except (KeyError, TypeError):
        raise DataError(f"{path / 'dataset.json'}: settings.array (the array configuration) is missing") from None
    parts = read_parts(path, meta, verify=verify)
    if not parts:
        raise DataError(f"dataset {path}: dataset.json lists no part files")
    events = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    need = (*_TRUTH_FIELDS, *_STATION_FIELDS, "label")
    missing = [k for k in need if k not in events.fields]
    if missing:
        raise DataError(f"dataset {path}: event records lack the field(s) {missing}")
    arrays: dict[str, np.ndarray] = {}
    for k in need:
        try:
            arrays[k] = ak.to_numpy(events[k])
        except ValueError:
            raise DataError(f"dataset {path}: field {k!r} is not a fixed-length station list") from None
    s_n, t_n = array.n_stations, array.n_bins
    for k in _STATION_FIELDS:
        want = (s_n, t_n) if k.startswith("trace") else (s_n,)
        if arrays[k].shape[1:] != want:
            raise DataError(f"dataset {path}: field {k!r} has shape {arrays[k].shape[1:]} per event, expected {want} "
                            f"for the {array.n_side} x {array.n_side} array")
    for k in ("time", "signal", "trace", "station_x", "station_y", *_TRUTH_FIELDS):
        bad = ~np.isfinite(arrays[k])
        if bad.any():
            raise DataError(f"dataset {path}: field {k!r} has {int(bad.sum())} NaN/inf values")
    positions = np.stack([arrays.pop("station_x"), arrays.pop("station_y")], axis=-1).astype(np.float64)
    return AirShowerDataset(arrays, positions, array, meta, path, label_names=list(meta.get("label_names", ["proton", "iron"])))
