"""hepdl: a workbench for deep learning in particle physics.

Subpackages follow the data path, one direction: :mod:`hepdl.sim` (Pythia 8, detector, jets),
:mod:`hepdl.data` (datasets on disk and readers), :mod:`hepdl.tasks` (physics tasks composing them).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
