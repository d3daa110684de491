"""Reports: one HTML page per run in one skeleton for every task and objective, built from the files
the trainer wrote (no retraining).

:func:`make_report` reads a run directory (one sub-directory per model), picks the page of the run's
domain from :data:`PAGES` (a new domain registers its own: results table and figures), and writes
``report.html`` (header with provenance, data block, sortable results table, captioned figures,
the command that reproduces the run), ``table.txt`` (the results table for the terminal) and
``plots/<figure>.png`` and ``.pdf``; with ``pdf=True`` also ``report.pdf``, all figures in one file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hepdl.report.curves import learning_curve_figure
from hepdl.report.jets import FIGURES, MULTICLASS_FIGURES, jet_page
from hepdl.report.page import (
    Figure,
    Page,
    Table,
    data_block,
    run_info,
    text_table,
    update_run_info,
    write_page,
    write_run_info,
)
from hepdl.report.style import collect_pdf, model_styles, plt
from hepdl.train.rundir import ModelDir

__all__ = ["make_report", "rewrite_report", "model_table", "text_table", "FIGURES", "MULTICLASS_FIGURES", "PAGES",
           "Page", "Table", "Figure", "data_block", "write_run_info", "update_run_info", "run_info", "model_styles"]


def _event_page(*args: Any) -> Page:
    from hepdl.report.higgs import event_page

    return event_page(*args)


def _shower_page(*args: Any) -> Page:
    from hepdl.report.airshowers import shower_page

    return shower_page(*args)


def _unfolding_page(*args: Any) -> Page:
    from hepdl.report.unfolding import unfolding_page

    return unfolding_page(*args)


#: The page of each dataset domain: ``page(plt, plots, models, metrics, scores, ds, label_names, title) -> Page``.
PAGES: dict[str, Callable[..., Page]] = {"jets": jet_page, "events": _event_page, "airshowers": _shower_page,
                                         "unfolding": _unfolding_page}


def model_table(metrics: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows (header first) of the jet results table (see :func:`hepdl.report.jets.model_table`)."""
    from hepdl.report.jets import model_table as table

    return table(metrics).texts()


def _models(run: Path) -> list[Path]:
    return sorted(p for p in run.iterdir() if (p / ModelDir.METRICS).exists() and (p / ModelDir.SCORES).exists()
                  and not p.name.endswith(".partial"))


def _run_class_names(models: list[Path]) -> list[str] | None:
    """The ``class_names`` of the first model's ``config.json`` that has them (ensembles have none)."""
    for p in models:
        if (p / ModelDir.CONFIG).exists():
            names = ModelDir(p).record().class_names
            if names:
                return [str(n) for n in names]
    return None


def make_report(run_dir: str | Path, ds: Any | None = None, *, title: str | None = None,
                label_names: list[str] | None = None, domain: str | None = None, pdf: bool = False) -> Path:
    """Write ``report.html``, ``table.txt`` and ``plots/`` for a run directory holding one
    sub-directory per model.

    Parameters
    ----------
    run_dir
        ``runs/<task>/<timestamp>/`` with ``<model>/metrics.json`` and ``<model>/scores.npz``.
    ds
        The run's dataset (for the data block and the figures that need its records: mass
        sculpting, images, weighted AMS curves, ...); without it those are left out.
    title
        The page title (default: the task and preset of ``run.json``).
    label_names
        Class names by label (default: the dataset's, else the ``class_names`` of the models'
        ``config.json``). A two-class run calls its lower label the background and its higher label
        the signal, by these names.
    domain
        The page to draw (:data:`PAGES`; default: the dataset's domain, else that of ``run.json``,
        else ``jets``).
    pdf
        Also write ``report.pdf`` with every figure.
    """
    t0 = time.perf_counter()
    run = Path(run_dir)
    models = _models(run)
    if not models:
        from hepdl.errors import DataError

        raise DataError(f"{run} holds no trained model (no <model>/metrics.json with scores.npz): nothing to report")
    metrics = {p.name: ModelDir(p).metrics() for p in models}
    scores = {p.name: np.load(p / ModelDir.SCORES) for p in models}
    info = run_info(run) or {}
    domain = domain or getattr(ds, "domain", None) or info.get("domain") or "jets"
    if domain not in PAGES:
        from hepdl.errors import ConfigError

        raise ConfigError(f"no report page for domain {domain!r}; known: {', '.join(PAGES)}")
    label_names = label_names or (list(ds.label_names) if ds is not None and getattr(ds, "label_names", None) else None) \
        or _run_class_names(models)
    title = title or (f"{info['task']} ({info.get('preset', '')})" if info.get("task") else f"hepdl run {run.name}")
    plots = run / "plots"
    plots.mkdir(exist_ok=True)
    pyplot = plt()
    with collect_pdf(run / "report.pdf" if pdf else None):
        page = PAGES[domain](pyplot, plots, models, metrics, scores, ds, label_names, title)
        page.figures += learning_curve_figure(pyplot, plots, run, metrics)
    if info:
        update_run_info(run, "report", time.perf_counter() - t0)
    return write_page(run, page, ds, models)


def rewrite_report(run_dir: str | Path, *, pdf: bool = False) -> Path:
    """Rewrite a run's report from its stored outputs, with the figures its dataset allows (without
    the dataset's figures and data block when it cannot be read any more)."""
    from hepdl.errors import DataError
    from hepdl.train.trainer import trained_dataset, trained_model_dirs

    run = Path(run_dir)
    info = run_info(run) or {}
    try:
        if info.get("dataset"):  # a run of methods, not trained models (unfolding): run.json names its dataset
            from hepdl.data import open as open_dataset

            ds = open_dataset(info["dataset"], verify=False)
        else:
            ds = trained_dataset(trained_model_dirs(run)[0])
    except DataError:
        ds = None
    return make_report(run, ds, pdf=pdf)
