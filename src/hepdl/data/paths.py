"""Where hepdl keeps things on disk, and atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hepdl.errors import DataError

__all__ = ["cache_dir", "atomic_write", "atomic_write_json", "ensure_writable_dir"]


def cache_dir(override: str | Path | None = None) -> Path:
    """The cache directory: ``override``, else ``$HEPDL_CACHE``, else ``~/.cache/hepdl``."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("HEPDL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hepdl"


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and check that files can be written in it (clear error if not)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True):
            pass
    except OSError as exc:
        raise DataError(f"cannot write to output directory {path}: {exc.strerror or exc}") from None
    return path


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    A reader never sees a half-written ``path``; an interruption leaves at most a stray
    ``.tmp-*`` file, which the next run ignores.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))
