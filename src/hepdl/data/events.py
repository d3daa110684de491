"""Event datasets (one record per selected collision event) and the Higgs challenge's CSV formats.

An :class:`EventDataset` comes either from a generated hepdl event dataset (object lists: lepton,
hadronic tau, jets, missing momentum; see :data:`hepdl.schema.EVENT_FIELDS`) or from a CSV file in
one of the layouts of the ATLAS Higgs machine-learning challenge (2014), which holds the 30 features
(:data:`hepdl.schema.CHALLENGE_FEATURES`) and no object lists:

- the Kaggle ``training.csv``: ``EventId``, the 30 features, ``Weight``, ``Label`` (``s``/``b``);
  the Kaggle ``test.csv`` has ``EventId`` and the features only (unlabelled, unweighted);
- the CERN open-data ``atlas-higgs-challenge-2014-v2.csv``: the same plus ``KaggleSet``
  (``t`` training, ``b`` public and ``v`` private leaderboard, ``u`` unused) and ``KaggleWeight``
  (the weights renormalised within each set).

Weights are expected numbers of events for the dataset's integrated luminosity: for a generated
dataset, ``sigma * L / N_generated`` of the event's sample times the generator weight and the
tau-identification probability (``id_weight``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd

from hepdl import schema
from hepdl.data.paths import atomic_write
from hepdl.errors import DataError

__all__ = ["EventDataset", "open_events", "read_challenge_csv", "write_challenge_csv", "CSV_FORMATS", "KAGGLE_SETS"]

#: CSV layouts: name -> columns after the 30 features.
CSV_FORMATS: dict[str, tuple[str, ...]] = {
    "kaggle": ("Weight", "Label"),
    "opendata": ("Weight", "Label", "KaggleSet", "KaggleWeight"),
}
#: KaggleSet codes of the open-data file, and the hepdl split each corresponds to.
KAGGLE_SETS = {"t": "train", "b": "val", "v": "test", "u": "unused"}


@dataclass
class EventDataset:
    """Selected events with labels and weights.

    Attributes
    ----------
    events
        ``n_events`` records with the object lists (generated datasets), or None (CSV files).
    features
        The 30 challenge features as read from a CSV file, or None (generated: computed by
        :func:`hepdl.features.challenge_features`).
    labels
        ``(n_events,)`` int64, 1 = signal, 0 = background; -1 where unlabelled.
    weights
        ``(n_events,)`` expected events for :attr:`luminosity_fb`, or None for unweighted data.
    process
        ``(n_events,)`` physics process of each event (``signal``/``background`` for CSV files).
    event_id
        ``(n_events,)`` identifiers (``EventId`` of a CSV file; running numbers otherwise).
    """

    events: ak.Array | None
    features: pd.DataFrame | None
    labels: np.ndarray
    weights: np.ndarray | None
    process: np.ndarray
    event_id: np.ndarray
    metadata: dict[str, Any]
    path: Path
    format: str
    label_names: list[str] = field(default_factory=lambda: ["background", "signal"])
    luminosity_fb: float | None = None
    kaggle_set: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    #: The domain name models declare in their registry entry (``ModelSpec.domains``).
    domain = "events"

    def check_training(self, model: str, objective: str, names: list[str]) -> None:
        """What training on events requires beyond the objective's checks: weights, and for a
        classifier exactly two classes (signal, background)."""
        self.require_weights(f"training {model!r}")
        if objective == "classify" and len(names) != 2:
            raise DataError(f"event dataset {self.path} must have two classes (signal, background), found {names}")

    def task_metrics(self, split: dict[str, np.ndarray], val_scores: np.ndarray, test_scores: np.ndarray, *,
                     objective: str = "classify", n_bootstrap: int = 100, seed: int = 0) -> dict[str, Any]:
        """The figure of merit of the Higgs challenge for a classifier's scores: the AMS (threshold
        chosen on validation, applied to test) and the weighted AUC (:func:`hepdl.metrics.ams.ams_metrics`);
        nothing for other objectives."""
        from hepdl.metrics.ams import ams_metrics

        if objective != "classify":
            return {}

        return ams_metrics(self.labels, self.require_weights("the AMS"), split, val_scores, test_scores,
                           n_bootstrap=n_bootstrap, seed=seed)

    def require_weights(self, what: str = "this") -> np.ndarray:
        """The weights, or a :class:`DataError` naming the file when the data are unweighted."""
        if self.weights is None:
            raise DataError(f"{self.path} is unweighted (no Weight column), but {what} needs event weights "
                            "(expected events per event, as the challenge's Weight column)")
        return self.weights

    def class_counts(self) -> dict[str, int]:
        """Number of events per class name."""
        return {n: int(np.sum(self.labels == i)) for i, n in enumerate(self.label_names)}

    def predefined_split(self) -> dict[str, np.ndarray] | None:
        """The split the file defines, or None when it defines none.

        The open-data CSV file of the Higgs challenge assigns each event to a set (``KaggleSet``):
        ``t`` (training) -> ``train``, ``b`` (public leaderboard) -> ``val``, ``v`` (private
        leaderboard) -> ``test``; events of ``u`` (unused) are in no split.

        Returns
        -------
        dict or None
            ``{"train", "val", "test"}`` -> sorted int64 event indices, shapes ``(n_split,)``;
            None without a ``KaggleSet`` column (Kaggle files, generated datasets).
        """
        if self.kaggle_set is None:
            return None
        ks = np.asarray(self.kaggle_set)
        return {split: np.flatnonzero(ks == code) for code, split in KAGGLE_SETS.items() if split != "unused"}

    def summary(self) -> str:
        """One paragraph for humans: size, classes, weighted yields per process."""
        lines = [f"{self.path} ({self.format}): {len(self)} events, " +
                 ", ".join(f"{k}: {v}" for k, v in self.class_counts().items())]
        if self.weights is not None:
            lumi = f" for {self.luminosity_fb:g} fb^-1" if self.luminosity_fb else ""
            for p in np.unique(self.process):
                sel = self.process == p
                lines.append(f"  {p}: {int(sel.sum())} events, {self.weights[sel].sum():.4g} expected{lumi}")
        return "\n".join(lines)


def sample_scales(cross_section: dict[str, dict[str, Any]], cutflow: dict[str, dict[str, int]],
                  luminosity_fb: float | None) -> dict[str, float]:
    """Expected events per generated event, sigma * L / N_generated, of each sample (by name), from
    the ``cross_section`` and ``cutflow`` tables of a dataset's ``dataset.json``."""
    if luminosity_fb is None:
        raise DataError("the dataset's settings have no luminosity_fb: its events cannot be weighted")
    return {name: xs["sigma_pb"] * 1000.0 * luminosity_fb / max(cutflow[name].get("events", 0), 1)
            for name, xs in cross_section.items()}


def open_events(path: str | Path, *, verify: bool = True) -> EventDataset:
    """Open a generated hepdl event dataset directory (``dataset.json`` of format ``hepdl-events``).

    ``verify``: check each part file's SHA-256 against ``dataset.json`` (sizes are always checked);
    see :func:`hepdl.data.dataset.read_parts`.
    """
    from hepdl.data.parts import read_metadata, read_parts

    path = Path(path)
    meta = read_metadata(path, "hepdl-events", "event")
    arrays = read_parts(path, meta, verify=verify)
    if not arrays:
        raise DataError(f"dataset {path}: dataset.json lists no part files")
    events = ak.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    missing = [k for k in schema.EVENT_FIELDS if k not in events.fields]
    if missing:
        raise DataError(f"dataset {path}: event records lack the field(s) {missing}")
    scale = sample_scales(meta["cross_section"], meta["cutflow"], meta["settings"].get("luminosity_fb"))
    sample = ak.to_numpy(events["sample"]).astype(str)
    unknown = sorted(set(sample) - set(scale))
    if unknown:
        raise DataError(f"dataset {path}: events of sample(s) {unknown} have no cross-section in dataset.json")
    per_event = np.vectorize(scale.get, otypes=[np.float64])(sample) if len(sample) else np.zeros(0)
    weights = per_event * ak.to_numpy(events.weight) * ak.to_numpy(events.id_weight)
    return EventDataset(
        events=events, features=None, labels=ak.to_numpy(events.label).astype(np.int64), weights=weights,
        process=ak.to_numpy(events.process).astype(str), event_id=np.arange(len(events), dtype=np.int64), metadata=meta,
        path=path, format="hepdl-events", label_names=list(meta.get("label_names", ["background", "signal"])),
        luminosity_fb=meta["settings"]["luminosity_fb"],
    )


def read_challenge_csv(path: str | Path) -> EventDataset:
    """Read a CSV file of the Higgs challenge (Kaggle ``training.csv``/``test.csv`` or the open-data
    ``atlas-higgs-challenge-2014-v2.csv``).

    Raises :class:`DataError` naming the missing or unexpected columns, bad labels, or non-numeric
    values.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}") from None
    known = {"EventId", *schema.CHALLENGE_FEATURES, *CSV_FORMATS["opendata"]}
    missing = [c for c in schema.CHALLENGE_FEATURES if c not in df.columns]
    extra = [c for c in df.columns if c not in known]
    if missing or extra:
        miss = (f"missing column(s) {missing}" if len(missing) <= 8 else
                f"missing {len(missing)} of the 30 feature columns ({', '.join(missing[:3])}, ...)")
        raise DataError(f"{path}: not a Higgs-challenge CSV file: {miss}, unexpected column(s) {extra[:10]}; "
                        f"expected EventId, the 30 features ({', '.join(schema.CHALLENGE_FEATURES[:3])}, ...) and "
                        "optionally Weight, Label (Kaggle) and KaggleSet, KaggleWeight (open data)")
    if ("Weight" in df.columns) != ("Label" in df.columns):
        raise DataError(f"{path}: has {'Weight' if 'Weight' in df.columns else 'Label'} without "
                        f"{'Label' if 'Weight' in df.columns else 'Weight'}; labelled data need both")
    feats = df[list(schema.CHALLENGE_FEATURES)]
    bad = [c for c in feats.columns if not pd.api.types.is_numeric_dtype(feats[c])]
    if bad:
        raise DataError(f"{path}: column(s) {bad} are not numeric")
    n = len(df)
    labels = np.full(n, -1, dtype=np.int64)
    weights = None
    fmt = "challenge-csv (unlabelled)"
    if "Label" in df.columns:
        lab = df["Label"].astype(str).str.strip()
        wrong = sorted(set(lab) - {"s", "b"})
        if wrong:
            raise DataError(f"{path}: column Label must hold 's' or 'b', found {wrong[:5]}")
        labels = (lab == "s").to_numpy().astype(np.int64)
        if not pd.api.types.is_numeric_dtype(df["Weight"]):
            raise DataError(f"{path}: column Weight must hold finite non-negative numbers, found non-numeric values")
        weights = df["Weight"].to_numpy(np.float64)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise DataError(f"{path}: column Weight must hold finite non-negative numbers")
        fmt = "challenge-csv (kaggle)"
    kset = None
    if "KaggleSet" in df.columns:
        kset = df["KaggleSet"].astype(str).str.strip().to_numpy()
        wrong = sorted(set(kset) - set(KAGGLE_SETS))
        if wrong:
            raise DataError(f"{path}: column KaggleSet must hold {sorted(KAGGLE_SETS)}, found {wrong[:5]}")
        fmt = "challenge-csv (opendata)"
    if "EventId" in df.columns and not pd.api.types.is_integer_dtype(df["EventId"]):
        raise DataError(f"{path}: column EventId must hold integers, found values of type {df['EventId'].dtype}")
    ids = df["EventId"].to_numpy(np.int64) if "EventId" in df.columns else np.arange(n, dtype=np.int64)
    process = np.where(labels == 1, "signal", np.where(labels == 0, "background", "unknown"))
    return EventDataset(events=None, features=feats.reset_index(drop=True).astype(np.float64), labels=labels, weights=weights,
                        process=process, event_id=ids, metadata={"columns": list(df.columns)}, path=path, format=fmt,
                        kaggle_set=kset)


def write_challenge_csv(path: str | Path, features: pd.DataFrame, *, labels: np.ndarray | None = None,
                        weights: np.ndarray | None = None, event_id: np.ndarray | None = None, fmt: str = "kaggle",
                        kaggle_set: np.ndarray | None = None) -> Path:
    """Write the 30 features (and labels/weights) as a challenge CSV file, atomically.

    ``fmt="kaggle"`` writes ``EventId``, the features, ``Weight``, ``Label``; without labels and
    weights it writes the layout of the Kaggle ``test.csv``. ``fmt="opendata"`` adds ``KaggleSet``
    (``kaggle_set``: one of t/b/v/u per event) and ``KaggleWeight`` (the weights renormalised in
    each set so that each set's signal and background sums equal those of the whole file).
    """
    if fmt not in CSV_FORMATS:
        raise DataError(f"unknown CSV format {fmt!r}; known: {', '.join(CSV_FORMATS)}")
    missing = [c for c in schema.CHALLENGE_FEATURES if c not in features.columns]
    if missing:
        raise DataError(f"cannot write {path}: the feature table lacks column(s) {missing}")
    n = len(features)
    out = pd.DataFrame({"EventId": event_id if event_id is not None else np.arange(100000, 100000 + n)})
    for c in schema.CHALLENGE_FEATURES:
        out[c] = features[c].to_numpy()
    if (labels is None) != (weights is None):
        raise DataError(f"cannot write {path}: labels and weights go together (the Label and Weight columns)")
    if labels is not None and weights is not None:
        out["Weight"] = np.asarray(weights, dtype=np.float64)
        out["Label"] = np.where(np.asarray(labels) == 1, "s", "b")
    elif fmt == "opendata":
        raise DataError(f"cannot write {path}: the open-data format needs labels and weights")
    if fmt == "opendata":
        if kaggle_set is None or len(kaggle_set) != n:
            raise DataError(f"cannot write {path}: the open-data format needs a KaggleSet code per event")
        ks = np.asarray(kaggle_set).astype(str)
        w0 = np.asarray(weights, dtype=np.float64)
        kw = w0.copy()
        lab = np.asarray(labels)
        for code in np.unique(ks):
            for c in (0, 1):
                sel = (ks == code) & (lab == c)
                tot = w0[lab == c].sum()
                part = w0[sel].sum()
                if part > 0:
                    kw[sel] *= tot / part
        out["KaggleSet"] = ks
        out["KaggleWeight"] = kw
    path = Path(path)
    atomic_write(path, lambda tmp: out.to_csv(tmp, index=False, float_format="%.10g"))
    return path
