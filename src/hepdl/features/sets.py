"""Named sets of per-jet features, built for a whole dataset and cached in the hepdl cache.

``build_features(path, "hls4ml")`` computes the set once and writes
``<cache>/features/<key>/hls4ml.parquet`` (``<cache>`` is :func:`hepdl.data.cache_dir`), never beside
the user's data, which may be read-only or shared. ``<key>`` hashes everything that could change
a row or a column: the dataset's identity (a generated dataset's settings and part checksums; a
file's resolved path, size and modification time), the options it was opened with (ROOT mapping,
tree, HDF5 key, ``max_jets``), its number of jets, the set's name and settings and the hepdl
version. A cached table is used only if its row count and labels are those of the dataset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd

from hepdl.data.dataset import JetDataset
from hepdl.data.dataset import open as open_dataset
from hepdl.data.paths import atomic_write, atomic_write_json
from hepdl.errors import ConfigError, DataError
from hepdl.features import substructure as sub
from hepdl.features._arrays import FlatJets, flat_jets
from hepdl.features.efp import EFPSet
from hepdl.registry import Registry

__all__ = ["FEATURE_SETS", "compute_feature_set", "build_features", "feature_cache_path", "dataset_identity", "list_feature_sets"]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def _kinematics(f: FlatJets, r0: float = 0.8) -> dict[str, np.ndarray]:
    k = sub.jet_kinematics(f)
    return {"pt": k["pt"], "eta": k["eta"], "phi": k["phi"], "mass": k["mass"], "multiplicity": sub.multiplicity(f)}


def _nsub(f: FlatJets, beta: float = 1.0, r0: float = 0.8) -> dict[str, np.ndarray]:
    tau = sub.nsubjettiness(f, 4, beta, r0)
    out = {f"tau{n + 1}": tau[:, n] for n in range(4)}
    out.update(tau21=_ratio(tau[:, 1], tau[:, 0]), tau32=_ratio(tau[:, 2], tau[:, 1]), tau43=_ratio(tau[:, 3], tau[:, 2]))
    return out


def _hls4ml(f: FlatJets) -> dict[str, np.ndarray]:
    return sub.hls4ml_features(f)


def _expert(f: FlatJets, r0: float = 0.8, sd_beta: float = 0.0, sd_z_cut: float = 0.1) -> dict[str, np.ndarray]:
    out = _kinematics(f)
    out.update(ptd=sub.ptd(f), girth=sub.girth(f), zlogz=sub.zlogz(f))
    sd = sub.soft_drop(f, sd_beta, sd_z_cut, r0)
    out.update(mass_sd=sd["mass"], z_g=sd["z_g"], r_g=sd["r_g"])
    out.update(_nsub(f, 1.0, r0))
    ratios = sub.ecf_ratios(sub.energy_correlations(f, (1.0, 2.0)))
    out.update(c2_b1=ratios["c2_b1"], d2_b1=ratios["d2_b1"], n2_b1=ratios["n2_b1"], m2_b1=ratios["m2_b1"])
    return out


def _efp(f: FlatJets, d_max: int = 5, beta: float = 1.0, kappa: float = 1.0) -> dict[str, np.ndarray]:
    s = EFPSet(d_max, beta=beta, kappa=kappa)
    values = s.compute(f)
    return {name: values[:, i] for i, name in enumerate(s.names)}


#: name -> (function of flat jets and settings, description)
FEATURE_SETS: Registry[tuple[Callable[..., dict[str, np.ndarray]], str]] = Registry("feature set")
FEATURE_SETS.add("kinematics", (_kinematics, "jet pT, eta, phi, mass, multiplicity"))
FEATURE_SETS.add("nsub", (_nsub, "N-subjettiness tau1..tau4 and ratios tau21, tau32, tau43 (arXiv:1011.2268)"))
FEATURE_SETS.add("hls4ml", (_hls4ml, "the 16 inputs of the hls4ml jet tagger (arXiv:1804.06913)"))
FEATURE_SETS.add("expert", (_expert, "kinematics, pT_D, girth, zlogz, soft drop, N-subjettiness, C2/D2/N2/M2"))
FEATURE_SETS.add("efp", (_efp, "energy flow polynomials d <= 5 (arXiv:1712.07124)"))


def list_feature_sets() -> list[str]:
    """Names of the feature sets."""
    return FEATURE_SETS.names()


def _check_settings(name: str, settings: dict[str, Any]) -> None:
    import inspect

    fn = FEATURE_SETS.lookup(name)[0]
    valid = [p for p in inspect.signature(fn).parameters if p != "f"]
    unknown = [k for k in settings if k not in valid]
    if unknown:
        raise ConfigError(f"feature set {name!r}: unknown setting(s) {unknown}; valid: {', '.join(valid) or 'none'}")


def compute_feature_set(jets: ak.Array | FlatJets, name: str, **settings: Any) -> pd.DataFrame:
    """Compute the feature set ``name`` for ``jets``: a DataFrame with one row per jet."""
    _check_settings(name, settings)
    f = jets if isinstance(jets, FlatJets) else flat_jets(jets)
    return pd.DataFrame(FEATURE_SETS[name][0](f, **settings))


def dataset_identity(ds: JetDataset) -> dict[str, Any] | None:
    """What identifies the rows and columns of an opened dataset, for cache keys; None when the
    dataset was not read by :func:`hepdl.data.open` (built in memory: never cached)."""
    if ds.options is None or not ds.path.exists():
        return None
    meta = ds.metadata
    if ds.format == "hepdl":
        src: dict[str, Any] = {"settings_hash": meta.get("settings_hash"), "parts": [p.get("sha256") for p in meta.get("parts", [])]}
    else:
        st = ds.path.stat()
        src = {"path": str(ds.path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"format": ds.format, **src, "options": ds.options, "n_jets": len(ds), "hepdl": _version()}


def _version() -> str:
    import hepdl

    return str(hepdl.__version__)


def _computed(ds: JetDataset, name: str, settings: dict[str, Any]) -> pd.DataFrame:
    df = compute_feature_set(ds.jets, name, **settings)
    df["label"] = ds.labels
    for col in df.columns:
        bad = ~np.isfinite(df[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise DataError(f"feature {col!r} of set {name!r} is NaN/inf for {int(bad.sum())} of {len(df)} jets in {ds.path}")
    return df


def _cache_key(ds: JetDataset, name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    ident = dataset_identity(ds)
    return None if ident is None else {"set": name, "settings": settings, "dataset": ident}


def feature_cache_path(ds: JetDataset, name: str, cache_dir: str | Path | None = None, **settings: Any) -> Path | None:
    """Where :func:`build_features` caches the set ``name`` of ``ds``:
    ``<cache_dir>/features/<key>/<name>.parquet`` (None for a dataset built in memory)."""
    from hepdl.data.paths import cache_dir as _cache_dir

    key = _cache_key(ds, name, settings)
    if key is None:
        return None
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return _cache_dir(cache_dir) / "features" / key_hash / f"{name}.parquet"


def build_features(dataset: str | Path | JetDataset, name: str, *, cache_dir: str | Path | None = None, **settings: Any) -> pd.DataFrame:
    """Compute (or read back from the cache) the feature set ``name`` for a whole dataset.

    Parameters
    ----------
    dataset
        A path understood by :func:`hepdl.data.open`, or an opened dataset.
    name
        One of :data:`FEATURE_SETS`.
    cache_dir
        The hepdl cache directory (default :func:`hepdl.data.cache_dir`: ``$HEPDL_CACHE`` or
        ``~/.cache/hepdl``); tables go to ``<cache_dir>/features/<key>/``. An unwritable cache is
        not an error: the set is computed and not stored.
    settings
        Settings of the set (e.g. ``r0=1.0`` for ``nsub``); part of the cache key.

    Returns
    -------
    pd.DataFrame
        One row per jet, in the dataset's order, plus a ``label`` column.
    """
    import logging

    ds = dataset if isinstance(dataset, JetDataset) else open_dataset(dataset)
    _check_settings(name, settings)
    pq = feature_cache_path(ds, name, cache_dir, **settings)
    if pq is None:  # an in-memory dataset: nothing identifies it, so nothing is cached
        return _computed(ds, name, settings)
    key = _cache_key(ds, name, settings)
    base, js = pq.parent, pq.with_suffix(".json")
    key_hash = base.name
    if pq.exists() and js.exists():
        import pyarrow

        try:
            meta = json.loads(js.read_text())
            df = pd.read_parquet(pq) if meta.get("key") == json.loads(json.dumps(key, default=str)) else None
        except (OSError, ValueError, pyarrow.ArrowException) as exc:  # what a damaged entry raises (JSON, Parquet)
            logging.getLogger("hepdl").warning("feature cache entry %s is damaged (%s: %s); recomputing it",
                                               pq, type(exc).__name__, " ".join(str(exc).split())[:200])
            df = None
        if df is not None and len(df) == len(ds) and np.array_equal(df["label"].to_numpy(), ds.labels):
            return df
    df = _computed(ds, name, settings)
    try:
        base.mkdir(parents=True, exist_ok=True)
        atomic_write(pq, lambda tmp: df.to_parquet(tmp, index=False))
        atomic_write_json(js, {"key": key, "key_hash": key_hash, "dataset_path": str(ds.path), "n_jets": len(df),
                               "columns": list(df.columns)})
    except OSError as exc:
        logging.getLogger("hepdl").warning("feature cache %s is not writable (%s): feature set %r computed, not cached",
                                           base, exc.strerror or exc, name)
    return df
