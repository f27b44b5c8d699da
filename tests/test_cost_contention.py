"""Cost records say when the machine was shared (cost.other_cpu_share), and boards mark those figures with †."""
import subprocess
import sys
import time

import pytest

from nlptasks.cost import CostTracker
from nlptasks.energy.contention import ContentionMeter, _machine_busy_s
from nlptasks.leaderboard.columns import fmt
from nlptasks.leaderboard.ranking import cost_columns

pytestmark = pytest.mark.skipif(_machine_busy_s() is None, reason="needs /proc/stat (Linux)")


def test_a_spinning_process_counts_as_other_load():
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<1.5: pass"])
    try:
        time.sleep(0.2)  # the interpreter has started spinning
        m = ContentionMeter()
        m.start()
        time.sleep(1.0)  # this process idles: the busy time is the spinner's (and whatever else runs)
        share = m.stop()
    finally:
        spinner.wait()
    _, ncpu = _machine_busy_s()
    assert share is not None and share >= min(0.9, 0.6 / ncpu), share


def test_own_work_is_not_counted_as_other_load():
    m = ContentionMeter()
    m.start()
    c0, t = time.process_time(), time.perf_counter()
    while time.perf_counter() - t < 0.5:  # this process is the busy one
        pass
    others = m.stop()
    own_share = (time.process_time() - c0) / ((time.perf_counter() - t) * _machine_busy_s()[1])
    # the loop's CPU time is subtracted: other processes can have had the rest of the machine at most
    assert own_share > 0.05
    assert others is not None and 0.0 <= others <= 1.0 - own_share + 0.05, (others, own_share)


def test_cost_record_carries_the_share_and_the_summary_says_so():
    with CostTracker() as t:
        time.sleep(0.3)
    r = t.result()
    assert "other_cpu_share" in r and (r["other_cpu_share"] is None or 0.0 <= r["other_cpu_share"] <= 1.0)


def _record(share):
    return {"n": 10, "cost": {"items": 10, "items_per_s": 50.0, "latency_p50_s": 0.02, "energy_kwh": 1e-6,
                              "co2e_g": 1e-4, "energy_is_estimate": False, "other_cpu_share": share}}


def test_board_marks_time_and_energy_measured_on_a_shared_machine():
    shared, alone, unknown = (cost_columns(_record(s)) for s in (0.8, 0.05, None))
    for key, kind in (("examples_per_s", "float"), ("latency_p50_s", "float"), ("energy_wh_per_1k", "energy")):
        assert fmt(shared, key, kind).endswith("†")
        assert not fmt(alone, key, kind).endswith("†")
        assert not fmt(unknown, key, kind).endswith("†")
    shared["params"] = 1000
    assert "†" not in fmt(shared, "params", "count")  # a parameter count does not depend on the load
