"""The jet-substructure observables of an unfolding, at particle and at detector level.

The six of OmniFold (Andreassen, Komiske, Metodiev, Nachman, Thaler, arXiv:1911.09107): jet mass m,
constituent multiplicity M, width (girth) w = sum_i pT_i dR_i / pT, the N-subjettiness ratio
tau_21 = tau_2 / tau_1 (beta = 1), ln rho = ln(m^2 / pT^2) and the soft-drop momentum fraction z_g
(beta = 0, z_cut = 0.1), all with the jet radius R as the angular scale; plus the jet pT, which
decides whether a level passes (and so where the misses and fakes lie).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pandas as pd

from hepdl.features._arrays import flat_jets
from hepdl.features.substructure import girth, jet_kinematics, nsubjettiness, soft_drop

__all__ = ["OBSERVABLES", "OBSERVABLE_LABELS", "jet_observables", "unfolding_observables", "LOG_RHO_FLOOR"]

#: The observables unfolded, in this order.
OBSERVABLES: tuple[str, ...] = ("mass", "multiplicity", "width", "tau21", "log_rho", "zg")
#: Axis labels (matplotlib mathtext).
OBSERVABLE_LABELS: dict[str, str] = {
    "pt": r"jet $p_T$ [GeV]", "mass": r"jet mass $m$ [GeV]", "multiplicity": r"constituent multiplicity $M$",
    "width": r"jet width $w$", "tau21": r"$\tau_{21}^{(\beta=1)}$", "log_rho": r"$\ln\rho = \ln(m^2/p_T^2)$",
    "zg": r"groomed momentum fraction $z_g$",
}
#: ln rho of a massless (one-particle) jet, where ln(m^2/pT^2) would be -inf.
LOG_RHO_FLOOR = -14.0


def jet_observables(constituents: ak.Array, radius: float) -> pd.DataFrame:
    """``pt`` and the :data:`OBSERVABLES` of each jet, from its constituents (``var * {pt, eta, phi, e}``;
    a jet without constituents gives NaN): an (n_jets, 7) DataFrame."""
    n = len(constituents)
    has = ak.to_numpy(ak.num(constituents)) > 0
    out = pd.DataFrame({c: np.full(n, np.nan) for c in ("pt", *OBSERVABLES)})
    if not has.any():
        return out
    f = flat_jets(constituents[has])
    kin = jet_kinematics(f)
    taus = nsubjettiness(f, n_max=2, beta=1.0, r0=radius)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau21 = np.where(taus[:, 0] > 0, taus[:, 1] / taus[:, 0], 0.0)
        rho = kin["mass"] ** 2 / kin["pt"] ** 2
        log_rho = np.where(rho > 0, np.log(np.where(rho > 0, rho, 1.0)), LOG_RHO_FLOOR)
    cols: dict[str, Any] = {"pt": kin["pt"], "mass": kin["mass"], "multiplicity": np.diff(f.offsets).astype(np.float64),
                            "width": girth(f), "tau21": tau21, "log_rho": np.maximum(log_rho, LOG_RHO_FLOOR),
                            "zg": soft_drop(f, beta=0.0, z_cut=0.1, r0=radius)["z_g"]}
    for c, v in cols.items():
        out.loc[has, c] = v
    return out


def unfolding_observables(ds: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(gen, reco)``: the observables of every event of an :class:`hepdl.data.unfolding.UnfoldingDataset`
    at particle level and at detector level (NaN rows where the level has no jet; whether it passes
    is the dataset's ``flags()``)."""
    return (jet_observables(ds.events.gen_constituents, ds.radius), jet_observables(ds.events.constituents, ds.radius))
