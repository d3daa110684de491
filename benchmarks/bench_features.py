"""Speed and memory of feature building on generated jets, beside energyflow in the same run.

Prints one JSON line with, on the same jets (default 10 000 top-tagging jets, generated once and
cached), each computation in a fresh single-threaded process:

- ``hls4ml_tau_jets_per_s``, ``hls4ml_tau_peak_mb``: the 16 hls4ml features + tau_1..tau_4;
- ``efp_jets_per_s``, ``efp_peak_mb``: the 102 EFPs with d <= 5 (hepdl);
- ``energyflow_jets_per_s``, ``energyflow_peak_mb``: energyflow's ``EFPSet('d<=5').batch_compute``;
- the ratios ``efp_speedup`` (goal >= 3) and ``efp_memory_ratio_rss`` (hepdl / energyflow peak
  resident memory, goal <= 1/3), and ``hls4ml_tau_speedup_vs_energyflow``.

Rates use CPU time (single-threaded processes: CPU time is the work done, and other load on the
machine does not bias the comparison). Memory: ``*_peak_mb`` is the growth of the process's peak
resident set during the computation (the working memory), ``*_peak_rss_mb`` the whole process's
peak (input included: energyflow takes a zero-padded (n, N, 4) array, hepdl the jagged dataset).

Usage: ``python benchmarks/bench_features.py [--jets 10000] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINGLE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def child(kind: str, data: str, jets: int) -> None:
    """Run one computation and print its time and peak-memory growth."""
    import numpy as np

    import hepdl.data
    from hepdl.features import EFPSet, hls4ml_features, nsubjettiness
    from hepdl.features._arrays import flat_jets

    ds = hepdl.data.open(data, max_jets=jets)
    f = flat_jets(ds.jets)
    warm = hepdl.data.open(data, max_jets=20).jets  # compile the numba kernels outside the timing
    hls4ml_features(warm), nsubjettiness(warm), EFPSet(5).compute(warm)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "hls4ml_tau":
        out = np.column_stack([*hls4ml_features(f).values(), nsubjettiness(f, 4)])
    else:
        out = EFPSet(5).compute(f)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "jets": len(out), "peak_mb": (peak - rss0) / 1024,
                      "peak_rss_mb": peak / 1024}))


def run_child(args: list[str]) -> dict:
    env = dict(os.environ, **SINGLE_THREAD)
    res = subprocess.run(args, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=10_000)
    ap.add_argument("--data", type=Path, default=None, help="dataset to use (default: generate and cache)")
    ap.add_argument("--energyflow-python", type=Path, default=ROOT / ".venv-energyflow" / "bin" / "python")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "DATA"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.jets)
        return

    import awkward as ak
    import numpy as np

    import hepdl.data
    from hepdl.data.generate import ensure_dataset
    from hepdl.tasks import top_tagging

    data = args.data or ensure_dataset(top_tagging.dataset_spec(args.jets, seed=1), progress=sys.stderr.isatty())
    jets = hepdl.data.open(data, max_jets=args.jets).jets

    ours = {kind: run_child([sys.executable, __file__, "--jets", str(args.jets), "--child", kind, str(data)])
            for kind in ("hls4ml_tau", "efp")}

    c = jets.constituents
    pz = c.pt * np.sinh(c.eta)
    rap = 0.5 * np.log((c.e + pz) / (c.e - pz))
    n_max = int(ak.max(ak.num(c)))
    X = np.stack([ak.to_numpy(ak.fill_none(ak.pad_none(a, n_max, clip=True), 0.0)) for a in (c.pt, rap, c.phi, c.pt * 0)], axis=-1)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "X.npz", X=X)
        ref = run_child([str(args.energyflow_python), str(ROOT / "benchmarks" / "energyflow_reference.py"),
                         str(Path(tmp) / "X.npz"), str(Path(tmp) / "ef.npz"), "1"])
    ref_peak = ref["peak_rss_mb"] - ref["start_rss_mb"]
    n = len(jets)
    print(json.dumps({
        "benchmark": "features",
        "jets": n,
        "mean_constituents": round(float(ak.mean(ak.num(c))), 1),
        "hls4ml_tau_jets_per_s": round(n / ours["hls4ml_tau"]["cpu_seconds"], 1),
        "hls4ml_tau_peak_mb": round(ours["hls4ml_tau"]["peak_mb"], 1),
        "efp_jets_per_s": round(n / ours["efp"]["cpu_seconds"], 1),
        "efp_peak_mb": round(ours["efp"]["peak_mb"], 1),
        "energyflow_jets_per_s": round(n / ref["cpu_seconds"], 1),
        "energyflow_peak_mb": round(ref_peak, 1),
        "efp_speedup": round(ref["cpu_seconds"] / ours["efp"]["cpu_seconds"], 2),
        "efp_peak_rss_mb": round(ours["efp"]["peak_rss_mb"], 1),
        "energyflow_peak_rss_mb": round(ref["peak_rss_mb"], 1),
        "efp_memory_ratio_rss": round(ours["efp"]["peak_rss_mb"] / ref["peak_rss_mb"], 3),
        "hls4ml_tau_speedup_vs_energyflow": round(ref["cpu_seconds"] / ours["hls4ml_tau"]["cpu_seconds"], 2),
        "threads": 1,
    }))


if __name__ == "__main__":
    main()
