"""Report of an H -> tau tau run: AMS per model, the figures of the Higgs challenge, the cutflow.

Figures (``<run>/plots/``): ``ams`` (AMS against the fraction of test events selected, each model,
with the validation-chosen selection marked), ``scores`` (weighted score distributions of each
model, backgrounds stacked per process, signal on top), ``roc`` (weighted background rejection
against signal efficiency), ``masses`` (MMC and visible mass per process, shapes), ``training``.
``report.html`` and ``table.txt`` hold the model table and the cutflow (expected events per step
and sample for the dataset's luminosity).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.data.paths import atomic_write
from hepdl.metrics import renormalise_weights, roc_curve
from hepdl.metrics.ams import ams_curve
from hepdl.report import _fmt, _grid, _html_table, _plt, _training_figure, text_table
from hepdl.train.rundir import ModelDir

__all__ = ["make_higgs_report", "ams_table", "cutflow_table", "HIGGS_FIGURES"]

HIGGS_FIGURES = ("ams", "scores", "roc", "masses", "training")


def _models(run: Path) -> list[Path]:
    return sorted(p for p in run.iterdir() if (p / ModelDir.METRICS).exists() and (p / ModelDir.SCORES).exists())


def ams_table(metrics: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows (header first): model, test AMS ± bootstrap, validation AMS, selected fraction, AUC, weighted AUC."""
    rows = [["model", "AMS (test)", "AMS (val)", "selected", "AUC", "AUC (weighted)", "train s"]]
    for name, m in metrics.items():
        rows.append([name, _fmt(m, "ams"), f"{m.get('ams_val', float('nan')):.3f}",
                     f"{m.get('ams_selected_fraction', float('nan')):.3f}", _fmt(m, "auc"),
                     f"{m.get('auc_weighted', float('nan')):.3f}", f"{m.get('train_seconds', 0.0):.0f}"])
    return rows


def cutflow_table(meta: dict[str, Any]) -> list[list[str]]:
    """Rows (header first): cutflow step, then generated events and expected events per sample."""
    flow = meta.get("cutflow", {})
    exp = meta.get("expected_events", {})
    if not flow:
        return []
    samples = list(flow)
    first = next(iter(flow.values()))
    steps = sorted(first, key=lambda k: -first[k])  # a cutflow only decreases: order by count
    if exp:
        steps = steps + ["tau_id"]
    rows = [["step"] + [f"{s} (MC / expected)" for s in samples]]
    for st in steps:
        row = [st]
        for s in samples:
            n = flow[s].get(st)
            e = exp.get(s, {}).get(st)
            row.append(("" if n is None else f"{n}") + ("" if e is None else f" / {e:.4g}"))
        rows.append(row)
    return rows


def make_higgs_report(run_dir: str | Path, ds: Any | None = None, title: str = "H -> tau tau") -> Path:
    """Write ``plots/*.png``, ``report.html`` and ``table.txt`` for an H -> tau tau run directory.

    ``ds`` is the run's :class:`hepdl.data.events.EventDataset` (for weights, processes, masses and
    the cutflow); without it only the model table and the AMS curves that need no weights are made.
    """
    run = Path(run_dir)
    models = _models(run)
    metrics = {p.name: json.loads((p / ModelDir.METRICS).read_text()) for p in models}
    scores = {p.name: np.load(p / ModelDir.SCORES) for p in models}
    plt = _plt()
    plots = run / "plots"
    plots.mkdir(exist_ok=True)
    made: list[str] = []
    if ds is not None and ds.weights is not None and models:
        y, w = ds.labels, ds.weights
        totals = {c: float(w[y == c].sum()) for c in (0, 1)}
        idx = scores[models[0].name]["index"]
        wt = renormalise_weights(w[idx], y[idx], totals)
        yt = y[idx]
        proc = ds.process[idx]

        # members of an ensemble (dnn-1, dnn-2, ...) are summarised by their ensemble
        shown = {n: s for n, s in scores.items() if not any(n.startswith(e[: -len("ensemble")]) and n != e
                                                            for e in scores if e.endswith("-ensemble"))}
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for name, s in shown.items():
            c = ams_curve(s["scores"], yt, wt)
            enough = c["n_background"] >= 10
            line = ax.plot(np.where(enough, c["fraction"], np.nan), c["ams"], label=f"{name}: {metrics[name]['ams']['value']:.2f}")[0]
            ax.plot(np.where(enough, np.nan, c["fraction"]), c["ams"], ls=":", lw=0.8, color=line.get_color())
            ax.plot([metrics[name]["ams_selected_fraction"]], [metrics[name]["ams"]["value"]], "o", color=line.get_color())
        ax.set_xscale("log")
        ax.set_xlabel("fraction of test events selected")
        ax.set_ylabel("AMS (b_r = 10)")
        ax.legend(fontsize=9, title="AMS at the validation threshold (dots)")
        ax.text(0.02, 0.02, "dotted: fewer than 10 simulated background events selected", transform=ax.transAxes, fontsize=8)
        fig.savefig(plots / "ams.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        made.append("ams")

        import mplhep

        procs = [p for p in np.unique(proc) if np.any((proc == p) & (yt == 0))]
        fig, axes = _grid(plt, len(shown), 3, 6, 4.5)
        for ax, (name, s) in zip(axes, shown.items(), strict=True):
            sc = s["scores"]
            bins = np.linspace(sc.min(), sc.max() + 1e-9, 26)
            hists = [np.histogram(sc[proc == p], bins, weights=wt[proc == p])[0] for p in procs]
            mplhep.histplot(hists, bins, stack=True, histtype="fill", label=list(procs), ax=ax)
            sig = np.histogram(sc[yt == 1], bins, weights=wt[yt == 1])[0]
            mplhep.histplot(sig, bins, histtype="step", color="k", label="H -> tau tau", ax=ax)
            ax.set_yscale("log")
            ax.set_xlabel(f"{name} score")
            ax.set_ylabel("expected events")
            ax.legend(fontsize=7)
        fig.savefig(plots / "scores.png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        made.append("scores")

        fig, ax = plt.subplots(figsize=(7, 5))
        for name, s in shown.items():
            es, eb, _ = roc_curve(yt, s["scores"], wt)
            ok = eb > 0
            ax.plot(es[ok], 1 / eb[ok], label=f"{name} (AUC {metrics[name].get('auc_weighted', float('nan')):.3f})")
        ax.set_yscale("log")
        ax.set_xlabel("signal efficiency")
        ax.set_ylabel("1 / background efficiency (weighted)")
        ax.legend(fontsize=9)
        fig.savefig(plots / "roc.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        made.append("roc")

        from hepdl.features.higgs import dataset_features

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
        fig.savefig(plots / "masses.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        made.append("masses")
    made += _training_figure(plt, plots, models)

    rows = ams_table(metrics)
    flow = cutflow_table(ds.metadata) if ds is not None else []
    figs = "".join(f'<h2>{n}</h2><img src="plots/{n}.png" style="max-width:1000px">' for n in made)
    lumi = f" for {ds.luminosity_fb:g} fb<sup>-1</sup>" if ds is not None and ds.luminosity_fb else ""
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style>
</head><body><h1>{html.escape(title)}</h1>{_html_table(rows)}<h2>cutflow (simulated events / expected{lumi})</h2>{_html_table(flow)}{figs}</body></html>"""
    atomic_write(run / "report.html", lambda tmp: tmp.write_text(page))
    text = text_table(rows) + ("\n\ncutflow (simulated / expected events)\n" + text_table(flow) if flow else "")
    atomic_write(run / "table.txt", lambda tmp: tmp.write_text(text + "\n"))
    return run / "report.html"
