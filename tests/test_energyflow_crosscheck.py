"""EFPs against energyflow 1.4.0 (the reference implementation, arXiv:1712.07124), run in its own
numpy<2 environment (`make test` creates .venv-energyflow; HEPDL_ENERGYFLOW_PYTHON overrides)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepdl.features.efp import EFPSet, Graph

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(os.environ.get("HEPDL_ENERGYFLOW_PYTHON", ROOT / ".venv-energyflow" / "bin" / "python"))


def padded_ptyphim(jets: ak.Array) -> np.ndarray:
    """(n_jets, n_max, 4) zero-padded (pT, y, phi, m) of the constituents, energyflow's input."""
    c = jets.constituents
    pz = c.pt * np.sinh(c.eta)
    rap = 0.5 * np.log((c.e + pz) / (c.e - pz))
    m = np.sqrt(np.maximum(c.e**2 - (c.pt * np.cosh(c.eta)) ** 2, 0))
    n_max = int(ak.max(ak.num(c)))
    return np.stack([ak.to_numpy(ak.fill_none(ak.pad_none(a, n_max, clip=True), 0.0)) for a in (c.pt, rap, c.phi, m)], axis=-1)


def graph_key(edges) -> tuple:
    n = max((max(e) for e in edges), default=0) + 1
    return tuple(Graph(n, tuple(sorted(tuple(sorted(map(int, e))) for e in edges))).components())


@pytest.mark.skipif(not PYTHON.exists(), reason=f"no energyflow environment at {PYTHON}")
def test_efps_match_energyflow(top_dataset, tmp_path):
    jets = top_dataset.jets[::8]
    np.savez(tmp_path / "X.npz", X=padded_ptyphim(jets))
    run = subprocess.run([str(PYTHON), str(ROOT / "benchmarks" / "energyflow_reference.py"), str(tmp_path / "X.npz"),
                          str(tmp_path / "ef.npz")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    ref = np.load(tmp_path / "ef.npz")
    ref_graphs = json.loads(str(ref["graphs"]))
    efps = EFPSet(5)
    index = {graph_key(g.edges): i for i, g in enumerate(efps.graphs)}
    assert len(ref_graphs) == len(efps) == 102
    order = [index[graph_key(g)] for g in ref_graphs]
    assert sorted(order) == list(range(102))  # the same 102 graphs
    mine = efps.compute(jets)[:, order]
    assert np.allclose(mine, ref["efps"], rtol=1e-6, atol=1e-12)
