"""The in-process call and the `eplb` tool give the same plan for the same input."""

import json
import subprocess

import numpy as np
import pytest

import expert_placement as ep

from conftest import eplb_binary


@pytest.mark.parametrize("method", ep.METHODS)
def test_same_plan_as_the_command_line(method, rng, tmp_path):
    binary = eplb_binary()
    if binary is None:
        pytest.skip("the eplb tool is not built (swift build -c release): set EPLB_BINARY")
    loads = rng.lognormal(size=(3, 4, 48)) * 100  # [L, T, E]
    instance = {
        "name": "parity", "layers": 3, "episodes": 4, "experts": 48,
        "topology": {"devices": 8, "slotsPerDevice": 7, "nodes": 2, "expertGroups": 4},
        "load": loads.tolist(),
    }
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(instance))
    out = subprocess.run([binary, "solve", str(path), "--method", method, "--omit-timing"],
                         capture_output=True, text=True, check=True)
    cli = np.array(json.loads(out.stdout)["phy2log"])
    plan = ep.solve(loads, 56, 8, num_groups=4, num_nodes=2, method=method, axes="lte")
    assert np.array_equal(plan.phy2log, cli)


@pytest.mark.parametrize("engine", ["sglang", "vllm-ascend", "vllm-mapping", "trtllm", "deepseek"])
def test_python_plans_round_trip_through_the_engine_exporters(engine, rng, tmp_path):
    """A plan made in-process, exported with `eplb export` to an engine's map and imported back
    with `eplb import`, is the identical phy2log."""
    binary = eplb_binary()
    if binary is None:
        pytest.skip("the eplb tool is not built (swift build -c release): set EPLB_BINARY")
    weight = rng.lognormal(size=(4, 64)) * 100
    plan = ep.solve(weight, 80, 16, num_groups=8, num_nodes=2)
    placement = {
        "schemaVersion": 1, "layers": 4, "experts": 64,
        "topology": {"devices": 16, "slotsPerDevice": 5, "nodes": 2, "expertGroups": 8},
        "phy2log": np.asarray(plan.phy2log).tolist(),
    }
    source = tmp_path / "plan.json"
    source.write_text(json.dumps(placement))
    exported = tmp_path / ("maps" if engine == "deepseek" else "map.out")
    subprocess.run([binary, "export", str(source), "--format", engine, "--first-moe-layer", "3",
                    "--output", str(exported)], capture_output=True, text=True, check=True)
    back = tmp_path / "back.json"
    command = [binary, "import", str(exported), "--format", engine, "--first-moe-layer", "3", "--output", str(back)]
    if engine != "vllm-ascend":  # the other maps do not record the number of ranks
        command += ["--devices", "16"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.array(json.loads(back.read_text())["phy2log"]), plan.phy2log)


def test_bound_sources_match_the_command_line(rng, tmp_path):
    """`lower_bound_source` names, per layer, what the command line counts in
    `solver.lowerBoundSources`: a tiny layer's bound is its proven optimum, a larger one's the
    allotment bound."""
    binary = eplb_binary()
    if binary is None:
        pytest.skip("the eplb tool is not built (swift build -c release): set EPLB_BINARY")
    for experts, devices, slots, expected in ((6, 2, 4, "optimum"), (64, 8, 9, "allotment")):
        loads = rng.lognormal(size=(2, 3, experts)) * 100  # [L, T, E]
        instance = {"layers": 2, "episodes": 3, "experts": experts,
                    "topology": {"devices": devices, "slotsPerDevice": slots}, "load": loads.tolist()}
        path = tmp_path / f"bounds-{experts}.json"
        path.write_text(json.dumps(instance))
        out = subprocess.run([binary, "solve", str(path), "--omit-timing"], capture_output=True, text=True, check=True)
        counts = json.loads(out.stdout)["solver"]["lowerBoundSources"]
        plan = ep.solve(loads, devices * slots, devices, axes="lte")
        assert plan.lower_bound_source == [expected, expected]
        assert counts == {expected: 2}
        if expected == "optimum":
            assert np.allclose(plan.lower_bound, plan.value)


@pytest.mark.parametrize("method", ep.METHODS)
def test_drop_budget_matches_the_command_line(method, rng, tmp_path):
    """`solve(..., drop_budget=f)` is `eplb solve --drop-budget f`: the same plan and the same
    capped imbalance per layer; without a budget there is none."""
    binary = eplb_binary()
    if binary is None:
        pytest.skip("the eplb tool is not built (swift build -c release): set EPLB_BINARY")
    loads = rng.lognormal(size=(2, 4, 32)) * 100  # [L, T, E]
    instance = {"layers": 2, "episodes": 4, "experts": 32,
                "topology": {"devices": 8, "slotsPerDevice": 5, "nodes": 2, "expertGroups": 4}, "load": loads.tolist()}
    path = tmp_path / "drop.json"
    path.write_text(json.dumps(instance))
    out = subprocess.run([binary, "solve", str(path), "--method", method, "--drop-budget", "0.05", "--omit-timing"],
                         capture_output=True, text=True, check=True)
    cli = json.loads(out.stdout)
    plan = ep.solve(loads, 40, 8, num_groups=4, num_nodes=2, method=method, axes="lte", drop_budget=0.05)
    assert np.array_equal(plan.phy2log, np.array(cli["phy2log"]))
    capped = [layer["cappedImbalance"] for layer in cli["metrics"]["layers"]]
    assert np.allclose(plan.capped_imbalance, capped, rtol=1e-12)
    assert np.all(plan.capped_imbalance < plan.value)  # dropping 5% at capacity lowers every peak
    assert ep.solve(loads, 40, 8, method=method, axes="lte").capped_imbalance is None
    with pytest.raises(ep.PlacementError, match="drop_budget"):
        ep.solve(loads, 40, 8, method=method, axes="lte", drop_budget=1.5)


def test_regime_memory_decides_as_the_command_line(tmp_path):
    """`Rebalancer(regime_memory=8)` and `eplb rebalance --memory FILE` (state in a file between
    processes) make the same plans, call after call, and plan on the memory at the same calls."""
    binary = eplb_binary()
    if binary is None:
        pytest.skip("the eplb tool is not built (swift build -c release): set EPLB_BINARY")
    t, x = np.arange(8)[:, None, None], np.arange(8)[None, None, :]
    layer = np.arange(2)[None, :, None]

    def window(w):  # [T, L, E]; the hot experts alternate between 0–2 and 5–7
        hot = (x < 3) if w % 2 == 0 else (x >= 5)
        return np.where(hot, 400.0, 100.0) + (t * 7 + x * 3 + layer) % 5

    plain = np.tile(np.concatenate([np.arange(8), np.arange(4)]), (2, 1))
    deployed = tmp_path / "deployed.json"
    deployed.write_text(json.dumps({"schemaVersion": 1, "experts": 8, "topology": {"devices": 4, "slotsPerDevice": 3},
                                    "phy2log": plain.tolist()}))
    memory = tmp_path / "memory.json"
    rebalancer = ep.Rebalancer(plain, 4, regime_memory=8, axes="tle", move_cost=0.002)
    kinds = []
    for w in range(6):
        path = tmp_path / f"w{w}.npy"
        np.save(path, window(w))
        out = subprocess.run([binary, "rebalance", str(path), "--axes", "tle", "--current", str(deployed), "--memory",
                              str(memory), "--move-cost", "0.002", "--omit-timing"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        cli = json.loads(out.stdout)
        result = rebalancer.step(window(w))
        assert np.array_equal(np.array(cli["phy2log"]), result.phy2log), f"window {w}"
        assert cli["plannedOn"] == result.planned_on
        kinds.append(result.planned_on)
        deployed.write_text(out.stdout)
    assert kinds[:2] == ["window", "window"] and "memory" in kinds
