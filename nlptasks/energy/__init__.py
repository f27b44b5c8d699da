"""Energy measurement for cost tracking: NVML (GPU), RAPL (CPU package), or an estimate.

Why not codecarbon: it is well kept and has an ``OfflineEmissionsTracker`` that works without
network, but it pulls in about fifteen packages (Authlib, cryptography, questionary, rapidfuzz,
prometheus_client, pycountry, arrow, ...) for its dashboard/API features, writes ``emissions.csv``
by default and runs its own scheduler thread. What nlptasks needs is three small readers whose
failures can be injected in tests and that never report a stuck counter as zero, so they live here.
The per-country grid table uses the same Ember data codecarbon ships.
"""
from __future__ import annotations

from .base import SourceUnavailable
from .estimate import assumed_power_watts
from .grid import grid_intensity, known_countries
from .meter import EnergyMeter
from .nvml import NvmlReader, physical_gpu_ids
from .rapl import RaplReader

__all__ = ["EnergyMeter", "NvmlReader", "RaplReader", "SourceUnavailable", "assumed_power_watts",
           "grid_intensity", "known_countries", "physical_gpu_ids"]
