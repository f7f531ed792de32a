public import ExpertPlacement

/// A ``RegimeMemory`` kept in a file between calls of `eplb rebalance --memory FILE`:
///
/// ```json
/// {"schemaVersion": 1, "kind": "regimeMemory",
///  "windows": 8, "newestShare": 0.5, "blocksPerWindow": 8, "discount": 0.5,
///  "layers": L, "experts": E,
///  "remembered": [[L][B][E] block sums of each window, oldest first],
///  "scores": {"window": 0, "memory": 0},
///  "choices": ["window", "memory", …],
///  "previousPlans": null or {"topology": {…}, "window": [L][P] phy2log, "memory": [L][P] phy2log},
///  "payback": null or {"unitPrice": λ₁, "range": [2, 8], "smoothing": 0.5,
///                      "persistence": null or ρ̄, "history": [k, …],
///                      "previous": null or {"topology": {…}, "experts": E,
///                                           "replaced": [L][P] phy2log, "gain": g}}}
/// ```
///
/// `payback` is the measured move price (``PaybackEstimate``) of `eplb rebalance
/// --payback-unit-price`; a file without the key (as earlier versions wrote it) has none.
///
/// Numbers are written as the shortest decimal that reads back to the same double, so a memory
/// read back is the memory written.
public enum RegimeMemoryFile {
    /// The document for `memory` and, when given, the measured move price kept with it.
    public static func encode(_ memory: RegimeMemory, payback: PaybackEstimate? = nil) -> JSONValue {
        var root = JSONObject()
        root["schemaVersion"] = .number(1)
        root["kind"] = .string("regimeMemory")
        root["windows"] = .number(Double(memory.windows))
        root["newestShare"] = .number(memory.newestShare)
        root["blocksPerWindow"] = .number(Double(memory.blocksPerWindow))
        root["discount"] = .number(memory.discount)
        if let first = memory.remembered.first {
            root["layers"] = .number(Double(first.layers))
            root["experts"] = .number(Double(first.experts))
        }
        root["remembered"] = .array(JSONArray(memory.remembered.map(loadsJSON)))
        root["scores"] = .object(JSONObject([("window", .number(memory.scores.window)), ("memory", .number(memory.scores.memory))]))
        root["choices"] = .array(JSONArray(memory.choices.map { .string($0.rawValue) }))
        if let (window, plan) = memory.previousPlans {
            root["previousPlans"] = .object(JSONObject([("topology", PlacementFile.topologyJSON(window.topology)),
                                                        ("window", PlacementFile.rowsJSON(window)),
                                                        ("memory", PlacementFile.rowsJSON(plan))]))
        } else {
            root["previousPlans"] = .null
        }
        root["payback"] = payback.map(paybackJSON) ?? .null
        return .object(root)
    }

    /// The `payback` object.
    static func paybackJSON(_ estimate: PaybackEstimate) -> JSONValue {
        var object = JSONObject()
        object["unitPrice"] = .number(estimate.unitPrice)
        object["range"] = .array(JSONArray(numbers: [estimate.range.lowerBound, estimate.range.upperBound]))
        object["smoothing"] = .number(estimate.smoothing)
        object["persistence"] = estimate.persistence.map(JSONValue.number) ?? .null
        object["history"] = .array(JSONArray(numbers: ContiguousArray(estimate.history)))
        if let previous = estimate.previous {
            object["previous"] = .object(JSONObject([("topology", PlacementFile.topologyJSON(previous.replaced.topology)),
                                                     ("experts", .number(Double(previous.replaced.experts))),
                                                     ("replaced", PlacementFile.rowsJSON(previous.replaced)),
                                                     ("gain", .number(previous.gain))]))
        } else {
            object["previous"] = .null
        }
        return .object(object)
    }

    /// Reads a memory file.
    ///
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func decode(_ bytes: [UInt8], file: String) throws(InputError) -> RegimeMemory {
        try decodeState(bytes, file: file).memory
    }

    /// Reads a memory file with the measured move price it keeps (`nil` when it keeps none).
    ///
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func decodeState(_ bytes: [UInt8], file: String) throws(InputError)
        -> (memory: RegimeMemory, payback: PaybackEstimate?) {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch {
            throw InputError(file: file, reason: "invalid JSON: \(error)")
        }
        guard case .object(let root) = value, root["kind"]?.stringValue == "regimeMemory" else {
            throw InputError(file: file, field: "kind", reason: "expected a regime memory ({\"kind\": \"regimeMemory\", …}) as eplb rebalance --memory writes it")
        }
        if root["schemaVersion"]?.doubleValue != 1 {
            throw InputError(file: file, field: "schemaVersion", reason: "unsupported version \(root["schemaVersion"].map(describe) ?? "missing") (this eplb reads version 1)")
        }
        func number(_ key: String) throws(InputError) -> Double {
            guard let x = root[key]?.doubleValue else {
                throw InputError(file: file, field: key, reason: "expected a number, found \(root[key].map(describe) ?? "nothing")")
            }
            return x
        }
        func integer(_ key: String) throws(InputError) -> Int {
            guard let i = root[key]?.intValue else {
                throw InputError(file: file, field: key, reason: "expected an integer, found \(root[key].map(describe) ?? "nothing")")
            }
            return i
        }
        guard case .array(let windows)? = root["remembered"] else {
            throw InputError(file: file, field: "remembered", reason: "expected an array of [L][B][E] block sums")
        }
        var remembered: [LoadTensor] = []
        for (i, window) in windows.enumerated() {
            let loads = try LoadReader.read(window, file: file, field: "remembered[\(i)]")
            remembered.append(loads)
        }
        if !remembered.isEmpty {
            let layers = try integer("layers"), experts = try integer("experts")
            for (i, t) in remembered.enumerated() where t.layers != layers || t.experts != experts {
                throw InputError(file: file, field: "remembered[\(i)]",
                                 reason: "has \(t.layers) layers × \(t.experts) experts; the file says \(layers) × \(experts)")
            }
        }
        guard case .object(let scores)? = root["scores"], let w = scores["window"]?.doubleValue,
              let m = scores["memory"]?.doubleValue else {
            throw InputError(file: file, field: "scores", reason: "expected {\"window\": number, \"memory\": number}")
        }
        guard case .array(let choiceValues)? = root["choices"] else {
            throw InputError(file: file, field: "choices", reason: "expected an array of \"window\" or \"memory\"")
        }
        var choices: [RegimeMemory.Choice] = []
        for (i, c) in choiceValues.enumerated() {
            guard let choice = c.stringValue.flatMap(RegimeMemory.Choice.init(rawValue:)) else {
                throw InputError(file: file, field: "choices[\(i)]", reason: "expected \"window\" or \"memory\", found \(describe(c))")
            }
            choices.append(choice)
        }
        var previous: (window: Placement, memory: Placement)? = nil
        if let p = root["previousPlans"], !p.isNull {
            guard case .object(let plans) = p, let topology = plans["topology"], let window = plans["window"],
                  let memory = plans["memory"] else {
                throw InputError(file: file, field: "previousPlans", reason: "expected null or {\"topology\", \"window\", \"memory\"}")
            }
            let experts = JSONValue.number(Double(try integer("experts")))
            previous = (try placement(topology: topology, experts: experts, rows: window, file: file, field: "previousPlans.window"),
                        try placement(topology: topology, experts: experts, rows: memory, file: file, field: "previousPlans.memory"))
        }
        let (count, share) = (try integer("windows"), try number("newestShare"))
        if count == 1 {
            // As eplb rebalance --regime-memory and eplb simulate --regime-memory: one window is
            // the window itself, so the memory would silently do nothing.
            throw InputError(file: file, field: "windows", reason: "is 1: 0 turns the memory off, and it needs at least 2 windows to plan on more than the window")
        }
        let (blocks, discount) = (try integer("blocksPerWindow"), try number("discount"))
        let memory: RegimeMemory
        do {
            memory = try RegimeMemory(windows: count, newestShare: share, blocksPerWindow: blocks, discount: discount,
                                      remembered: remembered, scores: (w, m), choices: choices, previousPlans: previous)
        } catch {
            throw InputError(file: file, error)
        }
        guard let payback = root["payback"], !payback.isNull else { return (memory, nil) }
        return (memory, try decodePayback(payback, file: file))
    }

    /// The `payback` object (not null).
    static func decodePayback(_ value: JSONValue, file: String) throws(InputError) -> PaybackEstimate {
        guard case .object(let object) = value else {
            throw InputError(file: file, field: "payback", reason: "expected null or an object, found \(describe(value))")
        }
        func number(_ key: String) throws(InputError) -> Double {
            guard let x = object[key]?.doubleValue else {
                throw InputError(file: file, field: "payback.\(key)", reason: "expected a number, found \(object[key].map(describe) ?? "nothing")")
            }
            return x
        }
        guard case .array(let bounds)? = object["range"], bounds.count == 2,
              let low = bounds[0].doubleValue, let high = bounds[1].doubleValue, low <= high else {
            throw InputError(file: file, field: "payback.range",
                             reason: "expected [min, max] horizons in intervals with min ≤ max, found \(object["range"].map(describe) ?? "nothing")")
        }
        var persistence: Double? = nil
        if let p = object["persistence"], !p.isNull {
            guard let x = p.doubleValue else {
                throw InputError(file: file, field: "payback.persistence", reason: "expected null or a number, found \(describe(p))")
            }
            persistence = x
        }
        guard case .array(let historyValues)? = object["history"] else {
            throw InputError(file: file, field: "payback.history", reason: "expected an array of horizons in intervals")
        }
        var history: [Double] = []
        for (i, h) in historyValues.enumerated() {
            guard let k = h.doubleValue else {
                throw InputError(file: file, field: "payback.history[\(i)]", reason: "expected a number, found \(describe(h))")
            }
            history.append(k)
        }
        var previous: PaybackEstimate.Decision? = nil
        if let p = object["previous"], !p.isNull {
            guard case .object(let decision) = p, let topology = decision["topology"], let rows = decision["replaced"],
                  let experts = decision["experts"] else {
                throw InputError(file: file, field: "payback.previous",
                                 reason: "expected null or {\"topology\", \"experts\", \"replaced\", \"gain\"}")
            }
            guard let gain = decision["gain"]?.doubleValue else {
                throw InputError(file: file, field: "payback.previous.gain",
                                 reason: "expected a number, found \(decision["gain"].map(describe) ?? "nothing")")
            }
            let replaced = try placement(topology: topology, experts: experts, rows: rows, file: file,
                                         field: "payback.previous", rowsKey: "replaced")
            previous = PaybackEstimate.Decision(replaced: replaced, gain: gain)
        }
        let (unitPrice, smoothing) = (try number("unitPrice"), try number("smoothing"))
        do throws(ExpertPlacementError) {
            return try PaybackEstimate(unitPrice: unitPrice, range: low...high, smoothing: smoothing,
                                       persistence: persistence, history: history, previous: previous)
        } catch {
            throw InputError(file: file, field: "payback" + (error.field.map { ".\($0)" } ?? ""), reason: error.reason)
        }
    }

    /// A placement kept in the file as its parts (topology, experts, `[L][P]` rows), decoded as a
    /// placement document of its own so that its rows are checked as every plan's are. Errors
    /// name `field` followed by the document's field, with `phy2log` read as `rowsKey` when the
    /// rows sit under another key.
    static func placement(topology: JSONValue, experts: JSONValue, rows: JSONValue, file: String, field: String,
                          rowsKey: String? = nil) throws(InputError) -> Placement {
        let document = JSONValue.object(JSONObject([("topology", topology), ("experts", experts), ("phy2log", rows)]))
        let key = rowsKey ?? "phy2log"
        let decoded: Placement
        do { decoded = try PlacementFile.decodeDocument(document, file: file).placement } catch {
            let inner = error.field.map { name in
                guard name.hasPrefix("phy2log") else { return name }
                return key + name.dropFirst("phy2log".count)
            }
            throw InputError(file: file, field: field + (inner.map { ".\($0)" } ?? ""), reason: error.reason)
        }
        // A kept plan is scored as deployed: ids in range and every expert present (an expert
        // twice on a device is a deployed plan's right, see Validation.deployedViolations).
        if let broken = Validation.deployedViolations(of: decoded, limit: 1).first {
            throw InputError(file: file, field: field + "." + key + (broken.layer.map { "[\($0)]" } ?? ""),
                             reason: "not a plan that can be deployed: \(broken)")
        }
        return decoded
    }

    /// `[L][B][E]` as nested arrays of numbers.
    static func loadsJSON(_ loads: LoadTensor) -> JSONValue {
        .array(JSONArray((0..<loads.layers).map { l in
            .array(JSONArray((0..<loads.episodes).map { t in
                let start = loads.layerOffset(l) + t * loads.experts
                return .array(JSONArray(numbers: ContiguousArray(loads.values[start ..< start + loads.experts])))
            }))
        }))
    }
}
