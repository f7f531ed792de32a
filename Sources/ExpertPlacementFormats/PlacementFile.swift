public import ExpertPlacement

/// The placement file, `schemaVersion: 1` (INTERFACE.md §3): `phy2log` (the source of truth),
/// the derived `logcnt` and `log2phy`, optional `metrics` and `solver` blocks.
public enum PlacementFile {
    /// The `solver` block of a placement file.
    public struct SolverInfo: Sendable, Equatable {
        /// `greedy`, `hierarchical`, …
        public var method: String
        /// The objective bounds and gaps refer to.
        public var objective: Objective
        /// What the solver concluded.
        public var status: SolveStatus
        /// Solve time in seconds; `nil` omits it (for byte-identical fixtures).
        public var wallSeconds: Double?
        /// Remarks (a fallback taken, …); written only when non-empty.
        public var notes: [String]
        /// Layers per bound source (``BoundSource``): what each reported `lowerBound` rests on;
        /// written as `solver.lowerBoundSources` when non-empty.
        public var boundSources: [BoundSource: Int] = [:]
        /// Solver settings worth recording (tolerance, time limit, library version); written as
        /// `solver.settings` when non-empty.
        public var settings = JSONObject()

        /// Creates a solver block.
        public init(method: String, objective: Objective, status: SolveStatus, wallSeconds: Double?, notes: [String] = []) {
            self.method = method
            self.objective = objective
            self.status = status
            self.wallSeconds = wallSeconds
            self.notes = notes
        }

        /// The block for a solver's report.
        public init(_ report: SolveReport, includeTiming: Bool = true) {
            let seconds = report.wallTime.inSeconds
            self.init(method: report.method, objective: report.objective, status: report.status,
                      wallSeconds: includeTiming ? seconds : nil, notes: report.notes)
            for source in report.boundSources ?? [] { boundSources[source, default: 0] += 1 }
        }
    }

    /// The placement file as JSON.
    ///
    /// - Parameters:
    ///   - placement: the plan.
    ///   - metrics: its metrics (omitted when `nil`).
    ///   - solver: the solver block (omitted when `nil`).
    ///   - layerIds: the decoder-layer id of each row (``LayerIds``), written when given.
    /// - Precondition: `layerIds`, when given, has one id per layer.
    public static func encode(_ placement: Placement, metrics: PlacementMetrics? = nil,
                              solver: SolverInfo? = nil, layerIds: [Int]? = nil) -> JSONValue {
        precondition(layerIds == nil || layerIds!.count == placement.layers, "layerIds must have one id per layer")
        var root = JSONObject()
        root["schemaVersion"] = .number(1)
        root["topology"] = topologyJSON(placement.topology)
        root["layers"] = .number(Double(placement.layers))
        root["experts"] = .number(Double(placement.experts))
        root["phy2log"] = rowsJSON(placement)
        root["logcnt"] = .array((0..<placement.layers).map { l in
            .array(placement.replicaCounts(layer: l).map { .number(Double($0)) })
        })
        root["log2phy"] = .array((0..<placement.layers).map { l in
            .array(placement.logicalToPhysical(layer: l).map { .array($0.map { .number(Double($0)) }) })
        })
        if let layerIds { root["layerIds"] = .array(layerIds.map { .number(Double($0)) }) }
        if let metrics { root["metrics"] = metricsJSON(metrics) }
        if let solver {
            var s = JSONObject()
            s["method"] = .string(solver.method)
            s["objective"] = .string(solver.objective.rawValue)
            s["status"] = .string(solver.status.rawValue)
            if let seconds = solver.wallSeconds { s["wallSeconds"] = .number(seconds) }
            s["version"] = .string(ExpertPlacementVersion.string)
            if !solver.notes.isEmpty { s["notes"] = .array(solver.notes.map { .string($0) }) }
            if !solver.settings.keys.isEmpty { s["settings"] = .object(solver.settings) }
            if !solver.boundSources.isEmpty {
                s["lowerBoundSources"] = .object(JSONObject(solver.boundSources.map { ($0.key.rawValue, .number(Double($0.value))) }))
            }
            root["solver"] = .object(s)
        }
        return .object(root)
    }

    /// The `metrics` block: per-layer records and, for each metric, its mean and max over layers
    /// (`moves`: sum, mean and max).
    public static func metricsJSON(_ metrics: PlacementMetrics) -> JSONValue {
        var root = JSONObject()
        root["layers"] = .array(metrics.layers.map(layerMetricsJSON))
        var summary = JSONObject()
        let fields: [(String, (LayerMetrics) -> Double?)] = [
            ("meanImbalance", { $0.meanImbalance }), ("worstImbalance", { $0.worstImbalance }),
            ("aggregateImbalance", { $0.aggregateImbalance }), ("peakSum", { $0.peakSum }),
            ("lowerBound", { $0.lowerBound }), ("gap", { $0.gap }), ("cappedImbalance", { $0.cappedImbalance }),
        ]
        for (key, get) in fields {
            if let s = metrics.summary(get) {
                summary[key] = .object(JSONObject([("mean", .number(s.mean)), ("max", .number(s.max))]))
            }
        }
        if let total = metrics.totalMoves, let s = metrics.summary({ $0.moves.map(Double.init) }) {
            summary["moves"] = .object(JSONObject([("sum", .number(Double(total))), ("mean", .number(s.mean)),
                                                   ("max", .number(s.max))]))
        }
        root["summary"] = .object(summary)
        return .object(root)
    }

    /// One layer's metrics record: the four metrics, and `lowerBound`, `gap`, `moves` and
    /// `cappedImbalance` when set.
    static func layerMetricsJSON(_ m: LayerMetrics) -> JSONValue {
        var o = JSONObject()
        o["meanImbalance"] = .number(m.meanImbalance)
        o["worstImbalance"] = .number(m.worstImbalance)
        o["aggregateImbalance"] = .number(m.aggregateImbalance)
        o["peakSum"] = .number(m.peakSum)
        if let lb = m.lowerBound { o["lowerBound"] = .number(lb) }
        if let gap = m.gap { o["gap"] = .number(gap) }
        if let moves = m.moves { o["moves"] = .number(Double(moves)) }
        if let capped = m.cappedImbalance { o["cappedImbalance"] = .number(capped) }
        return .object(o)
    }

    /// Reads a placement file. `experts` (from the instance) is used when the file lacks
    /// `experts`; otherwise the largest id + 1 is assumed, at most `P` (an id ≥ `P` cannot be
    /// valid and is reported out of range by ``Validation``). `topology` (from the instance or the
    /// command line) is used when the file lacks `topology`, as peers' bare `{"phy2log": …}`
    /// plans do; the file's own topology always wins. Sizes beyond ``Limits`` are refused.
    ///
    /// Only the shape is checked here; ``Validation`` checks the rules.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decode(_ bytes: [UInt8], file: String, experts: Int? = nil,
                              topology: Topology? = nil) throws(InputError) -> Placement {
        try decodeDocument(bytes, file: file, experts: experts, topology: topology).placement
    }

    /// A placement file with what a rebalance recorded in it: the placement,
    /// `recordedImbalance` (each layer's objective value right after its last update) and
    /// `layerIds` (the decoder-layer id of each row, ``LayerIds``) when present. `experts` and
    /// `topology` fill in what the file lacks, as in ``decode(_:file:experts:topology:)``.
    ///
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodeDocument(_ bytes: [UInt8], file: String, experts: Int? = nil,
                                      topology fallback: Topology? = nil) throws(InputError)
        -> (placement: Placement, recordedImbalance: [Double]?, layerIds: [Int]?) {
        try decodeDocument(parse(bytes, file: file), file: file, experts: experts, topology: fallback)
    }

    /// A plan of an instance's layers: decoded against the instance's expert count and topology
    /// (``decodeDocument(_:file:experts:topology:)``), and refused when both files name their
    /// decoder layers and they differ, since rows are paired by position
    /// (``LayerIds/requireSame(_:file:as:of:)``).
    ///
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodePlan(_ bytes: [UInt8], file: String, of problem: Problem, layerIds instanceLayerIds: [Int]?,
                                  instanceFile: String) throws(InputError) -> Placement {
        let document = try decodeDocument(bytes, file: file, experts: problem.experts, topology: problem.topology)
        try LayerIds.requireSame(document.layerIds, file: file, as: instanceLayerIds, of: instanceFile)
        return document.placement
    }

    /// A placement file's JSON (a NumPy file is named as such, not as bad JSON).
    ///
    /// - Throws: ``InputError`` naming the file.
    public static func parse(_ bytes: [UInt8], file: String) throws(InputError) -> JSONValue {
        if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {  // \x93NUMPY
            throw InputError(file: file, reason: "is a NumPy .npy file, not a placement file (JSON with \"phy2log\")")
        }
        do { return try JSONParser.parse(bytes) } catch {
            throw InputError(file: file, reason: "invalid JSON: \(error)")
        }
    }

    /// ``decodeDocument(_:file:experts:topology:)`` on a parsed value (a placement object nested
    /// in another document).
    public static func decodeDocument(_ value: JSONValue, file: String, experts: Int? = nil,
                               topology fallback: Topology? = nil) throws(InputError)
        -> (placement: Placement, recordedImbalance: [Double]?, layerIds: [Int]?) {
        guard case .object(let root) = value else {
            throw InputError(file: file, reason: "expected a placement object with \"phy2log\", found \(value.kindDescription)")
        }
        if let version = root["schemaVersion"], version.doubleValue != 1 {
            throw InputError(file: file, field: "schemaVersion", reason: "unsupported version \(describe(version)) (this eplb reads version 1)")
        }
        let t: JSONObject
        switch root["topology"] {
        case .object(let object)?:
            t = object
        case nil where fallback != nil:
            let f = fallback!
            t = JSONObject([("devices", .number(Double(f.devices))), ("slotsPerDevice", .number(Double(f.slotsPerDevice))),
                            ("nodes", .number(Double(f.nodes))), ("expertGroups", .number(Double(f.expertGroups)))])
        default:
            throw InputError(file: file, field: "topology", reason: root["topology"] == nil
                             ? "missing (give an instance with a topology, or --devices and --slots-per-device)" : "expected an object")
        }
        func int(_ key: String, default value: Int? = nil) throws(InputError) -> Int {
            guard let v = t[key] else {
                if let value { return value }
                throw InputError(file: file, field: "topology.\(key)", reason: "missing")
            }
            guard let i = v.intValue else {
                throw InputError(file: file, field: "topology.\(key)", reason: "expected an integer, found \(describe(v))")
            }
            return i
        }
        let topology = Topology(devices: try int("devices"), slotsPerDevice: try int("slotsPerDevice"),
                                nodes: try int("nodes", default: 1), expertGroups: try int("expertGroups", default: 1))
        // The rules of an instance's topology that do not depend on the experts.
        do { try topology.validateCounts() } catch { throw InputError(file: file, error) }
        let p: Int
        do { p = try Limits.slotCount(devices: topology.devices, slotsPerDevice: topology.slotsPerDevice) } catch {
            throw InputError(file: file, error)
        }
        guard let rowsValue = root["phy2log"] else {
            throw InputError(file: file, field: "phy2log", reason: "missing")
        }
        guard case .array(let rows) = rowsValue, !rows.isEmpty else {
            throw InputError(file: file, field: "phy2log", reason: "expected a non-empty array [L][P] of expert ids")
        }
        do { try Limits.checkCells([rows.count, p], what: "layers × slots", field: "phy2log") } catch {
            throw InputError(file: file, error)
        }
        var flat = ContiguousArray<Int32>()
        flat.reserveCapacity(rows.count * p)
        for (l, row) in rows.enumerated() {
            guard case .array(let slots) = row else {
                throw InputError(file: file, field: "phy2log[\(l)]", reason: "expected an array, found \(row.kindDescription)")
            }
            guard slots.count == p else {
                throw InputError(file: file, field: "phy2log[\(l)]",
                                 reason: "has \(slots.count) slots but the topology has \(p) (\(topology.devices) devices × \(topology.slotsPerDevice))")
            }
            for (s, item) in slots.enumerated() {
                guard let x = item.intValue, x >= Int(Int32.min), x <= Int(Int32.max) else {
                    throw InputError(file: file, field: "phy2log[\(l)][\(s)]", reason: "expected an integer expert id, found \(describe(item))")
                }
                flat.append(Int32(x))
            }
        }
        var e: Int
        if let v = root["experts"] {
            guard let i = v.intValue, i >= 1 else {
                throw InputError(file: file, field: "experts", reason: "expected a positive integer, found \(describe(v))")
            }
            // More experts than slots cannot be placed (and would size the checks by a claim).
            guard i <= p else {
                throw InputError(file: file, field: "experts",
                                 reason: "\(i) experts cannot fit the plan's \(p) slots (\(topology.devices) devices × \(topology.slotsPerDevice)): every expert needs a slot")
            }
            e = i
        } else {
            // Inferred from the largest id, at most P: a larger id is reported as out of range.
            e = experts ?? Swift.min(Int(flat.max() ?? 0) + 1, p)
        }
        if let layers = root["layers"], layers.intValue != rows.count {
            throw InputError(file: file, field: "layers", reason: "says \(describe(layers)) but phy2log has \(rows.count) layers")
        }
        e = Swift.max(e, 1)
        var recorded: [Double]? = nil
        if let r = root["recordedImbalance"] {
            guard case .array(let items) = r, items.count == rows.count else {
                throw InputError(file: file, field: "recordedImbalance", reason: "expected an array of \(rows.count) numbers, one per layer")
            }
            recorded = []
            for (l, item) in items.enumerated() {
                guard case .number(let x) = item, x.isFinite, x >= 0 else {
                    throw InputError(file: file, field: "recordedImbalance[\(l)]", reason: "expected a finite number ≥ 0, found \(describe(item))")
                }
                recorded!.append(x)
            }
        }
        var layerIds: [Int]? = nil
        if let ids = root["layerIds"] {
            layerIds = try LayerIds.decode(ids, layers: rows.count, file: file)
        }
        do {
            return (try Placement(topology: topology, experts: e, physicalToLogical: flat), recorded, layerIds)
        } catch {
            throw InputError(file: file, error)
        }
    }

    static func topologyJSON(_ t: Topology) -> JSONValue {
        .object(JSONObject([("devices", .number(Double(t.devices))), ("slotsPerDevice", .number(Double(t.slotsPerDevice))),
                            ("nodes", .number(Double(t.nodes))), ("expertGroups", .number(Double(t.expertGroups)))]))
    }

    static func rowsJSON(_ placement: Placement) -> JSONValue {
        let p = placement.slotsPerLayer
        return .array((0..<placement.layers).map { l in
            .array((0..<p).map { .number(Double(placement.physicalToLogical[l * p + $0])) })
        })
    }
}
