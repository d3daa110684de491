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

__all__ = ["resolution68", "bias", "rmse", "coverage", "regression_metrics", "measured", "opening_angle", "quantile68",
           "merit_factor", "shower_metrics"]


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


def opening_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad) between the directions ``a`` and ``b`` (n, 3), each normalised first; pi where either
    has no direction (zero or non-finite)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    a, b = a / np.maximum(na, 1e-300), b / np.maximum(nb, 1e-300)
    # atan2 of |a x b| and a . b: accurate for small angles, where arccos of the dot product is not
    angle = np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), (a * b).sum(axis=1))
    # no direction (a zero or non-finite vector) is the worst answer, never a perfect one
    bad = ~(np.isfinite(angle) & (na[:, 0] > 0) & (nb[:, 0] > 0))
    return np.where(bad, np.pi, angle)


def quantile68(x: np.ndarray) -> float:
    """The 68.27 % quantile of a non-negative quantity (the angular resolution of an opening angle,
    the core resolution of a distance)."""
    return float(np.quantile(x, 0.6827))


def merit_factor(x: np.ndarray, labels: np.ndarray) -> float:
    """The separation of two classes by ``x``: |mean_1 - mean_0| / sqrt(var_0 + var_1) (the merit
    factor of X_max for proton and iron)."""
    a, b = x[labels == 0], x[labels == 1]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return float(abs(b.mean() - a.mean()) / np.sqrt(a.var() + b.var()))


#: Energy (log10 E/eV) and zenith (deg) bins of :func:`shower_metrics`.
ENERGY_BINS = (18.5, 19.0, 19.5, 20.0)
ZENITH_BINS = (0.0, 30.0, 45.0, 60.0)


#: Each figure of :func:`shower_metrics` from (opening angle, core distance, E_rec/E - 1, X_max residual).
_SHOWER_FIGURES: dict[str, Callable[..., float]] = {
    "angular_resolution_deg": lambda a, c, e, x: quantile68(a), "core_resolution_m": lambda a, c, e, x: quantile68(c),
    "energy_bias": lambda a, c, e, x: bias(e), "energy_resolution": lambda a, c, e, x: resolution68(e),
    "xmax_bias": lambda a, c, e, x: bias(x), "xmax_resolution": lambda a, c, e, x: resolution68(x)}


def shower_metrics(pred: np.ndarray, truth: np.ndarray, zenith: np.ndarray, labels: np.ndarray, *,
                   energy_bins: Sequence[float] = ENERGY_BINS, zenith_bins: Sequence[float] = ZENITH_BINS,
                   n_bootstrap: int = 100, seed: int = 0) -> dict[str, Any]:
    """The figures of an air-shower reconstruction, each ``{"value", "error"}`` (bootstrap).

    ``pred``, ``truth``: (n, 7) axis (x, y, z), core (x, y in m), log10 E/eV, X_max (g/cm^2);
    ``zenith`` (n,) true zenith (rad), ``labels`` (n,) 0 proton, 1 iron.

    Returns ``angular_resolution_deg`` (68 % quantile of the opening angle), ``core_resolution_m``
    (68 % quantile of the core distance), ``energy_bias`` and ``energy_resolution`` (median and
    half-68 % width of E_rec / E - 1), ``xmax_bias``, ``xmax_resolution`` (g/cm^2), each also
    ``<name>_above_19`` (true E >= 10^19 eV), ``xmax_merit_factor`` (proton vs iron, reconstructed
    X_max), and ``binned``: per bin of true energy and of zenith, the same figures and the counts.
    """
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    if pred.shape != truth.shape or pred.ndim != 2 or pred.shape[1] != 7:
        raise DataError(f"shower metrics need (n, 7) predictions and truth, got {pred.shape} and {truth.shape}")
    ang = np.degrees(opening_angle(pred[:, :3], truth[:, :3]))
    core = np.hypot(pred[:, 3] - truth[:, 3], pred[:, 4] - truth[:, 4])
    e_rel = 10 ** (pred[:, 5] - truth[:, 5]) - 1
    dxmax = pred[:, 6] - truth[:, 6]
    figures = _SHOWER_FIGURES
    cols = (ang, core, e_rel, dxmax)

    def block(sel: np.ndarray) -> dict[str, Any]:
        if sel.sum() < 5:
            return {name: {"value": float("nan"), "error": float("nan")} for name in figures}
        return {name: measured(fn, *(c[sel] for c in cols), n=n_bootstrap, seed=seed).to_dict() for name, fn in figures.items()}

    out: dict[str, Any] = block(np.ones(len(ang), bool))
    high = truth[:, 5] >= 19.0
    out.update({f"{k}_above_19": v for k, v in block(high).items()})
    lab = np.asarray(labels)
    out["xmax_merit_factor"] = measured(merit_factor, pred[:, 6], lab, n=n_bootstrap, seed=seed).to_dict()
    binned: dict[str, Any] = {}
    for key, x, edges in (("energy", truth[:, 5], energy_bins), ("zenith", np.degrees(zenith), zenith_bins)):
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (x >= lo) & (x < hi) if hi != edges[-1] else (x >= lo) & (x <= hi)
            rows.append({"low": float(lo), "high": float(hi), "n": int(sel.sum()), **block(sel)})
        binned[key] = rows
    out["binned"] = binned
    return out
