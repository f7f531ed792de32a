/// The baseline that never rebalances: `"none"`.
///
/// Every call returns the deployed placement with an empty priority, so the plan the simulation
/// starts from stays in force for the whole trace and costs no moves.
public struct NoRebalancePolicy: SimulationPolicy, Sendable {
    /// `"none"`.
    public var name: String { "none" }

    /// Creates the policy.
    public init() {}

    /// Returns `window.current` unchanged, with no layers to apply.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` when `window.current` is `nil`.
    /// - Complexity: O(1).
    public mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        PolicyDecision(placement: try window.deployedPlacement(policy: name), priority: [])
    }
}
