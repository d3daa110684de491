"""Speed of dataset generation, each figure beside its reference in the same run.

Prints one JSON line; ``*_err`` is the standard error of the mean over the repeats (``null`` for one):

- ``benchmark`` ("generate"), ``jets``, ``repeats``;
- ``chain_jets_per_s``: selected jets per second of one core through the full chain (Pythia batches ->
  detector -> FastJet -> truth matching -> Parquet) for one part of each top-tagging sample (QCD and
  hadronic tt̄, ``--jets`` jets each), Pythia's start-up included, with today's recipe (no multiple
  interactions, the two hardest jets of each event are candidates);
- the references, same jets, same run: ``leading_jet_jets_per_s`` (the leading jet only) and
  ``mpi_leading_jet_jets_per_s`` (the leading jet with multiple interactions on: the recipe before
  arXiv:1902.09914's "no MPI" was followed), and the ratios ``chain_over_leading_jet`` and
  ``chain_over_mpi_leading_jet`` (issue goal: >= 4);
- ``chain_events_per_s`` (tt̄ part of the chain), ``bare_events_per_s``: events/s of bare
  ``Pythia.nextBatch`` with the same settings and the same number of events, start-up included, and
  ``chain_over_bare`` (1 would mean Pythia is all the chain costs);
- ``dataset_jets``, ``dataset_parts``, ``dataset_repeats``; ``jets_per_s_1_worker`` /
  ``jets_per_s_2_workers`` for a whole top-tagging dataset of ``--dataset-jets`` jets in
  ``dataset_parts`` part files (Pythia starts once per part), and their ratio ``speedup_2_over_1``,
  per repeat (goal >= 1.8).

The configurations alternate within each repeat, as do the 1- and 2-worker runs, so that load on the
machine hits all alike.

Usage: ``python benchmarks/bench_generate.py [--jets 200] [--repeat 3] [--dataset-jets 2000] [--dataset-repeat 2]
[--parts-per-sample 2]``
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
    ap.add_argument("--jets", type=int, default=200, help="jets of each sample per chain configuration")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of the chain configurations and the bare generator")
    ap.add_argument("--dataset-jets", type=int, default=2000, help="jets for the 1- vs 2-worker comparison")
    ap.add_argument("--dataset-repeat", type=int, default=2, help="repetitions of the 1- vs 2-worker pair")
    ap.add_argument("--parts-per-sample", type=int, default=2, help="part files (independent jobs) per sample of that dataset")
    args = ap.parse_args()
    if min(args.jets, args.repeat, args.dataset_repeat, args.parts_per_sample) < 1 or args.dataset_jets < 2:
        ap.error("--jets, --repeat, --dataset-repeat and --parts-per-sample must be >= 1, --dataset-jets >= 2")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


#: Chain configurations: output key -> dataset_spec overrides (the first is today's recipe).
CONFIGS = {"chain": {}, "leading_jet": {"jets_per_event": 1}, "mpi_leading_jet": {"jets_per_event": 1, "mpi": True}}


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    from hepdl.data.generate import generate_dataset, generate_part, write_part
    from hepdl.sim.detector import load_card
    from hepdl.sim.generator import _make_pythia, derive_seed
    from hepdl.tasks import top_tagging

    specs = {k: top_tagging.dataset_spec(2 * args.jets, per_part=args.jets, **kw) for k, kw in CONFIGS.items()}
    card = load_card(specs["chain"].detector)
    top = 1  # sample index of ttbar-allhad
    settings = specs["chain"].samples[top].generator.pythia_settings(derive_seed(specs["chain"].seed, "top", 0))
    rates: dict[str, list[float]] = {k: [] for k in CONFIGS}
    t_top, t_bare, n_events = [], [], []
    for _ in range(args.repeat):  # alternate the configurations so that machine noise hits all alike
        for key, spec in specs.items():
            elapsed = 0.0
            for sample in (0, top):
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    jets, meta = generate_part(spec, sample, 0, args.jets, card)
                    write_part(jets, meta, Path(tmp))
                    dt = time.perf_counter() - t0
                elapsed += dt
                if key == "chain" and sample == top:
                    t_top.append(dt)
                    n_events.append(meta["cutflow"]["events"])
            rates[key].append(2 * args.jets / elapsed)
        n = n_events[-1]
        t0 = time.perf_counter()
        pythia, _ = _make_pythia(settings)
        done = 0
        while done < n:
            done += len(pythia.nextBatch(min(specs["chain"].batch_size, n - done)))
        t_bare.append(time.perf_counter() - t0)

    workers_rate: dict[int, list[float]] = {1: [], 2: []}
    per_part = max(args.dataset_jets // (2 * args.parts_per_sample), 1)  # two samples: QCD and top
    ds_spec = top_tagging.dataset_spec(args.dataset_jets, seed=2, per_part=per_part)
    for _ in range(args.dataset_repeat):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                generate_dataset(ds_spec, Path(tmp) / "ds", workers=workers, progress=False)
                workers_rate[workers].append(args.dataset_jets / (time.perf_counter() - t0))

    out: dict[str, object] = {"benchmark": "generate", "jets": args.jets, "repeats": args.repeat,
                              "dataset_jets": args.dataset_jets, "dataset_parts": len(ds_spec.parts()),
                              "dataset_repeats": args.dataset_repeat}

    def put(key: str, values: list[float]) -> None:
        m, e = mean_err(values)
        out[key], out[key + "_err"] = rnd(m), rnd(e, 2)

    put("chain_jets_per_s", rates["chain"])
    for key in ("leading_jet", "mpi_leading_jet"):
        put(f"{key}_jets_per_s", rates[key])
        put(f"chain_over_{key}", [c / r for c, r in zip(rates["chain"], rates[key], strict=True)])
    chain = [n / t for n, t in zip(n_events, t_top, strict=True)]
    bare = [n / t for n, t in zip(n_events, t_bare, strict=True)]
    put("chain_events_per_s", chain)
    put("bare_events_per_s", bare)
    put("chain_over_bare", [c / b for c, b in zip(chain, bare, strict=True)])
    put("jets_per_s_1_worker", workers_rate[1])
    put("jets_per_s_2_workers", workers_rate[2])
    put("speedup_2_over_1", [b / a for a, b in zip(workers_rate[1], workers_rate[2], strict=True)])
    return out


if __name__ == "__main__":
    main()
