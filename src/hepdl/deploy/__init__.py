"""Deployment: ONNX export with its preprocessing contract, hls4ml conversion and fixed-point
emulation, and a trigger emulation that applies a model to a stream of events.

``hepdl export RUN --format onnx|hls4ml`` and ``hepdl trigger RUN --data ...`` are thin wrappers
over :func:`export_onnx`, :func:`convert_hls4ml` / :func:`precision_scan` and :func:`run_trigger`.
"""

from __future__ import annotations

from hepdl.deploy.hls import HLS_DEFAULT_PRECISION, convert_hls4ml, hls_agreement, precision_scan
from hepdl.deploy.onnx import OnnxModel, check_contract, export_onnx
from hepdl.deploy.trigger import TriggerConfig, run_trigger

__all__ = ["HLS_DEFAULT_PRECISION", "OnnxModel", "TriggerConfig", "check_contract", "convert_hls4ml", "export_onnx",
           "hls_agreement", "precision_scan", "run_trigger"]
