/// The options of a rebalance (INTERFACE.md §4, `eplb rebalance`): which layers may change, what
/// moves cost, and the time budget. See ``Rebalancer`` for how they are used.
public struct RebalanceOptions: Sendable, Equatable {
    /// The objective scored and re-placed on (default `meanImbalance`).
    public var objective: Objective
    /// Re-place a layer whose deployed value is above this (absolute).
    public var threshold: Double?
    /// Re-place a layer whose balance fell below `r ×` its balance after its last update.
    public var relativeThreshold: Double?
    /// Keep a new plan only if its relative gain is at least this (e.g. 0.02 = 2 %).
    public var minGain: Double?
    /// Change at most this many layers (the best by gain per moved replica).
    public var maxLayers: Int?
    /// The cost or cap of moves when re-placing.
    public var moves: MovePolicy
    /// Wall-clock budget for re-placing (`nil`: the method's default).
    public var timeLimit: Duration?
    /// Most threads (`nil`: one per core).
    public var maxThreads: Int?
    /// A drop budget `f ∈ [0, 1)`: when set, every layer is scored on the capped objective
    /// (``DropObjective``; the metrics' `cappedImbalance`) instead of the objective — selection,
    /// gains and the recorded values — and the solver should be a ``DropAwareSolver`` of that budget.
    public var dropBudget: Double? = nil

    /// Creates options (defaults: every layer is a candidate, no move cost, no cap).
    public init(objective: Objective = .meanImbalance, threshold: Double? = nil, relativeThreshold: Double? = nil,
                minGain: Double? = nil, maxLayers: Int? = nil, moves: MovePolicy = MovePolicy(),
                timeLimit: Duration? = nil, maxThreads: Int? = nil) {
        self.objective = objective
        self.threshold = threshold
        self.relativeThreshold = relativeThreshold
        self.minGain = minGain
        self.maxLayers = maxLayers
        self.moves = moves
        self.timeLimit = timeLimit
        self.maxThreads = maxThreads
    }

    /// Checks the values.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the option.
    public func validate() throws(ExpertPlacementError) {
        if let threshold, !(threshold.isFinite && threshold >= 0) {
            throw .invalidValue(field: "threshold", reason: "must be a finite number ≥ 0, got \(threshold)")
        }
        if let r = relativeThreshold, !(r > 0 && r <= 1) {
            throw .invalidValue(field: "relativeThreshold", reason: "must be in (0, 1], got \(r)")
        }
        if let g = minGain, !(g.isFinite && g >= 0) {
            throw .invalidValue(field: "minGain", reason: "must be a finite number ≥ 0, got \(g)")
        }
        if let k = maxLayers, k < 0 { throw .invalidValue(field: "maxLayers", reason: "must be 0 or more, got \(k)") }
        if let cap = moves.maxMoves, cap < 0 { throw .invalidValue(field: "maxMoves", reason: "must be 0 or more, got \(cap)") }
        if !(moves.cost.isFinite && moves.cost >= 0) {
            throw .invalidValue(field: "moveCost", reason: "must be a finite number ≥ 0, got \(moves.cost)")
        }
        if let dropBudget { try DropAwareSolver<GreedySolver>.check(budget: dropBudget) }
    }
}

/// What happened to one layer in a rebalance.
public struct LayerChange: Sendable, Equatable {
    /// Why a layer was or was not re-placed.
    public enum Reason: String, Sendable, Equatable {
        /// No selection rule fired: the layer was not re-placed.
        case withinThreshold
        /// Re-placed, but the new plan was the deployed one (nothing to change).
        case noChange
        /// Re-placed, but the relative gain was below `minGain`.
        case belowMinGain
        /// Re-placed, but the plan found changes something without improving the objective on
        /// the window (with any `minGain`, also 0 or none).
        case noGain
        /// Re-placed and worth it, but other layers ranked higher within `maxLayers`.
        case beyondMaxLayers
        /// Changed.
        case changed
    }

    /// The layer index.
    public var layer: Int
    /// What was decided.
    public var reason: Reason
    /// The deployed plan's metrics on the window.
    public var before: LayerMetrics
    /// The new plan's metrics on the window (equal to `before` for an unchanged layer).
    public var after: LayerMetrics
    /// The best plan found's objective value, also for layers not changed (`nil`: not re-placed).
    public var candidateValue: Double?
    /// Moved replicas (slots whose expert changes; 0 for an unchanged layer).
    public var moves: Int
    /// The transfers that realise the change, in slot order (empty for an unchanged layer).
    public var transfers: [Transfer]

    /// `before − after` in the objective.
    public func gain(_ objective: Objective) -> Double { before.value(of: objective) - after.value(of: objective) }
}

/// The result of a rebalance.
public struct RebalancePlan: Sendable {
    /// The whole new placement: changed layers re-placed, every other layer identical to the
    /// deployed one.
    public var placement: Placement
    /// One record per layer.
    public var layers: [LayerChange]
    /// The changed layers in the order to apply them: largest gain per moved replica first
    /// (engines apply a few layers per step), ties by layer index.
    public var priority: [Int]
    /// Each layer's objective value right after this update (changed layers: their new value;
    /// others: their previous record, or their value now when they had none).
    public var recordedImbalance: [Double]
    /// The objective scored.
    public var objective: Objective
    /// The re-placing solver's report on the selected layers (method, status, notes).
    public var method: String
    /// Remarks.
    public var notes: [String]
    /// Wall-clock time of the whole rebalance.
    public var wallTime: Duration
    /// ``SolveStatus/timeLimit`` when re-placing stopped at the time limit (the best plans found
    /// were used), ``SolveStatus/feasible`` otherwise.
    public var status: SolveStatus = .feasible
    /// Where the plan was made when a ``RegimeMemory`` chose it (``Rebalancer/regimeMemory``):
    /// on the window or on the remembered windows; `nil` without a memory.
    public var plannedOn: RegimeMemory.Choice? = nil

    /// Total moved replicas.
    public var totalMoves: Int { layers.reduce(0) { $0 + $1.moves } }
}

/// A stateful rebalancer: the deployed placement and each layer's value at its last update,
/// carried from one call to the next (what a serving engine keeps between rebalances).
///
/// Rebalancing a deployed placement: layer-wise cherry-picking, migration-aware re-placement and
/// transfer plans (INTERFACE.md §4, `eplb rebalance`).
///
/// One call, on a window of recent loads (the problem's episodes) and the deployed placement (the
/// problem's `current`):
/// 1. **Score** every layer's deployed plan on the window (the objective's value, ``Metrics``).
/// 2. **Select** the layers that need it (all of them when no rule is set; a layer passes when
///    *any* set rule fires):
///    - `threshold X`: the deployed value is above `X` (absolute imbalance, e.g. 1.10);
///    - `relativeThreshold r` (FlashLB's rule, defaults 0.9/0.85 there): the layer's balance
///      `1/value` fell below `r ×` its balance right after its last update, i.e.
///      `value > recorded / r`. Without a record the layer's value now becomes its record.
/// 3. **Re-place** the selected layers with the chosen method through ``LayerDriver``: the plan is
///    relabelled onto the deployed devices (``Alignment``) and, with a move cost or cap, refined
///    by ``MigrationSearch``.
/// 4. **Keep** a layer's new plan only when it pays: it changes something, its relative gain
///    `(before − after)/before` is at least `minGain`, and it is among the `maxLayers` best by gain
///    per moved replica (``RebalancePlan/priority``). Every other layer keeps its deployed row
///    byte for byte.
/// 5. **Transfers** per changed layer (``TransferPlan``), and the record of each layer's value
///    right after this update (``RebalancePlan/recordedImbalance``), for the next call's relative
///    rule.
public struct Rebalancer<Solver: LayerSolver>: Sendable {
    /// The method that re-places layers.
    public var solver: Solver
    /// The options.
    public var options: RebalanceOptions
    /// The placement in force.
    public private(set) var deployed: Placement
    /// Each layer's objective value right after its last update (`nil`: never recorded).
    public private(set) var recordedImbalance: [Double?]
    /// The windows seen and which plan served better (``RegimeMemory``), as `eplb simulate`'s
    /// `rebalance` policy keeps it: from the second call on, a second plan is made on every
    /// remembered window and deployed when the previous calls' plans, scored on the windows that
    /// followed, favour it (``RebalancePlan/plannedOn`` says which). Off by default
    /// (`RegimeMemory(windows: 0)`); `RegimeMemory(windows: 8)` is the simulated policy's.
    /// With it a call makes two plans. The memory plan's rules and records refer to the memory's
    /// episodes.
    public var regimeMemory = RegimeMemory(windows: 0)
    /// Prices moves by a payback horizon measured from call to call (``PaybackEstimate``), as
    /// `eplb simulate --payback-intervals auto` does: each call's move cost is the estimate's
    /// ``PaybackEstimate/price`` instead of the options' cost. `nil` (default): the options' cost.
    public var payback: PaybackEstimate? = nil

    /// Creates a rebalancer for a deployed placement.
    public init(solver: Solver, options: RebalanceOptions = RebalanceOptions(), deployed: Placement,
                recordedImbalance: [Double?]? = nil) {
        self.solver = solver
        self.options = options
        self.deployed = deployed
        self.recordedImbalance = recordedImbalance ?? [Double?](repeating: nil, count: deployed.layers)
    }

    /// Rebalances on a window of loads `[L][W][E]` (episode weights optional), applies the plan to
    /// the state (the new placement is then the deployed one) and returns it.
    ///
    /// With an active ``regimeMemory`` the window is remembered and the plan the memory chooses
    /// is applied and returned.
    ///
    /// - Throws: ``ExpertPlacementError`` on a window that does not fit the deployed placement,
    ///   bad options or memory settings, or a solver failure.
    public mutating func rebalance(window loads: LoadTensor,
                                   episodeWeights: ContiguousArray<Double>? = nil) throws(ExpertPlacementError) -> RebalancePlan {
        let problem = try Problem(topology: deployed.topology, loads: loads, episodeWeights: episodeWeights, current: deployed)
        try regimeMemory.validate()
        var estimate = payback
        let plan = try PaybackEstimate.priced(&estimate, window: problem, options: options) {
            (options: RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan in
            regimeMemory.isActive
                ? try Self.plan(problem, remembering: &regimeMemory, recordedImbalance: recordedImbalance, solver: solver,
                                options: options)
                : try Self.plan(problem, recordedImbalance: recordedImbalance, solver: solver, options: options)
        }
        payback = estimate
        deployed = plan.placement
        recordedImbalance = plan.recordedImbalance.map { Optional($0) }
        return plan
    }

    /// Rebalances as ``rebalance(window:episodeWeights:)`` and streams the changes in priority
    /// order, so an engine can start moving the first layers' weights at once.
    public mutating func changes(window loads: LoadTensor,
                                 episodeWeights: ContiguousArray<Double>? = nil) throws(ExpertPlacementError) -> AsyncStream<LayerChange> {
        let plan = try rebalance(window: loads, episodeWeights: episodeWeights)
        let ordered = plan.priority.map { plan.layers[$0] }
        return AsyncStream { continuation in
            for change in ordered { continuation.yield(change) }
            continuation.finish()
        }
    }

    /// One rebalance of `problem` with a regime memory (``RegimeMemory/step(_:planner:)``): the
    /// window is remembered, planned on and, from the memory's second window on, the memory too;
    /// the plan the memory chooses is returned with ``RebalancePlan/plannedOn`` set. The one
    /// memory step of the stateful rebalancer, the C API and `eplb rebalance --memory`.
    ///
    /// - Throws: as ``plan(_:recordedImbalance:solver:options:)``, and for bad memory settings.
    public static func plan(_ problem: Problem, remembering memory: inout RegimeMemory, recordedImbalance: [Double?]? = nil,
                            solver: Solver, options: RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan {
        // Inputs first: a call refused for them leaves the memory as it was.
        _ = try checkInputs(problem, recordedImbalance: recordedImbalance, options: options)
        var (plan, plannedOn) = try memory.step(problem) {
            (planned: Problem, _: RegimeMemory.Choice) throws(ExpertPlacementError) -> RebalancePlan in
            try Self.plan(planned, recordedImbalance: recordedImbalance, solver: solver, options: options)
        }
        plan.plannedOn = plannedOn
        return plan
    }

    /// The checks of a rebalance's inputs; returns the deployed placement.
    static func checkInputs(_ problem: Problem, recordedImbalance: [Double?]?,
                            options: RebalanceOptions) throws(ExpertPlacementError) -> Placement {
        try options.validate()
        guard let current = problem.current else {
            throw .invalidValue(field: "current", reason: "is missing: rebalancing needs the deployed placement")
        }
        if let broken = Validation.deployedViolations(of: current, limit: 1).first {
            throw .invalidValue(field: "current", reason: "the deployed placement breaks a rule: \(broken)")
        }
        if let recordedImbalance {
            guard recordedImbalance.count == problem.layers else {
                throw .shapeMismatch(field: "recordedImbalance",
                                     reason: "has \(recordedImbalance.count) entries for \(problem.layers) layers")
            }
            // A record is state a service persists and restores: NaN would silence the relative
            // rule for good, a negative value fire it at every call.
            if let l = recordedImbalance.firstIndex(where: { $0.map { !($0.isFinite && $0 >= 0) } ?? false }) {
                throw .invalidValue(field: "recordedImbalance[\(l)]",
                                    reason: "must be a finite number ≥ 0 (nil: unknown), got \(recordedImbalance[l]!)")
            }
        }
        return current
    }

    /// One rebalance of `problem` (its `current` is the deployed placement, its episodes the
    /// window), without state.
    ///
    /// - Throws: ``ExpertPlacementError`` when the problem has no `current`, the deployed
    ///   placement breaks a rule, the options are bad, or the solver fails.
    public static func plan(_ problem: Problem, recordedImbalance: [Double?]? = nil, solver: Solver,
                            options: RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan {
        let clock = ContinuousClock()
        let start = clock.now
        let current = try checkInputs(problem, recordedImbalance: recordedImbalance, options: options)
        let objective = options.objective
        var deployedMetrics = try Metrics.evaluate(current, on: problem)
        if let f = options.dropBudget {
            DropObjective.annotate(&deployedMetrics, of: current, on: problem, objective: objective, budget: f)
        }
        let before = deployedMetrics.layers
        // The value scored: the objective, or its capped counterpart under a drop budget.
        func score(_ m: LayerMetrics) -> Double { m.cappedImbalance ?? m.value(of: objective) }
        let recorded = recordedImbalance ?? [Double?](repeating: nil, count: problem.layers)
        // 2. Selection.
        let ruled = options.threshold != nil || options.relativeThreshold != nil
        let selected = (0..<problem.layers).filter { l in
            guard ruled else { return true }
            let value = score(before[l])
            if let x = options.threshold, value > x { return true }
            if let r = options.relativeThreshold, let record = recorded[l], value > record / r { return true }
            return false
        }
        // 3. Re-place the selected layers.
        var solveOptions = SolveOptions(objective: objective, timeLimit: options.timeLimit, maxThreads: options.maxThreads,
                                        moves: options.moves)
        solveOptions.alignsToCurrent = true
        solveOptions.computesBounds = false
        var notes: [String] = []
        if options.relativeThreshold != nil {
            let unrecorded = recorded.filter { $0 == nil }.count
            if unrecorded > 0 {
                notes.append("relativeThreshold: \(unrecorded) of \(problem.layers) layers have no recorded value (recordedImbalance): the rule cannot fire for them; their value now becomes their record")
            }
        }
        var candidate = current
        var status = SolveStatus.feasible
        if !selected.isEmpty {
            let report = try LayerDriver.solve(problem, with: solver, options: solveOptions, layers: selected)
            candidate = report.placement
            notes += report.notes
            status = report.status
        }
        // The candidate's metrics on the selected layers (the others are the deployed plan's, and
        // so are those of a selected layer whose new row is the deployed one).
        var after = before
        let placed = candidate
        let work = selected.count * problem.episodes * problem.topology.slotCount
        let selectedMetrics = try LayerParallelism.map(count: selected.count, work: work, maxThreads: options.maxThreads) {
            (i: Int) throws(ExpertPlacementError) -> LayerMetrics in
            if placed.moves(from: current, layer: selected[i]) == 0 { return before[selected[i]] }
            var m = try Metrics.layerMetrics(placed, on: problem, layer: selected[i])
            if let f = options.dropBudget {
                m.cappedImbalance = DropObjective.value(placed, on: problem, layer: selected[i], objective: objective, budget: f)
            }
            return m
        }
        for (i, l) in selected.enumerated() { after[l] = selectedMetrics[i] }
        // 4. Keep what pays.
        var changes: [LayerChange] = []
        var worth: [(layer: Int, perMove: Double, moves: Int)] = []
        let p = problem.topology.slotCount
        let s = problem.topology.slotsPerDevice
        for l in 0..<problem.layers {
            let moves = candidate.moves(from: current, layer: l)
            // Metrics against the problem's `current` carry `moves`: 0 before, the candidate's after.
            var change = LayerChange(layer: l, reason: .withinThreshold, before: before[l], after: before[l],
                                     candidateValue: nil, moves: 0, transfers: [])
            if selected.contains(l) {
                change.candidateValue = score(after[l])
                let gain = score(before[l]) - score(after[l])
                let relative = score(before[l]) > 0 ? gain / score(before[l]) : 0
                if moves == 0 {
                    change.reason = .noChange
                } else if gain <= 0 {
                    change.reason = .noGain
                } else if relative < (options.minGain ?? 0) {
                    change.reason = .belowMinGain
                } else {
                    change.reason = .changed
                    worth.append((l, gain / Double(moves), moves))
                }
            }
            changes.append(change)
        }
        worth.sort { $0.perMove != $1.perMove ? $0.perMove > $1.perMove : $0.layer < $1.layer }
        if let k = options.maxLayers, worth.count > k {
            for item in worth[k...] { changes[item.layer].reason = .beyondMaxLayers }
            worth.removeSubrange(k...)
        }
        // Assemble: changed layers from the candidate, every other layer byte for byte as deployed.
        var flat = current.physicalToLogical
        for item in worth {
            let l = item.layer
            let old = current.physicalToLogical[l * p ..< (l + 1) * p]
            let new = candidate.physicalToLogical[l * p ..< (l + 1) * p]
            flat.replaceSubrange(l * p ..< (l + 1) * p, with: new)
            changes[l].after = after[l]
            changes[l].moves = item.moves
            changes[l].transfers = TransferPlan.transfers(from: old, to: new, slotsPerDevice: s, experts: problem.experts)
        }
        let placement = try Placement(topology: problem.topology, experts: problem.experts, physicalToLogical: flat)
        let recordedAfter = (0..<problem.layers).map { l in
            changes[l].reason == .changed ? score(after[l]) : (recorded[l] ?? score(before[l]))
        }
        if status == .timeLimit { notes.append("re-placing stopped at the time limit: the best plans found were used") }
        var plan = RebalancePlan(placement: placement, layers: changes, priority: worth.map(\.layer),
                                 recordedImbalance: recordedAfter, objective: objective, method: solver.method, notes: notes,
                                 wallTime: clock.now - start)
        plan.status = status == .timeLimit ? .timeLimit : .feasible
        return plan
    }
}
