"""Plots (mplhep style) and one HTML page per run, from the files the trainer wrote.

Every figure is a PNG in ``<run>/plots/`` that can go straight into a talk; ``report.html`` shows
them with the table of models.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.data.paths import atomic_write
from hepdl.kinematics import delta_phi
from hepdl.train.rundir import ModelDir

__all__ = ["model_table", "make_report", "rewrite_report", "text_table", "FIGURES", "MULTICLASS_FIGURES"]

#: Figures of a two-class run.
FIGURES = ("roc", "scores", "mass_sculpting", "training", "images", "jet_display")
#: Figures of a multi-class run.
MULTICLASS_FIGURES = ("roc", "confusion", "training", "mass_per_class", "images")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    return plt


def _grid(plt: Any, n: int, max_cols: int, width: float, height: float) -> tuple[Any, Any]:
    """A figure with ``n`` panels in rows of at most ``max_cols``; unused panels are switched off.

    Returns the figure and the ``n`` axes in reading order.
    """
    cols = min(n, max_cols)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def _fmt(m: dict[str, Any], key: str, digits: int = 3) -> str:
    v = m.get(key)
    if isinstance(v, dict):
        val, err = v["value"], v["error"]
        if not np.isfinite(val):
            return "n/a (too few background jets)" if key.startswith("rej_at_") else "n/a"
        return f"{val:.{digits}f} ± {err:.{digits}f}" if np.isfinite(err) else f"{val:.{digits}f}"
    return "" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


def model_table(metrics: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows (header first) of the model table: parameters, Acc, AUC, 1/eps_B@0.3, 1/eps_B@0.5, time, jets/s.

    For multi-class models: accuracy, macro AUC and the one-vs-rest AUC of each class.
    """
    multi = [m for m in metrics.values() if "auc_per_class" in m]
    if multi:
        classes = list(multi[0]["auc_per_class"])
        rows = [["model", "parameters", "accuracy", "macro AUC", *[f"AUC {c}" for c in classes], "train [s]", "inference [jets/s]"]]
        for name, m in sorted(metrics.items(), key=lambda kv: -kv[1]["auc"]["value"]):
            per = m.get("auc_per_class", {})
            rows.append([name, str(m.get("n_parameters", "")), _fmt(m, "accuracy"), _fmt(m, "auc", 4),
                         *[_fmt(per, c, 4) for c in classes], f"{m.get('train_seconds', 0):.1f}",
                         f"{m.get('inference_jets_per_s', 0):.3g}"])
        return rows
    rows = [["model", "parameters", "accuracy", "AUC", "1/eps_B @ eps_S=0.3", "1/eps_B @ eps_S=0.5", "train [s]", "inference [jets/s]"]]
    for name, m in sorted(metrics.items(), key=lambda kv: -kv[1]["auc"]["value"]):
        rows.append([name, str(m.get("n_parameters", "")), _fmt(m, "accuracy"), _fmt(m, "auc", 4), _fmt(m, "rej_at_0.3", 1),
                     _fmt(m, "rej_at_0.5", 1), f"{m.get('train_seconds', 0):.1f}", f"{m.get('inference_jets_per_s', 0):.3g}"])
    return rows


def text_table(rows: list[list[str]]) -> str:
    """Rows of strings as a left-aligned text table (columns two spaces apart)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def make_report(run_dir: str | Path, jets: Any | None = None, labels: np.ndarray | None = None, title: str = "hepdl run",
                label_names: list[str] | None = None) -> Path:
    """Write ``plots/*.png`` and ``report.html`` for a run directory holding one sub-directory per model.

    Parameters
    ----------
    run_dir
        ``runs/<task>/<timestamp>/`` with ``<model>/metrics.json`` and ``<model>/scores.npz``.
    jets, labels
        The dataset's jets and labels (for the mass-sculpting plot, average images and a jet display);
        figures that need them are skipped without.
    label_names
        Class names by label (default: the ``class_names`` of the models' ``config.json``). A two-class
        run calls its lower label the background and its higher label the signal, by these names
        (``qcd`` and ``top`` for top tagging, ``w`` and ``z`` for W against Z, ...).

    Two-class runs get ROC curves (1/eps_B vs eps_S), score distributions and the mass sculpting of
    the background; multi-class runs get one-vs-rest ROC curves per class, confusion matrices and the
    jet mass per class.
    """
    from hepdl.metrics import roc_curve

    run = Path(run_dir)
    plt = _plt()
    plots = run / "plots"
    plots.mkdir(exist_ok=True)
    models = sorted(p for p in run.iterdir() if (p / ModelDir.METRICS).exists())
    metrics = {p.name: json.loads((p / ModelDir.METRICS).read_text()) for p in models}
    scores = {p.name: np.load(p / ModelDir.SCORES) for p in models}
    made: list[str] = []
    if any(np.asarray(s["scores"]).ndim == 2 for s in scores.values()):
        if label_names is None:
            label_names = _run_class_names(models)
        made += _multiclass_figures(plt, plots, metrics, scores, label_names)
        made += _training_figure(plt, plots, models)
        if jets is not None and labels is not None:
            made += _class_figures(plt, plots, jets, labels, label_names)
        return _write_page(run, made, metrics, title)

    (bkg_label, sig_label), (bkg_name, sig_name) = _two_classes(models, labels, label_names)
    if labels is not None and len(np.unique(labels)) != 2:
        jets = labels = None  # not the two classes the models separate: no per-class jet figures

    # ROC: 1/eps_B against eps_S on a log axis
    fig, ax = plt.subplots(figsize=(8, 6))
    for k, name in enumerate(sorted(metrics, key=lambda n: -metrics[n]["auc"]["value"])):
        s = scores[name]
        es, eb, _ = roc_curve(s["labels"], s["scores"])
        ok = eb > 0
        ax.plot(es[ok], 1 / eb[ok], ls=("-", "--", ":")[k // 7 % 3], label=f"{name} (AUC {metrics[name]['auc']['value']:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=10)
    fig.savefig(plots / "roc.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    made.append("roc")

    # score distributions per class
    fig, axes = _grid(plt, len(models), 4, 4.5, 3.6)
    for ax, name in zip(axes, metrics, strict=True):
        s = scores[name]
        bins = np.linspace(np.min(s["scores"]), np.max(s["scores"]) + 1e-9, 30)
        for lab, txt in ((0, f"{bkg_name} (background)"), (1, f"{sig_name} (signal)")):
            ax.hist(s["scores"][s["labels"] == lab], bins=bins, histtype="step", density=True, label=txt, lw=1.5)
        ax.set_title(name, fontsize=11)
        ax.set_xlabel("score", fontsize=10)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(plots / "scores.png", dpi=100)
    plt.close(fig)
    made.append("scores")

    made += _training_figure(plt, plots, models)

    if jets is not None and labels is not None:
        import awkward as ak

        from hepdl.features import jet_images, soft_drop

        # mass sculpting: background jet mass before and after a cut at eps_S = 0.5 for each model
        fig, ax = plt.subplots(figsize=(8, 6))
        idx_any = scores[next(iter(scores))]["index"]
        mass = ak.to_numpy(jets.jet_m)
        bins = np.linspace(0, 300, 31)
        bkg_all = mass[idx_any][scores[next(iter(scores))]["labels"] == 0]
        ax.hist(bkg_all, bins=bins, histtype="stepfilled", alpha=0.3, color="grey", density=True, label=f"{bkg_name}, no cut")
        for name, s in scores.items():
            sig = s["scores"][s["labels"] == 1]
            cut = np.quantile(sig, 0.5)
            sel = (s["labels"] == 0) & (s["scores"] >= cut)
            if sel.sum() > 1:
                ax.hist(mass[s["index"][sel]], bins=bins, histtype="step", density=True, lw=1.5, label=f"{name} ($\\epsilon_S$=0.5)")
        ax.set_xlabel("jet mass [GeV]")
        ax.set_ylabel(f"normalised {bkg_name} jets")
        ax.legend(fontsize=9)
        fig.savefig(plots / "mass_sculpting.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        made.append("mass_sculpting")

        # average images
        imgs = jet_images(jets)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        for ax, lab, txt in ((axes[0], sig_label, sig_name), (axes[1], bkg_label, bkg_name)):
            avg = imgs[labels == lab].mean(axis=0)[0]
            ax.imshow(np.log10(avg.T + 1e-6), origin="lower", extent=(-0.8, 0.8, -0.8, 0.8), cmap="viridis", vmin=-5)
            ax.set_title(f"average {txt} jet (log$_{{10}}$ p$_T$ fraction)", fontsize=11)
            ax.set_xlabel(r"$\eta'$")
            ax.set_ylabel(r"$\phi'$")
        fig.tight_layout()
        fig.savefig(plots / "images.png", dpi=100)
        plt.close(fig)
        made.append("images")

        # one jet in eta-phi, marker area ~ pT, colour by type
        i = int(np.nonzero(labels == sig_label)[0][0])
        c = jets.constituents[i]
        eta, phi, pt, ptype = (ak.to_numpy(c[f]) for f in ("eta", "phi", "pt", "type"))
        dphi = delta_phi(phi, float(jets.jet_phi[i]))
        fig, ax = plt.subplots(figsize=(6.5, 6))
        names = {0: "charged hadron", 1: "neutral hadron", 2: "photon", 3: "electron", 4: "muon", -1: "unknown"}
        for t in np.unique(ptype):
            sel = ptype == t
            ax.scatter(eta[sel] - float(jets.jet_eta[i]), dphi[sel], s=4 + 300 * pt[sel] / pt.max(), alpha=0.7, label=names.get(int(t), str(t)))
        sd = soft_drop(jets[i : i + 1])
        ax.set_title(f"{sig_name} jet: $p_T$={float(jets.jet_pt[i]):.0f} GeV, m={float(jets.jet_m[i]):.0f} GeV, "
                     f"$m_{{SD}}$={sd['mass'][0]:.0f} GeV", fontsize=10)
        ax.set_xlabel(r"$\Delta\eta$")
        ax.set_ylabel(r"$\Delta\phi$")
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.legend(fontsize=8, loc="upper right")
        fig.savefig(plots / "jet_display.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        made.append("jet_display")

    return _write_page(run, made, metrics, title, f"signal: {sig_name}; background: {bkg_name}")


def _run_class_names(models: list[Path]) -> list[str] | None:
    """The ``class_names`` of the first model's ``config.json`` that has them (ensembles have none)."""
    for p in models:
        cfg = p / ModelDir.CONFIG
        if cfg.exists():
            names = json.loads(cfg.read_text()).get("class_names")
            if names:
                return [str(n) for n in names]
    return None


def _two_classes(models: list[Path], labels: np.ndarray | None,
                 label_names: list[str] | None) -> tuple[tuple[int, int], tuple[str, str]]:
    """The dataset labels of the background and the signal (the lower and the higher of the two labels
    present) and their names: ``label_names`` by label, else the run's ``config.json`` class names."""
    present = [int(c) for c in np.unique(labels)] if labels is not None else []
    if len(present) != 2:
        present = [0, 1]
    if label_names and all(0 <= c < len(label_names) for c in present):
        names = [str(label_names[c]) for c in present]
    else:
        names = _run_class_names(models) or ["background", "signal"]
    return (present[0], present[1]), (names[0], names[1])


def _training_figure(plt: Any, plots: Path, models: list[Path]) -> list[str]:
    """Validation (solid) and training (dashed) loss per epoch of every torch model."""
    made: list[str] = []
    fig, ax = plt.subplots(figsize=(8, 5))
    any_curve = False
    for p in models:
        h = p / ModelDir.HISTORY
        if h.exists():
            import pandas as pd

            df = pd.read_csv(h)
            if "val_loss" in df:
                v = df.dropna(subset=["val_loss"])
                ax.plot(v["epoch"] + 1, v["val_loss"], label=f"{p.name} val")
                any_curve = True
            if "train_loss" in df:
                t = df.dropna(subset=["train_loss"])
                ax.plot(t["epoch"] + 1, t["train_loss"], ls="--", alpha=0.6)
    if any_curve:
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (BCE / cross-entropy)")
        ax.legend(fontsize=9)
        fig.savefig(plots / "training.png", dpi=100, bbox_inches="tight")
        made.append("training")
    plt.close(fig)

    return made


def _html_table(rows: list[list[str]]) -> str:
    """An HTML table of ``rows`` (header first); empty for no rows."""
    if not rows:
        return ""
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in rows[0]) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]) + "</table>"


def _write_page(run: Path, made: list[str], metrics: dict[str, dict[str, Any]], title: str, classes: str = "") -> Path:
    rows = model_table(metrics)
    table_html = (f"<p>{html.escape(classes)}</p>" if classes else "") + _html_table(rows)
    figs = "".join(f'<h2>{name.replace("_", " ")}</h2><img src="plots/{name}.png" style="max-width:900px">' for name in made)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style>
</head><body><h1>{html.escape(title)}</h1>{table_html}{figs}</body></html>"""
    atomic_write(run / "report.html", lambda tmp: tmp.write_text(page))
    text = (classes + "\n\n" if classes else "") + text_table(rows) + "\n"
    atomic_write(run / "table.txt", lambda tmp: tmp.write_text(text))
    return run / "report.html"


def _multiclass_figures(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
                        names: list[str] | None) -> list[str]:
    """One-vs-rest ROC per class (1/eps_B vs eps_S) and the confusion matrix of each model."""
    from hepdl.metrics import confusion_matrix, roc_curve

    first = next(iter(scores.values()))
    c = np.asarray(first["scores"]).shape[1]
    names = list(names) if names else [str(i) for i in range(c)]
    order = sorted(metrics, key=lambda n: -metrics[n]["auc"]["value"])
    fig, axes = _grid(plt, c, 3, 5.5, 4.5)
    for k, ax in enumerate(axes):
        for j, name in enumerate(order):
            s = scores[name]
            y = (s["labels"] == k).astype(int)
            if 0 < y.sum() < len(y):
                es, eb, _ = roc_curve(y, s["scores"][:, k])
                ok = eb > 0
                auc_k = metrics[name].get("auc_per_class", {}).get(names[k], {}).get("value", float("nan"))
                ax.plot(es[ok], 1 / eb[ok], ls=("-", "--", ":")[j // 7 % 3], label=f"{name} ({auc_k:.3f})")
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_title(f"{names[k]} vs rest", fontsize=12)
        ax.set_xlabel(r"$\epsilon_S$", fontsize=11)
        ax.set_ylabel(r"$1/\epsilon_B$", fontsize=11)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(plots / "roc.png", dpi=100)
    plt.close(fig)

    fig, axes = _grid(plt, len(order), 3, 5, 4.6)
    for ax, name in zip(axes, order, strict=True):
        s = scores[name]
        cm = confusion_matrix(s["labels"], s["scores"])
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        for i in range(c):
            for j in range(c):
                ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=9, color="white" if cm[i, j] > 0.5 else "black")
        ax.set_xticks(range(c), names, fontsize=9)
        ax.set_yticks(range(c), names, fontsize=9)
        ax.set_xlabel("predicted", fontsize=10)
        ax.set_ylabel("true", fontsize=10)
        ax.set_title(f"{name} (acc {metrics[name]['accuracy']['value']:.3f})", fontsize=11)
        ax.minorticks_off()
    fig.tight_layout()
    fig.savefig(plots / "confusion.png", dpi=100)
    plt.close(fig)
    return ["roc", "confusion"]


def _class_figures(plt: Any, plots: Path, jets: Any, labels: np.ndarray, names: list[str] | None) -> list[str]:
    """Jet mass and soft-drop mass per class, and the average image of each class."""
    import awkward as ak

    from hepdl.features import jet_images, soft_drop

    classes = np.unique(labels)
    names = list(names) if names else [str(i) for i in classes]
    mass = ak.to_numpy(jets.jet_m)
    msd = soft_drop(jets)["mass"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    bins = np.linspace(0, 300, 41)
    for k in classes:
        sel = labels == k
        axes[0].hist(mass[sel], bins=bins, histtype="step", density=True, lw=1.5, label=names[k] if k < len(names) else str(k))
        axes[1].hist(msd[sel], bins=bins, histtype="step", density=True, lw=1.5)
    axes[0].set_xlabel("jet mass [GeV]")
    axes[1].set_xlabel("soft-drop mass [GeV]")
    axes[0].set_ylabel("normalised jets")
    axes[0].legend(fontsize=10)
    fig.tight_layout()
    fig.savefig(plots / "mass_per_class.png", dpi=100)
    plt.close(fig)
    imgs = jet_images(jets)
    fig, axes = plt.subplots(1, len(classes), figsize=(3.6 * len(classes), 3.6), squeeze=False)
    for ax, k in zip(axes.ravel(), classes, strict=True):
        avg = imgs[labels == k].mean(axis=0)[0]
        ax.imshow(np.log10(avg.T + 1e-6), origin="lower", extent=(-0.8, 0.8, -0.8, 0.8), cmap="viridis", vmin=-5)
        ax.set_title(f"average {names[k] if k < len(names) else k} jet", fontsize=11)
        ax.set_xlabel(r"$\eta'$", fontsize=10)
    fig.tight_layout()
    fig.savefig(plots / "images.png", dpi=90)
    plt.close(fig)
    return ["mass_per_class", "images"]


def rewrite_report(run_dir: str | Path) -> Path:
    """Rewrite a run's report from its stored outputs, with the figures its dataset allows: the
    H -> tau tau page for event datasets, the jet page otherwise (without the dataset's figures when
    it cannot be read any more)."""
    from hepdl.data.events import EventDataset
    from hepdl.errors import DataError
    from hepdl.train.trainer import _model_dirs, trained_dataset

    run = Path(run_dir)
    try:
        ds = trained_dataset(_model_dirs(run)[0])
    except DataError:
        return make_report(run)
    if isinstance(ds, EventDataset):
        from hepdl.report.higgs import make_higgs_report

        return make_higgs_report(run, ds)
    return make_report(run, ds.jets, ds.labels)
