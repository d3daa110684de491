"""Unfolding: how close each method's unfolded jet substructure lies to the pseudo-data's truth.

The figures come from an ``unfolding`` run: ``--run DIR`` (e.g. the ``quick`` preset's), or one made
here on ``--events`` fresh events (half simulation, half pseudo-data) with ``--iterations`` OmniFold
iterations and ``--epochs`` per network. Methods ``<m>``: ``ibu``, ``omnifold``, ``cinn``, and the
references ``detector`` (the data's detector level, no unfolding) and ``prior`` (the simulation's
particle level). Observables ``<o>``: mass, multiplicity, width, tau21, log_rho, zg. Each figure has
its bootstrap error as ``<key>_err``.

Prints one JSON line:

- ``benchmark`` ("unfolding"), ``run``, ``n_events``, ``n_sim``, ``n_data``, ``n_bins``;
- ``<m>_chi2_ndf_<o>``: chi^2/ndf of the unfolded distribution to the truth; ``<m>_chi2_ndf_mean``;
- ``<m>_triangular_<o>``: the triangular discriminator x 10^3; ``<m>_triangular_mean``;
- ``<m>_closure_chi2_ndf_mean`` (one half of the simulation unfolded with the other; ~1 is closure),
  ``<m>_closure_max_chi2_ndf``: the worst observable's;
- ``omnifold_over_ibu_chi2_ndf_<o>``: OmniFold's chi^2/ndf over IBU's (below 1: OmniFold closer);
  ``omnifold_over_ibu_triangular_mean``;
- ``omnifold_beats_ibu_n`` (observables where OmniFold's chi^2/ndf is the lower), ``goal_omnifold_beats_ibu_4_of_6``;
- ``<m>_over_detector_chi2_ndf_mean``: the method's mean chi^2/ndf over no unfolding's;
- ``<m>_seconds`` (unfolding time, closure excluded), ``omnifold_over_ibu_seconds``, ``run_seconds`` (when made here).

Usage: ``python benchmarks/bench_unfolding.py [--run runs/unfolding/<stamp>] [--events 60000] [--iterations 3] [--epochs 20]``
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from _common import rnd, stdout_to_stderr

METHODS = ("ibu", "omnifold", "cinn")
REFERENCES = ("detector", "prior")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None, help="an unfolding run to read (default: make one)")
    ap.add_argument("--events", type=int, default=60_000, help="events of the run made here (half simulation, half pseudo-data)")
    ap.add_argument("--iterations", type=int, default=3, help="OmniFold iterations of the run made here")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per network of the run made here")
    args = ap.parse_args()
    if args.events < 100 or args.iterations < 1 or args.epochs < 1:
        ap.error("--events >= 100, --iterations and --epochs >= 1")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> dict:
    from hepdl.data import open as open_dataset
    from hepdl.train.rundir import ModelDir

    out: dict = {"benchmark": "unfolding"}
    run = args.run
    if run is None:
        from hepdl.tasks import unfolding as task

        task.PRESETS["bench"] = {**task.PRESETS["quick"], "n_events": args.events,
                                 "omnifold": {**task.PRESETS["quick"]["omnifold"], "iterations": args.iterations, "epochs": args.epochs},
                                 "cinn": {**task.PRESETS["quick"]["cinn"], "epochs": args.epochs}}
        t0 = time.perf_counter()
        run = task.run("bench", runs_dir=Path(tempfile.mkdtemp(prefix="bench-unfolding-")), progress=False)
        out["run_seconds"] = rnd(time.perf_counter() - t0)
    out["run"] = str(run)
    metrics = {m: ModelDir(run / m).metrics() for m in (*REFERENCES, *METHODS) if (run / m / ModelDir.METRICS).exists()}
    info = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    try:
        ds = open_dataset(info["dataset"], verify=False)
        counts = ds.class_counts()
        out.update(n_events=len(ds), n_sim=counts.get("sim"), n_data=counts.get("data"))
    except Exception:  # the dataset may be gone: the run's figures are still there
        out.update(n_events=None, n_sim=None, n_data=None)
    first = next(iter(metrics.values()))
    out["n_bins"] = first.get("evaluation", {}).get("n_bins")
    obs = list(first["observables"])
    for m, mm in metrics.items():
        for o in obs:
            for fig in ("chi2_ndf", "triangular"):
                v = mm["observables"][o][fig]
                out[f"{m}_{fig}_{o}"], out[f"{m}_{fig}_{o}_err"] = rnd(v["value"]), rnd(v["error"])
        for fig in ("chi2_ndf_mean", "triangular_mean"):
            out[f"{m}_{fig}"], out[f"{m}_{fig}_err"] = rnd(mm[fig]["value"]), rnd(mm[fig]["error"])
        if isinstance(mm.get("closure"), dict):
            vals = [v["chi2_ndf"]["value"] for v in mm["closure"].values()]
            errs = [v["chi2_ndf"]["error"] for v in mm["closure"].values()]
            out[f"{m}_closure_chi2_ndf_mean"] = rnd(sum(vals) / len(vals))
            out[f"{m}_closure_chi2_ndf_mean_err"] = rnd(math.sqrt(sum(e * e for e in errs)) / len(errs))
            out[f"{m}_closure_max_chi2_ndf"] = rnd(max(vals))
        if "train_seconds" in mm:
            out[f"{m}_seconds"] = rnd(mm["train_seconds"])
    if "omnifold" in metrics and "ibu" in metrics:
        wins = 0
        for o in obs:
            a, b = metrics["omnifold"]["observables"][o]["chi2_ndf"], metrics["ibu"]["observables"][o]["chi2_ndf"]
            r = a["value"] / b["value"] if b["value"] > 0 else math.nan
            out[f"omnifold_over_ibu_chi2_ndf_{o}"] = rnd(r)
            out[f"omnifold_over_ibu_chi2_ndf_{o}_err"] = rnd(abs(r) * math.hypot(a["error"] / a["value"], b["error"] / b["value"])
                                                              if a["value"] > 0 and b["value"] > 0 else math.nan)
            wins += int(a["value"] < b["value"])
        out["omnifold_beats_ibu_n"] = wins
        out["goal_omnifold_beats_ibu_4_of_6"] = wins >= 4
        ta, tb = metrics["omnifold"]["triangular_mean"]["value"], metrics["ibu"]["triangular_mean"]["value"]
        out["omnifold_over_ibu_triangular_mean"] = rnd(ta / tb if tb > 0 else math.nan)
        out["omnifold_over_ibu_seconds"] = rnd(metrics["omnifold"]["train_seconds"] / max(metrics["ibu"]["train_seconds"], 1e-9))
    det = metrics.get("detector", {}).get("chi2_ndf_mean", {}).get("value")
    for m in METHODS:
        if m in metrics and det:
            out[f"{m}_over_detector_chi2_ndf_mean"] = rnd(metrics[m]["chi2_ndf_mean"]["value"] / det)
    return out


if __name__ == "__main__":
    main()
