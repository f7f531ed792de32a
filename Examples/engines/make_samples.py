#!/usr/bin/env python3
"""Builds the sample engine dumps in this folder from the ESFT DeepSeek-V2-Lite routing counts.

Source: deepseek-ai/ESFT @ 579a7711 (MIT), as converted in the team's shared data
(`deepseek-v2-lite_esft_windows1024.json`: 26 MoE layers = decoder layers 1..26 × 28 windows of
>= 1,024 tokens × 64 experts). The first 8 windows are used as 8 "steps". Each file is written
the way the engine writes its own (see docs/ENGINES.md for the source files that define them).

Usage: python3 make_samples.py PATH/TO/deepseek-v2-lite_esft_windows1024.json
"""
import json
import os
import struct
import sys

import numpy as np

STEPS, RANKS, SLOTS = 8, 8, 9  # 8 EP ranks x 9 slots = 72 physical slots, 8 redundant

src = json.load(open(sys.argv[1]))
assert src["layer_ids"] == list(range(1, 27))
load = np.array(src["load"], dtype=np.int64)[:, :STEPS, :]  # [L=26, T, E=64]
L, T, E = load.shape
here = os.path.dirname(os.path.abspath(__file__))

# SGLang recorder (stat mode): logical_count [steps, num_hidden_layers = 27, E]; layer 0 is dense.
logical = np.zeros((T, L + 1, E), dtype=np.int64)
logical[:, 1:, :] = load.transpose(1, 0, 2)
with open(os.path.join(here, "sglang-expert-distribution.json"), "w") as f:
    json.dump({"rank": 0, "logical_count": logical.tolist()}, f, separators=(",", ":"))
    f.write("\n")

# vLLM: the default map before any rebalance (slot p holds expert p mod E) and per-slot loads:
# each token goes to one replica; split each expert's count as evenly as integers allow.
P = RANKS * SLOTS
phy2log = np.tile(np.arange(P) % E, (L, 1))
def slot_loads(logical_le):
    out = np.zeros((L, P), dtype=np.int64)
    for l in range(L):
        for e in range(E):
            slots = np.nonzero(phy2log[l] == e)[0]
            q, r = divmod(int(logical_le[l, e]), len(slots))
            for i, s in enumerate(slots):
                out[l, s] = q + (1 if i < r else 0)
    return out
np.save(os.path.join(here, "vllm-expert-load-view.npy"), slot_loads(load.sum(axis=1)))
np.save(os.path.join(here, "vllm-phy2log.npy"), phy2log)

# vLLM PR #41141 statistics JSONL: header, then one record per step.
with open(os.path.join(here, "vllm-eplb-stats.jsonl"), "w") as f:
    f.write(json.dumps({"record_type": "eplb_load_meta", "version": 1, "model": "deepseek-ai/DeepSeek-V2-Lite",
                        "num_ranks": RANKS, "num_groups": 1, "num_nodes": 1, "num_layers": L,
                        "num_redundant_experts": P - E}) + "\n")
    for t in range(T):
        f.write(json.dumps({"record_type": "eplb_load_stats", "version": 1, "step": t + 1,
                            "expert_load": slot_loads(load[:, t, :]).tolist(),
                            "p2l_map": phy2log.tolist()}) + "\n")

# TensorRT-LLM expert statistics: meta_info.json and rank{r}.safetensors, keys "{iter}_{layer}"
# with decoder-layer ids, 1-D int64 bincounts; here 2 ranks, each with part of the tokens.
d = os.path.join(here, "trtllm-expert-statistic")
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "meta_info.json"), "w") as f:
    json.dump({"num_experts": E, "num_experts_per_token": 6}, f)
for r in range(2):
    header, blobs, offset = {}, [], 0
    for t in range(T):
        for l in range(L):
            counts = load[l, t, :] // 2 + (load[l, t, :] % 2 if r == 0 else 0)
            blob = counts.astype("<i8").tobytes()
            header[f"{100 + t}_{l + 1}"] = {"dtype": "I64", "shape": [E], "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, f"rank{r}.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
