"""The LightningModule shared by every torch model, and data loaders for each representation."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from torch import nn

from hepdl.metrics import auc

__all__ = ["Classifier", "EpochSampler", "OneBar", "epoch_seed", "make_loader"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of training epoch ``epoch``: the random numbers an epoch draws (dropout,
    data order) depend on the run's seed and the epoch only, so a resumed training draws what an
    uninterrupted one would."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class Classifier(L.LightningModule):
    """Classification with AdamW and a cosine schedule: BCE on one logit for two classes, cross-entropy
    on C logits for C > 2 classes.

    ``history`` holds one row per epoch (train and validation loss, validation AUC or accuracy,
    learning rate) and travels in every checkpoint, so a resumed training keeps its earlier epochs.
    """

    def __init__(self, net: nn.Module, kind: str, model_name: str, lr: float = 1e-3, weight_decay: float = 1e-2,
                 epochs: int = 10, n_classes: int = 2, seed: int = 0) -> None:
        super().__init__()
        self.net = net
        self.save_hyperparameters(ignore=["net"])
        self.binary = n_classes == 2
        self.loss: nn.Module = nn.BCEWithLogitsLoss(reduction="none") if self.binary else nn.CrossEntropyLoss(reduction="none")
        self._val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        self._train_sum, self._train_n = 0.0, 0
        self.history: list[dict[str, float]] = []

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Mean loss, weighted by the per-event training weights ``w`` when given (event datasets)."""
        per = self.loss(logits[:, 0], y.float()) if self.binary else self.loss(logits, y.long())
        if w is None:
            return per.mean()
        w = w.to(per.dtype)
        return (per * w).sum() / w.sum().clamp_min(1e-12)

    def probabilities(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class probabilities: (B,) signal probability for two classes, (B, C) softmax otherwise."""
        logits = self(batch)
        return torch.sigmoid(logits[:, 0]) if self.binary else torch.softmax(logits, dim=-1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        kind = self.hparams["kind"]
        if kind == "features":
            return self.net(batch["features"])
        if kind == "image":
            return self.net(batch["images"])
        return self.net(batch["x"], batch["mask"], batch["p4"])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if batch_idx == 0:  # here, not in on_train_epoch_start, which Lightning skips on a resumed epoch
            torch.manual_seed(epoch_seed(int(self.hparams.get("seed", 0)), int(self.current_epoch)))
            self._train_sum, self._train_n = 0.0, 0
        loss = self._loss(self(batch), batch["y"], batch.get("w"))
        n = len(batch["y"])
        self._train_sum += float(loss.detach()) * n  # this rank's share; the history is rank 0's view
        self._train_n += n
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        w = batch.get("w")
        self._val.append((self(batch).detach(), batch["y"], None if w is None else w.detach()))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        logits = torch.cat([a for a, _, _ in self._val]).float()
        y_t = torch.cat([b for _, b, _ in self._val])
        w = None if self._val[0][2] is None else torch.cat([c for _, _, c in self._val])  # type: ignore[misc]
        self._val.clear()
        if self.trainer.world_size > 1:  # every rank judges the whole validation split (early stopping, best model)
            logits, y_t = self.all_gather(logits).flatten(0, 1), self.all_gather(y_t).flatten(0, 1)
            w = None if w is None else self.all_gather(w).flatten(0, 1)
        val_loss = self._loss(logits, y_t, w)
        self.log("val_loss", val_loss, prog_bar=True)
        y = y_t.cpu().numpy()
        row: dict[str, float] = {"epoch": int(self.current_epoch),
                                 "train_loss": self._train_sum / self._train_n if self._train_n else float("nan"),
                                 "val_loss": float(val_loss)}
        if not self.binary:
            row["val_acc"] = float((logits.argmax(-1).cpu().numpy() == y).mean())
            self.log("val_acc", row["val_acc"], prog_bar=True)
        elif 0 < y.sum() < len(y):
            row["val_auc"] = auc(y, logits[:, 0].cpu().numpy())
            self.log("val_auc", row["val_auc"], prog_bar=True)
        if self.trainer.sanity_checking:
            return
        opts = self.trainer.optimizers
        row["lr"] = float(opts[0].param_groups[0]["lr"]) if opts else float("nan")
        self.history.append(row)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["hepdl_history"] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("hepdl_history", []))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.hparams["epochs"], 1))
        return {"optimizer": opt, "lr_scheduler": sched}


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


def make_loader(inputs: Any, y: np.ndarray, idx: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader of dicts (the representation's arrays plus ``y``, and ``w`` when the inputs carry
    training weights) over the jets or events ``idx``."""
    arrays = inputs.take(idx)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    tensors["y"] = torch.from_numpy(y[idx].astype(np.int64))
    if getattr(inputs, "sample_weight", None) is not None:
        tensors["w"] = torch.from_numpy(inputs.sample_weight[idx].astype(np.float32))
    data = _Dict(tensors)
    sampler = EpochSampler(len(data), seed) if shuffle else None
    return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=sampler)
