"""Kolmogorov-Arnold networks (arXiv:2404.19756): the B-splines, the layer and the network, symbolic fits,
and a KAN through hepdl's trainer and ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hepdl.models import KAN, get
from hepdl.models.kan import (
    KANLayer,
    bspline_bases,
    eval_spline_1d,
    fit_spline_1d,
    formula,
    symbolic_fit,
    symbolic_model,
    uniform_knots,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors on one thread: two threads on shared, busy cores took 90 s for what one does in 1.4 s."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("grid", "order"), [(5, 3), (10, 2), (3, 1), (7, 4)])
def test_bsplines_are_a_partition_of_unity_on_the_grid(grid, order):
    knots = uniform_knots(grid, order, (-3.0, 3.0), torch.float64)
    assert knots.shape == (grid + 2 * order + 1,)
    x = torch.cat([torch.linspace(-3.0, 3.0, 601, dtype=torch.float64), torch.rand(200, dtype=torch.float64) * 6 - 3])
    bases = bspline_bases(x, knots, order)
    assert bases.shape == (len(x), grid + order) and bool((bases >= 0).all())
    assert torch.allclose(bases.sum(-1), torch.ones(len(x), dtype=torch.float64), atol=1e-12)
    step = 6.0 / grid
    far = torch.tensor([-3.0 - (order + 0.5) * step, 3.0 + (order + 0.5) * step], dtype=torch.float64)
    assert bool((bspline_bases(far, knots, order) == 0).all())  # beyond the extended grid: no spline at all


def test_a_spline_fits_a_known_function():
    x = np.linspace(-2.0, 2.0, 400)
    coef = fit_spline_1d(x, np.sin(x), grid=10, order=3, grid_range=(-2.0, 2.0))
    assert coef.shape == (13,)
    dense = np.linspace(-2.0, 2.0, 2001)
    err = np.abs(eval_spline_1d(dense, coef, grid=10, order=3, grid_range=(-2.0, 2.0)).numpy() - np.sin(dense))
    assert err.max() < 0.01


def test_a_kan_learns_an_additive_function():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1024, 2, generator=g) * 4 - 2
    y = (x[:, 0] ** 2 + torch.sin(x[:, 1])).unsqueeze(1)
    torch.manual_seed(0)
    model = KAN(2, hidden=(4,), n_outputs=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
    with torch.no_grad():
        mse = float(torch.mean((model(x) - y) ** 2))
    assert mse < 0.05
    # its symbolic fit is a formula of x0 and x1 that still describes the function
    sym = symbolic_model(model, x.numpy())
    assert float(np.mean((sym(x.numpy()) - y.numpy()) ** 2)) < 0.05
    text = sym.formula(["x0", "x1"])
    assert text.count("\n") == 4 and text.splitlines()[-1].startswith("y = ") and "h3" in text and "x1" in text


def test_batched_equals_row_by_row_and_the_edges_sum_to_the_output():
    torch.manual_seed(1)
    model = KAN(16, hidden=(8,), n_outputs=5).eval()
    x = torch.randn(64, 16) * 2  # some inputs beyond the grid too
    with torch.no_grad():
        batched = model(x)
        rows = torch.cat([model(x[i: i + 1]) for i in range(len(x))])
        assert batched.shape == (64, 5)
        assert torch.allclose(batched, rows, atol=1e-6, rtol=0)
        layer = model.layers[0]
        edges = layer.edge_values(x)
        assert edges.shape == (64, 8, 16)
        assert torch.allclose(edges.sum(-1) + layer.bias, layer(x), atol=1e-5)
        assert torch.allclose(layer.edge(3, 2, x[:, 3]), edges[:, 2, 3], atol=1e-6)
        traced = torch.jit.trace(model, x[:4])
        assert torch.allclose(traced(x), batched, atol=1e-6)  # traced on 4 rows, run on 64


def test_outside_the_grid_an_edge_is_its_base_term():
    layer = KANLayer(1, 1, grid=5, order=3, grid_range=(-3.0, 3.0))
    x = torch.tensor([-10.0, 9.0, 25.0])  # beyond the grid and its 3 extra intervals (to +-6.6)
    with torch.no_grad():
        want = layer.w_base[0, 0] * torch.nn.functional.silu(x)
        assert torch.allclose(layer.edge(0, 0, x), want)


def test_symbolic_fit_recovers_a_sine():
    x = np.linspace(-2.0, 2.0, 201)
    name, (a, b, c, d), r2 = symbolic_fit(x, 3 * np.sin(2 * x) + 1)
    assert name == "sin" and r2 > 0.999
    assert b == pytest.approx(2.0, abs=1e-2) and a == pytest.approx(3.0, abs=1e-2)
    assert c == pytest.approx(0.0, abs=1e-2) and d == pytest.approx(1.0, abs=1e-2)
    name, (a, b, c, d), r2 = symbolic_fit(x, 0.5 * (x - 0.3) ** 2 - 2)
    assert name == "x^2" and c == pytest.approx(-0.3, abs=1e-3) and r2 > 0.9999
    assert symbolic_fit(x, np.full_like(x, 4.0))[0] == "0"


def test_formula_of_a_one_layer_kan_with_known_edges():
    """Edges set to splines of x0^2 and sin(2 x1) (no base term) read back as that formula."""
    model = KAN(2, hidden=(), n_outputs=1, grid=10)
    layer = model.layers[0]
    x = np.linspace(-3.0, 3.0, 600)
    with torch.no_grad():
        layer.w_base.zero_()
        layer.w_spline.fill_(1.0)
        layer.bias.fill_(0.5)
        layer.coef[0, 0] = fit_spline_1d(x, x ** 2, grid=10).float()
        layer.coef[0, 1] = fit_spline_1d(x, np.sin(2 * x), grid=10).float()
    sample = np.random.default_rng(0).uniform(-2.5, 2.5, (2000, 2))
    sym = symbolic_model(model, sample)
    text = formula(sym, ["mass", "tau32"])
    assert text.startswith("y = ") and "mass^2" in text and "sin(2*tau32)" in text, text
    with torch.no_grad():
        want = model(torch.as_tensor(sample, dtype=torch.float32)).numpy()[:, 0]
    assert np.abs(sym(sample)[:, 0] - want).max() < 0.05
    assert np.abs(sym(sample)[:, 0] - (sample[:, 0] ** 2 + np.sin(2 * sample[:, 1]) + 0.5)).max() < 0.05


def test_registry_presets():
    n = {p: sum(t.numel() for t in get("kan", preset=p, n_inputs=16, n_outputs=5).parameters()) for p in ("paper", "small")}
    assert n == {"paper": 4225, "small": 1693}


def test_kan_trains_through_the_trainer_and_exports_to_onnx(top_dataset, tmp_path):
    import json

    from hepdl.deploy import OnnxModel, export_onnx
    from hepdl.train import TrainConfig, model_inputs, predict, train
    from hepdl.train.trainer import load_trained

    run = tmp_path / "run"
    metrics = train(TrainConfig("kan", preset="small", representation="features", epochs=2, batch_size=64, lr=1e-2,
                                n_bootstrap=10), top_dataset, run / "kan", progress=False)
    stored = json.loads((run / "kan" / "metrics.json").read_text())
    assert stored["model"] == "kan" and stored["auc"]["value"] == metrics["auc"]["value"] > 0.7
    # ONNX Runtime == torch (export_onnx checks 1e-5 on the test split itself; here on every jet)
    exp = export_onnx(run / "kan")
    got = OnnxModel(exp).predict(top_dataset, batch_size=37)
    ref = predict(run, top_dataset, models=["kan"])["kan"]
    assert got.shape == ref.shape == (len(top_dataset),) and np.abs(got - ref).max() < 1e-5
    # the symbolic model of the trained KAN (fitted on the training split's standardised features) still separates
    _, pre, module = load_trained(run / "kan")
    split, inputs = np.load(run / "kan" / "split.npz"), model_inputs(top_dataset, pre)
    sym = symbolic_model(module.net, inputs.take(split["train"])["features"])
    score = sym(inputs.take(split["test"])["features"])[:, 0]
    labels = np.asarray(top_dataset.labels)[split["test"]]
    sig, bkg = score[labels == 1], score[labels == 0]
    auc = (sig[:, None] > bkg[None, :]).mean() + 0.5 * (sig[:, None] == bkg[None, :]).mean()
    assert auc > 0.7
    lines = sym.formula(pre["columns"]).splitlines()
    assert len(lines) == 9 and lines[0].startswith("h0 = ") and lines[-1].startswith("y = ")  # 8 hidden nodes, 1 logit
    assert sum(f"{c}" in lines[0] for c in pre["columns"]) >= len(pre["columns"]) // 2


def test_registry_kan_gam_is_one_additive_layer():
    for preset, grid, n in (("paper", 8, 16 * (8 + 3 + 2) + 1), ("small", 5, 16 * (5 + 3 + 2) + 1)):
        model = get("kan-gam", preset=preset, n_inputs=16, n_outputs=1)
        assert len(model.layers) == 1 and model.layers[0].grid == grid
        assert sum(t.numel() for t in model.parameters()) == n
    text = formula(model, [f"f{i}" for i in range(16)])
    assert "\n" not in text and text.startswith("y = ") and "f15" in text


def test_the_report_reads_a_kan_gam_as_a_formula(top_dataset, tmp_path):
    """kan-gam trained into a run: the report has the formula table (with the formula's own AUC) and the edge figure."""
    import re

    from hepdl.report import make_report
    from hepdl.train import TrainConfig, train

    run = tmp_path / "run"
    train(TrainConfig("kan-gam", preset="small", epochs=2, batch_size=64, lr=1e-2, n_bootstrap=10), top_dataset, run / "kan-gam",
          progress=False)
    make_report(run, top_dataset, title="kan-gam")
    page = (run / "report.html").read_text()
    assert "KAN formula" in page and "logit = " in page
    assert (run / "plots" / "kan_edges.png").exists()
    text = (run / "table.txt").read_text()
    row = next(line for line in text.splitlines() if line.startswith("kan-gam") and "logit = " in line)
    network, formula_auc, r2 = (float(v) for v in re.findall(r"\s(\d\.\d+)(?=\s|$)", row)[-3:])
    assert formula_auc > 0.7 and abs(formula_auc - network) < 0.05 and 0 <= r2 <= 1
