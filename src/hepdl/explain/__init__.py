"""What did the machine learn? Attributions of trained models, in a physicist's terms.

- :func:`ado`: the average decision ordering of two discriminants (Faucett, Thaler, Whiteson,
  arXiv:2010.11998), computed exactly over every signal-background pair in O(N log N);
- :func:`tree_shap`: XGBoost's exact Tree-SHAP values and interactions of a BDT (Lundberg et al.,
  arXiv:1802.03888), no ``shap`` dependency;
- :func:`lrp_dense`: layer-wise relevance propagation with the epsilon rule through a dense ReLU
  network (Bach et al. 2015, PLoS ONE 10 e0130140; Montavon, Samek, Mueller, arXiv:1706.07979);
- :func:`permutation_importance`: the AUC lost when one input is shuffled (Breiman 2001), with a
  bootstrap-free error from the spread over repeats, for any model of a run whose inputs are a feature set;
- :func:`explain_run`: all of it for the models of a run directory, written to ``<run>/explain/explain.json``
  with the ADO of every model with the physicist's observables (jet mass, tau_32, ...) on the test split.

Dimensions: N jets, F features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np

from hepdl.errors import ConfigError, DataError

__all__ = ["ado", "tree_shap", "lrp_dense", "permutation_importance", "explain_run", "OBSERVABLES"]

#: Observables of the expert feature set a physicist reads, compared with every model by :func:`explain_run`.
OBSERVABLES = ("mass", "mass_sd", "tau32", "tau21", "c2_b1", "d2_b1", "n2_b1", "multiplicity")


@numba.njit(cache=True)
def _prefix(tree: np.ndarray, r: int) -> int:  # pragma: no cover - numba
    """Backgrounds inserted into the Fenwick ``tree`` with g rank <= ``r``."""
    total = 0
    while r > 0:
        total += tree[r]
        r -= r & -r
    return total


@numba.njit(cache=True)
def _ordering_counts(f_order: np.ndarray, f_sorted: np.ndarray, g_rank: np.ndarray, is_sig: np.ndarray,
                     n_ranks: int, bkg_below: np.ndarray, bkg_above: np.ndarray) -> tuple[float, float]:  # pragma: no cover - numba
    """(concordant, discordant) signal-background pairs: a sweep in increasing f with a Fenwick tree
    over the g ranks of the background seen so far; equal f are one group (neither order)."""
    tree = np.zeros(n_ranks + 1, np.int64)
    inserted = 0
    conc = 0.0
    disc = 0.0
    n = len(f_order)
    i = 0
    while i < n:
        j = i
        while j < n and f_sorted[j] == f_sorted[i]:
            j += 1
        for k in range(i, j):  # backgrounds of strictly smaller f
            p = f_order[k]
            if is_sig[p]:
                r = g_rank[p]
                conc += _prefix(tree, r - 1)
                disc += inserted - _prefix(tree, r)
        for k in range(i, j):
            p = f_order[k]
            if not is_sig[p]:
                q = g_rank[p]
                while q <= n_ranks:
                    tree[q] += 1
                    q += q & -q
                inserted += 1
        for k in range(i, j):  # backgrounds of strictly larger f: all above/below minus those with f <= f_s
            p = f_order[k]
            if is_sig[p]:
                r = g_rank[p]
                conc += bkg_above[r] - (inserted - _prefix(tree, r))
                disc += bkg_below[r] - _prefix(tree, r - 1)
        i = j
    return conc, disc


def ado(f: np.ndarray, g: np.ndarray, labels: np.ndarray) -> float:
    """Average decision ordering of the discriminants ``f`` and ``g`` (arXiv:2010.11998): over every pair
    of a signal (label 1) and a background (label 0) jet, the fraction that ``f`` and ``g`` order the same
    way; a pair one of them ties counts one half. 1 for ``g`` any increasing function of ``f``, 0 for a
    decreasing one, about 0.5 for an unrelated one. Exact, in O(N log N) (no sampling of pairs).

    Parameters
    ----------
    f, g
        Shape ``(N,)``, finite.
    labels
        Shape ``(N,)``, 0 and 1, both present.
    """
    f, g, y = (np.asarray(a) for a in (f, g, labels))
    if not (f.shape == g.shape == y.shape) or f.ndim != 1:
        raise DataError(f"ado needs three arrays of one shape (N,); got {f.shape}, {g.shape}, {y.shape}")
    if not (np.isfinite(f).all() and np.isfinite(g).all()):
        raise DataError("ado needs finite discriminants (NaN or inf found)")
    sig = y == 1
    n_s, n_b = int(sig.sum()), int((y == 0).sum())
    if n_s == 0 or n_b == 0 or n_s + n_b != len(y):
        raise DataError(f"ado needs labels 0 (background) and 1 (signal), both present; got {n_s} signal, {n_b} background of {len(y)}")
    uniq, inv = np.unique(g, return_inverse=True)
    g_rank = np.ravel(inv).astype(np.int64) + 1  # 1 .. K
    k = len(uniq)
    counts = np.bincount(g_rank[~sig], minlength=k + 2)  # backgrounds per g rank
    cum = np.cumsum(counts)
    bkg_below = np.concatenate([[0], cum[:-1]]).astype(np.int64)  # g rank < r
    bkg_above = (n_b - cum).astype(np.int64)  # g rank > r
    order = np.argsort(f, kind="stable")
    conc, disc = _ordering_counts(order, f[order].astype(np.float64), g_rank, sig, k, bkg_below, bkg_above)
    pairs = float(n_s) * float(n_b)
    return float((conc + 0.5 * (pairs - conc - disc)) / pairs)


def tree_shap(booster: Any, frame: Any, *, interactions: bool = False, best_iteration: int | None = None) -> dict[str, Any]:
    """Exact Tree-SHAP values of an XGBoost model (its native ``pred_contribs``; arXiv:1802.03888) on the
    rows of ``frame`` (a DataFrame of the model's columns), in the raw margin (log-odds for a binary BDT).

    Returns ``{"columns", "values": (N, F), "bias": (N,), "mean_abs": (F,)}`` and, with ``interactions``,
    ``"interactions": (N, F, F)`` (``pred_interactions``); ``values.sum(1) + bias`` is the margin.
    """
    import xgboost as xgb

    columns = [str(c) for c in frame.columns]
    d = xgb.DMatrix(frame.to_numpy(np.float64), feature_names=columns)
    rng = (0, best_iteration + 1) if best_iteration is not None else (0, 0)
    contrib = booster.predict(d, pred_contribs=True, iteration_range=rng)
    if contrib.ndim != 2:
        raise ConfigError("tree_shap explains two-class BDTs (one margin per jet); this one has several classes")
    out: dict[str, Any] = {"columns": columns, "values": contrib[:, :-1], "bias": contrib[:, -1],
                           "mean_abs": np.abs(contrib[:, :-1]).mean(axis=0)}
    if interactions:
        out["interactions"] = booster.predict(d, pred_interactions=True, iteration_range=rng)[:, :-1, :-1]
    return out


def lrp_dense(net: Any, x: Any, *, eps: float = 1e-6, output: int = 0) -> Any:
    """Relevance of each input of a dense network for its output ``output`` (the signal logit of a
    two-class tagger), by the epsilon rule (arXiv:1706.07979, eq. 58):
    ``R_i = sum_j a_i w_ij R_j / (z_j + eps sign(z_j))`` layer by layer, from ``R = logit`` at the top.

    ``net`` is an ``nn.Sequential`` of ``Linear``, ``ReLU`` and ``Dropout`` layers (the ``mlp`` of
    :mod:`hepdl.models.dense`; dropout is the identity in evaluation), or a module holding one as
    ``net.net``; ``x`` is ``(B, F)``. Returns ``(B, F)``. Without biases the relevances of a jet sum
    to its logit (up to ``eps``); biases absorb the rest.
    """
    import torch
    from torch import nn

    seq = getattr(net, "net", net)
    if not isinstance(seq, nn.Sequential):
        raise ConfigError(f"lrp_dense propagates through an nn.Sequential of dense layers, not {type(seq).__name__}")
    layers = list(seq)
    bad = [type(m).__name__ for m in layers if not isinstance(m, (nn.Linear, nn.ReLU, nn.Dropout))]
    if bad:
        raise ConfigError(f"lrp_dense has rules for Linear, ReLU and Dropout layers; this network also has {sorted(set(bad))}")
    with torch.no_grad():
        acts = [x]
        for m in layers:
            acts.append(acts[-1] if isinstance(m, nn.Dropout) else m(acts[-1]))
        out = acts[-1]
        if not 0 <= output < out.shape[1]:
            raise ConfigError(f"output {output} does not exist: the network has {out.shape[1]} outputs")
        rel = torch.zeros_like(out)
        rel[:, output] = out[:, output]
        for m, a in zip(reversed(layers), reversed(acts[:-1]), strict=True):
            if isinstance(m, nn.Linear):
                z = a @ m.weight.T + (m.bias if m.bias is not None else 0)
                stab = z + eps * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)
                rel = a * ((rel / stab) @ m.weight)
            # ReLU and Dropout pass the relevance on unchanged (it is zero where the unit was off)
    return rel


def permutation_importance(score: Any, frame: Any, labels: np.ndarray, *, n_repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """The AUC a model loses when one input column of ``frame`` is shuffled across jets (Breiman 2001),
    per column: ``{"auc", "columns", "drop": (F,), "drop_err": (F,)}`` (mean over ``n_repeats`` seeded
    shuffles and its standard error). ``score(frame) -> (N,)`` is the model; a column it does not use
    loses exactly nothing."""
    from hepdl.metrics import auc

    if n_repeats < 1:
        raise ConfigError(f"n_repeats must be >= 1, got {n_repeats}")
    y = np.asarray(labels)
    base = auc(y, np.asarray(score(frame)))
    rng = np.random.default_rng(seed)
    drops = np.zeros((n_repeats, frame.shape[1]))
    for r in range(n_repeats):
        for j, col in enumerate(frame.columns):
            shuffled = frame.copy()
            shuffled[col] = frame[col].to_numpy()[rng.permutation(len(frame))]
            drops[r, j] = base - auc(y, np.asarray(score(shuffled)))
    err = drops.std(axis=0, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else np.full(frame.shape[1], np.nan)
    return {"auc": base, "columns": [str(c) for c in frame.columns], "drop": drops.mean(axis=0), "drop_err": err}


def explain_run(run: str | Path, *, models: list[str] | None = None, n_jets: int = 5000, seed: int = 0) -> Path:
    """Explain the models of a run on (up to ``n_jets`` of) its test split and write
    ``<run>/explain/explain.json``:

    - every model: the ADO of its score with each of :data:`OBSERVABLES` (and with every other model);
    - models whose inputs are a feature set (BDT, DNN on features, cuts): permutation importances;
    - BDTs: Tree-SHAP mean |value| per feature and the strongest interaction pairs;
    - dense networks on a feature set (the DNN): epsilon-LRP mean |relevance| per feature, and its mean per class.

    A model without an attribution method is listed with the reason; an unknown name lists the run's models.
    """
    from hepdl.data.dataset import JetDataset
    from hepdl.data.paths import atomic_write_json
    from hepdl.features.sets import compute_feature_set
    from hepdl.train.rundir import ModelDir
    from hepdl.train.trainer import _model_dirs, load_trained, model_inputs, score_inputs, trained_dataset

    run = Path(run)
    dirs = _model_dirs(run)
    names = [d.name for d in dirs]
    if models:
        unknown = [m for m in models if m not in names]
        if unknown:
            raise DataError(f"run {run} has no model(s) {unknown}; it has {', '.join(names)}")
        dirs = [d for d in dirs if d.name in models]
    ds = trained_dataset(dirs[0])
    if not isinstance(ds, JetDataset):
        raise ConfigError(f"explain works on jet runs so far; the dataset of {run} holds {getattr(ds, 'domain', type(ds).__name__)}")
    test = np.asarray(np.load(dirs[0] / ModelDir.SCORES)["index"])
    pick = np.sort(np.random.default_rng(seed).choice(test, size=min(n_jets, len(test)), replace=False))
    y = ds.labels[pick]
    if len(np.unique(y)) != 2:
        raise DataError(f"explain compares two-class models; the test jets of {run} hold classes {sorted(np.unique(y))}")
    part = JetDataset(ds.take(pick), ds.metadata, ds.path, ds.format, ds.label_names, None)  # never cached (options None)
    expert = compute_feature_set(part.jets, "expert")
    observables = {o: expert[o].to_numpy(np.float64) for o in OBSERVABLES if o in expert.columns}
    scores: dict[str, np.ndarray] = {}
    result: dict[str, Any] = {"run": str(run), "n_jets": int(len(pick)), "observables": list(observables), "models": {}}
    for d in dirs:
        name, pre, model = load_trained(d)
        entry: dict[str, Any] = {"model": name}
        inputs = model_inputs(part, pre, cache=False)
        s = np.asarray(score_inputs(model, inputs))
        if s.ndim != 1:
            entry["note"] = "multi-class scores: not explained yet"
            result["models"][d.name] = entry
            continue
        scores[d.name] = s
        entry["ado"] = {o: ado(s, v, y) for o, v in observables.items()}
        if inputs.kind in ("bdt", "cut", "features"):
            frame = inputs.arrays["frame"] if inputs.kind != "features" else _feature_frame(inputs)

            def score_frame(fr: Any, _m: Any = model, _k: str = inputs.kind, _inp: Any = inputs) -> np.ndarray:
                return _score_frame(_m, _k, _inp, fr)

            pi = permutation_importance(score_frame, frame, y, seed=seed)
            order = np.argsort(-pi["drop"])
            entry["permutation_importance"] = [{"feature": pi["columns"][j], "auc_drop": float(pi["drop"][j]),
                                                "error": float(pi["drop_err"][j])} for j in order]
        else:
            entry["permutation_importance"] = None
            entry["note"] = f"inputs {inputs.kind!r}: relevance propagation for this network is not built yet (issue 12)"
        if inputs.kind == "features" and hasattr(model, "net"):
            import torch

            try:
                rel = lrp_dense(model.net, torch.from_numpy(np.asarray(inputs.arrays["features"], np.float32))).numpy()
            except ConfigError as exc:
                entry["lrp"] = None
                entry["note"] = str(exc)
            else:
                mean_abs = np.abs(rel).mean(axis=0)
                order = np.argsort(-mean_abs)
                cols = inputs.preprocess["columns"]
                entry["lrp"] = {"rule": "epsilon (1e-6), relevance of the signal logit", "mean_abs": [
                    {"feature": cols[j], "value": float(mean_abs[j]), "mean_signal": float(rel[y == 1, j].mean()),
                     "mean_background": float(rel[y == 0, j].mean())} for j in order]}
        if name == "bdt":
            shap = tree_shap(model.booster, inputs.arrays["frame"], interactions=True, best_iteration=model.best_iteration)
            order = np.argsort(-shap["mean_abs"])
            entry["shap_mean_abs"] = [{"feature": shap["columns"][j], "value": float(shap["mean_abs"][j])} for j in order]
            inter = np.abs(shap["interactions"]).mean(axis=0)
            iu = np.triu_indices(len(shap["columns"]), 1)
            top = np.argsort(-inter[iu])[:10]
            entry["shap_interactions"] = [{"pair": [shap["columns"][iu[0][t]], shap["columns"][iu[1][t]]],
                                           "value": float(inter[iu][t])} for t in top]
        result["models"][d.name] = entry
    for a in scores:
        result["models"][a]["ado_models"] = {b: ado(scores[a], scores[b], y) for b in scores if b != a}
    out = run / "explain"
    out.mkdir(exist_ok=True)
    atomic_write_json(out / "explain.json", result)
    return out / "explain.json"


def _feature_frame(inputs: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(inputs.arrays["features"], columns=inputs.preprocess["columns"])


def _score_frame(model: Any, kind: str, inputs: Any, frame: Any) -> np.ndarray:
    """Scores of ``model`` on a (shuffled) frame of its inputs."""
    from hepdl.features.inputs import Inputs
    from hepdl.train.trainer import score_inputs

    if kind == "features":
        arrays = {"features": frame.to_numpy(np.float32)}
    else:
        arrays = {"frame": frame}
    return np.asarray(score_inputs(model, Inputs(kind, arrays, inputs.labels, inputs.preprocess)))
