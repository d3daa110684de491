"""Physics metrics of classifiers: ROC, AUC, background rejection 1/eps_B at fixed signal efficiency,
accuracy, each with a bootstrap uncertainty; ensembles of runs.

Conventions follow the top-tagging comparison (Kasieczka et al., arXiv:1902.09914): the ROC is
eps_B (background efficiency) against eps_S (signal efficiency); 1/eps_B at a working point is read
off the ROC by linear interpolation in eps_S.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from hepdl.errors import DataError

__all__ = [
    "Measurement",
    "Rejection",
    "rejection",
    "poisson_upper_limit",
    "MIN_BACKGROUND_PASSING",
    "is_lower_limit",
    "roc_curve",
    "auc",
    "background_rejection",
    "accuracy",
    "bootstrap",
    "classifier_metrics",
    "ensemble",
    "confusion_matrix",
    "multiclass_metrics",
    "ams",
    "ams_curve",
    "ams_at_threshold",
    "ams_difference",
    "best_threshold",
    "renormalise_weights",
    "AMSResult",
]


@dataclass(frozen=True)
class Measurement:
    """A value with its (bootstrap) standard uncertainty."""

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.error:.2g}"

    def to_dict(self) -> dict[str, float]:
        """``{"value", "error"}``: how every file of a run stores a measurement (the one place)."""
        return {"value": self.value, "error": self.error}


#: Below this many test background jets passing, 1/eps_B is quoted as a lower limit.
MIN_BACKGROUND_PASSING = 20


@dataclass(frozen=True)
class Rejection(Measurement):
    """1/eps_B with its bootstrap error, the number of test background jets behind it, and its 95 %
    CL lower limit (from the Poisson upper limit on that number), which is what to quote when fewer
    than :data:`MIN_BACKGROUND_PASSING` background jets pass."""

    n_background: int = 0
    lower_limit: float = float("nan")

    @property
    def limited(self) -> bool:
        """True when too few background jets pass for the value to be quoted as a measurement."""
        return self.n_background < MIN_BACKGROUND_PASSING

    def to_dict(self) -> dict[str, float]:
        return {**super().to_dict(), "n_background": self.n_background, "lower_limit": self.lower_limit}


def is_lower_limit(entry: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a stored 1/eps_B (a ``metrics.json`` entry, :meth:`Rejection.to_dict`) rests on fewer than
    :data:`MIN_BACKGROUND_PASSING` test background jets, so that its ``lower_limit`` is what to quote."""
    return isinstance(entry, dict) and "n_background" in entry and entry["n_background"] < MIN_BACKGROUND_PASSING


def poisson_upper_limit(n: int, cl: float = 0.95) -> float:
    """The classical upper limit on a Poisson mean when ``n`` events are seen: the mean for which the
    probability of seeing ``n`` or fewer is ``1 - cl`` (3.00 for n = 0 at 95 % CL)."""
    import math

    def p_le(mu: float) -> float:
        term = total = math.exp(-mu)
        for k in range(1, n + 1):
            term *= mu / k
            total += term
        return total

    lo, hi = 0.0, max(10.0, 3.0 * n + 10.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if p_le(mid) > 1 - cl else (lo, mid)
    return 0.5 * (lo + hi)


def rejection(labels: np.ndarray, scores: np.ndarray, eps_s: float, *, n_bootstrap: int = 100, seed: int = 0) -> Rejection:
    """1/eps_B at ``eps_s`` (:func:`background_rejection`) with its bootstrap error, the number of
    test background jets passing and the 95 % CL lower limit N_B / n_up(n_pass)."""
    m = bootstrap(background_rejection, labels, scores, eps_s=eps_s, n=n_bootstrap, seed=seed)
    n_bkg = int(np.sum(np.asarray(labels) == 0))
    n_pass = int(round(n_bkg / m.value)) if np.isfinite(m.value) and m.value > 0 else 0
    return Rejection(m.value, m.error, n_pass, n_bkg / poisson_upper_limit(n_pass))


def _check(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s):
        raise DataError(f"labels ({len(y)}) and scores ({len(s)}) differ in length")
    bad = ~np.isfinite(s)
    if bad.any():
        raise DataError(f"scores contain {int(bad.sum())} NaN/inf values")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"labels must be 0 (background) or 1 (signal), got values {np.unique(y)[:10]}")
    if y.min() == y.max():
        raise DataError(f"only one class present (label {y[0]}): ROC metrics need signal and background")
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    return y, s, w


def roc_curve(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of a score (higher = more signal-like).

    Returns
    -------
    eps_s, eps_b, thresholds
        Signal and background efficiencies of the cut ``score >= threshold`` for every distinct
        threshold, from (0, 0) to (1, 1).
    """
    y, s, w = _check(labels, scores, weights)
    order = np.argsort(-s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(w * y)[distinct]
    fps = np.cumsum(w * (1 - y))[distinct]
    eps_s = np.r_[0.0, tps / tps[-1]]
    eps_b = np.r_[0.0, fps / fps[-1]]
    return eps_s, eps_b, np.r_[np.inf, s[distinct]]


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC (probability that a signal jet scores above a background jet)."""
    eps_s, eps_b, _ = roc_curve(labels, scores, weights)
    return float(np.trapezoid(eps_s, eps_b))


def background_rejection(labels: np.ndarray, scores: np.ndarray, eps_s: float = 0.3, weights: np.ndarray | None = None) -> float:
    """1/eps_B at signal efficiency ``eps_s``, eps_B interpolated linearly in eps_S (arXiv:1902.09914).

    Returns ``inf`` when no background passes at that efficiency.
    """
    if not 0 < eps_s <= 1:
        raise DataError(f"signal efficiency must lie in (0, 1], got {eps_s}")
    es, eb, _ = roc_curve(labels, scores, weights)
    # eps_S is non-decreasing; at a repeated eps_S the first point has the smallest eps_B
    i = int(np.searchsorted(es, eps_s, side="left"))
    if es[i] == eps_s:
        b = float(eb[i])
    else:
        t = (eps_s - es[i - 1]) / (es[i] - es[i - 1])
        b = float(eb[i - 1] + t * (eb[i] - eb[i - 1]))
    return float(np.inf) if b <= 0 else 1.0 / b


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5, weights: np.ndarray | None = None) -> float:
    """Fraction of jets on the right side of ``threshold``."""
    y, s, w = _check(labels, scores, weights)
    return float(np.sum(w * ((s >= threshold) == (y == 1))) / np.sum(w))


def bootstrap(metric: Callable[..., float], labels: np.ndarray, scores: np.ndarray, *, n: int = 100, seed: int = 0,
              weights: np.ndarray | None = None, **kwargs: float) -> Measurement:
    """``metric`` on the sample, with the standard deviation over ``n`` bootstrap resamplings."""
    y, s, w = _check(labels, scores, weights)
    value = metric(y, s, weights=w, **kwargs)
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        reps.append(metric(y[idx], s[idx], weights=w[idx], **kwargs))
    reps_arr = np.asarray(reps)
    finite = reps_arr[np.isfinite(reps_arr)]
    return Measurement(float(value), float(np.std(finite)) if len(finite) > 1 else float("nan"))


def classifier_metrics(labels: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5, n_bootstrap: int = 100,
                       seed: int = 0, weights: np.ndarray | None = None) -> dict[str, Measurement]:
    """Accuracy, AUC and 1/eps_B at eps_S = 0.3 and 0.5, each with a bootstrap uncertainty."""
    kw: dict[str, Any] = dict(n=n_bootstrap, seed=seed, weights=weights)
    return {
        "accuracy": bootstrap(accuracy, labels, scores, threshold=threshold, **kw),
        "auc": bootstrap(auc, labels, scores, **kw),
        **{f"rej_at_{e}": (rejection(labels, scores, e, n_bootstrap=n_bootstrap, seed=seed) if weights is None
                           else bootstrap(background_rejection, labels, scores, eps_s=e, **kw)) for e in (0.3, 0.5)},
    }


def ensemble(scores: Sequence[np.ndarray]) -> np.ndarray:
    """Mean score of several runs (an ensemble), shape ``(n_jets,)``."""
    arrs = [np.asarray(s, dtype=np.float64).ravel() for s in scores]
    if not arrs or any(len(a) != len(arrs[0]) for a in arrs):
        raise DataError("an ensemble needs one or more score arrays of equal length")
    return np.mean(arrs, axis=0)


def _check_multiclass(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(y):
        raise DataError(f"multiclass scores must have shape (n, C) with n = {len(y)} labels, got {p.shape}")
    if not np.isfinite(p).all():
        raise DataError(f"scores contain {int((~np.isfinite(p)).sum())} NaN/inf values")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise DataError(f"labels must lie in [0, {p.shape[1]}), got values {np.unique(y)[:10]}")
    return y, p


def confusion_matrix(labels: np.ndarray, probs: np.ndarray, normalize: bool = True) -> np.ndarray:
    """C x C confusion matrix of the arg-max decision: rows true class, columns predicted class.

    With ``normalize`` each row sums to 1 (the fraction of class i classified as j).
    """
    y, p = _check_multiclass(labels, probs)
    c = p.shape[1]
    m = np.bincount(y * c + p.argmax(axis=1), minlength=c * c).reshape(c, c).astype(np.float64)
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    return m


def multiclass_metrics(labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str] | None = None, *,
                       n_bootstrap: int = 100, seed: int = 0) -> dict[str, object]:
    """Metrics of a C-class classifier, as in the hls4ml jet-tagging benchmark (arXiv:1804.06913).

    Each class is scored one-vs-rest by its own probability: per-class AUC and 1/eps_B at
    eps_S = 0.5 (background: all other classes), each with a bootstrap uncertainty; the macro AUC
    (mean over classes); the arg-max accuracy; the row-normalised confusion matrix. A class absent
    from ``labels`` has no one-vs-rest AUC: the macro AUC is then the mean over the classes present,
    and ``classes_missing`` names the others (empty when all are present).

    Parameters
    ----------
    labels
        ``(n,)`` integers in ``[0, C)``.
    probs
        ``(n, C)`` class probabilities.
    """
    y, p = _check_multiclass(labels, probs)
    c = p.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
    if len(names) != c:
        raise DataError(f"{len(names)} class names for {c} classes")
    present = [k for k in range(c) if 0 < np.sum(y == k) < len(y)]
    per_auc = {names[k]: bootstrap(auc, (y == k).astype(int), p[:, k], n=n_bootstrap, seed=seed) for k in present}
    per_rej = {names[k]: bootstrap(background_rejection, (y == k).astype(int), p[:, k], n=n_bootstrap, seed=seed, eps_s=0.5)
               for k in present}
    rng = np.random.default_rng(seed)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    acc_reps = [correct[rng.integers(0, len(y), len(y))].mean() for _ in range(n_bootstrap)]
    macro = float(np.mean([m.value for m in per_auc.values()])) if per_auc else float("nan")
    macro_err = float(np.sqrt(np.sum([m.error**2 for m in per_auc.values()])) / max(len(per_auc), 1))
    return {
        "accuracy": Measurement(float(correct.mean()), float(np.std(acc_reps)) if n_bootstrap > 1 else float("nan")),
        "auc": Measurement(macro, macro_err),
        "auc_per_class": per_auc,
        "rej_at_0.5_per_class": per_rej,
        "confusion": confusion_matrix(y, p),
        "class_names": names,
        "classes_missing": [names[k] for k in range(c) if k not in present],
    }


from hepdl.metrics.ams import (  # noqa: E402
    AMSResult,
    ams,
    ams_at_threshold,
    ams_curve,
    ams_difference,
    best_threshold,
    renormalise_weights,
)
