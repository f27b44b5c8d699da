"""Cost tracker: fields, energy sources and their fallbacks, never-zero rule, grid intensity."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlptasks import cost_hooks
from nlptasks.cost import CostTracker
from nlptasks.energy import EnergyMeter, NvmlReader, RaplReader, SourceUnavailable, physical_gpu_ids
from nlptasks.energy.estimate import assumed_power_watts
from nlptasks.energy.grid import grid_intensity, known_countries
from nlptasks.errors import NlpTasksError

NO_RAPL = "/nonexistent-powercap"


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def make_rapl(root: Path, domains: dict[str, int], max_range: int = 1_000_000) -> None:
    for name, value in domains.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "energy_uj").write_text(f"{value}\n")
        (d / "max_energy_range_uj").write_text(f"{max_range}\n")
        (d / "name").write_text("package-0\n" if name.count(":") == 1 else "core\n")


def set_uj(root: Path, name: str, value: int) -> None:
    # atomic, like a sysfs read: a poller thread must never see a half-written file
    tmp = root / name / "energy_uj.tmp"
    tmp.write_text(f"{value}\n")
    tmp.replace(root / name / "energy_uj")


class FakeNvml:
    """Just enough of pynvml: energy in mJ per device index, advanced by the test."""

    def __init__(self, energy_mj: dict[int, int], fail_on: str | None = None):
        self.energy = dict(energy_mj)
        self.fail_on = fail_on
        self.inits = self.shutdowns = 0

    def _maybe_fail(self, name):
        if self.fail_on == name:
            raise RuntimeError(f"NVML error in {name}")

    def nvmlInit(self):
        self._maybe_fail("init")
        self.inits += 1

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, i):
        self._maybe_fail("handle")
        if i not in self.energy:
            raise RuntimeError("invalid index")
        return i

    def nvmlDeviceGetHandleByUUID(self, uuid):
        raise RuntimeError("unknown uuid")

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        self._maybe_fail("energy")
        return self.energy[h]


# -- tracker fields ------------------------------------------------------------------------------

def test_tracker_fields_and_estimate_fallback(monkeypatch):
    monkeypatch.delenv("NLPTASKS_POWER_WATTS", raising=False)
    with CostTracker(power_watts=50.0, powercap_root=NO_RAPL) as t:
        assert cost_hooks.active_tracker() is t
        cost_hooks.report_batch(4, 0.4)   # 0.1 s per item, 4 items
        cost_hooks.report_batch(1, 0.9)   # 0.9 s per item, 1 item
        cost_hooks.report_batch(5, 0.5)   # 0.1 s per item, 5 items
        cost_hooks.report_generated_tokens(30)
    assert cost_hooks.active_tracker() is None
    r = t.result()
    json.dumps(r)  # serialisable
    assert r["items"] == 10 and r["generated_tokens"] == 30
    assert r["model_time_s"] == pytest.approx(1.8)
    assert r["items_per_s"] == pytest.approx(10 / 1.8)
    assert r["tokens_per_s"] == pytest.approx(30 / 1.8)
    assert r["latency_p50_s"] == pytest.approx(0.1)   # 9 of 10 items took 0.1 s
    assert r["latency_p95_s"] == pytest.approx(0.9)
    assert r["energy_source"] == "estimate" and r["energy_is_estimate"] is True
    assert r["power_watts_assumed"] == 50.0
    assert r["energy_kwh"] == pytest.approx(50.0 * r["wall_time_s"] / 3.6e6)
    assert r["energy_kwh"] > 0
    assert r["co2e_g"] == pytest.approx(r["energy_kwh"] * 480.0)
    assert r["grid_source"].startswith("default: world average")
    assert r["peak_rss_bytes"] > 1_000_000
    assert r["cuda_max_allocated_bytes"] is None
    assert r["device"] == "cpu"
    line = t.summary_line()
    assert line.startswith("cost: ") and "items/s" in line and "(estimate)" in line and "~" in line


def test_tracker_is_importable_without_torch():
    code = "import sys, nlptasks.cost; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_record_model_counts_parameters_once_and_disk_size(tmp_path):
    import torch

    model = torch.nn.Linear(10, 5)  # 55 parameters
    (tmp_path / "model.safetensors").write_bytes(b"x" * 1234)
    (tmp_path / "pytorch_model.bin").write_bytes(b"y" * 999)  # ignored: safetensors is what loads
    model.name_or_path = str(tmp_path)
    with CostTracker(powercap_root=NO_RAPL, device="cpu") as t:
        cost_hooks.report_model(model)
        cost_hooks.report_model(model)  # same object: not counted twice
        t.set_device("cpu", torch.float32)
    r = t.result()
    assert r["parameters"] == 55
    assert r["param_bytes"] == 55 * 4
    assert r["size_bytes"] == 1234
    assert r["dtype"] == "float32"
    assert "55 params" in t.summary_line()


def test_hooks_are_noops_without_tracker():
    cost_hooks.report_batch(3, 1.0)  # must not raise
    assert cost_hooks.active_tracker() is None


# -- RAPL ----------------------------------------------------------------------------------------

def test_rapl_sums_package_domains_only(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 1000, "intel-rapl:1": 5000, "intel-rapl:0:0": 10})
    r = RaplReader(tmp_path)
    r.start()
    set_uj(tmp_path, "intel-rapl:0", 1000 + 3_600_000)
    set_uj(tmp_path, "intel-rapl:1", 5000 + 3_600_000)
    set_uj(tmp_path, "intel-rapl:0:0", 10 + 99_999_999)  # sub-domain: ignored
    assert r.stop() == pytest.approx(2 * 3_600_000 / 3.6e12)


def test_rapl_counter_wrap(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 900_000}, max_range=1_000_000)
    r = RaplReader(tmp_path)
    r.start()
    set_uj(tmp_path, "intel-rapl:0", 50_000)  # wrapped: 100_000 to the top, then 50_000
    assert r.stop() == pytest.approx(150_000 / 3.6e12)


def test_rapl_periodic_sampling_survives_two_wraps(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 0}, max_range=1_000_000)
    r = RaplReader(tmp_path)
    r.start()
    set_uj(tmp_path, "intel-rapl:0", 800_000)
    r.sample()
    set_uj(tmp_path, "intel-rapl:0", 600_000)  # wrap 1 (+800_000)
    r.sample()
    set_uj(tmp_path, "intel-rapl:0", 400_000)  # wrap 2 (+800_000)
    assert r.stop() == pytest.approx(2_400_000 / 3.6e12)


def test_rapl_permission_denied_falls_back_to_estimate(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 1000})

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    with pytest.raises(SourceUnavailable):
        RaplReader(tmp_path, read_text=denied).start()
    with CostTracker(power_watts=10, sources=[RaplReader(tmp_path, read_text=denied)]) as t:
        pass
    r = t.result()
    assert r["energy_source"] == "estimate" and r["energy_is_estimate"] is True
    assert any("Permission denied" in n for n in r["energy_notes"])


def test_rapl_readable_is_used_by_tracker(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 1000}, max_range=10**12)
    with CostTracker(powercap_root=tmp_path, grid_intensity=100) as t:
        set_uj(tmp_path, "intel-rapl:0", 1000 + 7_200_000)  # 7.2 J = 2 mWh
    r = t.result()
    assert r["energy_source"] == "rapl" and r["energy_is_estimate"] is False
    assert r["power_watts_assumed"] is None
    assert r["energy_kwh"] == pytest.approx(2e-6)
    assert r["co2e_g"] == pytest.approx(2e-4)
    assert "(RAPL)" in t.summary_line()


def test_zero_delta_is_never_reported_as_zero(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 1000})
    clock = FakeClock()
    meter = EnergyMeter([RaplReader(tmp_path)], power_watts=36.0, clock=clock)
    meter.start()
    clock.t += 10.0  # ten seconds, counter stuck
    out = meter.stop()
    assert out["energy_source"] == "estimate" and out["energy_is_estimate"] is True
    assert out["energy_kwh"] == pytest.approx(36.0 * 10 / 3.6e6) and out["energy_kwh"] > 0
    assert any("did not change" in n for n in out["energy_notes"])


def test_meter_background_sampling_thread(tmp_path):
    import time

    make_rapl(tmp_path, {"intel-rapl:0": 0}, max_range=1_000_000)
    meter = EnergyMeter([RaplReader(tmp_path)], poll_s=0.01)
    meter.start()
    set_uj(tmp_path, "intel-rapl:0", 900_000)
    time.sleep(0.3)  # the poller (every 10 ms) sees 900_000; more time on a loaded machine
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(900_000 in getattr(s, "_last", {}).values() for s in meter._running):
        time.sleep(0.05)
    set_uj(tmp_path, "intel-rapl:0", 100_000)  # one wrap: +200_000
    out = meter.stop()
    assert out["energy_source"] == "rapl"
    assert out["energy_kwh"] == pytest.approx(1_100_000 / 3.6e12)


# -- NVML ----------------------------------------------------------------------------------------

def test_nvml_reader_measures_and_shuts_down():
    nvml = FakeNvml({0: 1_000, 1: 50_000})
    r = NvmlReader([1], nvml=nvml)
    r.start()
    nvml.energy[1] += 3_600  # 3.6 J
    assert r.stop() == pytest.approx(1e-6)
    assert nvml.inits == 1 and nvml.shutdowns == 1


@pytest.mark.parametrize("fail_on", ["init", "handle", "energy"])
def test_nvml_errors_fall_back_to_next_source(tmp_path, fail_on):
    make_rapl(tmp_path, {"intel-rapl:0": 0}, max_range=10**12)
    nvml = FakeNvml({0: 0}, fail_on=fail_on)
    meter = EnergyMeter([NvmlReader([0], nvml=nvml), RaplReader(tmp_path)])
    meter.start()
    set_uj(tmp_path, "intel-rapl:0", 3_600_000)
    out = meter.stop()
    assert out["energy_source"] == "rapl"
    assert out["energy_notes"] and out["energy_notes"][0].startswith("NVML")


def test_nvml_missing_library_gives_estimate(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    meter = EnergyMeter([NvmlReader([0]), RaplReader(NO_RAPL)], power_watts=100)
    meter.start()
    out = meter.stop(gpus=1)
    assert out["energy_source"] == "estimate" and out["energy_is_estimate"]
    assert any("pynvml not importable" in n for n in out["energy_notes"])


def test_nvml_stuck_counter_falls_back():
    nvml = FakeNvml({0: 5_000})
    meter = EnergyMeter([NvmlReader([0], nvml=nvml)], power_watts=100)
    meter.start()
    out = meter.stop()
    assert out["energy_source"] == "estimate"
    assert nvml.shutdowns == 1


def test_nvml_skipped_when_no_gpu_was_used(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 0}, max_range=10**12)
    nvml = FakeNvml({0: 0})
    meter = EnergyMeter([NvmlReader([0], nvml=nvml), RaplReader(tmp_path)])
    meter.start()
    nvml.energy[0] += 10_000
    set_uj(tmp_path, "intel-rapl:0", 7_200_000)
    out = meter.stop(skip=("nvml",))
    assert out["energy_source"] == "rapl" and out["energy_kwh"] == pytest.approx(2e-6)
    assert nvml.shutdowns == 1


def test_physical_gpu_ids_respects_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert physical_gpu_ids([0, 1]) == [2, 3]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa,GPU-bbbb")
    assert physical_gpu_ids([1]) == ["GPU-bbbb"]
    assert physical_gpu_ids([0], ["1234-abcd"]) == ["GPU-1234-abcd"]  # a torch UUID wins
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert physical_gpu_ids([1]) == [1]


# -- power assumption and grid intensity -----------------------------------------------------------

def test_power_assumption_sources(monkeypatch):
    monkeypatch.delenv("NLPTASKS_POWER_WATTS", raising=False)
    watts, how = assumed_power_watts()
    assert watts > 0 and how.startswith("default")
    assert assumed_power_watts(gpus=1)[0] == pytest.approx(watts + 300)
    monkeypatch.setenv("NLPTASKS_POWER_WATTS", "65")
    assert assumed_power_watts() == (65.0, "env NLPTASKS_POWER_WATTS")
    assert assumed_power_watts(12)[0] == 12.0
    monkeypatch.setenv("NLPTASKS_POWER_WATTS", "lots")
    with pytest.raises(NlpTasksError, match="NLPTASKS_POWER_WATTS"):
        assumed_power_watts()
    with pytest.raises(NlpTasksError):
        assumed_power_watts(-5)


def test_grid_intensity_country_explicit_default_unknown():
    g_de, src = grid_intensity(country="de")
    assert 300 < g_de < 450 and src.startswith("country DE")
    assert grid_intensity(country="DEU")[0] == g_de  # alpha-3 accepted
    assert grid_intensity(country="FR")[0] < 100      # nuclear-heavy grid
    assert grid_intensity(123.0) == (123.0, "user")
    g_world, src = grid_intensity()
    assert g_world == 480.0 and "world average" in src and "Ember" in src
    with pytest.raises(NlpTasksError, match="unknown country 'XX'.*known: .*DE"):
        grid_intensity(country="XX")
    with pytest.raises(NlpTasksError):
        grid_intensity(-1)
    with pytest.raises(NlpTasksError):
        CostTracker(country="Atlantis")
    assert 20 <= len(known_countries()) <= 40


def test_grid_table_names_its_source():
    from nlptasks.energy.grid import load_table

    table = load_table()
    assert table["unit"] == "gCO2e/kWh" and "Ember" in table["source"]
    assert all(0 < c["g_per_kwh"] < 1200 and c["year"] >= 2020 for c in table["countries"].values())


def test_tracker_country_co2(tmp_path):
    make_rapl(tmp_path, {"intel-rapl:0": 0}, max_range=10**12)
    with CostTracker(country="FR", powercap_root=tmp_path) as t:
        set_uj(tmp_path, "intel-rapl:0", 3_600_000_000)  # 1 Wh
    r = t.result()
    assert r["grid_intensity_g_per_kwh"] == grid_intensity(country="FR")[0]
    assert r["co2e_g"] == pytest.approx(0.001 * r["grid_intensity_g_per_kwh"])


@pytest.mark.parametrize("argv", [["eval", "sst2_local"], ["run", "sentiment", "--cost"]])
def test_eval_and_run_take_the_grid_flags(argv):
    from nlptasks.cli import build_parser

    args = build_parser().parse_args([*argv, "--country", "FR", "--grid-intensity", "56.5"])
    assert (args.country, args.grid_intensity) == ("FR", 56.5)
