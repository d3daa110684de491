"""Model inputs of a dataset, per representation: the one place a domain plugs its arrays in.

A representation (:data:`REPRESENTATIONS`) names the tensors a network takes, in order (``features``;
``images``; ``x, mask, p4``; or a DataFrame for the BDT and the cuts), and how a network is sized
from them. A domain (jets, events, or a user's own) registers with :func:`register_inputs` a builder
(the jet and event builders register when :mod:`hepdl.features` is imported)
that makes those arrays from its datasets; :func:`model_inputs` dispatches on the dataset's type.
The trainer, the LightningModule's ``forward`` and the ONNX export read the same declaration.

Dimensions: B jets or events, F features, N particles, K channels, H = W pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hepdl.errors import ConfigError, DataError
from hepdl.registry import Registry

__all__ = ["Inputs", "StreamedInputs", "Representation", "REPRESENTATIONS", "register_inputs", "model_inputs", "training_weights",
           "standardisation", "check_finite", "AUGMENTATIONS", "register_augmentation", "augment_batch"]


@dataclass(frozen=True)
class Representation:
    """A representation: the input tensors in the order the network takes them, and the model
    settings implied by their shapes (a model receives those its constructor accepts)."""

    name: str
    inputs: tuple[str, ...]
    sizes: Callable[[dict[str, Any]], dict[str, int]] = field(default=lambda arrays: {})
    #: The length of the feature axis of the first input (for objectives that reproduce it), if any.
    width: Callable[[dict[str, Any]], int | None] = field(default=lambda arrays: None)
    #: ``example(preprocess, batch)``: example input tensors of that batch size for a model with this
    #: ``preprocess.json`` (tracing for ONNX export), or None (the exporter knows the jet representations).
    example: Callable[[dict[str, Any], int], tuple[Any, ...]] | None = None


REPRESENTATIONS: Registry[Representation] = Registry("representation")
REPRESENTATIONS.add("features", Representation("features", ("features",), lambda a: {"n_inputs": a["features"].shape[1]},
                                               lambda a: int(a["features"].shape[1])))
REPRESENTATIONS.add("image", Representation("image", ("images",),
                                            lambda a: {"n_channels": a["images"].shape[1], "n_pixels": a["images"].shape[-1]}))
REPRESENTATIONS.add("cloud", Representation("cloud", ("x", "mask", "p4"), lambda a: {"n_features": a["x"].shape[-1]}))
REPRESENTATIONS.add("bdt", Representation("bdt", ("frame",)))
REPRESENTATIONS.add("cut", Representation("cut", ("frame",)))


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
    sample_weight: np.ndarray | None = None  # training weights (weighted datasets), shape (B,)
    physics_weight: np.ndarray | None = None  # the events' physics weights (e.g. expected events), shape (B,)

    def take(self, idx: np.ndarray) -> dict[str, Any]:
        return {k: (v.iloc[idx] if isinstance(v, pd.DataFrame) else v[idx]) for k, v in self.arrays.items()}


@dataclass
class StreamedInputs(Inputs):
    """Inputs built one chunk of the dataset at a time, for datasets too large for memory.

    ``arrays`` holds zero-row arrays with the right trailing shapes (to size a network);
    ``chunk_arrays(i, rows)`` builds the arrays of chunk ``i``'s rows ``rows`` (local indices, sorted;
    None: all) with the same builder as the in-memory path; ``starts[i]`` is the first row of chunk
    ``i`` (``starts[-1]`` the number of rows).
    A training loader reads a window of chunks at a time (:func:`hepdl.train.module.make_loader`).
    """

    starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    chunk_arrays: Callable[[int, np.ndarray | None], dict[str, Any]] | None = None

    def by_chunk(self, idx: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For the rows ``idx``: chunk -> (positions in ``idx``, the chunk's distinct local rows among
        them, ascending, and each position's place in those rows)."""
        from hepdl.data.stream import chunk_of, group_by_chunk

        idx = np.asarray(idx, dtype=np.int64)
        out = {}
        for c, where in group_by_chunk(chunk_of(self.starts, idx)).items():
            rows, back = np.unique(idx[where] - self.starts[c], return_inverse=True)
            out[c] = (where, rows, np.ravel(back))
        return out

    def take(self, idx: np.ndarray) -> dict[str, Any]:
        """The rows ``idx`` (in that order), reading the chunks they lie in, one at a time."""
        out = {k: np.empty((len(idx), *v.shape[1:]), dtype=v.dtype) for k, v in self.arrays.items()}
        assert self.chunk_arrays is not None
        for c, (where, rows, back) in self.by_chunk(idx).items():
            arrays = self.chunk_arrays(c, rows)
            for k in out:
                out[k][where] = arrays[k][back]
        return out


#: Training-time augmentations a representation may declare in its preprocessing
#: (``preprocess["augment"] = {"name": ..., ...settings}``): name -> function(arrays, settings) that
#: returns a batch's arrays (torch tensors, entry axis first) transformed at random (torch's generator,
#: which the trainer seeds per epoch). The trainer applies it to training batches only
#: (:attr:`hepdl.train.TrainConfig.augment`).
AUGMENTATIONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {}


def register_augmentation(name: str, fn: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]) -> None:
    """Add an augmentation (see :data:`AUGMENTATIONS`)."""
    AUGMENTATIONS[name] = fn


def augment_batch(arrays: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """``arrays`` transformed by the augmentation ``settings["name"]`` (see :data:`AUGMENTATIONS`)."""
    try:
        fn = AUGMENTATIONS[settings["name"]]
    except KeyError:
        raise ConfigError(f"unknown augmentation {settings.get('name')!r}; known: {', '.join(AUGMENTATIONS) or 'none'}") from None
    return fn(arrays, settings)


def check_finite(df: pd.DataFrame, where: str) -> None:
    for col in df.columns:
        bad = ~np.isfinite(df[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise DataError(f"{where}: feature column {col!r} has {int(bad.sum())} NaN/inf rows")


def standardisation(columns: list[str], x: np.ndarray, train_idx: np.ndarray, scaling: dict[str, Any] | None,
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



#: dataset type -> builder(ds, kind, train_idx, **options) -> Inputs
_BUILDERS: dict[type, Callable[..., Inputs]] = {}


def register_inputs(dataset_type: type, builder: Callable[..., Inputs]) -> None:
    """Make ``builder(ds, kind, train_idx, *, feature_set, n_particles, image, cache, scaling)`` the
    input builder of datasets of ``dataset_type`` (and its subclasses)."""
    _BUILDERS[dataset_type] = builder


def model_inputs(ds: Any, kind: str, train_idx: np.ndarray, **options: Any) -> Inputs:
    """The arrays of representation ``kind`` for every event of ``ds``, built by its domain's
    registered builder; scaling is fitted on ``train_idx`` or taken from ``options["scaling"]``."""
    REPRESENTATIONS.lookup(kind)
    for t in type(ds).__mro__:
        if t in _BUILDERS:
            return _BUILDERS[t](ds, kind, train_idx, **options)
    raise ConfigError(f"no input builder for datasets of type {type(ds).__name__} ({getattr(ds, 'path', '?')}); "
                      "register one with hepdl.features.inputs.register_inputs")


def table_inputs(ds: Any, kind: str, train_idx: np.ndarray, *, scaling: dict[str, Any] | None = None, **_: Any) -> Inputs:
    """Inputs of a :class:`hepdl.data.table.TableDataset`: its columns standardised (``features``) or
    as they are (``bdt``), its weights as training weights (balanced per class when it has labels)."""
    if kind not in ("features", "bdt"):
        raise ConfigError(f"table {ds.path} gives the 'features' and 'bdt' representations, not {kind!r}")
    columns = list(ds.frame.columns)
    labels = np.asarray(ds.labels)
    sw = None
    if ds.weights is not None:
        labelled = labels >= 0
        sw = training_weights(ds.weights, labels, train_idx) if labelled.all() else ds.weights / max(ds.weights[train_idx].mean(), 1e-300)
    pre: dict[str, Any] = {"columns": columns, "feature_set": "table"}
    if kind == "bdt":
        return Inputs(kind, {"frame": ds.frame}, labels, pre, sample_weight=sw)
    x = ds.frame.to_numpy(dtype=np.float64)
    mean, std = standardisation(columns, x, train_idx, scaling, str(ds.path))
    arr = ((x - mean) / std).astype(np.float32)
    return Inputs(kind, {"features": arr}, labels, {**pre, "mean": mean.tolist(), "std": std.tolist()}, sample_weight=sw)


def _register_table() -> None:
    from hepdl.data.table import TableDataset

    register_inputs(TableDataset, table_inputs)


_register_table()
