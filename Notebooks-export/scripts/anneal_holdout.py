#!/usr/bin/env python3
"""Does annealing (`eplb solve --anneal-moves N`) pay on episodes the plan has not seen?

For each real series, at rolling origins t: plan on episodes [t - W, t) with the search and with
the search plus N annealing proposals per layer, then score both plans on the next H episodes
with `eplb evaluate`. Prints one markdown row per series: mean in-sample and next-H mean imbalance.

Usage: python3 Notebooks-export/scripts/anneal_holdout.py ../shared/data/real [path/to/eplb] [N]
"""
import json
import os
import subprocess
import sys
import tempfile

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/real"
eplb = sys.argv[2] if len(sys.argv) > 2 else ".build/release/eplb"
moves = sys.argv[3] if len(sys.argv) > 3 else "300000"
h = os.path.join(data, "harmoeny-qwen1.5-moe-switch128", "converted")
e = os.path.join(data, "esft-deepseek-v2-lite", "converted")
# name, file, devices, slots per device, window, horizon, origin step
series = [
    ("Qwen1.5-MoE wikitext (12 × 20 × 60)", os.path.join(h, "qwen1.5-moe-a2.7b_harmoeny_wikitext.json"), 6, 11, 8, 2, 2),
    ("Switch-128 wikitext (6 × 30 × 128)", os.path.join(h, "switch-base-128_harmoeny_wikitext.json"), 8, 18, 8, 2, 3),
    ("ESFT DeepSeek-V2-Lite windows (26 × 28 × 64)", os.path.join(e, "deepseek-v2-lite_esft_windows1024.json"), 8, 9, 4, 2, 3),
]


def run(arguments):
    r = subprocess.run([eplb] + arguments, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"eplb {' '.join(arguments)}: {r.stderr.strip()}")
    return r.stdout


def mean_imbalance(text):
    document = json.loads(text)
    return document.get("metrics", document)["summary"]["meanImbalance"]["mean"]


print(f"| series | W / H | origins | in-sample: search | + {moves} annealing | next H: search | + annealing |")
print("|---|---|---|---|---|---|---|")
with tempfile.TemporaryDirectory() as tmp:
    for name, path, devices, slots, window, horizon, step in series:
        loads = json.load(open(path))["load"]
        episodes = len(loads[0])
        topology = {"devices": devices, "slotsPerDevice": slots}
        sums = {"0": [0.0, 0.0], moves: [0.0, 0.0]}
        origins = range(window, episodes - horizon + 1, step)
        for t in origins:
            for part, rows in (("train", [layer[t - window:t] for layer in loads]),
                               ("test", [layer[t:t + horizon] for layer in loads])):
                with open(os.path.join(tmp, part + ".json"), "w") as f:
                    json.dump({"schemaVersion": 1, "load": rows, "topology": topology}, f)
            for budget in sums:
                plan = os.path.join(tmp, f"plan{budget}.json")
                run(["solve", os.path.join(tmp, "train.json"), "--anneal-moves", budget, "--output", plan])
                with open(plan) as f:
                    sums[budget][0] += mean_imbalance(f.read())
                sums[budget][1] += mean_imbalance(run(["evaluate", os.path.join(tmp, "test.json"), "--placement", plan]))
        n = len(origins)
        print(f"| {name} | {window} / {horizon} | {n} | {sums['0'][0] / n:.4f} | {sums[moves][0] / n:.4f} | "
              f"{sums['0'][1] / n:.4f} | {sums[moves][1] / n:.4f} |")
