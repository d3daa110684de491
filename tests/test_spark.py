"""hepdl on Spark (local[2]): a generated dataset read as it is, feature sets and ONNX batch inference
on the executors equal to hepdl's own, score for score. Marked slow; skips without pyspark or Java."""

from __future__ import annotations

import shutil

import awkward as ak
import numpy as np
import pytest

pytestmark = pytest.mark.slow

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (make spark)")
if shutil.which("java") is None:
    pytest.skip("no Java runtime (make spark installs Debian's openjdk-17-jre-headless)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    import hepdl.spark

    s = hepdl.spark.session("local[2]", "hepdl-tests", **{"spark.sql.shuffle.partitions": "2"})
    yield s
    s.stop()


def _order(label, event, pt):
    return np.lexsort((np.round(np.asarray(pt), 6), np.asarray(event), np.asarray(label)))


def test_dataset_reads_as_it_is(spark, top_dataset_path, top_dataset):
    import hepdl.spark

    df = hepdl.spark.read(spark, top_dataset_path)
    assert df.count() == len(top_dataset) == 600
    assert {"constituents", "jet_pt", "jet_m", "label", "process", "event", "weight"} <= set(df.columns)
    cons = df.schema["constituents"].dataType.elementType
    assert {"pt", "eta", "phi", "e", "charge", "type"} == set(cons.fieldNames())
    counts = {r["label"]: r["count"] for r in df.groupBy("label").count().collect()}
    assert counts == {0: 300, 1: 300}


def test_features_equal_hepdl(spark, top_dataset_path, top_dataset):
    import hepdl.spark
    from hepdl.features.sets import compute_feature_set

    got = hepdl.spark.features(hepdl.spark.read(spark, top_dataset_path), "expert").toPandas()
    want = compute_feature_set(top_dataset.jets, "expert")
    jets = top_dataset.jets
    a = got.iloc[_order(got["label"], got["event"], got["jet_pt"])].reset_index(drop=True)
    b = want.iloc[_order(ak.to_numpy(jets.label), ak.to_numpy(jets.event), ak.to_numpy(jets.jet_pt))].reset_index(drop=True)
    assert len(a) == len(b) == 600
    for c in want.columns:
        np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-9, atol=1e-12, err_msg=c)


def test_onnx_inference_equals_hepdl_predict(spark, top_dataset_path, top_dataset, tmp_path):
    import hepdl.spark
    from hepdl.deploy import export_onnx
    from hepdl.train import TrainConfig, predict, train

    train(TrainConfig("pfn", epochs=1, n_particles=16), top_dataset, tmp_path / "run" / "pfn", progress=False)
    exp = export_onnx(tmp_path / "run" / "pfn", tmp_path / "export")
    got = hepdl.spark.predict(hepdl.spark.read(spark, top_dataset_path), exp).toPandas()
    want = predict(tmp_path / "run", top_dataset)["pfn"]
    jets = top_dataset.jets
    a = got.iloc[_order(got["label"], got["event"], got["jet_pt"])]["score"].to_numpy()
    b = want[_order(ak.to_numpy(jets.label), ak.to_numpy(jets.event), ak.to_numpy(jets.jet_pt))]
    np.testing.assert_allclose(a, b, atol=1e-5)  # ONNX Runtime vs torch: float rounding only


def test_no_java_is_one_line(monkeypatch):
    import hepdl.spark
    from hepdl.errors import ConfigError

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ConfigError, match="Spark needs a Java runtime.*openjdk-17-jre-headless"):
        hepdl.spark.session()
