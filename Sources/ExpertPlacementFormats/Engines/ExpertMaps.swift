public import ExpertPlacement

/// Per-rank routing tables derived from a placement: `expert_map` and `log2phy`, as the
/// serving workers of vLLM and vllm-ascend hold them (one pair per rank and MoE layer).
///
/// For rank `r` of a layer with `E` logical experts, `D` ranks and `S` slots per rank:
/// - `expert_map[r]` has length E: the local slot (0..<S) of expert `e` on rank `r`, or −1 when
///   `r` holds no replica of `e`. It is well defined because a valid placement never puts an
///   expert twice on one rank.
/// - `log2phy[r]` has length E: the physical slot (0..<D·S) that rank `r` sends tokens of
///   expert `e` to. The rule: a replica on `r` itself when there is one; else the replicas on
///   `r`'s node, the `(r mod n)`-th of those `n` in rank order; else the `(r mod n)`-th of all
///   `n` replicas. Sending ranks are thereby spread over the replicas.
///
/// With one node (the default) and no local replica, the choice is the `(r mod n)`-th holder,
/// which is vllm-ascend's `generate_log2phy_map` (`vllm_ascend/eplb/core/eplb_utils.py`); its
/// unit tests' expected maps are reproduced by this rule. (vllm-ascend's `ep_rank % n` choice
/// may pick a remote replica although a local one exists; this rule never does.)
///
/// Invariants (``violations(_:layer:)`` checks them): every expert reachable from every rank,
/// every `log2phy` entry in `0..<P` and holding that expert, `expert_map` the exact inverse of
/// the rank's slots.
public enum ExpertMaps {
    /// `expert_map` of one rank in one layer: `[E]`, local slot or −1.
    ///
    /// - Precondition: `layer` and `rank` in range, the placement's ids in `0..<E`.
    /// - Complexity: O(E + S).
    public static func expertMap(_ placement: Placement, layer: Int, rank: Int) -> [Int] {
        let s = placement.topology.slotsPerDevice, p = placement.slotsPerLayer
        var map = [Int](repeating: -1, count: placement.experts)
        let base = layer * p + rank * s
        for k in 0..<s { map[Int(placement.physicalToLogical[base + k])] = k }
        return map
    }

    /// `log2phy` of one rank in one layer: `[E]`, the physical slot the rank sends each expert to
    /// (the rule in the type's discussion).
    ///
    /// - Precondition: `layer` and `rank` in range; every expert has a replica (a valid placement).
    /// - Complexity: O(P + E).
    public static func log2phy(_ placement: Placement, layer: Int, rank: Int) -> [Int] {
        let holders = placement.logicalToPhysical(layer: layer, width: 0).map { $0.filter { $0 >= 0 } }
        return route(holders, topology: placement.topology, rank: rank)
    }

    /// `expert_map` and `log2phy` of every rank of one layer: `[D][E]` each.
    ///
    /// - Complexity: O(D·(P + E)).
    public static func tables(_ placement: Placement, layer: Int) -> (expertMap: [[Int]], log2phy: [[Int]]) {
        let holders = placement.logicalToPhysical(layer: layer, width: 0).map { $0.filter { $0 >= 0 } }
        let d = placement.topology.devices
        return ((0..<d).map { expertMap(placement, layer: layer, rank: $0) },
                (0..<d).map { route(holders, topology: placement.topology, rank: $0) })
    }

    /// The slot rank `rank` sends each expert to, given each expert's slots in ascending order.
    static func route(_ holders: [[Int]], topology: Topology, rank: Int) -> [Int] {
        let s = topology.slotsPerDevice
        let node = topology.node(ofDevice: rank)
        return holders.map { slots in
            precondition(!slots.isEmpty, "every expert needs a replica (validate the placement first)")
            if let local = slots.first(where: { $0 / s == rank }) { return local }
            let sameNode = slots.filter { topology.node(ofDevice: $0 / s) == node }
            let pool = sameNode.isEmpty ? slots : sameNode
            return pool[rank % pool.count]
        }
    }

    /// Broken invariants of the tables `expertMap` and `log2phy` (`[D][E]` each) for one layer of
    /// `placement`, as messages; empty when they hold.
    ///
    /// Checks: shapes; `expert_map[r][e]` in −1..<S and equal to the slot of `e` on `r` (or −1
    /// exactly when `r` holds none); `log2phy[r][e]` in `0..<P` and a slot holding `e`; a local
    /// slot whenever `r` holds `e`.
    ///
    /// - Parameter requireLocal: also require a local target whenever the rank holds the expert
    ///   (this type's rule; other engines' rules, such as vllm-ascend's TP rotation, may not).
    public static func violations(expertMap: [[Int]], log2phy: [[Int]], of placement: Placement, layer: Int,
                                  requireLocal: Bool = true, limit: Int = 20) -> [String] {
        var found: [String] = []
        let d = placement.topology.devices, s = placement.topology.slotsPerDevice, p = placement.slotsPerLayer
        let e = placement.experts
        guard expertMap.count == d, log2phy.count == d else {
            return ["layer \(layer): expected \(d) ranks, found \(expertMap.count) expert_map and \(log2phy.count) log2phy rows"]
        }
        let row = placement.physicalToLogical(layer: layer)
        for r in 0..<d where found.count < limit {
            guard expertMap[r].count == e, log2phy[r].count == e else {
                found.append("layer \(layer) rank \(r): expected \(e) entries per table")
                continue
            }
            let truth = Self.expertMap(placement, layer: layer, rank: r)
            for x in 0..<e where found.count < limit {
                let local = expertMap[r][x]
                if local != truth[x] {
                    found.append("layer \(layer) rank \(r): expert_map[\(x)] = \(local), expected \(truth[x])")
                }
                let target = log2phy[r][x]
                if target < 0 || target >= p {
                    found.append("layer \(layer) rank \(r): log2phy[\(x)] = \(target) is past the last slot \(p - 1)")
                } else if row[target] != x {
                    found.append("layer \(layer) rank \(r): log2phy[\(x)] = \(target) holds expert \(row[target]), not \(x)")
                } else if requireLocal && truth[x] >= 0 && target != r * s + truth[x] {
                    found.append("layer \(layer) rank \(r): log2phy[\(x)] = \(target) is remote although the rank holds a replica")
                }
            }
        }
        return found
    }
}

extension ExpertMaps {
    /// The `rank-maps` file: every rank's `expert_map` and `log2phy` for every layer, as JSON
    /// `{"format": "rank-maps", "version": 1, "topology", "experts", "layers",
    /// "expert_map": [L][D][E], "log2phy": [L][D][E], "layerIds"?}`.
    ///
    /// - Precondition: the placement is valid (every expert has a replica).
    public static func encodeFile(_ placement: Placement, layerIds: [Int]? = nil) -> String {
        var maps: [JSONValue] = [], routes: [JSONValue] = []
        for l in 0..<placement.layers {
            let (m, r) = tables(placement, layer: l)
            maps.append(.array(m.map { .array($0.map { .number(Double($0)) }) }))
            routes.append(.array(r.map { .array($0.map { .number(Double($0)) }) }))
        }
        var root = JSONObject([("format", .string("rank-maps")), ("version", .number(1)),
                               ("topology", PlacementFile.topologyJSON(placement.topology)),
                               ("experts", .number(Double(placement.experts))), ("layers", .number(Double(placement.layers))),
                               ("expert_map", .array(maps)), ("log2phy", .array(routes))])
        if let layerIds { root["layerIds"] = .array(layerIds.map { .number(Double($0)) }) }
        return JSONWriter.integerDocument(.object(root), compact: false)
    }

    /// Reads a `rank-maps` file back into the placement its `expert_map` tables describe, and
    /// checks that every `log2phy` entry is a slot holding its expert (any routing rule is
    /// accepted; the tables need not be this type's).
    ///
    /// - Throws: ``InputError`` naming the file and field.
    public static func decodeFile(_ bytes: [UInt8], file: String) throws(InputError) -> EnginePlacement {
        let root = try EngineIO.object(EngineIO.parseJSON(bytes, file: file), file: file, expecting: "\"expert_map\" and \"log2phy\"")
        guard root["format"]?.stringValue == "rank-maps" else {
            throw InputError(file: file, field: "format", reason: "expected \"rank-maps\"")
        }
        guard case .object(let t)? = root["topology"] else {
            throw InputError(file: file, field: "topology", reason: "missing or not an object")
        }
        let d = try EngineIO.integer(t, "devices", field: "topology.devices", file: file, minimum: 1)
        let s = try EngineIO.integer(t, "slotsPerDevice", field: "topology.slotsPerDevice", file: file, minimum: 1)
        let n = t["nodes"] == nil ? 1 : try EngineIO.integer(t, "nodes", field: "topology.nodes", file: file, minimum: 1)
        let g = t["expertGroups"] == nil ? 1 : try EngineIO.integer(t, "expertGroups", field: "topology.expertGroups", file: file, minimum: 1)
        let e = try EngineIO.integer(root, "experts", file: file, minimum: 1)
        guard let mapValue = root["expert_map"], let routeValue = root["log2phy"] else {
            throw InputError(file: file, field: root["expert_map"] == nil ? "expert_map" : "log2phy", reason: "missing")
        }
        let maps = try JSONTensor.read(mapValue, ranks: 3...3, field: "expert_map", file: file, integers: true, nonNegative: false)
        let routes = try JSONTensor.read(routeValue, ranks: 3...3, field: "log2phy", file: file, integers: true, nonNegative: false)
        let l = maps.shape[0]
        guard maps.shape == [l, d, e] else {
            throw InputError(file: file, field: "expert_map", reason: "has shape \(maps.shape), expected [layers, \(d) ranks, \(e) experts]")
        }
        guard routes.shape == maps.shape else {
            throw InputError(file: file, field: "log2phy", reason: "has shape \(routes.shape) but expert_map has \(maps.shape)")
        }
        let topology = Topology(devices: d, slotsPerDevice: s, nodes: n, expertGroups: g)
        var flat = ContiguousArray<Int32>(repeating: -1, count: l * d * s)
        for layer in 0..<l {
            for r in 0..<d {
                for x in 0..<e {
                    let k = Int(maps.values[(layer * d + r) * e + x])
                    guard k == -1 || (0..<s).contains(k) else {
                        throw InputError(file: file, field: "expert_map[\(layer)][\(r)][\(x)]", reason: "local slot \(k) is outside -1..<\(s)")
                    }
                    guard k >= 0 else { continue }
                    let slot = layer * d * s + r * s + k
                    guard flat[slot] == -1 else {
                        throw InputError(file: file, field: "expert_map[\(layer)][\(r)][\(x)]",
                                         reason: "local slot \(k) is already given to expert \(flat[slot])")
                    }
                    flat[slot] = Int32(x)
                }
            }
        }
        if let empty = flat.firstIndex(of: -1) {
            let p = d * s
            throw InputError(file: file, field: "expert_map[\(empty / p)][\((empty % p) / s)]",
                             reason: "local slot \(empty % s) holds no expert")
        }
        let placement = try EngineIO.placement(topology: topology, phy2log: flat, experts: e, file: file)
        for layer in 0..<l {
            let rows = { (t: JSONTensor) in (0..<d).map { r in (0..<e).map { Int(t.values[(layer * d + r) * e + $0]) } } }
            if let problem = violations(expertMap: rows(maps), log2phy: rows(routes), of: placement, layer: layer,
                                        requireLocal: false, limit: 1).first {
                throw InputError(file: file, field: "log2phy[\(layer)]", reason: problem)
            }
        }
        var layerIds: [Int]? = nil
        if let ids = root["layerIds"] { layerIds = try LayerIds.decode(ids, layers: l, file: file) }
        return EnginePlacement(placement: placement, layerIds: layerIds)
    }
}
