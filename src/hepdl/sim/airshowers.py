"""Cosmic-ray air showers seen by a surface array of water-Cherenkov stations (Auger-like), simulated
from parameterisations of shower physics: batched numpy, seeded, deterministic.

Each event is one primary (proton or iron) of energy 10^18.5 - 10^20 eV, arriving isotropically
(cos^2 theta uniform: an isotropic flux on a flat detector) up to 60 deg in zenith, with its core
uniform in one cell of a triangular grid of stations (1500 m spacing, an ``n_side`` x ``n_side``
patch in axial coordinates, as in the toy of Erdmann, Glombitza, Walz, arXiv:1708.00647).

Physics, each piece a published parameterisation or textbook model:

- **Depth of shower maximum** X_max: mean proton value with an elongation rate of 58 g/cm^2 per
  decade, iron from the superposition model, <X_max>_A(E) = <X_max>_p(E / A) (Matthews, Astropart.
  Phys. 22 (2005) 387); fluctuations sigma_p = 60, sigma_Fe = 20 g/cm^2 with a Gumbel shape (the
  exponential tail of deep proton showers; De Domenico et al., arXiv:1305.2331).
- **Atmosphere**: isothermal, X_v(h) = 1033 exp(-h / 8.4 km) g/cm^2; the array at 1400 m (875 g/cm^2).
  DX = X_ground / cos(theta) - X_max, the slant depth from the maximum to the ground, sets the age.
- **Signal size at 1000 m** in VEM: an electromagnetic part attenuated with DX (lambda = 450 g/cm^2)
  and a muonic part (N_mu proportional to A^0.08 E^0.92 from the Heitler-Matthews model, weakly
  attenuated); 48 VEM for 10 EeV at 38 deg, about the Auger calibration E = 1.86e17 eV S_38^1.031
  (Pierre Auger Collaboration, arXiv:2008.06486).
- **Lateral distribution**: a modified NKG function per component in the shower plane,
  f(r) = (r / 1000 m)^beta ((r + 700 m) / 1700 m)^beta (the Auger LDF, arXiv:2007.09035), with an EM
  slope that flattens with age and a flatter muon slope.
- **Shower front**: spherical, from a virtual source on the axis at the slant depth X_max / 2 (the
  production region), so deeper showers are more curved; particles arrive after the front with
  Gamma-distributed delays whose mean grows with r (as (r / 1000 m)^1.5) and falls with DX (the
  rise-time physics of the Auger Delta method), muons earlier and narrower than the EM particles.
- **Station response**: Poisson numbers of muons (1 VEM each, 15 % track-length spread: spiky) and
  of EM particles (0.3 VEM each) per 25 ns bin, the 60 ns light decay of the water volume, electronic
  noise, saturation of the FADC at ``saturation_vem`` per bin, a trigger threshold in VEM, a start
  time (the first particle, 10 ns GPS jitter) and an 80-bin trace from two bins before it; broken
  stations at random.

Units: metres, nanoseconds, VEM, g/cm^2, eV. Dimensions: B events, S stations, T trace bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepdl.errors import ConfigError

__all__ = ["ArrayConfig", "PRIMARIES", "station_positions", "simulate_showers", "mean_xmax", "shower_axis",
           "front_times", "ldf", "shower_plane", "S_REF_VEM", "C_M_PER_NS", "vertical_depth", "cic_reference_zenith"]

#: Speed of light in m/ns.
C_M_PER_NS = 0.299792458
#: Mass number of each primary.
PRIMARIES = {"proton": 1, "iron": 56}
#: Signal at 1000 m of a 10 EeV shower at 38 deg zenith, VEM.
S_REF_VEM = 48.0
_X0_SEA = 1033.0  # g/cm^2
_H_SCALE = 8400.0  # m
_ELONGATION = 58.0  # g/cm^2 per decade
_LAMBDA_EM, _LAMBDA_MU = 450.0, 1500.0
_DX_REF = 340.0  # g/cm^2: the reference slant depth of the signal normalisation (a 10^18 eV proton at 38 deg)
_EM_VEM, _MU_VEM = 0.3, 1.0  # signal of one EM particle, one muon
_LIGHT_DECAY_NS = 60.0
_PRE_BINS = 2  # trace bins kept before the first particle
_SIM_BINS = 200  # bins simulated per station (5 us)


def cic_reference_zenith() -> float:
    """The reference zenith angle of the constant-intensity cut, 38 deg, in radians."""
    return float(np.radians(38.0))


@dataclass
class ArrayConfig:
    """The surface array and the shower sample (all validated).

    ``n_side`` x ``n_side`` stations on a triangular grid of ``spacing_m`` (axial coordinates), traces
    of ``n_bins`` bins of ``bin_ns``; energies log-uniform in [10^lg_e_min, 10^lg_e_max] eV; zenith
    up to ``zenith_max_deg``; a station triggers above ``threshold_vem``; ``broken_fraction`` of the
    stations are off in each event.
    """

    n_side: int = 9
    spacing_m: float = 1500.0
    altitude_m: float = 1400.0
    n_bins: int = 80
    bin_ns: float = 25.0
    lg_e_min: float = 18.5
    lg_e_max: float = 20.0
    zenith_max_deg: float = 60.0
    threshold_vem: float = 3.0
    saturation_vem: float = 1000.0
    noise_vem: float = 0.02
    jitter_ns: float = 10.0
    broken_fraction: float = 0.02

    def __post_init__(self) -> None:
        if not (isinstance(self.n_side, int) and 3 <= self.n_side <= 41):
            raise ConfigError(f"n_side must be an integer in [3, 41], got {self.n_side!r}")
        for name in ("spacing_m", "bin_ns", "threshold_vem", "saturation_vem"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not (isinstance(self.n_bins, int) and 8 <= self.n_bins <= _SIM_BINS - _PRE_BINS):
            raise ConfigError(f"n_bins must be an integer in [8, {_SIM_BINS - _PRE_BINS}], got {self.n_bins!r}")
        if not 17.0 <= self.lg_e_min < self.lg_e_max <= 21.0:
            raise ConfigError(f"need 17 <= lg_e_min < lg_e_max <= 21 (log10 of eV), got {self.lg_e_min}, {self.lg_e_max}")
        if not 0 < self.zenith_max_deg <= 70:
            raise ConfigError(f"zenith_max_deg must be in (0, 70], got {self.zenith_max_deg}")
        if not 0 <= self.broken_fraction < 0.5:
            raise ConfigError(f"broken_fraction must be in [0, 0.5), got {self.broken_fraction}")
        if self.noise_vem < 0 or self.jitter_ns < 0:
            raise ConfigError("noise_vem and jitter_ns must be non-negative")

    @property
    def n_stations(self) -> int:
        return self.n_side * self.n_side

    @property
    def ground_depth(self) -> float:
        """Vertical atmospheric depth of the array, g/cm^2."""
        return float(vertical_depth(self.altitude_m))


def vertical_depth(h_m: Any) -> Any:
    """Vertical depth X_v(h) = 1033 exp(-h / 8.4 km) g/cm^2 of the isothermal atmosphere."""
    return _X0_SEA * np.exp(-np.asarray(h_m, dtype=np.float64) / _H_SCALE)


def station_positions(config: ArrayConfig) -> np.ndarray:
    """(S, 2) ground positions (x, y) in m of the stations, station ``k`` at axial coordinates
    (q, r) = (k % n_side, k // n_side): x = d (q + r / 2), y = d r sqrt(3) / 2, centred on the middle
    station. Neighbours of (q, r) are (q +- 1, r), (q, r +- 1), (q + 1, r - 1), (q - 1, r + 1)."""
    n = config.n_side
    qq, rr = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    q, r = qq.ravel() - (n - 1) / 2, rr.ravel() - (n - 1) / 2
    return np.stack([config.spacing_m * (q + r / 2), config.spacing_m * r * np.sqrt(3) / 2], axis=1)


def mean_xmax(lg_e: Any, mass: Any) -> Any:
    """<X_max> in g/cm^2 of a primary of mass number ``mass`` at log10(E/eV) = ``lg_e``: 790 g/cm^2 for
    protons at 10^18.5 eV, 58 g/cm^2 per decade, superposition E -> E/A for nuclei."""
    return 790.0 + _ELONGATION * (np.asarray(lg_e) - np.log10(np.asarray(mass, dtype=np.float64)) - 18.5)


def shower_axis(zenith: Any, azimuth: Any) -> np.ndarray:
    """(..., 3) unit vectors pointing from the ground to where the shower comes from."""
    z, a = np.asarray(zenith), np.asarray(azimuth)
    return np.stack([np.sin(z) * np.cos(a), np.sin(z) * np.sin(a), np.cos(z)], axis=-1)


def front_times(pos: np.ndarray, core: np.ndarray, axis: np.ndarray, radius_m: np.ndarray | float | None) -> np.ndarray:
    """Arrival times (ns) of the shower front at ground positions ``pos`` (B, S, 2), relative to the
    core's: a plane (``radius_m`` None) or a sphere from a source at ``radius_m`` (B,) along the axis.
    ``core`` (B, 2), ``axis`` (B, 3)."""
    d = pos - core[:, None, :]
    along = d[..., 0] * axis[:, None, 0] + d[..., 1] * axis[:, None, 1]  # d . u (d_z = 0)
    if radius_m is None:
        return -along / C_M_PER_NS
    rc = np.asarray(radius_m, dtype=np.float64)[:, None] if np.ndim(radius_m) else float(radius_m)
    dist = np.sqrt(np.maximum(rc**2 - 2 * rc * along + (d**2).sum(-1), 0.0))
    return (dist - rc) / C_M_PER_NS


def ldf(r: np.ndarray, beta: np.ndarray | float, floor_m: float = 30.0) -> np.ndarray:
    """The modified NKG lateral distribution, 1 at 1000 m: (r/1000)^beta ((r + 700)/1700)^beta, with r
    floored at ``floor_m`` (the shower's core region; a fit floors further out)."""
    r = np.maximum(r, floor_m)
    return (r / 1000.0) ** beta * ((r + 700.0) / 1700.0) ** beta


def shower_plane(pos: np.ndarray, core: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance from the axis, projection on the axis), each (B, S) in m, of ground positions
    ``pos`` (B, S, 2) for cores (B, 2) and axes (B, 3)."""
    d = pos - core[:, None, :]
    along = d[..., 0] * axis[:, None, 0] + d[..., 1] * axis[:, None, 1]
    return np.sqrt(np.maximum((d**2).sum(-1) - along**2, 0.0)), along


def _gumbel_xmax(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    scale = sigma * np.sqrt(6) / np.pi
    return mean - 0.5772156649 * scale + scale * rng.gumbel(size=mean.shape)


def _depth_to_distance(slant: np.ndarray, zenith: np.ndarray, config: ArrayConfig) -> np.ndarray:
    """Distance (m) along the axis from the ground to the point of slant depth ``slant`` (g/cm^2)."""
    xv = np.clip(slant * np.cos(zenith), 1.0, config.ground_depth - 1.0)
    return (_H_SCALE * np.log(_X0_SEA / xv) - config.altitude_m) / np.cos(zenith)


#: Rows expecting more particles than this get Poisson numbers per bin; fewer, individual particles.
_DENSE_PARTICLES = 400.0
_GAMMA_GRID: dict[float, tuple[np.ndarray, np.ndarray]] = {}


def _gamma_cdf(k: float, z: np.ndarray) -> np.ndarray:
    """The regularised lower incomplete gamma function P(k, z), interpolated on a fine grid (a table
    per shape k; 10x faster than scipy's gammainc on millions of values, error < 1e-6)."""
    if k not in _GAMMA_GRID:
        from scipy.special import gammainc

        grid = np.concatenate([np.linspace(0, 1, 2001)[:-1], np.linspace(1, 80, 8001)])
        _GAMMA_GRID[k] = (grid, gammainc(k, grid))
    grid, values = _GAMMA_GRID[k]
    return np.interp(z, grid, values, right=1.0)


def _arrivals(rng: np.random.Generator, expected: np.ndarray, k: float, scale: np.ndarray,
              bin_ns: float) -> tuple[np.ndarray, np.ndarray]:
    """Particles arriving at M stations after the front, Gamma(k, scale)-distributed delays (ns), a
    Poisson number of mean ``expected`` (M,) each: counts per bin (M, _SIM_BINS) and the first
    particle's delay (M,; inf without particles). Stations expecting few particles draw each one (an
    exact first arrival); crowded ones draw Poisson numbers per bin (first arrival: uniform in the
    first filled bin)."""
    m = len(expected)
    counts = np.zeros((m, _SIM_BINS), np.int64)
    first = np.full(m, np.inf)
    dense = expected > _DENSE_PARTICLES
    sparse = np.flatnonzero(~dense)
    n = rng.poisson(expected[sparse])
    rows = np.repeat(sparse, n)
    if len(rows):
        delay = rng.gamma(k, scale[rows])
        np.minimum.at(first, rows, delay)
        b = (delay // bin_ns).astype(np.int64)
        keep = b < _SIM_BINS
        np.add.at(counts, (rows[keep], b[keep]), 1)
    idx = np.flatnonzero(dense)
    if len(idx):
        edges = np.arange(_SIM_BINS + 1) * bin_ns
        cdf = _gamma_cdf(k, edges[None, :] / scale[idx, None])
        c = rng.poisson(expected[idx, None] * np.diff(cdf, axis=1))
        counts[idx] = c
        filled = c > 0
        fb = np.argmax(filled, axis=1)
        first[idx] = np.where(filled.any(axis=1), (fb + rng.uniform(size=len(idx))) * bin_ns, np.inf)
    return counts, first


def simulate_showers(n: int, primary: str, rng: np.random.Generator, config: ArrayConfig | None = None) -> dict[str, np.ndarray]:
    """``n`` showers of ``primary`` (``proton``/``iron``) and their array response.

    Returns
    -------
    dict
        Truth, shape (B,): ``lg_energy`` (log10 E/eV), ``zenith``, ``azimuth`` (rad), ``core_x``,
        ``core_y`` (m), ``xmax`` (g/cm^2), ``dx`` (g/cm^2), ``mass`` (A).
        Stations, (B, S): ``time`` (ns, start of the signal, relative to the earliest triggered
        station; 0 where not triggered), ``signal`` (VEM, the integrated trace), ``triggered``,
        ``saturated`` (bool), ``signal_em``, ``signal_mu`` (expected VEM of each component).
        Traces, (B, S, T): ``trace`` (VEM per bin, float32) and its muon part ``trace_mu``
        (for the report); zero where not triggered.
    """
    config = config or ArrayConfig()
    if primary not in PRIMARIES:
        raise ConfigError(f"unknown primary {primary!r}; known: {', '.join(PRIMARIES)}")
    mass = PRIMARIES[primary]
    pos = station_positions(config)
    s_n, t_n = config.n_stations, config.n_bins
    lg_e = rng.uniform(config.lg_e_min, config.lg_e_max, n)
    cmax = np.cos(np.radians(config.zenith_max_deg))
    zenith = np.arccos(np.sqrt(rng.uniform(cmax**2, 1.0, n)))  # cos^2 uniform: isotropic flux on a plane
    azimuth = rng.uniform(0, 2 * np.pi, n)
    uq, ur = rng.uniform(0, 1, n), rng.uniform(0, 1, n)  # the core within one cell of the grid
    core = np.stack([config.spacing_m * (uq + ur / 2), config.spacing_m * ur * np.sqrt(3) / 2], axis=1)
    sigma = np.full(n, 60.0 if mass == 1 else 20.0)
    xmax = _gumbel_xmax(rng, mean_xmax(lg_e, mass), sigma)
    slant_ground = config.ground_depth / np.cos(zenith)
    dx = np.maximum(slant_ground - xmax, 30.0)
    axis = shower_axis(zenith, azimuth)
    # signal at 1000 m per component
    e19 = 10 ** (lg_e - 19.0)
    s_em1000 = 0.6 * S_REF_VEM * e19 ** 1.0 * np.exp(-(dx - _DX_REF) / _LAMBDA_EM)
    s_mu1000 = 0.4 * S_REF_VEM * e19**0.92 * mass**0.08 * np.exp(-(dx - _DX_REF) / _LAMBDA_MU)
    beta_em = np.clip(-2.6 + 0.3 * (dx - _DX_REF) / _DX_REF, -3.2, -1.8)
    beta_mu = -2.1
    # distances in the shower plane
    r, _ = shower_plane(pos[None], core, axis)
    lam_em = s_em1000[:, None] * ldf(r, beta_em[:, None])
    lam_mu = s_mu1000[:, None] * ldf(r, beta_mu)
    # the front: a sphere from the production region (slant depth X_max / 2)
    rc = _depth_to_distance(0.5 * xmax, zenith, config)
    t_front = front_times(pos[None], core, axis, rc)
    working = rng.uniform(size=(n, s_n)) >= config.broken_fraction
    active = working & (lam_em + lam_mu > 0.3)  # below 0.3 VEM expected no station can trigger
    ev, st = np.nonzero(active)
    m = len(ev)
    out: dict[str, np.ndarray] = {
        "lg_energy": lg_e, "zenith": zenith, "azimuth": azimuth, "core_x": core[:, 0], "core_y": core[:, 1], "xmax": xmax,
        "dx": dx, "mass": np.full(n, mass, np.int64), "signal_em": lam_em, "signal_mu": lam_mu,
    }
    time = np.zeros((n, s_n))
    signal = np.zeros((n, s_n))
    trig = np.zeros((n, s_n), bool)
    sat = np.zeros((n, s_n), bool)
    trace = np.zeros((n, s_n, t_n), np.float32)
    trace_mu = np.zeros((n, s_n, t_n), np.float32)
    if m:
        rr = r[ev, st]
        age = np.sqrt(_DX_REF / np.maximum(dx[ev], 50.0))
        counts, first_ns = {}, np.full(m, np.inf)
        for name, lam, unit, t0, t1, k in (("em", lam_em, _EM_VEM, 20.0, 180.0, 1.8), ("mu", lam_mu, _MU_VEM, 10.0, 90.0, 1.3)):
            mean = t0 + t1 * (rr / 1000.0) ** 1.5 * age
            c, f = _arrivals(rng, lam[ev, st] / unit, k, mean / k, config.bin_ns)
            counts[name], first_ns = c, np.minimum(first_ns, f)
        has = np.isfinite(first_ns)
        first = (np.where(has, first_ns, 0.0) // config.bin_ns).astype(np.int64)
        deposit_em = counts["em"] * _EM_VEM
        n_mu = counts["mu"]
        deposit_mu = n_mu * _MU_VEM + 0.15 * np.sqrt(n_mu) * rng.normal(size=n_mu.shape)
        a = np.exp(-config.bin_ns / _LIGHT_DECAY_NS)
        light = np.zeros((m, _SIM_BINS))
        light_mu = np.zeros((m, _SIM_BINS))
        y, ym = np.zeros(m), np.zeros(m)
        for b in range(_SIM_BINS):  # the water's light decay: y[b] = (1 - a) x[b] + a y[b - 1]
            y = (1 - a) * (deposit_em[:, b] + deposit_mu[:, b]) + a * y
            ym = (1 - a) * deposit_mu[:, b] + a * ym
            light[:, b], light_mu[:, b] = y, ym
        start = np.maximum(first - _PRE_BINS, 0)
        cols = start[:, None] + np.arange(t_n)[None, :]
        inside = cols < _SIM_BINS
        cols = np.minimum(cols, _SIM_BINS - 1)
        tr = np.where(inside, np.take_along_axis(light, cols, axis=1), 0.0)
        trm = np.where(inside, np.take_along_axis(light_mu, cols, axis=1), 0.0)
        tr = tr + config.noise_vem * rng.normal(size=tr.shape)
        saturated = tr.max(axis=1) > config.saturation_vem
        tr = np.minimum(tr, config.saturation_vem)
        total = tr.sum(axis=1)
        fires = has & (total > config.threshold_vem)
        t_start = t_front[ev, st] + np.where(has, first_ns, 0.0) + config.jitter_ns * rng.normal(size=m)
        time[ev, st] = np.where(fires, t_start, 0.0)
        signal[ev, st] = np.where(fires, total, 0.0)
        trig[ev, st] = fires
        sat[ev, st] = fires & saturated
        trace[ev, st] = np.where(fires[:, None], tr, 0.0).astype(np.float32)
        trace_mu[ev, st] = np.where(fires[:, None], trm, 0.0).astype(np.float32)
    t_min = np.where(trig, time, np.inf).min(axis=1)
    time = np.where(trig, time - np.where(np.isfinite(t_min), t_min, 0.0)[:, None], 0.0)
    out.update(time=time, signal=signal, triggered=trig, saturated=sat, trace=trace, trace_mu=trace_mu)
    return out
