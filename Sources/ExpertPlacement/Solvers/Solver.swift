/// What a solver concluded about its answer (INTERFACE.md §3, `solver.status`).
public enum SolveStatus: String, Sendable, Codable, CaseIterable {
    /// Proven optimal for the objective.
    case optimal
    /// Valid, not proven optimal.
    case feasible
    /// Stopped by the time limit; the best plan found is returned.
    case timeLimit
    /// No valid placement exists.
    case infeasible
}

/// What moving a replica away from the deployed placement costs (INTERFACE.md §4,
/// `--move-cost λ` and `--max-moves N`).
///
/// A move is a slot whose expert differs from the problem's `current` placement (the `moves`
/// metric). With a cost, a method minimises `objective + cost · moves` per layer; with a cap, the
/// objective under at most `maxMoves` moves per layer; both may be set. The cost is in the
/// objective's units: with `meanImbalance`, a cost of 0.001 means one move must lower the layer's
/// mean imbalance by 0.001 to pay.
public struct MovePolicy: Sendable, Equatable {
    /// Objective units charged per move (0: moves are free).
    public var cost: Double
    /// Most moves per layer (`nil`: no cap).
    public var maxMoves: Int?

    /// Creates a policy (the default charges nothing and caps nothing).
    public init(cost: Double = 0, maxMoves: Int? = nil) {
        self.cost = cost
        self.maxMoves = maxMoves
    }

    /// Whether moves cost anything or are capped.
    public var isActive: Bool { cost != 0 || maxMoves != nil }
}

/// Options common to every solver.
public struct SolveOptions: Sendable, Equatable {
    /// The per-layer objective to minimise. Static policies (greedy, hierarchical) plan on the
    /// episode-weighted aggregate load whatever the objective; it still selects the reported gap.
    public var objective: Objective
    /// Wall-clock budget for the whole solve, or `nil` for none.
    public var timeLimit: Duration?
    /// Most threads to solve layers on (`nil`: one per core). Results never depend on it.
    public var maxThreads: Int?
    /// What moves away from the problem's deployed placement (`current`) cost.
    public var moves: MovePolicy
    /// Relabel each layer's plan onto the deployed placement, when there is one (``Alignment``:
    /// same loads, fewest moves). On by default.
    public var alignsToCurrent: Bool
    /// Compute a proven lower bound per layer where the method can (on by default). A caller that
    /// does not report bounds — the rebalancer — turns it off to save its cost (one min-max
    /// allotment per episode).
    public var computesBounds: Bool = true

    /// Creates options.
    public init(objective: Objective = .meanImbalance, timeLimit: Duration? = nil, maxThreads: Int? = nil,
                moves: MovePolicy = MovePolicy(), alignsToCurrent: Bool = true) {
        self.objective = objective
        self.timeLimit = timeLimit
        self.maxThreads = maxThreads
        self.moves = moves
        self.alignsToCurrent = alignsToCurrent
    }
}

/// A solver's answer: the plan plus what is known about it.
public struct SolveReport: Sendable {
    /// The plan, valid by construction (tests check every solver's output with ``Validation``).
    public var placement: Placement
    /// What the solver concluded.
    public var status: SolveStatus
    /// The method name (`greedy`, `hierarchical`, …).
    public var method: String
    /// The objective the report's bounds and gaps refer to.
    public var objective: Objective
    /// A proven lower bound per layer on `objective`, when the solver computes one.
    public var lowerBounds: [Double]?
    /// Wall-clock time spent solving (input parsing excluded).
    public var wallTime: Duration
    /// Remarks a user should know (a fallback taken, a relaxed rule).
    public var notes: [String]
    /// Where each layer's bound in ``lowerBounds`` comes from, when the method reports it.
    public var boundSources: [BoundSource]?

    /// Creates a report.
    public init(placement: Placement, status: SolveStatus, method: String, objective: Objective,
                lowerBounds: [Double]? = nil, wallTime: Duration, notes: [String] = [],
                boundSources: [BoundSource]? = nil) {
        self.boundSources = boundSources
        self.placement = placement
        self.status = status
        self.method = method
        self.objective = objective
        self.lowerBounds = lowerBounds
        self.wallTime = wallTime
        self.notes = notes
    }
}

/// A placement algorithm: problem + options → report.
///
/// Solvers know nothing of files or the command line. Use them through generics (`some
/// PlacementSolver`), not existentials, in hot code.
public protocol PlacementSolver: Sendable {
    /// The method name used on the command line and in `solver.method`.
    var method: String { get }

    /// Solves every layer of `problem`.
    ///
    /// - Throws: ``ExpertPlacementError`` when the call cannot run (for example an instance this
    ///   method cannot handle). What the solver concludes is in ``SolveReport/status``.
    func solve(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> SolveReport
}
