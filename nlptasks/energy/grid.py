"""Carbon intensity of the electricity grid (gCO2e per kWh), from ``nlptasks/data/grid_intensity.json``.

The table holds yearly average figures per country (Ember data, source named in the file) and a
world average used when nothing is configured. ``--grid-intensity`` (a number) or ``--country`` (an
ISO 3166 alpha-2 or alpha-3 code) choose another figure.
"""
from __future__ import annotations

import functools
import json
import math
from importlib import resources

from ..errors import NlpTasksError


@functools.lru_cache(maxsize=1)
def load_table() -> dict:
    text = resources.files("nlptasks").joinpath("data/grid_intensity.json").read_text(encoding="utf-8")
    return json.loads(text)


def known_countries() -> list[str]:
    return sorted(load_table()["countries"])


def grid_intensity(value: float | None = None, country: str | None = None) -> tuple[float, str]:
    """Return (gCO2e/kWh, description of where the figure comes from)."""
    table = load_table()
    if value is not None and country is not None:
        raise NlpTasksError("give either a grid intensity or a country, not both")
    if value is not None:
        try:
            g = float(value)
        except (TypeError, ValueError):
            raise NlpTasksError(f"grid intensity: expected gCO2e/kWh as a number, got {value!r}") from None
        if not math.isfinite(g) or g < 0:
            raise NlpTasksError(f"grid intensity must be a non-negative number of gCO2e/kWh, got {value!r}")
        return g, "user"
    if country is not None:
        code = str(country).strip().upper()
        countries = table["countries"]
        entry = countries.get(code)
        if entry is None:
            entry = next((e for e in countries.values() if e.get("alpha3") == code), None)
            code = next((k for k, e in countries.items() if e is entry), code)
        if entry is None:
            raise NlpTasksError(f"unknown country {country!r} for grid intensity; known: "
                                f"{', '.join(known_countries())} (or give --grid-intensity in gCO2e/kWh)")
        return float(entry["g_per_kwh"]), f"country {code} {entry['year']} (source: {table['source'].split(';')[0]})"
    world = table["world"]
    return float(world["g_per_kwh"]), f"default: world average {world['year']} (source: {world['source']})"
