/// One expert-placement problem: topology, loads, episode weights and an optional deployed plan.
///
/// Built once and immutable. A solver reads the layers independently (layers are separate
/// sub-problems unless an objective couples them).
///
/// Invariants (checked by the throwing initialiser): the topology is valid for `loads.experts`
/// experts (``Topology/validate(experts:)``) and every table fits ``Limits``; every load and one
/// episode weight per episode is 0 or in ``Limits``' range [1e-100, 1e100], and the weights' sum is
/// positive; `current`, when given, has `loads.layers` layers of `P` slots
/// with ids in `0..<E`.
public struct Problem: Sendable {
    /// Devices, slots, nodes and groups.
    public let topology: Topology
    /// Loads `w[l][t][e]`.
    public let loads: LoadTensor
    /// Episode weights `ω[t]` (all 1 by default).
    public let episodeWeights: ContiguousArray<Double>
    /// The placement currently deployed, for migration-aware solving and the `moves` metric.
    public let current: Placement?

    /// Creates a problem and checks its invariants.
    ///
    /// - Parameters:
    ///   - topology: the hardware.
    ///   - loads: `[L][T][E]` loads.
    ///   - episodeWeights: `T` weights, or `nil` for all ones.
    ///   - current: the deployed placement (`L` layers × `P` slots), or `nil`.
    /// - Throws: ``ExpertPlacementError`` naming the field at fault.
    public init(topology: Topology, loads: LoadTensor, episodeWeights: ContiguousArray<Double>? = nil,
                current: Placement? = nil) throws(ExpertPlacementError) {
        try topology.validate(experts: loads.experts)
        try Limits.checkSizes(layers: loads.layers, episodes: loads.episodes, experts: loads.experts, topology: topology)
        // Every value is 0 or in range: a `LoadTensor`'s invariant (checked where it was made),
        // so a 15-million-value window is not scanned again here.
        let weights = episodeWeights ?? ContiguousArray(repeating: 1, count: loads.episodes)
        guard weights.count == loads.episodes else {
            throw .shapeMismatch(field: "episodeWeights",
                                 reason: "has \(weights.count) entries but the loads have \(loads.episodes) episodes")
        }
        for (t, w) in weights.enumerated() {
            if let why = Limits.magnitudeProblem(w, what: "weight") {
                throw .invalidValue(field: "episodeWeights[\(t)]", reason: why)
            }
        }
        guard weights.reduce(0, +) > 0 else {
            throw .invalidValue(field: "episodeWeights", reason: "sum to 0: at least one episode must count")
        }
        if let current {
            guard current.layers == loads.layers else {
                throw .shapeMismatch(field: "current",
                                     reason: "has \(current.layers) layers but the loads have \(loads.layers)")
            }
            guard current.slotsPerLayer == topology.slotCount else {
                throw .shapeMismatch(field: "current[0]",
                                     reason: "has \(current.slotsPerLayer) slots but the topology has \(topology.slotCount) (\(topology.devices) devices × \(topology.slotsPerDevice))")
            }
            // The same slots on other devices (2 × 10 for 4 × 5) would be read in the wrong rows.
            guard current.topology.devices == topology.devices else {
                throw .shapeMismatch(field: "current",
                                     reason: "is for \(current.topology.devices) devices × \(current.topology.slotsPerDevice) slots but the topology has \(topology.devices) × \(topology.slotsPerDevice)")
            }
            guard current.experts == loads.experts else {
                throw .shapeMismatch(field: "current",
                                     reason: "is for \(current.experts) experts but the loads have \(loads.experts)")
            }
            if let bad = current.physicalToLogical.firstIndex(where: { $0 < 0 || Int($0) >= loads.experts }) {
                let p = current.slotsPerLayer
                throw .invalidValue(field: "current[\(bad / p)][\(bad % p)]",
                                    reason: "expert id \(current.physicalToLogical[bad]) is out of range 0..<\(loads.experts)")
            }
        }
        self.topology = topology
        self.loads = loads
        self.episodeWeights = weights
        self.current = current
    }

    /// Number of MoE layers, `L`.
    @inlinable public var layers: Int { loads.layers }
    /// Number of episodes, `T`.
    @inlinable public var episodes: Int { loads.episodes }
    /// Number of logical experts, `E`.
    @inlinable public var experts: Int { loads.experts }

    /// The episode-weighted aggregate load of one layer, `Σ_t ω_t w[l][t][e]`, as `E` values.
    ///
    /// This is the static, single-episode view that DeepSeek-style policies plan on.
    /// - Complexity: O(T·E).
    public func aggregateLoad(layer: Int) -> ContiguousArray<Double> {
        var sum = ContiguousArray<Double>(repeating: 0, count: experts)
        let base = loads.layerOffset(layer)
        loads.values.withUnsafeBufferPointer { w in
            sum.withUnsafeMutableBufferPointer { s in
                for t in 0..<episodes {
                    let omega = episodeWeights[t]
                    if omega == 0 { continue }
                    let row = base + t * experts
                    for e in 0..<experts { s[e] += omega * w[row + e] }
                }
            }
        }
        return sum
    }
}
