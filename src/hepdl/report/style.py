"""Figure style shared by every report: one colour per model for the whole run, a line style per
model family, and figures saved as PNG (for the page) and PDF (vector, for talks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["PALETTE", "model_styles", "plt", "save", "collect_pdf"]

#: Twenty colours, distinguishable in pairs (the strong tab10 colours first, then their light twins);
#: with the line style per family, 60 models stay distinct.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#0b3d91", "#a65628", "#66a61e", "#e7298a", "#6a3d9a", "#b15928", "#1b9e77", "#fb9a99", "#525252", "#4daf4a")

#: Line style by model family: the physicist's cuts dotted, the boosted trees dash-dotted, networks solid.
_FAMILY_STYLE = {"cut": ":", "tree": "-.", "network": "-"}

_PDF: list[Any] = []  # the open PdfPages collectors (see collect_pdf)


def _family(name: str) -> str:
    from hepdl.models import registry

    base = _base(name)
    if base.endswith("-cut") or base.endswith("-cuts"):
        return "cut"
    try:
        return "network" if registry.spec(base).is_torch else "tree"
    except Exception:  # a name the registry does not know (a user's model): draw it as a network
        return "network"


def _base(name: str) -> str:
    """The model of a directory name: ``dnn-2`` and ``dnn-ensemble`` are ``dnn``."""
    head, _, tail = name.rpartition("-")
    return head if head and (tail.isdigit() or tail == "ensemble") else name


def model_styles(names: list[str]) -> dict[str, dict[str, Any]]:
    """Matplotlib keyword arguments (``color``, ``ls``) for each model directory name of a run.

    Colours follow the sorted base model names, so a model has the same colour in every figure of
    the run; members of an ensemble share their model's colour (the ensemble drawn thicker).
    """
    bases = sorted({_base(n) for n in names})
    out: dict[str, dict[str, Any]] = {}
    for n in names:
        k = bases.index(_base(n))
        ls = _FAMILY_STYLE[_family(n)]
        if k >= len(PALETTE):  # beyond twenty models, the line style cycles too
            ls = ("-", "--", ":", "-.")[(k // len(PALETTE)) % 4]
        out[n] = {"color": PALETTE[k % len(PALETTE)], "ls": ls, "lw": 2.2 if n.endswith("-ensemble") else 1.6}
    return out


def plt() -> Any:
    """``matplotlib.pyplot`` with the Agg backend and the mplhep ATLAS style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    import mplhep

    pyplot.style.use(mplhep.style.ATLAS)
    return pyplot


def save(fig: Any, plots: Path, name: str, dpi: int = 100) -> str:
    """Save ``fig`` as ``plots/<name>.png`` and ``plots/<name>.pdf`` (and into the open
    :func:`collect_pdf` file, if any), close it, and return ``name``."""
    from hepdl.data.paths import atomic_write

    for ext in ("png", "pdf"):
        def write(tmp: Path, ext: str = ext) -> None:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")

        atomic_write(plots / f"{name}.{ext}", write)
    for pdf in _PDF:
        pdf.savefig(fig, bbox_inches="tight")
    import matplotlib.pyplot as pyplot

    pyplot.close(fig)
    return name


@contextlib.contextmanager
def collect_pdf(path: Path | None) -> Iterator[None]:
    """While open, every figure :func:`save` writes is also a page of the PDF ``path`` (nothing if None)."""
    if path is None:
        yield
        return
    from matplotlib.backends.backend_pdf import PdfPages

    tmp = path.with_name(path.name + ".tmp")
    pdf = PdfPages(tmp)
    _PDF.append(pdf)
    try:
        yield
    finally:
        _PDF.remove(pdf)
        pdf.close()
    tmp.replace(path)
