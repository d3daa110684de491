"""Reference EFPs from energyflow 1.4.0 (arXiv:1712.07124), run in its own numpy<2 environment.

Usage (with the energyflow environment's python):
    python energyflow_reference.py IN.npz OUT.npz [N_JOBS]

IN.npz holds either the jets' own constituents, ``particles`` (n_constituents, 3 or 4) rows of
(pT, y, phi[, m]) jet after jet with ``counts`` (n_jets,) constituents per jet, which energyflow
receives as a list of per-jet (n_i, 3|4) arrays; or ``X``: (n_jets, n_max, 4) zero-padded
(pT, y, phi, m). OUT.npz gets ``efps`` (n_jets, 102) for EFPSet('d<=5', measure='hadr', beta=1,
kappa=1, normed=True), ``graphs`` (edge lists as JSON). The line printed on stdout is JSON:
``seconds``, ``cpu_seconds`` (of ``batch_compute`` alone), ``jets``, ``growth_mb`` (peak resident set
during ``batch_compute`` minus the resident set before it: its working memory), ``start_rss_mb``
(the process before the call, input loaded) and ``process_peak_rss_mb`` (the process's peak).
"""

from __future__ import annotations

import json
import sys
import time

from _common import peak_growth  # this file's directory is on sys.path when it runs as a script


def main() -> None:
    import energyflow as ef
    import numpy as np

    with np.load(sys.argv[1]) as f:
        if "counts" in f.files:
            counts = f["counts"]
            jets = np.split(np.ascontiguousarray(f["particles"]), np.cumsum(counts)[:-1])
        else:
            jets = list(f["X"])
    efpset = ef.EFPSet("d<=5", measure="hadr", beta=1, kappa=1, normed=True, coords="ptyphim")
    n_jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with peak_growth() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        values = efpset.batch_compute(jets, n_jobs=n_jobs)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    graphs = [[list(map(int, e)) for e in g] for g in efpset.graphs()]
    np.savez(sys.argv[2], efps=values, graphs=json.dumps(graphs))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "jets": len(jets), "growth_mb": mem["growth_mb"],
                      "start_rss_mb": mem["start_rss_mb"], "process_peak_rss_mb": mem["process_peak_rss_mb"],
                      "peak_reset": bool(mem["reset"])}))


if __name__ == "__main__":
    main()
