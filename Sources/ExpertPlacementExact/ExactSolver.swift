public import ExpertPlacement

/// Proven-optimal placements for small instances, on GLPK: a branch-and-price decision
/// procedure (``BranchAndPrice``, over the pattern formulation of ``PatternModel``) inside a
/// search on the peak θ, warm-started by ``SearchSolver``.
///
/// Single-peak objectives — `aggregateImbalance` (the summed load), `worstImbalance` (the largest
/// per-episode peak/average), and any objective on an instance with one episode — go through the
/// θ search below (`worstImbalance` over several episodes after the combinatorial branch and
/// bound, ``ExpertPlacement/ExhaustiveSearch``, in a tenth of the time). `meanImbalance` and
/// `peakSum` over several episodes sum several peaks (``solveCompactLayer``): the branch and bound
/// first, in a tenth of the time; then each episode's own optimum (the θ search on that episode)
/// is a floor on its peak and a candidate plan, the plan that keeps every episode closest to its
/// own optimum is another; when the best candidate does not meet the floors, the branch and bound
/// again with those floors, then the compact MILP (``CompactModel``: replica counts and placement
/// jointly) prove the optimum. Layers
/// whose compact model is too large (``Configuration/maxCompactBinaries``) fall back to one MIP
/// over the patterns that fit under per-episode caps (``solveSumLayer``), for tiny instances.
///
/// Per layer: the search's plan gives an upper bound `θ_UB` (its peak) and ``LowerBounds`` a
/// lower bound `θ_LB`. While `θ_LB < θ_UB·(1 − tolerance)`: test `θ = θ_UB·(1 − tolerance)` first
/// and after every infeasible answer (one infeasible answer there proves the incumbent optimal),
/// the midpoint after a feasible one; a feasible θ gives a new plan and `θ_UB` its actual peak, an
/// infeasible one raises `θ_LB`. Status is ``SolveStatus/optimal`` only when every layer closed
/// the gap; when the time limit stops it, the best plan so far comes back with the bound reached
/// (``SolveStatus/timeLimit``); a layer whose fallback model would exceed
/// ``Configuration/maxPatterns`` keeps its best plan and bound (``SolveStatus/feasible``, with a
/// note). The LP bound is weak while replica counts are open (a fractional count mixes splits),
/// so the tree grows with the number of count choices: it proves 16 experts × 8 devices × 3
/// slots in seconds, not 64 × 16 × 5.
public struct ExactSolver: LayerSolver, Sendable {
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

        /// How multi-episode layers are modelled.
        public var multiEpisode: MultiEpisodeFormulation = .automatic

        /// Node budget of each run of the exhaustive branch and bound (``ExhaustiveSearch``) tried
        /// on multi-episode layers: for sums, in a tenth of the layer's time before the episodes'
        /// own optima and a fifth of what is left after them, before the compact model; for
        /// `worst`, in a tenth before the θ search. 0 skips it. The default, 10⁹ nodes (about
        /// 30 s), leaves the time shares to decide.
        public var exhaustiveNodeLimit: Int = 1_000_000_000

        /// Most binary columns of the compact multi-episode model (``MultiEpisodeFormulation/compact``)
        /// chosen automatically.
        public var maxCompactBinaries: Int = 60_000

        /// Give every layer an equal share of the time left (so one hard layer cannot use up the
        /// budget of the others) instead of one deadline for all.
        public var sharesTimeAcrossLayers = false

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

    /// The model used for a layer with several episodes.
    public enum MultiEpisodeFormulation: Sendable, Equatable {
        /// The compact MILP for sums of peaks (`meanImbalance`, `peakSum`) when it has at most
        /// ``Configuration/maxCompactBinaries`` binaries; the θ search over patterns for single-peak
        /// objectives (`worstImbalance`).
        case automatic
        /// The compact MILP (``CompactModel``) for every multi-episode layer.
        case compact
        /// The pattern models only: the θ search for single-peak objectives, the capped pattern
        /// MIP for sums.
        case patterns
    }

    /// `"exact"`.
    public var method: String { "exact" }

    /// Creates the solver.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The GLPK version linked.
    public static var libraryVersion: String { GLPK.version }

    /// The migration term (``SolveOptions/moves``) needs a single-peak objective.
    ///
    /// - Throws: ``ExpertPlacementError/unsupported(reason:)`` for a move cost or cap with
    ///   `mean`/`peak-sum` over several episodes.
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
        if options.moves.isActive {
            for l in 0..<problem.layers { _ = try Self.peakRows(problem, layer: l, objective: options.objective) }
        }
        return []
    }

    /// ``Configuration/defaultTimeLimit``.
    public var defaultTimeLimit: Duration? { configuration.defaultTimeLimit }

    /// Equal shares when ``Configuration/sharesTimeAcrossLayers`` is set.
    public var timeSharing: LayerTimeSharing { configuration.sharesTimeAcrossLayers ? .equalShares : .oneDeadline }

    /// The migration MIP (``MigrationModel``) handles the move policy.
    public var handlesMovePolicy: Bool { true }

    /// One layer to proven optimality within its deadline, warm-started by the search.
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        try solveLayer(layer, context: context, start: nil)
    }

    /// Every layer in two phases: first the search on all layers (in parallel, within the time
    /// limit: milliseconds on most instances), then each layer proven from the search's plan in
    /// the time left. A layer the search already proved optimal keeps its plan and proof at once.
    ///
    /// Warm-starting layer by layer instead left the layers that start late with no time for
    /// their search: under a short time limit they came back as greedy plans (54 of 58 V3 layers
    /// at `--time-limit 1`, mean imbalance 1.2664 against the search's 1.1296).
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solve(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> SolveReport {
        let clock = ContinuousClock()
        let start = clock.now
        _ = try prepare(problem, options: options)  // what this solver refuses, before any search
        let limit = options.timeLimit ?? configuration.defaultTimeLimit
        var first = options
        first.timeLimit = limit
        let report = try LayerDriver.solve(problem, with: SearchSolver(), options: first)
        let p = problem.topology.slotCount
        let searched = (0..<problem.layers).map { l in
            // A layer's bound rests on its optimum exactly when the search proved it.
            let proven = report.boundSources?[l] == .optimum
            return LayerOutcome(physicalToLogical: ContiguousArray(report.placement.physicalToLogical[l * p ..< (l + 1) * p]),
                                status: proven ? .optimal : .feasible, lowerBound: report.lowerBounds?[l],
                                boundSource: report.boundSources?[l])
        }
        let warmStart = report.placement
        var rest = options
        rest.timeLimit = Swift.max(limit - (clock.now - start), .milliseconds(1))
        var proved = try LayerDriver.solve(problem, with: WarmStarted(exact: self, warmStart: warmStart, searched: searched),
                                           options: rest)
        proved.wallTime = clock.now - start
        return proved
    }

    /// Solves every layer, starting from `warmStart`'s plans (the search's when `nil`).
    ///
    /// - Throws: ``ExpertPlacementError/solverFailure(reason:)`` when GLPK fails.
    public func solve(_ problem: Problem, options: SolveOptions, warmStart: SolveReport?) throws(ExpertPlacementError) -> SolveReport {
        guard let warmStart else { return try solve(problem, options: options) }
        return try LayerDriver.solve(problem, with: WarmStarted(exact: self, warmStart: warmStart.placement), options: options)
    }

    /// One layer from `start` (the search's plan on this layer when `nil`).
    func solveLayer(_ view: ProblemLayer, context: LayerContext,
                    start given: ContiguousArray<Int32>?, startBound givenBound: Double? = nil) throws(ExpertPlacementError) -> LayerOutcome {
        let problem = view.problem, l = view.index
        let objective = context.options.objective
        let deadline = context.deadline ?? ContinuousClock.now + configuration.defaultTimeLimit
        let start: [Int32]
        var startBound: Double? = givenBound
        if let given {
            start = Array(given)
        } else {
            // Warm start: the search's plan, within at most 5 s of the layer's time; a layer it
            // proves optimal needs nothing more.
            let searchDeadline = Swift.min(deadline, ContinuousClock.now + .seconds(5))
            let warm = SearchSolver().solveLayer(view, context: LayerContext(options: context.options, deadline: searchDeadline))
            if warm.status == .optimal && !context.options.moves.isActive { return warm }
            start = Array(warm.physicalToLogical)
            startBound = warm.lowerBound
        }
        if ContinuousClock.now >= deadline && !context.options.moves.isActive {
            // Out of time before any model is built (a layer that starts after the deadline, or
            // whose warm start used it all): the start plan and the plain bound, at once. (Under a
            // move policy the migration model picks, at once too, among the plans within the cap.)
            let bound = startBound ?? LowerBounds.bound(problem, layer: l, objective: objective)
            return LayerOutcome(physicalToLogical: ContiguousArray(start), status: .timeLimit, lowerBound: bound,
                                notes: ["layer \(l): stopped by the time limit; best plan and bound so far"])
        }
        var notes: [String] = []
        let result: LayerResult
        do throws(ExpertPlacementError) {
            if context.options.moves.isActive, let current = view.deployed {
                result = try solveMigrationLayer(problem, layer: l, current: Array(current), policy: context.options.moves,
                                                 objective: objective, start: start, deadline: deadline, notes: &notes)
            } else {
                // The layer's objective model, built once: scaled rows whose peaks the objective
                // sums (`meanImbalance`/`peakSum` over several episodes) or takes the largest of.
                let model = ObjectiveModel(view, objective: objective)
                if let compact = compactModel(model, slotsPerDevice: view.topology.slotsPerDevice) {
                    result = try solveCompactLayer(compact, view: view, start: start, deadline: deadline)
                } else if !Self.isSinglePeak(model) {
                    result = try solveSumLayer(problem, layer: l, rows: model.rowArrays, constant: model.constant,
                                               objective: objective, start: start, deadline: deadline)
                } else {
                    result = try solveLayer(problem, layer: l, model: model, objective: objective, start: start,
                                            deadline: deadline)
                }
            }
        } catch .solverFailure(let reason) {
            // GLPK failing on this model (numerical trouble) leaves the start plan (the search's,
            // within the cap under a move policy only when it is the deployed one) and the plain bound:
            // an answer, not a proof.
            var plan = start
            if let deployed = view.deployed, let cap = context.options.moves.maxMoves, Alignment.moves(start, from: deployed) > cap {
                plan = Array(deployed)
            }
            return LayerOutcome(physicalToLogical: ContiguousArray(plan), status: .feasible,
                                lowerBound: LowerBounds.bound(problem, layer: l, objective: objective),
                                notes: notes + ["layer \(l): exact solver failed (\(reason)); the start plan is kept, not proven"])
        }
        let status: SolveStatus
        switch result.outcome {
        case .proven:
            status = .optimal
        case .timeLimit:
            status = .timeLimit
            notes.append("layer \(l): stopped by the time limit; best plan and bound so far")
        case .tooLarge:
            status = .feasible
            notes.append("layer \(l): more than \(configuration.maxPatterns) device patterns in a model the exact solver needed: not proven; the best plan and the bound so far")
        }
        return LayerOutcome(physicalToLogical: ContiguousArray(result.plan), status: status, lowerBound: result.bound, notes: notes,
                            boundSource: status == .optimal ? .optimum : .exactSearch)
    }

    /// Whether this solver models `layer` under `objective` without falling back to the capped
    /// pattern MIP (which only tiny layers fit): single-peak objectives, or a compact model.
    func polishes(_ layer: ProblemLayer, objective: Objective) -> Bool {
        polishes(ObjectiveModel(layer, objective: objective), slotsPerDevice: layer.topology.slotsPerDevice)
    }

    /// ``polishes(_:objective:)`` on a layer's objective model already built.
    func polishes(_ model: ObjectiveModel, slotsPerDevice: Int) -> Bool {
        ExactSolver.isSinglePeak(model) || compactModel(model, slotsPerDevice: slotsPerDevice) != nil
    }

    /// The compact model of a multi-episode layer's objective model when
    /// ``Configuration/multiEpisode`` chooses it.
    func compactModel(_ model: ObjectiveModel, slotsPerDevice: Int) -> CompactModel? {
        guard model.rowCount > 1 else { return nil }
        switch configuration.multiEpisode {
        case .patterns: return nil
        case .compact: return CompactModel(model: model, slotsPerDevice: slotsPerDevice)
        case .automatic:
            guard model.combination == .sum else { return nil }
            let compact = CompactModel(model: model, slotsPerDevice: slotsPerDevice)
            return compact.binaryCount <= configuration.maxCompactBinaries ? compact : nil
        }
    }

    /// Each row's smallest peak on its own, proven or the bound reached in its share of at most
    /// half the time left (a floor on that row's peak in every plan), and the plans found.
    func episodeOptima(rows: [[Double]], floors: [Double], experts e: Int, devices d: Int, slotsPerDevice s: Int,
                       start: [Int32], layer: Int,
                       deadline: ContinuousClock.Instant) throws(ExpertPlacementError) -> (floors: [Double], plans: [[Int32]]) {
        var floors = floors
        var plans: [[Int32]] = []
        for t in rows.indices {
            let now = ContinuousClock.now
            guard now < deadline else { break }
            let share = now + (deadline - now) / (2 * (rows.count - t))
            let alone = try minimizePeak(rows: [rows[t]], experts: e, devices: d, slotsPerDevice: s, start: start,
                                         lower: floors[t], layer: layer, deadline: share)
            floors[t] = Swift.max(floors[t], alone.bound)
            plans.append(alone.plan)
        }
        return (floors, plans)
    }

    /// Sum objectives over several episodes with the compact model: first
    /// ``ExpertPlacement/ExhaustiveSearch`` from the start plan in a tenth of the time; then floors
    /// from each episode's own optimum; candidate plans from those optima and from the plan that
    /// keeps every episode closest to its own optimum (the θ search on rows scaled by their
    /// floors); proven at once when the best candidate meets the floors, else by the branch and
    /// bound again (within ``Configuration/exhaustiveNodeLimit`` nodes and a fifth of the time
    /// left), else by ``CompactModel`` from the best plan.
    func solveCompactLayer(_ compact: CompactModel, view: ProblemLayer, start: [Int32],
                           deadline: ContinuousClock.Instant) throws(ExpertPlacementError) -> LayerResult {
        let e = compact.experts, d = compact.devices, s = compact.slotsPerDevice
        let rows = compact.rows
        let model = compact.model
        var floors = LowerBounds.rowBounds(model, slots: view.topology.slotCount)
        var best = start, upper = compact.value(start)
        func consider(_ plan: [Int32]) {
            let v = compact.value(plan)
            if v < upper { best = plan; upper = v }
        }
        func lower() -> Double {
            compact.combination == .sum ? floors.reduce(compact.constant, +) : floors.reduce(compact.constant, Swift.max)
        }
        func proven() -> Bool { upper <= lower() * (1 + configuration.tolerance) }
        if proven() { return LayerResult(plan: best, bound: Swift.min(lower(), upper), outcome: .proven) }
        /// The combinatorial branch and bound from the best plan with the floors known, within its
        /// node budget and `1/share` of the time left: the layer's result when it completes, and
        /// the better plan it reached (the next stages' start) when it does not.
        func exhaustive(share: Int) -> LayerResult? {
            guard let run = branchAndBound(model, slotsPerDevice: s, incumbent: best, floors: floors, share: share,
                                           deadline: deadline) else { return nil }
            if let plan = run.improvedPlan { consider(plan) }
            guard let optimum = run.optimum else { return nil }
            return LayerResult(plan: best, bound: Swift.min(upper, optimum), outcome: .proven)
        }
        // The branch and bound first, in a tenth of the time, with the floors already known: it
        // proves most layers in milliseconds, before the episodes' own optima (θ searches of
        // seconds each on 16 experts × 4 × 5 over 4 episodes) are worth computing.
        if let result = exhaustive(share: 10) { return result }
        if compact.combination == .sum {
            let optima = try episodeOptima(rows: rows, floors: floors, experts: e, devices: d, slotsPerDevice: s,
                                           start: start, layer: view.index, deadline: deadline)
            floors = optima.floors
            optima.plans.forEach(consider)
            if proven() { return LayerResult(plan: best, bound: Swift.min(lower(), upper), outcome: .proven) }
            // Every episode as close to its own optimum as one plan allows: min max_t peak_t/floor_t.
            let now = ContinuousClock.now
            if now < deadline, !floors.contains(where: { $0 <= 0 }) {
                let scaled = zip(rows, floors).map { row, floor in row.map { $0 / floor } }
                let balanced = try minimizePeak(rows: scaled, experts: e, devices: d, slotsPerDevice: s, start: best,
                                                lower: 1, layer: view.index, deadline: now + (deadline - now) / 4)
                consider(balanced.plan)
                if proven() { return LayerResult(plan: best, bound: Swift.min(lower(), upper), outcome: .proven) }
            }
        }
        // The combinatorial branch and bound again, with the episodes' optima as floors and the
        // best candidate: heavy experts make partial peaks grow fast, so it often proves what the
        // MILP's LP bound cannot.
        if let result = exhaustive(share: 5) { return result }
        do {
            return try compact.solve(start: best, floors: floors, lower: lower(), deadline: deadline,
                                     verbose: configuration.verbose)
        } catch {
            throw .solverFailure(reason: error.description)
        }
    }

    /// The exact solver started from another solver's plans (``solve(_:options:warmStart:)``).
    struct WarmStarted: LayerSolver {
        let exact: ExactSolver
        let warmStart: Placement
        /// The search's outcome per layer when `warmStart` is the search's plan: a layer it
        /// proved optimal is returned as it is (without a move policy).
        var searched: [LayerOutcome]? = nil

        var method: String { exact.method }
        var defaultTimeLimit: Duration? { exact.defaultTimeLimit }
        var timeSharing: LayerTimeSharing { exact.timeSharing }
        var handlesMovePolicy: Bool { true }

        func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
            try exact.prepare(problem, options: options)
        }

        func solveLayer(_ layer: ProblemLayer, context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
            if let outcome = searched?[layer.index], outcome.status == .optimal, !context.options.moves.isActive {
                return outcome
            }
            let p = layer.topology.slotCount
            let row = warmStart.physicalToLogical[layer.index * p ..< (layer.index + 1) * p]
            return try exact.solveLayer(layer, context: context, start: ContiguousArray(row),
                                        startBound: searched?[layer.index].lowerBound)
        }
    }

    /// Episode loads scaled so that the objective is the largest device load over the rows
    /// (ρ units for the imbalance objectives, load units for `peakSum`): the rows of the layer's
    /// ``ObjectiveModel`` when it is a single peak (a max of rows, or one row without a constant).
    static func peakRows(_ problem: Problem, layer: Int, objective: Objective) throws(ExpertPlacementError) -> [[Double]] {
        let model = ObjectiveModel(ProblemLayer(problem, layer: layer), objective: objective)
        guard isSinglePeak(model) else {
            throw .unsupported(reason: "the exact solver's migration model (a move cost or cap) proves single-peak objectives: aggregate, worst, or any objective on one episode; \(objective.commandLineName) over \(model.rowCount) episodes with moves needs --method search or auto")
        }
        return model.rowArrays
    }

    /// Whether the model's value is the largest device load over its rows (clamped below by its
    /// constant of 1 for the max combination).
    static func isSinglePeak(_ model: ObjectiveModel) -> Bool {
        model.combination == .max || (model.rowCount == 1 && model.constant == 0)
    }

    /// Sum objectives: one MIP over the device patterns that fit under per-episode caps derived
    /// from the warm start (`z_t ≥ load_t(p)` for every pattern in use, minimise `Σ z_t`).
    ///
    /// With `UB` the warm start's value and `a_t` a lower bound on the peak of episode `t` (its
    /// own optimum, from a θ search on that episode alone, or at least its average device load),
    /// every episode's peak in a plan at least as good is at most
    /// `cap_t = UB − constant − Σ_{t'≠t} a_t'`, so only patterns within the caps can appear; the
    /// warm start's own patterns always do. Tiny instances only: the model has a row per pattern
    /// and episode.
    func solveSumLayer(_ problem: Problem, layer: Int, rows: [[Double]], constant: Double, objective: Objective,
                       start: [Int32], deadline: ContinuousClock.Instant) throws(ExpertPlacementError) -> LayerResult {
        let e = problem.experts, d = problem.topology.devices, s = problem.topology.slotsPerDevice
        func value(_ plan: [Int32]) -> Double {
            ObjectiveModel.rowPeaks(plan, rows: rows, experts: e, slotsPerDevice: s).reduce(constant, +)
        }
        let upper = value(start)
        var averages = rows.map { $0.reduce(0, +) / Double(d) }
        var lower = Swift.max(constant + averages.reduce(0, +), LowerBounds.bound(problem, layer: layer, objective: objective))
        if upper <= lower * (1 + configuration.tolerance) {
            return LayerResult(plan: start, bound: lower, outcome: .proven)
        }
        // Stronger floors: each episode's own smallest peak. They tighten the caps and the LP
        // bound alike.
        averages = try episodeOptima(rows: rows, floors: averages, experts: e, devices: d, slotsPerDevice: s,
                                     start: start, layer: layer, deadline: deadline).floors
        lower = Swift.max(lower, constant + averages.reduce(0, +))
        if upper <= lower * (1 + configuration.tolerance) {
            return LayerResult(plan: start, bound: Swift.min(lower, upper), outcome: .proven)
        }
        let stopped = LayerResult(plan: start, bound: lower, outcome: .timeLimit)
        guard ContinuousClock.now < deadline else { return stopped }
        // Patterns within the caps: rows scaled by 1/cap_t, threshold 1.
        let total = averages.reduce(0, +)
        let caps = averages.map { upper - constant - (total - $0) }
        let scaled = zip(rows, caps).map { row, cap in row.map { $0 / Swift.max(cap, 1e-300) } }
        let model = PatternModel(experts: e, devices: d, slotsPerDevice: s, rows: scaled)
        guard let items = model.items(within: 1 + 1e-9, deadline: deadline, limit: model.itemLimit(maxPatterns: configuration.maxPatterns)) else {
            return LayerResult(plan: start, bound: lower, outcome: ContinuousClock.now >= deadline ? .timeLimit : .tooLarge)
        }
        guard let patterns = model.patterns(items: items, within: 1 + 1e-9, limit: configuration.maxPatterns / 10,
                                            deadline: deadline) else {
            return LayerResult(plan: start, bound: lower,
                               outcome: ContinuousClock.now >= deadline ? .timeLimit : .tooLarge)
        }
        let built = model.program(items: items, patterns: patterns)
        var mip = built.0
        let decode = built.1
        // Pattern p's load in episode t, in objective units.
        let z = rows.indices.map { t in mip.addColumn(.init(kind: .continuous, lower: averages[t], objective: 1)) }
        for (p, pattern) in patterns.enumerated() {
            if p & 255 == 255 && ContinuousClock.now >= deadline { return stopped }
            let used = mip.addColumn(.init(kind: .binary))
            mip.addRow(lower: nil, upper: 0, [(p, 1.0), (used, -Double(d))])  // x_p ≤ D·u_p
            for t in rows.indices {
                let load = pattern.reduce(0.0) { $0 + items[$1].load[t] } * caps[t]
                if load > averages[t] { mip.addRow(lower: nil, upper: 0, [(used, load), (z[t], -1)]) }
            }
        }
        let left = deadline - ContinuousClock.now
        let seconds = left.inSeconds
        guard seconds > 0.01 else { return LayerResult(plan: start, bound: lower, outcome: .timeLimit) }
        let initial = Self.warmStartColumns(start, model: model, items: items, patterns: patterns, columns: mip.columns.count,
                                            rows: rows, caps: caps, averages: averages)
        let solution: MIPSolution
        do {
            solution = try GLPK.solve(mip, timeLimit: Swift.max(0.05, seconds * 0.9 - 0.1), verbose: configuration.verbose,
                                      initial: initial)
        } catch {
            throw .solverFailure(reason: error.description)
        }
        switch solution.outcome {
        case .optimal:
            let found = decode(solution.values!)
            let v = value(found)
            // The MIP optimum is the layer optimum (the caps keep every plan at least as good).
            return v < upper ? LayerResult(plan: found, bound: Swift.min(v, solution.objective! + constant), outcome: .proven)
                             : LayerResult(plan: start, bound: Swift.min(upper, solution.objective! + constant), outcome: .proven)
        case .feasible, .timeLimit:
            var plan = start
            if let values = solution.values {
                let found = decode(values)
                if value(found) < upper { plan = found }
            }
            return LayerResult(plan: plan, bound: lower, outcome: .timeLimit)
        case .infeasible:
            // Cannot happen (the warm start fits the caps) unless rounding excluded it: keep it.
            return LayerResult(plan: start, bound: lower, outcome: .timeLimit)
        }
    }

    /// The warm start's plan as values of the sum MIP's columns (x_p, y_{e,r}, z_t, u_p in the
    /// order ``solveSumLayer`` adds them), or `nil` when one of its devices matches no pattern.
    static func warmStartColumns(_ plan: [Int32], model: PatternModel, items: [PatternModel.Item], patterns: [[Int]],
                                 columns: Int, rows: [[Double]], caps: [Double], averages: [Double]) -> [Double]? {
        guard let (devicePatterns, expertItems) = model.locate(plan, items: items, patterns: patterns) else { return nil }
        var values = [Double](repeating: 0, count: columns)
        let np = patterns.count, ni = items.count, nt = rows.count
        for p in devicePatterns { values[p] += 1 }
        for i in expertItems { values[np + i] = 1 }
        for t in 0..<nt {
            var peak = averages[t]
            for p in 0..<np where values[p] > 0 {
                peak = Swift.max(peak, patterns[p].reduce(0.0) { $0 + items[$1].load[t] } * caps[t])
            }
            values[np + ni + t] = peak
        }
        for p in 0..<np where values[p] > 0 { values[np + ni + nt + p] = 1 }
        return values
    }

    /// One layer under the migration term (``MigrationModel``), from the search's plan and
    /// `current`. The bound is the optimum within the cap when proven with no move weight (valid
    /// for every plan within the cap), the plain lower bound otherwise.
    func solveMigrationLayer(_ problem: Problem, layer: Int, current: [Int32], policy: MovePolicy, objective: Objective,
                             start: [Int32], deadline: ContinuousClock.Instant,
                             notes: inout [String]) throws(ExpertPlacementError) -> LayerResult {
        let rows = try Self.peakRows(problem, layer: layer, objective: objective)
        let model = PatternModel(experts: problem.experts, devices: problem.topology.devices,
                                 slotsPerDevice: problem.topology.slotsPerDevice, rows: rows)
        let migration = MigrationModel(model: model, current: current, cap: policy.maxMoves, weight: policy.cost)
        let floor = LowerBounds.bound(problem, layer: layer, objective: objective)
        let outcome: MigrationModel.Outcome
        do {
            outcome = try migration.solve(starts: [start], floor: floor, maxPatterns: configuration.maxPatterns,
                                          verbose: configuration.verbose, deadline: deadline)
        } catch {
            throw .solverFailure(reason: error.description)
        }
        switch outcome {
        case .proven(let plan, let value):
            let moves = migration.moves(plan)
            if policy.cost > 0 {
                notes.append("layer \(layer): \(moves) moves; optimal for objective + \(policy.cost)·moves = \(value)")
                return LayerResult(plan: plan, bound: floor, outcome: .proven)
            }
            notes.append("layer \(layer): \(moves) moves; optimal within \(policy.maxMoves ?? 0) moves (the bound holds within the cap)")
            return LayerResult(plan: plan, bound: Swift.max(floor, value), outcome: .proven)
        case .stopped(let plan):
            return LayerResult(plan: plan, bound: floor, outcome: .timeLimit)
        case .tooLarge(let plan):
            return LayerResult(plan: plan, bound: floor, outcome: .tooLarge)
        }
    }

    struct LayerResult: Sendable {
        enum Outcome: Sendable { case proven, timeLimit, tooLarge }
        var plan: [Int32]
        var bound: Double
        var outcome: Outcome
    }

    /// The largest device load of `plan` over the rows (``ObjectiveModel/rowPeaks(_:rows:experts:slotsPerDevice:)``).
    static func peak(_ plan: [Int32], rows: [[Double]], experts: Int, slotsPerDevice s: Int) -> Double {
        ObjectiveModel.rowPeaks(plan, rows: rows, experts: experts, slotsPerDevice: s).max() ?? 0
    }

    /// A single-peak layer (``isSinglePeak(_:)`` holds for `model`, the layer's objective model):
    /// the branch and bound first over several episodes, then the θ search.
    func solveLayer(_ problem: Problem, layer: Int, model: ObjectiveModel, objective: Objective, start: [Int32],
                    deadline: ContinuousClock.Instant) throws(ExpertPlacementError) -> LayerResult {
        let e = problem.experts, s = problem.topology.slotsPerDevice
        let rows = model.rowArrays
        let upper = Self.peak(start, rows: rows, experts: e, slotsPerDevice: s)
        let lower = LowerBounds.bound(problem, layer: layer, objective: objective)
        // The objective of a plan is max(1, peak) in ρ units (peak ≥ 1 whenever there is load).
        let value = objective == .peakSum ? upper : Swift.max(1, upper)
        if upper <= 0 || value <= lower * (1 + configuration.tolerance) {
            return LayerResult(plan: start, bound: Swift.min(lower, value), outcome: .proven)
        }
        // `worst` over several episodes: the combinatorial branch and bound first, in a tenth of
        // the time (16 experts × 4 × 5 over 4 lognormal episodes: milliseconds where the θ search
        // took 27–30 s).
        var start = start
        if rows.count > 1,
           let run = branchAndBound(model, slotsPerDevice: s, incumbent: start, floors: nil, share: 10, deadline: deadline) {
            if let optimum = run.optimum {
                return LayerResult(plan: run.improvedPlan ?? start, bound: optimum, outcome: .proven)
            }
            // Stopped: the θ search starts from the better plan it reached.
            if let plan = run.improvedPlan { start = plan }
        }
        return try minimizePeak(rows: rows, experts: e, devices: problem.topology.devices, slotsPerDevice: s,
                                start: start, lower: lower, layer: layer, deadline: deadline)
    }

    /// ``ExpertPlacement/ExhaustiveSearch`` on a multi-episode layer from `incumbent`, within
    /// ``Configuration/exhaustiveNodeLimit`` nodes and `1/share` of the time left: what it found
    /// (an optimum when it finished, a better plan if it reached one); `nil` when it is off, the
    /// layer is too large (`E·D·T > 2²⁰`, or more than ``ExpertPlacement/ExhaustiveSearch/maxSlots``
    /// slots) or the time is out.
    func branchAndBound(_ model: ObjectiveModel, slotsPerDevice s: Int, incumbent: [Int32], floors: [Double]?,
                        share: Int, deadline: ContinuousClock.Instant) -> ExhaustiveSearch.Exploration? {
        guard configuration.exhaustiveNodeLimit > 0, model.experts * model.devices * model.rowCount <= 1 << 20 else {
            return nil
        }
        let now = ContinuousClock.now
        guard now < deadline else { return nil }
        return ExhaustiveSearch.explore(model, slotsPerDevice: s, incumbent: incumbent, nodeLimit: configuration.exhaustiveNodeLimit,
                                        floors: floors, deadline: now + (deadline - now) / share)
    }

    /// The smallest peak over `rows` from `start` (its peak is the first upper bound) and a proven
    /// `lower` bound on it: the θ search over ``BranchAndPrice`` answers. The result's bound is a
    /// proven lower bound on the peak.
    func minimizePeak(rows: [[Double]], experts e: Int, devices d: Int, slotsPerDevice s: Int, start: [Int32],
                      lower: Double, layer: Int, deadline: ContinuousClock.Instant) throws(ExpertPlacementError) -> LayerResult {
        let model = PatternModel(experts: e, devices: d, slotsPerDevice: s, rows: rows)
        var plan = start
        var upper = Self.peak(plan, rows: rows, experts: e, slotsPerDevice: s)
        var lower = lower
        if upper <= lower * (1 + configuration.tolerance) {
            return LayerResult(plan: plan, bound: Swift.min(lower, upper), outcome: .proven)
        }
        // Probe just below the incumbent first and after every infeasible probe (one infeasible
        // answer there proves the incumbent optimal); after a feasible answer, bisect. A probe
        // gets half the time left: when it cannot decide (its share ran out, or a node was too
        // large), θ becomes a ceiling and the probes below it still raise the bound; once the
        // bound reaches the ceiling, the incumbent is tried again with the time left.
        var probeBelowIncumbent = true
        var ceiling = upper
        var undecided: LayerResult.Outcome? = nil
        while lower < upper * (1 - configuration.tolerance) {
            let now = ContinuousClock.now
            guard now < deadline else { return LayerResult(plan: plan, bound: lower, outcome: .timeLimit) }
            if ceiling < upper && lower >= ceiling * (1 - 1e-6) {
                // Nothing left to decide below the ceiling: back to the incumbent, or stop.
                guard undecided == .timeLimit else { return LayerResult(plan: plan, bound: lower, outcome: undecided ?? .tooLarge) }
                ceiling = upper
                probeBelowIncumbent = true
            }
            let theta = probeBelowIncumbent ? upper * (1 - configuration.tolerance) : (lower + Swift.min(upper, ceiling)) / 2
            let left = deadline - now
            let probeDeadline = left > .milliseconds(100) ? now + left / 2 : deadline
            var decision: BranchAndPrice? = nil
            let started = ContinuousClock.now
            let outcome: BranchAndPrice.Decision
            if let items = model.items(within: theta, deadline: deadline, limit: model.itemLimit(maxPatterns: configuration.maxPatterns)) {
                decision = BranchAndPrice(model: model, theta: theta, items: items, verbose: configuration.verbose)
                decision!.maxPatterns = configuration.maxPatterns
                do {
                    outcome = try decision!.decide(seed: plan, deadline: probeDeadline)
                } catch {
                    throw .solverFailure(reason: error.description)
                }
            } else {
                // Out of time, or more items than the model may have: undecided, as a probe that
                // ran out or met a model too large.
                outcome = .unresolved(timeLimit: ContinuousClock.now >= deadline)
            }
            if configuration.verbose {
                let verdict = switch outcome {
                case .feasible: "feasible"
                case .infeasible: "infeasible"
                case .unresolved: "unresolved"
                }
                GLPK.log("exact: layer \(layer) θ = \(theta): \(verdict) in \(ContinuousClock.now - started) (\(decision.map { "\($0.statistics)" } ?? "no model: more items than allowed, or out of time"))")
            }
            switch outcome {
            case .feasible(let found):
                probeBelowIncumbent = false
                let value = Self.peak(found, rows: rows, experts: e, slotsPerDevice: s)
                if value < upper {
                    plan = found
                    upper = value
                } else {
                    // Numerical corner: the plan sits exactly at θ; treat θ as reached.
                    upper = Swift.min(upper, theta)
                    if value <= upper { plan = found }
                }
            case .infeasible:
                probeBelowIncumbent = ceiling >= upper
                lower = Swift.max(lower, theta)
            case .unresolved(let timeLimit):
                if ContinuousClock.now >= deadline { return LayerResult(plan: plan, bound: lower, outcome: .timeLimit) }
                undecided = timeLimit ? .timeLimit : (undecided ?? .tooLarge)
                ceiling = Swift.min(ceiling, theta)
                probeBelowIncumbent = false
            }
        }
        return LayerResult(plan: plan, bound: lower, outcome: .proven)
    }
}
