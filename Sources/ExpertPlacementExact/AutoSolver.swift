public import ExpertPlacement

/// `--method auto`: per layer, the search, then the exact solver polishing its plan — proving it
/// optimal where the instance is small enough — within the layer's share of the time budget. Each
/// layer gets an equal share of the time left when it starts, so layers that prove quickly pass
/// their time on.
///
/// `meanImbalance`/`peakSum` over several episodes are polished by the compact multi-episode
/// model (``CompactModel``) when it is small enough (``ExactSolver/Configuration/maxCompactBinaries``);
/// larger layers get the search followed by simulated annealing for nine tenths of the layer's
/// time (``SearchSolver/Configuration/annealingTimeShare``): on the bundled `deepseek-v3` example
/// (58 such layers) `--time-limit 30` takes the mean imbalance from the search's 1.0481 to about
/// 1.022. Status: ``SolveStatus/optimal`` when every layer was proven,
/// ``SolveStatus/timeLimit`` when the budget ran out first, ``SolveStatus/feasible`` otherwise.
public struct AutoSolver: LayerSolver {
    /// The exact solver's tuning (its default time limit is the budget when none is given).
    public var exact: ExactSolver.Configuration
    /// The search's tuning.
    public var search: SearchSolver.Configuration

    /// `"auto"`.
    public var method: String { "auto" }

    /// Creates the solver.
    public init(exact: ExactSolver.Configuration = .init(defaultTimeLimit: .seconds(10)),
                search: SearchSolver.Configuration = .init()) {
        self.exact = exact
        self.search = search
    }

    /// The exact solver's default budget.
    public var defaultTimeLimit: Duration? { exact.defaultTimeLimit }

    /// Equal shares of the time left.
    public var timeSharing: LayerTimeSharing { .equalShares }

    /// Notes the layers the exact solver cannot polish.
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
        let solver = ExactSolver(configuration: exact)
        let skipped = (0..<problem.layers).filter { !solver.polishes(ProblemLayer(problem, layer: $0), objective: options.objective) }
        guard let first = skipped.first else { return [] }
        return ["exact polishing skipped on \(skipped.count) layer\(skipped.count == 1 ? "" : "s") (first: layer \(first)): \(options.objective.commandLineName) over several episodes with a compact model above \(exact.maxCompactBinaries) binaries; \(options.moves.isActive ? "the search alone" : "the search and annealing in the layer's time")"]
    }

    /// One layer: the search, then exact polishing when the objective is a single peak.
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        let solver = ExactSolver(configuration: exact)
        let moves = context.options.moves.isActive
        guard solver.polishes(layer, objective: context.options.objective) else {
            // Too large to polish: the layer's time goes to annealing the search's plan (a tenth
            // is left for the rest of the layer). Not under a move policy: the search then trades
            // its plan against moves, and annealing the plan it trades from would leave that no time.
            var annealed = search
            if !moves && annealed.annealingMoves == 0 && annealed.annealingTimeShare == 0 { annealed.annealingTimeShare = 0.9 }
            return SearchSolver(configuration: annealed).solveLayer(layer, context: context)
        }
        let searched = SearchSolver(configuration: search).solveLayer(layer, context: context)
        // Proven by the search already: nothing to polish (it spent seconds re-proving it).
        if searched.status == .optimal && !moves { return searched }
        // The exact migration model takes single-peak objectives only; the search has traded the
        // moves already.
        if moves && !ExactSolver.isSinglePeak(ObjectiveModel(layer, objective: context.options.objective)) { return searched }
        return try solver.solveLayer(layer, context: context, start: searched.physicalToLogical, startBound: searched.lowerBound)
    }
}
