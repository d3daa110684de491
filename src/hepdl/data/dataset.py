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
from hepdl.errors import DataError

__all__ = [
    "JetDataset",
    "open",
    "jets_from_cartesian",
    "validate_jets",
    "write_toptagging_hdf5",
    "MAPPABLE_COLUMNS",
]

#: Keys a user may map onto ROOT branches (constituents: pt/eta/phi/e or px/py/pz/e).
MAPPABLE_COLUMNS = ("pt", "eta", "phi", "px", "py", "pz", "e", "charge", "type", "label", "weight")


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
    """

    jets: ak.Array
    metadata: dict[str, Any]
    path: Path
    format: str
    label_names: list[str] = field(default_factory=list)

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
    fch = np.zeros(len(fpx), np.int8) if charge is None else ak.to_numpy(ak.flatten(charge)).astype(np.int8)
    fty = np.full(len(fpx), schema.TYPE_UNKNOWN, np.int8) if ptype is None else ak.to_numpy(ak.flatten(ptype)).astype(np.int8)
    event = np.repeat(np.arange(n), counts)
    jpx, jpy, jpz, je = (np.bincount(event, weights=a, minlength=n) for a in (fpx, fpy, fpz, fe))
    cons = ak.unflatten(
        ak.zip({"pt": pt, "eta": np.arcsinh(fpz / np.maximum(pt, 1e-12)), "phi": np.arctan2(fpy, fpx),
                "e": fe, "charge": fch, "type": fty}),
        counts,
    )
    cons = cons[ak.argsort(cons.pt, axis=1, ascending=False)]
    jpt = np.hypot(jpx, jpy)
    return ak.zip(
        {
            "constituents": cons,
            "jet_pt": jpt,
            "jet_eta": np.arcsinh(jpz / np.maximum(jpt, 1e-12)),
            "jet_phi": np.arctan2(jpy, jpx),
            "jet_m": np.sqrt(np.clip(je**2 - jpx**2 - jpy**2 - jpz**2, 0, None)),
            "jet_e": je,
            "label": (np.zeros(n, np.int8) if label is None else np.asarray(label)).astype(np.int8),
            "process": ak.Array([process] * n) if n else ak.Array(np.zeros(0, dtype="U1")),
            "weight": np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64),
        },
        depth_limit=1,
    )


def validate_jets(jets: ak.Array, where: str) -> ak.Array:
    """Check that ``jets`` has hepdl's schema; raise a :class:`DataError` naming ``where`` if not."""
    fields = set(jets.fields)
    missing = [f for f in schema.REQUIRED_FIELDS if f not in fields]
    if missing:
        raise DataError(f"{where}: wrong schema, missing field(s) {', '.join(missing)}; expected at least {', '.join(schema.REQUIRED_FIELDS)}")
    cfields = set(jets.constituents.fields)
    cmissing = [f for f in schema.CONSTITUENT_FIELDS if f not in cfields]
    if cmissing:
        raise DataError(f"{where}: wrong schema, constituents lack field(s) {', '.join(cmissing)}; expected {', '.join(schema.CONSTITUENT_FIELDS)}")
    return jets


# --------------------------------------------------------------------------------------------- readers


def _read_parquet(path: Path) -> ak.Array:
    import pyarrow

    try:
        jets = ak.from_parquet(path)
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"part file {path} is corrupt or not a Parquet file: {exc}") from None
    return validate_jets(jets, f"part file {path}")


def read_metadata(path: Path, fmt: str, what: str) -> dict[str, Any]:
    """``dataset.json`` of a finished hepdl dataset of format ``fmt`` (``hepdl-jets``/``hepdl-events``),
    with clear errors for a corrupt or missing file, another format or schema, or an interrupted generation."""
    meta_path = path / "dataset.json"
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{meta_path} is missing or corrupt: {exc}") from None
    if meta.get("format") != fmt:
        raise DataError(f"{meta_path} is not a hepdl {what} dataset (format {meta.get('format')!r})")
    if meta.get("schema_version") != schema.SCHEMA_VERSION:
        raise DataError(f"{meta_path}: schema version {meta.get('schema_version')} is not the supported {schema.SCHEMA_VERSION}")
    if not meta.get("complete"):
        raise DataError(f"dataset {path} is incomplete (generation was interrupted); rerun the same `hepdl generate` command to finish it")
    return meta


def read_parts(path: Path, meta: dict[str, Any]) -> list[ak.Array]:
    """The Parquet part files listed in ``meta``, each read as it is (no schema check)."""
    import pyarrow

    arrays = []
    for part in meta["parts"]:
        f = path / part["file"]
        if not f.exists():
            raise DataError(f"dataset {path}: part file {f.name} listed in dataset.json is missing")
        try:
            arrays.append(ak.from_parquet(f))
        except (pyarrow.ArrowException, OSError, ValueError) as exc:
            raise DataError(f"part file {f} is corrupt or not a Parquet file: {exc}") from None
    return arrays


def _open_hepdl(path: Path) -> JetDataset:
    meta = read_metadata(path, "hepdl-jets", "jet")
    arrays = [validate_jets(a, f"part file {path / p['file']}") for a, p in zip(read_parts(path, meta), meta["parts"], strict=True)]
    jets = ak.concatenate(arrays) if arrays else ak.Array([])
    return JetDataset(jets, meta, path, "hepdl", list(meta.get("label_names", [])))


def _choose(path: Path, what: str, available: list[str], wanted: str | None, argument: str) -> str:
    """``wanted`` if the file has it, or the file's only ``what`` when none was asked for."""
    if wanted is None:
        if len(available) != 1:
            raise DataError(f"{path}: holds {what}s {available}; say which one with {argument}=")
        return available[0]
    if wanted not in available:
        raise DataError(f"{path}: no {what} {wanted!r}; {what}s: {available}")
    return wanted


def _open_toptagging_hdf5(path: Path, key: str | None) -> JetDataset:
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            key = _choose(path, "table", [k.lstrip("/") for k in store.keys() if k.strip("/")], key, "key")
            df = store[key]
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path} is not a readable pandas HDF5 file: {exc}") from None
    cols = set(df.columns)
    n_max = 0
    while f"E_{n_max}" in cols:
        n_max += 1
    expected = [f"{v}_{i}" for i in range(max(n_max, 1)) for v in ("E", "PX", "PY", "PZ")] + ["is_signal_new"]
    missing = [c for c in expected if c not in cols]
    if missing:
        raise DataError(
            f"{path}: table {key!r} is missing column(s) {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}; "
            "expected the top-tagging layout E_i, PX_i, PY_i, PZ_i (i < 200) and is_signal_new"
        )
    e = df[[f"E_{i}" for i in range(n_max)]].to_numpy(np.float64)
    px = df[[f"PX_{i}" for i in range(n_max)]].to_numpy(np.float64)
    py = df[[f"PY_{i}" for i in range(n_max)]].to_numpy(np.float64)
    pz = df[[f"PZ_{i}" for i in range(n_max)]].to_numpy(np.float64)
    mask = e > 0
    counts = mask.sum(axis=1)
    jag = [ak.unflatten(a[mask], counts) for a in (px, py, pz, e)]
    labels = df["is_signal_new"].to_numpy().astype(np.int8)
    jets = jets_from_cartesian(*jag, label=labels, process="toptagging")
    return JetDataset(jets, {"key": key, "n_max": n_max}, path, "hdf5-toptagging", ["qcd", "top"])


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
        raise DataError(f"{path} is not a readable ROOT file: {exc}") from None
    trees = sorted({k.split(";")[0] for k, v in classes.items() if v in ("TTree", "ROOT::RNTuple")})
    tree = _choose(path, "TTree", trees, tree, "tree")
    return f[tree], tree


def _require(t: Any, name: str, path: Path, branches: dict[str, str]) -> None:
    have = set(t.keys())
    for key, b in branches.items():
        if b not in have:
            raise DataError(f"{path}: TTree {name!r} has no branch {b!r} (for {key!r}); branches: {', '.join(sorted(have))}")


def _open_root(path: Path, tree: str | None, mapping: dict[str, str] | None, max_jets: int | None) -> JetDataset:
    t, tname = _root_tree(path, tree)
    keys = set(t.keys())
    stop = max_jets
    if mapping is None:
        if "part_px" not in keys:
            raise DataError(
                f"{path}: not a JetClass-style file (no branch 'part_px'); give a column mapping "
                f"from {', '.join(MAPPABLE_COLUMNS)} to branch names"
            )
        _require(t, tname, path, dict(_JETCLASS_PART))
        label_branches = sorted(k for k in keys if k.startswith("label_"))
        type_branches = [(b, code) for b, code in _JETCLASS_TYPES if b in keys]
        names = list(_JETCLASS_PART.values()) + label_branches + [b for b, _ in type_branches]
        names += [b for b in ("part_charge",) if b in keys]
        arr = t.arrays(names, entry_stop=stop)
        ptype = None
        if type_branches:
            ptype = ak.full_like(arr["part_px"], schema.TYPE_UNKNOWN, dtype=np.int8)
            for b, code in type_branches:
                ptype = ak.where(arr[b] > 0.5, np.int8(code), ptype)
        label = None
        label_names: list[str] = []
        if label_branches:
            onehot = np.stack([ak.to_numpy(arr[b]) for b in label_branches], axis=1)
            label = np.argmax(onehot, axis=1)
            label_names = [b[len("label_"):] for b in label_branches]
        jets = jets_from_cartesian(
            *(arr[b] for b in _JETCLASS_PART.values()),
            charge=arr["part_charge"] if "part_charge" in keys else None,
            ptype=ptype, label=label, process="jetclass",
        )
        return JetDataset(jets, {"tree": tname, "label_branches": label_branches}, path, "root-jetclass", label_names)

    unknown = [k for k in mapping if k not in MAPPABLE_COLUMNS]
    if unknown:
        raise DataError(f"column mapping for {path}: unknown key(s) {unknown}; valid keys: {', '.join(MAPPABLE_COLUMNS)}")
    polar = all(k in mapping for k in ("pt", "eta", "phi", "e"))
    cart = all(k in mapping for k in ("px", "py", "pz", "e"))
    if not (polar or cart):
        raise DataError(f"column mapping for {path} needs constituent branches for pt, eta, phi, e or px, py, pz, e; got {sorted(mapping)}")
    _require(t, tname, path, mapping)
    arr = t.arrays(list(dict.fromkeys(mapping.values())), entry_stop=stop)
    col = {k: arr[b] for k, b in mapping.items()}
    if cart:
        px, py, pz, e = col["px"], col["py"], col["pz"], col["e"]
    else:
        px, py, pz, e = col["pt"] * np.cos(col["phi"]), col["pt"] * np.sin(col["phi"]), col["pt"] * np.sinh(col["eta"]), col["e"]
    label = ak.to_numpy(col["label"]) if "label" in col else None
    weight = ak.to_numpy(col["weight"]) if "weight" in col else None
    jets = jets_from_cartesian(px, py, pz, e, charge=col.get("charge"), ptype=col.get("type"), label=label, weight=weight, process="root")
    n_labels = int(label.max()) + 1 if label is not None and len(label) else 1
    return JetDataset(jets, {"tree": tname, "mapping": mapping}, path, "root", [str(i) for i in range(n_labels)])


def open(  # noqa: A001 - the natural name, as in uproot.open
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    tree: str | None = None,
    key: str | None = None,
    max_jets: int | None = None,
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
        ROOT only: hepdl column name -> branch name, keys from :data:`MAPPABLE_COLUMNS`.
    tree, key
        TTree name (ROOT) or table key (HDF5) when the file holds several.
    max_jets
        Read at most this many jets (the first ones).

    Raises
    ------
    DataError
        For a missing, corrupt or wrongly laid-out file, naming the file and the column.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p} does not exist")
    suffix = p.suffix.lower()
    if p.is_dir():
        if not (p / "dataset.json").exists():
            raise DataError(f"{p} is a directory without dataset.json: not a hepdl dataset")
        try:
            fmt = json.loads((p / "dataset.json").read_text()).get("format")
        except json.JSONDecodeError as exc:
            raise DataError(f"{p / 'dataset.json'} is corrupt: {exc}") from None
        if fmt == "hepdl-events":
            from hepdl.data.events import open_events

            return open_events(p)
        ds = _open_hepdl(p)
    elif suffix == ".csv":
        from hepdl.data.events import read_challenge_csv

        return read_challenge_csv(p)
    elif suffix == ".parquet":
        ds = JetDataset(_read_parquet(p), {}, p, "parquet", [])
    elif suffix in (".h5", ".hdf5", ".hdf"):
        ds = _open_toptagging_hdf5(p, key)
    elif suffix == ".root":
        ds = _open_root(p, tree, mapping, max_jets)
    else:
        raise DataError(f"{p}: unknown file type {suffix!r}; expected a dataset directory, .parquet, .h5/.hdf5, .root or .csv")
    if max_jets is not None and len(ds.jets) > max_jets:
        ds.jets = ds.jets[:max_jets]
    if not ds.label_names and len(ds.jets):
        ds.label_names = [str(i) for i in range(int(ak.max(ds.jets.label)) + 1)]
    return ds


