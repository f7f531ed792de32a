public import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

/// The engine map formats of `eplb export` and `eplb import`, by their names (`sglang`,
/// `vllm-ascend`, …): the library's own enumeration.
extension EngineMapFormat: ExpressibleByArgument {}

/// The engine load dumps of `eplb import-loads`.
enum LoadFormat: String, ExpressibleByArgument, CaseIterable {
    /// SGLang recorder output as JSON: `{"logical_count": [T][L][E] or [L][E]}`.
    case sglang
    /// vLLM per-physical-slot loads `[L][P]` (`expert_load_view`) with `--phy2log`.
    case vllm
    /// vLLM PR #41141 statistics JSONL (`eplb_load_meta`, `eplb_load_stats` records).
    case vllmStats = "vllm-stats"
    /// TensorRT-LLM expert-statistics directory (`meta_info.json`, `rank*.safetensors`).
    case trtllm
    /// A NumPy `.npy` load array; a 3-D one needs `--axes`.
    case npy
}

/// `--first-moe-layer` and `--decoder-layers`: converting between MoE-layer indices and
/// decoder-layer ids (see ``LayerIds``).
struct LayerIdOptions: ParsableArguments {
    @Option(name: .customLong("first-moe-layer"), parsing: .unconditional, help: ArgumentHelp(
        "Decoder-layer id of the first MoE layer (3 for DeepSeek-V3): MoE layer i is decoder layer K + i. On import, rows of engines that count every decoder layer (SGLang) before K are dropped; rows of engines that count MoE layers (vLLM, vllm-ascend, deepseek) get layerIds K, K+1, …. On export to SGLang/TensorRT-LLM, gives the ids of a placement without layerIds.",
        valueName: "K"))
    var firstMoELayer: Int?

    @Option(name: .customLong("decoder-layers"), parsing: .unconditional, help: ArgumentHelp(
        "eplb export --format sglang only: num_hidden_layers of the model (61 for DeepSeek-V3), the number of rows of an SGLang map; default the largest layer id + 1.",
        valueName: "N"))
    var decoderLayers: Int?

    func validate() throws {
        if let k = firstMoELayer, k < 0 { throw ValidationError("--first-moe-layer must be at least 0, got \(k)") }
        if let n = decoderLayers, n < 1 { throw ValidationError("--decoder-layers must be at least 1, got \(n)") }
        // Layer ids far beyond any model (DeepSeek-V3 has 61 decoder layers): K + i and a map of N
        // rows must stay small enough to compute and to write.
        for (flag, value) in [("--first-moe-layer", firstMoELayer), ("--decoder-layers", decoderLayers)] {
            if let value, value > LayerIds.maximum {
                throw ValidationError("\(flag) must be at most \(LayerIds.maximum), got \(value)")
            }
        }
    }
}

/// Placement files in and out: one `placement is invalid` line for a plan that breaks the rules.
enum PlacementCheck {
    /// Throws an ``InputError`` naming the first broken rule when `placement` is invalid.
    ///
    /// - Parameter format: the engine format the map is read from or written to. One that serves
    ///   two replicas of an expert on a device (``EngineMapFormat/servesDuplicateOnDevice``) lets
    ///   such a map pass with a warning; one that does not refuses it and says so when nothing
    ///   else is wrong with the map.
    static func requireValid(_ placement: Placement, file: String, format: EngineMapFormat? = nil) throws(InputError) {
        let all = Validation.violations(of: placement, limit: Int.max)
        let duplicates = all.filter { $0.rule == .noDuplicateOnDevice }
        let serves = format?.servesDuplicateOnDevice == true
        if let first = serves ? all.first(where: { $0.rule != .noDuplicateOnDevice }) : all.first {
            var reason = "invalid placement: \(first)"
            if let format, duplicates.count == all.count {
                reason += "; \(format.engineName) cannot load an expert twice on a device (a map DeepSeek EPLB, vLLM or SGLang may serve): re-place those layers first, e.g. eplb rebalance WINDOW --current \(file)"
            }
            throw InputError(file: file, field: first.layer.map { "phy2log[\($0)]" } ?? "phy2log", reason: reason)
        }
        if serves, let format, let first = duplicates.first {
            let layers = Set(duplicates.compactMap(\.layer)).count
            printWarning("\(file): \(first) (\(duplicates.count) such replica\(duplicates.count == 1 ? "" : "s") in \(layers) "
                         + "layer\(layers == 1 ? "" : "s")); \(format.engineName) serves this, vllm-ascend does not, and this tool's "
                         + "plans never do it: rebalancing re-places such a layer only when that pays")
        }
    }
}
