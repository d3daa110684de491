"""The black-box-guided search for physics observables that reproduce a network's decisions.

Faucett, Thaler, Whiteson, "Mapping machine-learned physics into a human-readable space"
(arXiv:2010.11998): start from the observables a physicist reads; find the signal-background pairs
that a classifier on the current set orders differently from the network; add the observable of a large
basis (energy flow polynomials, arXiv:1712.07124) that orders *those* pairs most like the network;
retrain the classifier on the enlarged set; repeat until the set's AUC is within a tolerance of the
network's, or a number of observables is reached.

The classifier on a set is a small XGBoost BDT (fitted on one part of the jets, early-stopped on a
second, its AUC measured on a third that neither the BDT nor the choice of pairs has seen). An observable
and its negative are the same choice (the BDT can use either order), so the score of a candidate is
``max(DO, 1 - DO)`` with DO the fraction of the mis-ordered pairs it orders like the network.

Dimensions: N jets, M basis observables, P sampled pairs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from hepdl.errors import ConfigError, DataError
from hepdl.explain.ordering import ado

__all__ = ["observable_search", "efp_basis", "split_for_search", "brute_force_step", "search_sentence"]


def split_for_search(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (fit 45 %, early-stopping 15 %, test 40 %) indices of ``n`` jets."""
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(0.45 * n), int(0.60 * n)
    return np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:])


def _fit_set(basis: pd.DataFrame, cols: list[str], y: np.ndarray, split: tuple[np.ndarray, ...], seed: int) -> np.ndarray:
    """Scores of a small BDT on the observables ``cols`` for every jet (fitted on ``split[0]``)."""
    from hepdl.models.baselines import BDT

    fit, val, _ = split
    X = basis[cols]
    bdt = BDT(n_estimators=400, max_depth=3, learning_rate=0.1, early_stopping_rounds=20, seed=seed, n_jobs=2)
    bdt.fit(X.iloc[fit], y[fit], X.iloc[val], y[val])
    return np.asarray(bdt.score(X), dtype=np.float64)


def _gap(y: np.ndarray, net: np.ndarray, s: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float, float]:
    """(AUC of the set, its error, AUC gap network - set, its paired bootstrap error) on the jets given."""
    from hepdl.metrics import auc

    a_set, a_net = auc(y, s), auc(y, net)
    rng = np.random.default_rng(seed)
    sets, gaps = [], []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) < 2:
            continue
        sets.append(auc(y[i], s[i]))
        gaps.append(auc(y[i], net[i]) - sets[-1])
    return a_set, float(np.std(sets, ddof=1)), a_net - a_set, float(np.std(gaps, ddof=1))


def _pairs(y: np.ndarray, rows: np.ndarray, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` random (signal, background) pairs of the jets ``rows``."""
    sig, bkg = rows[y[rows] == 1], rows[y[rows] == 0]
    return rng.choice(sig, n_pairs), rng.choice(bkg, n_pairs)


def _agreement(values: np.ndarray, s: np.ndarray, b: np.ndarray, sign_net: np.ndarray) -> np.ndarray:
    """For each column of ``values`` (N, M): the fraction of the pairs (s, b) it orders like ``sign_net``
    (ties one half), symmetrised: max(DO, 1 - DO)."""
    out = np.empty(values.shape[1])
    for c0 in range(0, values.shape[1], 64):
        v = values[:, c0:c0 + 64]
        d = np.sign(v[s] - v[b]) * sign_net[:, None]
        do = ((d > 0).sum(0) + 0.5 * (d == 0).sum(0)) / len(s)
        out[c0:c0 + 64] = np.maximum(do, 1 - do)
    return out


def observable_search(scores: np.ndarray, basis: pd.DataFrame, labels: np.ndarray, *, start: list[str] | tuple[str, ...] = (),
                      max_observables: int = 7, tolerance: float = 0.002, n_pairs: int = 200_000,
                      irc_unsafe: set[str] | None = None, n_bootstrap: int = 50, seed: int = 0) -> dict[str, Any]:
    """Map a network onto observables of ``basis`` (arXiv:2010.11998); see the module docstring.

    Parameters
    ----------
    scores
        The network's discriminant, shape (N,).
    basis
        (N, M) observables to choose from (e.g. :func:`efp_basis` and the physicist's observables).
    labels
        (N,) 1 signal, 0 background.
    start
        Columns of ``basis`` the search starts from (the physicist's observables); empty: the first step
        chooses the observable with the highest ADO with the network over all pairs.
    max_observables, tolerance
        Stop when the set holds ``max_observables`` or its test AUC is within ``tolerance`` of the network's.
    n_pairs
        Signal-background pairs sampled per step to find the mis-ordered ones.
    irc_unsafe
        Columns to flag as infrared- or collinear-unsafe (EFPs with kappa != 1, multiplicities).

    Returns
    -------
    dict
        ``network_auc`` (and its error) on the test jets; ``steps``: one row per set, with the observable
        added, its exact ADO with the network on the test jets (either order), the ADO of the set's BDT
        with the network, the observable's DO on the mis-ordered pairs, how many pairs were mis-ordered,
        the set's test AUC and the gap to the network with bootstrap errors, ``irc_safe``; ``chosen``;
        ``reached`` (gap within the tolerance); ``seconds``.
    """
    t0 = time.perf_counter()
    net = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if net.shape != y.shape or net.ndim != 1 or len(basis) != len(y):
        raise DataError(f"observable_search needs scores and labels of shape (N,) and a basis of N rows; got {net.shape}, {y.shape}, {basis.shape}")
    if set(np.unique(y)) != {0, 1}:
        raise DataError("observable_search needs labels 0 (background) and 1 (signal), both present")
    missing = [c for c in start if c not in basis.columns]
    if missing:
        raise ConfigError(f"start observables {missing} are not columns of the basis")
    if not 1 <= max_observables <= basis.shape[1] or len(start) > max_observables:
        raise ConfigError(f"max_observables must lie in {max(1, len(start))}..{basis.shape[1]}, got {max_observables}")
    values = basis.to_numpy(np.float64)
    if not np.isfinite(values).all():
        bad = [c for c in basis.columns if not np.isfinite(basis[c].to_numpy(np.float64)).all()]
        raise DataError(f"the basis has NaN or inf in the column(s) {bad[:5]}")
    cols = [str(c) for c in basis.columns]
    unsafe = irc_unsafe or set()
    split = split_for_search(len(y), seed)
    fit, _, test = split
    rng = np.random.default_rng(seed)
    from hepdl.metrics import auc

    net_auc = auc(y[test], net[test])
    boot = [auc(y[test][i], net[test][i]) for i in (rng.integers(0, len(test), len(test)) for _ in range(n_bootstrap))]
    chosen = list(start)
    steps: list[dict[str, Any]] = []

    def record(members: list[str], do_mis: float | None, n_mis: int | None) -> np.ndarray:
        """Fit the BDT on ``members`` (the last one just added), add its row to ``steps``, return its scores."""
        s = _fit_set(basis, members, y, split, seed)
        a_set, a_err, gap, gap_err = _gap(y[test], net[test], s[test], n_bootstrap, seed)
        name = members[-1]
        a = ado(net[test], values[test, cols.index(name)], y[test])
        steps.append({"step": len(steps), "observable": name, "ado_network": max(a, 1 - a),
                      "ado_set_network": ado(net[test], s[test], y[test]),
                      "do_misordered": do_mis, "n_misordered": n_mis, "auc_set": a_set, "auc_set_error": a_err,
                      "gap": gap, "gap_error": gap_err, "irc_safe": name not in unsafe, "set": list(members)})
        return s

    if not chosen:  # the single observable that orders all pairs most like the network
        s_idx, b_idx = _pairs(y, fit, n_pairs, rng)
        score = _agreement(values, s_idx, b_idx, np.sign(net[s_idx] - net[b_idx]))
        chosen.append(cols[int(np.argmax(score))])
        current = record(chosen, None, None)
    else:
        for k in range(len(chosen)):  # the starting set, one observable at a time
            current = record(chosen[:k + 1], None, None)
    while steps[-1]["gap"] > tolerance and len(chosen) < max_observables:
        s_idx, b_idx = _pairs(y, fit, n_pairs, rng)
        sign_net = np.sign(net[s_idx] - net[b_idx])
        mis = np.sign(current[s_idx] - current[b_idx]) != sign_net
        if not mis.any():
            break
        free = [j for j, c in enumerate(cols) if c not in chosen]
        score = _agreement(values[:, free], s_idx[mis], b_idx[mis], sign_net[mis])
        best = free[int(np.argmax(score))]
        chosen.append(cols[best])
        current = record(chosen, float(score.max()), int(mis.sum()))
    last = steps[-1]
    reached = bool(last["gap"] <= tolerance)
    return {"network_auc": net_auc, "network_auc_error": float(np.std(boot, ddof=1)), "steps": steps, "chosen": chosen,
            "tolerance": tolerance, "reached": reached, "n_jets": int(len(y)), "n_test": int(len(test)),
            "n_basis": len(cols), "seconds": time.perf_counter() - t0}


def search_sentence(result: dict[str, Any], model: str) -> str:
    """The result in one sentence a physicist reads."""
    first, last = result["steps"][0], result["steps"][-1]
    names = ", ".join(result["chosen"])
    unsafe = [st["observable"] for st in result["steps"] if not st["irc_safe"]]
    tail = (f" (AUC {last['auc_set']:.4f} vs {result['network_auc']:.4f}; the set orders {last['ado_set_network']:.1%} of the "
            "pairs like the network" + (f"; IRC-unsafe: {', '.join(unsafe)}" if unsafe else "") + ").")
    if first["gap"] < -result["tolerance"]:
        return (f"The physicist's {{{first['observable'] if len(first['set']) == 1 else ', '.join(first['set'])}}} already "
                f"separate better than the {model} (dAUC = {first['gap']:.4f} ± {first['gap_error']:.4f}): the network has "
                f"not learned all they know" + tail)
    verdict = "reproduced" if result["reached"] else "not reproduced within the tolerance, only approached,"
    return f"The {model}'s decisions are {verdict} to dAUC = {last['gap']:.4f} ± {last['gap_error']:.4f} by {{{names}}}" + tail


def brute_force_step(basis: pd.DataFrame, labels: np.ndarray, chosen: list[str], candidates: list[str], seed: int = 0) -> dict[str, float]:
    """The classic alternative to one search step: train one BDT per candidate on ``chosen + [candidate]``
    and keep the best test AUC. Returns candidate -> test AUC (what the guided search avoids)."""
    from hepdl.metrics import auc

    y = np.asarray(labels)
    split = split_for_search(len(y), seed)
    out = {}
    for c in candidates:
        s = _fit_set(basis, [*chosen, c], y, split, seed)
        out[c] = auc(y[split[2]], s[split[2]])
    return out


def efp_basis(jets: Any, *, d_max: int = 7, variants: tuple[tuple[float, float], ...] = ((1.0, 1.0),)) -> tuple[pd.DataFrame, set[str]]:
    """The energy flow polynomials of ``jets`` up to degree ``d_max`` (every series-parallel multigraph;
    :class:`hepdl.features.efp.EFPSet`) for each ``(kappa, beta)`` of ``variants``, as columns
    ``efp_d<d>_<edges>`` (kappa = beta = 1) or ``..._k<kappa>_b<beta>``; and the names of the IRC-unsafe
    ones (kappa != 1). The constant EFP of the single vertex is left out."""
    from hepdl.features.efp import EFPSet

    frames, unsafe = [], set()
    for kappa, beta in variants:
        s = EFPSet(d_max=d_max, kappa=kappa, beta=beta, series_parallel_only=True)
        v = s.compute(jets)
        suffix = "" if (kappa, beta) == (1.0, 1.0) else f"_k{kappa:g}_b{beta:g}"
        names = [n + suffix for n in s.names]
        keep = [i for i, g in enumerate(s.graphs) if g.degree > 0]
        frames.append(pd.DataFrame(v[:, keep], columns=[names[i] for i in keep]))
        if kappa != 1.0:
            unsafe |= {names[i] for i in keep}
    return pd.concat(frames, axis=1), unsafe
