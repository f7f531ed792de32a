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
///  "previousPlans": null or {"topology": {…}, "window": [L][P] phy2log, "memory": [L][P] phy2log}}
/// ```
///
/// Numbers are written as the shortest decimal that reads back to the same double, so a memory
/// read back is the memory written.
public enum RegimeMemoryFile {
    /// The document for `memory`.
    public static func encode(_ memory: RegimeMemory) -> JSONValue {
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
        return .object(root)
    }

    /// Reads a memory file.
    ///
    /// - Throws: ``InputError`` naming the file, the field and the problem.
    public static func decode(_ bytes: [UInt8], file: String) throws(InputError) -> RegimeMemory {
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
            let experts = try integer("experts")
            func plan(_ rows: JSONValue, _ name: String) throws(InputError) -> Placement {
                // A placement document of its own, so its rows are checked as every plan's are.
                let document = JSONValue.object(JSONObject([("topology", topology), ("experts", .number(Double(experts))),
                                                            ("phy2log", rows)]))
                do { return try PlacementFile.decodeDocument(document, file: file).placement } catch {
                    throw InputError(file: file, field: "previousPlans.\(name)" + (error.field.map { ".\($0)" } ?? ""),
                                     reason: error.reason)
                }
            }
            previous = (try plan(window, "window"), try plan(memory, "memory"))
        }
        let (count, share) = (try integer("windows"), try number("newestShare"))
        let (blocks, discount) = (try integer("blocksPerWindow"), try number("discount"))
        do {
            return try RegimeMemory(windows: count, newestShare: share, blocksPerWindow: blocks, discount: discount,
                                    remembered: remembered, scores: (w, m), choices: choices, previousPlans: previous)
        } catch {
            throw InputError(file: file, error)
        }
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
