"""Deterministic splits of a dataset; the model inputs themselves come from the dataset's domain
(:func:`hepdl.features.inputs.model_inputs`)."""

from __future__ import annotations

import numpy as np

from hepdl.errors import ConfigError
from hepdl.features.inputs import Inputs, model_inputs, training_weights

__all__ = ["split_indices", "Inputs", "make_inputs", "training_weights"]

#: The model inputs of a dataset for a representation (kept under its former name).
make_inputs = model_inputs


def fold_indices(n: int, n_folds: int, fold: int, seed: int = 0, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Train/val/test indices of fold ``fold`` of a ``n_folds``-fold cross-validation of ``n`` entries:
    a seeded permutation (of ``groups`` when given: one collision event's entries stay together) cut
    into ``n_folds`` near-equal folds; ``test`` is fold ``fold``, ``val`` fold ``fold + 1`` (mod
    ``n_folds``), ``train`` the rest. Over the folds the test sets, and the validation sets, each
    partition the entries: every entry is tested exactly once, by a model that never saw it."""
    if not isinstance(n_folds, int) or n_folds < 3:
        raise ConfigError(f"cross-validation needs n_folds >= 3 (train, validation and test folds), got {n_folds!r}")
    if not isinstance(fold, int) or not 0 <= fold < n_folds:
        raise ConfigError(f"fold must be an integer in [0, {n_folds - 1}], got {fold!r}")
    rng = np.random.default_rng([seed, 104729])
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ConfigError(f"split groups have {len(groups)} entries for {n} rows")
        _, inverse = np.unique(groups, return_inverse=True, axis=0 if groups.ndim > 1 else None)
        inverse = np.ravel(inverse)
        n_groups = int(inverse.max()) + 1 if n else 0
    else:
        inverse, n_groups = np.arange(n), n
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[rng.permutation(n_groups)] = np.arange(n_groups) % n_folds
    fold_of = fold_of_group[inverse]
    val = (fold + 1) % n_folds
    return {"train": np.flatnonzero((fold_of != fold) & (fold_of != val)), "val": np.flatnonzero(fold_of == val),
            "test": np.flatnonzero(fold_of == fold)}


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
