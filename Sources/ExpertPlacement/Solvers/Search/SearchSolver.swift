/// The main solver: joint replica allotment and placement by a FlashLB-style pruned tree search
/// with look-ahead, followed by local improvement, on the exact multi-episode objective.
///
/// Per layer (layers in parallel):
/// 1. Build the `LayerModel` of the objective (episodes beyond ``Configuration/episodeCap``
///    are summed into blocks).
/// 2. `TreeSearch` over the number of redundant replicas per group of experts (by risk weight
///    `μ + z·σ`), scoring each branch by a look-ahead completion and placement.
/// 3. Place the best allotments with the vector-aware greedy (every episode seen) and keep the
///    better of it and the scalar placement.
/// 4. `LocalSearch`: swaps from critical devices and replica transfers between experts.
/// 5. Keep the greedy baseline's plan if, against expectation, it scores better.
/// 6. Optionally (``Configuration/annealingMoves``), `Annealing`: simulated annealing on swaps,
///    then the local search again (``annealed(_:layer:objective:until:context:)`` does the same
///    from a given plan until an instant).
/// 7. With a deployed placement and a move cost or cap (``SolveOptions/moves``): relabel the plan
///    onto the deployed devices (``Alignment``) and trade it against moves with
///    ``MigrationSearch``, on the same model and budgets.
///
/// The result is deterministic for a given input and options (work is bounded by move and
/// evaluation counts; the time limit is a safety net that, when hit, makes the status
/// ``SolveStatus/timeLimit``). Every layer gets a provable ``LowerBounds`` value and gap.
/// See `Search.md` for the design, its complexity and how it differs from FlashLB.
public struct SearchSolver: LayerSolver {
    /// Tuning of the search. The defaults meet the project's speed targets on DeepSeek-V3 shapes.
    public struct Configuration: Sendable, Equatable {
        /// Groups of experts in the tree (tree depth).
        public var depth: Int = 4
        /// Candidates tried on each side of the look-ahead guess per level.
        public var width: Int = 2
        /// Partial allotments kept per level.
        public var beam: Int = 1
        /// Most model episodes; more are summed into this many consecutive blocks.
        public var episodeCap: Int = 64
        /// `z` of the risk weight `μ + z·σ` used to order experts and allot replicas (and of the
        /// device score in risk-aware mode). 0.674 is FlashLB's default (the 75th percentile).
        public var riskZ: Double = 0.674
        /// Risk-aware mode: optimise the largest device score `μ + z·σ` over episodes (mean and
        /// standard deviation of the device load, i.e. with the replicas' covariances) instead of
        /// the exact objective — a hedge for unseen episodes, as FlashLB does.
        public var riskAware: Bool = false
        /// Largest multi-episode layer (`E·D·T`) that gets the full tree; larger ones use the
        /// min-max allotment directly.
        public var treeLimit: Int = 131_072
        /// Largest layer (`E·D·T`) searched with an exhaustive tree (every budget split, beam 8).
        public var exhaustiveLimit: Int = 4_096
        /// Node budget of the exhaustive proof on tiny layers (``ExhaustiveSearch``; every replica
        /// placement counts; a few milliseconds); 0 turns it off. A proof makes the layer's bound
        /// its optimum and its status ``SolveStatus/optimal``; a run that runs out first still
        /// replaces the plan with the best one it reached, when better.
        public var proofNodeLimit: Int = 150_000
        /// Most improving local moves per layer.
        public var maxMoves: Int = 400
        /// Largest `P·D·T'` (slots × devices × model episodes) for which allotments are placed
        /// with the vector-aware greedy, O(P·D·T') per placement; larger layers (far more slots
        /// than experts, thousands of devices) use scalar largest-first packing, O(P log D).
        public var vectorGreedyLimit: Int = 1 << 28
        /// Local-move evaluations per layer, for a 32-episode model; a move costs O(T), so models
        /// with fewer episodes `T` get `32/T` times as many (a single-episode layer: 160,000).
        public var maxEvaluations: Int = 5_000
        /// Projection weights `α` of the vector-aware greedy placements tried on each allotment
        /// (0: marginal peak increase; 1: full projection of the unplaced load), or `nil` for the
        /// automatic choice: both when the layer is small (`E·D·T ≤ 131,072`), else `α = 1` when
        /// expert loads persist across episodes (between-expert share of the variance of the
        /// normalised loads ≥ 0.2, as in every real trace we have) and `α = 0` when they are
        /// close to independent draws (spiky synthetic loads).
        public var projections: [Double]? = nil
        /// Swap proposals of the simulated annealing run after the local search (swaps with the
        /// replica counts kept, then the local search again; see the Search guide), or 0 for none
        /// (the default). Worth it where one plan must serve several noisy episodes: on the bundled
        /// `deepseek-v3` example 10⁶ proposals per layer (≈ 0.13 s) take the mean imbalance
        /// from 1.0481 to 1.0299. Ignored in risk-aware mode.
        public var annealingMoves: Int = 0

        /// Creates a configuration (defaults as documented).
        public init(depth: Int = 4, width: Int = 2, beam: Int = 1, episodeCap: Int = 64, riskZ: Double = 0.674,
                    maxMoves: Int = 400, maxEvaluations: Int = 5_000, projections: [Double]? = nil,
                    riskAware: Bool = false, annealingMoves: Int = 0) {
            self.annealingMoves = annealingMoves
            self.projections = projections
            self.riskAware = riskAware
            self.depth = depth
            self.width = width
            self.beam = beam
            self.episodeCap = episodeCap
            self.riskZ = riskZ
            self.maxMoves = maxMoves
            self.maxEvaluations = maxEvaluations
        }

        /// Checks the values (``SearchSolver/prepare(_:options:)`` does before a solve; the
        /// command line before reading any input).
        ///
        /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the field
        ///   (`configuration.depth`, …): `depth`, `beam` and `episodeCap` at least 1; `width`,
        ///   `maxMoves`, `maxEvaluations`, `annealingMoves`, the limits and `proofNodeLimit` at least 0; `depth`,
        ///   `width` and `beam` at most ``Limits/maximumCells``; `riskZ` finite; `projections`
        ///   non-empty, each in [0, 1].
        public func validate() throws(ExpertPlacementError) {
            for (field, value) in [("depth", depth), ("beam", beam), ("episodeCap", episodeCap)] where value < 1 {
                throw .invalidValue(field: "configuration.\(field)", reason: "must be at least 1, got \(value)")
            }
            for (field, value) in [("width", width), ("maxMoves", maxMoves), ("maxEvaluations", maxEvaluations),
                                   ("annealingMoves", annealingMoves),
                                   ("treeLimit", treeLimit), ("exhaustiveLimit", exhaustiveLimit),
                                   ("proofNodeLimit", proofNodeLimit), ("vectorGreedyLimit", vectorGreedyLimit)] where value < 0 {
                throw .invalidValue(field: "configuration.\(field)", reason: "must be at least 0, got \(value)")
            }
            // Counts the tree adds to slot counts and budgets: anything larger is meaningless and
            // would overflow (--width Int.max trapped in the tree search).
            for (field, value) in [("depth", depth), ("width", width), ("beam", beam)] where value > Limits.maximumCells {
                throw .invalidValue(field: "configuration.\(field)", reason: "must be at most \(Limits.maximumCells), got \(value)")
            }
            guard riskZ.isFinite else {
                throw .invalidValue(field: "configuration.riskZ", reason: "must be a finite number, got \(riskZ)")
            }
            if let p = projections {
                guard !p.isEmpty, p.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
                    throw .invalidValue(field: "configuration.projections", reason: "must be one or more weights in [0, 1], got \(p)")
                }
            }
        }
    }

    /// The tuning in use.
    public var configuration: Configuration

    /// `"search"`.
    public var method: String { "search" }

    /// The search refines its own plans for the move policy (step 7), on the model it built.
    public var handlesMovePolicy: Bool { true }

    /// Creates the solver.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Most episodes for which `worst` also searches the unblocked model (see `solveLayer`).
    static let fullWorstEpisodes = 1_024

    /// Checks the configuration (every solve does, before its first layer): ``Configuration/validate()``.
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
        try configuration.validate()
        return []
    }

    /// One layer: the plan, its proven lower bound, and ``SolveStatus/timeLimit`` when the
    /// context stopped the search early (``SolveStatus/feasible`` otherwise).
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) -> LayerOutcome {
        var r = Self.solveLayer(layer.problem, layer: layer.index, objective: context.options.objective,
                                configuration: configuration, stop: context, bound: context.options.computesBounds)
        if context.options.objective == .worstImbalance && !configuration.riskAware
            && layer.problem.episodes > configuration.episodeCap {
            // Blocks of summed episodes average away the peaks `worst` is about, so the search
            // can end above the greedy plan it started from; searching every episode does far
            // better on synthetic loads but can lose where the full model skips the tree
            // (`treeLimit`). So the blocked plan, the greedy plan and, up to `fullWorstEpisodes`,
            // the plan of the unblocked model are measured on every episode and the best kept.
            // Lognormal, 256 experts on 32 × 9, 8 layers × 256 episodes: blocked alone 1.574,
            // greedy 1.558, unblocked 1.378 (kept); Switch-128's 4-dataset trace, 120 episodes:
            // blocked 1.416 (kept), unblocked 1.493.
            let exact = ObjectiveModel(layer, objective: .worstImbalance)
            let s = layer.topology.slotsPerDevice
            var value = exact.value(of: r.slots, slotsPerDevice: s)
            let greedyValue = exact.value(of: r.baseline, slotsPerDevice: s)
            if greedyValue < value { (r.slots, value) = (Array(r.baseline), greedyValue) }
            if layer.problem.episodes <= Self.fullWorstEpisodes && !context.shouldStop() {
                var full = configuration
                full.episodeCap = layer.problem.episodes
                let f = Self.solveLayer(layer.problem, layer: layer.index, objective: .worstImbalance, configuration: full,
                                        stop: context, bound: false)
                if exact.value(of: f.slots, slotsPerDevice: s) < value { r.slots = f.slots }
            }
        }
        let outcome = proved(r, layer: layer, context: context)
        // The move policy: traded against moves by ``MigrationSearch`` on the model the search
        // already built (a risk-mode model scores differently: the plain one is built then) and
        // with its budgets.
        guard let deployed = layer.deployed, context.options.moves.isActive else { return outcome }
        return MigrationSearch.fitted(outcome, layer: layer, deployed: deployed, objective: context.options.objective,
                                      policy: context.options.moves, configuration: configuration,
                                      model: r.model.flatMap { $0.mode == .risk ? nil : $0 }, context: context)
    }

    /// The search's outcome, proven optimal on tiny layers by the exhaustive branch and bound, or
    /// by meeting its bound.
    private func proved(_ r: LayerResult, layer: ProblemLayer, context: LayerContext) -> LayerOutcome {
        let limit = configuration.proofNodeLimit
        let tryProof = !r.hitLimit && limit > 0
        // The bound-meeting check costs O(T·P): done on layers whose episodes the model did not block.
        let checkValue = layer.problem.episodes <= configuration.episodeCap
        var slots = r.slots
        if context.options.computesBounds && (tryProof || checkValue) {
            let model = ObjectiveModel(layer, objective: context.options.objective)
            // Tiny layers: the exhaustive branch and bound proves the optimum (or finds it) within
            // a node budget of a few milliseconds, and the optimum becomes the bound. A run that
            // ran out still hands back the best plan it reached.
            if tryProof, ExhaustiveSearch.isCandidate(model), !context.shouldStop(),
               let run = ExhaustiveSearch.explore(model, slotsPerDevice: layer.topology.slotsPerDevice, incumbent: r.slots,
                                                  nodeLimit: limit, deadline: context.deadline) {
                if let optimum = run.optimum {
                    return LayerOutcome(physicalToLogical: ContiguousArray(run.improvedPlan ?? r.slots), status: .optimal,
                                        lowerBound: Swift.max(r.bound, optimum))
                }
                if let plan = run.improvedPlan { slots = plan }
            }
            // A plan that meets its bound is optimal, whatever the bound's family (e.g. one hot
            // expert's replica as heavy as the allotment bound in every episode).
            if checkValue {
                let value = model.value(of: slots, slotsPerDevice: layer.topology.slotsPerDevice)
                if value <= r.bound * (1 + 1e-12) {
                    return LayerOutcome(physicalToLogical: ContiguousArray(slots), status: .optimal,
                                        lowerBound: Swift.min(r.bound, value), boundSource: .optimum)
                }
            }
        }
        return LayerOutcome(physicalToLogical: ContiguousArray(slots), status: r.hitLimit ? .timeLimit : .feasible,
                            lowerBound: context.options.computesBounds ? r.bound : nil)
    }

    /// `plan` improved by simulated annealing on swaps (the Search guide, step 5) until `until`,
    /// the temperature falling with the time spent, then by the local search; `plan` itself when
    /// that is no better on the layer's objective (or in risk-aware mode). `--method auto` spends
    /// part of each layer's time this way. Results depend on the machine's speed.
    ///
    /// - Precondition: `plan` is a valid plan of the layer (`D·S` ids in `0..<E`, every expert
    ///   placed, no expert twice on a device), as every solver returns.
    public func annealed(_ plan: ContiguousArray<Int32>, layer: ProblemLayer, objective: Objective,
                         until: ContinuousClock.Instant, context: LayerContext) -> ContiguousArray<Int32> {
        let s = layer.topology.slotsPerDevice
        precondition(plan.count == layer.topology.slotCount, "annealed: \(plan.count) slots for a layer of \(layer.topology.slotCount)")
        // One layer's slots of a valid topology: the placement cannot fail to build.
        if let single = try? Placement(topology: layer.topology, experts: layer.problem.experts, physicalToLogical: plan) {
            let broken = Validation.violations(of: single, limit: 1)
            precondition(broken.isEmpty, "annealed: not a valid plan of the layer: \(broken)")
        }
        guard !configuration.riskAware, ContinuousClock.now < until else { return plan }
        let model = LayerModel(problem: layer.problem, layer: layer.index, objective: objective,
                               episodeCap: configuration.episodeCap)
        let state = SearchState(model: model), best = SearchState(model: model)
        state.load(physicalToLogical: plan)
        guard Self.annealAndSearch(Annealing(moves: .max, until: until), state: state, best: best,
                                   configuration: configuration, layer: layer.index, stop: context) else { return plan }
        // The model may block episodes: the exact objective decides.
        let exact = ObjectiveModel(layer, objective: objective)
        let improved = best.physicalToLogical()
        return exact.value(of: improved, slotsPerDevice: s) < exact.value(of: plan, slotsPerDevice: s) ? ContiguousArray(improved) : plan
    }

    /// The layer's seed for the local search's restarts (annealing uses it offset).
    static func seed(layer: Int) -> UInt64 { UInt64(layer) &* 0x9E37_79B9 &+ 1 }

    /// Anneals `state` and, when that found a better plan, runs the local search from it, its best
    /// plan left in `best`. Returns whether the annealing improved on `state`'s plan.
    @discardableResult
    static func annealAndSearch(_ annealing: Annealing, state: SearchState, best: SearchState, configuration: Configuration,
                                layer: Int, stop: LayerContext) -> Bool {
        let seed = seed(layer: layer)
        guard annealing.run(state: state, seed: seed &+ 0x5DEE_CE66, stop: stop) else { return false }
        LocalSearch(configuration: configuration, episodes: state.t).iterate(state: state, best: best, seed: seed, stop: stop)
        return true
    }

    /// See ``Configuration/projections``.
    static func automaticProjections(_ model: LayerModel) -> [Double] {
        let e = model.experts, t = model.episodes
        if e * model.devices * t <= 131_072 { return [0, 1] }
        // Between-expert share of the variance of loads normalised per episode.
        var totals = [Double](repeating: 0, count: t)
        for x in 0..<e { for i in 0..<t { totals[i] += model.u[x * t + i] } }
        var means = [Double](repeating: 0, count: e)
        var within = 0.0
        for x in 0..<e {
            var m = 0.0
            for i in 0..<t where totals[i] > 0 { m += model.u[x * t + i] / totals[i] }
            m /= Double(t)
            means[x] = m
            for i in 0..<t where totals[i] > 0 {
                let dev = model.u[x * t + i] / totals[i] - m
                within += dev * dev
            }
        }
        within /= Double(e * t)
        let grand = means.reduce(0, +) / Double(e)
        let between = means.reduce(0.0) { $0 + ($1 - grand) * ($1 - grand) } / Double(e)
        let persistence = between + within > 0 ? between / (between + within) : 1
        return persistence >= 0.2 ? [1] : [0]
    }

    struct LayerResult {
        var slots: [Int32]
        var bound: Double
        var hitLimit: Bool
        /// The model the layer was searched on (`nil`: stopped before it was built).
        var model: LayerModel?
        /// The greedy plan on the layer's summed load, the search's start.
        var baseline: ContiguousArray<Int32>
    }

    static func solveLayer(_ problem: Problem, layer: Int, objective: Objective, configuration c: Configuration,
                           stop: LayerContext, bound computesBound: Bool = true) -> LayerResult {
        // The greedy plan first (O(P log D)): the answer when time is already out, and a start
        // the search never returns worse than.
        let baseline = GreedySolver.solveLayer(loads: problem.aggregateLoad(layer: layer), topology: problem.topology)
        if stop.shouldStop() {
            return LayerResult(slots: Array(baseline),
                               bound: computesBound ? LowerBounds.bound(problem, layer: layer, objective: objective) : 0,
                               hitLimit: true, model: nil, baseline: baseline)
        }
        let model = LayerModel(problem: problem, layer: layer, objective: objective, episodeCap: c.episodeCap,
                               riskZ: c.riskAware ? c.riskZ : nil)
        let bound = computesBound ? LowerBounds.bound(problem, layer: layer, objective: objective) : 0
        let state = SearchState(model: model)
        let e = model.experts, t = model.episodes

        // Risk weights μ + zσ over the model episodes (in model units, so episodes are comparable).
        var risk = [Double](repeating: 0, count: e)
        for x in 0..<e {
            var mean = 0.0, sq = 0.0
            for i in 0..<t { mean += model.u[x * t + i] }
            mean /= Double(t)
            for i in 0..<t { let dlt = model.u[x * t + i] - mean; sq += dlt * dlt }
            risk[x] = mean + c.riskZ * (sq / Double(t)).squareRoot()
        }
        let order = (0..<e).sorted { risk[$0] != risk[$1] ? risk[$0] > risk[$1] : $0 < $1 }

        // 1. Tree search over allotments. On large multi-episode layers the vector-aware branch
        // placements cost more than they gain (measured on V3-shaped and real traces): the tree
        // then keeps to its root, the min-max allotment. The vector-aware greedy costs O(P·D·T')
        // per placement: on layers where that passes ``Configuration/vectorGreedyLimit`` (far
        // more slots than experts, say) every allotment is placed by scalar largest-first
        // packing instead (O(P log D)).
        let (vectorWork, vectorOverflow) = model.slots.multipliedReportingOverflow(by: model.devices * model.episodes)
        let vectorAffordable = !vectorOverflow && vectorWork <= c.vectorGreedyLimit
        var incumbent = Double.infinity
        let projections = vectorAffordable ? c.projections ?? Self.automaticProjections(model) : []
        let large = model.episodes > 1 && e * model.devices * model.episodes > c.treeLimit
        // Tiny layers get an exhaustive tree: every split of the budget, a wide beam.
        let tiny = e * model.devices * model.episodes <= c.exhaustiveLimit
        var tree = TreeSearch(depth: large ? 1 : c.depth, width: tiny ? Swift.max(c.width, model.slots) : c.width,
                              beam: tiny ? Swift.max(c.beam, 8) : c.beam)
        tree.vectorAlpha = projections.last
        let best = SearchState(model: model)
        let candidates = tree.run(state: state, keep: best, risk: risk, order: order, bestScore: &incumbent, stop: stop)
        var bestValue = incumbent

        // 2. Vector-aware placement of the best allotments (plain and projected) that the tree
        // has not placed that way already; keep the best.
        var orderBuffer = [Int32](repeating: 0, count: e)
        candidateLoop: for candidate in candidates {
            candidate.counts.withUnsafeBufferPointer { state.setCounts($0) }
            for alpha in projections where alpha == 0 || model.mode != .risk {
                if model.episodes > 1 && alpha == tree.vectorAlpha && candidate.score.isFinite { continue }
                if stop.shouldStop() { break candidateLoop }
                let placed = risk.withUnsafeBufferPointer { key in
                    orderBuffer.withUnsafeMutableBufferPointer {
                        state.placeVectorGreedy(key: key, order: $0, alpha: alpha, stop: stop)
                    }
                }
                guard placed else { break candidateLoop }
                let v = state.objective()
                if v < bestValue {
                    bestValue = v
                    best.copy(from: state)
                }
            }
        }
        // The greedy baseline's plan as one more start: the search never returns worse. It is
        // also the plan when the deadline cut every placement above short (`best` holds a plan
        // exactly when `bestValue` is below infinity).
        state.load(physicalToLogical: baseline)
        if state.objective() < bestValue || !(bestValue < .infinity) {
            bestValue = state.objective()
            best.copy(from: state)
        }

        // 3. Iterated local search from the best placement.
        state.copy(from: best)
        LocalSearch(configuration: c, episodes: model.episodes).iterate(state: state, best: best, seed: Self.seed(layer: layer), stop: stop)

        let hitLimit = stop.shouldStop()

        // 4. Optional simulated annealing on swaps from the best plan, then the local search again
        // when it improved.
        if c.annealingMoves > 0 && model.mode != .risk && !hitLimit {
            state.copy(from: best)
            Self.annealAndSearch(Annealing(moves: c.annealingMoves), state: state, best: best, configuration: c, layer: layer, stop: stop)
        }
        return LayerResult(slots: best.physicalToLogical(), bound: bound, hitLimit: hitLimit, model: model, baseline: baseline)
    }
}
