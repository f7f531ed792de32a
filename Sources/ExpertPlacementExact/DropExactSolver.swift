public import ExpertPlacement

/// Proven-optimal placements for the drop-budget objective (``DropObjective``) on small
/// instances: one compact MIP on GLPK per layer, warm-started by the drop-aware search
/// (`eplb solve --method exact --drop-budget f`).
///
/// Guide (DocC article *Token dropping*). With the layer's ``ObjectiveModel`` rows `u[t][e]`
/// (`U_t = Σ_e u[t][e]`), binaries `z[e][r]` (expert `e` has `r` replicas, `1 ≤ r ≤ R_max =
/// min(D, P − E + 1)`) and `y[e][d][r]` (one of them on device `d`), capped peaks `c_t ≥ 0` and
/// drops `s[t][d] ≥ 0`:
///
///     Σ_r z[e][r] = 1                                   every expert one replica count
///     Σ_d y[e][d][r] = r · z[e][r]                       r replicas on r distinct devices
///     Σ_e Σ_r y[e][d][r] = S                             every slot filled
///     Σ_{e,r} (u[t][e]/r) · y[e][d][r] − c_t − s[t][d] ≤ 0   device d drops what exceeds c_t
///     Σ_d s[t][d] ≤ f · U_t                              at most the share f dropped
///
/// minimising `Σ_t c_t` (sum objectives; plus the model's constant) or `m` with `m ≥ c_t` and
/// `m ≥` the floor (max objectives). A device holds an expert at most once because only one
/// `z[e][r]` is 1. For a fixed plan the smallest feasible `c_t` is exactly the capped peak, so the
/// optimum is the capped objective's. It is the compact multi-episode model (``CompactModel``,
/// with its device symmetry breaking) with drop columns: meant for small instances (tests prove
/// it against exhaustive enumeration);
/// beyond ``Configuration/maxBinaries`` a layer keeps the drop-aware search's plan
/// (``SolveStatus/feasible``, with a note). Moves (``SolveOptions/moves``) are not modelled.
public struct DropExactSolver: LayerSolver, Sendable {
    /// Tuning of the solver.
    public struct Configuration: Sendable, Equatable {
        /// Most binaries per layer model; larger layers keep the warm start.
        public var maxBinaries: Int = 20_000
        /// Print GLPK's log.
        public var verbose: Bool = false
        /// Time budget when ``SolveOptions/timeLimit`` is not set.
        public var defaultTimeLimit: Duration = .seconds(60)

        /// Creates a configuration.
        public init(maxBinaries: Int = 20_000, verbose: Bool = false, defaultTimeLimit: Duration = .seconds(60)) {
            self.maxBinaries = maxBinaries
            self.verbose = verbose
            self.defaultTimeLimit = defaultTimeLimit
        }
    }

    /// The drop budget `f ∈ [0, 1)`.
    public var budget: Double
    /// The tuning in use.
    public var configuration: Configuration

    /// `"exact"`.
    public var method: String { "exact" }

    /// Creates the solver for drop budget `budget`.
    public init(budget: Double, configuration: Configuration = Configuration()) {
        self.budget = budget
        self.configuration = configuration
    }

    /// Checks the budget; refuses a move policy (the model has no migration term).
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` for a budget outside
    ///   `[0, 1)`, ``ExpertPlacementError/unsupported(reason:)`` for a move cost or cap.
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
        try DropAwareSolver<SearchSolver>.check(budget: budget)
        if options.moves.isActive {
            throw .unsupported(reason: "the exact drop-budget model has no move cost or cap; use --method search with --drop-budget")
        }
        return []
    }

    /// ``Configuration/defaultTimeLimit``.
    public var defaultTimeLimit: Duration? { configuration.defaultTimeLimit }

    /// One layer to proven optimality within its deadline.
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        let objective = context.options.objective
        let deadline = context.deadline ?? ContinuousClock.now + configuration.defaultTimeLimit
        let s = layer.topology.slotsPerDevice
        // Warm start: the drop-aware search, within at most a fifth of the time left (5 s at most).
        let left = deadline - ContinuousClock.now
        let warmDeadline = ContinuousClock.now + Swift.min(.seconds(5), left / 5)
        let warmContext = LayerContext(options: context.options, deadline: warmDeadline)
        let warm = try DropAwareSolver(base: SearchSolver(), budget: budget).solveLayer(layer, context: warmContext)
        let capped = DropObjective(layer, objective: objective, budget: budget)
        let model = CompactModel(drop: capped, slotsPerDevice: s)
        guard model.binaryCount <= configuration.maxBinaries else {
            return LayerOutcome(physicalToLogical: warm.physicalToLogical, status: .feasible,
                                notes: ["layer \(layer.index): \(model.binaryCount) binaries exceed the exact drop-budget model's limit (\(configuration.maxBinaries)); the drop-aware search's plan is kept"])
        }
        // Floors on the capped peaks: a cap c processes at most D·c of the row's U_t tokens and
        // drops at most f·U_t, so c ≥ (1 − f)·U_t / D; for max objectives also the objective's floor.
        let d = Double(layer.topology.devices)
        let floors = model.rows.map { row in
            let least = (1 - budget) * row.reduce(0, +) / d
            return model.combination == .sum ? least : Swift.max(least, capped.floor)
        }
        let result: ExactSolver.LayerResult
        do {
            result = try model.solve(start: Array(warm.physicalToLogical), floors: floors, lower: 0, deadline: deadline,
                                     verbose: configuration.verbose)
        } catch {
            // GLPK failing on this model (numerical trouble) leaves the warm start: a plan, not a proof.
            return LayerOutcome(physicalToLogical: warm.physicalToLogical, status: .feasible,
                                notes: ["layer \(layer.index): exact drop-budget model failed (\(error.description)); the drop-aware search's plan is kept, not proven"])
        }
        // No `lowerBound`: the metrics' bound and gap refer to the uncapped objective.
        return LayerOutcome(physicalToLogical: ContiguousArray(result.plan), status: result.outcome == .proven ? .optimal : .timeLimit)
    }
}
