/// The drop-budget objective: a layer's objective with every episode's peak replaced by its
/// *capped peak*, the smallest per-device capacity that drops at most the share `f` of that
/// episode's tokens (``TokenDrop``).
///
/// Guide (DocC article *Token dropping*): with `c_t(f)` the capped peak of episode `t` and
/// `W_t` its load, the capped imbalance of the episode is `ρ_t(f) = c_t(f)·D / W_t` (1 when
/// `W_t = 0`), and
///
/// | objective | capped value |
/// |---|---|
/// | `meanImbalance` | `Σ_t ω_t ρ_t(f) / Σ_t ω_t` |
/// | `worstImbalance` | `max_t ρ_t(f)` over episodes with `ω_t > 0` |
/// | `aggregateImbalance` | `ρ(f)` of the summed load `Σ_t ω_t w[t]` |
/// | `peakSum` | `Σ_t ω_t c_t(f)` |
///
/// The same budget applies to every episode. `f = 0` gives the objective itself. Because the
/// capacity is positively homogeneous (`c(λL) = λ·c(L)`), the capped value is the
/// ``ObjectiveModel``'s combination of the capped peaks of its scaled rows — which is how it is
/// computed here, and why the search and the exact model can share those rows. Unlike the
/// peaks, capped imbalances can fall below 1 (a perfectly balanced step that drops 5 % runs at
/// 0.95 of the ideal), so the max combination takes the constant 1 only from load-free episodes.
public struct DropObjective: Sendable {
    /// The layer's objective model (rows `u[t][e]`, combination, constant).
    public let model: ObjectiveModel
    /// The share of each row's tokens that may be dropped, `f ∈ [0, 1)`.
    public let budget: Double
    /// The floor of the max combination: 1 when some positive-weight episode (block) carries no
    /// load (its ρ is 1), else 0. Unused by the sum combination.
    public let floor: Double

    /// The capped objective of `objective` on `layer` at budget `budget`.
    ///
    /// - Parameters:
    ///   - episodeCap: as ``ObjectiveModel/init(_:objective:episodeCap:)`` (blocks of episodes,
    ///     what the search optimises on long traces); `nil` for the exact objective.
    /// - Complexity: O(T·E).
    public init(_ layer: ProblemLayer, objective: Objective, budget: Double, episodeCap: Int? = nil) {
        let model = ObjectiveModel(layer, objective: objective, episodeCap: episodeCap)
        self.model = model
        self.budget = budget
        let active = layer.episodeWeights.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
        let blocks = objective == .aggregateImbalance ? 1 : Swift.min(active, Swift.max(1, episodeCap ?? active))
        let placeholder = model.rowWeights.count == 1 && model.rowWeights[0] == 0
        floor = placeholder || model.rowCount < blocks ? 1 : 0
    }

    /// Each row's capped peak under `plan` (`phy2log` of the layer, device-major, every expert present).
    /// - Complexity: O(T'·(P + D log D) + E).
    public func cappedPeaks(_ plan: some Collection<Int32>, slotsPerDevice s: Int) -> [Double] {
        let e = model.experts
        return (0..<model.rowCount).map { t in
            TokenDrop.capacity(deviceLoads: DropAnalysis.deviceLoads(plan, loads: model.rows[t * e ..< (t + 1) * e],
                                                                     slotsPerDevice: s),
                               budget: budget)
        }
    }

    /// Combines capped row peaks (one per row, in row order) into the capped value.
    @inlinable
    public func value<Peaks: Sequence<Double>>(cappedPeaks: Peaks) -> Double {
        switch model.combination {
        case .sum: return cappedPeaks.reduce(model.constant, +)
        case .max: return cappedPeaks.reduce(floor) { Swift.max($0, $1) }
        }
    }

    /// The capped value of `plan`.
    public func value(of plan: some Collection<Int32>, slotsPerDevice s: Int) -> Double {
        value(cappedPeaks: cappedPeaks(plan, slotsPerDevice: s))
    }

    /// The capped value of every layer of `placement` (every expert of every layer present), on
    /// every episode: what `cappedImbalance` reports in the metrics.
    /// - Complexity: O(L·T·(P + D log D + E)).
    public static func values(_ placement: Placement, on problem: Problem, objective: Objective, budget: Double) -> [Double] {
        (0..<problem.layers).map { value(placement, on: problem, layer: $0, objective: objective, budget: budget) }
    }

    /// The capped value of one layer of `placement` (every expert of the layer present), on every episode.
    /// - Complexity: O(T·(P + D log D + E)).
    public static func value(_ placement: Placement, on problem: Problem, layer l: Int, objective: Objective,
                             budget: Double) -> Double {
        let p = placement.slotsPerLayer
        return DropObjective(ProblemLayer(problem, layer: l), objective: objective, budget: budget)
            .value(of: placement.physicalToLogical[l * p ..< (l + 1) * p], slotsPerDevice: problem.topology.slotsPerDevice)
    }

    /// Fills ``LayerMetrics/cappedImbalance`` of every layer of `metrics` (the metrics of
    /// `placement` on `problem`) with ``values(_:on:objective:budget:)``.
    public static func annotate(_ metrics: inout PlacementMetrics, of placement: Placement, on problem: Problem,
                                objective: Objective, budget: Double) {
        for (l, v) in values(placement, on: problem, objective: objective, budget: budget).enumerated() {
            metrics.layers[l].cappedImbalance = v
        }
    }
}
