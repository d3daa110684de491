"""hepdl on Apache Spark: a generated dataset as a Spark DataFrame, feature sets and batch inference
computed on the executors by hepdl's own functions.

Spark is one of the tools CERN runs analytics on at scale (beside Dask, which ``hepdl generate``
uses). hepdl's datasets are Parquet parts in a documented schema, so Spark reads them as they are
(:func:`read`). :func:`features` and :func:`predict` hand each partition to hepdl through Arrow
(``DataFrame.mapInArrow``, the columnar form of a pandas UDF: the jagged constituents arrive as
Arrow lists and become awkward arrays without a per-row Python step), compute the feature set or
run the exported ONNX model with its preprocessing contract, and return one row per jet.

Needs the ``spark`` extra (``pip install 'hepdl[spark]'``) and a Java runtime (Java 17: Debian's
``openjdk-17-jre-headless``; ``make spark`` installs both where it can). On a cluster::

    spark-submit --master yarn --deploy-mode cluster --py-files hepdl.zip score.py   # or k8s://...

where ``score.py`` calls ``hepdl.spark.predict(hepdl.spark.read(spark, path), export_dir)`` and
writes the result with ``.write.parquet(...)``; every executor needs hepdl installed and the export
directory readable (a shared file system, or ``--files``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hepdl.errors import ConfigError, DataError

__all__ = ["session", "read", "features", "predict", "KEY_COLUMNS"]

#: Per-jet columns carried through :func:`features` and :func:`predict` to identify each jet.
KEY_COLUMNS = ("label", "process", "event", "jet_pt")


def _require_spark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise ConfigError("hepdl.spark needs pyspark: pip install 'hepdl[spark]' (and a Java 17 runtime, e.g. Debian's "
                          "openjdk-17-jre-headless; `make spark` installs both)") from None
    return pyspark


def session(master: str = "local[2]", app: str = "hepdl", **conf: str) -> Any:
    """A Spark session (``master``: ``local[N]``, ``yarn``, ``k8s://...``, ``spark://...``).

    Raises :class:`ConfigError` in one line when there is no Java runtime, naming what to install.
    """
    _require_spark()
    if shutil.which("java") is None and not _java_home():
        raise ConfigError("Spark needs a Java runtime and none was found (no `java` on PATH, no JAVA_HOME): install Java 17, "
                          "e.g. `apt-get install openjdk-17-jre-headless` (or `make spark`)")
    import os
    import sys

    from pyspark.sql import SparkSession

    if master.startswith("local"):  # the workers run this Python (with hepdl), not whatever python3 is on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app)
    for k, v in {"spark.ui.enabled": "false", "spark.sql.execution.arrow.pyspark.enabled": "true", **conf}.items():
        builder = builder.config(k, v)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j/Java start-up errors
        raise ConfigError(f"Spark could not start ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); "
                          "check the Java 17 runtime (`java -version`)") from None


def _java_home() -> bool:
    import os

    home = os.environ.get("JAVA_HOME")
    return home is not None and (Path(home) / "bin" / "java").exists()


def read(spark: Any, path: str | Path) -> Any:
    """A generated jet dataset (a ``hepdl generate`` directory) as a Spark DataFrame, one row per jet
    in the schema of :mod:`hepdl.schema`, reading the part files ``dataset.json`` lists."""
    from hepdl.data.parts import read_metadata

    path = Path(path).expanduser()
    meta = read_metadata(path, "hepdl-jets", "jet")  # format, schema version, complete: as hepdl.data.open checks
    files = [str(path / p["file"]) for p in meta["parts"]]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise DataError(f"dataset {path}: part file {Path(missing[0]).name} listed in dataset.json is missing")
    return spark.read.parquet(*files)


def _no_options(array: Any) -> Any:
    """``array`` without option types: Spark marks every column nullable, hepdl's schema has no nulls.
    A null present is an error."""
    import awkward as ak
    import numpy as np

    def strip(layout: Any) -> Any:
        def action(node: Any, **kwargs: Any) -> Any:
            if node.is_option:
                if (np.asarray(node.to_IndexedOptionArray64().index) < 0).any():
                    raise DataError("a Spark partition has null values (hepdl's jet schema has none); drop or fill them first")
                return strip(node.project())
            return None

        return ak.transform(action, layout, highlevel=False)

    return ak.Array(strip(ak.to_layout(array)))


def _jets(batch: Any) -> Any:
    """An Arrow record batch (or table) of jet rows as awkward records in hepdl's schema (checked)."""
    import awkward as ak

    from hepdl.data.dataset import validate_jets

    return validate_jets(_no_options(ak.from_arrow(batch)), "a Spark partition")


def _keys(jets: Any) -> dict[str, Any]:
    """The key columns of a batch, in the types of :func:`_key_schema`."""
    import awkward as ak

    out: dict[str, Any] = {}
    if "label" in jets.fields:
        out["label"] = ak.to_numpy(jets.label).astype("int32")
    if "process" in jets.fields:
        out["process"] = ak.to_list(jets.process)
    if "event" in jets.fields:
        out["event"] = ak.to_numpy(jets.event).astype("int64")
    out["jet_pt"] = ak.to_numpy(jets.jet_pt).astype("float64")
    return out


def _key_schema(df: Any) -> list[str]:
    types = {"label": "int", "process": "string", "event": "long", "jet_pt": "double"}
    return [f"{k} {types[k]}" for k in KEY_COLUMNS if k in df.columns or k == "jet_pt"]


def features(df: Any, feature_set: str = "expert") -> Any:
    """The feature set ``feature_set`` (see ``hepdl list``) of every jet of ``df``: a DataFrame with the
    key columns (:data:`KEY_COLUMNS`) and one double column per feature, computed on the executors by
    :func:`hepdl.features.sets.compute_feature_set` (the function behind ``hepdl.features``)."""
    from hepdl.features.sets import FEATURE_SETS, compute_feature_set

    if feature_set not in FEATURE_SETS:
        raise ConfigError(f"unknown jet feature set {feature_set!r}; known: {', '.join(FEATURE_SETS.names())}")
    # the column names come from the set itself, computed on one jet of the frame
    first = df.limit(1).toArrow()
    if first.num_rows == 0:
        raise DataError("the Spark DataFrame holds no jets")
    columns = list(compute_feature_set(_jets(first), feature_set).columns)
    schema = ", ".join(_key_schema(df) + [f"`{c}` double" for c in columns])

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            jets = _jets(batch)
            frame = compute_feature_set(jets, feature_set)
            cols = {**_keys(jets), **{c: frame[c].to_numpy(dtype="float64") for c in columns}}
            yield pa.RecordBatch.from_pydict(cols)

    return df.mapInArrow(run, schema)


def predict(df: Any, export_dir: str | Path, *, threads: int = 1) -> Any:
    """Scores of an exported model (``hepdl export``: ``model.onnx`` + ``preprocess.json``) on every jet
    of ``df``: the key columns (:data:`KEY_COLUMNS`) and ``score`` (two classes: the signal
    probability) or ``score_<class>`` per class, run by ONNX Runtime on the executors with the
    export's preprocessing contract, as :meth:`hepdl.deploy.OnnxModel.predict` does."""
    from hepdl.deploy.onnx import check_contract

    export_dir = Path(export_dir).resolve()
    contract = check_contract(export_dir)
    classes = list(contract.get("class_names") or [])
    names = ["score"] if len(classes) <= 2 else [f"score_{c.replace('-', '_')}" for c in classes]
    schema = ", ".join(_key_schema(df) + [f"{n} double" for n in names])
    directory = str(export_dir)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from hepdl.data.dataset import JetDataset
        from hepdl.deploy.onnx import OnnxModel

        model = OnnxModel(directory, threads=threads)
        for batch in batches:
            jets = _jets(batch)
            ds = JetDataset(jets, {}, Path("spark"), "spark", classes)
            p = model.predict(ds, cache=False)
            cols = dict(_keys(jets))
            if p.ndim == 1:
                cols["score"] = p
            else:
                cols.update({n: p[:, i] for i, n in enumerate(names)})
            yield pa.RecordBatch.from_pydict(cols)

    return df.mapInArrow(run, schema)
