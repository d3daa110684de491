"""Generate a labelled jet dataset: Pythia 8 -> detector -> FastJet -> Parquet parts, over Dask.

A dataset is a directory with one Parquet file per *part* (``<sample>-<k>.parquet``), a small JSON
file per part (its cutflow and cross-section, written after the Parquet file: its presence marks
the part finished), and ``dataset.json``. Each part has its own seeds, derived from the dataset
seed, the sample name and the part number, so parts are independent, can run on any worker in any
order, and the same settings always give byte-identical files. Rerunning an interrupted generation
keeps the finished parts and makes only the missing ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

import hepdl
from hepdl import schema
from hepdl.config import to_dict
from hepdl.data.paths import atomic_write, atomic_write_json, ensure_writable_dir, sha256_file
from hepdl.errors import ConfigError, DataError
from hepdl.sim.detector import DetectorCard, load_card, simulate
from hepdl.sim.events import LEPHAD_STEPS, LepHadSelection, reconstruct_lephad, truth_lepton_filter
from hepdl.sim.generator import EventGenerator, GeneratedBatch, GeneratorConfig, derive_seed
from hepdl.sim.jets import JetSelection, PairSelection, hardest_jets, paired_jets
from hepdl.sim.processes import get_process
from hepdl.sim.truth import MATCHERS, match_jets, tau_truth

__all__ = ["SampleSpec", "DatasetSpec", "GenerationPlan", "generate_dataset", "write_part", "finished_part", "part_name", "generate_part", "default_dataset_dir", "ensure_dataset",
           "TRUTH_MATCHERS", "CUT_LABELS"]

TRUTH_MATCHERS = tuple(MATCHERS)

#: Human-readable names of the cutflow steps.
CUT_LABELS = {
    "events": "events generated",
    "has_jet": "jets found (the event's jets_per_event hardest)",
    "jet_eta": "jet |eta| < eta_max",
    "jet_pt": "jet pT in window",
    "top_match": "matched to hadronic top (top + 3 quarks within R)",
    "w_match": "matched to hadronic W (W + 2 quarks within R)",
    "z_match": "matched to hadronic Z (Z + 2 quarks within R)",
    "gluon_match": "nearest hard parton within R is a gluon",
    "light-quark_match": "nearest hard parton within R is u/d/s",
    "jets": "jets kept",
    "truth_lepton": "generator-level filter: a true e/mu above truth_lepton_pt_min, before the detector",
    "one_lepton": "exactly one identified isolated e/mu (pT > 20 GeV)",
    "tau_candidate": "hadronic-tau candidate (narrow jet, 1-3 tracks, charge +-1)",
    "opposite_charge": "lepton and tau of opposite charge",
    "selected": "events kept (before the tau-ID weight)",
    "has_any_jet": "a jet at particle or detector level",
    "either_level": "the leading jet passes at particle or detector level",
    "kept": "events kept (matched pairs, misses and fakes)",
}

#: An event's number is ``part << EVENT_PART_SHIFT`` plus its index in the part's generation, so
#: that numbers are unique within a sample (a split keeps the jets of one event together).
EVENT_PART_SHIFT = 32

#: Give up on a part when this many events in a row gave no jet passing the selection.
MAX_EVENTS_WITHOUT_JET = 5000


@dataclass
class SampleSpec:
    """One class of a dataset: a process, its label and how many jets to keep.

    Parameters
    ----------
    name
        Class name (``"top"``, ``"qcd"``); also the prefix of its part files.
    label
        Integer label stored with each jet.
    generator
        The Pythia process settings.
    n
        Number of records to keep, as the dataset's selection defines a record: jets (one per
        event, the leading jet) for a :class:`JetSelection`, events for a
        :class:`hepdl.sim.events.LepHadSelection`.
    truth_match
        ``"top"`` keeps only jets matched to a hadronic top (arXiv:1902.09914); ``"w"``/``"z"`` to a
        hadronic boson and its quarks; ``"gluon"``/``"light-quark"`` to a hard parton of that flavour
        (:func:`hepdl.sim.truth.match_jets`); ``"none"`` keeps all.
    """

    name: str
    label: int
    generator: GeneratorConfig
    n: int
    truth_match: str = "none"

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            from hepdl.config import from_dict

            self.generator = from_dict(GeneratorConfig, self.generator, f"sample {self.name}.generator")
        if not isinstance(self.n, (int, np.integer)) or self.n <= 0:
            raise ConfigError(f"number of records for sample {self.name!r} must be a positive integer, got {self.n!r}")
        if self.truth_match not in TRUTH_MATCHERS:
            raise ConfigError(f"unknown truth_match {self.truth_match!r} for sample {self.name!r}; known: {', '.join(TRUTH_MATCHERS)}")
        if not self.name or "/" in self.name or "-" in self.name:
            raise ConfigError(f"sample name must be a non-empty word without '/' or '-', got {self.name!r}")


@dataclass
class DatasetSpec:
    """Everything that determines a generated dataset (and its hash).

    ``selection`` is a :class:`JetSelection` (one jet per event: a jet dataset) or a
    :class:`LepHadSelection` (an event dataset, with ``luminosity_fb`` for the event weights).
    """

    task: str
    samples: list[SampleSpec]
    class_names: list[str] | None = None
    selection: JetSelection | LepHadSelection | PairSelection = field(default_factory=JetSelection)
    detector: str = "atlas"
    seed: int = 1
    per_part: int = 500
    batch_size: int = 200
    luminosity_fb: float | None = None

    def __post_init__(self) -> None:
        if not self.samples:
            raise ConfigError("a dataset needs at least one sample")
        names = [s.name for s in self.samples]
        labels = [s.label for s in self.samples]
        if len(set(names)) != len(names):
            raise ConfigError(f"sample names must be unique, got {names}")
        if self.class_names is None and len(set(labels)) != len(labels):
            raise ConfigError(f"sample labels must be unique unless class_names names the classes, got labels {labels}")
        if self.class_names is not None and sorted(set(labels)) != list(range(len(self.class_names))):
            raise ConfigError(f"labels {sorted(set(labels))} must be 0 ... {len(self.class_names) - 1} for class_names {self.class_names}")
        if self.per_part <= 0:
            raise ConfigError(f"per_part must be positive, got {self.per_part}")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size must be positive, got {self.batch_size}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if self.luminosity_fb is not None and not self.luminosity_fb > 0:
            raise ConfigError(f"luminosity_fb must be positive (fb^-1), got {self.luminosity_fb}")
        selector(self).check(self.samples)

    @property
    def label_names(self) -> list[str]:
        """Class names ordered by label."""
        if self.class_names is not None:
            return list(self.class_names)
        return [s.name for s in sorted(self.samples, key=lambda s: s.label)]

    def parts(self) -> list[tuple[int, int, int]]:
        """``(sample index, part index, records in part)`` for every part, interleaved across samples."""
        out = []
        for i, s in enumerate(self.samples):
            n_parts = math.ceil(s.n / self.per_part)
            for k in range(n_parts):
                out.append((k, i, min(self.per_part, s.n - k * self.per_part)))
        return [(i, k, n) for k, i, n in sorted(out)]

    def settings(self, card: DetectorCard | None) -> dict[str, Any]:
        """Plain-data settings, with the resolved detector card, as stored in ``dataset.json``."""
        d = to_dict(self)
        d["detector_card"] = card.to_dict() if card is not None else None
        return d

    def plan(self) -> GenerationPlan:
        """How :func:`generate_dataset` makes this dataset: Pythia parts through the detector card."""
        import functools

        card = load_card(self.detector)
        sel = selector(self)
        return GenerationPlan(
            task=self.task, label_names=self.label_names, format=sel.format, unit=sel.unit, settings=self.settings(card),
            parts=self.parts(), sample_names=[s.name for s in self.samples],
            run_part=functools.partial(_run_part, self, card), summarise=functools.partial(_summarise, self),
            # longest first, so that no worker is left alone with a long part at the end: truth-matched
            # samples keep fewer of their events, and the last part of a sample may be smaller
            order=lambda t: (self.samples[t[0]].truth_match == "none", -t[2], t[1], t[0]),
        )


@dataclass
class GenerationPlan:
    """What :func:`generate_dataset` needs of a dataset spec of any domain (``spec.plan()``): the
    provenance header, the parts, and how one part is made and the finished parts summarised.

    ``parts``: ``(sample index, part index, records)``; ``run_part(sample index, part index, records,
    out, progress)`` makes one part, writes it with :func:`write_part` and returns its metadata (it
    must pickle, for Dask); ``summarise(parts)`` gives the dataset's cutflow and counts from the
    parts' metadata; ``order`` sorts the parts still to make (default: as listed).
    """

    task: str
    label_names: list[str]
    format: str
    unit: str
    settings: dict[str, Any]
    parts: list[tuple[int, int, int]]
    sample_names: list[str]
    run_part: Callable[..., dict[str, Any]]
    summarise: Callable[[list[dict[str, Any]]], dict[str, Any]]
    order: Callable[[tuple[int, int, int]], Any] | None = None


def settings_hash(settings: dict[str, Any]) -> str:
    """Stable hash of a dataset's settings (keys sorted)."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def part_name(sample: str, part: int) -> str:
    """File stem of a part."""
    return f"{sample}-{part:05d}"


def _constituent_records(cons: ak.Array) -> ak.Array:
    """``var * {pt, eta, phi, e, charge, type}`` of objects given as ``px, py, pz, e, charge, type``."""
    counts = ak.to_numpy(ak.num(cons))
    px, py, pz, e = (ak.to_numpy(ak.flatten(cons[f])) for f in ("px", "py", "pz", "e"))
    pt = np.hypot(px, py)
    flat = ak.zip(
        {
            "pt": pt,
            "eta": np.arcsinh(pz / np.maximum(pt, 1e-12)),
            "phi": np.arctan2(py, px),
            "e": e,
            "charge": ak.to_numpy(ak.flatten(cons.charge)).astype(np.int8),
            "type": ak.to_numpy(ak.flatten(cons["type"])).astype(np.int8),
        }
    )
    return ak.unflatten(flat, counts)


def _jet_records(lj: dict[str, Any], idx: np.ndarray, sample: SampleSpec, weight: np.ndarray,
                 event: np.ndarray, truth: dict[str, np.ndarray]) -> ak.Array:
    n = len(idx)
    fields: dict[str, Any] = {"constituents": _constituent_records(lj["constituents"][idx])}
    for f in ("pt", "eta", "phi", "m", "e"):
        fields[f"jet_{f}"] = lj[f][idx].astype(np.float64)
    fields["label"] = np.full(n, sample.label, dtype=np.int8)
    fields["process"] = ak.Array([sample.generator.process] * n) if n else ak.Array(np.zeros(0, dtype="U1"))
    fields["weight"] = weight[idx]
    fields["event"] = event.astype(np.int64)
    for f in schema.TRUTH_FIELDS:
        fields[f] = truth[f][idx]
    return ak.zip(fields, depth_limit=1)


class _JetSelector:
    """One record per selected jet: each event's ``jets_per_event`` hardest jets are candidates, each
    cut and optionally truth-matched on its own (:class:`JetSelection`)."""

    unit = "jet"
    format = "hepdl-jets"
    kept_step = "jets"

    def __init__(self, selection: JetSelection) -> None:
        self.sel = selection

    def check(self, samples: list[SampleSpec]) -> None:
        """Nothing to refuse: every truth matcher applies to jets."""

    def steps(self, sample: SampleSpec) -> list[str]:
        return ["has_jet", "jet_eta", "jet_pt"] + ([f"{sample.truth_match}_match"] if sample.truth_match != "none" else [])

    def window(self) -> str:
        return f" and jet pT window [{self.sel.pt_min}, {self.sel.pt_max}] GeV"

    def select(self, sample: SampleSpec, batch: Any, objs: ak.Array, card: DetectorCard | None,
               rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, Callable[[np.ndarray, np.ndarray], ak.Array]]:
        lj = hardest_jets(objs, self.sel)
        masks = [lj["has_jet"], lj["eta_ok"], lj["pt_ok"]]
        matched, truth = match_jets(batch.record, lj["eta"], lj["phi"], sample.truth_match, self.sel.radius, lj["event"])
        if sample.truth_match != "none":
            masks.append(matched)
        return masks, lj["event"], lambda idx, event: _jet_records(lj, idx, sample, batch.weight[lj["event"]], event, truth)

    def part_meta(self, records: ak.Array) -> dict[str, Any]:
        return {}


def _event_fields(sample: SampleSpec, weight: np.ndarray, event: np.ndarray) -> dict[str, Any]:
    """The fields every event record of a sample carries: ``label``, ``process`` (the process's family:
    ``ztautau`` for ``ztautau-lh``), ``sample``, ``weight``, ``event``."""
    n = len(weight)
    family = get_process(sample.generator.process).family
    return {"label": np.full(n, sample.label, dtype=np.int8), "process": ak.Array([family] * n),
            "sample": ak.Array([sample.name] * n), "weight": weight, "event": event.astype(np.int64)}


class _LepHadSelector:
    """One record per selected event with its object lists (:class:`LepHadSelection`)."""

    unit = "event"
    format = "hepdl-events"
    kept_step = "selected"

    def __init__(self, selection: LepHadSelection) -> None:
        self.sel = selection

    def check(self, samples: list[SampleSpec]) -> None:
        if any(s.truth_match != "none" for s in samples):
            raise ConfigError("truth_match applies to jet selections only; an event selection keeps every selected event")

    def steps(self, sample: SampleSpec) -> list[str]:
        return (["truth_lepton"] if self.sel.truth_lepton_pt_min > 0 else []) + list(LEPHAD_STEPS)

    def prefilter(self, batch: GeneratedBatch) -> np.ndarray | None:
        """The generator-level filter (before the detector), or None when it is off."""
        return truth_lepton_filter(batch.particles, self.sel) if self.sel.truth_lepton_pt_min > 0 else None

    def window(self) -> str:
        return ""

    def select(self, sample: SampleSpec, batch: Any, objs: ak.Array, card: DetectorCard | None,
               rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, Callable[[np.ndarray, np.ndarray], ak.Array]]:
        reco = reconstruct_lephad(objs, tau_truth(batch.record), card, self.sel, rng)

        def events(idx: np.ndarray, event: np.ndarray) -> ak.Array:
            fields: dict[str, Any] = {k: v[idx] for k, v in reco["fields"].items()}
            return ak.zip({**fields, **_event_fields(sample, batch.weight[idx], event)}, depth_limit=1)

        first = [np.ones(len(objs), dtype=bool)] if self.sel.truth_lepton_pt_min > 0 else []  # the prefilter's step
        return first + [reco["masks"][k] for k in LEPHAD_STEPS], np.arange(len(objs)), events

    def part_meta(self, records: ak.Array) -> dict[str, Any]:
        return {"sum_id_weights": float(np.sum(ak.to_numpy(records.weight) * ak.to_numpy(records.id_weight)))}


class _PairSelector:
    """One record per event whose leading jet passes at particle or at detector level, with both levels'
    jets and their matching (:class:`PairSelection`): the pairs of an unfolding, misses and fakes included."""

    unit = "event"
    format = "hepdl-unfolding"
    kept_step = "kept"

    def __init__(self, selection: PairSelection) -> None:
        self.sel = selection

    def check(self, samples: list[SampleSpec]) -> None:
        if any(s.truth_match != "none" for s in samples):
            raise ConfigError("truth_match applies to jet selections only; an unfolding pair selection keeps both levels' leading jets")
        if any(s.generator.pileup_mu > 0 for s in samples):
            raise ConfigError("an unfolding pair selection needs pileup_mu = 0: the particle level is the hard event's final state")

    def steps(self, sample: SampleSpec) -> list[str]:
        return ["has_any_jet", "either_level"]

    def window(self) -> str:
        return f" and leading-jet pT window [{self.sel.pt_min}, {self.sel.pt_max}] GeV at either level"

    def select(self, sample: SampleSpec, batch: Any, objs: ak.Array, card: DetectorCard | None,
               rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, Callable[[np.ndarray, np.ndarray], ak.Array]]:
        truth = simulate(batch.particles, None, rng)  # the visible final state (no randomness used)
        pj = paired_jets(truth, objs, self.sel)
        gen, reco = pj["gen"], pj["reco"]
        masks = [gen["has_jet"] | reco["has_jet"], pj["gen_pass"] | pj["reco_pass"]]

        def events(idx: np.ndarray, event: np.ndarray) -> ak.Array:
            fields: dict[str, Any] = {"constituents": _constituent_records(reco["constituents"][idx]),
                                      "gen_constituents": _constituent_records(gen["constituents"][idx])}
            for prefix, lj in (("jet_", reco), ("gen_jet_", gen)):
                for f in ("pt", "eta", "phi", "m", "e"):
                    fields[prefix + f] = lj[f][idx].astype(np.float64)
            for f in ("gen_pass", "reco_pass", "matched"):
                fields[f] = pj[f][idx]
            return ak.zip({**fields, **_event_fields(sample, batch.weight[idx], event)}, depth_limit=1)

        return masks, np.arange(len(objs)), events

    def part_meta(self, records: ak.Array) -> dict[str, Any]:
        g, r, m = (ak.to_numpy(records[f]) for f in ("gen_pass", "reco_pass", "matched"))
        return {"matched": int(m.sum()), "misses": int((g & ~m).sum()), "fakes": int((r & ~m).sum())}


#: The selector of each selection type: what one record is, its cutflow steps and how records are
#: built. A new kind of selection registers here; :func:`generate_part` has no branch on it.
SELECTORS: dict[type, Callable[[Any], Any]] = {JetSelection: _JetSelector, LepHadSelection: _LepHadSelector,
                                                PairSelection: _PairSelector}


def selector(spec: DatasetSpec) -> Any:
    """The selector of ``spec.selection`` (see :data:`SELECTORS`)."""
    try:
        return SELECTORS[type(spec.selection)](spec.selection)
    except KeyError:
        raise ConfigError(f"unknown selection type {type(spec.selection).__name__}; known: "
                          f"{', '.join(t.__name__ for t in SELECTORS)}") from None


def generate_part(
    spec: DatasetSpec,
    sample_index: int,
    part_index: int,
    n: int,
    card: DetectorCard | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[ak.Array, dict[str, Any]]:
    """Generate one part: ``n`` selected records (jets or events, as the selection says) of one sample,
    and its bookkeeping.

    Returns the jet records (schema in :mod:`hepdl.schema`) and a metadata dict with the cutflow
    (counted over exactly the events used: generation stops at the event that gives the last jet),
    the seeds, and Pythia's cross-section estimate.
    """
    sample = spec.samples[sample_index]
    sel = selector(spec)
    pythia_seed = derive_seed(spec.seed, sample.name, part_index)
    det_seed = derive_seed(spec.seed, sample.name, part_index, "detector")
    gen = EventGenerator(sample.generator, pythia_seed)
    rng = np.random.default_rng(det_seed)
    steps = ["events", *sel.steps(sample)]
    cutflow = dict.fromkeys(steps, 0)
    chunks: list[ak.Array] = []
    kept = 0
    offset = part_index << EVENT_PART_SHIFT  # event numbers unique within the sample
    since_last = 0
    generated = 0
    while kept < n:
        # near the end, ask only for about the events still needed (at the efficiency so far)
        n_ask = spec.batch_size
        if kept:
            n_ask = min(n_ask, max(10, math.ceil(1.2 * (n - kept) * generated / kept)))
        batch = gen.next_batch(n_ask)
        generated += len(batch)
        n_ev = len(batch)
        if n_ev == 0:
            raise DataError(f"Pythia produced no events for process {sample.generator.process!r}")
        # a generator-level filter (if the selection has one) drops events before the detector; they
        # still count as generated, so the weights sigma * L / N_generated hold its efficiency
        keep = sel.prefilter(batch) if hasattr(sel, "prefilter") else None
        origin = np.arange(n_ev) if keep is None else np.flatnonzero(keep)
        if keep is not None:
            batch = GeneratedBatch(batch.particles[keep], batch.record[keep], batch.weight[keep], batch.n_pileup[keep])
        if len(origin) == 0:
            masks, cand_event = [np.zeros(0, dtype=bool) for _ in steps[1:]], np.zeros(0, dtype=np.int64)
        else:
            objs = simulate(batch.particles, card, rng)
            # candidates (a jet or an event) in event order; cand_event: the event of each
            masks, cand_event, make_records = sel.select(sample, batch, objs, card, rng)
        cum_masks = np.logical_and.accumulate(np.stack(masks), axis=0)
        passed = cum_masks[-1]
        used_c, used = len(passed), n_ev
        need = n - kept
        cum = np.cumsum(passed)
        if len(cum) and cum[-1] >= need:  # stop at the candidate that gives the last record
            used_c = int(np.searchsorted(cum, need)) + 1
            used = int(origin[cand_event[used_c - 1]]) + 1
        cutflow["events"] += used
        for name, m in zip(steps[1:], cum_masks, strict=True):
            cutflow[name] += int(m[:used_c].sum())
        idx = np.nonzero(passed[:used_c])[0]
        if len(idx):
            chunks.append(make_records(idx, offset + origin[cand_event[idx]]))
            since_last = 0
        else:
            since_last += used
            if since_last >= MAX_EVENTS_WITHOUT_JET:
                flow = ", ".join(f"{CUT_LABELS[k]}: {v}" for k, v in cutflow.items())
                raise DataError(
                    f"no {sel.unit} of sample {sample.name!r} passed the selection in {since_last} "
                    f"events in a row (cutflow so far: {flow}); the cuts look impossible for process "
                    f"{sample.generator.process!r} with pT-hat window [{sample.generator.pthat_min}, {sample.generator.pthat_max}] GeV"
                    f"{sel.window()}"
                )
        kept += len(idx)
        offset += n_ev
        if progress is not None and len(idx):
            progress(len(idx))
    cutflow[sel.kept_step] = kept
    jets = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    meta = {
        "sample": sample.name,
        "process": sample.generator.process,
        "label": sample.label,
        "part": part_index,
        "n": kept,
        "cutflow": cutflow,
        "pythia_seed": pythia_seed,
        "detector_seed": det_seed,
        "sigma_mb": gen.sigma_mb,
        "sigma_err_mb": gen.sigma_err_mb,
        "n_tried": gen.n_tried,
        "decay_fraction": gen.decay_fraction,
        "sum_weights": float(np.sum(ak.to_numpy(jets.weight))),
        **sel.part_meta(jets),
    }
    return jets, meta


def write_part(jets: ak.Array, meta: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write a part's Parquet file, then its JSON (the JSON marks it finished), both atomically."""
    stem = part_name(meta["sample"], meta["part"])
    pq = out / f"{stem}.parquet"
    atomic_write(pq, lambda tmp: ak.to_parquet(jets, tmp, compression="zstd", row_group_size=65536))
    meta = dict(meta, file=pq.name, sha256=sha256_file(pq), bytes=pq.stat().st_size)
    atomic_write_json(out / f"{stem}.json", meta)
    return meta


def _run_part(spec: DatasetSpec, card: DetectorCard | None, sample_index: int, part_index: int, n: int,
              out: str, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    jets, meta = generate_part(spec, sample_index, part_index, n, card, progress)
    return write_part(jets, meta, Path(out))


def finished_part(out: Path, sample: str, part: int, n: int) -> dict[str, Any] | None:
    """The metadata of a finished, intact part, or None if it must be (re)generated."""
    stem = part_name(sample, part)
    js, pq = out / f"{stem}.json", out / f"{stem}.parquet"
    if not (js.exists() and pq.exists()):
        return None
    try:
        meta: dict[str, Any] = json.loads(js.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("n") != n or meta.get("bytes") != pq.stat().st_size or meta.get("sha256") != sha256_file(pq):
        return None
    return meta


def _summarise(spec: DatasetSpec, parts: list[dict[str, Any]]) -> dict[str, Any]:
    parts = sorted(parts, key=lambda m: (m["sample"], m["part"]))
    cutflow: dict[str, dict[str, int]] = {}
    xsec: dict[str, dict[str, float]] = {}
    for s in spec.samples:
        mine = [p for p in parts if p["sample"] == s.name]
        flow: dict[str, int] = {}
        for p in mine:
            for k, v in p["cutflow"].items():
                flow[k] = flow.get(k, 0) + v
        cutflow[s.name] = flow
        tried = sum(p["n_tried"] for p in mine)
        sigma = sum(p["sigma_mb"] * p["n_tried"] for p in mine) / max(tried, 1)
        err = math.sqrt(sum((p["sigma_err_mb"] * p["n_tried"]) ** 2 for p in mine)) / max(tried, 1)
        xsec[s.name] = {"process": s.generator.process, "sigma_mb": sigma, "sigma_err_mb": err, "sigma_pb": sigma * 1e9}
    last = selector(spec).kept_step
    counts = {s.name: cutflow[s.name].get(last, 0) for s in spec.samples}
    counts["total"] = sum(counts.values())
    out = {"parts": parts, "cutflow": cutflow, "cross_section": xsec, "counts": counts}
    if spec.luminosity_fb is not None:
        # expected events for the luminosity at each step: sigma * L * (passing / generated)
        from hepdl.data.events import sample_scales

        scales = sample_scales(xsec, cutflow, spec.luminosity_fb)
        expected: dict[str, dict[str, float]] = {}
        for s in spec.samples:
            scale = scales[s.name]
            mine = [p for p in parts if p["sample"] == s.name]
            expected[s.name] = {k: v * scale for k, v in cutflow[s.name].items()}
            expected[s.name]["tau_id"] = scale * sum(p.get("sum_id_weights", p["sum_weights"]) for p in mine)
        out["expected_events"] = expected
        out["luminosity_fb"] = spec.luminosity_fb
    return out


def generate_dataset(
    spec: Any,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> Path:
    """Generate (or finish) the dataset ``spec`` in directory ``out``.

    Parameters
    ----------
    spec
        What to generate: a :class:`DatasetSpec` (Pythia jets or events), or the spec of another
        domain (e.g. :class:`hepdl.data.airshowers.AirShowerSpec`); anything with a ``plan()``
        returning a :class:`GenerationPlan`.
    out
        Dataset directory; created if needed. If it already holds a dataset with other settings,
        nothing is touched and a :class:`DataError` says so.
    workers
        Processes to fan the parts out to (default: the number of cores). 1 runs in this process.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); its workers must see ``out``.
    progress
        Show a progress bar (records/s and ETA) on stderr.

    Returns
    -------
    Path
        The dataset directory.
    """
    from tqdm.auto import tqdm

    from hepdl._util import interrupt_note

    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers} (leave it out to use every core)")
    plan: GenerationPlan = spec.plan()
    out = ensure_writable_dir(Path(out))
    settings = plan.settings
    shash = settings_hash(settings)
    meta_path = out / "dataset.json"
    old: dict[str, Any] = {}
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{meta_path} is corrupt ({exc}); move it away to regenerate the dataset") from None
        if old.get("settings_hash") != shash:
            diff = sorted(k for k in set(old.get("settings", {})) | set(settings) if old.get("settings", {}).get(k) != settings.get(k))
            raise DataError(
                f"{out} already holds a dataset made with other settings (differing keys: {', '.join(diff) or 'detector card'}); "
                "choose another output directory or remove it"
            )
    header = {
        "schema_version": schema.SCHEMA_VERSION,
        "hepdl_version": hepdl.__version__,
        "task": plan.task,
        "label_names": plan.label_names,
        "settings": settings,
        "settings_hash": shash,
        "format": plan.format,
    }
    todo, done = [], []
    for i, k, n in plan.parts:
        meta = finished_part(out, plan.sample_names[i], k, n)
        if meta is None:
            todo.append((i, k, n))
        else:
            done.append(meta)
    if not todo and old.get("complete"):  # finished and intact: rewrite nothing, never mark it incomplete
        return out
    atomic_write_json(meta_path, dict(header, complete=False))
    if plan.order is not None:
        todo.sort(key=plan.order)
    total = sum(n for _, _, n in plan.parts)
    bar = tqdm(total=total, initial=sum(m["n"] for m in done), unit=plan.unit, desc=f"generate {plan.task}",
               disable=not progress, smoothing=0.1, dynamic_ncols=True)
    t0 = time.perf_counter()
    n_workers = workers or os.cpu_count() or 1
    n_parts = len(plan.parts)

    def note() -> str:
        kept = sum((out / f"{part_name(plan.sample_names[i], k)}.json").exists() for i, k, _ in plan.parts)
        return (f"{kept} of {n_parts} parts of dataset {out} are finished and kept; "
                "rerun the same command to generate the rest")

    try:
        with interrupt_note(note):
            if scheduler is None and n_workers == 1:
                for i, k, n in todo:
                    done.append(plan.run_part(i, k, n, str(out), bar.update))
            elif todo:
                done.extend(_run_dask(plan, todo, out, n_workers, scheduler, bar))
    finally:
        bar.close()
    header.update(plan.summarise(done))
    header["complete"] = True  # no timings here: the file stays reproducible
    atomic_write_json(meta_path, header)
    logging.getLogger("hepdl").info("generated %s in %.1f s", out, time.perf_counter() - t0)
    return out


def default_dataset_dir(spec: Any, cache: str | Path | None = None) -> Path:
    """Where a dataset lives in the cache: ``<cache>/datasets/<task>-<settings hash>``."""
    from hepdl.data.paths import cache_dir

    plan: GenerationPlan = spec.plan()
    return cache_dir(cache) / "datasets" / f"{plan.task}-{settings_hash(plan.settings)[:10]}"


def ensure_dataset(spec: Any, cache: str | Path | None = None, *, workers: int | None = None,
                   progress: bool = True) -> Path:
    """The cached dataset of ``spec``, generated (or finished) first if needed."""
    return generate_dataset(spec, default_dataset_dir(spec, cache), workers=workers, progress=progress)


def _run_dask(plan: GenerationPlan, todo: list[tuple[int, int, int]], out: Path,
              n_workers: int, scheduler: str | None, bar: Any) -> list[dict[str, Any]]:
    from dask.distributed import Client, LocalCluster, as_completed

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise DataError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        cluster = None
    else:
        try:
            cluster = LocalCluster(n_workers=min(n_workers, len(todo)), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
        except RuntimeError as exc:
            raise DataError(
                f"could not start {n_workers} local Dask worker processes ({exc}); in a script, call "
                "generate_dataset under `if __name__ == '__main__':`, or use workers=1"
            ) from None
        client = Client(cluster)
    results = []
    try:
        futures = [client.submit(plan.run_part, i, k, n, str(out), pure=False) for i, k, n in todo]
        for fut in as_completed(futures):
            meta = fut.result()
            results.append(meta)
            bar.update(meta["n"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results
