/// Any layer method made drop-aware: the method's plan, refined on the drop-budget objective
/// (``DropObjective``) by ``DropLocalSearch`` (`eplb solve|rebalance --drop-budget f`).
///
/// Guide (DocC article *Token dropping*). Per layer:
/// 1. the base method solves the layer on its objective (the capped objective's `f = 0` case);
/// 2. with a deployed placement and a move cost or cap that the base method does not handle,
///    its plan is relabelled onto the deployed row and traded against moves by
///    ``MigrationSearch`` — what ``LayerDriver`` would do — so that the plan fits the cap;
/// 3. ``DropLocalSearch`` improves that plan on the capped objective plus the move cost, within
///    the cap; the deployed row itself is a second start (no move), the better result kept.
/// The wrapper handles the move policy itself, so the driver does not undo step 3 on the
/// uncapped objective. With `f = 0` the capped objective is the objective, so the base plan,
/// status and lower bound stand; with `f > 0` the status is at most ``SolveStatus/feasible``
/// (no optimality is proven for the capped objective; use `ExpertPlacementExact`'s
/// `DropExactSolver` on small instances) and no lower bound is reported.
public struct DropAwareSolver<Base: LayerSolver>: LayerSolver {
    /// The method whose plans are refined.
    public var base: Base
    /// The share of each episode's tokens that may be dropped, `f ∈ [0, 1)`.
    public var budget: Double
    /// The refinement's budgets.
    public var configuration: DropLocalSearch.Configuration

    /// Wraps `base` for drop budget `budget`.
    public init(base: Base, budget: Double, configuration: DropLocalSearch.Configuration = .init()) {
        self.base = base
        self.budget = budget
        self.configuration = configuration
    }

    /// The base method's name.
    public var method: String { base.method }

    /// Checks the budget, then the base method's requirements.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `dropBudget` when it is
    ///   outside `[0, 1)`, or the base method's errors.
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
        try Self.check(budget: budget)
        return try base.prepare(problem, options: options)
    }

    /// Throws unless `budget` is in `[0, 1)`.
    public static func check(budget: Double) throws(ExpertPlacementError) {
        do {
            try DropRule.budget(budget).validate()
        } catch {
            throw .invalidValue(field: "dropBudget", reason: error.reason)
        }
    }

    /// The base method's default.
    public var defaultTimeLimit: Duration? { base.defaultTimeLimit }
    /// The base method's.
    public var timeSharing: LayerTimeSharing { base.timeSharing }
    /// The refinement trades moves on the capped objective itself.
    public var handlesMovePolicy: Bool { true }
    /// The base method's estimate.
    public func estimatedWork(_ problem: Problem) -> Int { base.estimatedWork(problem) }
    /// The base method's nodes without a budget; with one, the refinement moves replicas
    /// between any devices, so none.
    public func nodesKept(on topology: Topology) -> Int { budget > 0 ? 1 : base.nodesKept(on: topology) }

    /// One layer: the base plan, fitted to the move policy, refined on the capped objective.
    ///
    /// - Throws: the base method's errors.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        var outcome = try base.solveLayer(layer, context: context)
        let options = context.options
        let deployed = layer.deployed
        let policy = deployed == nil ? MovePolicy() : options.moves
        if let deployed, policy.isActive && !base.handlesMovePolicy {
            outcome = MigrationSearch.fitted(outcome, layer: layer, deployed: deployed, objective: options.objective,
                                             policy: policy, context: context)
        }
        guard budget > 0 else { return outcome }
        var starts = [outcome.physicalToLogical]
        if let deployed, policy.isActive { starts.append(deployed) }
        let exact = DropObjective(layer, objective: options.objective, budget: budget)
        let s = layer.topology.slotsPerDevice
        func score(_ plan: ContiguousArray<Int32>) -> Double {
            exact.value(of: plan, slotsPerDevice: s) + policy.cost * Double(deployed.map { Alignment.moves(plan, from: $0) } ?? 0)
        }
        var best = outcome.physicalToLogical, bestScore = Double.infinity
        for start in starts {
            // A deployed row with an expert twice on a device (kept by the fitting when nothing
            // beats it) is scored as it is, not searched from.
            let plan = Validation.hasDuplicateOnDevice(start, slotsPerDevice: s) ? start
                : DropLocalSearch.refine(layer, start: start, objective: options.objective, budget: budget,
                                         deployed: deployed, policy: policy, configuration: configuration, context: context)
            let v = score(plan)
            if v < bestScore {
                best = plan
                bestScore = v
            }
        }
        outcome.physicalToLogical = best
        outcome.lowerBound = nil
        if outcome.status == .optimal { outcome.status = .feasible }
        return outcome
    }
}
