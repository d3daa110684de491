"""Speed of the H -> tau tau chain, hepdl's own steps beside Pythia's event generation in the same run.

For each process, ``--repeat`` batches of ``--events`` events (after a warm-up batch) are timed step
by step, on the same events:

1. ``pythia``: Pythia's own event generation, ``Pythia.nextBatch`` alone (hard process, shower, MPI,
   hadronisation, decays);
2. ``final_state``: hepdl's selection of the stable final-state particles from Pythia's event record
   (the rest of :meth:`hepdl.sim.generator.EventGenerator.next_batch`);
3. ``detector_reco``: hepdl's parametric detector, tau truth and lepton/tau/jet reconstruction with
   the lepton + hadronic-tau selection;

then the 30 challenge features of all selected events with the missing-mass calculator (MMC) and
without it, ``--repeat`` times each, alternating.

Prints one JSON line; ``*_err`` is the standard error of the mean over the repeats (``null`` for one);
``<p>`` is a process with ``_`` for ``-`` (``ggh_tautau``, ``vbf_tautau``, ``ztautau``, ``wjets_lnu``,
``ttbar``):

- ``benchmark`` ("higgs"), ``events_per_process``, ``repeats``;
- ``<p>_pythia_ms_per_event``, ``<p>_final_state_ms_per_event``, ``<p>_detector_reco_ms_per_event``;
- ``<p>_hepdl_over_pythia``: hepdl's steps (final state + detector/reconstruction) over Pythia's time;
- ``pythia_ms_per_event``, ``hepdl_ms_per_event``, ``hepdl_over_pythia``: the same over all processes
  (total time / total events);
- ``<p>_selected_fraction``: events passing the selection (all repeats);
- ``n_selected``: selected events of the feature step; ``features_events_per_s`` (with MMC) and
  ``features_no_mmc_events_per_s``, ``mmc_over_no_mmc_time``: the time with the MMC scan over the time
  without it.

Usage: ``python benchmarks/bench_higgs.py [--events 400] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import mean_err, rnd, stdout_to_stderr

PROCESSES = ("ggh-tautau", "vbf-tautau", "ztautau", "wjets-lnu", "ttbar")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=400, help="events generated per process and repeat")
    ap.add_argument("--repeat", type=int, default=3, help="timed batches per process")
    args = ap.parse_args()
    if args.events < 1 or args.repeat < 1:
        ap.error("--events and --repeat must be >= 1")

    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    import awkward as ak

    from hepdl._util import quiet_stdout
    from hepdl.features.higgs import challenge_features
    from hepdl.sim.detector import load_card, simulate
    from hepdl.sim.events import LepHadSelection, reconstruct_lephad
    from hepdl.sim.generator import EventGenerator, GeneratorConfig, _final_state
    from hepdl.sim.truth import tau_truth

    card, sel = load_card("atlas"), LepHadSelection()
    out: dict[str, object] = {"benchmark": "higgs", "events_per_process": args.events, "repeats": args.repeat}

    def put(key: str, values: list[float]) -> None:
        m, e = mean_err(values)
        out[key], out[key + "_err"] = rnd(m), rnd(e, 2)

    totals = {"pythia": 0.0, "hepdl": 0.0, "events": 0}
    selected = []
    for proc in PROCESSES:
        gen = EventGenerator(GeneratorConfig(proc), 1234)
        if gen._pileup is not None:  # the steps below are next_batch's without pile-up
            raise SystemExit(f"{proc}: pile-up is configured; this benchmark times events without pile-up")
        gen.next_batch(10)  # warm-up
        rng = np.random.default_rng(1)
        ms: dict[str, list[float]] = {"pythia": [], "final_state": [], "detector_reco": [], "ratio": []}
        n_ok = n_all = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with quiet_stdout():
                events = gen._pythia.nextBatch(args.events)
            t1 = time.perf_counter()
            record = events.prt
            particles = _final_state(record, gen._charges)
            t2 = time.perf_counter()
            r = reconstruct_lephad(simulate(particles, card, rng), tau_truth(record), card, sel, rng)
            t3 = time.perf_counter()
            n = len(record)
            ms["pythia"].append(1e3 * (t1 - t0) / n)
            ms["final_state"].append(1e3 * (t2 - t1) / n)
            ms["detector_reco"].append(1e3 * (t3 - t2) / n)
            ms["ratio"].append((t3 - t1) / (t1 - t0))
            totals["pythia"] += t1 - t0
            totals["hepdl"] += t3 - t1
            totals["events"] += n
            ok = np.logical_and.reduce(list(r["masks"].values()))
            n_ok, n_all = n_ok + int(ok.sum()), n_all + n
            selected.append(ak.zip({k: v[ok] for k, v in r["fields"].items()}, depth_limit=1))
        p = proc.replace("-", "_")
        for step in ("pythia", "final_state", "detector_reco"):
            put(f"{p}_{step}_ms_per_event", ms[step])
        put(f"{p}_hepdl_over_pythia", ms["ratio"])
        out[f"{p}_selected_fraction"] = rnd(n_ok / n_all)
    out["pythia_ms_per_event"] = rnd(1e3 * totals["pythia"] / totals["events"])
    out["hepdl_ms_per_event"] = rnd(1e3 * totals["hepdl"] / totals["events"])
    out["hepdl_over_pythia"] = rnd(totals["hepdl"] / totals["pythia"])

    events = ak.concatenate(selected)
    out["n_selected"] = len(events)
    if len(events) == 0:
        raise SystemExit(f"no event of {totals['events']} passed the selection: use more --events")
    challenge_features(events[:5])  # compile the numba kernels
    with_mmc, without = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        challenge_features(events)
        t1 = time.perf_counter()
        challenge_features(events, mmc=False)
        t2 = time.perf_counter()
        with_mmc.append(t1 - t0)
        without.append(t2 - t1)
    put("features_events_per_s", [len(events) / t for t in with_mmc])
    put("features_no_mmc_events_per_s", [len(events) / t for t in without])
    put("mmc_over_no_mmc_time", [a / max(b, 1e-9) for a, b in zip(with_mmc, without, strict=True)])
    return out


if __name__ == "__main__":
    main()
