"""Speed of dataset generation, each figure beside its reference in the same run.

Prints one JSON line:

- ``chain_events_per_s``: events/s through the full chain (Pythia batches -> detector -> FastJet ->
  truth matching -> Parquet), for hadronic tt̄ (the top-tagging signal sample), Pythia's start-up
  included; ``chain_jets_per_s``: selected jets/s of the same run;
- ``bare_events_per_s``: events/s of bare ``Pythia.nextBatch`` with the same settings and the same
  number of events, start-up included;
- ``chain_over_bare``: their ratio (goal >= 0.85: the generator itself is the limit);
- ``jets_per_s_1_worker`` / ``jets_per_s_2_workers`` for a whole top-tagging dataset and their ratio
  ``speedup_2_over_1`` (goal >= 1.8).

Usage: ``python benchmarks/bench_generate.py [--jets 200] [--dataset-jets 600]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from hepdl.data.generate import generate_dataset, generate_part, write_part
from hepdl.sim.detector import load_card
from hepdl.sim.generator import _make_pythia, derive_seed
from hepdl.tasks import top_tagging


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=200, help="top jets for the chain-vs-bare comparison")
    ap.add_argument("--repeat", type=int, default=2, help="repetitions of the chain-vs-bare pair (best of)")
    ap.add_argument("--dataset-jets", type=int, default=2000, help="jets for the 1- vs 2-worker comparison")
    args = ap.parse_args()

    spec = top_tagging.dataset_spec(2 * args.jets, jets_per_part=args.jets)
    card = load_card(spec.detector)
    top = 1  # sample index of ttbar-allhad
    settings = spec.samples[top].generator.pythia_settings(derive_seed(spec.seed, "top", 0))
    t_chain, t_bare = [], []
    for _ in range(args.repeat):  # alternate the two so that machine noise hits both alike
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            jets, meta = generate_part(spec, top, 0, args.jets, card)
            write_part(jets, meta, Path(tmp))
            t_chain.append(time.perf_counter() - t0)
        n_events = meta["cutflow"]["events"]
        t0 = time.perf_counter()
        pythia = _make_pythia(settings)
        done = 0
        while done < n_events:
            done += len(pythia.nextBatch(min(spec.batch_size, n_events - done)))
        t_bare.append(time.perf_counter() - t0)
    t_chain_best, t_bare_best = min(t_chain), min(t_bare)

    rates = {}
    for workers in (1, 2):
        ds_spec = top_tagging.dataset_spec(args.dataset_jets, seed=2, jets_per_part=max(args.dataset_jets // 16, 1))
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            generate_dataset(ds_spec, Path(tmp) / "ds", workers=workers, progress=False)
            rates[workers] = args.dataset_jets / (time.perf_counter() - t0)

    chain_ev = n_events / t_chain_best
    bare_ev = n_events / t_bare_best
    print(json.dumps({
        "benchmark": "generate",
        "events": n_events,
        "chain_events_per_s": round(chain_ev, 2),
        "chain_jets_per_s": round(args.jets / t_chain_best, 2),
        "bare_events_per_s": round(bare_ev, 2),
        "chain_over_bare": round(chain_ev / bare_ev, 3),
        "dataset_jets": args.dataset_jets,
        "jets_per_s_1_worker": round(rates[1], 2),
        "jets_per_s_2_workers": round(rates[2], 2),
        "speedup_2_over_1": round(rates[2] / rates[1], 3),
    }))


if __name__ == "__main__":
    main()
