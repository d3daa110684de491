"""One formula per kinematic quantity, used everywhere in hepdl: the azimuthal wrap, Δφ, ΔR and the
conversion of Cartesian momenta to (pT, η, φ). Columnar numpy (works on arrays of any shape and
on awkward arrays through numpy's dispatch); checked against ``vector`` in the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["wrap_phi", "delta_phi", "delta_r", "pt_eta_phi", "PT_FLOOR"]

#: pT below which η is computed with this floor instead (η of a particle along the beam is huge, not NaN).
PT_FLOOR = 1e-12


def wrap_phi(phi: Any) -> Any:
    """An azimuth (or azimuthal difference) mapped into [-π, π)."""
    return (phi + np.pi) % (2 * np.pi) - np.pi


def delta_phi(phi1: Any, phi2: Any) -> Any:
    """φ1 - φ2 in [-π, π)."""
    return wrap_phi(phi1 - phi2)


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    """ΔR = sqrt(Δη² + Δφ²)."""
    return np.hypot(eta1 - eta2, delta_phi(phi1, phi2))


def pt_eta_phi(px: Any, py: Any, pz: Any) -> tuple[Any, Any, Any]:
    """(pT, η, φ) of Cartesian momenta; η = asinh(pz / max(pT, :data:`PT_FLOOR`))."""
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / np.maximum(pt, PT_FLOOR)), np.arctan2(py, px)
