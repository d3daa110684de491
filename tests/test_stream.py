"""Streaming: a generated dataset read a part at a time gives the same labels, splits, inputs and
model as the same dataset in memory, holds a bounded window, and names a part that goes missing."""

from __future__ import annotations

import shutil

import awkward as ak
import numpy as np
import pytest

import hepdl.train.module as module_mod
from hepdl.data import open_parts
from hepdl.deploy.trigger import TriggerConfig, run_trigger
from hepdl.errors import DataError
from hepdl.features.inputs import StreamedInputs, model_inputs
from hepdl.train import TrainConfig, predict, run_split, train
from hepdl.train.module import ChunkSampler


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
    victim = parts.files[2]
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
