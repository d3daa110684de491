"""Explanations: the exact average decision ordering against brute force and its analytic limits,
Tree-SHAP summing to the BDT's margin, permutation importance of a one-feature model, and
`hepdl explain` on a trained run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hepdl.errors import DataError
from hepdl.explain import ado, lrp_dense, permutation_importance, tree_shap


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
    lrp = models["dnn"]["lrp"]["mean_abs"]
    assert len(lrp) == len(models["dnn"]["permutation_importance"]) and lrp[0]["value"] >= lrp[-1]["value"] >= 0
    bad = run_main("explain", run, "--models", "nope")
    assert bad.returncode != 0 and "has no model(s) ['nope']" in bad.stderr


def test_lrp_conserves_the_logit_without_biases_and_finds_the_one_feature():
    import torch
    from torch import nn

    from hepdl.models.dense import DNN

    torch.manual_seed(0)
    net = DNN(6, hidden=(16, 8), dropout=0.1).double().eval()
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
            m.bias.requires_grad_(False)
    x = torch.randn(64, 6, dtype=torch.float64)
    rel = lrp_dense(net, x, eps=1e-9)
    torch.testing.assert_close(rel.sum(1), net(x)[:, 0], atol=1e-5, rtol=0)
    with torch.no_grad():  # a network that reads feature 2 only
        first = net.net[0]
        first.weight[:, [0, 1, 3, 4, 5]] = 0
    rel = lrp_dense(net, x, eps=1e-9)
    assert torch.all(rel[:, [0, 1, 3, 4, 5]] == 0) and rel[:, 2].abs().sum() > 0
    with pytest.raises(Exception, match="LayerNorm"):
        lrp_dense(nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4), nn.Linear(4, 1)), x.float())
