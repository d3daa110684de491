"""Helpers shared by the benchmark scripts (not a benchmark itself).

Standard library at import time only: :mod:`energyflow_reference` imports this module inside the
energyflow environment (numpy<2, no hepdl), so hepdl and numpy are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import re
import statistics
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Environment of a child process that must run on one core.
SINGLE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to standard output (by Python or by C/C++ libraries: Pythia, the hls4ml
    compiler) to standard error, so that a benchmark's one JSON line, printed after, is alone on it."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _status_mb(key: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process in MB (Linux), None elsewhere."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) / 1024 if m else None


def _release_free_memory() -> None:
    """Collect garbage and hand the allocator's free pages back to the system (glibc ``malloc_trim``),
    so that memory freed before a measurement cannot hide the growth of the measured call."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def peak_growth() -> Iterator[dict[str, float]]:
    """Measure the working memory of the enclosed code: the growth of the process's peak resident set
    over its resident set at entry, in MB (``result["growth_mb"]``), with the peak high-water mark
    reset at entry (Linux ``/proc/self/clear_refs``); also the whole process's resident set at entry
    and its peak afterwards (``start_rss_mb``, ``process_peak_rss_mb``: input data and libraries
    included). Where the reset is impossible, the peak since the process started is used (the
    growth is then a lower bound), and ``reset`` is 0."""
    import resource

    _release_free_memory()
    res: dict[str, float] = {}
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    start = _status_mb("VmRSS")
    if start is None:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        yield res
    finally:
        peak = _status_mb("VmHWM") if reset else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        res.update(growth_mb=max(peak - start, 0.0), start_rss_mb=start, process_peak_rss_mb=peak, reset=float(reset))


def mean_err(values: Sequence[float]) -> tuple[float, float]:
    """Mean of repeated measurements and its standard error (NaN for a single measurement: unknown)."""
    vals = [float(v) for v in values]
    m = statistics.fmean(vals)
    return m, (statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else math.nan)


def rnd(x: float, digits: int = 3) -> float | None:
    """``x`` rounded to ``digits`` significant digits (JSON-friendly: None for NaN/inf)."""
    if x is None or not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, max(digits - 1 - int(math.floor(math.log10(abs(x)))), 0))


def balanced_subset(labels: Any, n: int, seed: int = 0) -> Any:
    """Sorted indices of a seeded random subset of ``n`` rows holding every class of ``labels`` in
    proportion (at least one row each). ``hepdl.data.open(max_jets=n)`` keeps the first rows instead,
    which for a generated dataset written sample by sample can be one class."""
    import numpy as np

    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    if n < len(classes):
        raise ValueError(f"a subset of {n} rows cannot hold all {len(classes)} classes")
    take = np.maximum(np.floor(n * counts / counts.sum()).astype(int), 1)
    for i in np.argsort(-counts):  # hand out the rounding remainder, largest classes first
        if take.sum() >= n:
            break
        take[i] += 1
    while take.sum() > n:
        take[np.argmax(take)] -= 1
    idx = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(idx))


def subset_dataset(ds: Any, n: int, seed: int = 0) -> Any:
    """A :class:`hepdl.data.JetDataset` of ``n`` jets chosen by :func:`balanced_subset` (in memory, so
    never cached: ``options=None``); ``ds`` itself when it has at most ``n`` jets."""
    import dataclasses

    if len(ds) <= n:
        return ds
    idx = balanced_subset(ds.labels, n, seed)
    return dataclasses.replace(ds, jets=ds.jets[idx], options=None)
