"""Dense and convolutional networks: ``dnn`` on expert observables, ``cnn`` on jet images.

Dimensions: B jets, F input features, C output classes (1 logit for two classes), H = W pixels,
K image channels.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

# torch notes, on every forward pass of a 'same'-padded convolution with an even kernel (the CNN of
# arXiv:1701.08784 has 4x4 kernels), that it pads a copy of the input: a performance note, not the user's concern
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel", category=UserWarning)

__all__ = ["MLP", "DNN", "CNN", "mlp"]


def mlp(sizes: list[int], dropout: float = 0.0, norm: bool = False, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of the given sizes with activations between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if norm:
                layers.append(nn.LayerNorm(b))
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


MLP = mlp


class DNN(nn.Module):
    """Fully connected network on a vector of observables: (B, F) -> (B, C).

    The physicist's high-level-feature network, e.g. the 16-input hls4ml tagger 64-32-32 (arXiv:1804.06913)
    or the N-subjettiness + mass DNN of the top-tagging comparison (arXiv:1902.09914).
    """

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (64, 32, 32), n_outputs: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = mlp([n_inputs, *hidden, n_outputs], dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """Convolutional network on jet images, (B, K, H, W) -> (B, C).

    DeepTop-style (Kasieczka, Plehn, Russell, Schell, arXiv:1701.08784): two blocks of two 4x4
    convolutions with ``filters`` channels, each block followed by 2x2 max pooling, then dense layers.
    """

    def __init__(self, n_channels: int = 1, n_pixels: int = 40, filters: int = 8, kernel: int = 4,
                 dense: tuple[int, ...] = (64, 64, 64), n_outputs: int = 1) -> None:
        super().__init__()
        pad = "same"
        self.features = nn.Sequential(
            nn.Conv2d(n_channels, filters, kernel, padding=pad), nn.ReLU(),
            nn.Conv2d(filters, filters, kernel, padding=pad), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(filters, filters, kernel, padding=pad), nn.ReLU(),
            nn.Conv2d(filters, filters, kernel, padding=pad), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = n_pixels // 4
        self.head = mlp([filters * side * side, *dense, n_outputs])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1))
