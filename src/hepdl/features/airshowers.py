"""Model inputs of air-shower events: the ``stations`` representation, the same arrays for the
physicist's fits and for every network.

``traces`` (B, S, T): log(1 + VEM) per bin; ``stations`` (B, S, 4): the start time relative to the
station with the largest signal (us), log10(1 + signal/VEM), saturated, triggered; ``mask`` (B, S):
1 for a triggered station; ``positions`` (B, S, 2): station positions (km) from the array centre.
Untriggered and broken stations are zeros with mask 0. No scaling is fitted: the transformations
are fixed and stated in ``preprocess.json``.

Dimensions: B events, S stations, T trace bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepdl.data.airshowers import AirShowerDataset
from hepdl.errors import ConfigError
from hepdl.features.inputs import REPRESENTATIONS, Inputs, Representation, register_inputs

__all__ = ["STATION_FEATURES", "shower_inputs", "station_arrays"]

#: The columns of the ``stations`` input.
STATION_FEATURES = ("time_us", "log10_signal", "saturated", "triggered")

def _example(pre: dict[str, Any], batch: int) -> tuple[Any, ...]:
    """Example ``stations`` tensors (ONNX tracing): a third of the stations triggered."""
    import torch

    g = torch.Generator().manual_seed(0)
    s, t, f = pre["n_stations"], pre["n_bins"], len(pre["station_features"])
    mask = (torch.arange(s) % 3 == 0).float().expand(batch, s).clone()
    return (torch.rand(batch, s, t, generator=g) * mask[..., None], torch.randn(batch, s, f, generator=g) * mask[..., None], mask,
            torch.randn(batch, s, 2, generator=g))


REPRESENTATIONS.add("stations", Representation(
    "stations", ("traces", "stations", "mask", "positions"),
    lambda a: {"n_stations": a["mask"].shape[1], "n_bins": a["traces"].shape[2], "n_features": a["stations"].shape[2]},
    example=_example))


def station_arrays(time_ns: np.ndarray, signal: np.ndarray, triggered: np.ndarray, saturated: np.ndarray,
                   trace: np.ndarray, positions_m: np.ndarray) -> dict[str, np.ndarray]:
    """The ``stations`` arrays from an array's raw data (shapes of :mod:`hepdl.data.airshowers`; the
    station positions (B, S, 2) or, for a fixed array, (S, 2), in m)."""
    trig = triggered.astype(bool)
    n = len(signal)
    hottest = np.argmax(np.where(trig, signal, -1.0), axis=1)
    t_ref = time_ns[np.arange(n), hottest]
    t_rel = np.where(trig, (time_ns - t_ref[:, None]) / 1000.0, 0.0)
    feats = np.stack([t_rel, np.where(trig, np.log10(1 + np.maximum(signal, 0)), 0.0), saturated & trig, trig], axis=-1)
    return {"traces": np.where(trig[..., None], np.log1p(np.maximum(trace, 0)), 0).astype(np.float32),
            "stations": feats.astype(np.float32), "mask": trig.astype(np.float32),
            "positions": np.broadcast_to(positions_m / 1000.0, (n, *positions_m.shape[-2:])).astype(np.float32)}


def shower_inputs(ds: AirShowerDataset, kind: str, train_idx: np.ndarray, **_: Any) -> Inputs:
    """The inputs of representation ``kind`` (only ``stations``) for every event of ``ds``."""
    if kind != "stations":
        raise ConfigError(f"air-shower dataset {ds.path} has the 'stations' representation only, not {kind!r}: "
                          "use an air-shower model (airshower-cnn, airshower-set, airshower-cnn-times, ldf-fit)")
    a = ds.arrays
    arrays = station_arrays(a["time"], a["signal"], a["triggered"], a["saturated"], a["trace"], ds.positions)
    pre = {"station_features": list(STATION_FEATURES), "n_stations": int(a["trace"].shape[1]), "n_bins": int(a["trace"].shape[2]),
           "transforms": {"traces": "log(1 + VEM per bin)", "time_us": "start time minus that of the largest signal, us",
                          "log10_signal": "log10(1 + VEM)", "positions": "km from the array centre"}}
    return Inputs(kind, arrays, ds.labels, pre)


register_inputs(AirShowerDataset, shower_inputs)
