#!/usr/bin/env python3
"""Moves-vs-balance frontier of rebalancing on real traces (the README's table).

For each trace: plan with `eplb solve` on the first half of its episodes (the deployed placement),
then run `eplb pareto` on the second half (the window). Prints a Markdown table.

Usage: python3 Notebooks-export/scripts/rebalance_frontier.py ../shared/data/real [path/to/eplb]
The real traces are outside the repository (see ../shared/data/real/README.md for sources and
licences); intermediate files go to a temporary directory.

Where a layer is small enough to enumerate (at most BRUTE_FORCE_LIMIT plans within its cap), the
last column is the optimum within the same per-layer caps as the 30% point (each layer at most
⌈0.3·M⌉ moved slots, M its re-solve's moves), by brute force over every set of changed slots and
their new experts that keeps the worker's rules; "—" when some layer is too large.
"""
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/real"
eplb = sys.argv[2] if len(sys.argv) > 2 else ".build/release/eplb"
cases = [
    ("ESFT DeepSeek-V2-Lite, 1K-token windows", "esft-deepseek-v2-lite/converted/deepseek-v2-lite_esft_windows1024.json", 8, 9),
    ("ESFT, 4 tasks", "esft-deepseek-v2-lite/converted/deepseek-v2-lite_esft_4tasks.json", 8, 9),
    ("HarMoEny Qwen1.5-MoE, 4 datasets", "harmoeny-qwen1.5-moe-switch128/converted/qwen1.5-moe-a2.7b_harmoeny_4datasets_concat.json", 6, 11),
    ("HarMoEny Switch-128, 4 datasets", "harmoeny-qwen1.5-moe-switch128/converted/switch-base-128_harmoeny_4datasets_concat.json", 16, 9),
    ("OLMoE-1B-7B, domains", "olmoe-routing-analysis/converted/olmoe-1b-7b_domains.json", 8, 9),
    ("Mixtral-8x7B, domains", "olmoe-routing-analysis/converted/mixtral-8x7b_domains.json", 4, 3),
]
BRUTE_FORCE_LIMIT = 200_000


def mean_imbalance(row, episodes, d, s, e):
    """INTERFACE.md's meanImbalance of one layer's phy2log row (episode weights equal), or None
    when the row breaks a rule (an expert without a replica, an expert twice on a device)."""
    counts = [0] * e
    for x in row:
        counts[x] += 1
    if min(counts) == 0 or any(len(set(row[k * s:(k + 1) * s])) < s for k in range(d)):
        return None
    total = 0.0
    for loads in episodes:
        device = [sum(loads[x] / counts[x] for x in row[k * s:(k + 1) * s]) for k in range(d)]
        whole = sum(device)
        total += max(device) * d / whole if whole > 0 else 1.0
    return total / len(episodes)


def capped_optimum(row, episodes, d, s, e, cap):
    """The best meanImbalance within `cap` changed slots of `row`, or None when there are more
    than BRUTE_FORCE_LIMIT candidate plans."""
    p = d * s
    if sum(math.comb(p, k) * (e - 1) ** k for k in range(cap + 1)) > BRUTE_FORCE_LIMIT:
        return None
    best = mean_imbalance(row, episodes, d, s, e)
    for k in range(1, cap + 1):
        for changed in itertools.combinations(range(p), k):
            for experts in itertools.product(range(e), repeat=k):
                if any(row[i] == x for i, x in zip(changed, experts)):
                    continue
                plan = list(row)
                for i, x in zip(changed, experts):
                    plan[i] = x
                value = mean_imbalance(plan, episodes, d, s, e)
                if value is not None and value < best:
                    best = value
    return best


print("| trace | L×T×E | D×S | deployed | re-solve (moves) | 30% of its moves: moves, value, gap closed | 100%: moves, value "
      "| optimum within the 30% caps (brute force): value, gap closed |")
print("|---|---|---|---|---|---|---|---|")
with tempfile.TemporaryDirectory() as tmp:
    for name, path, d, s in cases:
        source = json.load(open(os.path.join(data, path)))
        load = source["load"]
        half = len(load[0]) // 2
        early, late, deployed = (os.path.join(tmp, f) for f in ("early.json", "late.json", "deployed.json"))
        json.dump({"load": [layer[:half] for layer in load]}, open(early, "w"))
        json.dump({"load": [layer[half:] for layer in load]}, open(late, "w"))
        subprocess.run([eplb, "solve", early, "--devices", str(d), "--slots-per-device", str(s), "--output", deployed], check=True)
        out = subprocess.run([eplb, "pareto", late, "--current", deployed, "--fractions", "0,0.3,1"],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        at = {round(p["fraction"], 2): p for p in r["model"]}
        p30, p100 = at[0.3], at[1.0]
        rows = json.load(open(deployed))["phy2log"]
        experts = len(load[0][0])
        optima = []
        for layer, record in enumerate(r["layers"]):
            cap = next(p["cap"] for p in record["points"] if round(p["fraction"], 2) == 0.3)
            optima.append(capped_optimum(rows[layer], [ep for ep in load[layer][half:]], d, s, experts, cap))
        if all(v is not None for v in optima):
            optimum = sum(optima) / len(optima)
            closed = (r["deployed"] - optimum) / (r["deployed"] - r["resolved"])
            proven = f"{optimum:.4f}, {closed * 100:.1f}%"
        else:
            proven = "—"
        print(f"| {name} | {len(load)}×{len(load[0])}×{len(load[0][0])} | {d}×{s} | {r['deployed']:.4f} | "
              f"{r['resolved']:.4f} ({r['resolveMoves']}) | {p30['moves']}, {p30['value']:.4f}, {'—' if p30['gapClosed'] is None else format(p30['gapClosed'] * 100, '.1f') + '%'} | "
              f"{p100['moves']}, {p100['value']:.4f} | {proven} |")
