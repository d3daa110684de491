"""Where hepdl keeps things on disk, and atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hepdl.errors import DataError

__all__ = ["cache_dir", "atomic_write", "atomic_write_json", "ensure_writable_dir", "file_mode", "replace_dir", "sha256_file"]


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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (the checksum recorded for each dataset part)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def file_mode() -> int:
    """The permission bits a new file gets under the process's umask (``0o666 & ~umask``)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    A reader never sees a half-written ``path``; an interruption leaves at most a stray
    ``.tmp-*`` file, which the next run ignores. The file gets the permissions of the user's
    umask, as a plain ``open`` would give it (``mkstemp`` alone would make it private, 0600).
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_dir(new: Path, target: Path) -> Path:
    """Move the finished directory ``new`` onto ``target``, replacing what ``target`` held.

    The old ``target`` is first renamed aside (``.<name>.old-<pid>``), then ``new`` renamed into
    place, then the old copy removed: at every moment one complete version exists on disk
    (``target`` or, for the instant between the two renames, its renamed copy).
    """
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))
