"""torch tensors in, torch tensors out (optional: skipped without torch)."""

import numpy as np
import pytest

import expert_placement as ep

torch = pytest.importorskip("torch")


def test_torch_in_torch_out():
    weight = torch.tensor([[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
                           [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]], dtype=torch.float32)
    phy2log, log2phy, logcnt = ep.rebalance_experts(weight, 16, 4, 2, 8, method="hierarchical")
    for t in (phy2log, log2phy, logcnt):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.int64
    assert phy2log[0].tolist() == [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1]
    table = phy2log.reshape(2, 8, 2)
    change, priority, new_table = ep.AscendPolicy().rebalance_experts(table, torch.ones(2, 8, 2))
    assert isinstance(new_table, torch.Tensor)


def test_load_sglang_dump_reads_the_recorder_file(tmp_path):
    counts = torch.arange(4 * 61 * 8, dtype=torch.int64).reshape(4, 61, 8)  # [T, all decoder layers, E]
    counts[:, :3] = 0  # the dense layers
    path = tmp_path / "expert_distribution_recorder_1.pt"
    torch.save({"rank": 0, "logical_count": counts, "average_utilization_rate_over_window": 0.9}, path)
    dump = ep.load_sglang_dump(path, first_moe_layer=3)
    assert dump.logical_count.shape == (4, 58, 8) and dump.axes == "tle"
    assert np.array_equal(dump.logical_count, counts[:, 3:].numpy())
    torch.save({"records": []}, path)
    with pytest.raises(ep.PlacementError, match="stat"):
        ep.load_sglang_dump(path)
    # The unused part of SGLang's step buffer: all-zero steps are dropped, with a warning.
    buffered = torch.cat([counts, torch.zeros(3, 61, 8, dtype=torch.int64)])
    torch.save({"rank": 0, "logical_count": buffered}, path)
    with pytest.warns(UserWarning, match="3 of 7 steps carry no load"):
        dump = ep.load_sglang_dump(path, first_moe_layer=3)
    assert np.array_equal(dump.logical_count, counts[:, 3:].numpy())
    with pytest.raises(ep.PlacementError, match="layer 3 carries load"):
        ep.load_sglang_dump(path, first_moe_layer=4)
    torch.save({"rank": 0, "logical_count": torch.zeros(2, 61, 8)}, path)
    with pytest.raises(ep.PlacementError, match="none of its 2 steps"):
        ep.load_sglang_dump(path)


def test_forecast_torch_in_torch_out():
    if not ep.FORECASTING:
        pytest.skip(f"no forecasting library: {ep.FORECASTING_ERROR}")
    steps = torch.arange(1, 4 * 2 * 3 + 1, dtype=torch.float32).reshape(4, 2, 3)  # [T, L, E], linear in T
    result = ep.forecast(steps, 2, model="trend", axes="tle")
    assert isinstance(result.loads, torch.Tensor) and tuple(result.loads.shape) == (2, 2, 3)
    expected = torch.arange(4 * 6 + 1, 6 * 6 + 1, dtype=torch.float64).reshape(2, 2, 3)
    assert torch.allclose(result.loads, expected)
