"""Layer-wise relevance propagation (LRP) through every torch model of hepdl that has rules for all its layers.

LRP (Bach et al. 2015, PLoS ONE 10 e0130140; Montavon, Samek, Mueller, arXiv:1706.07979) redistributes a
network's output, layer by layer, onto its inputs. Here it is computed with the "gradient trick" of
Montavon et al. ("Layer-wise relevance propagation: an overview", 2019): every layer keeps its forward
value but its backward pass is replaced by the rule's, so that one backward pass of the output gives
``c = R / x`` at the inputs and the relevance is ``R = x * c``. The rules, by layer type:

- ``Linear``, ``Conv1d``/``Conv2d``, ``BatchNorm`` (an affine map in evaluation; no canonizer is needed
  because the rule is applied to it as its own affine layer): the **epsilon rule**
  ``R_i = sum_j x_i w_ij R_j / (z_j + eps sign z_j)`` (arXiv:1706.07979 eq. 58); with ``conv_rule="zplus"``
  the convolutions use the **z+ rule** ``R_i = sum_j x_i w+_ij R_j / sum_i' x_i' w+_i'j`` (their inputs are
  non-negative: pixel pT and ReLU outputs);
- ``ReLU``, max pooling, dropout (identity in evaluation), masking, sums and means over particles or
  neighbours: the relevance follows the forward selection (the plain gradient);
- ``GELU``: the identity rule (the relevance passes unchanged), as AttnLRP does for element-wise
  non-linearities (Achtibat et al., arXiv:2402.05602);
- ``LayerNorm``: the standard deviation is held constant, the LN-rule of Ali et al. ("XAI for Transformers:
  better explanations through conservative propagation", arXiv:2202.07304);
- attention ``Softmax``: the attention weights are held constant (the AH-rule of arXiv:2202.07304), so the
  relevance flows through the values only and the pair-interaction bias of ParT gets none;
- the energy fractions of the EFN: held constant (they weight the angular filters), so all relevance lands
  on the particles' angles.

With all biases zero the rules conserve relevance: the inputs' relevances sum to the output (tested for
every model). Biases, BatchNorm shifts and ParT's class token absorb the rest otherwise.

Why not zennit or captum: zennit 0.5 cannot import here (it imports torchvision, whose wheel needs CUDA
torch) and captum's LRP handles only a fixed list of modules and fails on the functional operations of
ParticleNet and ParT; the gradient trick covers both with a handful of forward hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from hepdl.errors import ConfigError

__all__ = ["relevance", "relevance_batch", "explainable", "RULES"]

#: Convolution rules.
RULES = ("epsilon", "zplus")

_AFFINE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)
_PASS = (nn.ReLU, nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.Identity, nn.Sequential, nn.ModuleList, nn.Flatten)


def _known() -> tuple[type, ...]:
    """Module types with a rule: containers of known models and their leaves."""
    from hepdl.models.deepsets import EFN, PFN, EnergyFractions
    from hepdl.models.dense import CNN, DNN
    from hepdl.models.part import MaskedBatchNorm, ParticleTransformer, _Attention, _Block
    from hepdl.models.particlenet import EdgeConv, ParticleNet

    return (*_AFFINE, *_PASS, nn.GELU, nn.LayerNorm, nn.Softmax, EnergyFractions, MaskedBatchNorm,
            DNN, CNN, PFN, EFN, ParticleNet, EdgeConv, ParticleTransformer, _Attention, _Block)


def explainable(net: nn.Module) -> str | None:
    """None when every module of ``net`` has an LRP rule here, else the reason (naming the modules)."""
    known = _known()
    bad = sorted({type(m).__name__ for m in net.modules() if not isinstance(m, known)})
    if bad:
        return f"no relevance rules for {', '.join(bad)} (layers with rules: dense, convolution, BatchNorm, LayerNorm, ReLU, GELU, attention)"
    return None


def _keep_value(new: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``new``'s gradient with ``out``'s forward value."""
    return new + (out - new).detach()


def _sign(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def _epsilon_hook(eps: float) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
        scale = (out / (out + eps * _sign(out))).detach()
        return _keep_value(out * scale, out)
    return hook


def _zplus_hook(eps: float) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
        x = args[0]
        conv: Any = module
        zp = conv._conv_forward(x, conv.weight.clamp_min(0), None) + eps  # Conv1d/Conv2d
        return _keep_value(zp * (out / zp).detach(), out)
    return hook


def _layernorm_hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
    assert isinstance(module, nn.LayerNorm)
    x = args[0]
    mean = x.mean(dim=-1, keepdim=True)
    std = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + module.eps).detach()
    new = (x - mean) / std
    if module.weight is not None:
        new = new * module.weight
    if module.bias is not None:
        new = new + module.bias
    return _keep_value(new, out)


def _identity_hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
    x = args[0]
    ratio = torch.where(x.abs() > 1e-12, out / torch.where(x.abs() > 1e-12, x, 1.0), 0.0).detach()
    return _keep_value(x * ratio, out)


def _constant_hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
    return out.detach()


@contextmanager
def _rules(net: nn.Module, eps: float, conv_rule: str, edges: dict[str, Any] | None = None) -> Iterator[None]:
    from hepdl.models.deepsets import EnergyFractions
    from hepdl.models.part import MaskedBatchNorm

    if conv_rule not in RULES:
        raise ConfigError(f"conv_rule must be one of {RULES}, got {conv_rule!r}")
    handles = []
    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)) and conv_rule == "zplus":
            handles.append(m.register_forward_hook(_zplus_hook(eps)))
        elif isinstance(m, (*_AFFINE, MaskedBatchNorm)):
            handles.append(m.register_forward_hook(_epsilon_hook(eps)))
        elif isinstance(m, nn.LayerNorm):
            handles.append(m.register_forward_hook(_layernorm_hook))
        elif isinstance(m, nn.GELU):
            handles.append(m.register_forward_hook(_identity_hook))
        elif isinstance(m, (nn.Softmax, EnergyFractions)):
            handles.append(m.register_forward_hook(_constant_hook))
    if edges is not None:
        handles += _edge_hooks(net, edges)
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _edge_hooks(net: nn.Module, edges: dict[str, Any]) -> list[Any]:
    """For ParticleNet: keep the last EdgeConv's edge activations (B, C, N, K) and its neighbour indices."""
    from hepdl.models.particlenet import ParticleNet, _knn

    if not isinstance(net, ParticleNet):
        return []
    last = net.convs[-1]

    def pre(module: nn.Module, args: tuple[Any, ...]) -> None:
        points, _, mask = args
        edges["index"] = _knn(points, mask, module.k).detach()  # type: ignore[arg-type]

    def keep(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> None:
        out.retain_grad()
        edges["h"] = out

    last_conv: Any = net.convs[-1]
    return [last.register_forward_pre_hook(pre), last_conv.mlp[-1].register_forward_hook(keep)]


def relevance_batch(net: nn.Module, inputs: tuple[torch.Tensor, ...], *, output: int | torch.Tensor = 0, eps: float = 1e-6,
                    conv_rule: str = "epsilon", edges: dict[str, Any] | None = None) -> tuple[list[torch.Tensor | None], torch.Tensor]:
    """LRP relevances of one batch: ``([R of each input, None for non-float inputs], outputs (B,))``.

    ``net(*inputs)`` gives ``(B, C)``; the relevance of output column ``output`` (the logit of a two-class
    tagger), or of column ``output[b]`` for entry ``b`` (an integer tensor (B,): each jet's own class), is
    propagated; ``R`` has each input's shape. ``edges``, a dict, receives ParticleNet's edge
    relevances of the last EdgeConv: ``"relevance"`` (B, N, K) and ``"index"`` (B, N, K) of the neighbours.
    """
    reason = explainable(net)
    if reason:
        raise ConfigError(f"{type(net).__name__}: {reason}")
    net.eval()
    leaves = [t.detach().clone().requires_grad_(True) if t.is_floating_point() else t for t in inputs]
    with torch.enable_grad(), _rules(net, eps, conv_rule, edges):
        out = net(*leaves)
        cols = torch.as_tensor(output).long().reshape(-1)
        if out.ndim != 2 or len(cols) == 0 or cols.min() < 0 or cols.max() >= out.shape[1]:
            raise ConfigError(f"output {output} does not exist: the network gives shape {tuple(out.shape)}")
        target = out[:, int(cols[0])] if torch.as_tensor(output).ndim == 0 else out.gather(1, cols[:, None])[:, 0]
        target.sum().backward()
    rel = [None if not t.is_floating_point() or t.grad is None else (t * t.grad).detach()
           for t in leaves]
    rel = [r if r is not None or not t.is_floating_point() else torch.zeros_like(t) for r, t in zip(rel, leaves, strict=True)]
    if edges is not None and "h" in edges:
        h = edges.pop("h")
        edges["relevance"] = (h * h.grad).sum(dim=1).detach() if h.grad is not None else torch.zeros_like(h[:, 0])
    return rel, target.detach()


def relevance(model: Any, inputs: Any, *, output: int | np.ndarray = 0, eps: float = 1e-6, conv_rule: str = "epsilon",
              batch_size: int = 256, edges: bool = False) -> dict[str, np.ndarray]:
    """LRP relevances of a trained torch model for all entries of ``inputs``.

    ``model`` is a loaded :class:`~hepdl.train.module.TrainModule` (:func:`hepdl.train.trainer.load_trained`)
    and ``inputs`` its :class:`~hepdl.features.inputs.Inputs`, or a bare ``nn.Module`` and a dict of arrays
    in its argument order. Returns the relevance of each float input array under its name (same shape),
    ``"output"`` (B,): the propagated output (the signal logit of a two-class tagger; ``output`` may
    also be an integer array (B,) of one output column per entry, e.g. each jet's class), and with ``edges``
    for ParticleNet ``"edge_relevance"`` and ``"edge_index"`` (B, N, K) of its last EdgeConv.
    """
    if hasattr(model, "input_names") and hasattr(model, "net"):
        net, names = model.net, tuple(model.input_names)
        arrays = inputs.arrays if hasattr(inputs, "arrays") else inputs
    else:
        net, arrays = model, (inputs.arrays if hasattr(inputs, "arrays") else inputs)
        names = tuple(arrays)
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ConfigError(f"the model's inputs {missing} are not among the arrays {sorted(arrays)}")
    dtype = next(iter(net.parameters())).dtype
    n = len(arrays[names[0]])
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        batch = tuple(torch.as_tensor(np.ascontiguousarray(arrays[k][sl])) for k in names)
        batch = tuple(t.to(dtype) if t.is_floating_point() else t for t in batch)
        box: dict[str, Any] | None = {} if edges else None
        which: int | torch.Tensor = int(output) if np.ndim(output) == 0 else torch.as_tensor(np.asarray(output)[sl])
        rel, out = relevance_batch(net, batch, output=which, eps=eps, conv_rule=conv_rule, edges=box)
        for k, r in zip(names, rel, strict=True):
            if r is not None:
                parts.setdefault(k, []).append(r.numpy())
        parts.setdefault("output", []).append(out.numpy())
        if box and "relevance" in box:
            parts.setdefault("edge_relevance", []).append(box["relevance"].numpy())
            parts.setdefault("edge_index", []).append(box["index"].numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}
