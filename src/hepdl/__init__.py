"""hepdl: a workbench for deep learning in particle physics.

Subpackages follow the data path, one direction: :mod:`hepdl.sim` (Pythia 8, detector, jets),
:mod:`hepdl.data` (datasets on disk and readers), :mod:`hepdl.features` (observables, EFPs, images,
particle clouds), :mod:`hepdl.models` (the model zoo and baselines), :mod:`hepdl.train` (one trainer),
:mod:`hepdl.metrics`, :mod:`hepdl.report`, and :mod:`hepdl.tasks` (physics tasks composing them).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
