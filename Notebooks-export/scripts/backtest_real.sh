#!/usr/bin/env bash
# Backtests of the planning strategies on the real per-iteration series (README "Planning on
# forecasts"): HarMoEny Qwen1.5-MoE and Switch-128 per batch (each dataset and the four
# concatenated), ESFT DeepSeek-V2-Lite 1K-token windows (three task switches), and regime traces
# synthesised from ESFT and Switch-128 (eplb generate regimes).
# Usage: bash Notebooks-export/scripts/backtest_real.sh ../shared/data/real [path/to/eplb] [extra backtest flags]
# Prints one markdown row per data set and strategy: realised mean imbalance, ratio to last, moves,
# and what auto chose; then the oracle (--oracle: the method's plan on the scored episodes
# themselves, a reference no strategy can reach without seeing the future).
set -euo pipefail
data=${1:-../shared/data/real}
eplb=${2:-.build/release/eplb}
shift $(( $# > 2 ? 2 : $# ))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
h=$data/harmoeny-qwen1.5-moe-switch128/converted
e=$data/esft-deepseek-v2-lite/converted
"$eplb" generate regimes --from "$e/deepseek-v2-lite_esft_windows1024.json" \
    --iterations 1024 --layers 8 --experts 64 --seed 1 --output "$tmp/esft-regimes.npy"
"$eplb" generate regimes --from "$h/switch-base-128_harmoeny_4datasets_concat.json" \
    --iterations 1024 --layers 8 --experts 128 --seed 1 --output "$tmp/switch-regimes.npy"
strategies=last,window,hedged,forecast:mean,forecast:ema,forecast:trend,forecast:ar,forecast+window:ar,auto
echo "| data set | W / H | strategy | realised mean imbalance | ÷ last | moves | auto chose |"
echo "|---|---|---|---|---|---|---|"
# name | file | topology flags | window | horizon
while IFS='|' read -r name file topo w hz; do
    "$eplb" backtest $file $topo --window "$w" --horizon "$hz" --strategy "$strategies" --oracle --omit-timing "$@" \
        --output "$tmp/out.json"
    python3 - "$tmp/out.json" "$name" "$w" "$hz" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))
for s in r["strategies"]:
    m = s["summary"]
    chose = ""
    if s["name"] == "auto":
        c = collections.Counter(step["strategy"] for step in s["steps"])
        chose = ", ".join(f"{k} ×{v}" for k, v in c.most_common())
    print(f"| {sys.argv[2]} | {sys.argv[3]} / {sys.argv[4]} | {s['name']} | {m['realizedMeanImbalance']:.4f} | "
          f"{m['ratioToLast']:.3f} | {m['moves']} | {chose} |")
PY
done <<LIST
Qwen1.5-MoE wikitext|$h/qwen1.5-moe-a2.7b_harmoeny_wikitext.json|--devices 6 --slots-per-device 11|8|2
Qwen1.5-MoE bookcorpus|$h/qwen1.5-moe-a2.7b_harmoeny_bookcorpus.json|--devices 6 --slots-per-device 11|8|2
Qwen1.5-MoE wmt19|$h/qwen1.5-moe-a2.7b_harmoeny_wmt19.json|--devices 6 --slots-per-device 11|8|2
Qwen1.5-MoE random|$h/qwen1.5-moe-a2.7b_harmoeny_random.json|--devices 6 --slots-per-device 11|8|2
Qwen1.5-MoE 4 datasets concatenated|$h/qwen1.5-moe-a2.7b_harmoeny_4datasets_concat.json|--devices 6 --slots-per-device 11|8|2
Switch-128 wikitext|$h/switch-base-128_harmoeny_wikitext.json|--devices 8 --slots-per-device 18|8|2
Switch-128 bookcorpus|$h/switch-base-128_harmoeny_bookcorpus.json|--devices 8 --slots-per-device 18|8|2
Switch-128 wmt19|$h/switch-base-128_harmoeny_wmt19.json|--devices 8 --slots-per-device 18|8|2
Switch-128 random|$h/switch-base-128_harmoeny_random.json|--devices 8 --slots-per-device 18|8|2
Switch-128 4 datasets concatenated|$h/switch-base-128_harmoeny_4datasets_concat.json|--devices 8 --slots-per-device 18|8|2
ESFT DeepSeek-V2-Lite 1K-token windows|$e/deepseek-v2-lite_esft_windows1024.json|--devices 8 --slots-per-device 9|4|2
ESFT regimes 8×1024×64|$tmp/esft-regimes.npy --axes tle|--devices 8 --slots-per-device 9|64|16
Switch-128 regimes 8×1024×128|$tmp/switch-regimes.npy --axes tle|--devices 8 --slots-per-device 18|64|16
LIST
