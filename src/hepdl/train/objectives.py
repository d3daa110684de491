"""Training objectives: what a model learns, how it is judged, and what it outputs.

The trainer never asks which objective it holds. An :class:`Objective` owns

- its view of the data: :meth:`~Objective.targets` (class labels, continuous targets, or nothing)
  and :meth:`~Objective.check` (a classifier needs two classes in every split; an autoencoder is
  happy with one class),
- which entries it trains on (:meth:`~Objective.training_split`: an autoencoder learns the
  background only),
- its loss per event, the output it stores (``scores.npz``) and exports (the ONNX head),
- the figures of a history row and the metrics module it reports (:mod:`hepdl.metrics`).

Objectives are looked up by name in :data:`OBJECTIVES`; a new one is a subclass registered there,
with no edit to the trainer. Dimensions: B entries (jets, collisions, showers, ...), C classes, T targets, F features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepdl.errors import ConfigError, DataError
from hepdl.registry import Registry

__all__ = ["Objective", "Classify", "Regress", "Reconstruct", "Density", "Targets", "OBJECTIVES", "get_objective", "MIN_PER_SPLIT"]

#: Fewest entries a train, validation or test split may hold.
MIN_PER_SPLIT = 4


@dataclass
class Targets:
    """What an objective learns for every event of a dataset.

    ``y``: (n,) int64 class labels (classify; reconstruct: labels if any, -1 otherwise) or (n, T)
    float targets (regress). ``names``: class names or target names. ``config``: the objective's
    settings the network head needs (stored with the model). ``preprocess``: what
    ``preprocess.json`` must record to reproduce the outputs.
    """

    y: np.ndarray
    names: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)


class Objective:
    """Base class. Torch methods take tensors: ``out`` (B, K) network outputs, ``y`` (B,) or (B, T),
    ``inputs`` the batch's input tensors in the representation's order."""

    name = ""
    #: The objective's output in words (``preprocess.json`` and the ONNX contract).
    output_doc = ""

    def __init__(self, **config: Any) -> None:
        self.config = config

    # -- data -------------------------------------------------------------------------------------
    def targets(self, ds: Any) -> Targets:
        raise NotImplementedError

    def training_split(self, targets: Targets, split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The entries each split trains and validates on (default: all of them)."""
        return split

    def prepare(self, targets: Targets, train_idx: np.ndarray) -> Targets:
        """Fix what is learnt from the training split (e.g. the targets' scaling); default: nothing."""
        return targets

    def check(self, ds: Any, targets: Targets, split: dict[str, np.ndarray]) -> None:
        for name, idx in split.items():
            if len(idx) < MIN_PER_SPLIT:
                raise DataError(f"dataset {ds.path}: {len(ds)} entries are too few for the {name} split ({len(idx)}); generate more")

    def n_outputs(self, targets: Targets, n_inputs: int | None) -> int:
        raise NotImplementedError

    # -- torch --------------------------------------------------------------------------------------
    def per_event_loss(self, out: Any, y: Any, inputs: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def evaluate(self, net: Any, inputs: tuple[Any, ...], y: Any, *, outputs: bool = True) -> tuple[Any, Any]:
        """The network's raw outputs on a batch and the per-event loss. Default: ``net(*inputs)`` and
        :meth:`per_event_loss`; an objective whose loss needs the network itself (a density's
        likelihood of the targets) overrides this. ``outputs=False`` (a training step, which needs the
        loss only) lets such an objective skip the outputs (None then)."""
        out = net(*inputs)
        return out, self.per_event_loss(out, y, inputs)

    def output(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        """What the model outputs for the user (scores.npz, predict, ONNX): a torch tensor."""
        raise NotImplementedError

    def export(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        """The output of the exported (ONNX) graph; default: :meth:`output`."""
        return self.output(out, inputs)

    def record(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        """What validation keeps per event to compute its figures (default: the raw outputs)."""
        return out

    def figures(self, records: Any, y: Any) -> dict[str, float]:
        """Validation figures of a history row besides the loss."""
        return {}

    # -- numpy --------------------------------------------------------------------------------------
    def metrics(self, y: np.ndarray, scores: np.ndarray, targets: Targets, *, n_bootstrap: int, seed: int,
                threshold: float | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def threshold(self, kind: str, scores: np.ndarray) -> float | None:
        """The working point its accuracy-like metrics use (None: none)."""
        return None


def _value_error(m: Any) -> dict[str, float]:
    return dict(m.to_dict())


class Classify(Objective):
    """Classification: BCE on one logit for two classes (output: signal probability, shape (B,)),
    cross-entropy on C logits for C > 2 (output: softmax probabilities, (B, C)). Labels come
    from the dataset; every class must be in every split. Events may carry training weights."""

    name = "classify"
    output_doc = "probabilities: (B, 1) signal probability for two classes, (B, C) softmax for C classes"

    @property
    def binary(self) -> bool:
        return int(self.config.get("n_classes", 2)) == 2

    def targets(self, ds: Any) -> Targets:
        labels = np.asarray(ds.labels)
        if np.any(labels < 0):
            raise DataError(f"dataset {ds.path} is unlabelled (no Label column): it can be scored with `hepdl predict`, not trained on")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise DataError(f"dataset {ds.path} has a single class ({classes.tolist()}): a classifier needs two or more")
        label_names = list(getattr(ds, "label_names", []) or [])
        names = [label_names[c] if c < len(label_names) else str(c) for c in classes]
        return Targets(np.searchsorted(classes, labels).astype(np.int64), names, {"n_classes": len(names)}, {"class_names": names})

    def check(self, ds: Any, targets: Targets, split: dict[str, np.ndarray]) -> None:
        n = len(targets.names)
        for name, idx in split.items():
            if len(idx) < MIN_PER_SPLIT or len(np.unique(targets.y[idx])) < n:
                raise DataError(f"dataset {ds.path}: {len(ds)} jets are too few for the {name} split "
                                f"({len(idx)} jets, classes {np.unique(targets.y[idx]).tolist()} of {n}); generate more jets")

    def n_outputs(self, targets: Targets, n_inputs: int | None) -> int:
        return 1 if len(targets.names) == 2 else len(targets.names)

    def per_event_loss(self, out: Any, y: Any, inputs: tuple[Any, ...]) -> Any:
        import torch.nn.functional as F

        if self.binary:
            return F.binary_cross_entropy_with_logits(out[:, 0], y.float(), reduction="none")
        return F.cross_entropy(out, y.long(), reduction="none")

    def output(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        import torch

        return torch.sigmoid(out[:, 0]) if self.binary else torch.softmax(out, dim=-1)

    def export(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        import torch

        return torch.sigmoid(out) if self.binary else torch.softmax(out, dim=-1)  # (B, 1) or (B, C)

    def figures(self, records: Any, y: Any) -> dict[str, float]:
        from hepdl.metrics import auc

        yy = y.cpu().numpy()
        logits = records.float()
        if not self.binary:
            return {"val_acc": float((logits.argmax(-1).cpu().numpy() == yy).mean())}
        if 0 < yy.sum() < len(yy):
            return {"val_auc": auc(yy, logits[:, 0].cpu().numpy())}
        return {}

    def metrics(self, y: np.ndarray, scores: np.ndarray, targets: Targets, *, n_bootstrap: int, seed: int,
                threshold: float | None = None) -> dict[str, Any]:
        from hepdl.metrics import Measurement, classifier_metrics, multiclass_metrics

        if scores.ndim == 1:
            m = classifier_metrics(y, scores, n_bootstrap=n_bootstrap, seed=seed, threshold=0.5 if threshold is None else threshold)
            return {k: _value_error(v) for k, v in m.items()}
        out: dict[str, Any] = {}
        for k, v in multiclass_metrics(y, scores, targets.names, n_bootstrap=n_bootstrap, seed=seed).items():
            if isinstance(v, Measurement):
                out[k] = _value_error(v)
            elif isinstance(v, dict):
                out[k] = {c: _value_error(x) for c, x in v.items()}
            elif isinstance(v, np.ndarray):
                out[k] = v.tolist()
            else:
                out[k] = v
        return out

    def threshold(self, kind: str, scores: np.ndarray) -> float | None:
        # a cut's score is not a probability: its accuracy is taken at the median score
        return float(np.median(scores)) if kind == "cut" else 0.5


class Regress(Objective):
    """Regression of T continuous targets (``ds.targets``, (n, T); ``ds.target_names``), learnt
    standardised (mean/std of the training split, stored); MSE, or with ``nll=True`` a Gaussian
    negative log-likelihood with a per-event uncertainty (the network then outputs a mean and a
    log-variance per target, clamped to [``log_var_min``, ``log_var_max``], default [-12, 12]). Output: (B, T) predictions in the targets' units (with ``nll``,
    (B, 2T): predictions, then their standard deviations). Metrics: :mod:`hepdl.metrics.regression`."""

    name = "regress"
    output_doc = "predictions: (B, T) in the targets' units; with nll (B, 2T): predictions, then standard deviations"

    @property
    def nll(self) -> bool:
        return bool(self.config.get("nll", False))

    @property
    def log_var_max(self) -> float:
        """Upper clamp of the predicted log-variance (standardised units). ``log_var_max = 0`` caps each
        target's sigma at its spread: the likelihood then up-weights the targets it predicts well (as a
        multi-task uncertainty weighting, arXiv:1705.07115) and never weights a hard target below the
        plain MSE. Only the absolute weight is bounded: relative to well-predicted targets (up to
        e^-log_var_min times heavier) a hard one may still lose the shared layers (see ``log_var_min``)."""
        return float(self.config.get("log_var_max", 12.0))

    @property
    def log_var_min(self) -> float:
        """Lower clamp of the predicted log-variance (standardised units, default -12): with
        ``log_var_min = -3`` no target weighs more than e^3 = 20 times the plain MSE, so the targets a
        network predicts well cannot starve the others of the shared layers' capacity."""
        return float(self.config.get("log_var_min", -12.0))

    def targets(self, ds: Any) -> Targets:
        t = getattr(ds, "targets", None)
        if t is None:
            raise DataError(f"dataset {ds.path} has no regression targets (a `targets` array): the regress objective needs them")
        t = np.asarray(t, dtype=np.float64)
        t = t[:, None] if t.ndim == 1 else t
        bad = ~np.isfinite(t)
        if bad.any():
            raise DataError(f"dataset {ds.path}: {int(bad.sum())} regression targets are NaN/inf")
        names = list(getattr(ds, "target_names", None) or [f"target{i}" for i in range(t.shape[1])])
        if len(names) != t.shape[1]:
            raise DataError(f"dataset {ds.path}: {len(names)} target names for {t.shape[1]} targets")
        return Targets(t, names, {"n_targets": t.shape[1], "nll": self.nll, "log_var_min": self.log_var_min,
                                            "log_var_max": self.log_var_max}, {"target_names": names})

    def prepare(self, targets: Targets, train_idx: np.ndarray) -> Targets:
        """Fix the targets' scaling on the training split (stored in the model and preprocess.json)."""
        mean = targets.y[train_idx].mean(axis=0)
        std = targets.y[train_idx].std(axis=0)
        std = np.where(std > 0, std, 1.0)
        cfg = {**targets.config, "target_mean": mean.tolist(), "target_std": std.tolist()}
        return Targets(targets.y, targets.names, cfg, {**targets.preprocess, "target_mean": mean.tolist(), "target_std": std.tolist()})

    def n_outputs(self, targets: Targets, n_inputs: int | None) -> int:
        return targets.y.shape[1] * (2 if self.nll else 1)

    def _scaled(self, y: Any) -> Any:
        import torch

        mean = torch.as_tensor(self.config["target_mean"], dtype=torch.float32, device=y.device)
        std = torch.as_tensor(self.config["target_std"], dtype=torch.float32, device=y.device)
        return (y.float() - mean) / std

    def per_event_loss(self, out: Any, y: Any, inputs: tuple[Any, ...]) -> Any:
        z = self._scaled(y)
        t = z.shape[1]
        if not self.nll:
            return ((out[:, :t] - z) ** 2).mean(dim=1)
        mu, log_var = out[:, :t], out[:, t:].clamp(self.log_var_min, self.log_var_max)
        return (0.5 * (log_var + (z - mu) ** 2 / log_var.exp())).mean(dim=1)

    def output(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        import torch

        t = len(self.config["target_mean"])
        mean = torch.as_tensor(self.config["target_mean"], dtype=out.dtype, device=out.device)
        std = torch.as_tensor(self.config["target_std"], dtype=out.dtype, device=out.device)
        pred = out[:, :t] * std + mean
        if not self.nll:
            return pred
        sigma = (0.5 * out[:, t:].clamp(self.log_var_min, self.log_var_max)).exp() * std
        return torch.cat([pred, sigma], dim=1)

    def record(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        return self.output(out, inputs)

    def figures(self, records: Any, y: Any) -> dict[str, float]:
        t = y.shape[1]
        res = (records[:, :t] - y.float()).cpu().numpy()
        return {f"val_rmse_{i}": float(np.sqrt(np.mean(res[:, i] ** 2))) for i in range(t)}

    def metrics(self, y: np.ndarray, scores: np.ndarray, targets: Targets, *, n_bootstrap: int, seed: int,
                threshold: float | None = None) -> dict[str, Any]:
        from hepdl.metrics.regression import regression_metrics

        t = y.shape[1]
        sigma = scores[:, t:] if scores.shape[1] == 2 * t else None
        return regression_metrics(y, scores[:, :t], targets.names, sigma=sigma, n_bootstrap=n_bootstrap, seed=seed)


class Reconstruct(Objective):
    """Reconstruction (autoencoders): the network reproduces its first input tensor (B, F); the loss
    and the output, the anomaly score, are the per-event mean squared error (B,). It trains and
    validates on the background only (label 0) when the dataset is labelled, on everything
    otherwise, so one-class data is fine; the test split keeps every class, and when it holds
    background and signal the metrics add the AUC and the significance improvement
    (:mod:`hepdl.metrics.anomaly`; Heimel et al., arXiv:1808.08979)."""

    name = "reconstruct"
    output_doc = "anomaly score: (B,) mean squared reconstruction error of the input ((B, 1) in the exported graph)"

    def targets(self, ds: Any) -> Targets:
        labels = getattr(ds, "labels", None)
        y = np.full(len(ds), -1, np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
        label_names = list(getattr(ds, "label_names", []) or [])
        return Targets(y, label_names, {}, {"class_names": label_names, "trained_on": "label 0" if (y >= 0).any() else "all"})

    def training_split(self, targets: Targets, split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not (targets.y >= 0).any():
            return split
        return {k: (v[targets.y[v] == 0] if k in ("train", "val") else v) for k, v in split.items()}

    def n_outputs(self, targets: Targets, n_inputs: int | None) -> int:
        if n_inputs is None:
            raise ConfigError("the reconstruct objective needs a representation with a feature axis (e.g. features)")
        return n_inputs

    def per_event_loss(self, out: Any, y: Any, inputs: tuple[Any, ...]) -> Any:
        return ((out - inputs[0]) ** 2).mean(dim=1)

    def output(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        return self.per_event_loss(out, None, inputs)

    def record(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        return self.output(out, inputs)

    def export(self, out: Any, inputs: tuple[Any, ...]) -> Any:
        return self.output(out, inputs)[:, None]  # (B, 1), as every exported graph

    def metrics(self, y: np.ndarray, scores: np.ndarray, targets: Targets, *, n_bootstrap: int, seed: int,
                threshold: float | None = None) -> dict[str, Any]:
        from hepdl.metrics.anomaly import anomaly_metrics

        return anomaly_metrics(y, scores, n_bootstrap=n_bootstrap, seed=seed)


class Density(Regress):
    """Conditional density estimation: a normalizing flow learns p(targets | inputs) by maximum
    likelihood (e.g. the conditional invertible network of an unfolding, arXiv:2006.06685). The
    network has ``log_prob(z, *inputs)`` (z: the standardised targets) and its forward pass draws one
    sample of z per event; the loss is -log p per target dimension. Output: (B, T) one draw of the
    targets in their units. Metrics: :mod:`hepdl.metrics.regression` of the draws (the posterior's
    spread around the truth, not a point estimate's)."""

    name = "density"
    output_doc = "samples: (B, T) one draw of the targets from the learnt p(targets | inputs), in the targets' units"

    @property
    def nll(self) -> bool:
        return False

    def n_outputs(self, targets: Targets, n_inputs: int | None) -> int:
        return int(targets.y.shape[1])

    def evaluate(self, net: Any, inputs: tuple[Any, ...], y: Any, *, outputs: bool = True) -> tuple[Any, Any]:
        z = self._scaled(y)
        if not hasattr(net, "log_prob"):
            raise ConfigError(f"the density objective needs a network with log_prob (a normalizing flow), not {type(net).__name__}")
        per = -net.log_prob(z, *inputs) / z.shape[1]
        return (net(*inputs) if outputs else None), per  # a draw costs a pass through the flow: only when asked

    def per_event_loss(self, out: Any, y: Any, inputs: tuple[Any, ...]) -> Any:
        raise ConfigError("the density objective's loss needs the network (Objective.evaluate)")

    def figures(self, records: Any, y: Any) -> dict[str, float]:
        return {}


OBJECTIVES: Registry[type[Objective]] = Registry("objective")
for _cls in (Classify, Regress, Reconstruct, Density):
    OBJECTIVES.add(_cls.name, _cls)


def get_objective(name: str, **config: Any) -> Objective:
    """The objective ``name`` with its settings (unknown names list the known ones)."""
    return OBJECTIVES.lookup(name)(**config)
