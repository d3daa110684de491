"""Typed, validated configuration objects that round-trip to TOML.

Every config in hepdl is a dataclass. :func:`from_dict` builds one from a plain mapping and rejects
unknown keys with the list of valid ones; :func:`to_dict` / :func:`dump_toml` / :func:`load_toml`
round-trip it. Validation of values lives in each dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from hepdl.errors import ConfigError

__all__ = ["from_dict", "to_dict", "load_toml", "dump_toml"]

T = TypeVar("T")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build the dataclass ``cls`` from ``data``, recursing into nested dataclasses.

    Raises
    ------
    ConfigError
        When ``data`` is not a mapping, has a key ``cls`` does not know (the message lists the
        valid keys), or a value the dataclass rejects.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(sorted(fields))}"
        )
    hints = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        hint = hints[key]
        origin = typing.get_origin(hint)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value, f"{where}.{key}")  # type: ignore[arg-type]
        elif origin in (list, tuple) and value is not None:
            args = typing.get_args(hint)
            inner = args[0] if args else None
            if inner is not None and dataclasses.is_dataclass(inner):
                value = [from_dict(inner, v, f"{where}.{key}[{i}]") for i, v in enumerate(value)]  # type: ignore[arg-type]
            if origin is tuple:
                value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise ConfigError(f"{where}: {exc}") from None
        raise ConfigError(f"{where}: {exc}") from exc


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain-data dictionary of a config dataclass (tuples become lists, None values are dropped)."""

    def clean(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: clean(getattr(v, f.name)) for f in dataclasses.fields(v) if getattr(v, f.name) is not None}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        return v

    out = clean(obj)
    assert isinstance(out, dict)
    return out


def load_toml(cls: type[T], path: str | Path) -> T:
    """Read a TOML file into the config dataclass ``cls``; errors name the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return from_dict(cls, data, where=str(path))


def dump_toml(obj: Any, path: str | Path) -> None:
    """Write a config dataclass to a TOML file."""
    Path(path).write_text(tomli_w.dumps(to_dict(obj)))
