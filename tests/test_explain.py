"""Explanations: the exact average decision ordering against brute force and its analytic limits,
Tree-SHAP summing to the BDT's margin, permutation importance of a one-feature model, and
`hepdl explain` on a trained run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hepdl.errors import DataError
from hepdl.explain import ado, permutation_importance, tree_shap


def _brute_ado(f, g, y):
    s, b = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    df = f[s][:, None] - f[b][None, :]
    dg = g[s][:, None] - g[b][None, :]
    prod = np.sign(df) * np.sign(dg)
    return float(np.mean(np.where(prod > 0, 1.0, np.where(prod < 0, 0.0, 0.5))))


@pytest.mark.parametrize("ties", [False, True])
def test_ado_equals_brute_force_over_all_pairs(ties):
    rng = np.random.default_rng(1)
    for n in (2, 7, 50, 301):
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        f, g = rng.normal(size=n), rng.normal(size=n) + 0.5 * y
        if ties:
            f, g = np.round(f), np.round(g * 2)
        assert ado(f, g, y) == pytest.approx(_brute_ado(f, g, y), abs=1e-12)


def test_ado_limits():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 20000)
    f = rng.normal(size=len(y)) + y
    assert ado(f, np.exp(3 * f), y) == 1.0  # a monotone function orders every pair alike
    assert ado(f, -f, y) == 0.0
    assert ado(f, rng.normal(size=len(y)), y) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(DataError, match="both present"):
        ado(f, f, np.zeros(len(y)))


def test_tree_shap_sums_to_the_margin_and_permutation_finds_the_one_feature():
    from hepdl.models.baselines import BDT

    rng = np.random.default_rng(3)
    n = 3000
    y = rng.integers(0, 2, n)
    X = pd.DataFrame({"mass": rng.normal(size=n) + 1.5 * y, "noise": rng.normal(size=n), "tau32": rng.normal(size=n) - 0.7 * y})
    bdt = BDT(n_estimators=60, max_depth=3, seed=0).fit(X, y)
    shap = tree_shap(bdt.booster, X, interactions=True)
    margin = np.log(bdt.score(X) / (1 - bdt.score(X)))
    np.testing.assert_allclose(shap["values"].sum(axis=1) + shap["bias"], margin, atol=1e-4)
    np.testing.assert_allclose(shap["interactions"].sum(axis=2), shap["values"], atol=1e-4)
    assert shap["columns"][int(np.argmax(shap["mean_abs"]))] == "mass"

    def mass_only(frame):
        return frame["mass"].to_numpy()

    pi = permutation_importance(mass_only, X, y, n_repeats=3)
    assert pi["drop"][0] > 0.2 and pi["drop"][1] == pi["drop"][2] == 0.0  # unused columns lose exactly nothing


def test_hepdl_explain_writes_the_json(top_task_run, tmp_path, run_main):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(top_task_run, run)
    res = run_main("explain", run, "--jets", "100")
    assert res.returncode == 0, res.stderr
    out = json.loads((run / "explain" / "explain.json").read_text())
    assert out["n_jets"] == 100 and "mass" in out["observables"]
    models = out["models"]
    assert all(0 <= v <= 1 for m in models.values() for v in m.get("ado", {}).values())
    # the mass cut is a window on the soft-drop mass alone: shuffling any other input changes nothing
    pi = models["mass-cut"]["permutation_importance"]
    assert pi[0]["feature"] == "mass_sd" and pi[0]["auc_drop"] > 0 and all(p["auc_drop"] == 0 for p in pi[1:])
    assert models["bdt"]["shap_mean_abs"] and models["bdt"]["shap_interactions"]
    assert set(models["dnn"]["ado_models"]) == {"bdt", "mass-cut"}
    lrp = models["dnn"]["lrp"]["features"]
    assert len(lrp) == len(models["dnn"]["permutation_importance"]) and lrp[0]["mean_abs"] >= lrp[-1]["mean_abs"] >= 0
    assert {f"mean_{c}" for c in out["classes"]} <= set(lrp[0])  # one mean per class (qcd, top)
    page = (run / "explain" / "explain.html").read_text()
    assert "lrp_features_dnn.png" in page and (run / "explain" / "plots" / "lrp_features_dnn.png").stat().st_size > 1000
    assert (run / "explain" / "plots" / "ado.pdf").exists()
    assert 'href="explain/explain.html"' in (run / "report.html").read_text()
    with np.load(run / "explain" / "explain.npz") as z:
        assert z["dnn/features"].shape == (100, len(lrp)) and len(z["index"]) == 100
    bad = run_main("explain", run, "--models", "nope")
    assert bad.returncode != 0 and "has no model(s) ['nope']" in bad.stderr


def _layerwise_epsilon(net, x, eps):
    """Reference: the epsilon rule written out layer by layer for a Linear/ReLU stack (arXiv:1706.07979 eq. 58)."""
    import torch
    from torch import nn

    layers = [m for m in net.net if not isinstance(m, nn.Dropout)]
    acts = [x]
    with torch.no_grad():
        for m in layers:
            acts.append(m(acts[-1]))
        rel = torch.zeros_like(acts[-1])
        rel[:, 0] = acts[-1][:, 0]
        for m, a in zip(reversed(layers), reversed(acts[:-1]), strict=True):
            if isinstance(m, nn.Linear):
                z = a @ m.weight.T + m.bias
                rel = a * ((rel / (z + eps * torch.where(z >= 0, 1.0, -1.0).double())) @ m.weight)
    return rel


def _zero_shifts(net):
    """Biases, BatchNorm shifts and ParT's class token set to zero: nothing can absorb relevance."""
    import torch

    with torch.no_grad():
        for m in net.modules():
            if isinstance(getattr(m, "bias", None), torch.Tensor):
                m.bias.zero_()
            if isinstance(getattr(m, "running_mean", None), torch.Tensor):
                m.running_mean.zero_()
                m.running_var.uniform_(0.5, 2.0)
        if hasattr(net, "cls"):
            net.cls.zero_()
    return net


def _cloud(b=6, n=12, f=13, n_real=9, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[:, :n_real] = True
    x = torch.randn(b, n, f, generator=g, dtype=torch.float64) * mask[..., None]
    p4 = torch.rand(b, n, 4, generator=g, dtype=torch.float64)
    p4[..., 3] += 2.0
    return {"x": x.numpy(), "mask": mask.numpy(), "p4": (p4 * mask[..., None]).numpy()}


def _lrp_models():
    import numpy as np

    from hepdl import models

    cloud = _cloud()
    rng = np.random.default_rng(1)
    return [
        ("dnn", models.get("dnn", preset="small", n_inputs=7), {"features": rng.normal(size=(6, 7))}),
        ("cnn", models.get("cnn", preset="small", n_pixels=16), {"images": rng.random((6, 1, 16, 16))}),
        ("pfn", models.get("pfn", preset="small", n_features=13), cloud),
        ("efn", models.get("efn", preset="small"), {**cloud, "x": cloud["x"][..., :2]}),
        ("particlenet", models.get("particlenet", preset="small", n_features=13), cloud),
        ("part", models.get("part", preset="small", n_features=13), cloud),
    ]


@pytest.mark.parametrize("rule", ["epsilon", "zplus"])
def test_lrp_conserves_the_output_for_every_model_without_biases(rule):
    """With no bias anywhere, the rules of every layer (dense, convolution, BatchNorm, EdgeConv, LayerNorm,
    attention) pass the whole output on to the inputs."""
    import torch

    from hepdl.explain import relevance

    torch.manual_seed(0)
    for name, net, arrays in _lrp_models():
        net = _zero_shifts(net.double().eval())
        rel = relevance(net, arrays, eps=1e-12, conv_rule=rule)
        total = sum(v.reshape(len(v), -1).sum(1) for k, v in rel.items() if k != "output")
        np.testing.assert_allclose(total, rel["output"], atol=1e-5 * max(1.0, np.abs(rel["output"]).max()), err_msg=name)
        assert np.abs(rel["output"]).max() > 1e-6, name  # a non-trivial output


def test_lrp_transformer_rules_matter():
    """Plain gradient x input does not conserve through ParT's LayerNorm and softmax: the rules do the work."""
    import torch

    from hepdl.models import get

    torch.manual_seed(0)
    net = _zero_shifts(get("part", preset="small", n_features=13).double().eval())
    c = {k: torch.as_tensor(v) for k, v in _cloud().items()}
    x = c["x"].clone().requires_grad_(True)
    out = net(x, c["mask"], c["p4"])[:, 0]
    out.sum().backward()
    plain = (x * x.grad).sum(dim=(1, 2)).detach().numpy()
    assert np.abs(plain - out.detach().numpy()).max() > 1e-3


def test_lrp_equals_the_layerwise_epsilon_rule_and_finds_the_one_feature():
    import torch
    from torch import nn

    from hepdl.explain import relevance
    from hepdl.models.dense import DNN

    torch.manual_seed(0)
    net = DNN(6, hidden=(16, 8), dropout=0.1).double().eval()
    x = torch.randn(64, 6, dtype=torch.float64)
    for eps in (1e-9, 0.3):  # with biases: the epsilon term and the biases absorb part of the logit
        rel = relevance(net, {"features": x.numpy()}, eps=eps)["features"]
        np.testing.assert_allclose(rel, _layerwise_epsilon(net, x, eps).numpy(), rtol=1e-9, atol=1e-12)
    with torch.no_grad():  # a network that reads feature 2 only
        net.net[0].weight[:, [0, 1, 3, 4, 5]] = 0
    rel = relevance(net, {"features": x.numpy()}, eps=1e-9)["features"]
    assert np.all(rel[:, [0, 1, 3, 4, 5]] == 0) and np.abs(rel[:, 2]).sum() > 0
    with pytest.raises(Exception, match="LayerNorm|no relevance rules"):
        relevance(nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1)).double(), {"x": x.numpy()})


@pytest.mark.parametrize("name", ["pfn", "particlenet", "part"])
def test_particle_relevance_ignores_padding_and_follows_permutations(name):
    """Padded particles get no relevance and more padding changes nothing; permuting the real particles
    permutes their relevances (set models)."""
    import torch

    from hepdl.explain import relevance
    from hepdl.models import get

    torch.manual_seed(0)
    net = get(name, preset="small", n_features=13).double().eval()
    c = _cloud(n=12, n_real=9)
    rel = relevance(net, c, edges=True)
    assert np.all(rel["x"][:, 9:] == 0)
    wide = {k: np.concatenate([v, np.zeros((v.shape[0], 5, *v.shape[2:]), v.dtype)], axis=1) for k, v in c.items()}
    np.testing.assert_allclose(relevance(net, wide)["x"][:, :12], rel["x"], atol=1e-9)
    perm = np.r_[np.random.default_rng(0).permutation(9), 9, 10, 11]
    shuffled = relevance(net, {k: v[:, perm] for k, v in c.items()})
    np.testing.assert_allclose(shuffled["x"], rel["x"][:, perm], atol=1e-9)
    if name == "particlenet":
        assert rel["edge_relevance"].shape == (6, 12, 7) and np.all(rel["edge_relevance"][:, 9:] == 0)
        assert rel["edge_index"][:, :9].max() < 9  # real particles' neighbours are real


def test_observable_search_finds_the_hidden_observables():
    """A 'network' that uses x1 + x2 (and a bump in an IRC-unsafe count): starting from x1, the search adds
    x2 and the count, not the decoys, and then reproduces the network within the tolerance."""
    from hepdl.explain import observable_search

    rng = np.random.default_rng(4)
    n = 6000
    y = rng.integers(0, 2, n)
    cols = {f"decoy{i}": rng.normal(size=n) + 0.3 * y for i in range(6)}
    x1, x2 = rng.normal(size=n) + y, rng.normal(size=n) - y
    count = rng.poisson(5 + 3 * y).astype(float)
    basis = pd.DataFrame({"x1": x1, **cols, "x2": x2, "count": count})
    net = x1 - x2 + 0.5 * count
    res = observable_search(net, basis, y, start=["x1"], irc_unsafe={"count"}, max_observables=5, tolerance=0.003)
    assert res["chosen"][:3] == ["x1", "x2", "count"] or res["chosen"][:3] == ["x1", "count", "x2"]
    assert res["reached"] and res["steps"][-1]["gap"] <= 0.003 < res["steps"][0]["gap"]
    assert [s["irc_safe"] for s in res["steps"][:3]].count(False) == 1
    assert all(s["do_misordered"] > 0.5 for s in res["steps"][1:])  # each choice orders the mis-ordered pairs like the network
    with pytest.raises(Exception, match="not columns of the basis"):
        observable_search(net, basis, y, start=["mass"])


def test_efps_of_degree_7_leave_out_only_the_graphs_with_a_k4_minor(top_dataset):
    from hepdl.errors import ConfigError
    from hepdl.features.efp import EFPSet, efp_graphs, series_parallel

    assert all(series_parallel(g) for g in efp_graphs(5))
    k4 = [g for g in efp_graphs(6, connected_only=True) if not series_parallel(g)]
    assert len(k4) == 1 and k4[0].n == 4 and k4[0].degree == 6  # the complete graph on four vertices
    with pytest.raises(ConfigError, match="series_parallel_only"):
        EFPSet(d_max=6)
    s = EFPSet(d_max=7, series_parallel_only=True)
    assert len(s) + s.left_out == len(efp_graphs(7)) == 1000 and s.left_out == 5  # energyflow: 1000 EFPs with d <= 7
    v = s.compute(top_dataset.take(np.arange(20)))
    assert np.isfinite(v).all() and np.allclose(v[:, 0], 1.0)  # the single vertex: sum z = 1
    from hepdl.explain import efp_basis

    basis, unsafe = efp_basis(top_dataset.take(np.arange(20)), d_max=3, variants=((1.0, 1.0), (2.0, 1.0), (1.0, 0.5)))
    n = len(efp_graphs(3)) - 1  # without the constant single vertex
    assert basis.shape == (20, 3 * n) and len(unsafe) == n and all(u.endswith("_k2_b1") for u in unsafe)


@pytest.fixture(scope="module")
def particle_run(top_dataset_path, tmp_path_factory):
    """A CNN and a ParticleNet trained one epoch on the 600 test jets."""
    from hepdl.data import open as open_dataset
    from hepdl.train import TrainConfig, train

    run = tmp_path_factory.mktemp("particle-run")
    ds = open_dataset(top_dataset_path)
    for model in ("cnn", "particlenet"):
        train(TrainConfig(model, epochs=1, batch_size=64, n_particles=32, n_bootstrap=5), ds, run / model, progress=False)
    return run


def test_hepdl_explain_particle_models_and_the_search(particle_run, run_main):
    bad = run_main("explain", particle_run, "--search", "--efp-variants", "2")
    assert bad.returncode != 0 and "kappa:beta pairs" in bad.stderr
    res = run_main("explain", particle_run, "--jets", "80", "--search", "--search-jets", "300", "--efp-variants", "1:1,2:1")
    assert res.returncode == 0, res.stderr
    assert "padding='same'" not in res.stderr + res.stdout  # torch's chatter stays out of the terminal
    out = json.loads((particle_run / "explain" / "explain.json").read_text())
    pn, cnn = out["models"]["particlenet"]["lrp"], out["models"]["cnn"]["lrp"]
    assert 0 < pn["leading_particle_fraction"] <= pn["leading3_fraction"] <= 1
    assert set(pn["relevance_weighted_dr"]) == {"qcd", "top"} and len(pn["edge_relevance_vs_dr"]["mean_abs"]) == 6
    assert 0 <= cnn["central_fraction"] <= 1
    with np.load(particle_run / "explain" / "explain.npz") as z:
        rp, mask_rows = z["particlenet/particle_relevance"], z["index"]
        assert rp.shape == (80, 32) and len(mask_rows) == 80 and z["cnn/mean_relevance_1"].ndim == 3
        assert z["particlenet/edge_index"].shape[:2] == (80, 32)
    plots = particle_run / "explain" / "plots"
    for f in ("lrp_image_mean_cnn", "lrp_image_jets_cnn", "lrp_particles_particlenet", "lrp_particles_profile_particlenet",
              "lrp_edges_particlenet", "search_cnn", "search_particlenet"):
        assert (plots / f"{f}.png").stat().st_size > 1000 and (plots / f"{f}.pdf").exists(), f
    assert "(1, 1), (2, 1)" in out["search"]["basis"] and "1988 EFPs" in out["search"]["basis"]
    search = out["search"]["networks"]
    for net in ("cnn", "particlenet"):
        steps = search[net]["steps"]
        assert [s["observable"] for s in steps[:2]] == ["mass_sd", "tau32"] and len(steps) <= 7
        assert all(0.5 <= s["ado_network"] <= 1 for s in steps) and search[net]["sentence"] in res.stdout
    page = (particle_run / "explain" / "explain.html").read_text()
    assert "observable search" in page and "lrp_edges_particlenet.png" in page


def test_hepdl_explain_event_and_multiclass_runs(higgs_task_run, jet_classes_run, tmp_path, run_main):
    import shutil

    run = tmp_path / "higgs"
    shutil.copytree(higgs_task_run, run)
    res = run_main("explain", run, "--jets", "40")
    assert res.returncode == 0, res.stderr
    out = json.loads((run / "explain" / "explain.json").read_text())
    assert "DER_mass_MMC" in out["observables"]
    models = out["models"]
    dnn = next(m for k, m in models.items() if k.startswith("dnn"))
    # relevance per challenge feature (or its missing-value indicator), ranked
    assert dnn["lrp"]["features"][0]["feature"].startswith(("DER_", "PRI_", "defined_"))
    assert "part-fold1" in models  # a cross-validated run is explained through its fold-1 models
    part = models["part-fold1"]["lrp"]["per_object_type"]
    assert set(part) == {"electron", "muon", "tau", "met", "jet"} and sum(part.values()) == pytest.approx(1.0, abs=1e-6)
    run = tmp_path / "classes"
    shutil.copytree(jet_classes_run, run)
    res = run_main("explain", run, "--jets", "50")
    assert res.returncode == 0, res.stderr
    out = json.loads((run / "explain" / "explain.json").read_text())
    dnn = out["models"]["dnn"]
    assert "ado" not in dnn and "several classes" in dnn["note"] and dnn["lrp"]["explained"] == "each jet's own class logit"
    assert len([k for k in dnn["lrp"]["features"][0] if k.startswith("mean_")]) == 1 + len(out["classes"])  # mean_abs + one per class
