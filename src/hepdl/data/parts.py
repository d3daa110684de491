"""The files of a generated dataset: ``dataset.json`` and its Parquet part files, read with their
checks (format, schema version, completeness, each part's size and SHA-256). Shared by the jet and
the event datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak

from hepdl import schema
from hepdl.data.paths import sha256_file
from hepdl.errors import DataError

__all__ = ["read_metadata", "read_parts", "read_part"]

_REGENERATE = "regenerate it by rerunning `hepdl generate` with the same settings and output directory (only damaged parts are regenerated)"


def _one_line(exc: BaseException, limit: int = 240) -> str:
    """A library exception's message as one short line (HDF5 error stacks: their innermost cause)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if any("HDF5 error back trace" in ln for ln in lines):
        end = next((i for i, ln in enumerate(lines) if ln.startswith("End of HDF5 error back trace")), len(lines))
        causes = [ln for ln in lines[:end] if not ln.startswith(("File ", "HDF5 error back trace"))]
        lines = causes[-1:] or lines[-1:]
    text = " ".join(lines) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_metadata(path: Path, fmt: str, what: str) -> dict[str, Any]:
    """``dataset.json`` of a finished hepdl dataset of format ``fmt`` (``hepdl-jets``/``hepdl-events``),
    with clear errors for a corrupt or missing file, another format or schema, or an interrupted generation."""
    meta_path = path / "dataset.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{meta_path} is missing or corrupt: {_one_line(exc)}") from None
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path} is corrupt: expected a JSON object, got a {type(meta).__name__}")
    if meta.get("format") != fmt:
        raise DataError(f"{meta_path} is not a hepdl {what} dataset (format {meta.get('format')!r})")
    if meta.get("schema_version") != schema.SCHEMA_VERSION:
        raise DataError(f"{meta_path}: schema version {meta.get('schema_version')} is not the supported {schema.SCHEMA_VERSION}")
    if not meta.get("complete"):
        raise DataError(f"dataset {path} is incomplete (generation was interrupted); rerun the same `hepdl generate` command to finish it")
    return meta


def read_parts(path: Path, meta: dict[str, Any], *, verify: bool = True) -> list[ak.Array]:
    """The Parquet part files listed in ``meta``, each read as it is (no schema check).

    Parameters
    ----------
    path
        The dataset directory.
    meta
        Its ``dataset.json``, whose ``parts`` list each part's ``file``, ``bytes`` and ``sha256``.
    verify
        Check each part's SHA-256 against ``dataset.json`` (the default). Its size is always
        checked; the hash also catches damage that keeps the size (a flipped bit, a bad copy).
        Hashing reads each file once more, from the page cache, at about 1.2 GB/s: about a
        quarter of the time of reading the Parquet parts (~330 MB/s), under a fifth of a full
        :func:`open` (measured on 87 MB of parts, 60 000 jets, one core).

    Raises
    ------
    DataError
        Naming the part file when it is missing, has another size or hash than ``dataset.json``
        lists (the dataset is damaged: rerun ``hepdl generate`` with the same settings, which
        regenerates only the damaged parts), or is not readable Parquet.
    """
    meta_path = path / "dataset.json"
    parts = meta.get("parts")
    if not isinstance(parts, list):
        raise DataError(f"{meta_path}: key 'parts' must be a list of part entries, got {type(parts).__name__}")
    return [read_part(path, i, part, verify=verify) for i, part in enumerate(parts)]


def read_part(path: Path, i: int, part: Any, *, verify: bool = True, columns: list[str] | None = None) -> ak.Array:
    """Part ``i`` of the dataset directory ``path`` (``part``: its entry in ``dataset.json``), its
    listing, size and (``verify``) SHA-256 checked as :func:`read_parts` says; only ``columns`` if given."""
    import pyarrow

    meta_path = path / "dataset.json"
    if not (isinstance(part, dict) and isinstance(part.get("file"), str) and isinstance(part.get("bytes"), int)
            and isinstance(part.get("sha256"), str)):
        raise DataError(f"{meta_path}: parts[{i}] must have the keys file, bytes and sha256; got {str(part)[:120]}")
    name = part["file"]
    f = path / name
    if Path(name).name != name:
        raise DataError(f"{meta_path}: parts[{i}] file {name!r} must be a file name inside the dataset directory")
    if not f.is_file():
        raise DataError(f"dataset {path}: part file {name} listed in dataset.json is missing; the dataset is damaged, {_REGENERATE}")
    size = f.stat().st_size
    if size != part["bytes"]:
        raise DataError(
            f"dataset {path} is damaged: part file {name} is corrupt or truncated ({size} bytes, dataset.json lists "
            f"{part['bytes']}); {_REGENERATE}"
        )
    if verify and sha256_file(f) != part["sha256"]:
        raise DataError(f"dataset {path} is damaged: part file {name} is corrupt (its SHA-256 is not the one dataset.json lists); {_REGENERATE}")
    try:
        return ak.from_parquet(f, columns=columns)
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"part file {f} is corrupt or not a Parquet file: {_one_line(exc)}") from None


