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
/// optimum is the capped objective's. The model has `E·D·R_max` binaries and no device symmetry
/// breaking: it is meant for small instances (tests prove it against exhaustive enumeration);
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
        let warmValue = capped.value(of: warm.physicalToLogical, slotsPerDevice: s)
        let model = Model(capped, slotsPerDevice: s)
        guard model.binaries <= configuration.maxBinaries else {
            return LayerOutcome(physicalToLogical: warm.physicalToLogical, status: .feasible,
                                notes: ["layer \(layer.index): \(model.binaries) binaries exceed the exact drop-budget model's limit (\(configuration.maxBinaries)); the drop-aware search's plan is kept"])
        }
        let seconds = (deadline - ContinuousClock.now).inSeconds
        guard seconds > 0.001 else {
            return LayerOutcome(physicalToLogical: warm.physicalToLogical, status: .timeLimit)
        }
        let solution: MIPSolution
        do {
            solution = try GLPK.solve(model.program, timeLimit: seconds, verbose: configuration.verbose,
                                      initial: model.values(of: warm.physicalToLogical))
        } catch {
            throw .solverFailure(reason: error.description)
        }
        var plan = warm.physicalToLogical
        if let values = solution.values {
            let found = model.decode(values)
            if capped.value(of: found, slotsPerDevice: s) < warmValue { plan = found }
        }
        switch solution.outcome {
        case .optimal:
            // The proven optimum, up to GLPK's tolerances (the warm start when it ties). No
            // `lowerBound`: the metrics' bound and gap refer to the uncapped objective.
            return LayerOutcome(physicalToLogical: plan, status: .optimal)
        case .feasible, .timeLimit:
            return LayerOutcome(physicalToLogical: plan, status: .timeLimit)
        case .infeasible:
            throw .solverFailure(reason: "layer \(layer.index): GLPK reports the drop-budget model infeasible, but every valid plan is a solution")
        }
    }

    /// The MIP of one layer (see the type's guide) and the maps between plans and its columns.
    struct Model {
        let experts: Int, devices: Int, slotsPerDevice: Int, maxReplicas: Int, rows: Int
        let objective: DropObjective
        var program = MixedIntegerProgram()
        /// Column of `z[e][r]` at `e·R + (r − 1)`, of `y[e][d][r]` at `yBase + (e·D + d)·R + (r − 1)`.
        var zBase = 0, yBase = 0, capBase = 0, dropBase = 0, peakColumn: Int? = nil

        var binaries: Int { experts * (devices + 1) * maxReplicas }

        init(_ objective: DropObjective, slotsPerDevice s: Int) {
            let m = objective.model
            let e = m.experts, d = m.devices, t = m.rowCount
            let r = Swift.max(1, Swift.min(d, d * s - e + 1))
            experts = e; devices = d; slotsPerDevice = s; maxReplicas = r; rows = t
            self.objective = objective
            guard e * (d + 1) * r <= 1 << 26 else { return }  // too large to build; `binaries` says so
            let sum = m.combination == .sum
            zBase = program.columns.count
            for _ in 0..<(e * r) { _ = program.addColumn(.init(kind: .binary)) }
            yBase = program.columns.count
            for _ in 0..<(e * d * r) { _ = program.addColumn(.init(kind: .binary)) }
            capBase = program.columns.count
            for _ in 0..<t { _ = program.addColumn(.init(kind: .continuous, lower: 0, objective: sum ? 1 : 0)) }
            dropBase = program.columns.count
            for _ in 0..<(t * d) { _ = program.addColumn(.init(kind: .continuous, lower: 0)) }
            if !sum {
                let peak = program.addColumn(.init(kind: .continuous, lower: objective.floor, objective: 1))
                peakColumn = peak
                for i in 0..<t { program.addRow(lower: 0, upper: nil, [(peak, 1), (capBase + i, -1)]) }
            }
            for x in 0..<e {
                program.addRow(lower: 1, upper: 1, (1...r).map { (z(x, $0), 1.0) })
                for k in 1...r {
                    program.addRow(lower: 0, upper: 0, (0..<d).map { (y(x, $0, k), 1.0) } + [(z(x, k), -Double(k))])
                }
            }
            for dev in 0..<d {
                var entries: [(column: Int, value: Double)] = []
                for x in 0..<e { for k in 1...r { entries.append((y(x, dev, k), 1)) } }
                program.addRow(lower: Double(s), upper: Double(s), entries)
            }
            for i in 0..<t {
                let row = m.rows[i * e ..< (i + 1) * e]
                for dev in 0..<d {
                    var entries: [(column: Int, value: Double)] = []
                    for x in 0..<e where row[row.startIndex + x] > 0 {
                        for k in 1...r { entries.append((y(x, dev, k), row[row.startIndex + x] / Double(k))) }
                    }
                    entries.append((capBase + i, -1))
                    entries.append((dropBase + i * d + dev, -1))
                    program.addRow(lower: nil, upper: 0, entries)
                }
                program.addRow(lower: nil, upper: objective.budget * row.reduce(0, +),
                               (0..<d).map { (dropBase + i * d + $0, 1.0) })
            }
        }

        func z(_ x: Int, _ k: Int) -> Int { zBase + x * maxReplicas + (k - 1) }
        func y(_ x: Int, _ dev: Int, _ k: Int) -> Int { yBase + (x * devices + dev) * maxReplicas + (k - 1) }

        /// The column values of a valid plan (capped peaks and drops at their least values).
        func values(of plan: ContiguousArray<Int32>) -> [Double] {
            var v = [Double](repeating: 0, count: program.columns.count)
            var counts = [Int](repeating: 0, count: experts)
            for x in plan { counts[Int(x)] += 1 }
            for x in 0..<experts { v[z(x, counts[x])] = 1 }
            for (i, x) in plan.enumerated() { v[y(Int(x), i / slotsPerDevice, counts[Int(x)])] = 1 }
            let m = objective.model
            let caps = objective.cappedPeaks(plan, slotsPerDevice: slotsPerDevice)
            for i in 0..<rows {
                v[capBase + i] = caps[i]
                let loads = DropAnalysis.deviceLoads(plan, loads: m.rows[i * experts ..< (i + 1) * experts],
                                                     slotsPerDevice: slotsPerDevice)
                for dev in 0..<devices { v[dropBase + i * devices + dev] = Swift.max(0, loads[dev] - caps[i]) }
            }
            if let peakColumn { v[peakColumn] = caps.reduce(objective.floor) { Swift.max($0, $1) } }
            return v
        }

        /// The plan of an integer solution: each device's experts in expert order.
        func decode(_ values: [Double]) -> ContiguousArray<Int32> {
            var plan = ContiguousArray<Int32>()
            plan.reserveCapacity(devices * slotsPerDevice)
            for dev in 0..<devices {
                for x in 0..<experts where (1...maxReplicas).contains(where: { values[y(x, dev, $0)] > 0.5 }) {
                    plan.append(Int32(x))
                }
            }
            precondition(plan.count == devices * slotsPerDevice, "the drop-budget model's solution does not fill the slots")
            return plan
        }
    }
}
