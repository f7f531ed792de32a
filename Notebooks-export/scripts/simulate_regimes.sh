#!/usr/bin/env bash
# Online rebalancing on regime traces built from real recordings (the README's simulation table):
# DeepSeek-V3 shape (58 layers x 256 experts, from ESFT DeepSeek-V2-Lite windows) and a 128-expert
# shape (48 layers, from HarMoEny Switch-128), EP 32 and 64 with one redundant slot per device,
# 8,192 iterations, window = interval = 1,024; policies none, greedy, search, rebalance.
# Usage: bash Notebooks-export/scripts/simulate_regimes.sh ../shared/data/real [path/to/eplb] [extra simulate flags]
#   e.g. ... DATA .build/release/eplb --policy oracle  (adds the clairvoyant reference)
# SEED=N (default 1) draws other regime switches from the same recordings.
# Policy time is charged as measured (0.05 s per iteration), so delays can differ by an iteration
# or two between runs; pass --delay-iterations N for byte-equal output.
set -euo pipefail
seed=${SEED:-1}
data=${1:-../shared/data/real}
eplb=${2:-.build/release/eplb}
shift $(( $# > 2 ? 2 : $# ))
extra=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$eplb" generate regimes --from "$data/esft-deepseek-v2-lite/converted/deepseek-v2-lite_esft_windows1024.json" \
    --iterations 8192 --layers 58 --experts 256 --seed "$seed" --output "$tmp/v3.npy"
"$eplb" generate regimes --from "$data/harmoeny-qwen1.5-moe-switch128/converted/switch-base-128_harmoeny_4datasets_concat.json" \
    --iterations 8192 --layers 48 --experts 128 --seed "$seed" --output "$tmp/s128.npy"
echo "| trace | EP × slots | policy | mean PAR | moves | modelled cost (s) | ÷ greedy | policy time (s) |"
echo "|---|---|---|---|---|---|---|---|"
for case in "v3 32 9" "v3 64 5" "s128 32 5" "s128 64 3"; do
    set -- $case  # (the extra flags were saved above)
    "$eplb" simulate "$tmp/$1.npy" --axes tle --devices "$2" --slots-per-device "$3" --window 1024 --interval 1024 \
        --policy none,greedy,search,rebalance ${extra[@]+"${extra[@]}"} --output "$tmp/out.json"
    python3 - "$tmp/out.json" "$1" "$2" "$3" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
policies = {p["name"]: p for p in r["policies"]}
greedy = policies["greedy"]["modelledCostSeconds"]
name = {"v3": "V3 58×256 (ESFT regimes)", "s128": "128-expert 48×128 (Switch-128 regimes)"}[sys.argv[2]]
for n, p in policies.items():
    print(f"| {name} | {sys.argv[3]} × {sys.argv[4]} | {n} | {p['meanPAR']:.4f} | {p['moves']} | "
          f"{p['modelledCostSeconds']:.2f} | {p['modelledCostSeconds'] / greedy:.3f} | {p.get('policyWallSeconds', 0):.2f} |")
PY
done
