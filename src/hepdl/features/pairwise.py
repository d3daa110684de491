"""Pairwise particle features computed on the fly in torch: the interaction inputs of
Particle Transformer (Qu, Li, Qian, arXiv:2202.03772, eq. 3).

Dimensions: B jets, N particles, 4 features.
"""

from __future__ import annotations

import torch

__all__ = ["pairwise_features", "PAIRWISE_FEATURES"]

PAIRWISE_FEATURES = ("ln_delta", "ln_kt", "ln_z", "ln_m2")


def pairwise_features(p4: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """ln Delta, ln kT, ln z and ln m^2 for every pair of particles.

    Parameters
    ----------
    p4
        ``(B, N, 4)`` four-momenta ``px, py, pz, e``.
    mask
        ``(B, N)`` bool, True for real particles (None: all real).
    eps
        Floor inside the logarithms.

    Returns
    -------
    torch.Tensor
        ``(B, 4, N, N)``, with Delta = sqrt(dy^2 + dphi^2), kT = min(pT_a, pT_b) Delta,
        z = min(pT_a, pT_b) / (pT_a + pT_b), m^2 = (p_a + p_b)^2; zero for pairs with a padded particle.
    """
    px, py, pz, e = p4.unbind(-1)
    pt = torch.sqrt(px**2 + py**2).clamp_min(eps)
    rap = 0.5 * torch.log((e + pz).clamp_min(eps) / (e - pz).clamp_min(eps))
    # atan2(0, 0) is 0 in torch but NaN in ONNX's decomposition (atan(y / x)): padded particles get x = 1
    phi = torch.atan2(py, torch.where((px == 0) & (py == 0), torch.ones_like(px), px))
    dy = rap[:, :, None] - rap[:, None, :]
    dphi = torch.remainder(phi[:, :, None] - phi[:, None, :] + torch.pi, 2 * torch.pi) - torch.pi
    delta = torch.sqrt(dy**2 + dphi**2)
    ptmin = torch.minimum(pt[:, :, None], pt[:, None, :])
    kt = ptmin * delta
    z = ptmin / (pt[:, :, None] + pt[:, None, :]).clamp_min(eps)
    s = p4[:, :, None, :] + p4[:, None, :, :]
    m2 = s[..., 3] ** 2 - s[..., 0] ** 2 - s[..., 1] ** 2 - s[..., 2] ** 2
    out = torch.stack([torch.log(delta.clamp_min(eps)), torch.log(kt.clamp_min(eps)), torch.log(z.clamp_min(eps)),
                       torch.log(m2.clamp_min(eps))], dim=1)
    if mask is not None:
        pair = (mask[:, :, None] & mask[:, None, :]).unsqueeze(1)
        out = torch.where(pair, out, torch.zeros_like(out))  # not out * pair: that keeps a NaN
    return out
