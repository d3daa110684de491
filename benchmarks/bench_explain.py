"""What explaining costs and what it finds: exact ADO against pair sampling, LRP against plain inference,
and the observable search (arXiv:2010.11998) against the brute-force alternative, on one top-tagging run.

The run is ``--run``, else the newest ``runs/top-tagging/*`` of the working directory (make one with
``hepdl run top-tagging --preset quick``), else one trained here in a temporary directory (``--train-jets``
generated jets, ``--train-epochs`` epochs, the quick preset's model settings); the jets are a seeded
subset of its test split. Prints one
JSON line; ``<m>`` is a network of ``--models`` (default ``cnn,particlenet-lite``; ``-`` written ``_``), ``*_err`` a standard
error (over ``--repeat`` measurements for times, bootstrap or binomial for physics figures):

- ``benchmark`` ("explain"), ``run``, ``repeats``, ``n_jets`` (search and ADO), ``lrp_jets``;
- ADO of ``<first model>`` with the jet mass on the ``n_jets`` jets: ``ado_exact`` (every pair, O(N log N)),
  ``ado_sampled`` and ``ado_sampled_err`` (``--pairs`` random pairs, binomial error), ``ado_exact_s`` and
  ``ado_sampled_s`` (their times) and ``ado_exact_over_sampled_time``; ``ado_sampled_pull`` =
  (sampled - exact) / error (agreement: |pull| below about 2);
- LRP of each network: ``lrp_<m>_jets_per_s`` (relevance of the signal logit, batch 256) beside
  ``inference_<m>_jets_per_s`` (forward pass, same batches) and ``lrp_<m>_over_inference_jets_per_s``;
- the search: ``efp_basis_s`` (the 994 EFPs of degree 1..7 and the expert observables, ``basis_size``
  columns), per network ``network_<m>_auc`` (test jets of the search split), ``search_<m>_s``,
  ``search_<m>_n_observables``, ``search_<m>_gap`` and ``search_<m>_gap_err`` (network AUC minus the
  chosen set's, paired bootstrap), ``search_<m>_reached`` (gap <= 0.002, the issue's goal with <= 7
  observables), ``search_<m>_chosen``; ``search_total_s`` (basis + every search; goal < 300 s for
  20 000 jets on 2 cores);
- brute force: ``brute_force_fit_s`` (one BDT fit on the set plus one candidate, mean over
  ``--brute-candidates`` candidates, its error the spread over them), ``brute_force_<m>_s_estimate`` (that time x the basis size x the
  observables the search added) and ``brute_force_over_guided_time_<m>`` (the estimate over
  ``search_<m>_s``; the issue expects 100-300).

Usage: ``python benchmarks/bench_explain.py [--run runs/top-tagging/<stamp>] [--models cnn,particlenet-lite]
[--jets 20000] [--lrp-jets 1000] [--pairs 1000000] [--repeat 3] [--brute-candidates 20] [--train-jets 3000]
[--train-epochs 3]``
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


def _timed(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, times


def train_run(out: Path, models: list[str], n_jets: int, epochs: int) -> Path:
    """A small top-tagging run of ``models`` with the quick preset's settings in ``out``."""
    from hepdl.data.generate import ensure_dataset
    from hepdl.tasks import top_tagging
    from hepdl.train import TrainConfig, train

    p = top_tagging.PRESETS["quick"]
    data = ensure_dataset(top_tagging.dataset_spec(n_jets, seed=1), progress=sys.stderr.isatty())
    for m in models:
        train(TrainConfig(m, preset=p["model_preset"], epochs=epochs, n_particles=p["n_particles"], n_bootstrap=10),
              data, out / m, progress=False)
    return out


def measure(args: argparse.Namespace, tmp: Path) -> dict:
    from hepdl.explain import ado, observable_search, relevance
    from hepdl.explain.run import SEARCH_START, _subset, search_basis
    from hepdl.explain.search import _fit_set, split_for_search
    from hepdl.train.rundir import ModelDir
    from hepdl.train.trainer import load_trained, model_inputs, score_inputs, trained_dataset

    run = args.run
    models = args.models.split(",")
    label = str(run)
    if run is None:
        runs = sorted(Path("runs/top-tagging").glob("*/"))
        if runs:
            run, label = runs[-1], str(runs[-1])
        else:
            print(f"no run in runs/top-tagging: training one ({args.train_jets} jets, {args.train_epochs} epochs)", file=sys.stderr)
            run = train_run(tmp / "run", models, args.train_jets, args.train_epochs)
            label = f"trained here ({args.train_jets} jets, {args.train_epochs} epochs)"
    missing = [m for m in models if not (run / m / ModelDir.CONFIG).exists()]
    if missing:
        raise SystemExit(f"{run} has no model(s) {missing}")
    ds = trained_dataset(run / models[0])
    test = np.asarray(np.load(run / models[0] / ModelDir.SCORES)["index"])
    pick = np.sort(np.random.default_rng(1).choice(test, size=min(args.jets, len(test)), replace=False))
    part = _subset(ds, pick)
    y = np.asarray(part.labels)
    out: dict = {"benchmark": "explain", "run": label, "repeats": args.repeat, "n_jets": int(len(pick)), "lrp_jets": args.lrp_jets}
    loaded = {m: load_trained(run / m) for m in models}
    inputs = {m: model_inputs(part, pre, cache=False) for m, (_, pre, _) in loaded.items()}
    scores = {m: np.asarray(score_inputs(model, inputs[m])) for m, (_, _, model) in loaded.items()}

    t0 = time.perf_counter()
    basis, unsafe, _ = search_basis(part.jets)
    out["efp_basis_s"] = rnd(time.perf_counter() - t0)
    out["basis_size"] = int(basis.shape[1])

    # ADO: exact against sampled pairs
    f, g = scores[models[0]], basis["mass"].to_numpy()
    exact, t_exact = _timed(lambda: ado(f, g, y), args.repeat)
    rng = np.random.default_rng(0)
    sig, bkg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)

    def sampled() -> float:
        s, b = rng.choice(sig, args.pairs), rng.choice(bkg, args.pairs)
        d = np.sign(f[s] - f[b]) * np.sign(g[s] - g[b])
        return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / args.pairs)

    samp, t_samp = _timed(sampled, args.repeat)
    samp_err = float(np.sqrt(samp * (1 - samp) / args.pairs))
    (te, te_err), (ts, ts_err) = mean_err(t_exact), mean_err(t_samp)
    out.update({"ado_exact": rnd(exact, 6), "ado_sampled": rnd(samp, 6), "ado_sampled_err": rnd(samp_err),
                "ado_sampled_pull": rnd((samp - exact) / samp_err), "ado_exact_s": rnd(te), "ado_exact_s_err": rnd(te_err),
                "ado_sampled_s": rnd(ts), "ado_sampled_s_err": rnd(ts_err), "ado_exact_over_sampled_time": rnd(te / ts)})

    # LRP against plain inference on the same jets
    for m, (_, _, model) in loaded.items():
        k = m.replace("-", "_")
        sub = type(inputs[m])(inputs[m].kind, inputs[m].take(np.arange(min(args.lrp_jets, len(pick)))), y[:args.lrp_jets], inputs[m].preprocess)
        _, t_lrp = _timed(lambda model=model, sub=sub: relevance(model, sub), args.repeat)
        _, t_inf = _timed(lambda model=model, sub=sub: score_inputs(model, sub, batch_size=256), args.repeat)
        n = len(sub.labels)
        lrp_rate, lrp_err = mean_err([n / t for t in t_lrp])
        inf_rate, inf_err = mean_err([n / t for t in t_inf])
        out.update({f"lrp_{k}_jets_per_s": rnd(lrp_rate), f"lrp_{k}_jets_per_s_err": rnd(lrp_err),
                    f"inference_{k}_jets_per_s": rnd(inf_rate), f"inference_{k}_jets_per_s_err": rnd(inf_err),
                    f"lrp_{k}_over_inference_jets_per_s": rnd(lrp_rate / inf_rate)})

    # the guided search per network, and the brute force it replaces
    total = float(out["efp_basis_s"])
    start = [c for c in SEARCH_START if c in basis.columns]
    split = split_for_search(len(y), 0)
    cands = [c for c in basis.columns if c not in start][: args.brute_candidates]
    fit_times = [_timed(lambda c=c: _fit_set(basis, [*start, c], y, split, 0), 1)[1][0] for c in cands]
    per_fit, per_fit_err = mean_err(fit_times)
    out["brute_force_fit_s"], out["brute_force_fit_s_err"] = rnd(per_fit), rnd(per_fit_err)
    for m in models:
        res = observable_search(scores[m], basis, y, start=start, irc_unsafe=unsafe, seed=0)
        last = res["steps"][-1]
        added = max(len(res["chosen"]) - len(start), 1)
        estimate = per_fit * basis.shape[1] * added
        total += res["seconds"]
        m = m.replace("-", "_")
        out.update({f"network_{m}_auc": rnd(res["network_auc"], 5), f"network_{m}_auc_err": rnd(res["network_auc_error"]),
                    f"search_{m}_s": rnd(res["seconds"]), f"search_{m}_n_observables": len(res["chosen"]),
                    f"search_{m}_gap": rnd(last["gap"]), f"search_{m}_gap_err": rnd(last["gap_error"]),
                    f"search_{m}_reached": bool(res["reached"]), f"search_{m}_chosen": res["chosen"],
                    f"brute_force_{m}_s_estimate": rnd(estimate), f"brute_force_over_guided_time_{m}": rnd(estimate / res["seconds"])})
    out["search_total_s"] = rnd(total)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None, help="a top-tagging run (default: the newest in runs/top-tagging)")
    ap.add_argument("--models", default="cnn,particlenet-lite", help="comma-separated networks of the run")
    ap.add_argument("--jets", type=int, default=20000, help="test jets of the search and the ADO")
    ap.add_argument("--lrp-jets", type=int, default=1000, help="jets per LRP and inference measurement")
    ap.add_argument("--pairs", type=int, default=1_000_000, help="pairs of the sampled ADO")
    ap.add_argument("--repeat", type=int, default=3, help="measurements of each time")
    ap.add_argument("--brute-candidates", type=int, default=20, help="BDT fits timed for the brute-force estimate")
    ap.add_argument("--train-jets", type=int, default=3000, help="jets of the run trained here when there is none")
    ap.add_argument("--train-epochs", type=int, default=3, help="epochs of the run trained here when there is none")
    args = ap.parse_args()
    if min(args.jets, args.lrp_jets, args.pairs, args.repeat, args.brute_candidates) < 1:
        ap.error("every count must be >= 1")
    with stdout_to_stderr(), tempfile.TemporaryDirectory() as tmp:
        out = measure(args, Path(tmp))
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
