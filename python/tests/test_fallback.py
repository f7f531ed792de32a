"""Without a loadable forecasting library the plain one is loaded, and forecasting says why it cannot run.

Each case runs in a new interpreter: the package loads one library per process, at import.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = r"""
import json, numpy as np, expert_placement as ep
report = {"forecasting": ep.FORECASTING, "error": ep.FORECASTING_ERROR, "library": ep._lib._name}
rng = np.random.default_rng(0)
weight = rng.lognormal(size=(2, 8)) * 100
plan = ep.solve(weight, 12, 4)
ep.rebalance(weight, plan.phy2log, 4, strategy="window")
for name, call in [
    ("forecast", lambda: ep.forecast(weight, 2)),
    ("rebalance", lambda: ep.rebalance(weight, plan.phy2log, 4, strategy="forecast+window:trend", horizon=2)),
    ("rebalancer", lambda: ep.Rebalancer(plan.phy2log, 4, strategy="auto")),
]:
    try:
        call()
        report[name] = None
    except ep.ForecastingUnavailableError as error:
        report[name] = str(error)
print(json.dumps(report))
"""


def probe(forecast_library):
    # The same package and plain library as this process (installed, or PYTHONPATH and
    # EXPERT_PLACEMENT_LIBRARY inherited), another forecasting library.
    env = dict(os.environ, EXPERT_PLACEMENT_FORECAST_LIBRARY=str(forecast_library))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("kind", ["not a library", "missing"])
def test_plain_library_loads_and_forecasting_says_why_not(kind, tmp_path):
    if kind == "not a library":
        fake = tmp_path / "libExpertPlacementForecastC.so"
        fake.write_text("not an ELF file\n")
        expected_reason = "did not load"
    else:
        fake = tmp_path / "absent" / "libExpertPlacementForecastC.so"
        expected_reason = "no such file"
    report = probe(fake)
    assert report["forecasting"] is False
    assert Path(report["library"]).name == "libExpertPlacementC.so"
    assert str(fake) in report["error"] and expected_reason in report["error"]
    for name in ("forecast", "rebalance", "rebalancer"):
        message = report[name]
        assert message is not None, f"{name} ran without the forecasting library"
        assert "apt-get install liblapacke" in message and str(fake) in message, message


def test_a_loadable_forecasting_library_is_preferred(forecasting):
    import expert_placement as ep

    report = probe(ep._lib._name)
    assert report["forecasting"] is True and report["error"] is None
    assert Path(report["library"]).name == "libExpertPlacementForecastC.so"
    assert report["forecast"] is None and report["rebalance"] is None and report["rebalancer"] is None
