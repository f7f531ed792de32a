"""The Python package against the library's own rules: exact reference outputs, validity of every
output, derived tables, rebalancing, and errors that name the argument."""

import numpy as np
import pytest

import expert_placement as ep

# DeepSeek EPLB's README example and its published output.
README_WEIGHT = np.array([[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
                          [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]])
README_PHY2LOG = np.array([[5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
                           [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1]])


def check_tables(phy2log, log2phy, logcnt, experts):
    """logcnt counts phy2log; log2phy lists each expert's slots, ascending, then -1."""
    phy2log, log2phy, logcnt = map(np.asarray, (phy2log, log2phy, logcnt))
    for layer in range(phy2log.shape[0]):
        counts = np.bincount(phy2log[layer], minlength=experts)
        assert np.array_equal(counts, logcnt[layer])
        for e in range(experts):
            slots = np.flatnonzero(phy2log[layer] == e)
            row = log2phy[layer, e]
            assert np.array_equal(row[: len(slots)], slots)
            assert np.all(row[len(slots):] == -1)


def test_deepseek_readme_example_reproduced_exactly():
    phy2log, log2phy, logcnt = ep.rebalance_experts(README_WEIGHT, 16, 4, 2, 8, method="hierarchical")
    assert phy2log.dtype == np.int64 and log2phy.dtype == np.int64 and logcnt.dtype == np.int64
    assert np.array_equal(phy2log, README_PHY2LOG)
    assert log2phy.shape == (2, 12, 16 - 12 + 1)
    check_tables(phy2log, log2phy, logcnt, 12)


@pytest.mark.parametrize("method", ep.METHODS)
def test_every_output_is_valid_on_seeded_instances(method, rng):
    for trial in range(6):
        layers, experts = int(rng.integers(1, 5)), int(rng.integers(4, 40))
        gpus = int(rng.integers(1, 6))
        slots = int(rng.integers(max(1, -(-experts // gpus)), -(-experts // gpus) + 3))
        if slots > experts:
            continue
        weight = rng.lognormal(size=(layers, experts)) * 100
        nodes = 1 if method != "hierarchical" else 1
        plan = ep.solve(weight, gpus * slots, gpus, num_nodes=nodes, method=method)
        ep.validate(plan.phy2log, experts, gpus)
        check_tables(plan.phy2log, plan.log2phy, plan.logcnt, experts)
        metrics = ep.evaluate(weight, plan.phy2log, gpus)
        assert np.allclose(metrics["meanImbalance"], plan.value)
        bound = plan.lower_bound
        assert np.all(np.isnan(bound) | (bound <= plan.value + 1e-9))


def test_search_balances_at_least_as_well_as_greedy(rng):
    weight = rng.lognormal(size=(6, 64)) * 1000
    greedy = ep.solve(weight, 80, 16, method="greedy")
    search = ep.solve(weight, 80, 16, method="search")
    assert np.all(search.value <= greedy.value + 1e-12)


def test_episode_windows_in_both_axis_orders(rng):
    window = rng.lognormal(size=(5, 3, 16))  # [T, L, E]
    a = ep.solve(window, 20, 4, axes="tle", method="greedy")
    b = ep.solve(np.transpose(window, (1, 0, 2)), 20, 4, axes="lte", method="greedy")
    assert np.array_equal(a.phy2log, b.phy2log)
    with pytest.raises(ep.PlacementError, match="axes"):
        ep.solve(window, 20, 4)  # a 3-D window needs its axis order


def test_migration_aware_solve_keeps_stayers_in_place(rng):
    weight = rng.lognormal(size=(4, 32)) * 100
    deployed = ep.solve(weight, 40, 8, method="greedy").phy2log
    drifted = weight * rng.lognormal(sigma=0.3, size=weight.shape)
    free = ep.solve(drifted, 40, 8, current=deployed)
    ep.validate(free.phy2log, 32, 8, current=deployed)
    capped = ep.solve(drifted, 40, 8, current=deployed, max_moves=3)
    assert np.all(capped.moves <= 3)
    assert np.array_equal(capped.moves, (np.asarray(capped.phy2log) != deployed).sum(axis=1))
    ep.validate(capped.phy2log, 32, 8, current=deployed)


def test_rebalance_and_stateful_rebalancer(rng):
    weight = rng.lognormal(size=(6, 32)) * 100
    deployed = np.asarray(ep.solve(weight, 40, 8).phy2log)
    window = weight[None] * rng.lognormal(sigma=0.5, size=(16, 6, 32))  # [T, L, E]
    result = ep.rebalance(window, deployed, 8, axes="tle", move_cost=0.001, min_gain=0.01)
    ep.validate(result.phy2log, 32, 8, current=deployed)
    changed = set(result.priority.tolist())
    for layer in range(6):
        same = np.array_equal(result.phy2log[layer], deployed[layer])
        assert same == (layer not in changed)
        assert result.moves[layer] == (result.phy2log[layer] != deployed[layer]).sum()
        if layer in changed:
            assert result.after[layer] <= result.before[layer] * (1 - 0.01) + 1e-12
    stateful = ep.Rebalancer(deployed, 8, axes="tle", move_cost=0.001, min_gain=0.01)
    first = stateful.step(window)
    assert np.array_equal(first.phy2log, result.phy2log)  # deterministic: the same call
    second = stateful.step(window)
    ep.validate(second.phy2log, 32, 8, current=first.phy2log)
    assert np.all(np.isfinite(stateful.recorded))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ep.rebalance_experts(README_WEIGHT, 15, 4, 2, 8), "num_replicas"),
        (lambda: ep.rebalance_experts(README_WEIGHT, 8, 1, 1, 8), "num_replicas"),
        (lambda: ep.rebalance_experts(README_WEIGHT * np.nan, 16, 4, 2, 8), r"weight\[0\]\[0\]\[0\]: NaN"),
        (lambda: ep.rebalance_experts(-README_WEIGHT, 16, 4, 2, 8), "negative load"),
        (lambda: ep.rebalance_experts(README_WEIGHT * 1e299, 16, 4, 2, 8), r"weight\[0\]\[0\]\[0\]: load .* outside the supported range"),
        (lambda: ep.rebalance_experts(README_WEIGHT, 16, 4, 2, 8, method="exact"), "GPL"),
        (lambda: ep.rebalance_experts(README_WEIGHT, 16, 4, 2, 8, objective="median"), "objective"),
        (lambda: ep.rebalance_experts(README_WEIGHT[0], 16, 4, 2, 8), "weight"),
        (lambda: ep.solve(README_WEIGHT, 16, 8, move_cost=0.1), "current"),
        (lambda: ep.solve(README_WEIGHT, 16, 8, current=np.full((2, 16), 99)), r"current\[0\]\[0\]: expert id 99"),
        (lambda: ep.solve(README_WEIGHT, 16, 8, time_limit=-1), "time_limit"),
    ],
)
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ep.PlacementError, match=match):
        call()


def test_validate_names_the_broken_rule():
    plan = README_PHY2LOG.copy()
    plan[0, 1] = plan[0, 0]  # expert 5 twice on device 0, expert 6 lost
    with pytest.raises(ep.InvalidPlacementError, match="device"):
        ep.validate(plan, 12, 8)
    moved = README_PHY2LOG.copy()
    moved[0, [0, 1]] = moved[0, [1, 0]]  # both stay on device 0 but swap local slots
    with pytest.raises(ep.InvalidPlacementError, match="slot"):
        ep.validate(moved, 12, 8, current=README_PHY2LOG)
    ep.validate(README_PHY2LOG, 12, 8)


def test_infeasible_topology():
    with pytest.raises(ep.PlacementError):
        ep.solve(README_WEIGHT, 24, 1)  # 24 slots on one device for 12 experts: an expert twice


def alternating_regimes(rng, periods, period=16, layers=2, experts=8):
    """[T, L, E] loads switching regime every ``period`` iterations: experts 0–1 hot, then 6–7."""
    t = np.arange(periods * period)
    hot_first = ((t // period) % 2 == 0)[:, None, None]
    x = np.arange(experts)[None, None, :]
    hot = np.where(hot_first, x < 2, x >= experts - 2)
    noise = 0.9 + 0.2 * rng.random((periods * period, layers, experts))
    return np.round(np.where(hot, 400.0, 100.0) * noise)


def test_rebalancer_with_a_regime_memory_serves_alternating_regimes_better(rng):
    trace = alternating_regimes(rng, periods=10)
    plain = np.tile(np.concatenate([np.arange(8), np.arange(4)]), (2, 1))  # 4 devices × 3 slots
    with_memory = ep.Rebalancer(plain, 4, regime_memory=8, axes="tle", move_cost=0.002)
    without = ep.Rebalancer(plain, 4, axes="tle", move_cost=0.002)
    served = {True: [], False: []}
    kinds = []
    for call in range(9):
        window, following = trace[call * 16:(call + 1) * 16], trace[(call + 1) * 16:(call + 2) * 16]
        for remembering, rebalancer in ((True, with_memory), (False, without)):
            before = rebalancer.deployed
            result = rebalancer.step(window)
            ep.validate(result.phy2log, 8, 4, current=before)
            if remembering:
                kinds.append(result.planned_on)
            else:
                assert result.planned_on == "window"
            served[remembering].append(ep.evaluate(following, result.phy2log, 4, axes="tle")["meanImbalance"].mean())
    assert kinds[:2] == ["window", "window"]  # no evidence yet
    assert "memory" in kinds
    # The window's plan always serves the other regime next; the memory's serves both.
    assert np.mean(served[True]) < np.mean(served[False]) - 0.05


def test_a_regime_memory_is_checked():
    plain = np.tile(np.arange(8), (2, 1))
    with pytest.raises(ep.PlacementError, match="regime_memory"):
        ep.Rebalancer(plain, 4, regime_memory=1)
    with pytest.raises(ep.PlacementError, match="window strategy only"):
        ep.Rebalancer(plain, 4, regime_memory=8, strategy="last")
    with pytest.raises(ep.PlacementError, match="windows: must be 2 to 4096"):
        ep.RegimeMemory(0)
    window = np.ones((4, 2, 8))
    with pytest.raises(ep.PlacementError, match="expected a RegimeMemory"):
        ep.rebalance(window, plain, 4, axes="tle", memory=object())
    with pytest.raises(ep.PlacementError, match="window strategy only"):
        ep.rebalance(window, plain, 4, axes="tle", memory=ep.RegimeMemory(4), strategy="hedged")


def test_a_measured_move_price_rises_while_gains_last_and_starts_at_two_intervals(rng):
    plain = np.tile(np.concatenate([np.arange(8), np.arange(4)]), (2, 1))  # 4 devices × 3 slots
    window = alternating_regimes(rng, periods=1)  # one regime: experts 0–1 hot
    # The same window again and again: the first plan's gain lasts, so the horizon climbs to 8.
    measured = ep.Rebalancer(plain, 4, regime_memory=8, payback_unit_price=0.004, axes="tle", move_cost=0.002)
    fixed = ep.Rebalancer(plain, 4, regime_memory=8, axes="tle", move_cost=0.002)
    assert measured.memory.payback_intervals is None  # before the first call
    first, reference = measured.step(window), fixed.step(window)
    # At the first call the horizon is 2: the price is 0.004 / 2, the fixed rebalancer's.
    assert measured.memory.payback_intervals == 2
    assert np.array_equal(first.phy2log, reference.phy2log)
    horizons = []
    for _ in range(3):
        before = measured.deployed
        result = measured.step(window)
        ep.validate(result.phy2log, 8, 4, current=before)
        horizons.append(measured.memory.payback_intervals)
    assert horizons[0] == 8 and all(2 <= k <= 8 for k in horizons)
    assert fixed.memory.payback_intervals is None


def test_a_measured_move_price_is_checked():
    plain = np.tile(np.arange(8), (2, 1))
    with pytest.raises(ep.PlacementError, match="needs regime_memory"):
        ep.Rebalancer(plain, 4, payback_unit_price=0.01)
    with pytest.raises(ep.PlacementError, match="unit_price"):
        ep.RegimeMemory(8, payback_unit_price=-1)
    with pytest.raises(ep.PlacementError, match="payback_range"):
        ep.RegimeMemory(8, payback_unit_price=0.01, payback_range=(0.5, 8))
    with pytest.raises(ep.PlacementError, match="payback_range"):
        ep.RegimeMemory(8, payback_unit_price=0.01, payback_range=(4, 2))
    with pytest.raises(ep.PlacementError, match="payback_unit_price, payback_range: expected a number"):
        ep.RegimeMemory(8, payback_unit_price="cheap")
    with pytest.raises(ep.PlacementError, match="payback_unit_price, payback_range: expected a number"):
        ep.RegimeMemory(8, payback_unit_price=0.01, payback_range=(2,))
    with pytest.raises(ep.PlacementError, match="unit_price"):
        ep.RegimeMemory(8, payback_unit_price=float("nan"))


# Found by a user audit: what a serving engineer passes by mistake is refused with the
# argument's own name, never converted or reshaped silently.
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ep.rebalance_experts(README_WEIGHT > 50, 16, 4, 2, 8), "weight: must hold real numbers.*bool"),
        (lambda: ep.rebalance_experts(README_WEIGHT + 1j, 16, 4, 2, 8), "weight: must hold real numbers.*complex"),
        (lambda: ep.rebalance_experts(README_WEIGHT, 16, 2.7, 2, 8, method="hierarchical"), "num_groups: must be an integer"),
        (lambda: ep.solve(README_WEIGHT, 16, 8, current=README_PHY2LOG, max_moves=2.9), "max_moves: must be an integer"),
        (lambda: ep.solve(README_WEIGHT, 16, 8, current=README_PHY2LOG, max_moves=-5), "max_moves: must be 0 or more"),
        (lambda: ep.rebalance(README_WEIGHT, README_PHY2LOG, 8, max_layers=-3), "max_layers: must be 0 or more"),
        (lambda: ep.rebalance(README_WEIGHT, README_PHY2LOG, 8, relative_threshold=1.5), "^relative_threshold: "),
        (lambda: ep.rebalance(README_WEIGHT, README_PHY2LOG, 8, min_gain=-1), "^min_gain: "),
        (lambda: ep.solve(README_WEIGHT, 16, 8, current=README_PHY2LOG.T.copy()), r"current: expected \[L=2, P=16\]"),
        (lambda: ep.solve(README_WEIGHT, 16, 8, num_groups=5), "^num_groups: "),
    ],
)
def test_mistakes_are_refused_by_their_argument_names(call, match):
    with pytest.raises(ep.PlacementError, match=match):
        call()


def test_a_deployed_plan_with_an_expert_twice_on_a_gpu_is_rebalanced_from():
    # DeepSeek EPLB's packing can leave one, and vLLM and SGLang serve it.
    twice = README_PHY2LOG.copy()
    twice[0, 1], twice[0, 2] = twice[0, 0], twice[0, 1]  # expert 5 twice on GPU 0; expert 6 moved to GPU 1
    plan = ep.solve(README_WEIGHT, 16, 8, current=twice, move_cost=0.01)
    ep.validate(plan.phy2log, 12, 8)
    phy2log, _, _ = ep.VllmPolicy.rebalance_experts(README_WEIGHT, 16, 4, 2, 8, twice)
    ep.validate(phy2log, 12, 8)
    kept = ep.rebalance(README_WEIGHT, twice, 8, move_cost=100)
    assert np.array_equal(np.asarray(kept.phy2log), twice) and list(kept.priority) == []


def test_a_deployed_plan_without_some_expert_is_refused_by_every_entry_point():
    broken = README_PHY2LOG.copy()
    broken[0, 1] = broken[0, 0]  # expert 5 twice on device 0, expert 6 lost
    for call in (
        lambda: ep.solve(README_WEIGHT, 16, 8, current=broken),
        lambda: ep.solve(README_WEIGHT, 16, 8, current=broken, max_moves=0),
        lambda: ep.VllmPolicy.rebalance_experts(README_WEIGHT, 16, 4, 2, 8, broken),
        lambda: ep.rebalance(README_WEIGHT, broken, 8),
    ):
        with pytest.raises(ep.PlacementError, match="current: the deployed placement breaks a rule"):
            call()


def test_groups_and_nodes_follow_deepseek_eplb():
    # Groups that do not divide over the nodes: DeepSeek EPLB balances globally, so does the drop-in.
    hierarchical = ep.rebalance_experts(README_WEIGHT, 16, 3, 2, 8, method="hierarchical")
    flat = ep.rebalance_experts(README_WEIGHT, 16, 1, 1, 8, method="hierarchical")
    assert all(np.array_equal(a, b) for a, b in zip(hierarchical, flat))
    # SGLang passes num_groups=None; methods other than hierarchical ignore groups and nodes.
    assert np.array_equal(ep.rebalance_experts(README_WEIGHT, 16, None, 2, 8)[0], ep.rebalance_experts(README_WEIGHT, 16, 5, 3, 8)[0])
    # SGLang's entry point takes lists too.
    phy2log, _, _ = ep.sglang_rebalance_experts(README_WEIGHT.tolist(), 16, 2, None, 1)
    assert np.array_equal(phy2log, ep.rebalance_experts(README_WEIGHT, 16, 1, 1, 8)[0])


def test_the_rebalancer_never_aliases_the_callers_arrays():
    mine = README_PHY2LOG.copy()
    stateful = ep.Rebalancer(mine, 8)
    assert stateful.deployed is not mine
    mine[:] = 0  # the caller reuses its buffer
    result = stateful.step(README_WEIGHT)
    ep.validate(result.phy2log, 12, 8, current=README_PHY2LOG)
    kept = stateful.deployed.copy()
    np.asarray(result.phy2log)[:] = 0  # the caller edits the result it was handed
    assert np.array_equal(stateful.deployed, kept)
    recorded = stateful.recorded.copy()
    np.asarray(result.recorded)[:] = 1.0  # nor the records it carries to the next call
    assert np.array_equal(stateful.recorded, recorded, equal_nan=True)


def test_arguments_out_of_range_or_of_the_wrong_kind_are_named():
    weight = README_WEIGHT
    for kwargs, named in [({"max_moves": 2**64}, "max_moves"), ({"num_groups": 2**64 + 2}, "num_groups"),
                          ({"time_limit": "abc"}, "time_limit"), ({"drop_budget": "x"}, "drop_budget"),
                          ({"method": "greedy\x00x"}, "method")]:
        extra = {"current": README_PHY2LOG} if "max_moves" in kwargs else {}
        with pytest.raises(ep.PlacementError, match=named):
            ep.solve(weight, 16, 8, **kwargs, **extra)
    with pytest.raises(ep.PlacementError, match="threshold"):
        ep.rebalance(weight, README_PHY2LOG, 8, threshold="x")
    for args in [(16.9, 8), (12, 4.7), (12, "8"), (12, True), (2**64 + 12, 8)]:
        with pytest.raises(ep.PlacementError, match="num_"):
            ep.validate(README_PHY2LOG, *args)
    with pytest.raises(ep.PlacementError, match="num_gpus"):
        ep.solve(weight, 16, True)
    # A Rebalancer with a misspelt option or a GPU count that does not fit fails when made.
    with pytest.raises(TypeError, match="treshold"):
        ep.Rebalancer(README_PHY2LOG, 8, treshold=1.1)
    with pytest.raises(ep.PlacementError, match="GPUs"):
        ep.Rebalancer(README_PHY2LOG, 3)
    # Sizes past the library's limit are refused before any table is allocated.
    with pytest.raises(ep.PlacementError, match="num_replicas"):
        ep.solve(weight, 2**40, 2**20)
    # A plan whose width does not fit the GPUs is named as the plan, not as a num_replicas argument.
    with pytest.raises(ep.PlacementError, match="^current"):
        ep.rebalance(weight, README_PHY2LOG[:, :14], 8)
    with pytest.raises(ep.PlacementError, match="^phy2log"):
        ep.evaluate(weight, README_PHY2LOG, 3)
    # More threads than a C int holds is all cores, not a wrapped count.
    assert np.array_equal(ep.solve(weight, 16, 8, threads=2**40).phy2log, ep.solve(weight, 16, 8).phy2log)
