public import ExpertPlacement

/// Topology values given on the command line; each one that is set replaces the file's.
public struct TopologyOverrides: Sendable, Equatable {
    /// `--devices`.
    public var devices: Int?
    /// `--slots-per-device`.
    public var slotsPerDevice: Int?
    /// `--nodes`.
    public var nodes: Int?
    /// `--groups`.
    public var expertGroups: Int?
    /// The topology used for whatever neither these values nor the file give: a deployed plan's
    /// (`--current`) for a `.npy` window or an instance without a topology.
    public var fallback: Topology? = nil

    /// Creates overrides (all `nil`: keep the file's topology).
    public init(devices: Int? = nil, slotsPerDevice: Int? = nil, nodes: Int? = nil, expertGroups: Int? = nil) {
        self.devices = devices
        self.slotsPerDevice = slotsPerDevice
        self.nodes = nodes
        self.expertGroups = expertGroups
    }

    /// The topology the flags describe alone, when they give devices and slots (a bare
    /// `{"phy2log": …}` plan's topology); nodes and groups default to 1.
    public var topology: Topology? {
        guard let devices, let slotsPerDevice else { return nil }
        return Topology(devices: devices, slotsPerDevice: slotsPerDevice, nodes: nodes ?? 1, expertGroups: expertGroups ?? 1)
    }
}

/// An instance read from a file: instance JSON v1 (INTERFACE.md §3) or a NumPy `.npy` load array.
///
/// JSON: an object with `load` ([L][T][E], [L][E] or [E] non-negative numbers), optional
/// `schemaVersion` (must be 1 when present; files without it, such as the converted real traces,
/// are read as version 1), `name`, `topology` {devices, slotsPerDevice, nodes, expertGroups},
/// `episodeWeights` ([T]), `current` ([L][P] expert ids) and `layerIds` ([L] distinct non-negative
/// decoder-layer ids, see ``LayerIds``; absent means 0..<L). Unknown keys are ignored.
/// `.npy`: float32/float64/int32/int64, C order, shape (a, b, c) read in the order named by
/// `axes` (``LoadAxes``: (L,T,E) or (T,L,E); a 3-D array without an order is refused), (L,E) or
/// (E,); the topology then comes from the overrides alone.
public struct InstanceFile: Sendable {
    /// The instance's `name`, if it has one.
    public var name: String?
    /// The validated problem.
    public var problem: Problem
    /// The engine's decoder-layer id of each row (``LayerIds``), or `nil` when the file has none
    /// (rows are layers 0..<L).
    public var layerIds: [Int]? = nil

    /// Reads and validates an instance from `path` (`-` for standard input).
    ///
    /// - Parameters:
    ///   - overrides: topology values that replace the file's.
    ///   - axes: the axis order of a 3-D `.npy` array (required for one); see ``LoadAxes`` for
    ///     what it means for 2-D/1-D arrays and JSON.
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func load(path: String, overrides: TopologyOverrides = TopologyOverrides(),
                            axes: LoadAxes? = nil) throws(InputError) -> InstanceFile {
        if let loads = try LoadReader.read(npyFile: path, axes: axes) {
            return try numPyInstance(loads, file: InputSource.displayName(path), overrides: overrides)
        }
        let bytes = try InputSource.read(path)
        return try decode(bytes, file: InputSource.displayName(path), overrides: overrides, axes: axes)
    }

    /// Decodes an instance from bytes (JSON, or `.npy` when the bytes start with NumPy's magic).
    ///
    /// - Parameters:
    ///   - file: the name errors give the file.
    ///   - overrides: topology values that replace the file's.
    ///   - axes: the axis order of a 3-D `.npy` array (required for one); see ``LoadAxes``.
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func decode(_ bytes: [UInt8], file: String, overrides: TopologyOverrides = TopologyOverrides(),
                              axes: LoadAxes? = nil) throws(InputError) -> InstanceFile {
        if isNumPy(bytes) {
            return try numPyInstance(LoadReader.read(npy: bytes, file: file, axes: axes), file: file, overrides: overrides)
        }
        return try decode(parseJSON(bytes, file: file), file: file, overrides: overrides, axes: axes)
    }

    /// An instance of `.npy` loads: the topology comes from `overrides` alone.
    private static func numPyInstance(_ loads: LoadTensor, file: String,
                                      overrides: TopologyOverrides) throws(InputError) -> InstanceFile {
        let topology = try TopologyFields().resolve(overrides, file: file)
        do {
            return InstanceFile(name: nil, problem: try Problem(topology: topology, loads: loads))
        } catch {
            throw InputError(file: file, error)
        }
    }

    /// Reads only the loads of an instance file (JSON or `.npy`), without needing a topology: for
    /// tools that use the loads as data, such as trace generators.
    ///
    /// Every other key of a JSON instance (topology, `current`, …) is ignored, unchecked.
    ///
    /// - Parameter axes: the axis order of a 3-D `.npy` array (required for one); see ``LoadAxes``.
    /// - Returns: the loads as [L][T][E].
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func readLoads(path: String, axes: LoadAxes? = nil) throws(InputError) -> LoadTensor {
        if let loads = try LoadReader.read(npyFile: path, axes: axes) { return loads }
        let bytes = try InputSource.read(path)
        return try decodeLoads(bytes, file: InputSource.displayName(path), axes: axes)
    }

    /// Decodes only the loads of an instance (JSON or `.npy` bytes); see ``readLoads(path:axes:)``.
    ///
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func decodeLoads(_ bytes: [UInt8], file: String, axes: LoadAxes? = nil) throws(InputError) -> LoadTensor {
        if isNumPy(bytes) { return try LoadReader.read(npy: bytes, file: file, axes: axes) }
        return try jsonLoads(root(of: parseJSON(bytes, file: file), file: file), file: file, axes: axes)
    }

    /// Decodes an instance from a parsed JSON value.
    ///
    /// - Parameter axes: `nil` or `.lte` (JSON loads are [L][T][E] by contract; `.tle` is refused).
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func decode(_ value: JSONValue, file: String, overrides: TopologyOverrides = TopologyOverrides(),
                              axes: LoadAxes? = nil) throws(InputError) -> InstanceFile {
        let root = try root(of: value, file: file)
        var name: String? = nil
        if let n = root["name"] {
            guard case .string(let s) = n else {
                throw InputError(file: file, field: "name", reason: "expected a string, found \(n.kindDescription)")
            }
            name = s
        }
        let loads = try jsonLoads(root, file: file, axes: axes)

        var topology = TopologyFields()
        if let t = root["topology"] {
            guard case .object(let obj) = t else {
                throw InputError(file: file, field: "topology", reason: "expected an object, found \(t.kindDescription)")
            }
            topology.devices = try integer(obj["devices"], field: "topology.devices", file: file)
            topology.slotsPerDevice = try integer(obj["slotsPerDevice"], field: "topology.slotsPerDevice", file: file)
            topology.nodes = try integer(obj["nodes"], field: "topology.nodes", file: file)
            topology.expertGroups = try integer(obj["expertGroups"], field: "topology.expertGroups", file: file)
        }
        let resolved = try topology.resolve(overrides, file: file)

        var weights: ContiguousArray<Double>? = nil
        if let w = root["episodeWeights"] {
            guard case .array(let items) = w else {
                throw InputError(file: file, field: "episodeWeights", reason: "expected an array of numbers, found \(w.kindDescription)")
            }
            guard let numbers = items.numbers else {
                // `numbers` is nil only when some element is not a number: name the first.
                let t = items.firstIndex { $0.doubleValue == nil } ?? 0
                throw InputError(file: file, field: "episodeWeights[\(t)]", reason: "expected a number, found \(items[t].kindDescription)")
            }
            weights = numbers
        }

        // The topology's sizes are checked before `current` is read against them.
        do {
            try resolved.validate(experts: loads.experts)
            try Limits.checkSizes(layers: loads.layers, episodes: loads.episodes, experts: loads.experts, topology: resolved)
        } catch {
            throw InputError(file: file, error)
        }

        var current: Placement? = nil
        if let c = root["current"] {
            current = try readCurrent(c, topology: resolved, experts: loads.experts, layers: loads.layers, file: file)
        }
        var layerIds: [Int]? = nil
        if let ids = root["layerIds"] {
            layerIds = try LayerIds.decode(ids, layers: loads.layers, file: file)
        }
        do {
            let problem = try Problem(topology: resolved, loads: loads, episodeWeights: weights, current: current)
            return InstanceFile(name: name, problem: problem, layerIds: layerIds)
        } catch {
            throw InputError(file: file, error)
        }
    }

    /// The instance as JSON v1 (for `eplb example` and tests).
    ///
    /// - Parameter layerIds: the decoder-layer id of each row, written as `layerIds` when given.
    public static func encode(_ problem: Problem, name: String? = nil, layerIds: [Int]? = nil) -> JSONValue {
        encode(loads: problem.loads, topology: problem.topology, name: name, layerIds: layerIds,
               episodeWeights: problem.episodeWeights, current: problem.current)
    }

    /// An instance as JSON v1 from its parts; `topology` may be `nil` (given on the command line
    /// later, like the converted real traces).
    ///
    /// - Precondition: `layerIds`, when given, has one id per layer (checked by the caller).
    public static func encode(loads: LoadTensor, topology: Topology?, name: String? = nil, layerIds: [Int]? = nil,
                              episodeWeights: ContiguousArray<Double>? = nil, current: Placement? = nil) -> JSONValue {
        precondition(layerIds == nil || layerIds!.count == loads.layers, "layerIds must have one id per layer")
        var root = JSONObject()
        root["schemaVersion"] = .number(1)
        if let name { root["name"] = .string(name) }
        if let topology { root["topology"] = PlacementFile.topologyJSON(topology) }
        let l = loads.layers, t = loads.episodes, e = loads.experts
        let w = loads.values
        root["load"] = .array((0..<l).map { layer in
            .array((0..<t).map { episode in
                let base = (layer * t + episode) * e
                return .array((0..<e).map { .number(w[base + $0]) })
            })
        })
        if let episodeWeights, episodeWeights.contains(where: { $0 != 1 }) {
            root["episodeWeights"] = .array(episodeWeights.map { .number($0) })
        }
        if let current {
            root["current"] = PlacementFile.rowsJSON(current)
        }
        if let layerIds { root["layerIds"] = .array(layerIds.map { .number(Double($0)) }) }
        return .object(root)
    }

    // MARK: - Parts

    private struct TopologyFields {
        var devices: Int?, slotsPerDevice: Int?, nodes: Int?, expertGroups: Int?

        func resolve(_ o: TopologyOverrides, file: String) throws(InputError) -> Topology {
            guard let d = o.devices ?? devices ?? o.fallback?.devices else {
                throw InputError(file: file, field: "topology.devices",
                                 reason: "missing: give the topology in the file or with --devices and --slots-per-device")
            }
            guard let s = o.slotsPerDevice ?? slotsPerDevice ?? o.fallback?.slotsPerDevice else {
                throw InputError(file: file, field: "topology.slotsPerDevice",
                                 reason: "missing: give the topology in the file or with --slots-per-device")
            }
            return Topology(devices: d, slotsPerDevice: s, nodes: o.nodes ?? nodes ?? o.fallback?.nodes ?? 1,
                            expertGroups: o.expertGroups ?? expertGroups ?? o.fallback?.expertGroups ?? 1)
        }
    }

    private static func integer(_ value: JSONValue?, field: String, file: String) throws(InputError) -> Int? {
        guard let value else { return nil }
        guard case .number(let x) = value, x.isFinite, x.rounded() == x, abs(x) < 1e15 else {
            throw InputError(file: file, field: field, reason: "expected an integer, found \(describe(value))")
        }
        return Int(x)
    }

    private static func readCurrent(_ value: JSONValue, topology: Topology, experts: Int, layers: Int,
                                    file: String) throws(InputError) -> Placement {
        guard case .array(let rows) = value else {
            throw InputError(file: file, field: "current", reason: "expected an array [L][P] of expert ids, found \(value.kindDescription)")
        }
        guard rows.count == layers else {
            throw InputError(file: file, field: "current", reason: "has \(rows.count) layers but the loads have \(layers)")
        }
        let p = topology.slotCount
        var flat = ContiguousArray<Int32>()
        flat.reserveCapacity(layers * p)
        for (l, row) in rows.enumerated() {
            guard case .array(let slots) = row else {
                throw InputError(file: file, field: "current[\(l)]", reason: "expected an array of \(p) expert ids, found \(row.kindDescription)")
            }
            guard slots.count == p else {
                throw InputError(file: file, field: "current[\(l)]",
                                 reason: "has \(slots.count) slots but the topology has \(p) (\(topology.devices) devices × \(topology.slotsPerDevice))")
            }
            for (s, item) in slots.enumerated() {
                guard case .number(let x) = item, x.rounded() == x, x.isFinite else {
                    throw InputError(file: file, field: "current[\(l)][\(s)]", reason: "expected an integer expert id, found \(describe(item))")
                }
                guard x >= 0 && x < Double(experts) else {
                    throw InputError(file: file, field: "current[\(l)][\(s)]",
                                     reason: "expert id \(Int(exactly: x).map(String.init) ?? "\(x)") is out of range 0..<\(experts)")
                }
                flat.append(Int32(x))
            }
        }
        do {
            return try Placement(topology: topology, experts: experts, physicalToLogical: flat)
        } catch {
            throw InputError(file: file, error)
        }
    }

    private static func isNumPy(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59])  // "\x93NUMPY"
    }

    private static func parseJSON(_ bytes: [UInt8], file: String) throws(InputError) -> JSONValue {
        do { return try JSONParser.parse(bytes) } catch {
            throw InputError(file: file, reason: "invalid JSON: \(error)")
        }
    }

    /// The top-level object of an instance, after checking `schemaVersion`.
    private static func root(of value: JSONValue, file: String) throws(InputError) -> JSONObject {
        guard case .object(let root) = value else {
            throw InputError(file: file, reason: "expected a JSON object with a \"load\" key, found \(value.kindDescription)")
        }
        if let version = root["schemaVersion"] {
            guard let v = version.doubleValue else {
                throw InputError(file: file, field: "schemaVersion", reason: "expected the number 1, found \(version.kindDescription)")
            }
            guard v == 1 else {
                throw InputError(file: file, field: "schemaVersion",
                                 reason: "unsupported version \(describe(version)) (this eplb reads version 1)")
            }
        }
        return root
    }

    private static func jsonLoads(_ root: JSONObject, file: String, axes: LoadAxes?) throws(InputError) -> LoadTensor {
        guard let loadValue = root["load"] else {
            throw InputError(file: file, field: "load", reason: "missing: an instance needs a load array ([L][T][E], [L][E] or [E])")
        }
        if axes == .tle {
            throw InputError(file: file, field: "load",
                             reason: "JSON loads are [layers][episodes][experts] by contract; --axes tle applies to 3-D .npy arrays only")
        }
        return try LoadReader.read(loadValue, file: file)
    }
}

/// A value as an error message shows it: numbers by value, anything else by kind.
func describe(_ value: JSONValue) -> String {
    if case .number(let x) = value {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "Infinity" : "-Infinity" }
        return (try? JSONWriter.compactString(value)) ?? "\(x)"
    }
    return value.kindDescription
}
