"""Inference latency and throughput of the hls4ml MLP and a particle model: torch eager, ONNX Runtime
and the hls4ml fixed-point C++ emulation, measured in the same run on the same jets.

For each model: single-jet latency p50/p99 (microseconds) and throughput (jets/s) at batch 1, 64 and
1024; one thread for every backend, so the comparison is like for like. For the MLP also the
emulation's arg-max agreement with the float model at ap_fixed<16,6> on the run's test split.
Figures come with their reference in the same run as ratios: ONNX Runtime over torch at batch 1
(goal >= 3 for the MLP) and the hls4ml agreement (goal >= 0.99).

Usage: ``python benchmarks/bench_inference.py [--run runs/jet-classes/<stamp>] [--particle particlenet-lite]``
(default: the newest ``runs/jet-classes`` run; make one with ``hepdl run jet-classes``).

The hls4ml figure is the speed of the bit-accurate C++ emulation on this CPU, not the FPGA latency
(arXiv:1804.06913 reports about 100 ns for this network after synthesis).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _latency(fn, x_one: dict, n: int = 2000) -> dict:
    for _ in range(50):
        fn(x_one)
    t = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(x_one)
        t[i] = time.perf_counter_ns() - t0
    return {"p50_us": float(np.percentile(t, 50) / 1e3), "p99_us": float(np.percentile(t, 99) / 1e3)}


def _throughput(fn, arrays: dict, batch: int, seconds: float = 1.5) -> float:
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


def bench_model(model_dir: Path, hls: bool) -> dict:
    import torch

    import hepdl.data
    from hepdl.deploy import OnnxModel, export_onnx
    from hepdl.deploy.onnx import INPUT_NAMES
    from hepdl.train.trainer import load_trained, model_inputs

    torch.set_num_threads(1)
    name, pre, module = load_trained(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    ds = hepdl.data.open(cfg["dataset"])
    inputs = model_inputs(ds, pre)
    idx = np.load(model_dir / "split.npz")["test"]
    arrays = {k: np.ascontiguousarray(v) for k, v in inputs.take(idx).items()}
    while len(next(iter(arrays.values()))) < 2048:  # enough jets for batch 1024
        arrays = {k: np.concatenate([v, v]) for k, v in arrays.items()}
    names = INPUT_NAMES[pre["kind"]]
    net = module.net.eval()

    def torch_fn(a: dict) -> np.ndarray:
        with torch.inference_mode():
            return net(*[torch.from_numpy(a[n]) for n in names]).numpy()

    with tempfile.TemporaryDirectory() as tmp:
        onnx_model = OnnxModel(export_onnx(model_dir, Path(tmp) / "onnx"), threads=1)

        def ort_fn(a: dict) -> np.ndarray:
            return onnx_model.run(a)

        one = {k: v[:1] for k, v in arrays.items()}
        res: dict = {"model": name, "n_parameters": int(sum(p.numel() for p in net.parameters()))}
        backends = {"torch": torch_fn, "onnxruntime": ort_fn}
        if hls:
            from hepdl.deploy.hls import convert_hls4ml, hls_agreement, split_inputs

            hm = convert_hls4ml(model_dir, Path(tmp) / "hls")

            def hls_fn(a: dict) -> np.ndarray:
                return hm.predict(np.ascontiguousarray(a["features"], dtype=np.float32))

            backends["hls4ml_emulation"] = hls_fn
            x, y = split_inputs(model_dir)
            res["hls4ml_ap_fixed_16_6"] = hls_agreement(model_dir, x, y, hls_model=hm)
        for b, fn in backends.items():
            res[b] = {"latency": _latency(fn, one, 2000 if pre["kind"] == "features" else 300),
                      **{f"jets_per_s_batch_{n}": _throughput(fn, arrays, n) for n in (1, 64, 1024)}}
    res["ratio_ort_over_torch_batch1_latency"] = res["torch"]["latency"]["p50_us"] / res["onnxruntime"]["latency"]["p50_us"]
    res["ratio_ort_over_torch_batch1_throughput"] = (res["onnxruntime"]["jets_per_s_batch_1"] /
                                                     res["torch"]["jets_per_s_batch_1"])
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--mlp", default="dnn")
    ap.add_argument("--particle", default="particlenet-lite")
    args = ap.parse_args()
    run = args.run
    if run is None:
        runs = sorted(Path("runs/jet-classes").glob("*/"))
        if not runs:
            sys.exit("no run found: make one with `hepdl run jet-classes` or pass --run")
        run = runs[-1]
    out = {"benchmark": "inference", "run": str(run)}
    out["mlp"] = bench_model(run / args.mlp, hls=True)
    out["particle"] = bench_model(run / args.particle, hls=False)
    out["goals"] = {
        "ort_over_torch_batch1_mlp": {"value": out["mlp"]["ratio_ort_over_torch_batch1_latency"], "goal": 3.0},
        "hls4ml_argmax_agreement_16_6": {"value": out["mlp"]["hls4ml_ap_fixed_16_6"]["argmax_agreement"], "goal": 0.99},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
