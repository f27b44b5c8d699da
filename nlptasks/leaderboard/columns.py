"""Which columns each view shows, and how a value is written as text."""
from __future__ import annotations

# (row key, header, kind); kind picks the formatting
RANKING = [("rank", "#", "int"), ("pareto", "front", "flag"), ("model", "model", "str"),
           ("variant", "variant", "str"), ("score", "{metric}", "score"), ("ci", "95% CI", "ci"),
           ("n", "n", "int"), ("params", "params", "count"), ("examples_per_s", "ex/s", "float"),
           ("latency_p50_s", "s/ex", "float"), ("energy_wh_per_1k", "Wh/1k ex", "energy"),
           ("co2e_g_per_1k", "gCO2e/1k ex", "energy")]
COMPARE = [("variant", "variant", "str"), ("score", "{metric}", "score"), ("score_delta", "Δ vs base", "delta"),
           ("params", "params", "count"), ("size_bytes", "size", "bytes"), ("examples_per_s", "ex/s", "float"),
           ("speedup", "speed-up", "times"), ("energy_wh_per_1k", "Wh/1k ex", "energy"),
           ("energy_saved_pct", "energy saved", "pct"), ("co2e_g_per_1k", "gCO2e/1k ex", "energy")]


def columns(kind: str, metric: str) -> list[tuple[str, str, str]]:
    cols = RANKING if kind == "ranking" else COMPARE
    return [(k, h.format(metric=metric), t) for k, h, t in cols]


def _num(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 0.01:
        return f"{x:.3g}" if a < 100 else f"{x:.0f}"
    return f"{x:.2e}"


# figures that depend on the machine being the model's alone (marked † when it was shared)
_TIMED = {"examples_per_s", "latency_p50_s", "energy_wh_per_1k", "co2e_g_per_1k", "speedup", "energy_saved_pct"}
SHARED_NOTE = "†: measured while other processes used over 25% of the CPUs (time and energy not the model's alone)"


def fmt(row: dict, key: str, kind: str) -> str:
    v = row.get(key)
    if kind == "flag":
        return "*" if v else ""
    if v is None:
        return "-"
    if kind == "str":
        return str(v)
    if kind == "int":
        return str(int(v))
    if kind == "score":
        return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.1f}"
    if kind == "ci":
        return f"{v[0]:.3f}–{v[1]:.3f}" if isinstance(v, (list, tuple)) and len(v) == 2 else "-"
    if kind == "count":
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if v >= size:
                return f"{v / size:.1f}{unit}"
        return str(v)
    if kind == "bytes":
        for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if v >= size:
                return f"{v / size:.1f} {unit}"
        return f"{v} B"
    shared = "†" if row.get("shared_machine") and key in _TIMED else ""
    if kind == "energy":
        return ("~" if row.get("energy_is_estimate") else "") + _num(v) + shared
    if kind == "delta":
        return f"{v:+.4f}".rstrip("0").rstrip(".") if v else "0"
    if kind == "pct":
        return f"{v:+.0f}%" if v else "0%"
    if kind == "times":
        return f"{v:.2f}x" + shared
    return _num(v) + shared


def legend(kind: str, frontier_x: str) -> str:
    x = "energy per example" if frontier_x == "energy" else "latency per example"
    if kind == "ranking":
        return f"front *: on the Pareto front of quality vs {x}; ~: energy estimated (no readable counter); {SHARED_NOTE}"
    return ("Δ, speed-up and energy saved are relative to the baseline variant (float32 when present); ~: energy estimated; "
            + SHARED_NOTE)
