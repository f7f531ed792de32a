/// The async API: keep the solver off the serving critical path (the async-EPLB idea).
extension SearchSolver {
    /// One layer's plan, as streamed by ``layerPlans(_:options:deadline:)``.
    public struct LayerPlan: Sendable, Equatable {
        /// The layer index.
        public var layer: Int
        /// `phy2log` of the layer: the expert in each of the `P` slots, device-major.
        public var physicalToLogical: [Int32]
        /// The proven lower bound on the objective for this layer.
        public var lowerBound: Double
        /// `feasible`, or `timeLimit` when the deadline or a cancellation cut the search short
        /// (the plan is still complete and valid: the best found, or the greedy plan).
        public var status: SolveStatus
    }

    /// Solves every layer concurrently (one child task per layer, at most one running per core)
    /// and returns the complete report.
    ///
    /// Cancelling the calling task, or reaching `deadline` (or `options.timeLimit`, whichever comes
    /// first), stops the search early: layers in progress return their best plan so far, layers
    /// not started get the greedy plan, and the status becomes ``SolveStatus/timeLimit``. The
    /// result is always a complete, valid placement; without a stop it equals the synchronous
    /// ``solve(_:options:)``.
    public func solve(_ problem: Problem, options: SolveOptions = SolveOptions(),
                      deadline: ContinuousClock.Instant? = nil) async throws(ExpertPlacementError) -> SolveReport {
        let clock = ContinuousClock()
        let start = clock.now
        var rows = [[Int32]](repeating: [], count: problem.layers)
        var bounds = [Double](repeating: 0, count: problem.layers)
        var stopped = false
        await runLayers(problem, options: options, deadline: deadline) { plan in
            rows[plan.layer] = plan.physicalToLogical
            bounds[plan.layer] = plan.lowerBound
            stopped = stopped || plan.status == .timeLimit
        }
        var flat = ContiguousArray<Int32>()
        flat.reserveCapacity(problem.topology.slotCount * problem.layers)
        for row in rows { flat.append(contentsOf: row) }
        let placement = try Placement(topology: problem.topology, experts: problem.experts, physicalToLogical: flat)
        return SolveReport(placement: placement, status: stopped ? .timeLimit : .feasible, method: method,
                           objective: options.objective, lowerBounds: bounds, wallTime: clock.now - start,
                           notes: Task.isCancelled ? ["cancelled: every layer returned its best plan so far"] : [])
    }

    /// Streams each layer's plan as soon as it is solved, so weights of early layers can move
    /// while later ones are still being solved.
    ///
    /// Layers are started in index order, at most one per core at a time (`options.maxThreads`
    /// lowers that), and yielded in completion order — with one thread, exactly index order. Each
    /// plan equals the corresponding layer of ``solve(_:options:)`` unless the search was stopped.
    /// Dropping the stream (or cancelling its consumer) cancels the remaining work; after
    /// `deadline` every remaining layer gets its greedy plan at once.
    public func layerPlans(_ problem: Problem, options: SolveOptions = SolveOptions(),
                           deadline: ContinuousClock.Instant? = nil) -> AsyncStream<LayerPlan> {
        AsyncStream { continuation in
            let task = Task {
                await runLayers(problem, options: options, deadline: deadline) { continuation.yield($0) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Runs every layer in a task group (children inherit cancellation), at most `width` at once,
    /// handing each plan to `deliver` on the calling task as it completes.
    private func runLayers(_ problem: Problem, options: SolveOptions, deadline: ContinuousClock.Instant?,
                           deliver: (LayerPlan) -> Void) async {
        let config = configuration
        let limit = options.timeLimit.map { ContinuousClock.now + $0 }
        let stopAt: ContinuousClock.Instant? = switch (deadline, limit) {
        case let (a?, b?): Swift.min(a, b)
        case let (a?, nil): a
        case let (nil, b?): b
        case (nil, nil): nil
        }
        let stop = StopCondition(deadline: stopAt, observesCancellation: true)
        let width = Swift.max(1, Swift.min(options.maxThreads ?? ProcessInfoShim.activeProcessorCount,
                                           ProcessInfoShim.activeProcessorCount))
        let objective = options.objective
        await withTaskGroup(of: LayerPlan.self) { group in
            var next = 0
            func start() {
                let l = next
                next += 1
                group.addTask {
                    let r = Self.solveLayer(problem, layer: l, objective: objective, configuration: config, stop: stop)
                    return LayerPlan(layer: l, physicalToLogical: r.slots, lowerBound: r.bound,
                                     status: r.hitLimit ? .timeLimit : .feasible)
                }
            }
            while next < Swift.min(width, problem.layers) { start() }
            while let plan = await group.next() {
                deliver(plan)
                if next < problem.layers { start() }
            }
        }
    }
}
