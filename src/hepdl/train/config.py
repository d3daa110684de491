"""Training settings: :class:`TrainConfig`, validated on construction (and stored in ``config.json``
as part of the run record, :class:`hepdl.train.rundir.RunRecord`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hepdl.errors import ConfigError
from hepdl.models import registry
from hepdl.train.objectives import Objective, get_objective

__all__ = ["TrainConfig"]


@dataclass
class TrainConfig:
    """Training settings (validated; stored in ``config.json``).

    ``objective`` defaults to the model's first (its registry entry lists what it can learn);
    ``objective_config`` holds the objective's settings (e.g. ``{"nll": True}`` for regress).
    """

    model: str
    preset: str = "small"
    model_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 5
    seed: int = 0
    split_seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    feature_set: str = "expert"
    n_particles: int = 64
    devices: str | int = "auto"
    num_nodes: int = 1
    precision: str | None = None  # default: "16-mixed" on CUDA, "32-true" on CPU
    representation: str | None = None  # if given, must be the model's (a mismatch is an error)
    n_bootstrap: int = 100
    objective: str | None = None
    objective_config: dict[str, Any] = field(default_factory=dict)
    #: Train on this many entries of the training split (a seeded subset, stratified by class for a
    #: classifier); validation and test splits unchanged. For learning curves.
    n_train: int | None = None
    #: Read the dataset a part at a time (constituents never all in memory): ``True``, ``False``, or
    #: ``None`` for by size (a dataset of more than ``STREAM_ABOVE`` jets streams).
    stream: bool | None = None
    #: Streaming: jets of the training split shuffled together (whole parts; the loader holds them).
    stream_window: int = 20_000
    #: Streaming: worker processes that read parts and build batches while the model trains
    #: (0: in the training process; on 2 cores a worker measured no faster, 1147 vs 1206 jets/s).
    stream_workers: int = 0
    #: Start from the weights of this trained model (its directory or a checkpoint file) instead of a
    #: fresh initialisation — a warm start; optimiser, schedule and history start afresh (``resume``
    #: continues an interrupted training instead). The model and its configuration must match.
    init_from: str | None = None
    #: Apply the representation's symmetry augmentation to every training batch, where it declares
    #: one (``preprocess["augment"]``; event features: a random rotation of every azimuth and a
    #: reflection phi -> -phi, eta -> -eta). Validation and test entries are never augmented.
    augment: bool = True
    #: Bagging (Breiman 1996): multiply each training entry's weight by a Poisson(1) count drawn with
    #: the model's seed, as a bootstrap resample of the training split (the members of an ensemble then
    #: differ in their data as well as in their initialisation).
    bagging: bool = False
    #: Cross-validation: train on fold ``fold`` of ``n_folds`` (:func:`hepdl.train.inputs.fold_indices`:
    #: test = that fold, validation = the next, training = the rest) instead of the ``fractions`` split.
    fold: int | None = None
    n_folds: int = 5

    def __post_init__(self) -> None:
        spec = registry.spec(self.model)  # an unknown name lists every model, the baselines included
        if self.preset not in spec.configs:
            raise ConfigError(f"model {self.model!r} has no preset {self.preset!r}; presets: {', '.join(spec.configs)}")
        if self.objective is None:
            self.objective = spec.objectives[0]
        if self.objective not in spec.objectives:
            raise ConfigError(f"model {self.model!r} learns {', '.join(spec.objectives)}, not {self.objective!r}")
        get_objective(self.objective, **self.objective_config)  # an unknown objective lists the known ones
        if self.fold is not None and not (isinstance(self.n_folds, int) and self.n_folds >= 3 and isinstance(self.fold, int)
                                          and 0 <= self.fold < self.n_folds):
            raise ConfigError(f"fold must be an integer in [0, n_folds) with n_folds >= 3; got fold={self.fold!r}, n_folds={self.n_folds!r}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.patience < 1:
            raise ConfigError(f"epochs, batch_size and patience must be >= 1 and lr > 0; got epochs={self.epochs}, "
                              f"batch_size={self.batch_size}, patience={self.patience}, lr={self.lr}")
        if self.n_train is not None and (not isinstance(self.n_train, int) or self.n_train < 2):
            raise ConfigError(f"n_train must be an integer of at least 2 (entries of the training split); got {self.n_train!r}")
        if self.n_particles < 1 or self.n_bootstrap < 0:
            raise ConfigError(f"n_particles must be >= 1 and n_bootstrap >= 0; got {self.n_particles}, {self.n_bootstrap}")
        if isinstance(self.devices, str) and self.devices.lstrip("-").isdigit():
            self.devices = int(self.devices)
        if isinstance(self.devices, int) and (self.devices == 0 or self.devices < -1):
            raise ConfigError(f"devices must be 'auto', a positive number of devices or -1 (all); got {self.devices}")
        if isinstance(self.devices, str) and self.devices != "auto" and not all(d.strip().isdigit() for d in self.devices.split(",")):
            raise ConfigError(f"devices must be 'auto', a number or a list of device ids like '0,1'; got {self.devices!r}")
        if not isinstance(self.num_nodes, int) or self.num_nodes < 1:
            raise ConfigError(f"num_nodes must be a positive integer; got {self.num_nodes!r}")
        if self.stream not in (None, True, False):
            raise ConfigError(f"stream must be true, false or null (by size); got {self.stream!r}")
        if not isinstance(self.stream_window, int) or self.stream_window < 1:
            raise ConfigError(f"stream_window must be a positive number of jets; got {self.stream_window!r}")
        if not isinstance(self.stream_workers, int) or isinstance(self.stream_workers, bool) or self.stream_workers < 0:
            raise ConfigError(f"stream_workers must be a number of processes >= 0; got {self.stream_workers!r}")
        self.fractions = tuple(self.fractions)  # type: ignore[assignment]
        if self.representation is not None and self.representation != self.input_kind:
            raise ConfigError(f"model {self.model!r} takes the {self.input_kind!r} representation, not {self.representation!r}")

    @property
    def input_kind(self) -> str:
        return registry.spec(self.model).input_kind

    def make_objective(self, **settings: Any) -> Objective:
        return get_objective(str(self.objective), **{**self.objective_config, **settings})
