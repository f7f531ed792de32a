public import ExpertPlacement

/// The `rebalance-forecast` policy of ``OnlineSimulator``: the `rebalance` policy
/// (``RebalancePolicy``, the library's ``Rebalancer``) planning for the loads to come instead of
/// the window itself.
///
/// At each call the window's iterations are the history; ``strategy`` turns them into the
/// episodes to plan for (``Planner/planningProblem(_:window:)``: a forecast of the next
/// ``horizon`` iterations, μ + Kσ, the last iteration, or `auto`'s choice), and the rebalance
/// rules, move cost and cherry-picking of the inner policy then run on those episodes. The inner
/// policy's ``RebalancePolicy/regimeMemory`` is turned off: the strategy decides what to plan on.
public struct ForecastRebalancePolicy: SimulationPolicy {
    /// The rebalance policy that places (its options, records and recency weighting; its
    /// regime memory is turned off).
    public var inner: RebalancePolicy {
        didSet { inner.regimeMemory.windows = 0 }
    }
    /// What to plan for.
    public var strategy: PlanningStrategy
    /// Iterations forecast (and scored by `auto`'s choice).
    public var horizon: Int
    /// The forecasts' shift-detector threshold (``Forecaster``).
    public var shiftThreshold: Double

    /// `"rebalance-forecast"`.
    public var name: String { "rebalance-forecast" }

    /// Creates the policy.
    public init(inner: RebalancePolicy, strategy: PlanningStrategy, horizon: Int, shiftThreshold: Double = 0.1) {
        var inner = inner
        inner.regimeMemory.windows = 0
        self.inner = inner
        self.strategy = strategy
        self.horizon = horizon
        self.shiftThreshold = shiftThreshold
    }

    /// Plans the window's rebalance for ``strategy``'s episodes.
    ///
    /// - Throws: ``ExpertPlacementError`` from the forecast or the rebalance.
    public mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        let (planned, _) = try strategy.rebalanceProblem(window: window, objective: inner.options.objective,
                                                         horizon: horizon, shiftThreshold: shiftThreshold)
        return try inner.decide(window: planned)
    }
}
