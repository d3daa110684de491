"""Training: one entry point for every model (torch models on Lightning, the BDT, the cut baselines)."""

from __future__ import annotations

from hepdl.train.inputs import make_inputs, split_indices
from hepdl.train.trainer import (
                                 BASELINES,
                                 TrainConfig,
                                 ams_metrics,
                                 class_labels,
                                 evaluate,
                                 load_trained,
                                 model_inputs,
                                 open_for_training,
                                 partial_dir,
                                 predict,
                                 run_split,
                                 score_inputs,
                                 train,
)

__all__ = ["BASELINES", "TrainConfig", "ams_metrics", "class_labels", "evaluate", "load_trained", "make_inputs", "model_inputs", "open_for_training", "partial_dir",
           "predict", "run_split", "score_inputs", "split_indices", "train"]
