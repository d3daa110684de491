"""Cut-based and BDT baselines on generated jets."""

from __future__ import annotations

import numpy as np
import pytest

from hepdl.features import build_features
from hepdl.metrics import auc
from hepdl.models.baselines import BDT, MassTau32Cut, VariableCut


@pytest.fixture(scope="module")
def split(top_dataset):
    df = build_features(top_dataset, "expert", cache_dir=None)
    y = df.pop("label").to_numpy()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(df))
    tr, va, te = idx[:300], idx[300:400], idx[400:]
    return (df.iloc[tr], y[tr]), (df.iloc[va], y[va]), (df.iloc[te], y[te])


def test_mass_window_is_found(split):
    (X, y), _, (Xt, yt) = split
    cut = VariableCut("mass_sd").fit(X, y)
    assert cut.mode == "window" and 140 < cut.centre < 200
    assert auc(yt, cut.score(Xt)) > 0.8
    assert VariableCut("tau32").fit(X, y).mode == "lower"  # top jets have small tau32


def test_baselines_rank_as_expected(split, tmp_path):
    (X, y), (Xv, yv), (Xt, yt) = split
    mass = auc(yt, VariableCut("mass_sd").fit(X, y).score(Xt))
    two_d = MassTau32Cut().fit(X, y)
    lo, hi = two_d.window
    assert lo < 172.5 < hi and auc(yt, two_d.score(Xt)) > 0.8
    bdt = BDT(n_estimators=200, max_depth=3, learning_rate=0.1, early_stopping_rounds=20).fit(X, y, Xv, yv)
    bdt_auc = auc(yt, bdt.score(Xt))
    assert bdt_auc > mass - 0.02 and bdt_auc > 0.85
    bdt.save(tmp_path / "bdt.json")
    assert np.allclose(BDT.load(tmp_path / "bdt.json").score(Xt), bdt.score(Xt))
    two_d.save(tmp_path / "cut.json")
    assert np.array_equal(MassTau32Cut.load(tmp_path / "cut.json").score(Xt), two_d.score(Xt))
