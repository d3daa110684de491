"""Model inputs of jet datasets: feature sets, jet images, particle clouds (the jet domain's
builder for :func:`hepdl.features.inputs.model_inputs`).

Dimensions: B jets, F features, N particles, K channels, H = W pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepdl.data.dataset import JetDataset
from hepdl.errors import ConfigError
from hepdl.features.clouds import particle_cloud
from hepdl.features.images import ImageConfig, jet_images
from hepdl.features.inputs import Inputs, check_finite, register_inputs, standardisation
from hepdl.features.sets import FEATURE_SETS, build_features, compute_feature_set

__all__ = ["jet_inputs", "DEFAULT_FEATURE_SET", "FEATURE_EXCLUDE"]

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
        if feature_set not in FEATURE_SETS:
            raise ConfigError(f"feature set {feature_set!r} is not a jet feature set ({', '.join(FEATURE_SETS.names())}); "
                              f"dataset {ds.path} holds jets" + ("; 'higgs-challenge' needs event data (an H -> tau tau event "
                                                                 "dataset or a challenge CSV)" if feature_set == "higgs-challenge" else ""))
        if cache:
            df = build_features(ds, feature_set).drop(columns=["label"])
        else:
            df = compute_feature_set(ds.jets, feature_set)
        df = df.drop(columns=[c for c in FEATURE_EXCLUDE if c in df.columns])
        check_finite(df, f"feature set {feature_set!r} of {ds.path}")
        if kind != "features":
            return Inputs(kind, {"frame": df}, labels, {"feature_set": feature_set, "columns": list(df.columns)})
        x = df.to_numpy(np.float64)
        mean, std = standardisation(list(df.columns), x, train_idx, scaling, str(ds.path))
        arr = ((x - mean) / std).astype(np.float32)
        pre = {"feature_set": feature_set, "columns": list(df.columns), "mean": mean.tolist(), "std": std.tolist()}
        return Inputs(kind, {"features": arr}, labels, pre)
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


register_inputs(JetDataset, jet_inputs)
