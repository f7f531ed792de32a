/// A clairvoyant reference: another policy planning on the loads that are about to come,
/// `"oracle"`.
///
/// At every rebalancing point `i` the simulator hands this policy the *next* `W` iterations
/// (`i ..< min(i + W, N)`, ``SimulationPolicy/isClairvoyant``) instead of the last `W`, and
/// charges no policy time; everything else — the call points, layer-by-layer application, moves
/// and their cost — is as for any policy. The wrapped policy (by default ``RebalancePolicy``)
/// decides as it always does, only on the future.
///
/// No engine can run it. It answers the question a policy's numbers leave open: how much of the
/// remaining cost better planning *at these call points* could remove. Against a causal
/// policy that plans well, the difference is what the workload's changes between two calls cost
/// — a regime switch inside the next interval is invisible in the last window. It is not a proven
/// bound: the wrapped planner is a heuristic, and a different call schedule could do better.
public struct OraclePolicy<Inner: SimulationPolicy>: SimulationPolicy {
    /// The policy that plans on the future window.
    public var inner: Inner

    /// `"oracle"`.
    public var name: String { "oracle" }

    /// `true`: the simulator passes the next `W` iterations.
    public var isClairvoyant: Bool { true }

    /// Creates the reference around `inner`.
    public init(inner: Inner) {
        self.inner = inner
    }

    /// The wrapped policy's decision on `window`, which holds the iterations to come.
    ///
    /// - Throws: whatever `inner` throws.
    public mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        try inner.decide(window: window)
    }
}

extension OraclePolicy: Sendable where Inner: Sendable {}
