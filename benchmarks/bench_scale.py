"""Memory and speed of training at two dataset sizes, in memory and streamed, side by side in one run.

A top-tagging dataset of ``--jets`` jets is generated (or ``--data`` is used); the larger dataset is
the same part files listed ``--factor`` times in one ``dataset.json`` (hard links: the same jets
repeated, said here so: it measures memory and speed, not physics). Every training runs in a fresh
process (``hepdl train --model M --epochs 1 --stream`` or ``--no-stream``), its peak resident memory
taken from the kernel (``ru_maxrss`` of the child); its training jets/s from ``metrics.json``. The
streamed runs hold ``--stream-window`` training jets (default 2000, below both sizes' training splits,
so that the growth between the sizes is what streaming keeps per jet, not the window filling up).

Prints one JSON line:

- ``benchmark`` ("scale"), ``model``, ``jets_small``, ``jets_large``, ``n_particles``, ``repeats``, ``stream_window``;
- ``memory_peak_mb_small`` / ``memory_peak_mb_large``, ``stream_peak_mb_small`` / ``stream_peak_mb_large``;
- ``memory_kb_per_jet`` / ``stream_kb_per_jet``: growth of the peak between the two sizes per
  extra jet (issue goal for streaming: <= 1 kB/jet; in memory ~13 kB/jet was measured);
- ``stream_kb_per_jet_over_memory``: their ratio;
- ``memory_tree_peak_mb_small`` / ``memory_tree_peak_mb_large``, ``stream_tree_peak_mb_small`` /
  ``stream_tree_peak_mb_large``: the peak proportional set size of the command
  and its loader worker processes together (sampled every 0.2 s; a streamed training builds its batches
  in the training process unless ``--stream-workers`` says otherwise);
- ``memory_train_jets_per_s`` / ``stream_train_jets_per_s`` at the large size (mean over ``--repeat``;
  ``memory_train_jets_per_s_err`` / ``stream_train_jets_per_s_err`` its standard error, null for one)
  and ``stream_over_memory_jets_per_s`` (goal >= 0.9): the training loop only, which in memory excludes
  building the inputs (done before it) and streamed includes it;
- ``memory_wall_s`` / ``stream_wall_s`` (``memory_wall_s_err`` / ``stream_wall_s_err``: standard errors, null
  for one repeat): the whole command at the large size, reading,
  building, training, scoring and evaluating; ``memory_wall_over_stream_wall``: > 1 when streaming is
  faster end to end.

Inputs: 64 particles per jet (the ``hepdl train`` default).

Usage: ``python benchmarks/bench_scale.py [--jets 4000] [--factor 10] [--model particlenet-lite]
[--repeat 1] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import mean_err, rnd, stdout_to_stderr


def replicate(src: Path, dst: Path, factor: int) -> Path:
    """A dataset directory listing ``src``'s parts ``factor`` times (hard links, or copies across devices)."""
    meta = json.loads((src / "dataset.json").read_text())
    dst.mkdir(parents=True)
    parts = []
    for k in range(factor):
        for p in meta["parts"]:
            name = f"r{k:03d}-{p['file']}"
            try:
                os.link(src / p["file"], dst / name)
            except OSError:
                (dst / name).write_bytes((src / p["file"]).read_bytes())
            parts.append({**p, "file": name, "part": k * 100_000 + p["part"]})
    meta["parts"] = parts
    (dst / "dataset.json").write_text(json.dumps(meta))
    return dst


def _tree_pss_mb(pid: int) -> float:
    """Proportional set size (MB) of process ``pid`` and its descendants (its loader workers): pages
    shared after a fork count once, split among the processes sharing them."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
            total += sum(int(ln.split()[1]) for ln in text.splitlines() if ln.startswith("Pss:")) / 1024
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def train_once(data: Path, out: Path, model: str, stream: bool, window: int = 2000) -> dict[str, float]:
    """One training by the ``hepdl`` command in a child process: its peak resident memory (MB, the
    kernel's ``ru_maxrss`` of the largest child of this process, so call it in a fresh process), the
    peak PSS of the command with its loader workers (sampled every 0.2 s), the command's wall time and
    the training jets/s."""
    import time

    cmd = [sys.executable, "-m", "hepdl.cli", "train", "--model", model, "--data", str(data), "--out", str(out),
           "--epochs", "1", *(("--stream", "--stream-window", str(window)) if stream else ("--no-stream",))]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tree_peak = 0.0
    while proc.poll() is None:
        tree_peak = max(tree_peak, _tree_pss_mb(proc.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    m = json.loads((out / "metrics.json").read_text())
    return {"peak_mb": peak_kb / 1024, "tree_peak_mb": tree_peak, "wall_s": wall,
            "jets_per_s": m["n_train"] * m["epochs"] / m["train_seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=4000, help="jets of the small dataset")
    ap.add_argument("--factor", type=int, default=10, help="the large dataset is this many times the small one")
    ap.add_argument("--model", default="particlenet-lite")
    ap.add_argument("--stream-window", type=int, default=2000, help="training jets a streamed run holds")
    ap.add_argument("--repeat", type=int, default=1, help="trainings per configuration at the large size")
    ap.add_argument("--data", type=Path, help="a generated top-tagging dataset to use as the small one")
    args = ap.parse_args()
    if args.jets < 100 or args.factor < 2 or args.repeat < 1:
        ap.error("--jets >= 100, --factor >= 2, --repeat >= 1")
    with stdout_to_stderr():
        out = measure(args)
    print(json.dumps(out))


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    from hepdl.data.generate import ensure_dataset
    from hepdl.data.stream import dataset_size
    from hepdl.tasks import top_tagging

    small = args.data or ensure_dataset(top_tagging.dataset_spec(args.jets), progress=sys.stderr.isatty())
    n_small = dataset_size(small)
    out: dict[str, object] = {"benchmark": "scale", "model": args.model, "n_particles": 64, "repeats": args.repeat,
                              "stream_window": args.stream_window}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        large = replicate(Path(small), work / "large", args.factor)
        n_large = dataset_size(large)
        out.update(jets_small=n_small, jets_large=n_large)
        peaks: dict[tuple[bool, str], float] = {}
        trees: dict[tuple[bool, str], float] = {}
        rates: dict[bool, list[float]] = {False: [], True: []}
        walls: dict[bool, list[float]] = {False: [], True: []}
        # ru_maxrss of children only ever grows: each training is measured from its own fresh process
        for stream in (False, True):
            for size, data in (("small", small), ("large", large)):
                reps = args.repeat if size == "large" else 1
                for r in range(reps):
                    res = _isolated(data, work / f"{int(stream)}-{size}-{r}", args.model, stream, args.stream_window)
                    peaks[(stream, size)] = max(peaks.get((stream, size), 0.0), res["peak_mb"])
                    trees[(stream, size)] = max(trees.get((stream, size), 0.0), res["tree_peak_mb"])
                    if size == "large":
                        rates[stream].append(res["jets_per_s"])
                        walls[stream].append(res["wall_s"])
    extra = (n_large - n_small) / 1000.0  # thousands of jets
    for stream, name in ((False, "memory"), (True, "stream")):
        out[f"{name}_peak_mb_small"] = rnd(peaks[(stream, "small")])
        out[f"{name}_peak_mb_large"] = rnd(peaks[(stream, "large")])
        out[f"{name}_kb_per_jet"] = rnd((peaks[(stream, "large")] - peaks[(stream, "small")]) * 1024 / (extra * 1000))
        out[f"{name}_tree_peak_mb_small"] = rnd(trees[(stream, "small")])
        out[f"{name}_tree_peak_mb_large"] = rnd(trees[(stream, "large")])
        m, e = mean_err(rates[stream])
        out[f"{name}_train_jets_per_s"], out[f"{name}_train_jets_per_s_err"] = rnd(m), rnd(e, 2)
        m, e = mean_err(walls[stream])
        out[f"{name}_wall_s"], out[f"{name}_wall_s_err"] = rnd(m), rnd(e, 2)
    mem, st = out["memory_kb_per_jet"], out["stream_kb_per_jet"]
    out["stream_kb_per_jet_over_memory"] = rnd(st / mem) if isinstance(st, float) and isinstance(mem, float) and mem > 0 else None
    out["stream_over_memory_jets_per_s"] = rnd(mean_err(rates[True])[0] / mean_err(rates[False])[0])
    out["memory_wall_over_stream_wall"] = rnd(mean_err(walls[False])[0] / mean_err(walls[True])[0])
    return out


def _isolated(data: Path, out: Path, model: str, stream: bool, window: int) -> dict[str, float]:
    """:func:`train_once` from a fresh process (this script with ``--child``), so that the
    ``ru_maxrss`` it reads is this training's alone."""
    res = subprocess.run([sys.executable, __file__, "--child", str(data), str(out), model, str(int(stream)), str(window)],
                         capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        d, o, mdl, st, win = sys.argv[2:7]
        print(json.dumps(train_once(Path(d), Path(o), mdl, bool(int(st)), int(win))))
    else:
        main()
