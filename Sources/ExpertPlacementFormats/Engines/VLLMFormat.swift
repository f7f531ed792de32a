public import ExpertPlacement

/// vLLM's per-physical-slot loads and the offline-EPLB files of vLLM PR #41141.
///
/// Sources (vllm-project/vllm): `vllm/distributed/eplb/eplb_state.py` (`expert_load_view`
/// `[L, P]`: tokens per physical slot per MoE layer, and `physical_to_logical_map` `[L, P]`);
/// PR #41141 "[EPLB] Add offline expert mapping support" (open when this was written):
/// `vllm/distributed/eplb/stats_loader.py` and `tools/eplb/generate_static_mapping.py` define the
/// statistics JSONL (an `eplb_load_meta` record with `num_ranks`, `num_groups`, `num_nodes`,
/// `num_layers`, `num_redundant_experts`, then `eplb_load_stats` records with `step`,
/// `expert_load [L][P]` and `p2l_map [L][P]`) and the initial-mapping JSONL
/// (`record_type: "eplb_initial_mapping"`, `version: 1`, `num_redundant_experts`, `num_slots`,
/// `initial_global_assignments` keyed by the MoE-layer index as a string), which the server
/// reads through `--eplb-config '{"initial_mapping_path": …}'`.
///
/// vLLM counts MoE layers from 0: rows carry no `layerIds` unless `--first-moe-layer` says
/// which decoder layer the first one is.
public enum VLLMFormat {
    // MARK: - Per-slot loads

    /// Logical loads from per-physical-slot loads and the `phy2log` in force: the load of
    /// expert `e` is the sum over its replicas.
    ///
    /// - Parameters:
    ///   - loadBytes: `expert_load_view` `[L][P]`, a 2-D `.npy` or a JSON array.
    ///   - mapBytes: `phy2log` `[L][P]`, a 2-D `.npy` or a JSON array of expert ids.
    ///   - experts: E (`--experts`); default the largest id + 1.
    ///   - devices: when given, the result carries the topology and `phy2log` as `current`.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodeSlotLoads(_ loadBytes: [UInt8], file: String, phy2log mapBytes: [UInt8], mapFile: String,
                                       experts: Int? = nil, devices: Int? = nil, nodes: Int? = nil, groups: Int? = nil,
                                       firstMoELayer: Int? = nil) throws(InputError) -> EngineLoads {
        let slotLoads = try matrix(loadBytes, file: file, field: "expert_load_view", integers: false)
        let map = try matrix(mapBytes, file: mapFile, field: "phy2log", integers: true)
        guard slotLoads.shape == map.shape else {
            throw InputError(file: mapFile, field: "phy2log",
                             reason: "has shape \(map.shape) but the loads in \(file) have \(slotLoads.shape)")
        }
        let (l, p) = (map.shape[0], map.shape[1])
        let ids = EngineIO.ids(map.values)
        let e = experts ?? (Int(ids.max() ?? 0) + 1)
        if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= e }) {
            throw InputError(file: mapFile, field: "phy2log[\(bad / p)][\(bad % p)]",
                             reason: "expert id \(ids[bad]) is out of range 0..<\(e)")
        }
        guard p >= e else {
            throw InputError(file: mapFile, field: "phy2log", reason: "has \(p) slots per layer, fewer than the \(e) experts")
        }
        var values = ContiguousArray<Double>(repeating: 0, count: l * e)
        slotLoads.values.withUnsafeBufferPointer { src in
            ids.withUnsafeBufferPointer { phy in
                values.withUnsafeMutableBufferPointer { dst in
                    for layer in 0..<l {
                        EngineIO.addSlotLoads(UnsafeBufferPointer(rebasing: src[(layer * p)..<((layer + 1) * p)]),
                                              phy2log: UnsafeBufferPointer(rebasing: phy[(layer * p)..<((layer + 1) * p)]),
                                              into: UnsafeMutableBufferPointer(rebasing: dst[(layer * e)..<((layer + 1) * e)]))
                    }
                }
            }
        }
        let loads = LoadTensor(layers: l, episodes: 1, experts: e, checkedValues: values)
        var result = EngineLoads(loads: loads, layerIds: firstMoELayer.map { Array($0 ..< $0 + l) })
        if let devices {
            let topology = try EngineIO.topology(slots: p, devices: devices, nodes: nodes, groups: groups, file: mapFile,
                                                 field: "phy2log", what: "phy2log")
            result.topology = topology
            result.current = try EngineIO.placement(topology: topology, phy2log: ids, experts: e, file: mapFile)
        }
        return result
    }

    /// A 2-D `[L][P]` array from `.npy` bytes or a JSON array.
    static func matrix(_ bytes: [UInt8], file: String, field: String, integers: Bool) throws(InputError) -> JSONTensor {
        guard bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            return try JSONTensor.read(EngineIO.parseJSON(bytes, file: file), ranks: 2...2, field: field, file: file,
                                       integers: integers)
        }
        let array: NumPyArray
        do { array = try NumPyArray.decode(bytes) } catch {
            throw InputError(file: file, reason: error.message)
        }
        guard array.shape.count == 2, !array.shape.contains(0) else {
            throw InputError(file: file, field: field, reason: "expected a 2-D array [layers][physical slots], found shape \(array.shape)")
        }
        let p = array.shape[1]
        for (i, x) in array.values.enumerated() {
            let bad = integers ? (_exactInt64(x) == nil || x < 0) : LoadReader.problem(with: x) != nil
            if bad {
                throw InputError(file: file, field: "\(field)[\(i / p)][\(i % p)]",
                                 reason: integers ? "expected a non-negative integer, found \(x)" : LoadReader.problem(with: x)!)
            }
        }
        return JSONTensor(shape: array.shape, values: array.values)
    }

    // MARK: - PR #41141 statistics JSONL

    /// Reads the offline-EPLB statistics JSONL: one `eplb_load_meta` record, then
    /// `eplb_load_stats` records, each mapped to logical loads through its own `p2l_map`.
    ///
    /// One episode per record, or per `stepsPerEpisode` consecutive records (summed). The
    /// header gives the topology (`num_ranks` devices, `P / num_ranks` slots each, `num_nodes`,
    /// `num_groups`) and E = P − `num_redundant_experts`; the last record's `p2l_map` becomes
    /// `current`. Lines are named `line N` in errors.
    ///
    /// - Throws: ``InputError`` naming the file, the line and the field.
    public static func decodeStats(_ bytes: [UInt8], file: String, stepsPerEpisode: Int = 1,
                                   firstMoELayer: Int? = nil) throws(InputError) -> EngineLoads {
        var meta: JSONObject? = nil
        var topology: Topology? = nil
        var experts = 0, layers = 0, slots = 0, steps = 0
        var values = ContiguousArray<Double>()  // [T][L][E]
        var last = ContiguousArray<Int32>()
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let where_ = "line \(lineNumber)"
            let record = try EngineIO.object(EngineIO.parseJSON(Array(line), file: "\(file): \(where_)"),
                                             file: "\(file): \(where_)", expecting: "\"record_type\"")
            func field(_ name: String) -> String { "\(where_).\(name)" }
            switch record["record_type"]?.stringValue {
            case "eplb_load_meta":
                guard meta == nil else {
                    throw InputError(file: file, field: field("record_type"), reason: "a second eplb_load_meta record")
                }
                try checkVersion(record, field: field("version"), file: file)
                meta = record
            case "eplb_load_stats":
                if meta == nil, record["num_ranks"] != nil, record["num_redundant_experts"] == nil,
                   let mapValue = record["p2l_map"] {
                    // An earlier revision of PR #41141 writes no meta record: each stats record
                    // carries num_ranks and num_layers, and the logical experts are the ids of
                    // its p2l_map (every expert has a replica).
                    let map = try JSONTensor.read(mapValue, ranks: 2...2, field: field("p2l_map"), file: file, integers: true)
                    var inferred = record
                    inferred["num_redundant_experts"] = .number(Double(map.shape[1] - (Int(map.values.max() ?? 0) + 1)))
                    meta = inferred
                }
                guard let meta else {
                    throw InputError(file: file, field: field("record_type"), reason: "eplb_load_stats before the eplb_load_meta record")
                }
                try checkVersion(record, field: field("version"), file: file)
                guard let loadValue = record["expert_load"], let mapValue = record["p2l_map"] else {
                    throw InputError(file: file, field: field(record["expert_load"] == nil ? "expert_load" : "p2l_map"), reason: "missing")
                }
                let load = try JSONTensor.read(loadValue, ranks: 2...2, field: field("expert_load"), file: file)
                let map = try JSONTensor.read(mapValue, ranks: 2...2, field: field("p2l_map"), file: file, integers: true)
                guard load.shape == map.shape else {
                    throw InputError(file: file, field: field("p2l_map"), reason: "has shape \(map.shape) but expert_load has \(load.shape)")
                }
                if topology == nil {
                    (layers, slots) = (load.shape[0], load.shape[1])
                    let ranks = try EngineIO.integer(meta, "num_ranks", field: "eplb_load_meta.num_ranks", file: file, minimum: 1)
                    let redundant = try EngineIO.integer(meta, "num_redundant_experts", field: "eplb_load_meta.num_redundant_experts", file: file)
                    let nodes = meta["num_nodes"] == nil ? 1
                        : try EngineIO.integer(meta, "num_nodes", field: "eplb_load_meta.num_nodes", file: file, minimum: 1)
                    let groups = meta["num_groups"] == nil ? 1
                        : try EngineIO.integer(meta, "num_groups", field: "eplb_load_meta.num_groups", file: file, minimum: 1)
                    if let declared = meta["num_layers"], declared.intValue != layers {
                        throw InputError(file: file, field: field("expert_load"),
                                         reason: "has \(layers) layers but eplb_load_meta.num_layers says \(describe(declared))")
                    }
                    guard slots % ranks == 0 else {
                        throw InputError(file: file, field: field("expert_load"), reason: "\(slots) slots do not divide over num_ranks \(ranks)")
                    }
                    guard redundant < slots else {
                        throw InputError(file: file, field: "eplb_load_meta.num_redundant_experts",
                                         reason: "\(redundant) leaves no logical expert in \(slots) slots")
                    }
                    experts = slots - redundant
                    topology = Topology(devices: ranks, slotsPerDevice: slots / ranks, nodes: nodes, expertGroups: groups)
                } else if load.shape != [layers, slots] {
                    throw InputError(file: file, field: field("expert_load"), reason: "has shape \(load.shape) but the first record has [\(layers), \(slots)]")
                }
                let ids = EngineIO.ids(map.values)
                if let bad = ids.firstIndex(where: { Int($0) >= experts }) {
                    throw InputError(file: file, field: field("p2l_map[\(bad / slots)][\(bad % slots)]"),
                                     reason: "expert id \(ids[bad]) is out of range 0..<\(experts) (slots − num_redundant_experts)")
                }
                let base = values.count
                values.append(contentsOf: repeatElement(0, count: layers * experts))
                load.values.withUnsafeBufferPointer { src in
                    ids.withUnsafeBufferPointer { phy in
                        values.withUnsafeMutableBufferPointer { dst in
                            for layer in 0..<layers {
                                EngineIO.addSlotLoads(UnsafeBufferPointer(rebasing: src[(layer * slots)..<((layer + 1) * slots)]),
                                                      phy2log: UnsafeBufferPointer(rebasing: phy[(layer * slots)..<((layer + 1) * slots)]),
                                                      into: UnsafeMutableBufferPointer(rebasing: dst[(base + layer * experts)..<(base + (layer + 1) * experts)]))
                            }
                        }
                    }
                }
                last = ids
                steps += 1
            case let other:
                throw InputError(file: file, field: field("record_type"),
                                 reason: "unexpected record_type \(other.map { "\"\($0)\"" } ?? "(missing)"); expected eplb_load_meta or eplb_load_stats")
            }
        }
        guard meta != nil else { throw InputError(file: file, reason: "no eplb_load_meta record found") }
        guard let topology, steps > 0 else { throw InputError(file: file, reason: "no eplb_load_stats records found") }
        let loads = EngineIO.group(EngineIO.fromStepsFirst(values, steps: steps, layers: layers, experts: experts),
                                   stepsPerEpisode: stepsPerEpisode)
        let current = try EngineIO.placement(topology: topology, phy2log: last, experts: experts, file: file)
        return EngineLoads(loads: loads, layerIds: firstMoELayer.map { Array($0 ..< $0 + layers) }, topology: topology, current: current)
    }

    private static func checkVersion(_ record: JSONObject, field: String, file: String) throws(InputError) {
        if let v = record["version"], v.intValue != 1 {
            throw InputError(file: file, field: field, reason: "unsupported version \(describe(v)) (this eplb reads version 1)")
        }
    }

    // MARK: - PR #41141 initial-mapping JSONL

    /// The initial-mapping JSONL record (one line), rows keyed `"0"`, `"1"`, … by MoE-layer index.
    public static func encodeMapping(_ placement: Placement) -> String {
        let p = placement.slotsPerLayer
        var assignments = JSONObject()
        for l in 0..<placement.layers {
            assignments[String(l)] = .array(placement.physicalToLogical(layer: l).map { .number(Double($0)) })
        }
        let record = JSONObject([
            ("record_type", .string("eplb_initial_mapping")), ("version", .number(1)),
            ("num_redundant_experts", .number(Double(p - placement.experts))), ("num_slots", .number(Double(p))),
            ("initial_global_assignments", .object(assignments)),
        ])
        return JSONWriter.integerDocument(.object(record), compact: true) + "\n"
    }

    /// Reads the first `eplb_initial_mapping` record of a JSONL file.
    ///
    /// - Parameters:
    ///   - devices: the EP size (`--devices`): the record does not carry it.
    ///   - firstMoELayer: when given, rows get `layerIds` K..<K+L.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodeMapping(_ bytes: [UInt8], file: String, devices: Int?, nodes: Int? = nil, groups: Int? = nil,
                                     firstMoELayer: Int? = nil) throws(InputError) -> EnginePlacement {
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let name = "\(file): line \(lineNumber)"
            let record = try EngineIO.object(EngineIO.parseJSON(Array(line), file: name), file: name, expecting: "\"record_type\"")
            guard record["record_type"]?.stringValue == "eplb_initial_mapping" else { continue }
            try checkVersion(record, field: "version", file: name)
            let slots = try EngineIO.integer(record, "num_slots", file: name, minimum: 1)
            let redundant = try EngineIO.integer(record, "num_redundant_experts", file: name)
            guard redundant < slots else {
                throw InputError(file: name, field: "num_redundant_experts", reason: "\(redundant) leaves no logical expert in \(slots) slots")
            }
            guard case .object(let rows)? = record["initial_global_assignments"] else {
                throw InputError(file: name, field: "initial_global_assignments", reason: "missing or not an object keyed by MoE-layer index")
            }
            let topology = try EngineIO.topology(slots: slots, devices: devices, nodes: nodes, groups: groups, file: name,
                                                 field: "num_slots", what: "the mapping record")
            var flat = ContiguousArray<Int32>()
            flat.reserveCapacity(rows.count * slots)
            for l in 0..<rows.count {
                guard let row = rows[String(l)] else {
                    throw InputError(file: name, field: "initial_global_assignments",
                                     reason: "has \(rows.count) layers but no key \"\(l)\" (keys must be the MoE-layer indices 0..<\(rows.count))")
                }
                let t = try JSONTensor.read(row, ranks: 1...1, field: "initial_global_assignments.\(l)", file: name, integers: true)
                guard t.shape[0] == slots else {
                    throw InputError(file: name, field: "initial_global_assignments.\(l)", reason: "has \(t.shape[0]) slots but num_slots is \(slots)")
                }
                flat.append(contentsOf: EngineIO.ids(t.values))
            }
            guard !rows.isEmpty else {
                throw InputError(file: name, field: "initial_global_assignments", reason: "is empty")
            }
            let placement = try EngineIO.placement(topology: topology, phy2log: flat, experts: slots - redundant, file: name)
            return EnginePlacement(placement: placement, layerIds: firstMoELayer.map { Array($0 ..< $0 + rows.count) })
        }
        throw InputError(file: file, reason: "no eplb_initial_mapping record found")
    }
}
