/// The trade-off between moves and balance when rebalancing a deployed placement: for budgets
/// that are fractions of a full re-solve's moves, the best value ``MigrationSearch`` reaches.
///
/// Per layer: the method's full re-solve of the window, relabelled onto the deployed placement
/// (``Alignment``), needs `M` moves and reaches value `V`; the deployed plan has value `V₀` at 0
/// moves. For each fraction `f`, the capped migration-aware search (cap `⌈f·M⌉` moves) gives a
/// point; the re-solve itself is the point at `f = 1` when the capped search does not beat it. A
/// larger cap never reports a worse plan: a point keeps the best plan of the caps up to its own
/// (each cap is searched on its own, and a plan within a smaller cap is within the larger one).
/// The 0-move point is the deployed plan with its value. Model totals sum the moves and average
/// the values over layers, and report the share of the gap `V₀ − V` closed. Layers run in
/// parallel; results are deterministic.
public enum ParetoFrontier {
    /// One point of a frontier.
    public struct Point: Sendable, Equatable {
        /// The budget as a fraction of the re-solve's moves.
        public var fraction: Double
        /// The move cap used (per layer; for the model, the sum).
        public var cap: Int
        /// Moves made.
        public var moves: Int
        /// The objective's value (for the model, the mean over layers).
        public var value: Double
    }

    /// A frontier per layer and for the model.
    public struct Result: Sendable {
        /// The objective.
        public var objective: Objective
        /// Per layer: the deployed value, the re-solve's value and moves, and the points.
        public var layers: [(deployed: Double, resolved: Double, resolveMoves: Int, points: [Point])]
        /// The model: per fraction, summed moves and mean value.
        public var model: [Point]
        /// Mean deployed value and mean re-solved value over layers.
        public var deployed: Double, resolved: Double
        /// Summed moves of the re-solve.
        public var resolveMoves: Int

        /// The share of the gap between the deployed and the re-solved mean closed by a model point,
        /// or `nil` when there is no gap (the re-solve is no better than the deployed plan).
        public func gapClosed(_ point: Point) -> Double? {
            deployed - resolved > 0 ? (deployed - point.value) / (deployed - resolved) : nil
        }
    }

    /// Computes the frontier.
    ///
    /// - Parameters:
    ///   - problem: the window, with the deployed placement as `current`.
    ///   - solver: the method of the full re-solve.
    ///   - options: objective, time limit and threads of the re-solve.
    ///   - fractions: budgets as fractions of each layer's re-solve moves, each in `[0, 1]`.
    /// - Throws: ``ExpertPlacementError`` without `current`, with a fraction out of range, or when
    ///   the solver fails.
    public static func compute<Solver: LayerSolver>(_ problem: Problem, solver: Solver, options: SolveOptions,
                                                    fractions: [Double]) throws(ExpertPlacementError) -> Result {
        guard let current = problem.current else {
            throw .invalidValue(field: "current", reason: "is missing: a moves-vs-balance frontier needs the deployed placement")
        }
        if let bad = fractions.first(where: { !($0 >= 0 && $0 <= 1) }) {
            throw .invalidValue(field: "fractions", reason: "\(bad) is outside [0, 1]")
        }
        var plain = options
        plain.moves = MovePolicy()
        plain.alignsToCurrent = true
        let resolve = try LayerDriver.solve(problem, with: solver, options: plain)
        let objective = options.objective
        let p = problem.topology.slotCount, s = problem.topology.slotsPerDevice
        let before = try Metrics.evaluate(current, on: problem).layers
        let after = try Metrics.evaluate(resolve.placement, on: problem).layers
        let sorted = fractions.sorted()
        let refineOptions = plain
        let layers = LayerParallelism.map(count: problem.layers, maxThreads: options.maxThreads) {
            (l: Int) -> (deployed: Double, resolved: Double, resolveMoves: Int, points: [Point]) in
            let layer = ProblemLayer(problem, layer: l)
            let deployed = layer.deployed!
            let target = ContiguousArray(resolve.placement.physicalToLogical[l * p ..< (l + 1) * p])
            let total = Alignment.moves(target, from: deployed)
            let model = ObjectiveModel(layer, objective: objective)
            let resolvedValue = after[l].value(of: objective)
            let deployedValue = before[l].value(of: objective)
            var points: [Point] = []
            for f in sorted {
                let cap = Int((f * Double(total)).rounded(.up))
                var row = deployed
                if cap > 0 {
                    row = MigrationSearch.refine(layer, deployed: deployed, target: target, objective: objective,
                                                 policy: MovePolicy(maxMoves: cap),
                                                 context: LayerContext(options: refineOptions, deadline: nil))
                }
                var moves = Alignment.moves(row, from: deployed)
                // The deployed plan is valued as Metrics values it (the model's sum can differ in the last digit).
                var value = moves == 0 ? deployedValue : model.value(of: row, slotsPerDevice: s)
                if cap >= total && resolvedValue < value {
                    value = resolvedValue
                    moves = total
                }
                // A plan found within a smaller cap is within this one.
                if let last = points.last, last.value < value || (last.value == value && last.moves < moves) {
                    (value, moves) = (last.value, last.moves)
                }
                points.append(Point(fraction: f, cap: cap, moves: moves, value: value))
            }
            return (deployedValue, resolvedValue, total, points)
        }
        let n = Double(problem.layers)
        let model = sorted.indices.map { i in
            Point(fraction: sorted[i], cap: layers.reduce(0) { $0 + $1.points[i].cap },
                  moves: layers.reduce(0) { $0 + $1.points[i].moves },
                  value: layers.reduce(0.0) { $0 + $1.points[i].value } / n)
        }
        return Result(objective: objective, layers: layers, model: model,
                      deployed: layers.reduce(0.0) { $0 + $1.deployed } / n,
                      resolved: layers.reduce(0.0) { $0 + $1.resolved } / n,
                      resolveMoves: layers.reduce(0) { $0 + $1.resolveMoves })
    }
}
