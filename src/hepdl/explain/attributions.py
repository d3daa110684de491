"""Model-specific and model-agnostic attributions: XGBoost's Tree-SHAP and permutation importance.

Dimensions: N jets or events, F features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepdl.errors import ConfigError

__all__ = ["tree_shap", "permutation_importance"]


def tree_shap(booster: Any, frame: Any, *, interactions: bool = False, best_iteration: int | None = None) -> dict[str, Any]:
    """Exact Tree-SHAP values of an XGBoost model (its native ``pred_contribs``; arXiv:1802.03888) on the
    rows of ``frame`` (a DataFrame of the model's columns), in the raw margin (log-odds for a binary BDT).

    Returns ``{"columns", "values": (N, F), "bias": (N,), "mean_abs": (F,)}`` and, with ``interactions``,
    ``"interactions": (N, F, F)`` (``pred_interactions``); ``values.sum(1) + bias`` is the margin.
    """
    import xgboost as xgb

    columns = [str(c) for c in frame.columns]
    d = xgb.DMatrix(frame.to_numpy(np.float64), feature_names=columns)
    rng = (0, best_iteration + 1) if best_iteration is not None else (0, 0)
    contrib = booster.predict(d, pred_contribs=True, iteration_range=rng)
    if contrib.ndim != 2:
        raise ConfigError("tree_shap explains two-class BDTs (one margin per jet); this one has several classes")
    out: dict[str, Any] = {"columns": columns, "values": contrib[:, :-1], "bias": contrib[:, -1],
                           "mean_abs": np.abs(contrib[:, :-1]).mean(axis=0)}
    if interactions:
        out["interactions"] = booster.predict(d, pred_interactions=True, iteration_range=rng)[:, :-1, :-1]
    return out


def permutation_importance(score: Any, frame: Any, labels: np.ndarray, *, n_repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """The AUC a model loses when one input column of ``frame`` is shuffled across jets (Breiman 2001),
    per column: ``{"auc", "columns", "drop": (F,), "drop_err": (F,)}`` (mean over ``n_repeats`` seeded
    shuffles and its standard error). ``score(frame) -> (N,)`` is the model; a column it does not use
    loses exactly nothing."""
    from hepdl.metrics import auc

    if n_repeats < 1:
        raise ConfigError(f"n_repeats must be >= 1, got {n_repeats}")
    y = np.asarray(labels)
    base = auc(y, np.asarray(score(frame)))
    rng = np.random.default_rng(seed)
    drops = np.zeros((n_repeats, frame.shape[1]))
    for r in range(n_repeats):
        for j, col in enumerate(frame.columns):
            shuffled = frame.copy()
            shuffled[col] = frame[col].to_numpy()[rng.permutation(len(frame))]
            drops[r, j] = base - auc(y, np.asarray(score(shuffled)))
    err = drops.std(axis=0, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else np.full(frame.shape[1], np.nan)
    return {"auc": base, "columns": [str(c) for c in frame.columns], "drop": drops.mean(axis=0), "drop_err": err}
