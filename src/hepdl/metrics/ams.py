"""The approximate median significance (AMS) of the Higgs machine-learning challenge.

AMS = sqrt(2 ((s + b + b_r) ln(1 + s / (b + b_r)) - s)), with s and b the weighted numbers of
selected signal and background events and a regularisation b_r = 10 (Adam-Bourdarios et al.,
"The Higgs boson machine learning challenge", JMLR W&CP 42 (2015) 19; the formula is the median
discovery significance of Cowan et al., arXiv:1007.1727, eq. 97, with b -> b + b_r).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepdl.errors import DataError

__all__ = ["ams", "renormalise_weights", "ams_curve", "best_threshold", "ams_at_threshold", "ams_metrics", "ams_difference",
           "AMSResult", "B_REG", "MIN_EFFECTIVE_BACKGROUND"]

#: The challenge's regularisation term b_r.
B_REG = 10.0
#: A selection's background must rest on at least this many *effective* simulated events,
#: (sum w)^2 / sum w^2, before its AMS is trusted: its statistical error is then at most
#: 1/sqrt(25) = 20 %. With weights that differ by orders of magnitude between samples (a Z -> tau tau
#: event stands for hundreds of expected events, a signal event for one), a count of events alone
#: lets the threshold scan settle where a few heavy events happen to be missing.
MIN_EFFECTIVE_BACKGROUND = 25.0


def ams(s: float | np.ndarray, b: float | np.ndarray, b_r: float = B_REG) -> float | np.ndarray:
    """AMS of ``s`` selected signal and ``b`` selected background (weighted counts).

    Raises :class:`DataError` when ``b + b_r`` is zero (a selection without background and no
    regularisation: the AMS is undefined) or when a count is negative.
    """
    s_a, b_a = np.asarray(s, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.any(s_a < 0) or np.any(b_a < 0) or b_r < 0:
        raise DataError(f"AMS needs s >= 0, b >= 0 and b_r >= 0, got s={s}, b={b}, b_r={b_r}")
    den = b_a + b_r
    if np.any(den <= 0):
        raise DataError("the selection keeps no background and b_r = 0: the AMS is undefined (b + b_r = 0); "
                        "use the challenge's b_r = 10 or a looser selection")
    out = np.sqrt(np.maximum(2.0 * ((s_a + den) * np.log1p(s_a / den) - s_a), 0.0))
    return float(out) if out.ndim == 0 else out


def renormalise_weights(weights: np.ndarray, labels: np.ndarray, totals: dict[int, float]) -> np.ndarray:
    """Scale the weights of each class so that they sum to ``totals[class]``.

    A split holding a fraction of the events then predicts the yields of the whole dataset, so its
    AMS does not depend on the split size (the challenge renormalised its public and private sets
    the same way).
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    y = np.asarray(labels)
    for c, total in totals.items():
        sel = y == c
        have = w[sel].sum()
        if have <= 0:
            name = "signal" if c == 1 else "background"
            raise DataError(f"no {name} events (weight sum 0) in this split: its weights cannot be renormalised "
                            f"to the {name} total {total:.4g}; the AMS is undefined without {name}")
        w[sel] *= total / have
    return w


def ams_curve(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, b_r: float = B_REG
              ) -> dict[str, np.ndarray]:
    """AMS of every selection ``score >= threshold``, scanning the threshold over the scores.

    Returns ``threshold``, ``fraction`` (fraction of events selected), ``s``, ``b``, ``n_background``
    (background events, unweighted), ``neff_background`` (their effective number, (sum w)^2 / sum w^2)
    and ``ams``, each ordered from the tightest to the loosest selection. Raises :class:`DataError`
    without any background event.
    """
    scores, labels, weights = (np.asarray(a) for a in (scores, labels, weights))
    if not np.any(labels == 0):
        raise DataError("no background event among the events scored: the AMS is undefined")
    order = np.argsort(-scores, kind="stable")
    sc = scores[order]
    sig = labels[order] == 1
    w = weights[order].astype(np.float64)
    s = np.cumsum(np.where(sig, w, 0.0))
    b = np.cumsum(np.where(sig, 0.0, w))
    b2 = np.cumsum(np.where(sig, 0.0, w**2))
    neff = np.divide(b**2, b2, out=np.zeros_like(b), where=b2 > 0)
    nb = np.cumsum(~sig)
    # only cut between distinct scores: keep the last index of each run of equal scores
    last = np.r_[sc[1:] != sc[:-1], True]
    return {"threshold": sc[last], "fraction": (np.arange(1, len(sc) + 1) / len(sc))[last], "s": s[last], "b": b[last],
            "n_background": nb[last], "neff_background": neff[last], "ams": np.asarray(ams(s[last], b[last], b_r))}


def best_threshold(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, b_r: float = B_REG,
                   min_background_events: int = 10, min_effective_background: float = MIN_EFFECTIVE_BACKGROUND
                   ) -> tuple[float, float]:
    """The threshold maximising the AMS, and that AMS: ``(threshold, ams)``.

    Selections with fewer than ``min_background_events`` background events (unweighted), or fewer
    than ``min_effective_background`` effective ones ((sum w)^2 / sum w^2, see
    :data:`MIN_EFFECTIVE_BACKGROUND`), are not considered: with simulated samples, each background
    event weighs many expected events, and a selection that happens to keep few of the heavy ones
    has an AMS that no other sample would reproduce. Without any selection that qualifies, the one
    with the most effective background events is taken.
    """
    c = ams_curve(scores, labels, weights, b_r)
    ok = (c["n_background"] >= min_background_events) & (c["neff_background"] >= min_effective_background)
    if not ok.any():
        ok = c["neff_background"] == c["neff_background"].max()
    i = int(np.argmax(np.where(ok, c["ams"], -np.inf)))
    return float(c["threshold"][i]), float(c["ams"][i])


@dataclass
class AMSResult:
    """AMS of a fixed selection, with its bootstrap uncertainty."""

    value: float
    error: float
    threshold: float
    s: float
    b: float
    fraction: float


def ams_at_threshold(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, threshold: float, *,
                     b_r: float = B_REG, n_bootstrap: int = 200, seed: int = 0) -> AMSResult:
    """AMS of the selection ``score >= threshold``; the error is the standard deviation over
    ``n_bootstrap`` resamplings of the events (with their weights)."""
    scores, labels, weights = (np.asarray(a) for a in (scores, labels, weights))
    if not np.any(labels == 0):
        raise DataError("no background event among the events scored: the AMS is undefined")
    sel = scores >= threshold
    s = float(weights[sel & (labels == 1)].sum())
    b = float(weights[sel & (labels == 0)].sum())
    value = float(ams(s, b, b_r))
    err = 0.0
    if n_bootstrap > 1:
        rng = np.random.default_rng(seed)
        ws = np.where(sel & (labels == 1), weights, 0.0)
        wb = np.where(sel & (labels == 0), weights, 0.0)
        idx = rng.integers(0, len(scores), size=(n_bootstrap, len(scores)))
        err = float(np.std(ams(ws[idx].sum(axis=1), wb[idx].sum(axis=1), b_r), ddof=1))
    return AMSResult(value, err, float(threshold), s, b, float(sel.mean()))


def ams_difference(scores_a: np.ndarray, threshold_a: float, scores_b: np.ndarray, threshold_b: float, labels: np.ndarray,
                   weights: np.ndarray, *, b_r: float = B_REG, n_bootstrap: int = 400, seed: int = 0) -> dict[str, float]:
    """AMS of model a minus AMS of model b on the same events (each at its own fixed threshold), with
    the paired bootstrap error: both AMS are computed on the same resampled events, so that what the
    two selections share (most of their background) cancels in the difference, as it does in the data.

    Returns ``value`` (a - b), ``error`` (standard deviation over the replicas), ``ratio`` (a / b) and
    ``ratio_error``, and ``significance`` (value / error; 0 when the error is 0).
    """
    sa, sb, y, w = (np.asarray(x) for x in (scores_a, scores_b, labels, weights))
    if not (len(sa) == len(sb) == len(y) == len(w)):
        raise DataError(f"ams_difference needs scores, labels and weights of the same events, got lengths "
                        f"{len(sa)}, {len(sb)}, {len(y)}, {len(w)}")
    if not np.any(y == 0):
        raise DataError("no background event among the events scored: the AMS is undefined")

    def parts(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.where(sel & (y == 1), w, 0.0), np.where(sel & (y == 0), w, 0.0)

    (ws_a, wb_a), (ws_b, wb_b) = parts(sa >= threshold_a), parts(sb >= threshold_b)
    a, b = float(ams(ws_a.sum(), wb_a.sum(), b_r)), float(ams(ws_b.sum(), wb_b.sum(), b_r))
    rng = np.random.default_rng(seed)
    diffs, ratios = [], []
    for _ in range(max(n_bootstrap, 2)):  # one replica at a time: memory stays O(events)
        idx = rng.integers(0, len(y), size=len(y))
        ra = float(ams(ws_a[idx].sum(), wb_a[idx].sum(), b_r))
        rb = float(ams(ws_b[idx].sum(), wb_b[idx].sum(), b_r))
        diffs.append(ra - rb)
        ratios.append(ra / rb if rb > 0 else np.nan)
    err = float(np.std(diffs, ddof=1))
    return {"value": a - b, "error": err, "ratio": a / b if b > 0 else float("nan"),
            "ratio_error": float(np.nanstd(ratios, ddof=1)), "significance": (a - b) / err if err > 0 else 0.0}


def ams_metrics(y: np.ndarray, weights: np.ndarray, split: dict[str, np.ndarray], val_scores: np.ndarray,
                test_scores: np.ndarray, *, n_bootstrap: int = 100, seed: int = 0, b_r: float = 10.0) -> dict[str, Any]:
    """AMS of a model: the selection threshold maximising the AMS on the validation split, applied to
    the test split, with a bootstrap error; the weights of each split renormalised to the yields of
    the whole dataset (:func:`hepdl.metrics.renormalise_weights`). Also the weighted test AUC."""
    from hepdl.metrics import auc

    totals = {c: float(weights[y == c].sum()) for c in (0, 1)}
    wv = renormalise_weights(weights[split["val"]], y[split["val"]], totals)
    wt = renormalise_weights(weights[split["test"]], y[split["test"]], totals)
    thr, val_ams = best_threshold(val_scores, y[split["val"]], wv, b_r)
    res = ams_at_threshold(test_scores, y[split["test"]], wt, thr, b_r=b_r, n_bootstrap=max(n_bootstrap, 2), seed=seed)
    return {"ams": {"value": res.value, "error": res.error},  # AMSResult carries more than a Measurement
            "ams_threshold": thr, "ams_val": val_ams,
            "ams_selected_fraction": res.fraction, "ams_s": res.s, "ams_b": res.b,
            "auc_weighted": auc(y[split["test"]], test_scores, wt)}
