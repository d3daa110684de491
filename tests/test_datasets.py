"""Datasets on disk: determinism, resume after interruption, atomic writes, parallel == serial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hepdl.data.generate as gen_mod
from hepdl.data import generate_dataset
from hepdl.data import open as open_dataset
from hepdl.data.paths import atomic_write, atomic_write_json
from hepdl.errors import DataError


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_spec) -> Path:
    return generate_dataset(tiny_spec, tmp_path_factory.mktemp("ref") / "ds", workers=1, progress=False)


def test_same_settings_same_bytes(reference, tiny_spec, tmp_path):
    again = generate_dataset(tiny_spec, tmp_path / "ds", workers=1, progress=False)
    a, b = _files(reference), _files(again)
    assert sorted(a) == sorted(b)
    assert len([n for n in a if n.endswith(".parquet")]) == 4  # 12 jets per class in parts of 6
    for name in a:
        assert a[name] == b[name], name


@pytest.mark.slow
def test_other_seed_other_events(reference, tmp_path):
    from hepdl.tasks import top_tagging

    other = generate_dataset(top_tagging.dataset_spec(24, seed=4, per_part=6), tmp_path / "ds", workers=1, progress=False)
    assert _files(other)["top-00000.parquet"] != _files(reference)["top-00000.parquet"]


@pytest.mark.slow  # two Dask worker processes: the default run keeps the in-process path
def test_dask_workers_give_the_same_bytes(reference, tiny_spec, tmp_path):
    par = generate_dataset(tiny_spec, tmp_path / "ds", workers=2, progress=False)
    a, b = _files(reference), _files(par)
    for name in a:
        assert a[name] == b[name], name


def test_resume_after_interruption(reference, tiny_spec, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    real = gen_mod.generate_part
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gen_mod, "generate_part", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tiny_spec, out, workers=1, progress=False)
    monkeypatch.setattr(gen_mod, "generate_part", real)

    finished = sorted(p.name for p in out.glob("*.parquet"))
    assert len(finished) == 3
    assert not list(out.glob(".tmp-*"))
    assert json.loads((out / "dataset.json").read_text())["complete"] is False
    with pytest.raises(DataError, match="incomplete"):
        open_dataset(out)
    kept = {n: (out / n).stat().st_mtime_ns for n in finished}

    # a finished part that was damaged afterwards is detected and made again
    damaged = out / finished[0]
    damaged.write_bytes(damaged.read_bytes()[:100])

    generate_dataset(tiny_spec, out, workers=1, progress=False)
    for name in finished[1:]:
        assert (out / name).stat().st_mtime_ns == kept[name], f"{name} was regenerated"
    a, b = _files(reference), _files(out)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name
    assert len(open_dataset(out)) == 24


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_json(target, {"a": 1})

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_other_settings_refuse_and_touch_nothing(reference, tmp_path):
    import shutil

    from hepdl.tasks import top_tagging

    out = tmp_path / "ds"
    shutil.copytree(reference, out)
    before = _files(out)
    with pytest.raises(DataError, match="other settings"):
        generate_dataset(top_tagging.dataset_spec(24, seed=99, per_part=6), out, workers=1, progress=False)
    assert _files(out) == before


def test_dataset_metadata(reference, tiny_spec):
    ds = open_dataset(reference)
    meta = ds.metadata
    assert meta["schema_version"] == 1 and meta["complete"] and meta["task"] == "top-tagging"
    assert meta["counts"] == {"qcd": 12, "top": 12, "total": 24}
    assert meta["settings"]["detector_card"]["name"] == "atlas"
    assert {p["file"] for p in meta["parts"]} == {p.name for p in reference.glob("*.parquet")}
    assert len({p["pythia_seed"] for p in meta["parts"]}) == 4  # every part its own seed
    assert ds.label_names == ["qcd", "top"]
    assert ds.class_counts() == {"qcd": 12, "top": 12}
    for f in ("constituents", "jet_pt", "jet_eta", "jet_phi", "jet_m", "jet_e", "label", "process", "weight"):
        assert f in ds.jets.fields
    assert set(ds.jets.constituents.fields) == {"pt", "eta", "phi", "e", "charge", "type"}
    assert "cutflow [top]" in ds.summary()
