"""Metrics against analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepdl.errors import DataError
from hepdl.metrics import accuracy, auc, background_rejection, bootstrap, classifier_metrics, ensemble, roc_curve


@pytest.mark.parametrize("d", [0.5, 1.0, 2.0])
def test_auc_of_two_gaussians(d):
    rng = np.random.default_rng(1)
    n = 20000
    scores = np.r_[rng.normal(0, 1, n), rng.normal(d, 1, n)]
    labels = np.r_[np.zeros(n), np.ones(n)]
    m = bootstrap(auc, labels, scores, n=50)
    expected = 0.5 * (1 + math.erf(d / 2))  # Phi(d / sqrt(2))
    assert abs(m.value - expected) < 3 * m.error + 1e-3
    assert m.error < 0.01


def test_rejection_on_hand_made_roc():
    # 4 signal jets at 0.9, 0.8, 0.4, 0.3 and 4 background jets at 0.85, 0.5, 0.2, 0.1
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.4, 0.3, 0.85, 0.5, 0.2, 0.1])
    es, eb, _ = roc_curve(labels, scores)
    assert np.allclose(es, [0, 0.25, 0.25, 0.5, 0.5, 0.75, 1, 1, 1])
    assert np.allclose(eb, [0, 0, 0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 1])
    assert background_rejection(labels, scores, 0.5) == pytest.approx(1 / 0.25)
    assert background_rejection(labels, scores, 0.25) == math.inf
    assert background_rejection(labels, scores, 0.875) == pytest.approx(1 / 0.5)
    assert auc(labels, scores) == pytest.approx(0.6875)
    assert accuracy(labels, scores) == pytest.approx(4 / 8)  # 0.9, 0.8 and 0.2, 0.1 right
    assert accuracy(labels, scores, threshold=0.35) == pytest.approx(5 / 8)


def test_metrics_report_and_errors():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 2000)
    scores = labels + rng.normal(0, 1, 2000)
    m = classifier_metrics(labels, scores, n_bootstrap=20)
    assert set(m) == {"accuracy", "auc", "rej_at_0.3", "rej_at_0.5"}
    assert m["rej_at_0.3"].value > m["rej_at_0.5"].value > 1
    assert np.allclose(ensemble([scores, scores + 2]), scores + 1)
    with pytest.raises(DataError, match="only one class"):
        auc(np.ones(5), np.arange(5.0))
    with pytest.raises(DataError, match="2 NaN/inf"):
        auc(np.array([0, 1, 0, 1]), np.array([0.1, np.nan, np.inf, 0.3]))


def test_poisson_upper_limit_has_the_classical_values():
    from hepdl.metrics import poisson_upper_limit

    # 95 % CL upper limits on a Poisson mean (PDG Review of Statistics, table 40.3)
    for n, want in ((0, 2.996), (1, 4.744), (2, 6.296), (5, 10.513), (10, 16.962)):
        assert poisson_upper_limit(n) == pytest.approx(want, abs=0.002), n


def test_rejection_resting_on_few_background_jets_is_a_lower_limit():
    from hepdl.metrics import MIN_BACKGROUND_PASSING, poisson_upper_limit, rejection

    # 1000 background jets, scores so that exactly 4 of them beat the cut keeping 30 % of the signal
    rng = np.random.default_rng(1)
    bkg = np.r_[rng.uniform(0, 0.5, 996), [0.95, 0.96, 0.97, 0.98]]
    sig = rng.uniform(0.9, 1.0, 10_000)
    y = np.r_[np.zeros(1000), np.ones(10_000)]
    r = rejection(y, np.r_[bkg, sig], 0.3, n_bootstrap=20)
    assert r.n_background == round(1000 / r.value) and r.limited and MIN_BACKGROUND_PASSING == 20
    assert r.lower_limit == pytest.approx(1000 / poisson_upper_limit(r.n_background))
    assert r.lower_limit < r.value  # the limit is below the (noisy) central value
    d = r.to_dict()
    assert set(d) == {"value", "error", "n_background", "lower_limit"}


def test_jensen_shannon_divergence_and_sculpting():
    from hepdl.metrics.anomaly import jensen_shannon, sculpting_jsd

    assert jensen_shannon([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-15)  # same shape
    assert jensen_shannon([1, 0], [0, 5]) == pytest.approx(1.0)  # disjoint shapes: 1 bit
    # p = (1/2, 1/2), q = (1, 0): JSD = H(m) - (H(p) + H(q))/2 with m = (3/4, 1/4)
    h = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert jensen_shannon([1, 1], [1, 0]) == pytest.approx(h - 0.5)
    rng = np.random.default_rng(3)
    mass = rng.uniform(0, 300, 20_000)
    y = np.r_[np.zeros(10_000), np.ones(10_000)].astype(int)
    blind = rng.uniform(size=20_000)  # a score that knows nothing of the mass
    assert sculpting_jsd(mass, y, blind, 0.5) < 0.01
    mass_like = mass + rng.normal(0, 5, 20_000)  # a score that is the mass: the cut keeps only heavy background
    assert sculpting_jsd(mass, y, mass_like, 0.5) > 0.2
