"""The loop every task shares: reuse or generate the dataset, train each model, write the report."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hepdl.errors import ConfigError
from hepdl.train.rundir import ModelDir

__all__ = ["run_models", "new_run_dir", "ensemble_scores", "cross_validated", "Preset"]


@dataclass
class Preset:
    """A task's preset, validated (:func:`hepdl.config.from_dict`: an unknown key is an error naming
    the preset and listing the valid keys). Exactly one of ``n_jets`` (jet tasks) and ``n_events``
    (event tasks) sizes the dataset."""

    models: list[str]
    epochs: int
    model_preset: str
    n_particles: int = 64
    n_jets: int | None = None
    n_events: int | None = None
    feature_set: str | None = None
    patience: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    fractions: tuple[float, float, float] | None = None
    model_presets: dict[str, str] = field(default_factory=dict)
    model_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: model -> the objective's settings (e.g. ``{"nll": True}`` for a regression with per-event uncertainties)
    objective_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    ensembles: dict[str, int] = field(default_factory=dict)
    #: model -> further :class:`hepdl.train.TrainConfig` settings (e.g. ``{"bagging": True}``)
    train_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: k-fold cross-validation: train every model ``folds`` times (``<run>/folds/<model>-fold<k>/``), each
    #: fold's test entries scored by the model that did not see them, and evaluate the merged scores
    #: of all entries (``<run>/<model>/``): the figures of merit on every event instead of a test fifth.
    folds: int | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    #: ``{"models": [...], "sizes": [...]}``: also train these models on subsets of the training split of
    #: these sizes (``<run>/learning-curve/<model>-<n>/``), for the report's learning curve.
    learning_curve: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.n_jets is None) == (self.n_events is None):
            raise ConfigError(f"a preset sizes its dataset with exactly one of n_jets or n_events; got n_jets={self.n_jets}, "
                              f"n_events={self.n_events}")
        if self.size < 1 or self.epochs < 1 or not self.models:
            raise ConfigError(f"a preset needs a positive size and epochs and at least one model; got size {self.size}, "
                              f"epochs {self.epochs}, models {self.models}")
        if self.folds is not None and (not isinstance(self.folds, int) or self.folds < 3):
            raise ConfigError(f"folds must be an integer >= 3 (train, validation and test folds), got {self.folds!r}")
        lc = self.learning_curve
        if lc and (set(lc) != {"models", "sizes"} or not all(isinstance(n, int) and n >= 2 for n in lc["sizes"])
                   or not set(lc["models"]) <= set(self.models)):
            raise ConfigError(f"learning_curve must be {{'models': [models of the preset], 'sizes': [integers >= 2]}}; got {lc}")

    @property
    def size(self) -> int:
        return int(self.n_jets if self.n_jets is not None else self.n_events)  # type: ignore[arg-type]

    @property
    def unit(self) -> str:
        return "jets" if self.n_jets is not None else "events"


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
    from hepdl.config import from_dict
    from hepdl.data.generate import ensure_dataset
    from hepdl.train import TrainConfig, open_for_training

    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for task {task!r}; presets: {', '.join(presets)}")
    p = from_dict(Preset, presets[preset], where=f"preset {preset!r} of task {task!r}")
    names = list(models or p.models)
    extra: dict[str, Any] = {k: v for k, v in (("feature_set", p.feature_set), ("patience", p.patience), ("fractions", p.fractions),
                                               ("batch_size", p.batch_size), ("lr", p.lr)) if v is not None}
    configs = [TrainConfig(m, preset=p.model_presets.get(m, p.model_preset), epochs=epochs or p.epochs, seed=seed,
                           n_particles=p.n_particles, model_config=dict(p.model_configs.get(m, {})),
                           objective_config=dict(p.objective_configs.get(m, {})), **{**extra, **p.train_options.get(m, {})})
               for m in names]  # validates every name before any work
    t0 = time.perf_counter()
    generated = dataset is None
    if dataset is None:
        dataset = ensure_dataset(spec_fn(p.size, seed=seed, **p.dataset), cache, workers=workers, progress=progress)
    ds = open_for_training(dataset, None)  # a dataset of more than STREAM_ABOVE jets is read a part at a time
    if check is not None:
        check(ds)
    out = new_run_dir(runs_dir, task)
    from hepdl._util import interrupt_note
    from hepdl.report import update_run_info, write_run_info

    write_run_info(out, task=task, preset=preset, recipe=_recipe(task), domain=getattr(ds, "domain", None))
    update_run_info(out, "generate" if generated else "open dataset", time.perf_counter() - t0)

    def note() -> str:
        done = sorted(d.name for d in out.iterdir() if (d / ModelDir.METRICS).exists() and not d.name.endswith(".partial"))
        return (f"run {out} keeps its finished models ({', '.join(done) or 'none'}) but has no report; the dataset "
                f"{dataset} is kept: rerun the same command for a complete run")

    with interrupt_note(note):
        _train_all(configs, p, ds, out, seed, ensemble, progress)
        _learning_curve(configs, p, ds, out, progress)
        title = title or f"{task} ({preset}, {len(ds)} {p.unit})"
        if report is None:
            from hepdl.report import make_report

            make_report(out, ds, title=title)
        else:
            report(out, ds, title)
    return out


def _learning_curve(configs: list[Any], p: Preset, ds: Any, out: Path, progress: bool) -> None:
    """Train the preset's learning-curve models on nested, seeded subsets of the training split (the
    full-size point is the main run's model); each a normal model directory under ``learning-curve/``."""
    if not p.learning_curve:
        return
    from hepdl.report import update_run_info
    from hepdl.train import train

    n_train = {c.model: ModelDir(out / c.model).metrics().get("n_train") for c in configs if (out / c.model / ModelDir.METRICS).exists()}
    for cfg in configs:
        if cfg.model not in p.learning_curve["models"] or not n_train.get(cfg.model):
            continue
        for n in sorted(p.learning_curve["sizes"]):
            if n >= n_train[cfg.model]:
                continue
            if progress:
                print(f"learning curve: {cfg.model} on {n} training jets ...", flush=True)
            t0 = time.perf_counter()
            train(dataclasses.replace(cfg, n_train=n), ds, out / "learning-curve" / f"{cfg.model}-{n}", progress=progress)
            update_run_info(out, f"learning curve {cfg.model}-{n}", time.perf_counter() - t0)


def _recipe(task: str) -> str:
    """The task's one-line description (its recipe, with the paper it follows)."""
    from hepdl.tasks import TASKS

    return TASKS.lookup(task).description if task in TASKS.names() else ""


def _train_all(configs: list[Any], p: Preset, ds: Any, out: Path, seed: int, ensemble: int | None, progress: bool) -> None:
    """Train every model of ``configs`` into ``out``; ensembles as ``<model>-k`` plus ``<model>-ensemble``.
    With ``p.folds``, each of them once per fold under ``out/folds/`` and merged into ``out/<name>``."""
    from hepdl.report import update_run_info
    from hepdl.train import train

    for cfg in configs:
        n_members = p.ensembles.get(cfg.model, 1)
        if ensemble is not None and n_members > 1:
            n_members = ensemble
        names = [cfg.model] if n_members == 1 else [f"{cfg.model}-{k + 1}" for k in range(n_members)]
        seeds = [cfg.seed] if n_members == 1 else [seed * 1000 + k for k in range(n_members)]
        folds = [None] if p.folds is None else list(range(p.folds))
        for f in folds:
            where, tag = (out, "") if f is None else (out / "folds", f"-fold{f + 1}")
            members = []
            for k, (name, member_seed) in enumerate(zip(names, seeds, strict=True)):
                if progress:
                    what = cfg.model if n_members == 1 else f"{cfg.model} {k + 1}/{n_members}"
                    print(f"training {what}{'' if f is None else f' (fold {f + 1}/{p.folds})'} ...", flush=True)
                members.append(where / f"{name}{tag}")
                t0 = time.perf_counter()
                c = dataclasses.replace(cfg, seed=member_seed, **({} if f is None else {"fold": f, "n_folds": p.folds}))
                train(c, ds, members[-1], progress=progress)
                update_run_info(out, f"train {members[-1].name}", time.perf_counter() - t0)
            if n_members > 1:
                ensemble_scores(members, where / f"{cfg.model}-ensemble{tag}", ds, cfg.n_bootstrap)
        if p.folds is not None:
            for name in names + ([f"{cfg.model}-ensemble"] if n_members > 1 else []):
                cross_validated([out / "folds" / f"{name}-fold{f + 1}" for f in range(p.folds)], out / name, ds, cfg.n_bootstrap)


def ensemble_scores(members: list[Path], out: Path, ds: Any, n_bootstrap: int = 100) -> dict[str, Any]:
    """Average the test and validation scores of the trained ``members`` (same split) and write ``out``
    with the ensemble's ``scores.npz`` and ``metrics.json`` (AUC etc., and the dataset's task metrics,
    e.g. the AMS of an event dataset). Two-class models."""
    import numpy as np

    loaded = [np.load(m / ModelDir.SCORES) for m in members]
    first = loaded[0]
    arrays = {"scores": np.mean([s["scores"] for s in loaded], axis=0), "labels": first["labels"], "index": first["index"],
              "val_scores": np.mean([s["val_scores"] for s in loaded], axis=0), "val_labels": first["val_labels"],
              "val_index": first["val_index"]}
    return _write_combined(out, arrays, members, ds, n_bootstrap, "ensemble of " + ", ".join(p.name for p in members),
                           n_parameters=sum)


def cross_validated(folds: list[Path], out: Path, ds: Any, n_bootstrap: int = 100) -> dict[str, Any]:
    """Merge the test and validation scores of one model trained on each fold of a cross-validation
    (``folds``: their directories, :attr:`hepdl.train.TrainConfig.fold`) and write ``out`` with the
    merged ``scores.npz`` (every entry once in the test and once in the validation scores) and
    ``metrics.json``: AUC etc. and the task metrics (the AMS: its threshold chosen on the merged
    validation scores, applied to the merged test scores) on all entries. Two-class models."""
    import numpy as np

    from hepdl.errors import DataError

    loaded = [np.load(f / ModelDir.SCORES) for f in folds]
    arrays: dict[str, np.ndarray] = {}
    for key, keys in (("", ("scores", "labels")), ("val_", ("val_scores", "val_labels"))):
        index = np.concatenate([s[f"{key}index"] for s in loaded])
        order = np.argsort(index, kind="stable")
        if len(np.unique(index)) != len(index) or len(index) != len(ds):
            raise DataError(f"the {key or 'test '}entries of the folds {[f.name for f in folds]} do not partition the "
                            f"{len(ds)} entries of the dataset once each ({len(index)} entries, {len(np.unique(index))} distinct)")
        arrays[f"{key}index"] = index[order]
        for k in keys:
            arrays[k] = np.concatenate([s[k] for s in loaded])[order]
    return _write_combined(out, arrays, folds, ds, n_bootstrap, f"{len(folds)}-fold cross-validation of {folds[0].name.rsplit('-fold', 1)[0]}",
                           n_parameters=lambda ns: next(iter(ns)), extra={"folds": len(folds), "split": f"{len(folds)}-fold cross-validation"})


def _write_combined(out: Path, arrays: dict[str, Any], members: list[Path], ds: Any, n_bootstrap: int, paper: str, *,
                    n_parameters: Callable[[Any], int], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the ``scores.npz`` and ``metrics.json`` of a model made of trained ``members`` (an ensemble,
    a cross-validation): ``arrays`` holds its test and validation scores, labels and indices."""
    from hepdl.data.paths import atomic_write_json
    from hepdl.metrics import classifier_metrics
    from hepdl.train.rundir import RUN_SCHEMA_VERSION
    from hepdl.train.trainer import _atomic_savez

    out.mkdir(parents=True, exist_ok=True)
    _atomic_savez(out / ModelDir.SCORES, **arrays)
    m = {k: v.to_dict() for k, v in classifier_metrics(arrays["labels"], arrays["scores"], n_bootstrap=n_bootstrap).items()}
    task_metrics = getattr(ds, "task_metrics", None)
    if task_metrics is not None:
        split = {"test": arrays["index"], "val": arrays["val_index"]}
        m.update(task_metrics(split, arrays["val_scores"], arrays["scores"], objective="classify", n_bootstrap=n_bootstrap))
    member_metrics = [ModelDir(p).metrics() for p in members]
    first_m = member_metrics[0]
    metrics = {"schema_version": RUN_SCHEMA_VERSION, "model": out.name, "objective": first_m["objective"],
               "split": first_m["split"], "evaluation": {**first_m["evaluation"], "n_bootstrap": n_bootstrap},
               "paper": paper, "n_classes": 2, **m,
               "members": [p.name for p in members], "member_ams": [mm.get("ams", {}).get("value") for mm in member_metrics],
               "train_seconds": sum(mm["train_seconds"] for mm in member_metrics),
               "n_parameters": n_parameters(mm["n_parameters"] for mm in member_metrics), **(extra or {})}
    atomic_write_json(out / ModelDir.METRICS, metrics)
    return metrics
