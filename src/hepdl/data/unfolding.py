"""Unfolding datasets: events with their leading jet at particle level and at detector level
(:class:`hepdl.sim.jets.PairSelection`), generated like the jet datasets (Parquet parts plus
``dataset.json``, resumable, deterministic, Dask fan-out) with ``format = "hepdl-unfolding"``.

One record per event whose leading jet passes the window at either level:

================== ============= ============================================================
field              type          meaning
================== ============= ============================================================
constituents       var * record  detector-level jet constituents (hepdl's schema), empty without a jet
gen_constituents   var * record  particle-level jet constituents (visible final-state particles)
jet_pt ... jet_e   float64       detector-level jet four-momentum (NaN without a jet)
gen_jet_pt ...     float64       particle-level jet four-momentum (NaN without a jet)
reco_pass          bool          the detector-level leading jet passes the window
gen_pass           bool          the particle-level leading jet passes the window
matched            bool          both pass and lie within Delta R < R/2: a pair
label, sample      int8, str     the sample: 0 the simulation ("sim"), 1 the pseudo-data ("data")
weight, event      float64, int  generator weight, event number
================== ============= ============================================================

A passing particle-level jet without a pair is a *miss*, a passing detector-level jet without a pair a
*fake*; neither is dropped: the methods of :mod:`hepdl.models.unfolding` and
:mod:`hepdl.train.omnifold` correct for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepdl.errors import DataError

__all__ = ["UnfoldingDataset", "open_unfolding", "FORMAT", "LEVEL_FIELDS"]

FORMAT = "hepdl-unfolding"
#: Fields every record has.
LEVEL_FIELDS = ("constituents", "gen_constituents", "jet_pt", "jet_eta", "jet_phi", "jet_m", "gen_jet_pt", "gen_jet_eta",
                "gen_jet_phi", "gen_jet_m", "reco_pass", "gen_pass", "matched", "label", "weight")


@dataclass
class UnfoldingDataset:
    """Particle- and detector-level jets of the simulation and of the pseudo-data, in memory.

    ``events``: the records of the module docstring. ``radius``: the jet radius R (N-subjettiness
    and soft drop use it). ``label_names``: sample names by label (``["sim", "data"]``).
    """

    events: ak.Array
    radius: float
    metadata: dict[str, Any]
    path: Path
    format: str = FORMAT
    label_names: list[str] = field(default_factory=lambda: ["sim", "data"])

    #: The domain name models and report pages key on.
    domain = "unfolding"

    def __len__(self) -> int:
        return len(self.events)

    @property
    def labels(self) -> np.ndarray:
        return ak.to_numpy(self.events.label).astype(np.int64)

    def flags(self) -> dict[str, np.ndarray]:
        """``gen_pass``, ``reco_pass``, ``matched``, and ``miss``/``fake`` (a passing level without a pair)."""
        g, r, m = (ak.to_numpy(self.events[f]).astype(bool) for f in ("gen_pass", "reco_pass", "matched"))
        return {"gen_pass": g, "reco_pass": r, "matched": m, "miss": g & ~m, "fake": r & ~m}

    def sample(self, name: str) -> np.ndarray:
        """Indices of the events of sample ``name`` (``"sim"`` or ``"data"``)."""
        if name not in self.label_names:
            raise DataError(f"dataset {self.path} has no sample {name!r}; samples: {', '.join(self.label_names)}")
        return np.flatnonzero(self.labels == self.label_names.index(name))

    def class_counts(self) -> dict[str, int]:
        return {n: int(np.sum(self.labels == i)) for i, n in enumerate(self.label_names)}

    def pair_counts(self) -> dict[str, dict[str, int]]:
        """Per sample: events, matched pairs, misses and fakes."""
        f, lab = self.flags(), self.labels
        return {n: {"events": int(np.sum(lab == i)), **{k: int(np.sum(f[k] & (lab == i))) for k in ("matched", "miss", "fake")}}
                for i, n in enumerate(self.label_names)}

    def summary(self) -> str:
        """One paragraph for humans."""
        lines = [f"{self.path} ({self.format}): {len(self)} events, R = {self.radius:g}"]
        for name, c in self.pair_counts().items():
            lines.append(f"  {name}: {c['events']} events: {c['matched']} matched pairs, {c['miss']} misses, {c['fake']} fakes")
        for name, flow in self.metadata.get("cutflow", {}).items():
            lines.append(f"  {name} cutflow: " + ", ".join(f"{k}: {v}" for k, v in flow.items()))
        return "\n".join(lines)


def open_unfolding(path: str | Path, *, verify: bool = True) -> UnfoldingDataset:
    """Open a generated unfolding dataset directory (``dataset.json`` of format ``hepdl-unfolding``).

    Raises :class:`DataError` naming the file and the field for a damaged or incomplete dataset, a
    missing field, a NaN jet momentum where its level passes, or a pair flag that contradicts the levels.
    """
    from hepdl.data.parts import read_metadata, read_parts

    path = Path(path)
    meta = read_metadata(path, FORMAT, "unfolding")
    try:
        radius = float(meta["settings"]["selection"]["radius"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path / 'dataset.json'}: settings.selection.radius (the jet radius) is missing") from None
    parts = read_parts(path, meta, verify=verify)
    if not parts:
        raise DataError(f"dataset {path}: dataset.json lists no part files")
    events = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    missing = [k for k in LEVEL_FIELDS if k not in events.fields]
    if missing:
        raise DataError(f"dataset {path}: event records lack the field(s) {missing}")
    for prefix, flag in (("jet_", "reco_pass"), ("gen_jet_", "gen_pass")):
        passing = ak.to_numpy(events[flag]).astype(bool)
        for f in ("pt", "eta", "phi", "m"):
            bad = passing & ~np.isfinite(ak.to_numpy(events[prefix + f]))
            if bad.any():
                raise DataError(f"dataset {path}: field {prefix + f!r} is NaN/inf in {int(bad.sum())} events whose {flag} is true")
    m = ak.to_numpy(events.matched).astype(bool)
    if np.any(m & ~(ak.to_numpy(events.gen_pass).astype(bool) & ak.to_numpy(events.reco_pass).astype(bool))):
        raise DataError(f"dataset {path}: field 'matched' is true for events where a level does not pass")
    names = list(meta.get("label_names", ["sim", "data"]))
    return UnfoldingDataset(events, radius, meta, path, label_names=names)
