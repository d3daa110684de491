"""The run directory as a typed record: one place owns the file names of a trained model's directory,
and its settings (``config.json``) are a schema-versioned dataclass read back through
:func:`hepdl.config.from_dict` (an unknown key or a newer schema is an error naming the file).

A model's directory holds ``config.json`` (:class:`RunRecord`), ``preprocess.json`` (how to build its
inputs), ``split.npz``, the model (``model.ckpt`` + ``last.ckpt`` for networks, ``model.json`` for the
baselines; ``model_build.json`` rebuilds a network), ``history.csv``, ``scores.npz``,
``metrics.json`` and ``train.log``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hepdl.config import from_dict
from hepdl.errors import ConfigError, DataError
from hepdl.train.config import TrainConfig

__all__ = ["ModelDir", "RunRecord", "RUN_SCHEMA_VERSION", "PREPROCESS_HEADER", "METRICS_HEADER"]

#: Version of the run record; a run written by a newer hepdl is refused with a clear error.
RUN_SCHEMA_VERSION = 1


#: Keys every ``preprocess.json`` has, with their types. The rest belongs to the representation
#: (``columns``/``mean``/``std``, ``n_particles``/``features``, ``image``) and to the objective
#: (``class_names``, ``target_mean``/``target_std``, ``trained_on``); the file is flat so that the
#: exported ONNX contract is the same object.
PREPROCESS_HEADER: dict[str, type] = {"schema_version": int, "kind": str, "objective": str, "output": str, "input_names": list}

#: Keys every ``metrics.json`` has, with their types; the figures themselves are the objective's and
#: the domain's (each a ``{"value", "error"}`` object where it has an error).
METRICS_HEADER: dict[str, type] = {"schema_version": int, "model": str, "objective": str, "split": str, "evaluation": dict}


def _check_header(data: dict[str, Any], header: dict[str, type], where: Path) -> dict[str, Any]:
    version = data.get("schema_version", 0)
    if isinstance(version, int) and version > RUN_SCHEMA_VERSION:
        raise DataError(f"{where} has schema version {version}, newer than this hepdl's ({RUN_SCHEMA_VERSION}): update hepdl")
    for key, typ in header.items():
        if key == "schema_version" and key not in data:
            continue  # written before the version was recorded (version 0): same layout
        if not isinstance(data.get(key), typ):
            raise DataError(f"{where}: key {key!r} must be a {typ.__name__}, got {data.get(key)!r}")
    return data


@dataclass
class RunRecord(TrainConfig):
    """``config.json``: the training settings plus what the run was trained on and how."""

    dataset: str = ""
    input_kind: str = ""
    target_names: list[str] = field(default_factory=list)
    class_names: list[str] | None = None
    split: str = "seeded"
    dataset_options: dict[str, Any] | None = None
    schema_version: int = RUN_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version > RUN_SCHEMA_VERSION:
            raise ConfigError(f"run record schema version {self.schema_version} is newer than this hepdl's "
                              f"({RUN_SCHEMA_VERSION}): update hepdl")
        super().__post_init__()


class ModelDir:
    """One trained model's directory; every file name of the run layout is defined here."""

    CONFIG = "config.json"
    PREPROCESS = "preprocess.json"
    METRICS = "metrics.json"
    SCORES = "scores.npz"
    SPLIT = "split.npz"
    HISTORY = "history.csv"
    BEST = "model.ckpt"
    LAST = "last.ckpt"
    BASELINE = "model.json"
    BUILD = "model_build.json"
    LOG = "train.log"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def is_model(self) -> bool:
        """Whether the directory holds a trained model (its record and preprocessing)."""
        return (self.path / self.CONFIG).exists() and (self.path / self.PREPROCESS).exists()

    def json(self, name: str) -> dict[str, Any]:
        """A JSON file of the directory; a missing or damaged one is a :class:`DataError` naming it."""
        f = self.path / name
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{f} is missing or damaged ({exc})") from None
        if not isinstance(data, dict):
            raise DataError(f"{f} is not a JSON object")
        return data

    def preprocess(self) -> dict[str, Any]:
        """``preprocess.json``, its header (:data:`PREPROCESS_HEADER`) checked."""
        return _check_header(self.json(self.PREPROCESS), PREPROCESS_HEADER, self.path / self.PREPROCESS)

    def metrics(self) -> dict[str, Any]:
        """``metrics.json``, its header (:data:`METRICS_HEADER`) checked."""
        return _check_header(self.json(self.METRICS), METRICS_HEADER, self.path / self.METRICS)

    def record(self) -> RunRecord:
        """``config.json`` as a validated :class:`RunRecord`."""
        return from_dict(RunRecord, self.json(self.CONFIG), where=str(self.path / self.CONFIG))
