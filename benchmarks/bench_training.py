"""Training and inference speed and peak memory of every model's CPU (``small``) configuration,
on the same jets, in one run. Prints one JSON line: per model, train jets/s (one epoch), inference
jets/s (batch 1024, eval mode), peak memory growth (MB) of a fresh process, parameters, and each
model's training rate as a ratio to the DNN's (the reference in the same run).

Usage: ``python benchmarks/bench_training.py [--jets 2000] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

MODELS = ["bdt", "dnn", "cnn", "pfn", "efn", "particlenet-lite", "part", "lbn"]


def child(model: str, data: str, n: int) -> None:
    import numpy as np
    import torch

    import hepdl.data
    from hepdl.models import registry
    from hepdl.train import TrainConfig, make_inputs
    from hepdl.train.module import Classifier, make_loader

    torch.set_num_threads(2)
    ds = hepdl.data.open(data, max_jets=n)
    cfg = TrainConfig(model, n_particles=64)
    idx = np.arange(len(ds))
    inputs = make_inputs(ds, cfg.input_kind, idx, n_particles=64)
    y = (ds.labels == ds.labels.max()).astype(np.int64)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if model == "bdt":
        from hepdl.models.baselines import BDT

        frame = inputs.arrays["frame"]
        t0 = time.perf_counter()
        bdt = BDT(n_estimators=200, max_depth=6).fit(frame, y)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        bdt.score(frame)
        infer_s = time.perf_counter() - t0
        n_params = len(bdt.booster.get_dump())
    else:
        build = {}
        arrays = inputs.arrays
        if inputs.kind == "features":
            build["n_inputs"] = arrays["features"].shape[1]
        elif inputs.kind == "cloud" and model != "lbn":
            build["n_features"] = arrays["x"].shape[-1]
        elif inputs.kind == "image":
            build.update(n_channels=arrays["images"].shape[1], n_pixels=arrays["images"].shape[-1])
        module = Classifier(registry.get(model, preset="small", **build), inputs.kind, model_name=model)
        opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
        loader = make_loader(inputs, y, idx, 128, shuffle=True)
        module.train()
        t0 = time.perf_counter()
        for batch in loader:
            opt.zero_grad()
            loss = module.loss(module(batch)[:, 0], batch["y"])
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - t0
        module.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            for batch in make_loader(inputs, y, idx, 1024, shuffle=False):
                module(batch)
        infer_s = time.perf_counter() - t0
        n_params = sum(p.numel() for p in module.parameters())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"train_jets_per_s": len(ds) / train_s, "inference_jets_per_s": len(ds) / infer_s,
                      "peak_mb": (peak - rss0) / 1024, "parameters": int(n_params)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=2000)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.jets)
        return
    from hepdl.data.generate import ensure_dataset
    from hepdl.tasks import top_tagging

    data = args.data or ensure_dataset(top_tagging.dataset_spec(max(args.jets, 2), seed=1), progress=sys.stderr.isatty())
    res = {}
    for m in MODELS:
        run = subprocess.run([sys.executable, __file__, "--jets", str(args.jets), "--child", m, str(data)], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{m}: {run.stderr[-2000:]}")
        res[m] = json.loads(run.stdout.strip().splitlines()[-1])
    ref = res["dnn"]["train_jets_per_s"]
    out = {"benchmark": "training", "jets": args.jets, "threads": 2}
    for m, r in res.items():
        out[m] = {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}
        out[m]["train_rate_vs_dnn"] = round(r["train_jets_per_s"] / ref, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
