"""KANs against the MLP at equal parameter count: AUC, training speed, and the AUC of the KAN's formula.

The Kolmogorov-Arnold network (Liu et al., arXiv:2404.19756; ``hepdl.models.kan``) against the
multi-layer perceptron ``dnn``, both with their ``paper`` preset and the same trainer settings (epochs,
seed, batch size, learning rate, patience, split), on two tasks:

- ``jet_classes``: the five-class hls4ml benchmark (arXiv:1804.06913) on its 16 hls4ml features, where
  the presets have about the same size (``dnn`` 16-64-32-32-5, 4389 parameters; ``kan`` 16-20-5 with
  grid 5 and cubic splines, 4225). The AUC is the macro average of the one-vs-rest AUCs
  (``hepdl.metrics.multiclass_metrics``, the ``auc`` of ``metrics.json``).
- ``top``: top against QCD jets (arXiv:1902.09914) on the task's default observables (the ``expert``
  feature set, as the ``quick`` preset's ``dnn``), with also ``kan_gam``, the KAN without a hidden layer
  (logit = sum_i phi_i(x_i)), whose edges are fitted by ``symbolic_model`` on up to 5000 jets of its
  training split; the formula's own AUC is measured on the test split.

A published study of KANs in HEP found them no more parameter-efficient than MLPs (AUC 0.908 for both);
the issue's goal: the KAN within 0.005 AUC of the MLP on jet classes, with its training-speed ratio.

Prints one JSON line (``<task>`` is ``jet_classes`` or ``top``, ``<model>`` is ``dnn``, ``kan`` or
``kan_gam``; each figure with a bootstrap error has it as ``<key>_err``):

- ``benchmark`` ("kan"), ``epochs`` (the maximum), ``<task>_n_jets``, ``<task>_n_train``, ``<task>_n_test``;
- ``jet_classes_dnn_auc``, ``jet_classes_kan_auc`` (macro one-vs-rest), ``top_dnn_auc``, ``top_kan_auc``,
  ``top_kan_gam_auc``: test-split AUCs;
- ``jet_classes_kan_minus_dnn_auc`` (its error: both errors in quadrature), ``top_kan_minus_dnn_auc``;
- ``goal_kan_within_0_005_auc``: true when the KAN's jet-classes AUC is at least the MLP's minus 0.005
  (a KAN better by more meets it too);
- ``<task>_<model>_n_parameters``, ``<task>_<model>_epochs`` (epochs run, early stopping included),
  ``<task>_<model>_train_s``, ``<task>_<model>_train_jets_per_s`` (training jets times epochs run over the
  training time of ``metrics.json``: validation passes included);
- ``<task>_kan_over_dnn_n_parameters``, ``<task>_kan_over_dnn_train_jets_per_s`` (below 1: the KAN trains
  slower);
- ``top_kan_gam_formula_auc``: AUC of the symbolic formula of ``kan_gam`` on the test split,
  ``top_kan_gam_formula_over_network_auc``, ``top_kan_gam_formula_min_r2`` (the worst fit of one edge),
  ``top_kan_gam_formula`` (the formula, standardised inputs).

Usage: ``python benchmarks/bench_kan.py [--jets 10000] [--top-jets 10000] [--epochs 20] [--batch-size 128]
[--lr 0.001] [--patience 5] [--seed 1] [--workers 1]``
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from _common import rnd, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=10_000, help="jets of the jet-classes dataset")
    ap.add_argument("--top-jets", type=int, default=10_000, help="jets of the top-tagging dataset")
    ap.add_argument("--epochs", type=int, default=20, help="maximum epochs of every network")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    ap.add_argument("--seed", type=int, default=1, help="training seed (the same for every model)")
    ap.add_argument("--workers", type=int, default=1, help="processes generating the datasets")
    args = ap.parse_args()
    if args.jets < 50 or args.top_jets < 50 or args.epochs < 1 or args.patience < 1 or args.workers < 1:
        ap.error("--jets and --top-jets >= 50, --epochs, --patience and --workers >= 1")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def _train(model: str, ds: Any, out: Path, args: argparse.Namespace, feature_set: str) -> dict[str, Any]:
    from hepdl.train import TrainConfig, train

    cfg = TrainConfig(model, preset="paper", feature_set=feature_set, epochs=args.epochs, seed=args.seed,
                      batch_size=args.batch_size, lr=args.lr, patience=args.patience)
    return train(cfg, ds, out / model, progress=False)


def _model_keys(out: dict, prefix: str, m: dict[str, Any]) -> None:
    out[f"{prefix}_auc"] = rnd(m["auc"]["value"], 4)
    out[f"{prefix}_auc_err"] = rnd(m["auc"]["error"], 2)
    out[f"{prefix}_n_parameters"] = int(m["n_parameters"])
    out[f"{prefix}_epochs"] = int(m["epochs"])
    out[f"{prefix}_train_s"] = rnd(m["train_seconds"], 3)
    out[f"{prefix}_train_jets_per_s"] = rnd(_jets_per_s(m), 3)


def _jets_per_s(m: dict[str, Any]) -> float:
    return m["n_train"] * m["epochs"] / max(m["train_seconds"], 1e-9)


def _compare(out: dict, task: str, metrics: dict[str, dict[str, Any]]) -> None:
    dnn, kan = metrics["dnn"], metrics["kan"]
    diff = kan["auc"]["value"] - dnn["auc"]["value"]
    out[f"{task}_kan_minus_dnn_auc"] = round(diff, 4)
    out[f"{task}_kan_minus_dnn_auc_err"] = rnd(math.hypot(kan["auc"]["error"], dnn["auc"]["error"]), 2)
    out[f"{task}_kan_over_dnn_n_parameters"] = rnd(kan["n_parameters"] / dnn["n_parameters"])
    out[f"{task}_kan_over_dnn_train_jets_per_s"] = rnd(_jets_per_s(kan) / _jets_per_s(dnn))


def _formula(model_dir: Path, ds: Any, n_bootstrap: int = 100) -> dict[str, Any]:
    """The symbolic model of the trained KAN in ``model_dir``, fitted on its training split as the report
    fits it (:func:`hepdl.report.jets.kan_symbolic`): formula, worst R^2, test AUC."""
    from hepdl.metrics import auc, bootstrap
    from hepdl.report.jets import kan_symbolic

    k = kan_symbolic(model_dir, ds)
    return {"auc": bootstrap(auc, k["labels"], k["logits"][:, 0], n=n_bootstrap, seed=0), "min_r2": k["sym"].min_r2(),
            "text": k["sym"].formula(k["columns"], outputs=["logit"])}


def measure(args: argparse.Namespace) -> dict:
    from hepdl.data import open as open_dataset
    from hepdl.data.generate import ensure_dataset
    from hepdl.features.jet_inputs import DEFAULT_FEATURE_SET
    from hepdl.tasks import jet_classes, top_tagging

    out: dict = {"benchmark": "kan", "epochs": args.epochs}
    tmp = Path(tempfile.mkdtemp(prefix="bench-kan-"))
    tasks = (("jet_classes", jet_classes.dataset_spec(args.jets), "hls4ml", ("dnn", "kan")),
             ("top", top_tagging.dataset_spec(args.top_jets), DEFAULT_FEATURE_SET, ("dnn", "kan", "kan-gam")))
    for task, spec, feature_set, models in tasks:
        ds = open_dataset(ensure_dataset(spec, workers=args.workers, progress=False))
        metrics = {m: _train(m, ds, tmp / task, args, feature_set) for m in models}
        first = metrics["dnn"]
        out[f"{task}_n_jets"] = len(ds)
        out[f"{task}_n_train"] = int(first["n_train"])
        out[f"{task}_n_test"] = _n_test(tmp / task / "dnn")
        for m, mm in metrics.items():
            _model_keys(out, f"{task}_{m.replace('-', '_')}", mm)
        _compare(out, task, metrics)
        if task == "jet_classes":
            out["goal_kan_within_0_005_auc"] = bool(metrics["kan"]["auc"]["value"] >= metrics["dnn"]["auc"]["value"] - 0.005)
        if "kan-gam" in metrics:
            f = _formula(tmp / task / "kan-gam", ds)
            out["top_kan_gam_formula_auc"] = rnd(f["auc"].value, 4)
            out["top_kan_gam_formula_auc_err"] = rnd(f["auc"].error, 2)
            out["top_kan_gam_formula_over_network_auc"] = rnd(f["auc"].value / metrics["kan-gam"]["auc"]["value"], 4)
            out["top_kan_gam_formula_min_r2"] = rnd(f["min_r2"], 3)
            out["top_kan_gam_formula"] = f["text"]
    return out


def _n_test(model_dir: Path) -> int:
    import numpy as np

    with np.load(model_dir / "scores.npz") as s:
        return len(s["index"])


if __name__ == "__main__":
    main()
