"""Exceptions raised by hepdl. Every message names the file, column or key at fault."""

from __future__ import annotations

__all__ = ["HepdlError", "ConfigError", "DataError", "UnknownNameError"]


class HepdlError(Exception):
    """Base class of every error hepdl raises on purpose."""


class ConfigError(HepdlError, ValueError):
    """A configuration value or key is invalid."""


class DataError(HepdlError, ValueError):
    """A file on disk is missing, corrupt, or does not have the expected schema."""


class UnknownNameError(HepdlError, KeyError):
    """A name looked up in a registry does not exist; the message lists the known names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        plural = kind + ("es" if kind.endswith("s") else "s")
        super().__init__(f"unknown {kind} {name!r}; known {plural}: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
