"""One trainer for every model: Lightning for the torch models, the same entry point for the BDT and
the cut baselines. Every run writes the same outputs into its directory:

``config.json`` (resolved settings), ``split.npz`` (jet indices of train/val/test), ``preprocess.json``
(input names, order, scaling), the model (``model.ckpt`` / ``model.json``), ``history.csv`` (per-epoch
metrics, torch models), ``scores.npz`` (test scores) and ``metrics.json`` (test metrics with
bootstrap uncertainties, training time, inference jets/s, number of parameters).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.data.dataset import JetDataset
from hepdl.data.dataset import open as open_dataset
from hepdl.data.paths import atomic_write_json, ensure_writable_dir
from hepdl.errors import ConfigError, DataError
from hepdl.metrics import Measurement, classifier_metrics, multiclass_metrics
from hepdl.models import registry
from hepdl.train.inputs import make_inputs, split_indices

__all__ = ["TrainConfig", "train", "predict", "evaluate", "class_labels", "load_trained", "model_inputs", "score_inputs", "BASELINES",
           "ams_metrics", "model_dir"]

#: Non-torch models known to the trainer, name -> (input kind, paper).
BASELINES = {
    "mass-cut": ("cut", "arXiv:1902.09914"),
    "tau32-cut": ("cut", "arXiv:1011.2268"),
    "bdt": ("bdt", "arXiv:1902.09914"),
    "ams-cuts": ("cut", "JMLR W&CP 42 (2015) 19; arXiv:1501.04943"),
}
#: Baselines that need an event dataset with weights.
EVENT_BASELINES = ("ams-cuts",)
MIN_JETS_PER_SPLIT = 4


@dataclass
class TrainConfig:
    """Training settings (validated; stored in ``config.json``)."""

    model: str
    preset: str = "small"
    model_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 5
    seed: int = 0
    split_seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    feature_set: str = "expert"
    n_particles: int = 64
    devices: str | int = "auto"
    num_nodes: int = 1
    precision: str | None = None  # default: "16-mixed" on CUDA, "32-true" on CPU
    representation: str | None = None  # if given, must be the model's (a mismatch is an error)
    n_bootstrap: int = 100

    def __post_init__(self) -> None:
        if self.model not in BASELINES:
            registry.spec(self.model)  # unknown names list the registry
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.patience < 1:
            raise ConfigError("epochs, batch_size and patience must be >= 1 and lr > 0")
        self.fractions = tuple(self.fractions)  # type: ignore[assignment]
        if self.representation is not None and self.representation != self.input_kind:
            raise ConfigError(f"model {self.model!r} takes the {self.input_kind!r} representation, not {self.representation!r}")

    @property
    def input_kind(self) -> str:
        return BASELINES[self.model][0] if self.model in BASELINES else registry.spec(self.model).input_kind


def _as_dataset(data: Any) -> Any:
    from hepdl.data.events import EventDataset

    return data if isinstance(data, (JetDataset, EventDataset)) else open_dataset(data)


def _is_events(ds: Any) -> bool:
    from hepdl.data.events import EventDataset

    return isinstance(ds, EventDataset)


def class_labels(ds: Any) -> tuple[np.ndarray, list[str]]:
    """Training labels and class names of a dataset.

    Two classes give 0/1 labels (1 = the higher label, the signal); C > 2 classes give labels
    0 ... C-1 in the order of the dataset's labels. One class is an error.
    """
    labels = ds.labels
    if np.any(labels < 0):
        raise DataError(f"dataset {ds.path} is unlabelled (no Label column): it can be scored with `hepdl predict`, not trained on")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(f"dataset {ds.path} has a single class ({classes.tolist()}): a classifier needs two or more")
    names = [ds.label_names[c] if c < len(ds.label_names) else str(c) for c in classes]
    return np.searchsorted(classes, labels).astype(np.int64), names


def _metrics(y: np.ndarray, scores: np.ndarray, class_names: list[str], *, n_bootstrap: int, seed: int = 0,
             threshold: float = 0.5) -> dict[str, Any]:
    """metrics.json entries: value/error pairs; per-class tables and the confusion matrix for C > 2."""
    if scores.ndim == 1:
        m = classifier_metrics(y, scores, n_bootstrap=n_bootstrap, seed=seed, threshold=threshold)
        return {k: {"value": v.value, "error": v.error} for k, v in m.items()}
    mm = multiclass_metrics(y, scores, class_names, n_bootstrap=n_bootstrap, seed=seed)
    out: dict[str, Any] = {}
    for k, v in mm.items():
        if isinstance(v, Measurement):
            out[k] = {"value": v.value, "error": v.error}
        elif isinstance(v, dict):
            out[k] = {c: {"value": x.value, "error": x.error} for c, x in v.items()}
        elif isinstance(v, np.ndarray):
            out[k] = v.tolist()
        else:
            out[k] = v
    return out


def train(config: TrainConfig, data: str | Path | JetDataset, out: str | Path, *, resume: str | Path | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Train ``config.model`` on ``data``, evaluate it on the test split and write the run directory.

    Everything that can be checked is checked before any training time is spent: the model name,
    the representation, class balance, split sizes, NaN/inf inputs, a resumed checkpoint's model.

    Returns
    -------
    dict
        The contents of ``metrics.json``.
    """
    ds = _as_dataset(data)
    y, class_names = class_labels(ds)
    n_classes = len(class_names)
    split = split_indices(len(ds), config.fractions, config.split_seed)
    for name, idx in split.items():
        if len(idx) < MIN_JETS_PER_SPLIT or len(np.unique(y[idx])) < n_classes:
            raise DataError(f"dataset {ds.path}: {len(ds)} jets are too few for the {name} split "
                            f"({len(idx)} jets, classes {np.unique(y[idx]).tolist()} of {n_classes}); generate more jets")
    kind = config.input_kind
    if kind == "cut" and n_classes > 2:
        raise ConfigError(f"the cut baseline {config.model!r} separates two classes; dataset {ds.path} has {n_classes} "
                          f"({', '.join(class_names)}): use the bdt as the classic baseline")
    events = _is_events(ds)
    if events:
        ds.require_weights(f"training {config.model!r}")
        if n_classes != 2:
            raise DataError(f"event dataset {ds.path} must have two classes (signal, background), found {class_names}")
        if config.model in ("mass-cut", "tau32-cut"):
            raise ConfigError(f"{config.model!r} cuts on jet substructure; for events use the cut-based 'ams-cuts' selection")
    elif config.model in EVENT_BASELINES:
        raise ConfigError(f"{config.model!r} is a selection of H -> tau tau events; dataset {ds.path} holds jets")
    out = ensure_writable_dir(Path(out))
    inputs = make_inputs(ds, kind, split["train"], feature_set=config.feature_set, n_particles=config.n_particles)
    np.savez(out / "split.npz", **split)
    atomic_write_json(out / "config.json", {**asdict(config), "dataset": str(ds.path), "input_kind": kind,
                                            "class_names": class_names})
    atomic_write_json(out / "preprocess.json", {"kind": kind, **inputs.preprocess, "class_names": class_names})
    phys = ds.weights if events else None
    if kind in ("cut", "bdt"):
        result = _train_baseline(config, inputs, y, split, out, n_classes, phys)
    else:
        result = _train_torch(config, inputs, y, split, out, resume, progress, n_classes)
    scores = result.pop("scores")
    val_scores = result.pop("val_scores")
    np.savez(out / "scores.npz", scores=scores, labels=y[split["test"]], index=split["test"], val_scores=val_scores,
             val_labels=y[split["val"]], val_index=split["val"])
    m = _metrics(y[split["test"]], scores, class_names, n_bootstrap=config.n_bootstrap, seed=config.seed,
                 threshold=0.5 if kind not in ("cut",) else float(np.median(scores)))
    if events:
        m.update(ams_metrics(y, phys, split, val_scores, scores, n_bootstrap=config.n_bootstrap, seed=config.seed))
    metrics = {"model": config.model, "paper": BASELINES[config.model][1] if config.model in BASELINES else registry.spec(config.model).paper,
               "n_classes": n_classes, **m, **result}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def _train_baseline(config: TrainConfig, inputs: Any, y: np.ndarray, split: dict[str, np.ndarray], out: Path,
                    n_classes: int = 2, phys_weights: np.ndarray | None = None) -> dict[str, Any]:
    from hepdl.models.baselines import BDT, AMSCuts, MassTau32Cut, VariableCut

    frame = inputs.arrays["frame"]
    tr, va, te = (frame.iloc[split[k]] for k in ("train", "val", "test"))
    sw = inputs.sample_weight
    t0 = time.perf_counter()
    if config.model == "bdt":
        wt, wv = (sw[split["train"]], sw[split["val"]]) if sw is not None else (None, None)
        model: Any = BDT(seed=config.seed, n_classes=n_classes, **config.model_config).fit(tr, y[split["train"]], va, y[split["val"]],
                                                                                          w=wt, w_val=wv)
        model.save(out / "model.json")
        n_params = int(len(model.booster.get_dump()))
    elif config.model == "ams-cuts":
        from hepdl.metrics.ams import renormalise_weights

        assert phys_weights is not None
        totals = {c: float(phys_weights[y == c].sum()) for c in (0, 1)}
        wv = renormalise_weights(phys_weights[split["val"]], y[split["val"]], totals)
        model = AMSCuts(**config.model_config).fit(va, y[split["val"]], wv)
        model.save(out / "model.json")
        n_params = 2 * len(model.cuts)
    elif config.model == "mass-cut":
        model = VariableCut(**({"variable": "mass_sd"} | config.model_config)).fit(tr, y[split["train"]])
        model.save(out / "model.json")
        n_params = 2
    else:
        model = MassTau32Cut(**config.model_config).fit(tr, y[split["train"]])
        model.save(out / "model.json")
        n_params = 3
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = model.score(te)
    infer = len(te) / max(time.perf_counter() - t0, 1e-9)
    return {"scores": np.asarray(scores, dtype=np.float64), "val_scores": np.asarray(model.score(va), dtype=np.float64),
            "train_seconds": train_s, "inference_jets_per_s": infer, "n_parameters": n_params, "epochs": 0}


def _train_torch(config: TrainConfig, inputs: Any, y: np.ndarray, split: dict[str, np.ndarray], out: Path,
                 resume: str | Path | None, progress: bool, n_classes: int = 2) -> dict[str, Any]:
    import logging

    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from hepdl.train.module import Classifier, make_loader

    if not progress:
        for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
            logging.getLogger(name).setLevel(logging.ERROR)
    L.seed_everything(config.seed, workers=True, verbose=False)
    cfg = dict(config.model_config)
    cfg.setdefault("n_outputs", 1 if n_classes == 2 else n_classes)
    arrays = inputs.arrays
    if inputs.kind == "features":
        cfg.setdefault("n_inputs", arrays["features"].shape[1])
    elif inputs.kind == "cloud" and config.model != "lbn":
        cfg.setdefault("n_features", arrays["x"].shape[-1])
    elif inputs.kind == "image":
        cfg.setdefault("n_channels", arrays["images"].shape[1])
        cfg.setdefault("n_pixels", arrays["images"].shape[-1])
    net = registry.get(config.model, preset=config.preset, **cfg)
    atomic_write_json(out / "model_build.json", {"model": config.model, "preset": config.preset, "config": cfg})
    module = Classifier(net, inputs.kind, model_name=config.model, lr=config.lr, weight_decay=config.weight_decay,
                        epochs=config.epochs, n_classes=n_classes)
    if resume is not None:
        ckpt = torch.load(resume, map_location="cpu", weights_only=False)
        found = ckpt.get("hyper_parameters", {}).get("model_name")
        if found != config.model:
            raise ConfigError(f"checkpoint {resume} holds model {found!r}, not {config.model!r}")
    loaders = {k: make_loader(inputs, y, split[k], config.batch_size, shuffle=(k == "train"), seed=config.seed)
               for k in ("train", "val")}
    checkpoint = ModelCheckpoint(dirpath=out, filename="model", monitor="val_loss", mode="min", save_top_k=1,
                                 enable_version_counter=False)
    precision = config.precision or ("16-mixed" if torch.cuda.is_available() else "32-true")
    trainer = L.Trainer(
        max_epochs=config.epochs, accelerator="auto", devices=config.devices, num_nodes=config.num_nodes,
        precision=precision, deterministic=True,
        callbacks=[checkpoint, EarlyStopping("val_loss", patience=config.patience)],
        logger=CSVLogger(out, name="", version=""), enable_progress_bar=progress, enable_model_summary=False,
        log_every_n_steps=1,
    )
    t0 = time.perf_counter()
    trainer.fit(module, loaders["train"], loaders["val"], ckpt_path=str(resume) if resume else None)
    train_s = time.perf_counter() - t0
    best = Classifier.load_from_checkpoint(checkpoint.best_model_path, net=net, weights_only=False)
    best.eval()
    test_loader = make_loader(inputs, y, split["test"], 1024, shuffle=False)
    t0 = time.perf_counter()
    with torch.no_grad():
        scores = torch.cat([best.probabilities(batch) for batch in test_loader]).numpy()
    infer = len(split["test"]) / max(time.perf_counter() - t0, 1e-9)
    with torch.no_grad():
        val_scores = torch.cat([best.probabilities(b) for b in make_loader(inputs, y, split["val"], 1024, shuffle=False)]).numpy()
    hist = out / "metrics.csv"
    if hist.exists():
        hist.replace(out / "history.csv")
    return {"scores": scores.astype(np.float64), "val_scores": val_scores.astype(np.float64), "train_seconds": train_s,
            "inference_jets_per_s": infer, "n_parameters": int(sum(p.numel() for p in net.parameters())),
            "epochs": int(trainer.current_epoch)}


def ams_metrics(y: np.ndarray, weights: np.ndarray, split: dict[str, np.ndarray], val_scores: np.ndarray,
                test_scores: np.ndarray, *, n_bootstrap: int = 100, seed: int = 0, b_r: float = 10.0) -> dict[str, Any]:
    """AMS of a model: the selection threshold maximising the AMS on the validation split, applied to
    the test split, with a bootstrap error; the weights of each split renormalised to the yields of
    the whole dataset (:func:`hepdl.metrics.renormalise_weights`). Also the weighted test AUC."""
    from hepdl.metrics import auc
    from hepdl.metrics.ams import ams_at_threshold, best_threshold, renormalise_weights

    totals = {c: float(weights[y == c].sum()) for c in (0, 1)}
    wv = renormalise_weights(weights[split["val"]], y[split["val"]], totals)
    wt = renormalise_weights(weights[split["test"]], y[split["test"]], totals)
    thr, val_ams = best_threshold(val_scores, y[split["val"]], wv, b_r)
    res = ams_at_threshold(test_scores, y[split["test"]], wt, thr, b_r=b_r, n_bootstrap=max(n_bootstrap, 2), seed=seed)
    return {"ams": {"value": res.value, "error": res.error}, "ams_threshold": thr, "ams_val": val_ams,
            "ams_selected_fraction": res.fraction, "ams_s": res.s, "ams_b": res.b,
            "auc_weighted": auc(y[split["test"]], test_scores, wt)}


def _model_dirs(run: Path) -> list[Path]:
    dirs = sorted(p for p in run.iterdir() if (p / "config.json").exists() and (p / "preprocess.json").exists())
    if (run / "config.json").exists() and (run / "preprocess.json").exists():
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

    ``model`` is the :class:`~hepdl.train.module.Classifier` (evaluation mode) for torch models, or
    the BDT / cut object. ``preprocess`` is the model's ``preprocess.json`` (input kind, columns and
    scaling, particles, class names).
    """
    import json as _json

    d = Path(model_dir)
    for f in ("config.json", "preprocess.json"):
        if not (d / f).exists():
            raise DataError(f"{d} is not a trained model's directory: {f} is missing")
    name = _json.loads((d / "config.json").read_text())["model"]
    pre = _json.loads((d / "preprocess.json").read_text())
    if pre["kind"] in ("cut", "bdt"):
        from hepdl.models.baselines import BDT, AMSCuts, MassTau32Cut, VariableCut

        loader = {"bdt": BDT, "mass-cut": VariableCut, "tau32-cut": MassTau32Cut, "ams-cuts": AMSCuts}[name]
        return name, pre, loader.load(d / "model.json")
    from hepdl.train.module import Classifier

    build = _json.loads((d / "model_build.json").read_text())
    net = registry.get(build["model"], preset=build["preset"], **build["config"])
    module = Classifier.load_from_checkpoint(d / "model.ckpt", net=net, weights_only=False, map_location="cpu").eval()
    return name, pre, module


def model_inputs(ds: JetDataset, pre: dict[str, Any], *, cache: bool = True) -> Any:
    """The inputs of a trained model for every jet of ``ds``, built with the model's stored preprocessing
    (``preprocess.json``: feature columns and their training mean/std, particles per jet, image settings).

    Raises :class:`DataError` naming the columns when ``ds`` lacks the model's inputs.
    """
    from hepdl.train.inputs import Inputs

    kind = pre["kind"]
    everything = np.arange(len(ds))
    inputs = make_inputs(ds, kind, everything, feature_set=pre.get("feature_set", "expert"),
                         n_particles=pre.get("n_particles", 64), require_classes=False, cache=cache,
                         scaling=pre if kind == "features" else None)
    if kind in ("cut", "bdt"):
        frame = inputs.arrays["frame"]
        missing = [c for c in pre["columns"] if c not in frame.columns]
        if missing:
            raise DataError(f"{ds.path} lacks the input column(s) {missing} of the model")
        return Inputs(kind, {"frame": frame[pre["columns"]]}, inputs.labels, pre)
    return inputs


def score_inputs(model: Any, inputs: Any, batch_size: int = 1024) -> np.ndarray:
    """Scores of a loaded model (see :func:`load_trained`) on prepared inputs: (n,) or (n, C)."""
    if inputs.kind in ("cut", "bdt"):
        return np.asarray(model.score(inputs.arrays["frame"]), dtype=np.float64)
    import torch

    from hepdl.train.module import make_loader

    n = len(inputs.labels)
    y = np.zeros(n, dtype=np.int64)
    with torch.no_grad():
        return torch.cat([model.probabilities(b) for b in make_loader(inputs, y, np.arange(n), batch_size, False)]).numpy().astype(np.float64)


def predict(run: str | Path, data: str | Path | JetDataset, *, models: list[str] | None = None,
            cache: bool = True) -> dict[str, np.ndarray]:
    """Scores of the run's models (all, or ``models``) on every jet of ``data``, using each model's
    stored preprocessing. Returns model (directory) name -> scores of shape (n_jets,) (signal probability) for a
    two-class model, (n_jets, C) class probabilities for a C-class one."""
    import json as _json

    ds = _as_dataset(data)
    out: dict[str, np.ndarray] = {}
    for d in _model_dirs(Path(run)):
        name = _json.loads((d / "config.json").read_text())["model"]
        key = d.name if d.name != Path(run).name else name  # members of an ensemble: dnn-1, dnn-2, ...
        if models and key not in models and name not in models:
            continue
        _, pre, model = load_trained(d)
        out[key] = score_inputs(model, model_inputs(ds, pre, cache=cache))
    if models:
        unknown = [m for m in models if m not in out]
        if unknown:
            raise DataError(f"run {run} has no model(s) {unknown}; it has {sorted(out)}")
    return out


def evaluate(run: str | Path, *, n_bootstrap: int = 100) -> dict[str, dict[str, Any]]:
    """Recompute every model's test metrics from its stored test scores and rewrite the report."""
    import json as _json

    from hepdl.report import make_report

    run = Path(run)
    results = {}
    for d in _model_dirs(run):
        s = np.load(d / "scores.npz")
        old = _json.loads((d / "metrics.json").read_text())
        names = _json.loads((d / "config.json").read_text()).get("class_names") or ["background", "signal"]
        old.update(_metrics(s["labels"], s["scores"], names, n_bootstrap=n_bootstrap))
        atomic_write_json(d / "metrics.json", old)
        results[d.name] = old
    ds_path = _json.loads((_model_dirs(run)[0] / "config.json").read_text())["dataset"]
    try:
        ds = open_dataset(ds_path)
        if _is_events(ds):
            from hepdl.report.higgs import make_higgs_report

            make_higgs_report(run, ds)
        else:
            make_report(run, ds.jets, ds.labels)
    except DataError:
        make_report(run)
    return results
