"""Reading jet datasets: one :func:`open` for our Parquet datasets and the formats the field uses.

Every reader returns a :class:`JetDataset` whose ``jets`` follow the schema of :mod:`hepdl.schema`,
so everything downstream works the same on generated events and on a user's own files.

Supported inputs
----------------
- a hepdl dataset directory (``dataset.json`` + Parquet parts) or a single Parquet file of jets;
- HDF5 in the layout of the public top-tagging dataset (Kasieczka et al., arXiv:1902.09914): a
  pandas table with columns ``E_i, PX_i, PY_i, PZ_i`` (i < 200, zero padded) and ``is_signal_new``;
- JetClass-style ROOT files (Qu et al., arXiv:2202.03772): ``part_px, part_py, part_pz,
  part_energy, part_charge, part_is*`` and one-hot ``label_*`` branches;
- any ROOT TTree via uproot, with a column mapping from hepdl names to branch names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepdl import schema
from hepdl.data.parts import _one_line, read_metadata, read_parts
from hepdl.errors import ConfigError, DataError, HepdlError

__all__ = [
    "JetDataset",
    "open",
    "jets_from_cartesian",
    "validate_jets",
    "write_toptagging_hdf5",
    "check_labels",
    "MAPPABLE_COLUMNS",
    "stratified_subset",
]

#: Keys a user may map onto ROOT branches: constituents as pt/eta/phi or px/py/pz, each with the
#: energy ``e`` or the mass ``m`` (alias ``mass``, as in NanoAOD), plus ``charge``, ``type``, and the
#: per-jet ``label`` and ``weight``.
MAPPABLE_COLUMNS = ("pt", "eta", "phi", "px", "py", "pz", "e", "m", "mass", "charge", "type", "label", "weight")
#: Mapping keys that hold one number per jet; every other key is one number per constituent.
_PER_JET_KEYS = ("label", "weight")


#: More jets than this of one process and class with one event number: the ``event`` column is no
#: event number, and :meth:`JetDataset.split_groups` ignores it.
MAX_JETS_PER_EVENT = 16


@dataclass
class JetDataset:
    """Jets in hepdl's schema plus where they came from.

    Attributes
    ----------
    jets
        ``n_jets`` records (fields in :mod:`hepdl.schema`).
    metadata
        ``dataset.json`` for generated datasets; format details otherwise.
    path
        The file or directory read.
    format
        ``hepdl``, ``parquet``, ``hdf5-toptagging``, ``root-jetclass`` or ``root``.
    label_names
        Class names, indexed by label.
    options
        The :func:`open` options that change the rows or columns read (``mapping``, ``tree``,
        ``key``, ``max_jets``); with the file's identity they key every cache derived from the
        dataset. A dataset built in memory has ``None`` and is never cached.
    """

    jets: ak.Array
    metadata: dict[str, Any]
    path: Path
    format: str
    label_names: list[str] = field(default_factory=list)
    options: dict[str, Any] | None = None

    #: The domain name models declare in their registry entry (``ModelSpec.domains``).
    domain = "jets"

    def __len__(self) -> int:
        return len(self.jets)

    @property
    def labels(self) -> np.ndarray:
        """Integer labels, shape ``(n_jets,)``."""
        return ak.to_numpy(self.jets.label).astype(np.int64)

    def class_counts(self) -> dict[str, int]:
        """Number of jets per class name."""
        counts = np.bincount(self.labels, minlength=len(self.label_names)) if len(self) else np.zeros(0, int)
        names = self.label_names or [str(i) for i in range(len(counts))]
        return {names[i] if i < len(names) else str(i): int(c) for i, c in enumerate(counts)}

    def predefined_split(self) -> dict[str, np.ndarray] | None:
        """The split the file itself defines, or None; jet datasets define none (the trainer splits them).

        Present so that every dataset answers the same question (see
        :meth:`hepdl.data.events.EventDataset.predefined_split`).
        """
        return None

    def rows(self, start: int, stop: int) -> ak.Array:
        """The jet records ``start:stop`` (a dataset read a part at a time reads only the parts they lie in)."""
        return self.jets[start:stop]

    def take(self, index: np.ndarray) -> ak.Array:
        """The jet records ``index`` (in that order; a dataset read a part at a time reads the parts they lie in)."""
        return self.jets[np.asarray(index, dtype=np.int64)]

    def column(self, name: str) -> np.ndarray:
        """One number per jet (``jet_m``, ``jet_pt``, ...) for every jet, shape ``(n_jets,)`` (a dataset read
        a part at a time reads its parts one at a time)."""
        return ak.to_numpy(self.jets[name])

    def split_groups(self) -> np.ndarray | None:
        """One row per jet naming its collision event, ``(process code, label, event)``, so that a split
        keeps the jets of one event together (a generated dataset takes up to two jets per event);
        None when the jets carry no ``event`` column (files from elsewhere: each jet its own group), or
        when one "event" holds more than :data:`MAX_JETS_PER_EVENT` jets of a process and class: then the
        column is no event number (a file with ``event`` all 0) and grouping by it would put a whole
        class into one split."""
        fields = self.jets.fields
        if "event" not in fields or not len(self):
            return None
        process = np.unique(ak.to_numpy(self.jets.process).astype(str), return_inverse=True)[1] if "process" in fields else np.zeros(len(self), np.int64)
        event = ak.to_numpy(self.jets.event).astype(np.int64)
        groups = np.stack([np.ravel(process).astype(np.int64), self.labels, event], axis=1)
        if np.unique(groups, axis=0, return_counts=True)[1].max() > MAX_JETS_PER_EVENT:
            return None
        return groups

    def summary(self) -> str:
        """A human-readable summary: counts, class balance, cutflow and settings."""
        lines = [f"dataset {self.path} ({self.format})", f"  jets: {len(self)}"]
        total = max(len(self), 1)
        for name, c in self.class_counts().items():
            lines.append(f"    {name:<12} {c:>9}  ({100 * c / total:5.1f} %)")
        if len(self):
            n_cons = ak.to_numpy(ak.num(self.jets.constituents))
            lines.append(f"  constituents per jet: mean {n_cons.mean():.1f}, max {n_cons.max()}")
            m = ak.to_numpy(self.jets.jet_m)
            for i, name in enumerate(self.label_names):
                sel = self.labels == i
                if sel.any():
                    lines.append(f"  jet mass [{name}]: median {np.median(m[sel]):.1f} GeV")
        meta = self.metadata
        if self.format == "hepdl":
            from hepdl.data.generate import CUT_LABELS

            lines.append(f"  task: {meta.get('task')}   hepdl {meta.get('hepdl_version')}   schema v{meta.get('schema_version')}")
            for sample, flow in meta.get("cutflow", {}).items():
                lines.append(f"  cutflow [{sample}]:")
                first = max(flow.get("events", 1), 1)
                for k in sorted(flow, key=lambda k: list(CUT_LABELS).index(k) if k in CUT_LABELS else 99):
                    v = flow[k]
                    lines.append(f"    {CUT_LABELS.get(k, k):<52} {v:>9}  ({100 * v / first:6.2f} %)")
            for sample, xs in meta.get("cross_section", {}).items():
                lines.append(f"  cross-section [{sample}, {xs['process']}]: {xs['sigma_pb']:.4g} pb ± {xs['sigma_err_mb'] * 1e9:.2g} pb")
            st = meta.get("settings", {})
            sel = st.get("selection", {})
            lines.append(
                f"  settings: seed {st.get('seed')}, detector {st.get('detector')}, jets R={sel.get('radius')} {sel.get('algorithm')}, "
                f"pT [{sel.get('pt_min')}, {sel.get('pt_max')}] GeV, |eta| < {sel.get('eta_max')}"
            )
            for s in st.get("samples", []):
                g = s.get("generator", {})
                lines.append(
                    f"    {s['name']}: {g.get('process')} sqrt(s)={g.get('sqrt_s')} GeV, pT-hat [{g.get('pthat_min')}, {g.get('pthat_max')}] GeV, "
                    f"MPI {'on' if g.get('mpi') else 'off'}, pile-up mu={g.get('pileup_mu')}"
                )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- build


def _small_ints(values: Any, column: str, lo: int, hi: int) -> np.ndarray:
    """``values`` as int8 after checking they are integers in ``[lo, hi]`` (a plain cast would wrap
    around: label 200 would become -56)."""
    v = np.asarray(ak.to_numpy(values) if isinstance(values, ak.Array) else values)
    if v.size == 0:
        return v.astype(np.int8)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v.astype(np.float64)) | (v != np.round(v)) | (v < lo) | (v > hi)
    if bad.any():
        raise DataError(f"column {column!r}: {int(bad.sum())} value(s) are not integers in [{lo}, {hi}] "
                        f"(e.g. {v[bad][:3].tolist()})")
    return v.astype(np.int8)


def jets_from_cartesian(
    px: ak.Array,
    py: ak.Array,
    pz: ak.Array,
    e: ak.Array,
    *,
    charge: ak.Array | None = None,
    ptype: ak.Array | None = None,
    label: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    process: str = "unknown",
) -> ak.Array:
    """Jet records in hepdl's schema from jagged constituent four-momenta.

    Parameters
    ----------
    px, py, pz, e
        ``n_jets * var * float`` constituent four-momenta (GeV).
    charge, ptype
        ``n_jets * var * int`` or None (charge 0 and type -1, "unknown", then).
    label, weight
        Shape ``(n_jets,)``; default label 0 and weight 1.

    Returns
    -------
    ak.Array
        Records with pT-ordered constituents and the jet four-momentum summed over all of them.
    """
    counts = ak.to_numpy(ak.num(px))
    n = len(counts)
    fpx, fpy, fpz, fe = (ak.to_numpy(ak.flatten(a)).astype(np.float64) for a in (px, py, pz, e))
    pt = np.hypot(fpx, fpy)
    fch = np.zeros(len(fpx), np.int8) if charge is None else _small_ints(ak.flatten(charge), "charge", -2, 2)
    fty = (np.full(len(fpx), schema.TYPE_UNKNOWN, np.int8) if ptype is None
           else _small_ints(ak.flatten(ptype), "type", schema.TYPE_UNKNOWN, 127))
    event = np.repeat(np.arange(n), counts)
    jpx, jpy, jpz, je = (np.bincount(event, weights=a, minlength=n) for a in (fpx, fpy, fpz, fe))
    cons = ak.unflatten(
        ak.zip({"pt": pt, "eta": np.arcsinh(fpz / np.maximum(pt, 1e-12)), "phi": np.arctan2(fpy, fpx),
                "e": fe, "charge": fch, "type": fty}),
        counts,
    )
    cons = cons[ak.argsort(cons.pt, axis=1, ascending=False)]
    jpt = np.hypot(jpx, jpy)
    light = light_jets(label, process, weight, n)
    return ak.zip(
        {
            "constituents": cons,
            "jet_pt": jpt,
            "jet_eta": np.arcsinh(jpz / np.maximum(jpt, 1e-12)),
            "jet_phi": np.arctan2(jpy, jpx),
            "jet_m": np.sqrt(np.clip(je**2 - jpx**2 - jpy**2 - jpz**2, 0, None)),
            "jet_e": je,
            **{f: light[f] for f in light.fields},
        },
        depth_limit=1,
    )


# --------------------------------------------------------------------------------------------- checks


def _is_number(t: ak.types.Type) -> bool:
    return isinstance(t, ak.types.NumpyType) and t.parameter("__array__") not in ("char", "byte")


def _column_kind(arr: ak.Array) -> str:
    """``flat`` (one number per row), ``jagged`` (a list of numbers per row) or ``other``.

    Missing values (option types) do not change the kind; they are reported as non-finite later.
    """
    t = arr.type.content
    if isinstance(t, ak.types.OptionType):
        t = t.content
    if _is_number(t):
        return "flat"
    if isinstance(t, (ak.types.ListType, ak.types.RegularType)) and t.parameter("__array__") not in ("string", "bytestring"):
        inner = t.content.content if isinstance(t.content, ak.types.OptionType) else t.content
        if _is_number(inner):
            return "jagged"
    return "other"


def _type_text(arr: ak.Array) -> str:
    """The per-row type of ``arr`` as awkward writes it (``float64``, ``var * float64``, ``string``)."""
    return str(arr.type.content)


def _flat_values(arr: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """All numbers of a flat or jagged numeric column as float64 (missing values as NaN), and the
    row of each; shapes ``(n_values,)``."""
    n = len(arr)
    if arr.ndim == 1:
        values, rows = arr, np.arange(n)
    else:
        counts = ak.to_numpy(ak.num(arr, axis=1))
        values, rows = ak.flatten(arr, axis=1), np.repeat(np.arange(n), counts)
    return ak.to_numpy(ak.fill_none(values, np.nan)).astype(np.float64), rows


def _check_finite(arr: ak.Array, where: str, column: str) -> None:
    """A :class:`DataError` naming ``where`` and ``column`` if a value of the numeric column ``arr``
    (flat or jagged) is NaN, infinite or missing."""
    values, rows = _flat_values(arr)
    bad = ~np.isfinite(values)
    if bad.any():
        n_rows = len(np.unique(rows[bad]))
        per = "" if arr.ndim == 1 else f" ({int(bad.sum())} values)"
        raise DataError(f"{where}: column {column} has NaN, inf or missing values in {n_rows} of {len(arr)} rows{per}; expected finite numbers")


def _counts_text(values: np.ndarray, counts: np.ndarray, limit: int = 12) -> str:
    """``{0: 120, 1: 98, 5: 3}``: values with their counts, the first ``limit`` of them."""
    items = [f"{v.item()!r}: {int(c)}" for v, c in zip(values[:limit], counts[:limit], strict=True)]
    return "{" + ", ".join(items) + (", ..." if len(values) > limit else "") + "}"


def check_labels(labels: Any, where: str, column: str, n_classes: int | None = None, *, what: str = "column") -> np.ndarray:
    """Class labels as int64, or a :class:`DataError` naming ``where`` and ``column``.

    Labels must be the integers ``0 .. C-1``: with ``n_classes`` known (the format or the dataset
    names its classes) every value must lie in ``0 .. n_classes-1``; otherwise the values present
    must be exactly ``0 .. C-1`` for some C, so that a stray value (a 5 among 0s and 1s, a -1 for
    "unknown") is an error instead of a silent extra class. Every reader calls this one check.

    Parameters
    ----------
    labels
        Shape ``(n_jets,)``, integer, boolean or integer-valued floating point.
    where
        The file (and table or tree) the labels come from.
    column
        The column or branch name.
    n_classes
        The number of classes the format defines, or None.
    what
        ``column`` or ``branch``, for the message.

    Returns
    -------
    np.ndarray
        Shape ``(n_jets,)``, int64.
    """
    a = np.asarray(labels)
    name = f"{what} {column!r}"
    if a.ndim != 1:
        raise DataError(f"{where}: {name} must hold one class label per jet, got an array of shape {a.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise DataError(f"{where}: {name} must hold integer class labels 0..C-1, got values of type {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        off = ~np.isfinite(a) | (a != np.round(a))
        if off.any():
            vals, counts = np.unique(a[off], return_counts=True)
            raise DataError(
                f"{where}: {name} must hold integer class labels 0..C-1; {int(off.sum())} of {len(a)} values are not integers, "
                f"e.g. {_counts_text(vals, counts, 5)}"
            )
    a = a.astype(np.int64)
    if not len(a):
        return a
    vals, counts = np.unique(a, return_counts=True)
    if n_classes is not None:
        if vals[0] < 0 or vals[-1] >= n_classes:
            raise DataError(f"{where}: {name} must hold the class labels 0..{n_classes - 1}; found (value: count) {_counts_text(vals, counts)}")
    elif vals[0] != 0 or vals[-1] != len(vals) - 1:
        raise DataError(
            f"{where}: {name} must hold the contiguous class labels 0..C-1 (C = number of classes); "
            f"found (value: count) {_counts_text(vals, counts)}"
        )
    return a


def validate_jets(jets: ak.Array, where: str) -> ak.Array:
    """Check that ``jets`` has hepdl's schema and finite kinematics; raise a :class:`DataError`
    naming ``where`` and the column if not.

    Checked: the fields of :mod:`hepdl.schema` are present; the jet-level columns (``jet_*``,
    ``label``, ``weight``) hold one number per jet and the constituent columns a list of numbers
    per jet; the jet four-momenta, weights and constituent ``pt, eta, phi, e`` are finite (no
    NaN, inf or missing value). The truth columns may be NaN (no matched truth object).
    """
    fields = set(jets.fields)
    missing = [f for f in schema.REQUIRED_FIELDS if f not in fields]
    if missing:
        raise DataError(f"{where}: wrong schema, missing field(s) {', '.join(missing)}; expected at least {', '.join(schema.REQUIRED_FIELDS)}")
    cfields = set(jets.constituents.fields)
    cmissing = [f for f in schema.CONSTITUENT_FIELDS if f not in cfields]
    if cmissing:
        raise DataError(f"{where}: wrong schema, constituents lack field(s) {', '.join(cmissing)}; expected {', '.join(schema.CONSTITUENT_FIELDS)}")
    per_jet = (*schema.JET_FIELDS, "label", "weight")
    for f in per_jet:
        if _column_kind(jets[f]) != "flat":
            raise DataError(f"{where}: column {f!r} holds {_type_text(jets[f])} per jet; expected one number per jet")
    for f in schema.CONSTITUENT_FIELDS:
        if _column_kind(jets.constituents[f]) != "jagged":
            raise DataError(
                f"{where}: column 'constituents.{f}' holds {_type_text(jets.constituents[f])} per jet; expected a list of numbers per jet"
            )
    for f in (*schema.JET_FIELDS, "weight"):
        _check_finite(jets[f], where, repr(f))
    for f in ("pt", "eta", "phi", "e"):
        _check_finite(jets.constituents[f], where, repr(f"constituents.{f}"))
    return jets


# --------------------------------------------------------------------------------------------- readers

#: What a damaged part of a generated dataset asks the user to do.


def _read_parquet(path: Path, what: str) -> ak.Array:
    """The records of one Parquet file as they are (no schema check); ``what`` names it in errors."""
    import pyarrow

    try:
        return ak.from_parquet(path)
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{what} {path} is corrupt or not a Parquet file: {_one_line(exc)}") from None


def _label_values(label: ak.Array) -> np.ndarray:
    """A flat label column as numpy; missing values become NaN (and then fail :func:`check_labels`)."""
    if isinstance(label.type.content, ak.types.OptionType):
        return _flat_values(label)[0]
    return ak.to_numpy(label)


def check_part(jets: ak.Array, where: str, n_classes: int | None) -> None:
    """The checks every part of a generated jet dataset passes when read: the schema and values
    (:func:`validate_jets`) and the labels (class indices below ``n_classes``)."""
    validate_jets(jets, where)
    check_labels(_label_values(jets.label), where, "label", n_classes)


def _open_parquet(path: Path) -> JetDataset:
    jets = validate_jets(_read_parquet(path, "file"), str(path))
    check_labels(_label_values(jets.label), str(path), "label")
    return JetDataset(jets, {}, path, "parquet", [])


def _open_hepdl(path: Path, verify: bool) -> JetDataset:
    meta = read_metadata(path, "hepdl-jets", "jet")
    names = list(meta.get("label_names", []))
    arrays = read_parts(path, meta, verify=verify)
    for a, p in zip(arrays, meta["parts"], strict=True):
        check_part(a, f"part file {path / p['file']}", len(names) or None)
    jets = ak.concatenate(arrays) if arrays else ak.Array([])
    return JetDataset(jets, meta, path, "hepdl", names)


def _choose(path: Path, what: str, available: list[str], wanted: str | None, argument: str) -> str:
    """``wanted`` if the file has it, or the file's only ``what`` when none was asked for."""
    if wanted is None:
        if len(available) != 1:
            raise DataError(f"{path}: holds {what}s {available}; say which one with {argument}=")
        return available[0]
    if wanted not in available:
        raise DataError(f"{path}: no {what} {wanted!r}; {what}s: {available}")
    return wanted


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_TOPTAGGING_LAYOUT = "the top-tagging layout, a pandas table with columns E_i, PX_i, PY_i, PZ_i (i < 200, zero padded) and is_signal_new"


def _has_hdf5_signature(path: Path) -> bool:
    """Whether the HDF5 signature is where the format puts it: at byte 0, or 512, 1024, 2048, ...
    after a user block."""
    size = path.stat().st_size
    offset = 0
    with path.open("rb") as fh:
        while offset + len(_HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else 2 * offset
    return False


def _hdf5_leaves(path: Path) -> list[str]:
    """The datasets (leaves) of a readable HDF5 file, for an error message."""
    import tables

    try:
        with tables.open_file(path, mode="r") as h5:
            return [node._v_pathname for node in h5.walk_nodes("/", "Leaf")]
    except Exception:  # only used to word an error message
        return []


def toptagging_frame(path: Path, key: str | None, start: int | None = None, stop: int | None = None,
                     columns: list[str] | None = None) -> tuple[Any, str, int]:
    """Rows ``start:stop`` (all by default; only ``columns`` if given, for a pandas ``table``-format
    file) of the pandas table in a top-tagging HDF5 file: ``(frame, key, rows in the table)``.

    Raises :class:`DataError` naming the file when it is not HDF5, holds no pandas table, or is
    truncated or corrupt; the key is chosen as :func:`open` chooses it."""
    import pandas as pd

    try:
        is_hdf5 = _has_hdf5_signature(path)
    except OSError as exc:
        raise DataError(f"{path} cannot be read: {_one_line(exc)}") from None
    if not is_hdf5:
        raise DataError(f"{path} is not an HDF5 file (no HDF5 signature); expected {_TOPTAGGING_LAYOUT}")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys() if k.strip("/")]
            if not keys:
                raise DataError(
                    f"{path}: holds no pandas table (HDF5 datasets: {_hdf5_leaves(path)[:8]}); expected {_TOPTAGGING_LAYOUT}, "
                    "as written by pandas.DataFrame.to_hdf"
                )
            key = _choose(path, "table", keys, key, "key")
            storer = store.get_storer(key)
            n_rows = int(storer.nrows) if storer.is_table else int(storer.shape[0] if storer.shape else 0)
            if columns is not None and storer.is_table:
                df = store.select(key, start=start, stop=stop, columns=columns)
            else:
                df = store.select(key, start=start, stop=stop)
    except HepdlError:
        raise
    except Exception as exc:  # PyTables and pandas raise many types here (HDF5ExtError, KeyError, TypeError, ...)
        raise DataError(f"{path} is truncated, corrupt or not a pandas HDF5 file: {_one_line(exc)}; expected {_TOPTAGGING_LAYOUT}") from None
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{path} (table {key!r}) holds a {type(df).__name__}, not a table; expected {_TOPTAGGING_LAYOUT}")
    return df, key, n_rows


def toptagging_n_max(columns: Any) -> int:
    """Constituent slots of a top-tagging table: the number of consecutive ``E_i`` columns."""
    cols = set(columns)
    n_max = 0
    while f"E_{n_max}" in cols:
        n_max += 1
    return n_max


def toptagging_jets(df: Any, path: Path, key: str) -> ak.Array:
    """The jets (hepdl's schema, validated) of rows of a top-tagging table (:func:`toptagging_frame`).

    Raises :class:`DataError` naming the file, table and columns that are missing, not numeric or not
    finite, or labels that are not 0/1."""
    import pandas as pd

    where = f"{path} (table {key!r})"
    cols = set(df.columns)
    n_max = toptagging_n_max(cols)
    expected = [f"{v}_{i}" for i in range(max(n_max, 1)) for v in ("E", "PX", "PY", "PZ")] + ["is_signal_new"]
    missing = [c for c in expected if c not in cols]
    if missing:
        raise DataError(
            f"{path}: table {key!r} is missing column(s) {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}; "
            "expected the top-tagging layout E_i, PX_i, PY_i, PZ_i (i < 200) and is_signal_new"
        )
    comps = expected[:-1]  # E_0, PX_0, PY_0, PZ_0, E_1, ...
    not_numeric = [c for c in comps if not pd.api.types.is_numeric_dtype(df[c])]
    if not_numeric:
        raise DataError(f"{where}: column(s) {', '.join(not_numeric[:8])} are not numeric; expected four-momentum components in GeV")
    values = df[comps].to_numpy(np.float64)  # (n_jets, 4 * n_max)
    bad = ~np.isfinite(values)
    if bad.any():
        bad_cols = [comps[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise DataError(
            f"{where}: column(s) {', '.join(bad_cols[:8])}{' ...' if len(bad_cols) > 8 else ''} hold NaN or inf in "
            f"{int(bad.any(axis=1).sum())} of {len(df)} rows; expected finite numbers (0 for padding)"
        )
    labels = check_labels(df["is_signal_new"].to_numpy(), where, "is_signal_new", 2)
    e, px, py, pz = (values[:, k::4] for k in range(4))
    mask = e > 0
    counts = mask.sum(axis=1)
    jag = [ak.unflatten(a[mask], counts) for a in (px, py, pz, e)]
    return validate_jets(jets_from_cartesian(*jag, label=labels, process="toptagging"), where)


def _open_toptagging_hdf5(path: Path, key: str | None) -> JetDataset:
    df, key, _ = toptagging_frame(path, key)
    jets = toptagging_jets(df, path, key)
    return JetDataset(jets, {"key": key, "n_max": toptagging_n_max(df.columns)}, path, "hdf5-toptagging", ["qcd", "top"])


def write_toptagging_hdf5(jets: ak.Array, path: str | Path, n_max: int = 200, key: str = "table") -> Path:
    """Write jets in the public top-tagging HDF5 layout (``E_i, PX_i, PY_i, PZ_i``, ``is_signal_new``)."""
    import pandas as pd

    cons = jets.constituents[:, :n_max]
    pt = cons.pt
    cols: dict[str, np.ndarray] = {}
    comps = {"E": cons.e, "PX": pt * np.cos(cons.phi), "PY": pt * np.sin(cons.phi), "PZ": pt * np.sinh(cons.eta)}
    for name, arr in comps.items():
        dense = ak.to_numpy(ak.fill_none(ak.pad_none(arr, n_max, clip=True), 0.0))
        for i in range(n_max):
            cols[f"{name}_{i}"] = dense[:, i]
    order = [f"{v}_{i}" for i in range(n_max) for v in ("E", "PX", "PY", "PZ")]
    df = pd.DataFrame({c: cols[c] for c in order})
    df["is_signal_new"] = ak.to_numpy(jets.label).astype(np.int64)
    path = Path(path)
    df.to_hdf(path, key=key, mode="w", format="table")
    return path


_JETCLASS_PART = {"px": "part_px", "py": "part_py", "pz": "part_pz", "e": "part_energy"}
_JETCLASS_TYPES = [
    ("part_isChargedHadron", schema.TYPE_CHARGED_HADRON),
    ("part_isNeutralHadron", schema.TYPE_NEUTRAL_HADRON),
    ("part_isPhoton", schema.TYPE_PHOTON),
    ("part_isElectron", schema.TYPE_ELECTRON),
    ("part_isMuon", schema.TYPE_MUON),
]


def _root_tree(path: Path, tree: str | None) -> tuple[Any, str]:
    """The TTree (or RNTuple) ``tree`` of a ROOT file, or its only one."""
    import uproot

    try:
        f = uproot.open(path)
        classes = f.classnames()
    except Exception as exc:  # uproot raises many types for a bad file
        raise DataError(f"{path} is not a readable ROOT file: {_one_line(exc)}") from None
    trees = sorted({k.split(";")[0] for k, v in classes.items() if v in ("TTree", "ROOT::RNTuple")})
    tree = _choose(path, "TTree", trees, tree, "tree")
    try:
        return f[tree], tree
    except Exception as exc:  # a corrupt tree header
        raise DataError(f"{path}: TTree {tree!r} is not readable: {_one_line(exc)}") from None


def _require(t: Any, name: str, path: Path, branches: dict[str, str]) -> None:
    have = set(t.keys())
    for key, b in branches.items():
        if b not in have:
            raise DataError(f"{path}: TTree {name!r} has no branch {b!r} (for {key!r}); branches: {', '.join(sorted(have))}")


#: Entries ``(start, stop)`` of a TTree to read; None: all of them.
Entries = tuple[int, int] | None


def _read_branch(t: Any, where: str, branch: str, entries: Entries) -> ak.Array:
    """One branch (its ``entries``) as an awkward array, or a :class:`DataError` naming it when uproot cannot read it."""
    start, stop = entries if entries is not None else (None, None)
    try:
        return t[branch].array(entry_start=start, entry_stop=stop)
    except Exception as exc:  # uproot raises many types (zlib.error, DeserializationError, NotImplementedError, ...)
        raise DataError(
            f"{where}: cannot read branch {branch!r} ({type(exc).__name__}: {_one_line(exc)}); expected numbers, one per jet or a "
            "jagged list per constituent"
        ) from None


def _read_branches(t: Any, tname: str, path: Path, wanted: dict[str, str], per_jet: tuple[str, ...] | list[str],
                   entries: Entries) -> dict[str, ak.Array]:
    """Read and check the branches ``wanted`` (hepdl key -> branch name) of the tree ``t``.

    Keys in ``per_jet`` must be flat branches (one number per jet), every other key a jagged
    branch of numbers (one per constituent), all jagged ones with the same number of entries per
    jet; every value but the labels' (see :func:`check_labels`) must be finite.

    Returns
    -------
    dict
        Key -> ``n_jets`` (flat) or ``n_jets * var * number`` (jagged) array.
    """
    _require(t, tname, path, wanted)
    where = f"{path} (TTree {tname!r})"
    data = {b: _read_branch(t, where, b, entries) for b in dict.fromkeys(wanted.values())}
    out: dict[str, ak.Array] = {}
    ref: tuple[str, np.ndarray] | None = None
    for key, b in wanted.items():
        arr = data[b]
        name = f"branch {b!r}" + (f" (for {key!r})" if key != b else "")
        kind = _column_kind(arr)
        if key in per_jet and kind != "flat":
            raise DataError(f"{where}: {name} holds {_type_text(arr)} per entry; expected one number per jet (a flat branch)")
        if key not in per_jet:
            if kind != "jagged":
                what = ", one value per jet" if kind == "flat" else ""
                raise DataError(f"{where}: {name} holds {_type_text(arr)} per entry{what}; expected a jagged branch, one number per constituent")
            arr = ak.from_regular(arr, axis=1)
            counts = ak.to_numpy(ak.num(arr, axis=1))
            if ref is None:
                ref = (b, counts)
            elif not np.array_equal(counts, ref[1]):
                diff = np.flatnonzero(counts != ref[1])
                i = int(diff[0])
                raise DataError(
                    f"{where}: constituent branches {ref[0]!r} and {b!r} differ in length in {len(diff)} of {len(counts)} entries "
                    f"(entry {i}: {ref[1][i]} vs {counts[i]} values); every constituent branch needs one value per constituent"
                )
        if key != "label":
            _check_finite(arr, where, name)
        out[key] = arr
    return out


def _jetclass_labels(col: dict[str, ak.Array], label_branches: list[str], where: str) -> np.ndarray | None:
    """Class indices from JetClass's one-hot ``label_*`` branches (exactly one set per jet)."""
    if not label_branches:
        return None
    onehot = np.stack([_flat_values(col[b])[0] for b in label_branches], axis=1)  # (n_jets, n_classes), finite
    n_set = np.count_nonzero(onehot, axis=1)
    wrong = n_set != 1
    if wrong.any():
        vals, counts = np.unique(n_set[wrong], return_counts=True)
        raise DataError(
            f"{where}: the label branches {', '.join(label_branches)} must be one-hot (exactly one set per jet); "
            f"{int(wrong.sum())} of {len(n_set)} jets have (branches set: jets) {_counts_text(vals, counts)}"
        )
    return check_labels(np.argmax(onehot, axis=1), where, "label_*", len(label_branches), what="branches")


def light_jets(label: np.ndarray | None, process: str, weight: np.ndarray | None, n: int) -> ak.Array:
    """Jet records of the per-jet columns only (``label``, ``process``, ``weight``), as
    :func:`jets_from_cartesian` fills them (label 0 and weight 1 by default), without constituents."""
    return ak.zip({"label": np.zeros(n, np.int8) if label is None else _small_ints(np.asarray(label), "label", 0, 127),
                   "process": ak.Array([process] * n) if n else ak.Array(np.zeros(0, dtype="U1")),
                   "weight": np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)}, depth_limit=1)


def _jetclass_tree(t: Any, tname: str, path: Path) -> list[str]:
    """Check that the tree is JetClass-style; its ``label_*`` branches, sorted."""
    keys = set(t.keys())
    if "part_px" not in keys:
        raise DataError(f"{path}: not a JetClass-style file (no branch 'part_px'); give a column mapping "
                        f"from {', '.join(MAPPABLE_COLUMNS)} to branch names")
    _require(t, tname, path, dict(_JETCLASS_PART))
    return sorted(k for k in keys if k.startswith("label_"))


def root_light(path: Path, tree: str | None, mapping: dict[str, str] | None) -> tuple[ak.Array, list[str], dict[str, Any]]:
    """The per-jet columns of a ROOT file without its constituents, for reading it in entry ranges
    (:func:`hepdl.data.stream.open_parts`): ``(jets with label, process, weight; class names;
    metadata)``, checked as :func:`open` checks them."""
    t, tname = _root_tree(path, tree)
    where = f"{path} (TTree {tname!r})"
    n = int(t.num_entries)
    if mapping is None:
        label_branches = _jetclass_tree(t, tname, path)
        col = _read_branches(t, tname, path, {b: b for b in label_branches}, label_branches, None)
        label = _jetclass_labels(col, label_branches, where)
        names = [b[len("label_"):] for b in label_branches]
        meta: dict[str, Any] = {"tree": tname, "label_branches": label_branches}
        process, weight = "jetclass", None
    else:
        _check_mapping(path, mapping)
        _require(t, tname, path, mapping)
        flat = {k: b for k, b in mapping.items() if k in _PER_JET_KEYS}
        col = _read_branches(t, tname, path, flat, _PER_JET_KEYS, None)
        label = check_labels(_label_values(col["label"]), where, mapping["label"], what="branch") if "label" in col else None
        names = [str(i) for i in range(int(label.max()) + 1 if label is not None and len(label) else 1)]
        weight = _flat_values(col["weight"])[0] if "weight" in col else None
        meta = {"tree": tname, "mapping": mapping}
        process = "root"
    return light_jets(label, process, weight, n), names, meta


def _check_mapping(path: Path, mapping: dict[str, str]) -> None:
    unknown = [k for k in mapping if k not in MAPPABLE_COLUMNS]
    if unknown:
        raise DataError(f"column mapping for {path}: unknown key(s) {unknown}; valid keys: {', '.join(MAPPABLE_COLUMNS)}")
    polar = all(k in mapping for k in ("pt", "eta", "phi"))
    cart = all(k in mapping for k in ("px", "py", "pz"))
    energy = [k for k in ("e", "m", "mass") if k in mapping]
    if not (polar or cart) or len(energy) != 1:
        raise DataError(
            f"column mapping for {path} needs constituent branches for pt, eta, phi or px, py, pz, and exactly one of e "
            f"(energy) or m (mass, alias mass); got {sorted(mapping)}"
        )


def open_root(path: Path, tree: str | None, mapping: dict[str, str] | None, entries: Entries = None,
              n_labels: int | None = None) -> JetDataset:
    """The jets of a ROOT file (its ``entries`` only, if given), JetClass-style or through ``mapping``.

    ``n_labels``: the number of classes of the whole file, for an entry range (whose labels need not
    hold every class); without it a mapped ``label`` branch is read whole to count them."""
    t, tname = _root_tree(path, tree)
    keys = set(t.keys())
    where = f"{path} (TTree {tname!r})"
    if mapping is None:
        label_branches = _jetclass_tree(t, tname, path)
        type_branches = [(b, code) for b, code in _JETCLASS_TYPES if b in keys]
        wanted = dict(_JETCLASS_PART) | {b: b for b, _ in type_branches} | {b: b for b in label_branches}
        if "part_charge" in keys:
            wanted["charge"] = "part_charge"
        col = _read_branches(t, tname, path, wanted, label_branches, entries)
        ptype = None
        if type_branches:
            ptype = ak.full_like(col["px"], schema.TYPE_UNKNOWN, dtype=np.int8)
            for b, code in type_branches:
                ptype = ak.where(col[b] > 0.5, np.int8(code), ptype)
        label = _jetclass_labels(col, label_branches, where)
        label_names = [b[len("label_"):] for b in label_branches]
        jets = jets_from_cartesian(
            col["px"], col["py"], col["pz"], col["e"], charge=col.get("charge"), ptype=ptype, label=label, process="jetclass",
        )
        return JetDataset(validate_jets(jets, where), {"tree": tname, "label_branches": label_branches}, path, "root-jetclass", label_names)

    _check_mapping(path, mapping)
    cart = all(k in mapping for k in ("px", "py", "pz"))
    energy = [k for k in ("e", "m", "mass") if k in mapping]
    col = _read_branches(t, tname, path, mapping, _PER_JET_KEYS, entries)
    if cart:
        px, py, pz = col["px"], col["py"], col["pz"]
    else:
        px, py, pz = col["pt"] * np.cos(col["phi"]), col["pt"] * np.sin(col["phi"]), col["pt"] * np.sinh(col["eta"])
    if energy[0] == "e":
        e = col["e"]
    else:  # NanoAOD-style pt, eta, phi, mass: E = sqrt(p^2 + m^2)
        e = np.sqrt(px**2 + py**2 + pz**2 + col[energy[0]] ** 2)
    label = None
    n_classes = n_labels or 1
    if "label" in col:
        if n_labels is None:  # the classes are those of the whole file
            full = col["label"] if entries is None else _read_branch(t, where, mapping["label"], None)
            all_labels = check_labels(_label_values(full), where, mapping["label"], what="branch")
            n_classes = int(all_labels.max()) + 1 if len(all_labels) else 1
            label = all_labels if entries is None else all_labels[entries[0]:entries[1]]
        else:
            label = check_labels(_label_values(col["label"]), where, mapping["label"], n_labels, what="branch")
    weight = _flat_values(col["weight"])[0] if "weight" in col else None
    jets = jets_from_cartesian(px, py, pz, e, charge=col.get("charge"), ptype=col.get("type"), label=label, weight=weight, process="root")
    return JetDataset(validate_jets(jets, where), {"tree": tname, "mapping": mapping}, path, "root", [str(i) for i in range(n_classes)])


def _read(p: Path, mapping: dict[str, str] | None, tree: str | None, key: str | None, verify: bool) -> Any:
    """The dataset at ``p`` (existing), read by the reader its type calls for."""
    suffix = p.suffix.lower()
    if p.is_dir():
        meta_path = p / "dataset.json"
        if not meta_path.exists():
            raise DataError(f"{p} is a directory without dataset.json: not a hepdl dataset")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{meta_path} is corrupt: {_one_line(exc)}") from None
        if isinstance(meta, dict) and meta.get("format") == "hepdl-events":
            from hepdl.data.events import open_events

            return open_events(p, verify=verify)
        if isinstance(meta, dict) and meta.get("format") == "hepdl-unfolding":
            from hepdl.data.unfolding import open_unfolding

            return open_unfolding(p, verify=verify)
        if isinstance(meta, dict) and meta.get("format") == "hepdl-airshowers":
            from hepdl.data.airshowers import open_airshowers

            return open_airshowers(p, verify=verify)
        return _open_hepdl(p, verify)
    if suffix == ".csv":
        from hepdl.data.events import read_challenge_csv

        return read_challenge_csv(p)
    if suffix == ".parquet":
        return _open_parquet(p)
    if suffix in (".h5", ".hdf5", ".hdf"):
        return _open_toptagging_hdf5(p, key)
    if suffix == ".root":
        return open_root(p, tree, mapping)
    raise DataError(f"{p}: unknown file type {suffix!r}; expected a dataset directory, .parquet, .h5/.hdf5, .root or .csv")


def stratified_subset(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` of the entries with ``labels``, drawn with a seeded generator so that
    every class keeps its share (largest remainder; each present class keeps at least one entry
    when ``n`` allows). The first ``n`` rows would not do: a dataset written sample by sample
    would give one class."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * (n / len(labels))
    take = np.minimum(np.maximum(np.floor(share).astype(int), 1 if n >= len(classes) else 0), counts)
    for i in np.argsort(-(share - np.floor(share)), kind="stable"):
        if take.sum() >= n:
            break
        if take[i] < counts[i]:
            take[i] += 1
    while take.sum() > n:  # the minimum of one per class overshot
        take[np.argmax(take)] -= 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def open(  # noqa: A001 - the natural name, as in uproot.open
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    tree: str | None = None,
    key: str | None = None,
    max_jets: int | None = None,
    verify: bool = True,
) -> Any:
    """Open a jet or event dataset of any supported format (chosen from the path).

    Jet datasets give a :class:`JetDataset`; generated event datasets (``hepdl-events``) and CSV
    files of the Higgs challenge give a :class:`hepdl.data.events.EventDataset`.

    Parameters
    ----------
    path
        A hepdl dataset directory, a ``.parquet`` file, an ``.h5``/``.hdf5`` file (top-tagging
        layout), a ``.root`` file (JetClass layout, or any TTree with ``mapping``) or a ``.csv``
        file of the Higgs challenge.
    mapping
        ROOT only: hepdl column name -> branch name, keys from :data:`MAPPABLE_COLUMNS`:
        constituents as ``pt, eta, phi`` or ``px, py, pz`` with either ``e`` or the mass ``m``
        (alias ``mass``; then E = sqrt(p^2 + m^2)), optionally ``charge`` and ``type``
        (jagged branches), and ``label``, ``weight`` (one number per jet).
    tree, key
        TTree name (ROOT) or table key (HDF5) when the file holds several.
    max_jets
        Keep at most this many jets: a seeded subset (:func:`stratified_subset`) in which every
        class keeps its share, in file order (not the first rows, which for a file written class
        by class would be one class). The whole file is read first.
    verify
        hepdl dataset directories only: check each part file's SHA-256 against ``dataset.json``
        (the default). The size of each part is always checked; ``False`` skips the hash, which
        costs about a quarter of the time of reading the parts. Not part of :attr:`JetDataset.options`: it
        never changes what is read.

    Raises
    ------
    DataError
        For a missing, corrupt, damaged or wrongly laid-out file, NaN or inf values, or labels
        that are not the class indices 0..C-1: one line naming the file and the column (or
        branch, key, part file) and what was expected.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p} does not exist")
    if max_jets is not None and (isinstance(max_jets, bool) or not isinstance(max_jets, int | np.integer) or max_jets < 1):
        raise ConfigError(f"max_jets must be a positive integer, got {max_jets!r} (reading {p})")
    try:
        ds = _read(p, mapping, tree, key, verify)
    except (HepdlError, MemoryError):
        raise
    except Exception as exc:  # the last line of defence: no reader may end in a traceback
        raise DataError(f"{p} could not be read ({type(exc).__name__}: {_one_line(exc)}); expected one of the formats of hepdl.data.open") from exc
    if not isinstance(ds, JetDataset):
        return ds
    if max_jets is not None and len(ds.jets) > max_jets:
        ds.jets = ds.jets[stratified_subset(ds.labels, max_jets)]
    if not ds.label_names and len(ds.jets):
        ds.label_names = [str(i) for i in range(int(ak.max(ds.jets.label)) + 1)]
    ds.options = {"mapping": dict(sorted(mapping.items())) if mapping else None, "tree": tree, "key": key, "max_jets": max_jets}
    return ds
