"""A conditional invertible network (cINN): a normalizing flow for p(targets | conditions).

Bellagente, Butter, Kasieczka, Plehn, Rousselot, Winterhalder, Ardizzone, Köthe, "Invertible networks
or partons to detector and back again", arXiv:2006.06685 (the unfolding cINN), built from the
conditional affine coupling blocks of Ardizzone et al., arXiv:1907.02392 (with their soft clamp of the
log-scale) and the coupling layers of RealNVP (Dinh, Sohl-Dickstein, Bengio, arXiv:1605.08803).

Dimensions: B events, T target dimensions (the flow's), F condition features, H the conditions'
embedding. A block splits the (permuted) targets into a first part of T // 2 and the rest; the rest
is scaled and shifted by a network of the first part and the embedded conditions. With T = 1 the
first part is empty and each block is an affine map whose scale and shift depend on the conditions
only, so the flow is a conditional Gaussian — exact for a Gaussian smearing (the test's toy).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hepdl.models.dense import mlp

__all__ = ["ConditionalINN"]


class _Coupling(nn.Module):
    def __init__(self, n_dims: int, n_context: int, hidden: tuple[int, ...], clamp: float) -> None:
        super().__init__()
        self.n_a = n_dims // 2
        self.n_b = n_dims - self.n_a
        self.clamp = clamp
        self.net = mlp([self.n_a + n_context, *hidden, 2 * self.n_b], act=nn.SiLU)
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)  # every block starts as the identity
        nn.init.zeros_(last.bias)

    def _scale_shift(self, a: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(torch.cat([a, c], dim=1)).chunk(2, dim=1)
        return self.clamp * torch.tanh(s / self.clamp), t  # the soft clamp of arXiv:1907.02392

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets -> latent: ``(z, log|det J|)`` of shapes (B, T) and (B,)."""
        a, b = x[:, : self.n_a], x[:, self.n_a :]
        s, t = self._scale_shift(a, c)
        return torch.cat([a, b * torch.exp(s) + t], dim=1), s.sum(dim=1)

    def inverse(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        a, b = z[:, : self.n_a], z[:, self.n_a :]
        s, t = self._scale_shift(a, c)
        return torch.cat([a, (b - t) * torch.exp(-s)], dim=1)


class ConditionalINN(nn.Module):
    """p(y | x) as a stack of conditional affine couplings with fixed permutations between them.

    Parameters
    ----------
    n_inputs
        F, the condition features (e.g. the detector-level observables).
    n_outputs
        T, the target dimensions (e.g. the particle-level observables).
    blocks, hidden, embed, clamp
        Coupling blocks, hidden layers of each block's network, the conditions' embedding size H
        and the soft clamp of the log-scale.

    ``log_prob(y, x)`` (B, T), (B, F) -> (B,); ``forward(x)`` draws one y per row of x (B, T);
    ``sample(x, generator=...)`` the same with an explicit random generator.
    """

    def __init__(self, n_inputs: int, n_outputs: int = 1, blocks: int = 6, hidden: tuple[int, ...] = (64, 64),
                 embed: int = 32, clamp: float = 2.0) -> None:
        super().__init__()
        self.n_dims = int(n_outputs)
        self.embed = mlp([n_inputs, *hidden, embed], act=nn.SiLU)
        self.blocks = nn.ModuleList(_Coupling(self.n_dims, embed, hidden, clamp) for _ in range(blocks))
        g = torch.Generator().manual_seed(12345)
        for k in range(blocks):  # fixed, seeded permutations: every dimension is transformed by some block
            perm = torch.randperm(self.n_dims, generator=g) if self.n_dims > 1 else torch.zeros(1, dtype=torch.long)
            self.register_buffer(f"perm{k}", perm)
            self.register_buffer(f"inv{k}", torch.argsort(perm))

    def _perm(self, k: int, inverse: bool = False) -> torch.Tensor:
        buf = getattr(self, f"inv{k}" if inverse else f"perm{k}")
        assert isinstance(buf, torch.Tensor)
        return buf

    def log_prob(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(y | x) per event, (B,)."""
        c = self.embed(x)
        z, logdet = y, torch.zeros(len(y), dtype=y.dtype, device=y.device)
        for k, block in enumerate(self.blocks):
            z, ld = block(z[:, self._perm(k)], c)
            logdet = logdet + ld
        return -0.5 * (z**2).sum(dim=1) - 0.5 * self.n_dims * math.log(2 * math.pi) + logdet

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw y ~ p(y | x) per row of x: (B, T)."""
        c = self.embed(x)
        z = torch.randn(len(x), self.n_dims, generator=generator, dtype=x.dtype, device=x.device)
        blocks: list[_Coupling] = list(self.blocks)  # type: ignore[arg-type]  # a ModuleList of couplings
        for k in reversed(range(len(blocks))):
            z = blocks[k].inverse(z, c)[:, self._perm(k, inverse=True)]
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sample(x)
