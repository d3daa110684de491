"""The average decision ordering of two discriminants (Faucett, Thaler, Whiteson, arXiv:2010.11998),
exact over every signal-background pair in O(N log N).

Dimensions: N jets or events.
"""

from __future__ import annotations

import numba
import numpy as np

from hepdl.errors import DataError

__all__ = ["ado"]


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
