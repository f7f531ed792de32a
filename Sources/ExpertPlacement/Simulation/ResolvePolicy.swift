/// A full re-solve of the window with the search solver: `"search"`.
///
/// Every call runs ``SearchSolver`` on the last `W` iterations as episodes (its multi-episode
/// objective, ``SolveOptions/objective``, `meanImbalance` by default) and deploys the result for
/// every layer it changes: relabelled onto the deployed devices (``Alignment``, the driver's
/// default), but without trading balance for moves. `priority` orders the changed layers by
/// decreasing gain in the window's `meanImbalance` (deployed minus new; ties by layer index), so
/// that the layers that help most are moved first when only a few layers move per iteration.
///
/// Complexity per call: that of ``SearchSolver`` plus two evaluations of the window, O(L·W·P).
public struct ResolvePolicy: SimulationPolicy, Sendable {
    /// Tuning of the search.
    public var configuration: SearchSolver.Configuration
    /// Objective, time limit and threads of each solve.
    public var options: SolveOptions

    /// `"search"`.
    public var name: String { "search" }

    /// Creates the policy.
    ///
    /// - Parameters:
    ///   - configuration: tuning of ``SearchSolver`` (default: its defaults).
    ///   - options: options of each solve (default: `meanImbalance`, no time limit, all cores).
    public init(configuration: SearchSolver.Configuration = SearchSolver.Configuration(),
                options: SolveOptions = SolveOptions()) {
        self.configuration = configuration
        self.options = options
    }

    /// Re-solves the window and orders the changed layers by their gain on it.
    ///
    /// - Throws: ``ExpertPlacementError`` when `window.current` is `nil` or the solver cannot run.
    public mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        let current = try window.deployedPlacement(policy: name)
        let plan = try SearchSolver(configuration: configuration).solve(window, options: options).placement
        let changed = plan.changedLayers(from: current)
        let before = try Metrics.evaluate(current, on: window)
        let after = try Metrics.evaluate(plan, on: window)
        let gain = changed.map { before.layers[$0].meanImbalance - after.layers[$0].meanImbalance }
        let order = changed.indices.sorted { a, b in
            gain[a] != gain[b] ? gain[a] > gain[b] : changed[a] < changed[b]
        }
        return PolicyDecision(placement: plan, priority: order.map { changed[$0] })
    }
}
