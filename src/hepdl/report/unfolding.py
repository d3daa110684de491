"""The unfolding domain's report: every method's unfolded distributions against the pseudo-data's
particle-level truth, in the skeleton of :mod:`hepdl.report.page`.

Figures (``<run>/plots/``): ``unfolded`` (per observable: truth, the data's detector level, the
simulation's particle level (the prior) and every method, with the ratio to the truth below),
``closure`` (the same for the closure test: one half of the simulation unfolded with the other),
``chi2`` (chi^2/ndf per observable and method, with bootstrap errors), ``omnifold_weights`` (the
distribution of OmniFold's final weights) and ``training`` (the networks' loss curves).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.report.jets import training_figure
from hepdl.report.page import Cell, Figure, Page, Table, cell
from hepdl.report.style import model_styles, save

__all__ = ["unfolding_page", "unfolding_table"]

#: Drawn first, as references: the truth is filled, these two are dashed / dotted.
_REFERENCES = ("detector", "prior")
_COLOURS = {"detector": "tab:gray", "prior": "tab:olive", "ibu": "tab:blue", "omnifold": "tab:red", "cinn": "tab:green"}


def _observables(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """The observables of the run, in :data:`hepdl.features.unfolding.OBSERVABLES` order (others after)."""
    from hepdl.features.unfolding import OBSERVABLES

    for m in metrics.values():
        if isinstance(m.get("observables"), dict):
            found = list(m["observables"])
            return [o for o in OBSERVABLES if o in found] + sorted(o for o in found if o not in OBSERVABLES)
    return []


def unfolding_table(metrics: dict[str, dict[str, Any]]) -> Table:
    """One row per method (and the two references): chi^2/ndf to the pseudo-data's truth per
    observable, the mean triangular discriminator, the mean closure chi^2/ndf, the time."""
    obs = _observables(metrics)
    order = sorted(metrics, key=lambda n: (n not in _REFERENCES, float(metrics[n].get("chi2_ndf_mean", {}).get("value", math.inf))))
    rows = []
    for n in order:
        m = metrics[n]
        per = m.get("observables", {})
        row = [Cell(n, n)] + [cell({"v": per.get(o, {}).get("chi2_ndf")}, "v", 2) for o in obs]
        row.append(cell(m, "chi2_ndf_mean", 2))
        row.append(cell(m, "triangular_mean", 2))
        clo = m.get("closure")
        if isinstance(clo, dict) and clo:
            vals = [v["chi2_ndf"]["value"] for v in clo.values()]
            errs = [v["chi2_ndf"]["error"] for v in clo.values()]
            row.append(cell({"v": {"value": float(np.mean(vals)), "error": float(np.sqrt(np.sum(np.square(errs)))) / len(errs)}}, "v", 2))
        else:
            row.append(Cell("—", None))
        row.append(cell(m, "train_seconds", 1))
        if n in _REFERENCES:  # not unfoldings: never the best of a column
            for c in row[1:]:
                c.reference = True
        rows.append(row)
    k = len(obs)
    better = {i: "min" for i in range(1, k + 3)}
    return Table(["method", *[f"χ²/ndf {o}" for o in obs], "mean χ²/ndf", "mean Δ ×10³", "closure χ²/ndf", "time s"], rows, better,
                 note="Every method unfolds the same pseudo-data (a different final-state shower coupling) and is compared with its "
                      "particle-level truth: χ²/ndf with each bin's statistical error (the method's and the truth's), and the "
                      "triangular discriminator Δ = ½ Σ (p − q)²/(p + q) × 10³ of the normalised histograms. Errors: bootstrap "
                      "replicas (IBU and the cINN: of the data; OmniFold: of the simulation's weighted events, the data's fluctuation "
                      "not propagated). 'detector' and 'prior' do not unfold: the data's detector level and the simulation's particle "
                      "level. Closure: one half of the simulation unfolded with the other (χ²/ndf near 1 is closure).")


def _panel(plt: Any, fig: Any, spec: Any, obs: str, hists: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
           truth: tuple[np.ndarray, np.ndarray]) -> None:
    from hepdl.features.unfolding import OBSERVABLE_LABELS

    gs = spec.subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    ax, rax = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    edges = next(iter(hists.values()))[0]
    width = np.diff(edges)
    tp, te = truth
    ax.stairs(tp / width, edges, fill=True, color="0.85", label="truth (pseudo-data)")
    for n, (e, p, err) in hists.items():
        ls = "--" if n == "detector" else (":" if n == "prior" else "-")
        ax.stairs(p / width, e, color=_COLOURS.get(n, "k"), ls=ls, lw=1.6, label=n)
        centres = 0.5 * (e[1:] + e[:-1])
        if n not in _REFERENCES:
            ax.errorbar(centres, p / width, yerr=err / width, fmt="none", color=_COLOURS.get(n, "k"), lw=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(tp > 0, p / tp, np.nan)
            re = np.where(tp > 0, err / tp, np.nan)
        rax.stairs(r, e, color=_COLOURS.get(n, "k"), ls=ls, lw=1.4)
        if n not in _REFERENCES:
            rax.errorbar(centres, r, yerr=re, fmt="none", color=_COLOURS.get(n, "k"), lw=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        band = np.where(tp > 0, te / tp, 0.0)
    rax.stairs(1 + band, edges, baseline=1 - band, fill=True, color="0.85")
    rax.axhline(1, color="k", lw=0.8)
    rax.set_ylim(0.7, 1.3)
    rax.set_ylabel("/ truth", fontsize=10)
    rax.set_xlabel(OBSERVABLE_LABELS.get(obs, obs), fontsize=11)
    ax.set_ylabel("normalised", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.set_xlim(edges[0], edges[-1])
    rax.set_xlim(edges[0], edges[-1])
    ax.set_xticklabels([])
    ax.legend(fontsize=7.5)


def _unfolded_figure(plt: Any, plots: Path, scores: dict[str, Any], obs: list[str], prefix: str, name: str, title: str,
                     caption: str) -> list[Figure]:
    methods = [n for n in ("detector", "prior", *sorted(set(scores) - set(_REFERENCES))) if n in scores and f"{prefix}{obs[0]}.p" in scores[n]]
    if not methods:
        return []
    cols = 3
    rows = (len(obs) + cols - 1) // cols
    fig = plt.figure(figsize=(6.2 * cols, 5.6 * rows))
    outer = fig.add_gridspec(rows, cols, wspace=0.28, hspace=0.3)
    truth_key = "truth." if prefix == "" else "closure_truth."
    for k, o in enumerate(obs):
        hists = {n: (scores[n][f"{o}.edges"], scores[n][f"{prefix}{o}.p"], scores[n][f"{prefix}{o}.err"]) for n in methods}
        ref = scores[methods[-1]]
        _panel(plt, fig, outer[k // cols, k % cols], o, hists, (ref[f"{truth_key}{o}.p"], ref[f"{truth_key}{o}.err"]))
    return [Figure(save(fig, plots, name), title, caption)]


def unfolding_page(plt: Any, plots: Path, models: list[Path], metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
                   ds: Any, label_names: list[str] | None, title: str) -> Page:
    """The page of an unfolding run (every figure comes from the stored histograms; the dataset adds the data block)."""
    obs = _observables(metrics)
    figs: list[Figure] = []
    if obs and scores:
        figs += _unfolded_figure(plt, plots, scores, obs, "", "unfolded", "Unfolded distributions against the truth",
                                 "Per observable, normalised to unit area: the pseudo-data's particle-level truth (grey, its statistical "
                                 "error the grey band below), its detector level (dashed), the simulation's particle level (the prior, "
                                 "dotted) and every method's unfolded distribution with its bootstrap error; below, the ratio to the truth.")
        figs += _unfolded_figure(plt, plots, {n: s for n, s in scores.items() if n not in _REFERENCES}, obs, "closure.", "closure",
                                 "Closure test", "One half of the simulation unfolded with the other half, against that half's "
                                 "particle level: what a method does when the simulation is right (the ratio should stay at 1 within errors).")
        figs += _chi2_figure(plt, plots, metrics, obs)
    if "omnifold" in scores and "weights" in scores["omnifold"]:
        w = np.asarray(scores["omnifold"]["weights"])
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        ax.hist(np.log10(np.clip(w, 1e-3, None)), bins=60, color=_COLOURS["omnifold"], histtype="step", lw=1.6)
        ax.set_xlabel("log10(OmniFold weight)", fontsize=11)
        ax.set_ylabel("simulated events", fontsize=11)
        ax.set_yscale("log")
        figs.append(Figure(save(fig, plots, "omnifold_weights"), "OmniFold's weights",
                           "The final particle-level weights of the simulated events (1 everywhere would mean the simulation "
                           "already describes the data; the clip bounds each step's ratio)."))
    nets = _network_dirs(models)
    figs += training_figure(plt, plots, nets, model_styles([n.name for n in nets]))
    sub = "unfolding jet substructure: the physicist's binned iterative Bayesian unfolding against OmniFold and a cINN"
    extra: list[tuple[str, list[list[str]]]] = []
    if ds is not None and hasattr(ds, "pair_counts"):
        extra.append(("matched pairs, misses and fakes", [["sample", "events", "matched", "misses", "fakes"],
                                                          *[[n, *(str(c[k]) for k in ("events", "matched", "miss", "fake"))]
                                                            for n, c in ds.pair_counts().items()]]))
    om = metrics.get("omnifold", {}).get("iterations")
    if isinstance(om, list) and om:
        extra.append(("OmniFold iterations (weights' mean ± spread)", [["iteration", "pull (detector level)", "push (particle level)"],
                      *[[str(r["iteration"]), f"{r['pull_mean']:.3f} ± {r['pull_std']:.3f}", f"{r['push_mean']:.3f} ± {r['push_std']:.3f}"]
                        for r in om]]))
    return Page(title, unfolding_table(metrics), figs, subtitle=sub, extra_tables=extra)


def _network_dirs(models: list[Path]) -> list[Path]:
    """The trained networks inside the method directories (OmniFold's last iteration, the cINN)."""
    out: list[Path] = []
    for m in models:
        steps = sorted((m / "steps").glob("iter*-step*")) if (m / "steps").is_dir() else []
        if steps:
            last = steps[-1].name.split("-")[0]
            out += [s for s in steps if s.name.startswith(last + "-")]
        if (m / "network").is_dir():
            out.append(m / "network")
    return out


def _chi2_figure(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], obs: list[str]) -> list[Figure]:
    names = [n for n in ("detector", "prior", *sorted(set(metrics) - set(_REFERENCES))) if n in metrics and "observables" in metrics[n]]
    fig, ax = plt.subplots(figsize=(9, 4.8))
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(obs))
    for k, n in enumerate(names):
        per = metrics[n]["observables"]
        v = [per[o]["chi2_ndf"]["value"] for o in obs]
        e = [per[o]["chi2_ndf"]["error"] for o in obs]
        ax.bar(x + (k - (len(names) - 1) / 2) * width, v, width, yerr=e, color=_COLOURS.get(n, "k"), label=n, capsize=2)
    ax.axhline(1, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, obs)
    ax.set_yscale("log")
    ax.set_ylabel("χ²/ndf to the truth", fontsize=11)
    ax.legend(fontsize=9, ncol=min(len(names), 5))
    fig.tight_layout()
    return [Figure(save(fig, plots, "chi2"), "χ²/ndf per observable",
                   "χ²/ndf of each method's unfolded distribution to the pseudo-data's truth (log scale; dashed: 1), with its bootstrap "
                   "error; 'detector' and 'prior' are the distances before any unfolding.")]
