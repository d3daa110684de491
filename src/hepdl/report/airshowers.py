"""The air-shower domain's report: the reconstruction figures of every method (classic fits and
networks) on the same test events, in the skeleton of :mod:`hepdl.report.page`.

Figures (``<run>/plots/``): ``resolution_energy`` and ``resolution_zenith`` (angular, core, energy
and X_max resolution per bin, every method, bootstrap errors), ``scatter`` (reconstructed against
true energy and X_max), ``footprint`` (an example event: stations with signal as marker size and
start time as colour, the true and reconstructed cores and axes), ``trace`` (a station's trace with
its muon and electromagnetic parts), ``xmax`` (true and reconstructed X_max of protons and iron), ``training``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.report.jets import _grid, training_figure
from hepdl.report.page import Cell, Figure, Page, Table, cell
from hepdl.report.style import model_styles, save

__all__ = ["shower_page", "shower_table", "SHOWER_FIGURES"]

SHOWER_FIGURES = ("resolution_energy", "resolution_zenith", "scatter", "xmax", "footprint", "trace", "training")
_PANELS = (("angular_resolution_deg", "angular resolution (68 %) [deg]"), ("core_resolution_m", "core resolution (68 %) [m]"),
           ("energy_resolution", "energy resolution σ(E)/E"), ("xmax_resolution", "X_max resolution [g/cm²]"))


def shower_table(metrics: dict[str, dict[str, Any]]) -> Table:
    """The results table, best angular resolution first: angular, core, energy and X_max resolution
    (all test events and above 10^19 eV), energy bias, X_max merit factor, training time."""
    order = sorted(metrics, key=lambda n: float(metrics[n].get("angular_resolution_deg", {}).get("value", math.inf)))
    rows = [[Cell(n, n), cell(metrics[n], "angular_resolution_deg", 2), cell(metrics[n], "angular_resolution_deg_above_19", 2),
             cell(metrics[n], "core_resolution_m", 1), cell(metrics[n], "energy_resolution", 3),
             cell(metrics[n], "energy_resolution_above_19", 3), cell(metrics[n], "energy_bias", 3),
             cell(metrics[n], "xmax_resolution", 1), cell(metrics[n], "xmax_merit_factor", 2),
             cell(metrics[n], "train_seconds", 0)] for n in order]
    return Table(["method", "angle 68 % [deg]", "angle, E > 10 EeV", "core 68 % [m]", "σ(E)/E", "σ(E)/E, E > 10 EeV", "E bias",
                  "σ(X_max) [g/cm²]", "merit p/Fe", "train s"], rows, {1: "min", 2: "min", 3: "min", 4: "min", 5: "min", 7: "min", 8: "max"},
                 note="Same test events for every method. Angle and core: 68 % quantiles of the opening angle and of the core "
                      "distance; σ(E)/E and σ(X_max): half-width of the central 68 % of the residuals; merit factor: "
                      "|<X>_Fe - <X>_p| / sqrt(σ_p² + σ_Fe²) of the reconstructed X_max. Errors: bootstrap over test events. "
                      "The classic X_max is the rise-time estimator of ldf-fit (a surface array has no direct X_max measurement).")


def shower_page(plt: Any, plots: Path, models: list[Path], metrics: dict[str, dict[str, Any]], scores: dict[str, Any],
                ds: Any, label_names: list[str] | None, title: str) -> Page:
    """The page of an air-shower run; without the dataset only the table, the binned resolutions
    and the training curves."""
    styles = model_styles(list(metrics))
    shown = {n: m for n, m in metrics.items() if "binned" in m}
    figs: list[Figure] = []
    if shown:
        figs += _binned_figures(plt, plots, shown, styles)
    if ds is not None and scores:
        figs += _event_figures(plt, plots, scores, ds, styles)
    figs += training_figure(plt, plots, models, styles)
    sub = "cosmic-ray air showers on a surface-detector array: the physicist's fits against networks on the raw station data"
    diag = [[n, *(str(m["diagnostics"].get(k, "")) for k in ("events", "plane_fit_failed", "ldf_fit_failed", "sphere_fit_used",
                                                            "sphere_fit_not_used"))]
            for n, m in metrics.items() if isinstance(m.get("diagnostics"), dict)]
    extra = [("classic fits on the test events", [["method", "events", "plane fit failed", "LDF fit failed", "spherical front used",
                                                   "spherical front not used (< 4 stations or no convergence)"], *diag])] if diag else []
    return Page(title, shower_table(metrics), figs, subtitle=sub, extra_tables=extra)


def _binned_figures(plt: Any, plots: Path, metrics: dict[str, dict[str, Any]], styles: dict[str, dict[str, Any]]) -> list[Figure]:
    figs = []
    for key, xlabel, name in (("energy", "log10(E / eV)", "resolution_energy"), ("zenith", "zenith angle [deg]", "resolution_zenith")):
        fig, axes = plt.subplots(1, 4, figsize=(22, 4.8))
        for ax, (fig_key, label) in zip(axes, _PANELS, strict=True):
            for n, m in metrics.items():
                rows = m["binned"][key]
                x = [(r["low"] + r["high"]) / 2 for r in rows]
                v = [r[fig_key]["value"] for r in rows]
                e = [r[fig_key]["error"] for r in rows]
                ax.errorbar(x, v, yerr=e, marker="o", capsize=3, label=n, **{k: s for k, s in styles[n].items() if k != "ls"})
            ax.set_xlabel(xlabel, fontsize=11)
            ax.set_ylabel(label, fontsize=11)
            if fig_key == "angular_resolution_deg":
                ax.set_yscale("log")
        axes[0].legend(fontsize=9)
        fig.tight_layout()
        figs.append(Figure(save(fig, plots, name), f"Resolution against {key}",
                           f"Per bin of true {key}: angular and core resolution (68 % quantiles), energy resolution and X_max "
                           "resolution (half-width of the central 68 % of the residuals), every method on the same test events; "
                           "error bars from bootstrap."))
    return figs


def _event_figures(plt: Any, plots: Path, scores: dict[str, Any], ds: Any, styles: dict[str, dict[str, Any]]) -> list[Figure]:
    figs = []
    truth = ds.targets
    names = list(scores)
    fig, axes = _grid(plt, 2 * len(names), 4, 4.6, 4.2)
    for k, n in enumerate(names):
        idx, pred = scores[n]["index"], np.asarray(scores[n]["scores"])
        for j, (col, label) in enumerate(((5, "log10(E / eV)"), (6, "X_max [g/cm²]"))):
            ax = axes[2 * k + j]
            ax.hist2d(truth[idx, col], pred[:, col], bins=40, cmap="Blues", cmin=1)
            lo, hi = np.quantile(truth[idx, col], [0.001, 0.999])
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            ax.set_xlabel(f"true {label}", fontsize=10)
            ax.set_ylabel(f"reconstructed {label}", fontsize=10)
            ax.set_title(n, fontsize=11)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "scatter"), "Reconstructed against true energy and X_max",
                       "Test events of every method: reconstructed against true log10 E (left of each pair) and X_max (right); "
                       "dashed: the diagonal."))

    fig, axes = _grid(plt, len(names) + 1, 4, 4.6, 3.8)
    lab = ds.labels
    bins = np.linspace(np.quantile(truth[:, 6], 0.002) - 50, np.quantile(truth[:, 6], 0.998) + 50, 50)
    panels = [("true X_max", scores[names[0]]["index"], truth[scores[names[0]]["index"], 6])]
    panels += [(n, scores[n]["index"], np.asarray(scores[n]["scores"])[:, 6]) for n in names]
    for ax, (n, idx, x) in zip(axes, panels, strict=False):
        for c, (name, colour) in enumerate((("proton", "tab:red"), ("iron", "tab:blue"))):
            ax.hist(x[lab[idx] == c], bins, histtype="step", color=colour, lw=1.5, label=name)
        ax.set_title(n, fontsize=11)
        ax.set_xlabel("X_max [g/cm²]", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    figs.append(Figure(save(fig, plots, "xmax"), "Proton and iron in X_max",
                       "Distributions of the true X_max (first panel) and of each method's reconstructed X_max on the test "
                       "events, protons and iron nuclei apart: the merit factor of the table measures their separation."))

    a = ds.arrays
    first = scores[names[0]]["index"]
    n_trig = a["triggered"][first].sum(1)
    pick = int(first[np.argmax(np.where(n_trig >= 8, -np.abs(a["lg_energy"][first] - 19.3), -np.inf))])
    pos = ds.positions[pick]
    trig = a["triggered"][pick]
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.scatter(pos[:, 0] / 1000, pos[:, 1] / 1000, s=8, c="lightgrey", marker="o", label="stations")
    sc = ax.scatter(pos[trig, 0] / 1000, pos[trig, 1] / 1000, s=30 + 60 * np.log10(1 + a["signal"][pick, trig]),
                    c=a["time"][pick, trig] / 1000, cmap="viridis", edgecolors="k")
    fig.colorbar(sc, ax=ax, label="start time [μs]")
    core = truth[pick, 3:5] / 1000
    ax.plot(*core, "r*", ms=14, label="true core")
    axis = truth[pick, :3]
    ax.arrow(core[0], core[1], 6 * axis[0], 6 * axis[1], color="r", width=0.03)
    for n in names:
        where = np.flatnonzero(scores[n]["index"] == pick)
        if len(where):
            p = np.asarray(scores[n]["scores"])[where[0]]
            ax.plot(p[3] / 1000, p[4] / 1000, "x", ms=10, mew=2, color=styles[n]["color"], label=f"{n} core")
            ax.arrow(p[3] / 1000, p[4] / 1000, 6 * p[0], 6 * p[1], color=styles[n]["color"], width=0.015, alpha=0.7)
    ax.set_xlabel("x [km]")
    ax.set_ylabel("y [km]")
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="upper left")
    zen = math.degrees(a["zenith"][pick])
    ax.set_title(f"log10 E = {a['lg_energy'][pick]:.2f}, zenith {zen:.0f}°, {'iron' if a['label'][pick] else 'proton'}", fontsize=11)
    figs.append(Figure(save(fig, plots, "footprint"), "An example event",
                       "Station footprint of one test event: marker size ~ log signal, colour = start time; arrows: the ground "
                       "projection of the axis (towards where the shower came from, length ~ sin θ), true (red) and "
                       "reconstructed (each method's colour; 6 km x sin θ long), with the cores."))

    cand = np.flatnonzero(trig)
    s = int(cand[np.argmin(np.abs(a["signal"][pick, cand] - 40.0))]) if len(cand) else 0
    tr, mu = a["trace"][pick, s], a["trace_mu"][pick, s]
    t = np.arange(len(tr)) * ds.array.bin_ns
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.step(t, tr, where="post", color="k", label="total")
    ax.step(t, mu, where="post", color="tab:red", label="muons")
    ax.step(t, tr - mu, where="post", color="tab:blue", label="electromagnetic")
    ax.set_xlabel("time from trace start [ns]")
    ax.set_ylabel("signal [VEM per 25 ns]")
    ax.legend()
    ax.set_title(f"station {s}: {a['signal'][pick, s]:.0f} VEM", fontsize=11)
    figs.append(Figure(save(fig, plots, "trace"), "A station trace",
                       "The trace of one station of the example event (25 ns bins) with its muonic (spiky, early) and "
                       "electromagnetic (smooth, later and longer) parts, as the simulation made them."))
    return figs
