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
