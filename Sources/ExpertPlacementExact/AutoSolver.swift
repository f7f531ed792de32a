public import ExpertPlacement

/// `--method auto`: the search for every layer, then the exact solver polishing layers — proving
/// them optimal where the instance is small enough — while the time budget lasts. Each layer gets
/// an equal share of the time left, so layers that prove quickly pass their time on.
///
/// For objectives the exact solver cannot prove (`meanImbalance`/`peakSum` over several
/// episodes) it is the search alone. Status: ``SolveStatus/optimal`` when every layer was proven,
/// ``SolveStatus/timeLimit`` when the budget ran out first, ``SolveStatus/feasible`` otherwise.
public struct AutoSolver: PlacementSolver {
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

    /// Solves every layer.
    public func solve(_ problem: Problem, options: SolveOptions = SolveOptions()) throws(ExpertPlacementError) -> SolveReport {
        let clock = ContinuousClock()
        let start = clock.now
        var report = try SearchSolver(configuration: search).solve(problem, options: options)
        do {
            for l in 0..<problem.layers { _ = try ExactSolver.peakRows(problem, layer: l, objective: options.objective) }
        } catch {
            report.method = method
            report.notes.append("exact polishing skipped: \(error.reason)")
            report.wallTime = clock.now - start
            return report
        }
        var remaining = options
        let budget = options.timeLimit ?? exact.defaultTimeLimit
        remaining.timeLimit = budget - (clock.now - start)
        var configuration = exact
        configuration.sharesTimeAcrossLayers = true
        var result = try ExactSolver(configuration: configuration).solve(problem, options: remaining, warmStart: report)
        result.method = method
        result.wallTime = clock.now - start
        return result
    }
}
