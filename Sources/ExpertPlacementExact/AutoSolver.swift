public import ExpertPlacement

/// `--method auto`: per layer, the search, then the exact solver polishing its plan — proving it
/// optimal where the instance is small enough — within the layer's share of the time budget. Each
/// layer gets an equal share of the time left when it starts, so layers that prove quickly pass
/// their time on.
///
/// For objectives the exact solver cannot prove (`meanImbalance`/`peakSum` over several
/// episodes) it is the search alone. Status: ``SolveStatus/optimal`` when every layer was proven,
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
        for l in 0..<problem.layers {
            do throws(ExpertPlacementError) {
                _ = try ExactSolver.peakRows(problem, layer: l, objective: options.objective)
            } catch {
                return ["exact polishing skipped: \(error.reason)"]
            }
        }
        return []
    }

    /// One layer: the search, then exact polishing when the objective is a single peak.
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        let searched = SearchSolver(configuration: search).solveLayer(layer, context: context)
        let model = ObjectiveModel(layer, objective: context.options.objective)
        guard ExactSolver.isSinglePeak(model) else { return searched }
        return try ExactSolver(configuration: exact).solveLayer(layer, context: context, start: searched.physicalToLogical)
    }
}
