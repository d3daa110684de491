"""Flat numpy views of jagged constituents, shared by the feature functions (internal)."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepdl.errors import DataError

__all__ = ["FlatJets", "flat_jets"]


@dataclass
class FlatJets:
    """Constituents of ``n_jets`` jets as flat arrays; jet j owns ``offsets[j]:offsets[j+1]``."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    e: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    rap: np.ndarray
    offsets: np.ndarray
    jet_index: np.ndarray

    @property
    def n_jets(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def jet_sum(self, values: np.ndarray) -> np.ndarray:
        """Per-jet sum of a per-constituent array."""
        return np.bincount(self.jet_index, weights=values, minlength=self.n_jets)


def _constituents(jets: ak.Array) -> ak.Array:
    fields = jets.fields
    if "constituents" in fields:
        return jets.constituents
    if all(f in fields for f in ("pt", "eta", "phi", "e")):
        return jets
    raise DataError(f"expected jets with 'constituents' or constituents with pt, eta, phi, e; got fields {fields}")


def flat_jets(jets: ak.Array) -> FlatJets:
    """Flatten ``jets`` (records with ``constituents``, or the constituents themselves).

    Raises a :class:`DataError` naming the field when a constituent value is NaN or infinite.
    """
    cons = _constituents(jets)
    counts = ak.to_numpy(ak.num(cons)).astype(np.int64)
    pt, eta, phi, e = (np.ascontiguousarray(ak.to_numpy(ak.flatten(cons[f])), dtype=np.float64) for f in ("pt", "eta", "phi", "e"))
    for name, arr in (("pt", pt), ("eta", eta), ("phi", phi), ("e", e)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(f"constituent field {name!r} has {int(bad.sum())} NaN/inf values")
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        rap = 0.5 * np.log((e + pz) / (e - pz))
    rap = np.where(np.isfinite(rap), rap, eta)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return FlatJets(pt, eta, phi, e, px, py, pz, rap, offsets, np.repeat(np.arange(len(counts)), counts))
