"""The one report skeleton every task and objective fills: header, data block, results table,
figure sections with captions, and the command that reproduces the run.

A domain's report module (:mod:`hepdl.report.jets`, :mod:`hepdl.report.higgs`) makes the results
table (:class:`Table`) and the figures (:class:`Figure`); :func:`write_page` puts them into the
skeleton with the provenance of the run (:func:`run_info`, ``run.json``) and of its dataset
(:func:`data_block`). ``table.txt`` holds the same results table for the terminal.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.data.paths import atomic_write, atomic_write_json
from hepdl.metrics import MIN_BACKGROUND_PASSING, is_lower_limit
from hepdl.train.rundir import ModelDir

__all__ = ["Cell", "Table", "Figure", "Page", "write_page", "figures_html", "page_html", "plain_table_html", "run_info", "write_run_info", "update_run_info",
           "data_block", "text_table", "cell", "RUN_INFO", "LIMITED_MARK", "RELATIVE_ERROR_LIMIT"]

#: The run's provenance file, at the top of a task's run directory.
RUN_INFO = "run.json"
#: Marks a value whose statistical error is large (relative error above :data:`RELATIVE_ERROR_LIMIT`).
LIMITED_MARK = "†"
RELATIVE_ERROR_LIMIT = 0.2


@dataclass
class Cell:
    """One table cell: its text, the value it sorts by, whether it is the best of its column and
    whether its statistical error is large."""

    text: str
    sort: float | str | None = None
    best: bool = False
    limited: bool = False
    bound: bool = False  # a lower limit, not a measurement: never the best of its column
    reference: bool = False  # a reference row's value (e.g. no unfolding), not a contender: never the best of its column


def cell(m: dict[str, Any], key: str, digits: int = 3, na: str = "n/a") -> Cell:
    """The cell of figure ``key`` of a ``metrics.json``: ``value ± error`` for a measured figure,
    marked (:data:`LIMITED_MARK`) when the error is more than 20 % of the value."""
    v = m.get(key)
    if is_lower_limit(v):
        # too few test background jets pass: the 95 % CL lower limit, not a number
        lim = float(v["lower_limit"])
        return Cell(f"> {lim:.{digits}f} ({int(v['n_background'])} bkg) {LIMITED_MARK}", lim, limited=True, bound=True)
    if isinstance(v, dict):
        val, err = float(v["value"]), float(v.get("error", math.nan))
        if not math.isfinite(val):
            return Cell(na, None)
        limited = math.isfinite(err) and val != 0 and abs(err / val) > RELATIVE_ERROR_LIMIT
        text = f"{val:.{digits}f} ± {err:.{digits}f}" if math.isfinite(err) else f"{val:.{digits}f}"
        return Cell(text + (f" {LIMITED_MARK}" if limited else ""), val, limited=limited)
    if v is None:
        return Cell("", None)
    if isinstance(v, float):
        return Cell(f"{v:.{digits}f}" if math.isfinite(v) else na, v if math.isfinite(v) else None)
    return Cell(str(v), v if isinstance(v, int) else str(v))


@dataclass
class Table:
    """The results table: a header, rows of cells, and which columns have a best value (``"max"``
    or ``"min"`` per column index; the best cell of such a column is marked)."""

    header: list[str]
    rows: list[list[Cell]]
    better: dict[int, str] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        for col, how in self.better.items():
            vals = [(float(r[col].sort), i) for i, r in enumerate(self.rows)  # type: ignore[arg-type]
                    if isinstance(r[col].sort, (int, float)) and not (r[col].bound or r[col].reference)]
            if len(vals) < 2:
                continue
            best = max(v for v, _ in vals) if how == "max" else min(v for v, _ in vals)
            for v, i in vals:
                self.rows[i][col].best = v == best

    def texts(self) -> list[list[str]]:
        """Header and rows as strings (what ``table.txt`` and the terminal show)."""
        return [list(self.header), *[[c.text for c in r] for r in self.rows]]


@dataclass
class Figure:
    """A figure of the page: ``plots/<name>.png`` (and ``.pdf``), its heading and a one-line caption
    saying what is plotted and how to read it."""

    name: str
    title: str
    caption: str


@dataclass
class Page:
    """Everything a report page shows besides its provenance."""

    title: str
    table: Table
    figures: list[Figure]
    subtitle: str = ""
    extra_tables: list[tuple[str, list[list[str]]]] = field(default_factory=list)


def text_table(rows: list[list[str]]) -> str:
    """Rows of strings as a left-aligned text table (columns two spaces apart)."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


# --------------------------------------------------------------------------------------------------
# provenance

def _git_describe() -> str | None:
    """``git describe`` of the hepdl source tree, when it is a git checkout."""
    src = Path(__file__).resolve().parents[3]
    if not (src / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(src), "describe", "--always", "--dirty", "--tags"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    desc = f"{cpu}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            desc += ", GPU " + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        else:
            desc += ", no GPU"
    except Exception:  # torch missing or broken: the machine line stays without it
        pass
    return desc


def write_run_info(run: Path, *, task: str, preset: str, recipe: str, command: list[str] | None = None,
                   domain: str | None = None, dataset: str | None = None) -> dict[str, Any]:
    """Write ``run.json`` at the start of a task's run: task, preset, recipe, the dataset's domain (and
    path, for runs whose directories are not trained models), the command line, the date, the hepdl
    version, ``git describe`` of the code and the machine."""
    import hepdl

    info: dict[str, Any] = {"task": task, "preset": preset, "recipe": recipe, "domain": domain,
            **({"dataset": dataset} if dataset is not None else {}),
            "command": shlex.join(command if command is not None else _command()),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "hepdl_version": hepdl.__version__, "git": _git_describe(),
            "machine": _machine(), "python": platform.python_version(), "stages": []}
    atomic_write_json(run / RUN_INFO, info)
    return info


def update_run_info(run: Path, stage: str, seconds: float) -> None:
    """Record the wall time of a stage (``generate``, ``train <model>``, ``report``) in ``run.json``."""
    info = run_info(run)
    if info is None:
        return
    info["stages"] = [*[st for st in _stages(info) if st[0] != stage], [stage, round(float(seconds), 1)]]
    atomic_write_json(run / RUN_INFO, info)


def _group_folds(stages: list[list[Any]]) -> list[tuple[str, float]]:
    """The stages with a cross-validation's per-fold trainings (``train <model>-fold<k>``) summed into
    one ``train <model> (<n> folds)`` each, in the order they first ran."""
    import re

    out: dict[str, list[float]] = {}
    for name, seconds in stages:
        m = re.fullmatch(r"(train .+)-fold\d+", str(name))
        out.setdefault(m.group(1) if m else str(name), []).append(float(seconds))
    return [(k if len(v) == 1 else f"{k} ({len(v)} folds)", sum(v)) for k, v in out.items()]


def _stages(info: dict[str, Any]) -> list[list[Any]]:
    """The ``[stage, seconds]`` pairs of ``run.json``, in the order they ran."""
    st = info.get("stages") or []
    return [list(x) for x in st] if isinstance(st, list) else [[k, v] for k, v in st.items()]


def run_info(run: Path) -> dict[str, Any] | None:
    """``run.json`` of a run directory, or None (a run made by ``hepdl train`` has none)."""
    f = Path(run) / RUN_INFO
    try:
        data = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _command() -> list[str]:
    prog = Path(sys.argv[0]).name if sys.argv else "python"
    return ["hepdl" if prog in ("hepdl", "__main__.py") else prog, *sys.argv[1:]]


def _card_hash(card: Any) -> str:
    return hashlib.sha256(json.dumps(card, sort_keys=True, default=str).encode()).hexdigest()[:12]


def data_block(ds: Any, models: list[Path]) -> tuple[list[tuple[str, str]], list[tuple[str, list[list[str]]]]]:
    """What the run was trained on: ``(rows of (label, value), tables)``.

    Rows: dataset path and format, counts per class, generator settings, detector card (name and
    hash), seeds, the split and its sizes. Tables: the cutflow (with expected events where the
    dataset has a luminosity) and the cross sections, for generated datasets.
    """
    rows: list[tuple[str, str]] = []
    tables: list[tuple[str, list[list[str]]]] = []
    record = ModelDir(models[0]).record() if models and (models[0] / ModelDir.CONFIG).exists() else None
    if ds is not None:
        rows.append(("dataset", f"{ds.path} ({getattr(ds, 'format', '')})"))
        labels = np.asarray(ds.labels)
        names = list(getattr(ds, "label_names", None) or [])
        counts = {int(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)}
        rows.append(("records per class", ", ".join(f"{names[k] if 0 <= k < len(names) else k}: {v}" for k, v in counts.items())
                     + f" (total {len(labels)})"))
        meta = getattr(ds, "metadata", None) or {}
        settings = meta.get("settings") or {}
        samples = settings.get("samples") or []
        if samples:
            gen = [f"{s['name']}: {s['generator']['process']}{_pthat(s['generator'])}"
                   + (", truth-matched" if s.get("truth_match", "none") != "none" else "")
                   + (f" ({', '.join(s['generator']['extra_settings'])})" if s["generator"].get("extra_settings") else "") for s in samples]
            g0 = samples[0]["generator"]
            rows.append(("generator", f"Pythia 8, √s = {(g0.get('sqrt_s') or 0) / 1000:g} TeV, MPI {'on' if g0.get('mpi') else 'off'}, "
                                      f"pile-up μ = {g0.get('pileup_mu', 0):g}; " + "; ".join(gen)))
        if settings.get("detector") is not None:
            card = settings.get("detector_card")
            rows.append(("detector card", f"{settings['detector']} (sha256 {_card_hash(card)})" if card else str(settings["detector"])))
        if settings.get("selection"):
            sel = ", ".join(f"{k} = {v}" for k, v in settings["selection"].items())
            rows.append(("selection", sel))
        if "seed" in settings:
            rows.append(("generation seed", str(settings["seed"])))
        if meta.get("luminosity_fb"):
            rows.append(("luminosity", f"{meta['luminosity_fb']:g} fb⁻¹ (event weights: expected events)"))
        if meta.get("hepdl_version"):
            rows.append(("generated with", f"hepdl {meta['hepdl_version']}"))
        flow = cutflow_rows(meta)
        if flow:
            tables.append(("cutflow" + (" (simulated / expected events)" if meta.get("expected_events") else " (events)"), flow))
        xsec = meta.get("cross_section") or {}
        if xsec:
            tables.append(("cross sections (Pythia's estimate)", [["sample", "process", "σ [pb]"]] + [
                [s, x["process"], f"{_num(x['sigma_pb'], 4)} ± {_num(x['sigma_err_mb'] * 1e9, 2)}"] for s, x in xsec.items()]))
    if record is not None:
        rows.append(("training seed", str(record.seed)))
        split = models[0] / ModelDir.SPLIT
        if split.exists():
            with np.load(split) as s:
                sizes = ", ".join(f"{k} {len(s[k])}" for k in ("train", "val", "test") if k in s)
            how = "seeded, stratified by class" if record.split == "seeded" else f"the dataset's own ({record.split})"
            rows.append(("split", f"{how}: {sizes}"))
    return rows, tables


def _pthat(gen: dict[str, Any]) -> str:
    lo, hi = gen.get("pthat_min"), gen.get("pthat_max")
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f", pT-hat > {lo:g} GeV"
    return f", pT-hat {lo or 0:g}–{hi:g} GeV"


def _num(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits, without an exponent between 1e-4 and 1e6."""
    if not math.isfinite(x) or x == 0 or not 1e-4 <= abs(x) < 1e6:
        return f"{x:.{digits}g}"
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")


def cutflow_rows(meta: dict[str, Any]) -> list[list[str]]:
    """Rows (header first): each cutflow step in words, then the events per sample (``simulated /
    expected`` where the dataset has expected events)."""
    from hepdl.data.generate import CUT_LABELS

    flow = meta.get("cutflow") or {}
    exp = meta.get("expected_events") or {}
    if not flow:
        return []
    samples = list(flow)
    order = list(CUT_LABELS)
    steps = sorted({k for s in samples for k in flow[s]}, key=lambda k: order.index(k) if k in order else len(order))
    # each class's truth match is one row: the step that makes a sample of jets that class
    matches = [k for k in steps if k.endswith("_match")]
    if exp and any("tau_id" in e for e in exp.values()):
        steps.append("tau_id")
    rows = [["step"] + list(samples)]
    for st in steps:
        if st in matches[1:]:
            continue
        if st in matches:
            label = "truth-matched to its class (" + "; ".join(CUT_LABELS.get(m, m) for m in matches) + ")"
            cells = [next((f"{flow[s][m]}" for m in matches if m in flow[s]), "") for s in samples]
            rows.append([label, *cells])
            continue
        own = meta.get("cut_labels") or {}  # a domain's own step names (air showers)
        row = [own.get(st) or CUT_LABELS.get(st, "after the tau-ID weight" if st == "tau_id" else st)]
        for s in samples:
            n, e = flow[s].get(st), exp.get(s, {}).get(st)
            row.append(("" if n is None else f"{n}") + ("" if e is None else f" / {e:.4g}"))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# the page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1280px;padding:1.5em 2em;color:#222;line-height:1.4}
h1{margin-bottom:.1em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#555;margin-top:0} .wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right} td{white-space:nowrap} th{vertical-align:bottom} td:first-child,th:first-child{text-align:left}
th{background:#f3f3f3} table.results th{cursor:pointer} table.results th:hover{background:#e5e5e5}
td.best{font-weight:bold;background:#eaf5ea} td.limited{color:#8a5a00}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1.2em;margin:.5em 0} dl.kv dt{font-weight:600;color:#444} dl.kv dd{margin:0;overflow-wrap:anywhere}
figure{margin:1em 0 2em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:14px;margin-top:.3em;max-width:900px}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#555;font-size:13px}
"""

_SORT_JS = """
document.querySelectorAll('table.results').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,col){
    th.title='click to sort';
    th.addEventListener('click',function(){
      var body=t.tBodies[0], rows=Array.prototype.slice.call(body.rows), dir=th.dataset.dir==='desc'?1:-1;
      th.dataset.dir=dir===1?'asc':'desc';
      rows.sort(function(a,b){
        var x=a.cells[col].dataset.sort, y=b.cells[col].dataset.sort;
        var nx=parseFloat(x), ny=parseFloat(y);
        if(x===undefined||x==='') return 1; if(y===undefined||y==='') return -1;
        if(!isNaN(nx)&&!isNaN(ny)) return dir*(nx-ny);
        return dir*String(x).localeCompare(String(y));
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _results_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for r in table.rows:
        cells = []
        for c in r:
            cls = " ".join(k for k, on in (("best", c.best), ("limited", c.limited)) if on)
            sort = "" if c.sort is None else html.escape(str(c.sort))
            title = ' title="limited by statistics: error above 20 % of the value, or a lower limit"' if c.limited else (' title="best of the column"' if c.best else "")
            cells.append(f'<td class="{cls}" data-sort="{sort}"{title}>{html.escape(c.text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wrap"><table class="results"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def figures_html(figures: list[Figure]) -> str:
    """The figure sections of a page: heading, the PNG linking to its PDF, the caption."""
    return "".join(
        f'<figure id="{html.escape(f.name)}"><h3>{html.escape(f.title)}</h3>'
        f'<a href="plots/{html.escape(f.name)}.pdf"><img src="plots/{html.escape(f.name)}.png" alt="{html.escape(f.title)}"></a>'
        f"<figcaption>{html.escape(f.caption)} <a href=\"plots/{html.escape(f.name)}.pdf\">PDF</a></figcaption></figure>"
        for f in figures)


def page_html(title: str, subtitle: str, body: str, figures: str, note: str = "") -> str:
    """A further page of a run (e.g. ``explain/explain.html``) in the report's style: title, subtitle,
    ``body`` (HTML: tables), the figure sections and a closing note."""
    return f"""{_head(title, subtitle)}
{body}<h2>Figures</h2>{figures}<p class="note">{html.escape(note)}</p></body></html>"""


def _head(title: str, subtitle: str) -> str:
    """Every page's start: the document head with the report's style, the title and the subtitle."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>"""


def plain_table_html(rows: list[list[str]]) -> str:
    """Rows of strings (header first) as an HTML table."""
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _kv(rows: list[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows) + "</dl>"


def write_page(run: Path, page: Page, ds: Any, models: list[Path]) -> Path:
    """Write ``report.html`` and ``table.txt`` of ``run`` from ``page`` and the run's provenance."""
    run = Path(run)
    info = run_info(run) or {}
    import hepdl

    header = [("task", f"{info.get('task', '')}" + (f", preset {info['preset']}" if info.get("preset") else "")),
              ("recipe", info.get("recipe", "")),
              ("started", info.get("started", "")),
              ("report written", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
              ("hepdl", f"{info.get('hepdl_version', hepdl.__version__)}" + (f" (git {info['git']})" if info.get("git") else "")),
              ("machine", info.get("machine") or _machine())]
    stages = _stages(info)
    if stages:
        header.append(("wall time", ", ".join(f"{k} {_duration(v)}" for k, v in _group_folds(stages))))
    header = [(k, v) for k, v in header if v]
    rows, tables = data_block(ds, models)
    command = info.get("command") or f"hepdl report {run}"
    figs = figures_html(page.figures)
    if (run / "explain" / "explain.html").exists():
        figs += ('<h2>Explanations</h2><p>What the models learned (relevance maps, decision ordering with the '
                 'physicist\'s observables, the observable search): <a href="explain/explain.html">explain/explain.html</a></p>')
    bounded = any(c.bound for r in page.table.rows for c in r)  # a 1/eps_B lower limit in the table
    bound_html = (f"; &gt; x: fewer than {MIN_BACKGROUND_PASSING} test background jets pass, x is the 95 % CL lower limit "
                  "on 1/eps_B" if bounded else "")
    limited_note = (f'<p class="note">Bold: the best value of its column. {LIMITED_MARK}: limited by statistics, a '
                    f"bootstrap error above {RELATIVE_ERROR_LIMIT:.0%} of the value{bound_html}. Click a "
                    "column heading to sort.</p>")
    extra = "".join(f"<h3>{html.escape(t)}</h3>{plain_table_html(r)}" for t, r in page.extra_tables)
    data_tables = "".join(f"<h3>{html.escape(t)}</h3>{plain_table_html(r)}" for t, r in tables)
    doc = f"""{_head(page.title, page.subtitle)}
{_kv(header)}
<h2>Results</h2>{_results_html(page.table)}{limited_note}{'<p class="note">' + html.escape(page.table.note) + '</p>' if page.table.note else ''}{extra}
<h2>Data</h2>{_kv(rows) if rows else '<p class="note">The dataset of this run could not be read; its figures are left out.</p>'}{data_tables}
<h2>Figures</h2>{figs}
<h2>Reproduce</h2><pre>{html.escape(command)}</pre>
<p class="note">Rebuild this page from the run directory (no retraining): <code>hepdl report {html.escape(str(run))}</code></p>
<script>{_SORT_JS}</script></body></html>"""
    atomic_write(run / "report.html", lambda tmp: tmp.write_text(doc, encoding="utf-8"))
    text = (page.subtitle + "\n\n" if page.subtitle else "") + text_table(page.table.texts()) + "\n"
    if any(c.limited for r in page.table.rows for c in r):
        text += (f"\n{LIMITED_MARK} limited by statistics: bootstrap error above {RELATIVE_ERROR_LIMIT:.0%} of the value"
                 + (f"; > x: fewer than {MIN_BACKGROUND_PASSING} test background jets pass (x: 95 % CL lower limit)" if bounded else "")
                 + "\n")
    for t, r in [*page.extra_tables, *tables]:
        text += f"\n{t}\n{text_table(r)}\n"
    atomic_write(run / "table.txt", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return run / "report.html"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
