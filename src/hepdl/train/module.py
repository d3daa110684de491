"""The LightningModule shared by every torch model, and data loaders for each representation."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from hepdl.metrics import auc

__all__ = ["Classifier", "make_loader"]


class Classifier(L.LightningModule):
    """Classification with AdamW and a cosine schedule: BCE on one logit for two classes, cross-entropy
    on C logits for C > 2 classes."""

    def __init__(self, net: nn.Module, kind: str, model_name: str, lr: float = 1e-3, weight_decay: float = 1e-2,
                 epochs: int = 10, n_classes: int = 2) -> None:
        super().__init__()
        self.net = net
        self.save_hyperparameters(ignore=["net"])
        self.binary = n_classes == 2
        self.loss: nn.Module = nn.BCEWithLogitsLoss(reduction="none") if self.binary else nn.CrossEntropyLoss(reduction="none")
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

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

    def training_step(self, batch: dict[str, torch.Tensor], _: int) -> torch.Tensor:
        loss = self._loss(self(batch), batch["y"], batch.get("w"))
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["y"]))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        logits = self(batch)
        self.log("val_loss", self._loss(logits, batch["y"], batch.get("w")), on_epoch=True, prog_bar=True, batch_size=len(batch["y"]))
        self._val.append((logits.detach(), batch["y"]))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        logits = torch.cat([a for a, _ in self._val]).float()
        y = torch.cat([b for _, b in self._val]).cpu().numpy()
        self._val.clear()
        if not self.binary:
            self.log("val_acc", float((logits.argmax(-1).cpu().numpy() == y).mean()), prog_bar=True)
        elif 0 < y.sum() < len(y):
            self.log("val_auc", auc(y, logits[:, 0].cpu().numpy()), prog_bar=True)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.hparams["epochs"], 1))
        return {"optimizer": opt, "lr_scheduler": sched}


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
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(_Dict(tensors), batch_size=batch_size, shuffle=shuffle, generator=gen)
