"""Energy and Particle Flow Networks (Komiske, Metodiev, Thaler, arXiv:1810.05165).

Dimensions: B jets, N particles (padded), F per-particle features, L latent size, C outputs.
Both are sums over particles, so permutation invariant; padded particles are masked out of the sum.
"""

from __future__ import annotations

import torch
from torch import nn

from hepdl.models.dense import mlp

__all__ = ["PFN", "EFN", "EnergyFractions"]


class PFN(nn.Module):
    """Particle Flow Network: F(sum_i Phi(p_i)), (B, N, F) + mask (B, N) -> (B, C).

    Paper configuration: Phi = (100, 100, 256), F = (100, 100, 100).
    """

    def __init__(self, n_features: int, phi: tuple[int, ...] = (100, 100, 256), f: tuple[int, ...] = (100, 100, 100),
                 n_outputs: int = 1) -> None:
        super().__init__()
        self.phi = nn.Sequential(mlp([n_features, *phi]), nn.ReLU())
        self.f = mlp([phi[-1], *f, n_outputs])

    def forward(self, x: torch.Tensor, mask: torch.Tensor, p4: torch.Tensor | None = None) -> torch.Tensor:
        latent = (self.phi(x) * mask.unsqueeze(-1)).sum(dim=1)
        return self.f(latent)


class EnergyFractions(nn.Module):
    """z_i = pT_i / sum_j pT_j of the real particles, from four-momenta (B, N, 4) + mask (B, N) -> (B, N).
    A module, so that relevance propagation can treat the energy weights as constants."""

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pt = torch.sqrt(p4[..., 0] ** 2 + p4[..., 1] ** 2) * mask
        return pt / pt.sum(dim=1, keepdim=True).clamp_min(1e-12)


class EFN(nn.Module):
    """Energy Flow Network: F(sum_i z_i Phi(eta_i, phi_i)), IRC safe by construction.

    Angles are the first two feature columns (``deta``, ``dphi`` in hepdl's particle clouds); the
    energy fractions z_i = pT_i / sum pT come from the four-momenta ``p4`` (B, N, 4).
    """

    def __init__(self, n_features: int = 2, phi: tuple[int, ...] = (100, 100, 256), f: tuple[int, ...] = (100, 100, 100),
                 n_outputs: int = 1) -> None:
        super().__init__()
        self.phi = nn.Sequential(mlp([2, *phi]), nn.ReLU())
        self.f = mlp([phi[-1], *f, n_outputs])
        self.fractions = EnergyFractions()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, p4: torch.Tensor) -> torch.Tensor:
        z = self.fractions(p4, mask)
        latent = (self.phi(x[..., :2]) * z.unsqueeze(-1)).sum(dim=1)
        return self.f(latent)
