"""Speed of the H -> tau tau chain, hepdl's own steps beside Pythia's event generation in the same run.

For each process, ``--repeat`` batches of ``--events`` events (after a warm-up batch) are timed step
by step, on the same events:

1. ``pythia``: Pythia's own event generation, ``Pythia.nextBatch`` alone (hard process, shower, MPI,
   hadronisation, decays);
2. ``final_state``: hepdl's selection of the stable final-state particles from Pythia's event record
   (the rest of :meth:`hepdl.sim.generator.EventGenerator.next_batch`);
3. ``detector_reco``: hepdl's parametric detector, tau truth and lepton/tau/jet reconstruction with
   the lepton + hadronic-tau selection;

then the 30 challenge features of all selected events with the missing-mass calculator (MMC) and
without it, ``--repeat`` times each, alternating.

Prints one JSON line; ``*_err`` is the standard error of the mean over the repeats (``null`` for one);
``<p>`` is a process with ``_`` for ``-`` (``ggh_tautau``, ``vbf_tautau``, ``ztautau``, ``wjets_lnu``,
``ttbar``):

- ``benchmark`` ("higgs"), ``events_per_process``, ``repeats``;
- ``<p>_pythia_ms_per_event``, ``<p>_final_state_ms_per_event``, ``<p>_detector_reco_ms_per_event``;
- ``<p>_hepdl_over_pythia``: hepdl's steps (final state + detector/reconstruction) over Pythia's time;
- ``pythia_ms_per_event``, ``hepdl_ms_per_event``, ``hepdl_over_pythia``: the same over all processes
  (total time / total events);
- ``<p>_selected_fraction``: events passing the selection (all repeats);
- ``n_selected``: selected events of the feature step; ``features_events_per_s`` (with MMC) and
  ``features_no_mmc_events_per_s``, ``mmc_over_no_mmc_time``: the time with the MMC scan over the time
  without it.

**Sampling** (``--sampling-events N``, 0 skips it): the generation schemes of
:data:`hepdl.tasks.higgs_tautau.SCHEMES` side by side, ``inclusive`` (each process as it is) and
``weighted`` (tau pairs forced to lepton + hadron with the branching fraction in the weight,
Z/gamma* -> tau tau in m_tautau slices, W + jet in pT-hat slices, top pairs with a leptonic W, the
generator-level lepton filter). For every sample, ``N`` selected events
(``sampling_events_per_sample``) are generated with MPI, as in the task, timing the CPU (Pythia,
filter, detector, reconstruction). From them, per scheme ``<s>``:

- ``<s>_<sample>_ms_per_selected``: CPU milliseconds per selected event;
- ``<s>_<sample>_expected_per_selected``: expected events (20 fb^-1) one selected simulated event of
  that sample stands for, after the tau-ID weight;
- ``<s>_background_simulated_per_selected``: Pythia events simulated per selected background event at
  the scheme's shares (lower is better), and ``<s>_background_simulated_per_cpu_s`` Pythia events per
  CPU-second (the generator-level filter saves the detector's time on the events it drops);
- ``<s>_background_neff_per_cpu_s`` (``_err``): effective number ``(sum w)^2 / sum w^2`` of weighted
  background events per CPU-second at the scheme's shares, the figure that sets the statistical error
  of the AMS (its relative error is about 1 / (2 sqrt(N_eff)) for a fixed selection);
  ``<s>_window_neff_per_cpu_s`` (``_err``) the same in the signal window 100 < MMC < 150 GeV;
- ``<s>_window_neff_per_cpu_s_optimal``: the same at the allocation of CPU time over the samples
  that maximises it (t_i proportional to w_i sqrt(r_i c_i): yield, weight spread and cost of sample i);
- ``weighted_over_inclusive_neff`` and ``weighted_over_inclusive_window_neff`` (``_err``): the gain;
- ``weighted_optimal_shares``: the optimal shares of selected events per background sample of
  ``weighted`` for the MMC window (a dict; the task's shares come from the BDT's selection of a pilot
  quick run instead, see :data:`hepdl.tasks.higgs_tautau.SCHEMES`).

Errors are the standard deviation over 200 bootstrap replicas of each sample's selected events and
of its selection efficiency.

Usage: ``python benchmarks/bench_higgs.py [--events 400] [--repeat 3] [--sampling-events 40]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import mean_err, rnd, stdout_to_stderr

PROCESSES = ("ggh-tautau", "vbf-tautau", "ztautau", "wjets-lnu", "ttbar")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=400, help="events generated per process and repeat")
    ap.add_argument("--repeat", type=int, default=3, help="timed batches per process")
    ap.add_argument("--sampling-events", type=int, default=40, help="selected events per sample of each scheme (0: skip)")
    args = ap.parse_args()
    if args.events < 1 or args.repeat < 1 or args.sampling_events < 0:
        ap.error("--events and --repeat must be >= 1, --sampling-events >= 0")

    with stdout_to_stderr():
        out = measure(args)
        if args.sampling_events:
            out.update(measure_sampling(args.sampling_events))
    print(json.dumps(out))


WINDOW = (100.0, 150.0)  # GeV of DER_mass_MMC: where the H -> tau tau signal lies


def measure_sampling(n_selected: int, n_boot: int = 200) -> dict:
    """The sampling figures (see the module docstring)."""
    import awkward as ak

    from hepdl.data.generate import generate_part
    from hepdl.features.higgs import challenge_features
    from hepdl.sim.detector import load_card
    from hepdl.tasks.higgs_tautau import SCHEMES, dataset_spec

    card = load_card("atlas")
    rng = np.random.default_rng(7)
    out: dict[str, object] = {"sampling_events_per_sample": n_selected}
    boot: dict[str, dict[str, np.ndarray]] = {}
    for scheme, rows in SCHEMES.items():
        spec = dataset_spec(n_selected * len(rows), scheme=scheme, seed=11)
        share = np.array([row[3] for row in rows])
        share = share / share.sum()
        lumi_pb = 1000.0 * spec.luminosity_fb
        # per background sample: cost per selected event c, total expected yield W (all / window) and
        # the weight spread r = <u^2>/<u>^2, with bootstrap replicas
        names, c_b, y_all, y_win, r_all, r_win, n_sim, cpu_all = [], [], [], [], [], [], [], []
        for j, s in enumerate(spec.samples):
            t0 = time.process_time()
            events, meta = generate_part(spec, j, 0, n_selected, card)
            cpu = time.process_time() - t0
            n_gen = meta["cutflow"]["events"]
            u = ak.to_numpy(events.weight) * ak.to_numpy(events.id_weight)
            mmc = challenge_features(events)["DER_mass_MMC"].to_numpy()
            win = (mmc > WINDOW[0]) & (mmc < WINDOW[1])
            sigma_l = meta["sigma_mb"] * 1e9 * lumi_pb
            out[f"{scheme}_{s.name}_ms_per_selected"] = rnd(1e3 * cpu / n_selected)
            out[f"{scheme}_{s.name}_expected_per_selected"] = rnd(sigma_l / n_gen * u.mean())
            if s.label != 0:
                continue
            # replicas: resample the selected events, and the efficiency from its Beta posterior
            idx = rng.integers(0, n_selected, size=(n_boot, n_selected))
            gen_b = n_selected / rng.beta(n_selected, max(n_gen - n_selected, 1), size=n_boot)
            ub, uw = u[idx], np.where(win[idx], u[idx], 0.0)
            names.append(s.name)
            n_sim.append(n_gen / n_selected)
            cpu_all.append(cpu / n_gen)
            c_b.append(np.r_[cpu / n_selected, cpu / n_gen * gen_b / n_selected])  # CPU-s per selected event
            # the sample's expected yield Y = sigma L / N_generated * sum(u), all selected and in the window
            y_all.append(np.r_[sigma_l / n_gen * u.sum(), sigma_l / gen_b * ub.sum(axis=1)])
            y_win.append(np.r_[sigma_l / n_gen * u[win].sum(), sigma_l / gen_b * uw.sum(axis=1)])
            # weight spread r = n sum(u^2) / sum(u)^2, so that sum w^2 = Y^2 r / n_selected
            r_all.append(_spread(n_selected, np.r_[(u**2).sum(), (ub**2).sum(axis=1)], np.r_[u.sum(), ub.sum(axis=1)]))
            r_win.append(_spread(n_selected, np.r_[(u[win] ** 2).sum(), (uw**2).sum(axis=1)], np.r_[u[win].sum(), uw.sum(axis=1)]))
        bkg = np.array([row[2] == 0 for row in rows])
        sh = share[bkg] / share[bkg].sum()
        c, ya, yw, ra, rw = (np.array(x) for x in (c_b, y_all, y_win, r_all, r_win))  # (samples, 1 + n_boot)
        t = sh[:, None] * c  # CPU time of each sample at the scheme's shares of selected events
        t = t / t.sum(axis=0)  # ... in one CPU-second
        neff, neff_w = _neff(ya, ra, c, t), _neff(yw, rw, c, t)
        opt_t = np.sqrt(yw**2 * rw * c)
        opt_t = opt_t / np.maximum(opt_t.sum(axis=0), 1e-300)
        for key, v in (("background_neff_per_cpu_s", neff), ("window_neff_per_cpu_s", neff_w)):
            out[f"{scheme}_{key}"], out[f"{scheme}_{key}_err"] = rnd(v[0]), rnd(np.std(v[1:], ddof=1), 2)
        out[f"{scheme}_window_neff_per_cpu_s_optimal"] = rnd(_neff(yw, rw, c, opt_t)[0])
        out[f"{scheme}_background_simulated_per_selected"] = rnd(float(np.dot(sh, n_sim)))
        out[f"{scheme}_background_simulated_per_cpu_s"] = rnd(float(np.dot(sh, n_sim) / np.dot(sh, np.array(n_sim) * np.array(cpu_all))))
        boot[scheme] = {"all": neff, "window": neff_w}
        if scheme == "weighted":
            sel_rate = opt_t[:, 0] / c[:, 0]  # selected events of each sample per CPU-second, optimal
            bshare = sel_rate / sel_rate.sum() * share[bkg].sum()
            out["weighted_optimal_shares"] = {n: rnd(float(v), 2) for n, v in zip(names, bshare, strict=True)}
    for key, k in (("neff", "all"), ("window_neff", "window")):
        ratio = boot["weighted"][k] / boot["inclusive"][k]
        out[f"weighted_over_inclusive_{key}"], out[f"weighted_over_inclusive_{key}_err"] = rnd(ratio[0]), rnd(np.std(ratio[1:], ddof=1), 2)
    return out


def _spread(n: int, sum_u2: np.ndarray, sum_u: np.ndarray) -> np.ndarray:
    """n sum(u^2) / sum(u)^2 (0 where a replica has no event: it then adds no weight)."""
    den = sum_u**2
    return np.divide(n * sum_u2, den, out=np.zeros_like(den), where=den > 0)


def _neff(yields: np.ndarray, spread: np.ndarray, cost: np.ndarray, time_share: np.ndarray) -> np.ndarray:
    """Effective events per CPU-second of the sum of the samples: sample i simulated for time t_i
    has n_i = t_i / c_i events of total weight Y_i and weight spread r_i, so sum w^2 = Y_i^2 r_i / n_i."""
    sum_w = yields.sum(axis=0)
    sum_w2 = (yields**2 * spread * cost / np.maximum(time_share, 1e-300)).sum(axis=0)
    return sum_w**2 / np.maximum(sum_w2, 1e-300)


def measure(args: argparse.Namespace) -> dict:
    """Run the benchmark; the dict of its figures."""
    import awkward as ak

    from hepdl._util import quiet_stdout
    from hepdl.features.higgs import challenge_features
    from hepdl.sim.detector import load_card, simulate
    from hepdl.sim.events import LepHadSelection, reconstruct_lephad
    from hepdl.sim.generator import EventGenerator, GeneratorConfig, _final_state
    from hepdl.sim.truth import tau_truth

    card, sel = load_card("atlas"), LepHadSelection()
    out: dict[str, object] = {"benchmark": "higgs", "events_per_process": args.events, "repeats": args.repeat}

    def put(key: str, values: list[float]) -> None:
        m, e = mean_err(values)
        out[key], out[key + "_err"] = rnd(m), rnd(e, 2)

    totals = {"pythia": 0.0, "hepdl": 0.0, "events": 0}
    selected = []
    for proc in PROCESSES:
        gen = EventGenerator(GeneratorConfig(proc), 1234)
        if gen._pileup is not None:  # the steps below are next_batch's without pile-up
            raise SystemExit(f"{proc}: pile-up is configured; this benchmark times events without pile-up")
        gen.next_batch(10)  # warm-up
        rng = np.random.default_rng(1)
        ms: dict[str, list[float]] = {"pythia": [], "final_state": [], "detector_reco": [], "ratio": []}
        n_ok = n_all = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with quiet_stdout():
                events = gen._pythia.nextBatch(args.events)
            t1 = time.perf_counter()
            record = events.prt
            particles = _final_state(record, gen._charges)
            t2 = time.perf_counter()
            r = reconstruct_lephad(simulate(particles, card, rng), tau_truth(record), card, sel, rng)
            t3 = time.perf_counter()
            n = len(record)
            ms["pythia"].append(1e3 * (t1 - t0) / n)
            ms["final_state"].append(1e3 * (t2 - t1) / n)
            ms["detector_reco"].append(1e3 * (t3 - t2) / n)
            ms["ratio"].append((t3 - t1) / (t1 - t0))
            totals["pythia"] += t1 - t0
            totals["hepdl"] += t3 - t1
            totals["events"] += n
            ok = np.logical_and.reduce(list(r["masks"].values()))
            n_ok, n_all = n_ok + int(ok.sum()), n_all + n
            selected.append(ak.zip({k: v[ok] for k, v in r["fields"].items()}, depth_limit=1))
        p = proc.replace("-", "_")
        for step in ("pythia", "final_state", "detector_reco"):
            put(f"{p}_{step}_ms_per_event", ms[step])
        put(f"{p}_hepdl_over_pythia", ms["ratio"])
        out[f"{p}_selected_fraction"] = rnd(n_ok / n_all)
    out["pythia_ms_per_event"] = rnd(1e3 * totals["pythia"] / totals["events"])
    out["hepdl_ms_per_event"] = rnd(1e3 * totals["hepdl"] / totals["events"])
    out["hepdl_over_pythia"] = rnd(totals["hepdl"] / totals["pythia"])

    events = ak.concatenate(selected)
    out["n_selected"] = len(events)
    if len(events) == 0:
        raise SystemExit(f"no event of {totals['events']} passed the selection: use more --events")
    challenge_features(events[:5])  # compile the numba kernels
    with_mmc, without = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        challenge_features(events)
        t1 = time.perf_counter()
        challenge_features(events, mmc=False)
        t2 = time.perf_counter()
        with_mmc.append(t1 - t0)
        without.append(t2 - t1)
    put("features_events_per_s", [len(events) / t for t in with_mmc])
    put("features_no_mmc_events_per_s", [len(events) / t for t in without])
    put("mmc_over_no_mmc_time", [a / max(b, 1e-9) for a, b in zip(with_mmc, without, strict=True)])
    return out


if __name__ == "__main__":
    main()
