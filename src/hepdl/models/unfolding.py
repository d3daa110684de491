"""Iterative Bayesian unfolding (D'Agostini, Nucl. Instrum. Meth. A362 (1995) 487; arXiv:1010.0632),
the physicist's binned unfolding (what RooUnfold's ``RooUnfoldBayes`` and pyunfold do), with the
detector's inefficiency (misses) and fakes taken from the simulation.

Dimensions: E detector-level (effect) bins, C particle-level (cause) bins, R bootstrap replicas.

With the response R_ec = P(detector bin e, matched | particle bin c) — its columns sum to the
efficiency eps_c, the chance that a particle-level jet in bin c has a matched detector-level jet —
and the fake fraction f_e of detector bin e, one iteration maps a particle-level estimate n_c to

    P(c | e) = R_ec n_c / sum_c' R_ec' n_c',     n_c' = (1 / eps_c) sum_e P(c | e) (1 - f_e) d_e,

starting from the simulation's particle-level distribution (the prior). A diagonal response with
no fakes and full efficiency returns the data after one iteration, whatever the prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepdl.errors import ConfigError
from hepdl.metrics.unfolding import bin_index as _bin

__all__ = ["Response", "response", "ibu", "ibu_replicas"]


@dataclass
class Response:
    """What IBU needs of the simulation, per observable.

    ``matrix`` (E, C): P(detector bin e, matched | particle bin c); ``efficiency`` (C,): its column
    sums; ``fake_fraction`` (E,): the share of fakes among the passing detector-level jets in bin e;
    ``prior`` (C,): the simulation's particle-level counts (passing jets); ``gen_edges``, ``reco_edges``.
    """

    matrix: np.ndarray
    efficiency: np.ndarray
    fake_fraction: np.ndarray
    prior: np.ndarray
    gen_edges: np.ndarray
    reco_edges: np.ndarray


def response(gen: np.ndarray, reco: np.ndarray, gen_pass: np.ndarray, reco_pass: np.ndarray, matched: np.ndarray,
             gen_edges: np.ndarray, reco_edges: np.ndarray, weights: np.ndarray | None = None) -> Response:
    """The :class:`Response` of one observable from simulated events.

    ``gen``/``reco``: the observable at each level (any value where the level does not pass);
    ``gen_pass``, ``reco_pass``, ``matched``: the dataset's flags; ``weights``: event weights.
    """
    w = np.ones(len(gen)) if weights is None else np.asarray(weights, dtype=np.float64)
    n_c, n_e = len(gen_edges) - 1, len(reco_edges) - 1
    gb = _bin(np.nan_to_num(gen), gen_edges)
    rb = _bin(np.nan_to_num(reco), reco_edges)
    prior = np.bincount(gb[gen_pass], weights=w[gen_pass], minlength=n_c).astype(np.float64)
    joint = np.zeros((n_e, n_c))
    np.add.at(joint, (rb[matched], gb[matched]), w[matched])
    matrix = joint / np.where(prior > 0, prior, 1.0)[None, :]
    reco_all = np.bincount(rb[reco_pass], weights=w[reco_pass], minlength=n_e).astype(np.float64)
    fake = reco_pass & ~matched
    fakes = np.bincount(rb[fake], weights=w[fake], minlength=n_e).astype(np.float64)
    fake_fraction = fakes / np.where(reco_all > 0, reco_all, 1.0)
    return Response(matrix, matrix.sum(axis=0), fake_fraction, prior, np.asarray(gen_edges, float), np.asarray(reco_edges, float))


def ibu(data: np.ndarray, resp: Response, n_iterations: int = 4, prior: np.ndarray | None = None) -> np.ndarray:
    """Unfold the detector-level counts ``data`` (E,) with ``n_iterations`` of D'Agostini's iteration
    (module docstring); returns the particle-level counts (C,). Bins the simulation never fills
    (zero efficiency) stay at zero."""
    if n_iterations < 1:
        raise ConfigError(f"IBU needs at least one iteration, got {n_iterations}")
    d = np.asarray(data, dtype=np.float64) * (1.0 - resp.fake_fraction)
    r = resp.matrix
    eff = resp.efficiency
    n = np.asarray(resp.prior if prior is None else prior, dtype=np.float64).copy()
    n = n / max(n.sum(), 1e-300) * d.sum()
    for _ in range(n_iterations):
        joint = r * n[None, :]  # (E, C)
        denom = joint.sum(axis=1, keepdims=True)
        post = joint / np.where(denom > 0, denom, 1.0)  # P(c | e)
        n = np.where(eff > 0, (post * d[:, None]).sum(axis=0) / np.where(eff > 0, eff, 1.0), 0.0)
    return n


def ibu_replicas(data_values: np.ndarray, resp: Response, n_iterations: int = 4, *, n_bootstrap: int = 50,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """IBU of an unbinned detector-level sample ``data_values`` (the passing jets' observable), and of
    ``n_bootstrap`` Poisson-bootstrap replicas of it (the data's statistical error propagated through
    the unfolding): ``(counts (C,), replica counts (R, C))``."""
    from hepdl.metrics.unfolding import poisson_replicas

    rb = _bin(np.asarray(data_values, dtype=np.float64), resp.reco_edges)
    n_e = len(resp.reco_edges) - 1
    central = ibu(np.bincount(rb, minlength=n_e).astype(np.float64), resp, n_iterations)
    reps = [ibu(np.bincount(rb, weights=b, minlength=n_e), resp, n_iterations) for b in poisson_replicas(len(rb), n_bootstrap, seed)]
    return central, np.array(reps) if reps else np.zeros((0, len(central)))
