"""forecast(), rebalance(strategy=...) and the forecasting library's C functions, in-process."""

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import expert_placement as ep
from expert_placement import _native

from conftest import run_c_program

pytestmark = pytest.mark.usefixtures("forecasting")

HEADER = Path(__file__).resolve().parents[2] / "Sources" / "ExpertPlacementC" / "include" / "expert_placement.h"


def linear_history(layers=3, episodes=10, experts=8, seed=7):
    """x[l, t, e] = a[l, e] + b[l, e]·t, positive over the history and the next episodes."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(50, 100, size=(layers, 1, experts))
    b = rng.uniform(-2, 3, size=(layers, 1, experts))
    t = np.arange(episodes, dtype=np.float64).reshape(1, -1, 1)
    return a, b, a + b * t


def test_trend_recovers_a_linear_trend_exactly():
    a, b, history = linear_history()
    horizon = 4
    result = ep.forecast(history, horizon, model="trend", axes="lte")
    future = np.arange(10, 10 + horizon, dtype=np.float64).reshape(1, -1, 1)
    expected = a + b * future
    assert result.loads.shape == (3, horizon, 8)
    np.testing.assert_allclose(result.loads, expected, rtol=1e-9)
    assert list(result.rank) == [2, 2, 2] and list(result.parameters) == [2, 2, 2]
    assert np.all(result.relative_residual < 1e-9)
    # The window mean is not the extrapolation: the comparison above can fail.
    mean = ep.forecast(history, horizon, model="mean", axes="lte")
    assert not np.allclose(mean.loads, expected, rtol=1e-3)
    np.testing.assert_allclose(mean.loads, np.repeat(history.mean(axis=1, keepdims=True), horizon, axis=1))
    assert list(mean.rank) == [-1, -1, -1] and np.all(np.isnan(mean.relative_residual))


def test_trend_with_a_season_recovers_trend_plus_season():
    rng = np.random.default_rng(3)
    layers, episodes, experts, period = 2, 12, 5, 3
    level = rng.uniform(80, 120, size=(layers, 1, experts))
    slope = rng.uniform(-1, 1, size=(layers, 1, experts))
    season = rng.uniform(-10, 10, size=(layers, period, experts))
    season[:, 0] = 0

    def at(t):
        return level + slope * t.reshape(1, -1, 1) + season[:, t % period]

    history = at(np.arange(episodes))
    result = ep.forecast(history, 5, model="trend", period=period, axes="lte")
    np.testing.assert_allclose(result.loads, at(np.arange(episodes, episodes + 5)), rtol=1e-9)
    assert list(result.parameters) == [period + 1] * layers


def test_engine_order_in_engine_order_out_and_window():
    a, b, history = linear_history(layers=2, episodes=12, experts=6)
    steps = np.ascontiguousarray(history.transpose(1, 0, 2))  # [T, L, E]
    by_step = ep.forecast(steps, 3, model="trend", axes="tle", window=5)
    by_layer = ep.forecast(history[:, -5:], 3, model="trend", axes="lte")
    assert by_step.loads.shape == (3, 2, 6)
    np.testing.assert_allclose(by_step.loads.transpose(1, 0, 2), by_layer.loads, rtol=1e-12)
    single = ep.forecast(history[:, -1], 2, model="last")  # [L, E]: one episode
    np.testing.assert_array_equal(single.loads, np.repeat(history[:, -1:], 2, axis=1))


def test_a_regime_change_is_detected_and_weighted():
    rng = np.random.default_rng(11)
    base = rng.uniform(1, 2, size=(1, 16, 8))
    base[:, 8:, :4] *= 20  # the second half's mix moves to the first four experts
    result = ep.forecast(base, 2, model="mean", axes="lte")
    assert result.shifted[0] and result.shift[0] > 0.1
    assert result.change_point[0] == 8
    quiet = ep.forecast(base, 2, model="mean", axes="lte", shift_threshold=1)
    assert not quiet.shifted[0] and quiet.change_point[0] == -1


@pytest.mark.parametrize("kwargs, field", [
    ({"model": "crystal-ball"}, "model"),
    ({"horizon": 0}, "horizon"),
    ({"horizon": -3}, "horizon"),
    ({"horizon": 2.5}, "horizon"),
    ({"smoothing": 0.0}, "smoothing"),
    ({"period": -1}, "period"),
    ({"order": 0}, "order"),
    ({"ridge": -1.0}, "ridge"),
    ({"shift_threshold": float("nan")}, "shift_threshold"),
    ({"window": 0}, "window"),
    ({"window": 5}, "window"),  # longer than the 4-episode history: refused, not cut down
    ({"order": 4}, "order"),  # no data row to fit on 4 episodes: refused, not the window mean
    ({"window": 2}, "order"),  # order 2 on a 2-episode window
])
def test_bad_arguments_name_the_argument(kwargs, field):
    history = np.ones((2, 4, 3))
    options = {"horizon": 2, "model": "ar", "axes": "lte", **kwargs}
    horizon = options.pop("horizon")
    with pytest.raises(ep.PlacementError) as caught:
        ep.forecast(history, horizon, **options)
    assert str(caught.value).startswith(f"{field}:"), str(caught.value)
    assert caught.value.code == _native.EP_INVALID_ARGUMENT


def test_the_library_itself_checks_the_horizon_and_the_model():
    """Past the Python checks: ep_forecast refuses a bad horizon or model with a code and a message."""
    loads = np.ones((1, 2, 3))
    predicted = np.empty(3 * 3)
    buffer = _native.message_buffer()
    for model, horizon, field in [(b"trend", 0, "horizon"), (b"nope", 2, "model"), (b"ar", 2_000_000, "horizon")]:
        code = _native.lib.ep_forecast(loads, 1, 2, 3, 0, 0, model, horizon, 0.3, 0, 2, 0.1, 0.1,
                                       predicted, None, buffer, len(buffer))
        assert code == _native.EP_INVALID_ARGUMENT
        assert buffer.value.decode().startswith(f"{field}:"), buffer.value
    code = _native.lib.ep_forecast(loads, 1, 2, 3, 0, -1, b"mean", 1, 0.3, 0, 2, 0.1, 0.1, predicted, None,
                                   buffer, len(buffer))
    assert code == _native.EP_INVALID_ARGUMENT and buffer.value.decode().startswith("window:")


def deployed_plan(layers=3, experts=16, gpus=8, slots=24):
    rng = np.random.default_rng(5)
    return ep.solve(rng.lognormal(size=(layers, experts)) * 100, slots, gpus, method="greedy").phy2log


def test_rebalance_with_a_strategy_plans_for_the_loads_to_come():
    rng = np.random.default_rng(2)
    window = rng.lognormal(size=(8, 3, 16)) * 100  # [T, L, E]
    current = deployed_plan()
    plain = ep.rebalance(window, current, 8, axes="tle")
    assert plain.strategy == "window"
    same = ep.rebalance(window, current, 8, axes="tle", strategy="window")
    np.testing.assert_array_equal(same.phy2log, plain.phy2log)
    # "last" is a rebalance on the last episode alone.
    last = ep.rebalance(window, current, 8, axes="tle", strategy="last")
    direct = ep.rebalance(window[-1], current, 8)
    np.testing.assert_array_equal(last.phy2log, direct.phy2log)
    np.testing.assert_allclose(last.before, direct.before)
    assert last.strategy == "last"
    auto = ep.rebalance(window, current, 8, axes="tle", strategy="auto", horizon=2)
    assert re.fullmatch(r"auto → (last|window|hedged:1|forecast:mean)", auto.strategy), auto.strategy
    planned = ep.rebalance(window, current, 8, axes="tle", strategy="forecast+window:trend", horizon=3)
    assert planned.strategy == "forecast+window:trend"
    ep.validate(planned.phy2log, 16, 8, current=current)


@pytest.mark.parametrize("kwargs, field", [
    ({"strategy": "crystal-ball"}, "strategy"),
    ({"strategy": "forecast:nope"}, "strategy"),
    ({"strategy": "forecast", "model": "nope"}, "model"),
    ({"strategy": "forecast", "horizon": 0}, "horizon"),
    ({"strategy": "auto", "horizon": -1}, "horizon"),
    ({"strategy": "hedged", "hedge_k": float("inf")}, "hedge_k"),
    # Finite, but μ + K·σ overflows: refused, not handed to the solver (it corrupted the heap).
    ({"strategy": "hedged", "hedge_k": 1e308}, "hedge_k"),
    ({"strategy": "hedged:1e308"}, "hedge_k"),
    ({"strategy": "forecast:ar", "order": 99}, "order"),
])
def test_rebalance_strategy_errors_name_the_argument(kwargs, field):
    window = np.random.default_rng(1).lognormal(size=(4, 3, 16))
    with pytest.raises(ep.PlacementError) as caught:
        ep.rebalance(window, deployed_plan(), 8, axes="tle", **kwargs)
    assert str(caught.value).startswith(f"{field}:"), str(caught.value)


def test_rebalancer_steps_with_a_strategy():
    rng = np.random.default_rng(9)
    rebalancer = ep.Rebalancer(deployed_plan(), 8, strategy="forecast:ema", horizon=2, move_cost=0.001, axes="lte")
    for _ in range(3):
        result = rebalancer.step(rng.lognormal(size=(3, 6, 16)) * 100)
        assert result.strategy == "forecast:ema"
        ep.validate(rebalancer.deployed, 16, 8)


def test_the_superset_exports_every_function_of_the_plain_api():
    declared = set(re.findall(r"\b(ep_\w+)\(", HEADER.read_text()))
    assert {"ep_solve", "ep_rebalance", "ep_evaluate", "ep_validate", "ep_version", "ep_abi_version"} <= declared
    for name in sorted(declared) + ["ep_forecast", "ep_rebalance_planned", "ep_forecast_abi_version"]:
        assert hasattr(_native.lib, name), f"{_native.lib._name} does not export {name}"
    nm = shutil.which("nm")
    if nm:
        symbols = subprocess.run([nm, "-D", "--defined-only", _native.lib._name], capture_output=True, text=True,
                                 check=True).stdout
        exported = set(re.findall(r" T (ep_\w+)$", symbols, re.M))
        assert declared | {"ep_forecast", "ep_rebalance_planned", "ep_forecast_abi_version"} <= exported


FORECAST_PROGRAM = r"""
#include <math.h>
#include <stdio.h>
#include "expert_placement_forecast.h"

int main(void) {
    if (ep_abi_version() != EP_ABI_VERSION || ep_forecast_abi_version() != EP_FORECAST_ABI_VERSION) return 10;
    /* One layer, 4 episodes of 2 experts: expert 0 grows by 1 an episode, expert 1 by 2. */
    double loads[4 * 2] = {10, 20, 11, 22, 12, 24, 13, 26};
    double predicted[2 * 2], diagnostics[EP_FORECAST_DIAGNOSTICS];
    char message[256];
    int32_t code = ep_forecast(loads, 1, 4, 2, 0, 0, "trend", 2, 0.3, 0, 2, 0.1, 0.1,
                               predicted, diagnostics, message, sizeof message);
    if (code != EP_OK) { fprintf(stderr, "%s\n", message); return 11; }
    printf("%.6f %.6f %.6f %.6f %.0f\n", predicted[0], predicted[1], predicted[2], predicted[3], diagnostics[3]);
    code = ep_forecast(loads, 1, 4, 2, 0, 0, "trend", 0, 0.3, 0, 2, 0.1, 0.1, predicted, NULL, message, sizeof message);
    printf("%d %s\n", code, message);
    int64_t phy2log[4];
    code = ep_solve(loads, 1, 1, 2, 0, 2, 2, 1, 1, "greedy", NULL, 0, 0, NULL, 0, -1,
                    phy2log, NULL, NULL, 0, NULL, NULL, message, sizeof message);
    printf("%d\n", code);
    return 0;
}
"""


def test_a_c_program_calls_the_forecasting_library(tmp_path):
    out = run_c_program(FORECAST_PROGRAM, ["expert_placement.h", "expert_placement_forecast.h"], tmp_path)
    assert out[0] == "14.000000 28.000000 15.000000 30.000000 2"
    assert out[1] == f"{_native.EP_INVALID_ARGUMENT} horizon: must be between 1 and 1000000, got 0"
    assert out[2] == "0"


def test_message_is_truncated_not_overrun():
    loads = np.ones((1, 2, 3))
    small = ctypes.create_string_buffer(8)
    code = _native.lib.ep_forecast(loads, 1, 2, 3, 0, 0, b"nope", 1, 0.3, 0, 2, 0.1, 0.1, np.empty(3), None,
                                   small, len(small))
    assert code == _native.EP_INVALID_ARGUMENT and small.value == b"model: "


def test_a_diverging_ar_forecast_is_refused_naming_horizon():
    # Expert 0 oscillates with a growing amplitude: an order-2 autoregression diverges far ahead
    # (it returned +inf, and planning on it trapped inside the solver).
    loads = np.full((8, 1, 4), 1e6)
    loads[:, 0, 0] += [(1 if t % 2 == 0 else -1) * 2.0 ** t * 1000 for t in range(8)]
    with pytest.raises(ep.PlacementError) as caught:
        ep.forecast(loads, horizon=2000, model="ar", axes="tle")
    assert str(caught.value).startswith("horizon: the ar forecast diverges"), str(caught.value)
    with pytest.raises(ep.PlacementError) as caught:
        ep.rebalance(loads, np.array([[0, 1, 2, 3]]), 2, axes="tle", strategy="forecast:ar", horizon=2000)
    assert str(caught.value).startswith("horizon:"), str(caught.value)
    near = ep.forecast(loads, horizon=100, model="ar", axes="tle")
    assert np.isfinite(near.loads).all()
