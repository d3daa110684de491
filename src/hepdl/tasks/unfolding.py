"""Unfolding jet substructure: the physicist's iterative Bayesian unfolding against OmniFold and a
conditional invertible network, on the same pseudo-data whose particle level is known.

Data: QCD dijet events at 14 TeV (Pythia 8, pT-hat > 170 GeV), the leading anti-kT R = 0.4 jet with
200 < pT < 1000 GeV and |eta| < 2 at particle level (the visible final state) and at detector level
(the detector card), matched within Delta R < R/2 (:class:`hepdl.sim.jets.PairSelection`). Two
samples: the simulation ("sim", Pythia's Monash final-state shower, alpha_s(m_Z) = 0.1365) and the
pseudo-data ("data", alpha_s = 0.118: fewer, narrower, lighter jets) — as OmniFold's paper unfolds
Herwig pseudo-data with Pythia (arXiv:1911.09107); here both are Pythia, and the multiple parton
interactions are off in both (five times faster generation; an R = 0.4 jet gains ~1 GeV from them).

Observables (:mod:`hepdl.features.unfolding`): jet mass, constituent multiplicity, width, tau_21,
ln rho and z_g. Methods: ``ibu`` (iterative Bayesian unfolding, per observable, binned), ``omnifold``
(all observables at once, unbinned, :mod:`hepdl.train.omnifold`), ``cinn`` (samples the particle
level given the detector level, :class:`hepdl.models.cinn.ConditionalINN`), and ``detector`` (no
unfolding: the data's detector level). Each is judged against the data's particle-level truth by
chi^2/ndf and the triangular discriminator (:mod:`hepdl.metrics.unfolding`); the closure test
unfolds one half of the simulation with the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepdl.data.generate import DatasetSpec, SampleSpec
from hepdl.errors import ConfigError
from hepdl.metrics.unfolding import Histogram
from hepdl.sim.generator import GeneratorConfig
from hepdl.sim.jets import PairSelection
from hepdl.tasks import Task, register_task

__all__ = ["dataset_spec", "run", "unfold", "UnfoldingPreset", "PRESETS", "METHODS", "DATA_ALPHA_S", "TASK"]

#: The pseudo-data's final-state shower coupling (the simulation keeps Pythia's default, 0.1365).
DATA_ALPHA_S = 0.118


def dataset_spec(n_events: int = 2000, *, seed: int = 1, detector: str = "atlas", sqrt_s: float = 14000.0, mpi: bool = False,
                 pthat_min: float = 170.0, pthat_max: float = 1000.0, radius: float = 0.4, pt_min: float = 200.0,
                 pt_max: float = 1000.0, eta_max: float = 2.0, data_alpha_s: float = DATA_ALPHA_S, per_part: int = 2500) -> DatasetSpec:
    """The unfolding dataset: ``n_events`` kept events in all, half simulation, half pseudo-data."""
    if not isinstance(n_events, int) or n_events < 2:
        raise ConfigError(f"number of events must be an integer of at least 2 (one per sample), got {n_events!r}")
    gen: dict[str, Any] = dict(sqrt_s=sqrt_s, mpi=mpi, pthat_min=pthat_min, pthat_max=pthat_max)
    half = n_events // 2
    return DatasetSpec(
        task="unfolding",
        samples=[SampleSpec("sim", 0, GeneratorConfig("qcd-dijet", **gen), n_events - half),
                 SampleSpec("data", 1, GeneratorConfig("qcd-dijet", extra_settings=(f"TimeShower:alphaSvalue = {data_alpha_s}",), **gen),
                            half)],
        selection=PairSelection(radius=radius, pt_min=pt_min, pt_max=pt_max, eta_max=eta_max),
        detector=detector, seed=seed, per_part=per_part,
    )


#: The unfolding methods, in the order of the report ("detector" is no unfolding: the data's detector level).
METHODS = ("ibu", "omnifold", "cinn")
#: The observables' columns each network sees (the jet pT decides which level passes: misses and fakes).
_COLUMNS = ("pt", "mass", "multiplicity", "width", "tau21", "log_rho", "zg")


#: The cINN's training settings (a preset's ``cinn`` overrides them): the model preset, epochs, batch size,
#: learning rate, early-stopping patience, and samples drawn per data event.
_CINN: dict[str, Any] = {"preset": "small", "epochs": 60, "batch_size": 512, "lr": 1e-3, "patience": 12, "draws": 4}


@dataclass
class UnfoldingPreset:
    """A preset of ``hepdl run unfolding`` (validated: an unknown key is an error listing the valid ones).

    ``n_events``: kept events (half simulation, half pseudo-data); ``methods``; ``n_bins`` per
    observable; ``ibu_iterations``; ``omnifold``: :class:`hepdl.train.omnifold.OmniFoldConfig` keys;
    ``cinn``: the cINN's ``preset``, ``epochs``, ``batch_size``, ``lr``, ``patience`` and ``draws``
    (samples per data event); ``closure``: also unfold one half of the simulation with the other;
    ``n_bootstrap`` replicas for the errors; ``dataset``: :func:`dataset_spec` overrides.
    """

    n_events: int
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    n_bins: int = 20
    ibu_iterations: int = 4
    omnifold: dict[str, Any] = field(default_factory=dict)
    cinn: dict[str, Any] = field(default_factory=dict)
    closure: bool = True
    n_bootstrap: int = 50
    dataset: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ConfigError(f"unknown unfolding method(s) {unknown or '(none given)'}; known: {', '.join(METHODS)}")
        bad = sorted(set(self.cinn) - set(_CINN))
        if bad:
            raise ConfigError(f"unknown cinn setting(s) {bad}; known: {', '.join(_CINN)}")
        if self.n_bins < 2 or self.ibu_iterations < 1 or self.n_bootstrap < 2:
            raise ConfigError(f"n_bins >= 2, ibu_iterations >= 1 and n_bootstrap >= 2 needed; got {self.n_bins}, "
                              f"{self.ibu_iterations}, {self.n_bootstrap}")


#: OmniFold's classifiers: three hidden layers of 100 (the dense network of arXiv:1911.09107).
_OMNIFOLD_QUICK = {"iterations": 6, "epochs": 30, "batch_size": 1024, "lr": 2e-3, "patience": 5, "preset": "paper",
                   "model_config": {"hidden": (100, 100, 100)}}
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"n_events": 60_000, "omnifold": _OMNIFOLD_QUICK,
              "cinn": dict(_CINN)},
    # the OmniFold paper's size (1.6 M simulated and pseudo-data events each), its 5 iterations; for a GPU / a cluster's generation
    "paper": {"n_events": 3_200_000, "n_bins": 30, "omnifold": {**_OMNIFOLD_QUICK, "iterations": 5, "epochs": 50, "patience": 10},
              "cinn": {"preset": "paper", "epochs": 100, "batch_size": 1024, "lr": 1e-3, "patience": 10, "draws": 4}},
}


def _histograms(values: pd.DataFrame, edges: dict[str, np.ndarray], weights: np.ndarray | None, n_bootstrap: int, seed: int,
                units: np.ndarray | None = None) -> dict[str, Histogram]:
    from hepdl.metrics.unfolding import histogram

    return {o: histogram(values[o].to_numpy(), edges[o], weights, n_bootstrap=n_bootstrap, seed=seed, units=units) for o in edges}


def _binned_ratio(x: np.ndarray, num: np.ndarray, den: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per bin of ``x``: the share of ``den`` rows that are also ``num`` rows (1 where a bin is empty)."""
    from hepdl.metrics.unfolding import bin_index

    idx = bin_index(x, edges)
    n_num = np.bincount(idx[num & den], minlength=len(edges) - 1).astype(float)
    n_den = np.bincount(idx[den], minlength=len(edges) - 1).astype(float)
    return np.where(n_den > 0, n_num / np.where(n_den > 0, n_den, 1.0), 1.0)


def _lookup(x: np.ndarray, table: np.ndarray, edges: np.ndarray) -> np.ndarray:
    from hepdl.metrics.unfolding import bin_index

    return table[bin_index(x, edges)]


#: Lower edge of the jet pT window (GeV), the range of z_g (soft drop's z_cut to 1/2) and of tau_21, for the cINN's transformation.
_PT_MIN, _ZG_RANGE, _TAU21_MAX = 200.0, (0.1, 0.5), 1.5


def _logit(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 1e-4, 1 - 1e-4)
    return np.log(u / (1 - u))


def _to_flow(frame: pd.DataFrame, pt_min: float = _PT_MIN) -> np.ndarray:
    """The cINN's coordinates of the :data:`_COLUMNS`: a flow with a Gaussian latent space learns smooth,
    unbounded densities, so hard edges are mapped away (the usual preprocessing of arXiv:2006.06685 and
    CaloFlow): log(pT - pT_min + 1), log(m + 1), log(M), log(w + 10^-3), the logit of tau_21 / 1.5, ln rho as
    it is, the logit of z_g's position in [0.1, 0.5] (clipped: the few jets without a passing splitting,
    z_g = 0, go to its lower edge)."""
    x = frame[list(_COLUMNS)].to_numpy(dtype=np.float64).copy()
    lo, hi = _ZG_RANGE
    return np.column_stack([np.log(np.maximum(x[:, 0] - pt_min, 0.0) + 1.0), np.log1p(np.maximum(x[:, 1], 0.0)), np.log(np.maximum(x[:, 2], 0.5)),
                            np.log(x[:, 3] + 1e-3), _logit(x[:, 4] / _TAU21_MAX), x[:, 5], _logit((np.clip(x[:, 6], lo, hi) - lo) / (hi - lo))])


def _from_flow(y: np.ndarray, pt_min: float = _PT_MIN) -> pd.DataFrame:
    """The inverse of :func:`_to_flow` (multiplicity rounded to an integer >= 1)."""
    lo, hi = _ZG_RANGE
    y = np.clip(y, -30.0, 30.0)  # a flow's rare far-tail draw stays finite
    out = np.column_stack([np.expm1(y[:, 0]) + pt_min, np.expm1(y[:, 1]).clip(0), np.round(np.exp(y[:, 2])).clip(1),
                           (np.exp(y[:, 3]) - 1e-3).clip(0), _TAU21_MAX / (1 + np.exp(-y[:, 4])), y[:, 5],
                           lo + (hi - lo) / (1 + np.exp(-y[:, 6]))])
    return pd.DataFrame(out, columns=list(_COLUMNS))


def unfold(method: str, sim_gen: pd.DataFrame, sim_reco: pd.DataFrame, flags: dict[str, np.ndarray], data_reco: pd.DataFrame,
           edges: dict[str, np.ndarray], preset: UnfoldingPreset, out: Path, *, seed: int = 1,
           progress: bool = True) -> tuple[dict[str, Histogram], dict[str, Any]]:
    """Unfold the detector-level ``data_reco`` (its passing events) with the simulation by ``method``
    (``ibu``, ``omnifold`` or ``cinn``); returns the particle-level histogram of every observable of
    ``edges`` with bootstrap replicas, and the method's figures (training time, weights or samples).

    ``sim_gen``/``sim_reco``: the simulation's observables (:func:`hepdl.features.unfolding.unfolding_observables`);
    ``flags``: its ``gen_pass``, ``reco_pass``, ``matched``; ``out``: where the method's networks train.
    """
    from hepdl.metrics.unfolding import Histogram
    from hepdl.models.unfolding import ibu_replicas, response

    gp, rp, m = flags["gen_pass"], flags["reco_pass"], flags["matched"]
    nb = preset.n_bootstrap
    t0 = time.perf_counter()
    if method == "ibu":
        hists = {}
        for o, e in edges.items():
            resp = response(sim_gen[o].to_numpy(), sim_reco[o].to_numpy(), gp, rp, m, e, e)
            central, reps = ibu_replicas(data_reco[o].to_numpy(), resp, preset.ibu_iterations, n_bootstrap=nb, seed=seed)
            norm = central / max(central.sum(), 1e-300)
            rn = reps / np.maximum(reps.sum(axis=1, keepdims=True), 1e-300)
            hists[o] = Histogram(e, norm, rn.std(axis=0), rn)
        return hists, {"train_seconds": time.perf_counter() - t0, "iterations": preset.ibu_iterations}
    cols = list(_COLUMNS)
    if method == "omnifold":
        from hepdl.config import from_dict
        from hepdl.train.omnifold import OmniFoldConfig, omnifold

        cfg = from_dict(OmniFoldConfig, {"seed": seed, **preset.omnifold}, "preset omnifold settings")
        res = omnifold(sim_gen[cols], sim_reco[cols], gp, rp, data_reco[cols].reset_index(drop=True), out / "steps", cfg,
                       progress=progress)
        w = res.weights
        hists = _histograms(sim_gen[gp].reset_index(drop=True), edges, w[gp], nb, seed)
        iters = [{"iteration": k + 1, "push_mean": float(p[gp].mean()), "push_std": float(p[gp].std()),
                  "pull_mean": float(q[rp].mean()), "pull_std": float(q[rp].std())} for k, (p, q) in enumerate(zip(res.push, res.pull, strict=True))]
        return hists, {"train_seconds": time.perf_counter() - t0, "iterations": iters, "weights": w, "steps": [str(p) for p in res.steps]}
    if method == "cinn":
        from hepdl.data.table import TableDataset
        from hepdl.train import TrainConfig, train
        from hepdl.train.trainer import load_trained, model_inputs, score_inputs

        c = {**_CINN, **preset.cinn}
        rng = np.random.default_rng(seed)
        gen_m = sim_gen.loc[m, cols].reset_index(drop=True)
        gen_m["multiplicity"] = gen_m["multiplicity"] + rng.uniform(-0.5, 0.5, size=len(gen_m))  # dequantised: a flow needs a density
        reco_flow = _to_flow(sim_reco.loc[m, cols])
        # the flow learns the particle level's offset from the detector level (in its coordinates): p(gen | reco)
        # as p(gen - reco | reco), a narrow density a few coupling blocks learn on a CPU
        ds = TableDataset(pd.DataFrame(reco_flow, columns=cols), targets=_to_flow(gen_m) - reco_flow, target_names=cols,
                          path=str(out / "network"))
        tc = TrainConfig("cinn", preset=c["preset"], epochs=c["epochs"], batch_size=c["batch_size"], lr=c["lr"], patience=c["patience"],
                         seed=seed, split_seed=seed, fractions=(0.8, 0.1, 0.1), objective="density", n_bootstrap=0)
        train(tc, ds, out / "network", progress=progress)
        _, pre, model = load_trained(out / "network")
        draws = int(c["draws"])
        cond = pd.DataFrame(np.repeat(data_reco[cols].to_numpy(dtype=np.float64), draws, axis=0), columns=cols)
        import torch

        torch.manual_seed(seed)
        flow_cond = _to_flow(cond)
        offsets = score_inputs(model, model_inputs(TableDataset(pd.DataFrame(flow_cond, columns=cols), path="data"), pre))
        samples = _from_flow(flow_cond + offsets)
        # fakes and misses, from the simulation per bin of jet pT: the cINN learnt matched pairs only
        reco_edges = np.quantile(sim_reco.loc[rp, "pt"], np.linspace(0, 1, 11))  # ten bins of equal population
        gen_edges = np.quantile(sim_gen.loc[gp, "pt"], np.linspace(0, 1, 11))
        purity = _binned_ratio(sim_reco["pt"].to_numpy(), m, rp, reco_edges)  # P(matched | detector-level pT)
        eff = _binned_ratio(sim_gen["pt"].to_numpy(), m, gp, gen_edges)  # P(matched | particle-level pT)
        w = _lookup(cond["pt"].to_numpy(), purity, reco_edges) / np.maximum(_lookup(samples["pt"].to_numpy(), eff, gen_edges), 1e-3)
        units = np.repeat(np.arange(len(data_reco)), draws)  # a data event's draws share its bootstrap weight
        hists = _histograms(samples, edges, w, nb, seed, units=units)
        n_par = int(sum(p.numel() for p in model.net.parameters()))
        return hists, {"train_seconds": time.perf_counter() - t0, "draws": draws, "n_parameters": n_par, "network": str(out / "network")}
    raise ConfigError(f"unknown unfolding method {method!r}; known: {', '.join(METHODS)}")


def _write_method(out: Path, method: str, paper: str, hists: dict[str, Histogram], truth: dict[str, Histogram],
                  closure: tuple[dict[str, Histogram], dict[str, Histogram]] | None, extra: dict[str, Any], preset: UnfoldingPreset,
                  seed: int) -> dict[str, Any]:
    """``<run>/<method>/metrics.json`` (chi^2/ndf and triangular discriminator per observable, against the
    pseudo-data's truth and in the closure test) and ``scores.npz`` (the histograms)."""
    from hepdl.data.paths import atomic_write_json
    from hepdl.metrics.unfolding import compare
    from hepdl.train.rundir import RUN_SCHEMA_VERSION, ModelDir
    from hepdl.train.trainer import _atomic_savez

    d = out / method
    d.mkdir(parents=True, exist_ok=True)
    per = {o: compare(hists[o], truth[o]) for o in hists}
    metrics: dict[str, Any] = {
        "schema_version": RUN_SCHEMA_VERSION, "model": method, "objective": "unfold", "split": "pseudo-data", "paper": paper,
        "evaluation": {"n_bootstrap": preset.n_bootstrap, "seed": seed, "n_bins": preset.n_bins},
        "observables": per,
        "chi2_ndf_mean": {"value": float(np.mean([v["chi2_ndf"]["value"] for v in per.values()])),
                          "error": float(np.sqrt(np.sum([v["chi2_ndf"]["error"] ** 2 for v in per.values()])) / len(per))},
        "triangular_mean": {"value": float(np.mean([v["triangular"]["value"] for v in per.values()])),
                            "error": float(np.sqrt(np.sum([v["triangular"]["error"] ** 2 for v in per.values()])) / len(per))},
        **{k: v for k, v in extra.items() if k not in ("weights",)},
    }
    arrays: dict[str, Any] = {}
    for o, h in hists.items():
        arrays.update({f"{o}.edges": h.edges, f"{o}.p": h.p, f"{o}.err": h.err, f"truth.{o}.p": truth[o].p, f"truth.{o}.err": truth[o].err})
    if closure is not None:
        c_hists, c_truth = closure
        metrics["closure"] = {o: compare(c_hists[o], c_truth[o]) for o in c_hists}
        for o, h in c_hists.items():
            arrays.update({f"closure.{o}.p": h.p, f"closure.{o}.err": h.err, f"closure_truth.{o}.p": c_truth[o].p,
                           f"closure_truth.{o}.err": c_truth[o].err})
    if "weights" in extra:
        arrays["weights"] = extra["weights"]
    _atomic_savez(d / ModelDir.SCORES, **arrays)
    atomic_write_json(d / ModelDir.METRICS, metrics)
    return metrics


_PAPERS = {"detector": "no unfolding: the data's detector level", "prior": "no unfolding: the simulation's particle level",
           "ibu": "D'Agostini, NIM A362 (1995) 487; arXiv:1010.0632", "omnifold": "arXiv:1911.09107 (misses: arXiv:2105.04448)",
           "cinn": "arXiv:2006.06685"}


def run(preset: str = "quick", *, models: list[str] | None = None, dataset: str | Path | None = None, runs_dir: str | Path = "runs",
        cache: str | Path | None = None, workers: int | None = None, seed: int = 1, epochs: int | None = None,
        progress: bool = True, ensemble: int | None = None) -> Path:
    """Unfolding end to end: generate (or reuse) the simulation and the pseudo-data, unfold the
    pseudo-data's detector level with every method (``models``: a subset of :data:`METHODS`), compare
    with its particle-level truth, run the closure test, and write ``runs/unfolding/<timestamp>/``
    (one directory per method, the report). ``epochs`` overrides the networks' epochs."""
    from hepdl.config import from_dict
    from hepdl.data import open as open_dataset
    from hepdl.data.generate import ensure_dataset
    from hepdl.data.unfolding import UnfoldingDataset
    from hepdl.features.unfolding import OBSERVABLES, unfolding_observables
    from hepdl.metrics.unfolding import binning
    from hepdl.report import make_report, update_run_info, write_run_info
    from hepdl.tasks._runner import new_run_dir

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} for task 'unfolding'; presets: {', '.join(PRESETS)}")
    raw = dict(PRESETS[preset])
    if models is not None:
        raw["methods"] = list(models)
    if epochs is not None:
        raw["omnifold"] = {**raw.get("omnifold", {}), "epochs": epochs}
        raw["cinn"] = {**raw.get("cinn", {}), "epochs": epochs}
    p = from_dict(UnfoldingPreset, raw, where=f"preset {preset!r} of task 'unfolding'")
    t0 = time.perf_counter()
    path = dataset if dataset is not None else ensure_dataset(dataset_spec(p.n_events, seed=seed, **p.dataset), cache, workers=workers,
                                                               progress=progress)
    ds = open_dataset(path)
    if not isinstance(ds, UnfoldingDataset):
        raise ConfigError(f"{ds.path} is not an unfolding dataset (a `hepdl generate unfolding` directory)")
    out = new_run_dir(runs_dir, "unfolding")
    write_run_info(out, task="unfolding", preset=preset, recipe=TASK.description, domain="unfolding", dataset=str(ds.path))
    update_run_info(out, "generate" if dataset is None else "open dataset", time.perf_counter() - t0)
    t0 = time.perf_counter()
    gen, reco = unfolding_observables(ds)
    flags = ds.flags()
    sim, data = ds.labels == 0, ds.labels == 1
    if not (sim.any() and data.any()):
        raise ConfigError(f"{ds.path} needs both samples, sim (label 0) and data (label 1); it has {ds.class_counts()}")
    update_run_info(out, "observables", time.perf_counter() - t0)
    edges = {o: binning(gen.loc[sim & flags["gen_pass"], o].to_numpy(), p.n_bins, integer=o == "multiplicity") for o in OBSERVABLES}
    nb = p.n_bootstrap

    def part(rows: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
        """Both levels' observables and the flags of the events ``rows`` (a mask or indices)."""
        return (gen.iloc[rows].reset_index(drop=True), reco.iloc[rows].reset_index(drop=True), {k: v[rows] for k, v in flags.items()})

    s_gen, s_reco, s_flags = part(sim)
    d_gen, d_reco, d_flags = part(data)
    truth = _histograms(d_gen[d_flags["gen_pass"]], edges, None, nb, seed + 1)
    data_reco = d_reco[d_flags["reco_pass"]].reset_index(drop=True)
    # closure: the simulation's even events unfold its odd ones (statistically independent halves)
    sim_rows = np.flatnonzero(sim)
    a_gen, a_reco, a_flags = part(sim_rows[0::2])
    b_gen, b_reco, b_flags = part(sim_rows[1::2])
    b_truth = _histograms(b_gen[b_flags["gen_pass"]], edges, None, nb, seed + 2)
    det = _histograms(data_reco, edges, None, nb, seed + 3)
    prior = _histograms(s_gen[s_flags["gen_pass"]], edges, None, nb, seed + 4)
    _write_method(out, "detector", _PAPERS["detector"], det, truth, None, {}, p, seed)
    _write_method(out, "prior", _PAPERS["prior"], prior, truth, None, {}, p, seed)
    for method in p.methods:
        if progress:
            print(f"unfolding with {method} ...", flush=True)
        t0 = time.perf_counter()
        hists, extra = unfold(method, s_gen, s_reco, s_flags, data_reco, edges, p, out / method, seed=seed, progress=progress)
        closure = None
        if p.closure:
            if progress:
                print(f"closure test of {method} ...", flush=True)
            c_hists, c_extra = unfold(method, a_gen, a_reco, a_flags, b_reco[b_flags["reco_pass"]].reset_index(drop=True), edges, p,
                                      out / method / "closure", seed=seed + 7, progress=progress)
            closure = (c_hists, b_truth)
            extra["closure_train_seconds"] = c_extra["train_seconds"]
        _write_method(out, method, _PAPERS[method], hists, truth, closure, extra, p, seed)
        update_run_info(out, f"unfold {method}", time.perf_counter() - t0)
    make_report(out, ds, title=f"unfolding ({preset}, {len(ds)} events)", domain="unfolding")
    return out


TASK = register_task(Task("unfolding", "unfolding jet substructure: iterative Bayesian unfolding against OmniFold and a cINN on "
                          "pseudo-data of another shower coupling (arXiv:1911.09107, arXiv:2006.06685)", dataset_spec, run, PRESETS))
