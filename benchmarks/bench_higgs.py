"""Speed of the H -> tau tau chain, each step beside its reference in the same run.

Prints one JSON line:

- ``pythia_ms_per_event`` per process (the generator alone, ``nextBatch``) and
  ``detector_reco_ms_per_event`` (detector + lepton/tau/jet reconstruction on the same events), with
  ``reco_over_pythia`` (the share the columnar reconstruction adds to generation);
- ``features_events_per_s`` (the 30 challenge features with the missing-mass calculator) against
  ``features_no_mmc_events_per_s`` (the same without the scan), as ``mmc_cost_ratio``;
- ``selected_fraction`` per process (events passing the lepton + hadronic-tau selection).

Usage: ``python benchmarks/bench_higgs.py [--events 400]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=400, help="events generated per process")
    args = ap.parse_args()

    import awkward as ak

    from hepdl.features.higgs import challenge_features
    from hepdl.sim.detector import load_card, simulate
    from hepdl.sim.events import LepHadSelection, reconstruct_lephad
    from hepdl.sim.generator import EventGenerator, GeneratorConfig
    from hepdl.sim.truth import tau_truth

    card, sel = load_card("atlas"), LepHadSelection()
    out: dict[str, object] = {"events_per_process": args.events}
    pythia, reco, frac, selected = {}, {}, {}, []
    for proc in ("ggh-tautau", "vbf-tautau", "ztautau", "wjets-lnu", "ttbar"):
        gen = EventGenerator(GeneratorConfig(proc), 1234)
        gen.next_batch(10)  # warm-up
        t0 = time.perf_counter()
        batch = gen.next_batch(args.events)
        t1 = time.perf_counter()
        rng = np.random.default_rng(1)
        r = reconstruct_lephad(simulate(batch.particles, card, rng), tau_truth(batch.record), card, sel, rng)
        t2 = time.perf_counter()
        ok = np.logical_and.reduce(list(r["masks"].values()))
        pythia[proc] = 1e3 * (t1 - t0) / len(batch)
        reco[proc] = 1e3 * (t2 - t1) / len(batch)
        frac[proc] = float(ok.mean())
        fields = {k: v[ok] for k, v in r["fields"].items()}
        selected.append(ak.zip(fields, depth_limit=1))
    out["pythia_ms_per_event"] = pythia
    out["detector_reco_ms_per_event"] = reco
    out["reco_over_pythia"] = {p: reco[p] / pythia[p] for p in pythia}
    out["selected_fraction"] = frac
    events = ak.concatenate(selected)
    challenge_features(events[:5])  # compile the numba kernels
    t0 = time.perf_counter()
    challenge_features(events)
    t1 = time.perf_counter()
    challenge_features(events, mmc=False)
    t2 = time.perf_counter()
    out["n_selected"] = len(events)
    out["features_events_per_s"] = len(events) / (t1 - t0)
    out["features_no_mmc_events_per_s"] = len(events) / (t2 - t1)
    out["mmc_cost_ratio"] = (t1 - t0) / max(t2 - t1, 1e-9)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
