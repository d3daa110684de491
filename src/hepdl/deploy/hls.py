"""hls4ml conversion of the dense tagger and its bit-accurate C++ emulation.

The hls4ml jet tagger (Duarte et al., arXiv:1804.06913) runs a 16 -> 64 -> 32 -> 32 -> 5 MLP on an
FPGA in fixed point. :func:`convert_hls4ml` turns a trained ``dnn`` into an hls4ml project with one
``ap_fixed<W,I>`` precision for weights, biases and activations (post-training quantisation),
compiles its C++ emulation with the system's g++, and :func:`hls_agreement` compares it with the
float model on real inputs. :func:`precision_scan` repeats this over total bit widths, so a trigger
designer can choose the narrowest precision that keeps the accuracy.

The emulation returns logits (the trigger decides on the arg-max or on a logit threshold; the
softmax is not synthesised). Probabilities in the reports are computed from the emulated logits in
floating point.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.errors import ConfigError, DataError
from hepdl.train.rundir import ModelDir

__all__ = ["HLS_DEFAULT_PRECISION", "convert_hls4ml", "hls_agreement", "precision_scan", "split_inputs"]

HLS_DEFAULT_PRECISION = "ap_fixed<16,6>"
_PRECISION = re.compile(r"^ap_(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(,[A-Z_ ,0-9]+)?>$")


def _check_precision(precision: str) -> tuple[int, int]:
    m = _PRECISION.match(precision.strip())
    if not m:
        raise ConfigError(f"precision {precision!r} is not of the form ap_fixed<W,I> (e.g. {HLS_DEFAULT_PRECISION})")
    w, i = int(m.group(2)), int(m.group(3))
    if not 1 <= w <= 64 or i > w:
        raise ConfigError(f"precision {precision!r}: total bits W must lie in [1, 64] and integer bits I <= W")
    return w, i


def _sequential(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    from torch import nn

    from hepdl.train.trainer import load_trained

    name, pre, model = load_trained(model_dir)
    net = getattr(model, "net", None)
    seq = getattr(net, "net", None)
    if pre["kind"] != "features" or not isinstance(seq, nn.Sequential):
        raise ConfigError(f"hls4ml conversion here covers the dense tagger on features (dnn); {model_dir} holds {name!r} "
                          f"({pre['kind']} inputs). Export it with --format onnx instead")
    bad = [type(m).__name__ for m in seq if not isinstance(m, (nn.Linear, nn.ReLU, nn.Dropout))]
    if bad:
        raise ConfigError(f"hls4ml conversion supports Linear/ReLU layers; {model_dir} has {sorted(set(bad))}")
    return nn.Sequential(*[m for m in seq if not isinstance(m, nn.Dropout)]).eval(), pre


def convert_hls4ml(model_dir: str | Path, out: str | Path | None = None, *, precision: str = HLS_DEFAULT_PRECISION,
                   reuse_factor: int = 1, backend: str = "Vitis", io_type: str = "io_parallel",
                   part: str = "xcvu13p-flga2577-2-e", clock_period: float = 5.0) -> Any:
    """Convert a trained ``dnn`` to an hls4ml model and compile its C++ emulation.

    Parameters
    ----------
    model_dir
        The model's run directory.
    out
        hls4ml project directory (default ``<model_dir>/export/hls4ml/<precision>``).
    precision
        Fixed-point type of weights, biases and activations, ``ap_fixed<W,I>`` (W total bits,
        I integer bits including the sign).
    reuse_factor
        Multiplications per multiplier (1: fully parallel, lowest latency).
    backend, io_type, part, clock_period
        hls4ml project settings (the FPGA of arXiv:1804.06913 was a Xilinx Kintex UltraScale;
        synthesis is not run here, only the C++ emulation).

    Returns
    -------
    hls4ml.model.ModelGraph
        Compiled; ``.predict(x)`` runs the bit-accurate emulation on standardised float32 inputs.
    """
    import hls4ml

    _check_precision(precision)
    if reuse_factor < 1:
        raise ConfigError(f"reuse_factor must be >= 1, got {reuse_factor}")
    model_dir = Path(model_dir)
    seq, pre = _sequential(model_dir)
    n_in = len(pre["columns"])
    tag = re.sub(r"[^0-9a-z]+", "_", precision.lower()).strip("_")
    out = Path(out) if out is not None else model_dir / "export" / "hls4ml" / tag
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        cfg = hls4ml.utils.config_from_pytorch_model(seq, input_shape=(n_in,), granularity="model",
                                                     default_precision=precision, default_reuse_factor=reuse_factor)
        model = hls4ml.converters.convert_from_pytorch_model(seq, hls_config=cfg, output_dir=str(out), backend=backend,
                                                             io_type=io_type, part=part, clock_period=clock_period)
        try:
            model.compile()
        except Exception as exc:  # hls4ml raises plain exceptions for a failed build
            import shutil

            if shutil.which("g++") is None:
                raise DataError(f"compiling the hls4ml emulation in {out} needs g++ on PATH, which has none") from None
            said = " | ".join(ln.strip() for ln in log.getvalue().splitlines() if "error" in ln.lower())[-600:]
            raise DataError(f"compiling the hls4ml emulation in {out} failed: {type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:300]}{'; compiler: ' + said if said else ''}") from exc
    return model


def split_inputs(model_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The standardised inputs (float32, (B, F)) and labels of the test split the model was evaluated on."""

    from hepdl.train.trainer import class_labels, load_trained, model_inputs, trained_dataset

    model_dir = Path(model_dir)
    _, pre, _ = load_trained(model_dir)
    ds = trained_dataset(model_dir)
    idx = np.load(model_dir / ModelDir.SPLIT)["test"]
    x = model_inputs(ds, pre).arrays["features"][idx]
    y = class_labels(ds)[0][idx]
    return np.ascontiguousarray(x, dtype=np.float32), y


def _float_logits(seq: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return seq(torch.from_numpy(x)).numpy().astype(np.float64)


def _probabilities(logits: np.ndarray) -> np.ndarray:
    if logits.shape[1] == 1:
        return 1 / (1 + np.exp(-logits))
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _decision(logits: np.ndarray) -> np.ndarray:
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)


def hls_agreement(model_dir: str | Path, x: np.ndarray, y: np.ndarray | None = None, *, hls_model: Any = None,
                  precision: str = HLS_DEFAULT_PRECISION, out: str | Path | None = None) -> dict[str, Any]:
    """Compare the fixed-point emulation with the float model on inputs ``x`` (standardised, (B, F)).

    Returns a dict with ``precision``, ``argmax_agreement`` (fraction of inputs with the same
    decision), ``max_abs_diff_logit``, ``max_abs_diff_prob``, ``max_flipped_margin`` (the largest
    gap between the float model's two highest logits among inputs whose decision flips: decisions
    flip only for near-ties), and with labels ``y`` the accuracy of both (``accuracy_float``,
    ``accuracy_fixed``).
    """
    seq, pre = _sequential(Path(model_dir))
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != len(pre["columns"]):
        raise DataError(f"inputs of shape {x.shape} do not match the model's {len(pre['columns'])} features {pre['columns']}")
    model = hls_model if hls_model is not None else convert_hls4ml(model_dir, out, precision=precision)
    with contextlib.redirect_stdout(io.StringIO()):
        fixed = np.asarray(model.predict(x), dtype=np.float64).reshape(len(x), -1)
    ref = _float_logits(seq, x)
    flipped = _decision(fixed) != _decision(ref)
    top2 = np.sort(ref, axis=1)[:, -2:] if ref.shape[1] > 1 else np.c_[np.zeros(len(ref)), np.abs(ref[:, 0])]
    margin = top2[:, 1] - top2[:, 0]
    res: dict[str, Any] = {
        "precision": precision,
        "n": len(x),
        "argmax_agreement": float(np.mean(_decision(fixed) == _decision(ref))),
        "max_abs_diff_logit": float(np.max(np.abs(fixed - ref))),
        "max_abs_diff_prob": float(np.max(np.abs(_probabilities(fixed) - _probabilities(ref)))),
        "max_flipped_margin": float(margin[flipped].max()) if flipped.any() else 0.0,
    }
    if y is not None:
        res["accuracy_float"] = float(np.mean(_decision(ref) == y))
        res["accuracy_fixed"] = float(np.mean(_decision(fixed) == y))
    return res


def precision_scan(model_dir: str | Path, x: np.ndarray, y: np.ndarray | None = None, *,
                   widths: tuple[int, ...] = (8, 10, 12, 14, 16, 18), integer_bits: int = 6,
                   out: str | Path | None = None) -> list[dict[str, Any]]:
    """:func:`hls_agreement` for ``ap_fixed<W, integer_bits>`` at each total width W (one compile each)."""
    rows = []
    for w in widths:
        if w < integer_bits:
            raise ConfigError(f"total width {w} is below the {integer_bits} integer bits")
        p = f"ap_fixed<{w},{integer_bits}>"
        sub = None if out is None else Path(out) / f"ap_fixed_{w}_{integer_bits}"
        rows.append(hls_agreement(model_dir, x, y, precision=p, out=sub))
    return rows
