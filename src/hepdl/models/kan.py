"""Kolmogorov-Arnold networks, ``kan`` on a vector of observables (Liu et al., arXiv:2404.19756).

Dimensions: B entries, F inputs, O outputs, I inputs and J outputs of one layer (H hidden nodes
between layers), G grid intervals, K spline order (the polynomial degree; 3 is cubic), C = G + K
spline coefficients of one edge, M = G + 2K + 1 knots, N points of a one-dimensional fit, P
candidate (b, c) pairs of a symbolic fit.

A KAN puts its non-linearities on the edges instead of the nodes: every edge i -> j of a layer is a
learned function of one variable, phi_ji(x) = w_base_ji * silu(x) + w_spline_ji * sum_c coef_jic B_c(x),
with B_c the B-splines of order K on a uniform grid of G intervals over ``grid_range``, and a node
sums its incoming edges (plus a bias). The networks here keep the grid fixed: inputs are standardised
features, so the default range (-3, 3) holds nearly all of them.

Outside the grid the spline term fades and then vanishes: between ``grid_range`` and K grid
intervals beyond it only some B-splines remain (they no longer sum to one), further out none does,
and an edge is then ``w_base * silu(x)``, the base term that carries the extrapolation (linear for
large x, zero for very negative x). Inputs are not clamped. Hidden nodes are sums of edges and
may leave the grid of the next layer; their base terms then carry them in the same way.

Because every edge is a function of one variable, a trained KAN can be read: :func:`symbolic_fit`
matches one edge to the best of a small library of functions, ``a * f(b * x + c) + d``, and
:func:`symbolic_model` / :func:`formula` do it for every edge of a network and give a numpy
callable and a readable formula (the "symbolic" part of arXiv:2404.19756).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["KAN", "KANLayer", "LIBRARY", "Primitive", "SymbolicEdge", "SymbolicKAN", "bspline_bases", "eval_spline_1d",
           "fit_spline_1d", "formula", "symbolic_fit", "symbolic_model", "uniform_knots"]


# --- B-splines -----------------------------------------------------------------------------------

def uniform_knots(grid: int, order: int, grid_range: Sequence[float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Knots of a uniform grid of ``grid`` intervals over ``grid_range``, extended by ``order`` knots each side.

    Parameters
    ----------
    grid
        G, the number of intervals inside ``grid_range``.
    order
        K, the spline order (degree).
    grid_range
        (low, high) of the grid.
    dtype
        Floating type of the knots.

    Returns
    -------
    torch.Tensor
        (M,) knots, M = G + 2K + 1, increasing; the G + K B-splines they define sum to one on ``grid_range``
        (for order 0, the indicators of half-open intervals, on [low, high)).
    """
    lo, hi = (float(v) for v in grid_range)
    if grid < 1 or order < 0 or not hi > lo:
        raise ValueError(f"a spline grid needs grid >= 1, order >= 0 and low < high; got grid={grid}, order={order}, "
                         f"grid_range={tuple(grid_range)}")
    step = (hi - lo) / grid
    return lo + step * torch.arange(-order, grid + order + 1, dtype=dtype)


def bspline_bases(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """B-splines of order ``order`` on ``knots`` at every entry of ``x`` (Cox-de Boor recursion).

    Order 0 is the indicator of the half-open knot interval [t_m, t_m+1); each further order mixes two
    neighbours of the previous one with linear weights. The recursion loops over the order only, every
    entry of ``x`` at once, with no branch on the data (it traces for ONNX and TorchScript).

    Parameters
    ----------
    x
        (...) any shape.
    knots
        (M,) increasing knots, no two equal (as :func:`uniform_knots` gives).
    order
        K.

    Returns
    -------
    torch.Tensor
        (..., M - K - 1) B-spline values, of the dtype of ``x``; all zero outside [t_0, t_M-1).
    """
    t = knots.to(x.dtype)
    u = x.unsqueeze(-1)
    bases = ((u >= t[:-1]) & (u < t[1:])).to(x.dtype)  # (..., M - 1)
    for p in range(1, order + 1):
        left = (u - t[: -(p + 1)]) / (t[p:-1] - t[: -(p + 1)])
        right = (t[p + 1:] - u) / (t[p + 1:] - t[1:-p])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


def fit_spline_1d(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, grid: int = 5, order: int = 3,
                  grid_range: Sequence[float] = (-3.0, 3.0), ridge: float = 1e-10) -> torch.Tensor:
    """Least-squares spline coefficients of one edge: y ~ sum_c coef_c B_c(x).

    Parameters
    ----------
    x, y
        (N,) samples of the function.
    grid, order, grid_range
        The spline grid (as :class:`KANLayer`).
    ridge
        A small Tikhonov term that keeps coefficients without samples (B-splines the points miss) at zero.

    Returns
    -------
    torch.Tensor
        (C,) coefficients in float64, C = G + K; evaluate them with :func:`eval_spline_1d`.
    """
    xt = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
    yt = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    if xt.shape != yt.shape or xt.numel() == 0:
        raise ValueError(f"x and y must be non-empty and of one length; got {tuple(xt.shape)} and {tuple(yt.shape)}")
    design = bspline_bases(xt, uniform_knots(grid, order, grid_range, torch.float64), order)  # (N, C)
    n_coef = design.shape[1]
    design = torch.cat([design, math.sqrt(ridge) * torch.eye(n_coef, dtype=torch.float64)])
    target = torch.cat([yt, torch.zeros(n_coef, dtype=torch.float64)])
    return torch.linalg.lstsq(design, target.unsqueeze(1)).solution[:, 0]


def eval_spline_1d(x: np.ndarray | torch.Tensor, coef: torch.Tensor, grid: int = 5, order: int = 3,
                   grid_range: Sequence[float] = (-3.0, 3.0)) -> torch.Tensor:
    """The spline sum_c coef_c B_c(x): (N,) points and (C,) coefficients -> (N,) values (dtype of ``coef``)."""
    xt = torch.as_tensor(x, dtype=coef.dtype).reshape(-1)
    return bspline_bases(xt, uniform_knots(grid, order, grid_range, coef.dtype), order) @ coef


# --- the network ---------------------------------------------------------------------------------

class KANLayer(nn.Module):
    """One KAN layer, (B, I) -> (B, J): out_j = bias_j + sum_i phi_ji(x_i) (arXiv:2404.19756, eq. 2.10).

    phi_ji(x) = w_base_ji * silu(x) + w_spline_ji * sum_c coef_jic B_c(x), with the B-splines of order
    ``order`` on a uniform grid of ``grid`` intervals over ``grid_range`` (extended by ``order`` knots each
    side). Parameters: I * J * (G + K + 2) + J.

    Parameters
    ----------
    n_in, n_out
        I and J.
    grid
        G, grid intervals.
    order
        K, spline order (3: cubic).
    grid_range
        (low, high) of the grid, in the units of the layer's inputs (standardised features: (-3, 3)).
    """

    knots: torch.Tensor

    def __init__(self, n_in: int, n_out: int, grid: int = 5, order: int = 3,
                 grid_range: Sequence[float] = (-3.0, 3.0)) -> None:
        super().__init__()
        if n_in < 1 or n_out < 1:
            raise ValueError(f"a KAN layer needs at least one input and one output; got {n_in} -> {n_out}")
        self.n_in, self.n_out, self.grid, self.order = int(n_in), int(n_out), int(grid), int(order)
        self.grid_range = (float(grid_range[0]), float(grid_range[1]))
        self.register_buffer("knots", uniform_knots(self.grid, self.order, self.grid_range))
        n_coef = self.grid + self.order
        bound = 1.0 / math.sqrt(n_in)
        self.coef = nn.Parameter(0.1 * bound * torch.randn(n_out, n_in, n_coef))  # (J, I, C): small splines at start
        self.w_base = nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound))  # (J, I), as nn.Linear
        self.w_spline = nn.Parameter(torch.ones(n_out, n_in))  # (J, I)
        self.bias = nn.Parameter(torch.zeros(n_out))  # (J,)

    def bases(self, x: torch.Tensor) -> torch.Tensor:
        """B-spline values of every input: (B, I) -> (B, I, C)."""
        return bspline_bases(x, self.knots, self.order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, I) -> (B, J)."""
        weights = (self.coef * self.w_spline.unsqueeze(-1)).flatten(1)  # (J, I * C)
        spline = self.bases(x).flatten(1) @ weights.t()
        return nn.functional.silu(x) @ self.w_base.t() + spline + self.bias

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """Every edge's function at the inputs: (B, I) -> (B, J, I), phi_ji(x_bi).

        ``edge_values(x).sum(-1) + bias`` is ``forward(x)``.
        """
        spline = torch.einsum("bic,jic->bji", self.bases(x), self.coef)
        return self.w_base * nn.functional.silu(x).unsqueeze(1) + self.w_spline * spline

    def edge(self, i: int, j: int, x: torch.Tensor) -> torch.Tensor:
        """The edge from input ``i`` to output ``j`` as a function of one variable: (N,) -> (N,)."""
        base = self.w_base[j, i] * nn.functional.silu(x)
        return base + self.w_spline[j, i] * (bspline_bases(x, self.knots, self.order) @ self.coef[j, i])

    def extra_repr(self) -> str:
        return f"{self.n_in} -> {self.n_out}, grid={self.grid}, order={self.order}, grid_range={self.grid_range}"


class KAN(nn.Module):
    """Kolmogorov-Arnold network on a vector of observables: (B, F) -> (B, O) logits (arXiv:2404.19756).

    Layers F -> hidden... -> O of :class:`KANLayer`, with no activation between them (the edges are the
    non-linearities). ``hidden=()`` is a single layer, an additive model sum_i phi_i(x_i). The same
    contract as :class:`hepdl.models.dense.DNN`: the trainer passes ``n_inputs`` and ``n_outputs``.

    Parameters
    ----------
    n_inputs
        F, standardised input features.
    hidden
        Nodes of each hidden layer.
    n_outputs
        O, logits (1 for two classes).
    grid, order, grid_range
        The spline grid of every layer (see :class:`KANLayer`).
    """

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (8,), n_outputs: int = 1, grid: int = 5, order: int = 3,
                 grid_range: Sequence[float] = (-3.0, 3.0)) -> None:
        super().__init__()
        sizes = [int(n_inputs), *(int(h) for h in hidden), int(n_outputs)]
        self.n_inputs, self.n_outputs = sizes[0], sizes[-1]
        self.layers = nn.ModuleList(KANLayer(a, b, grid, order, grid_range) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, O)."""
        for layer in self.layers:
            x = layer(x)
        return x


# --- symbolic fits -------------------------------------------------------------------------------

_LOG_EPS = 1e-3


@dataclass(frozen=True)
class Primitive:
    """A candidate function f of a symbolic fit y ~ a * f(b * x + c) + d.

    ``scale``/``shift``: whether b / c are searched (else b = 1 / c = 0, when a and d absorb them);
    ``signed_scale``: b of both signs (else b > 0, enough for odd and even f); ``period``: c is searched
    over one half period (with the sign of a) instead of the range of x. ``template`` writes f of a text
    argument: ``{}`` is the argument, ``{p}`` the argument in parentheses unless it is a bare name.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    template: str
    scale: bool = False
    shift: bool = False
    signed_scale: bool = False
    period: float | None = None


def _zero(z: np.ndarray) -> np.ndarray:
    return np.zeros_like(z)


#: The default library, simplest first: among fits as good (within ``tol`` in R^2) the simplest wins.
LIBRARY: dict[str, Primitive] = {p.name: p for p in (
    Primitive("0", _zero, "0"),
    Primitive("x", lambda z: z, "{}"),
    Primitive("x^2", np.square, "{p}^2", shift=True),
    Primitive("x^3", lambda z: z ** 3, "{p}^3", shift=True),
    Primitive("abs", np.abs, "|{}|", shift=True),
    Primitive("sqrt", lambda z: np.sqrt(np.abs(z)), "sqrt(|{}|)", shift=True),
    Primitive("exp", lambda z: np.exp(np.clip(z, -50.0, 50.0)), "exp({})", scale=True, signed_scale=True),
    Primitive("log", lambda z: np.log(np.abs(z) + _LOG_EPS), f"log(|{{}}| + {_LOG_EPS:g})", shift=True),
    Primitive("tanh", np.tanh, "tanh({})", scale=True, shift=True),
    Primitive("sin", np.sin, "sin({})", scale=True, shift=True, period=2 * math.pi),
)}


def _linear_fit(prim: Primitive, x: np.ndarray, y: np.ndarray, b: np.ndarray,
                c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R^2, a and d of the best y ~ a * f(b * x + c) + d for each pair: (N,), (N,), (P,), (P,) -> 3 x (P,)."""
    with np.errstate(all="ignore"):
        f = prim.fn(b[:, None] * x[None, :] + c[:, None])  # (P, N)
        mean = f.mean(axis=1)
        fc = f - mean[:, None]
        yc = y - y.mean()
        var, cov, sst = (fc * fc).sum(axis=1), (fc * yc).sum(axis=1), float((yc * yc).sum())
        ok = np.isfinite(var) & np.isfinite(cov) & (var > 1e-10 * (f * f).sum(axis=1)) & (var > 0)
        r2 = np.where(ok, cov * cov / np.where(ok, var, 1.0) / sst, -np.inf)
        a = np.where(ok, cov / np.where(ok, var, 1.0), 0.0)
        d = y.mean() - a * mean
    return r2, a, d


def _fit_one(prim: Primitive, x: np.ndarray, y: np.ndarray, rounds: int = 40) -> tuple[tuple[float, float, float, float], float]:
    """The best (a, b, c, d) of one primitive and its R^2: a coarse grid, then a pattern search around the best.

    The search runs in u = log|b| and v, the centre x0 = -c / b of f (or c itself for a periodic f),
    in which the two are nearly independent; a 5 x 5 grid around the best point moves with it and
    halves its steps whenever the best stays inside.
    """
    if prim.name == "0":
        return (0.0, 1.0, 0.0, float(y.mean())), 0.0
    lo, hi = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-12)
    periodic = prim.period is not None
    sign = np.array([-1.0, 1.0]) if prim.signed_scale else np.ones(1)
    us = np.linspace(math.log(0.1), math.log(10.0), 25) if prim.scale else np.zeros(1)
    if not prim.shift:
        vs = np.zeros(1)
    elif prim.period is not None:
        vs = np.linspace(-prim.period / 4, prim.period / 4, 13)
    else:
        vs = np.linspace(lo - span / 4, hi + span / 4, 25)

    def to_bc(s: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = s * np.exp(u)
        return b, (v if periodic else -b * v)

    ss, uu, vv = (g.ravel() for g in np.meshgrid(sign, us, vs, indexing="ij"))
    r2, a, d = _linear_fit(prim, x, y, *to_bc(ss, uu, vv))
    k = int(np.argmax(r2))
    best_r2, best_s, best_u, best_v = float(r2[k]), float(ss[k]), float(uu[k]), float(vv[k])
    du = float(us[1] - us[0]) if prim.scale else 0.0
    dv = float(vs[1] - vs[0]) if prim.shift else 0.0
    su = np.linspace(-1.0, 1.0, 5) if prim.scale else np.zeros(1)
    sv = np.linspace(-1.0, 1.0, 5) if prim.shift else np.zeros(1)
    for _ in range(rounds if (prim.scale or prim.shift) else 0):
        uu, vv = np.meshgrid(best_u + du * su, best_v + dv * sv, indexing="ij")
        r2, _, _ = _linear_fit(prim, x, y, *to_bc(np.full(uu.size, best_s), uu.ravel(), vv.ravel()))
        k = int(np.argmax(r2))
        iu, iv = np.unravel_index(k, uu.shape)
        inside = (not prim.scale or 0 < iu < 4) and (not prim.shift or 0 < iv < 4)
        if r2[k] > best_r2:
            best_r2, best_u, best_v = float(r2[k]), float(uu.flat[k]), float(vv.flat[k])
        else:
            inside = True
        if inside:
            du, dv = du / 2, dv / 2
        if du < 1e-5 and dv < 1e-5 * span:  # parameters to about five digits
            break
    b, c = to_bc(np.array([best_s]), np.array([best_u]), np.array([best_v]))
    r2, a, d = _linear_fit(prim, x, y, b, c)
    av, bv, cv, dv_ = float(a[0]), float(b[0]), float(c[0]), float(d[0])
    if prim.period is not None:  # sin(z + k pi) = (-1)^k sin(z): c into [-pi/2, pi/2]
        turns = round(cv / (prim.period / 2))
        cv -= turns * prim.period / 2
        av *= (-1.0) ** turns
    return (av + 0.0, bv + 0.0, cv + 0.0, dv_ + 0.0), float(r2[0])  # + 0.0: no negative zeros


def _resolve(library: Iterable[str | Primitive] | None) -> list[Primitive]:
    """The primitives of a library given by names in :data:`LIBRARY` and/or :class:`Primitive` objects."""
    items = list(library) if library is not None else list(LIBRARY.values())
    unknown = [p for p in items if isinstance(p, str) and p not in LIBRARY]
    if unknown or not items:
        raise ValueError(f"a symbolic library is a non-empty list of {', '.join(LIBRARY)} or Primitive objects; got {items}")
    return [LIBRARY[p] if isinstance(p, str) else p for p in items]


def symbolic_fit(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float],
                 library: Iterable[str | Primitive] | None = None,
                 tol: float = 1e-4) -> tuple[str, tuple[float, float, float, float], float]:
    """The function of a small library that best matches samples of one edge: y ~ a * f(b * x + c) + d.

    For each candidate f, a grid search over (b, c), refined by zooming in around the best pair, with a
    and d solved by linear least squares at each pair (numpy only). The best R^2 wins, except that the
    simplest candidate within ``tol`` of it is preferred (the library is ordered simplest first). Odd
    and even f are fitted with b > 0, and sin with c in [-pi/2, pi/2], so the parameters are unique:
    3 sin(2x) + 1 gives ("sin", (3, 2, 0, 1), 1.0).

    Parameters
    ----------
    x, y
        (N,) samples.
    library
        Names in :data:`LIBRARY` (or :class:`Primitive` objects), simplest first; default all of :data:`LIBRARY`.
    tol
        R^2 a simpler candidate may lose to the best and still be chosen.

    Returns
    -------
    tuple
        (name, (a, b, c, d), R^2). A constant y gives ("0", (0, 1, 0, y), 1.0).
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if xs.shape != ys.shape or xs.size < 2 or not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError(f"symbolic_fit needs finite x and y of one length >= 2; got {xs.shape} and {ys.shape}")
    prims = _resolve(library)
    sst = float(((ys - ys.mean()) ** 2).sum())
    if sst <= 1e-24 * max(1.0, float((ys * ys).sum())):
        return "0", (0.0, 1.0, 0.0, float(ys.mean())), 1.0
    fits = [(p.name, *_fit_one(p, xs, ys)) for p in prims]
    top = max(r2 for _, _, r2 in fits)
    name, params, r2 = next(f for f in fits if f[2] >= top - tol)
    return name, params, max(r2, 0.0)


@dataclass(frozen=True)
class SymbolicEdge:
    """One fitted edge, a * f(b * x + c) + d, with the R^2 of the fit."""

    prim: Primitive
    a: float
    b: float
    c: float
    d: float
    r2: float

    @property
    def name(self) -> str:
        return self.prim.name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N,) -> (N,)."""
        if self.name == "0":
            return np.full(np.shape(x), self.d)
        with np.errstate(all="ignore"):
            return self.a * self.prim.fn(self.b * np.asarray(x, dtype=np.float64) + self.c) + self.d

    def term(self, arg: str, digits: int = 3) -> tuple[float, str]:
        """(coefficient, body) of the non-constant part: a * f(b * arg + c) as (a, "f(...)"), or (0, "") for "0".
        The linear function collapses to (a * b, arg); its constant a * c goes with ``d``."""
        if self.name == "0":
            return 0.0, ""
        if self.name == "x":
            return self.a * self.b, arg
        inner = _affine(arg, self.b, self.c, digits)
        return self.a, self.prim.template.format(inner, p=inner if inner.isidentifier() else f"({inner})")

    @property
    def constant(self) -> float:
        """The constant part: d (plus a * c for the linear function)."""
        return self.d + (self.a * self.c if self.name == "x" else 0.0)


def _num(v: float, digits: int) -> str:
    return f"{v:.{digits}g}"


def _negligible(v: float, digits: int) -> bool:
    """Whether an additive constant is zero to ``digits`` decimal places (then left out of the text)."""
    return abs(v) < 0.5 * 10.0 ** -digits


def _affine(arg: str, b: float, c: float, digits: int) -> str:
    """b * arg + c as text, with factors of one and negligible shifts left out."""
    s = arg if _num(b, digits) == "1" else ("-" + arg if _num(b, digits) == "-1" else f"{_num(b, digits)}*{arg}")
    if _negligible(c, digits):
        return s
    return f"{s} - {_num(-c, digits)}" if c < 0 else f"{s} + {_num(c, digits)}"


def _sum_text(terms: list[tuple[float, str]], constant: float, digits: int) -> str:
    """c1*body1 + c2*body2 ... + constant as text."""
    parts: list[str] = []
    for coef, body in terms:
        if not body or _num(coef, digits) in ("0", "-0"):
            continue
        mag = _num(abs(coef), digits)
        text = body if mag == "1" else f"{mag}*{body}"
        parts.append(("- " if coef < 0 else "+ ") + text)
    if not _negligible(constant, digits) or not parts:
        parts.append(("- " if constant < 0 else "+ ") + _num(abs(constant), digits))
    out = " ".join(parts)
    return out[2:] if out.startswith("+ ") else "-" + out[2:]


class SymbolicKAN:
    """A KAN with every edge replaced by its symbolic fit: a numpy callable (B, F) -> (B, O) on standardised inputs.

    Attributes
    ----------
    edges
        Per layer, (J, I) nested lists of :class:`SymbolicEdge` (edge i -> j at ``edges[l][j][i]``).
    biases
        Per layer, (J,) node biases.
    """

    def __init__(self, edges: list[list[list[SymbolicEdge]]], biases: list[np.ndarray]) -> None:
        self.edges, self.biases = edges, biases

    @property
    def n_inputs(self) -> int:
        return len(self.edges[0][0])

    @property
    def n_outputs(self) -> int:
        return len(self.edges[-1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(B, F) -> (B, O), in float64."""
        h = np.asarray(x, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != self.n_inputs:
            raise ValueError(f"symbolic KAN takes (B, {self.n_inputs}) inputs; got {h.shape}")
        for layer, bias in zip(self.edges, self.biases, strict=True):
            h = np.stack([sum((e(h[:, i]) for i, e in enumerate(row)), np.zeros(len(h))) + bias[j]
                          for j, row in enumerate(layer)], axis=1)
        return h

    def min_r2(self) -> float:
        """The worst R^2 of the edges kept (pruned edges, constants, count as 1)."""
        return min((e.r2 for layer in self.edges for row in layer for e in row if e.name != "0"), default=1.0)

    def formula(self, names: Sequence[str] | None = None, outputs: Sequence[str] | None = None, digits: int = 3) -> str:
        """The fitted network as text, one line per node: hidden nodes first (h0 = ...), then the outputs.

        Parameters
        ----------
        names
            F input names (default x0, x1, ...); the inputs are standardised, (x - mean) / std.
        outputs
            O output names (default y, or y0, y1, ...).
        digits
            Significant digits of the numbers shown (the callable keeps full precision).
        """
        n_layers = len(self.edges)
        names = list(names) if names is not None else [f"x{i}" for i in range(self.n_inputs)]
        if len(names) != self.n_inputs:
            raise ValueError(f"{len(names)} names for {self.n_inputs} inputs")
        if outputs is None:
            outputs = ["y"] if self.n_outputs == 1 else [f"y{o}" for o in range(self.n_outputs)]
        if len(outputs) != self.n_outputs:
            raise ValueError(f"{len(outputs)} output names for {self.n_outputs} outputs")
        lines: list[str] = []
        args = list(names)
        for li, (layer, bias) in enumerate(zip(self.edges, self.biases, strict=True)):
            last = li == n_layers - 1
            node_names = list(outputs) if last else [f"h{j}" if n_layers == 2 else f"h{li}_{j}" for j in range(len(layer))]
            for j, row in enumerate(layer):
                terms = [e.term(args[i], digits) for i, e in enumerate(row)]
                constant = float(bias[j]) + sum(e.constant for e in row)
                lines.append(f"{node_names[j]} = {_sum_text(terms, constant, digits)}")
            args = node_names
        return "\n".join(lines)


def _layers(model: nn.Module) -> list[KANLayer]:
    if isinstance(model, KANLayer):
        return [model]
    layers = [m for m in model.layers if isinstance(m, KANLayer)] if isinstance(model, KAN) else []
    if not layers:
        raise TypeError(f"symbolic fits take a KAN or a KANLayer, not {type(model).__name__}")
    return layers


def symbolic_model(model: nn.Module, x: np.ndarray | torch.Tensor | None = None, library: Iterable[str | Primitive] | None = None,
                   prune: float = 1e-2, n_points: int = 101, tol: float = 1e-4, seed: int = 0) -> SymbolicKAN:
    """Fit every edge of a KAN with :func:`symbolic_fit`: a numpy callable of the fitted formula.

    Each edge is sampled at ``n_points`` quantiles of the values its input takes on ``x`` (the first
    layer on ``x`` itself, later layers on the trained network's hidden nodes), so the fit weighs the
    region the data fill. An edge whose spread over these points is below ``prune`` times the largest
    edge's spread in its layer is replaced by its mean (a constant, as the pruning of arXiv:2404.19756).

    Parameters
    ----------
    model
        A :class:`KAN` (any depth) or one :class:`KANLayer`.
    x
        (B, F) standardised inputs the formula is meant for (e.g. a training sample); default 4096 draws of
        a standard normal (the standardised features), clipped to the first layer's grid.
    library, tol
        As :func:`symbolic_fit`.
    prune
        Relative spread below which an edge becomes a constant.
    n_points
        N, sample points per edge.
    seed
        Seed of the default sample.

    Returns
    -------
    SymbolicKAN
        Callable (B, F) -> (B, O); ``.formula(names)`` writes it out.
    """
    layers = _layers(model)
    lib = _resolve(library)
    by_name = {p.name: p for p in lib}
    first = layers[0]
    if x is None:
        draws = np.random.default_rng(seed).standard_normal((4096, first.n_in))
        x = np.clip(draws, *first.grid_range)
    p = next(model.parameters())
    h = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype=p.dtype, device=p.device)
    if h.ndim != 2 or h.shape[1] != first.n_in:
        raise ValueError(f"the sample must be (B, {first.n_in}); got {tuple(h.shape)}")
    levels = torch.linspace(0.0, 1.0, n_points, dtype=torch.float64)
    edges: list[list[list[SymbolicEdge]]] = []
    biases: list[np.ndarray] = []
    with torch.no_grad():
        for layer in layers:
            q = torch.quantile(h.double().cpu(), levels, dim=0).to(dtype=p.dtype, device=p.device)  # (N, I)
            values = layer.edge_values(q).double().cpu().numpy()  # (N, J, I)
            qs = q.double().cpu().numpy()
            spread = values.std(axis=0)  # (J, I)
            limit = prune * float(spread.max())
            rows: list[list[SymbolicEdge]] = []
            for j in range(layer.n_out):
                row = []
                for i in range(layer.n_in):
                    v = values[:, j, i]
                    if spread[j, i] <= limit or spread[j, i] == 0:
                        row.append(SymbolicEdge(LIBRARY["0"], 0.0, 1.0, 0.0, float(v.mean()), 1.0))
                        continue
                    name, (a, b, c, d), r2 = symbolic_fit(qs[:, i], v, lib, tol=tol)
                    row.append(SymbolicEdge(by_name.get(name, LIBRARY["0"]), a, b, c, d, r2))
                rows.append(row)
            edges.append(rows)
            biases.append(layer.bias.detach().double().cpu().numpy())
            h = layer(h)
    return SymbolicKAN(edges, biases)


def formula(model: nn.Module | SymbolicKAN, names: Sequence[str] | None = None, x: np.ndarray | torch.Tensor | None = None,
            digits: int = 3, **fit: Any) -> str:
    """A readable formula of a KAN (or of a fitted :class:`SymbolicKAN`): one line per node.

    Parameters
    ----------
    model
        A :class:`KAN` or :class:`KANLayer`, fitted here with :func:`symbolic_model` (``x`` and ``fit``
        passed on), or a :class:`SymbolicKAN` already fitted.
    names
        F input names (standardised inputs).
    digits
        Significant digits shown.

    Returns
    -------
    str
        E.g. "y = 0.912*tanh(1.3*tau32 - 0.21) + 0.5*(mass - 0.1)^2 - 0.33" for a one-layer KAN; with a
        hidden layer "h0 = ...", "h1 = ...", then "y = ..." of h0, h1, ...
    """
    sym = model if isinstance(model, SymbolicKAN) else symbolic_model(model, x, **fit)
    return sym.formula(names, digits=digits)
