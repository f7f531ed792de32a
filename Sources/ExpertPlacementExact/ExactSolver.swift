public import ExpertPlacement

/// Proven-optimal placements for small instances, on GLPK: the pattern formulation
/// (``PatternModel``) inside a bisection on the peak θ, warm-started by ``SearchSolver``.
///
/// Supported objectives: those that are a single peak — `aggregateImbalance` (the summed load),
/// `worstImbalance` (the largest per-episode peak/average), and any objective on an instance
/// with one episode. (`meanImbalance` and `peakSum` over several episodes sum several peaks and
/// need another formulation; they throw ``ExpertPlacementError/unsupported(reason:)``.)
///
/// Per layer: the search's plan gives an upper bound `θ_UB` (its peak) and ``LowerBounds`` a
/// lower bound `θ_LB`. While `θ_UB − θ_LB > tolerance·θ_UB`: test `θ = θ_UB·(1 − tolerance)` first
/// (proving the incumbent optimal at once when it is), then midpoints; a feasible θ gives a new
/// plan and `θ_UB` its actual peak, an infeasible one raises `θ_LB`. Status is
/// ``SolveStatus/optimal`` only when every layer closed the gap; when the time limit stops it, the
/// best plan so far comes back with the bound reached (``SolveStatus/timeLimit``); a layer whose
/// pattern model would exceed ``Configuration/maxPatterns`` keeps the search's plan and bound
/// (``SolveStatus/feasible``, with a note). Patterns explode with `S ≥ 3` and tens of experts:
/// this formulation proves small instances only.
public struct ExactSolver: PlacementSolver {
    /// Tuning of the exact solver.
    public struct Configuration: Sendable, Equatable {
        /// Relative optimality tolerance on the peak.
        public var tolerance: Double = 1e-9
        /// Most device patterns per feasibility model; larger instances are reported as too large.
        public var maxPatterns: Int = 200_000
        /// Print GLPK's log.
        public var verbose: Bool = false
        /// Time budget when ``SolveOptions/timeLimit`` is not set.
        public var defaultTimeLimit: Duration = .seconds(60)

        /// Creates a configuration.
        public init(tolerance: Double = 1e-9, maxPatterns: Int = 200_000, verbose: Bool = false,
                    defaultTimeLimit: Duration = .seconds(60)) {
            self.tolerance = tolerance
            self.maxPatterns = maxPatterns
            self.verbose = verbose
            self.defaultTimeLimit = defaultTimeLimit
        }
    }

    /// The tuning in use.
    public var configuration: Configuration

    /// `"exact"`.
    public var method: String { "exact" }

    /// Creates the solver.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The GLPK version linked.
    public static var libraryVersion: String { GLPK.version }

    /// Solves every layer to proven optimality within the time limit.
    ///
    /// - Throws: ``ExpertPlacementError/unsupported(reason:)`` for objectives it cannot prove;
    ///   ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solve(_ problem: Problem, options: SolveOptions = SolveOptions()) throws(ExpertPlacementError) -> SolveReport {
        try solve(problem, options: options, warmStart: nil)
    }

    /// Solves every layer, starting from `warmStart`'s plans (the search's when `nil`).
    public func solve(_ problem: Problem, options: SolveOptions, warmStart: SolveReport?) throws(ExpertPlacementError) -> SolveReport {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + (options.timeLimit ?? configuration.defaultTimeLimit)
        let objective = options.objective
        // Warm start: the search's plan for every layer.
        var searchOptions = options
        searchOptions.timeLimit = Swift.min(options.timeLimit ?? configuration.defaultTimeLimit, .seconds(5))
        let warm: SolveReport
        if let warmStart { warm = warmStart } else { warm = try SearchSolver().solve(problem, options: searchOptions) }
        let p = problem.topology.slotCount
        var flat = ContiguousArray<Int32>()
        var bounds: [Double] = []
        var allOptimal = true, timedOut = false
        var notes: [String] = []
        for l in 0..<problem.layers {
            let rows = try Self.peakRows(problem, layer: l, objective: objective)
            let start = Array(warm.placement.physicalToLogical[l * p ..< (l + 1) * p])
            let result = try solveLayer(problem, layer: l, rows: rows, objective: objective, start: start, deadline: deadline)
            flat.append(contentsOf: result.plan)
            bounds.append(result.bound)
            switch result.outcome {
            case .proven: break
            case .timeLimit:
                allOptimal = false
                timedOut = true
                notes.append("layer \(l): stopped by the time limit; best plan and bound so far")
            case .tooLarge:
                allOptimal = false
                notes.append("layer \(l): more than \(configuration.maxPatterns) device patterns: too large for the pattern model; the search's plan and the bound so far")
            }
        }
        let placement = try Placement(topology: problem.topology, experts: problem.experts, physicalToLogical: flat)
        let status: SolveStatus = allOptimal ? .optimal : timedOut ? .timeLimit : .feasible
        return SolveReport(placement: placement, status: status, method: method,
                           objective: objective, lowerBounds: bounds, wallTime: clock.now - start, notes: notes)
    }

    /// Episode loads scaled so that the objective is the largest device load over the rows
    /// (ρ units for the imbalance objectives, load units for `peakSum`).
    static func peakRows(_ problem: Problem, layer: Int, objective: Objective) throws(ExpertPlacementError) -> [[Double]] {
        let e = problem.experts, d = Double(problem.topology.devices)
        let active = (0..<problem.episodes).filter { problem.episodeWeights[$0] > 0 }
        func row(_ t: Int) -> [Double] { (0..<e).map { problem.loads[layer, t, $0] } }
        switch objective {
        case .aggregateImbalance:
            var sum = [Double](repeating: 0, count: e)
            for t in active { for x in 0..<e { sum[x] += problem.episodeWeights[t] * problem.loads[layer, t, x] } }
            let total = sum.reduce(0, +)
            return [total > 0 ? sum.map { $0 * d / total } : sum]
        case .worstImbalance:
            return active.map { t in
                let w = row(t), total = w.reduce(0, +)
                return total > 0 ? w.map { $0 * d / total } : w
            }
        case .meanImbalance, .peakSum:
            guard active.count == 1 else {
                throw .unsupported(reason: "the exact solver proves single-peak objectives: aggregate, worst, or any objective on one episode; \(objective.commandLineName) over \(active.count) episodes needs --method search")
            }
            let w = row(active[0]), total = w.reduce(0, +)
            if objective == .peakSum { return [w.map { $0 * problem.episodeWeights[active[0]] }] }
            return [total > 0 ? w.map { $0 * d / total } : w]
        }
    }

    struct LayerResult {
        enum Outcome { case proven, timeLimit, tooLarge }
        var plan: [Int32]
        var bound: Double
        var outcome: Outcome
    }

    /// The largest device load of `plan` over the rows.
    static func peak(_ plan: [Int32], rows: [[Double]], experts: Int, slotsPerDevice s: Int) -> Double {
        var counts = [Double](repeating: 0, count: experts)
        for x in plan { counts[Int(x)] += 1 }
        var best = 0.0
        for row in rows {
            for dev in 0..<(plan.count / s) {
                var sum = 0.0
                for k in 0..<s { let x = Int(plan[dev * s + k]); sum += row[x] / counts[x] }
                best = Swift.max(best, sum)
            }
        }
        return best
    }

    func solveLayer(_ problem: Problem, layer: Int, rows: [[Double]], objective: Objective, start: [Int32],
                    deadline: ContinuousClock.Instant) throws(ExpertPlacementError) -> LayerResult {
        let e = problem.experts, s = problem.topology.slotsPerDevice
        let model = PatternModel(experts: e, devices: problem.topology.devices, slotsPerDevice: s, rows: rows)
        let isImbalance = objective != .peakSum
        var plan = start
        var upper = Self.peak(plan, rows: rows, experts: e, slotsPerDevice: s)
        var lower = LowerBounds.bound(problem, layer: layer, objective: objective)
        // The objective of a plan is max(1, peak) in ρ units (peak ≥ 1 whenever there is load).
        func objectiveValue(_ peak: Double) -> Double { isImbalance ? Swift.max(1, peak) : peak }
        if upper <= 0 || objectiveValue(upper) <= lower * (1 + configuration.tolerance) {
            return LayerResult(plan: plan, bound: Swift.min(lower, objectiveValue(upper)), outcome: .proven)
        }
        var firstProbe = true
        while upper - lower > configuration.tolerance * upper {
            let now = ContinuousClock.now
            guard now < deadline else { return LayerResult(plan: plan, bound: lower, outcome: .timeLimit) }
            let theta = firstProbe ? upper * (1 - configuration.tolerance) : (lower + upper) / 2
            firstProbe = false
            let items = model.items(within: theta)
            guard let patterns = model.patterns(items: items, within: theta, limit: configuration.maxPatterns,
                                                deadline: deadline) else {
                return LayerResult(plan: plan, bound: lower, outcome: ContinuousClock.now >= deadline ? .timeLimit : .tooLarge)
            }
            if patterns.isEmpty {
                lower = theta
                continue
            }
            let (mip, decode) = model.program(items: items, patterns: patterns)
            // GLPK checks its clock coarsely: leave it a margin so the whole call ends in time.
            let left = Double((deadline - now).components.seconds) + Double((deadline - now).components.attoseconds) * 1e-18
            let seconds = Swift.max(0.05, left * 0.9 - 0.1)
            let solution: MIPSolution
            do {
                solution = try GLPK.solve(mip, timeLimit: seconds, verbose: configuration.verbose)
            } catch {
                throw .solverFailure(reason: error.description)
            }
            switch solution.outcome {
            case .optimal, .feasible:
                let found = decode(solution.values!)
                let value = Self.peak(found, rows: rows, experts: e, slotsPerDevice: s)
                if value < upper {
                    plan = found
                    upper = value
                } else {
                    // Numerical corner: the solution sits exactly at θ; treat θ as reached.
                    upper = Swift.min(upper, theta)
                    if value <= upper { plan = found }
                }
            case .infeasible:
                lower = Swift.max(lower, theta)
            case .timeLimit:
                if let values = solution.values {
                    let found = decode(values)
                    let value = Self.peak(found, rows: rows, experts: e, slotsPerDevice: s)
                    if value < upper { plan = found; upper = value }
                }
                return LayerResult(plan: plan, bound: lower, outcome: .timeLimit)
            }
        }
        return LayerResult(plan: plan, bound: lower, outcome: .proven)
    }
}
