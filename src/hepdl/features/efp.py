"""Energy flow polynomials (Komiske, Metodiev, Thaler, arXiv:1712.07124), computed in batch.

For a multigraph G with vertices V and edges E, EFP_G = sum_{i_1..i_|V|} z_{i_1}...z_{i_|V|}
prod_{(k,l) in E} theta_{i_k i_l}, with z_i = pT_i^kappa / (sum pT)^kappa (kappa = 1) and
theta_ij = dR_ij^beta (rapidity-azimuth, beta = 1): the ``hadr`` measure. The degree d is the number
of edges. Disconnected graphs are products of their connected components.

The graphs are enumerated here (connected multigraphs by adding one edge at a time, deduplicated by
a canonical form); each EFP is one ``numpy.einsum`` over a chunk of jets padded to the chunk's
largest multiplicity, with the contraction order found once per graph. Chunks group jets of similar
multiplicity, so padding costs little and memory stays bounded.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepdl.errors import ConfigError
from hepdl.features._arrays import FlatJets, flat_jets
from hepdl.kinematics import delta_phi

__all__ = ["Graph", "efp_graphs", "efp", "EFPSet", "series_parallel"]

Edge = tuple[int, int]


@dataclass(frozen=True)
class Graph:
    """A multigraph: ``n`` vertices and a sorted tuple of edges (pairs a < b, repeated for multi-edges)."""

    n: int
    edges: tuple[Edge, ...]

    @property
    def degree(self) -> int:
        """Number of edges d."""
        return len(self.edges)

    def components(self) -> list[Graph]:
        """Connected components, each relabelled 0..n_c-1 (isolated vertices are single-vertex graphs)."""
        parent = list(range(self.n))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for a, b in self.edges:
            parent[find(a)] = find(b)
        groups: dict[int, list[int]] = {}
        for v in range(self.n):
            groups.setdefault(find(v), []).append(v)
        out = []
        for verts in groups.values():
            relabel = {v: i for i, v in enumerate(verts)}
            es = [(relabel[a], relabel[b]) for a, b in self.edges if a in relabel]
            out.append(canonical(len(verts), es))
        return sorted(out, key=_order)

    @property
    def connected(self) -> bool:
        return len(self.components()) == 1


def canonical(n: int, edges: list[Edge] | tuple[Edge, ...]) -> Graph:
    """The canonical form of a multigraph: the smallest sorted edge list over the relabellings that
    order vertices by an isomorphism-invariant signature (degree, then neighbours' degrees)."""
    deg = [0] * n
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        deg[a] += 1
        deg[b] += 1
        nbrs[a].append(b)
        nbrs[b].append(a)
    sig = [(deg[v], tuple(sorted(deg[u] for u in nbrs[v]))) for v in range(n)]
    classes: dict[tuple, list[int]] = {}
    for v in range(n):
        classes.setdefault(sig[v], []).append(v)
    groups = [classes[k] for k in sorted(classes)]
    best = None
    for choice in itertools.product(*(itertools.permutations(g) for g in groups)):
        new_label = {}
        for v in itertools.chain.from_iterable(choice):
            new_label[v] = len(new_label)
        form = tuple(sorted((min(new_label[a], new_label[b]), max(new_label[a], new_label[b])) for a, b in edges))
        if best is None or form < best:
            best = form
    return Graph(n, best or ())


def _multiplicities(g: Graph) -> set[int]:
    counts: dict[Edge, int] = {}
    for e in g.edges:
        counts[e] = counts.get(e, 0) + 1
    return set(counts.values())


def _order(g: Graph) -> tuple[int, int, tuple[Edge, ...]]:
    return (g.degree, g.n, g.edges)


@functools.cache
def _connected_graphs(d_max: int) -> tuple[Graph, ...]:
    layers = [{Graph(1, ())}]
    for _ in range(d_max):
        nxt = set()
        for g in layers[-1]:
            for a, b in itertools.combinations(range(g.n), 2):
                nxt.add(canonical(g.n, g.edges + ((a, b),)))
            for a in range(g.n):
                nxt.add(canonical(g.n + 1, g.edges + ((a, g.n),)))
        layers.append(nxt)
    return tuple(sorted((g for layer in layers for g in layer), key=_order))


def efp_graphs(d_max: int = 5, connected_only: bool = False) -> list[Graph]:
    """All multigraphs with d <= d_max edges and no isolated vertices, ordered by degree.

    The first is the single vertex (d = 0, whose EFP is sum z_i = 1). With ``connected_only=False``
    the products of connected graphs of total degree <= d_max are included: 102 graphs for
    d_max = 5, the same set as energyflow's ``EFPSet('d<=5')``.
    """
    if not 1 <= d_max <= 7:
        raise ConfigError(f"EFP degree must lie in 1..7, got {d_max}")
    prime = list(_connected_graphs(d_max))
    if connected_only:
        return prime
    out = list(prime)
    prime = [g for g in prime if g.degree >= 1]

    def extend(start: int, budget: int, combo: list[Graph]) -> None:
        if len(combo) >= 2:
            edges: list[Edge] = []
            off = 0
            for g in combo:
                edges += [(a + off, b + off) for a, b in g.edges]
                off += g.n
            out.append(Graph(off, tuple(sorted(edges))))  # components in canonical order: unique already
        for i in range(start, len(prime)):
            if prime[i].degree <= budget:
                extend(i, budget - prime[i].degree, combo + [prime[i]])

    extend(0, d_max, [])
    return sorted(set(out), key=_order)


def series_parallel(g: Graph) -> bool:
    """Whether every connected component of ``g`` can be summed one vertex of at most two distinct
    neighbours at a time (true for every graph of degree <= 5; from degree 6 on, graphs with the complete
    graph K4 as a minor, such as K4 itself, are not, and :class:`EFPSet` computes them only in O(N^4))."""
    try:
        for c in g.components():
            _elimination_plan(c)
    except ConfigError:
        return False
    return True


def _elimination_plan(g: Graph) -> list[tuple[int, tuple[int, ...]]]:
    """An order in which to sum over the vertices: each step removes a vertex with at most two
    distinct neighbours (always possible for d <= 5: such graphs are series-parallel)."""
    nbrs = {v: set() for v in range(g.n)}
    for a, b in g.edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    plan = []
    alive = set(range(g.n))
    while alive:
        v = min(alive, key=lambda u: (len(nbrs[u]), u))
        ns = tuple(sorted(nbrs[v]))
        if len(ns) > 2:
            raise ConfigError(f"EFP graph {g.edges} is not series-parallel (it has K4 as a minor); pass "
                              "series_parallel_only=True to EFPSet to leave such graphs of degree 6 and 7 out")
        plan.append((v, ns))
        for u in ns:
            nbrs[u].discard(v)
        if len(ns) == 2:
            nbrs[ns[0]].add(ns[1])
            nbrs[ns[1]].add(ns[0])
        alive.discard(v)
        del nbrs[v]
    return plan


def _transpose(key: tuple) -> tuple:
    if key[0] == "t":  # powers of theta are symmetric
        return key
    if key[0] == "T":
        return key[1]
    return ("T", key)


def _product(a: tuple, b: tuple) -> tuple:
    return ("x", *sorted((a, b), key=repr))


def _evaluate(key: tuple, cache: dict[tuple, np.ndarray]) -> np.ndarray:
    """Value of a symbolic expression over z and powers of theta, memoised in ``cache``."""
    if key in cache:
        return cache[key]
    kind = key[0]
    if kind == "T":
        val = np.swapaxes(_evaluate(key[1], cache), 1, 2)
    elif kind == "x":
        val = _evaluate(key[1], cache) * _evaluate(key[2], cache)
    elif kind == "mv":  # sum_j M_ij v_j
        val = np.matmul(_evaluate(key[1], cache), _evaluate(key[2], cache)[:, :, None])[:, :, 0]
    elif kind == "mm":  # sum_j A_ij v_j B_jk
        val = np.matmul(_evaluate(key[1], cache) * _evaluate(key[2], cache)[:, None, :], _evaluate(key[3], cache))
    elif kind == "sum":
        val = _evaluate(key[1], cache).sum(axis=1)
    else:
        raise KeyError(key)
    cache[key] = val
    return val


def _contract(g: Graph, plan: list[tuple[int, tuple[int, ...]]], cache: dict[tuple, np.ndarray]) -> np.ndarray:
    """EFP_G for a chunk. ``cache`` holds z under ("z",) and theta^k under ("t", k) and collects the
    intermediate vectors and matrices, so that graphs sharing a sub-structure compute it once."""
    vec: dict[int, tuple] = {v: ("z",) for v in range(g.n)}
    mats: dict[tuple[int, int], tuple] = {}  # (u, w) with u < w: expression indexed [i_u, i_w]
    for e in g.edges:
        mats[e] = ("t", mats[e][1] + 1) if e in mats else ("t", 1)

    def get(u: int, w: int) -> tuple:
        return mats[(u, w)] if u < w else _transpose(mats[(w, u)])

    factors = []
    for v, ns in plan:
        if len(ns) == 0:
            factors.append(("sum", vec[v]))
        elif len(ns) == 1:
            u = ns[0]
            vec[u] = _product(vec[u], ("mv", get(u, v), vec[v]))
            mats.pop((min(u, v), max(u, v)))
        else:
            u, w = ns
            new = ("mm", get(u, v), vec[v], get(v, w))
            mats.pop((min(u, v), max(u, v)))
            mats.pop((min(v, w), max(v, w)))
            mats[(u, w)] = _product(mats[(u, w)], new) if (u, w) in mats else new
        del vec[v]
    result = _evaluate(factors[0], cache)
    for f in factors[1:]:
        result = result * _evaluate(f, cache)
    return result


class EFPSet:
    """A set of EFPs, computed for many jets at once.

    Parameters
    ----------
    d_max
        Largest degree (number of edges), default 5.
    beta, kappa
        Angular and energy exponents (defaults 1, 1).
    connected_only
        Keep only the connected (prime) graphs.
    series_parallel_only
        Leave out the graphs that are not series-parallel (none up to degree 5; from degree 6 on, those
        with K4 as a minor, whose sums cost O(N^4)); :attr:`left_out` counts them. Without it such a
        graph is an error.
    max_elements
        Bound on (jets per chunk) x N^2, which sets the memory used.

    Examples
    --------
    >>> efps = EFPSet(d_max=5)
    >>> values = efps.compute(jets)          # shape (n_jets, len(efps))
    """

    def __init__(self, d_max: int = 5, *, beta: float = 1.0, kappa: float = 1.0, connected_only: bool = False,
                 series_parallel_only: bool = False, max_elements: int = 131_072) -> None:
        if beta <= 0 or kappa <= 0:
            raise ConfigError(f"EFP beta and kappa must be positive, got beta={beta}, kappa={kappa}")
        self.d_max, self.beta, self.kappa = d_max, beta, kappa
        graphs = efp_graphs(d_max, connected_only)
        self.graphs = [g for g in graphs if series_parallel(g)] if series_parallel_only else graphs
        self.left_out = len(graphs) - len(self.graphs)
        self.prime = [g for g in self.graphs if g.connected]
        self._prime_index = {g: i for i, g in enumerate(self.prime)}
        self._composite = [[self._prime_index[c] for c in g.components()] for g in self.graphs]
        self._plans = [_elimination_plan(g) for g in self.prime]
        self.max_elements = max_elements
        self.names = [f"efp_d{g.degree}_" + "".join(f"{a}{b}" for a, b in g.edges) for g in self.graphs]

    def __len__(self) -> int:
        return len(self.graphs)

    def _chunk(self, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
        cache: dict[tuple, np.ndarray] = {("z",): z, ("t", 1): theta}
        for k in sorted({m for g in self.prime for m in _multiplicities(g)}):
            if ("t", k) not in cache:
                cache[("t", k)] = theta**k
        out = np.empty((z.shape[0], len(self.prime)))
        for i, (g, plan) in enumerate(zip(self.prime, self._plans, strict=True)):
            out[:, i] = _contract(g, plan, cache)
        return out

    def compute(self, jets: ak.Array | FlatJets) -> np.ndarray:
        """EFP values, shape ``(n_jets, len(self))``, columns in the order of :attr:`graphs`."""
        f = jets if isinstance(jets, FlatJets) else flat_jets(jets)
        counts = f.counts
        n_jets = f.n_jets
        prime_vals = np.zeros((n_jets, len(self.prime)))
        order = np.argsort(counts, kind="stable")
        start = 0
        while start < n_jets:
            # grow the chunk while the padded size stays inside the budget
            stop = start + 1
            while stop < n_jets and (stop - start + 1) * max(int(counts[order[stop]]), 1) ** 2 <= self.max_elements:
                stop += 1
            idx = order[start:stop]
            n_pad = max(int(counts[idx].max()), 1)
            b = len(idx)
            z = np.zeros((b, n_pad))
            y = np.zeros((b, n_pad))
            phi = np.zeros((b, n_pad))
            pos = np.concatenate([np.arange(c) for c in counts[idx]]) if counts[idx].sum() else np.zeros(0, int)
            rows = np.repeat(np.arange(b), counts[idx])
            src = np.concatenate([np.arange(f.offsets[j], f.offsets[j + 1]) for j in idx]) if len(pos) else np.zeros(0, int)
            z[rows, pos] = f.pt[src] ** self.kappa
            y[rows, pos] = f.rap[src]
            phi[rows, pos] = f.phi[src]
            tot = z.sum(axis=1, keepdims=True)
            z /= np.where(tot > 0, tot, 1.0)
            dy = y[:, :, None] - y[:, None, :]
            dphi = delta_phi(phi[:, :, None], phi[:, None, :])
            theta = np.sqrt(dy**2 + dphi**2)
            if self.beta != 1.0:
                theta = theta**self.beta
            prime_vals[idx] = self._chunk(z, theta)
            start = stop
        out = np.empty((n_jets, len(self.graphs)))
        for i, comp in enumerate(self._composite):
            out[:, i] = np.prod(prime_vals[:, comp], axis=1)
        return out


def efp(jets: ak.Array | FlatJets, edges: list[Edge], beta: float = 1.0, kappa: float = 1.0) -> np.ndarray:
    """One EFP given by its edge list, e.g. ``[(0, 1), (1, 2)]``; shape ``(n_jets,)``."""
    n = max((max(a, b) for a, b in edges), default=0) + 1
    g = canonical(n, list(edges))
    s = EFPSet.__new__(EFPSet)
    s.d_max, s.beta, s.kappa, s.max_elements = g.degree, beta, kappa, 131_072
    s.graphs = [g]
    s.prime = g.components()
    s._prime_index = {c: i for i, c in enumerate(s.prime)}
    s._composite = [[s._prime_index[c] for c in g.components()]]
    s._plans = [_elimination_plan(c) for c in s.prime]
    s.names = ["efp"]
    return s.compute(jets)[:, 0]
