"""Small helpers shared across hepdl (internal)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["quiet_stdout"]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence output on file descriptor 1 (C++ banners of Pythia and FastJet) inside the block."""
    try:
        sys.stdout.flush()
        fd = os.dup(1)
    except (OSError, ValueError):  # no real stdout (some notebooks, captured streams)
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(fd, 1)
            os.close(fd)
