"""The event domain's report (H -> tau tau): the AMS per model, the figures of the Higgs challenge,
in the skeleton of :mod:`hepdl.report.page`.

Figures (``<run>/plots/``): ``ams`` (AMS against the fraction of test events selected, each model,
with the validation-chosen selection marked), ``scores`` (weighted score distributions of each
model, backgrounds stacked per process, signal on top), ``roc`` (weighted background rejection
against signal efficiency), ``masses`` (MMC and visible mass per process, shapes), ``training``.
The data block holds the cutflow (expected events per step and sample for the dataset's luminosity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hepdl.metrics import renormalise_weights, roc_curve
from hepdl.metrics.ams import MIN_EFFECTIVE_BACKGROUND, ams_curve
from hepdl.report.jets import _grid, training_figure
from hepdl.report.page import Cell, Figure, Page, Table, cell
from hepdl.report.style import model_styles, save

__all__ = ["event_page", "ams_table", "ams_differences", "verdict", "HIGGS_FIGURES", "REFERENCE"]

HIGGS_FIGURES = ("ams", "scores", "roc", "masses", "training")


#: The model every other is compared with (paired bootstrap of the AMS difference).
REFERENCE = "bdt"


def verdict(diff: dict[str, float], n_sigma: float = 2.0) -> str:
    """``ahead``, ``behind`` or ``compatible`` (within ``n_sigma`` paired-bootstrap errors) of an
    :func:`hepdl.metrics.ams.ams_difference`."""
    if not diff["error"] > 0 or abs(diff["value"]) < n_sigma * diff["error"]:
        return "compatible"
    return "ahead" if diff["value"] > 0 else "behind"


def ams_table(metrics: dict[str, dict[str, Any]], diffs: dict[str, dict[str, float]] | None = None) -> Table:
    """The results table, best test AMS first: test AMS ± bootstrap, its relative error, the difference
    to the BDT with its paired-bootstrap error and the verdict (``diffs``, from
    :func:`hepdl.metrics.ams.ams_difference`), validation AMS, selected fraction, AUC, weighted AUC,
    training time."""
    diffs = diffs or {}
    order = sorted(metrics, key=lambda n: -float(metrics[n].get("ams", {}).get("value", float("-inf"))))
    rows = []
    for n in order:
        a = metrics[n].get("ams", {})
        rel = Cell(f"{100 * a['error'] / a['value']:.0f} %") if a.get("value") else Cell("—")
        d = diffs.get(n)
        if n == REFERENCE and d is None and diffs:
            dcell, vcell = Cell("reference", reference=True), Cell("—")
        elif d is None:
            dcell, vcell = Cell("—"), Cell("—")
        else:
            dcell, vcell = Cell(f"{d['value']:+.2f} ± {d['error']:.2f}", d["value"]), Cell(verdict(d))
        rows.append([Cell(n, n), cell(metrics[n], "ams"), rel, dcell, vcell, cell(metrics[n], "ams_val"),
                     cell(metrics[n], "ams_selected_fraction"), cell(metrics[n], "auc"), cell(metrics[n], "auc_weighted"),
                     cell(metrics[n], "train_seconds", 0)])
    cv = next((int(m["folds"]) for m in metrics.values() if m.get("folds")), None)
    where = (f" In this {cv}-fold cross-validation the test set is every event, each scored by the fold model that never "
             "saw it, and the validation scores choose one threshold likewise." if cv else "")
    return Table(["model", "AMS (test)", "error", f"AMS − {REFERENCE}", f"vs {REFERENCE}", "AMS (val)", "selected", "AUC",
                  "AUC (weighted)", "train s"], rows,
                 {1: "max", 7: "max", 8: "max"},
                 note="AMS with b_reg = 10 at the score threshold chosen on the validation split (arXiv:1501.04943 "
                      "challenge definition); its error is the bootstrap spread over test events. The difference to the "
                      f"{REFERENCE} is bootstrapped in pairs (both models on the same resampled test events); "
                      "\"compatible\" means within two of its errors. A threshold needs at least 25 effective simulated "
                      "background events ((Σw)²/Σw²) selected on the validation split." + where)


def event_page(plt: Any, plots: Path, models: list[Path], metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
               ds: Any, label_names: list[str] | None, title: str) -> Page:
    """The page of an H -> tau tau run; without the dataset (or its weights) only the table and the
    training curves."""
    styles = model_styles(list(metrics))
    figs: list[Figure] = []
    diffs: dict[str, dict[str, float]] = {}
    if ds is not None and ds.weights is not None and models:
        figs += _weighted_figures(plt, plots, metrics, scores, ds, styles)
        diffs = ams_differences(metrics, scores, ds)
    folds = models[0].parent / "folds" if models else None
    if folds is not None and folds.is_dir():  # a cross-validated run: the curves of the fold-1 models
        from hepdl.train.trainer import trained_model_dirs

        figs += training_figure(plt, plots, trained_model_dirs(models[0].parent, first_fold=True), styles)
    else:
        figs += training_figure(plt, plots, models, styles)
    lumi = f", weights are expected events for {ds.luminosity_fb:g} fb⁻¹" if ds is not None and getattr(ds, "luminosity_fb", None) else ""
    return Page(title, ams_table(metrics, diffs), figs, subtitle=f"signal: H -> tau tau; background: Z -> tau tau, W + jets, top{lumi}")


def ams_differences(metrics: dict[str, dict[str, Any]], scores: dict[str, Any], ds: Any,
                    reference: str = REFERENCE) -> dict[str, dict[str, float]]:
    """Each model's AMS minus the ``reference`` model's on the test events, each at its own
    validation-chosen threshold, with the paired bootstrap error (:func:`hepdl.metrics.ams.ams_difference`);
    empty without the reference. Test weights renormalised as for the AMS itself."""
    from hepdl.metrics.ams import ams_difference

    if reference not in scores or "ams_threshold" not in metrics.get(reference, {}):
        return {}
    y, w = ds.labels, ds.weights
    totals = {c: float(w[y == c].sum()) for c in (0, 1)}
    ref = scores[reference]
    idx = ref["index"]
    wt = renormalise_weights(w[idx], y[idx], totals)
    out = {}
    for name, s in scores.items():
        if name == reference or "ams_threshold" not in metrics.get(name, {}) or not np.array_equal(s["index"], idx):
            continue
        out[name] = ams_difference(s["scores"], metrics[name]["ams_threshold"], ref["scores"], metrics[reference]["ams_threshold"],
                                   y[idx], wt)
    return out


def _weighted_figures(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], scores: dict[str, Any], ds: Any,
                      styles: dict[str, dict[str, Any]]) -> list[Figure]:
    import mplhep

    from hepdl.features.higgs import dataset_features

    y, w = ds.labels, ds.weights
    totals = {c: float(w[y == c].sum()) for c in (0, 1)}
    idx = next(iter(scores.values()))["index"]
    wt = renormalise_weights(w[idx], y[idx], totals)
    yt = y[idx]
    proc = ds.process[idx]
    # members of an ensemble (dnn-1, dnn-2, ...) are summarised by their ensemble
    shown = {n: s for n, s in scores.items() if not any(n.startswith(e[: -len("ensemble")]) and n != e
                                                        for e in scores if e.endswith("-ensemble"))}
    figs: list[Figure] = []
    fig, ax = plt.subplots(figsize=(9, 6))
    for name, s in shown.items():
        c = ams_curve(s["scores"], yt, wt)
        enough = (c["n_background"] >= 10) & (c["neff_background"] >= MIN_EFFECTIVE_BACKGROUND)
        ax.plot(np.where(enough, c["fraction"], np.nan), c["ams"], label=f"{name}: {metrics[name]['ams']['value']:.2f}", **styles[name])
        ax.plot(np.where(enough, np.nan, c["fraction"]), c["ams"], ls=":", lw=0.8, color=styles[name]["color"])
        ax.plot([metrics[name]["ams_selected_fraction"]], [metrics[name]["ams"]["value"]], "o", color=styles[name]["color"])
    ax.set_xscale("log")
    ax.set_xlabel("fraction of test events selected")
    ax.set_ylabel("AMS (b_r = 10)")
    ax.legend(fontsize=10, title="AMS at the validation threshold (dots)")
    ax.text(0.02, 0.02, f"dotted: fewer than {MIN_EFFECTIVE_BACKGROUND:g} effective simulated background events selected",
            transform=ax.transAxes, fontsize=9)
    figs.append(Figure(save(fig, plots, "ams"), "AMS against the selected fraction",
                       "Approximate median significance of the test events above a score threshold, against the fraction of "
                       "test events kept; dots mark the threshold chosen on the validation split (the reported AMS). Dotted "
                       f"where the background rests on fewer than 10 simulated events or {MIN_EFFECTIVE_BACKGROUND:g} effective ones "
                       "((Σw)²/Σw²): there the curve is statistical noise, and no threshold is chosen there."))

    procs = [p for p in np.unique(proc) if np.any((proc == p) & (yt == 0))]
    fig, axes = _grid(plt, len(shown), 3, 5.8, 4.5)
    for ax, (name, s) in zip(axes, shown.items(), strict=True):
        sc = s["scores"]
        bins = np.linspace(sc.min(), sc.max() + 1e-9, 26)
        hists = [np.histogram(sc[proc == p], bins, weights=wt[proc == p])[0] for p in procs]
        mplhep.histplot(hists, bins, stack=True, histtype="fill", label=list(procs), ax=ax)
        sig = np.histogram(sc[yt == 1], bins, weights=wt[yt == 1])[0]
        mplhep.histplot(sig, bins, histtype="step", color="k", label="H -> tau tau", ax=ax)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=13)
        ax.set_xlabel("score", fontsize=11)
        ax.set_ylabel("expected events", fontsize=11)
        ax.legend(fontsize=8)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "scores"), "Weighted score distributions",
                       "Expected events of the test split per score bin (weights scaled to the whole dataset), backgrounds "
                       "stacked by process, the H -> tau tau signal as a black line; log scale."))

    fig, ax = plt.subplots(figsize=(8, 6))
    for name, s in shown.items():
        es, eb, _ = roc_curve(yt, s["scores"], wt)
        ok = eb > 0
        ax.plot(es[ok], 1 / eb[ok], label=f"{name} (AUC {metrics[name].get('auc_weighted', float('nan')):.3f})", **styles[name])
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("1 / background efficiency (weighted)")
    ax.legend(fontsize=10)
    figs.append(Figure(save(fig, plots, "roc"), "Weighted ROC curves",
                       "Background rejection against signal efficiency with every test event weighted by its expected events; "
                       "legend: weighted AUC."))

    frame = dataset_features(ds)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, col, label in ((axes[0], "DER_mass_MMC", "MMC mass [GeV]"), (axes[1], "DER_mass_vis", "visible mass [GeV]")):
        bins = np.linspace(0, 250, 51)
        for p in np.unique(ds.process):
            sel = (ds.process == p) & (frame[col].to_numpy() > 0)
            if sel.sum() > 1:
                ax.hist(frame[col].to_numpy()[sel], bins, weights=w[sel], density=True, histtype="step", lw=1.5, label=p)
        ax.set_xlabel(label)
        ax.set_ylabel("normalised")
        ax.legend(fontsize=8)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "masses"), "Di-tau masses per process",
                       "Missing-mass-calculator mass (left; arXiv:1012.4686) and visible mass (right) of every event, per "
                       "process, weighted and normalised: Z -> tau tau peaks near 91 GeV, H -> tau tau near 125 GeV."))
    return figs
