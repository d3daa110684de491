"""Inference latency and throughput of the hls4ml MLP and a particle model: torch eager (the
reference), ONNX Runtime and the hls4ml fixed-point C++ emulation, in the same run on the same jets.

The models come from a ``jet-classes`` run: ``--run``, else the newest ``runs/jet-classes/*`` in the
working directory, else one trained here in a temporary directory (``--train-jets`` generated jets,
cached; ``--train-epochs`` epochs; the ``quick`` preset's settings: the published MLP on the 16 hls4ml
features and ParticleNet-Lite ``small``). Every backend runs on one thread, so the comparison is
like for like. Inputs are the run's test split (repeated up to 2048 jets).

Prints one JSON line; ``<m>`` is ``mlp`` (``--mlp``, default ``dnn``) or ``particle`` (``--particle``,
default ``particlenet-lite``), ``<b>`` a backend: ``torch``, ``onnxruntime``, ``hls4ml`` (the MLP only);
``*_err`` is the standard error of the mean over ``--repeat`` measurements:

- ``benchmark`` ("inference"), ``run`` (the run directory or "trained here"), ``repeats``, ``threads`` (1);
- ``<m>_model``, ``<m>_parameters``;
- ``<m>_<b>_latency_p50_us``, ``<m>_<b>_latency_p99_us``: single-jet latency (batch 1) percentiles,
  each repeat ``--latency-calls`` calls;
- ``<m>_<b>_jets_per_s_batch_1``, ``<m>_<b>_jets_per_s_batch_64``, ``<m>_<b>_jets_per_s_batch_1024``:
  throughput over ``--seconds`` seconds per repeat;
- ratios to torch: ``<m>_onnxruntime_speedup_latency`` (torch p50 over ONNX Runtime p50; goal >= 3
  for the MLP), ``<m>_onnxruntime_speedup_batch_1``, ``<m>_onnxruntime_speedup_batch_1024``
  (throughput ratios), and for the MLP ``mlp_hls4ml_speedup_latency``;
- the MLP's fixed-point emulation at ap_fixed<16,6> against the float model on the test split:
  ``mlp_hls4ml_argmax_agreement`` (goal >= 0.99), ``mlp_hls4ml_accuracy_fixed``,
  ``mlp_hls4ml_accuracy_float``, ``mlp_hls4ml_max_abs_diff_prob``.

The hls4ml figure is the speed of the bit-accurate C++ emulation on this CPU, not the FPGA latency
(arXiv:1804.06913 reports about 100 ns for this network after synthesis).

Usage: ``python benchmarks/bench_inference.py [--run runs/jet-classes/<stamp>] [--repeat 3]
[--latency-calls 2000] [--seconds 1.5] [--train-jets 2500] [--train-epochs 5]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import mean_err, rnd, stdout_to_stderr

BATCHES = (1, 64, 1024)


def _latency(fn, x_one: dict, n: int) -> tuple[float, float]:
    """(p50, p99) in microseconds of ``n`` single-jet calls."""
    for _ in range(min(50, n)):
        fn(x_one)
    t = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(x_one)
        t[i] = time.perf_counter_ns() - t0
    return float(np.percentile(t, 50) / 1e3), float(np.percentile(t, 99) / 1e3)


def _throughput(fn, arrays: dict, batch: int, seconds: float) -> float:
    n = len(next(iter(arrays.values())))
    starts = list(range(0, max(n - batch, 0) + 1, batch)) or [0]
    fn({k: v[:batch] for k, v in arrays.items()})
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for a in starts:
            fn({k: v[a:a + batch] for k, v in arrays.items()})
            done += min(batch, n - a)
            if time.perf_counter() - t0 >= seconds:
                break
    return done / (time.perf_counter() - t0)


def bench_model(model_dir: Path, tag: str, hls: bool, args: argparse.Namespace) -> dict:
    """The figures of one trained model, keys prefixed with ``tag``."""
    import torch

    from hepdl.deploy import OnnxModel, export_onnx
    from hepdl.deploy.onnx import INPUT_NAMES
    from hepdl.train.trainer import load_trained, model_inputs, trained_dataset

    torch.set_num_threads(1)
    name, pre, module = load_trained(model_dir)
    inputs = model_inputs(trained_dataset(model_dir), pre)
    idx = np.load(model_dir / "split.npz")["test"]
    arrays = {k: np.ascontiguousarray(v) for k, v in inputs.take(idx).items()}
    while len(next(iter(arrays.values()))) < 2048:  # enough jets for batch 1024
        arrays = {k: np.concatenate([v, v]) for k, v in arrays.items()}
    names = INPUT_NAMES[pre["kind"]]
    net = module.net.eval()

    def torch_fn(a: dict) -> np.ndarray:
        with torch.inference_mode():
            return net(*[torch.from_numpy(a[n]) for n in names]).numpy()

    res: dict = {f"{tag}_model": name, f"{tag}_parameters": int(sum(p.numel() for p in net.parameters()))}

    def put(key: str, values: list[float]) -> None:
        m, e = mean_err(values)
        res[f"{tag}_{key}"], res[f"{tag}_{key}_err"] = rnd(m), rnd(e, 2)

    with tempfile.TemporaryDirectory() as tmp:
        onnx_model = OnnxModel(export_onnx(model_dir, Path(tmp) / "onnx"), threads=1)
        backends = {"torch": torch_fn, "onnxruntime": onnx_model.run}
        if hls:
            from hepdl.deploy.hls import convert_hls4ml, hls_agreement, split_inputs

            hm = convert_hls4ml(model_dir, Path(tmp) / "hls")
            backends["hls4ml"] = lambda a: hm.predict(np.ascontiguousarray(a["features"], dtype=np.float32))
            x, y = split_inputs(model_dir)
            agree = hls_agreement(model_dir, x, y, hls_model=hm)
            for k in ("argmax_agreement", "accuracy_fixed", "accuracy_float", "max_abs_diff_prob"):
                res[f"{tag}_hls4ml_{k}"] = rnd(float(agree[k]), 4)
        one = {k: v[:1] for k, v in arrays.items()}
        calls = args.latency_calls if pre["kind"] == "features" else max(args.latency_calls // 7, 10)
        figs: dict[str, dict[str, list[float]]] = {b: {} for b in backends}
        for _ in range(args.repeat):  # backends alternate, so that load on the machine hits them alike
            for b, fn in backends.items():
                p50, p99 = _latency(fn, one, calls)
                figs[b].setdefault("latency_p50_us", []).append(p50)
                figs[b].setdefault("latency_p99_us", []).append(p99)
                for n in BATCHES:
                    figs[b].setdefault(f"jets_per_s_batch_{n}", []).append(_throughput(fn, arrays, n, args.seconds))
    for b, f in figs.items():
        for k, v in f.items():
            put(f"{b}_{k}", v)
    for b in backends:
        if b == "torch":
            continue
        put(f"{b}_speedup_latency", [t / o for t, o in zip(figs["torch"]["latency_p50_us"], figs[b]["latency_p50_us"], strict=True)])
        if b == "onnxruntime":
            for n in (1, 1024):
                key = f"jets_per_s_batch_{n}"
                put(f"{b}_speedup_batch_{n}", [o / t for o, t in zip(figs[b][key], figs["torch"][key], strict=True)])
    return res


def train_run(out: Path, n_jets: int, epochs: int) -> Path:
    """A small jet-classes run (the MLP and ParticleNet-Lite with the ``quick`` preset's settings) in ``out``."""
    from hepdl.data.generate import ensure_dataset
    from hepdl.tasks import jet_classes
    from hepdl.train import TrainConfig, train

    p = jet_classes.PRESETS["quick"]
    data = ensure_dataset(jet_classes.dataset_spec(n_jets, seed=1), progress=sys.stderr.isatty())
    for m in ("dnn", "particlenet-lite"):
        cfg = TrainConfig(m, preset=p.get("model_presets", {}).get(m, p["model_preset"]), epochs=epochs,
                          n_particles=p["n_particles"], feature_set=p["feature_set"], n_bootstrap=10)
        train(cfg, data, out / m, progress=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None, help="a jet-classes run (default: the newest in runs/, else train one)")
    ap.add_argument("--mlp", default="dnn")
    ap.add_argument("--particle", default="particlenet-lite")
    ap.add_argument("--repeat", type=int, default=3, help="measurements of each figure")
    ap.add_argument("--latency-calls", type=int, default=2000, help="single-jet calls per latency measurement (MLP; a seventh for the particle model)")
    ap.add_argument("--seconds", type=float, default=1.5, help="seconds per throughput measurement")
    ap.add_argument("--train-jets", type=int, default=2500, help="jets of the run trained here when there is none")
    ap.add_argument("--train-epochs", type=int, default=5, help="epochs of the run trained here when there is none")
    args = ap.parse_args()
    if args.repeat < 1 or args.latency_calls < 1 or not args.seconds > 0:
        ap.error("--repeat and --latency-calls must be >= 1 and --seconds > 0")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        label = str(run)
        if run is None:
            runs = sorted(Path("runs/jet-classes").glob("*/"))
            if runs:
                run = runs[-1]
                label = str(run)
            else:
                print(f"no run in runs/jet-classes: training one ({args.train_jets} jets, {args.train_epochs} epochs)", file=sys.stderr)
                run = train_run(Path(tmp) / "run", args.train_jets, args.train_epochs)
                label = f"trained here ({args.train_jets} jets, {args.train_epochs} epochs)"
        out = {"benchmark": "inference", "run": label, "repeats": args.repeat, "threads": 1}
        out.update(bench_model(run / args.mlp, "mlp", True, args))
        out.update(bench_model(run / args.particle, "particle", False, args))
    return out


if __name__ == "__main__":
    main()
