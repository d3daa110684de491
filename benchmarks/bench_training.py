"""Training speed and time-to-AUC of the BDT and a few networks, through the real entry point
(``hepdl.train.train``), on the same jets in the same run, each against the BDT.

Every (model, repeat) trains in a fresh process with ``train(TrainConfig(model, epochs=..., seed=repeat),
jets, out)`` on a seeded subset of ``--jets`` top-tagging jets holding both classes (split 60/20/20,
the same split for every model and repeat), on ``--threads`` threads (default one). The BDT is
hepdl's XGBoost wrapper (up to 1000 rounds of depth-6 trees at learning rate 0.05, stopping 50 rounds
after the best validation log-loss);
the networks use their ``small`` preset for at most ``--epochs`` epochs (early stopping after 5
epochs without a better validation loss). The wall time of each epoch (validation included) and of
each boosting round is recorded from the start of the fit loop (Lightning's ``on_fit_start``,
XGBoost's ``before_training``); the validation AUC after each epoch is ``history.csv``'s, after
each round it is that of the first k trees on the validation split.

Prints one JSON line; ``<m>`` is a model name with ``_`` for ``-`` (``bdt``, ``dnn``, ``pfn``,
``particlenet_lite``, ...), ``*_err`` the standard error
of the mean over the repeats (``null`` for one). The seed of a repeat varies the networks'
initialisation and data order; the BDT has no random step, so only its timings vary:

- ``benchmark`` ("training"), ``jets``, ``train_jets``, ``repeats``, ``threads``, ``models``,
  ``epochs_max``, ``bdt_max_rounds`` (1000), ``bdt_early_stopping_rounds`` (50);
- ``target_auc``: the validation AUC of the time-to-target figures: ``--target-auc`` or, by default,
  the highest AUC that every run reached (the lowest of the runs' best validation AUCs);
- ``<m>_train_jets_per_s``: training jets x passes / ``train_seconds`` (``metrics.json``), a pass being
  an epoch of a network or a boosting round of the BDT;
- ``<m>_train_seconds``: the whole training (``metrics.json``), early-stopping tail included;
- ``<m>_time_to_target_s``: wall time from the start of the fit loop until the validation AUC first
  reaches ``target_auc`` (mean over the repeats that reached it), ``<m>_target_reached`` the
  fraction of repeats that did (``null`` time when none did);
- ``<m>_val_auc``: the best validation AUC of the run; ``<m>_test_auc``: the test AUC of the trained
  model (``metrics.json``);
- ``<m>_epochs`` (networks: epochs run), ``bdt_rounds`` (trees built), ``bdt_best_round`` (trees kept),
  ``<m>_parameters``;
- ratios to the BDT, the reference (means of the per-repeat ratios): ``<m>_train_jets_per_s_over_bdt``,
  ``<m>_train_seconds_over_bdt``, ``<m>_time_to_target_over_bdt``.

Usage: ``python benchmarks/bench_training.py [--jets 2000] [--epochs 10] [--repeat 2]
[--models bdt,dnn,pfn,particlenet-lite] [--target-auc 0.9] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import mean_err, rnd, stdout_to_stderr, subset_dataset

MODELS = "bdt,dnn,pfn,particlenet-lite"


def _instrument(marks: dict[str, list[float]]) -> None:
    """Record the wall time at the start of each fit loop (``marks['start']``) and after each
    validated epoch or boosting round (``marks['ends']``), without changing the training."""
    import xgboost

    from hepdl.train import module

    cls = getattr(module, "TrainModule", None) or module.Classifier  # the LightningModule of every network

    def on_fit_start(self) -> None:
        marks["start"].append(time.perf_counter())

    end = cls.on_validation_epoch_end

    def on_validation_epoch_end(self) -> None:
        end(self)
        if not self.trainer.sanity_checking:
            marks["ends"].append(time.perf_counter())

    cls.on_fit_start = on_fit_start
    cls.on_validation_epoch_end = on_validation_epoch_end

    class RoundTimes(xgboost.callback.TrainingCallback):
        def before_training(self, model):
            marks["start"].append(time.perf_counter())
            return model

        def after_iteration(self, model, epoch, evals_log) -> bool:
            marks["ends"].append(time.perf_counter())
            return False

    train = xgboost.train

    def timed_train(*args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), RoundTimes()]
        return train(*args, **kwargs)

    xgboost.train = timed_train


def child(model: str, data: str, args: argparse.Namespace) -> None:
    """Train one model once and print its figures and its validation-AUC curve."""
    import numpy as np
    import pandas as pd
    import torch
    import xgboost as xgb

    import hepdl.data
    from hepdl.metrics import auc
    from hepdl.train import TrainConfig, class_labels, load_trained, model_inputs, train

    torch.set_num_threads(args.threads)
    ds = subset_dataset(hepdl.data.open(data), args.jets, args.seed)
    marks: dict[str, list[float]] = {"start": [], "ends": []}
    _instrument(marks)
    cfg = TrainConfig(model, epochs=args.epochs, seed=args.repeat_index, n_bootstrap=10,
                      model_config={"n_jobs": args.threads} if model == "bdt" else {})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / model
        metrics = train(cfg, ds, out, progress=False)
        split = np.load(out / "split.npz")
        times = [t - marks["start"][0] for t in marks["ends"]]
        res = {"train_seconds": metrics["train_seconds"], "test_auc": metrics["auc"]["value"],
               "parameters": metrics["n_parameters"], "train_jets": len(split["train"]), "times": times}
        if model == "bdt":
            _, pre, bdt = load_trained(out)
            frame = model_inputs(ds, pre, cache=False).arrays["frame"].iloc[split["val"]]
            d = xgb.DMatrix(frame[bdt.columns].to_numpy(np.float64), feature_names=bdt.columns)
            y_val = class_labels(ds)[0][split["val"]]
            res["val_auc"] = [auc(y_val, bdt.booster.predict(d, iteration_range=(0, k))) for k in range(1, len(times) + 1)]
            res["passes"] = len(times)
            res["best_round"] = int(bdt.best_iteration) + 1
        else:
            hist = pd.read_csv(out / "history.csv")
            res["val_auc"] = hist["val_auc"].tolist()
            res["passes"] = int(metrics["epochs"])
    if len(res["val_auc"]) != len(times):
        raise RuntimeError(f"{model}: {len(times)} timed passes but {len(res['val_auc'])} validation AUCs")
    print(json.dumps(res))


def _first_reach(times: list[float], aucs: list[float], target: float) -> float | None:
    return next((t for t, a in zip(times, aucs, strict=True) if a >= target), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=2000, help="jets (a seeded subset with both classes)")
    ap.add_argument("--epochs", type=int, default=10, help="most epochs of each network")
    ap.add_argument("--repeat", type=int, default=2, help="trainings of each model (seeds 0, 1, ...)")
    ap.add_argument("--models", default=MODELS, help="comma-separated models; must include bdt, the reference")
    ap.add_argument("--target-auc", type=float, default=None, help="validation AUC of the time-to-target figures")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and XGBoost threads (default 1: on a loaded machine OpenMP threads that wait for each other slow XGBoost tenfold)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the jet subset")
    ap.add_argument("--data", type=Path, default=None, help="dataset to use (default: generate and cache)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--repeat-index", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args)
        return
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if "bdt" not in models:
        ap.error("--models must include bdt, the reference of the ratios")
    if args.jets < 20 or args.repeat < 1 or args.epochs < 1:
        ap.error("--jets must be >= 20, --repeat and --epochs >= 1")

    with stdout_to_stderr():
        out = measure(args, models)
    print(json.dumps(out))


def measure(args: argparse.Namespace, models: list[str]) -> dict:
    """Run the benchmark; the dict of its figures."""
    from hepdl.data.generate import ensure_dataset
    from hepdl.tasks import top_tagging

    data = args.data or ensure_dataset(top_tagging.dataset_spec(args.jets, seed=1), progress=sys.stderr.isatty())
    runs: dict[str, list[dict]] = {m: [] for m in models}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    for r in range(args.repeat):
        for m in models:
            cmd = [sys.executable, __file__, "--child", m, str(data), "--jets", str(args.jets), "--epochs", str(args.epochs),
                   "--threads", str(args.threads), "--seed", str(args.seed), "--repeat-index", str(r)]
            run = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if run.returncode != 0:
                raise RuntimeError(f"{m} (repeat {r}) failed:\n{run.stderr[-3000:]}")
            runs[m].append(json.loads(run.stdout.strip().splitlines()[-1]))

    target = args.target_auc if args.target_auc is not None else min(max(x["val_auc"]) for rs in runs.values() for x in rs)
    n_train = runs["bdt"][0]["train_jets"]
    out: dict[str, object] = {"benchmark": "training", "jets": args.jets, "train_jets": n_train, "repeats": args.repeat,
                              "threads": args.threads, "models": models, "epochs_max": args.epochs, "bdt_max_rounds": 1000,
                              "bdt_early_stopping_rounds": 50, "target_auc": rnd(target, 4)}

    def put(key: str, values: list[float], digits: int = 3) -> None:
        mean, err = mean_err(values) if values else (float("nan"), float("nan"))
        out[key], out[key + "_err"] = rnd(mean, digits), rnd(err, 2)

    per: dict[str, dict[str, list]] = {}
    for m, rs in runs.items():
        k = m.replace("-", "_")
        p = per[m] = {
            "train_jets_per_s": [x["train_jets"] * x["passes"] / x["train_seconds"] for x in rs],
            "train_seconds": [x["train_seconds"] for x in rs],
            "time_to_target_s": [_first_reach(x["times"], x["val_auc"], target) for x in rs],
        }
        put(f"{k}_train_jets_per_s", p["train_jets_per_s"])
        put(f"{k}_train_seconds", p["train_seconds"])
        reached = [t for t in p["time_to_target_s"] if t is not None]
        put(f"{k}_time_to_target_s", reached)
        out[f"{k}_target_reached"] = len(reached) / len(rs)
        put(f"{k}_val_auc", [max(x["val_auc"]) for x in rs], 4)
        put(f"{k}_test_auc", [x["test_auc"] for x in rs], 4)
        if m == "bdt":
            put("bdt_rounds", [x["passes"] for x in rs])
            put("bdt_best_round", [x["best_round"] for x in rs])
        else:
            put(f"{k}_epochs", [x["passes"] for x in rs])
        out[f"{k}_parameters"] = rs[0]["parameters"]
    for m in models:
        if m == "bdt":
            continue
        for fig in ("train_jets_per_s", "train_seconds", "time_to_target_s"):
            pairs = [(a, b) for a, b in zip(per[m][fig], per["bdt"][fig], strict=True) if a is not None and b is not None]
            name = f"{m.replace('-', '_')}_{fig.removesuffix('_s') if fig == 'time_to_target_s' else fig}_over_bdt"
            put(name, [a / b for a, b in pairs])
    return out


if __name__ == "__main__":
    main()
