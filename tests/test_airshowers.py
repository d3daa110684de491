"""Air showers on a surface array: the simulation's physics and geometry, the classic fits, the
networks' identities, the dataset's bookkeeping and the task end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hepdl.data import generate_dataset
from hepdl.data import open as open_dataset
from hepdl.data.airshowers import AirShowerSpec
from hepdl.errors import ConfigError, DataError
from hepdl.features.airshowers import station_arrays
from hepdl.metrics.regression import merit_factor, opening_angle, quantile68, shower_metrics
from hepdl.models.airshowers import ArrayCNN, HexConv2d, LDFFit, StationSet
from hepdl.sim.airshowers import (
    C_M_PER_NS,
    ArrayConfig,
    front_times,
    ldf,
    mean_xmax,
    shower_axis,
    shower_plane,
    simulate_showers,
    station_positions,
)
from hepdl.train import TrainConfig, predict, train


def _inputs(o: dict[str, np.ndarray], cfg: ArrayConfig) -> dict[str, np.ndarray]:
    return station_arrays(o["time"], o["signal"], o["triggered"], o["saturated"], o["trace"], station_positions(cfg))


@pytest.fixture(scope="module")
def showers():
    cfg = ArrayConfig()
    return simulate_showers(800, "proton", np.random.default_rng(5), cfg), cfg


# -- geometry and physics ------------------------------------------------------------------------------

def test_front_times_follow_the_geometry():
    pos = station_positions(ArrayConfig())[None]
    core = np.zeros((1, 2))
    # vertical: the plane reaches every station at once; the sphere lags by (sqrt(R^2 + d^2) - R) / c
    vertical = shower_axis(np.array([0.0]), np.array([0.0]))
    assert np.allclose(front_times(pos, core, vertical, None), 0.0)
    d = np.hypot(pos[0, :, 0], pos[0, :, 1])
    assert np.allclose(front_times(pos, core, vertical, np.array([10_000.0]))[0], (np.sqrt(1e8 + d**2) - 1e4) / C_M_PER_NS)
    # inclined at 45 deg from +x: a station 1500 m along +x (towards the source) is reached 1500 sin45 / c earlier
    ax = shower_axis(np.array([np.pi / 4]), np.array([0.0]))
    t = front_times(np.array([[[1500.0, 0.0], [0.0, 1500.0]]]), core, ax, None)[0]
    assert t[0] == pytest.approx(-1500 * np.sin(np.pi / 4) / C_M_PER_NS) and t[1] == pytest.approx(0.0, abs=1e-9)
    # a very large radius is the plane
    assert np.allclose(front_times(pos, core, ax, np.array([1e12])), front_times(pos, core, ax, None), atol=1e-3)


def test_station_grid_is_triangular():
    pos = station_positions(ArrayConfig(n_side=5))
    d = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    nearest = np.sort(d, axis=1)[:, 1]
    assert np.allclose(nearest, 1500.0)
    assert (np.isclose(d, 1500.0).sum(1) == 6).sum() == 9  # the inner 3 x 3 stations have six neighbours


def test_ldf_is_one_at_1000_m_and_integrates():
    from scipy.integrate import quad

    assert ldf(np.array([1000.0]), -2.4)[0] == pytest.approx(1.0)
    # the integral over the shower plane of the modified NKG with beta = -2: the numerical one on a
    # fine log grid (what the simulation's station sums approximate) agrees with quad
    r = np.logspace(np.log10(30), np.log10(20_000), 20_001)
    grid = np.trapezoid(2 * np.pi * r * ldf(r, -2.0), r)
    ref = quad(lambda x: 2 * np.pi * x * ldf(np.array([x]), -2.0)[0], 30, 20_000, limit=200)[0]
    assert grid == pytest.approx(ref, rel=1e-4)


def test_traces_integrate_to_the_lateral_distribution(showers):
    """Unsaturated stations within 1500 m of the axis record, on average, the signal the LDF
    expects (the trace window keeps nearly all particles; the water's light decay conserves charge)."""
    o, cfg = showers
    ax = shower_axis(o["zenith"], o["azimuth"])
    r, _ = shower_plane(station_positions(cfg)[None].repeat(len(ax), 0), np.column_stack([o["core_x"], o["core_y"]]), ax)
    expected = o["signal_em"] + o["signal_mu"]
    use = o["triggered"] & ~o["saturated"] & (r > 300) & (r < 1500) & (expected > 30)
    ratio = o["signal"][use].sum() / expected[use].sum()
    assert use.sum() > 200 and 0.93 < ratio < 1.02


def test_xmax_elongation_and_composition(showers):
    o, _ = showers
    iron = simulate_showers(800, "iron", np.random.default_rng(6))
    # superposition: iron showers reach their maximum log10(56) decades of elongation earlier
    assert mean_xmax(19.0, 1) - mean_xmax(19.0, 56) == pytest.approx(58 * np.log10(56))
    shift = (o["xmax"] - mean_xmax(o["lg_energy"], 1)).mean() - (iron["xmax"] - mean_xmax(iron["lg_energy"], 56)).mean()
    assert abs(shift) < 8  # both centred on their means (sigma 60 and 20 g/cm^2)
    assert 50 < np.std(o["xmax"] - mean_xmax(o["lg_energy"], 1)) < 70 and 15 < np.std(iron["xmax"] - mean_xmax(iron["lg_energy"], 56)) < 25
    # iron has more muons: at the same energy and zenith its muonic share at 1000 m is larger
    assert np.median(iron["signal_mu"][iron["triggered"]]) > np.median(o["signal_mu"][o["triggered"]])


def test_particles_lag_the_front_more_far_from_the_core(showers):
    """Start times minus the plane front grow with distance from the axis (the curved front and the
    wider arrival-time spread), the geometry the spherical fit and the networks exploit."""
    o, cfg = showers
    pos = station_positions(cfg)[None].repeat(len(o["zenith"]), 0)
    ax = shower_axis(o["zenith"], o["azimuth"])
    core = np.column_stack([o["core_x"], o["core_y"]])
    lag = o["time"] - front_times(pos, core, ax, None)
    lag = lag - np.where(o["triggered"], lag, np.inf).min(1, keepdims=True)
    r, _ = shower_plane(pos, core, ax)
    near, far = o["triggered"] & (r < 800), o["triggered"] & (r > 1800)
    assert np.median(lag[far]) > np.median(lag[near]) + 100  # ns


# -- the classic reconstruction -------------------------------------------------------------------------

def test_plane_fit_recovers_the_direction_of_planar_times():
    rng = np.random.default_rng(0)
    pos = station_positions(ArrayConfig())[None].repeat(50, 0)
    zen, az = np.arccos(rng.uniform(0.5, 1, 50)), rng.uniform(0, 2 * np.pi, 50)
    ax = shower_axis(zen, az)
    t = front_times(pos, rng.normal(0, 500, (50, 2)), ax, None) + 1234.0
    w = np.zeros((50, 81))
    for i in range(50):
        w[i, rng.choice(81, 5, replace=False)] = 1.0
    fitted, _, ok = LDFFit.plane_fit(t, pos, w)
    assert ok.all() and np.degrees(opening_angle(fitted, ax)).max() < 1e-6


def test_classic_reconstruction_on_simulated_showers(showers):
    o, cfg = showers
    X = _inputs(o, cfg)
    y = np.column_stack([shower_axis(o["zenith"], o["azimuth"]), o["core_x"], o["core_y"], o["lg_energy"], o["xmax"]])
    tr, te = np.arange(500), np.arange(500, 800)
    model = LDFFit().fit_split(SimpleNamespace(X={k: v[tr] for k, v in X.items()}, y=y[tr]), None)
    assert -3.0 < model.beta[0] < -2.0  # the fitted LDF slope is the simulated one's
    pred = model.score({k: v[te] for k, v in X.items()})
    m = shower_metrics(pred, y[te], o["zenith"][te], np.zeros(len(te)), n_bootstrap=5)
    assert m["angular_resolution_deg"]["value"] < 0.6 and m["core_resolution_m"]["value"] < 60
    assert m["energy_resolution"]["value"] < 0.2 and abs(m["energy_bias"]["value"]) < 0.05
    d = model.diagnostics()
    assert d["events"] == 300 and d["ldf_fit_failed"] + d["plane_fit_failed"] < 15 and d["sphere_fit_used"] > 250


def test_shower_metrics_on_hand_made_cases():
    rng = np.random.default_rng(1)
    n = 20000
    truth = np.zeros((n, 7))
    truth[:, 2] = 1.0
    truth[:, 5] = rng.uniform(18.5, 20, n)
    pred = truth.copy()
    tilt = np.radians(rng.rayleigh(1.0, n))  # a 2-D Gaussian of 1 deg per axis: 68 % quantile = 1.515 deg
    pred[:, 0], pred[:, 2] = np.sin(tilt), np.cos(tilt)
    pred[:, 3] = 30.0
    pred[:, 5] += np.log10(1.1)
    labels = rng.integers(0, 2, n)
    pred[:, 6] = np.where(labels == 1, 100.0, 0.0) + rng.normal(0, 50, n)
    m = shower_metrics(pred, truth, np.zeros(n), labels, n_bootstrap=5)
    assert m["angular_resolution_deg"]["value"] == pytest.approx(np.sqrt(-2 * np.log(1 - 0.6827)), rel=0.03)
    assert m["core_resolution_m"]["value"] == pytest.approx(30.0)
    assert m["energy_bias"]["value"] == pytest.approx(0.1) and m["energy_resolution"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert m["xmax_merit_factor"]["value"] == pytest.approx(100 / np.sqrt(2 * 50**2), rel=0.05)
    assert np.isnan(merit_factor(np.array([0.0, 1.0, 2.0]), np.array([0, 1, 1])))  # one proton: undefined
    assert quantile68(np.arange(10001.0)) == pytest.approx(6827.0)
    with pytest.raises(DataError):
        shower_metrics(pred[:, :6], truth[:, :6], np.zeros(n), labels)


# -- the networks ---------------------------------------------------------------------------------------

def _batch(b: int = 3, s: int = 81, t: int = 80, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(b, s, generator=g) < 0.2).float()
    mask[:, :3] = 1.0
    return (torch.rand(b, s, t, generator=g) * mask[..., None], torch.randn(b, s, 4, generator=g) * mask[..., None], mask,
            torch.randn(b, s, 2, generator=g))


def test_station_set_is_permutation_invariant_and_ignores_padding():
    torch.manual_seed(0)
    net = StationSet(n_outputs=7, embed=16, heads=2, blocks=1, ffn=32).eval()
    traces, st, mask, pos = _batch()
    out = net(traces, st, mask, pos)
    perm = torch.randperm(81)
    assert torch.allclose(net(traces[:, perm], st[:, perm], mask[:, perm], pos[:, perm]), out, atol=1e-5)
    junk = mask[..., None] == 0  # padded stations' values must not matter
    assert torch.allclose(net(torch.where(junk, 5.0, traces), torch.where(junk, -3.0, st), mask, torch.where(junk, 9.0, pos)), out, atol=1e-5)
    pad = lambda x: torch.cat([x, torch.zeros(x.shape[0], 7, *x.shape[2:])], 1)  # noqa: E731 - seven more padded stations
    assert torch.allclose(net(pad(traces), pad(st), pad(mask), pad(pos)), out, atol=1e-5)


def test_array_cnn_sees_only_triggered_stations_and_hexagonal_neighbours():
    torch.manual_seed(0)
    net = ArrayCNN(n_outputs=7).eval()
    traces, st, mask, pos = _batch()
    out = net(traces, st, mask, pos)
    junk = mask[..., None] == 0
    assert torch.allclose(net(torch.where(junk, 4.0, traces), torch.where(junk, 2.0, st), mask, pos * 7), out, atol=1e-5)
    conv = HexConv2d(1, 1)
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0  # one station: which outputs does it reach?
    reach = (conv(x) - conv(torch.zeros_like(x)))[0, 0].abs() > 0
    assert reach.sum() == 7 and not reach[1, 1] and not reach[3, 3]  # itself and its six neighbours
    with pytest.raises(ConfigError):
        ArrayCNN(n_stations=80)


def test_regression_loss_falls_and_predict_reproduces(airshowers, tmp_path):
    cfg = TrainConfig("airshower-cnn", epochs=4, batch_size=32, lr=3e-3, patience=10, n_bootstrap=5)
    m = train(cfg, airshowers, tmp_path / "run" / "airshower-cnn", progress=False)
    log = np.genfromtxt(tmp_path / "run" / "airshower-cnn" / "history.csv", delimiter=",", names=True)
    assert log["val_loss"][-1] < log["val_loss"][0]
    assert m["objective"] == "regress" and "angular_resolution_deg" in m and "resolution_xmax" in m
    b = train(TrainConfig("ldf-fit", n_bootstrap=5), airshowers, tmp_path / "run" / "ldf-fit", progress=False)
    assert b["diagnostics"]["events"] == len(np.load(tmp_path / "run" / "ldf-fit" / "scores.npz")["index"])
    stored = np.load(tmp_path / "run" / "ldf-fit" / "scores.npz")
    again = predict(tmp_path / "run", airshowers)
    np.testing.assert_allclose(again["ldf-fit"][stored["index"]], stored["scores"], rtol=1e-9)
    assert again["airshower-cnn"].shape == (len(airshowers), 7)
    # deployment: ONNX Runtime reproduces torch (outputs in metres and g/cm^2: relative to their size)
    from hepdl.deploy import OnnxModel, export_onnx

    exp = export_onnx(tmp_path / "run" / "airshower-cnn", tmp_path / "onnx")
    got = OnnxModel(exp).predict(airshowers, batch_size=37)
    scale = np.abs(again["airshower-cnn"]).max(axis=0)
    assert np.max(np.abs(got - again["airshower-cnn"]) / np.maximum(scale, 1.0)) < 1e-5
    with pytest.raises(ConfigError, match="classic fit"):
        export_onnx(tmp_path / "run" / "ldf-fit", tmp_path / "onnx-fit")


# -- the dataset ----------------------------------------------------------------------------------------

def test_dataset_is_deterministic_resumable_and_bookkept(tmp_path):
    spec = AirShowerSpec(60, per_part=20, seed=4, array=ArrayConfig(threshold_vem=20.0))
    a = generate_dataset(spec, tmp_path / "a", workers=1, progress=False)
    meta = json.loads((a / "dataset.json").read_text())
    for name, flow in meta["cutflow"].items():  # the high threshold loses showers: each one is in the cutflow
        assert flow["three_stations"] == 30 and flow["events"] > 30, (name, flow)
    (a / meta["parts"][1]["file"]).unlink()
    generate_dataset(spec, tmp_path / "a", workers=1, progress=False)  # regenerates the missing part only
    b = generate_dataset(spec, tmp_path / "b", workers=1, progress=False)
    assert [p["sha256"] for p in json.loads((a / "dataset.json").read_text())["parts"]] == [p["sha256"] for p in json.loads((b / "dataset.json").read_text())["parts"]]
    ds = open_dataset(a)
    assert len(ds) == 60 and (ds.arrays["triggered"].sum(1) >= 3).all() and ds.targets.shape == (60, 7)
    assert "at least 3 triggered stations" in ds.summary()


def test_bad_air_shower_input(tmp_path, airshowers, top_dataset):
    with pytest.raises(ConfigError, match="unknown primaries"):
        AirShowerSpec(10, primaries={"helium": 1.0})
    with pytest.raises(ConfigError, match="n_side"):
        ArrayConfig(n_side=2)
    with pytest.raises(ConfigError, match="'stations' representation"):
        train(TrainConfig("dnn", objective="regress"), airshowers, tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="airshowers data"):
        train(TrainConfig("ldf-fit"), top_dataset, tmp_path / "y", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_damaged_air_shower_dataset_names_the_field(tmp_path):
    import awkward as ak

    from hepdl.data.generate import write_part

    out = generate_dataset(AirShowerSpec(8, per_part=4), tmp_path / "ds", workers=1, progress=False)
    meta = json.loads((out / "dataset.json").read_text())
    part = out / meta["parts"][0]["file"]
    rec = ak.from_parquet(part)
    bad = ak.with_field(rec, ak.to_regular(ak.from_numpy(np.zeros((len(rec), 5))), axis=-1), "signal")
    new = write_part(bad, {k: v for k, v in meta["parts"][0].items() if k not in ("file", "sha256", "bytes")}, out)
    meta["parts"][0] = new
    (out / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="field 'signal' is not a fixed-length station list"):
        open_dataset(out)


def test_run_air_showers_from_the_command_line(run_main, airshower_path, tmp_path):
    r = run_main("run", "air-showers", "--data", airshower_path, "--runs", tmp_path, "--epochs", "1",
                 "--models", "plane-fit,ldf-fit,airshower-set")
    assert r.returncode == 0, r.stderr[-2000:]
    run = next((tmp_path / "air-showers").iterdir())
    html = (run / "report.html").read_text()
    for fig in ("resolution_energy", "resolution_zenith", "scatter", "xmax", "footprint", "trace"):
        assert (run / "plots" / f"{fig}.png").exists() and f"plots/{fig}.png" in html, fig
    assert "spherical front used" in html and "ldf-fit" in (run / "table.txt").read_text()
    assert "angle 68 %" in r.stdout


def test_generate_then_run_share_the_cached_dataset(run_main):
    """`hepdl generate air-showers` writes where `hepdl run air-showers` looks (same settings, same hash)."""
    from hepdl.data.generate import default_dataset_dir
    from hepdl.tasks import air_showers

    r = run_main("generate", "air-showers", "-n", "40", "--quiet", "--workers", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(default_dataset_dir(air_showers.dataset_spec(40))) in r.stdout


def test_a_failed_ldf_fit_keeps_the_start_core():
    """An event whose LDF fit cannot work (all stations saturated) gets the signal barycentre as its
    core, never a runaway fit or a NaN turned into (0, 0)."""
    cfg = ArrayConfig()
    o = simulate_showers(60, "proton", np.random.default_rng(8), cfg)
    X = _inputs(o, cfg)
    X["stations"][0, :, 2] = X["mask"][0]  # every triggered station of event 0 saturated: nothing to fit
    pred = LDFFit(sphere=False).score(X)
    w = np.sqrt(np.where(o["triggered"][0], o["signal"][0], 0))
    bary = (station_positions(cfg) * w[:, None]).sum(0) / w.sum()
    assert np.allclose(pred[0, 3:5], bary, atol=1.0) and np.isfinite(pred).all()
