"""Deterministic splits of a dataset; the model inputs themselves come from the dataset's domain
(:func:`hepdl.features.inputs.model_inputs`)."""

from __future__ import annotations

import numpy as np

from hepdl.errors import ConfigError
from hepdl.features.inputs import Inputs, model_inputs, training_weights

__all__ = ["split_indices", "Inputs", "make_inputs", "training_weights"]

#: The model inputs of a dataset for a representation (kept under its former name).
make_inputs = model_inputs


def split_indices(n: int, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0,
                  groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Deterministic train/val/test indices of ``n`` entries (a seeded permutation, sorted within each split).

    ``groups`` (shape ``(n,)``, any comparable values) keeps entries of one group in one split: two
    jets of one collision event never land one in training and one in test. Groups are permuted
    instead of entries, so each split's size is within one group of its fraction. Without groups,
    or when every group holds one entry, the split is the plain permutation of ``n``.
    The test split is only ever read by evaluation.
    """
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"split fractions must be three positive numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ConfigError(f"split groups have {len(groups)} entries for {n} rows")
        _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True, axis=0 if groups.ndim > 1 else None)
        if len(counts) < n:
            order = rng.permutation(len(counts))
            start = np.cumsum(counts[order]) - counts[order]  # entries before each group in the permuted order
            which = np.empty(len(counts), dtype=np.int8)
            which[order] = np.where(start < n_train, 0, np.where(start < n_train + n_val, 1, 2))
            split_of = which[np.ravel(inverse)]
            return {k: np.flatnonzero(split_of == i) for i, k in enumerate(("train", "val", "test"))}
    perm = rng.permutation(n)
    parts = {"train": perm[:n_train], "val": perm[n_train : n_train + n_val], "test": perm[n_train + n_val :]}
    return {k: np.sort(v) for k, v in parts.items()}
