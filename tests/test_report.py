"""The run report: the numbers on report.html and table.txt are those of metrics.json, and the classes
are named by the dataset, never assumed to be top against QCD."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from hepdl.data import JetDataset
from hepdl.report import make_report
from hepdl.train import TrainConfig, train

#: 1/eps_B figures are printed with one digit, accuracies with three, AUCs with four.
DIGITS = {"accuracy": 3, "auc": 4, "rej_at_0.3": 1, "rej_at_0.5": 1}
COLUMNS = {"accuracy": 2, "auc": 3, "rej_at_0.3": 4, "rej_at_0.5": 5}  # in the two-class table


class _Cells(HTMLParser):
    """Rows of the first <table> of a page, each a list of cell texts (header included)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._tables = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._tables += 1
        elif tag == "tr" and self._tables == 1:
            self.rows.append([])
        elif tag in ("td", "th") and self._tables == 1:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_rows(page: str) -> list[list[str]]:
    p = _Cells()
    p.feed(page)
    return p.rows


def _text_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))  # the results table ends at a blank line
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start:end]]


def _capture_figures(mp: pytest.MonkeyPatch) -> dict[str, dict]:
    """Record every text (titles, axis labels, legends) and image array of each figure the report saves."""
    import matplotlib.figure
    import matplotlib.text
    from matplotlib.colors import to_hex

    seen: dict[str, dict] = {}
    original = matplotlib.figure.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        # the report writes plots/<name>.png and .pdf through a temporary file (.tmp-<name>.png-XXXX)
        name = re.sub(r"^\.tmp-", "", Path(fname).name).split(".")[0]
        if kwargs.get("format", "png") != "png":
            return original(self, fname, *args, **kwargs)
        seen[name] = {
            "texts": [t.get_text() for t in self.findobj(matplotlib.text.Text) if t.get_text()],
            "images": [np.asarray(im.get_array(), dtype=float) for ax in self.axes for im in ax.get_images()],
            "colours": [(ax.get_title(), a.get_label(), to_hex(a.get_color() if hasattr(a, "get_xdata") else a.get_edgecolor()))
                        for ax in self.axes for a in [*ax.get_lines(), *ax.patches] if not a.get_label().startswith("_")],
        }
        return original(self, fname, *args, **kwargs)

    mp.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return seen


def _reported_run(ds, run: Path, title: str) -> tuple[Path, dict[str, dict]]:
    """The mass cut and a small BDT trained on ``ds`` into ``run``, its report made, and what each figure drew."""
    train(TrainConfig("mass-cut", n_bootstrap=10), ds, run / "mass-cut", progress=False)
    train(TrainConfig("bdt", model_config={"n_estimators": 20, "max_depth": 2}, n_bootstrap=10), ds, run / "bdt",
          progress=False)
    with pytest.MonkeyPatch.context() as mp:
        figures = _capture_figures(mp)
        make_report(run, ds, title=title)
    return run, figures


@pytest.fixture(scope="module")
def top_run(top_dataset, tmp_path_factory):
    return _reported_run(top_dataset, tmp_path_factory.mktemp("top-run"), "top run")


@pytest.fixture(scope="module")
def wz_run(jet_classes, tmp_path_factory):
    """W against Z: two classes of the five-class sample, labels 2 and 3 as the dataset has them."""
    keep = np.isin(jet_classes.labels, [2, 3])
    ds = JetDataset(jet_classes.jets[keep], {}, jet_classes.path, "parquet", jet_classes.label_names)
    assert sorted(set(ds.labels.tolist())) == [2, 3] and len(ds) == 100
    return _reported_run(ds, tmp_path_factory.mktemp("wz-run"), "W vs Z")


def test_report_numbers_are_those_of_metrics_json(top_run):
    run, _ = top_run
    metrics = {m: json.loads((run / m / "metrics.json").read_text()) for m in ("mass-cut", "bdt")}
    html_rows = _html_rows((run / "report.html").read_text(encoding="utf-8"))
    text_rows = _text_rows((run / "table.txt").read_text(encoding="utf-8"))
    assert html_rows == text_rows  # the page and the terminal show the same table
    header, rows = text_rows[0], text_rows[1:]
    assert header[COLUMNS["auc"]] == "AUC" and header[COLUMNS["rej_at_0.3"]] == "1/eps_B @ eps_S=0.3"
    # best model first
    assert [r[0] for r in rows] == sorted(metrics, key=lambda m: -metrics[m]["auc"]["value"])
    for row in rows:
        m = metrics[row[0]]
        assert row[1] == str(m["n_parameters"])
        assert float(row[6]) == pytest.approx(m["train_seconds"], abs=0.051)
        for key, col in COLUMNS.items():
            value, error = m[key]["value"], m[key]["error"]
            if m[key].get("n_background", 99) < 20:  # too few background jets pass: the 95 % CL lower limit
                assert row[col] == f"> {m[key]['lower_limit']:.{DIGITS[key]}f} ({m[key]['n_background']} bkg) †", (row[0], row[col])
                continue
            got = re.fullmatch(r"(-?[\d.]+) ± ([\d.]+)( †)?", row[col])
            # marked (†) exactly when the error is above 20 % of the value
            assert bool(got and got[3]) == (abs(error) > 0.2 * abs(value)), (row[0], key, row[col])
            assert got, (row[0], key, row[col])
            half_ulp = 0.5 * 10.0 ** -DIGITS[key] + 1e-12
            assert abs(float(got[1]) - value) <= half_ulp, (row[0], key, row[col], value)
            assert abs(float(got[2]) - error) <= half_ulp, (row[0], key, row[col], error)
    # the ROC legend quotes the same AUCs
    _, figures = top_run
    legend = [t for t in figures["roc"]["texts"] if "AUC" in t]
    for name, m in metrics.items():
        assert f"{name} (AUC {m['auc']['value']:.3f})" in legend


def test_top_run_is_labelled_by_its_classes(top_run):
    run, figures = top_run
    assert "signal: top; background: qcd" in (run / "table.txt").read_text(encoding="utf-8")
    assert "signal: top; background: qcd" in (run / "report.html").read_text(encoding="utf-8")
    titles = figures["images"]["texts"]
    assert any("average top jet" in t for t in titles) and any("average qcd jet" in t for t in titles)


def test_a_two_class_run_that_is_not_top_is_not_called_top(wz_run):
    run, figures = wz_run
    assert {"roc", "scores", "mass_sculpting", "images", "jet_display"} <= set(figures)
    word = re.compile(r"\b(top|qcd)\b", re.IGNORECASE)
    for fig, seen in figures.items():
        wrong = [t for t in seen["texts"] if word.search(t)]
        assert not wrong, (fig, wrong)
    for f in ("report.html", "table.txt"):
        text = re.sub(r"<(style|script)>.*?</\1>", "", (run / f).read_text(encoding="utf-8"), flags=re.S)  # what a reader sees
        assert not word.search(text), f
        assert "signal: z; background: w" in text, f
    assert any("z (signal)" in t for t in figures["scores"]["texts"])
    assert any("w (background)" in t for t in figures["scores"]["texts"])
    assert any(t.startswith("w, no cut") for t in figures["mass_sculpting"]["texts"])
    assert any(t.startswith("z jet:") for t in figures["jet_display"]["texts"])
    titles = figures["images"]["texts"]
    assert any("average z jet" in t for t in titles) and any("average w jet" in t for t in titles)
    # the average images are of the jets the labels 2 and 3 name, not of empty selections
    assert len(figures["images"]["images"]) == 2
    assert all(np.isfinite(img).all() for img in figures["images"]["images"])


def test_without_label_names_the_report_reads_the_class_names_of_the_run(wz_run, tmp_path):
    import shutil

    run, _ = wz_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    make_report(copy)  # no dataset: names from config.json
    assert "signal: z; background: w" in (copy / "table.txt").read_text(encoding="utf-8")


def test_each_model_keeps_one_distinct_style_across_a_run():
    from hepdl.report import model_styles

    names = ["mass-cut", "tau32-cut", "bdt", "dnn", "cnn", "pfn", "efn", "particlenet", "particlenet-lite", "part", "lbn",
             "ae", "dnn-1", "dnn-2", "dnn-ensemble"]
    styles = model_styles(names)
    distinct = {(s["color"], s["ls"]) for n, s in styles.items() if not n.startswith("dnn-")}
    assert len(distinct) == len(names) - 3  # twelve models, twelve looks
    assert styles["dnn-1"]["color"] == styles["dnn-ensemble"]["color"] == styles["dnn"]["color"]  # an ensemble is its model
    assert styles["mass-cut"]["ls"] == ":" and styles["bdt"]["ls"] == "-." and styles["part"]["ls"] == "-"  # family
    # the same model has the same colour whatever else the run holds
    assert model_styles(["dnn", "bdt"])["dnn"] == model_styles(["bdt", "dnn"])["dnn"]


def test_the_figures_of_a_run_use_one_colour_per_model(top_run):
    from hepdl.report import model_styles

    run, figures = top_run
    want = {m: s["color"] for m, s in model_styles(["mass-cut", "bdt"]).items()}
    roc = {label.split(" (")[0]: c for _, label, c in figures["roc"]["colours"]}
    assert roc == want
    signal = {title: c for title, label, c in figures["scores"]["colours"] if label.endswith("(signal)")}
    assert signal == want  # each model's panel draws its signal in the model's colour
    for fig in ("roc", "scores", "mass_sculpting", "training", "images", "jet_display"):
        if fig in figures:
            assert (run / "plots" / f"{fig}.pdf").read_bytes()[:4] == b"%PDF", fig  # vector copy for talks


def test_learning_curve_trains_on_nested_subsets_and_is_drawn(top_dataset_path, tmp_path):
    from hepdl.report.curves import learning_curve_points
    from hepdl.tasks import top_tagging
    from hepdl.tasks._runner import run_models

    presets = {"lc": {"n_jets": 600, "epochs": 1, "model_preset": "small", "n_particles": 16, "models": ["mass-cut", "bdt"],
                      "model_configs": {"bdt": {"n_estimators": 20}},
                      "learning_curve": {"models": ["bdt"], "sizes": [40, 120, 100_000]}}}
    run = run_models("top-tagging", top_tagging.dataset_spec, presets, "lc", dataset=top_dataset_path, runs_dir=tmp_path,
                     progress=False)
    from hepdl.data import open as open_dataset

    labels_of = open_dataset(top_dataset_path).labels
    lc = run / "learning-curve"
    assert sorted(p.name for p in lc.iterdir()) == ["bdt-120", "bdt-40"]  # sizes beyond the training split are the main run
    full = np.load(run / "bdt" / "split.npz")
    for n in (40, 120):
        s = np.load(lc / f"bdt-{n}" / "split.npz")
        assert len(s["train"]) == n and np.isin(s["train"], full["train"]).all()  # a subset of the training split
        assert np.array_equal(s["test"], full["test"]) and np.array_equal(s["val"], full["val"])  # the same test jets
        y = labels_of[s["train"]]  # stratified: each class keeps its share of the training split
        assert abs(y.mean() - labels_of[full["train"]].mean()) <= 1 / n + 1e-12
        assert json.loads((lc / f"bdt-{n}" / "metrics.json").read_text())["n_train"] == n
    metrics = {m: json.loads((run / m / "metrics.json").read_text()) for m in ("mass-cut", "bdt")}
    points = learning_curve_points(run, metrics)
    assert [p["n_train"] for p in points["bdt"]] == [40, 120, len(full["train"])]
    assert "plots/learning_curve.png" in (run / "report.html").read_text(encoding="utf-8")
    with pytest.raises(Exception, match="learning_curve must be"):
        run_models("top-tagging", top_tagging.dataset_spec, {"x": {**presets["lc"], "learning_curve": {"models": ["dnn"], "sizes": [10]}}},
                   "x", dataset=top_dataset_path, runs_dir=tmp_path, progress=False)
