"""What the Python call costs, and how the methods compare with DeepSeek EPLB's greedy policy.

For 58 layers × 256 experts on 32 devices × 9 slots (DeepSeek-V3's shape, 32 redundant slots),
seeded lognormal loads: per method, the median over --repeats calls of the Python wall time, the
library's own time (`Placement.wall_seconds`) and their difference (the binding's overhead), plus
the mean peak/average device load. The baseline, timed in the same process, is a NumPy
implementation of DeepSeek EPLB's global policy (replicate the expert with the largest load per
replica, then pack the replicas heaviest first onto the least-loaded device with a free slot),
vectorised over layers the way the engines' policies are.

    python3 python/benchmarks/overhead.py [--repeats 20]
"""

import argparse
import statistics
import time

import numpy as np

import expert_placement as ep

LAYERS, EXPERTS, GPUS, SLOTS, GROUPS, NODES = 58, 256, 32, 9, 8, 4


def deepseek_greedy(weight: np.ndarray, num_replicas: int, num_gpus: int) -> np.ndarray:
    """phy2log [L, num_replicas] of DeepSeek EPLB's global policy, in NumPy."""
    layers, experts = weight.shape
    rows = np.arange(layers)
    logcnt = np.ones((layers, experts), dtype=np.int64)
    for _ in range(num_replicas - experts):
        best = np.argmax(weight / logcnt, axis=1)
        logcnt[rows, best] += 1
    per_gpu = num_replicas // num_gpus
    phy2log = np.empty((layers, num_replicas), dtype=np.int64)
    for layer in range(layers):
        items = np.repeat(np.arange(experts), logcnt[layer])
        loads = (weight[layer] / logcnt[layer])[items]
        order = np.argsort(-loads, kind="stable")
        pack_load = np.zeros(num_gpus)
        pack_fill = np.zeros(num_gpus, dtype=np.int64)
        for item in order:
            open_packs = np.flatnonzero(pack_fill < per_gpu)
            g = open_packs[np.argmin(pack_load[open_packs])]
            phy2log[layer, g * per_gpu + pack_fill[g]] = items[item]
            pack_fill[g] += 1
            pack_load[g] += loads[item]
    return phy2log


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    weight = np.random.default_rng(2025).lognormal(sigma=1.0, size=(LAYERS, EXPERTS)) * 1000
    replicas = GPUS * SLOTS
    rows = []
    for method in ("greedy", "hierarchical", "search"):
        walls, own = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            plan = ep.solve(weight, replicas, GPUS, num_groups=GROUPS, num_nodes=NODES, method=method)
            walls.append(time.perf_counter() - start)
            own.append(plan.wall_seconds)
        overhead = statistics.median(w - o for w, o in zip(walls, own))
        rows.append((method, statistics.median(walls), statistics.median(own), overhead, plan.value.mean()))
    walls = []
    for _ in range(max(3, args.repeats // 4)):
        start = time.perf_counter()
        baseline = deepseek_greedy(weight, replicas, GPUS)
        walls.append(time.perf_counter() - start)
    # DeepSeek's packing may put two replicas of an expert on one device; the evaluator scores it anyway.
    base_value = ep.evaluate(weight, baseline, GPUS)["meanImbalance"].mean()
    base_wall = statistics.median(walls)
    print(f"{LAYERS} layers × {EXPERTS} experts on {GPUS} × {SLOTS} slots, median of {args.repeats} calls")
    print(f"{'method':<28}{'python ms':>10}{'library ms':>11}{'overhead ms':>12}{'vs baseline':>12}{'peak/avg':>10}")
    for method, wall, own, overhead, value in rows:
        print(f"{method:<28}{wall * 1e3:>10.2f}{own * 1e3:>11.2f}{overhead * 1e3:>12.3f}{wall / base_wall:>11.3f}×{value:>10.4f}")
    print(f"{'baseline: DeepSeek (NumPy)':<28}{base_wall * 1e3:>10.2f}{'':>11}{'':>12}{1:>11.3f}×{base_value:>10.4f}")


if __name__ == "__main__":
    main()
