"""The loop every task shares: reuse or generate the dataset, train each model, write the report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hepdl.errors import ConfigError

__all__ = ["run_models", "new_run_dir"]


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
               progress: bool = True, title: str | None = None) -> Path:
    """Generate (or reuse) ``task``'s dataset, train every model of ``preset``, evaluate on the test split
    and write ``runs/<task>/<timestamp>/`` with one directory per model and the report.

    ``presets[preset]`` holds ``n_jets``, ``epochs``, ``model_preset``, ``n_particles``, ``models`` and
    optionally ``feature_set``, ``model_presets`` (model -> configuration preset, overriding
    ``model_preset``) and ``dataset`` (keyword arguments of ``spec_fn``).
    """
    from hepdl.data import open as open_dataset
    from hepdl.data.generate import ensure_dataset
    from hepdl.report import make_report
    from hepdl.train import TrainConfig, train

    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for task {task!r}; presets: {', '.join(presets)}")
    p = presets[preset]
    names = list(models or p["models"])
    extra = {"feature_set": p["feature_set"]} if "feature_set" in p else {}
    configs = [TrainConfig(m, preset=p.get("model_presets", {}).get(m, p["model_preset"]), epochs=epochs or p["epochs"], seed=seed, n_particles=p["n_particles"],
                           **extra) for m in names]  # validates every name before any work
    if dataset is None:
        dataset = ensure_dataset(spec_fn(p["n_jets"], seed=seed, **p.get("dataset", {})), cache, workers=workers,
                                 progress=progress)
    ds = open_dataset(dataset)
    out = new_run_dir(runs_dir, task)
    for cfg in configs:
        if progress:
            print(f"training {cfg.model} ...", flush=True)
        train(cfg, ds, out / cfg.model, progress=progress)
    make_report(out, ds.jets, ds.labels, title=title or f"{task} ({preset}, {len(ds)} jets)", label_names=ds.label_names)
    return out
