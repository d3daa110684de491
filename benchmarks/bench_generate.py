"""Speed of dataset generation, each figure beside its reference in the same run.

Prints one JSON line; ``*_err`` is the standard error of the mean over the repeats (``null`` for one):

- ``benchmark`` ("generate"), ``events``, ``repeats``;
- ``chain_events_per_s``: events/s through the full chain (Pythia batches -> detector -> FastJet ->
  truth matching -> Parquet), for hadronic tt̄ (the top-tagging signal sample, ``--jets`` selected
  jets), Pythia's start-up included; ``chain_jets_per_s``: selected jets/s of the same runs;
- ``bare_events_per_s``: events/s of bare ``Pythia.nextBatch`` with the same settings and the same
  number of events, start-up included (the reference);
- ``chain_over_bare``: their ratio, per repeat (goal >= 0.85: the generator itself is the limit);
- ``dataset_jets``, ``dataset_parts``, ``dataset_repeats``; ``jets_per_s_1_worker`` /
  ``jets_per_s_2_workers`` for a whole top-tagging dataset of ``--dataset-jets`` jets in
  ``dataset_parts`` part files (Pythia starts once per part), and their ratio ``speedup_2_over_1``,
  per repeat (goal >= 1.8).

The chain and the bare generator alternate, as do the 1- and 2-worker runs, so that load on the
machine hits both alike.

Usage: ``python benchmarks/bench_generate.py [--jets 200] [--repeat 3] [--dataset-jets 1000] [--dataset-repeat 2]
[--parts-per-sample 8]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import mean_err, rnd, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=200, help="top jets for the chain-vs-bare comparison")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of the chain-vs-bare pair")
    ap.add_argument("--dataset-jets", type=int, default=1000, help="jets for the 1- vs 2-worker comparison")
    ap.add_argument("--dataset-repeat", type=int, default=2, help="repetitions of the 1- vs 2-worker pair")
    ap.add_argument("--parts-per-sample", type=int, default=8, help="part files (independent jobs) per sample of that dataset")
    args = ap.parse_args()
    if min(args.jets, args.repeat, args.dataset_repeat, args.parts_per_sample) < 1 or args.dataset_jets < 2:
        ap.error("--jets, --repeat, --dataset-repeat and --parts-per-sample must be >= 1, --dataset-jets >= 2")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    from hepdl.data.generate import generate_dataset, generate_part, write_part
    from hepdl.sim.detector import load_card
    from hepdl.sim.generator import _make_pythia, derive_seed
    from hepdl.tasks import top_tagging

    spec = top_tagging.dataset_spec(2 * args.jets, per_part=args.jets)
    card = load_card(spec.detector)
    top = 1  # sample index of ttbar-allhad
    settings = spec.samples[top].generator.pythia_settings(derive_seed(spec.seed, "top", 0))
    t_chain, t_bare, n_events = [], [], []
    for _ in range(args.repeat):  # alternate the two so that machine noise hits both alike
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            jets, meta = generate_part(spec, top, 0, args.jets, card)
            write_part(jets, meta, Path(tmp))
            t_chain.append(time.perf_counter() - t0)
        n = meta["cutflow"]["events"]
        n_events.append(n)
        t0 = time.perf_counter()
        pythia = _make_pythia(settings)
        done = 0
        while done < n:
            done += len(pythia.nextBatch(min(spec.batch_size, n - done)))
        t_bare.append(time.perf_counter() - t0)

    rates: dict[int, list[float]] = {1: [], 2: []}
    per_part = max(args.dataset_jets // (2 * args.parts_per_sample), 1)  # two samples: QCD and top
    ds_spec = top_tagging.dataset_spec(args.dataset_jets, seed=2, per_part=per_part)
    for _ in range(args.dataset_repeat):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                generate_dataset(ds_spec, Path(tmp) / "ds", workers=workers, progress=False)
                rates[workers].append(args.dataset_jets / (time.perf_counter() - t0))

    out: dict[str, object] = {"benchmark": "generate", "events": n_events[0], "repeats": args.repeat,
                              "dataset_jets": args.dataset_jets, "dataset_parts": len(ds_spec.parts()),
                              "dataset_repeats": args.dataset_repeat}

    def put(key: str, values: list[float]) -> None:
        m, e = mean_err(values)
        out[key], out[key + "_err"] = rnd(m), rnd(e, 2)

    chain = [n / t for n, t in zip(n_events, t_chain, strict=True)]
    bare = [n / t for n, t in zip(n_events, t_bare, strict=True)]
    put("chain_events_per_s", chain)
    put("chain_jets_per_s", [args.jets / t for t in t_chain])
    put("bare_events_per_s", bare)
    put("chain_over_bare", [c / b for c, b in zip(chain, bare, strict=True)])
    put("jets_per_s_1_worker", rates[1])
    put("jets_per_s_2_workers", rates[2])
    put("speedup_2_over_1", [b / a for a, b in zip(rates[1], rates[2], strict=True)])
    return out


if __name__ == "__main__":
    main()
