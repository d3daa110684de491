"""One trainer for every model and objective: Lightning for the torch models, the same entry point for
the BDT and the cut baselines. It composes what it is given and never asks which domain it holds:

- the **model spec** (:mod:`hepdl.models.registry`) says which representation the model eats, which
  objectives it can be trained for and which domains it applies to;
- the **objective** (:mod:`hepdl.train.objectives`) says what is learnt (labels, targets, or the
  input itself), on which entries, with which loss, what is output and which metrics are reported;
- the **dataset's domain** builds the model inputs (:func:`hepdl.features.inputs.model_inputs`)
  and may add its own checks (``check_training``), split (``predefined_split``) and task metrics
  (``task_metrics``, e.g. the AMS of weighted collisions).

Every run writes the same outputs into its directory: ``config.json`` (resolved settings),
``split.npz`` (indices of train/val/test), ``preprocess.json`` (input names, order, scaling), the
model (``model.ckpt`` and ``last.ckpt`` / ``model.json``), ``history.csv`` (per-epoch figures, torch
models), ``scores.npz`` (test and validation outputs) and ``metrics.json`` (test metrics with
bootstrap uncertainties, training time, inference rate, number of parameters).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.data.dataset import open as open_dataset
from hepdl.data.paths import atomic_write, atomic_write_json, ensure_writable_dir, replace_dir
from hepdl.errors import ConfigError, DataError
from hepdl.features.inputs import REPRESENTATIONS, StreamedInputs
from hepdl.metrics.ams import ams_metrics
from hepdl.models import registry
from hepdl.train.config import TrainConfig
from hepdl.train.inputs import fold_indices, make_inputs, split_indices
from hepdl.train.objectives import Objective, Targets, get_objective
from hepdl.train.rundir import RUN_SCHEMA_VERSION, ModelDir, RunRecord

__all__ = ["TrainConfig", "train", "predict", "evaluate", "class_labels", "load_trained", "model_inputs", "score_inputs", "BASELINES",
           "ams_metrics", "model_dir", "partial_dir", "run_split", "trained_dataset", "open_for_training", "STREAM_ABOVE"]

#: The models that are not networks (cuts, the BDT, the physicist's fits), name -> (representation, paper): read from the registry.
BASELINES = {n: (s.input_kind, s.paper) for n, s in sorted(registry.MODELS.items()) if not s.is_torch}
MIN_JETS_PER_SPLIT = 4


#: Batch size of scoring on CPU: measured on 4096 top-tagging jets, 2 threads, the particle networks
#: score 1.6-1.7x faster at 256 than at 1024 (ParT 831 vs 523 jets/s, ParticleNet-Lite 3147 vs 1831):
#: their intermediate tensors at 1024 jets (ParT's pair embedding: 1024 x 2016 pairs x channels) leave the cache.
INFERENCE_BATCH = 256

#: A generated jet dataset larger than this streams unless ``TrainConfig.stream`` says otherwise
#: (in memory a jet costs ~13 kB at 64 particles: 500 000 jets ~ 6.5 GB).
STREAM_ABOVE = 500_000


def open_for_training(data: Any, stream: bool | None = False, *, mapping: dict[str, str] | None = None,
                      tree: str | None = None, key: str | None = None) -> Any:
    """The dataset of a path (or ``data`` itself): read a chunk at a time (:func:`hepdl.data.open_parts`)
    when ``stream`` is true, or when it is None and the path is a generated jet dataset, a top-tagging
    HDF5 file or a ROOT file of more than :data:`STREAM_ABOVE` jets; else read whole by
    :func:`hepdl.data.open`. ``mapping``, ``tree`` and ``key`` are :func:`hepdl.data.open`'s."""
    from hepdl.data.stream import JetParts, dataset_size, open_parts

    if not isinstance(data, (str, Path)):
        if stream and not isinstance(data, JetParts):
            raise ConfigError("stream=True needs the dataset's path (a `hepdl generate` directory, an .h5 or a .root file), "
                              "not a dataset in memory")
        return data
    if stream is None:
        size = dataset_size(data, tree=tree, key=key)
        stream = size is not None and size > STREAM_ABOVE
    if stream:
        return open_parts(data, mapping=mapping, tree=tree, key=key)
    return open_dataset(data, mapping=mapping, tree=tree, key=key)


def class_labels(ds: Any) -> tuple[np.ndarray, list[str]]:
    """Training labels and class names of a dataset (the classify objective's targets).

    Two classes give 0/1 labels (1 = the higher label, the signal); C > 2 classes give labels
    0 ... C-1 in the order of the dataset's labels. One class or unlabelled data is an error.
    """
    t = get_objective("classify").targets(ds)
    return t.y, t.names


#: Suffix of the directory a model trains in; it replaces the model's directory only when complete.
PARTIAL = ".partial"


def partial_dir(out: str | Path) -> Path:
    """Where a model being trained into ``out`` lives until it is complete: ``<out>.partial``
    (``last.ckpt`` there resumes an interrupted training)."""
    out = Path(out)
    return out.with_name(out.name + PARTIAL)


def run_split(ds: Any, config: TrainConfig) -> tuple[dict[str, np.ndarray], str]:
    """The train/val/test indices of ``ds`` and how they were made: the dataset's own split when
    it has one (``predefined_split()``, e.g. the ``KaggleSet`` column of the Higgs challenge's
    open-data file), else a seeded permutation with ``config.fractions`` that keeps the entries of one
    collision event together (``split_groups()``: two jets of one event)."""
    own = getattr(ds, "predefined_split", lambda: None)()
    if own is not None:
        if config.fold is not None:
            raise ConfigError(f"{ds.path} defines its own train/val/test split; it cannot be cross-validated (fold={config.fold})")
        return {k: np.asarray(own[k], dtype=np.int64) for k in ("train", "val", "test")}, "dataset"
    groups = getattr(ds, "split_groups", lambda: None)()
    if config.fold is not None:
        return fold_indices(len(ds), config.n_folds, config.fold, config.split_seed, groups), f"fold {config.fold + 1} of {config.n_folds}"
    return split_indices(len(ds), config.fractions, config.split_seed, groups), "seeded"


def _train_subset(train_idx: np.ndarray, y: np.ndarray, n: int, seed: int, ds: Any) -> np.ndarray:
    """``n`` entries of the training split, seeded: stratified by class for integer targets (every
    class keeps its share), a plain random subset otherwise."""
    from hepdl.data.dataset import stratified_subset

    if n > len(train_idx):
        raise ConfigError(f"n_train={n} is more than the {len(train_idx)} entries of the training split of {ds.path}")
    yt = np.asarray(y)[train_idx]
    if yt.ndim == 1 and np.issubdtype(yt.dtype, np.integer):
        return train_idx[stratified_subset(yt, n, seed)]
    return np.sort(np.random.default_rng(seed).choice(train_idx, size=n, replace=False))


def _check_domain(config: TrainConfig, ds: Any) -> None:
    """A model declared for some domains refuses the others (before the objective reads the data)."""
    spec = registry.spec(config.model)
    domain = getattr(ds, "domain", None)
    if spec.domains is not None and domain not in spec.domains:
        raise ConfigError(f"{config.model!r} works on {' or '.join(spec.domains)} data ({spec.paper}); dataset {ds.path} "
                          f"holds {domain or type(ds).__name__}")


def _check_model_and_data(config: TrainConfig, ds: Any, objective: Objective, targets: Targets) -> None:
    """Model-level reasons to refuse training (the objective has checked the data and the splits)."""
    spec = registry.spec(config.model)
    if spec.input_kind == "cut" and objective.name == "classify" and len(targets.names) > 2:
        raise ConfigError(f"the cut baseline {config.model!r} separates two classes; dataset {ds.path} has {len(targets.names)} "
                          f"({', '.join(targets.names)}): use the bdt as the classic baseline")
    check = getattr(ds, "check_training", None)
    if check is not None:
        check(config.model, objective.name, targets.names)


def _check_resume(config: TrainConfig, resume: Path, module: Any) -> None:
    """A checkpoint to resume from must exist, load, hold ``config.model`` and fit its parameters."""
    import torch

    if not resume.is_file():
        raise ConfigError(f"checkpoint {resume} (--resume) does not exist")
    try:
        ckpt = torch.load(resume, map_location="cpu", weights_only=False)
        hp = ckpt.get("hyper_parameters", {})
        state = ckpt["state_dict"]
    except Exception as exc:  # torch raises many types for a damaged file
        raise DataError(f"checkpoint {resume} is not a readable Lightning checkpoint: {exc}") from None
    found = hp.get("model_name")
    if found != config.model:
        raise ConfigError(f"checkpoint {resume} holds model {found!r}, not {config.model!r}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[1:2] or [str(exc)]
        raise ConfigError(f"checkpoint {resume} does not fit model {config.model!r} as configured (preset {config.preset!r}): "
                          f"{first[0].strip()}") from None


def train(config: TrainConfig, data: Any, out: str | Path, *, resume: str | Path | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Train ``config.model`` for ``config.objective`` on ``data``, evaluate it on the test split and
    write the run directory.

    Everything that can be checked is checked before the first byte is written: the model name,
    preset, objective and settings, the representation, the data (classes or targets, split sizes),
    devices and nodes, a resumed checkpoint (readable, same model, fitting parameters). The model
    trains in ``<out>.partial`` (:func:`partial_dir`), which replaces ``out`` only once everything is
    written: a failing or interrupted training leaves an existing ``out`` untouched. ``resume``
    continues from a checkpoint (``<out>.partial/last.ckpt`` after an interruption) with the
    optimiser, scheduler, early-stopping state, data order and history of the interrupted training.

    Returns
    -------
    dict
        The contents of ``metrics.json`` (empty in a further DDP process, which writes nothing).
    """
    import shutil

    from hepdl._util import interrupt_note

    ds = open_for_training(data, config.stream)
    spec = registry.spec(config.model)
    _check_domain(config, ds)
    objective = config.make_objective()
    targets = objective.targets(ds)
    split_all, split_kind = run_split(ds, config)
    if config.n_train is not None:
        split_all = {**split_all, "train": _train_subset(split_all["train"], targets.y, config.n_train, config.split_seed, ds)}
    split = objective.training_split(targets, split_all)
    objective.check(ds, targets, split)
    _check_model_and_data(config, ds, objective, targets)
    targets = objective.prepare(targets, split["train"])
    objective = config.make_objective(**targets.config)
    kind = spec.input_kind
    out = Path(out)
    if out.name.endswith(PARTIAL):
        raise ConfigError(f"output directory {out} ends in {PARTIAL!r}, the suffix of unfinished trainings: choose another name")
    resume = Path(resume) if resume is not None else None
    if resume is not None and not spec.is_torch:
        raise ConfigError(f"--resume continues a network's training; {config.model!r} is not a network")
    if not spec.is_torch:
        _baseline(config, len(targets.names))  # its settings are checked here
    work = partial_dir(out)
    options = dict(feature_set=config.feature_set, n_particles=config.n_particles)
    if spec.is_torch and not _rank_zero():  # a further DDP process, started by Lightning's launcher: trains, writes nothing
        with _Chatter():
            inputs = make_inputs(ds, kind, split["train"], **options)
            plan = _plan_torch(config, objective, inputs, targets, work, resume)
            loaders = {k: _loader(inputs, targets.y, split[k], config, k == "train") for k in ("train", "val")}
            plan.trainer.fit(plan.module, loaders["train"], loaders["val"], ckpt_path=str(resume) if resume else None)
        return {}
    ensure_writable_dir(out.parent)
    resuming_here = resume is not None and work.resolve() in resume.resolve().parents
    with _Chatter() as chatter:
        inputs = make_inputs(ds, kind, split["train"], **options)
        torch_plan = _plan_torch(config, objective, inputs, targets, work, resume) if spec.is_torch else None
        # -- nothing was written before this line (feature caches live in the hepdl cache) --
        if work.exists() and not resuming_here:
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        chatter.attach(work / ModelDir.LOG)
        note = ((f"the previous {out} is untouched; " if out.exists() else "")
                + f"the unfinished training is in {work}"
                + (f" (resume with --resume {work / 'last.ckpt'})" if torch_plan is not None else ""))
        with interrupt_note(note):
            _atomic_savez(work / ModelDir.SPLIT, **split_all)
            record = RunRecord(**{**asdict(config), "objective_config": targets.config}, dataset=str(ds.path), input_kind=kind,
                               target_names=targets.names, class_names=targets.names if objective.name == "classify" else None,
                               split=split_kind, dataset_options=getattr(ds, "options", None))
            atomic_write_json(work / ModelDir.CONFIG, asdict(record))
            atomic_write_json(work / ModelDir.PREPROCESS, {"schema_version": RUN_SCHEMA_VERSION, "kind": kind,
                                                         **inputs.preprocess, **targets.preprocess,
                                                         "objective": objective.name, "output": objective.output_doc,
                                                         "input_names": list(REPRESENTATIONS[kind].inputs)})
            if torch_plan is None:
                result = _train_baseline(config, inputs, targets, split, work)
            else:
                result = _train_torch(torch_plan, inputs, targets.y, split, work, resume, progress)
            scores = result.pop("scores")
            val_scores = result.pop("val_scores")
            test, val = split_all["test"], split["val"]
            _atomic_savez(work / ModelDir.SCORES, scores=scores, labels=targets.y[test], index=test, val_scores=val_scores,
                          val_labels=targets.y[val], val_index=val)
            threshold = objective.threshold(kind, scores)
            m = objective.metrics(targets.y[test], scores, targets, n_bootstrap=config.n_bootstrap, seed=config.seed,
                                  threshold=threshold)
            task_metrics = getattr(ds, "task_metrics", None)
            if task_metrics is not None:  # the domain's own figures of merit, for the objectives it has them for
                m.update(task_metrics({**split_all, "val": val}, val_scores, scores, objective=objective.name,
                                      n_bootstrap=config.n_bootstrap, seed=config.seed))
            metrics = {"schema_version": RUN_SCHEMA_VERSION, "model": config.model, "paper": spec.paper, "objective": objective.name,
                       **({"n_classes": len(targets.names)} if objective.name == "classify" else {}),
                       "split": split_kind, "n_train": int(len(split["train"])), **m, **result,
                       "evaluation": {"threshold": threshold, "n_bootstrap": config.n_bootstrap, "seed": config.seed}}
            atomic_write_json(work / ModelDir.METRICS, metrics)
            chatter.detach()
            replace_dir(work, out)
    if targets.y.ndim == 1:
        _warn_statistics(config.model, metrics, targets.y[split_all["test"]])
    return metrics


def _warn_statistics(model: str, metrics: dict[str, Any], y_test: np.ndarray) -> None:
    """Warn (logger ``hepdl``, shown on the terminal) when a 1/eps_B figure rests on too few background jets."""
    import logging

    from hepdl.metrics import is_lower_limit

    n_bkg = int(np.sum(y_test == 0))
    for key in ("rej_at_0.3", "rej_at_0.5"):
        v = metrics.get(key)
        if is_lower_limit(v):
            logging.getLogger("hepdl").warning(
                "%s: %s rests on %d background jets of the test split (%d in all): quoted as > %.1f (95 %% CL); generate "
                "more jets for this figure", model, key.replace("rej_at_", "1/eps_B@"), v["n_background"], n_bkg, v["lower_limit"])


def _atomic_savez(path: Path, **arrays: Any) -> None:
    atomic_write(path, lambda tmp: _savez(tmp, arrays))


def _savez(tmp: Path, arrays: dict[str, Any]) -> None:
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _baseline(config: TrainConfig, n_classes: int) -> Any:
    """The unfitted baseline of ``config`` from the registry (its settings checked)."""
    spec = registry.spec(config.model)
    sizes = spec.accepts({"seed": config.seed, "n_classes": n_classes})
    try:
        return spec.build(**{**sizes, **spec.configs.get(config.preset, {}), **config.model_config})
    except TypeError as exc:
        raise ConfigError(f"model {config.model!r}: {exc}") from None


def _fit_data(inputs: Any, y: np.ndarray, idx: np.ndarray) -> Any:
    """One split of a baseline's inputs: observables, labels, training and physics weights (the
    latter scaled so that each class sums to its total over the whole dataset)."""
    from hepdl.metrics.ams import renormalise_weights
    from hepdl.models.baselines import FitData

    frame = baseline_rows(inputs, idx)
    w = None if inputs.sample_weight is None else inputs.sample_weight[idx]
    phys = inputs.physics_weight
    w_phys = None
    if phys is not None:
        totals = {int(c): float(phys[y == c].sum()) for c in np.unique(y)}
        w_phys = renormalise_weights(phys[idx], y[idx], totals)
    return FitData(frame, y[idx], w, w_phys)


def baseline_rows(inputs: Any, idx: np.ndarray | None = None) -> Any:
    """What a baseline's ``fit``/``score`` take for the entries ``idx`` (all: None): the table of a
    ``bdt``/``cut`` representation (a DataFrame), else the representation's arrays (a dict)."""
    if "frame" in inputs.arrays:
        frame = inputs.arrays["frame"]
        return frame if idx is None else frame.iloc[idx]
    return dict(inputs.arrays) if idx is None else inputs.take(idx)


def _train_baseline(config: TrainConfig, inputs: Any, targets: Targets, split: dict[str, np.ndarray], out: Path) -> dict[str, Any]:
    y = targets.y
    model = _baseline(config, len(targets.names))
    t0 = time.perf_counter()
    model.fit_split(_fit_data(inputs, y, split["train"]), _fit_data(inputs, y, split["val"]))
    model.save(out / ModelDir.BASELINE)
    train_s = time.perf_counter() - t0
    va = baseline_rows(inputs, split["val"])
    val_scores = np.asarray(model.score(va), dtype=np.float64)
    te = baseline_rows(inputs, split["test"])
    t0 = time.perf_counter()
    scores = model.score(te)
    infer = len(split["test"]) / max(time.perf_counter() - t0, 1e-9)
    extra = {"diagnostics": model.diagnostics()} if hasattr(model, "diagnostics") else {}  # of the test split
    return {"scores": np.asarray(scores, dtype=np.float64), "val_scores": val_scores,
            "train_seconds": train_s, "inference_jets_per_s": infer, "n_parameters": model.n_parameters(), "epochs": 0, **extra}


@dataclass
class _TorchPlan:
    """A torch training, built and checked before anything is written."""

    config: TrainConfig
    module: Any
    trainer: Any
    checkpoint: Any
    build: dict[str, Any]


def _plan_torch(config: TrainConfig, objective: Objective, inputs: Any, targets: Targets, work: Path,
                resume: Path | None) -> _TorchPlan:
    """Build the network (sized from the representation's arrays and the objective's outputs), the
    LightningModule and the Lightning Trainer (which checks devices and nodes) and check a
    checkpoint to resume from; write nothing."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from hepdl.train.module import OneBar, TrainModule

    L.seed_everything(config.seed, workers=True, verbose=False)
    spec = registry.spec(config.model)
    rep = REPRESENTATIONS[inputs.kind]
    sizes = {**rep.sizes(inputs.arrays), "n_outputs": objective.n_outputs(targets, rep.width(inputs.arrays))}
    cfg = {**spec.accepts(sizes), **config.model_config}
    net = registry.get(config.model, preset=config.preset, **cfg)
    module = TrainModule(net, inputs.kind, model_name=config.model, lr=config.lr, weight_decay=config.weight_decay,
                         epochs=config.epochs, seed=config.seed, objective=objective.name, objective_config=targets.config,
                         input_names=rep.inputs, augment=inputs.preprocess.get("augment") if config.augment else None)
    if resume is not None:  # Lightning restores the weights again from the checkpoint in fit
        _check_resume(config, resume, module)
    elif config.init_from is not None:  # a warm start: the weights only
        start = Path(config.init_from)
        _check_resume(config, start / ModelDir.BEST if start.is_dir() else start, module)
    checkpoint = ModelCheckpoint(dirpath=work, filename="model", monitor="val_loss", mode="min", save_top_k=1,
                                 save_last=True, enable_version_counter=False)
    precision = config.precision or ("16-mixed" if torch.cuda.is_available() else "32-true")
    try:
        trainer = L.Trainer(
            max_epochs=config.epochs, accelerator="auto", devices=config.devices, num_nodes=config.num_nodes,
            precision=precision,  # type: ignore[arg-type]  # a validated string
            deterministic=True,
            callbacks=[checkpoint, EarlyStopping("val_loss", patience=config.patience), OneBar()],
            logger=False, enable_progress_bar=True, enable_model_summary=False, default_root_dir=work,
            # streamed inputs shard by part themselves under DDP (ChunkSampler): no rank reads another's parts
            use_distributed_sampler=not isinstance(inputs, StreamedInputs),
        )
    except Exception as exc:  # Lightning's MisconfigurationException / ValueError for devices, nodes, precision
        raise ConfigError(f"cannot train on devices={config.devices!r}, num_nodes={config.num_nodes}, "
                          f"precision={precision!r}: {' '.join(str(exc).split())}") from None
    return _TorchPlan(config, module, trainer, checkpoint, {"model": config.model, "preset": config.preset, "config": cfg})


def _train_torch(plan: _TorchPlan, inputs: Any, y: np.ndarray, split: dict[str, np.ndarray], out: Path,
                 resume: Path | None, progress: bool) -> dict[str, Any]:
    import torch

    from hepdl.errors import HepdlError
    from hepdl.train.module import TrainModule, from_worker, make_loader

    config, module, trainer = plan.config, plan.module, plan.trainer
    if not progress:
        trainer.progress_bar_callback.disable()
    atomic_write_json(out / ModelDir.BUILD, plan.build)
    loaders = {k: _loader(_bagged(inputs, split["train"], config) if k == "train" else inputs, y, split[k], config, k == "train")
               for k in ("train", "val")}
    t0 = time.perf_counter()
    try:
        trainer.fit(module, loaders["train"], loaders["val"], ckpt_path=str(resume) if resume else None)
    except HepdlError as exc:  # e.g. a part that disappeared, found by a loader worker
        raise from_worker(exc) from None
    if trainer.interrupted:  # Lightning caught a KeyboardInterrupt: the run is not complete
        raise KeyboardInterrupt
    train_s = time.perf_counter() - t0
    _write_history(out / ModelDir.HISTORY, module.history)
    net = module.net
    best = TrainModule.load_from_checkpoint(plan.checkpoint.best_model_path, net=net, weights_only=False)
    best.eval()
    test_loader = make_loader(inputs, y, split["test"], INFERENCE_BATCH, shuffle=False)
    t0 = time.perf_counter()
    with torch.no_grad():
        scores = torch.cat([best.probabilities(batch) for batch in test_loader]).numpy()
    infer = len(split["test"]) / max(time.perf_counter() - t0, 1e-9)
    with torch.no_grad():
        val_scores = torch.cat([best.probabilities(b) for b in make_loader(inputs, y, split["val"], INFERENCE_BATCH, shuffle=False)]).numpy()
    return {"scores": scores.astype(np.float64), "val_scores": val_scores.astype(np.float64), "train_seconds": train_s,
            "inference_jets_per_s": infer, "n_parameters": int(sum(p.numel() for p in net.parameters())),
            "epochs": len(module.history)}


def _rank_zero() -> bool:
    """Whether this process is the one that writes (rank 0 of a DDP training, or the only process).

    Lightning's launcher starts the further ranks as copies of the command with ``LOCAL_RANK`` /
    ``NODE_RANK`` (or a cluster's ``RANK``) set; they must not touch the run directory."""
    import os

    return all(int(os.environ.get(k, "0") or 0) == 0 for k in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _bagged(inputs: Any, train_idx: np.ndarray, config: TrainConfig) -> Any:
    """``inputs`` with the training entries' weights times Poisson(1) counts (seeded by the model's
    seed) when ``config.bagging``: a bootstrap resample of the training split (Breiman 1996). As they
    are otherwise."""
    if not config.bagging:
        return inputs
    import dataclasses

    if isinstance(inputs, StreamedInputs):
        raise ConfigError("bagging needs the inputs in memory; train with stream=False or without bagging")
    w = (inputs.sample_weight if inputs.sample_weight is not None else np.ones(len(inputs.labels))).astype(np.float64)
    w[train_idx] *= np.random.default_rng([config.seed, 7919]).poisson(1.0, size=len(train_idx))
    return dataclasses.replace(inputs, sample_weight=w)


def _loader(inputs: Any, y: np.ndarray, idx: np.ndarray, config: TrainConfig, shuffle: bool) -> Any:
    from hepdl.train.module import make_loader

    return make_loader(inputs, y, idx, config.batch_size, shuffle=shuffle, seed=config.seed, window=config.stream_window,
                       workers=config.stream_workers)


def _write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """``history.csv``: one row per epoch (epoch, train_loss, val_loss, val_auc or val_acc, lr)."""
    import pandas as pd

    atomic_write(path, lambda tmp: pd.DataFrame(rows).to_csv(tmp, index=False))


class _Chatter:
    """Keep the terminal to hepdl's lines and one progress bar: Lightning's log records (tips, device
    summaries, directory notes) and Python warnings raised while training go to the run's
    ``train.log``, held in memory until :meth:`attach` names the file."""

    NAMES = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.file: Any = None

    def _emit(self, line: str) -> None:
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()
        else:
            self.lines.append(line)

    def __enter__(self) -> _Chatter:
        import logging
        import warnings

        import lightning.pytorch  # noqa: F401 - its import adds the terminal handlers replaced below

        outer = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                outer._emit(f"{record.levelname.lower()}: {record.getMessage()}")

        self._handler = _Handler()
        self._saved = []
        for name in self.NAMES:
            lg = logging.getLogger(name)
            self._saved.append((lg, lg.handlers[:], lg.propagate, lg.level))
            lg.handlers = [self._handler]
            lg.propagate = False
            lg.setLevel(logging.INFO)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("default")

        def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
            outer._emit(f"{category.__name__}: {message} ({filename}:{lineno})")

        warnings.showwarning = show
        return self

    def attach(self, path: Path) -> None:
        self.file = open(path, "a")  # noqa: SIM115 - closed in detach/__exit__
        for line in self.lines:
            self.file.write(line + "\n")
        self.lines.clear()
        self.file.flush()

    def detach(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def __exit__(self, *exc: Any) -> None:
        self._warnings.__exit__(*exc)
        for lg, handlers, propagate, level in self._saved:
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
        self.detach()


def _cross_validated_dirs(run: Path) -> dict[str, list[Path]]:
    """The cross-validated models of a run (``<run>/<name>/metrics.json`` with ``folds``) whose fold
    members are trained models (``<run>/folds/<name>-fold<k>/``): name -> the fold directories."""
    out: dict[str, list[Path]] = {}
    if not (run / "folds").is_dir():
        return out
    for d in sorted(run.iterdir()):
        if not (d / ModelDir.METRICS).exists() or d.name == "folds":
            continue
        m = ModelDir(d).metrics()
        dirs = [run / "folds" / name for name in m.get("members", [])]
        if m.get("folds") and dirs and all(ModelDir(f).is_model() for f in dirs):
            out[d.name] = dirs
    return out


def trained_model_dirs(run: Path, *, first_fold: bool = False) -> list[Path]:
    """The trained model directories of a run: its top-level ones, or for a cross-validated run
    (no trained model at the top, ``folds/`` holding them) the fold models' (``first_fold``: only
    those of fold 1, one per model, e.g. to explain or to draw training curves)."""
    top = [p for p in run.iterdir() if ModelDir(p).is_model()] if run.is_dir() else []
    if not top and (run / "folds").is_dir():
        dirs = _model_dirs(run / "folds")
        return [d for d in dirs if d.name.endswith("-fold1")] if first_fold else dirs
    return _model_dirs(run)


def _model_dirs(run: Path) -> list[Path]:
    if not run.is_dir():
        raise DataError(f"run directory {run} does not exist")
    dirs = sorted(p for p in run.iterdir() if not p.name.endswith(PARTIAL) and not p.name.startswith(".")
                  and ModelDir(p).is_model())
    if ModelDir(run).is_model():
        dirs = [run]
    if not dirs:
        raise DataError(f"{run} holds no trained model (no <model>/config.json)")
    return dirs


def model_dir(run: str | Path, model: str | None = None) -> Path:
    """The directory of one trained model: ``run`` itself if it is a model's directory, else the run's
    model named ``model`` (which may be left out when the run holds only one)."""
    dirs = _model_dirs(Path(run))
    names = [d.name for d in dirs]
    if model is None:
        if len(dirs) == 1:
            return dirs[0]
        raise ConfigError(f"run {run} holds several models ({', '.join(names)}): choose one with --model")
    if model not in names:
        raise DataError(f"run {run} has no model {model!r}; it has {', '.join(names)}")
    return dirs[names.index(model)]


def load_trained(model_dir: str | Path) -> tuple[str, dict[str, Any], Any]:
    """A trained model from its directory: ``(name, preprocess, model)``.

    ``model`` is the :class:`~hepdl.train.module.TrainModule` (evaluation mode) for torch models, or
    the baseline object (its registry entry's ``load``). ``preprocess`` is the model's ``preprocess.json`` (input kind, columns and
    scaling, particles, class names).
    """
    d = ModelDir(model_dir)
    for f in (ModelDir.CONFIG, ModelDir.PREPROCESS):
        if not (d / f).exists():
            raise DataError(f"{d.path} is not a trained model's directory: {f} is missing")
    name = d.record().model
    pre = d.preprocess()
    spec = registry.spec(name)
    if not spec.is_torch:
        return name, pre, spec.build.load(d / ModelDir.BASELINE)  # type: ignore[attr-defined]  # baselines have load()
    from hepdl.train.module import TrainModule

    build = d.json(ModelDir.BUILD)
    net = registry.get(build["model"], preset=build["preset"], **build["config"])
    module = TrainModule.load_from_checkpoint(d / ModelDir.BEST, net=net, weights_only=False, map_location="cpu").eval()
    return name, pre, module


def model_inputs(ds: Any, pre: dict[str, Any], *, cache: bool = True) -> Any:
    """The inputs of a trained model for every jet of ``ds``, built with the model's stored preprocessing
    (``preprocess.json``: feature columns and their training mean/std, particles per jet, image settings).

    Raises :class:`DataError` naming the columns when ``ds`` lacks the model's inputs.
    """
    from hepdl.train.inputs import Inputs

    kind = pre["kind"]
    everything = np.arange(len(ds))
    stored = {k: pre[k] for k in ("feature_set", "n_particles") if k in pre}  # what the representation recorded
    inputs = make_inputs(ds, kind, everything, **stored, cache=cache,
                         scaling=pre if kind in ("features", "cloud") else None)  # a cloud may carry standardised globals
    if kind in ("cut", "bdt"):
        frame = inputs.arrays["frame"]
        missing = [c for c in pre["columns"] if c not in frame.columns]
        if missing:
            raise DataError(f"{ds.path} lacks the input column(s) {missing} of the model")
        return Inputs(kind, {"frame": frame[pre["columns"]]}, inputs.labels, pre)
    return inputs


def score_inputs(model: Any, inputs: Any, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Scores of a loaded model (see :func:`load_trained`) on prepared inputs: (n,) or (n, C)."""
    if not hasattr(model, "probabilities"):  # a baseline
        return np.asarray(model.score(baseline_rows(inputs)), dtype=np.float64)
    import torch

    from hepdl.train.module import make_loader

    n = len(inputs.labels)
    y = np.zeros(n, dtype=np.int64)
    with torch.no_grad():
        return torch.cat([model.probabilities(b) for b in make_loader(inputs, y, np.arange(n), batch_size, False)]).numpy().astype(np.float64)


def predict(run: str | Path, data: Any, *, models: list[str] | None = None,
            cache: bool = True) -> dict[str, np.ndarray]:
    """Scores of the run's models (all, or ``models``) on every jet of ``data``, using each model's
    stored preprocessing. Returns model (directory) name -> scores of shape (n_jets,) (signal probability) for a
    two-class model, (n_jets, C) class probabilities for a C-class one. A path to a generated dataset of
    more than :data:`STREAM_ABOVE` jets (or a :class:`~hepdl.data.stream.JetParts`) is read a part at a time."""

    ds = open_for_training(data, None)
    out: dict[str, np.ndarray] = {}
    run = Path(run)
    cv = _cross_validated_dirs(run)
    for d in _model_dirs(run) if not cv or any(ModelDir(p).is_model() for p in run.iterdir()) else []:
        name = ModelDir(d).record().model
        key = d.name if d.name != run.name else name  # members of an ensemble: dnn-1, dnn-2, ...
        if models and key not in models and name not in models:
            continue
        _, pre, model = load_trained(d)
        out[key] = score_inputs(model, model_inputs(ds, pre, cache=cache))
    for key, fold_dirs in cv.items():  # a cross-validated model: the mean of its fold models
        if models and key not in models:
            continue
        scores = []
        for d in fold_dirs:
            _, pre, model = load_trained(d)
            scores.append(score_inputs(model, model_inputs(ds, pre, cache=cache)))
        out[key] = np.mean(scores, axis=0)
    if models:
        unknown = [m for m in models if m not in out]
        if unknown:
            raise DataError(f"run {run} has no model(s) {unknown}; it has {sorted(out)}")
    return out


def evaluate(run: str | Path, *, n_bootstrap: int | None = None) -> dict[str, dict[str, Any]]:
    """Recompute every model's test metrics from its stored test outputs (the report is rewritten
    by :func:`hepdl.report.rewrite_report`, which ``hepdl evaluate`` calls next).

    Each model is evaluated as training evaluated it (its objective and ``metrics.json["evaluation"]``:
    the working point of the cut baselines, the bootstrap size and seed), so on an untouched run the
    rewritten ``metrics.json`` is identical, byte for byte. ``n_bootstrap`` overrides the stored
    bootstrap size. A model whose ``scores.npz``, ``metrics.json`` or ``config.json`` is missing or
    damaged is an error naming the file; nothing is rewritten then.
    """

    run = Path(run)
    results: dict[str, dict[str, Any]] = {}
    # a cross-validated run keeps its trained models under folds/ (its top-level directories, like an
    # ensemble's, hold merged scores, which need the dataset's weights for the AMS: not recomputed here)
    dirs = trained_model_dirs(run)
    for d in dirs:
        try:
            with np.load(d / ModelDir.SCORES) as z:
                s = {k: z[k] for k in ("labels", "scores")}
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{d / ModelDir.SCORES} is missing or damaged ({exc}); retrain model {d.name!r} or remove its directory") from None
        md = ModelDir(d)
        old = md.metrics()
        rec = md.record()
        objective = rec.make_objective()
        names = rec.target_names or rec.class_names or ["background", "signal"]
        targets = Targets(s["labels"], list(names), rec.objective_config)
        ev = old.get("evaluation", {})
        threshold = ev["threshold"] if "threshold" in ev else objective.threshold(rec.input_kind, s["scores"])
        nb = n_bootstrap if n_bootstrap is not None else ev.get("n_bootstrap", 100)
        old.update(objective.metrics(s["labels"], s["scores"], targets, n_bootstrap=nb, seed=ev.get("seed", 0), threshold=threshold))
        results[d.name] = old
    for d in dirs:  # every file checked and recomputed before the first is rewritten
        atomic_write_json(d / ModelDir.METRICS, results[d.name])
    return results


def _reopen_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments of :func:`hepdl.data.open` that reopen a dataset as it was trained on."""
    return {k: v for k, v in (options or {}).items() if v is not None}


def trained_dataset(model_dir: str | Path) -> Any:
    """The dataset a model was trained on, reopened with the options it was opened with
    (``config.json``: ``dataset`` and ``dataset_options``). Raises :class:`DataError` naming it if
    it cannot be read any more."""
    d = Path(model_dir)
    rec = ModelDir(d).record()
    try:
        return open_dataset(rec.dataset, **_reopen_options(rec.dataset_options))
    except DataError as exc:
        raise DataError(f"the dataset of {d} ({rec.dataset}) cannot be read: {exc}") from None
