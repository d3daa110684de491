"""Regression metrics: bias, resolution and their uncertainties, per target.

The resolution is the half-width of the central 68 % interval of the residuals (prediction -
truth), (q84 - q16) / 2, robust against tails where the RMS is not; the bias is the median
residual. Errors are bootstrap standard deviations. With a per-event uncertainty sigma, the
coverage is the fraction of events with |residual| < sigma (0.683 for calibrated Gaussian errors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hepdl.errors import DataError
from hepdl.metrics import Measurement

__all__ = ["resolution68", "bias", "rmse", "coverage", "regression_metrics", "measured"]


def resolution68(residual: np.ndarray) -> float:
    """Half-width of the central 68.3 % interval of ``residual``: (q84.1 - q15.9) / 2."""
    lo, hi = np.quantile(residual, [0.15865, 0.84135])
    return float((hi - lo) / 2)


def bias(residual: np.ndarray) -> float:
    """Median of ``residual``."""
    return float(np.median(residual))


def rmse(residual: np.ndarray) -> float:
    """Root mean square of ``residual``."""
    return float(np.sqrt(np.mean(residual**2)))


def coverage(residual: np.ndarray, sigma: np.ndarray) -> float:
    """Fraction of events with |residual| < sigma."""
    return float(np.mean(np.abs(residual) < sigma))


def measured(fn: Callable[..., float], *arrays: np.ndarray, n: int = 100, seed: int = 0) -> Measurement:
    """``fn(*arrays)`` with the standard deviation over ``n`` bootstrap resamplings of the events."""
    value = fn(*arrays)
    rng = np.random.default_rng(seed)
    m = len(arrays[0])
    reps = [fn(*(a[idx] for a in arrays)) for idx in (rng.integers(0, m, m) for _ in range(n))]
    return Measurement(value, float(np.std(reps)) if n > 1 else float("nan"))


def regression_metrics(truth: np.ndarray, pred: np.ndarray, names: Sequence[str], *, sigma: np.ndarray | None = None,
                       n_bootstrap: int = 100, seed: int = 0) -> dict[str, Any]:
    """Per target ``name``: ``bias_<name>``, ``resolution_<name>``, ``rmse_<name>`` (and ``coverage_<name>``
    with ``sigma``), each ``{"value", "error"}``; shapes (n, T)."""
    truth, pred = np.asarray(truth, np.float64), np.asarray(pred, np.float64)
    truth = truth[:, None] if truth.ndim == 1 else truth
    pred = pred[:, None] if pred.ndim == 1 else pred
    if truth.shape != pred.shape or truth.shape[1] != len(names):
        raise DataError(f"regression metrics: truth {truth.shape}, predictions {pred.shape} and {len(names)} target names disagree")
    if not np.isfinite(pred).all():
        raise DataError(f"predictions contain {int((~np.isfinite(pred)).sum())} NaN/inf values")
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        r = pred[:, i] - truth[:, i]
        for key, fn in (("bias", bias), ("resolution", resolution68), ("rmse", rmse)):
            m = measured(fn, r, n=n_bootstrap, seed=seed)
            out[f"{key}_{name}"] = m.to_dict()
        if sigma is not None:
            m = measured(coverage, r, sigma[:, i], n=n_bootstrap, seed=seed)
            out[f"coverage_{name}"] = m.to_dict()
    return out
