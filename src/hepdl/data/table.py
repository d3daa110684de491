"""A dataset that is a table in memory: named feature columns, optional class labels, training
weights and regression targets. What a method that trains networks on arrays it made itself hands
the one trainer (each OmniFold step's classifier, the cINN of an unfolding): the trainer, the run
layout and ``hepdl predict`` treat it as any other dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepdl.errors import DataError

__all__ = ["TableDataset"]


@dataclass
class TableDataset:
    """Rows of named features, in memory.

    Parameters
    ----------
    frame
        (n, F) feature columns (finite numbers).
    labels
        (n,) class labels 0 ... C-1, or None (-1 each: unlabelled).
    weights
        (n,) training weights (a classifier balances its classes' totals, :func:`hepdl.features.inputs.training_weights`), or None.
    targets, target_names
        (n, T) regression or density targets and their names, or None.
    path
        What the rows are, for messages and the run record (a name or the directory they belong to).
    label_names
        Class names by label.
    """

    frame: pd.DataFrame
    labels: np.ndarray | None = None
    weights: np.ndarray | None = None
    targets: np.ndarray | None = None
    target_names: list[str] | None = None
    path: str | Path = "table"
    label_names: list[str] = field(default_factory=list)

    #: The domain name models may declare.
    domain = "table"
    format = "table"

    def __post_init__(self) -> None:
        n = len(self.frame)
        if self.labels is None:
            self.labels = np.full(n, -1, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        for name, arr in (("labels", self.labels), ("weights", self.weights), ("targets", self.targets)):
            if arr is not None and len(arr) != n:
                raise DataError(f"table {self.path}: {name} has {len(arr)} rows, the features {n}")
        for col in self.frame.columns:
            bad = ~np.isfinite(self.frame[col].to_numpy(dtype=np.float64))
            if bad.any():
                raise DataError(f"table {self.path}: feature column {col!r} has {int(bad.sum())} NaN/inf rows")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
                raise DataError(f"table {self.path}: weights must be finite and >= 0")
            self.weights = w

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def options(self) -> dict[str, Any]:
        return {"columns": list(self.frame.columns)}
