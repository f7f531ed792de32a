/// Cherry-picking, migration-aware rebalancing with the ``Rebalancer``: `"rebalance"`.
///
/// Every call rebalances the window from the deployed placement: layers are re-placed by the
/// search with a move cost, so a replica moves only when the balance it buys pays for its
/// transfer, and only layers whose plan changes and gains at least ``RebalanceOptions/minGain``
/// are changed, the largest gain per moved replica first. Each layer's value after its last
/// update is carried from call to call (for ``RebalanceOptions/relativeThreshold``).
///
/// ``priceOfMove(cost:layers:iterations:interval:paybackIntervals:)`` turns the simulator's cost
/// model into the move cost in objective units: a move costs `B / BW` seconds; lowering one
/// layer's mean imbalance by Δ for one interval saves `c · Δ / L · I / T` seconds of the modelled
/// compute. By default a move must pay for itself within two intervals: a layer's plan usually
/// stays longer than one (its regime persists, or returns and the regime memory keeps serving it).
/// With ``payback`` set (as `eplb simulate` does unless given a price) the horizon is measured at
/// every call instead (``PaybackEstimate``).
public struct RebalancePolicy: SimulationPolicy, Sendable {
    /// The rebalancing options (threshold rules, move cost or cap, …).
    public var options: RebalanceOptions
    /// Tuning of the search that re-places layers.
    public var configuration: SearchSolver.Configuration
    /// Each layer's objective value right after its last update.
    public private(set) var recordedImbalance: [Double?]? = nil
    /// Weigh the window's iterations by recency: iteration `i` iterations before the newest
    /// weighs `2^(−i/h)` (`nil`: all equal). After a workload shift the newest iterations say
    /// more about the next interval than the oldest ones.
    public var recencyHalfLife: Double? = nil
    /// The windows seen so far and which plan served better (``RegimeMemory``): a plan made on
    /// every remembered window is deployed instead of the window's own plan when the previous
    /// calls' plans show it serves better. Default: 8 windows; `RegimeMemory(windows: 0)` turns it off.
    /// The memory plan goes through the same rules as the window's, on the memory's episodes: its
    /// thresholds and the values it records (for ``RebalanceOptions/relativeThreshold``) refer to
    /// them. Wrapped in an ``OraclePolicy``, turn it off (as `eplb simulate` does): the future needs
    /// no hedge.
    public var regimeMemory = RegimeMemory(windows: 8)
    /// Prices moves by a payback horizon measured from call to call (``PaybackEstimate``): each
    /// call's move cost is the estimate's ``PaybackEstimate/price`` instead of the options' cost.
    /// `nil` (default): the options' move cost, fixed.
    public var payback: PaybackEstimate? = nil

    /// `"rebalance"`.
    public var name: String { "rebalance" }

    /// Creates the policy.
    public init(options: RebalanceOptions = RebalanceOptions(), configuration: SearchSolver.Configuration = .init()) {
        self.options = options
        self.configuration = configuration
    }

    /// The move cost, in mean-imbalance units per moved replica, at which a move pays for itself
    /// within `k` intervals under the simulator's cost model: `(B/BW) · L · T / (c · k · I)`.
    ///
    /// `k` = 2 by default. On the regime traces of `simulate_regimes.sh` (seeds 1–4, 16 cases,
    /// with the regime memory, policy time fixed at 5 iterations) the mean cost ÷ greedy's was
    /// 0.868 at `k` = 1, 0.866 at 1.43, 0.864 at 2 and 0.867 at 4.
    ///
    /// - Precondition: `k` > 0 and finite, `interval` > 0 (programmer errors: the price would be
    ///   infinite or not a number).
    public static func priceOfMove(cost: OnlineSimulator.CostModel, layers: Int, iterations: Int, interval: Int,
                                   paybackIntervals k: Double = 2) -> Double {
        precondition(k > 0 && k.isFinite, "paybackIntervals must be positive and finite")
        precondition(interval > 0, "interval must be positive")
        return cost.expertBytes / cost.bandwidth * Double(layers) * Double(iterations) / (cost.computeSeconds * k * Double(interval))
    }

    /// Rebalances the window and returns the changed layers in priority order.
    ///
    /// With an active ``regimeMemory``, the window is remembered, a second plan is made on the
    /// memory and the one the previous calls favour is returned.
    ///
    /// - Throws: ``ExpertPlacementError`` when `window.current` is `nil` or the solver fails.
    public mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        try regimeMemory.validate()
        var estimate = payback
        let chosen = try PaybackEstimate.priced(&estimate, window: window, options: options) {
            (priced: RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan in
            var policy = self
            policy.options = priced
            guard regimeMemory.isActive else { return try policy.plan(policy.windowProblem(window)) }
            return try regimeMemory.step(window) {
                (problem: Problem, kind: RegimeMemory.Choice) throws(ExpertPlacementError) -> RebalancePlan in
                try policy.plan(kind == .window ? policy.windowProblem(problem) : problem)
            }.plan
        }
        payback = estimate
        return deploy(chosen)
    }

    /// The window, its iterations weighted by ``recencyHalfLife``.
    private func windowProblem(_ window: Problem) throws(ExpertPlacementError) -> Problem {
        guard let h = recencyHalfLife else { return window }
        guard h > 0 && h.isFinite else {
            throw .invalidValue(field: "recencyHalfLife", reason: "must be a positive number of iterations, got \(h)")
        }
        let w = window.episodes
        var weights = ContiguousArray<Double>()
        weights.reserveCapacity(w)
        // 2^(−age/h) by repeated multiplication from the newest iteration back; a weight below
        // the smallest one accepted (1e-100) counts as 0, as it does in every sum.
        let factor = MathShim.exp(-0.6931471805599453 / h)  // 2^(−1/h)
        var value = 1.0
        for _ in 0..<w {
            weights.append(value < Limits.smallestMagnitude ? 0 : value)
            value *= factor
        }
        weights.reverse()
        return try Problem(topology: window.topology, loads: window.loads, episodeWeights: weights, current: window.current)
    }

    /// Rebalances `problem` from its deployed placement, with the layers' current records.
    private func plan(_ problem: Problem) throws(ExpertPlacementError) -> RebalancePlan {
        try Rebalancer.plan(problem, recordedImbalance: recordedImbalance,
                            solver: SearchSolver(configuration: configuration), options: options)
    }

    /// Keeps the deployed plan's records (for the relative rule) and returns its decision.
    private mutating func deploy(_ plan: RebalancePlan) -> PolicyDecision {
        recordedImbalance = plan.recordedImbalance.map { Optional($0) }
        return PolicyDecision(placement: plan.placement, priority: plan.priority)
    }
}
