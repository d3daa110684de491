"""A generated jet dataset read a part at a time: the streaming side of :func:`hepdl.data.open`.

:class:`JetParts` is a :class:`~hepdl.data.dataset.JetDataset` whose ``jets`` hold only the light
per-jet columns (``label``, ``process``, ``event``, ``weight``): labels, class counts, the split and
its event groups work as for a dataset in memory, at a few bytes per jet. The constituents stay in
the part files; :meth:`JetParts.chunk` reads one part (validated as :func:`hepdl.data.open` validates
it) when a consumer needs it. The model-input builder of :mod:`hepdl.features.jet_inputs` builds the
inputs of a chunk with the same code as for a dataset in memory, so the two paths cannot drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from hepdl.data.dataset import JetDataset, check_part
from hepdl.data.parts import read_metadata, read_part
from hepdl.errors import DataError

__all__ = ["JetParts", "open_parts", "LIGHT_COLUMNS", "dataset_size", "chunk_of", "group_by_chunk"]

#: The per-jet columns a :class:`JetParts` keeps in memory.
LIGHT_COLUMNS = ("label", "process", "event", "weight")


def chunk_of(starts: np.ndarray, index: np.ndarray | int) -> np.ndarray:
    """The chunk of each row ``index``, chunk ``i`` holding the rows ``starts[i]:starts[i + 1]``."""
    return np.searchsorted(starts, np.asarray(index), side="right") - 1


def group_by_chunk(chunk: np.ndarray) -> dict[int, np.ndarray]:
    """Chunk -> the positions (ascending) of its entries in ``chunk``, chunks ascending; one sort, not
    a scan of ``chunk`` per chunk."""
    chunk = np.asarray(chunk)
    order = np.argsort(chunk, kind="stable")
    ids, first = np.unique(chunk[order], return_index=True)
    bounds = np.append(first, len(order))
    return {int(c): order[bounds[j]:bounds[j + 1]] for j, c in enumerate(ids)}


@dataclass
class JetParts(JetDataset):
    """A generated jet dataset whose constituents stay on disk, one chunk (part file) read at a time.

    ``starts[i]`` is the index of the first jet of chunk ``i`` (``starts[-1] == len(self)``).
    """

    files: list[Path] = field(default_factory=list)
    starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    #: chunks whose schema, values and labels were checked (each once)
    _checked: set[int] = field(default_factory=set, repr=False, compare=False)
    #: the chunk :meth:`rows` read last, ``(index, jets)``
    _last: tuple[int, ak.Array] | None = field(default=None, repr=False, compare=False)

    @property
    def n_chunks(self) -> int:
        return len(self.files)

    def chunk_of(self, index: np.ndarray | int) -> np.ndarray:
        """The chunk of each jet index."""
        return chunk_of(self.starts, index)

    def chunk(self, i: int, rows: np.ndarray | None = None) -> JetDataset:
        """Chunk ``i`` (only its jets ``rows``, local indices, if given) as an in-memory
        :class:`JetDataset` (never cached: ``options=None``). A part's schema, values and labels are
        checked the first time it is read (:func:`hepdl.data.dataset.check_part`).

        Raises :class:`DataError` naming the part file when it is missing, damaged, or holds
        another number of jets than ``dataset.json`` says (a part replaced mid-training)."""
        path = self.files[i]
        where = f"part file {path}"
        if not path.is_file():
            raise DataError(f"{where} disappeared while it was being read (chunk {i} of {self.path}); "
                            "regenerate the dataset with the same settings")
        jets = read_part(self.path, i, self.metadata["parts"][i], verify=False)
        n = int(self.starts[i + 1] - self.starts[i])
        if len(jets) != n:
            raise DataError(f"{where} holds {len(jets)} jets, dataset.json says {n}: the part changed while the dataset was in use")
        if i not in self._checked:
            check_part(jets, where, len(self.label_names) or None)
            self._checked.add(i)
        if rows is not None:
            jets = jets[np.asarray(rows, dtype=np.int64)]
        return JetDataset(jets, self.metadata, self.path, self.format, self.label_names, None)

    def rows(self, start: int, stop: int) -> ak.Array:
        """Jet records ``start:stop``, read from the parts they lie in (one at a time; the last one read is kept)."""
        start, stop = max(int(start), 0), min(int(stop), len(self))
        if stop <= start:
            return self.chunk(0).jets[:0] if self.n_chunks else self.jets[:0]
        pieces = []
        for c in range(int(self.chunk_of(start)), int(self.chunk_of(stop - 1)) + 1):
            if self._last is None or self._last[0] != c:
                self._last = (c, self.chunk(c).jets)
            lo, hi = self.starts[c], self.starts[c + 1]
            pieces.append(self._last[1][max(start, lo) - lo : min(stop, hi) - lo])
        return ak.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def dataset_size(path: str | Path) -> int | None:
    """Jets (or events) of a generated dataset from its ``dataset.json`` alone; None for other files."""
    meta = Path(path) / "dataset.json"
    try:
        parts = json.loads(meta.read_text())["parts"]
        return int(sum(int(p["n"]) for p in parts))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def open_parts(path: str | Path) -> JetParts:
    """Open a generated jet dataset (a ``hepdl generate`` directory) for streaming: the light columns
    of every part (:data:`LIGHT_COLUMNS`), each part's listing and size checked against
    ``dataset.json`` as :func:`hepdl.data.open` with ``verify=False`` checks them.

    Raises :class:`DataError` naming the part file that is missing, has another size or number of jets
    than ``dataset.json`` lists, or is not readable.
    """
    path = Path(path)
    meta = read_metadata(path, "hepdl-jets", "jet")
    names = list(meta.get("label_names", []))
    files, counts, light = [], [], []
    for i, part in enumerate(meta["parts"]):
        cols = read_part(path, i, part, verify=False, columns=list(LIGHT_COLUMNS))
        if len(cols) != int(part["n"]):
            raise DataError(f"part file {path / part['file']} holds {len(cols)} jets, {path / 'dataset.json'} lists {part['n']}")
        files.append(path / part["file"])
        counts.append(len(cols))
        light.append(cols)
    jets = ak.concatenate(light) if light else ak.Array([])
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    # the options of a plain open(): the same rows and columns, so caches and a run's record treat both alike
    options = {"mapping": None, "tree": None, "key": None, "max_jets": None}
    return JetParts(jets, meta, path, "hepdl", names, options, files=files, starts=starts)
