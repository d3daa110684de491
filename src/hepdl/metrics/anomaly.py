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

__all__ = ["max_sic", "anomaly_metrics", "jensen_shannon", "sculpting_jsd"]


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2: 0 for equal shapes, 1 for disjoint ones) of two histograms,
    each normalised to unit sum."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def sculpting_jsd(observable: np.ndarray, labels: np.ndarray, scores: np.ndarray, eps_s: float = 0.5,
                  bins: np.ndarray | int = 30) -> float:
    """How much a cut on ``scores`` sculpts the background's ``observable`` (e.g. the jet mass): the
    Jensen-Shannon divergence between the background histogram before the cut and after the cut that
    keeps a fraction ``eps_s`` of the signal (the mass-decorrelation figure of merit; 1/JSD against the
    background rejection is the usual quote, as in DisCo, arXiv:2001.05310). NaN when fewer than two background entries pass."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    x = np.asarray(observable, dtype=np.float64)
    cut = np.quantile(s[y == 1], 1 - eps_s)
    bkg, passed = y == 0, (y == 0) & (s >= cut)
    if passed.sum() < 2:
        return float("nan")
    edges = np.histogram_bin_edges(x[bkg], bins=bins)
    return jensen_shannon(np.histogram(x[bkg], edges)[0], np.histogram(x[passed], edges)[0])


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
