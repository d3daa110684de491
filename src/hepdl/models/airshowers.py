"""Air-shower reconstruction from a surface-detector array: networks on the raw station data and the
physicist's fits, all on the ``stations`` representation (:mod:`hepdl.features.airshowers`).

- :class:`ArrayCNN`: the network of Erdmann, Glombitza, Walz (arXiv:1708.00647): a 1-D convolutional
  trace encoder shared over stations, then convolutions over the station grid, predicting the axis,
  core, energy and X_max from the time offsets and the traces only (no station positions, no speed
  of light). The grid is triangular: stations sit at axial coordinates (q, r) and the 3 x 3 kernels
  of :class:`HexConv2d` have their two corners that are not neighbours fixed at zero, so each
  output sees a station and its six neighbours. ``traces=False, signals=False`` gives the
  time-offsets-only variant.
- :class:`StationSet`: a set network over the triggered stations with their positions (a
  transformer encoder with a padding mask, then a masked mean; permutation invariant, blind to
  padded and missing stations).
- :class:`LDFFit`: the classic reconstruction (plane fit, lateral-distribution fit for the core and
  S(1000), spherical-front fit, constant-intensity-cut energy calibration, rise-time X_max
  estimator), with the baseline interface of :mod:`hepdl.models.baselines`.

Dimensions: B events, S stations (n_side^2), T trace bins, F station features, D embedding.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hepdl.errors import ConfigError, DataError
from hepdl.models.dense import mlp
from hepdl.sim.airshowers import C_M_PER_NS, ldf, shower_plane

__all__ = ["HexConv2d", "TraceEncoder", "ArrayCNN", "StationSet", "LDFFit"]

#: Trace bins before the first particle (as the simulation and the hepdl air-shower datasets record them).
PRE_BINS = 2


class HexConv2d(nn.Conv2d):
    """A 3 x 3 convolution on a triangular grid in axial coordinates (rows r, columns q): the kernel
    taps (dr, dq) = (-1, -1) and (+1, +1), which are not neighbours on the grid, are held at zero.
    (B, C_in, n, n) -> (B, C_out, n, n), zero padding (no station outside the array)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, padding=1)
        mask = torch.ones(1, 1, 3, 3)
        mask[..., 0, 0] = 0
        mask[..., 2, 2] = 0
        self.register_buffer("hex_mask", mask)
        with torch.no_grad():
            self.weight.mul_(mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask: torch.Tensor = self.hex_mask  # type: ignore[assignment]  # a registered buffer
        return nn.functional.conv2d(x, self.weight * mask, self.bias, padding=1)


class TraceEncoder(nn.Module):
    """1-D convolutions over a station's trace, (M, T) -> (M, D): three conv + ReLU layers, the first
    two halving the time axis, then mean and max over time and a linear map."""

    def __init__(self, channels: tuple[int, ...] = (8, 16, 16), dim: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_prev = 1
        for i, c in enumerate(channels):
            layers += [nn.Conv1d(c_prev, c, 5 if i == 0 else 3, padding="same"), nn.ReLU()]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool1d(2))
            c_prev = c
        self.conv = nn.Sequential(*layers)
        self.out = nn.Linear(2 * c_prev, dim)

    def forward(self, traces: torch.Tensor) -> torch.Tensor:
        h = self.conv(traces[:, None, :])
        return self.out(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))


def _encode(encoder: TraceEncoder, traces: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Trace embeddings (B, S, D) of the triggered stations (zeros elsewhere), encoding only those."""
    b, s, t = traces.shape
    flat = traces.reshape(b * s, t)
    keep = mask.reshape(b * s) > 0
    emb = torch.zeros(b * s, dim, dtype=traces.dtype, device=traces.device)
    emb[keep] = encoder(flat[keep])
    return emb.reshape(b, s, dim)


class ArrayCNN(nn.Module):
    """Trace encoder + hexagonal convolutions over the station grid (arXiv:1708.00647):
    (traces (B, S, T), stations (B, S, F), mask (B, S), positions (B, S, 2)) -> (B, n_outputs).
    The head sees the flattened grid and the mean of the last convolution over the triggered stations.

    Per station it uses the trace embedding (``traces``), the start-time offset, the signal
    (``signals``) and the trigger flag; never the positions (the grid index is where a station
    is). ``n_stations`` must be a square (n_side x n_side stations in axial order).
    """

    def __init__(self, n_stations: int = 81, n_bins: int = 80, n_outputs: int = 7, traces: bool = True, signals: bool = True,
                 trace_channels: tuple[int, ...] = (8, 16, 16), trace_dim: int = 16, channels: tuple[int, ...] = (32, 32, 64),
                 dense: tuple[int, ...] = (128,)) -> None:
        super().__init__()
        side = math.isqrt(n_stations)
        if side * side != n_stations:
            raise ConfigError(f"ArrayCNN needs a square grid of stations, got {n_stations}")
        self.side, self.use_traces, self.use_signals, self.trace_dim = side, traces, signals, trace_dim
        self.encoder = TraceEncoder(trace_channels, trace_dim) if traces else None
        c_prev = (trace_dim if traces else 0) + (3 if signals else 2)
        convs: list[nn.Module] = []
        for c in channels:
            convs += [HexConv2d(c_prev, c), nn.ReLU()]
            c_prev = c
        self.grid = nn.Sequential(*convs)
        # the flattened grid (where things are: the core) and the mean over triggered stations (the same
        # local pattern anywhere on the array: the time gradient of the front, the traces' shapes)
        self.head = mlp([c_prev * n_stations + c_prev, *dense, n_outputs])

    def forward(self, traces: torch.Tensor, stations: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        parts = [stations[..., 0:1]] + ([stations[..., 1:2]] if self.use_signals else []) + [mask[..., None]]
        if self.encoder is not None:
            parts.insert(0, _encode(self.encoder, traces, mask, self.trace_dim))
        x = torch.cat(parts, dim=-1) * mask[..., None]  # (B, S, C); station k at row k // n, column k % n
        b = x.shape[0]
        x = x.reshape(b, self.side, self.side, -1).permute(0, 3, 1, 2)
        h = self.grid(x)
        m = mask.reshape(b, 1, self.side, self.side)
        pooled = (h * m).sum((2, 3)) / m.sum((2, 3)).clamp_min(1.0)
        return self.head(torch.cat([h.flatten(1), pooled], dim=1))


class StationSet(nn.Module):
    """A transformer over the triggered stations with their positions: each station's trace
    embedding, features and position -> D, ``blocks`` encoder layers with a padding mask, the mean
    over the triggered stations, an MLP: the same inputs as :class:`ArrayCNN` -> (B, n_outputs).
    No positional encoding: the output does not depend on the order of the stations, and padded
    or missing stations (mask 0) change nothing."""

    def __init__(self, n_features: int = 4, n_bins: int = 80, n_outputs: int = 7, embed: int = 64, heads: int = 4,
                 blocks: int = 2, ffn: int = 128, trace_channels: tuple[int, ...] = (8, 16, 16), trace_dim: int = 16,
                 dense: tuple[int, ...] = (64,)) -> None:
        super().__init__()
        self.trace_dim = trace_dim
        self.encoder = TraceEncoder(trace_channels, trace_dim)
        self.embed = mlp([trace_dim + n_features + 2, embed, embed])
        layer = nn.TransformerEncoderLayer(embed, heads, ffn, dropout=0.0, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.head = mlp([embed, *dense, n_outputs])

    def forward(self, traces: torch.Tensor, stations: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        emb = _encode(self.encoder, traces, mask, self.trace_dim)
        h = self.embed(torch.cat([emb, stations, positions], dim=-1))
        h = self.blocks(h, src_key_padding_mask=mask <= 0)
        m = mask[..., None]
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.head(pooled)


# -- the physicist's reconstruction ------------------------------------------------------------------

def _lm(residual: Any, p0: np.ndarray, n_iter: int = 30, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on many events at once: ``residual(p)`` maps (B, P) parameters to (B, N)
    weighted residuals (0 where a station does not count); finite-difference Jacobians. Returns the
    parameters, chi^2 (B,) and whether each fit ended finite (the callers add their physical checks)."""
    p = p0.astype(np.float64).copy()
    b, k = p.shape
    r = residual(p)
    chi2 = (r**2).sum(1)
    lam = np.full(b, 1.0)
    done = np.zeros(b, bool)
    h = 1e-6 * np.maximum(np.abs(p), 1.0)
    for _ in range(n_iter):
        jac = np.stack([(residual(p + h[:, j:j + 1] * np.eye(k)[j]) - r) / h[:, j:j + 1] for j in range(k)], axis=2)
        jtj = np.einsum("bni,bnj->bij", jac, jac)
        g = np.einsum("bni,bn->bi", jac, r)
        a = jtj + lam[:, None, None] * (np.eye(k) * np.maximum(np.einsum("bii->bi", jtj), 1e-12)[:, :, None])
        try:
            step = -np.linalg.solve(a, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -np.stack([np.linalg.lstsq(ai, gi, rcond=None)[0] for ai, gi in zip(a, g, strict=True)])
        step = np.where(np.isfinite(step), step, 0.0)
        trial = p + step
        r_new = residual(trial)
        chi_new = (r_new**2).sum(1)
        better = np.isfinite(chi_new) & (chi_new < chi2) & ~done  # a converged event stays put: batched == one by one
        small = better & ((chi2 - chi_new) <= tol * np.maximum(chi2, 1e-12))
        p = np.where(better[:, None], trial, p)
        r = np.where(better[:, None], r_new, r)
        done |= small
        chi2 = np.where(better, chi_new, chi2)
        lam = np.where(better, lam * 0.3, lam * 10.0)
        if done.all():
            break
    return p, chi2, np.isfinite(chi2) & np.isfinite(p).all(1)


def _axis(ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """(B, 3) unit axis from its ground-plane components (clipped to the horizon)."""
    h = np.hypot(ux, uy)
    scale = np.where(h > 1, 1 / np.maximum(h, 1e-12), 1.0)
    ux, uy = ux * scale, uy * scale
    return np.stack([ux, uy, np.sqrt(np.maximum(1 - ux**2 - uy**2, 0.0))], axis=1)


#: The fit's LDF is floored at 150 m from the axis (closer in it is not what is fitted: a core on a
#: station would otherwise be a spurious minimum).
_FIT_FLOOR_M = 150.0


def _trace_times(trace_vem: np.ndarray, bin_ns: float) -> tuple[np.ndarray, np.ndarray]:
    """Per station (B, S): the time to collect half the signal, T50 (ns from the trace start) and
    the rise time t_1/2 = t50 - t10 (ns), interpolated within bins."""
    cum = np.cumsum(np.maximum(trace_vem, 0), axis=-1)
    total = np.maximum(cum[..., -1:], 1e-9)
    frac = cum / total

    def when(q: float) -> np.ndarray:
        i = np.argmax(frac >= q, axis=-1)
        f_hi = np.take_along_axis(frac, i[..., None], -1)[..., 0]
        f_lo = np.where(i > 0, np.take_along_axis(frac, np.maximum(i - 1, 0)[..., None], -1)[..., 0], 0.0)
        return (i + (q - f_lo) / np.maximum(f_hi - f_lo, 1e-9)) * bin_ns

    t10, t50 = when(0.1), when(0.5)
    return t50, t50 - t10


class LDFFit:
    """The classic surface-detector reconstruction, as a physicist does it (Pierre Auger
    Collaboration, "Reconstruction of events recorded with the surface detector", arXiv:2007.09035):

    1. **plane fit** of the start times, c (t_i - t0) = -u . x_i, weighted by the time variance of the
       first particle, sigma_t^2 = b^2 + (2 T50 / n)^2 (n - 1)/(n + 1) (n ~ the signal in VEM,
       T50 from the trace, b = 12 ns);
    2. **lateral-distribution fit** of the signals for the core and S(1000): a modified NKG function
       with the slope beta(theta) = b0 + b1 (sec theta - 1) calibrated on the training events whose
       multiplicity allows beta free; signal variance 0.87^2 S (Poisson-like); saturated stations left out;
    3. **spherical-front fit** (axis, radius of curvature, core fixed) for events with >= 4 stations,
       then the LDF fit again with that axis (``sphere=False``, the ``plane-fit`` entry: the plane's axis);
    4. **energy**: S38 = S(1000) / f_CIC(theta) from a constant-intensity cut (equal numbers of events
       above the cut in bins of cos^2 theta, f_CIC = 1 + a x + b x^2, x = cos^2 theta - cos^2 38 deg;
       arXiv:2008.06486), then E = A S38^B fitted on the training events (the fluorescence
       calibration's role, here with the simulated energies);
    5. **X_max** from the rise time (the idea of the Delta method, arXiv:1710.07249): the mean
       t_1/2 (1000 m / r)^1.5 of the stations between 500 and 2000 m, with log10 E and sec theta, in
       a linear calibration on the training events.

    ``score(X)`` returns (B, 7) as the air-shower targets: axis, core (m), log10 E/eV, X_max.
    """

    def __init__(self, bin_ns: float = 25.0, time_floor_ns: float = 12.0, sphere: bool = True) -> None:
        self.bin_ns, self.time_floor_ns, self.sphere = bin_ns, time_floor_ns, sphere
        self.beta = (-2.5, 0.5)
        self.cic = (0.0, 0.0)
        self.calibration = (math.log(1.86e17), 1.031)
        self.xmax_coef: list[float] = [750.0, 0.0, 0.0, 0.0]
        self.rise_median = 100.0
        self.last_diagnostics: dict[str, Any] = {}

    # -- pieces ----------------------------------------------------------------------------------
    def _raw(self, X: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The fits' view of the inputs: the triggered stations first, times (ns), signals (VEM),
        positions (m), and each trace's T50 (from the signal start) and rise time (ns); no traces."""
        for k in ("traces", "stations", "mask", "positions"):
            if k not in X:
                raise DataError(f"ldf-fit needs the 'stations' representation's arrays; {k!r} is missing")
        mask = np.asarray(X["mask"]) > 0
        # the triggered stations first, the rest cut off: the fits' arrays shrink to the busiest event's size
        order = np.argsort(~mask, axis=1, kind="stable")[:, : max(int(mask.sum(1).max(initial=0)), 1)]
        mask = np.take_along_axis(mask, order, 1)
        st = np.take_along_axis(np.asarray(X["stations"], np.float64), order[..., None], 1)
        trace = np.expm1(np.take_along_axis(np.asarray(X["traces"], np.float32), order[..., None], 1))  # float32: memory
        pos = np.take_along_axis(np.asarray(X["positions"], np.float64), order[..., None], 1) * 1000.0
        t50, rise = _trace_times(trace, self.bin_ns)
        return {"t": st[..., 0] * 1000.0, "s": np.where(mask, 10 ** st[..., 1] - 1, 0.0), "sat": st[..., 2] > 0.5, "mask": mask,
                "pos": pos, "t50": np.maximum(t50 - PRE_BINS * self.bin_ns, 0.0),  # from the signal start, not the trace start
                "rise": rise}

    def _time_sigma(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        t50 = raw["t50"]
        n = np.maximum(raw["s"], 1.0)
        return np.sqrt(self.time_floor_ns**2 + (2 * t50 / n) ** 2 * (n - 1) / (n + 1))

    @staticmethod
    def plane_fit(t_ns: np.ndarray, pos: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted linear fit c t = c t0 - u_x x - u_y y: the axis (B, 3), c t0 (B,) and whether the
        fit is defined (>= 3 stations, not collinear). ``w`` (B, S): 1 / sigma_t^2, 0 to leave out."""
        a = np.stack([np.ones_like(t_ns), -pos[..., 0], -pos[..., 1]], axis=-1)
        ata = np.einsum("bs,bsi,bsj->bij", w, a, a)
        atb = np.einsum("bs,bsi,bs->bi", w, a, C_M_PER_NS * t_ns)
        ok = ((w > 0).sum(1) >= 3) & (np.abs(np.linalg.det(ata)) > 1e-30 * np.maximum(np.abs(ata).max(axis=(1, 2)) ** 3, 1e-300))
        ata = np.where(ok[:, None, None], ata, np.eye(3))
        p = np.linalg.solve(ata, atb[..., None])[..., 0]
        return _axis(p[:, 1], p[:, 2]), p[:, 0], ok

    def _ldf(self, raw: dict[str, np.ndarray], axis: np.ndarray, core0: np.ndarray, beta: np.ndarray | None) -> tuple[np.ndarray, ...]:
        use = raw["mask"] & ~raw["sat"]
        s = raw["s"]
        sig = 0.87 * np.sqrt(np.maximum(s, 1.0))
        free = beta is None

        def res(p: np.ndarray) -> np.ndarray:
            r, _ = shower_plane(raw["pos"], p[:, :2], axis)
            b = p[:, 3:4] if free else beta[:, None]  # type: ignore[index]
            model = np.exp(np.clip(p[:, 2:3], -30, 30)) * ldf(r, b, _FIT_FLOOR_M)
            return np.where(use, (s - model) / sig, 0.0)

        b0: np.ndarray = np.full(len(s), -2.5) if beta is None else beta
        p0 = np.column_stack([core0, self._amplitude(raw, core0, axis, b0)] + ([b0] if free else []))
        with np.errstate(all="ignore"):
            p, chi2, conv = _lm(res, p0)
        ndf = np.maximum(use.sum(1) - p.shape[1], 1)
        inside = np.hypot(p[:, 0], p[:, 1]) < 10_000.0  # a core outside the array is a failed fit
        return p, chi2 / ndf, conv & (use.sum(1) >= 3) & inside & (p[:, 2] < 25)

    def _sphere(self, raw: dict[str, np.ndarray], w: np.ndarray, axis: np.ndarray, ct0: np.ndarray,
                core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sw = np.sqrt(w)

        def res(p: np.ndarray) -> np.ndarray:
            ax = _axis(p[:, 1], p[:, 2])
            _, along = shower_plane(raw["pos"], core, ax)
            rc = np.exp(np.clip(p[:, 3:4], 5, 14))
            d2 = ((raw["pos"] - core[:, None, :]) ** 2).sum(-1)
            model = p[:, 0:1] + np.sqrt(np.maximum(rc**2 - 2 * rc * along + d2, 0.0)) - rc
            return sw * (C_M_PER_NS * raw["t"] - model)

        # the plane's t0 refers to the origin; the sphere's to the core: start from the plane through the core
        start_t = ct0 - (core[:, 0] * axis[:, 0] + core[:, 1] * axis[:, 1])
        with np.errstate(all="ignore"):
            p, chi2, conv = _lm(res, np.column_stack([start_t, axis[:, 0], axis[:, 1], np.full(len(ct0), np.log(15000.0))]))
        ok = conv & ((w > 0).sum(1) >= 4) & np.isfinite(p).all(1) & (np.exp(p[:, 3]) > 1000.0) & (np.exp(p[:, 3]) < 2e5)
        return _axis(p[:, 1], p[:, 2]), ok

    def _geometry(self, raw: dict[str, np.ndarray], beta_free: bool = False) -> dict[str, np.ndarray]:
        sigma = self._time_sigma(raw)
        w = np.where(raw["mask"], 1 / sigma**2, 0.0)
        axis, ct0, plane_ok = self.plane_fit(raw["t"], raw["pos"], w)
        ws = np.sqrt(np.where(raw["mask"], raw["s"], 0.0))  # the start: the sqrt(signal)-weighted barycentre
        core0 = (raw["pos"] * ws[..., None]).sum(1) / np.maximum(ws.sum(1), 1e-9)[:, None]
        beta = None if beta_free else self._beta(axis)
        p, chi2, ldf_ok = self._ldf(raw, axis, core0, beta)
        out = {"axis": axis, "plane_ok": plane_ok, "core": p[:, :2], "ln_s1000": p[:, 2], "ldf_ok": ldf_ok, "chi2_ndf": chi2}
        if beta_free:
            out["beta"] = p[:, 3]
            return out
        core = np.where(ldf_ok[:, None], p[:, :2], core0)
        # a failed LDF fit keeps the start core and the S(1000) of the LDF through it
        out["core"], out["ln_s1000"] = core, np.where(ldf_ok, p[:, 2], self._amplitude(raw, core0, axis, self._beta(axis)))
        if not self.sphere:
            out["sphere_ok"] = np.zeros(len(axis), bool)
            return out
        sph_axis, sph_ok = self._sphere(raw, w, axis, ct0, core)
        axis = np.where(sph_ok[:, None], sph_axis, axis)
        p2, chi2, ldf2_ok = self._ldf(raw, axis, core, self._beta(axis))
        out.update(axis=axis, sphere_ok=sph_ok, core=np.where(ldf2_ok[:, None], p2[:, :2], core),
                   ln_s1000=np.where(ldf2_ok, p2[:, 2], out["ln_s1000"]), ldf_ok=ldf_ok | ldf2_ok, chi2_ndf=chi2)
        return out

    @staticmethod
    def _amplitude(raw: dict[str, np.ndarray], core: np.ndarray, axis: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """ln S(1000) of the LDF through ``core`` with slopes ``beta`` (B,): the weighted linear least
        squares of the usable signals (the start of the LDF fit, and its fallback when it fails)."""
        use = raw["mask"] & ~raw["sat"]
        s = raw["s"]
        f = np.where(use, ldf(shower_plane(raw["pos"], core, axis)[0], beta[:, None], _FIT_FLOOR_M), 0.0)
        w = np.where(use, 1 / (0.87**2 * np.maximum(s, 1.0)), 0.0)
        return np.log(np.maximum((w * s * f).sum(1) / np.maximum((w * f**2).sum(1), 1e-300), 1e-3))

    def _beta(self, axis: np.ndarray) -> np.ndarray:
        sec = 1 / np.maximum(axis[:, 2], 0.3)
        return np.clip(self.beta[0] + self.beta[1] * (sec - 1), -4.0, -1.0)

    def _f_cic(self, axis: np.ndarray) -> np.ndarray:
        x = axis[:, 2] ** 2 - math.cos(math.radians(38.0)) ** 2
        return np.maximum(1 + self.cic[0] * x + self.cic[1] * x**2, 0.05)

    def _rise(self, raw: dict[str, np.ndarray], geo: dict[str, np.ndarray]) -> np.ndarray:
        r, _ = shower_plane(raw["pos"], geo["core"], geo["axis"])
        use = raw["mask"] & (r > 500) & (r < 2000) & (raw["s"] > 5)
        scaled = np.where(use, raw["rise"] * (1000.0 / np.maximum(r, 1.0)) ** 1.5, 0.0)
        n = use.sum(1)
        return np.where(n > 0, scaled.sum(1) / np.maximum(n, 1), np.nan)

    def _xmax_design(self, lg_e: np.ndarray, axis: np.ndarray, rise: np.ndarray) -> np.ndarray:
        rise = np.where(np.isfinite(rise), rise, self.rise_median)
        return np.column_stack([np.ones_like(lg_e), lg_e - 19.0, 1 / np.maximum(axis[:, 2], 0.3) - 1, np.log(np.maximum(rise, 1.0))])

    # -- the baseline interface ----------------------------------------------------------------------
    def fit_split(self, train: Any, val: Any) -> LDFFit:
        """Calibrate on the training events: beta(theta) from free-slope fits of events with >= 6
        usable stations, the CIC attenuation curve, E = A S38^B and the rise-time X_max estimator."""
        y = np.asarray(train.y, np.float64)
        if y.ndim != 2 or y.shape[1] != 7:
            raise DataError(f"ldf-fit calibrates on the 7 air-shower targets (axis, core, lg_energy, xmax); got targets of shape {y.shape}")
        raw = self._raw(train.X)
        rich = (raw["mask"] & ~raw["sat"]).sum(1) >= 6
        if rich.sum() >= 20:
            sub = {k: v[rich] for k, v in raw.items()}
            g = self._geometry(sub, beta_free=True)
            ok = g["ldf_ok"] & (g["beta"] > -4) & (g["beta"] < -1)
            sec = 1 / np.maximum(g["axis"][ok, 2], 0.3) - 1
            if ok.sum() >= 10:
                a = np.column_stack([np.ones_like(sec), sec])
                self.beta = tuple(float(v) for v in np.linalg.lstsq(a, g["beta"][ok], rcond=None)[0])  # type: ignore[assignment]
        geo = self._geometry(raw)
        ok = geo["ldf_ok"] & np.isfinite(geo["ln_s1000"])
        s1000 = np.exp(geo["ln_s1000"])
        cos2 = geo["axis"][:, 2] ** 2
        edges = np.quantile(cos2[ok], np.linspace(0, 1, 7)) if ok.sum() >= 60 else None
        if edges is not None:
            xs, cuts = [], []
            per_bin = min(int(np.sum(ok & (cos2 >= lo) & (cos2 <= hi))) for lo, hi in zip(edges[:-1], edges[1:], strict=True))
            rank = max(per_bin // 3, 1)  # the same number of events above the cut in every bin
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                sel = ok & (cos2 >= lo) & (cos2 <= hi)
                xs.append(cos2[sel].mean() - math.cos(math.radians(38.0)) ** 2)
                cuts.append(np.sort(s1000[sel])[::-1][rank - 1])
            x = np.asarray(xs)
            c = np.linalg.lstsq(np.column_stack([np.ones_like(x), x, x**2]), np.asarray(cuts), rcond=None)[0]
            self.cic = (float(c[1] / c[0]), float(c[2] / c[0]))
        s38 = s1000 / self._f_cic(geo["axis"])
        lnE = y[:, 5] * math.log(10)
        good = ok & (s38 > 0)
        if good.sum() >= 10:
            b, a = np.polyfit(np.log(s38[good]), lnE[good], 1)
            self.calibration = (float(a), float(b))
        lg_e = self._energy(geo)
        rise = self._rise(raw, geo)
        self.rise_median = float(np.nanmedian(rise)) if np.isfinite(rise).any() else 100.0
        design = self._xmax_design(lg_e, geo["axis"], rise)
        self.xmax_coef = [float(v) for v in np.linalg.lstsq(design[good], y[good, 6], rcond=None)[0]] if good.sum() >= 10 else [float(y[:, 6].mean()), 0.0, 0.0, 0.0]
        return self

    def _energy(self, geo: dict[str, np.ndarray]) -> np.ndarray:
        s38 = np.exp(geo["ln_s1000"]) / self._f_cic(geo["axis"])
        return (self.calibration[0] + self.calibration[1] * np.log(np.maximum(s38, 1e-3))) / math.log(10)

    def score(self, X: dict[str, np.ndarray]) -> np.ndarray:
        """(B, 7) reconstructed axis, core (m), log10 E/eV, X_max; the fits' bookkeeping goes to
        :meth:`diagnostics`."""
        raw = self._raw(X)
        geo = self._geometry(raw)
        lg_e = self._energy(geo)
        xmax = self._xmax_design(lg_e, geo["axis"], self._rise(raw, geo)) @ np.asarray(self.xmax_coef)
        n = len(lg_e)
        self.last_diagnostics = {"events": n, "plane_fit_failed": int((~geo["plane_ok"]).sum()),
                                 "ldf_fit_failed": int((~geo["ldf_ok"]).sum()), "sphere_fit_used": int(geo["sphere_ok"].sum()),
                                 "sphere_fit_not_used": int((~geo["sphere_ok"]).sum())}
        axis = np.where(np.isfinite(geo["axis"]).all(1, keepdims=True), geo["axis"], np.array([0.0, 0.0, 1.0]))
        out = np.column_stack([axis, geo["core"], lg_e, xmax])
        return np.where(np.isfinite(out), out, 0.0)

    def diagnostics(self) -> dict[str, Any]:
        """Counts of the last :meth:`score`: events, failed plane and LDF fits, events with and
        without the spherical-front fit (fewer than 4 stations, or it did not converge)."""
        return dict(self.last_diagnostics)

    def n_parameters(self) -> int:
        return 2 + 2 + 2 + 4

    def state(self) -> dict[str, Any]:
        return {"kind": "LDFFit", "bin_ns": self.bin_ns, "time_floor_ns": self.time_floor_ns, "sphere": self.sphere, "beta": list(self.beta),
                "cic": list(self.cic), "calibration": list(self.calibration), "xmax_coef": self.xmax_coef,
                "rise_median": self.rise_median}

    def save(self, path: str | Path) -> None:
        from hepdl.data.paths import atomic_write_json

        atomic_write_json(Path(path), self.state())

    @classmethod
    def load(cls, path: str | Path) -> LDFFit:
        try:
            d = json.loads(Path(path).read_text())
            m = cls(bin_ns=d["bin_ns"], time_floor_ns=d["time_floor_ns"], sphere=bool(d["sphere"]))
            m.beta, m.cic, m.calibration = tuple(d["beta"]), tuple(d["cic"]), tuple(d["calibration"])
            m.xmax_coef, m.rise_median = list(d["xmax_coef"]), float(d["rise_median"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path} is not a saved ldf-fit model: {exc}") from None
        return m
