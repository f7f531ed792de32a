"""forecast() and rebalance(strategy=...) give what `eplb forecast` and `eplb rebalance --strategy` give."""

import json
import math
import subprocess

import numpy as np
import pytest

import expert_placement as ep

from conftest import eplb_binary

pytestmark = pytest.mark.usefixtures("forecasting")


def binary_or_skip():
    binary = eplb_binary()
    if binary is None:
        pytest.skip("the eplb tool is not built (swift build -c release): set EPLB_BINARY")
    return binary


def history(rng, layers=3, episodes=12, experts=24):
    """A drifting load history [L, T, E] whose mix shifts half-way in layer 0."""
    trend = np.linspace(0.5, 1.5, episodes).reshape(1, -1, 1)
    loads = rng.lognormal(size=(layers, 1, experts)) * 100 * trend ** rng.uniform(-1, 1, size=(layers, 1, experts))
    loads = loads * rng.lognormal(sigma=0.2, size=(layers, episodes, experts))
    loads[0, episodes // 2:, : experts // 4] *= 6
    return loads


@pytest.mark.parametrize("model, flags, kwargs", [
    ("last", [], {}),
    ("mean", [], {}),
    ("ema", ["--smoothing", "0.5"], {"smoothing": 0.5}),
    ("trend", [], {}),
    ("trend", ["--period", "3"], {"period": 3}),
    ("ar", ["--order", "3", "--ridge", "0.2"], {"order": 3, "ridge": 0.2}),
    ("ar", ["--window", "7", "--shift-threshold", "0.05"], {"window": 7, "shift_threshold": 0.05}),
])
def test_same_forecast_as_the_command_line(model, flags, kwargs, rng, tmp_path):
    binary = binary_or_skip()
    loads = history(rng)
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"name": "parity", "load": loads.tolist()}))
    out = subprocess.run([binary, "forecast", str(path), "--horizon", "3", "--model", model, *flags],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    result = ep.forecast(loads, 3, model=model, axes="lte", **kwargs)
    np.testing.assert_allclose(result.loads, np.array(cli["load"]), rtol=1e-12, atol=1e-12)
    for l, layer in enumerate(cli["forecast"]["layers"]):
        assert math.isclose(result.shift[l], layer["shift"], rel_tol=1e-12, abs_tol=1e-15)
        assert bool(result.shifted[l]) == layer["shifted"]
        assert result.change_point[l] == layer.get("changePoint", -1)
        assert result.rank[l] == layer.get("rank", -1)
        assert result.parameters[l] == layer.get("parameters", -1)
        if "relativeResidual" in layer:
            assert math.isclose(result.relative_residual[l], layer["relativeResidual"], rel_tol=1e-9, abs_tol=1e-12)
        else:
            assert math.isnan(result.relative_residual[l])
    assert any(cli_layer["shifted"] for cli_layer in cli["forecast"]["layers"]) == bool(result.shifted.any())


@pytest.mark.parametrize("strategy, horizon, method, extra", [
    ("window", 4, "search", {}),
    ("last", 2, "search", {}),
    ("hedged:1.5", 2, "greedy", {}),
    ("forecast:trend", 3, "search", {}),
    ("forecast+window:ar", 2, "search", {"order": 3}),
    ("forecast", 2, "hierarchical", {"model": "ema", "smoothing": 0.6}),
    ("auto", 2, "search", {"model": "trend"}),
    ("auto", 3, "greedy", {"hedge_k": 2.0}),
])
def test_same_rebalance_as_the_command_line(strategy, horizon, method, extra, rng, tmp_path):
    binary = binary_or_skip()
    loads = history(rng, layers=3, episodes=10, experts=16)  # [L, T, E]
    gpus, slots = 8, 24
    current = ep.solve(rng.lognormal(size=(3, 16)) * 100, slots, gpus, method="greedy", num_groups=4, num_nodes=2).phy2log
    instance = {
        "name": "parity", "layers": 3, "episodes": 10, "experts": 16,
        "topology": {"devices": gpus, "slotsPerDevice": slots // gpus, "nodes": 2, "expertGroups": 4},
        "load": loads.tolist(), "current": np.asarray(current).tolist(),
    }
    path = tmp_path / "window.json"
    path.write_text(json.dumps(instance))
    flags = {"model": "--model", "smoothing": "--smoothing", "order": "--order", "hedge_k": "--hedge-k"}
    # --horizon serves forecasts and auto (eplb refuses it elsewhere); the hierarchical method on
    # two nodes is relabelled within nodes and takes no move cost.
    uses_horizon = strategy.startswith(("forecast", "auto"))
    move_cost = 0.0 if method == "hierarchical" else 0.001
    command = [binary, "rebalance", str(path), "--strategy", strategy, "--method", method, "--omit-timing"]
    command += ["--horizon", str(horizon)] if uses_horizon else []
    command += ["--move-cost", str(move_cost)] if move_cost else []
    for key, value in extra.items():
        command += [flags[key], str(value)]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    result = ep.rebalance(loads, current, gpus, axes="lte", num_groups=4, num_nodes=2, method=method,
                          move_cost=move_cost, strategy=strategy, horizon=horizon, **extra)
    assert np.array_equal(result.phy2log, np.array(cli["phy2log"]))
    assert list(result.priority) == cli["priority"]
    np.testing.assert_allclose(result.recorded, cli["recordedImbalance"], rtol=1e-12)
    assert result.strategy == cli["solver"]["settings"].get("strategy", "window")
