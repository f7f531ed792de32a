public import ExpertPlacement

/// SGLang's expert-distribution recorder output and its `--init-expert-location` map file.
///
/// Sources (sgl-project/sglang, `python/sglang/srt/eplb/`): `expert_distribution.py` (the
/// recorder in `stat` mode dumps `{"rank", "logical_count", "average_utilization_rate_over_window"}`,
/// `logical_count` being `[steps, layers, experts]` per forward pass, or `[layers, experts]` when
/// accumulated) and `expert_location.py` (`compute_initial_expert_location_metadata` reads
/// `--init-expert-location` as `.pt`, `.json` or a JSON string, and passes every key of the dict
/// to `ExpertLocationMetadata.init_by_mapping(**data)`: a file with any key but
/// `physical_to_logical_map` makes SGLang fail).
///
/// SGLang has one row per decoder layer (`num_hidden_layers`: 61 for DeepSeek-V3, whose first
/// 3 layers are dense and carry no load).
public enum SGLangFormat {
    /// Reads a recorder dump saved as JSON: an object with `logical_count` `[L][E]` or `[T][L][E]`
    /// (other keys, such as `rank` and `average_utilization_rate_over_window`, are ignored).
    ///
    /// - Parameters:
    ///   - firstMoELayer: the number of leading dense layers to drop (`--first-moe-layer`); their
    ///     rows must be all zero. The kept rows get `layerIds` K..<L (SGLang's decoder-layer ids).
    ///     `nil` keeps every row, with no `layerIds`.
    ///   - stepsPerEpisode: steps summed into one episode (the last takes the remainder).
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodeLoads(_ bytes: [UInt8], file: String, firstMoELayer: Int? = nil,
                                   stepsPerEpisode: Int = 1) throws(InputError) -> EngineLoads {
        let root = try EngineIO.object(EngineIO.parseJSON(bytes, file: file), file: file, expecting: "\"logical_count\"")
        guard let value = root["logical_count"] else {
            throw InputError(file: file, field: "logical_count",
                             reason: "missing: expected SGLang's recorder output {\"logical_count\": [steps][layers][experts]}")
        }
        let tensor = try JSONTensor.read(value, ranks: 2...3, field: "logical_count", file: file)
        var loads: LoadTensor
        var notes: [String] = []
        if tensor.shape.count == 2 {
            loads = LoadTensor(layers: tensor.shape[0], episodes: 1, experts: tensor.shape[1], checkedValues: tensor.values)
        } else {
            let (steps, recorded) = try recordedSteps(tensor.values, shape: tensor.shape, file: file)
            if recorded.count < steps {
                notes.append("\(file): logical_count: \(steps - recorded.count) of \(steps) steps carry no load in any layer "
                             + "(the unused part of SGLang's step buffer, sized by --eplb-rebalance-num-iterations): dropped")
            }
            let size = tensor.shape[1] * tensor.shape[2]
            var kept = ContiguousArray<Double>()
            kept.reserveCapacity(recorded.count * size)
            for step in recorded { kept.append(contentsOf: tensor.values[step * size ..< (step + 1) * size]) }
            loads = EngineIO.fromStepsFirst(kept, steps: recorded.count, layers: tensor.shape[1], experts: tensor.shape[2])
        }
        loads = EngineIO.group(loads, stepsPerEpisode: stepsPerEpisode)
        guard let k = firstMoELayer else { return EngineLoads(loads: loads, notes: notes) }
        return EngineLoads(loads: try dropDenseLayers(loads, count: k, field: "logical_count", file: file),
                           layerIds: Array(k ..< loads.layers), notes: notes)
    }

    /// The steps of a `[T][L][E]` dump that carry load. SGLang's recorder keeps its steps in a
    /// buffer of fixed size (`--eplb-rebalance-num-iterations`, default 1,000) and dumps all of
    /// it: a recording shorter than the buffer comes with all-zero rows, which would score as
    /// perfectly balanced episodes. Kept in buffer order: after the buffer wraps, that is not time
    /// order, and the dump does not record where it wrapped.
    static func recordedSteps(_ values: ContiguousArray<Double>, shape: [Int],
                              file: String) throws(InputError) -> (steps: Int, recorded: [Int]) {
        let steps = shape[0], size = shape[1] * shape[2]
        let recorded = (0..<steps).filter { step in values[step * size ..< (step + 1) * size].contains { $0 != 0 } }
        guard !recorded.isEmpty else {
            throw InputError(file: file, field: "logical_count", reason: "none of its \(steps) steps carries any load")
        }
        return (steps, recorded)
    }

    /// Drops the first `count` layers of `[L][T][E]` loads, which must carry no load.
    static func dropDenseLayers(_ loads: LoadTensor, count k: Int, field: String, file: String) throws(InputError) -> LoadTensor {
        guard k >= 0, k < loads.layers else {
            throw InputError(file: file, field: field,
                             reason: "has \(loads.layers) layers; --first-moe-layer \(k) leaves none")
        }
        let stride = loads.episodes * loads.experts
        for layer in 0..<k where loads.values[layer * stride ..< (layer + 1) * stride].contains(where: { $0 != 0 }) {
            throw InputError(file: file, field: field,
                             reason: "layer \(layer) carries load, so it is not a dense layer before --first-moe-layer \(k)")
        }
        return LoadTensor(layers: loads.layers - k, episodes: loads.episodes, experts: loads.experts,
                          checkedValues: ContiguousArray(loads.values[(k * stride)...]))
    }

    /// The `--init-expert-location` file: `{"physical_to_logical_map": [N][P]}`, one row per
    /// decoder layer. Rows of layers the placement does not cover (dense layers) hold SGLang's
    /// trivial map, slot `p` → expert `p mod E`.
    ///
    /// - Parameters:
    ///   - decoderIds: the decoder-layer id of each placement row (``LayerIds/resolve(_:layers:firstMoELayer:file:)``).
    ///   - decoderLayers: `num_hidden_layers` (`--decoder-layers`); default the largest id + 1.
    /// - Throws: ``InputError`` when `decoderLayers` is too small for the ids.
    public static func encodeMapping(_ placement: Placement, decoderIds: [Int], decoderLayers: Int? = nil,
                                     file: String) throws(InputError) -> String {
        let n = decoderLayers ?? ((decoderIds.max() ?? 0) + 1)
        if let top = decoderIds.max(), top >= n {
            throw InputError(file: file, field: "layerIds",
                             reason: "layer id \(top) does not fit in --decoder-layers \(n)")
        }
        let p = placement.slotsPerLayer, e = placement.experts
        var rows = (0..<n).map { _ in JSONValue.array((0..<p).map { .number(Double($0 % e)) }) }
        for (l, id) in decoderIds.enumerated() {
            rows[id] = .array(placement.physicalToLogical(layer: l).map { .number(Double($0)) })
        }
        return JSONWriter.integerDocument(.object(JSONObject([("physical_to_logical_map", .array(rows))])), compact: true) + "\n"
    }

    /// Reads an `--init-expert-location` JSON file back into a placement.
    ///
    /// - Parameters:
    ///   - devices: the EP size (`--devices`): the file does not record it.
    ///   - firstMoELayer: rows before it (dense layers) are dropped, and the kept rows get
    ///     `layerIds` K..<N. `nil` keeps every row, with no `layerIds`.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodeMapping(_ bytes: [UInt8], file: String, devices: Int?, nodes: Int? = nil, groups: Int? = nil,
                                     firstMoELayer: Int? = nil) throws(InputError) -> EnginePlacement {
        let root = try EngineIO.object(EngineIO.parseJSON(bytes, file: file), file: file, expecting: "\"physical_to_logical_map\"")
        if let extra = root.keys.first(where: { $0 != "physical_to_logical_map" }) {
            throw InputError(file: file, field: extra,
                             reason: "unexpected key: SGLang passes every key to init_by_mapping, so only physical_to_logical_map may be present")
        }
        guard let value = root["physical_to_logical_map"] else {
            throw InputError(file: file, field: "physical_to_logical_map", reason: "missing")
        }
        let tensor = try JSONTensor.read(value, ranks: 2...2, field: "physical_to_logical_map", file: file, integers: true)
        let (n, p) = (tensor.shape[0], tensor.shape[1])
        let k = firstMoELayer ?? 0
        guard k < n else {
            throw InputError(file: file, field: "physical_to_logical_map", reason: "has \(n) layers; --first-moe-layer \(k) leaves none")
        }
        let topology = try EngineIO.topology(slots: p, devices: devices, nodes: nodes, groups: groups, file: file,
                                             field: "physical_to_logical_map", what: "SGLang's map")
        let flat = EngineIO.ids(tensor.values[(k * p)...])
        let placement = try EngineIO.placement(topology: topology, phy2log: flat, experts: nil, file: file)
        return EnginePlacement(placement: placement, layerIds: firstMoELayer == nil ? nil : Array(k ..< n))
    }
}
