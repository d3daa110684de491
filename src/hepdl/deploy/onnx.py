"""ONNX export of trained torch models, with the preprocessing contract written beside the graph.

``export_onnx(model_dir)`` writes ``model.onnx`` and ``preprocess.json`` together (atomically, into
``<model_dir>/export/onnx`` by default). The graph maps the model's input tensors to class
probabilities (sigmoid of the logit for two classes, softmax for C classes) with a dynamic batch
axis. ``preprocess.json`` states everything a consumer must do to build those tensors: input names,
shapes, dtypes and order, the feature columns with the training mean/std, the particle features,
the padding convention, the class names. :func:`check_contract` verifies that the two files belong
together; :class:`OnnxModel` runs the graph with ONNX Runtime on any dataset hepdl reads.

Dimensions: B jets, F features, N particles, K channels, H = W pixels, C classes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import hepdl
from hepdl.data.paths import atomic_write, atomic_write_json
from hepdl.errors import ConfigError, DataError
from hepdl.features.inputs import REPRESENTATIONS
from hepdl.train.rundir import ModelDir

__all__ = ["export_onnx", "check_contract", "OnnxModel", "INPUT_NAMES", "OPSET"]

#: ONNX input names per representation, in the order the network takes them (the representations' own declaration).
INPUT_NAMES: dict[str, tuple[str, ...]] = {k: r.inputs for k, r in REPRESENTATIONS.items() if r.inputs != ("frame",)}
OPSET = 17
_DTYPES = {1: "float32", 9: "bool", 7: "int64", 11: "float64"}


def _wrapped(module: Any) -> Any:
    """A plain nn.Module: the model's input tensors -> the objective's exported output (class
    probabilities, predictions, anomaly scores)."""
    import torch
    from torch import nn

    class Head(nn.Module):
        def __init__(self, net: nn.Module, objective: Any) -> None:
            super().__init__()
            self.net, self.objective = net, objective

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.objective.export(self.net(*inputs), inputs)

    return Head(module.net, module.objective).eval()


def _example(pre: dict[str, Any], batch: int = 2) -> tuple[Any, ...]:
    import torch

    from hepdl.features.inputs import REPRESENTATIONS

    kind = pre["kind"]
    own = REPRESENTATIONS.lookup(kind).example
    if own is not None:  # a representation that declares its own example inputs
        return own(pre, batch)
    g = torch.Generator().manual_seed(0)
    if kind == "features":
        return (torch.randn(batch, len(pre["columns"]), generator=g),)
    if kind == "image":
        cfg = pre["image"]
        k = 2 if cfg.get("channels", "total") != "total" else 1
        return (torch.rand(batch, k, cfg["n_pixels"], cfg["n_pixels"], generator=g),)
    n, f = pre["n_particles"], len(pre["features"])
    mask = torch.zeros(batch, n, dtype=torch.bool)
    mask[:, : max(n // 2, 1)] = True
    p4 = torch.rand(batch, n, 4, generator=g) * 10
    p4[..., 0] += p4[..., 1:].norm(dim=-1)
    return (torch.randn(batch, n, f, generator=g), mask, p4)


def _graph_io(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import onnx

    model = onnx.load(str(path))

    def describe(values: Any) -> list[dict[str, Any]]:
        out = []
        for v in values:
            t = v.type.tensor_type
            dims = [d.dim_param if d.dim_param else int(d.dim_value) for d in t.shape.dim]
            out.append({"name": v.name, "shape": ["batch", *dims[1:]], "dtype": _DTYPES.get(t.elem_type, str(t.elem_type))})
        return out

    inits = {i.name for i in model.graph.initializer}
    return describe([i for i in model.graph.input if i.name not in inits]), describe(model.graph.output)


def export_onnx(model_dir: str | Path, out: str | Path | None = None, *, opset: int = OPSET,
                check: bool = True) -> Path:
    """Export a trained torch model to ONNX.

    Parameters
    ----------
    model_dir
        A model's run directory (``runs/<task>/<stamp>/<model>``).
    out
        Directory for ``model.onnx`` and ``preprocess.json`` (default ``<model_dir>/export/onnx``).
    opset
        ONNX opset.
    check
        Run the exported graph with ONNX Runtime on real jets (up to 512 of the run's test split,
        built with the stored preprocessing; synthetic inputs only when the dataset cannot be read
        any more) and require agreement with torch to 1e-5 absolute. The largest difference found,
        the number of jets and where they came from are written to ``preprocess.json``
        (``check``). Warnings raised by the exporter go to ``export.log`` beside the model.

    Returns
    -------
    Path
        The export directory.
    """
    import torch

    from hepdl.train.trainer import load_trained

    model_dir = Path(model_dir)
    name, pre, model = load_trained(model_dir)
    from hepdl.models import registry

    if pre["kind"] not in ("bdt", "cut") and not registry.spec(name).is_torch:
        raise ConfigError(f"model {name!r} in {model_dir} is a classic fit (a physicist's method, not a network), which "
                          f"ONNX export does not express: its calibration is {model_dir / 'model.json'}")
    if pre["kind"] in ("bdt", "cut"):
        raise ConfigError(
            f"model {name!r} in {model_dir} is {'an XGBoost booster' if pre['kind'] == 'bdt' else 'a cut'}, which ONNX export "
            f"here does not express: export covers the torch models (its own portable form is {model_dir / 'model.json'})"
        )
    wrapped = _wrapped(model)
    names = INPUT_NAMES[pre["kind"]]
    example = _example(pre)
    out = Path(out) if out is not None else model_dir / "export" / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"

    caught: list[str] = []

    def write(tmp: Path) -> None:
        import warnings

        from torch.onnx.errors import OnnxExporterError, SymbolicValueError, UnsupportedOperatorError

        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                torch.onnx.export(wrapped, example, str(tmp), input_names=list(names), output_names=["probabilities"],
                                  dynamic_axes={n: {0: "batch"} for n in [*names, "probabilities"]}, opset_version=opset,
                                  dynamo=False)
            except (UnsupportedOperatorError, SymbolicValueError, OnnxExporterError) as exc:  # what ONNX cannot express
                raise ConfigError(f"model {name!r} ({model_dir}) cannot be expressed in ONNX opset {opset}: "
                                  f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
        caught.extend(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in seen)

    atomic_write(onnx_path, write)
    atomic_write(out / "export.log", lambda tmp: tmp.write_text("".join(line + "\n" for line in caught)))
    inputs, outputs = _graph_io(onnx_path)
    contract = {
        "format": "hepdl-onnx",
        "hepdl_version": hepdl.__version__,
        "torch_version": torch.__version__,
        "opset": opset,
        "model": name,
        "model_file": "model.onnx",
        "inputs": inputs,
        "outputs": outputs,
        "output": "probabilities: (B, 1) signal probability for two classes, (B, C) softmax for C classes",
        "padding": "cloud inputs: particles beyond a jet's constituents are zero and mask is False; the output does not depend on them",
        **pre,
    }
    atomic_write_json(out / "preprocess.json", contract)
    if check:
        contract["check"] = _check_against_torch(model_dir, pre, names, wrapped, out, name)
        atomic_write_json(out / "preprocess.json", contract)
    return out


#: Largest |ONNX Runtime - torch| accepted by the export's self-check.
CHECK_TOLERANCE = 1e-5


def _check_inputs(model_dir: Path, pre: dict[str, Any], names: tuple[str, ...], n_max: int = 512) -> tuple[list[np.ndarray], str]:
    """Up to ``n_max`` jets of the model's test split as model inputs, or synthetic inputs (and why)."""
    from hepdl.train.trainer import model_inputs, trained_dataset

    try:
        ds = trained_dataset(model_dir)
        idx = np.load(model_dir / ModelDir.SPLIT)["test"][:n_max]
        arrays = model_inputs(ds, pre).take(idx)
        return [np.ascontiguousarray(arrays[k]) for k in names], f"{len(idx)} jets of the test split"
    except (DataError, OSError, KeyError) as exc:
        ex = _example(pre, 64)
        return [t.numpy() for t in ex], f"64 synthetic inputs (the test split cannot be read: {' '.join(str(exc).split())[:200]})"


def _check_against_torch(model_dir: Path, pre: dict[str, Any], names: tuple[str, ...], wrapped: Any, out: Path,
                         name: str) -> dict[str, Any]:
    """Run torch and ONNX Runtime on the same inputs; the largest difference, or a DataError above tolerance."""
    import torch

    arrays, source = _check_inputs(model_dir, pre, names)
    with torch.no_grad():
        ref = wrapped(*(torch.from_numpy(a) for a in arrays)).numpy()
    # run() feeds only the inputs the graph kept (an unused one, e.g. ParticleNet's p4, is pruned)
    got = OnnxModel(out).run(dict(zip(names, arrays, strict=True)))
    diff = float(np.abs(got - ref).max()) if got.size else 0.0
    # outputs in physical units (a regression's metres, g/cm^2) are compared relative to each output's
    # largest size (float32 carries ~7 digits); probabilities and scores of order one keep the absolute tolerance
    size = np.maximum(np.abs(ref).max(axis=0, keepdims=True), 1.0) if got.size else 1.0
    scaled = float((np.abs(got - ref) / size).max()) if got.size else 0.0
    if not scaled <= CHECK_TOLERANCE:
        raise DataError(f"ONNX export of {name!r} ({out / 'model.onnx'}) disagrees with torch on {source}: "
                        f"max |diff| / max(1, largest |output|) {scaled:.3g} > {CHECK_TOLERANCE:g}")
    return {"inputs": source, "max_abs_diff": diff, "max_scaled_diff": scaled, "tolerance": CHECK_TOLERANCE}


def check_contract(export_dir: str | Path) -> dict[str, Any]:
    """Check that ``preprocess.json`` describes ``model.onnx`` in ``export_dir``; returns the contract.

    Raises :class:`DataError` naming the file and key that disagree: missing files, input names,
    shapes or dtypes that differ from the graph, feature columns and scaling of another length than
    the graph's feature axis, particles per jet that differ from the graph's.
    """
    d = Path(export_dir)
    js, model = d / "preprocess.json", d / "model.onnx"
    for f in (js, model):
        if not f.exists():
            raise DataError(f"{f} is missing: an ONNX export is model.onnx with preprocess.json beside it")
    try:
        pre = json.loads(js.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{js} is not valid JSON ({exc})") from None
    for key in ("kind", "inputs", "outputs"):
        if key not in pre:
            raise DataError(f"{js} lacks the key {key!r}")
    inputs, outputs = _graph_io(model)
    graph = {i["name"]: i for i in inputs}
    declared = {i["name"]: i for i in pre["inputs"]}
    if set(graph) != set(declared):
        raise DataError(f"{js}: 'inputs' names {sorted(declared)} but {model} takes {sorted(graph)}")
    for n, g in graph.items():
        for k in ("shape", "dtype"):
            if declared[n].get(k) != g[k]:
                raise DataError(f"{js}: input {n!r} has {k} {declared[n].get(k)} but {model} expects {g[k]}")
    kind = pre["kind"]
    if kind == "features":
        f = graph["features"]["shape"][1]
        for key in ("columns", "mean", "std"):
            if len(pre.get(key, [])) != f:
                raise DataError(f"{js}: {key!r} has {len(pre.get(key, []))} entries but the model takes {f} features")
    if kind == "cloud":
        shape = graph["x"]["shape"]
        if pre.get("n_particles") != shape[1] or len(pre.get("features", [])) != shape[2]:
            raise DataError(f"{js}: n_particles={pre.get('n_particles')} and {len(pre.get('features', []))} features "
                            f"but {model} takes x of shape {shape}")
    names = pre.get("class_names") or []
    c = outputs[0]["shape"][1] if len(outputs[0]["shape"]) > 1 else 1
    if pre.get("objective", "classify") == "classify" and names and len(names) != max(c, 2):
        raise DataError(f"{js}: {len(names)} class names but {model} has {c} outputs")
    return pre


class OnnxModel:
    """An exported model run with ONNX Runtime.

    Parameters
    ----------
    export_dir
        Directory with ``model.onnx`` and ``preprocess.json`` (checked with :func:`check_contract`).
    threads
        Intra-op threads of the session (default: ONNX Runtime's choice).
    """

    def __init__(self, export_dir: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.dir = Path(export_dir)
        self.contract = check_contract(self.dir)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.dir / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities for prepared input arrays (name -> array, batch axis first)."""
        missing = [n for n in self.input_names if n not in arrays]
        if missing:
            raise DataError(f"inputs {missing} of {self.dir / 'model.onnx'} not given (have {sorted(arrays)})")
        dtypes = {i["name"]: i["dtype"] for i in self.contract["inputs"]}
        feed = {n: np.ascontiguousarray(arrays[n], dtype=dtypes[n]) for n in self.input_names}
        return self.session.run(None, feed)[0]

    def predict(self, data: Any, batch_size: int = 4096, *, cache: bool = True) -> np.ndarray:
        """Scores of every jet of ``data`` (a path or opened dataset), built with the contract's
        preprocessing: (n,) for two classes, (n, C) otherwise."""
        from hepdl.data.dataset import open as open_dataset
        from hepdl.train.trainer import model_inputs

        ds = open_dataset(data) if isinstance(data, (str, Path)) else data
        inputs = model_inputs(ds, self.contract, cache=cache)
        n = len(ds)
        outs = []
        for a in range(0, n, batch_size):
            sl = np.arange(a, min(a + batch_size, n))
            outs.append(self.run(inputs.take(sl)))
        p = np.concatenate(outs) if outs else np.zeros((0, 1), dtype=np.float32)
        return p[:, 0].astype(np.float64) if p.shape[1] == 1 else p.astype(np.float64)
