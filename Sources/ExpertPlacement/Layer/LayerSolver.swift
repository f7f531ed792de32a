/// What a per-layer solver is handed besides its layer: the options and when to stop.
public struct LayerContext: Sendable {
    /// The options of the whole solve.
    public let options: SolveOptions
    /// This layer's deadline (its share of the time left, or the solve's deadline), or `nil`.
    public let deadline: ContinuousClock.Instant?
    /// Whether task cancellation stops the layer early (the async driver sets it).
    public let observesCancellation: Bool

    /// Creates a context.
    public init(options: SolveOptions, deadline: ContinuousClock.Instant?, observesCancellation: Bool = false) {
        self.options = options
        self.deadline = deadline
        self.observesCancellation = observesCancellation
    }

    /// Whether to stop now: the deadline has passed, or (async) the task was cancelled.
    @inlinable
    public func shouldStop() -> Bool {
        if let deadline, ContinuousClock.now >= deadline { return true }
        return observesCancellation && Task.isCancelled
    }
}

/// Which argument a layer's reported lower bound comes from (named in every report, so that a
/// gap is read for what it is).
public enum BoundSource: String, Sendable, Equatable, CaseIterable {
    /// ``LowerBounds``: per episode, the larger of the average device load and the smallest
    /// achievable heaviest replica (min-max allotment), combined as the objective combines peaks.
    /// Weak on layers whose loss comes from packing or from one plan serving many episodes.
    case allotment
    /// The layer's optimum itself, proven (exact solver, the search's exhaustive proof, or a
    /// search plan whose value meets the allotment bound).
    case optimum
    /// The exact solver's best bound when it stopped unproven: the allotment bound raised by
    /// per-episode optima and branch-and-bound.
    case exactSearch
}

/// One layer's answer.
public struct LayerOutcome: Sendable, Equatable {
    /// `phy2log` of the layer, `P` expert ids, device-major.
    public var physicalToLogical: ContiguousArray<Int32>
    /// What the solver concluded for this layer: ``SolveStatus/optimal`` (proven),
    /// ``SolveStatus/feasible`` or ``SolveStatus/timeLimit`` (stopped early; the plan is still
    /// complete and valid).
    public var status: SolveStatus
    /// A proven lower bound on the objective for this layer, if the method computes one.
    public var lowerBound: Double?
    /// Remarks for the report (each names the layer).
    public var notes: [String]
    /// Where ``lowerBound`` comes from; `nil`: ``BoundSource/optimum`` when the status is
    /// ``SolveStatus/optimal``, ``BoundSource/allotment`` otherwise.
    public var boundSource: BoundSource?

    /// Creates an outcome.
    public init(physicalToLogical: ContiguousArray<Int32>, status: SolveStatus = .feasible,
                lowerBound: Double? = nil, notes: [String] = [], boundSource: BoundSource? = nil) {
        self.physicalToLogical = physicalToLogical
        self.status = status
        self.lowerBound = lowerBound
        self.notes = notes
        self.boundSource = boundSource
    }

    /// Where the bound comes from (``boundSource``, or inferred from the status); `nil` without a bound.
    public var resolvedBoundSource: BoundSource? {
        guard lowerBound != nil else { return nil }
        return boundSource ?? (status == .optimal ? .optimum : .allotment)
    }
}

/// How a layer solver's time is shared between layers.
public enum LayerTimeSharing: Sendable, Equatable {
    /// Every layer runs against the solve's one deadline.
    case oneDeadline
    /// Every layer gets an equal share of the time left when it starts (layers that finish
    /// early pass their time on), so one hard layer cannot use up the others' budget.
    case equalShares
}

/// A placement method that works one layer at a time: the one per-layer seam every method uses.
///
/// Conforming types implement ``solveLayer(_:context:)``; ``LayerDriver`` does the rest — the
/// layer-by-layer loop (parallel, deterministic, sync or async, over all layers or a selection),
/// time shares, relabelling each plan onto the deployed placement, the move policy of
/// ``SolveOptions/moves`` for methods that do not handle it themselves, and the report. A new
/// method is one conforming type plus its registration in the command line.
public protocol LayerSolver: PlacementSolver {
    /// Checks what this method needs of the whole problem before any layer runs, and returns
    /// notes for the report (a fallback taken, say).
    ///
    /// - Throws: ``ExpertPlacementError`` when the method cannot handle the problem or options.
    func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String]

    /// Solves one layer.
    ///
    /// - Throws: ``ExpertPlacementError`` when the call cannot run (a library failure).
    func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome

    /// The time budget when ``SolveOptions/timeLimit`` is not set (`nil`: none).
    var defaultTimeLimit: Duration? { get }

    /// How time is shared between layers.
    var timeSharing: LayerTimeSharing { get }

    /// Whether the method trades moves against the objective itself (``SolveOptions/moves``);
    /// when it does not, the driver refines its plan with ``MigrationSearch``.
    var handlesMovePolicy: Bool { get }

    /// A rough count of element operations for the whole problem; small problems are solved on
    /// one thread (dispatching costs more than it saves).
    func estimatedWork(_ problem: Problem) -> Int

    /// The nodes whose device sets the method's plans keep apart (expert groups on nodes), 1
    /// when it keeps none: ``Alignment`` then relabels devices within matched nodes only.
    func nodesKept(on topology: Topology) -> Int
}

extension LayerSolver {
    /// No checks, no notes.
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] { [] }
    /// No default budget.
    public var defaultTimeLimit: Duration? { nil }
    /// One deadline for every layer.
    public var timeSharing: LayerTimeSharing { .oneDeadline }
    /// The driver applies the move policy.
    public var handlesMovePolicy: Bool { false }
    /// Always worth running in parallel.
    public func estimatedWork(_ problem: Problem) -> Int { .max }
    /// No node structure to keep.
    public func nodesKept(on topology: Topology) -> Int { 1 }

    /// Solves every layer through ``LayerDriver``.
    public func solve(_ problem: Problem, options: SolveOptions = SolveOptions()) throws(ExpertPlacementError) -> SolveReport {
        try LayerDriver.solve(problem, with: self, options: options)
    }
}
