"""Physics tasks: each composes simulation, data, features, models and metrics with good defaults.

Tasks live in a registry keyed by name: ``hepdl.tasks.get("top-tagging")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hepdl.registry import Registry

__all__ = ["Task", "TASKS", "register_task", "get", "list_tasks"]


@dataclass(frozen=True)
class Task:
    """A named physics task.

    Attributes
    ----------
    name
        Registry key (``"top-tagging"``).
    description
        One line for humans.
    dataset_spec
        Function of keyword overrides returning the :class:`hepdl.data.DatasetSpec` of the task's
        dataset.
    run
        Function running the task end to end (``run(preset, models=..., ...)`` -> run directory).
    presets
        The run presets by name (``quick``, ``paper``).
    """

    name: str
    description: str
    dataset_spec: Callable[..., Any]
    run: Callable[..., Any] | None = None
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)


TASKS: Registry[Task] = Registry("task")


def register_task(task: Task) -> Task:
    """Add a task to the registry."""
    return TASKS.add(task.name, task, overwrite=True)


def get(name: str) -> Task:
    """Look a task up by name; unknown names raise with the list of known ones."""
    return TASKS.lookup(name)


def list_tasks() -> list[str]:
    """Names of all registered tasks."""
    return TASKS.names()


from hepdl.tasks import air_showers as _air_showers  # noqa: E402,F401  (registers itself)
from hepdl.tasks import higgs_tautau as _higgs_tautau  # noqa: E402,F401  (registers itself)
from hepdl.tasks import jet_classes as _jet_classes  # noqa: E402,F401  (registers itself)
from hepdl.tasks import top_tagging as _top_tagging  # noqa: E402,F401  (registers itself)
from hepdl.tasks import unfolding as _unfolding  # noqa: E402,F401  (registers itself)
