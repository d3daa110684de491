"""Registry of every model by name, the physicist's baselines included: ``hepdl.models.get("part", **config)``,
``hepdl.models.get("bdt")``.

Each entry declares, once, what the rest of hepdl reads: its input representation (``features``: a
vector of observables; ``image``: jet images; ``cloud``: padded particles with a mask and
four-momenta; ``bdt``/``cut``: a table of observables), the objectives it can be trained for
(the first is its default), the domains it applies to (None: any), and its configurations: the
``paper`` one (the published hyper-parameters) and a ``small`` one for a CPU. Torch models are
torch ``nn.Module`` objects; the others follow the baseline interface of :mod:`hepdl.models.baselines`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hepdl.errors import ConfigError
from hepdl.registry import Registry

__all__ = ["ModelSpec", "MODELS", "register", "get", "list_models", "spec"]

INPUT_KINDS = ("features", "image", "cloud", "cut", "bdt", "stations")


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model and what it eats."""

    name: str
    build: Callable[..., Any]
    input_kind: str
    paper: str
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    objectives: tuple[str, ...] = ("classify",)
    domains: tuple[str, ...] | None = None
    #: A physicist's method with the baseline interface (``fit_split``/``score``/``save``/``load``) on a
    #: network's representation (e.g. the air-shower fits on ``stations``); ``bdt``/``cut`` inputs always are.
    baseline: bool = False

    @property
    def is_torch(self) -> bool:
        """Whether the model is a network trained with Lightning (else a baseline with ``fit``/``score``)."""
        return not self.baseline and self.input_kind not in ("bdt", "cut")

    def accepts(self, sizes: dict[str, Any]) -> dict[str, Any]:
        """The entries of ``sizes`` (settings implied by the data, e.g. ``n_inputs``) the model's constructor takes."""
        import inspect

        params = inspect.signature(self.build).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return dict(sizes)
        return {k: v for k, v in sizes.items() if k in params}


MODELS: Registry[ModelSpec] = Registry("model")


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry."""
    if spec.input_kind not in INPUT_KINDS:
        raise ValueError(f"unknown input kind {spec.input_kind!r}")
    return MODELS.add(spec.name, spec, overwrite=True)


def spec(name: str) -> ModelSpec:
    """The registry entry of ``name``; unknown names list the known ones."""
    return MODELS.lookup(name)


def get(name: str, preset: str | None = None, **config: Any) -> Any:
    """Build model ``name`` with the preset configuration (``paper`` or ``small``) updated by ``config``."""
    s = spec(name)
    cfg: dict[str, Any] = {}
    if preset is not None:
        if preset not in s.configs:
            raise ConfigError(f"model {name!r} has no preset {preset!r}; presets: {', '.join(s.configs)}")
        cfg.update(s.configs[preset])
    cfg.update(config)
    try:
        return s.build(**cfg)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: {exc}") from None


def list_models() -> list[str]:
    """Names of all registered models."""
    return MODELS.names()
