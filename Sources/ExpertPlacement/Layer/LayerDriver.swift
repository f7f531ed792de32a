import Synchronization

/// One layer's plan as the asynchronous driver streams it.
public struct LayerPlan: Sendable, Equatable {
    /// The layer index.
    public var layer: Int
    /// `phy2log` of the layer: the expert in each of the `P` slots, device-major.
    public var physicalToLogical: [Int32]
    /// A proven lower bound on the objective for this layer, when the method computes one.
    public var lowerBound: Double?
    /// What the solver concluded for this layer (``SolveStatus/timeLimit`` when a deadline or a
    /// cancellation cut it short; the plan is still complete and valid).
    public var status: SolveStatus
    /// Remarks for the report.
    public var notes: [String]
}

/// The one layer-by-layer driver every method runs through (``LayerSolver``).
///
/// For each layer to solve — all of them, or a selection (what cherry-picking rebalances need) —
/// it hands the solver a ``ProblemLayer`` and a ``LayerContext`` (the layer's deadline), then, when
/// the problem has a deployed placement, post-processes the plan in the core:
/// 1. relabels it onto the deployed row (``Alignment``): same loads, fewest moves;
/// 2. when ``SolveOptions/moves`` sets a move cost or cap and the method does not handle it,
///    trades balance for moves from the deployed row towards that plan (``MigrationSearch``).
///
/// Layers run in parallel (``LayerParallelism``; the async forms use a task group, at most one
/// layer per core); each layer's result depends only on its input, so results do not depend on the
/// thread count or on scheduling. Time: the solve's deadline is `start + (options.timeLimit ??
/// solver.defaultTimeLimit)`; with ``LayerTimeSharing/equalShares`` each layer gets an equal share
/// of the time left when it starts.
public enum LayerDriver {
    /// Solves every layer (or `layers`, in that order; the others keep the deployed plan, so a
    /// selection needs the problem's `current`) and returns the report.
    ///
    /// - Throws: ``ExpertPlacementError`` from the solver's checks or layers, or for a selection
    ///   without a deployed placement or with a layer index out of range.
    public static func solve<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                                  layers selection: [Int]? = nil) throws(ExpertPlacementError) -> SolveReport {
        let clock = ContinuousClock()
        let start = clock.now
        let (order, notes) = try checkInputs(problem, with: solver, options: options, layers: selection)
        let outcomes = try runChecked(problem, with: solver, options: options, layers: order, start: start)
        return try report(problem, solver: solver, options: options, layers: order, outcomes: outcomes,
                          notes: notes, wallTime: clock.now - start)
    }

    /// Solves the layers `layers` and returns their outcomes in that order.
    ///
    /// - Throws: as ``solve(_:with:options:layers:)`` (the same checks of the inputs first).
    public static func run<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                                layers: [Int], start: ContinuousClock.Instant = .now)
    throws(ExpertPlacementError) -> [LayerOutcome] {
        let (order, _) = try checkInputs(problem, with: solver, options: options, layers: layers)
        return try runChecked(problem, with: solver, options: options, layers: order, start: start)
    }

    /// Every check a solve makes before its first layer: the selection, the method's own
    /// (``LayerSolver/prepare(_:options:)``, whose notes it returns) and the deployed placement
    /// and move policy.
    static func checkInputs<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                                 layers selection: [Int]?) throws(ExpertPlacementError) -> ([Int], [String]) {
        let order = try checked(selection, problem)
        let notes = try solver.prepare(problem, options: options)
        try checkMovePolicy(problem, options: options, solver: solver)
        return (order, notes)
    }

    /// ``run(_:with:options:layers:start:)`` on inputs already checked.
    static func runChecked<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                                layers: [Int], start: ContinuousClock.Instant)
    throws(ExpertPlacementError) -> [LayerOutcome] {
        let deadline = (options.timeLimit ?? solver.defaultTimeLimit).map { start + $0 }
        let cores = LayerParallelism.processorCount
        let threads = Swift.min(options.maxThreads ?? cores, cores)
        let share = solver.timeSharing == .equalShares && deadline != nil
            ? LayerTimeShare(deadline: deadline!, layers: layers.count, threads: threads) : nil
        let work = solver.estimatedWork(problem)
        return try LayerParallelism.map(count: layers.count, work: work, maxThreads: threads) {
            (i: Int) throws(ExpertPlacementError) -> LayerOutcome in
            let context = LayerContext(options: options, deadline: share?.nextDeadline() ?? deadline)
            return try solveOne(ProblemLayer(problem, layer: layers[i]), with: solver, context: context)
        }
    }

    /// Solves every layer concurrently and returns the complete report.
    ///
    /// Cancelling the calling task, or reaching `deadline` (or the time limit, whichever comes
    /// first), stops layers early: each returns its best plan so far (what that means is the
    /// method's: the search returns its best plan, or the greedy plan for a layer not started),
    /// and the status becomes ``SolveStatus/timeLimit``. Without a stop the result equals
    /// ``solve(_:with:options:layers:)``.
    public static func solve<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                                  deadline: ContinuousClock.Instant?) async throws(ExpertPlacementError) -> SolveReport {
        let clock = ContinuousClock()
        let start = clock.now
        let (order, notes) = try checkInputs(problem, with: solver, options: options, layers: nil)
        var outcomes = [LayerOutcome?](repeating: nil, count: problem.layers)
        var failure: ExpertPlacementError? = nil
        await runAsync(problem, with: solver, options: options, deadline: deadline) { layer, result in
            switch result {
            case .success(let outcome): outcomes[layer] = outcome
            case .failure(let error): failure = failure ?? error
            }
        }
        if let failure { throw failure }
        var report = try report(problem, solver: solver, options: options, layers: order, outcomes: outcomes.map { $0! },
                                notes: notes, wallTime: clock.now - start)
        if Task.isCancelled { report.notes.append("cancelled: every layer returned its best plan so far") }
        return report
    }

    /// Streams each layer's plan as soon as it is solved, so weights of early layers can move
    /// while later ones are still being solved.
    ///
    /// Layers are started in index order, at most one per core at a time (`options.maxThreads`
    /// lowers that), and yielded in completion order — with one thread, exactly index order.
    /// Dropping the stream cancels the remaining work. A layer whose solver throws is left out
    /// of the stream (use ``solve(_:with:options:deadline:)`` to see errors).
    ///
    /// - Throws: before streaming, what ``solve(_:with:options:layers:)`` throws for these inputs
    ///   (the method's checks, a deployed placement a worker would refuse, a bad move policy): a
    ///   stream never carries a plan the synchronous solve would have refused to make.
    public static func plans<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                                  deadline: ContinuousClock.Instant?) throws(ExpertPlacementError)
        -> AsyncStream<LayerPlan> {
        _ = try checkInputs(problem, with: solver, options: options, layers: nil)
        return AsyncStream { continuation in
            let task = Task {
                await runAsync(problem, with: solver, options: options, deadline: deadline) { layer, result in
                    guard case .success(let outcome) = result else { return }
                    continuation.yield(LayerPlan(layer: layer, physicalToLogical: Array(outcome.physicalToLogical),
                                                 lowerBound: outcome.lowerBound, status: outcome.status, notes: outcome.notes))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: - Parts

    /// One layer: the method's plan, relabelled onto the deployed row, refined for the move policy.
    static func solveOne<Solver: LayerSolver>(_ layer: ProblemLayer, with solver: Solver,
                                              context: LayerContext) throws(ExpertPlacementError) -> LayerOutcome {
        var outcome = try solver.solveLayer(layer, context: context)
        guard let deployed = layer.deployed else { return outcome }
        let options = context.options
        if options.moves.isActive && !solver.handlesMovePolicy {
            return MigrationSearch.fitted(outcome, layer: layer, deployed: deployed, objective: options.objective,
                                          policy: options.moves, context: context)
        }
        if options.alignsToCurrent || options.moves.isActive {
            outcome.physicalToLogical = Alignment.align(outcome.physicalToLogical, onto: deployed,
                                                        slotsPerDevice: layer.topology.slotsPerDevice, experts: layer.experts,
                                                        nodes: solver.nodesKept(on: layer.topology))
        }
        return outcome
    }

    /// Runs every layer in a task group (children inherit cancellation), at most one per core at
    /// once, handing each result to `deliver` on the calling task as it completes.
    static func runAsync<Solver: LayerSolver>(_ problem: Problem, with solver: Solver, options: SolveOptions,
                                              deadline: ContinuousClock.Instant?,
                                              deliver: (Int, Result<LayerOutcome, ExpertPlacementError>) -> Void) async {
        let limit = (options.timeLimit ?? solver.defaultTimeLimit).map { ContinuousClock.now + $0 }
        let stopAt: ContinuousClock.Instant? = switch (deadline, limit) {
        case let (a?, b?): Swift.min(a, b)
        case let (a?, nil): a
        case let (nil, b?): b
        case (nil, nil): nil
        }
        let cores = LayerParallelism.processorCount
        let width = Swift.max(1, Swift.min(options.maxThreads ?? cores, cores))
        let share = solver.timeSharing == .equalShares && stopAt != nil
            ? LayerTimeShare(deadline: stopAt!, layers: problem.layers, threads: width) : nil
        await withTaskGroup(of: (Int, Result<LayerOutcome, ExpertPlacementError>).self) { group in
            var next = 0
            func start() {
                let l = next
                next += 1
                group.addTask {
                    let context = LayerContext(options: options, deadline: share?.nextDeadline() ?? stopAt,
                                               observesCancellation: true)
                    do throws(ExpertPlacementError) {
                        return (l, .success(try solveOne(ProblemLayer(problem, layer: l), with: solver, context: context)))
                    } catch {
                        return (l, .failure(error))
                    }
                }
            }
            while next < Swift.min(width, problem.layers) { start() }
            while let (layer, result) = await group.next() {
                deliver(layer, result)
                if next < problem.layers { start() }
            }
        }
    }

    /// The layers to solve, checked.
    static func checked(_ selection: [Int]?, _ problem: Problem) throws(ExpertPlacementError) -> [Int] {
        guard let selection else { return Array(0..<problem.layers) }
        if let bad = selection.first(where: { $0 < 0 || $0 >= problem.layers }) {
            throw .invalidValue(field: "layers", reason: "layer \(bad) is outside 0..<\(problem.layers)")
        }
        guard Set(selection).count == selection.count else {
            throw .invalidValue(field: "layers", reason: "names a layer twice")
        }
        if selection.count < problem.layers && problem.current == nil {
            throw .invalidValue(field: "current", reason: "is missing: solving a selection of layers keeps the others as deployed")
        }
        return selection
    }

    /// The deployed placement must be one a serving worker loads (every plan is aligned to it and
    /// its moves counted from it); the move policy needs a deployed placement and sensible values.
    static func checkMovePolicy<Solver: LayerSolver>(_ problem: Problem, options: SolveOptions,
                                                     solver: Solver) throws(ExpertPlacementError) {
        if let current = problem.current, let broken = Validation.deployedViolations(of: current, limit: 1).first {
            throw .invalidValue(field: "current", reason: "the deployed placement breaks a rule: \(broken)")
        }
        let policy = options.moves
        guard policy.isActive else { return }
        guard problem.current != nil else {
            throw .invalidValue(field: "current", reason: "is missing: a move cost or move cap needs the deployed placement")
        }
        if let cap = policy.maxMoves, cap < 0 {
            throw .invalidValue(field: "maxMoves", reason: "must be 0 or more, got \(cap)")
        }
        guard policy.cost.isFinite && policy.cost >= 0 else {
            throw .invalidValue(field: "moveCost", reason: "must be a finite number ≥ 0, got \(policy.cost)")
        }
    }

    /// The report of outcomes for `layers` (the other layers keep the deployed plan).
    static func report<Solver: LayerSolver>(_ problem: Problem, solver: Solver, options: SolveOptions, layers: [Int],
                                            outcomes: [LayerOutcome], notes: [String],
                                            wallTime: Duration) throws(ExpertPlacementError) -> SolveReport {
        let p = problem.topology.slotCount
        var flat = problem.current?.physicalToLogical ?? ContiguousArray(repeating: 0, count: p * problem.layers)
        var bounds: [Double?] = [Double?](repeating: nil, count: problem.layers)
        for (layer, outcome) in zip(layers, outcomes) {
            flat.replaceSubrange(layer * p ..< (layer + 1) * p, with: outcome.physicalToLogical)
            bounds[layer] = outcome.lowerBound
        }
        let all = zip(layers, outcomes).sorted { $0.0 < $1.0 }.map(\.1)
        let status: SolveStatus = all.allSatisfy { $0.status == .optimal } ? .optimal
            : all.contains { $0.status == .timeLimit } ? .timeLimit : .feasible
        let placement = try Placement(topology: problem.topology, experts: problem.experts, physicalToLogical: flat)
        let sources = all.map(\.resolvedBoundSource)
        return SolveReport(placement: placement, status: status, method: solver.method, objective: options.objective,
                           lowerBounds: bounds.contains(nil) ? nil : bounds.map { $0! }, wallTime: wallTime,
                           notes: notes + all.flatMap(\.notes),
                           boundSources: bounds.contains(nil) || sources.count != problem.layers ? nil : sources.map { $0! })
    }
}

/// Equal shares of the time left for the layers not started yet, `threads` of them at a time.
final class LayerTimeShare: Sendable {
    private let deadline: ContinuousClock.Instant
    private let layers: Int
    private let threads: Int
    private let started = Mutex(0)

    init(deadline: ContinuousClock.Instant, layers: Int, threads: Int) {
        self.deadline = deadline
        self.layers = layers
        self.threads = Swift.max(1, threads)
    }

    /// The deadline of the next layer to start.
    func nextDeadline() -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let waiting = started.withLock { count -> Int in
            count += 1
            return layers - count + 1
        }
        guard waiting > 0, now < deadline else { return deadline }
        let running = Swift.min(threads, waiting)
        return now + (deadline - now) * running / waiting
    }
}
