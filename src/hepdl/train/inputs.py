"""Model inputs from a dataset: deterministic splits, representations, standardisation.

Dimensions: B jets, F features, N particles, K channels, H = W pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hepdl.data.dataset import JetDataset
from hepdl.errors import ConfigError, DataError
from hepdl.features import ImageConfig, build_features, compute_feature_set, jet_images, particle_cloud

__all__ = ["split_indices", "Inputs", "make_inputs", "training_weights", "DEFAULT_FEATURE_SET", "EVENT_FEATURE_SET", "FEATURE_EXCLUDE"]

DEFAULT_FEATURE_SET = "expert"
#: The feature set of event datasets: the 30 features of the Higgs machine-learning challenge.
EVENT_FEATURE_SET = "higgs-challenge"
#: Columns of the expert set that carry no tagging information (and would sculpt nothing useful).
FEATURE_EXCLUDE = ("eta", "phi")


def split_indices(n: int, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic train/val/test indices of ``n`` jets (a seeded permutation, sorted within each split).

    The test split is only ever read by evaluation.
    """
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"split fractions must be three positive numbers summing to 1, got {fractions}")
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    parts = {"train": perm[:n_train], "val": perm[n_train : n_train + n_val], "test": perm[n_train + n_val :]}
    return {k: np.sort(v) for k, v in parts.items()}


@dataclass
class Inputs:
    """Arrays for one representation, all jets of the dataset, plus the preprocessing to reproduce them.

    ``arrays`` maps names to arrays with the jet axis first: ``features`` (B, F) for ``features``;
    ``images`` (B, K, H, W) for ``image``; ``x`` (B, N, F), ``mask`` (B, N), ``p4`` (B, N, 4) for
    ``cloud``; ``frame`` (a DataFrame) for ``bdt``/``cut``.
    """

    kind: str
    arrays: dict[str, Any]
    labels: np.ndarray
    preprocess: dict[str, Any] = field(default_factory=dict)
    sample_weight: np.ndarray | None = None  # training weights (event datasets), shape (B,)

    def take(self, idx: np.ndarray) -> dict[str, Any]:
        return {k: (v.iloc[idx] if isinstance(v, pd.DataFrame) else v[idx]) for k, v in self.arrays.items()}


def _check_finite(df: pd.DataFrame, where: str) -> None:
    for col in df.columns:
        bad = ~np.isfinite(df[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise DataError(f"{where}: feature column {col!r} has {int(bad.sum())} NaN/inf rows")


def _standardisation(columns: list[str], x: np.ndarray, train_idx: np.ndarray, scaling: dict[str, Any] | None,
                     where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` per column: fitted on the rows ``train_idx`` of ``x`` (NaN entries ignored), or
    a trained model's (``scaling``: its ``preprocess.json`` with ``columns``, ``mean``, ``std``), whose
    columns must be ``columns``."""
    if scaling is not None:
        if list(columns) != list(scaling["columns"]):
            missing = [c for c in scaling["columns"] if c not in columns]
            raise DataError(f"{where}: feature columns {list(columns)} differ from the model's {scaling['columns']} (missing: {missing})")
        return np.asarray(scaling["mean"], dtype=np.float64), np.asarray(scaling["std"], dtype=np.float64)
    with np.errstate(all="ignore"):
        mean, std = np.nan_to_num(np.nanmean(x[train_idx], axis=0)), np.nan_to_num(np.nanstd(x[train_idx], axis=0))
    return mean, np.where(std > 0, std, 1.0)


def training_weights(weights: np.ndarray, labels: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """Per-event training weights: the physics weights scaled per class so that signal and background
    have the same total weight on the training split, normalised to mean 1 there (the usual practice
    of the Higgs challenge: the classifier sees balanced classes, and within each class the processes
    keep their expected proportions)."""
    w = np.asarray(weights, dtype=np.float64).copy()
    for c in np.unique(labels):
        sel = labels == c
        tot = w[train_idx][labels[train_idx] == c].sum()
        if tot > 0:
            w[sel] /= tot
    return w / max(w[train_idx].mean(), 1e-300)


#: Challenge features a network sees as log(1 + x): momenta, energies and masses (heavy tails).
LOG_COLUMNS = ("DER_mass_MMC", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_mass_jet_jet", "DER_pt_tot",
               "DER_sum_pt", "DER_pt_ratio_lep_tau", "PRI_tau_pt", "PRI_lep_pt", "PRI_met", "PRI_met_sumet",
               "PRI_jet_leading_pt", "PRI_jet_subleading_pt", "PRI_jet_all_pt")


def _event_inputs(ds: Any, kind: str, train_idx: np.ndarray, n_particles: int, scaling: dict[str, Any] | None) -> Inputs:
    """Inputs of an event dataset: the 30 challenge features or the object lists."""
    from hepdl import schema

    labels = ds.labels
    sw = training_weights(ds.weights, labels, train_idx) if ds.weights is not None and (labels >= 0).all() else None
    if kind == "cloud":
        from hepdl.features.higgs import OBJECT_FEATURES, event_objects

        obj = event_objects(ds, n_objects=max(3, n_particles))
        return Inputs(kind, obj, labels, {"n_particles": obj["x"].shape[1], "features": list(OBJECT_FEATURES), "events": True},
                      sample_weight=sw)
    if kind not in ("features", "bdt", "cut"):
        raise ConfigError(f"event datasets have the representations features, bdt, cut and cloud (objects), not {kind!r}")
    from hepdl.features.higgs import dataset_features

    df = dataset_features(ds)
    _check_finite(df, f"features of {ds.path}")
    pre: dict[str, Any] = {"feature_set": EVENT_FEATURE_SET, "columns": list(df.columns), "events": True,
                           "undefined": schema.UNDEFINED}
    if kind != "features":
        return Inputs(kind, {"frame": df}, labels, pre, sample_weight=sw)
    # heavy-tailed momenta and masses on a log scale, then standardise on the defined values;
    # undefined (-999) values become 0, the mean
    x = df.to_numpy(np.float64)
    undefined = x == schema.UNDEFINED
    logs = [i for i, c in enumerate(df.columns) if c in LOG_COLUMNS]
    x[:, logs] = np.where(undefined[:, logs], x[:, logs], np.log1p(np.maximum(x[:, logs], 0.0)))
    pre["log_columns"] = [df.columns[i] for i in logs]
    mean, std = _standardisation(list(df.columns), np.where(undefined, np.nan, x), train_idx, scaling, str(ds.path))
    arr = np.where(undefined, 0.0, (x - mean) / std).astype(np.float32)
    return Inputs(kind, {"features": arr}, labels, {**pre, "mean": mean.tolist(), "std": std.tolist()}, sample_weight=sw)


def make_inputs(ds: Any, kind: str, train_idx: np.ndarray, *, feature_set: str = DEFAULT_FEATURE_SET,
                n_particles: int = 128, image: ImageConfig | None = None, require_classes: bool = True,
                cache: bool = True, scaling: dict[str, Any] | None = None) -> Inputs:
    """Build the representation ``kind`` for every jet (or event) of ``ds``; scaling is fitted on
    ``train_idx`` only, or taken from ``scaling`` (a trained model's ``preprocess.json``: ``columns``,
    ``mean``, ``std``; other columns than the model's are an error naming them).

    ``require_classes=False`` accepts unlabelled or one-class data (for inference); ``cache=False``
    computes feature sets without reading or writing the dataset's feature cache (for a slice of a
    dataset, e.g. one batch of a stream). An event dataset (:class:`hepdl.data.events.EventDataset`)
    gives the 30 Higgs-challenge features (``features``, ``bdt``, ``cut``) or its object lists
    (``cloud``), with training weights.
    """
    labels = ds.labels
    if require_classes and len(np.unique(labels)) < 2:
        raise DataError(f"dataset {ds.path} has a single class ({np.unique(labels)}): a classifier needs two")
    if not isinstance(ds, JetDataset):
        return _event_inputs(ds, kind, train_idx, n_particles, scaling)
    if kind in ("features", "bdt", "cut"):
        if feature_set == EVENT_FEATURE_SET:
            raise ConfigError(f"the feature set {EVENT_FEATURE_SET!r} needs event data (an H -> tau tau event dataset or a "
                              f"challenge CSV); dataset {ds.path} holds jets")
        if cache:
            df = build_features(ds, feature_set).drop(columns=["label"])
        else:
            df = compute_feature_set(ds.jets, feature_set)
        df = df.drop(columns=[c for c in FEATURE_EXCLUDE if c in df.columns])
        _check_finite(df, f"feature set {feature_set!r} of {ds.path}")
        if kind != "features":
            return Inputs(kind, {"frame": df}, labels, {"feature_set": feature_set, "columns": list(df.columns)})
        x = df.to_numpy(np.float64)
        mean, std = _standardisation(list(df.columns), x, train_idx, scaling, str(ds.path))
        arr = ((x - mean) / std).astype(np.float32)
        pre = {"feature_set": feature_set, "columns": list(df.columns), "mean": mean.tolist(), "std": std.tolist()}
        return Inputs(kind, {"features": arr}, labels, pre)
    if kind == "image":
        cfg = image or ImageConfig()
        imgs = jet_images(ds.jets, cfg) * np.float32(cfg.n_pixels**2)  # unit-sum images scaled to O(1) pixels
        from hepdl.config import to_dict

        return Inputs(kind, {"images": imgs}, labels, {"image": to_dict(cfg), "scale": cfg.n_pixels**2})
    if kind == "cloud":
        pc = particle_cloud(ds.jets, n_max=n_particles)
        return Inputs(kind, {"x": pc.features, "mask": pc.mask, "p4": pc.four_momenta}, labels,
                      {"n_particles": n_particles, "features": list(pc.names)})
    raise ConfigError(f"unknown representation {kind!r}; known: features, image, cloud, bdt, cut")
