"""Writers of the formats users bring (JetClass-style ROOT), shared by the reader and streaming tests."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import uproot


def cartesian(jets: ak.Array) -> tuple[ak.Array, ak.Array, ak.Array, ak.Array]:
    """The constituents' (px, py, pz, E)."""
    c = jets.constituents
    return c.pt * np.cos(c.phi), c.pt * np.sin(c.phi), c.pt * np.sinh(c.eta), c.e


def write_jetclass(jets: ak.Array, path: Path, drop: tuple[str, ...] = ()) -> Path:
    """``jets`` as a JetClass-style TTree (part_* branches, one-hot label_QCD / label_Tbqq), without the branches ``drop``."""
    px, py, pz, e = cartesian(jets)
    c = jets.constituents
    branches = {
        "part_px": px, "part_py": py, "part_pz": pz, "part_energy": e,
        "part_charge": ak.values_astype(c.charge, np.float32),
    }
    for name, code in [("part_isChargedHadron", 0), ("part_isNeutralHadron", 1), ("part_isPhoton", 2),
                       ("part_isElectron", 3), ("part_isMuon", 4)]:
        branches[name] = ak.values_astype(c["type"] == code, np.float32)
    label = ak.to_numpy(jets.label)
    branches["label_QCD"] = (label == 0).astype(np.bool_)
    branches["label_Tbqq"] = (label == 1).astype(np.bool_)
    branches["jet_pt"] = ak.to_numpy(jets.jet_pt)
    for d in drop:
        branches.pop(d)
    with uproot.recreate(path) as f:  # a TTree, as in the JetClass files
        f.mktree("tree", {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in branches.items()})
        f["tree"].extend(branches)
    return path
