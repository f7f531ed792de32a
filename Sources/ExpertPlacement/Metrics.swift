/// The quality of one layer's placement (INTERFACE.md §2).
///
/// Load model: the tokens of expert `e` are split evenly over its `r_e` replicas. Device load in
/// episode `t` is `L[t][d] = Σ_{slots p on d} w[t][phy2log[p]] / r_{phy2log[p]}` and the episode
/// imbalance is `ρ_t = max_d L[t][d] / mean_d L[t][d]` (1 when the episode carries no load).
/// Episodes whose weight `ω_t` is 0 are ignored by every metric.
public struct LayerMetrics: Sendable, Equatable {
    /// `Σ_t ω_t ρ_t / Σ_t ω_t`.
    public var meanImbalance: Double
    /// `max_t ρ_t` over the episodes with positive weight.
    public var worstImbalance: Double
    /// ρ of the weighted summed load `Σ_t ω_t w[t]`.
    public var aggregateImbalance: Double
    /// `Σ_t ω_t max_d L[t][d]`, in load units.
    public var peakSum: Double
    /// A proven lower bound on the optimum of the solver's objective for this layer, if known.
    public var lowerBound: Double?
    /// `(achieved − lowerBound) / lowerBound` for the solver's objective, if a bound is known.
    public var gap: Double?
    /// Slots whose expert differs from the deployed placement, if one was given.
    public var moves: Int?
    /// The solver's objective with every episode's peak capped at a drop budget
    /// (``DropObjective``), when one was set (`--drop-budget`).
    public var cappedImbalance: Double? = nil

    /// Creates a metrics record.
    public init(meanImbalance: Double, worstImbalance: Double, aggregateImbalance: Double,
                peakSum: Double, lowerBound: Double? = nil, gap: Double? = nil, moves: Int? = nil) {
        self.meanImbalance = meanImbalance
        self.worstImbalance = worstImbalance
        self.aggregateImbalance = aggregateImbalance
        self.peakSum = peakSum
        self.lowerBound = lowerBound
        self.gap = gap
        self.moves = moves
    }

    /// The value of `objective` for this layer.
    public func value(of objective: Objective) -> Double {
        switch objective {
        case .meanImbalance: meanImbalance
        case .worstImbalance: worstImbalance
        case .aggregateImbalance: aggregateImbalance
        case .peakSum: peakSum
        }
    }
}

/// Mean and maximum of one metric over the layers.
public struct MetricSummary: Sendable, Equatable {
    /// Mean over layers.
    public var mean: Double
    /// Maximum over layers.
    public var max: Double
}

/// Per-layer metrics of a whole placement and their summary over layers.
public struct PlacementMetrics: Sendable, Equatable {
    /// One record per layer.
    public var layers: [LayerMetrics]

    /// Creates the record from per-layer metrics.
    public init(layers: [LayerMetrics]) { self.layers = layers }

    /// Mean and max over layers of a metric (`nil` when some layer lacks it).
    public func summary(_ metric: (LayerMetrics) -> Double?) -> MetricSummary? {
        var sum = 0.0, peak = -Double.infinity
        for layer in layers {
            guard let v = metric(layer) else { return nil }
            sum += v
            peak = Swift.max(peak, v)
        }
        guard !layers.isEmpty else { return nil }
        return MetricSummary(mean: sum / Double(layers.count), max: peak)
    }

    /// Σ of `moves` over layers (`nil` when there is no deployed placement).
    public var totalMoves: Int? {
        var total = 0
        for layer in layers {
            guard let m = layer.moves else { return nil }
            total += m
        }
        return total
    }
}

/// The evaluator: the one implementation of INTERFACE.md §2, used by every solver and command.
public enum Metrics {
    /// Evaluates a placement on a problem, layer by layer (layers in parallel on large inputs).
    ///
    /// `moves` is filled when the problem carries a `current` placement. `lowerBounds`, when
    /// given, fills `lowerBound` and `gap` for `objective`.
    ///
    /// - Throws: ``ExpertPlacementError`` when the placement does not fit the problem (shape,
    ///   ids out of range, an expert without a replica: the load model needs `r_e ≥ 1`).
    /// - Complexity: O(L·(T·P + E)).
    public static func evaluate(_ placement: Placement, on problem: Problem,
                                objective: Objective = .meanImbalance,
                                lowerBounds: [Double]? = nil) throws(ExpertPlacementError) -> PlacementMetrics {
        try checkFit(placement, problem)
        if let lowerBounds, lowerBounds.count != problem.layers {
            throw .shapeMismatch(field: "lowerBounds", reason: "\(lowerBounds.count) bounds for \(problem.layers) layers")
        }
        let work = problem.layers * (problem.episodes * placement.slotsPerLayer + problem.experts)
        let layers = try LayerParallelism.map(count: problem.layers, work: work) {
            (l: Int) throws(ExpertPlacementError) -> LayerMetrics in
            var m = try fittedLayerMetrics(placement, on: problem, layer: l)
            if let lowerBounds {
                // A bound proven in another summation order can sit a few ulps above the value it
                // proves optimal: it is that value (a larger excess is a solver's bug, left visible).
                let value = m.value(of: objective)
                let lb = lowerBounds[l] > value && lowerBounds[l] <= value * (1 + 1e-9) ? value : lowerBounds[l]
                m.lowerBound = lb
                m.gap = lb > 0 ? (value - lb) / lb : nil
            }
            return m
        }
        return PlacementMetrics(layers: layers)
    }

    /// The metrics of one layer. See ``LayerMetrics`` for the definitions.
    ///
    /// - Throws: as ``evaluate(_:on:objective:lowerBounds:)`` (checking the shape and this
    ///   layer's ids), and naming `layer` when it is outside `0..<problem.layers`.
    /// - Complexity: O(T·P + E).
    public static func layerMetrics(_ placement: Placement, on problem: Problem,
                                    layer: Int) throws(ExpertPlacementError) -> LayerMetrics {
        try checkShape(placement, problem)
        guard layer >= 0 && layer < problem.layers else {
            throw .invalidValue(field: "layer", reason: "\(layer) is outside 0..<\(problem.layers)")
        }
        try checkIds(placement, problem, slots: layer * placement.slotsPerLayer ..< (layer + 1) * placement.slotsPerLayer)
        return try fittedLayerMetrics(placement, on: problem, layer: layer)
    }

    /// ``layerMetrics(_:on:layer:)`` on a placement already checked to fit the problem.
    static func fittedLayerMetrics(_ placement: Placement, on problem: Problem,
                                   layer: Int) throws(ExpertPlacementError) -> LayerMetrics {
        let topology = placement.topology
        let p = topology.slotCount, d = topology.devices, s = topology.slotsPerDevice
        let e = problem.experts, tCount = problem.episodes
        let counts = placement.replicaCounts(layer: layer)
        if let missing = counts.firstIndex(of: 0) {
            throw .invalidValue(field: "phy2log[\(layer)]", reason: "expert \(missing) has no replica")
        }
        let share = counts.map { 1.0 / Double($0) }
        let base = problem.loads.layerOffset(layer)
        var deviceLoad = [Double](repeating: 0, count: d)
        var aggregate = [Double](repeating: 0, count: e)
        // The layer's slots, checked once, so that the hot loop reads raw buffers.
        let row = Array(placement.physicalToLogical[layer * p ..< (layer + 1) * p].map { Int($0) })
        let slotShare = row.map { share[$0] }
        var totals = [Double](repeating: 0, count: tCount), peaks = totals

        // The hot loop (T·P gathers) works on raw buffers only: no bounds or uniqueness checks
        // on the per-device and per-expert sums.
        problem.loads.values.withUnsafeBufferPointer { w in
            row.withUnsafeBufferPointer { slots in
                slotShare.withUnsafeBufferPointer { slotShare in
                    totals.withUnsafeMutableBufferPointer { totals in
                        peaks.withUnsafeMutableBufferPointer { peaks in
                            aggregate.withUnsafeMutableBufferPointer { aggregate in
                                problem.episodeWeights.withUnsafeBufferPointer { omegas in
                                    guard tCount > 0 else { return }
                                    DevicePeaks.scan(loads: w.baseAddress! + base, stride: e, count: tCount,
                                                     slotExpert: slots, slotShare: slotShare, slotsPerDevice: s,
                                                     totals: totals.baseAddress!, peaks: peaks.baseAddress!,
                                                     aggregate: aggregate.baseAddress!, weights: omegas.baseAddress!,
                                                     experts: e)
                                }
                            }
                        }
                    }
                }
            }
        }
        var weightSum = 0.0, rhoSum = 0.0, worst = 0.0, peakSum = 0.0
        problem.episodeWeights.withUnsafeBufferPointer { omegas in
            for t in 0..<tCount {
                let omega = omegas[t]
                if omega == 0 { continue }
                let total = totals[t]
                var peak = peaks[t]
                let rho = total > 0 ? peak * Double(d) / total : 1
                if !(total > 0) { peak = 0 }
                weightSum += omega
                rhoSum += omega * rho
                worst = Swift.max(worst, rho)
                peakSum += omega * peak
            }
        }
        let phy = placement.physicalToLogical
        for dev in 0..<d {
            var sum = 0.0
            for slot in dev * s ..< (dev + 1) * s {
                let x = Int(phy[layer * p + slot])
                sum += aggregate[x] * share[x]
            }
            deviceLoad[dev] = sum
        }
        let (aggregateRho, _) = imbalance(deviceLoad)
        var metrics = LayerMetrics(meanImbalance: rhoSum / weightSum, worstImbalance: worst,
                                   aggregateImbalance: aggregateRho, peakSum: peakSum)
        if let current = problem.current { metrics.moves = placement.moves(from: current, layer: layer) }
        return metrics
    }

    /// `(max/mean, max)` of device loads; `(1, 0)` when the total is 0.
    @inlinable static func imbalance(_ loads: [Double]) -> (rho: Double, peak: Double) {
        var total = 0.0, peak = 0.0
        for v in loads {
            total += v
            peak = Swift.max(peak, v)
        }
        guard total > 0 else { return (1, 0) }
        return (peak * Double(loads.count) / total, peak)
    }

    static func checkFit(_ placement: Placement, _ problem: Problem) throws(ExpertPlacementError) {
        try checkShape(placement, problem)
        try checkIds(placement, problem, slots: 0 ..< placement.physicalToLogical.count)
    }

    /// The placement's topology, experts and layers are the problem's.
    static func checkShape(_ placement: Placement, _ problem: Problem) throws(ExpertPlacementError) {
        let pt = placement.topology, qt = problem.topology
        guard pt.devices == qt.devices, pt.slotsPerDevice == qt.slotsPerDevice else {
            throw .shapeMismatch(field: "topology",
                                 reason: "the placement is for \(pt.devices) devices × \(pt.slotsPerDevice) slots but the instance has \(qt.devices) × \(qt.slotsPerDevice)")
        }
        guard placement.experts == problem.experts else {
            throw .shapeMismatch(field: "experts",
                                 reason: "the placement is for \(placement.experts) experts but the instance has \(problem.experts)")
        }
        guard placement.layers == problem.layers else {
            throw .shapeMismatch(field: "phy2log",
                                 reason: "the placement has \(placement.layers) layers but the instance has \(problem.layers)")
        }
    }

    /// The ids in `slots` (flat indices) are in `0..<problem.experts`.
    static func checkIds(_ placement: Placement, _ problem: Problem, slots: Range<Int>) throws(ExpertPlacementError) {
        let p = placement.topology.slotCount
        if let bad = placement.physicalToLogical[slots].firstIndex(where: { $0 < 0 || Int($0) >= problem.experts }) {
            throw .invalidValue(field: "phy2log[\(bad / p)][\(bad % p)]",
                                reason: "expert id \(placement.physicalToLogical[bad]) is out of range 0..<\(problem.experts)")
        }
    }
}
