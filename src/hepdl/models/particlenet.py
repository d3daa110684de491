"""ParticleNet: dynamic graph CNN with EdgeConv blocks (Qu, Gouskos, arXiv:1902.08570).

Dimensions: B jets, N particles (padded), F per-particle features, D coordinates for the first
neighbour search (deta, dphi: the first two feature columns), K neighbours, C outputs.

Padded particles are moved far away before each neighbour search, so they are never a real
particle's neighbour, and their outputs are zeroed; with BatchNorm in evaluation mode the output
does not depend on the padding. The model is permutation invariant (kNN + mean over neighbours +
global average).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ParticleNet"]

_FAR = 1e9


def _knn(points: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (B, N, K) of the k nearest other points; padded points are pushed out of reach."""
    pts = points.masked_fill(~mask.unsqueeze(-1), _FAR)
    d = torch.cdist(pts, pts)
    d = d + torch.eye(d.shape[-1], device=d.device) * (4 * _FAR)  # never yourself
    k = min(k, d.shape[-1] - 1)
    return d.topk(k, dim=-1, largest=False).indices


class EdgeConv(nn.Module):
    """h_i = ReLU(shortcut(x_i) + mean_j MLP([x_i, x_j - x_i])) over the k nearest neighbours j."""

    def __init__(self, n_in: int, channels: tuple[int, ...], k: int) -> None:
        super().__init__()
        self.k = k
        layers: list[nn.Module] = []
        prev = 2 * n_in
        for c in channels:
            layers += [nn.Conv2d(prev, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            prev = c
        self.mlp = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.Conv1d(n_in, channels[-1], 1, bias=False), nn.BatchNorm1d(channels[-1]))
        self.act = nn.ReLU()

    def forward(self, points: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # points (B, N, D), x (B, N, F), mask (B, N) -> (B, N, C)
        idx = _knn(points, mask, self.k)  # (B, N, K)
        b, n, k = idx.shape
        # The first 1x1 convolution of the edge MLP acts on [x_i, x_j - x_i]; with its weight split as
        # [W_c, W_n] that is (W_c - W_n) x_i + W_n x_j: two per-particle products (B, N, C) and one gather
        # of the neighbours' rows through a flat (B*N) index, instead of gathering (B, N, K, F) edge
        # features from an expanded (B, N, N, F) view (whose backward builds a full-size gradient).
        first = self.mlp[0]
        assert isinstance(first, nn.Conv2d)
        w = first.weight[:, :, 0, 0]  # (C, 2F)
        f = x.shape[-1]
        own = x @ (w[:, :f] - w[:, f:]).T  # (B, N, C)
        other = (x @ w[:, f:].T).reshape(b * n, -1)  # (B*N, C)
        flat = (idx + torch.arange(b, device=idx.device).view(b, 1, 1) * n).reshape(-1)
        h = own.unsqueeze(2) + other.index_select(0, flat).view(b, n, k, -1)  # (B, N, K, C)
        h = self.mlp[1:](h.permute(0, 3, 1, 2)).mean(dim=-1)  # (B, C, N)
        out = self.act(h + self.shortcut(x.transpose(1, 2))).transpose(1, 2)
        return out * mask.unsqueeze(-1)


class ParticleNet(nn.Module):
    """ParticleNet, (B, N, F) + mask (B, N) -> (B, C).

    Paper: K = 16, EdgeConv blocks (64, 64, 64), (128, 128, 128), (256, 256, 256), fusion 384,
    dense 256 with dropout 0.1. ParticleNet-Lite: K = 7, blocks (32, 32, 32), (64, 64, 64), dense 128.
    """

    def __init__(self, n_features: int, k: int = 16,
                 blocks: tuple[tuple[int, ...], ...] = ((64, 64, 64), (128, 128, 128), (256, 256, 256)),
                 fusion: int = 384, dense: int = 256, dropout: float = 0.1, n_outputs: int = 1) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_features)
        convs = []
        prev = n_features
        for ch in blocks:
            convs.append(EdgeConv(prev, tuple(ch), k))
            prev = ch[-1]
        self.convs = nn.ModuleList(convs)
        total = sum(ch[-1] for ch in blocks)
        self.fusion = nn.Sequential(nn.Conv1d(total, fusion, 1, bias=False), nn.BatchNorm1d(fusion), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(fusion, dense), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dense, n_outputs))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, p4: torch.Tensor | None = None) -> torch.Tensor:
        m = mask.unsqueeze(-1)
        points = x[..., :2]
        h = self.input_norm(x.transpose(1, 2)).transpose(1, 2) * m
        outs = []
        for i, conv in enumerate(self.convs):
            h = conv(points if i == 0 else h, h, mask)
            outs.append(h)
        fused = self.fusion(torch.cat(outs, dim=-1).transpose(1, 2)).transpose(1, 2) * m
        pooled = fused.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp_min(1)
        return self.head(pooled)
