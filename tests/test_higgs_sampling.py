"""The H -> tau tau sampling tricks (forced decays with their branching fraction in the weight,
phase-space slices, the generator-level lepton filter) give the weighted yields of the inclusive
samples: each is compared with its inclusive sample after the full selection, on real Pythia events
through the detector, within statistics."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from hepdl.data.generate import DatasetSpec, SampleSpec, generate_part
from hepdl.errors import ConfigError
from hepdl.sim.detector import load_card
from hepdl.sim.events import LepHadSelection
from hepdl.sim.generator import EventGenerator, GeneratorConfig, force_decays
from hepdl.sim.processes import ForcedDecay, get_process
from hepdl.sim.truth import _flat
from hepdl.tasks.higgs_tautau import SCHEMES, dataset_spec

# tau decays without spin correlations: 3x faster for Z/gamma* -> tau tau, and the same on both
# sides of every comparison (the forcing itself is checked with the default decays below)
FAST = ("TauDecays:mode = 0",)


def _pythia_table():
    import pythia8mc

    return pythia8mc.Pythia("", False).particleData


def test_forced_tau_decay_fraction_is_the_lepton_times_hadron_branching_fraction():
    modes, fraction = force_decays(_pythia_table(), (ForcedDecay(15, "leptonic", "hadronic"),))
    b_lep = 0.1782 + 0.1739  # PDG: tau -> e nu nu, mu nu nu
    assert fraction == pytest.approx(b_lep * (1 - b_lep), abs=0.004)
    assert all(m.startswith("15:") for m in modes) and {m[-1] for m in modes} == {"2", "3"}  # particle / antiparticle only
    # a resonance's forced fraction is Pythia's own (in its cross-section): no extra factor
    assert force_decays(_pythia_table(), (ForcedDecay(24, "leptonic", "any"),))[1] == 1.0
    with pytest.raises(ConfigError, match="must be one of"):
        ForcedDecay(15, "semileptonic")


def test_forced_tau_pairs_decay_as_forced():
    """ztautau-lh (default tau decays, spin correlations on): the tau- decays to e/mu, the tau+ to hadrons."""
    gen = EventGenerator(GeneratorConfig("ztautau-lh", mpi=False), 3)
    f = _flat(gen.next_batch(60).record)
    lepton = np.isin(np.abs(f["pid"]), (11, 13)) & (np.abs(f["mother_id"]) == 15)
    from_minus = np.bincount(f["event"][lepton & (f["mother_id"] == 15)], minlength=60)
    from_plus = np.bincount(f["event"][lepton & (f["mother_id"] == -15)], minlength=60)
    assert (from_minus == 1).all() and (from_plus == 0).all()
    assert get_process("ztautau-lh").family == "ztautau"


def _process_sigma(process: str, n: int = 3000) -> tuple[float, float]:
    gen = EventGenerator(GeneratorConfig(process, extra_settings=("PartonLevel:all = off", "HadronLevel:all = off")), 5)
    gen.next_batch(n)
    return gen.sigma_mb, gen.sigma_err_mb


def test_ttbar_with_a_leptonic_w_is_the_inclusive_cross_section_times_one_minus_all_hadronic():
    s0, e0 = _process_sigma("ttbar")
    sa, ea = _process_sigma("ttbar-wplep")
    sb, eb = _process_sigma("ttbar-wmlep")
    entry = _pythia_table().particleDataEntryPtr(24)
    b_had = sum(entry.channel(i).bRatio() for i in range(entry.sizeChannels())
                if not any(abs(entry.channel(i).product(j)) in (11, 13, 15) for j in range(entry.channel(i).multiplicity())))
    expected = s0 * (1 - b_had**2)
    assert abs(sa + sb - expected) < 4 * math.hypot(math.hypot(ea, eb), e0 * (1 - b_had**2))
    assert sa / s0 == pytest.approx(1 - b_had, rel=0.05)


def _yield(process: str, n: int, seed: int, selection: LepHadSelection | None = None, **gen: object) -> tuple[float, float, dict]:
    """Weighted selected yield (pb, after the tau-ID weight) of ``n`` selected events, with its error."""
    extra = tuple(gen.pop("extra_settings", ())) + FAST  # type: ignore[call-overload]
    sample = SampleSpec("s", 0, GeneratorConfig(process, mpi=False, extra_settings=extra, **gen), n)  # type: ignore[arg-type]
    spec = DatasetSpec(task="t", samples=[sample], selection=selection or LepHadSelection(), seed=seed, luminosity_fb=1.0)
    events, meta = generate_part(spec, 0, 0, n, load_card("atlas"))
    u = ak.to_numpy(events.weight) * ak.to_numpy(events.id_weight)
    scale = meta["sigma_mb"] * 1e9 / meta["cutflow"]["events"]
    return scale * u.sum(), scale * math.sqrt((u**2).sum()), meta


def _agree(a: tuple[float, float], b: tuple[float, float], n_sigma: float = 3.0) -> bool:
    return abs(a[0] - b[0]) < n_sigma * math.hypot(a[1], b[1])


@pytest.fixture(scope="module")
def ztautau_inclusive():
    return _yield("ztautau", 60, 21)


def test_forced_lepton_hadron_tau_pairs_give_the_inclusive_yield(ztautau_inclusive):
    lh, hl = _yield("ztautau-lh", 40, 22), _yield("ztautau-hl", 40, 23)
    forced = (lh[0] + hl[0], math.hypot(lh[1], hl[1]))
    assert _agree(forced, ztautau_inclusive[:2]), (forced, ztautau_inclusive[:2])
    # forcing pays: fewer Pythia events per selected event
    n_per = [m["cutflow"]["events"] / m["cutflow"]["selected"] for m in (ztautau_inclusive[2], lh[2], hl[2])]
    assert n_per[1] < 0.7 * n_per[0] and n_per[2] < 0.7 * n_per[0]


def test_truth_lepton_filter_keeps_the_yield_and_counts_in_the_cutflow(ztautau_inclusive):
    unfiltered = _yield("ztautau", 60, 24, LepHadSelection(truth_lepton_pt_min=0.0))
    assert _agree(unfiltered[:2], ztautau_inclusive[:2]), (unfiltered[:2], ztautau_inclusive[:2])
    flow = ztautau_inclusive[2]["cutflow"]
    assert list(flow)[:3] == ["events", "truth_lepton", "one_lepton"]
    assert flow["truth_lepton"] < 0.6 * flow["events"] and flow["one_lepton"] <= flow["truth_lepton"]
    assert "truth_lepton" not in unfiltered[2]["cutflow"]
    with pytest.raises(ConfigError, match="truth_lepton_pt_min"):
        LepHadSelection(truth_lepton_pt_min=25.0)


def test_pthat_slices_of_w_jets_add_up_to_the_inclusive_yield():
    inclusive = _yield("wjets-lnu", 60, 31)
    low, high = _yield("wjets-lnu", 40, 32, pthat_max=50.0), _yield("wjets-lnu", 40, 33, pthat_min=50.0)
    assert _agree((low[0] + high[0], math.hypot(low[1], high[1])), inclusive[:2])


def test_ttbar_with_a_leptonic_w_gives_the_inclusive_yield():
    inclusive = _yield("ttbar", 50, 41)
    a, b = _yield("ttbar-wplep", 30, 42), _yield("ttbar-wmlep", 30, 43)
    assert _agree((a[0] + b[0], math.hypot(a[1], b[1])), inclusive[:2])


def test_weighted_scheme_covers_each_process_once():
    """The slices of the default scheme tile their process's phase space and charge assignments."""
    rows = SCHEMES["weighted"]
    spec = dataset_spec(len(rows) * 2)
    z = [s for s in spec.samples if s.generator.process.startswith("ztautau")]
    assert sorted(s.generator.process for s in z) == ["ztautau-hl", "ztautau-hl", "ztautau-lh", "ztautau-lh"]
    assert sorted(s.generator.extra_settings for s in z)[::2] == [("PhaseSpace:mHatMax = 100.0",), ("PhaseSpace:mHatMin = 100.0",)]
    w = sorted((s.generator.pthat_min, s.generator.pthat_max) for s in spec.samples if s.generator.process == "wjets-lnu")
    assert w == [(20.0, 50.0), (50.0, None)]
    with pytest.raises(ConfigError, match="unknown sample scheme"):
        dataset_spec(100, scheme="sliced")
