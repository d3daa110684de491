"""How close an unfolded distribution lies to the truth: binned, normalised histograms compared by
chi^2/ndf (with each bin's statistical error) and by the triangular discriminator, each with a
bootstrap error.

A distribution here is a :class:`Histogram`: normalised bin contents (they sum to one over the bins;
values outside the edges are counted in the first or last bin, never dropped), their statistical
errors, and ``replicas`` — the same histogram of bootstrap replicas of the sample (or of the
unfolding fed with them), from which the errors and the metrics' errors come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Histogram", "histogram", "bin_index", "binning", "chi2_ndf", "triangular_discriminator", "compare", "poisson_replicas"]


@dataclass
class Histogram:
    """Normalised bin contents ``p`` (B,), errors ``err`` (B,), bootstrap ``replicas`` (R, B) (R may be 0)."""

    edges: np.ndarray
    p: np.ndarray
    err: np.ndarray
    replicas: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {"edges": self.edges.tolist(), "p": self.p.tolist(), "err": self.err.tolist()}


def binning(values: np.ndarray, n_bins: int = 20, *, integer: bool = False, quantiles: tuple[float, float] = (0.005, 0.995)) -> np.ndarray:
    """Bin edges for ``values``: ``n_bins`` equal bins between the given quantiles, or (``integer``)
    bins one integer wide (merged to at most ``n_bins``) centred on the integers."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        raise ValueError("binning needs at least one finite value")
    lo, hi = np.quantile(v, quantiles)
    if integer:
        lo, hi = np.floor(lo), np.ceil(hi)
        step = max(1.0, np.ceil((hi - lo + 1) / n_bins))
        return np.arange(lo - 0.5, hi + 0.5 + step, step)
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, n_bins + 1)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each value (bin k holds edges[k] <= v < edges[k+1]); values outside the edges go to the
    first or last bin, never dropped."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _counts(values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    idx = bin_index(values, edges)
    return np.bincount(idx, weights=weights, minlength=len(edges) - 1).astype(np.float64)


def _normalised(c: np.ndarray) -> np.ndarray:
    s = c.sum(axis=-1, keepdims=True)
    return c / np.where(s > 0, s, 1.0)


def poisson_replicas(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """(R, n) Poisson(1) bootstrap weights (the bootstrap of a sample of ``n`` events whose size is itself random)."""
    return np.random.default_rng(seed).poisson(1.0, size=(n_bootstrap, n)).astype(np.float64)


def histogram(values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None, *, n_bootstrap: int = 50,
              seed: int = 0, units: np.ndarray | None = None) -> Histogram:
    """The normalised histogram of ``values`` (weighted), its errors (sqrt of the sum of squared
    weights, normalised) and ``n_bootstrap`` Poisson-bootstrap replicas. ``units``: the bootstrap unit
    of each entry (entries of one unit, e.g. the draws of one event, share its bootstrap weight;
    default: every entry its own)."""
    v = np.asarray(values, dtype=np.float64)
    w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
    c = _counts(v, edges, w)
    total = c.sum()
    err = np.sqrt(_counts(v, edges, w**2)) / (total if total > 0 else 1.0)
    u = np.arange(len(v)) if units is None else np.asarray(units)
    n_units = int(u.max()) + 1 if len(u) else 0
    reps = np.array([_counts(v, edges, w * b[u]) for b in poisson_replicas(n_units, n_bootstrap, seed)]) if n_bootstrap else np.zeros((0, len(c)))
    return Histogram(np.asarray(edges, dtype=np.float64), _normalised(c), err, _normalised(reps) if len(reps) else reps)


def chi2_ndf(p: np.ndarray, err_p: np.ndarray, q: np.ndarray, err_q: np.ndarray) -> float:
    """chi^2 / ndf of two normalised histograms: sum over the bins with a non-zero error of
    (p - q)^2 / (err_p^2 + err_q^2), divided by the number of those bins."""
    var = np.asarray(err_p) ** 2 + np.asarray(err_q) ** 2
    ok = var > 0
    return float(np.sum((np.asarray(p)[ok] - np.asarray(q)[ok]) ** 2 / var[ok]) / max(int(ok.sum()), 1))


def triangular_discriminator(p: np.ndarray, q: np.ndarray) -> float:
    """Delta(p, q) = 1/2 sum (p - q)^2 / (p + q) of two normalised histograms, times 10^3 (as in
    arXiv:1911.09107): 0 for identical shapes, 1000 for disjoint ones."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    s = p + q
    ok = s > 0
    return float(500.0 * np.sum((p[ok] - q[ok]) ** 2 / s[ok]))


def compare(unfolded: Histogram, truth: Histogram) -> dict[str, dict[str, float]]:
    """``chi2_ndf`` and ``triangular`` (x 10^3) of ``unfolded`` against ``truth``, each ``{"value", "error"}``:
    the value from the central histograms, the error the spread over the replicas (paired by index;
    no error without replicas)."""
    out: dict[str, dict[str, float]] = {}
    c2 = chi2_ndf(unfolded.p, unfolded.err, truth.p, truth.err)
    tri = triangular_discriminator(unfolded.p, truth.p)
    n = min(len(unfolded.replicas), len(truth.replicas))
    c2_r = [chi2_ndf(unfolded.replicas[i], unfolded.err, truth.replicas[i], truth.err) for i in range(n)]
    tri_r = [triangular_discriminator(unfolded.replicas[i], truth.replicas[i]) for i in range(n)]
    out["chi2_ndf"] = {"value": c2, "error": float(np.std(c2_r)) if n > 1 else float("nan")}
    out["triangular"] = {"value": tri, "error": float(np.std(tri_r)) if n > 1 else float("nan")}
    return out
