"""A name -> object registry, shared by processes, tasks and models (upstream of everything)."""

from __future__ import annotations

from typing import Generic, TypeVar

from hepdl.errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """A dict of named entries whose failed lookups list the known names.

    Parameters
    ----------
    kind
        What the entries are ("process", "task", "model"), for error messages.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def add(self, name: str, entry: T, *, overwrite: bool = False) -> T:
        """Register ``entry`` under ``name`` (an existing name is an error unless ``overwrite``)."""
        if name in self and not overwrite:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self[name] = entry
        return entry

    def lookup(self, name: str) -> T:
        """The entry called ``name``; an unknown name raises :class:`UnknownNameError` listing the known ones."""
        try:
            return self[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self)) from None

    def names(self) -> list[str]:
        """Sorted names."""
        return sorted(self)
