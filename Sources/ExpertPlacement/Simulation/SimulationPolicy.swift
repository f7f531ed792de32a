/// What a policy decides at one rebalancing point of an ``OnlineSimulator`` run.
///
/// `placement` is the whole new plan (every layer); `priority` lists the layers whose `phy2log`
/// row differs from the deployed plan, in the order the engine should apply them. The simulator
/// applies ``OnlineSimulator/Configuration/layersPerIteration`` of them per serving iteration, in
/// this order, and throws when a changed layer is missing from `priority` (see
/// ``OnlineSimulator``). Listed layers that did not change are skipped.
public struct PolicyDecision: Sendable {
    /// The full new placement, `L` layers × `P` slots, for the simulation's topology and experts.
    public var placement: Placement
    /// The changed layers (indices into `0..<L`, each at most once), in the order to apply them.
    public var priority: [Int]

    /// Creates a decision.
    ///
    /// - Parameters:
    ///   - placement: the full new placement (every layer).
    ///   - priority: the changed layers, in the order to apply them.
    public init(placement: Placement, priority: [Int]) {
        self.placement = placement
        self.priority = priority
    }
}

/// A rebalancing policy that ``OnlineSimulator`` calls every `interval` serving iterations.
///
/// To add a policy, write one type conforming to this protocol (and one case in the command
/// line's policy list). A policy may keep state between calls (`decide` is `mutating`): the
/// simulator calls it on one instance, in iteration order.
public protocol SimulationPolicy {
    /// The policy's name, as on the command line and in reports (`none`, `greedy`, …).
    var name: String { get }

    /// Decides the placement to move to.
    ///
    /// - Parameter window: a ``Problem`` whose loads are the last `window` iterations of the
    ///   trace as episodes, `[L][W][E]` (all episode weights 1), with the simulation's topology and
    ///   `current` set to the placement deployed at the call (never `nil` when the simulator calls).
    /// - Returns: the new placement and the order in which to apply its changed layers.
    /// - Throws: ``ExpertPlacementError`` when the policy cannot run; the simulation stops with it.
    mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision

    /// Whether the policy sees the future: when `true`, the simulator passes the *next* `W`
    /// iterations (`i ..< min(i + W, N)`) instead of the last `W`, and charges no policy time.
    /// Only ``OraclePolicy`` does: a reference for how much better planning could gain, not a
    /// policy an engine can run. Default `false`.
    var isClairvoyant: Bool { get }
}

extension SimulationPolicy {
    /// `false`: the policy sees only the past.
    public var isClairvoyant: Bool { false }
}

extension Problem {
    /// The deployed placement a policy starts from; throws when the problem carries none.
    func deployedPlacement(policy: String) throws(ExpertPlacementError) -> Placement {
        guard let current else {
            throw .invalidValue(field: "current", reason: "the \(policy) policy needs the deployed placement")
        }
        return current
    }
}

extension Placement {
    /// The layers whose `phy2log` row differs from `other`'s, ascending. Shapes must agree.
    /// - Complexity: O(L·P).
    func changedLayers(from other: Placement) -> [Int] {
        (0..<layers).filter { moves(from: other, layer: $0) > 0 }
    }
}
