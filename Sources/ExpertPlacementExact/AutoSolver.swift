public import ExpertPlacement

/// `--method auto`: per layer, the search, then the exact solver polishing its plan — proving it
/// optimal where the instance is small enough — within the layer's share of the time budget. Each
/// layer gets an equal share of the time left when it starts, so layers that prove quickly pass
/// their time on.
///
/// `meanImbalance`/`peakSum` over several episodes are polished by the compact multi-episode
/// model (``CompactModel``) when it is small enough (``ExactSolver/Configuration/maxCompactBinaries``);
/// larger layers are not polished. Before polishing, sums of peaks over several episodes on layers
/// beyond the search's exhaustive proof are annealed (see ``solveLayer(_:context:)``): on the
/// bundled `deepseek-v3` example (58 layers too large to polish) `--time-limit 30` takes the mean
/// imbalance from the search's 1.0481 to about 1.024. Status: ``SolveStatus/optimal`` when every
/// layer was proven, ``SolveStatus/timeLimit`` when the budget ran out first,
/// ``SolveStatus/feasible`` otherwise.
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

    /// One layer: the search; then, for a sum of peaks over several episodes on a layer beyond the
    /// search's exhaustive proof, simulated annealing of its plan (``SearchSolver/annealed(_:layer:objective:until:context:)``)
    /// for half the layer's time left (nine tenths when the exact models cannot take the layer);
    /// then exact polishing from the best plan.
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        let searcher = SearchSolver(configuration: search)
        let searched = searcher.solveLayer(layer, context: context)
        let moves = context.options.moves.isActive
        // Proven by the search already: nothing to polish (it spent seconds re-proving it).
        if searched.status == .optimal && !moves { return searched }
        let objective = context.options.objective
        let solver = ExactSolver(configuration: exact)
        let model = ObjectiveModel(layer, objective: objective)
        let polishes = solver.polishes(model, slotsPerDevice: layer.topology.slotsPerDevice)
        var start = searched
        // Annealing: not under a move policy (the search has traded its own plan against the
        // moves), nor when the search was cut short or tuned to anneal already, nor on layers the
        // exhaustive proof or the exact models settle in moments.
        if !moves && searched.status != .timeLimit && search.annealingMoves == 0 && !search.riskAware
            && !ExactSolver.isSinglePeak(model) && !ExhaustiveSearch.isCandidate(model), let deadline = context.deadline {
            let now = ContinuousClock.now
            if now < deadline {
                start.physicalToLogical = searcher.annealed(searched.physicalToLogical, layer: layer, objective: objective,
                                                            until: now + (deadline - now) * (polishes ? 0.5 : 0.9),
                                                            context: context)
            }
        }
        guard polishes else { return start }
        // The exact migration model takes single-peak objectives only; the search has traded the
        // moves already.
        if moves && !ExactSolver.isSinglePeak(model) { return searched }
        return try solver.solveLayer(layer, context: context, start: start.physicalToLogical, startBound: start.lowerBound)
    }
}
