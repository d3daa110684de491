"""Model inputs of jet datasets: feature sets, jet images, particle clouds (the jet domain's
builder for :func:`hepdl.features.inputs.model_inputs`).

Dimensions: B jets, F features, N particles, K channels, H = W pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepdl.data.dataset import JetDataset
from hepdl.data.stream import JetParts
from hepdl.errors import ConfigError
from hepdl.features.clouds import particle_cloud
from hepdl.features.images import ImageConfig, jet_images
from hepdl.features.inputs import Inputs, StreamedInputs, check_finite, register_inputs, standardisation
from hepdl.features.sets import FEATURE_SETS, build_features, compute_feature_set

__all__ = ["jet_inputs", "jet_parts_inputs", "DEFAULT_FEATURE_SET", "FEATURE_EXCLUDE"]

DEFAULT_FEATURE_SET = "expert"
#: Columns of the expert set that carry no tagging information (and would sculpt nothing useful).
FEATURE_EXCLUDE = ("eta", "phi")


def jet_inputs(ds: JetDataset, kind: str, train_idx: np.ndarray, *, feature_set: str = DEFAULT_FEATURE_SET,
               n_particles: int = 128, image: ImageConfig | None = None, cache: bool = True,
               scaling: dict[str, Any] | None = None) -> Inputs:
    """The representation ``kind`` for every jet of ``ds``: a feature set (``features``, standardised;
    ``bdt``/``cut``, as a DataFrame), jet images or particle clouds. Scaling is fitted on
    ``train_idx`` only, or taken from ``scaling`` (a trained model's ``preprocess.json``:
    ``columns``, ``mean``, ``std``; other columns than the model's are an error naming them).
    ``cache=False`` computes feature sets without reading or writing the feature cache (for a slice
    of a dataset, e.g. one batch of a stream).
    """
    labels = ds.labels
    if kind in ("features", "bdt", "cut"):
        _check_feature_set(feature_set, ds)
        if cache:
            df = build_features(ds, feature_set).drop(columns=["label"])
        else:
            df = compute_feature_set(ds.jets, feature_set)
        return _feature_inputs(kind, df, labels, feature_set, train_idx, scaling, str(ds.path))
    if kind == "image":
        cfg = image or ImageConfig()
        imgs = jet_images(ds.jets, cfg) * np.float32(cfg.n_pixels**2)  # unit-sum images scaled to O(1) pixels
        from hepdl.config import to_dict

        return Inputs(kind, {"images": imgs}, labels, {"image": to_dict(cfg), "scale": cfg.n_pixels**2})
    if kind == "cloud":
        pc = particle_cloud(ds.jets, n_max=n_particles)
        return Inputs(kind, {"x": pc.features, "mask": pc.mask, "p4": pc.four_momenta}, labels,
                      {"n_particles": n_particles, "features": list(pc.names)})
    raise ConfigError(f"unknown representation {kind!r}; known: features, image, cloud, bdt, cut")


def _check_feature_set(feature_set: str, ds: Any) -> None:
    if feature_set not in FEATURE_SETS:
        raise ConfigError(f"feature set {feature_set!r} is not a jet feature set ({', '.join(FEATURE_SETS.names())}); "
                          f"dataset {ds.path} holds jets" + ("; 'higgs-challenge' needs event data (an H -> tau tau event "
                                                             "dataset or a challenge CSV)" if feature_set == "higgs-challenge" else ""))


def _feature_inputs(kind: str, df: Any, labels: np.ndarray, feature_set: str, train_idx: np.ndarray,
                    scaling: dict[str, Any] | None, where: str) -> Inputs:
    """A feature set's frame as the ``bdt``/``cut`` DataFrame or the standardised ``features`` array."""
    df = df.drop(columns=[c for c in FEATURE_EXCLUDE if c in df.columns])
    check_finite(df, f"feature set {feature_set!r} of {where}")
    if kind != "features":
        return Inputs(kind, {"frame": df}, labels, {"feature_set": feature_set, "columns": list(df.columns)})
    x = df.to_numpy(np.float64)
    mean, std = standardisation(list(df.columns), x, train_idx, scaling, where)
    arr = ((x - mean) / std).astype(np.float32)
    pre = {"feature_set": feature_set, "columns": list(df.columns), "mean": mean.tolist(), "std": std.tolist()}
    return Inputs(kind, {"features": arr}, labels, pre)


def jet_parts_inputs(ds: JetParts, kind: str, train_idx: np.ndarray, *, feature_set: str = DEFAULT_FEATURE_SET,
                     n_particles: int = 128, image: ImageConfig | None = None, cache: bool = True,
                     scaling: dict[str, Any] | None = None) -> Inputs:
    """The representation ``kind`` of a dataset read a part at a time (:class:`hepdl.data.stream.JetParts`).

    Feature sets (a few numbers per jet) are computed part by part and concatenated: the same
    :class:`Inputs` as :func:`jet_inputs` gives, scaled on ``train_idx`` in the same way, without the
    constituents ever being in memory at once. Images and particle clouds (kilobytes per jet) come as
    :class:`StreamedInputs`: each part's arrays are built by :func:`jet_inputs` itself when a loader
    needs them, so the streamed and in-memory inputs are the same arrays.
    """
    import pandas as pd

    labels = ds.labels
    if kind in ("features", "bdt", "cut"):
        _check_feature_set(feature_set, ds)
        df = pd.concat([compute_feature_set(ds.chunk(i).jets, feature_set) for i in range(ds.n_chunks)], ignore_index=True)
        return _feature_inputs(kind, df, labels, feature_set, train_idx, scaling, str(ds.path))
    if kind not in ("image", "cloud"):
        raise ConfigError(f"unknown representation {kind!r}; known: features, image, cloud, bdt, cut")

    def chunk_arrays(i: int, rows: np.ndarray | None = None) -> dict[str, Any]:
        part = ds.chunk(i, rows)
        return jet_inputs(part, kind, np.arange(len(part)), n_particles=n_particles, image=image, cache=False).arrays

    first = jet_inputs(ds.chunk(0), kind, np.zeros(0, np.int64), n_particles=n_particles, image=image, cache=False)
    shapes = {k: v[:0].copy() for k, v in first.arrays.items()}
    return StreamedInputs(kind, shapes, labels, first.preprocess, starts=ds.starts, chunk_arrays=chunk_arrays)


register_inputs(JetDataset, jet_inputs)
register_inputs(JetParts, jet_parts_inputs)
