"""Streaming: a generated dataset read a part at a time, and a top-tagging HDF5 or ROOT file read a
range of rows at a time, give the same labels, splits, inputs and model as the same data in memory,
hold a bounded window, and name a part (or row range) that goes missing or changes."""

from __future__ import annotations

import shutil

import awkward as ak
import numpy as np
import pytest
import torch

import hepdl.train.module as module_mod
from hepdl.data import open as open_dataset
from hepdl.data import open_parts, write_toptagging_hdf5
from hepdl.deploy.trigger import TriggerConfig, run_trigger
from hepdl.errors import ConfigError, DataError
from hepdl.features.inputs import StreamedInputs, model_inputs
from hepdl.train import TrainConfig, predict, run_split, train
from hepdl.train.module import ChunkSampler
from writers import write_jetclass


def test_parts_hold_the_light_columns_and_the_same_jets(top_dataset_path, top_dataset):
    parts = open_parts(top_dataset_path)
    assert len(parts) == len(top_dataset) == 600 and parts.n_chunks == 4
    assert np.array_equal(parts.labels, top_dataset.labels)
    assert np.array_equal(parts.split_groups(), top_dataset.split_groups())
    assert sorted(parts.jets.fields) == ["event", "label", "process", "weight"]  # no constituents in memory
    for i in range(parts.n_chunks):
        lo, hi = parts.starts[i], parts.starts[i + 1]
        chunk = parts.chunk(i).jets
        assert ak.to_list(chunk.constituents.pt) == ak.to_list(top_dataset.jets.constituents.pt[lo:hi])
    cfg = TrainConfig("pfn")
    assert all(np.array_equal(a, b) for a, b in zip(run_split(parts, cfg)[0].values(), run_split(top_dataset, cfg)[0].values(), strict=True))


@pytest.mark.parametrize("kind", ["cloud", "features"])
def test_streamed_inputs_equal_the_in_memory_ones(top_dataset_path, top_dataset, kind):
    parts = open_parts(top_dataset_path)
    train_idx = np.arange(0, 600, 2)
    streamed = model_inputs(parts, kind, train_idx, n_particles=32)
    memory = model_inputs(top_dataset, kind, train_idx, n_particles=32, cache=False)
    assert streamed.preprocess == memory.preprocess
    assert isinstance(streamed, StreamedInputs) == (kind == "cloud")
    idx = np.array([599, 3, 150, 151, 449, 0])  # across chunk boundaries, out of order
    got, want = streamed.take(idx), memory.take(idx)
    assert got.keys() == want.keys()
    for k in got:
        np.testing.assert_array_equal(got[k], want[k])


def test_chunk_sampler_is_a_permutation_within_windows():
    chunk = np.repeat(np.arange(6), 50)
    s = ChunkSampler(chunk, window=100, seed=3)
    order = np.array(list(iter(s)))
    assert sorted(order) == list(range(300))
    # each block of 100 positions comes from two chunks only: the window is bounded
    for block in order.reshape(3, 100):
        assert len(np.unique(chunk[block])) == 2
    s.set_epoch(1)
    assert list(iter(s)) != order.tolist()
    small = ChunkSampler(chunk, window=1000, seed=3)  # fits in one window: EpochSampler's permutation
    assert list(iter(small)) == list(iter(module_mod.EpochSampler(300, 3)))


def test_ddp_ranks_read_disjoint_parts_and_equal_shares():
    chunk = np.repeat(np.arange(7), [50, 50, 50, 50, 50, 50, 20])
    for epoch in range(3):
        shares = []
        for rank in range(2):
            s = ChunkSampler(chunk, window=100, seed=1, rank=rank, world=2)
            s.set_epoch(epoch)
            shares.append(np.array(list(iter(s))))
            assert len(s) == len(shares[-1])
        assert len(shares[0]) == len(shares[1]) >= 120  # equal shares (the smaller): DDP steps in lock-step
        assert not set(chunk[shares[0]]) & set(chunk[shares[1]])  # no part read by both ranks
        assert len(set(shares[0]) | set(shares[1])) == 2 * len(shares[0])
    with pytest.raises(ValueError, match="7 parts cannot be shared among 8 DDP processes"):
        list(iter(ChunkSampler(chunk, window=100, rank=0, world=8)))


def test_streamed_training_gives_the_in_memory_model(top_dataset_path, tmp_path):
    cfg = dict(epochs=2, n_particles=32, seed=5)
    a = train(TrainConfig("pfn", stream=False, **cfg), top_dataset_path, tmp_path / "memory", progress=False)
    b = train(TrainConfig("pfn", stream=True, **cfg), top_dataset_path, tmp_path / "stream", progress=False)
    sa, sb = (np.load(tmp_path / d / "scores.npz")["scores"] for d in ("memory", "stream"))
    np.testing.assert_allclose(sb, sa, atol=1e-5)
    assert a["auc"]["value"] == pytest.approx(b["auc"]["value"], abs=1e-6)


def test_a_window_reads_each_part_once(top_dataset_path, monkeypatch):
    """The loader holds every part a window spans: one epoch builds each part's inputs once, even when
    a window is smaller than the split (parts hold training, validation and test jets alike)."""
    monkeypatch.setattr(module_mod, "STREAM_WINDOW", 300)  # ~90 training jets per 150-jet part: a window spans 4 parts
    parts = open_parts(top_dataset_path)
    inputs = model_inputs(parts, "cloud", np.arange(0), n_particles=16)
    idx = np.sort(np.random.default_rng(0).choice(600, 360, replace=False))
    loader = module_mod.make_loader(inputs, parts.labels, idx, 32, shuffle=True)
    seen = np.concatenate([b["y"].numpy() for b in loader])
    assert len(seen) == 360 and loader.dataset.loads == 4
    assert loader.dataset.max_held == 5


def test_streamed_training_with_a_small_window_sees_every_jet(top_dataset_path, tmp_path):
    m = train(TrainConfig("pfn", stream=True, stream_window=100, epochs=1, n_particles=16), top_dataset_path, tmp_path / "pfn",
              progress=False)
    assert m["n_train"] == 360 and m["auc"]["value"] > 0.6


def test_a_part_that_disappears_is_named(top_dataset_path, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(top_dataset_path, copy)
    parts = open_parts(copy)
    victim = copy / parts.metadata["parts"][2]["file"]
    victim.unlink()
    with pytest.raises(DataError, match=rf"part file {victim} disappeared"):
        parts.chunk(2)
    with pytest.raises(DataError, match=rf"dataset {copy}: part file {victim.name} listed in dataset\.json is missing"):
        open_parts(copy)


def test_predict_streamed_equals_in_memory(top_dataset_path, top_dataset, tmp_path, run_main):
    for model in ("pfn", "dnn"):
        train(TrainConfig(model, epochs=1, n_particles=16), top_dataset, tmp_path / "run" / model, progress=False)
    memory = predict(tmp_path / "run", top_dataset)
    streamed = predict(tmp_path / "run", open_parts(top_dataset_path))
    assert memory.keys() == streamed.keys() == {"pfn", "dnn"}
    for k in memory:
        np.testing.assert_allclose(streamed[k], memory[k], atol=1e-6)
    res = run_main("predict", tmp_path / "run", "--data", top_dataset_path, "--out", tmp_path / "s.parquet", "--stream")
    assert res.returncode == 0, res.stderr
    import pandas as pd

    cols = pd.read_parquet(tmp_path / "s.parquet")
    np.testing.assert_allclose(cols["score_pfn"], memory["pfn"], atol=1e-6)
    assert np.array_equal(cols["label"], top_dataset.labels)
    # the trigger reads its batches (here across part boundaries) from the parts too, with the same result
    cfg = TriggerConfig(rate_hz=8e6, batch_size=200, model="pfn")
    a = run_trigger(tmp_path / "run", top_dataset, tmp_path / "ta", cfg, progress=False)
    b = run_trigger(tmp_path / "run", open_parts(top_dataset_path), tmp_path / "tb", cfg, progress=False)
    assert a["threshold"] == b["threshold"] and a["per_class"] == b["per_class"] and b["n_batches"] == 3
    for k in range(3):
        ja, jb = (ak.from_parquet(tmp_path / d / f"accepted-{k:05d}.parquet") for d in ("ta", "tb"))
        assert ak.to_list(ja.jet_pt) == ak.to_list(jb.jet_pt) and len(ja) > 0


def _user_files(jets, tmp_path):
    """The jets in the formats users bring, each with the open() options that read it."""
    import pandas as pd
    import uproot

    table = write_toptagging_hdf5(jets, tmp_path / "table.h5", n_max=64)
    pd.read_hdf(table, "table").to_hdf(tmp_path / "fixed.h5", key="table", mode="w", format="fixed")  # as the public files
    c = jets.constituents
    with uproot.recreate(tmp_path / "mine.root") as f:  # an RNTuple, read through a mapping
        f["Events"] = {"cand_pt": c.pt, "cand_eta": c.eta, "cand_phi": c.phi, "cand_e": c.e,
                       "is_top": ak.to_numpy(jets.label).astype(np.int32)}
    mapping = {"pt": "cand_pt", "eta": "cand_eta", "phi": "cand_phi", "e": "cand_e", "label": "is_top"}
    return {"table.h5": (table, {}), "fixed.h5": (tmp_path / "fixed.h5", {}),
            "jetclass.root": (write_jetclass(jets, tmp_path / "jc.root"), {}),
            "mine.root": (tmp_path / "mine.root", {"mapping": mapping})}


def test_hdf5_and_root_files_stream_in_row_ranges(top_dataset, tmp_path):
    """Each format read 150 rows at a time gives open()'s labels, classes and jets; the file is written
    class by class (QCD first), so some ranges hold one class only and must keep the file's classes."""
    from hepdl.data.stream import dataset_size

    for name, (path, opts) in _user_files(top_dataset.jets, tmp_path).items():
        whole = open_dataset(path, **opts)
        parts = open_parts(path, rows_per_chunk=150, **opts)
        assert len(parts) == len(whole) == 600 and parts.n_chunks == 4 and dataset_size(path) == 600, name
        assert np.array_equal(parts.labels, whole.labels) and parts.label_names == whole.label_names, name
        assert (parts.format, parts.metadata, parts.options) == (whole.format, whole.metadata, whole.options), name
        assert "constituents" not in parts.jets.fields
        assert len(np.unique(parts.chunk(0).labels)) == 1  # a one-class range
        for i in range(parts.n_chunks):
            lo, hi = parts.starts[i], parts.starts[i + 1]
            assert ak.to_list(parts.chunk(i).jets.constituents.pt) == ak.to_list(whole.jets.constituents.pt[lo:hi]), name


def test_streamed_hdf5_trains_the_in_memory_model(top_dataset, tmp_path, monkeypatch):
    import hepdl.data.stream as stream_mod

    path, _ = _user_files(top_dataset.jets, tmp_path)["fixed.h5"]
    cfg = dict(epochs=1, n_particles=32, seed=2)
    train(TrainConfig("pfn", stream=False, **cfg), path, tmp_path / "memory", progress=False)
    monkeypatch.setattr(stream_mod, "CHUNK_ROWS", 200)
    train(TrainConfig("pfn", stream=True, **cfg), path, tmp_path / "stream", progress=False)
    sa, sb = (np.load(tmp_path / d / "scores.npz")["scores"] for d in ("memory", "stream"))
    np.testing.assert_allclose(sb, sa, atol=1e-5)


def test_a_file_that_changes_mid_stream_is_named(top_dataset, tmp_path):
    files = _user_files(top_dataset.jets, tmp_path)
    path, _ = files["table.h5"]
    parts = open_parts(path, rows_per_chunk=150)
    write_toptagging_hdf5(top_dataset.jets[:500], path, n_max=64)  # replaced by a shorter file
    with pytest.raises(DataError, match=rf"rows 450:600 of {path} \(table 'table'\) holds 50 jets, 150 when the dataset was opened"):
        parts.chunk(3)
    root, _ = files["jetclass.root"]
    parts = open_parts(root, rows_per_chunk=150)
    root.write_bytes(root.read_bytes()[:2000])  # truncated
    with pytest.raises(DataError, match=rf"{root}"):
        parts.chunk(1)
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(ConfigError, match="streaming reads generated datasets"):
        open_parts(tmp_path / "x.csv")


def test_large_datasets_stream_by_size_in_every_command(top_dataset_path, top_dataset, tmp_path, monkeypatch):
    """Above STREAM_ABOVE jets a path opens as parts for train, predict and the task runner alike
    (hepdl.train.open_for_training); a user's HDF5 file too."""
    import hepdl.train.trainer as trainer_mod
    from hepdl.data.stream import JetParts
    from hepdl.train import open_for_training

    assert not isinstance(open_for_training(top_dataset_path, None), JetParts)
    monkeypatch.setattr(trainer_mod, "STREAM_ABOVE", 500)
    assert isinstance(open_for_training(top_dataset_path, None), JetParts)
    path, _ = _user_files(top_dataset.jets, tmp_path)["fixed.h5"]
    assert isinstance(open_for_training(path, None), JetParts)
    assert not isinstance(open_for_training(path, False), JetParts)


def test_the_report_draws_a_streamed_dataset_as_one_in_memory(top_dataset_path, top_dataset, top_task_run, tmp_path):
    """The report's jet figures read the jet mass of every jet and the constituents of a bounded,
    seeded subset: the same numbers from the parts as from memory; the page is written from parts."""
    from hepdl.report import make_report
    from hepdl.report.jets import _figure_jets

    mem, par = _figure_jets(top_dataset), _figure_jets(open_parts(top_dataset_path))
    np.testing.assert_array_equal(par[0], mem[0])
    np.testing.assert_array_equal(par[2], mem[2])
    assert ak.to_list(par[1].constituents.pt) == ak.to_list(mem[1].constituents.pt)
    copy = tmp_path / "run"
    shutil.copytree(top_task_run, copy)
    page = make_report(copy, open_parts(top_dataset_path)).read_text()
    assert "Average jet images" in page and "Background mass sculpting" in page


def test_loader_workers_build_the_same_batches_and_name_a_lost_part(top_dataset_path, tmp_path):
    """A streamed loader with a worker process yields batch for batch what it yields without; a part
    lost mid-epoch is the worker's one-line DataError, not a traceback and not a hang."""
    parts = open_parts(top_dataset_path)
    inputs = model_inputs(parts, "cloud", np.arange(0), n_particles=16)
    idx = np.sort(np.random.default_rng(1).choice(600, 400, replace=False))
    got = []
    for workers in (0, 1):
        loader = module_mod.make_loader(inputs, parts.labels, idx, 64, shuffle=True, seed=4, window=200, workers=workers)
        loader.batch_sampler.sampler.set_epoch(1)
        got.append(list(loader))
    assert len(got[0]) == len(got[1]) == 7
    for a, b in zip(*got, strict=True):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    copy = tmp_path / "ds"
    shutil.copytree(top_dataset_path, copy)
    lost = open_parts(copy)
    victim = copy / lost.metadata["parts"][3]["file"]
    victim.unlink()
    loader = module_mod.make_loader(model_inputs(lost, "cloud", np.arange(0), n_particles=16), lost.labels, idx, 64,
                                    shuffle=False, workers=1)
    with pytest.raises(DataError) as caught:
        list(loader)
    err = module_mod.from_worker(caught.value)
    assert isinstance(err, DataError) and "\n" not in str(err) and str(err).startswith(f"part file {victim} disappeared")
