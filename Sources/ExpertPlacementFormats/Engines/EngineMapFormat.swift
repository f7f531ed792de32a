public import ExpertPlacement

/// The placement-map formats engines load, behind one entry point for `eplb export` and
/// `eplb import`: every format writes a placement and reads it back to the identical `phy2log`.
public enum EngineMapFormat: String, Sendable, CaseIterable {
    /// ``SGLangFormat`` `--init-expert-location` JSON.
    case sglang
    /// ``VLLMAscendFormat`` expert-map JSON.
    case vllmAscend = "vllm-ascend"
    /// ``DeepSeekTensors``: `phy2log.npy`, `log2phy.npy`, `logcnt.npy` in a directory.
    case deepseek
    /// ``VLLMFormat`` initial-mapping JSONL (vLLM PR #41141).
    case vllmMapping = "vllm-mapping"
    /// ``TensorRTLLMFormat`` load-balancer YAML.
    case trtllm
    /// ``ExpertMaps`` per-rank `expert_map` and `log2phy` JSON.
    case rankMaps = "rank-maps"

    /// Whether the engine serves a map with two replicas of one expert on a device. DeepSeek
    /// EPLB's packing can make one, and vLLM and SGLang (whose default policy is DeepSeek's) load
    /// it; vllm-ascend's worker refuses it (`check_expert_placement`: "Replicated experts are
    /// placed on the same NPU"), and TensorRT-LLM is not known to accept it (and `rank-maps`
    /// follows vllm-ascend).
    public var servesDuplicateOnDevice: Bool {
        switch self {
        case .sglang, .deepseek, .vllmMapping: true
        case .vllmAscend, .trtllm, .rankMaps: false
        }
    }

    /// The engine that loads the format, for messages.
    public var engineName: String {
        switch self {
        case .sglang: "SGLang"
        case .vllmAscend, .rankMaps: "vllm-ascend"
        case .deepseek: "DeepSeek EPLB"
        case .vllmMapping: "vLLM"
        case .trtllm: "TensorRT-LLM"
        }
    }

    /// What a format needs besides the file: values the file does not record, and layer-id
    /// conversions.
    public struct Options: Sendable, Equatable {
        /// EP size, for formats without it (sglang, deepseek, vllm-mapping, trtllm).
        public var devices: Int?
        /// Nodes (default 1).
        public var nodes: Int?
        /// Expert groups (default 1).
        public var groups: Int?
        /// E, for the deepseek tensors (default from `logcnt.npy` or the largest id + 1).
        public var experts: Int?
        /// `--first-moe-layer` (``LayerIds``).
        public var firstMoELayer: Int?
        /// `--decoder-layers`: rows of an SGLang map.
        public var decoderLayers: Int?
        /// TensorRT-LLM's `layer_updates_per_iter` (default 0, a static balancer).
        public var layerUpdatesPerIteration: Int

        /// Creates options.
        public init(devices: Int? = nil, nodes: Int? = nil, groups: Int? = nil, experts: Int? = nil,
                    firstMoELayer: Int? = nil, decoderLayers: Int? = nil, layerUpdatesPerIteration: Int = 0) {
            self.devices = devices
            self.nodes = nodes
            self.groups = groups
            self.experts = experts
            self.firstMoELayer = firstMoELayer
            self.decoderLayers = decoderLayers
            self.layerUpdatesPerIteration = layerUpdatesPerIteration
        }
    }

    /// Whether the format writes several files (into a directory) rather than one.
    public var writesDirectory: Bool { self == .deepseek }

    /// The file(s) of a placement in this format: one unnamed file, or named files for a
    /// directory (``writesDirectory``).
    ///
    /// - Parameters:
    ///   - layerIds: the placement's decoder-layer ids, if it carries them.
    ///   - file: the placement's name, for errors.
    /// - Throws: ``InputError`` when the layer ids do not fit the format or the options.
    public func encode(_ placement: Placement, layerIds: [Int]?, options: Options = Options(),
                       file: String) throws(InputError) -> [(name: String?, bytes: [UInt8])] {
        switch self {
        case .sglang:
            let ids = try LayerIds.resolve(layerIds, layers: placement.layers, firstMoELayer: options.firstMoELayer, file: file)
            let text = try SGLangFormat.encodeMapping(placement, decoderIds: ids, decoderLayers: options.decoderLayers, file: file)
            return [(nil, Array(text.utf8))]
        case .vllmAscend:
            return [(nil, Array(VLLMAscendFormat.encode(placement).utf8))]
        case .deepseek:
            return DeepSeekTensors.encode(placement).map { (Optional($0.name), $0.bytes) }
        case .vllmMapping:
            return [(nil, Array(VLLMFormat.encodeMapping(placement).utf8))]
        case .trtllm:
            let ids = try LayerIds.resolve(layerIds, layers: placement.layers, firstMoELayer: options.firstMoELayer, file: file)
            let text = try TensorRTLLMFormat.encode(placement, decoderIds: ids,
                                                    layerUpdatesPerIteration: options.layerUpdatesPerIteration, file: file)
            return [(nil, Array(text.utf8))]
        case .rankMaps:
            return [(nil, Array(ExpertMaps.encodeFile(placement, layerIds: layerIds).utf8))]
        }
    }

    /// Reads a placement in this format from bytes (for ``deepseek``: `phy2log.npy`'s bytes, then
    /// optionally `log2phy.npy` and `logcnt.npy`, named by `files`).
    ///
    /// - Throws: ``InputError`` naming the file and field.
    public func decode(_ files: [(name: String, bytes: [UInt8])], options: Options = Options()) throws(InputError) -> EnginePlacement {
        precondition(!files.isEmpty, "decode needs at least one file")
        let (file, bytes) = files[0]
        let o = options
        switch self {
        case .sglang:
            return try SGLangFormat.decodeMapping(bytes, file: file, devices: o.devices, nodes: o.nodes, groups: o.groups,
                                                  firstMoELayer: o.firstMoELayer)
        case .vllmAscend:
            return try VLLMAscendFormat.decode(bytes, file: file, nodes: o.nodes, groups: o.groups, firstMoELayer: o.firstMoELayer)
        case .deepseek:
            return try DeepSeekTensors.decode(files, devices: o.devices, experts: o.experts, nodes: o.nodes, groups: o.groups,
                                              firstMoELayer: o.firstMoELayer)
        case .vllmMapping:
            return try VLLMFormat.decodeMapping(bytes, file: file, devices: o.devices, nodes: o.nodes, groups: o.groups,
                                                firstMoELayer: o.firstMoELayer)
        case .trtllm:
            return try TensorRTLLMFormat.decode(bytes, file: file, devices: o.devices, nodes: o.nodes, groups: o.groups).placement
        case .rankMaps:
            return try ExpertMaps.decodeFile(bytes, file: file)
        }
    }

    /// Reads back what ``encode(_:layerIds:options:file:)`` wrote and checks that it gives the
    /// identical `phy2log` (and layer ids, where the format records them): the exporter's
    /// self-check.
    ///
    /// - Returns: `nil` when the round trip is exact, else what differs.
    public func roundTripMismatch(_ placement: Placement, layerIds: [Int]?, files: [(name: String?, bytes: [UInt8])],
                                  options: Options = Options()) -> String? {
        let named = files.map { (name: $0.name ?? "output", bytes: $0.bytes) }
        var o = options
        o.devices = placement.topology.devices
        o.nodes = placement.topology.nodes
        o.groups = placement.topology.expertGroups
        o.experts = placement.experts
        if self == .sglang { o.firstMoELayer = nil }
        let back: EnginePlacement
        do { back = try decode(named, options: o) } catch { return "cannot be read back: \(error)" }
        var rows = back.placement
        if self == .sglang {
            // The map has every decoder layer; pick the placement's rows.
            guard let ids = try? LayerIds.resolve(layerIds, layers: placement.layers, firstMoELayer: options.firstMoELayer, file: "") else {
                return "layer ids do not resolve"
            }
            let p = placement.slotsPerLayer
            var flat = ContiguousArray<Int32>()
            for id in ids { flat.append(contentsOf: back.placement.physicalToLogical[(id * p)..<((id + 1) * p)]) }
            guard let picked = try? Placement(topology: placement.topology, experts: back.placement.experts, physicalToLogical: flat) else {
                return "rows do not fit"
            }
            rows = picked
        }
        if rows.physicalToLogical != placement.physicalToLogical || rows.topology != placement.topology {
            return "phy2log read back differs from the placement"
        }
        if self == .trtllm || self == .rankMaps {
            let expected = self == .trtllm
                ? (try? LayerIds.resolve(layerIds, layers: placement.layers, firstMoELayer: options.firstMoELayer, file: ""))
                : layerIds
            if back.layerIds != expected { return "layer ids read back differ" }
        }
        return nil
    }
}
