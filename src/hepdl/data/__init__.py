"""Datasets on disk: generation into Parquet parts with provenance, and readers for the field's formats."""

from __future__ import annotations

from hepdl.data.airshowers import AirShowerDataset, AirShowerSpec
from hepdl.data.dataset import JetDataset, jets_from_cartesian, open, validate_jets, write_toptagging_hdf5
from hepdl.data.events import EventDataset, read_challenge_csv, write_challenge_csv
from hepdl.data.generate import DatasetSpec, SampleSpec, generate_dataset, generate_part
from hepdl.data.paths import cache_dir
from hepdl.data.stream import JetParts, open_parts
from hepdl.data.table import TableDataset
from hepdl.data.unfolding import UnfoldingDataset, open_unfolding

__all__ = [
    "AirShowerDataset",
    "AirShowerSpec",
    "DatasetSpec",
    "EventDataset",
    "JetDataset",
    "JetParts",
    "SampleSpec",
    "TableDataset",
    "UnfoldingDataset",
    "cache_dir",
    "generate_dataset",
    "generate_part",
    "jets_from_cartesian",
    "open",
    "open_parts",
    "open_unfolding",
    "read_challenge_csv",
    "validate_jets",
    "write_challenge_csv",
    "write_toptagging_hdf5",
]
