"""Rolling rebalance with `eplb rebalance --strategy`: what planning for the loads to come gives.

For each trace (instance JSON [L][T][E] with a topology, or --devices/--slots-per-device): start
from a greedy plan on episodes [0, W); at origins t = W, W + H, … (while t + H ≤ T) call
`eplb rebalance` on the window [t − W, t) with the deployed plan as --current, --move-cost and
each --strategy, deploy its output, and score it with `eplb evaluate` on [t, t + H), which the
rebalance never saw. Prints per strategy the realised mean imbalance (mean over origins of the
layers' mean per-episode peak ÷ average) and the moves.

    python3 Notebooks-export/scripts/rebalance_strategies.py EPLB TRACE.json --devices D --slots-per-device S \
        [--window 8 --horizon 2 --move-cost 0.001 --strategies window,last,forecast:ar,auto]
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path


def run(eplb, *args):
    out = subprocess.run([eplb, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"eplb {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("eplb")
    p.add_argument("trace")
    p.add_argument("--devices", type=int, required=True)
    p.add_argument("--slots-per-device", type=int, required=True)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--horizon", type=int, default=2)
    p.add_argument("--move-cost", default="0.001")
    p.add_argument("--strategies", default="window,last,forecast:ar,auto")
    a = p.parse_args()
    data = json.loads(Path(a.trace).read_text())
    load = data["load"]
    episodes = len(load[0])
    topo = ["--devices", str(a.devices), "--slots-per-device", str(a.slots_per_device)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def piece(lo, hi, tag):
            path = tmp / f"{tag}.json"
            path.write_text(json.dumps({"name": tag, "load": [row[lo:hi] for row in load]}))
            return str(path)

        first = tmp / "deployed0.json"
        run(a.eplb, "solve", piece(0, a.window, "first"), *topo, "--method", "greedy", "--omit-timing", "--output", str(first))
        print(f"{Path(a.trace).name}: {len(load)} layers × {episodes} episodes; W {a.window}, H {a.horizon}, move cost {a.move_cost}")
        print(f"{'strategy':<24}{'realised mean':>14}{'moves':>8}")
        for strategy in a.strategies.split(","):
            deployed, scores, moves = str(first), [], 0
            t = a.window
            while t + a.horizon <= episodes:
                window = piece(t - a.window, t, f"w{t}")
                nxt = tmp / f"{strategy.replace(':', '_')}-{t}.json"
                # --horizon serves the strategies that forecast or score it (eplb refuses it elsewhere).
                horizon = ["--horizon", str(a.horizon)] if strategy.startswith(("forecast", "auto")) else []
                run(a.eplb, "rebalance", window, *topo, "--current", deployed, "--move-cost", a.move_cost,
                    "--strategy", strategy, *horizon, "--omit-timing", "--output", str(nxt))
                plan = json.loads(nxt.read_text())
                moves += plan["metrics"]["summary"].get("moves", {}).get("sum", 0)
                scored = json.loads(run(a.eplb, "evaluate", piece(t, t + a.horizon, f"f{t}"), *topo,
                                        "--placement", str(nxt), "--format", "json"))
                scores.append(scored["summary"]["meanImbalance"]["mean"])
                deployed = str(nxt)
                t += a.horizon
            print(f"{strategy:<24}{sum(scores) / len(scores):>14.4f}{moves:>8}")


if __name__ == "__main__":
    main()
