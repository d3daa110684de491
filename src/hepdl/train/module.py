"""The LightningModule shared by every torch model, and data loaders for every representation."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from torch import nn

from hepdl.data.stream import group_by_chunk

__all__ = ["TrainModule", "Classifier", "EpochSampler", "OneBar", "epoch_seed", "make_loader", "from_worker"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of training epoch ``epoch``: the random numbers an epoch draws (dropout,
    data order) depend on the run's seed and the epoch only, so a resumed training draws what an
    uninterrupted one would."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class TrainModule(L.LightningModule):
    """The LightningModule of every torch model: AdamW with a cosine schedule around a network and an
    objective (:mod:`hepdl.train.objectives`), which owns the loss, the outputs and the validation
    figures. The network takes the representation's input tensors in order (``input_names``).

    ``history`` holds one row per epoch (train and validation loss, the objective's validation
    figures, learning rate) and travels in every checkpoint, so a resumed training keeps its earlier epochs.
    """

    def __init__(self, net: nn.Module, kind: str, model_name: str, lr: float = 1e-3, weight_decay: float = 1e-2,
                 epochs: int = 10, seed: int = 0, objective: str = "classify", objective_config: dict[str, Any] | None = None,
                 input_names: tuple[str, ...] | list[str] = (), augment: dict[str, Any] | None = None) -> None:
        super().__init__()
        from hepdl.train.objectives import get_objective

        self.net = net
        self.save_hyperparameters(ignore=["net"])
        self.objective = get_objective(objective, **(objective_config or {}))
        self.input_names = tuple(input_names)
        self._val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]] = []
        self._train_sum, self._train_n = 0.0, 0
        self.history: list[dict[str, float]] = []

    @property
    def binary(self) -> bool:
        return bool(getattr(self.objective, "binary", False))

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return tuple(batch[n] for n in self.input_names)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(*self._inputs(batch))

    def _loss(self, per: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        """Mean of the per-event loss, weighted by the training weights ``w`` when given."""
        if w is None:
            return per.mean()
        w = w.to(per.dtype)
        return (per * w).sum() / w.sum().clamp_min(1e-12)

    def probabilities(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The objective's output (class probabilities, predictions or anomaly scores) of a batch."""
        return self.outputs(batch)

    def outputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = self._inputs(batch)
        return self.objective.output(self.net(*inputs), inputs)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if batch_idx == 0:  # here, not in on_train_epoch_start, which Lightning skips on a resumed epoch
            torch.manual_seed(epoch_seed(int(self.hparams.get("seed", 0)), int(self.current_epoch)))
            self._train_sum, self._train_n = 0.0, 0
        if self.hparams.get("augment"):  # the representation's symmetry augmentation, training batches only
            from hepdl.features.inputs import augment_batch

            batch = augment_batch(batch, self.hparams["augment"])
        inputs = self._inputs(batch)
        loss = self._loss(self.objective.evaluate(self.net, inputs, batch["y"], outputs=False)[1], batch.get("w"))
        n = len(batch["y"])
        self._train_sum += float(loss.detach()) * n  # this rank's share; the history is rank 0's view
        self._train_n += n
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        inputs = self._inputs(batch)
        out, per = self.objective.evaluate(self.net, inputs, batch["y"])
        w = batch.get("w")
        self._val.append((self.objective.record(out, inputs).detach(), batch["y"], None if w is None else w.detach(), per.detach()))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        records = torch.cat([a for a, _, _, _ in self._val]).float()
        y = torch.cat([b for _, b, _, _ in self._val])
        w = None if self._val[0][2] is None else torch.cat([c for _, _, c, _ in self._val])  # type: ignore[misc]
        per = torch.cat([d for _, _, _, d in self._val])
        self._val.clear()
        if self.trainer.world_size > 1:  # every rank judges the whole validation split (early stopping, best model)
            records, y, per = (self._gathered(t) for t in (records, y, per))
            w = None if w is None else self._gathered(w)
        val_loss = self._loss(per, w)
        self.log("val_loss", val_loss, prog_bar=True)
        row: dict[str, float] = {"epoch": int(self.current_epoch),
                                 "train_loss": self._train_sum / self._train_n if self._train_n else float("nan"),
                                 "val_loss": float(val_loss)}
        for k, v in self.objective.figures(records, y).items():
            row[k] = v
            self.log(k, v, prog_bar=True)
        if self.trainer.sanity_checking:
            return
        opts = self.trainer.optimizers
        row["lr"] = float(opts[0].param_groups[0]["lr"]) if opts else float("nan")
        self.history.append(row)

    def _gathered(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` of every rank, concatenated along the first axis."""
        g = self.all_gather(t)
        assert isinstance(g, torch.Tensor)
        return g.flatten(0, 1)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["hepdl_history"] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("hepdl_history", []))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.hparams["epochs"], 1))
        return {"optimizer": opt, "lr_scheduler": sched}


#: The former name of :class:`TrainModule`, when classification was its only objective.
Classifier = TrainModule


class OneBar(TQDMProgressBar):
    """Lightning's progress bar, one per model: the training bar only (no sanity-check or
    validation bars)."""

    def init_sanity_tqdm(self) -> Any:
        return Tqdm(disable=True)

    def init_validation_tqdm(self) -> Any:
        return Tqdm(disable=True)


class EpochSampler(torch.utils.data.Sampler[int]):
    """A shuffling sampler whose order is a function of the seed and the epoch (Lightning calls
    :meth:`set_epoch` before each epoch): a resumed training sees the data in the same order as an
    uninterrupted one."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Any:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


class _Dict(torch.utils.data.Dataset):
    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.t = tensors
        self.n = len(next(iter(tensors.values())))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.t.items()}


#: Jets a streaming loader holds at once: the shuffle window, in jets (whole chunks; at least one).
STREAM_WINDOW = 20_000


class ChunkSampler(torch.utils.data.Sampler[int]):
    """The order of a streamed split: chunks in a seeded order, a window of chunks (about
    ``window`` entries) at a time, entries shuffled within the window. When the whole split fits in
    one window it is exactly :class:`EpochSampler`'s permutation, so a small dataset trains the same
    in memory and streamed. Seeded by the seed and the epoch, like :class:`EpochSampler`.

    Under DDP (``world`` processes; by default read from ``torch.distributed`` when it is
    initialised) each rank takes every ``world``-th chunk of the epoch's chunk order, so no rank
    reads another's parts, and all ranks yield the same number of entries (the smallest share; the
    few entries cut differ from epoch to epoch, as the chunk order does)."""

    def __init__(self, chunk: np.ndarray, window: int, seed: int = 0, shuffle: bool = True,
                 rank: int | None = None, world: int | None = None) -> None:
        self.chunk, self.window, self.seed, self.shuffle, self.epoch = np.asarray(chunk), max(int(window), 1), seed, shuffle, 0
        self.n = len(self.chunk)
        self._rank, self._world = rank, world
        self._by_chunk = group_by_chunk(self.chunk)
        self._counts = np.array([len(v) for v in self._by_chunk.values()], dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def chunks_per_window(self) -> int:
        """The most chunks one window can span (a window closes once it holds ``window`` entries): what
        a loader must hold to read a window without reading a chunk twice."""
        if not self.shuffle or not self.n:
            return 1
        counts = np.sort(self._counts)
        return min(int(np.searchsorted(np.cumsum(counts), self.window)) + 1, len(counts))

    def _ddp(self) -> tuple[int, int]:
        if self._world is not None:
            return int(self._rank or 0), int(self._world)
        dist = torch.distributed
        if self.shuffle and dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _deal(self, rng: np.random.Generator, world: int) -> tuple[np.ndarray, int]:
        """The epoch's chunk order (indices into this sampler's chunks) and each rank's share: the
        smallest number of entries any rank's chunks hold (all entries without DDP)."""
        order = rng.permutation(len(self._counts))
        if world == 1:
            return order, self.n
        if len(order) < world:
            raise ValueError(f"{len(order)} parts cannot be shared among {world} DDP processes: write smaller parts "
                             "(hepdl generate --per-part) or train on fewer devices")
        return order, min(int(self._counts[order[r::world]].sum()) for r in range(world))

    def _order(self) -> np.ndarray:
        if not self.shuffle:  # positions in order: the chunks in order, one at a time (every rank: all of them)
            return np.arange(self.n)
        rank, world = self._ddp()
        rng = np.random.default_rng([self.seed, self.epoch])
        if world == 1 and self.n <= self.window:
            return rng.permutation(self.n)
        members = list(self._by_chunk.values())
        order, share = self._deal(rng, world)
        blocks, window, held = [], [], 0
        for c in order[rank::world]:
            window.append(members[c])
            held += self._counts[c]
            if held >= self.window:
                blocks.append(rng.permutation(np.concatenate(window)))
                window, held = [], 0
        if window:
            blocks.append(rng.permutation(np.concatenate(window)))
        return np.concatenate(blocks)[:share]

    def __len__(self) -> int:
        world = self._ddp()[1]
        if world == 1:
            return self.n
        return self._deal(np.random.default_rng([self.seed, self.epoch]), world)[1]  # the share alone: no order built

    def __iter__(self) -> Any:
        return iter(self._order().tolist())


class _ChunkDict(torch.utils.data.Dataset):
    """Entries ``idx`` of :class:`~hepdl.features.inputs.StreamedInputs`, built a chunk at a time (only
    the chunk's rows among ``idx``) and held for as many chunks as the window spans (least recently
    used dropped first)."""

    def __init__(self, inputs: Any, y: np.ndarray, idx: np.ndarray) -> None:
        self.inputs, self.idx = inputs, np.asarray(idx, dtype=np.int64)
        self.chunk = np.empty(len(self.idx), dtype=np.int64)
        # each chunk's rows among idx, and where each entry sits in its chunk's built arrays
        self.rows: dict[int, np.ndarray] = {}
        self.local = np.empty(len(self.idx), dtype=np.int64)
        for c, (where, rows, back) in inputs.by_chunk(self.idx).items():
            self.chunk[where], self.rows[c], self.local[where] = c, rows, back
        yy = y[self.idx]
        self.y = torch.from_numpy(yy.astype(np.int64) if np.issubdtype(yy.dtype, np.integer) else yy.astype(np.float32))
        self.max_held = 2  # make_loader sets it from the sampler's window
        self.held: dict[int, dict[str, torch.Tensor]] = {}
        self.loads = 0  # chunks built so far (a window reads each of its chunks once)

    def __len__(self) -> int:
        return len(self.idx)

    def _tensors(self, c: int) -> dict[str, torch.Tensor]:
        t = self.held.pop(c, None)
        if t is None:
            arrays = self.inputs.chunk_arrays(c, self.rows[c])
            t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
            self.loads += 1
            while len(self.held) >= self.max_held:
                self.held.pop(next(iter(self.held)))
        self.held[c] = t  # most recent last
        return t

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        t = self._tensors(int(self.chunk[i]))
        r = int(self.local[i])
        return {**{k: v[r] for k, v in t.items()}, "y": self.y[i]}

    def __getitems__(self, positions: list[int]) -> dict[str, torch.Tensor]:
        """The batch of ``positions`` (in that order), gathered chunk by chunk: what collating
        ``self[p]`` for each ``p`` gives, without a dict per entry (the DataLoader calls this for a batch)."""
        pos = np.asarray(positions, dtype=np.int64)
        chunks = self.chunk[pos]
        out: dict[str, torch.Tensor] | None = None
        for c in dict.fromkeys(chunks.tolist()):  # chunks in order of first appearance (the window's order)
            t = self._tensors(int(c))
            sel = np.flatnonzero(chunks == c)
            if out is None:
                out = {k: torch.empty((len(pos), *v.shape[1:]), dtype=v.dtype) for k, v in t.items()}
            rows = torch.from_numpy(self.local[pos[sel]])
            for k, v in t.items():
                out[k][torch.from_numpy(sel)] = v[rows]
        assert out is not None
        out["y"] = self.y[torch.from_numpy(pos)]
        return out


def from_worker(exc: Exception) -> Exception:
    """``exc`` as a loader worker worded it: the DataLoader re-raises a worker's error in the training
    process with the worker's traceback as its message; hepdl's errors are one line (the last of it)."""
    text = str(exc)
    if "DataLoader worker process" not in text:
        return exc
    last = [ln for ln in text.strip().splitlines() if ln.strip()][-1]
    prefix = f"{type(exc).__module__}.{type(exc).__name__}: "
    return type(exc)(last[len(prefix):] if last.startswith(prefix) else last)


def _as_built(batch: Any) -> Any:
    """The collate function of a streamed loader: :meth:`_ChunkDict.__getitems__` built the batch."""
    return batch


def _worker_init(_: int) -> None:
    """A loader worker builds batches on one thread: the training process keeps the cores' threads."""
    torch.set_num_threads(1)


def make_loader(inputs: Any, y: np.ndarray, idx: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0,
                window: int | None = None, workers: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader of dicts (the representation's arrays plus ``y``: int64 labels or float32 targets,
    and ``w`` when the inputs carry training weights) over the entries ``idx``.

    :class:`~hepdl.features.inputs.StreamedInputs` are read a chunk at a time: the loader holds the
    parts of about ``window`` entries (default :data:`STREAM_WINDOW`; :class:`ChunkSampler`), whatever
    the size of the dataset. With ``workers`` > 0, that many forked processes read the parts and build
    the batches (in the sampler's order, two batches ahead each) while the training process computes:
    the same batches as without them."""
    from hepdl.features.inputs import StreamedInputs

    if isinstance(inputs, StreamedInputs):
        if getattr(inputs, "sample_weight", None) is not None:
            raise ValueError("streamed inputs carry no training weights")
        streamed = _ChunkDict(inputs, y, idx)
        by_chunk = ChunkSampler(streamed.chunk, window or STREAM_WINDOW, seed, shuffle)
        streamed.max_held = by_chunk.chunks_per_window() + 1  # the window's chunks, and the next window's first
        batches = torch.utils.data.BatchSampler(by_chunk, batch_size, drop_last=False)  # Lightning sets the epoch of by_chunk
        # one worker builds every batch in turn (so it reads each part once); more take batches in turn
        forked: dict[str, Any] = ({} if workers <= 0 else dict(num_workers=workers, worker_init_fn=_worker_init,
                                                                persistent_workers=True, multiprocessing_context="fork"))
        return torch.utils.data.DataLoader(streamed, batch_sampler=batches, collate_fn=_as_built, **forked)
    arrays = inputs.take(idx)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    yy = y[idx]
    tensors["y"] = torch.from_numpy(yy.astype(np.int64) if np.issubdtype(yy.dtype, np.integer) else yy.astype(np.float32))
    if getattr(inputs, "sample_weight", None) is not None:
        tensors["w"] = torch.from_numpy(inputs.sample_weight[idx].astype(np.float32))
    data = _Dict(tensors)
    sampler = EpochSampler(len(data), seed) if shuffle else None
    return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=sampler)
