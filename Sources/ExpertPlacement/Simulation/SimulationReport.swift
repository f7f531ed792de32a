/// One layer update that took effect during an ``OnlineSimulator`` run.
public struct LayerApplication: Sendable, Equatable {
    /// The layer.
    public var layer: Int
    /// The first iteration served with the layer's new placement.
    public var iteration: Int
    /// Slots of the layer whose expert changed.
    public var moves: Int

    /// Creates a record.
    public init(layer: Int, iteration: Int, moves: Int) {
        self.layer = layer
        self.iteration = iteration
        self.moves = moves
    }
}

/// One call of the policy during an ``OnlineSimulator`` run.
public struct RebalanceRecord: Sendable, Equatable {
    /// The iteration boundary of the call: the policy saw iterations `iteration − W ..< iteration`.
    public var iteration: Int
    /// Wall-clock seconds the policy's `decide` took.
    public var wallSeconds: Double
    /// Iterations charged for the policy's time (``OnlineSimulator/PolicyTimeCharge``), during
    /// which the old placement stayed in force.
    public var delayIterations: Int
    /// Layers the decision changed (the priority list without unchanged layers).
    public var layersChanged: Int
    /// Of those, the layers that took effect before the end of the trace.
    public var layersApplied: Int
    /// Slots whose expert changed, summed over the applied layers.
    public var moves: Int
    /// The applied layer updates, in the order they took effect (the decision's priority order).
    public var applied: [LayerApplication]

    /// Creates a record.
    public init(iteration: Int, wallSeconds: Double, delayIterations: Int, layersChanged: Int,
                layersApplied: Int, moves: Int, applied: [LayerApplication] = []) {
        self.applied = applied
        self.iteration = iteration
        self.wallSeconds = wallSeconds
        self.delayIterations = delayIterations
        self.layersChanged = layersChanged
        self.layersApplied = layersApplied
        self.moves = moves
    }
}

/// The outcome of replaying a trace against one policy (``OnlineSimulator/run(_:progress:)``).
///
/// PAR (peak-to-average ratio) of an iteration is the mean over layers of
/// `ρ = max device load / mean device load` under the placement in force for that layer at that
/// iteration (INTERFACE.md §2 load model; `ρ = 1` for a layer with no load in the iteration).
public struct SimulationReport: Sendable, Equatable {
    /// The policy's name.
    public var policy: String
    /// PAR of every iteration of the trace, `N` values (≥ 1).
    public var perIterationPAR: ContiguousArray<Double>
    /// Mean of ``perIterationPAR``.
    public var meanPAR: Double
    /// Median PAR (nearest rank: the `⌈0.5·N⌉`-th smallest).
    public var p50PAR: Double
    /// 99th-percentile PAR (nearest rank: the `⌈0.99·N⌉`-th smallest).
    public var p99PAR: Double
    /// Largest PAR.
    public var maxPAR: Double
    /// Slots whose expert changed, summed over every applied layer update.
    public var moves: Int
    /// Layer updates that took effect (a layer changed by two calls counts twice).
    public var layersChanged: Int
    /// Total wall-clock seconds spent in the policy.
    public var policySeconds: Double
    /// Total iterations charged for the policy's time.
    public var delayIterations: Int
    /// `computeSeconds × meanPAR` (``OnlineSimulator/CostModel``).
    public var computeCostSeconds: Double
    /// `moves × expertBytes / bandwidth`.
    public var migrationCostSeconds: Double
    /// ``computeCostSeconds`` + ``migrationCostSeconds``.
    public var modelledCostSeconds: Double
    /// One record per policy call, in order.
    public var calls: [RebalanceRecord]
    /// The placement in force at the end of the trace.
    public var finalPlacement: Placement

    /// Number of policy calls (rebalancing points).
    public var rebalances: Int { calls.count }

    /// Creates a report.
    public init(policy: String, perIterationPAR: ContiguousArray<Double>, meanPAR: Double, p50PAR: Double,
                p99PAR: Double, maxPAR: Double, moves: Int, layersChanged: Int, policySeconds: Double,
                delayIterations: Int, computeCostSeconds: Double, migrationCostSeconds: Double,
                modelledCostSeconds: Double, calls: [RebalanceRecord], finalPlacement: Placement) {
        self.policy = policy
        self.perIterationPAR = perIterationPAR
        self.meanPAR = meanPAR
        self.p50PAR = p50PAR
        self.p99PAR = p99PAR
        self.maxPAR = maxPAR
        self.moves = moves
        self.layersChanged = layersChanged
        self.policySeconds = policySeconds
        self.delayIterations = delayIterations
        self.computeCostSeconds = computeCostSeconds
        self.migrationCostSeconds = migrationCostSeconds
        self.modelledCostSeconds = modelledCostSeconds
        self.calls = calls
        self.finalPlacement = finalPlacement
    }
}
