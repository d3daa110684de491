"""Reference EFPs from energyflow 1.4.0 (arXiv:1712.07124), run in its own numpy<2 environment.

Usage (with the energyflow environment's python):
    python energyflow_reference.py IN.npz OUT.npz

IN.npz holds ``X``: (n_jets, n_max, 4) zero-padded (pT, y, phi, m). OUT.npz gets ``efps``
(n_jets, 102) for EFPSet('d<=5', measure='hadr', beta=1, kappa=1, normed=True), ``graphs`` (edge
lists as JSON), and the line printed on stdout is JSON with the compute time (wall and CPU) and
peak memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    import energyflow as ef
    import numpy as np

    X = np.load(sys.argv[1])["X"]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    efpset = ef.EFPSet("d<=5", measure="hadr", beta=1, kappa=1, normed=True, coords="ptyphim")
    t0, c0 = time.perf_counter(), time.process_time()
    values = efpset.batch_compute(list(X), n_jobs=int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    graphs = [[list(map(int, e)) for e in g] for g in efpset.graphs()]
    np.savez(sys.argv[2], efps=values, graphs=json.dumps(graphs))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "jets": len(X), "peak_rss_mb": peak / 1024, "start_rss_mb": rss0 / 1024}))


if __name__ == "__main__":
    main()
