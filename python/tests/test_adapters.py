"""The engines' entry points return what the engines expect and what the library computes."""

import numpy as np
import pytest

import expert_placement as ep


def test_vllm_policy_is_the_library_and_migration_aware(rng):
    weight = rng.lognormal(size=(4, 64)) * 100
    phy2log, log2phy, logcnt = ep.VllmPolicy.rebalance_experts(weight, 72, 1, 1, 8)
    assert np.array_equal(phy2log, ep.solve(weight, 72, 8).phy2log)
    assert log2phy.shape == (4, 64, 72 - 64 + 1) and logcnt.shape == (4, 64)
    drifted = weight * rng.lognormal(sigma=0.3, size=weight.shape)
    again, _, _ = ep.VllmPolicy.rebalance_experts(drifted, 72, 1, 1, 8, old_global_expert_indices=phy2log)
    ep.validate(again, 64, 8, current=phy2log)

    class Cautious(ep.VllmPolicy):
        move_cost = 0.01

    cautious, _, _ = Cautious.rebalance_experts(drifted, 72, 1, 1, 8, old_global_expert_indices=phy2log)
    assert (cautious != phy2log).sum() <= (again != phy2log).sum()


def test_vllm_v2_policy_returns_phy2log_alone(rng):
    # vLLM's V2 contract: rebalance_experts(..., old_global_expert_indices) -> physical_to_logical_map.
    weight = rng.lognormal(size=(3, 32)) * 100
    phy2log = ep.VllmPhy2LogPolicy.rebalance_experts(weight, 40, 1, 1, 8)
    assert isinstance(phy2log, np.ndarray) and phy2log.shape == (3, 40)
    assert np.array_equal(phy2log, ep.VllmPolicy.rebalance_experts(weight, 40, 1, 1, 8)[0])
    again = ep.VllmPhy2LogPolicy.rebalance_experts(weight * 1.1, 40, 1, 1, 8, phy2log)
    ep.validate(again, 32, 8, current=phy2log)


def test_sglang_entry_point_takes_the_per_step_history(rng):
    history = rng.lognormal(size=(12, 3, 32)) * 10  # [T, L, E]
    phy2log, log2phy, logcnt = ep.sglang_rebalance_experts(history, 40, 5, 4, 1)
    assert phy2log.shape == (3, 40)
    assert np.array_equal(phy2log, ep.solve(history, 40, 8, num_groups=4, axes="tle").phy2log)
    with pytest.raises(ep.PlacementError, match="multiple"):
        ep.sglang_rebalance_experts(history, 41, 5, 4, 1)
    # SGLang's own call (init_by_eplb) passes its EplbAlgorithm by keyword.
    import enum

    class EplbAlgorithm(enum.Enum):
        deepseek = enum.auto()

    called = ep.sglang_rebalance_experts(tokens_per_expert=history, num_physical_experts=40, num_local_physical_experts=5,
                                         num_groups=4, num_nodes=1, algorithm=EplbAlgorithm.deepseek)
    assert np.array_equal(called[0], phy2log)


def test_engine_entry_points_balance_globally_when_groups_do_not_divide_over_nodes(rng):
    # vLLM's and SGLang's default policy (DeepSeek EPLB's) falls back to global balancing there.
    weight = rng.lognormal(size=(2, 64)) * 100
    for groups, nodes in [(8, 3), (7, 2)]:
        vllm, _, _ = ep.VllmPolicy.rebalance_experts(weight, 72, groups, nodes, 12)
        assert np.array_equal(vllm, ep.solve(weight, 72, 12).phy2log)

        class Hierarchical(ep.VllmPolicy):
            method = "hierarchical"

        flat, _, _ = Hierarchical.rebalance_experts(weight, 72, groups, nodes, 12)
        assert np.array_equal(flat, ep.solve(weight, 72, 12, method="hierarchical").phy2log)
        sglang, _, _ = ep.sglang_rebalance_experts(weight, 72, 6, groups, nodes)
        assert np.array_equal(sglang, vllm)


def test_sglang_entry_point_leaves_out_the_unused_steps_of_the_buffer(rng):
    steps = rng.lognormal(size=(1, 3, 32)) * rng.lognormal(sigma=0.7, size=(16, 3, 32)) * 100
    buffer = np.concatenate([steps, np.zeros((48, 3, 32))])  # a partly filled recorder buffer
    assert np.array_equal(ep.sglang_rebalance_experts(buffer, 40, 5, None, 1)[0],
                          ep.sglang_rebalance_experts(steps, 40, 5, None, 1)[0])
    # A buffer with no load at all yet (a rebalance right after start) still gets a valid plan.
    empty, _, _ = ep.sglang_rebalance_experts(np.zeros((4, 3, 32)), 40, 5, None, 1)
    ep.validate(empty, 32, 8)


def test_ascend_policy_names_a_negative_expert_id(rng):
    table = np.arange(2 * 4 * 3).reshape(2, 4, 3) % 8
    table[1, 2, 0] = -1
    with pytest.raises(ep.PlacementError, match=r"current_expert_table\[1, 2, 0\]: expert id -1 is negative"):
        ep.AscendPolicy().rebalance_experts(table, np.ones((2, 4, 3)))


def test_ascend_policy_keeps_the_worker_rules(rng):
    layers, ranks, slots, experts = 5, 8, 5, 32
    weight = rng.lognormal(size=(layers, experts)) * 100
    deployed = np.asarray(ep.solve(weight, ranks * slots, ranks, method="greedy").phy2log)
    table = deployed.reshape(layers, ranks, slots)
    drifted = weight * rng.lognormal(sigma=0.6, size=weight.shape)
    # per-slot workload: each expert's load split evenly over its replicas
    counts = np.stack([np.bincount(deployed[l], minlength=experts) for l in range(layers)])
    per_slot = np.stack([drifted[l, deployed[l]] / counts[l, deployed[l]] for l in range(layers)])
    policy = ep.AscendPolicy(min_gain=0.0, move_cost=0.0)
    change, priority, new_table = policy.rebalance_experts(table, per_slot.reshape(layers, ranks, slots))
    assert new_table.shape == table.shape
    ep.validate(new_table.reshape(layers, -1), experts, ranks, current=deployed)
    assert change == (1 if len(priority) else 0)
    untouched = [l for l in range(layers) if l not in set(priority.tolist())]
    for l in untouched:
        assert np.array_equal(new_table[l], table[l])
    # the summed slot loads are the logical loads: scoring the new table on them agrees
    metrics = ep.evaluate(drifted, new_table.reshape(layers, -1), ranks)
    before = ep.evaluate(drifted, deployed, ranks)
    assert np.all(metrics["meanImbalance"] <= before["meanImbalance"] + 1e-12)


def test_load_sglang_dump_without_torch_says_what_to_install(tmp_path):
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install torch"):
            ep.load_sglang_dump(tmp_path / "dump.pt")
    else:
        pytest.skip("torch is installed (tests/test_torch.py covers the dump)")
