"""Anomaly-detection metrics of an anomaly score (higher = less background-like).

Without labels, or with one class only, the metric is the mean score of the test events. With
background (label 0) and signal (label 1) it adds the AUC and the maximum significance improvement
SIC = eps_S / sqrt(eps_B) over working points with at least ``min_background`` background events
selected (a SIC from a handful of background events is noise; cf. the anomaly-detection literature,
e.g. arXiv:2101.08320).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepdl.metrics import auc, bootstrap, roc_curve

__all__ = ["max_sic", "anomaly_metrics"]


def max_sic(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None, min_background: int = 10) -> float:
    """max over cuts of eps_S / sqrt(eps_B), among cuts that keep at least ``min_background`` background events."""
    es, eb, _ = roc_curve(labels, scores, weights)
    n_b = int(np.sum(np.asarray(labels) == 0))
    ok = (eb * n_b >= min_background) & (eb > 0)
    return float(np.max(es[ok] / np.sqrt(eb[ok]))) if ok.any() else float("nan")


def anomaly_metrics(labels: np.ndarray, scores: np.ndarray, *, n_bootstrap: int = 100, seed: int = 0) -> dict[str, Any]:
    """``mean_score`` always; ``auc`` and ``max_sic`` (value and bootstrap error) when ``labels`` hold 0 and 1."""
    from hepdl.metrics.regression import measured

    s = np.asarray(scores, np.float64)
    out: dict[str, Any] = {"mean_score": measured(lambda a: float(a.mean()), s, n=n_bootstrap, seed=seed).to_dict()}
    y = np.asarray(labels)
    keep = (y == 0) | (y == 1)
    if keep.any() and len(np.unique(y[keep])) == 2:
        for key, fn in (("auc", auc), ("max_sic", max_sic)):
            m = bootstrap(fn, (y[keep] == 1).astype(int), s[keep], n=n_bootstrap, seed=seed)
            out[key] = m.to_dict()
    return out
