"""Compiled (numba) per-jet kernels, looped over jets in parallel. Internal: use hepdl.features.

Inputs are flat constituent arrays plus ``offsets`` (jet j owns ``offsets[j]:offsets[j+1]``).
Angles are rapidity-azimuth distances, as in FastJet.
"""

from __future__ import annotations

import numba as nb
import numpy as np

TWO_PI = 2.0 * np.pi


@nb.njit(cache=True, inline="always")
def _dphi(a: float, b: float) -> float:
    d = a - b
    while d > np.pi:
        d -= TWO_PI
    while d <= -np.pi:
        d += TWO_PI
    return d


@nb.njit(cache=True, inline="always")
def _rap_phi(px: float, py: float, pz: float, e: float) -> tuple[float, float]:
    pt2 = px * px + py * py
    phi = np.arctan2(py, px) if pt2 > 0 else 0.0
    ep = e + pz
    em = e - pz
    if ep <= 0 or em <= 0 or pt2 == 0:
        y = 1e5 if pz > 0 else -1e5
    else:
        y = 0.5 * np.log(ep / em)
    return y, phi


@nb.njit(cache=True)
def _nearest(i: int, active: np.ndarray, n_nodes: int, y: np.ndarray, phi: np.ndarray, w: np.ndarray, p: int) -> tuple[int, float]:
    best, bd = -1, np.inf
    for j in range(n_nodes):
        if j == i or not active[j]:
            continue
        dy = y[i] - y[j]
        dp = _dphi(phi[i], phi[j])
        d = dy * dy + dp * dp
        if p != 0:
            d *= min(w[i], w[j])
        if d < bd:
            bd, best = d, j
    return best, bd


@nb.njit(cache=True)
def _cluster(px, py, pz, e, p, n_stop, tau_beta, tau_out, r0):
    """Pairwise generalised-kT clustering of one jet without a beam distance (R -> infinity).

    p = 0: Cambridge/Aachen (d = dR^2); p = 1: kT (d = min(pT^2) dR^2). E-scheme recombination.
    Clusters down to ``n_stop`` pseudo-jets. If ``tau_out`` has length > 0, fills tau_out[N-1]
    with N-subjettiness tau_N (beta = tau_beta, normalised by sum pT * r0^beta) for N = 1..len,
    using the exclusive pseudo-jets as axes (N >= number of particles gives 0).

    Returns (node px, py, pz, e, child1, child2, number of nodes).
    """
    n = len(px)
    m = max(2 * n - 1, 1)
    npx = np.zeros(m)
    npy = np.zeros(m)
    npz = np.zeros(m)
    ne = np.zeros(m)
    y = np.zeros(m)
    phi = np.zeros(m)
    w = np.zeros(m)
    c1 = -np.ones(m, dtype=np.int64)
    c2 = -np.ones(m, dtype=np.int64)
    active = np.zeros(m, dtype=np.bool_)
    nn = -np.ones(m, dtype=np.int64)
    nnd = np.full(m, np.inf)
    sum_pt = 0.0
    for i in range(n):
        npx[i], npy[i], npz[i], ne[i] = px[i], py[i], pz[i], e[i]
        y[i], phi[i] = _rap_phi(px[i], py[i], pz[i], e[i])
        w[i] = px[i] * px[i] + py[i] * py[i]
        sum_pt += np.sqrt(w[i])
        active[i] = True
    n_nodes = n
    n_active = n
    n_tau = len(tau_out)
    for k in range(n_tau):
        tau_out[k] = 0.0
    for i in range(n):
        nn[i], nnd[i] = _nearest(i, active, n_nodes, y, phi, w, p)
    while True:
        if n_tau > 0 and 1 <= n_active <= n_tau and n_active < n:
            # axes = the active pseudo-jets: tau_N for N = n_active
            tot = 0.0
            for i in range(n):
                yi, phii = y[i], phi[i]
                best = np.inf
                for a in range(n_nodes):
                    if active[a]:
                        dy = yi - y[a]
                        dp = _dphi(phii, phi[a])
                        d2 = dy * dy + dp * dp
                        if d2 < best:
                            best = d2
                tot += np.sqrt(w[i]) * best ** (0.5 * tau_beta)
            tau_out[n_active - 1] = tot / (sum_pt * r0**tau_beta) if sum_pt > 0 else 0.0
        if n_active <= n_stop or n_active <= 1:
            break
        i = -1
        bd = np.inf
        for a in range(n_nodes):
            if active[a] and nnd[a] < bd:
                bd, i = nnd[a], a
        j = nn[i]
        k = n_nodes
        npx[k], npy[k], npz[k], ne[k] = npx[i] + npx[j], npy[i] + npy[j], npz[i] + npz[j], ne[i] + ne[j]
        y[k], phi[k] = _rap_phi(npx[k], npy[k], npz[k], ne[k])
        w[k] = npx[k] * npx[k] + npy[k] * npy[k]
        c1[k], c2[k] = i, j
        active[i] = False
        active[j] = False
        active[k] = True
        n_nodes += 1
        n_active -= 1
        for a in range(n_nodes - 1):
            if not active[a]:
                continue
            if nn[a] == i or nn[a] == j:
                nn[a], nnd[a] = _nearest(a, active, n_nodes, y, phi, w, p)
            else:
                dy = y[a] - y[k]
                dp = _dphi(phi[a], phi[k])
                d = dy * dy + dp * dp
                if p != 0:
                    d *= min(w[a], w[k])
                if d < nnd[a]:
                    nn[a], nnd[a] = k, d
        nn[k], nnd[k] = _nearest(k, active, n_nodes, y, phi, w, p)
    return npx, npy, npz, ne, c1, c2, n_nodes


@nb.njit(cache=True, parallel=True)
def soft_drop_kernel(px, py, pz, e, offsets, beta, z_cut, r0):
    """Soft drop (arXiv:1402.2657) on the C/A tree of each jet. Returns (n_jets, 6): px, py, pz, e, z_g, R_g."""
    n_jets = len(offsets) - 1
    out = np.zeros((n_jets, 6))
    empty = np.zeros(0)
    for jet in nb.prange(n_jets):
        lo, hi = offsets[jet], offsets[jet + 1]
        if hi == lo:
            continue
        npx, npy, npz, ne, c1, c2, n_nodes = _cluster(px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi], 0, 1, 1.0, empty, r0)
        node = n_nodes - 1
        zg = 0.0
        rg = 0.0
        while c1[node] >= 0:
            a, b = c1[node], c2[node]
            pta = np.sqrt(npx[a] ** 2 + npy[a] ** 2)
            ptb = np.sqrt(npx[b] ** 2 + npy[b] ** 2)
            ya, pa = _rap_phi(npx[a], npy[a], npz[a], ne[a])
            yb, pb = _rap_phi(npx[b], npy[b], npz[b], ne[b])
            dr = np.sqrt((ya - yb) ** 2 + _dphi(pa, pb) ** 2)
            z = min(pta, ptb) / (pta + ptb) if pta + ptb > 0 else 0.0
            if z > z_cut * (dr / r0) ** beta:
                zg, rg = z, dr
                break
            node = a if pta >= ptb else b
        out[jet, 0], out[jet, 1], out[jet, 2], out[jet, 3] = npx[node], npy[node], npz[node], ne[node]
        out[jet, 4], out[jet, 5] = zg, rg
    return out


@nb.njit(cache=True, parallel=True)
def nsubjettiness_kernel(px, py, pz, e, offsets, n_max, beta, r0):
    """tau_1..tau_n_max (arXiv:1011.2268) with exclusive-kT axes, normalised by sum pT * r0^beta."""
    n_jets = len(offsets) - 1
    out = np.zeros((n_jets, n_max))
    for jet in nb.prange(n_jets):
        lo, hi = offsets[jet], offsets[jet + 1]
        if hi == lo:
            continue
        tau = np.zeros(n_max)
        _cluster(px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi], 1, 1, beta, tau, r0)
        out[jet] = tau
    return out


@nb.njit(cache=True, parallel=True)
def exclusive_subjets_kernel(px, py, pz, e, offsets, n_sub):
    """The ``n_sub`` exclusive kT subjets of each jet, pT ordered: (n_jets, n_sub, 4) px, py, pz, e (0 if fewer)."""
    n_jets = len(offsets) - 1
    out = np.zeros((n_jets, n_sub, 4))
    empty = np.zeros(0)
    for jet in nb.prange(n_jets):
        lo, hi = offsets[jet], offsets[jet + 1]
        if hi == lo:
            continue
        npx, npy, npz, ne, c1, c2, n_nodes = _cluster(px[lo:hi], py[lo:hi], pz[lo:hi], e[lo:hi], 1, n_sub, 1.0, empty, 1.0)
        used = np.zeros(n_nodes, dtype=np.bool_)
        for k in range(n_nodes):
            if c1[k] >= 0:
                used[c1[k]] = True
                used[c2[k]] = True
        idx = np.nonzero(~used)[0]
        pts = np.sqrt(npx[idx] ** 2 + npy[idx] ** 2)
        order = idx[np.argsort(-pts)]
        for s in range(min(n_sub, len(order))):
            q = order[s]
            out[jet, s, 0], out[jet, s, 1], out[jet, s, 2], out[jet, s, 3] = npx[q], npy[q], npz[q], ne[q]
    return out


@nb.njit(cache=True, parallel=True)
def ecf_kernel(pt, y, phi, offsets, betas):
    """Energy correlation functions per jet and beta (arXiv:1305.0007, 1609.07483).

    Returns (n_jets, len(betas), 4): e2, e3 (product of the three angles), 1e3 (smallest angle),
    2e3 (product of the two smallest angles); z_i = pT_i / sum pT.
    """
    n_jets = len(offsets) - 1
    nb_ = len(betas)
    out = np.zeros((n_jets, nb_, 4))
    for jet in nb.prange(n_jets):
        lo, hi = offsets[jet], offsets[jet + 1]
        n = hi - lo
        if n == 0:
            continue
        s = 0.0
        for i in range(lo, hi):
            s += pt[i]
        z = pt[lo:hi] / s
        dr = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                dy = y[lo + i] - y[lo + j]
                dp = _dphi(phi[lo + i], phi[lo + j])
                dr[i, j] = dr[j, i] = np.sqrt(dy * dy + dp * dp)
        for b in range(nb_):
            beta = betas[b]
            drb = dr**beta
            e2 = 0.0
            e3 = 0.0
            e3_1 = 0.0
            e3_2 = 0.0
            for i in range(n):
                for j in range(i + 1, n):
                    zij = z[i] * z[j]
                    dij = drb[i, j]
                    e2 += zij * dij
                    for k in range(j + 1, n):
                        zz = zij * z[k]
                        a, bb, c = dij, drb[i, k], drb[j, k]
                        e3 += zz * a * bb * c
                        # sort the three angles
                        lo1 = min(a, min(bb, c))
                        hi1 = max(a, max(bb, c))
                        mid = a + bb + c - lo1 - hi1
                        e3_1 += zz * lo1
                        e3_2 += zz * lo1 * mid
            out[jet, b, 0] = e2
            out[jet, b, 1] = e3
            out[jet, b, 2] = e3_1
            out[jet, b, 3] = e3_2
    return out
