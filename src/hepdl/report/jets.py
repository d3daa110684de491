"""The jet domain's report: results table and figures of a two-class tagger (ROC as 1/eps_B against
eps_S, score distributions, background mass sculpting, average images, a jet display) or of a
multi-class one (one-vs-rest ROC, confusion matrices, mass per class, average images), all in the
skeleton of :mod:`hepdl.report.page`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.kinematics import delta_phi
from hepdl.report.page import Cell, Figure, Page, Table, cell
from hepdl.report.style import model_styles, save

__all__ = ["jet_page", "kan_section", "kan_symbolic", "model_table", "FIGURES", "MULTICLASS_FIGURES", "KAN_MODELS", "KAN_TABLE_EDGES"]

#: Figures of a two-class run.
FIGURES = ("roc", "scores", "mass_sculpting", "training", "images", "jet_display")
#: Figures of a multi-class run.
MULTICLASS_FIGURES = ("roc", "confusion", "training", "mass_per_class", "images")

#: Jets whose constituents the figures use (average images, soft-drop mass, the jet display): a seeded
#: subset, every class keeping its share, so that a report of millions of jets (read a part at a time)
#: holds a bounded number of them. The jet mass of every jet is read, a number per jet.
FIGURE_JETS = 20_000


def _figure_jets(ds: Any) -> tuple[np.ndarray, Any, np.ndarray]:
    """``(jet mass of every jet, the FIGURE_JETS jets' records, their labels)`` of ``ds``."""
    from hepdl.data.dataset import stratified_subset

    labels = np.asarray(ds.labels)
    pick = stratified_subset(labels, FIGURE_JETS)
    return ds.column("jet_m"), ds.take(pick), labels[pick]


def _order(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """Model names, best AUC first."""
    return sorted(metrics, key=lambda n: -float(metrics[n].get("auc", {}).get("value", float("nan")) or 0.0))


def model_table(metrics: dict[str, dict[str, Any]], classes: list[str] | None = None) -> Table:
    """The results table of jet classifiers, best AUC first: parameters, accuracy, AUC,
    1/eps_B at eps_S = 0.3 and 0.5, training time, inference rate; for multi-class models the macro
    AUC and the one-vs-rest AUC of each class (in the order of ``classes``, the class names by label)."""
    order = _order(metrics)
    multi = [m for m in metrics.values() if "auc_per_class" in m]

    def common(m: dict[str, Any]) -> tuple[Cell, Cell]:
        t, r = m.get("train_seconds"), m.get("inference_jets_per_s")
        return (Cell(f"{t:.1f}" if t is not None else "", t), Cell(f"{r:.3g}" if r is not None else "", r))

    if multi:
        per_class = list(multi[0]["auc_per_class"])
        classes = [c for c in classes or [] if c in per_class] + [c for c in per_class if c not in (classes or [])]
        header = ["model", "parameters", "accuracy", "macro AUC", *[f"AUC {c}" for c in classes], "train [s]", "inference [jets/s]"]
        rows = []
        for name in order:
            m = metrics[name]
            per = m.get("auc_per_class", {})
            rows.append([Cell(name, name), cell(m, "n_parameters"), cell(m, "accuracy"), cell(m, "auc", 4),
                         *[cell(per, c, 3) for c in classes], *common(m)])
        better = {i: "max" for i in range(2, 4 + len(classes))}
        return Table(header, rows, better)
    header = ["model", "parameters", "accuracy", "AUC", "1/eps_B @ eps_S=0.3", "1/eps_B @ eps_S=0.5", "train [s]", "inference [jets/s]"]
    rows = [[Cell(name, name), cell(metrics[name], "n_parameters"), cell(metrics[name], "accuracy"), cell(metrics[name], "auc", 4),
             cell(metrics[name], "rej_at_0.3", 1, na="n/a (too few background jets)"),
             cell(metrics[name], "rej_at_0.5", 1, na="n/a (too few background jets)"), *common(metrics[name])] for name in order]
    return Table(header, rows, {2: "max", 3: "max", 4: "max", 5: "max"})


def _grid(plt: Any, n: int, max_cols: int, width: float, height: float) -> tuple[Any, Any]:
    """A figure of ``n`` panels in rows of at most ``max_cols`` (unused panels off): ``(fig, axes)``."""
    cols = max(1, min(n, max_cols))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def training_figure(plt: Any, plots: Path, models: list[Path], styles: dict[str, dict[str, Any]]) -> list[Figure]:
    """Validation (solid) and training (dashed) loss per epoch of every model trained by gradient
    descent, each in its run colour; the models without a curve are named under the axes."""
    import pandas as pd

    from hepdl.train.rundir import ModelDir

    fig, ax = plt.subplots(figsize=(9, 5.5))
    drawn, without = [], []
    for p in models:
        h = p / ModelDir.HISTORY
        df = pd.read_csv(h) if h.exists() else None
        if df is None or "val_loss" not in df:
            without.append(p.name)
            continue
        st = dict(styles.get(p.name) or styles.get(p.name.rsplit("-fold", 1)[0], {}), ls="-")  # a fold model: its model's
        v = df.dropna(subset=["val_loss"])
        ax.plot(v["epoch"] + 1, v["val_loss"], label=p.name, **st)
        if "train_loss" in df:
            t = df.dropna(subset=["train_loss"])
            ax.plot(t["epoch"] + 1, t["train_loss"], **dict(st, ls="--", alpha=0.5))
        drawn.append(p.name)
    if not drawn:
        plt.close(fig)
        return []
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=10, ncol=2 if len(drawn) > 6 else 1, title="validation (solid), training (dashed)", title_fontsize=9)
    if without:
        ax.text(0.0, -0.16, "no loss curve (not trained by gradient descent): " + ", ".join(without), transform=ax.transAxes,
                fontsize=9, va="top")
    save(fig, plots, "training")
    return [Figure("training", "Training curves",
                   "Loss on the validation split (solid) and the training split (dashed) per epoch, one colour per model. "
                   "The stored model is the one of the lowest validation loss; a validation curve that rises while the "
                   "training curve falls is over-training.")]


def jet_page(plt: Any, plots: Path, models: list[Path], metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
             ds: Any, label_names: list[str] | None, title: str) -> Page:
    """The page of a jet run: two-class or multi-class figures, by the shape of the stored scores."""
    styles = model_styles(list(metrics))
    labels = np.asarray(ds.labels) if ds is not None else None
    kan_figs, kan_tables = kan_section(plt, plots, models, metrics, scores, ds, label_names)
    if any(np.asarray(s["scores"]).ndim == 2 for s in scores.values()):
        figs = _multiclass_figures(plt, plots, metrics, scores, label_names, styles)
        figs += training_figure(plt, plots, models, styles)
        if labels is not None:
            figs += _class_figures(plt, plots, *_figure_jets(ds), labels, label_names)
        return Page(title, model_table(metrics, label_names), figs + kan_figs, subtitle="classes: " + ", ".join(label_names or []),
                    extra_tables=kan_tables)
    (bkg_label, sig_label), (bkg, sig) = _two_classes(labels, label_names)
    if labels is not None and len(np.unique(labels)) != 2:
        labels = None  # not the two classes the models separate: no per-class jet figures
    figs = _two_class_figures(plt, plots, metrics, scores, styles, bkg, sig)
    figs += training_figure(plt, plots, models, styles)
    if labels is not None:
        figs += _jet_figures(plt, plots, metrics, scores, styles, *_figure_jets(ds), (bkg_label, sig_label), (bkg, sig))
    return Page(title, model_table(metrics), figs + kan_figs, subtitle=f"signal: {sig}; background: {bkg}", extra_tables=kan_tables)


def _two_classes(labels: np.ndarray | None, names: list[str] | None) -> tuple[tuple[int, int], tuple[str, str]]:
    """The labels of the background and the signal (the lower and the higher of the two present)
    and their names (``names`` by label)."""
    present = [int(c) for c in np.unique(labels)] if labels is not None else []
    if len(present) != 2:
        present = [0, 1]
    if names and all(0 <= c < len(names) for c in present):
        return (present[0], present[1]), (str(names[present[0]]), str(names[present[1]]))
    if names and len(names) == 2:
        return (present[0], present[1]), (str(names[0]), str(names[1]))
    return (present[0], present[1]), ("background", "signal")


def _two_class_figures(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
                       styles: dict[str, dict[str, Any]], bkg: str, sig: str) -> list[Figure]:
    from hepdl.metrics import roc_curve

    order = _order(metrics)
    fig, ax = plt.subplots(figsize=(9, 6.5))
    for name in order:
        s = scores[name]
        es, eb, _ = roc_curve(s["labels"], s["scores"])
        ok = eb > 0
        ax.plot(es[ok], 1 / eb[ok], label=f"{name} (AUC {metrics[name]['auc']['value']:.3f})", **styles[name])
    ax.set_yscale("log")
    ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=10, ncol=2 if len(order) > 8 else 1)
    figs = [Figure(save(fig, plots, "roc"), "ROC curves",
                   f"Background rejection 1/eps_B ({bkg} jets kept per jet passing) against signal efficiency eps_S ({sig}) "
                   "on the test split; higher is better. Cuts dotted, boosted trees dash-dotted, networks solid. The curve "
                   "ends where no background jet of the test split passes.")]

    fig, axes = _grid(plt, len(order), 3, 5.2, 4.0)
    for ax, name in zip(axes, order, strict=True):
        s = scores[name]
        sc = np.asarray(s["scores"], dtype=float)
        bins = np.linspace(np.min(sc), np.max(sc) + 1e-9, 40)
        for lab, txt, col in ((0, f"{bkg} (background)", "#555555"), (1, f"{sig} (signal)", styles[name]["color"])):
            ax.hist(sc[s["labels"] == lab], bins=bins, histtype="step", density=True, label=txt, lw=1.8, color=col)
        ax.set_title(name, fontsize=14)
        ax.set_xlabel("score", fontsize=13)
        ax.set_yscale("log")
        ax.legend(fontsize=10)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "scores"), "Score distributions",
                       f"Output of each model on the test split, {sig} (signal, in the model's colour) and {bkg} (background, grey), "
                       "each normalised to unit area, log scale. Well separated peaks mean a good tagger."))
    return figs


def _jet_figures(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], scores: dict[str, Any], styles: dict[str, dict[str, Any]],
                 mass: np.ndarray, jets: Any, labels: np.ndarray, lab: tuple[int, int], name: tuple[str, str]) -> list[Figure]:
    """Mass sculpting (``mass``: every jet's), average images and a jet display (``jets``, ``labels``: the
    :data:`FIGURE_JETS` jets)."""
    import awkward as ak

    from hepdl.features import jet_images, soft_drop
    from hepdl.metrics.anomaly import sculpting_jsd

    (bkg_label, sig_label), (bkg, sig) = lab, name
    bins = np.linspace(0, 300, 31)
    order = [m for m in _order(metrics) if m in scores]
    fig, axes = _grid(plt, len(order), 3, 5.2, 4.0)
    for ax, model in zip(axes, order, strict=True):
        s = scores[model]
        bkg_all = mass[s["index"][s["labels"] == 0]]
        ax.hist(bkg_all, bins=bins, histtype="stepfilled", alpha=0.3, color="grey", density=True, label=f"{bkg}, no cut")
        sig_scores = np.asarray(s["scores"])[s["labels"] == 1]
        for eff, ls in ((0.5, "-"), (0.3, "--")):
            cut = np.quantile(sig_scores, 1 - eff)
            sel = (s["labels"] == 0) & (np.asarray(s["scores"]) >= cut)
            if sel.sum() > 1:
                jsd = sculpting_jsd(mass[s["index"]], s["labels"], np.asarray(s["scores"]), eff, bins)
                ax.hist(mass[s["index"][sel]], bins=bins, histtype="step", density=True, lw=1.8, ls=ls, color=styles[model]["color"],
                        label=f"$\\epsilon_S$={eff}: {int(sel.sum())} jets, JSD {jsd:.3f}")
            else:
                ax.plot([], [], ls=ls, color=styles[model]["color"], label=f"$\\epsilon_S$={eff}: {int(sel.sum())} jets pass")
        ax.set_title(model, fontsize=14)
        ax.set_xlabel("jet mass [GeV]", fontsize=13)
        ax.legend(fontsize=10)
    fig.tight_layout()
    figs = [Figure(save(fig, plots, "mass_sculpting"), "Background mass sculpting",
                   f"Jet mass of the {bkg} (background) jets of the test split before any cut (grey) and after the cut on each "
                   f"model's score that keeps 50 % (solid) or 30 % (dashed) of the {sig} jets, each normalised to unit area; the "
                   "legend gives the Jensen-Shannon divergence of the two shapes (0: unchanged, 1: disjoint). "
                   "A tagger that shapes the background into a peak near the signal mass sculpts it; one that keeps the grey shape does not.")]

    imgs = jet_images(jets)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, lab_, txt in ((axes[0], sig_label, sig), (axes[1], bkg_label, bkg)):
        avg = imgs[labels == lab_].mean(axis=0)[0]
        im = ax.imshow(np.log10(avg.T + 1e-6), origin="lower", extent=(-0.8, 0.8, -0.8, 0.8), cmap="viridis", vmin=-5)
        ax.set_title(f"average {txt} jet (log$_{{10}}$ p$_T$ fraction)", fontsize=12)
        ax.set_xlabel(r"$\eta'$")
        ax.set_ylabel(r"$\phi'$")
        fig.colorbar(im, ax=ax, shrink=0.85)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "images"), "Average jet images",
                       "Mean pT fraction per pixel of the preprocessed jet images (centred, rotated, flipped; arXiv:1511.05190), "
                       f"log10 colour scale, over {len(labels)} jets (up to {FIGURE_JETS:,} drawn, seeded, each class keeping its share). Signal jets with hard substructure show the second and third prongs."))

    i = int(np.nonzero(labels == sig_label)[0][0])
    c = jets.constituents[i]
    eta, phi, pt, ptype = (ak.to_numpy(c[f]) for f in ("eta", "phi", "pt", "type"))
    dphi = delta_phi(phi, float(jets.jet_phi[i]))
    fig, ax = plt.subplots(figsize=(6.5, 6))
    kinds = {0: "charged hadron", 1: "neutral hadron", 2: "photon", 3: "electron", 4: "muon", -1: "unknown"}
    for t in np.unique(ptype):
        sel = ptype == t
        ax.scatter(eta[sel] - float(jets.jet_eta[i]), dphi[sel], s=4 + 300 * pt[sel] / pt.max(), alpha=0.7, label=kinds.get(int(t), str(t)))
    sd = soft_drop(jets[i : i + 1])
    ax.set_title(f"{sig} jet: $p_T$={float(jets.jet_pt[i]):.0f} GeV, m={float(jets.jet_m[i]):.0f} GeV, "
                 f"$m_{{SD}}$={sd['mass'][0]:.0f} GeV", fontsize=11)
    ax.set_xlabel(r"$\Delta\eta$")
    ax.set_ylabel(r"$\Delta\phi$")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.legend(fontsize=8, loc="upper right")
    figs.append(Figure(save(fig, plots, "jet_display"), "One signal jet",
                       f"The constituents of the first {sig} jet of the dataset in the eta-phi plane around the jet axis, marker "
                       "area proportional to pT, colour by particle type; the title gives its mass and soft-drop mass."))
    return figs


def _multiclass_figures(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
                        names: list[str] | None, styles: dict[str, dict[str, Any]]) -> list[Figure]:
    from hepdl.metrics import confusion_matrix, roc_curve

    first = next(iter(scores.values()))
    c = np.asarray(first["scores"]).shape[1]
    names = list(names) if names else [str(i) for i in range(c)]
    order = _order(metrics)
    fig, axes = _grid(plt, c, 3, 5.5, 4.5)
    for k, ax in enumerate(axes):
        for name in order:
            s = scores[name]
            y = (s["labels"] == k).astype(int)
            if 0 < y.sum() < len(y):
                es, eb, _ = roc_curve(y, s["scores"][:, k])
                ok = eb > 0
                auc_k = metrics[name].get("auc_per_class", {}).get(names[k], {}).get("value", float("nan"))
                ax.plot(es[ok], 1 / eb[ok], label=f"{name} ({auc_k:.3f})", **styles[name])
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_title(f"{names[k]} vs rest", fontsize=14)
        ax.set_xlabel(r"$\epsilon_S$", fontsize=14)
        ax.set_ylabel(r"$1/\epsilon_B$", fontsize=14)
        ax.legend(fontsize=10)
    fig.tight_layout()
    figs = [Figure(save(fig, plots, "roc"), "One-vs-rest ROC curves",
                   "For each class: rejection of all other classes (1/eps_B) against the efficiency for the class (eps_S), "
                   "on that class's probability; legend: model (one-vs-rest AUC). Higher is better.")]

    fig, axes = _grid(plt, len(order), 3, 5, 4.6)
    for ax, name in zip(axes, order, strict=True):
        cm = confusion_matrix(scores[name]["labels"], scores[name]["scores"])
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
    figs.append(Figure(save(fig, plots, "confusion"), "Confusion matrices",
                       "Fraction of the test jets of each true class (row) assigned to each class (column, the most probable "
                       "one); a perfect classifier has ones on the diagonal."))
    return figs


def _class_figures(plt: Any, plots: Path, mass: np.ndarray, jets: Any, labels: np.ndarray, all_labels: np.ndarray,
                   names: list[str] | None) -> list[Figure]:
    """Mass per class (``mass``, ``all_labels``: every jet's) and soft-drop mass and average images per
    class (``jets``, ``labels``: the :data:`FIGURE_JETS` jets)."""
    from hepdl.features import jet_images, soft_drop

    classes = np.unique(all_labels)
    names = list(names) if names else [str(i) for i in classes]
    msd = soft_drop(jets)["mass"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    bins = np.linspace(0, 300, 41)
    for k in classes:
        axes[0].hist(mass[all_labels == k], bins=bins, histtype="step", density=True, lw=1.5, label=names[k] if k < len(names) else str(k))
        axes[1].hist(msd[labels == k], bins=bins, histtype="step", density=True, lw=1.5)
    axes[0].set_xlabel("jet mass [GeV]")
    axes[1].set_xlabel("soft-drop mass [GeV]")
    axes[0].set_ylabel("normalised jets")
    axes[0].legend(fontsize=10)
    fig.tight_layout()
    figs = [Figure(save(fig, plots, "mass_per_class"), "Jet mass per class",
                   "Jet mass (left, every jet) and soft-drop mass (right, z_cut = 0.1, beta = 0; arXiv:1402.2657; "
                   f"{len(labels)} jets drawn as for the images) of each class, normalised: the W, Z and top peaks should sit near 80, 91 and 173 GeV.")]
    imgs = jet_images(jets)
    fig, axes = plt.subplots(1, len(classes), figsize=(3.8 * len(classes), 3.8), squeeze=False)
    for ax, k in zip(axes.ravel(), classes, strict=True):
        avg = imgs[labels == k].mean(axis=0)[0]
        ax.imshow(np.log10(avg.T + 1e-6), origin="lower", extent=(-0.8, 0.8, -0.8, 0.8), cmap="viridis", vmin=-5)
        ax.set_title(f"average {names[k] if k < len(names) else k} jet", fontsize=11)
        ax.set_xlabel(r"$\eta'$", fontsize=10)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "images"), "Average jet images",
                       "Mean pT fraction per pixel of each class's preprocessed jet images (arXiv:1511.05190), log10 colour scale, "
                       f"over {len(labels)} jets (up to {FIGURE_JETS:,} drawn, seeded, each class keeping its share)."))
    return figs


# --------------------------------------------------------------------------------------------------
# the readable part of the KANs (arXiv:2404.19756)

#: Registry names of the Kolmogorov-Arnold networks whose learned functions the page reads.
KAN_MODELS = ("kan", "kan-gam")
#: A KAN with more edges than this gets no row in the formula table (too long to read); it is still drawn.
KAN_TABLE_EDGES = 64
#: Rows of the training split (a seeded subset) the symbolic fits sample.
KAN_FIT_ROWS = 5000
#: Inputs drawn: all of a one-layer KAN up to the first 48; the first 16 of a deeper one (its first layer),
#: with the ``KAN_EDGES_PER_INPUT`` edges of the largest spread of each.
KAN_GAM_DRAWN, KAN_DRAWN, KAN_EDGES_PER_INPUT = 48, 16, 5

_KAN_TITLE = "KAN formula (arXiv:2404.19756)"


def kan_section(plt: Any, plots: Path, models: list[Path], metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
                ds: Any, label_names: list[str] | None) -> tuple[list[Figure], list[tuple[str, list[list[str]]]]]:
    """The KANs of the run read as formulas (Liu et al., arXiv:2404.19756): ``(figures, extra tables)``.

    For every model directory whose registry name is in :data:`KAN_MODELS` (the ``model`` of its
    ``config.json``), with the dataset at hand: every edge of a KAN of at most :data:`KAN_TABLE_EDGES`
    edges is fitted with :func:`hepdl.models.kan.symbolic_model` on up to :data:`KAN_FIT_ROWS` rows of its
    training split, and the table gives the formula, the network's AUC (``metrics.json``) and the AUC of
    the formula itself on the test split (the macro one-vs-rest AUC of its softmax for several classes).
    The figure ``kan_edges`` draws the learned edge functions with their fits dashed (larger KANs: the
    first layer only, which is all that is fitted for them). Whatever fails here is logged as a warning
    (logger ``hepdl``) and leaves the rest of the report as it is.
    """
    if ds is None:
        return [], []
    log = logging.getLogger("hepdl")
    fitted: list[dict[str, Any]] = []
    for p in models:
        try:
            entry = _kan_fit(p, scores.get(p.name), metrics.get(p.name, {}), ds, label_names)
        except Exception as exc:  # a model whose formula cannot be made: the report goes on without it
            log.warning("report: the KAN formula of %s is left out (%s: %s)", p.name, type(exc).__name__, exc)
            continue
        if entry is not None:
            fitted.append(entry)
    if not fitted:
        return [], []
    tables: list[tuple[str, list[list[str]]]] = []
    rows = [[e["name"], e["formula"], f"{e['network_auc']:.4f}" if e["network_auc"] is not None else "",
             f"{e['formula_auc']:.4f}", f"{e['min_r2']:.3f}"] for e in fitted if "formula" in e]
    if rows:
        tables.append((_KAN_TITLE, [["model", "formula (inputs standardised: (x - mean) / std of the training split)",
                                     "network AUC", "formula AUC", "worst edge R²"], *rows]))
    try:
        figs = [_kan_edges_figure(plt, plots, fitted)]
    except Exception as exc:  # the figure is left out, the table (if any) stays
        log.warning("report: the KAN edge figure is left out (%s: %s)", type(exc).__name__, exc)
        figs = []
    return figs, tables


def kan_symbolic(model_dir: Path, ds: Any, *, max_edges: int | None = None) -> dict[str, Any]:
    """The symbolic fit of the trained KAN in ``model_dir`` (:func:`hepdl.models.kan.symbolic_model`,
    arXiv:2404.19756), on up to :data:`KAN_FIT_ROWS` rows (seeded) of its training split of ``ds``.

    A KAN of more than ``max_edges`` edges has its first layer fitted only (``readable`` false). Returns
    ``record`` (its ``config.json``), ``pre``, ``net``, ``sym``, ``x`` (the fit rows, standardised),
    ``columns``, ``n_edges``, ``readable``, ``index`` and ``labels`` (its test split, ``scores.npz``) and,
    when readable, ``logits``: the formula's outputs on the test split, (B, O).
    """
    from hepdl.models.kan import KAN, KANLayer, symbolic_model
    from hepdl.train.rundir import ModelDir
    from hepdl.train.trainer import load_trained, model_inputs

    record = ModelDir(model_dir).record()
    _, pre, module = load_trained(model_dir)
    net = module.net
    if not isinstance(net, KAN):
        raise TypeError(f"{model_dir.name} is registered as {record.model!r} but holds a {type(net).__name__}")
    inputs = model_inputs(ds, pre)
    with np.load(model_dir / ModelDir.SPLIT) as split:
        train_idx = np.asarray(split["train"])
    with np.load(model_dir / ModelDir.SCORES) as scores:
        index, labels = np.asarray(scores["index"]), np.asarray(scores["labels"])
    if len(train_idx) > KAN_FIT_ROWS:
        train_idx = np.sort(np.random.default_rng(0).choice(train_idx, KAN_FIT_ROWS, replace=False))
    x_fit = np.asarray(inputs.take(train_idx)["features"], dtype=np.float64)
    layers = [layer for layer in net.layers if isinstance(layer, KANLayer)]
    n_edges = sum(layer.n_in * layer.n_out for layer in layers)
    readable = max_edges is None or n_edges <= max_edges
    sym = symbolic_model(net if readable else layers[0], x_fit)
    out: dict[str, Any] = {"record": record, "pre": pre, "net": net, "sym": sym, "x": x_fit, "n_edges": n_edges, "readable": readable,
                           "columns": [str(c) for c in pre.get("columns") or [f"x{i}" for i in range(net.n_inputs)]],
                           "index": index, "labels": labels}
    if readable:
        out["logits"] = sym(np.asarray(inputs.take(index)["features"], dtype=np.float64))
    return out


def _kan_fit(p: Path, s: Any, m: dict[str, Any], ds: Any, label_names: list[str] | None) -> dict[str, Any] | None:
    """The report's entry of the KAN in ``p`` (None when ``p`` holds no KAN): name, network, fit sample,
    columns, edges, and for a readable one (at most :data:`KAN_TABLE_EDGES` edges) its formula with the AUCs."""
    from hepdl.train.rundir import ModelDir

    if s is None or not (p / ModelDir.CONFIG).exists() or ModelDir(p).record().model not in KAN_MODELS:
        return None
    k = kan_symbolic(p, ds, max_edges=KAN_TABLE_EDGES)
    net, sym = k["net"], k["sym"]
    entry: dict[str, Any] = {"name": p.name, "net": net, "sym": sym, "x": k["x"], "columns": k["columns"], "n_edges": k["n_edges"],
                             "outputs": _kan_outputs(net.n_outputs, k["record"].class_names or label_names)}
    if k["readable"]:
        value = m.get("auc", {}).get("value") if isinstance(m.get("auc"), dict) else None
        entry.update(formula="; ".join(sym.formula(k["columns"], outputs=[f"logit_{o}" if net.n_outputs > 1 else "logit"
                                                                           for o in entry["outputs"]]).splitlines()),
                     formula_auc=_formula_auc(k["labels"], k["logits"]),
                     network_auc=float(value) if value is not None else None, min_r2=sym.min_r2())
    return entry


def _kan_outputs(n: int, names: list[str] | None) -> list[str]:
    """Names of a KAN's ``n`` outputs: the class names of a multi-class network, else ``y0, y1, ...``."""
    if n > 1 and names and len(names) == n:
        return [str(c) for c in names]
    return [f"y{o}" for o in range(n)] if n > 1 else ["y"]


def _formula_auc(labels: np.ndarray, logits: np.ndarray) -> float:
    """AUC of a formula's logits: (B, 1) of two classes, or the macro one-vs-rest AUC of the softmax of (B, C)."""
    from hepdl.metrics import Measurement, auc, multiclass_metrics

    if logits.shape[1] == 1:
        return auc(labels, logits[:, 0])
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    macro = multiclass_metrics(labels, prob, n_bootstrap=0)["auc"]  # the macro AUC of metrics.json, by the same function
    assert isinstance(macro, Measurement)
    return macro.value


def _kan_edges_figure(plt: Any, plots: Path, fitted: list[dict[str, Any]]) -> Figure:
    """``kan_edges``: each drawn input's learned edge functions (solid) and their symbolic fits (dashed)."""
    import torch

    panels = [(e, i) for e in fitted for i in range(min(e["net"].n_inputs, KAN_GAM_DRAWN if len(e["net"].layers) == 1 else KAN_DRAWN))]
    fig, axes = _grid(plt, len(panels), 4, 3.6, 2.9)
    try:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ax, (e, i) in zip(axes, panels, strict=True):
            layer, sym_row = e["net"].layers[0], e["sym"].edges[0]
            lo, hi = (float(v) for v in np.quantile(e["x"][:, i], [0.005, 0.995]))
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
            grid = np.linspace(lo, hi, 200)
            pts = np.zeros((len(grid), layer.n_in))
            pts[:, i] = grid
            par = next(layer.parameters())
            with torch.no_grad():
                values = layer.edge_values(torch.as_tensor(pts, dtype=par.dtype, device=par.device))[:, :, i].double().cpu().numpy()
            outs = np.argsort(-values.std(axis=0))[:KAN_EDGES_PER_INPUT] if len(e["net"].layers) > 1 else np.arange(layer.n_out)
            for c, j in enumerate(sorted(int(o) for o in outs)):
                col = colours[c % len(colours)]
                label = (f"→ h{j}" if len(e["net"].layers) > 1 else (e["outputs"][j] if layer.n_out > 1 else None))
                ax.plot(grid, values[:, j], color=col, lw=1.8, label=label)
                ax.plot(grid, sym_row[j][i](grid), color=col, lw=1.2, ls="--")
            one = layer.n_out == 1
            ax.set_title(f"{e['name']}: {e['columns'][i]}" + (f" ({sym_row[0][i].name}, R² {sym_row[0][i].r2:.3f})" if one else ""),
                         fontsize=9)
            ax.set_xlabel(f"{e['columns'][i]} (standardised)", fontsize=8)
            ax.set_ylabel(r"$\phi(x)$", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)  # no "x 1e-2" over the panel's title
            if not one:
                ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
    except Exception:
        plt.close(fig)
        raise
    return Figure(save(fig, plots, "kan_edges"), "KAN: the learned functions of one variable",
                  "Each KAN's learned edge functions phi(x) (solid) and their symbolic fits a*f(b*x + c) + d (dashed, same colour; "
                  "arXiv:2404.19756) over the central 99 % of the standardised training inputs. kan-gam: each observable's additive "
                  "contribution to the logit (one curve per class for several classes); the panel title names the fitted function and "
                  f"its R². kan: the first layer's edges of the first {KAN_DRAWN} inputs, the {KAN_EDGES_PER_INPUT} of the largest spread "
                  "of each (to hidden node h_j). A dashed curve on its solid one: the formula describes the network there.")
