/// Replays a per-iteration load trace against a rebalancing policy, as a serving engine would run
/// it, and scores the placement in force at every iteration.
///
/// ## Overview
///
/// A trace is a ``LoadTensor`` `[L][N][E]` whose episode axis is `N` serving iterations (forward
/// steps). The simulation starts from a deployed placement (`current`; by default the *plain*
/// one, `phy2log[p] = p mod E` in every layer, vLLM's initial map) and steps through the
/// iterations:
///
/// - **Scoring.** Iteration `i` is served by the placement in force for each layer at `i`. Per
///   layer, `ρ = max_d L[d] / mean_d L[d]` with the tokens of each expert split evenly over its
///   replicas (INTERFACE.md §2; `ρ = 1` when the layer carries no load in that iteration). The
///   iteration's PAR is the mean of `ρ` over layers; the report gives the mean PAR over all `N`
///   iterations and its p50, p99 and max (nearest rank).
/// - **Rebalancing points.** The policy is called at iteration boundaries
///   `i₀, i₀ + I, i₀ + 2I, … < N`, where `I` is ``Configuration/interval`` and
///   `i₀ = ⌈max(W, I) / I⌉ · I` is the first multiple of `I` at which at least `W`
///   (``Configuration/window``) iterations have been seen. The call at `i` gets a ``Problem``
///   whose episodes are iterations `i − W ..< i` (all weights 1) and whose `current` is the
///   placement deployed at `i`. A clairvoyant policy (``SimulationPolicy/isClairvoyant``,
///   ``OraclePolicy``) gets iterations `i ..< min(i + W, N)` instead, and no policy time.
/// - **Policy time.** The policy's wall-clock time `w` is measured (only its `decide` call) and
///   charged as serving iterations: the old placement stays in force for
///   `delay = ⌈w / iterationSeconds⌉` iterations (``PolicyTimeCharge/measured(iterationSeconds:)``),
///   or a fixed number (``PolicyTimeCharge/fixedIterations(_:)``, for reproducible runs).
/// - **Layer-by-layer application.** Then the changed layers are applied
///   ``Configuration/layersPerIteration`` (`k`) at a time in the decision's priority order: the
///   `j`-th changed layer (from 0) takes effect at iteration `i + delay + ⌊j / k⌋`.
/// - **Overlap.** When the next call at `i + I` comes before every layer of the previous decision
///   has taken effect (a long delay, or many layers with small `k`), the pending layers are
///   applied at once, effective from iteration `i + I`, before the policy is called again; so
///   every policy sees its previous decision fully deployed. Updates still pending at the end of
///   the trace (effective at `N` or later) are never applied and cost no moves.
/// - **Moves** of an update: the slots whose expert differs between the layer's placement before
///   and after it, summed over the applied updates.
///
/// ## Cost model
///
/// `modelledCost = computeSeconds × meanPAR + moves × expertBytes / bandwidth` (seconds). The
/// first term is the serving time when MoE steps run at the pace of the busiest device
/// (`computeSeconds` is the time the trace would take at perfect balance, PAR 1); the second is
/// the time to copy the moved expert weights. The defaults (60 s; 88,080,384 B, one DeepSeek-V3
/// expert's three 7168 × 2048 FP8 matrices; 900 GB/s, an NVLink-class link) model a DeepSeek-V3
/// deployment; see ``CostModel``.
///
/// ## Validation
///
/// The initialiser throws ``ExpertPlacementError`` naming the field at fault: `window`,
/// `interval`, `layersPerIteration`, `iterationSeconds`, `delayIterations`, `computeSeconds`,
/// `expertBytes`, `bandwidth` out of range; the topology not fitting the experts; `current` not
/// matching the trace (layers, slots, experts, ids, an expert without a replica). ``run(_:progress:)``
/// throws when a decision does not fit (`placement`, `priority`), or passes on the policy's error.
///
/// ## Complexity
///
/// Scoring is O(N·L·P) multiply-adds on flat storage, layers in parallel
/// (``LayerParallelism``); the result does not depend on the thread count. Each call also copies
/// its window, O(L·W·E), and costs whatever the policy costs. A DeepSeek-V3-shaped trace of 8,192
/// iterations × 58 layers × 288 slots scores in a fraction of a second.
///
/// ## Comparison
///
/// DeepSeek EPLB, vLLM and SGLang rebalance every fixed number of steps from the load summed over
/// a window and apply the new plan in one go (vLLM's asynchronous mode transfers layer by layer);
/// ``GreedyPolicy`` reproduces that policy. FlashLB and the `eplb rebalance` policy differ in
/// what they plan on and in how many layers they move; this simulator charges them all the same
/// way on the same trace.
public struct OnlineSimulator: Sendable {
    /// How the policy's time is charged as serving iterations.
    public enum PolicyTimeCharge: Sendable, Equatable {
        /// Measure the wall-clock time `w` of each call and charge `⌈w / iterationSeconds⌉`
        /// iterations (`iterationSeconds` > 0 and finite: the duration of one serving iteration).
        case measured(iterationSeconds: Double)
        /// Charge this many iterations (≥ 0) per call, whatever the policy takes: deterministic.
        case fixedIterations(Int)

        /// The iterations charged for a call that took `seconds`.
        func iterations(forSeconds seconds: Double) -> Int {
            switch self {
            case .fixedIterations(let n): return n
            case .measured(let perIteration):
                let charge = (seconds / perIteration).rounded(.up)
                return charge < Double(Int32.max) ? Int(Swift.max(0, charge)) : Int(Int32.max)
            }
        }
    }

    /// The modelled cost of a run: `computeSeconds × meanPAR + moves × expertBytes / bandwidth`.
    public struct CostModel: Sendable, Equatable {
        /// Seconds the trace's MoE work takes at perfect balance (PAR 1). Default 60.
        public var computeSeconds: Double
        /// Bytes of one expert's weights. Default 88,080,384 (DeepSeek-V3: 3 × 7168 × 2048 at FP8).
        public var expertBytes: Double
        /// Bytes per second of the link that moves experts. Default 900e9 (NVLink-class).
        public var bandwidth: Double

        /// Creates a cost model (defaults as documented on the properties).
        public init(computeSeconds: Double = 60, expertBytes: Double = 88_080_384, bandwidth: Double = 900e9) {
            self.computeSeconds = computeSeconds
            self.expertBytes = expertBytes
            self.bandwidth = bandwidth
        }

        /// `computeSeconds × meanPAR`.
        public func computeCost(meanPAR: Double) -> Double { computeSeconds * meanPAR }

        /// `moves × expertBytes / bandwidth`.
        public func migrationCost(moves: Int) -> Double { Double(moves) * expertBytes / bandwidth }
    }

    /// The schedule and the charges of a simulation.
    public struct Configuration: Sendable, Equatable {
        /// Iterations the policy sees at each call, `W` ≥ 1.
        public var window: Int
        /// Iterations between calls, `I` ≥ 1.
        public var interval: Int
        /// Layers that take effect per iteration once the delay has passed, `k` ≥ 1. Default 1.
        public var layersPerIteration: Int
        /// How the policy's time is charged. Default: measured, 0.05 s per iteration.
        public var policyTime: PolicyTimeCharge
        /// The cost model of the report.
        public var cost: CostModel
        /// Most threads for scoring (`nil`: one per core). Results never depend on it.
        public var maxThreads: Int?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - window: iterations seen by the policy, `W` ≥ 1.
        ///   - interval: iterations between calls, `I` ≥ 1.
        ///   - layersPerIteration: layers applied per iteration, `k` ≥ 1.
        ///   - policyTime: how the policy's time is charged.
        ///   - cost: the cost model.
        ///   - maxThreads: most scoring threads.
        public init(window: Int, interval: Int, layersPerIteration: Int = 1,
                    policyTime: PolicyTimeCharge = .measured(iterationSeconds: 0.05),
                    cost: CostModel = CostModel(), maxThreads: Int? = nil) {
            self.window = window
            self.interval = interval
            self.layersPerIteration = layersPerIteration
            self.policyTime = policyTime
            self.cost = cost
            self.maxThreads = maxThreads
        }

        /// The first rebalancing point, `⌈max(W, I) / I⌉ · I`.
        public var firstRebalanceIteration: Int {
            let first = Swift.max(window, interval)
            return (first + interval - 1) / interval * interval
        }

        /// Checks every value's range.
        ///
        /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the field.
        public func validate() throws(ExpertPlacementError) {
            for (field, value) in [("window", window), ("interval", interval),
                                   ("layersPerIteration", layersPerIteration)] where value < 1 {
                throw .invalidValue(field: field, reason: "must be at least 1, got \(value)")
            }
            guard window <= 1 << 40, interval <= 1 << 40 else {
                throw .invalidValue(field: "window", reason: "window and interval must be at most 2^40")
            }
            switch policyTime {
            case .measured(let s) where !(s > 0 && s.isFinite):
                throw .invalidValue(field: "iterationSeconds", reason: "must be a positive finite number, got \(s)")
            case .fixedIterations(let n) where n < 0:
                throw .invalidValue(field: "delayIterations", reason: "must be 0 or more, got \(n)")
            default: break
            }
            for (field, value) in [("computeSeconds", cost.computeSeconds), ("expertBytes", cost.expertBytes),
                                   ("bandwidth", cost.bandwidth)] where !(value > 0 && value.isFinite) {
                throw .invalidValue(field: field, reason: "must be a positive finite number, got \(value)")
            }
        }
    }

    /// The trace, `[L][N][E]`: episodes are serving iterations.
    public let trace: LoadTensor
    /// The hardware.
    public let topology: Topology
    /// The placement deployed when the trace starts.
    public let initial: Placement
    /// Schedule and charges.
    public let configuration: Configuration

    /// Number of iterations, `N`.
    public var iterations: Int { trace.episodes }

    /// Creates a simulator and checks its inputs.
    ///
    /// - Parameters:
    ///   - trace: the per-iteration loads `[L][N][E]`.
    ///   - topology: the hardware (validated for `E` experts).
    ///   - current: the deployed placement, or `nil` for ``plainPlacement(topology:experts:layers:)``.
    ///   - configuration: schedule and charges.
    /// - Throws: ``ExpertPlacementError`` naming the field at fault (see the type's Validation),
    ///   also when `current` breaks a serving worker's rules (``Validation``) or the trace ends
    ///   before the first call (``Configuration/firstRebalanceIteration``).
    /// - Complexity: O(L·P).
    public init(trace: LoadTensor, topology: Topology, current: Placement? = nil,
                configuration: Configuration) throws(ExpertPlacementError) {
        try configuration.validate()
        try topology.validate(experts: trace.experts)
        guard configuration.firstRebalanceIteration < trace.episodes else {
            let field = configuration.window >= configuration.interval ? "window" : "interval"
            throw .invalidValue(field: field, reason: "the first call would come at iteration \(configuration.firstRebalanceIteration), past the trace's \(trace.episodes) iterations: no policy would ever be called")
        }
        let start = current ?? Self.plainPlacement(topology: topology, experts: trace.experts, layers: trace.layers)
        let pt = start.topology
        guard pt.devices == topology.devices, pt.slotsPerDevice == topology.slotsPerDevice else {
            throw .shapeMismatch(field: "current",
                                 reason: "is for \(pt.devices) devices × \(pt.slotsPerDevice) slots but the simulation has \(topology.devices) × \(topology.slotsPerDevice)")
        }
        guard start.layers == trace.layers else {
            throw .shapeMismatch(field: "current", reason: "has \(start.layers) layers but the trace has \(trace.layers)")
        }
        guard start.experts == trace.experts else {
            throw .shapeMismatch(field: "current",
                                 reason: "is for \(start.experts) experts but the trace has \(trace.experts)")
        }
        for l in 0..<trace.layers {
            try Self.checkRow(start, layer: l, field: "current[\(l)]")
        }
        // A deployed placement must be one a serving worker loads (the rules every policy's
        // rebalance checks), whichever policies run; the plain map is built valid.
        if current != nil, let broken = Validation.deployedViolations(of: start, limit: 1).first {
            throw .invalidValue(field: "current", reason: "the deployed placement breaks a rule: \(broken)")
        }
        self.trace = trace
        self.topology = topology
        self.initial = start
        self.configuration = configuration
    }

    /// vLLM's initial map: `phy2log[p] = p mod E` in every layer (one replica of each expert,
    /// then the redundant slots to experts `0, 1, …` again).
    ///
    /// - Precondition: `topology.slotCount ≥ 1`, `experts ≥ 1`, `layers ≥ 1` (programmer error).
    /// - Complexity: O(L·P).
    public static func plainPlacement(topology: Topology, experts: Int, layers: Int) -> Placement {
        precondition(topology.slotCount >= 1 && experts >= 1 && layers >= 1, "empty shape")
        let p = topology.slotCount
        let flat = ContiguousArray((0..<layers * p).map { Int32(($0 % p) % experts) })
        return try! Placement(topology: topology, experts: experts, physicalToLogical: flat)
    }

    /// Replays the trace against `policy`.
    ///
    /// - Parameters:
    ///   - policy: the policy; called in iteration order, on this instance.
    ///   - progress: called on the calling thread after every policy call and once at the end,
    ///     with the policy's name, the iteration reached and `N`.
    /// - Returns: the scores, moves, charges and modelled cost.
    /// - Throws: ``ExpertPlacementError`` from the policy, or when a decision does not fit the
    ///   simulation (`placement` shape or ids, an expert without a replica, `priority` out of
    ///   range, repeated, or missing a changed layer).
    /// - Complexity: O(N·L·P) plus O(L·W·E) and the policy's cost per call.
    public func run<Policy: SimulationPolicy>(
        _ policy: inout Policy, progress: ((_ policy: String, _ iteration: Int, _ iterations: Int) -> Void)? = nil
    ) throws(ExpertPlacementError) -> SimulationReport {
        let n = iterations, layerCount = trace.layers, p = topology.slotCount
        let config = configuration
        let clock = ContinuousClock()
        var deployed = initial.physicalToLogical
        var updates: [[LayerUpdate]] = (0..<layerCount).map { l in
            [LayerUpdate(start: 0, row: ContiguousArray(deployed[l * p ..< (l + 1) * p]))]
        }
        var pending: [LayerUpdate] = []
        var pendingLayers: [Int] = []
        var calls: [RebalanceRecord] = []
        var moves = 0, layersChanged = 0

        // Makes the last decision's updates effective, none later than `bound`; with
        // `dropFrom`, updates effective at or after it are discarded instead.
        func settle(bound: Int, dropFrom: Int?) {
            guard !calls.isEmpty else { return }
            for (update, l) in zip(pending, pendingLayers) {
                if let dropFrom, update.start >= dropFrom { continue }
                let start = Swift.min(update.start, bound)
                var changed = 0
                for q in 0..<p where deployed[l * p + q] != update.row[q] {
                    changed += 1
                    deployed[l * p + q] = update.row[q]
                }
                updates[l].append(LayerUpdate(start: start, row: update.row))
                calls[calls.count - 1].layersApplied += 1
                calls[calls.count - 1].moves += changed
                calls[calls.count - 1].applied.append(LayerApplication(layer: l, iteration: start, moves: changed))
                moves += changed
                layersChanged += 1
            }
            pending.removeAll(keepingCapacity: true)
            pendingLayers.removeAll(keepingCapacity: true)
        }

        var i = config.firstRebalanceIteration
        while i < n {
            settle(bound: i, dropFrom: nil)
            let current = try Placement(topology: topology, experts: trace.experts, physicalToLogical: deployed)
            // The last W iterations; a clairvoyant policy gets the next W (fewer at the end).
            let w = config.window
            let loads = windowLoads(policy.isClairvoyant ? i ..< Swift.min(i + w, n) : i - w ..< i)
            let window = try Problem(topology: topology, loads: loads, current: current)
            let started = clock.now
            let decision = try policy.decide(window: window)
            let wall = (clock.now - started).inSeconds
            let delay = policy.isClairvoyant ? 0 : config.policyTime.iterations(forSeconds: wall)
            let order = try checkDecision(decision, deployed: current, policy: policy.name)
            let effective = i + Swift.min(delay, n)
            for (j, l) in order.enumerated() {
                let row = decision.placement.physicalToLogical[l * p ..< (l + 1) * p]
                pending.append(LayerUpdate(start: effective + j / config.layersPerIteration, row: ContiguousArray(row)))
                pendingLayers.append(l)
            }
            calls.append(RebalanceRecord(iteration: i, wallSeconds: wall, delayIterations: delay,
                                         layersChanged: order.count, layersApplied: 0, moves: 0))
            progress?(policy.name, i, n)
            i += config.interval
        }
        settle(bound: n, dropFrom: n)

        let par = score(updates)
        let sorted = par.sorted()
        func rank(_ q: Double) -> Double {
            sorted[Swift.max(0, Int((q * Double(n)).rounded(.up)) - 1)]
        }
        var sum = 0.0
        for v in par { sum += v }
        let meanPAR = sum / Double(n)
        let compute = config.cost.computeCost(meanPAR: meanPAR)
        let migration = config.cost.migrationCost(moves: moves)
        progress?(policy.name, n, n)
        return SimulationReport(
            policy: policy.name, perIterationPAR: par, meanPAR: meanPAR, p50PAR: rank(0.5), p99PAR: rank(0.99),
            maxPAR: sorted[n - 1], moves: moves, layersChanged: layersChanged,
            policySeconds: calls.reduce(0) { $0 + $1.wallSeconds },
            delayIterations: calls.reduce(0) { $0 + $1.delayIterations },
            computeCostSeconds: compute, migrationCostSeconds: migration, modelledCostSeconds: compute + migration,
            calls: calls,
            finalPlacement: try Placement(topology: topology, experts: trace.experts, physicalToLogical: deployed))
    }

    // MARK: - Implementation

    /// A layer's `phy2log` row taking effect at iteration `start`.
    struct LayerUpdate: Sendable {
        var start: Int
        var row: ContiguousArray<Int32>
    }

    /// Loads of the iterations in `range` (within `0 ..< N`), `[L][range.count][E]` (values of
    /// the checked trace: not checked again).
    func windowLoads(_ range: Range<Int>) -> LoadTensor {
        let e = trace.experts, n = trace.episodes
        var values = ContiguousArray<Double>()
        values.reserveCapacity(trace.layers * range.count * e)
        for l in 0..<trace.layers {
            values.append(contentsOf: trace.values[(l * n + range.lowerBound) * e ..< (l * n + range.upperBound) * e])
        }
        return LoadTensor(layers: trace.layers, episodes: range.count, experts: e, checkedValues: values)
    }

    /// Checks a decision against the deployed placement; returns the changed layers in priority order.
    func checkDecision(_ decision: PolicyDecision, deployed: Placement,
                       policy: String) throws(ExpertPlacementError) -> [Int] {
        let plan = decision.placement, layerCount = trace.layers
        guard plan.topology.devices == topology.devices, plan.topology.slotsPerDevice == topology.slotsPerDevice,
              plan.layers == layerCount, plan.experts == trace.experts else {
            throw .shapeMismatch(field: "placement",
                                 reason: "policy \(policy) returned \(plan.layers) layers × \(plan.topology.devices) devices × \(plan.topology.slotsPerDevice) slots for \(plan.experts) experts; the simulation has \(layerCount) × \(topology.devices) × \(topology.slotsPerDevice) for \(trace.experts)")
        }
        var listed = [Bool](repeating: false, count: layerCount)
        var order: [Int] = []
        for l in decision.priority {
            guard l >= 0 && l < layerCount else {
                throw .invalidValue(field: "priority", reason: "policy \(policy) listed layer \(l), outside 0..<\(layerCount)")
            }
            guard !listed[l] else {
                throw .invalidValue(field: "priority", reason: "policy \(policy) listed layer \(l) twice")
            }
            listed[l] = true
            if plan.moves(from: deployed, layer: l) > 0 {
                try Self.checkRow(plan, layer: l, field: "placement[\(l)]")
                order.append(l)
            }
        }
        for l in 0..<layerCount where !listed[l] && plan.moves(from: deployed, layer: l) > 0 {
            throw .invalidValue(field: "priority", reason: "policy \(policy) changed layer \(l) but did not list it")
        }
        return order
    }

    /// Ids in range and every expert with a replica (the load model needs `r_e ≥ 1`).
    static func checkRow(_ placement: Placement, layer: Int, field: String) throws(ExpertPlacementError) {
        let p = placement.slotsPerLayer, e = placement.experts
        var seen = [Bool](repeating: false, count: e)
        for q in 0..<p {
            let x = Int(placement.physicalToLogical[layer * p + q])
            guard x >= 0 && x < e else {
                throw .invalidValue(field: "\(field)[\(q)]", reason: "expert id \(x) is out of range 0..<\(e)")
            }
            seen[x] = true
        }
        if let missing = seen.firstIndex(of: false) {
            throw .invalidValue(field: field, reason: "expert \(missing) has no replica")
        }
    }

    /// Per-iteration PAR given each layer's updates (ascending starts, the first at 0).
    func score(_ updates: [[LayerUpdate]]) -> ContiguousArray<Double> {
        let n = trace.episodes, layerCount = trace.layers
        let work = n * layerCount * topology.slotCount
        let rhos = LayerParallelism.map(count: layerCount, work: work, maxThreads: configuration.maxThreads) { l in
            Self.layerImbalances(trace: trace, layer: l, updates: updates[l], topology: topology)
        }
        var par = ContiguousArray<Double>(repeating: 0, count: n)
        par.withUnsafeMutableBufferPointer { out in
            for rho in rhos {
                rho.withUnsafeBufferPointer { r in
                    for t in 0..<n { out[t] += r[t] }
                }
            }
            let scale = 1 / Double(layerCount)
            for t in 0..<n { out[t] *= scale }
        }
        return par
    }

    /// `ρ` of one layer at every iteration, under its sequence of updates.
    /// - Complexity: O(N·P + U·(P + E)) for `U` updates.
    static func layerImbalances(trace: LoadTensor, layer l: Int, updates: [LayerUpdate],
                                topology: Topology) -> ContiguousArray<Double> {
        let n = trace.episodes, e = trace.experts, d = topology.devices, s = topology.slotsPerDevice
        let p = d * s
        var rho = ContiguousArray<Double>(repeating: 1, count: n)
        var totals = ContiguousArray<Double>(repeating: 0, count: n), peaks = totals
        var counts = ContiguousArray<Int>(repeating: 0, count: e)
        var slotExpert = ContiguousArray<Int>(repeating: 0, count: p)
        var slotShare = ContiguousArray<Double>(repeating: 0, count: p)
        for (u, update) in updates.enumerated() {
            let begin = update.start
            let end = u + 1 < updates.count ? Swift.min(updates[u + 1].start, n) : n
            guard begin < end else { continue }
            for x in 0..<e { counts[x] = 0 }
            for q in 0..<p { counts[Int(update.row[q])] += 1 }
            for q in 0..<p {
                let x = Int(update.row[q])
                slotExpert[q] = x
                slotShare[q] = 1 / Double(counts[x])
            }
            let count = end - begin
            trace.values.withUnsafeBufferPointer { w in
                slotExpert.withUnsafeBufferPointer { expert in
                    slotShare.withUnsafeBufferPointer { share in
                        totals.withUnsafeMutableBufferPointer { totals in
                            peaks.withUnsafeMutableBufferPointer { peaks in
                                DevicePeaks.scan(loads: w.baseAddress! + (l * n + begin) * e, stride: e,
                                                 count: count, slotExpert: expert, slotShare: share,
                                                 slotsPerDevice: s,
                                                 totals: totals.baseAddress!, peaks: peaks.baseAddress!)
                            }
                        }
                    }
                }
            }
            for i in 0..<count {
                let total = totals[i]
                rho[begin + i] = total > 0 ? peaks[i] * Double(d) / total : 1
            }
        }
        return rho
    }
}
