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
from hepdl.metrics import classifier_metrics
from hepdl.models import registry
from hepdl.train.inputs import make_inputs, split_indices

__all__ = ["TrainConfig", "train", "predict", "evaluate", "BASELINES"]

#: Non-torch models known to the trainer, name -> (input kind, paper).
BASELINES = {
    "mass-cut": ("cut", "arXiv:1902.09914"),
    "tau32-cut": ("cut", "arXiv:1011.2268"),
    "bdt": ("bdt", "arXiv:1902.09914"),
}
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


def _as_dataset(data: str | Path | JetDataset) -> JetDataset:
    return data if isinstance(data, JetDataset) else open_dataset(data)


def _binary(labels: np.ndarray, ds: JetDataset) -> np.ndarray:
    classes = np.unique(labels)
    if len(classes) != 2:
        raise DataError(f"dataset {ds.path} has classes {classes.tolist()}: this trainer does binary classification")
    return (labels == classes.max()).astype(np.int64)


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
    out = ensure_writable_dir(Path(out))
    y = _binary(ds.labels, ds)
    split = split_indices(len(ds), config.fractions, config.split_seed)
    for name, idx in split.items():
        if len(idx) < MIN_JETS_PER_SPLIT or len(np.unique(y[idx])) < 2:
            raise DataError(f"dataset {ds.path}: {len(ds)} jets are too few for the {name} split "
                            f"({len(idx)} jets, classes {np.unique(y[idx]).tolist()}); generate more jets")
    kind = config.input_kind
    inputs = make_inputs(ds, kind, split["train"], feature_set=config.feature_set, n_particles=config.n_particles)
    np.savez(out / "split.npz", **split)
    atomic_write_json(out / "config.json", {**asdict(config), "dataset": str(ds.path), "input_kind": kind})
    atomic_write_json(out / "preprocess.json", {"kind": kind, **inputs.preprocess})
    if kind in ("cut", "bdt"):
        result = _train_baseline(config, inputs, y, split, out)
    else:
        result = _train_torch(config, inputs, y, split, out, resume, progress)
    scores = result.pop("scores")
    np.savez(out / "scores.npz", scores=scores, labels=y[split["test"]], index=split["test"])
    m = classifier_metrics(y[split["test"]], scores, n_bootstrap=config.n_bootstrap, seed=config.seed,
                           threshold=0.5 if kind not in ("cut",) else float(np.median(scores)))
    metrics = {"model": config.model, "paper": BASELINES[config.model][1] if config.model in BASELINES else registry.spec(config.model).paper,
               **{k: {"value": v.value, "error": v.error} for k, v in m.items()}, **result}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def _train_baseline(config: TrainConfig, inputs: Any, y: np.ndarray, split: dict[str, np.ndarray], out: Path) -> dict[str, Any]:
    from hepdl.models.baselines import BDT, MassTau32Cut, VariableCut

    frame = inputs.arrays["frame"]
    tr, va, te = (frame.iloc[split[k]] for k in ("train", "val", "test"))
    t0 = time.perf_counter()
    if config.model == "bdt":
        model: Any = BDT(seed=config.seed, **config.model_config).fit(tr, y[split["train"]], va, y[split["val"]])
        model.save(out / "model.json")
        n_params = int(len(model.booster.get_dump()))
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
    return {"scores": np.asarray(scores, dtype=np.float64), "train_seconds": train_s, "inference_jets_per_s": infer,
            "n_parameters": n_params, "epochs": 0}


def _train_torch(config: TrainConfig, inputs: Any, y: np.ndarray, split: dict[str, np.ndarray], out: Path,
                 resume: str | Path | None, progress: bool) -> dict[str, Any]:
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
                        epochs=config.epochs)
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
        scores = torch.cat([torch.sigmoid(best(batch)[:, 0]) for batch in test_loader]).numpy()
    infer = len(split["test"]) / max(time.perf_counter() - t0, 1e-9)
    hist = out / "metrics.csv"
    if hist.exists():
        hist.replace(out / "history.csv")
    return {"scores": scores.astype(np.float64), "train_seconds": train_s, "inference_jets_per_s": infer,
            "n_parameters": int(sum(p.numel() for p in net.parameters())), "epochs": int(trainer.current_epoch)}


def _model_dirs(run: Path) -> list[Path]:
    dirs = sorted(p for p in run.iterdir() if (p / "config.json").exists() and (p / "preprocess.json").exists())
    if (run / "config.json").exists() and (run / "preprocess.json").exists():
        dirs = [run]
    if not dirs:
        raise DataError(f"{run} holds no trained model (no <model>/config.json)")
    return dirs


def predict(run: str | Path, data: str | Path | JetDataset, *, models: list[str] | None = None) -> dict[str, np.ndarray]:
    """Scores of the run's models (all, or ``models``) on every jet of ``data``, using each model's
    stored preprocessing. Returns model name -> scores of shape (n_jets,)."""
    import json as _json

    import torch

    from hepdl.models.baselines import BDT, MassTau32Cut, VariableCut
    from hepdl.train.inputs import Inputs
    from hepdl.train.module import Classifier, make_loader

    ds = _as_dataset(data)
    out: dict[str, np.ndarray] = {}
    for d in _model_dirs(Path(run)):
        cfg = _json.loads((d / "config.json").read_text())
        name = cfg["model"]
        if models and name not in models:
            continue
        pre = _json.loads((d / "preprocess.json").read_text())
        kind = pre["kind"]
        if kind in ("cut", "bdt"):
            frame = make_inputs(ds, kind, np.arange(len(ds)), feature_set=pre["feature_set"]).arrays["frame"]
            missing = [c for c in pre["columns"] if c not in frame.columns]
            if missing:
                raise DataError(f"{ds.path} lacks the inputs {missing} of model {name!r}")
            loader = {"bdt": BDT, "mass-cut": VariableCut, "tau32-cut": MassTau32Cut}[name]
            out[name] = np.asarray(loader.load(d / "model.json").score(frame[pre["columns"]]), dtype=np.float64)
            continue
        inputs = make_inputs(ds, kind, np.arange(len(ds)), feature_set=pre.get("feature_set", "expert"),
                             n_particles=pre.get("n_particles", 64))
        if kind == "features":
            cols = inputs.preprocess["columns"]
            if cols != pre["columns"]:
                raise DataError(f"{ds.path}: feature columns {cols} differ from model {name!r}'s {pre['columns']}")
            # undo this dataset's standardisation, apply the model's
            x = inputs.arrays["features"] * np.asarray(inputs.preprocess["std"]) + np.asarray(inputs.preprocess["mean"])
            inputs = Inputs(kind, {"features": ((x - np.asarray(pre["mean"])) / np.asarray(pre["std"])).astype(np.float32)},
                            inputs.labels, pre)
        build = _json.loads((d / "model_build.json").read_text())
        net = registry.get(build["model"], preset=build["preset"], **build["config"])
        module = Classifier.load_from_checkpoint(d / "model.ckpt", net=net, weights_only=False).eval()
        y = np.zeros(len(ds), dtype=np.int64)
        with torch.no_grad():
            out[name] = torch.cat([torch.sigmoid(module(b)[:, 0]) for b in make_loader(inputs, y, np.arange(len(ds)), 1024, False)]).numpy().astype(np.float64)
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
        m = classifier_metrics(s["labels"], s["scores"], n_bootstrap=n_bootstrap)
        old = _json.loads((d / "metrics.json").read_text())
        old.update({k: {"value": v.value, "error": v.error} for k, v in m.items()})
        atomic_write_json(d / "metrics.json", old)
        results[d.name] = old
    ds_path = _json.loads((_model_dirs(run)[0] / "config.json").read_text())["dataset"]
    try:
        ds = open_dataset(ds_path)
        make_report(run, ds.jets, ds.labels)
    except DataError:
        make_report(run)
    return results
