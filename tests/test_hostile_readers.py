"""Hostile input for every reader of :func:`hepdl.data.open`: each bad file, built for real on disk,
gets one :class:`DataError` line naming the file and the column (branch, key, part file)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from hepdl import schema
from hepdl.data import (
    EventDataset,
    JetDataset,
    generate_dataset,
    jets_from_cartesian,
    write_challenge_csv,
    write_toptagging_hdf5,
)
from hepdl.data import open as open_dataset
from hepdl.data.dataset import MAPPABLE_COLUMNS
from hepdl.errors import ConfigError, DataError
from hepdl.sim import load_card


def _raises(match: str, path, **kwargs) -> str:
    """Open ``path``: a one-line DataError whose message matches ``match``; returns the message."""
    with pytest.raises(DataError, match=match) as info:
        open_dataset(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def jets() -> ak.Array:
    """12 jets with 3-9 massive constituents each, labels 0 and 1."""
    rng = np.random.default_rng(1)
    counts = rng.integers(3, 10, 12)
    n = int(counts.sum())
    pt, eta, phi = rng.uniform(1, 100, n), rng.normal(0, 0.3, n), rng.normal(0, 0.3, n)
    m = rng.choice([0.0, 0.13957, 0.49368], n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    jag = [ak.unflatten(a, counts) for a in (px, py, pz, e)]
    return jets_from_cartesian(*jag, label=np.arange(12) % 2)


def _constituent_branches(jets: ak.Array) -> dict[str, ak.Array]:
    c = jets.constituents
    return {"cand_pt": c.pt, "cand_eta": c.eta, "cand_phi": c.phi, "cand_e": c.e}


MAPPING = {"pt": "cand_pt", "eta": "cand_eta", "phi": "cand_phi", "e": "cand_e"}


def _write_ttree(path: Path, branches: dict, name: str = "Events") -> Path:
    """A TTree (as ROOT and most ntuples store them) with one branch per entry of ``branches``."""
    with uproot.recreate(path, compression=uproot.ZLIB(4)) as f:
        f.mktree(name, {k: (v.type.content if isinstance(v, ak.Array) else np.asarray(v).dtype) for k, v in branches.items()})
        f[name].extend({k: (v if isinstance(v, ak.Array) else np.asarray(v)) for k, v in branches.items()})
    return path


def _write_rntuple(path: Path, fields: dict, name: str = "Events") -> Path:
    """An RNTuple (uproot's default), which can also hold strings and records."""
    with uproot.recreate(path) as f:
        f[name] = fields
    return path


# --------------------------------------------------------------------------------------------- HDF5


def test_h5_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_bytes(b"E_0,PX_0,PY_0,PZ_0,is_signal_new\n1,2,3,4,0\n" * 20)
    _raises(r"notes\.h5 is not an HDF5 file \(no HDF5 signature\); expected the top-tagging layout.*is_signal_new", path)
    empty = tmp_path / "empty.hdf5"
    empty.write_bytes(b"")
    _raises(r"empty\.hdf5 is not an HDF5 file", empty)


def test_truncated_toptagging_h5(jets, tmp_path):
    full = write_toptagging_hdf5(jets, tmp_path / "full.h5", n_max=20)
    half = tmp_path / "half.h5"
    data = full.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    _raises(r"half\.h5 is truncated, corrupt or not a pandas HDF5 file: truncated file.*; expected the top-tagging layout.*is_signal_new", half)


def test_hdf5_without_pandas_table(tmp_path):
    import h5py

    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["jets"] = np.zeros((4, 3))
    _raises(r"plain\.h5: holds no pandas table \(HDF5 datasets: \['/jets'\]\); expected the top-tagging layout", path)


@pytest.mark.parametrize(
    "values, match",
    [
        ([0, 1, 2], r"must hold the class labels 0\.\.1; found \(value: count\) \{0: \d+, 1: \d+, 2: 4\}"),
        ([0, 1, -1], r"must hold the class labels 0\.\.1; found \(value: count\) \{-1: 4, 0: \d+, 1: \d+\}"),
        ([0.0, 1.0, 0.5], r"must hold integer class labels 0\.\.C-1; 4 of 12 values are not integers, e\.g\. \{0\.5: 4\}"),
    ],
)
def test_is_signal_new_not_zero_or_one(jets, tmp_path, values, match):
    path = write_toptagging_hdf5(jets, tmp_path / "labels.h5", n_max=10)
    df = pd.read_hdf(path, "table")
    df["is_signal_new"] = np.resize(np.asarray(values), len(df))
    df.to_hdf(path, key="table", mode="w", format="table")
    _raises(r"labels\.h5 \(table 'table'\): column 'is_signal_new' " + match, path)


def test_nan_in_toptagging_column(jets, tmp_path):
    path = write_toptagging_hdf5(jets, tmp_path / "nan.h5", n_max=10)
    df = pd.read_hdf(path, "table")
    df.loc[[2, 5], "PX_1"] = np.nan
    df.loc[5, "E_0"] = np.inf
    df.to_hdf(path, key="table", mode="w", format="table")
    _raises(r"nan\.h5 \(table 'table'\): column\(s\) E_0, PX_1 hold NaN or inf in 2 of 12 rows; expected finite numbers", path)


# --------------------------------------------------------------------------------------------- ROOT


def test_jagged_label_branch(jets, tmp_path):
    lab = ak.unflatten(np.zeros(int(ak.sum(ak.num(jets.constituents))), np.int32), ak.num(jets.constituents))
    path = _write_ttree(tmp_path / "jag.root", {**_constituent_branches(jets), "lab": lab})
    _raises(r"jag\.root \(TTree 'Events'\): branch 'lab' \(for 'label'\) holds var \* int32 per entry; expected one number per jet",
            path, mapping=dict(MAPPING, label="lab"))


def test_constituent_branches_of_different_jaggedness(jets, tmp_path):
    br = _constituent_branches(jets)
    counts = ak.to_numpy(ak.num(br["cand_eta"]))
    counts[4] -= 1  # eta has one value fewer than pt in entry 4
    br["cand_eta"] = ak.unflatten(ak.flatten(br["cand_eta"])[: int(counts.sum())], counts)
    path = _write_rntuple(tmp_path / "ragged.root", br)
    _raises(r"ragged\.root \(TTree 'Events'\): constituent branches 'cand_pt' and 'cand_eta' differ in length in \d+ of 12 entries "
            r"\(entry 4: \d+ vs \d+ values\)", path, mapping=MAPPING)


def test_flat_branch_mapped_to_a_constituent_key(jets, tmp_path):
    path = _write_ttree(tmp_path / "flat.root", {**_constituent_branches(jets), "jet_pt": ak.to_numpy(jets.jet_pt)})
    _raises(r"flat\.root \(TTree 'Events'\): branch 'jet_pt' \(for 'pt'\) holds float64 per entry, one value per jet; "
            r"expected a jagged branch, one number per constituent", path, mapping=dict(MAPPING, pt="jet_pt"))


def test_branches_that_are_not_numbers(jets, tmp_path):
    c = jets.constituents
    # uproot cannot write a TLorentzVector branch; an RNTuple record field {fX, fY, fZ, fE} per
    # constituent (what a vector of TLorentzVector reads as) is the same problem for the reader
    p4 = ak.zip({"fX": c.pt * np.cos(c.phi), "fY": c.pt * np.sin(c.phi), "fZ": c.pt * np.sinh(c.eta), "fE": c.e})
    tag = np.where(ak.to_numpy(jets.label) == 1, "top", "qcd").tolist()
    path = _write_rntuple(tmp_path / "objects.root", {**_constituent_branches(jets), "p4": p4, "tag": tag})
    _raises(r"objects\.root \(TTree 'Events'\): branch 'p4' \(for 'e'\) holds var \* \{fX: float64.*\} per entry; expected a jagged branch",
            path, mapping=dict(MAPPING, e="p4"))
    _raises(r"objects\.root \(TTree 'Events'\): branch 'tag' \(for 'label'\) holds string per entry; expected one number per jet",
            path, mapping=dict(MAPPING, label="tag"))


def test_branch_uproot_cannot_read(jets, tmp_path):
    many = ak.concatenate([jets] * 50)  # large enough for uproot to compress the baskets
    path = _write_ttree(tmp_path / "broken.root", _constituent_branches(many))
    branch = uproot.open(path)["Events"]["cand_eta"]
    seek, size = int(branch.member("fBasketSeek")[0]), int(branch.member("fBasketBytes")[0])
    data = bytearray(path.read_bytes())
    mid = seek + size // 2
    data[mid : mid + 16] = bytes(b ^ 0xFF for b in data[mid : mid + 16])  # garble the compressed basket
    path.write_bytes(bytes(data))
    _raises(r"broken\.root \(TTree 'Events'\): cannot read branch 'cand_eta' \(error: .*\); expected numbers", path, mapping=MAPPING)


def test_float_label_with_non_integer_values(jets, tmp_path):
    score = np.linspace(0.0, 1.0, len(jets))  # a classifier score mapped as label by mistake
    path = _write_ttree(tmp_path / "score.root", {**_constituent_branches(jets), "score": score})
    _raises(r"score\.root \(TTree 'Events'\): branch 'score' must hold integer class labels 0\.\.C-1; 10 of 12 values are not integers, "
            r"e\.g\. \{0\.09", path, mapping=dict(MAPPING, label="score"))
    integral = _write_ttree(tmp_path / "integral.root", {**_constituent_branches(jets), "lab": ak.to_numpy(jets.label).astype(np.float32)})
    ds = open_dataset(integral, mapping=dict(MAPPING, label="lab"))
    assert np.array_equal(ds.labels, ak.to_numpy(jets.label)) and ds.label_names == ["0", "1"]


@pytest.mark.parametrize(
    "values, counts",
    [([0, 1, 5], r"\{0: 4, 1: 4, 5: 4\}"), ([0, 1, -1], r"\{-1: 4, 0: 4, 1: 4\}"), ([1, 2, 1], r"\{1: 8, 2: 4\}")],
)
def test_stray_label_values(jets, tmp_path, values, counts):
    lab = np.resize(np.asarray(values, np.int32), len(jets))
    path = _write_ttree(tmp_path / "stray.root", {**_constituent_branches(jets), "lab": lab})
    _raises(r"stray\.root \(TTree 'Events'\): branch 'lab' must hold the contiguous class labels 0\.\.C-1 \(C = number of classes\); "
            r"found \(value: count\) " + counts, path, mapping=dict(MAPPING, label="lab"))
    bad = ak.with_field(jets, lab.astype(np.int8), "label")
    ak.to_parquet(bad, tmp_path / "stray.parquet")
    _raises(r"stray\.parquet: column 'label' must hold the contiguous class labels 0\.\.C-1.*" + counts, tmp_path / "stray.parquet")


def test_classes_are_those_of_the_whole_file(jets, tmp_path):
    """A file sorted by class: its first jets are all of class 1; max_jets keeps both classes in proportion."""
    lab = np.repeat([1, 0], [8, 4]).astype(np.int32)
    path = _write_ttree(tmp_path / "sorted.root", {**_constituent_branches(jets), "lab": lab})
    ds = open_dataset(path, mapping=dict(MAPPING, label="lab"), max_jets=6)
    assert len(ds) == 6 and ds.label_names == ["0", "1"] and np.bincount(ds.labels).tolist() == [2, 4]


def test_jetclass_labels_must_be_one_hot(jets, tmp_path):
    c = jets.constituents
    lab = ak.to_numpy(jets.label)
    qcd, top = lab == 0, lab == 1
    top[0] = True  # jet 0 is both QCD and top
    qcd[2] = False  # jet 2 is neither
    path = _write_ttree(tmp_path / "jc.root", {"part_px": c.pt * np.cos(c.phi), "part_py": c.pt * np.sin(c.phi),
                                               "part_pz": c.pt * np.sinh(c.eta), "part_energy": c.e,
                                               "label_QCD": qcd, "label_Tbqq": top}, name="tree")
    _raises(r"jc\.root \(TTree 'tree'\): the label branches label_QCD, label_Tbqq must be one-hot \(exactly one set per jet\); "
            r"2 of 12 jets have \(branches set: jets\) \{0: 1, 2: 1\}", path)


def test_mass_mapping_gives_the_jet_mass_of_the_energy_mapping(jets, tmp_path):
    assert "m" in MAPPABLE_COLUMNS and "mass" in MAPPABLE_COLUMNS
    c = jets.constituents
    m = np.sqrt(np.maximum(c.e**2 - (c.pt * np.cosh(c.eta)) ** 2, 0.0))
    path = _write_rntuple(tmp_path / "nano.root", {**_constituent_branches(jets), "cand_mass": m})
    by_e = open_dataset(path, mapping=MAPPING)
    no_e = {k: v for k, v in MAPPING.items() if k != "e"}
    for key in ("m", "mass"):
        by_m = open_dataset(path, mapping=dict(no_e, **{key: "cand_mass"}))
        assert np.allclose(ak.to_numpy(by_m.jets.jet_m), ak.to_numpy(by_e.jets.jet_m), rtol=1e-9, atol=1e-9)
        assert np.allclose(ak.to_numpy(by_m.jets.jet_m), ak.to_numpy(jets.jet_m), rtol=1e-6)
        assert np.allclose(ak.to_numpy(ak.flatten(by_m.jets.constituents.e)), ak.to_numpy(ak.flatten(by_e.jets.constituents.e)), rtol=1e-12)
    assert ak.min(jets.jet_m) > 1.0  # massive jets: the check is not trivially 0 == 0
    _raises(r"column mapping for .*nano\.root needs .* exactly one of e \(energy\) or m \(mass, alias mass\)", path,
            mapping=dict(MAPPING, m="cand_mass"))


def test_nan_in_root_branch(jets, tmp_path):
    br = _constituent_branches(jets)
    phi = ak.to_numpy(ak.flatten(br["cand_phi"])).copy()
    phi[[0, 1, 30]] = [np.nan, np.inf, np.nan]
    br["cand_phi"] = ak.unflatten(phi, ak.num(br["cand_pt"]))
    path = _write_ttree(tmp_path / "nanphi.root", br)
    _raises(r"nanphi\.root \(TTree 'Events'\): column branch 'cand_phi' \(for 'phi'\) has NaN, inf or missing values in 2 of 12 rows "
            r"\(3 values\); expected finite numbers", path, mapping=MAPPING)


def test_max_jets_must_be_positive(jets, tmp_path):
    ak.to_parquet(jets, tmp_path / "ok.parquet")
    with pytest.raises(ConfigError, match=r"max_jets must be a positive integer, got -1 \(reading .*ok\.parquet\)"):
        open_dataset(tmp_path / "ok.parquet", max_jets=-1)


# --------------------------------------------------------------------------------------------- NaN / inf


@pytest.mark.parametrize(
    "column, rows, match",
    [
        ("jet_pt", [2, 7], r"column 'jet_pt' has NaN, inf or missing values in 2 of 12 rows; expected finite numbers"),
        ("jet_m", [3], r"column 'jet_m' has NaN, inf or missing values in 1 of 12 rows"),
        ("weight", [0, 1, 11], r"column 'weight' has NaN, inf or missing values in 3 of 12 rows"),
        ("constituents.eta", [4, 5], r"column 'constituents\.eta' has NaN, inf or missing values in 2 of 12 rows \(2 values\)"),
    ],
)
def test_non_finite_values_in_parquet(jets, tmp_path, column, rows, match):
    if column.startswith("constituents."):
        f = column.split(".")[1]
        counts = ak.to_numpy(ak.num(jets.constituents))
        flat = ak.to_numpy(ak.flatten(jets.constituents[f])).copy()
        flat[np.cumsum(counts)[rows] - 1] = np.nan  # the last constituent of each bad jet
        bad = ak.with_field(jets, ak.with_field(jets.constituents, ak.unflatten(flat, counts), f), "constituents")
    else:
        values = ak.to_numpy(jets[column]).copy()
        values[rows] = [np.nan, np.inf, -np.inf][: len(rows)] if len(rows) <= 3 else np.nan
        bad = ak.with_field(jets, values, column)
    ak.to_parquet(bad, tmp_path / "nan.parquet")
    _raises(r"nan\.parquet: " + match, tmp_path / "nan.parquet")


def _rewrite_part(ds: Path, part: Path, jets: ak.Array) -> None:
    """Replace a part of a dataset and update its size and hash in dataset.json (a consistent but bad part)."""
    ak.to_parquet(jets, part)
    meta = json.loads((ds / "dataset.json").read_text())
    for p in meta["parts"]:
        if p["file"] == part.name:
            p["bytes"], p["sha256"] = part.stat().st_size, hashlib.sha256(part.read_bytes()).hexdigest()
    (ds / "dataset.json").write_text(json.dumps(meta))


# --------------------------------------------------------------------------------------------- hepdl datasets


@pytest.fixture(scope="module")
def tiny_path(tiny_spec, tmp_path_factory) -> Path:
    return generate_dataset(tiny_spec, tmp_path_factory.mktemp("tiny") / "ds", workers=1, progress=False)


def test_nan_in_dataset_part(tiny_path, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(tiny_path, copy)
    part = sorted(copy.glob("*.parquet"))[1]
    jets = ak.from_parquet(part)
    jet_e = ak.to_numpy(jets.jet_e).copy()
    jet_e[1] = np.nan
    _rewrite_part(copy, part, ak.with_field(jets, jet_e, "jet_e"))
    _raises(rf"part file .*{part.name}: column 'jet_e' has NaN, inf or missing values in 1 of 6 rows", copy)
    label = ak.to_numpy(jets.label).copy()
    label[2] = 7
    _rewrite_part(copy, part, ak.with_field(jets, label, "label"))
    _raises(rf"part file .*{part.name}: column 'label' must hold the class labels 0\.\.1; found \(value: count\) \{{\d: 5, 7: 1\}}", copy)


def test_flipped_byte_in_dataset_part(tiny_path, tiny_spec, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(tiny_path, copy)
    part = sorted(copy.glob("*.parquet"))[2]
    original = part.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01  # one bit, same size
    part.write_bytes(bytes(data))
    msg = _raises(rf"dataset .*ds is damaged: part file {part.name} is corrupt \(its SHA-256 is not the one dataset\.json lists\); "
                  r"regenerate it by rerunning `hepdl generate` with the same settings", copy)
    assert "only damaged parts are regenerated" in msg
    # without the hash, only the size is checked: a truncated part is still caught
    part.write_bytes(original[:-10])
    _raises(rf"part file {part.name} is corrupt or truncated \({len(original) - 10} bytes, dataset\.json lists {len(original)}\)", copy, verify=False)
    part.unlink()
    _raises(rf"part file {part.name} listed in dataset\.json is missing; the dataset is damaged", copy)
    # what the message promises: the same `generate` regenerates the damaged part, byte for byte
    part.write_bytes(bytes(data))
    others = {p.name: p.stat().st_mtime_ns for p in copy.glob("*.parquet") if p != part}
    generate_dataset(tiny_spec, copy, workers=1, progress=False)
    assert part.read_bytes() == original
    assert others == {p.name: p.stat().st_mtime_ns for p in copy.glob("*.parquet") if p != part}
    assert len(open_dataset(copy)) == 24


def test_verify_false_skips_only_the_hash(tiny_path):
    assert len(open_dataset(tiny_path, verify=False)) == len(open_dataset(tiny_path)) == 24
    assert "verify" not in open_dataset(tiny_path, verify=False).options


@pytest.mark.parametrize("text", [b"\xff\xfe not json", b"[1, 2, 3]"])
def test_corrupt_dataset_json(tiny_path, tmp_path, text):
    copy = tmp_path / "ds"
    shutil.copytree(tiny_path, copy)
    (copy / "dataset.json").write_bytes(text)
    _raises(r"ds/dataset\.json (is corrupt|is missing or corrupt)", copy)


# --------------------------------------------------------------------------------------------- predefined splits


def test_kaggle_set_is_the_predefined_split(tmp_path):
    rng = np.random.default_rng(4)
    n = 40
    features = pd.DataFrame({c: rng.normal(size=n) for c in schema.CHALLENGE_FEATURES})
    features["PRI_jet_num"] = rng.integers(0, 4, n)
    kset = rng.choice(list("tbvu"), n)
    kset[:4] = list("tbvu")  # every set present
    path = write_challenge_csv(tmp_path / "opendata.csv", features, labels=rng.integers(0, 2, n), weights=rng.uniform(0.1, 2, n),
                               fmt="opendata", kaggle_set=kset)
    ds = open_dataset(path)
    assert isinstance(ds, EventDataset)
    split = ds.predefined_split()
    assert split is not None and list(split) == ["train", "val", "test"]
    for name, code in (("train", "t"), ("val", "b"), ("test", "v")):
        assert np.array_equal(split[name], np.flatnonzero(kset == code))
        assert np.all(np.diff(split[name]) > 0)
    used = np.concatenate(list(split.values()))
    assert len(used) == len(set(used.tolist())) == int(np.sum(kset != "u"))
    kaggle = write_challenge_csv(tmp_path / "training.csv", features, labels=rng.integers(0, 2, n), weights=rng.uniform(0.1, 2, n))
    assert open_dataset(kaggle).predefined_split() is None


def test_jet_datasets_have_no_predefined_split(jets):
    assert JetDataset(jets, {}, Path("x"), "parquet").predefined_split() is None


# --------------------------------------------------------------------------------------------- detector cards


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("s = [0.101, 0.285]", "s = [0.101, -0.285]", r"neg\.toml\.ecal\.resolution: s\[1\] = -0\.285 .*resolution terms must be finite and >= 0"),
        ("n = [1.59, 0.0, 0.0]", "n = [1.59, -1.0, 0.0]", r"neg\.toml\.hcal\.resolution: n\[1\] = -1\.0 "),
        ("a = [0.06, 0.10, 0.25]", "a = [-0.06, 0.10, 0.25]", r"neg\.toml\.tracking: tracking\.resolution\.charged_hadron: a\[0\] = -0\.06 "),
        ("b = [1.0e-4, 1.5e-4, 3.5e-4]", "b = [1.0e-4, -1.5e-4, 3.5e-4]", r"neg\.toml\.tracking: tracking\.resolution\.muon: b\[1\] = -0\.00015 "),
        ("c = [0.0017, 0.0350]", "c = [nan, 0.0350]", r"neg\.toml\.ecal\.resolution: c\[0\] = nan "),
        ("2.5]\npt_edges = [10.0, 1e9]\nvalues = [[0.95], [0.85]]", "2.5]\npt_edges = [10.0, 1e9]\nvalues = [[0.95], [nan]]", r"neg\.toml: lepton_id\.electron: efficiencies must lie in \[0, 1\]"),
    ],
)
def test_negative_or_nan_resolution_in_detector_card(tmp_path, old, new, match):
    text = (Path(load_card.__code__.co_filename).parent / "cards" / "atlas.toml").read_text()
    assert text.count(old) == 1
    card = tmp_path / "neg.toml"
    card.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=match) as info:
        load_card(card)
    assert "\n" not in str(info.value)
