public import ExpertPlacement

/// One origin of a backtest: the plan made from `[t − W, t)` scored on `[t, t + H)`.
public struct BacktestStep: Sendable, Equatable {
    /// `t`.
    public var origin: Int
    /// Mean over layers of the plan's per-episode mean imbalance on `[t, t + H)`.
    public var realizedMeanImbalance: Double
    /// Worst per-episode imbalance of any layer on `[t, t + H)`.
    public var realizedWorstImbalance: Double
    /// Slots whose expert changed against the previous step's plan (`nil` at the first step).
    public var moves: Int?
    /// The strategy that planned (for `auto`, the candidate it chose).
    public var chosen: String
    /// Wall time of the planning, in seconds.
    public var planSeconds: Double
}

/// A strategy's steps and their summary.
public struct BacktestResult: Sendable {
    /// The strategy's name.
    public var strategy: String
    /// One entry per origin, in order.
    public var steps: [BacktestStep]

    /// Mean of the steps' realised mean imbalance (each step covers H episodes, so this is the
    /// per-episode mean over the scored part of the trace).
    public var realizedMeanImbalance: Double {
        steps.reduce(0) { $0 + $1.realizedMeanImbalance } / Double(max(1, steps.count))
    }
    /// Largest realised worst imbalance of any step.
    public var realizedWorstImbalance: Double { steps.map(\.realizedWorstImbalance).max() ?? 1 }
    /// Moves summed over the steps after the first.
    public var moves: Int { steps.reduce(0) { $0 + ($1.moves ?? 0) } }
    /// Planning wall time summed over the steps.
    public var planSeconds: Double { steps.reduce(0) { $0 + $1.planSeconds } }
}

/// Rolls a ``Planner`` over a trace: at origins `t = W, W + S, …` (while `t + H ≤ T`) it plans on
/// `[t − W, t)` and scores the plan with ``Metrics`` on `[t, t + H)`, which the planner never sees.
public struct Backtester<Solver: LayerSolver>: Sendable {
    /// The planner (its window and horizon are the backtest's W and H).
    public var planner: Planner<Solver>
    /// The trace, `[L][T][E]`.
    public var trace: LoadTensor
    /// Episodes between origins, S ≥ 1 (default H: the plans tile the scored part).
    public var step: Int

    /// Creates a backtester.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` when `step < 1` or the trace
    ///   is shorter than `window + horizon`.
    public init(planner: Planner<Solver>, trace: LoadTensor, step: Int? = nil) throws(ExpertPlacementError) {
        let s = step ?? planner.horizon
        guard s >= 1 else { throw .invalidValue(field: "step", reason: "must be at least 1, got \(s)") }
        // Compared by subtraction: window + horizon can overflow (both are at most Int.max).
        guard planner.window <= trace.episodes && trace.episodes - planner.window >= planner.horizon else {
            let (needed, overflow) = planner.window.addingReportingOverflow(planner.horizon)
            throw .invalidValue(field: "load", reason: "has \(trace.episodes) episodes; window \(planner.window) + horizon \(planner.horizon) needs at least \(overflow ? "more than \(Int.max)" : "\(needed)")")
        }
        self.planner = planner
        self.trace = trace
        self.step = s
    }

    /// The origins `t`.
    public var origins: [Int] {
        Array(stride(from: planner.window, through: trace.episodes - planner.horizon, by: step))
    }

    /// Runs `strategy` over every origin.
    ///
    /// - Parameter progress: called before each origin with (step index, step count).
    public func run(_ strategy: PlanningStrategy,
                    progress: (Int, Int) -> Void = { _, _ in }) throws(ExpertPlacementError) -> BacktestResult {
        try roll(name: strategy.name, progress: progress) { t, previous throws(ExpertPlacementError) in
            try planner.plan(strategy, trace: trace, origin: t, current: previous)
        }
    }

    /// The oracle, a reference and not a strategy: at each origin the planner's method plans on
    /// `[t, t + H)` itself, the future every strategy is scored on and none sees (relabelled onto
    /// the previous plan, as the strategies' plans are). What the method gives when it knows the
    /// loads to come: a strategy's distance from it is what better forecasting could still win,
    /// the rest is the method's own (``BacktestStep/chosen`` is `"oracle"`).
    public func runOracle(progress: (Int, Int) -> Void = { _, _ in }) throws(ExpertPlacementError) -> BacktestResult {
        try roll(name: "oracle", progress: progress) { t, previous throws(ExpertPlacementError) in
            let future = try Problem(topology: planner.topology, loads: trace.slice(t ..< t + planner.horizon),
                                     current: previous)
            let report = try planner.solver.solve(future, options: planner.options)
            return PlannedPlacement(placement: report.placement, chosen: "oracle")
        }
    }

    /// Plans with `plan(t, previous)` at every origin and scores each plan on `[t, t + H)`.
    private func roll(name: String, progress: (Int, Int) -> Void,
                      plan: (Int, Placement?) throws(ExpertPlacementError) -> PlannedPlacement)
        throws(ExpertPlacementError) -> BacktestResult {
        let origins = self.origins
        var steps: [BacktestStep] = []
        var previous: Placement? = nil
        for (i, t) in origins.enumerated() {
            progress(i, origins.count)
            let started = ContinuousClock.now
            let planned = try plan(t, previous)
            let elapsed = ContinuousClock.now - started
            let future = trace.slice(t ..< t + planner.horizon)
            let metrics = try Metrics.evaluate(planned.placement, on: Problem(topology: planner.topology, loads: future))
            var moves: Int? = nil
            if let previous {
                moves = (0 ..< trace.layers).reduce(0) { $0 + planned.placement.moves(from: previous, layer: $1) }
            }
            let c = elapsed.components
            steps.append(BacktestStep(origin: t, realizedMeanImbalance: metrics.summary { $0.meanImbalance }?.mean ?? 1,
                                      realizedWorstImbalance: metrics.summary { $0.worstImbalance }?.max ?? 1,
                                      moves: moves, chosen: planned.chosen,
                                      planSeconds: Double(c.seconds) + Double(c.attoseconds) * 1e-18))
            previous = planned.placement
        }
        progress(origins.count, origins.count)
        return BacktestResult(strategy: name, steps: steps)
    }
}
