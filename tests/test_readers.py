"""Every reader on a file it wrote itself, and the errors for bad files."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from hepdl import schema
from hepdl.data import jets_from_cartesian, write_toptagging_hdf5
from hepdl.data import open as open_dataset
from hepdl.errors import DataError
from writers import cartesian, write_jetclass


@pytest.fixture(scope="module")
def jets(top_dataset):
    return top_dataset.jets[::20]  # 30 jets, both classes


def _same_kinematics(a, b):
    for f in ("pt", "eta", "e"):
        assert np.allclose(ak.to_numpy(ak.flatten(a.constituents[f])), ak.to_numpy(ak.flatten(b.constituents[f])), rtol=1e-9, atol=1e-9), f
    for f in ("jet_pt", "jet_m"):
        assert np.allclose(ak.to_numpy(a[f]), ak.to_numpy(b[f]), rtol=1e-6), f


def test_parquet_dataset_dir_and_single_file(top_dataset_path, tmp_path):
    ds = open_dataset(top_dataset_path)
    assert ds.format == "hepdl" and len(ds) == 600
    one = sorted(top_dataset_path.glob("*.parquet"))[0]
    single = open_dataset(one)
    assert single.format == "parquet" and len(single) == 150
    assert len(open_dataset(top_dataset_path, max_jets=10)) == 10


def test_jet_four_momentum_is_sum_of_constituents(jets):
    rebuilt = jets_from_cartesian(*cartesian(jets))
    # stored constituents are the 200 hardest; jets here have fewer, so the sums agree
    assert ak.max(ak.num(jets.constituents)) < 200
    assert np.allclose(ak.to_numpy(rebuilt.jet_pt), ak.to_numpy(jets.jet_pt), rtol=1e-9)
    assert np.allclose(ak.to_numpy(rebuilt.jet_m), ak.to_numpy(jets.jet_m), rtol=1e-6)


def test_toptagging_hdf5_round_trip(jets, tmp_path):
    path = write_toptagging_hdf5(jets, tmp_path / "test.h5")
    cols = pd.read_hdf(path, "table").columns
    assert {"E_0", "PX_199", "PY_57", "PZ_3", "is_signal_new"} <= set(cols)
    ds = open_dataset(path)
    assert ds.format == "hdf5-toptagging" and ds.label_names == ["qcd", "top"]
    assert np.array_equal(ds.labels, ak.to_numpy(jets.label))
    _same_kinematics(ds.jets, jets)
    assert ak.all(ds.jets.constituents["type"] == schema.TYPE_UNKNOWN)


def test_toptagging_hdf5_missing_column(jets, tmp_path):
    path = write_toptagging_hdf5(jets, tmp_path / "test.h5", n_max=10)
    df = pd.read_hdf(path, "table").drop(columns=["PY_3", "is_signal_new"])
    bad = tmp_path / "bad.h5"
    df.to_hdf(bad, key="table", mode="w", format="table")
    with pytest.raises(DataError, match=r"bad\.h5.*PY_3.*is_signal_new"):
        open_dataset(bad)


def test_jetclass_root_round_trip(jets, tmp_path):
    ds = open_dataset(write_jetclass(jets, tmp_path / "jc.root"))
    assert ds.format == "root-jetclass"
    assert ds.label_names == ["QCD", "Tbqq"]
    assert np.array_equal(ds.labels, ak.to_numpy(jets.label))
    _same_kinematics(ds.jets, jets)
    assert ak.all(ds.jets.constituents["type"] == jets.constituents["type"])
    assert ak.all(ds.jets.constituents.charge == jets.constituents.charge)


def test_jetclass_missing_branch(jets, tmp_path):
    path = write_jetclass(jets, tmp_path / "jc.root", drop=("part_pz",))
    with pytest.raises(DataError, match=r"jc\.root.*part_pz"):
        open_dataset(path)


def test_root_with_column_mapping(jets, tmp_path):
    c = jets.constituents
    path = tmp_path / "mine.root"
    with uproot.recreate(path) as f:  # uproot's default: an RNTuple
        f["Events"] = {"cand_pt": c.pt, "cand_eta": c.eta, "cand_phi": c.phi, "cand_e": c.e,
                       "is_top": ak.to_numpy(jets.label).astype(np.int32)}
    mapping = {"pt": "cand_pt", "eta": "cand_eta", "phi": "cand_phi", "e": "cand_e", "label": "is_top"}
    ds = open_dataset(path, mapping=mapping)
    assert ds.format == "root"
    _same_kinematics(ds.jets, jets)
    assert np.array_equal(ds.labels, ak.to_numpy(jets.label))
    with pytest.raises(DataError, match=r"mine\.root.*no branch 'cand_mass'.*'e'"):
        open_dataset(path, mapping=dict(mapping, e="cand_mass"))
    with pytest.raises(DataError, match="unknown key"):
        open_dataset(path, mapping=dict(mapping, energy="cand_e"))
    with pytest.raises(DataError, match="not a JetClass-style file"):
        open_dataset(path)


def test_corrupt_part_file(top_dataset_path, tmp_path):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(top_dataset_path, copy)
    part = sorted(copy.glob("*.parquet"))[1]
    part.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=f"{part.name}.*corrupt"):
        open_dataset(copy)


def test_wrong_schema_part_file(tmp_path):
    path = tmp_path / "other.parquet"
    ak.to_parquet(ak.Array({"x": [1.0, 2.0], "label": [0, 1]}), path)
    with pytest.raises(DataError, match=r"other\.parquet.*missing field\(s\) constituents"):
        open_dataset(path)


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(tmp_path / "nope.parquet")
    (tmp_path / "x.txt").write_text("a,b\n")
    with pytest.raises(DataError, match="unknown file type"):
        open_dataset(tmp_path / "x.txt")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"x\.csv: not a Higgs-challenge CSV file: missing 30 of the 30 feature columns"):
        open_dataset(tmp_path / "x.csv")
    with pytest.raises(DataError, match="without dataset.json"):
        open_dataset(tmp_path)
