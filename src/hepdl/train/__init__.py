"""Training: one entry point for every model (torch models on Lightning, the BDT, the cut baselines)."""

from __future__ import annotations

from hepdl.train.inputs import make_inputs, split_indices
from hepdl.train.trainer import BASELINES, TrainConfig, evaluate, predict, train

__all__ = ["BASELINES", "TrainConfig", "evaluate", "make_inputs", "predict", "split_indices", "train"]
