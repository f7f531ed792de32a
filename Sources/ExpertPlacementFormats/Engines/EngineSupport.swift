public import ExpertPlacement

/// Loads read from a serving engine's dump (``SGLangFormat``, ``VLLMFormat``,
/// ``TensorRTLLMFormat``), before they become an instance file.
public struct EngineLoads: Sendable, Equatable {
    /// The loads, `[L][T][E]` (T episodes; one per step or per group of steps).
    public var loads: LoadTensor
    /// The engine's decoder-layer id of each row (see ``LayerIds``), or `nil` for rows 0..<L.
    public var layerIds: [Int]?
    /// The topology, when the dump records it (vLLM's statistics header); `nil` otherwise.
    public var topology: Topology?
    /// The placement in force at the end of the dump, when the dump records it.
    public var current: Placement?
    /// What the reader changed or could not tell, for the user (each names the file and field).
    public var notes: [String] = []

    /// Creates loads read from a dump.
    public init(loads: LoadTensor, layerIds: [Int]? = nil, topology: Topology? = nil, current: Placement? = nil,
                notes: [String] = []) {
        self.loads = loads
        self.layerIds = layerIds
        self.topology = topology
        self.current = current
        self.notes = notes
    }
}

/// A placement read from an engine's map file, with the engine's layer ids.
public struct EnginePlacement: Sendable, Equatable {
    /// The placement (`phy2log` is the source of truth).
    public var placement: Placement
    /// The decoder-layer id of each row (see ``LayerIds``), or `nil` for rows 0..<L.
    public var layerIds: [Int]?

    /// Creates a placement with layer ids.
    public init(placement: Placement, layerIds: [Int]? = nil) {
        self.placement = placement
        self.layerIds = layerIds
    }
}

/// Layer identity: which of the model's decoder layers each row of an instance or placement is.
///
/// Engines number layers differently. SGLang has one row per decoder layer (61 for DeepSeek-V3,
/// the first 3 dense); vLLM and vllm-ascend count MoE layers from 0; TensorRT-LLM keys by the
/// absolute decoder-layer id. Instances and placements may carry `layerIds`: the decoder-layer
/// id of each row, distinct and non-negative, one per row. Absent, row `l` is layer `l`.
/// Converting between the two numberings is always explicit: `--first-moe-layer K` says that
/// MoE layer `i` is decoder layer `K + i`.
public enum LayerIds {
    /// The largest layer id read or written (models have tens to hundreds of decoder layers; an
    /// SGLang map has one row per id up to the largest, so ids far beyond would be rows no one
    /// could write or load).
    public static let maximum = 100_000

    /// Checks a `layerIds` value read from JSON: an array of `layers` distinct non-negative integers.
    ///
    /// - Throws: ``InputError`` naming `field`.
    public static func decode(_ value: JSONValue, layers: Int, field: String = "layerIds",
                              file: String) throws(InputError) -> [Int] {
        guard case .array(let items) = value else {
            throw InputError(file: file, field: field, reason: "expected an array of \(layers) layer ids, found \(value.kindDescription)")
        }
        guard items.count == layers else {
            throw InputError(file: file, field: field, reason: "has \(items.count) ids but there are \(layers) layers")
        }
        var ids: [Int] = []
        ids.reserveCapacity(layers)
        for (i, item) in items.enumerated() {
            guard let id = item.intValue, id >= 0 else {
                throw InputError(file: file, field: "\(field)[\(i)]", reason: "expected a non-negative integer layer id, found \(describe(item))")
            }
            ids.append(id)
        }
        try check(ids, layers: layers, field: field, file: file)
        return ids
    }

    /// Checks ids: `layers` of them, non-negative, distinct.
    ///
    /// - Throws: ``InputError`` naming `field`.
    public static func check(_ ids: [Int], layers: Int, field: String = "layerIds", file: String) throws(InputError) {
        guard ids.count == layers else {
            throw InputError(file: file, field: field, reason: "has \(ids.count) ids but there are \(layers) layers")
        }
        var seen = Set<Int>()
        for (i, id) in ids.enumerated() {
            guard id >= 0 else {
                throw InputError(file: file, field: "\(field)[\(i)]", reason: "layer id \(id) is negative")
            }
            guard id <= maximum else {
                throw InputError(file: file, field: "\(field)[\(i)]", reason: "layer id \(id) is above \(maximum)")
            }
            guard seen.insert(id).inserted else {
                throw InputError(file: file, field: "\(field)[\(i)]", reason: "layer id \(id) appears twice")
            }
        }
    }

    /// Checks that a placement read from `file` holds the layers of the instance read from
    /// `instanceFile`, row for row, when both files name their rows' decoder layers (commands pair
    /// rows by position; a file without `layerIds` is taken as it is).
    ///
    /// - Throws: ``InputError`` naming the placement's `layerIds` when the two lists differ.
    public static func requireSame(_ ids: [Int]?, file: String, as instanceIds: [Int]?, of instanceFile: String) throws(InputError) {
        guard let ids, let instanceIds, ids != instanceIds else { return }
        let row = (0..<Swift.min(ids.count, instanceIds.count)).first { ids[$0] != instanceIds[$0] } ?? Swift.min(ids.count, instanceIds.count)
        let here = row < ids.count ? "decoder layer \(ids[row])" : "missing"
        let there = row < instanceIds.count ? "decoder layer \(instanceIds[row])" : "missing"
        let what = Set(ids) == Set(instanceIds)
            ? "the same layers in another order; rows are paired by position, so write the placement in \(instanceFile)'s layer order"
            : "a placement for other layers"
        let reason = "row \(row) is \(here) here but \(there) in \(instanceFile) (\(summary(ids)) against \(summary(instanceIds)): \(what))"
        throw InputError(file: file, field: "layerIds", reason: reason)
    }

    /// The decoder-layer id of each of `layers` rows: `ids` when the file carries them, else
    /// `firstMoELayer + l` (`firstMoELayer` defaults to 0: every layer is an MoE layer).
    ///
    /// - Throws: ``InputError`` when both are given and disagree (the file already says).
    public static func resolve(_ ids: [Int]?, layers: Int, firstMoELayer: Int?, file: String) throws(InputError) -> [Int] {
        if let ids {
            if let k = firstMoELayer, ids != Array(k ..< k + layers) {
                throw InputError(file: file, field: "layerIds",
                                 reason: "the file's layer ids \(summary(ids)) disagree with --first-moe-layer \(k); drop the flag")
            }
            return ids
        }
        let k = firstMoELayer ?? 0
        return Array(k ..< k + layers)
    }

    /// `[3, 4, …, 60]` for long lists.
    static func summary(_ ids: [Int]) -> String {
        ids.count <= 6 ? "\(ids)" : "[\(ids[0]), \(ids[1]), …, \(ids[ids.count - 1])]"
    }
}

/// A dense numeric array read from JSON nested lists: its shape and values in C order.
struct JSONTensor {
    var shape: [Int]
    var values: ContiguousArray<Double>

    /// Reads `value` as a rectangular array nested exactly `rank` deep (any of `ranks`), naming
    /// bad entries `field[i][j]…`.
    ///
    /// - Parameter integers: entries must be integers (ids) rather than any finite number.
    static func read(_ value: JSONValue, ranks: ClosedRange<Int>, field: String, file: String,
                     integers: Bool = false, nonNegative: Bool = true) throws(InputError) -> JSONTensor {
        var shape: [Int] = []
        var probe = value
        while case .array(let items) = probe {
            guard let first = items.first else {
                throw InputError(file: file, field: field + String(repeating: "[0]", count: shape.count), reason: "is empty")
            }
            shape.append(items.count)
            probe = first
            if shape.count > ranks.upperBound { break }
        }
        guard ranks.contains(shape.count), case .number = probe else {
            let expected = ranks.map { "\($0)-D" }.joined(separator: " or ")
            throw InputError(file: file, field: field,
                             reason: "expected a \(expected) array of numbers, found \(shape.count == 0 ? value.kindDescription : "\(shape.count)-D nesting of \(probe.kindDescription)")")
        }
        var values = ContiguousArray<Double>()
        values.reserveCapacity(shape.reduce(1, *))
        try walk(value, level: 0, shape: shape, path: field, values: &values, file: file,
                 integers: integers, nonNegative: nonNegative)
        return JSONTensor(shape: shape, values: values)
    }

    private static func walk(_ value: JSONValue, level: Int, shape: [Int], path: String, values: inout ContiguousArray<Double>,
                             file: String, integers: Bool, nonNegative: Bool) throws(InputError) {
        guard case .array(let items) = value else {
            throw InputError(file: file, field: path, reason: "expected an array, found \(describe(value)) (ragged array?)")
        }
        guard items.count == shape[level] else {
            throw InputError(file: file, field: path,
                             reason: "has \(items.count) entries, expected \(shape[level]) like the first row (ragged array)")
        }
        if level == shape.count - 1 {
            for (i, item) in items.enumerated() {
                guard case .number(let x) = item else {
                    throw InputError(file: file, field: "\(path)[\(i)]", reason: "expected a number, found \(item.kindDescription)")
                }
                if integers {
                    guard item.intValue != nil, abs(x) < 1e15 else {
                        throw InputError(file: file, field: "\(path)[\(i)]", reason: "expected an integer, found \(describe(item))")
                    }
                    if nonNegative && x < 0 {
                        throw InputError(file: file, field: "\(path)[\(i)]", reason: "expected a non-negative integer, found \(describe(item))")
                    }
                } else if let reason = LoadReader.problem(with: x) {
                    throw InputError(file: file, field: "\(path)[\(i)]", reason: reason)
                }
                values.append(x)
            }
        } else {
            for (i, item) in items.enumerated() {
                try walk(item, level: level + 1, shape: shape, path: "\(path)[\(i)]", values: &values, file: file,
                         integers: integers, nonNegative: nonNegative)
            }
        }
    }
}

/// Helpers shared by the engine formats.
enum EngineIO {
    static func parseJSON(_ bytes: [UInt8], file: String) throws(InputError) -> JSONValue {
        do { return try JSONParser.parse(bytes) } catch {
            throw InputError(file: file, reason: "invalid JSON: \(error)")
        }
    }

    static func object(_ value: JSONValue, file: String, expecting keys: String) throws(InputError) -> JSONObject {
        guard case .object(let o) = value else {
            throw InputError(file: file, reason: "expected a JSON object with \(keys), found \(value.kindDescription)")
        }
        return o
    }

    static func integer(_ o: JSONObject, _ key: String, field: String? = nil, file: String,
                        minimum: Int = 0) throws(InputError) -> Int {
        let name = field ?? key
        guard let v = o[key] else { throw InputError(file: file, field: name, reason: "missing") }
        guard let i = v.intValue, i >= minimum else {
            throw InputError(file: file, field: name, reason: "expected an integer ≥ \(minimum), found \(describe(v))")
        }
        return i
    }

    /// The topology of a placement whose file gives only the slot count per layer: `devices`
    /// must divide it.
    static func topology(slots: Int, devices: Int?, nodes: Int?, groups: Int?, file: String,
                         field: String, what: String) throws(InputError) -> Topology {
        guard let d = devices else {
            throw InputError(file: file, field: field,
                             reason: "\(what) does not record the number of devices (EP ranks); pass --devices")
        }
        guard d >= 1, slots % d == 0 else {
            throw InputError(file: file, field: field, reason: "\(slots) slots per layer do not divide evenly over \(d) devices (--devices)")
        }
        return Topology(devices: d, slotsPerDevice: slots / d, nodes: nodes ?? 1, expertGroups: groups ?? 1)
    }

    /// A placement from flat `phy2log` ids, the expert count being `experts` or the largest id + 1.
    static func placement(topology: Topology, phy2log: ContiguousArray<Int32>, experts: Int?, file: String) throws(InputError) -> Placement {
        let e = experts ?? (Int(phy2log.max() ?? 0) + 1)
        do {
            return try Placement(topology: topology, experts: e, physicalToLogical: phy2log)
        } catch {
            throw InputError(file: file, error)
        }
    }

    /// Groups `[L][T][E]` loads into episodes of `steps` consecutive steps (summed); the last
    /// episode holds the remainder when `steps` does not divide T.
    static func group(_ loads: LoadTensor, stepsPerEpisode steps: Int) -> LoadTensor {
        precondition(steps >= 1, "stepsPerEpisode must be at least 1 (checked by the caller)")
        if steps == 1 { return loads }
        let (l, t, e) = (loads.layers, loads.episodes, loads.experts)
        let episodes = t / steps + (t % steps == 0 ? 0 : 1)  // ⌈t / steps⌉ without overflow
        var out = ContiguousArray<Double>(repeating: 0, count: l * episodes * e)
        loads.values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for layer in 0..<l {
                    for step in 0..<t {
                        let from = (layer * t + step) * e, to = (layer * episodes + step / steps) * e
                        for x in 0..<e { dst[to + x] += src[from + x] }
                    }
                }
            }
        }
        return LoadTensor(layers: l, episodes: episodes, experts: e, checkedValues: out)
    }

    /// Reorders `[T][L][E]` values into a `[L][T][E]` tensor.
    static func fromStepsFirst(_ values: ContiguousArray<Double>, steps t: Int, layers l: Int, experts e: Int) -> LoadTensor {
        var out = ContiguousArray<Double>(repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for step in 0..<t {
                    for layer in 0..<l {
                        let from = (step * l + layer) * e, to = (layer * t + step) * e
                        for x in 0..<e { dst[to + x] = src[from + x] }
                    }
                }
            }
        }
        return LoadTensor(layers: l, episodes: t, experts: e, checkedValues: out)
    }

    /// Integral values (checked by ``JSONTensor`` or the caller) as expert ids; values past
    /// `Int32` are clamped, so that validation reports them out of range.
    static func ids<C: Collection>(_ values: C) -> ContiguousArray<Int32> where C.Element == Double {
        ContiguousArray(values.map { Int32(clamping: Int(exactly: $0) ?? Int(Int32.max)) })
    }

    /// Sums per-slot loads `[P]` into per-expert loads through `phy2log` row `[P]`.
    static func addSlotLoads(_ slotLoads: UnsafeBufferPointer<Double>, phy2log: UnsafeBufferPointer<Int32>,
                             into experts: UnsafeMutableBufferPointer<Double>) {
        for p in 0..<slotLoads.count { experts[Int(phy2log[p])] += slotLoads[p] }
    }
}
