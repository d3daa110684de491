"""``hepdl explain RUN``: every attribution of :mod:`hepdl.explain` for the models of a run, on a seeded
subset of its test split, written to ``RUN/explain/``:

- ``explain.json``: per model the ADO with the physicist's observables and with the other models,
  permutation importances (feature inputs), Tree-SHAP (BDTs), LRP summaries (torch models), and with
  ``search`` the steps of the observable search for each network;
- ``explain.npz``: the relevances themselves (per feature, per pixel averaged per class, per particle);
- ``explain.html`` and ``plots/``: the figures, linked from the run's ``report.html``.

Dimensions: B jets (or events), F features, N particles, K channels, H = W pixels, C classes.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.errors import ConfigError, DataError
from hepdl.explain.attributions import permutation_importance, tree_shap
from hepdl.explain.lrp import explainable, relevance
from hepdl.explain.ordering import ado

__all__ = ["explain_run", "search_basis", "closest_observable", "OBSERVABLES", "EVENT_OBSERVABLES", "SEARCH_START"]

#: Observables of the expert feature set a physicist reads, compared with every model of a jet run.
OBSERVABLES = ("mass", "mass_sd", "tau32", "tau21", "c2_b1", "d2_b1", "n2_b1", "multiplicity")
#: The challenge features a physicist reads first in an H -> tau tau run.
EVENT_OBSERVABLES = ("DER_mass_MMC", "DER_mass_vis", "DER_mass_transverse_met_lep", "DER_pt_h", "DER_deltar_tau_lep",
                     "DER_met_phi_centrality", "PRI_tau_pt")
#: Where the observable search starts for a top tagger: the groomed mass and the 3-prong N-subjettiness ratio.
SEARCH_START = ("mass_sd", "tau32")
#: Jets drawn one by one in the relevance displays (most and least confident).
N_DISPLAY = 4


def _subset(ds: Any, pick: np.ndarray) -> Any:
    """The entries ``pick`` of a dataset, in memory and never cached (a user's file is only read)."""
    from hepdl.data.dataset import JetDataset
    from hepdl.data.events import EventDataset

    if isinstance(ds, EventDataset):
        def cut(a: Any) -> Any:
            return None if a is None else a[pick]
        return dataclasses.replace(ds, events=cut(ds.events), labels=ds.labels[pick], weights=cut(ds.weights),
                                   features=None if ds.features is None else ds.features.iloc[pick].reset_index(drop=True),
                                   process=ds.process[pick], event_id=ds.event_id[pick], kaggle_set=cut(ds.kaggle_set))
    if isinstance(ds, JetDataset):
        return JetDataset(ds.take(pick), ds.metadata, ds.path, ds.format, ds.label_names, None)
    raise ConfigError(f"explain works on jet and event runs; the dataset of this run is a {type(ds).__name__}")


def _observables(part: Any) -> dict[str, np.ndarray]:
    from hepdl.data.events import EventDataset

    if isinstance(part, EventDataset):
        from hepdl.features.higgs import dataset_features

        df = dataset_features(part)
        return {o: df[o].to_numpy(np.float64) for o in EVENT_OBSERVABLES if o in df.columns}
    from hepdl.features.sets import compute_feature_set

    expert = compute_feature_set(part.jets, "expert")
    return {o: expert[o].to_numpy(np.float64) for o in OBSERVABLES if o in expert.columns}


def closest_observable(entry: dict[str, Any]) -> tuple[str, float] | None:
    """The observable a model of ``explain.json`` orders pairs most like, and that ADO taken in either
    order (an observable and its negative are one choice); None without ADOs."""
    a = entry.get("ado") or {}
    if not a:
        return None
    best = max(a, key=lambda o: max(a[o], 1 - a[o]))
    return best, max(a[best], 1 - a[best])


def _binary(y: np.ndarray) -> bool:
    return set(np.unique(y)) <= {0, 1} and len(np.unique(y)) == 2


def explain_run(run: str | Path, *, models: list[str] | None = None, n_jets: int = 5000, seed: int = 0,
                search: bool = False, search_jets: int = 20000, efp_variants: tuple[tuple[float, float], ...] = ((1.0, 1.0),),
                figures: bool = True) -> Path:
    """Explain the models of a run on (up to ``n_jets`` of) its test split; write ``RUN/explain/``.

    Every model gets the ADO of its score with the physicist's observables (:data:`OBSERVABLES`,
    :data:`EVENT_OBSERVABLES`) and with every other model (two-class runs); models on a feature set
    permutation importances; BDTs Tree-SHAP values and interactions; torch classifiers and regressors LRP
    (:func:`hepdl.explain.relevance`) with figures per representation. With ``search``, each network of a
    two-class jet run is mapped onto observables (:func:`hepdl.explain.observable_search`) on up to
    ``search_jets`` test jets, over the EFPs of each ``(kappa, beta)`` of ``efp_variants`` (kappa != 1: IRC-unsafe,
    flagged). A model without an attribution method is listed with the reason, the
    others still run; an unknown name lists the run's models. Returns the path of ``explain.json``.
    """
    from hepdl.data.paths import atomic_write_json
    from hepdl.report.style import plt as pyplot
    from hepdl.train.rundir import ModelDir
    from hepdl.train.trainer import (
        _atomic_savez,
        load_trained,
        model_inputs,
        score_inputs,
        trained_dataset,
        trained_model_dirs,
    )

    run = Path(run)
    dirs = trained_model_dirs(run, first_fold=True)  # a cross-validated run: its fold-1 models
    names = [d.name for d in dirs]
    if models:
        unknown = [m for m in models if m not in names]
        if unknown:
            raise DataError(f"run {run} has no model(s) {unknown}; it has {', '.join(names)}")
        dirs = [d for d in dirs if d.name in models]
    if n_jets < 2:
        raise ConfigError(f"explain needs at least 2 test jets, got n_jets={n_jets}")
    ds = trained_dataset(dirs[0])
    test = np.asarray(np.load(dirs[0] / ModelDir.SCORES)["index"])
    pick = np.sort(np.random.default_rng(seed).choice(test, size=min(n_jets, len(test)), replace=False))
    part = _subset(ds, pick)
    y = np.asarray(part.labels)
    two = _binary(y)
    label_names = list(getattr(ds, "label_names", None) or ["background", "signal"])
    observables = _observables(part) if two else {}
    out = run / "explain"
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    plt = pyplot() if figures else None
    scores: dict[str, np.ndarray] = {}
    arrays: dict[str, np.ndarray] = {"index": pick, "labels": y}
    figs: list[tuple[str, str, str]] = []
    result: dict[str, Any] = {"run": str(run), "n_jets": int(len(pick)), "classes": label_names,
                              "observables": list(observables), "models": {}}
    for d in dirs:
        name, pre, model = load_trained(d)
        entry: dict[str, Any] = {"model": name, "inputs": pre.get("kind"), "objective": pre.get("objective", "classify")}
        notes: list[str] = []
        inputs = model_inputs(part, pre, cache=False)
        s = np.asarray(score_inputs(model, inputs))
        if s.ndim == 1 and two:
            scores[d.name] = s
            entry["ado"] = {o: ado(s, v, y) for o, v in observables.items()}
        elif not two:
            notes.append("ADO compares two-class discriminants: this run has several classes")
        if inputs.kind in ("bdt", "cut", "features") and s.ndim == 1 and two:
            entry["permutation_importance"] = _permutation(model, inputs, y, seed)
        if name == "bdt" and s.ndim == 1:
            entry.update(_shap(model, inputs))
        if hasattr(model, "net"):
            lrp, rel_arrays, fig_list, note = _lrp(model, inputs, y, s, entry["objective"], d.name, label_names, plt, plots)
            entry["lrp"] = lrp
            if note:
                notes.append(note)
            arrays.update(rel_arrays)
            figs += fig_list
        elif "permutation_importance" not in entry and "shap_mean_abs" not in entry:
            notes.append(f"inputs {inputs.kind!r}: no attribution method for a {name} beyond the ADO")
        if notes:
            entry["note"] = "; ".join(notes)
        result["models"][d.name] = entry
    for a in scores:
        result["models"][a]["ado_models"] = {b: ado(scores[a], scores[b], y) for b in scores if b != a}
    if scores and plt is not None:
        figs.append(_ado_figure(plt, plots, result))
    if search:
        result["search"] = _search(run, dirs, ds, test, search_jets, seed, plt, plots, figs, efp_variants)
    atomic_write_json(out / "explain.json", result)
    _atomic_savez(out / "explain.npz", **arrays)
    _write_html(out, result, figs)
    if (run / "report.html").exists():  # link the explanations from the run's page
        from hepdl.report import rewrite_report

        rewrite_report(run)
    return out / "explain.json"


# --- attributions per model -----------------------------------------------------------------------

def _permutation(model: Any, inputs: Any, y: np.ndarray, seed: int) -> list[dict[str, Any]]:
    import pandas as pd

    from hepdl.features.inputs import Inputs
    from hepdl.train.trainer import score_inputs

    if inputs.kind == "features":
        frame = pd.DataFrame(inputs.arrays["features"], columns=inputs.preprocess["columns"])
    else:
        frame = inputs.arrays["frame"]

    def score(fr: Any) -> np.ndarray:
        arr = {"features": fr.to_numpy(np.float32)} if inputs.kind == "features" else {"frame": fr}
        return np.asarray(score_inputs(model, Inputs(inputs.kind, arr, inputs.labels, inputs.preprocess)))

    pi = permutation_importance(score, frame, y, seed=seed)
    order = np.argsort(-pi["drop"])
    return [{"feature": pi["columns"][j], "auc_drop": float(pi["drop"][j]), "error": float(pi["drop_err"][j])} for j in order]


def _shap(model: Any, inputs: Any) -> dict[str, Any]:
    shap = tree_shap(model.booster, inputs.arrays["frame"], interactions=True, best_iteration=model.best_iteration)
    order = np.argsort(-shap["mean_abs"])
    inter = np.abs(shap["interactions"]).mean(axis=0)
    iu = np.triu_indices(len(shap["columns"]), 1)
    top = np.argsort(-inter[iu])[:10]
    return {"shap_mean_abs": [{"feature": shap["columns"][j], "value": float(shap["mean_abs"][j])} for j in order],
            "shap_interactions": [{"pair": [shap["columns"][iu[0][t]], shap["columns"][iu[1][t]]], "value": float(inter[iu][t])}
                                  for t in top]}


def _lrp(model: Any, inputs: Any, y: np.ndarray, s: np.ndarray, objective: str, key: str, classes: list[str],
         plt: Any, plots: Path) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], list[tuple[str, str, str]], str | None]:
    """LRP of one torch model: (json summary, arrays for the npz, figures, note)."""
    from hepdl.models.particlenet import ParticleNet

    if objective not in ("classify", "regress"):
        return None, {}, [], f"LRP explains classifiers and regressors; a {objective!r} model's output is a loss"
    reason = explainable(model.net)
    if reason:
        return None, {}, [], reason
    multi = s.ndim == 2
    output: int | np.ndarray = y.astype(np.int64) if multi and objective == "classify" else 0
    what = ("each jet's own class logit" if multi else "the signal logit") if objective == "classify" else "the first regressed target"
    rel = relevance(model, inputs, output=output, edges=isinstance(model.net, ParticleNet))
    total = sum(v.reshape(len(v), -1).sum(1) for k, v in rel.items() if k not in ("output", "edge_relevance", "edge_index"))
    big = np.abs(rel["output"]) > 1e-3
    # conserved_fraction: the median share of the output that reaches the inputs (1 without biases; biases,
    # BatchNorm shifts, the epsilon term and ParT's class token absorb the rest)
    summary: dict[str, Any] = {"rule": "epsilon (1e-6) on dense/conv/BatchNorm, LN-rule, identity on GELU, attention held constant",
                               "explained": what,
                               "conserved_fraction": float(np.median(total[big] / rel["output"][big])) if big.any() else None}
    conf = _confidence(s)
    figs: list[tuple[str, str, str]] = []
    arrays: dict[str, np.ndarray] = {}
    if inputs.kind == "features":
        r = rel["features"]
        cols = list(inputs.preprocess["columns"])
        mean_abs = np.abs(r).mean(axis=0)
        order = np.argsort(-mean_abs)
        summary["features"] = [{"feature": cols[j], "mean_abs": float(mean_abs[j]),
                                **{f"mean_{classes[c] if c < len(classes) else c}": float(r[y == c, j].mean()) for c in np.unique(y)}}
                               for j in order]
        arrays[f"{key}/features"] = r.astype(np.float32)
        if plt is not None:
            figs.append(_feature_figure(plt, plots, key, cols, r, y, classes))
    elif inputs.kind == "image":
        img, r = inputs.arrays["images"], rel["images"]
        ext = float(inputs.preprocess.get("image", {}).get("extent", 0.8))
        n = img.shape[-1]
        c = (np.arange(n) + 0.5) / n * 2 * ext - ext
        dist = np.hypot(c[None, :], c[:, None])
        ra = np.abs(r).sum(axis=1)
        summary["relevance_weighted_dr"] = {classes[k] if k < len(classes) else str(k): float((ra[y == k] * dist).sum() / max(ra[y == k].sum(), 1e-300))
                                            for k in np.unique(y)}
        summary["central_fraction"] = float(ra[:, dist < 0.2].sum() / max(ra.sum(), 1e-300))
        for k in np.unique(y):
            arrays[f"{key}/mean_relevance_{k}"] = r[y == k].mean(axis=0).astype(np.float32)
            arrays[f"{key}/mean_image_{k}"] = img[y == k].mean(axis=0).astype(np.float32)
        if plt is not None:
            figs += _image_figures(plt, plots, key, img, r, y, conf, classes, ext)
    elif inputs.kind == "cloud":
        events = bool(inputs.preprocess.get("events"))
        rp = rel["x"].sum(axis=-1) + rel.get("p4", np.zeros_like(rel["x"][..., :1])).sum(axis=-1)  # (B, N)
        mask = np.asarray(inputs.arrays["mask"], bool)
        kin = _kinematics(np.asarray(inputs.arrays["p4"], np.float64), mask)
        norm = rp / np.maximum(np.abs(rp).sum(axis=1, keepdims=True), 1e-300)
        arrays[f"{key}/particle_relevance"] = rp.astype(np.float32)
        lead = np.argsort(-np.where(mask, kin["pt"], -1.0), axis=1)
        absn = np.abs(norm)
        summary["leading_particle_fraction"] = float(np.take_along_axis(absn, lead[:, :1], 1).sum(1).mean())
        summary["leading3_fraction"] = float(np.take_along_axis(absn, lead[:, :3], 1).sum(1).mean())
        summary["relevance_weighted_dr"] = {classes[k] if k < len(classes) else str(k): float((absn[y == k] * kin["dr"][y == k]).sum() / max(absn[y == k].sum(), 1e-300))
                                            for k in np.unique(y)}
        if events:
            summary["per_object_type"] = _object_types(inputs, absn, mask)
        if plt is not None:
            figs += _cloud_figures(plt, plots, key, kin, norm, mask, y, conf, classes, events)
        if "edge_relevance" in rel:
            er, ei = rel["edge_relevance"], rel["edge_index"]
            drij = _pair_dr(kin, ei)
            valid = mask[:, :, None] & _neighbours(mask, ei)
            ern = er / np.maximum(np.abs(er * valid).sum(axis=(1, 2), keepdims=True), 1e-300)
            bins = np.array([0, 0.05, 0.1, 0.2, 0.4, 0.8, 10])
            which = np.digitize(drij, bins) - 1
            summary["edge_relevance_vs_dr"] = {"dr_bins": bins.tolist(), "mean_abs": [
                float(np.abs(ern)[valid & (which == b)].mean()) if (valid & (which == b)).any() else None for b in range(len(bins) - 1)]}
            arrays[f"{key}/edge_relevance"] = er.astype(np.float32)
            arrays[f"{key}/edge_index"] = ei.astype(np.int16)
            if plt is not None:
                figs.append(_edge_figure(plt, plots, key, kin, ern, ei, drij, valid, y, conf, classes))
    return summary, arrays, figs, None


def _confidence(s: np.ndarray) -> np.ndarray:
    """How sure a model is per jet: max class probability (|p - 0.5| + 0.5 for two classes)."""
    return s.max(axis=1) if s.ndim == 2 else np.abs(s - 0.5) + 0.5


def _kinematics(p4: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per particle: pT, pT fraction z, (deta, dphi) and dR to the axis of the particles' sum (B, N)."""
    from hepdl.kinematics import delta_phi, pt_eta_phi

    px, py, pz = (p4[..., i] * mask for i in range(3))
    pt, eta, phi = pt_eta_phi(px, py, pz)
    eta = np.where(mask, eta, 0.0)
    _, jeta, jphi = pt_eta_phi(px.sum(1, keepdims=True), py.sum(1, keepdims=True), pz.sum(1, keepdims=True))
    deta = np.where(mask, eta - jeta, 0.0)
    dphi = np.where(mask, delta_phi(phi, jphi), 0.0)
    z = pt / np.maximum(pt.sum(1, keepdims=True), 1e-300)
    return {"pt": pt, "z": z, "deta": deta, "dphi": dphi, "eta": eta, "phi": phi, "dr": np.hypot(deta, dphi)}


def _neighbours(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``a[b, index[b, i, k]]``: a per-particle array (B, N) read at each particle's K neighbours, (B, N, K)."""
    return a[np.arange(len(a))[:, None, None], index]


def _pair_dr(kin: dict[str, np.ndarray], index: np.ndarray) -> np.ndarray:
    """Angular distance of each particle to each of its K neighbours, (B, N, K)."""
    from hepdl.kinematics import delta_r

    return delta_r(kin["eta"][:, :, None], kin["phi"][:, :, None], _neighbours(kin["eta"], index), _neighbours(kin["phi"], index))


def _object_types(inputs: Any, absn: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Share of the |relevance| per object type of an event cloud (lepton, tau, MET, jets)."""
    feats = list(inputs.preprocess.get("features", []))
    types = [f for f in feats if f.startswith("is_")]
    x = np.asarray(inputs.arrays["x"])
    out = {}
    total = max(float((absn * mask).sum()), 1e-300)
    for t in types:
        sel = (x[..., feats.index(t)] > 0) & mask
        out[t[3:]] = float(absn[sel].sum() / total)
    return out


# --- figures --------------------------------------------------------------------------------------

def _class_name(classes: list[str], k: int) -> str:
    return classes[k] if k < len(classes) else str(k)


def _feature_figure(plt: Any, plots: Path, key: str, cols: list[str], r: np.ndarray, y: np.ndarray,
                    classes: list[str]) -> tuple[str, str, str]:
    from hepdl.report.style import save

    mean_abs = np.abs(r).mean(axis=0)
    order = np.argsort(-mean_abs)[:20][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(order) + 1.5))
    pos = np.arange(len(order))
    ks = np.unique(y)
    w = 0.8 / len(ks)
    for i, k in enumerate(ks):
        ax.barh(pos + (i - (len(ks) - 1) / 2) * w, r[y == k][:, order].mean(axis=0), height=w, label=_class_name(classes, int(k)))
    ax.set_yticks(pos, [cols[j] for j in order], fontsize=9)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("mean LRP relevance per input")
    ax.legend(fontsize=9)
    name = save(fig, plots, f"lrp_features_{key}")
    return name, f"{key}: relevance per input feature", (
        "Mean epsilon-LRP relevance of each input (standardised) for the jets of each class, ranked by mean |relevance| "
        "(top 20). Positive: the input pushes the output up for that class.")


def _image_figures(plt: Any, plots: Path, key: str, img: np.ndarray, r: np.ndarray, y: np.ndarray, conf: np.ndarray,
                   classes: list[str], ext: float) -> list[tuple[str, str, str]]:
    from matplotlib.colors import LogNorm

    from hepdl.report.style import save

    ks = np.unique(y)
    extent = (-ext, ext, -ext, ext)
    fig, axes = plt.subplots(len(ks), 2, figsize=(8, 3.6 * len(ks)), squeeze=False)
    for row, k in zip(axes, ks, strict=True):
        mi = img[y == k].sum(axis=1).mean(axis=0)
        mr = r[y == k].sum(axis=1).mean(axis=0)
        lim = max(float(np.abs(mr).max()), 1e-12)
        a = row[0].imshow(mi, origin="lower", extent=extent, norm=LogNorm(vmin=max(mi[mi > 0].min() if (mi > 0).any() else 1e-6, mi.max() * 1e-4), vmax=max(mi.max(), 1e-6)), cmap="viridis")
        b = row[1].imshow(mr, origin="lower", extent=extent, cmap="RdBu_r", vmin=-lim, vmax=lim)
        row[0].set_title(f"{_class_name(classes, int(k))}: mean image", fontsize=11)
        row[1].set_title(f"{_class_name(classes, int(k))}: mean relevance", fontsize=11)
        for ax, im in ((row[0], a), (row[1], b)):
            ax.set_xlabel(r"$\eta'$")
            ax.set_ylabel(r"$\phi'$")
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    first = save(fig, plots, f"lrp_image_mean_{key}")
    order = np.argsort(-conf)
    pickk = [*order[:N_DISPLAY], *order[::-1][:N_DISPLAY]]
    fig, axes = plt.subplots(2, N_DISPLAY, figsize=(3.2 * N_DISPLAY, 6.4), squeeze=False)
    for ax, j in zip(axes.ravel(), pickk, strict=False):
        m = r[j].sum(axis=0)
        lim = max(float(np.abs(m).max()), 1e-12)
        ax.imshow(m, origin="lower", extent=extent, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"{_class_name(classes, int(y[j]))}, conf. {conf[j]:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("top: most confident; bottom: least confident", fontsize=11)
    fig.tight_layout()
    second = save(fig, plots, f"lrp_image_jets_{key}")
    return [(first, f"{key}: mean relevance map per class", "Left: the mean jet image of each class (log scale, preprocessed "
             "frame). Right: the mean LRP relevance of each pixel for the explained output (red raises it, blue lowers it)."),
            (second, f"{key}: relevance maps of single jets", f"The {N_DISPLAY} jets the model is most (top row) and least (bottom) "
             "confident about, with their class and confidence (largest class probability).")]


def _cloud_figures(plt: Any, plots: Path, key: str, kin: dict[str, np.ndarray], norm: np.ndarray, mask: np.ndarray,
                   y: np.ndarray, conf: np.ndarray, classes: list[str], events: bool) -> list[tuple[str, str, str]]:
    from hepdl.report.style import save

    order = np.argsort(-conf)
    pickk = [*order[:N_DISPLAY], *order[::-1][:N_DISPLAY]]
    fig, axes = plt.subplots(2, N_DISPLAY, figsize=(3.3 * N_DISPLAY, 6.6), squeeze=False)
    xs, ys = ("eta", "phi") if events else ("deta", "dphi")
    for ax, j in zip(axes.ravel(), pickk, strict=False):
        m = mask[j]
        lim = max(float(np.abs(norm[j][m]).max()) if m.any() else 0.0, 1e-12)
        ax.scatter(kin[xs][j][m], kin[ys][j][m], s=5 + 400 * kin["z"][j][m], c=norm[j][m], cmap="RdBu_r", vmin=-lim, vmax=lim,
                   edgecolors="k", linewidths=0.3)
        ax.set_title(f"{_class_name(classes, int(y[j]))}, conf. {conf[j]:.2f}", fontsize=9)
        ax.set_xlabel(r"$\eta$" if events else r"$\Delta\eta$", fontsize=9)
        ax.set_ylabel(r"$\phi$" if events else r"$\Delta\phi$", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    first = save(fig, plots, f"lrp_particles_{key}")
    figs = [(first, f"{key}: relevance per particle", f"The {N_DISPLAY} most (top) and least (bottom) confident "
             f"{'events' if events else 'jets'} in the eta-phi plane{'' if events else ' relative to the jet axis'}: marker "
             "area grows with the pT fraction, colour is the particle's share of the relevance (red raises the output).")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    zb = np.logspace(-4, 0, 21)
    rb = np.linspace(0, 1.0 if not events else 5.0, 21)
    for k in np.unique(y):
        sel = mask & (y == k)[:, None]
        for ax, var, bins in ((axes[0], "z", zb), (axes[1], "dr", rb)):
            v, r = kin[var][sel], np.abs(norm[sel])
            which = np.digitize(v, bins) - 1
            ok = (which >= 0) & (which < len(bins) - 1)
            tot = np.bincount(which[ok], r[ok], len(bins) - 1)
            cnt = np.bincount(which[ok], minlength=len(bins) - 1)
            mean = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
            centres = np.sqrt(bins[1:] * bins[:-1]) if var == "z" else 0.5 * (bins[1:] + bins[:-1])
            ax.plot(centres, mean, "o-", ms=3, label=_class_name(classes, int(k)))
    axes[0].set_xscale("log")
    axes[0].set_xlabel(r"particle $p_T$ fraction $z$")
    axes[1].set_xlabel(r"$\Delta R$ to the jet axis" if not events else r"$\Delta R$ to the visible axis")
    for ax in axes:
        ax.set_ylabel("mean |relevance share| per particle")
        ax.set_yscale("log")
        ax.legend(fontsize=9)
    fig.tight_layout()
    second = save(fig, plots, f"lrp_particles_profile_{key}")
    figs.append((second, f"{key}: what makes a particle relevant", "Mean share of |relevance| per particle against its pT "
                 "fraction (left) and its distance to the axis (right), per class: a model that only counted energy would "
                 "follow z, an IRC-safe one gives soft and collinear particles little weight."))
    return figs


def _edge_figure(plt: Any, plots: Path, key: str, kin: dict[str, np.ndarray], ern: np.ndarray, ei: np.ndarray, drij: np.ndarray,
                 valid: np.ndarray, y: np.ndarray, conf: np.ndarray, classes: list[str]) -> tuple[str, str, str]:
    from hepdl.report.style import save

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    bins = np.logspace(-3, 0.3, 18)
    for k in np.unique(y):
        sel = valid & (y == k)[:, None, None] & (drij > 0)
        which = np.digitize(drij[sel], bins) - 1
        ok = (which >= 0) & (which < len(bins) - 1)
        tot = np.bincount(which[ok], np.abs(ern[sel])[ok], len(bins) - 1)
        cnt = np.bincount(which[ok], minlength=len(bins) - 1)
        axes[0].plot(np.sqrt(bins[1:] * bins[:-1]), np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan), "o-", ms=3,
                     label=_class_name(classes, int(k)))
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel(r"$\Delta R_{ij}$ of the edge")
    axes[0].set_ylabel("mean |edge relevance share|")
    axes[0].legend(fontsize=9)
    j = int(np.argmax(np.where(y == (1 if (y == 1).any() else y[0]), conf, -1)))
    ax = axes[1]
    m = valid[j]
    strength = np.abs(ern[j]) * m
    top = np.argsort(-strength.ravel())[:15]
    for t in top:
        a, b = np.unravel_index(t, strength.shape)
        c = ei[j, a, b]
        ax.plot([kin["deta"][j, a], kin["deta"][j, c]], [kin["dphi"][j, a], kin["dphi"][j, c]], "-", color="C3",
                lw=0.5 + 4 * strength[a, b] / max(strength.max(), 1e-300), alpha=0.8)
    pm = valid[j].any(axis=1)
    ax.scatter(kin["deta"][j][pm], kin["dphi"][j][pm], s=5 + 400 * kin["z"][j][pm], c="0.6", edgecolors="k", linewidths=0.3, zorder=3)
    ax.set_xlabel(r"$\Delta\eta$")
    ax.set_ylabel(r"$\Delta\phi$")
    ax.set_title(f"the 15 most relevant edges of a {_class_name(classes, int(y[j]))} jet", fontsize=10)
    fig.tight_layout()
    name = save(fig, plots, f"lrp_edges_{key}")
    return name, f"{key}: which particle pairs matter (last EdgeConv)", (
        "Left: the mean share of |relevance| of an edge of ParticleNet's last EdgeConv against the angle between its two "
        "particles, per class (cf. arXiv:2211.09912). Right: the most relevant edges of the jet the model is surest is signal; "
        "line width grows with relevance, marker area with pT fraction.")


def _ado_figure(plt: Any, plots: Path, result: dict[str, Any]) -> tuple[str, str, str]:
    from hepdl.report.style import save

    models = [m for m, e in result["models"].items() if "ado" in e]
    obs = result["observables"]
    table = np.array([[max(result["models"][m]["ado"][o], 1 - result["models"][m]["ado"][o]) for o in obs] for m in models])
    fig, ax = plt.subplots(figsize=(1.0 * len(obs) + 2.5, 0.5 * len(models) + 1.8))
    im = ax.imshow(table, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(obs)), obs, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(len(models)), models, fontsize=9)
    for i in range(len(models)):
        for j in range(len(obs)):
            ax.text(j, i, f"{table[i, j]:.2f}", ha="center", va="center", fontsize=8, color="w" if table[i, j] < 0.8 else "k")
    fig.colorbar(im, ax=ax, label="ADO (either order)")
    fig.tight_layout()
    name = save(fig, plots, "ado")
    return name, "Decision ordering with the physicist's observables", (
        "The fraction of all signal-background pairs each model orders like each observable (max(ADO, 1 - ADO): an "
        "observable and its negative are one choice; arXiv:2010.11998). 1: the model ranks jets exactly as the observable.")


# --- the observable search --------------------------------------------------------------------------

def search_basis(jets: Any, variants: tuple[tuple[float, float], ...] = ((1.0, 1.0),)) -> tuple[Any, set[str], int]:
    """The basis of the observable search for ``jets``: the physicist's :data:`OBSERVABLES` (first) and
    the EFPs of degree 1..7 of each ``(kappa, beta)``; the IRC-unsafe columns (kappa != 1, the
    multiplicity); and how many physicist's observables lead."""
    import pandas as pd

    from hepdl.explain.search import efp_basis
    from hepdl.features.sets import compute_feature_set

    expert = compute_feature_set(jets, "expert")
    obs = expert[[c for c in OBSERVABLES if c in expert.columns]].reset_index(drop=True)
    efps, unsafe = efp_basis(jets, d_max=7, variants=variants)
    return pd.concat([obs, efps], axis=1), unsafe | ({"multiplicity"} & set(obs.columns)), obs.shape[1]


def _search(run: Path, dirs: list[Path], ds: Any, test: np.ndarray, n: int, seed: int, plt: Any, plots: Path,
            figs: list[tuple[str, str, str]], variants: tuple[tuple[float, float], ...]) -> dict[str, Any]:
    from hepdl.data.dataset import JetDataset
    from hepdl.explain.search import observable_search, search_sentence
    from hepdl.train.trainer import load_trained, model_inputs, score_inputs

    if not isinstance(ds, JetDataset):
        return {"note": "the observable search maps jet taggers onto jet observables (EFPs); this run holds events"}
    pick = np.sort(np.random.default_rng(seed + 1).choice(test, size=min(n, len(test)), replace=False))
    part = _subset(ds, pick)
    y = np.asarray(part.labels)
    if not _binary(y):
        return {"note": "the observable search maps two-class taggers; this run has several classes"}
    basis, unsafe, n_obs = search_basis(part.jets, variants)
    out: dict[str, Any] = {"n_jets": int(len(pick)), "basis": f"{n_obs} physicist's observables + {basis.shape[1] - n_obs} EFPs (d <= 7; (kappa, beta) = "
                           + ", ".join(f"({k:g}, {b:g})" for k, b in variants) + ")",
                           "start": list(SEARCH_START), "networks": {}}
    for d in dirs:
        name, pre, model = load_trained(d)
        if not hasattr(model, "net") or pre.get("objective", "classify") != "classify":
            continue
        s = np.asarray(score_inputs(model, model_inputs(part, pre, cache=False)))
        if s.ndim != 1:
            continue
        res = observable_search(s, basis, y, start=[c for c in SEARCH_START if c in basis.columns], irc_unsafe=unsafe, seed=seed)
        res["sentence"] = search_sentence(res, d.name)
        out["networks"][d.name] = res
        if plt is not None:
            figs.append(_search_figure(plt, plots, d.name, res))
    return out


def _search_figure(plt: Any, plots: Path, key: str, res: dict[str, Any]) -> tuple[str, str, str]:
    from hepdl.report.style import save

    steps = res["steps"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = np.arange(len(steps))
    ax.errorbar(x, [s["auc_set"] for s in steps], yerr=[s["auc_set_error"] for s in steps], fmt="o-", label="chosen observables (BDT)")
    ax.axhline(res["network_auc"], color="C3", label=f"{key}")
    ax.axhspan(res["network_auc"] - res["tolerance"], res["network_auc"], color="C3", alpha=0.15, label=f"tolerance {res['tolerance']}")
    ax.set_xticks(x, [("+ " if i else "") + s["observable"] for i, s in enumerate(steps)], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("test AUC")
    ax.legend(fontsize=9)
    fig.tight_layout()
    name = save(fig, plots, f"search_{key}")
    return name, f"{key}: mapped onto observables", res["sentence"]


# --- the page ---------------------------------------------------------------------------------------

def _write_html(out: Path, result: dict[str, Any], figs: list[tuple[str, str, str]]) -> Path:
    from hepdl.data.paths import atomic_write
    from hepdl.report.page import Figure, figures_html, page_html, plain_table_html

    rows = [["model", "inputs", "orders pairs most like", "ADO", "most important input", "note"]]
    for m, e in result["models"].items():
        best = closest_observable(e)
        top = ""
        if e.get("permutation_importance"):
            top = f"{e['permutation_importance'][0]['feature']} (permutation)"
        elif e.get("lrp") and e["lrp"].get("features"):
            top = f"{e['lrp']['features'][0]['feature']} (LRP)"
        elif e.get("lrp") and "leading3_fraction" in e["lrp"]:
            top = f"3 hardest particles carry {e['lrp']['leading3_fraction']:.0%} of |R|"
        rows.append([m, str(e.get("inputs", "")), best[0] if best else "", f"{best[1]:.3f}" if best else "", top, e.get("note", "")])
    tables = [("Models", rows)]
    for m, e in result["models"].items():
        if e.get("permutation_importance"):
            tables.append((f"{m}: permutation importance (AUC lost when the input is shuffled)",
                           [["input", "AUC drop", "error"], *[[p["feature"], f"{p['auc_drop']:.4f}", f"{p['error']:.4f}"]
                                                              for p in e["permutation_importance"]]]))
    search = result.get("search", {})
    sentences = []
    for m, res in search.get("networks", {}).items():
        sentences.append(res["sentence"])
        tables.append((f"{m}: observable search (network AUC {res['network_auc']:.4f} ± {res['network_auc_error']:.4f})",
                       [["step", "observable", "its ADO with the network", "DO on mis-ordered pairs", "mis-ordered pairs",
                         "ADO of the set with the network", "AUC of the set", "gap", "IRC safe"],
                        *[[str(s["step"]), s["observable"], f"{s['ado_network']:.3f}",
                           "" if s["do_misordered"] is None else f"{s['do_misordered']:.3f}",
                           "" if s["n_misordered"] is None else str(s["n_misordered"]), f"{s['ado_set_network']:.3f}",
                           f"{s['auc_set']:.4f} ± {s['auc_set_error']:.4f}", f"{s['gap']:.4f} ± {s['gap_error']:.4f}",
                           "yes" if s["irc_safe"] else "no"] for s in res["steps"]]]))
    body = "".join(f"<h3>{html.escape(t)}</h3>{plain_table_html(r)}" for t, r in tables)
    if sentences:
        body = "".join(f"<p><b>{html.escape(s)}</b></p>" for s in sentences) + body
    doc = page_html(f"What the models learned: {Path(result['run']).name}",
                    f"{result['n_jets']} test jets; ADO, permutation importance, Tree-SHAP, LRP"
                    + (", observable search" if search else "") + " (hepdl explain)",
                    body, figures_html([Figure(*f) for f in figs]),
                    note="Numbers: explain.json; relevances: explain.npz. Back to the run: ../report.html")
    atomic_write(out / "explain.html", lambda tmp: tmp.write_text(doc, encoding="utf-8"))
    return out / "explain.html"
