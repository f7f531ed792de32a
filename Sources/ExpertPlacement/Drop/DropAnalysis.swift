/// How the per-device token capacity is chosen (INTERFACE.md §4, `eplb drop`).
public enum DropRule: Sendable, Equatable {
    /// The smallest capacity that drops at most this share `f` of the tokens (``TokenDrop``).
    case budget(Double)
    /// The capacity `γ · mean_d L_d` (`γ` times the average device load).
    case capacityFactor(Double)

    /// Checks the value: a budget in `[0, 1)`, a capacity factor in `[1e-100, 1e100]` (as every
    /// magnitude in ``Limits``: the capacity `γ · mean` stays finite and the cut meaningful).
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `budget` or `capacityFactor`.
    public func validate() throws(ExpertPlacementError) {
        switch self {
        case .budget(let f):
            guard f >= 0 && f < 1 else { throw .invalidValue(field: "budget", reason: "must be in [0, 1), got \(f)") }
        case .capacityFactor(let g):
            guard g >= Limits.smallestMagnitude && g <= Limits.largestMagnitude else {
                throw .invalidValue(field: "capacityFactor", reason: "must be a number in [1e-100, 1e100], got \(g)")
            }
        }
    }
}

/// One row of device loads cut at a uniform capacity: what is dropped and the peak that is left.
///
/// `W = Σ_d L_d`, `mean = W / D`. The capacity is ``TokenDrop/capacity(deviceLoads:budget:)``
/// for a budget, `γ · mean` for a capacity factor. After the cut each device processes
/// `min(L_d, c)`, so the step's bottleneck is `peakAfter = min(max L, c)`, and
/// `imbalanceAfter = peakAfter / mean` — measured against the mean of the *original* load, the
/// time a perfectly balanced step that drops nothing would take. So `imbalanceAfter` is the
/// capped step time relative to that ideal, directly comparable with `imbalanceBefore` (the
/// ρ of INTERFACE.md §2), and with a capacity factor it is exactly `min(ρ, γ)`. (Dividing by
/// the mean of what is processed instead would make a cap look *worse* the more it drops.)
/// A row without load has capacity 0, drops nothing and both imbalances 1 (as ρ).
public struct DropCut: Sendable, Equatable {
    /// The per-device token capacity `c`.
    public var capacity: Double
    /// Tokens routed, `W`.
    public var total: Double
    /// Tokens dropped, `Σ_d max(0, L_d − c)`.
    public var dropped: Double
    /// Tokens dropped by each device, `max(0, L_d − c)`, `D` values.
    public var droppedPerDevice: [Double]
    /// `max_d L_d`.
    public var peakBefore: Double
    /// `min(max_d L_d, c)`.
    public var peakAfter: Double

    /// Cuts `deviceLoads` (`D` values ≥ 0) by `rule` (already validated).
    /// - Complexity: O(D log D).
    public init(deviceLoads: [Double], rule: DropRule) {
        var total = 0.0, peak = 0.0
        for v in deviceLoads {
            total += v
            peak = Swift.max(peak, v)
        }
        let c: Double
        switch rule {
        case .budget(let f): c = TokenDrop.capacity(deviceLoads: deviceLoads, budget: f)
        case .capacityFactor(let g): c = g * (total / Double(Swift.max(1, deviceLoads.count)))
        }
        capacity = c
        self.total = total
        droppedPerDevice = deviceLoads.map { Swift.max(0, $0 - c) }
        dropped = droppedPerDevice.reduce(0, +)
        peakBefore = peak
        peakAfter = Swift.min(peak, c)
    }

    /// `dropped / W` (0 when `W = 0`).
    public var droppedFraction: Double { total > 0 ? dropped / total : 0 }
    /// `max L / mean` (1 when `W = 0`).
    public var imbalanceBefore: Double { total > 0 ? peakBefore * Double(droppedPerDevice.count) / total : 1 }
    /// `min(max L, c) / mean` (1 when `W = 0`).
    public var imbalanceAfter: Double { total > 0 ? peakAfter * Double(droppedPerDevice.count) / total : 1 }
}

/// One layer's token drop: each episode's cut, and the cut of the summed episodes.
public struct LayerDrop: Sendable, Equatable {
    /// The cut of the episode-weighted summed load `Σ_t ω_t w[t]` (the layer's `capacity`).
    public var summed: DropCut
    /// One cut per episode, in episode order (episodes of weight 0 included).
    public var episodes: [DropCut]
    /// `Σ_t ω_t · imbalanceAfter_t / Σ_t ω_t`: the capped counterpart of `meanImbalance`.
    public var meanImbalanceAfter: Double
}

/// What dropping tokens at a capacity does to a placement (INTERFACE.md §4, `eplb drop`).
///
/// Device loads are those of the metrics (``Metrics``; replicas split evenly). Per layer and
/// episode, a ``DropCut`` of the device loads by the rule; per layer, the cut of the summed
/// episodes (weights folded in) and the weighted mean of the episodes' `imbalanceAfter`.
public enum DropAnalysis {
    /// The drop of every layer of `placement` on `problem`.
    ///
    /// - Throws: ``ExpertPlacementError`` when the placement does not fit the problem (as
    ///   ``Metrics/evaluate(_:on:objective:lowerBounds:)``) or the rule is out of range.
    /// - Complexity: O(L·T·(P + D log D)).
    public static func analyse(_ placement: Placement, on problem: Problem,
                               rule: DropRule) throws(ExpertPlacementError) -> [LayerDrop] {
        try rule.validate()
        try Metrics.checkFit(placement, problem)
        let e = problem.experts, s = problem.topology.slotsPerDevice, p = placement.slotsPerLayer
        return try (0..<problem.layers).map { (l: Int) throws(ExpertPlacementError) -> LayerDrop in
            let row = placement.physicalToLogical[l * p ..< (l + 1) * p]
            let counts = placement.replicaCounts(layer: l)
            if let missing = counts.firstIndex(of: 0) {
                throw .invalidValue(field: "phy2log[\(l)]", reason: "expert \(missing) has no replica")
            }
            let base = problem.loads.layerOffset(l)
            let episodes = (0..<problem.episodes).map { t in
                DropCut(deviceLoads: deviceLoads(row, loads: problem.loads.values[base + t * e ..< base + (t + 1) * e],
                                                 slotsPerDevice: s),
                        rule: rule)
            }
            var weighted = 0.0, weights = 0.0
            for (t, cut) in episodes.enumerated() where problem.episodeWeights[t] > 0 {
                weighted += problem.episodeWeights[t] * cut.imbalanceAfter
                weights += problem.episodeWeights[t]
            }
            let summed = DropCut(deviceLoads: deviceLoads(row, loads: problem.aggregateLoad(layer: l), slotsPerDevice: s),
                                 rule: rule)
            return LayerDrop(summed: summed, episodes: episodes, meanImbalanceAfter: weighted / weights)
        }
    }

    /// Total tokens dropped over total tokens routed, on the layers' summed episodes.
    public static func totalDroppedFraction(_ layers: [LayerDrop]) -> Double {
        let dropped = layers.reduce(0) { $0 + $1.summed.dropped }, total = layers.reduce(0) { $0 + $1.summed.total }
        return total > 0 ? dropped / total : 0
    }

    /// Device loads of one layer's plan on one row of expert loads: `L_d = Σ_{slots on d} w[x] / r_x`.
    ///
    /// - Parameters:
    ///   - plan: `phy2log` of the layer, `D·S` ids in `0..<E`, every expert present.
    ///   - loads: `E` loads (any scale), indexed from the collection's start.
    /// - Complexity: O(P + E).
    public static func deviceLoads<Loads: RandomAccessCollection<Double>>(
        _ plan: some Collection<Int32>, loads: Loads, slotsPerDevice s: Int) -> [Double] where Loads.Index == Int {
        var counts = [Double](repeating: 0, count: loads.count)
        for x in plan { counts[Int(x)] += 1 }
        var out = [Double](repeating: 0, count: plan.count / s)
        let base = loads.startIndex
        for (i, x) in plan.enumerated() { out[i / s] += loads[base + Int(x)] / counts[Int(x)] }
        return out
    }
}
