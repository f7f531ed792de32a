/// The async API: keep the solver off the serving critical path (the async-EPLB idea).
extension SearchSolver {
    /// One layer's plan, as streamed by ``layerPlans(_:options:deadline:)``.
    public typealias LayerPlan = ExpertPlacement.LayerPlan

    /// Solves every layer concurrently (one child task per layer, at most one running per core)
    /// and returns the complete report.
    ///
    /// Cancelling the calling task, or reaching `deadline` (or `options.timeLimit`, whichever comes
    /// first), stops the search early: layers in progress return their best plan so far, layers
    /// not started get the greedy plan, and the status becomes ``SolveStatus/timeLimit``. The
    /// result is always a complete, valid placement; without a stop it equals the synchronous
    /// ``solve(_:options:)``. See ``LayerDriver/solve(_:with:options:deadline:)``.
    public func solve(_ problem: Problem, options: SolveOptions = SolveOptions(),
                      deadline: ContinuousClock.Instant? = nil) async throws(ExpertPlacementError) -> SolveReport {
        try await LayerDriver.solve(problem, with: self, options: options, deadline: deadline)
    }

    /// Streams each layer's plan as soon as it is solved, so weights of early layers can move
    /// while later ones are still being solved.
    ///
    /// Layers are started in index order, at most one per core at a time (`options.maxThreads`
    /// lowers that), and yielded in completion order — with one thread, exactly index order. Each
    /// plan equals the corresponding layer of ``solve(_:options:)`` unless the search was stopped.
    /// Dropping the stream (or cancelling its consumer) cancels the remaining work; after
    /// `deadline` every remaining layer gets its greedy plan at once.
    ///
    /// - Throws: before streaming, what ``solve(_:options:)`` throws for these inputs (a deployed
    ///   placement a worker would refuse, a bad move policy or configuration), so that the stream
    ///   never carries a plan the synchronous solve would have refused to make.
    public func layerPlans(_ problem: Problem, options: SolveOptions = SolveOptions(),
                           deadline: ContinuousClock.Instant? = nil) throws(ExpertPlacementError) -> AsyncStream<LayerPlan> {
        try LayerDriver.plans(problem, with: self, options: options, deadline: deadline)
    }
}
