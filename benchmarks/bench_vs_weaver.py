"""ParticleNet-Lite (or ParT) trained by hepdl and by weaver-core, the field's reference trainer, on
the same jets with the same inputs, the same network configuration and the same settings, in one run.

The jets are a seeded, class-balanced subset of ``--jets`` top-tagging jets (hepdl's generator, or
``--data``), split 60/20/20 with hepdl's split. Both tools get exactly the same per-particle inputs:
hepdl's particle cloud (13 features: deta, dphi, log pT, log E, log pT/pT_jet, log E/E_jet, Delta R,
charge and the particle-type flags; the leading 64 particles by pT), which this script writes to
Parquet files with one jagged column per feature for weaver (its data config passes them through
untransformed). Network: ParticleNet-Lite (arXiv:1902.08570: K = 7, EdgeConv blocks (32, 32, 32) and
(64, 64, 64), fusion, one dense layer of 128 with dropout 0.1) with a batch-normalised input, built
by each tool from its own code (weaver: ``weaver.nn.model.ParticleNet``); AdamW at learning rate 1e-3,
batch size 128, ``--epochs`` epochs, no early stopping for hepdl (patience = epochs), ``--threads``
torch threads for both. weaver runs in its own virtual environment (``.venv-weaver``, made by
``make weaver``) as a subprocess; each repeat (seed) trains both tools.

Prints one JSON line; ``<tool>`` is ``hepdl`` or ``weaver``, ``<x>_err`` the standard error of the
mean of figure x over the repeats (null for one repeat):

- ``benchmark`` ("vs_weaver"), ``model``, ``jets``, ``train_jets``, ``epochs``, ``repeats``, ``threads``,
  ``n_particles``, ``seeds`` (the training seeds, one per repeat);
- ``<tool>_train_jets_per_s``: training jets x epochs / wall time of the training loop (hepdl:
  ``train_seconds`` of ``metrics.json``, validation included; weaver: its training and validation
  phases, entries / the speed it logs for each); ``speedup``: hepdl's over weaver's, the mean of the
  per-repeat ratios (the goal of issue 17 is >= 1.5);
- ``<tool>_test_auc``, ``<tool>_rej_at_03`` and ``<tool>_rej_at_05`` (1/eps_B at eps_S = 0.3, 0.5; null
  when no test background jet passes) on the same test jets; ``hepdl_auc_minus_weaver``: the mean
  per-repeat AUC difference;
- ``<tool>_wall_s``: the whole command (data loading and start-up included).

``--model part`` compares the Particle Transformer instead (arXiv:2202.03772; weaver's
``ParticleTransformer`` and hepdl's at the same small size: embedding (32, 64, 32), pair embedding
(16, 16) from the four-vectors, 4 heads, 2 + 1 blocks, feed-forward 128).

Usage: ``python benchmarks/bench_vs_weaver.py [--model particlenet-lite|part] [--jets 6000] [--epochs 3] [--repeat 3]
[--threads 2] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, mean_err, rnd, stdout_to_stderr, subset_dataset

WEAVER = ROOT / ".venv-weaver" / "bin" / "weaver"

#: The network file weaver loads; {module}, {cls}, {args}, {call} and {kwargs} come from WEAVER_MODELS.
NETWORK = '''
import torch
from weaver.nn.model.{module} import {cls}


class Net(torch.nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.mod = {cls}(**kw)

    def forward(self, {args}):
        return self.mod({call})


def get_model(data_config, **kwargs):
    model = Net(num_classes=len(data_config.label_value), {kwargs})
    info = {{"input_names": list(data_config.input_names),
            "input_shapes": {{k: ((1,) + s[1:]) for k, s in data_config.input_shapes.items()}},
            "output_names": ["softmax"], "dynamic_axes": {{}}}}
    return model, info


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
'''

_N_FEATURES = 'len(data_config.input_dicts["pf_features"])'

#: Per model: weaver's network (see NETWORK) and its input groups in the order its forward takes them
#: (each a list of Parquet columns written by write_weaver_files, or "features" for the 13 features).
WEAVER_MODELS: dict[str, dict] = {
    # ParticleNet-Lite (arXiv:1902.08570): K = 7, EdgeConv (32, 32, 32), (64, 64, 64), fusion, dense 128
    "particlenet-lite": {
        "module": "ParticleNet", "cls": "ParticleNet", "args": "points, features, mask", "call": "points, features, mask",
        "kwargs": f"input_dims={_N_FEATURES}, conv_params=[(7, (32, 32, 32)), (7, (64, 64, 64))], fc_params=[(128, 0.1)], "
                  "use_fusion=True, use_fts_bn=True, use_counts=True",
        "inputs": {"pf_points": ["f_deta", "f_dphi"], "pf_features": "features", "pf_mask": ["part_mask"]},
    },
    # ParT at the size hepdl's benchmark uses for both tools (see PART_CONFIG); pair features from the four-vectors
    "part": {
        "module": "ParticleTransformer", "cls": "ParticleTransformer", "args": "features, vectors, mask",
        "call": "features, v=vectors, mask=mask",
        "kwargs": f"input_dim={_N_FEATURES}, pair_input_dim=4, embed_dims=(32, 64, 32), pair_embed_dims=(16, 16), "
                  "num_heads=4, num_layers=2, num_cls_layers=1, fc_params=()",
        "inputs": {"pf_features": "features", "pf_vectors": ["p_px", "p_py", "p_pz", "p_e"], "pf_mask": ["part_mask"]},
    },
}

#: hepdl's ParT at weaver's sizes: embedding (32, 64, 32), pair embedding (16, 16), 4 heads, 2 particle and
#: 1 class-attention blocks, feed-forward 4 x 32 = 128 (weaver's ratio), a linear head.
PART_CONFIG = {"embed": (32, 64, 32), "pair_embed": (16, 16), "heads": 4, "n_blocks": 2, "n_class_blocks": 1, "ffn": 128}


def _network(model: str) -> str:
    spec = WEAVER_MODELS[model]
    return NETWORK.format(**{k: v for k, v in spec.items() if k != "inputs"})


def _data_config(names: list[str], n: int, model: str) -> str:
    """weaver's data config: the model's input groups, every column passed through untransformed."""
    groups = []
    for group, cols in WEAVER_MODELS[model]["inputs"].items():
        cols = [f"f_{k}" for k in names] if cols == "features" else cols
        rows = "\n".join(f"         - [{c}, null]" for c in cols)
        groups.append(f"   {group}:\n      length: {n}\n      pad_mode: constant\n      vars:\n{rows}")
    inputs = "\n".join(groups)
    return f"""selection:
new_variables:
   part_mask: ak.ones_like(f_deta)
   is_top: label
   is_qcd: 1-label
preprocess:
   method: manual
   data_fraction: 1
inputs:
{inputs}
labels:
   type: simple
   value: [is_qcd, is_top]
observers:
   - label
"""


def write_weaver_files(ds, split: dict, n_particles: int, out: Path) -> list[str]:
    """The particle-cloud features of hepdl, as jagged Parquet columns (real particles only), one file per split."""
    import awkward as ak
    import numpy as np

    from hepdl.features import particle_cloud

    pc = particle_cloud(ds.jets, n_max=n_particles)
    counts = pc.mask.sum(axis=1)
    for part, idx in split.items():
        cols = {f"f_{name}": ak.unflatten(pc.features[idx][..., k][pc.mask[idx]], counts[idx]) for k, name in enumerate(pc.names)}
        for k, name in enumerate(("px", "py", "pz", "e")):
            cols[f"p_{name}"] = ak.unflatten(pc.four_momenta[idx][..., k][pc.mask[idx]], counts[idx])
        cols["label"] = ds.labels[idx].astype(np.int64)
        ak.to_parquet(ak.zip(cols, depth_limit=1), out / f"{part}.parquet")
    return list(pc.names)


def run_weaver(work: Path, names: list[str], args: argparse.Namespace, seed: int) -> dict:
    """Train and test with weaver-core; its speed from its log, its scores from its prediction file."""
    import awkward as ak

    from hepdl.metrics import auc, background_rejection

    (work / "net.py").write_text(_network(args.model))
    (work / "data.yaml").write_text(_data_config(names, args.n_particles, args.model))
    n_train = len(ak.from_parquet(work / "train.parquet", columns=["label"]))
    n_val = len(ak.from_parquet(work / "val.parquet", columns=["label"]))
    cmd = [str(WEAVER), "--data-train", str(work / "train.parquet"), "--data-val", str(work / "val.parquet"),
           "--data-test", str(work / "test.parquet"), "--data-config", str(work / "data.yaml"),
           "--network-config", str(work / "net.py"), "--model-prefix", str(work / "weaver" / "net"),
           "--num-workers", "0", "--in-memory", "--fetch-step", "1", "--batch-size", "128",
           "--samples-per-epoch", str(n_train), "--samples-per-epoch-val", str(n_val), "--num-epochs", str(args.epochs), "--gpus", "", "--start-lr", "1e-3", "--optimizer", "adamw",
           "--lr-scheduler", "none", "--predict-output", str(work / "pred.parquet"), "--log", str(work / "weaver.log")]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "PYTHONHASHSEED": str(seed)}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log = (work / "weaver.log").read_text() if (work / "weaver.log").exists() else res.stdout + res.stderr
    if res.returncode != 0:
        raise SystemExit(f"weaver failed (exit {res.returncode}):\n{(res.stdout + res.stderr)[-3000:]}")
    # weaver logs every phase (training and validation of each epoch, then the test) as
    # "Processed N entries in total (avg. speed X entries/s)"
    speeds = [(int(n), float(s)) for n, s in re.findall(r"Processed (\d+) entries in total \(avg\. speed ([\d.]+) entries/s\)", log)]
    pred = ak.from_parquet(work / "pred.parquet")
    score = ak.to_numpy(pred["scores"])[:, 1]  # the labels are [is_qcd, is_top]
    y = ak.to_numpy(pred["label"]).astype(int)
    # the training phases are every other "Processed" line before the test; their time from entries / speed
    train_phases = speeds[: 2 * args.epochs : 2]
    val_phases = speeds[1 : 2 * args.epochs : 2]
    loop_s = sum(n / s for n, s in train_phases + val_phases) if speeds else float("nan")
    return {"train_jets_per_s": n_train * args.epochs / loop_s, "test_auc": auc(y, score),
            "rej_at_0.3": background_rejection(y, score, 0.3), "rej_at_0.5": background_rejection(y, score, 0.5),
            "wall_s": wall, "n_train": n_train}


def run_hepdl(ds, work: Path, args: argparse.Namespace, seed: int) -> dict:
    import torch

    from hepdl.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    cfg = TrainConfig(args.model, preset="paper", epochs=args.epochs, patience=args.epochs, batch_size=128, lr=1e-3,
                      n_particles=args.n_particles, seed=seed, n_bootstrap=0,
                      model_config=dict(PART_CONFIG) if args.model == "part" else {})
    t0 = time.perf_counter()
    m = train(cfg, ds, work / "hepdl", progress=False)
    wall = time.perf_counter() - t0
    n_train = int(m["n_train"])
    return {"train_jets_per_s": n_train * args.epochs / m["train_seconds"], "test_auc": m["auc"]["value"],
            "rej_at_0.3": m["rej_at_0.3"]["value"], "rej_at_0.5": m["rej_at_0.5"]["value"], "wall_s": wall, "n_train": n_train}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jets", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-particles", type=int, default=64)
    p.add_argument("--model", choices=tuple(WEAVER_MODELS), default="particlenet-lite")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default=None, help="a top-tagging dataset directory (default: generate one in the hepdl cache)")
    args = p.parse_args()
    if not WEAVER.exists():
        raise SystemExit(f"{WEAVER} is missing: run `make weaver` (weaver-core in its own virtual environment)")
    import numpy as np

    import hepdl.data
    from hepdl.data.generate import ensure_dataset
    from hepdl.tasks import top_tagging
    from hepdl.train.inputs import split_indices

    with stdout_to_stderr():
        data = args.data or ensure_dataset(top_tagging.dataset_spec(args.jets, seed=args.seed), progress=sys.stderr.isatty())
        ds = subset_dataset(hepdl.data.open(data), args.jets, args.seed)
        split = split_indices(len(ds), (0.6, 0.2, 0.2), 0, ds.split_groups())  # as hepdl's trainer splits
        runs: dict[str, list[dict]] = {"hepdl": [], "weaver": []}
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            names = write_weaver_files(ds, split, args.n_particles, work)
            for r in range(args.repeat):
                for tool in ("weaver", "hepdl") if r % 2 else ("hepdl", "weaver"):  # alternate the order
                    rep = work / f"{tool}-{r}"
                    rep.mkdir()
                    if tool == "weaver":
                        for f in ("train", "val", "test"):
                            (rep / f"{f}.parquet").symlink_to(work / f"{f}.parquet")
                        runs[tool].append(run_weaver(rep, names, args, r))
                    else:
                        runs[tool].append(run_hepdl(ds, rep, args, r))
                    print(f"{tool} repeat {r}: {json.dumps(runs[tool][-1])}",
                          file=sys.stderr, flush=True)
    out: dict[str, object] = {"benchmark": "vs_weaver", "model": args.model, "jets": len(ds),
                              "train_jets": runs["hepdl"][0]["n_train"], "epochs": args.epochs, "repeats": args.repeat,
                              "threads": args.threads, "n_particles": args.n_particles, "seeds": list(range(args.repeat))}
    for tool, rs in runs.items():
        for key in ("train_jets_per_s", "test_auc", "rej_at_0.3", "rej_at_0.5", "wall_s"):
            vals = [x[key] for x in rs]
            if not all(np.isfinite(vals)):
                out[f"{tool}_{key.replace('.', '')}"] = out[f"{tool}_{key.replace('.', '')}_err"] = None
                continue
            v, e = mean_err(vals)
            out[f"{tool}_{key.replace('.', '')}"] = rnd(v)
            out[f"{tool}_{key.replace('.', '')}_err"] = rnd(e)
    ratio = [h["train_jets_per_s"] / w["train_jets_per_s"] for h, w in zip(runs["hepdl"], runs["weaver"], strict=True)]
    out["speedup"], out["speedup_err"] = (rnd(x) for x in mean_err(ratio))
    out["hepdl_auc_minus_weaver"] = rnd(float(np.mean([h["test_auc"] - w["test_auc"]
                                                       for h, w in zip(runs["hepdl"], runs["weaver"], strict=True)])))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
