"""Trigger emulation: a trained model as an accept/reject decision on a stream of jets read in batches.

A level-1 trigger reduces the LHC's 40 MHz of bunch crossings to about 100 kHz; a high-level trigger
to about 1 kHz. :func:`run_trigger` scores a stream batch by batch (a torch/BDT model from a run, or
an ONNX export), sets the threshold from a target output rate (the score quantile that keeps
``rate / input_rate`` of the stream) or takes a fixed one, and writes the accepted jets batch by
batch. Every file is written atomically (temp file + rename) and finished batches are kept, so an
interrupted trigger loses nothing it accepted and a rerun with the same settings resumes.

Rates are relative to the stream given: with a balanced labelled dataset the "input rate" is that
of a stream with this composition, not of real LHC collisions.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepdl.data.paths import atomic_write, atomic_write_json, ensure_writable_dir
from hepdl.errors import ConfigError, DataError

__all__ = ["TriggerConfig", "run_trigger", "BACKGROUND_CLASSES"]

#: Class names treated as background when no signal classes are given.
BACKGROUND_CLASSES = ("qcd", "gluon", "quark", "background")


@dataclass
class TriggerConfig:
    """Settings of a trigger emulation.

    Parameters
    ----------
    rate_hz
        Target output rate; the threshold is chosen so that this fraction of the input rate passes.
    threshold
        A fixed threshold on the trigger score instead of a rate.
    input_rate_hz
        Rate of the stream (default 40 MHz, the LHC bunch-crossing rate).
    signal
        Classes whose probabilities add up to the trigger score (default: every class not named
        like a background, see :data:`BACKGROUND_CLASSES`; for two classes the signal probability).
    batch_size
        Jets per batch (one accepted file per batch).
    model
        Which model of a run directory to use (needed when the run holds several).
    """

    rate_hz: float | None = None
    threshold: float | None = None
    input_rate_hz: float = 40e6
    signal: tuple[str, ...] | None = None
    batch_size: int = 10_000
    model: str | None = None

    def __post_init__(self) -> None:
        if (self.rate_hz is None) == (self.threshold is None):
            raise ConfigError("give exactly one of a target rate (--rate HZ) and a threshold (--threshold X)")
        if not (self.input_rate_hz > 0 and math.isfinite(self.input_rate_hz)):
            raise ConfigError(f"input rate must be a positive number of Hz, got {self.input_rate_hz}")
        if self.rate_hz is not None:
            if not self.rate_hz > 0:
                raise ConfigError(f"target rate must be positive, got {self.rate_hz} Hz")
            if self.rate_hz > self.input_rate_hz:
                raise ConfigError(f"target rate {self.rate_hz:g} Hz is above the input rate {self.input_rate_hz:g} Hz: "
                                  "a trigger can only reduce the rate")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"threshold must be a finite number, got {self.threshold}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.signal is not None:
            self.signal = tuple(self.signal)


class _Scorer:
    """Scores of one model on a dataset slice: torch/BDT from a run, or ONNX Runtime from an export."""

    def __init__(self, source: Path, model: str | None) -> None:
        self.source = source
        if (source / "model.onnx").exists():
            from hepdl.deploy.onnx import OnnxModel

            self.onnx: Any = OnnxModel(source)
            self.pre = self.onnx.contract
            self.name = f"{self.pre['model']} (onnx)"
            return
        from hepdl.train.trainer import load_trained, model_dir

        self.onnx = None
        self.name, self.pre, self.model = load_trained(model_dir(source, model))

    def __call__(self, ds: Any) -> np.ndarray:
        if self.onnx is not None:
            return self.onnx.predict(ds, cache=False)
        from hepdl.train.trainer import model_inputs, score_inputs

        return score_inputs(self.model, model_inputs(ds, self.pre, cache=False))


def _signal_classes(class_names: list[str], signal: tuple[str, ...] | None) -> list[str]:
    """The classes whose probabilities form the trigger score (two classes: the signal, the last one)."""
    if len(class_names) <= 2:
        return [class_names[-1] if class_names else "signal"]
    chosen = list(signal) if signal else [c for c in class_names if c.lower() not in BACKGROUND_CLASSES]
    unknown = [c for c in chosen if c not in class_names]
    if unknown or not chosen:
        raise ConfigError(f"signal classes {unknown or chosen} are not among the model's classes {class_names}")
    return chosen


def _trigger_score(p: np.ndarray, class_names: list[str], signal: list[str]) -> np.ndarray:
    """Signal probability (two classes) or the summed probability of the ``signal`` classes."""
    if p.ndim == 1:
        return p
    names = class_names or [str(i) for i in range(p.shape[1])]
    return p[:, [names.index(c) for c in signal]].sum(axis=1)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)


def _slice(ds: Any, a: int, b: int) -> Any:
    from hepdl.data.dataset import JetDataset

    return JetDataset(ds.rows(a, b), ds.metadata, ds.path, ds.format, ds.label_names)


def run_trigger(source: str | Path, data: str | Path | Any, out: str | Path, config: TriggerConfig,
                progress: bool = True) -> dict[str, Any]:
    """Apply a model as a trigger to the jets of ``data`` and write what it accepts.

    Parameters
    ----------
    source
        A run directory, one model's directory, or an ONNX export directory (``model.onnx`` +
        ``preprocess.json``).
    data
        The stream: any dataset :func:`hepdl.data.open` reads (or an opened one); a generated dataset
        of more than :data:`hepdl.train.trainer.STREAM_ABOVE` jets is read a part at a time.
    out
        Output directory: ``scores/batch-<k>.npy``, ``accepted-<k>.parquet`` (the accepted jets with
        a ``trigger_score`` field), ``trigger.json`` (settings, threshold, rates, per-class
        efficiencies) and ``table.txt``.

    Returns
    -------
    dict
        The contents of ``trigger.json``.
    """
    from tqdm.auto import tqdm

    from hepdl.data.dataset import JetDataset
    from hepdl.train.trainer import open_for_training

    ds = data if isinstance(data, JetDataset) else open_for_training(data, None)
    scorer = _Scorer(Path(source), config.model)
    class_names = scorer.pre.get("class_names") or ds.label_names
    signal = _signal_classes(class_names, config.signal)
    n = len(ds)
    if n == 0:
        raise DataError(f"{ds.path} holds no jets")
    want = config.rate_hz / config.input_rate_hz * n if config.rate_hz is not None else None
    if want is not None and want < 1:
        raise ConfigError(f"a rate of {config.rate_hz:g} Hz out of {config.input_rate_hz:g} Hz keeps {want:.3g} of the "
                          f"{n} jets in {ds.path}: the stream is too short to set that rate; give more jets or a higher rate")
    out = ensure_writable_dir(Path(out))
    settings = {"config": asdict(config), "source": str(Path(source).resolve()), "model": scorer.name,
                "data": str(ds.path), "n_jets": n}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    meta_path = out / "trigger.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if old.get("settings_hash") != key:
            raise DataError(f"{out} holds the output of a trigger with other settings; choose another directory or remove it")
    atomic_write_json(meta_path, {"settings": settings, "settings_hash": key, "complete": False})
    starts = list(range(0, n, config.batch_size))
    (out / "scores").mkdir(exist_ok=True)
    scores = []
    for k, a in enumerate(tqdm(starts, desc="trigger: score", unit="batch", disable=not progress)):
        f = out / "scores" / f"batch-{k:05d}.npy"
        if f.exists():
            scores.append(np.load(f))
            continue
        part = _slice(ds, a, a + config.batch_size)
        s = _trigger_score(scorer(part), class_names, signal)
        atomic_write(f, lambda tmp, s=s: _save_npy(tmp, s))
        scores.append(s)
    score = np.concatenate(scores)
    if want is not None:
        threshold = float(np.sort(score)[::-1][int(round(want)) - 1])
    else:
        threshold = float(config.threshold)  # type: ignore[arg-type]
    accepted = score >= threshold
    for k, a in enumerate(tqdm(starts, desc="trigger: write", unit="batch", disable=not progress)):
        pq, js = out / f"accepted-{k:05d}.parquet", out / f"accepted-{k:05d}.json"
        if js.exists() and pq.exists():
            done = json.loads(js.read_text())
            if done.get("threshold") == threshold:
                continue
        b = min(a + config.batch_size, n)
        idx = np.nonzero(accepted[a:b])[0]
        jets = ak.with_field(ds.rows(a, b)[idx], score[a:b][idx], "trigger_score")
        atomic_write(pq, lambda tmp, jets=jets: ak.to_parquet(jets, tmp))
        atomic_write_json(js, {"batch": k, "first_jet": a, "n_jets": b - a, "n_accepted": len(idx), "threshold": threshold})
    labels = ds.labels
    per_class = {}
    for c in np.unique(labels):
        sel = labels == c
        name = ds.label_names[c] if c < len(ds.label_names) else str(c)
        per_class[name] = {"n": int(sel.sum()), "accepted": int(accepted[sel].sum()), "efficiency": float(accepted[sel].mean())}
    frac = float(accepted.mean())
    summary = {
        "settings": settings, "settings_hash": key, "complete": True,
        "model": scorer.name, "signal_classes": signal, "threshold": threshold,
        "n_jets": n, "n_accepted": int(accepted.sum()), "accepted_fraction": frac,
        "input_rate_hz": config.input_rate_hz, "output_rate_hz": frac * config.input_rate_hz,
        "rate_reduction": (1 / frac) if frac > 0 else float("inf"),
        "per_class": per_class, "n_batches": len(starts),
    }
    atomic_write_json(meta_path, summary)
    atomic_write(out / "table.txt", lambda tmp: tmp.write_text(trigger_table(summary)))
    return summary


def trigger_table(summary: dict[str, Any]) -> str:
    """Rate reduction and per-class efficiency as a text table."""
    lines = [
        f"trigger: {summary['model']}, score = P({' + '.join(summary['signal_classes'])}) >= {summary['threshold']:.6g}",
        f"input rate {summary['input_rate_hz']:.4g} Hz -> output rate {summary['output_rate_hz']:.4g} Hz "
        f"(reduction {summary['rate_reduction']:.4g}x; {summary['n_accepted']} of {summary['n_jets']} jets accepted)",
        f"{'class':<12}{'jets':>10}{'accepted':>10}{'efficiency':>12}{'rate [Hz]':>14}",
    ]
    n = summary["n_jets"]
    for name, c in summary["per_class"].items():
        rate = summary["input_rate_hz"] * c["accepted"] / n
        lines.append(f"{name:<12}{c['n']:>10}{c['accepted']:>10}{c['efficiency']:>12.4f}{rate:>14.4g}")
    return "\n".join(lines) + "\n"
