"""Speed and working memory of feature building on generated jets, beside energyflow in the same run.

Every computation runs in a fresh single-threaded process on the same jets (a seeded subset of
``--jets`` top-tagging jets with both classes, generated once and cached), ``--repeat`` times,
alternating the three so that load on the machine hits them alike. Each side gets its natural
input: hepdl the flat (jagged) constituents, which it pads only within chunks of similar
multiplicity; energyflow a list of per-jet (n_i, 3) arrays of (pT, y, phi), each jet's own
constituents, no padding. Rates use CPU time (single-threaded: CPU time is the work done).
Memory is the working memory of the call alone: the growth of the process's peak resident set
during the computation over its resident set just before it (peak reset at the call, Linux), in
each process, inputs and libraries excluded.

Prints one JSON line; ``*_err`` is the standard error of the mean over the repeats (``null`` for one):

- ``benchmark`` ("features"), ``jets``, ``repeats``, ``threads`` (1);
- ``n_max``, ``mean_constituents``: largest and mean constituent multiplicity of the jets;
- ``efp_jets_per_s``: the 102 EFPs with d <= 5 (hepdl ``EFPSet(5).compute``);
- ``energyflow_jets_per_s``: energyflow 1.4.0 ``EFPSet('d<=5', measure='hadr', beta=1, kappa=1,
  normed=True).batch_compute`` (the reference);
- ``efp_speedup``: hepdl over energyflow jets/s (mean of the per-repeat ratios);
- ``efp_growth_mb``, ``energyflow_growth_mb``: working memory of each EFP computation (MB);
- ``efp_over_energyflow_memory``: their ratio (mean of the per-repeat ratios);
- ``efp_process_peak_rss_mb``, ``energyflow_process_peak_rss_mb``, ``efp_over_energyflow_process_rss``:
  context only, the whole processes' peak resident sets (two different library stacks: torch, numba,
  awkward and hepdl against numpy and energyflow; input data included);
- ``hls4ml_tau_jets_per_s``, ``hls4ml_tau_growth_mb``: the 16 hls4ml features + tau_1..tau_4 (hepdl);
  no reference implementation runs beside them, so they carry no ratio.

Usage: ``python benchmarks/bench_features.py [--jets 2000] [--repeat 3] [--data DIR]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, SINGLE_THREAD, mean_err, peak_growth, rnd, stdout_to_stderr, subset_dataset

KINDS = ("hls4ml_tau", "efp", "energyflow")


def _head(f, k: int):
    """The first ``k`` jets of flat jets ``f``."""
    n = int(f.offsets[k])
    cut = {name: (v[:n] if name not in ("offsets",) else v[: k + 1]) for name, v in dataclasses.asdict(f).items()}
    return type(f)(**cut)


def child(kind: str, flat: str) -> None:
    """Compute one feature set on the jets in ``flat`` and print its time and working memory."""
    import numpy as np

    from hepdl.features import EFPSet, hls4ml_features, nsubjettiness
    from hepdl.features._arrays import FlatJets

    with np.load(flat) as z:
        f = FlatJets(**{k.name: z[k.name] for k in dataclasses.fields(FlatJets)})
    warm = _head(f, min(20, f.n_jets))  # compile the numba kernels outside the measurement
    hls4ml_features(warm), nsubjettiness(warm), EFPSet(5).compute(warm)
    efps = EFPSet(5)
    with peak_growth() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        if kind == "hls4ml_tau":
            out = np.column_stack([*hls4ml_features(f).values(), nsubjettiness(f, 4)])
        else:
            out = efps.compute(f)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "jets": len(out), **mem}))


def run_child(args: list[str]) -> dict:
    res = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, **SINGLE_THREAD))
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=2000, help="jets (a seeded subset with both classes)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh-process repeats of each computation")
    ap.add_argument("--seed", type=int, default=0, help="seed of the subset")
    ap.add_argument("--data", type=Path, default=None, help="dataset to use (default: generate and cache)")
    ap.add_argument("--energyflow-python", type=Path, default=ROOT / ".venv-energyflow" / "bin" / "python")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "FLAT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.jets < 2 or args.repeat < 1:
        ap.error("--jets must be >= 2 and --repeat >= 1")
    if not args.energyflow_python.exists():
        ap.error(f"no energyflow environment at {args.energyflow_python} (`make bench` creates it)")

    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    import numpy as np

    import hepdl.data
    from hepdl.data.generate import ensure_dataset
    from hepdl.features._arrays import flat_jets
    from hepdl.tasks import top_tagging

    data = args.data or ensure_dataset(top_tagging.dataset_spec(args.jets, seed=1), progress=sys.stderr.isatty())
    ds = subset_dataset(hepdl.data.open(data), args.jets, args.seed)
    f = flat_jets(ds.jets)
    counts = f.counts
    runs: dict[str, list[dict]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        flat, ef_in = Path(tmp) / "flat.npz", Path(tmp) / "ef_in.npz"
        np.savez(flat, **dataclasses.asdict(f))
        np.savez(ef_in, particles=np.column_stack([f.pt, f.rap, f.phi]), counts=counts)
        for _ in range(args.repeat):
            for kind in KINDS:
                if kind == "energyflow":
                    cmd = [str(args.energyflow_python), str(ROOT / "benchmarks" / "energyflow_reference.py"), str(ef_in),
                           str(Path(tmp) / "ef_out.npz"), "1"]
                else:
                    cmd = [sys.executable, __file__, "--child", kind, str(flat)]
                runs[kind].append(run_child(cmd))

    n = f.n_jets
    out: dict[str, object] = {"benchmark": "features", "jets": n, "repeats": args.repeat, "threads": 1,
                              "n_max": int(counts.max()), "mean_constituents": rnd(float(counts.mean()))}

    def put(key: str, values: list[float]) -> None:
        m, e = mean_err(values)
        out[key], out[key + "_err"] = rnd(m), rnd(e, 2)

    rate = {k: [n / r["cpu_seconds"] for r in runs[k]] for k in KINDS}
    growth = {k: [r["growth_mb"] for r in runs[k]] for k in KINDS}
    put("efp_jets_per_s", rate["efp"])
    put("energyflow_jets_per_s", rate["energyflow"])
    put("efp_speedup", [a / b for a, b in zip(rate["efp"], rate["energyflow"], strict=True)])
    put("efp_growth_mb", growth["efp"])
    put("energyflow_growth_mb", growth["energyflow"])
    put("efp_over_energyflow_memory", [a / b if b > 0 else float("inf") for a, b in zip(growth["efp"], growth["energyflow"], strict=True)])
    put("efp_process_peak_rss_mb", [r["process_peak_rss_mb"] for r in runs["efp"]])
    put("energyflow_process_peak_rss_mb", [r["process_peak_rss_mb"] for r in runs["energyflow"]])
    put("efp_over_energyflow_process_rss", [a["process_peak_rss_mb"] / b["process_peak_rss_mb"]
                                            for a, b in zip(runs["efp"], runs["energyflow"], strict=True)])
    put("hls4ml_tau_jets_per_s", rate["hls4ml_tau"])
    put("hls4ml_tau_growth_mb", growth["hls4ml_tau"])
    return out


if __name__ == "__main__":
    main()
