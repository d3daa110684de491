"""Representations: analytic identities, symmetries, batched == single, physics on generated jets."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepdl.errors import ConfigError, DataError, UnknownNameError
from hepdl.features import (
    EFPSet,
    ImageConfig,
    build_features,
    ecf_ratios,
    efp,
    energy_correlations,
    exclusive_subjets,
    hls4ml_features,
    image_coordinates,
    jet_images,
    nsubjettiness,
    particle_cloud,
    soft_drop,
)
from hepdl.features.efp import efp_graphs


def make_jets(particles: list[list[tuple[float, float, float]]]) -> ak.Array:
    """Jets of massless constituents given as (pT, eta, phi)."""
    rows = []
    for parts in particles:
        rows.append([{"pt": pt, "eta": eta, "phi": phi, "e": pt * np.cosh(eta), "charge": 0, "type": 2} for pt, eta, phi in parts])
    return ak.Array({"constituents": rows})


@pytest.fixture(scope="module")
def jets(top_dataset):
    return top_dataset.jets[::6]  # 100 jets, both classes


@pytest.fixture(scope="module")
def labels(top_dataset):
    return top_dataset.labels[::6]


# ------------------------------------------------------------------ analytic identities


def test_tau_n_vanishes_for_at_most_n_particles():
    rng = np.random.default_rng(0)
    parts = [[(rng.uniform(1, 50), rng.normal(0, 0.3), rng.normal(0, 0.3)) for _ in range(n)] for n in (1, 2, 3, 4)]
    tau = nsubjettiness(make_jets(parts), n_max=4)
    for i, n in enumerate((1, 2, 3, 4)):
        assert np.all(tau[i, n - 1 :] == 0.0), (n, tau[i])
        if n > 1:
            assert np.all(tau[i, : n - 1] > 0)


@pytest.mark.parametrize("a", [0.05, 0.2, 0.35])
def test_tau1_of_two_symmetric_particles(a):
    # equal pT at eta = +-a: the kT axis is eta = 0, so tau_1 = (pT a + pT a) / (2 pT R0) = a / R0
    tau = nsubjettiness(make_jets([[(100.0, a, 0.4), (100.0, -a, 0.4)]]), n_max=2, beta=1.0, r0=0.8)
    assert tau[0, 0] == pytest.approx(a / 0.8, rel=1e-9)
    assert tau[0, 1] == 0.0


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_e2_of_two_particles(beta):
    pt1, pt2, dr = 30.0, 70.0, 0.3
    ecf = energy_correlations(make_jets([[(pt1, 0.1, 0.0), (pt2, 0.1, dr)]]), (beta,))
    z1, z2 = pt1 / 100, pt2 / 100
    assert ecf[f"e2_b{int(beta)}"][0] == pytest.approx(z1 * z2 * dr**beta, rel=1e-12)
    assert ecf[f"e3_b{int(beta)}"][0] == 0.0


def test_ecf_ratios_invariant_under_rescaling(jets):
    scaled = ak.zip({"constituents": ak.zip({
        "pt": jets.constituents.pt * 3.7, "eta": jets.constituents.eta, "phi": jets.constituents.phi,
        "e": jets.constituents.e * 3.7, "charge": jets.constituents.charge, "type": jets.constituents["type"]})}, depth_limit=1)
    a = ecf_ratios(energy_correlations(jets))
    b = ecf_ratios(energy_correlations(scaled))
    for k in a:
        assert np.allclose(a[k], b[k], rtol=1e-9), k


def test_efp_low_degrees_closed_forms(jets):
    values = EFPSet(5).compute(jets)
    graphs = efp_graphs(5)
    assert len(graphs) == 102
    assert np.allclose(values[:, 0], 1.0)  # d = 0: sum_i z_i
    e2 = energy_correlations(jets, (1.0,))["e2_b1"]
    assert np.allclose(values[:, 1], 2 * e2, rtol=1e-10)  # d = 1: sum_ij z_i z_j theta_ij
    double = efp(jets, [(0, 1), (0, 1)])
    path = efp(jets, [(0, 1), (1, 2)])
    for i in range(0, len(jets), 10):
        c = jets.constituents[i]
        pt, eta, phi = (ak.to_numpy(c[f]) for f in ("pt", "eta", "phi"))
        rap = np.arctanh(np.clip(pt * np.sinh(eta) / ak.to_numpy(c.e), -1, 1))
        z = pt / pt.sum()
        dphi = (phi[:, None] - phi[None, :] + np.pi) % (2 * np.pi) - np.pi
        theta = np.hypot(rap[:, None] - rap[None, :], dphi)
        assert double[i] == pytest.approx(z @ theta**2 @ z, rel=1e-10)
        assert path[i] == pytest.approx(np.sum(z * (theta @ z) ** 2), rel=1e-10)


def test_image_conserves_pt_inside_window(jets):
    cfg = ImageConfig(normalise=False)
    img = jet_images(jets, cfg)
    x, y, f = image_coordinates(jets, cfg)
    inside = (np.abs(x) < cfg.extent) & (np.abs(y) < cfg.extent)
    expected = np.bincount(f.jet_index[inside], weights=f.pt[inside], minlength=len(jets))
    assert np.allclose(img.sum(axis=(1, 2, 3)), expected, rtol=1e-5)
    assert np.all(expected > 0.9 * f.jet_sum(f.pt))  # R = 0.8 jets sit mostly inside +-0.8
    norm = jet_images(jets)
    assert np.allclose(norm.sum(axis=(1, 2, 3)), 1.0, atol=1e-5)


def test_image_preprocessing_puts_intensity_in_a_fixed_quadrant(jets):
    x, y, f = image_coordinates(jets, ImageConfig())
    assert np.all(f.jet_sum(f.pt * np.sign(x)) >= 0) and np.all(f.jet_sum(f.pt * np.sign(y)) >= 0)
    # after rotation the principal axis is vertical: the weighted spread in y exceeds that in x
    assert np.all(f.jet_sum(f.pt * y * y) >= f.jet_sum(f.pt * x * x) - 1e-9)


# ------------------------------------------------------------------ symmetries


def _transformed(jets: ak.Array, dphi: float, deta: float) -> ak.Array:
    c = jets.constituents
    phi = (c.phi + dphi + np.pi) % (2 * np.pi) - np.pi
    eta = c.eta + deta
    return ak.zip({"constituents": ak.zip({"pt": c.pt, "eta": eta, "phi": phi, "e": c.pt * np.cosh(eta),
                                           "charge": c.charge, "type": c["type"]})}, depth_limit=1)


def _massless(jets: ak.Array) -> ak.Array:
    return _transformed(jets, 0.0, 0.0)


def test_phi_rotation_and_z_boost_leave_features_unchanged(jets):
    base = _massless(jets)
    moved = _transformed(jets, 1.3, 0.7)  # massless: a boost along z shifts eta = y by a constant
    for fn in (lambda j: nsubjettiness(j), lambda j: EFPSet(3).compute(j),
               lambda j: np.column_stack([v for k, v in hls4ml_features(j).items() if k != "mass_mmdt"])):
        a, b = fn(base), fn(moved)
        assert np.allclose(a, b, rtol=1e-7, atol=1e-9)
    # grooming is a threshold decision on the C/A tree: rounding at the 1e-16 level may flip a
    # splitting that sits exactly at z_cut, so ask for agreement on (almost) every jet
    a, b = soft_drop(base)["mass"], soft_drop(moved)["mass"]
    assert np.mean(np.isclose(a, b, rtol=1e-7)) >= 0.97
    (xa, ya, _), (xb, yb, _) = image_coordinates(base), image_coordinates(moved)
    assert np.allclose(xa, xb, atol=1e-9) and np.allclose(ya, yb, atol=1e-9)
    same = np.all(np.isclose(jet_images(base), jet_images(moved), atol=1e-6), axis=(1, 2, 3))
    assert same.mean() >= 0.97  # a constituent on a pixel edge may fall either way
    pa, pb = particle_cloud(base), particle_cloud(moved)
    keep = [i for i, n in enumerate(pa.names) if n not in ("log_e", "log_e_rel")]  # energies change under the boost
    assert np.allclose(pa.features[..., keep], pb.features[..., keep], atol=1e-4)


def test_batched_equals_single(jets):
    idx = [0, 7, 33, 64]
    batch = {
        "tau": nsubjettiness(jets), "sd": soft_drop(jets)["mass"], "efp": EFPSet(4).compute(jets),
        "hls": np.column_stack(list(hls4ml_features(jets).values())), "img": jet_images(jets),
        "cloud": particle_cloud(jets).features,
    }
    for i in idx:
        one = jets[i : i + 1]
        single = {
            "tau": nsubjettiness(one), "sd": soft_drop(one)["mass"], "efp": EFPSet(4).compute(one),
            "hls": np.column_stack(list(hls4ml_features(one).values())), "img": jet_images(one),
            "cloud": particle_cloud(one).features,
        }
        for k in batch:
            assert np.allclose(batch[k][i], single[k][0], rtol=1e-10, atol=1e-12), k


def test_particle_cloud_orders_the_constituents_itself(jets):
    """Constituents in any order within a jet give the cloud of the pT-ordered ones (the fast path
    skips the sort only for sorted input), with the hardest particle first."""
    shuffled = jets.constituents[ak.argsort(np.sin(1000 * jets.constituents.eta), axis=1)]
    assert not ak.all(shuffled.pt[:, :1] == jets.constituents.pt[:, :1])  # really shuffled
    a, b = particle_cloud(jets, n_max=24), particle_cloud(shuffled, n_max=24)
    assert np.array_equal(a.features, b.features) and np.array_equal(a.four_momenta, b.four_momenta)
    log_pt = a.features[..., a.names.index("log_pt")]
    assert np.all(np.diff(np.where(a.mask, log_pt, -1e9), axis=1) <= 0)


def test_padding_never_leaks(jets):
    import torch

    from hepdl.features import pairwise_features

    pc = particle_cloud(jets, n_max=128)
    assert np.all(pc.features[~pc.mask] == 0) and np.all(pc.four_momenta[~pc.mask] == 0)
    assert np.array_equal(pc.mask.sum(axis=1), np.minimum(ak.to_numpy(ak.num(jets.constituents)), 128))
    short = particle_cloud(jets, n_max=16)
    assert np.array_equal(short.features, pc.features[:, :16])  # the hardest 16, pT ordered
    p4, mask = torch.from_numpy(pc.four_momenta).double(), torch.from_numpy(pc.mask)
    pair = pairwise_features(p4, mask)
    assert pair.shape == (len(jets), 4, 128, 128)
    pad = ~(mask[:, :, None] & mask[:, None, :])
    assert torch.all(pair.permute(0, 2, 3, 1)[pad] == 0)
    # m^2 of a pair of massless cells: 2 pT_a pT_b (cosh dy - cos dphi)
    cons = _massless(jets[:3]).constituents[:, :8]
    pt, eta, phi = (ak.to_numpy(cons[f]).astype(np.float64) for f in ("pt", "eta", "phi"))
    p4_64 = torch.from_numpy(np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1))
    p = pairwise_features(p4_64)
    dphi = phi[:, :, None] - phi[:, None, :]
    m2 = 2 * pt[:, :, None] * pt[:, None, :] * (np.cosh(eta[:, :, None] - eta[:, None, :]) - np.cos(dphi))
    off = ~np.eye(8, dtype=bool)[None].repeat(3, 0)
    assert np.allclose(np.exp(p[:, 3].numpy())[off], m2[off], rtol=1e-6)
    assert np.allclose(np.exp(p[:, 2].numpy())[off], (np.minimum(pt[:, :, None], pt[:, None, :]) / (pt[:, :, None] + pt[:, None, :]))[off])
    # permuting particles permutes the pair matrix
    perm = torch.randperm(128)
    pp = pairwise_features(p4[:, perm], mask[:, perm])
    assert torch.allclose(pp, pair[:, :, perm][:, :, :, perm])


def test_soft_drop_limits():
    two = make_jets([[(100.0, 0.0, 0.0), (5.0, 0.3, 0.2)]])
    full = make_jets([[(100.0, 0.0, 0.0), (40.0, 0.3, 0.2)]])
    assert soft_drop(two, z_cut=0.1)["mass"][0] == pytest.approx(0.0, abs=1e-6)  # soft particle groomed away
    m = soft_drop(full, z_cut=0.1)
    p = [(100.0, 0.0, 0.0), (40.0, 0.3, 0.2)]
    e = sum(pt * np.cosh(eta) for pt, eta, _ in p)
    px = sum(pt * np.cos(phi) for pt, _, phi in p)
    py = sum(pt * np.sin(phi) for pt, _, phi in p)
    pz = sum(pt * np.sinh(eta) for pt, eta, _ in p)
    assert m["mass"][0] == pytest.approx(np.sqrt(e**2 - px**2 - py**2 - pz**2), rel=1e-9)
    assert m["z_g"][0] == pytest.approx(40 / 140, rel=1e-9)


# ------------------------------------------------------------------ physics on generated jets


def test_tau32_and_soft_drop_physics(top_dataset):
    j, lab = top_dataset.jets, top_dataset.labels
    tau = nsubjettiness(j)
    tau32 = tau[:, 2] / tau[:, 1]
    assert np.median(tau32[lab == 1]) < np.median(tau32[lab == 0]) - 0.1
    sd = soft_drop(j)["mass"]
    counts, edges = np.histogram(sd[lab == 1], bins=np.arange(0, 300, 10))
    peak = edges[np.argmax(counts)] + 5
    assert 155 < peak < 190, peak
    qcd_m = ak.to_numpy(j.jet_m)[lab == 0]
    assert np.all(sd[lab == 0] <= qcd_m + 1e-6)
    assert np.median(sd[lab == 0]) < 0.7 * np.median(qcd_m)


# ------------------------------------------------------------------ against FastJet's own clustering


def _pseudojets(jet) -> list:
    import fastjet

    c = jet.constituents
    pt, eta, phi, e = (ak.to_numpy(c[f]).astype(np.float64) for f in ("pt", "eta", "phi", "e"))
    return [fastjet.PseudoJet(float(a), float(b), float(cz), float(d))
            for a, b, cz, d in zip(pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e, strict=True)]


def _fastjet_soft_drop(parts: list, beta: float, z_cut: float, r0: float) -> tuple[float, float, float]:
    """Soft drop (arXiv:1402.2657) by hand on FastJet's C/A tree: (groomed mass, z_g, R_g)."""
    import fastjet

    # R = 10 is far beyond any distance inside an R = 0.8 jet: one jet, no beam recombination,
    # the same C/A tree as clustering without a beam distance
    cs = fastjet.ClusterSequence(parts, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    (j,) = cs.inclusive_jets()
    while True:
        p1, p2 = fastjet.PseudoJet(), fastjet.PseudoJet()
        if not j.has_parents(p1, p2):
            break
        pt1, pt2 = p1.pt(), p2.pt()
        z, dr = min(pt1, pt2) / (pt1 + pt2), p1.delta_R(p2)
        if z > z_cut * (dr / r0) ** beta:
            return float(np.sqrt(max(j.m2(), 0.0))), z, dr
        j = p1 if pt1 >= pt2 else p2
    return float(np.sqrt(max(j.m2(), 0.0))), 0.0, 0.0


def _fastjet_tau(parts: list, n: int, beta: float, r0: float) -> float:
    """tau_N (arXiv:1011.2268) with FastJet's exclusive-kT axes, normalised by sum pT * r0^beta."""
    import fastjet

    if len(parts) <= n:
        return 0.0
    cs = fastjet.ClusterSequence(parts, fastjet.JetDefinition(fastjet.kt_algorithm, 10.0))
    axes = cs.exclusive_jets(n)
    assert len(axes) == n
    num = sum(p.pt() * min(p.delta_R(a) for a in axes) ** beta for p in parts)
    return num / (sum(p.pt() for p in parts) * r0**beta)


@pytest.fixture(scope="module")
def thirty_jets(top_dataset):
    jets = top_dataset.jets[::20]  # 30 jets: 15 QCD, 15 top
    assert len(jets) == 30 and 0 < top_dataset.labels[::20].sum() < 30
    return jets


@pytest.mark.parametrize(("beta", "z_cut"), [(0.0, 0.1), (1.0, 0.1), (2.0, 0.2)])
def test_soft_drop_matches_fastjet_declustering(thirty_jets, beta, z_cut):
    ours = soft_drop(thirty_jets, beta=beta, z_cut=z_cut, r0=0.8)
    ref = np.array([_fastjet_soft_drop(_pseudojets(j), beta, z_cut, 0.8) for j in thirty_jets])
    assert np.allclose(ours["mass"], ref[:, 0], rtol=1e-7, atol=1e-6)
    assert np.allclose(ours["z_g"], ref[:, 1], rtol=1e-9, atol=1e-12)
    assert np.allclose(ours["r_g"], ref[:, 2], rtol=1e-9, atol=1e-12)
    # grooming did something: the groomed mass is below the full mass on some jets, never above
    full = ak.to_numpy(thirty_jets.jet_m)
    assert np.all(ref[:, 0] <= full * (1 + 1e-6) + 1e-6) and np.any(ref[:, 0] < 0.9 * full)


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_nsubjettiness_matches_fastjet_exclusive_kt_axes(thirty_jets, beta):
    ours = nsubjettiness(thirty_jets, n_max=4, beta=beta, r0=0.8)
    ref = np.array([[_fastjet_tau(_pseudojets(j), n, beta, 0.8) for n in (1, 2, 3, 4)] for j in thirty_jets])
    assert np.all(ref > 0) and np.all(ref[:, 3] < ref[:, 0])  # real jets: tau_N > 0, four axes beat one
    assert np.allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_exclusive_subjets_match_fastjet(thirty_jets):
    import fastjet

    ours = exclusive_subjets(thirty_jets, n_sub=3)
    for i, j in enumerate(thirty_jets):
        cs = fastjet.ClusterSequence(_pseudojets(j), fastjet.JetDefinition(fastjet.kt_algorithm, 10.0))
        ref = sorted(cs.exclusive_jets(3), key=lambda p: -p.pt())
        assert np.allclose(ours[i], [[p.px(), p.py(), p.pz(), p.E()] for p in ref], rtol=1e-9, atol=1e-9), i


# ------------------------------------------------------------------ feature sets and caching


def test_feature_set_cache(top_dataset_path, tmp_path):
    import shutil

    ds_path = tmp_path / "ds"
    shutil.copytree(top_dataset_path, ds_path, ignore=shutil.ignore_patterns("features"))
    df = build_features(ds_path, "hls4ml")
    assert list(df.columns) == [*__import__("hepdl.features", fromlist=["HLS4ML_FEATURES"]).HLS4ML_FEATURES, "label"]
    from hepdl.data import open as open_dataset
    from hepdl.features.sets import feature_cache_path

    cached = feature_cache_path(open_dataset(ds_path), "hls4ml")
    stamp = cached.stat().st_mtime_ns
    again = build_features(ds_path, "hls4ml")
    assert cached.stat().st_mtime_ns == stamp
    assert again.equals(df)
    other = build_features(ds_path, "nsub", r0=1.0)
    same = build_features(ds_path, "nsub", r0=0.8)
    assert np.allclose(other["tau1"] * 1.0, same["tau1"] * 0.8)  # tau normalised by r0^beta
    with pytest.raises(UnknownNameError, match="unknown feature set 'images'"):
        build_features(ds_path, "images")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['beta'\]; valid: "):
        build_features(ds_path, "hls4ml", beta=2)


def test_nan_constituents_are_named():
    bad = make_jets([[(10.0, 0.1, 0.2), (float("nan"), 0.0, 0.0)]])
    with pytest.raises(DataError, match="constituent field 'pt' has 1 NaN/inf"):
        nsubjettiness(bad)
