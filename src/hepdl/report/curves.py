"""The learning curve of a run: each classifier's AUC and 1/eps_B at eps_S = 0.5 against the number
of training jets, from the models trained on subsets of the training split
(``<run>/learning-curve/<model>-<n>/``) and the run's own models (the full training split). It shows
where the deep models overtake the engineered observables (the question of arXiv:1902.09914).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.metrics import is_lower_limit
from hepdl.report.page import Figure
from hepdl.report.style import model_styles, save
from hepdl.train.rundir import ModelDir

__all__ = ["learning_curve_points", "learning_curve_figure", "LEARNING_CURVE_DIR"]

#: Where a run keeps the models trained on subsets of its training split.
LEARNING_CURVE_DIR = "learning-curve"


def learning_curve_points(run: Path, metrics: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per model: the points ``{"n_train", "auc", "rej"}`` (``auc``/``rej``: the metrics.json
    entries) sorted by training size, the run's own model last. Empty without a learning curve."""
    lc = Path(run) / LEARNING_CURVE_DIR
    if not lc.is_dir():
        return {}
    points: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in sorted(lc.iterdir()):
        if (d / ModelDir.METRICS).exists():
            m = ModelDir(d).metrics()
            if "auc" in m and m.get("n_train"):
                points[m["model"]].append({"n_train": m["n_train"], "auc": m["auc"], "rej": m.get("rej_at_0.5")})
    for m in metrics.values():
        if m.get("model") in points and m.get("n_train") and "auc" in m:
            points[m["model"]].append({"n_train": m["n_train"], "auc": m["auc"], "rej": m.get("rej_at_0.5")})
    return {k: sorted(v, key=lambda p: p["n_train"]) for k, v in points.items()}


def learning_curve_figure(plt: Any, plots: Path, run: Path, metrics: dict[str, dict[str, Any]]) -> list[Figure]:
    """AUC (left) and 1/eps_B at eps_S = 0.5 (right) against the training-set size, one colour per
    model (the run's colours), bootstrap errors as bars, lower limits as upward triangles; the jet
    mass cut of the run, if any, as a grey band for reference."""
    points = learning_curve_points(run, metrics)
    if not points:
        return []
    styles = model_styles(sorted({*metrics, *points}))
    fig, (ax_auc, ax_rej) = plt.subplots(1, 2, figsize=(13, 5.2))
    for model, pts in points.items():
        st = styles.get(model, {"color": "k", "ls": "-"})
        n = np.array([p["n_train"] for p in pts], dtype=float)
        auc = np.array([p["auc"]["value"] for p in pts])
        auc_err = np.array([p["auc"]["error"] for p in pts])
        ax_auc.errorbar(n, auc, yerr=auc_err, marker="o", capsize=3, label=model, color=st["color"], ls=st["ls"])
        rej = [p["rej"] or {} for p in pts]
        limited = np.array([is_lower_limit(r) for r in rej], dtype=bool)
        val = np.array([r.get("lower_limit") if lim else r.get("value", np.nan) for r, lim in zip(rej, limited, strict=True)],
                       dtype=float)
        err = np.array([0.0 if lim else r.get("error", 0.0) for r, lim in zip(rej, limited, strict=True)], dtype=float)
        ax_rej.plot(n, val, color=st["color"], ls=st["ls"])
        ok = ~limited
        ax_rej.errorbar(n[ok], val[ok], yerr=err[ok], fmt="o", capsize=3, color=st["color"], label=model)
        if limited.any():
            ax_rej.plot(n[limited], val[limited], "^", ms=9, color=st["color"])
    cut = next((m for m in metrics.values() if m.get("model") == "mass-cut" and "auc" in m), None)
    if cut is not None:
        for ax, key in ((ax_auc, "auc"), (ax_rej, "rej_at_0.5")):
            v = cut.get(key) or {}
            if np.isfinite(v.get("value", np.nan)):
                ax.axhspan(v["value"] - v.get("error", 0), v["value"] + v.get("error", 0), color="grey", alpha=0.25, label="mass cut")
    for ax in (ax_auc, ax_rej):
        ax.set_xscale("log")
        ax.set_xlabel("training jets", fontsize=13)
        ax.legend(fontsize=10)
    ax_auc.set_ylabel("AUC", fontsize=13)
    ax_rej.set_ylabel(r"$1/\epsilon_B$ at $\epsilon_S$ = 0.5", fontsize=13)
    ax_rej.set_yscale("log")
    fig.tight_layout()
    return [Figure(save(fig, plots, "learning_curve"), "Learning curve",
                   "Test AUC (left) and background rejection at 50 % signal efficiency (right) of each model trained on "
                   "subsets of the training split (same validation and test jets), bootstrap errors as bars; triangles are "
                   "95 % CL lower limits (fewer than 20 test background jets pass); the grey band is the jet-mass cut. "
                   "Where a network's curve crosses the band, it overtakes the physicist's variable; a curve still rising at "
                   "the right edge wants more data.")]
