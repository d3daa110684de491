"""Lorentz Boost Network (Erdmann, Geiser, Rath, Rieger, arXiv:1812.09722) in PyTorch.

Dimensions: B jets, N leading particles, M particle combinations (= rest frames), C outputs.

Learned non-negative weights combine the N four-vectors into M composite particles and M rest
frames; each composite particle is boosted into its rest frame; the features of the boosted
particles (E, pT, pz, m) and the cosines of the angles between all pairs feed a dense network.
"""

from __future__ import annotations

import torch
from torch import nn

from hepdl.models.dense import mlp

__all__ = ["LBN"]


def boost_to_rest_frame(p: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Boost four-vectors p (..., 4: px, py, pz, E) into the rest frames ``frame`` (..., 4)."""
    beta = frame[..., :3] / frame[..., 3:].clamp_min(1e-9)
    b2 = (beta**2).sum(-1, keepdim=True).clamp(1e-12, 1 - 1e-6)
    beta = beta * torch.sqrt(b2 / (beta**2).sum(-1, keepdim=True).clamp_min(1e-12))
    gamma = 1.0 / torch.sqrt(1.0 - b2)
    e, vec = p[..., 3:], p[..., :3]
    bp = (beta * vec).sum(-1, keepdim=True)
    e_new = gamma * (e - bp)
    vec_new = vec + ((gamma - 1.0) * bp / b2 - gamma * e) * beta
    return torch.cat([vec_new, e_new], dim=-1)


class LBN(nn.Module):
    """LBN, four-momenta (B, N_any, 4) + mask -> (B, C); uses the ``n_particles`` leading particles.

    Paper (top tagging): N = 40 particles, M = 40 combinations, dense network of 8 x 1024 ELU layers.
    """

    def __init__(self, n_particles: int = 40, n_combinations: int = 40, hidden: tuple[int, ...] = (1024,) * 8,
                 n_outputs: int = 1, scale: float = 100.0) -> None:
        super().__init__()
        self.n, self.m, self.scale = n_particles, n_combinations, scale
        self.w_particles = nn.Parameter(torch.rand(n_particles, n_combinations))
        self.w_frames = nn.Parameter(torch.rand(n_particles, n_combinations))
        n_feat = 4 * n_combinations + n_combinations * (n_combinations - 1) // 2
        self.norm = nn.BatchNorm1d(n_feat)
        self.net = mlp([n_feat, *hidden, n_outputs], act=nn.ELU)
        self.register_buffer("_pairs", torch.triu_indices(n_combinations, n_combinations, 1), persistent=False)

    def forward(self, x: torch.Tensor | None, mask: torch.Tensor, p4: torch.Tensor) -> torch.Tensor:
        p = (p4 * mask.unsqueeze(-1))[:, : self.n] / self.scale
        if p.shape[1] < self.n:
            p = torch.nn.functional.pad(p, (0, 0, 0, self.n - p.shape[1]))
        combos = torch.einsum("bnc,nm->bmc", p, self.w_particles.abs())
        frames = torch.einsum("bnc,nm->bmc", p, self.w_frames.abs())
        boosted = boost_to_rest_frame(combos, frames)
        px, py, pz, e = boosted.unbind(-1)
        m2 = combos[..., 3] ** 2 - (combos[..., :3] ** 2).sum(-1)
        mass = torch.sqrt(m2.clamp_min(1e-9))
        unit = boosted[..., :3] / boosted[..., :3].norm(dim=-1, keepdim=True).clamp_min(1e-9)
        cos = (unit[:, self._pairs[0]] * unit[:, self._pairs[1]]).sum(-1)
        feats = torch.cat([e, torch.sqrt(px**2 + py**2), pz, mass, cos], dim=-1)
        return self.net(self.norm(feats))
