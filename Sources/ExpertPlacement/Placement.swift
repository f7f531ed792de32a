/// Where every replica of every logical expert lives, for all layers.
///
/// The single source of truth is `phy2log` (``physicalToLogical``): for each layer, the logical
/// expert held by each of the `P = D·S` physical slots, stored flat `[L][P]`. Replica counts
/// (`logcnt`) and the inverse map (`log2phy`) are derived on demand.
///
/// A `Placement` may hold a plan that breaks the rules (a peer's plan with two replicas of an
/// expert on one device, say) so that it can be evaluated and diagnosed; ``Validation`` says
/// whether it is valid. The initialiser only checks the shape.
public struct Placement: Sendable, Hashable {
    /// The hardware the plan is for.
    public let topology: Topology
    /// Number of logical experts, `E`.
    public let experts: Int
    /// `phy2log`, flat `[L][P]`: `physicalToLogical[l·P + p]` is the expert in slot `p` of layer `l`.
    public let physicalToLogical: ContiguousArray<Int32>

    /// Creates a placement from flat `phy2log`.
    ///
    /// - Throws: ``ExpertPlacementError/shapeMismatch(field:reason:)`` when the count is not a
    ///   positive multiple of `topology.slotCount`.
    public init(topology: Topology, experts: Int,
                physicalToLogical: ContiguousArray<Int32>) throws(ExpertPlacementError) {
        let p = try Limits.slotCount(devices: topology.devices, slotsPerDevice: topology.slotsPerDevice)
        guard !physicalToLogical.isEmpty, physicalToLogical.count % p == 0 else {
            throw .shapeMismatch(field: "phy2log",
                                 reason: "\(physicalToLogical.count) entries is not a whole number of layers of \(p) slots")
        }
        // Sizes every per-expert table (replica counts, log2phy, the validator's): at least one,
        // and within the limit every reader applies.
        guard experts >= 1 && experts <= Limits.maximumCells else {
            throw .invalidValue(field: "experts", reason: "must be in 1...\(Limits.maximumCells), got \(experts)")
        }
        self.topology = topology
        self.experts = experts
        self.physicalToLogical = physicalToLogical
    }

    /// Creates a placement from one `phy2log` row per layer.
    public init(topology: Topology, experts: Int, layers rows: [[Int]]) throws(ExpertPlacementError) {
        let p = try Limits.slotCount(devices: topology.devices, slotsPerDevice: topology.slotsPerDevice)
        for (l, row) in rows.enumerated() {
            guard row.count == p else {
                throw .shapeMismatch(field: "phy2log[\(l)]", reason: "has \(row.count) slots, expected \(p)")
            }
            // An id the 32-bit table cannot hold is named as given (the validator reports the others).
            if let s = row.firstIndex(where: { Int32(exactly: $0) == nil }) {
                throw .invalidValue(field: "phy2log[\(l)][\(s)]", reason: "expert id \(row[s]) is out of range 0..<\(experts)")
            }
        }
        try self.init(topology: topology, experts: experts,
                      physicalToLogical: ContiguousArray(rows.joined().map { Int32($0) }))
    }

    /// Number of physical slots per layer, `P`.
    @inlinable public var slotsPerLayer: Int { topology.slotCount }

    /// Number of layers, `L`.
    @inlinable public var layers: Int { physicalToLogical.count / topology.slotCount }

    /// `phy2log` of one layer.
    public func physicalToLogical(layer: Int) -> [Int] {
        let p = slotsPerLayer
        return physicalToLogical[layer * p ..< (layer + 1) * p].map { Int($0) }
    }

    /// `logcnt` of one layer: the number of slots holding each expert (ids outside `0..<E` ignored).
    /// - Complexity: O(P + E).
    public func replicaCounts(layer: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: experts)
        let p = slotsPerLayer
        for s in layer * p ..< (layer + 1) * p {
            let e = Int(physicalToLogical[s])
            if e >= 0 && e < experts { counts[e] += 1 }
        }
        return counts
    }

    /// `log2phy` of one layer: for each expert, its slots in ascending order, padded with −1 to
    /// `width` entries (by default `R + 1 = P − E + 1`, the most replicas an expert can have).
    /// - Complexity: O(P + E·width).
    public func logicalToPhysical(layer: Int, width: Int? = nil) -> [[Int]] {
        let p = slotsPerLayer
        let w = width ?? (p - experts + 1)
        var table = [[Int]](repeating: [], count: experts)
        for s in 0..<p {
            let e = Int(physicalToLogical[layer * p + s])
            if e >= 0 && e < experts { table[e].append(s) }
        }
        return table.map { $0.count < w ? $0 + [Int](repeating: -1, count: w - $0.count) : $0 }
    }

    /// Number of slots of `layer` whose expert differs from `other`'s (the `moves` metric).
    public func moves(from other: Placement, layer: Int) -> Int {
        let p = slotsPerLayer
        var n = 0
        for s in layer * p ..< (layer + 1) * p where physicalToLogical[s] != other.physicalToLogical[s] { n += 1 }
        return n
    }
}
