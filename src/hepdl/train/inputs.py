"""Deterministic splits of a dataset; the model inputs themselves come from the dataset's domain
(:func:`hepdl.features.inputs.model_inputs`)."""

from __future__ import annotations

import numpy as np

from hepdl.errors import ConfigError
from hepdl.features.inputs import Inputs, model_inputs, training_weights

__all__ = ["split_indices", "Inputs", "make_inputs", "training_weights"]

#: The model inputs of a dataset for a representation (kept under its former name).
make_inputs = model_inputs


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
