"""OmniFold: unbinned, multi-dimensional unfolding by iterated classifier reweighting (Andreassen,
Komiske, Metodiev, Nachman, Thaler, arXiv:1911.09107), in PyTorch, every classifier trained by the
one trainer (:func:`hepdl.train.train`, each a normal model directory).

Dimensions: n simulated entries, m data entries, F observables per level.

Iteration k, with the simulation's particle-level ("push") weights nu_{k-1} (nu_0 = 1):

1. **Step 1** (detector level): a classifier separates the data from the simulation weighted by
   nu_{k-1}, on the entries that pass at detector level; omega_k = nu_{k-1} f / (1 - f) (the
   likelihood-ratio trick) — the "pull" weights.
2. **Step 1b** (misses): a simulated event without a passing detector-level jet has no step-1 ratio;
   a classifier of omega_k against nu_{k-1} at particle level, on the entries with both levels, gives
   it one from its particle level (the efficiency treatment of Andreassen et al., arXiv:2105.04448).
3. **Step 2** (particle level): a classifier separates the simulation weighted by omega_k from the
   simulation weighted by nu_{k-1}, on the entries passing at particle level; nu_k = nu_{k-1} f / (1 - f).
   Fakes (a detector-level jet without a particle-level one) keep nu_k = omega_k.

The fixes the public (TensorFlow) ``omnifold`` package's users ask for: weights start uniform and
are carried, never reset; each step's classifier starts from the previous iteration's weights (a
warm start, ``warm_start``) rather than afresh; misses and fakes are flags, never sentinel values
fed to a network. Ratios are clipped to [1/``clip``, ``clip``].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepdl.errors import ConfigError, DataError
from hepdl.features.inputs import check_finite

__all__ = ["OmniFoldConfig", "OmniFoldResult", "omnifold"]

log = logging.getLogger("hepdl")


@dataclass
class OmniFoldConfig:
    """Settings of :func:`omnifold`: iterations, the classifier (a ``features`` model of the registry
    and its preset) and its training, the ratio clip and the warm start."""

    iterations: int = 3
    model: str = "dnn"
    preset: str = "paper"
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 2e-3
    patience: int = 3
    seed: int = 1
    clip: float = 20.0
    warm_start: bool = True
    model_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ConfigError(f"OmniFold needs iterations >= 1, got {self.iterations!r}")
        if not self.clip > 1:
            raise ConfigError(f"OmniFold's ratio clip must be > 1, got {self.clip}")


@dataclass
class OmniFoldResult:
    """``push[k]``: the simulation's particle-level weights after iteration k+1 (n,); ``pull[k]``: its
    detector-level weights of step 1 (n,); ``steps``: the model directories of the classifiers."""

    push: list[np.ndarray]
    pull: list[np.ndarray]
    steps: list[Path]

    @property
    def weights(self) -> np.ndarray:
        """The final particle-level weights of the simulated entries."""
        return self.push[-1]


def _ratio(model_dir: Path, frame: pd.DataFrame, clip: float) -> np.ndarray:
    """f / (1 - f) of a trained classifier on the rows of ``frame``, clipped."""
    from hepdl.data.table import TableDataset
    from hepdl.train.trainer import load_trained, model_inputs, score_inputs

    _, pre, model = load_trained(model_dir)
    f = score_inputs(model, model_inputs(TableDataset(frame, path=str(model_dir)), pre))
    f = np.clip(f, 1e-6, 1 - 1e-6)
    return np.clip(f / (1 - f), 1.0 / clip, clip)


def _classify(frame0: pd.DataFrame, w0: np.ndarray, frame1: pd.DataFrame, w1: np.ndarray, out: Path, cfg: OmniFoldConfig,
              warm: Path | None, progress: bool) -> Path:
    """Train a classifier of class 1 (``frame1`` weighted ``w1``) against class 0 into ``out``."""
    from hepdl.data.table import TableDataset
    from hepdl.train import TrainConfig, train

    frame = pd.concat([frame0, frame1], ignore_index=True)
    labels = np.concatenate([np.zeros(len(frame0), np.int64), np.ones(len(frame1), np.int64)])
    ds = TableDataset(frame, labels, np.concatenate([w0, w1]), path=str(out), label_names=["reference", "target"])
    tc = TrainConfig(cfg.model, preset=cfg.preset, model_config=dict(cfg.model_config), epochs=cfg.epochs, batch_size=cfg.batch_size,
                     lr=cfg.lr, patience=cfg.patience, seed=cfg.seed, split_seed=cfg.seed, fractions=(0.7, 0.2, 0.1),
                     n_bootstrap=0, init_from=str(warm) if (warm is not None and cfg.warm_start) else None)
    train(tc, ds, out, progress=progress)
    return out


def omnifold(sim_gen: pd.DataFrame, sim_reco: pd.DataFrame, gen_pass: np.ndarray, reco_pass: np.ndarray,
             data_reco: pd.DataFrame, out: str | Path, config: OmniFoldConfig | None = None, *,
             sim_weights: np.ndarray | None = None, data_weights: np.ndarray | None = None, progress: bool = True) -> OmniFoldResult:
    """Unfold ``data_reco`` with the simulation (module docstring).

    Parameters
    ----------
    sim_gen, sim_reco
        (n, F) the simulated entries' observables at particle and detector level (rows where a level
        does not pass are ignored at that level; NaN allowed there).
    gen_pass, reco_pass
        (n,) whether each simulated event passes at particle / detector level; an entry passing at
        both is a pair (its detector level is the reconstruction of its particle level).
    data_reco
        (m, F) the data's detector-level observables (every row passes).
    out
        Directory for the classifiers: ``<out>/iter<k>-step1``, ``-step1b``, ``-step2``.
    sim_weights, data_weights
        Event weights (default 1).

    Returns
    -------
    OmniFoldResult
        The push and pull weights of every iteration.
    """
    cfg = config or OmniFoldConfig()
    gen_pass, reco_pass = np.asarray(gen_pass, bool), np.asarray(reco_pass, bool)
    n = len(sim_gen)
    if len(sim_reco) != n or len(gen_pass) != n or len(reco_pass) != n:
        raise DataError(f"OmniFold: sim_gen, sim_reco, gen_pass and reco_pass need the same rows; got {n}, {len(sim_reco)}, "
                        f"{len(gen_pass)}, {len(reco_pass)}")
    if list(sim_reco.columns) != list(data_reco.columns):
        raise DataError(f"OmniFold: the data's columns {list(data_reco.columns)} differ from the simulation's {list(sim_reco.columns)}")
    if not (gen_pass | reco_pass).all():
        raise DataError(f"OmniFold: {int((~(gen_pass | reco_pass)).sum())} simulated entries pass at neither level")
    for name, df in (("sim_gen", sim_gen[gen_pass]), ("sim_reco", sim_reco[reco_pass]), ("data_reco", data_reco)):
        check_finite(df, f"OmniFold: {name}, the rows that pass at its level")  # before any classifier trains
    out = Path(out)
    w_sim = np.ones(n) if sim_weights is None else np.asarray(sim_weights, dtype=np.float64)
    w_data = np.ones(len(data_reco)) if data_weights is None else np.asarray(data_weights, dtype=np.float64)
    both = gen_pass & reco_pass
    miss = gen_pass & ~reco_pass
    fake = reco_pass & ~gen_pass
    reco_rows, gen_rows = sim_reco[reco_pass].reset_index(drop=True), sim_gen[gen_pass].reset_index(drop=True)
    both_rows = sim_gen[both].reset_index(drop=True)
    push_w = w_sim.copy()
    result = OmniFoldResult([], [], [])
    prev: dict[str, Path] = {}
    for k in range(1, cfg.iterations + 1):
        # step 1: data against the simulation pushed so far, at detector level
        d1 = _classify(reco_rows, push_w[reco_pass], data_reco.reset_index(drop=True), w_data, out / f"iter{k}-step1", cfg,
                       prev.get("step1"), progress)
        pull_w = push_w.copy()
        r1 = _ratio(d1, reco_rows, cfg.clip)
        # the classifier compares shapes (both classes trained with equal totals): the pull keeps the push's total
        pull_w[reco_pass] = push_w[reco_pass] * r1 * (push_w[reco_pass].sum() / max((push_w[reco_pass] * r1).sum(), 1e-300))
        result.steps.append(d1)
        # step 1b: the misses get a pull weight from their particle level
        if miss.any() and both.any():
            d1b = _classify(both_rows, push_w[both], both_rows, pull_w[both], out / f"iter{k}-step1b", cfg, prev.get("step1b"), progress)
            norm = pull_w[both].sum() / max(push_w[both].sum(), 1e-300)  # the classifier saw both classes with equal totals
            pull_w[miss] = push_w[miss] * norm * _ratio(d1b, sim_gen[miss].reset_index(drop=True), cfg.clip)
            result.steps.append(d1b)
            prev["step1b"] = d1b
        # step 2: pull at particle level into a function of the particle level
        d2 = _classify(gen_rows, push_w[gen_pass], gen_rows, pull_w[gen_pass], out / f"iter{k}-step2", cfg, prev.get("step2"), progress)
        new_push = push_w.copy()
        norm = pull_w[gen_pass].sum() / max(push_w[gen_pass].sum(), 1e-300)
        new_push[gen_pass] = push_w[gen_pass] * norm * _ratio(d2, gen_rows, cfg.clip)
        new_push[fake] = pull_w[fake]
        result.steps.append(d2)
        prev.update(step1=d1, step2=d2)
        push_w = new_push
        result.pull.append(pull_w)
        result.push.append(push_w)
        log.info("omnifold iteration %d: pull weights %.3f +- %.3f, push weights %.3f +- %.3f", k, pull_w[reco_pass].mean(),
                 pull_w[reco_pass].std(), push_w[gen_pass].mean(), push_w[gen_pass].std())
    return result
