"""The loop every task shares: reuse or generate the dataset, train each model, write the report."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hepdl.errors import ConfigError

__all__ = ["run_models", "new_run_dir", "ensemble_scores"]


def new_run_dir(runs_dir: str | Path, task: str) -> Path:
    """A fresh ``<runs_dir>/<task>/<timestamp>[-k]`` directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(runs_dir) / task / stamp
    k = 1
    while out.exists():
        out = Path(runs_dir) / task / f"{stamp}-{k}"
        k += 1
    out.mkdir(parents=True)
    return out


def run_models(task: str, spec_fn: Any, presets: dict[str, dict[str, Any]], preset: str = "quick", *,
               models: list[str] | None = None, dataset: str | Path | None = None, runs_dir: str | Path = "runs",
               cache: str | Path | None = None, workers: int | None = None, seed: int = 1, epochs: int | None = None,
               progress: bool = True, title: str | None = None, ensemble: int | None = None,
               check: Callable[[Any], None] | None = None, report: Callable[[Path, Any, str], Any] | None = None) -> Path:
    """Generate (or reuse) ``task``'s dataset, train every model of ``preset``, evaluate on the test split
    and write ``runs/<task>/<timestamp>/`` with one directory per model and the report.

    ``presets[preset]`` holds the dataset size (``n_jets``, or ``n_events`` for an event task),
    ``epochs``, ``model_preset``, ``n_particles`` (particles per jet, or objects per event), ``models``
    and optionally ``feature_set``, ``patience``, ``model_presets`` (model -> configuration preset,
    overriding ``model_preset``), ``model_configs`` (model -> configuration overrides) and
    ``ensembles`` (model -> number of networks trained with different seeds, written to
    ``<model>-1 ... <model>-k`` and averaged in ``<model>-ensemble``; ``ensemble`` overrides the
    number). ``check`` vets the opened dataset before any training; ``report`` writes the report
    (default: :func:`hepdl.report.make_report` for jets).
    """
    from hepdl.data import open as open_dataset
    from hepdl.data.generate import ensure_dataset
    from hepdl.train import TrainConfig

    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for task {task!r}; presets: {', '.join(presets)}")
    p = presets[preset]
    names = list(models or p["models"])
    extra = {k: p[k] for k in ("feature_set", "patience") if k in p}
    configs = [TrainConfig(m, preset=p.get("model_presets", {}).get(m, p["model_preset"]), epochs=epochs or p["epochs"], seed=seed,
                           n_particles=p["n_particles"], model_config=dict(p.get("model_configs", {}).get(m, {})), **extra)
               for m in names]  # validates every name before any work
    if dataset is None:
        size = p["n_jets"] if "n_jets" in p else p["n_events"]
        dataset = ensure_dataset(spec_fn(size, seed=seed, **p.get("dataset", {})), cache, workers=workers, progress=progress)
    ds = open_dataset(dataset)
    if check is not None:
        check(ds)
    out = new_run_dir(runs_dir, task)
    from hepdl._util import interrupt_note

    def note() -> str:
        done = sorted(d.name for d in out.iterdir() if (d / "metrics.json").exists() and not d.name.endswith(".partial"))
        return (f"run {out} keeps its finished models ({', '.join(done) or 'none'}) but has no report; the dataset "
                f"{dataset} is kept: rerun the same command for a complete run")

    with interrupt_note(note):
        _train_all(configs, p, ds, out, seed, ensemble, progress)
        title = title or f"{task} ({preset}, {len(ds)} {'jets' if 'n_jets' in p else 'events'})"
        if report is None:
            from hepdl.report import make_report

            make_report(out, ds.jets, ds.labels, title=title, label_names=ds.label_names)
        else:
            report(out, ds, title)
    return out


def _train_all(configs: list[Any], p: dict[str, Any], ds: Any, out: Path, seed: int, ensemble: int | None, progress: bool) -> None:
    """Train every model of ``configs`` into ``out``; ensembles as ``<model>-k`` plus ``<model>-ensemble``."""
    from hepdl.train import train

    for cfg in configs:
        n_members = p.get("ensembles", {}).get(cfg.model, 1)
        if ensemble is not None and n_members > 1:
            n_members = ensemble
        if n_members == 1:
            if progress:
                print(f"training {cfg.model} ...", flush=True)
            train(cfg, ds, out / cfg.model, progress=progress)
            continue
        members = []
        for k in range(n_members):
            if progress:
                print(f"training {cfg.model} {k + 1}/{n_members} ...", flush=True)
            members.append(out / f"{cfg.model}-{k + 1}")
            train(dataclasses.replace(cfg, seed=seed * 1000 + k), ds, members[-1], progress=progress)
        ensemble_scores(members, out / f"{cfg.model}-ensemble", ds, cfg.n_bootstrap)


def ensemble_scores(members: list[Path], out: Path, ds: Any, n_bootstrap: int = 100) -> dict[str, Any]:
    """Average the test and validation scores of the trained ``members`` (same split) and write ``out``
    with the ensemble's ``scores.npz`` and ``metrics.json`` (AUC etc., and the AMS for weighted event
    datasets). Two-class models."""
    import json

    import numpy as np

    from hepdl.data.paths import atomic_write_json
    from hepdl.metrics import classifier_metrics
    from hepdl.train.trainer import ams_metrics

    loaded = [np.load(m / "scores.npz") for m in members]
    first = loaded[0]
    scores = np.mean([s["scores"] for s in loaded], axis=0)
    val_scores = np.mean([s["val_scores"] for s in loaded], axis=0)
    out.mkdir(parents=True, exist_ok=True)
    from hepdl.train.trainer import _atomic_savez

    _atomic_savez(out / "scores.npz", scores=scores, labels=first["labels"], index=first["index"], val_scores=val_scores,
                  val_labels=first["val_labels"], val_index=first["val_index"])
    m = {k: v.to_dict() for k, v in classifier_metrics(first["labels"], scores, n_bootstrap=n_bootstrap).items()}
    if getattr(ds, "weights", None) is not None:
        split = {"test": first["index"], "val": first["val_index"]}
        m.update(ams_metrics(ds.labels, ds.weights, split, val_scores, scores, n_bootstrap=n_bootstrap))
    member_metrics = [json.loads((p / "metrics.json").read_text()) for p in members]
    metrics = {"model": out.name, "paper": "ensemble of " + ", ".join(p.name for p in members), "n_classes": 2, **m,
               "members": [p.name for p in members], "member_ams": [mm.get("ams", {}).get("value") for mm in member_metrics],
               "train_seconds": sum(mm["train_seconds"] for mm in member_metrics),
               "n_parameters": sum(mm["n_parameters"] for mm in member_metrics)}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics
