"""Air showers: simulation speed and every reconstruction's resolution on the same test events.

The simulation (:func:`hepdl.sim.airshowers.simulate_showers`, one process, one core) is timed over
``--repeat`` batches of ``--sim-events`` showers against the goal of 200 events/s per core. The
reconstructions come from an ``air-showers`` run: ``--run DIR`` (e.g. the ``quick`` preset's), or
one made here on ``--events`` fresh showers with ``--epochs``. Every method (``plane_fit``,
``ldf_fit``, ``airshower_cnn``, ``airshower_set``, ``airshower_cnn_times``; ``<m>`` below) was
scored on the same test events; each figure has its bootstrap error as ``<key>_err``.

Prints one JSON line:

- ``benchmark`` ("airshowers"), ``run``, ``n_events``, ``n_test``;
- ``sim_events_per_s`` (mean over the repeats), ``sim_over_goal`` (over 200 events/s);
- ``<m>_angular_resolution_deg``, ``<m>_core_resolution_m``, ``<m>_energy_resolution``,
  ``<m>_xmax_resolution``: all test events (68 % quantiles; half-68 % widths);
- ``<m>_angular_resolution_deg_above_19``, ``<m>_core_resolution_m_above_19``,
  ``<m>_energy_resolution_above_19``, ``<m>_xmax_resolution_above_19``: true E >= 10^19 eV;
- ``<m>_xmax_merit_factor``: proton-iron separation of the reconstructed X_max;
- ``<m>_angular_resolution_deg_e<k>``: per energy bin k (0: 10^18.5-10^19, 1: 10^19-10^19.5,
  2: 10^19.5-10^20 eV);
- ``<m>_over_plane_fit_angular_resolution``: the method's angular resolution over the plane fit's
  (all events; below 1: better), and ``<m>_beats_plane_fit_every_energy_bin`` (true/false);
- ``<m>_train_s``, ``<m>_inference_events_per_s``, ``<m>_over_ldf_fit_inference_events_per_s``;
- ``best_network_angle``, ``best_network_core``, ``best_network_energy``, ``best_network_xmax``: the
  network best in that figure (angle: all events; the others above 10^19 eV), and whether it meets
  the issue's goal: ``goal_angle_below_1_5_deg``, ``goal_core_below_25_m_above_19``,
  ``goal_energy_below_7_percent_above_19``, ``goal_xmax_below_35_above_19`` (true/false).

Usage: ``python benchmarks/bench_airshowers.py [--run runs/air-showers/<stamp>] [--events 20000] [--epochs 25]
[--sim-events 2000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import mean_err, rnd, stdout_to_stderr

NETWORKS = ("airshower-cnn", "airshower-set", "airshower-cnn-times")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None, help="an air-showers run to read (default: make one)")
    ap.add_argument("--events", type=int, default=20_000, help="showers of the run made here")
    ap.add_argument("--epochs", type=int, default=25, help="epochs of the networks of the run made here")
    ap.add_argument("--sim-events", type=int, default=2000, help="showers per timed simulation batch")
    ap.add_argument("--repeat", type=int, default=3, help="timed simulation batches")
    args = ap.parse_args()
    if args.events < 100 or args.epochs < 1 or args.sim_events < 1 or args.repeat < 1:
        ap.error("--events >= 100, --epochs, --sim-events and --repeat >= 1")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def _sim_speed(args: argparse.Namespace) -> dict:
    import numpy as np

    from hepdl.sim.airshowers import simulate_showers

    rng = np.random.default_rng(0)
    simulate_showers(100, "proton", rng)  # warm-up (the gamma table)
    rates = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        simulate_showers(args.sim_events, ("proton", "iron")[i % 2], rng)
        rates.append(args.sim_events / (time.perf_counter() - t0))
    rate, err = mean_err(rates)
    return {"sim_events_per_s": rnd(rate, 1), "sim_events_per_s_err": rnd(err, 1), "sim_over_goal": rnd(rate / 200.0)}


def measure(args: argparse.Namespace) -> dict:
    from hepdl.train.rundir import ModelDir

    out: dict = {"benchmark": "airshowers"}
    out.update(_sim_speed(args))
    run = args.run
    if run is None:
        from hepdl.data import generate_dataset
        from hepdl.tasks import air_showers

        tmp = Path(tempfile.mkdtemp(prefix="bench-airshowers-"))
        data = generate_dataset(air_showers.dataset_spec(args.events, seed=3), tmp / "data", workers=1, progress=False)
        run = air_showers.run(dataset=data, runs_dir=tmp / "runs", epochs=args.epochs, progress=False)
    out["run"] = str(run)
    metrics = {d.name: ModelDir(d).metrics() for d in sorted(Path(run).iterdir()) if (d / ModelDir.METRICS).exists()}
    first = next(iter(metrics.values()))
    out["n_test"] = sum(int(b["n"]) for b in first["binned"]["energy"])
    out["n_events"] = int(round(out["n_test"] / 0.2))
    keys = ("angular_resolution_deg", "core_resolution_m", "energy_resolution", "xmax_resolution")
    for name, m in metrics.items():
        k = name.replace("-", "_")
        for key in (*keys, *(f"{x}_above_19" for x in keys), "xmax_merit_factor"):
            out[f"{k}_{key}"] = rnd(m[key]["value"], 4)
            out[f"{k}_{key}_err"] = rnd(m[key]["error"], 4)
        for i, b in enumerate(m["binned"]["energy"]):
            out[f"{k}_angular_resolution_deg_e{i}"] = rnd(b["angular_resolution_deg"]["value"], 4)
            out[f"{k}_angular_resolution_deg_e{i}_err"] = rnd(b["angular_resolution_deg"]["error"], 4)
        out[f"{k}_train_s"] = rnd(m.get("train_seconds", 0.0), 1)
        out[f"{k}_inference_events_per_s"] = rnd(m.get("inference_jets_per_s", 0.0), 1)
    if "plane-fit" in metrics:
        ref = metrics["plane-fit"]
        for name, m in metrics.items():
            if name == "plane-fit":
                continue
            k = name.replace("-", "_")
            out[f"{k}_over_plane_fit_angular_resolution"] = rnd(m["angular_resolution_deg"]["value"] / ref["angular_resolution_deg"]["value"])
            out[f"{k}_beats_plane_fit_every_energy_bin"] = all(
                b["angular_resolution_deg"]["value"] < r["angular_resolution_deg"]["value"]
                for b, r in zip(m["binned"]["energy"], ref["binned"]["energy"], strict=True))
    if "ldf-fit" in metrics:
        ref_rate = metrics["ldf-fit"].get("inference_jets_per_s", 0.0)
        for name, m in metrics.items():
            if name != "ldf-fit" and ref_rate:
                out[f"{name.replace('-', '_')}_over_ldf_fit_inference_events_per_s"] = rnd(m.get("inference_jets_per_s", 0.0) / ref_rate)
    nets = [n for n in NETWORKS if n in metrics]
    goals = (("angle", "angular_resolution_deg", 1.5, "goal_angle_below_1_5_deg"),
             ("core", "core_resolution_m_above_19", 25.0, "goal_core_below_25_m_above_19"),
             ("energy", "energy_resolution_above_19", 0.07, "goal_energy_below_7_percent_above_19"),
             ("xmax", "xmax_resolution_above_19", 35.0, "goal_xmax_below_35_above_19"))
    for short, key, limit, goal in goals:
        if nets:
            best = min(nets, key=lambda n, key=key: metrics[n][key]["value"])
            out[f"best_network_{short}"] = best
            out[goal] = metrics[best][key]["value"] < limit
    return out


if __name__ == "__main__":
    main()
