"""Each task's report page rendered by a real browser (headless Chromium): every image loads, no
text overflows a table cell, nothing is wider than the window, and a screenshot is kept.

Runs where Chromium is installed (``make browser`` installs Debian's ``chromium`` where the machine
allows); skips with the reason elsewhere. Set ``HEPDL_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome", "chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (make browser installs it)")

WIDTH = 1400

#: Appended to a copy of the page: when everything has loaded, write what a reader would see wrong
#: into the body's data-check attribute, which --dump-dom then prints.
CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0, width: i.clientWidth}; });
  var cells = Array.prototype.filter.call(document.querySelectorAll('td,th'), function (c) {
    return c.scrollWidth > c.clientWidth + 1; }).map(function (c) { return c.textContent; });
  var tables = Array.prototype.filter.call(document.querySelectorAll('table.results'), function (t) {
    return t.getBoundingClientRect().right > document.documentElement.clientWidth; }).length;
  document.body.setAttribute('data-check', JSON.stringify({images: imgs, overflowing_cells: cells,
    tables_wider_than_window: tables, page_width: document.documentElement.scrollWidth,
    window_width: window.innerWidth, page_height: document.documentElement.scrollHeight}));
});
</script>"""


def _render(page: Path, shots: Path, name: str) -> dict:
    probe = page.with_name("report-check.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
             f"--window-size={WIDTH},1000", "--virtual-time-budget=15000"]
    dom = subprocess.run([*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'data-check="([^"]*)"', dom.stdout)
    assert found, f"the page did not finish loading in Chromium:\n{dom.stderr[-2000:]}"
    check = json.loads(found[1].replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    shot = shots / f"{name}.png"
    subprocess.run([*flags[:-2], f"--window-size={WIDTH},{min(int(check['page_height']), 16000)}",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000, "no screenshot"
    keep = os.environ.get("HEPDL_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return check


def _assert_readable(check: dict, figures: list[str]) -> None:
    broken = [i["src"] for i in check["images"] if not i["ok"]]
    assert not broken, f"images that do not load: {broken}"
    assert sorted(Path(i["src"]).stem for i in check["images"]) == sorted(figures)
    assert all(i["width"] >= 600 for i in check["images"]), [(i["src"], i["width"]) for i in check["images"]]
    assert not check["overflowing_cells"], check["overflowing_cells"]
    assert check["tables_wider_than_window"] == 0
    assert check["page_width"] <= check["window_width"], "the page scrolls sideways"


def test_top_tagging_report_in_a_browser(top_task_run, run_main, tmp_path):
    # rebuilt by the command a user types, with every figure in one PDF
    res = run_main("report", str(top_task_run), "--pdf")
    assert res.returncode == 0, res.stderr
    assert (top_task_run / "report.pdf").stat().st_size > 10_000 and (top_task_run / "plots" / "roc.pdf").exists()
    check = _render(top_task_run / "report.html", tmp_path, "top-tagging")
    _assert_readable(check, ["roc", "scores", "mass_sculpting", "training", "images", "jet_display"])
    page = (top_task_run / "report.html").read_text(encoding="utf-8")
    for block in ("Results", "Data", "Figures", "Reproduce", "arXiv:1902.09914", "cutflow", "detector card", "train dnn"):
        assert block in page, block


def test_jet_classes_report_in_a_browser(jet_classes_run, tmp_path):
    check = _render(jet_classes_run / "report.html", tmp_path, "jet-classes")
    _assert_readable(check, ["roc", "confusion", "training", "mass_per_class", "images"])


def test_higgs_report_in_a_browser(higgs_task_run, tmp_path):
    check = _render(higgs_task_run / "report.html", tmp_path, "higgs-tautau")
    _assert_readable(check, ["ams", "scores", "roc", "masses", "training"])
    page = (higgs_task_run / "report.html").read_text(encoding="utf-8")
    assert "expected events" in page and "cross sections" in page and "after the tau-ID weight" in page


def test_explain_page_in_a_browser(top_task_run, run_main, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(top_task_run, run)
    res = run_main("explain", str(run), "--jets", "100")
    assert res.returncode == 0, res.stderr
    check = _render(run / "explain" / "explain.html", tmp_path, "explain")
    _assert_readable(check, ["ado", "lrp_features_dnn"])
    assert 'href="explain/explain.html"' in (run / "report.html").read_text(encoding="utf-8")
