"""Unfolding: the paired particle/detector-level dataset, IBU, OmniFold, the cINN, their metrics and the task.

Identities and analytic answers: IBU on a diagonal response returns its input; IBU of a sample's own
detector level with its own response returns its particle level (misses and fakes included); the
cINN's posterior on a Gaussian smearing is the analytic Gaussian; OmniFold with data drawn like the
simulation returns unit weights, and with shifted data moves the particle level onto the truth.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hepdl.data import open as open_dataset
from hepdl.data.generate import generate_dataset
from hepdl.data.table import TableDataset
from hepdl.errors import ConfigError, DataError
from hepdl.features.unfolding import OBSERVABLES, unfolding_observables
from hepdl.metrics.unfolding import binning, chi2_ndf, compare, histogram, triangular_discriminator
from hepdl.models.unfolding import Response, ibu, ibu_replicas, response
from hepdl.tasks import unfolding as task


@pytest.fixture(scope="module")
def unfolding_path(tmp_path_factory):
    """600 events (300 simulation, 300 pseudo-data with alpha_s = 0.118) through Pythia, the detector and FastJet."""
    spec = task.dataset_spec(600, seed=4, per_part=150)
    return generate_dataset(spec, tmp_path_factory.mktemp("unfold") / "ds", workers=1, progress=False)


@pytest.fixture(scope="module")
def unfolding_ds(unfolding_path):
    return open_dataset(unfolding_path)


# -- the dataset ------------------------------------------------------------------------------------

def test_pairs_misses_and_fakes_are_kept_and_counted(unfolding_ds):
    ds = unfolding_ds
    f = ds.flags()
    assert len(ds) == 600 and ds.class_counts() == {"sim": 300, "data": 300}
    assert np.all(f["gen_pass"] | f["reco_pass"])  # every kept event passes at some level
    assert f["miss"].sum() > 0 and f["fake"].sum() > 0  # threshold migrations exist and are kept
    assert np.all(f["matched"] == (f["gen_pass"] & f["reco_pass"] & ~f["miss"] & ~f["fake"]))
    counts = ds.pair_counts()
    assert sum(c["matched"] + c["miss"] for c in counts.values()) == int(f["gen_pass"].sum())
    # the cutflow accounts for every generated event
    for name, flow in ds.metadata["cutflow"].items():
        assert flow["kept"] == ds.class_counts()[name] and flow["events"] >= flow["kept"]


def test_detector_level_follows_particle_level(unfolding_ds):
    """Physics: a matched jet's detector-level pT and mass follow its particle level (response near 1,
    strong correlation), its multiplicity is lower (tracking efficiency, calorimeter cells merge neutrals)."""
    gen, reco = unfolding_observables(unfolding_ds)
    m = unfolding_ds.flags()["matched"]
    ratio = reco["pt"][m] / gen["pt"][m]
    assert 0.9 < np.median(ratio) < 1.1
    assert np.corrcoef(gen["mass"][m], reco["mass"][m])[0, 1] > 0.7
    assert reco["multiplicity"][m].mean() < gen["multiplicity"][m].mean()
    assert set(OBSERVABLES) <= set(gen.columns)
    assert np.isfinite(gen.loc[unfolding_ds.flags()["gen_pass"], list(OBSERVABLES)].to_numpy()).all()


def test_softer_shower_coupling_gives_fewer_constituents(unfolding_ds):
    """The pseudo-data (alpha_s = 0.118 < 0.1365) radiates less: fewer particle-level constituents."""
    gen, _ = unfolding_observables(unfolding_ds)
    gp = unfolding_ds.flags()["gen_pass"]
    lab = unfolding_ds.labels
    assert gen["multiplicity"][gp & (lab == 1)].mean() < gen["multiplicity"][gp & (lab == 0)].mean()


def test_damaged_dataset_names_the_field(unfolding_path, tmp_path):
    import shutil

    import awkward as ak

    from hepdl.data.generate import write_part

    bad = tmp_path / "bad"
    shutil.copytree(unfolding_path, bad)
    meta = json.loads((bad / "dataset.json").read_text())
    part = meta["parts"][0]
    ev = ak.from_parquet(bad / part["file"])
    pt = ak.to_numpy(ev.gen_jet_pt).copy()
    pt[np.flatnonzero(ak.to_numpy(ev.gen_pass))[0]] = np.nan
    ev = ak.with_field(ev, pt, "gen_jet_pt")
    new = write_part(ev, {k: v for k, v in part.items() if k not in ("file", "sha256", "bytes")}, bad)
    meta["parts"][0] = new
    (bad / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="gen_jet_pt"):
        open_dataset(bad)


# -- metrics ----------------------------------------------------------------------------------------

def test_histogram_keeps_every_entry_and_metrics_have_known_values():
    v = np.array([-5.0, 0.1, 0.5, 0.9, 7.0])
    h = histogram(v, np.array([0.0, 0.5, 1.0]), n_bootstrap=3)
    assert h.p.sum() == pytest.approx(1.0) and h.p.tolist() == pytest.approx([0.4, 0.6])  # outside: first / last bin
    assert h.replicas.shape == (3, 2)
    p = np.array([0.5, 0.5])
    assert triangular_discriminator(p, p) == 0.0
    assert triangular_discriminator(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1000.0)
    assert chi2_ndf(np.array([0.6, 0.4]), np.array([0.1, 0.1]), np.array([0.4, 0.6]), np.zeros(2)) == pytest.approx(4.0)
    e = binning(np.arange(0, 100, dtype=float), 10, integer=True)
    assert np.allclose(np.diff(e), np.diff(e)[0]) and e[0] % 1 == 0.5


def test_compare_of_a_distribution_with_itself():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20000)
    edges = np.linspace(-3, 3, 13)
    a, b = histogram(x[:10000], edges, seed=1), histogram(x[10000:], edges, seed=2)
    c = compare(a, b)
    assert 0.3 < c["chi2_ndf"]["value"] < 2.5  # two samples of one distribution: chi2/ndf ~ 1
    assert c["chi2_ndf"]["error"] > 0 and c["triangular"]["value"] < 2.5  # expected: bins / (2 N) x 1000 = 0.6


# -- IBU --------------------------------------------------------------------------------------------

def test_ibu_on_a_diagonal_response_returns_its_input():
    data = np.array([10.0, 40.0, 25.0, 5.0])
    r = Response(np.eye(4), np.ones(4), np.zeros(4), np.array([1.0, 1.0, 1.0, 100.0]), np.arange(5.0), np.arange(5.0))
    for n_iter in (1, 4):
        assert np.allclose(ibu(data, r, n_iter), data)


def test_ibu_unfolds_a_sample_with_its_own_response_exactly():
    """With the sample's own response (efficiency and fakes included) and its truth as prior, IBU's
    fixed point is that truth: the unfolding of its detector level returns its particle level."""
    rng = np.random.default_rng(3)
    n = 50000
    gen = rng.normal(0, 1, n)
    reco = gen + rng.normal(0, 0.5, n)
    gen_pass = rng.random(n) < 0.95
    reco_pass = (rng.random(n) < 0.9) | ~gen_pass  # misses and fakes
    matched = gen_pass & reco_pass
    edges = np.linspace(-3, 3, 13)
    resp = response(gen, reco, gen_pass, reco_pass, matched, edges, edges)
    assert np.all(resp.efficiency <= 1) and resp.fake_fraction.max() > 0
    truth = np.bincount(np.clip(np.searchsorted(edges, gen[gen_pass], side="right") - 1, 0, 11), minlength=12)
    unfolded, reps = ibu_replicas(reco[reco_pass], resp, 3, n_bootstrap=5)
    assert np.allclose(unfolded, truth, rtol=1e-9)
    assert reps.shape == (5, 12)


def test_ibu_recovers_a_shifted_truth():
    """Pseudo-data from a shifted distribution, unfolded with a simulation's response: closer to its truth than the prior is."""
    rng = np.random.default_rng(4)
    edges = np.linspace(-3, 3, 13)

    def sample(n, mu):
        g = rng.normal(mu, 1, n)
        return g, g + rng.normal(0, 0.4, n)

    g, r = sample(200000, 0.0)
    ok = np.ones(len(g), bool)
    resp = response(g, r, ok, ok, ok, edges, edges)
    gd, rd = sample(200000, 0.4)
    truth = histogram(gd, edges, n_bootstrap=0).p
    u = ibu(np.bincount(np.clip(np.searchsorted(edges, rd, side="right") - 1, 0, 11), minlength=12).astype(float), resp, 10)
    assert np.abs(u / u.sum() - truth).max() < 0.3 * np.abs(resp.prior / resp.prior.sum() - truth).max()


# -- the cINN and OmniFold, through the one trainer --------------------------------------------------

def test_cinn_posterior_of_a_gaussian_smearing_is_analytic(tmp_path):
    """x ~ N(0, 1), y = x + N(0, sigma^2): p(x | y) = N(y / (1 + sigma^2), sigma^2 / (1 + sigma^2))."""
    from hepdl.train import TrainConfig, train
    from hepdl.train.trainer import load_trained, model_inputs, score_inputs

    rng = np.random.default_rng(0)
    n, sigma = 12000, 0.5
    x = rng.normal(size=n)
    y = x + sigma * rng.normal(size=n)
    ds = TableDataset(pd.DataFrame({"measured": y}), targets=x[:, None], target_names=["true"], path="toy")
    train(TrainConfig("cinn", epochs=12, batch_size=256, lr=3e-3, objective="density", n_bootstrap=0), ds, tmp_path / "cinn", progress=False)
    _, pre, model = load_trained(tmp_path / "cinn")
    for y0 in (-1.0, 1.5):
        s = score_inputs(model, model_inputs(TableDataset(pd.DataFrame({"measured": np.full(20000, y0)}), path="q"), pre))[:, 0]
        assert s.mean() == pytest.approx(y0 / (1 + sigma**2), abs=0.06)
        assert s.std() == pytest.approx(np.sqrt(sigma**2 / (1 + sigma**2)), rel=0.1)


def test_density_objective_refuses_a_network_without_likelihood(tmp_path):
    from hepdl.models import register, spec
    from hepdl.models.registry import ModelSpec
    from hepdl.train import TrainConfig, train

    register(ModelSpec("dnn-as-flow", spec("dnn").build, "features", "test", {"small": {"hidden": (4,)}}, objectives=("density",)))
    ds = TableDataset(pd.DataFrame({"a": np.arange(40.0)}), targets=np.arange(40.0)[:, None], path="toy")
    with pytest.raises(ConfigError, match="log_prob"):
        train(TrainConfig("dnn-as-flow", epochs=1, objective="density", n_bootstrap=0), ds, tmp_path / "m", progress=False)


def _toy_levels(rng, n, mu):
    g = rng.normal(mu, 1.0, size=(n, 2))
    r = g + rng.normal(0, 0.3, size=(n, 2))
    return pd.DataFrame(g, columns=["a", "b"]), pd.DataFrame(r, columns=["a", "b"])


def test_omnifold_unit_weights_for_identical_data_and_moves_onto_a_shifted_truth(tmp_path):
    from hepdl.train.omnifold import OmniFoldConfig, omnifold

    rng = np.random.default_rng(5)
    n = 6000
    sg, sr = _toy_levels(rng, n, 0.0)
    ok = np.ones(n, bool)
    cfg = OmniFoldConfig(iterations=1, epochs=4, batch_size=256, preset="small", patience=2)
    _, dr = _toy_levels(rng, n, 0.0)
    same = omnifold(sg, sr, ok, ok, dr, tmp_path / "same", cfg, progress=False)
    w = same.weights
    assert abs(w.mean() - 1) < 0.02 and w.std() < 0.15  # unit weights within the classifiers' noise
    assert len(same.steps) == 2  # no misses: no step 1b
    dg, dr = _toy_levels(rng, n, 0.5)
    moved = omnifold(sg, sr, ok, ok, dr, tmp_path / "shift", OmniFoldConfig(iterations=2, epochs=6, batch_size=256, preset="small",
                                                                            patience=2), progress=False)
    mean = np.average(sg["a"], weights=moved.weights)
    assert abs(mean - dg["a"].mean()) < 0.12 and mean > 0.3  # from 0 most of the way to the truth's 0.5


def test_omnifold_refuses_bad_input(tmp_path):
    from hepdl.train.omnifold import OmniFoldConfig, omnifold

    g = pd.DataFrame({"a": [1.0, 2.0, np.nan]})
    ok = np.array([True, True, True])
    with pytest.raises(DataError, match="'a'"):
        omnifold(g, g, ok, ok, g.iloc[:2], tmp_path, OmniFoldConfig(iterations=1))
    with pytest.raises(DataError, match="columns"):
        omnifold(g, g, ok, ok, pd.DataFrame({"b": [1.0]}), tmp_path)
    with pytest.raises(ConfigError, match="iterations"):
        OmniFoldConfig(iterations=0)


def test_table_dataset_names_the_bad_column():
    with pytest.raises(DataError, match="'y'"):
        TableDataset(pd.DataFrame({"x": [1.0, 2.0], "y": [np.inf, 1.0]}))
    with pytest.raises(DataError, match="weights"):
        TableDataset(pd.DataFrame({"x": [1.0, 2.0]}), weights=np.array([1.0, -1.0]))


# -- the task ---------------------------------------------------------------------------------------

def test_preset_validation():
    with pytest.raises(ConfigError, match="unknown unfolding method"):
        task.UnfoldingPreset(n_events=10, methods=["svd"])
    with pytest.raises(ConfigError, match="cinn setting"):
        task.UnfoldingPreset(n_events=10, cinn={"depth": 3})


def test_run_unfolding_end_to_end(unfolding_path, tmp_path, monkeypatch):
    monkeypatch.setitem(task.PRESETS, "tiny", {"n_events": 600, "n_bins": 8, "n_bootstrap": 5,
                                               "omnifold": {"iterations": 1, "epochs": 2, "preset": "small"},
                                               "cinn": {"epochs": 2, "draws": 2}})
    out = task.run("tiny", dataset=unfolding_path, runs_dir=tmp_path, progress=False)
    for method in ("detector", "prior", "ibu", "omnifold", "cinn"):
        m = json.loads((out / method / "metrics.json").read_text())
        assert m["objective"] == "unfold" and set(m["observables"]) == set(OBSERVABLES)
        assert all(np.isfinite(v["chi2_ndf"]["value"]) for v in m["observables"].values())
        if method not in ("detector", "prior"):
            assert set(m["closure"]) == set(OBSERVABLES)
    assert (out / "omnifold" / "steps" / "iter1-step1" / "metrics.json").exists()  # each step a normal model directory
    w = np.load(out / "omnifold" / "scores.npz")["weights"]
    assert len(w) == 300 and np.all(w > 0)
    html = (out / "report.html").read_text()
    for fig in ("unfolded", "closure", "chi2", "omnifold_weights"):
        assert (out / "plots" / f"{fig}.png").exists() and fig in html
    assert "misses" in html and "closure" in (out / "table.txt").read_text()
    assert "fewer than" not in html  # the references are never the best of a column, and they are not 1/eps_B lower limits


def test_run_refuses_a_dataset_of_another_domain(top_dataset_path, tmp_path):
    with pytest.raises(ConfigError, match="not an unfolding dataset"):
        task.run("quick", dataset=top_dataset_path, runs_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="unknown preset"):
        task.run("huge", dataset=top_dataset_path, runs_dir=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # nothing written


def test_ibu_refuses_zero_iterations():
    r = Response(np.eye(2), np.ones(2), np.zeros(2), np.ones(2), np.arange(3.0), np.arange(3.0))
    with pytest.raises(ConfigError, match="iteration"):
        ibu(np.ones(2), r, 0)


def test_warm_start_takes_the_weights_and_checks_the_model(tmp_path):
    """TrainConfig.init_from (OmniFold's warm start): a model started from another's weights and not
    moved (learning rate ~ 0) scores as that model; a missing checkpoint or another model is refused."""
    from hepdl.train import TrainConfig, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(np.int64)
    ds = TableDataset(pd.DataFrame(x, columns=["a", "b", "c"]), y, path="toy", label_names=["0", "1"])
    base = dict(epochs=3, batch_size=64, n_bootstrap=0, split_seed=1)
    train(TrainConfig("dnn", **base), ds, tmp_path / "a", progress=False)
    train(TrainConfig("dnn", **{**base, "epochs": 1}, lr=1e-12, init_from=str(tmp_path / "a")), ds, tmp_path / "b", progress=False)
    sa, sb = (np.load(tmp_path / d / "scores.npz")["scores"] for d in ("a", "b"))
    np.testing.assert_allclose(sa, sb, atol=1e-5)
    with pytest.raises(ConfigError, match="does not exist"):
        train(TrainConfig("dnn", **base, init_from=str(tmp_path / "nowhere.ckpt")), ds, tmp_path / "c", progress=False)
    with pytest.raises(ConfigError, match="holds model"):
        train(TrainConfig("kan", **base, init_from=str(tmp_path / "a")), ds, tmp_path / "d", progress=False)
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()
