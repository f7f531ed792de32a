/// DeepSeek EPLB's periodic rebalancing: `"greedy"`.
///
/// Every call runs ``GreedySolver`` on the window (the episode-summed load of the last `W`
/// iterations, as DeepSeek EPLB, vLLM and SGLang do at each rearrangement) and deploys its plan
/// as it is. The plan is *not* relabelled onto the deployed devices to save moves — engines do
/// not do that either — so most slots of a layer typically change whenever any load shifts.
/// `priority` is the changed layers in layer order.
///
/// Complexity per call: that of ``GreedySolver`` on `[L][W][E]` loads plus O(L·P) to find the
/// changed layers.
public struct GreedyPolicy: SimulationPolicy, Sendable {
    /// Options handed to the solver (threads; the objective only labels the report).
    public var options: SolveOptions

    /// `"greedy"`.
    public var name: String { "greedy" }

    /// Creates the policy.
    ///
    /// - Parameter options: options for ``GreedySolver`` (default: all cores, and
    ///   ``SolveOptions/alignsToCurrent`` off — the plan as the engines deploy it).
    public init(options: SolveOptions = SolveOptions(alignsToCurrent: false)) {
        self.options = options
    }

    /// Solves the window with ``GreedySolver``.
    ///
    /// - Throws: ``ExpertPlacementError`` when `window.current` is `nil` or the solver cannot run.
    public mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        let current = try window.deployedPlacement(policy: name)
        let plan = try GreedySolver().solve(window, options: options).placement
        return PolicyDecision(placement: plan, priority: plan.changedLayers(from: current))
    }
}
