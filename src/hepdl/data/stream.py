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

from hepdl.data.dataset import JetDataset, check_labels, validate_jets
from hepdl.data.parts import read_metadata
from hepdl.errors import DataError

__all__ = ["JetParts", "open_parts", "LIGHT_COLUMNS", "dataset_size"]

#: The per-jet columns a :class:`JetParts` keeps in memory.
LIGHT_COLUMNS = ("label", "process", "event", "weight")


@dataclass
class JetParts(JetDataset):
    """A generated jet dataset whose constituents stay on disk, one chunk (part file) read at a time.

    ``starts[i]`` is the index of the first jet of chunk ``i`` (``starts[-1] == len(self)``).
    """

    files: list[Path] = field(default_factory=list)
    starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    @property
    def n_chunks(self) -> int:
        return len(self.files)

    def chunk_of(self, index: np.ndarray | int) -> np.ndarray:
        """The chunk of each jet index."""
        return np.searchsorted(self.starts, np.asarray(index), side="right") - 1

    def chunk(self, i: int, rows: np.ndarray | None = None) -> JetDataset:
        """Chunk ``i`` (only its jets ``rows``, local indices, if given) as an in-memory
        :class:`JetDataset` (never cached: ``options=None``). A part's schema, values and labels are
        checked the first time it is read.

        Raises :class:`DataError` naming the part file when it is missing, damaged, or holds
        another number of jets than ``dataset.json`` says (a part replaced mid-training)."""
        path = self.files[i]
        where = f"part file {path}"
        if not path.is_file():
            raise DataError(f"{where} disappeared while it was being read (chunk {i} of {self.path}); "
                            "regenerate the dataset with the same settings")
        try:
            jets = ak.from_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataError(f"{where} is not readable Parquet ({type(exc).__name__}: {exc}); regenerate the dataset "
                            "with the same settings") from None
        n = int(self.starts[i + 1] - self.starts[i])
        if len(jets) != n:
            raise DataError(f"{where} holds {len(jets)} jets, dataset.json says {n}: the part changed while the dataset was in use")
        checked = self.__dict__.setdefault("_checked", set())
        if i not in checked:
            validate_jets(jets, where)
            check_labels(ak.to_numpy(jets.label), where, "label", len(self.label_names) or None)
            checked.add(i)
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
            jets = self._cached(c)
            lo, hi = self.starts[c], self.starts[c + 1]
            pieces.append(jets[max(start, lo) - lo : min(stop, hi) - lo])
        return ak.concatenate(pieces) if len(pieces) > 1 else pieces[0]

    def _cached(self, c: int) -> ak.Array:
        held = self.__dict__.get("_held")
        if held is None or held[0] != c:
            held = (c, self.chunk(c).jets)
            self.__dict__["_held"] = held
        return held[1]

    def to_memory(self) -> JetDataset:
        """Every chunk read and concatenated: the dataset :func:`hepdl.data.open` gives."""
        jets = ak.concatenate([self.chunk(i).jets for i in range(self.n_chunks)]) if self.n_chunks else self.jets
        return JetDataset(jets, self.metadata, self.path, self.format, self.label_names, self.options)


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
    of every part (:data:`LIGHT_COLUMNS`), the part files' sizes checked against ``dataset.json``.

    Raises :class:`DataError` naming the part file that is missing, has another size than
    ``dataset.json`` lists, or lacks a light column.
    """
    path = Path(path)
    meta = read_metadata(path, "hepdl-jets", "jet")
    names = list(meta.get("label_names", []))
    files, counts, light = [], [], []
    for part in meta["parts"]:
        f = path / part["file"]
        if not f.exists():
            raise DataError(f"part file {f} listed in {path / 'dataset.json'} is missing; rerun `hepdl generate` with the same settings")
        if f.stat().st_size != part.get("bytes"):
            raise DataError(f"part file {f} has {f.stat().st_size} bytes, {path / 'dataset.json'} lists {part.get('bytes')}: "
                            "it is damaged; rerun `hepdl generate` with the same settings")
        try:
            cols = ak.from_parquet(f, columns=list(LIGHT_COLUMNS))
        except Exception as exc:
            raise DataError(f"part file {f}: cannot read the columns {', '.join(LIGHT_COLUMNS)} ({type(exc).__name__}: {exc})") from None
        if len(cols) != int(part["n"]):
            raise DataError(f"part file {f} holds {len(cols)} jets, {path / 'dataset.json'} lists {part['n']}")
        files.append(f)
        counts.append(len(cols))
        light.append(cols)
    jets = ak.concatenate(light) if light else ak.Array([])
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    # the options of a plain open(): the same rows and columns, so caches and a run's record treat both alike
    options = {"mapping": None, "tree": None, "key": None, "max_jets": None}
    return JetParts(jets, meta, path, "hepdl", names, options, files=files, starts=starts)
