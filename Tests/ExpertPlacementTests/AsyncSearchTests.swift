import ExpertPlacement
import ExpertPlacementTestSupport
import Testing

@Suite("Search: async API")
struct AsyncSearchTests {
    static let problem = RandomInstances.problem(seed: 4242, maxDevices: 12, maxSlots: 4, maxLayers: 6, maxEpisodes: 5)

    /// The synchronous solve (in an async context the async overload would be chosen).
    static func syncSolve(_ problem: Problem, _ options: SolveOptions = SolveOptions()) throws -> SolveReport {
        try SearchSolver().solve(problem, options: options)
    }

    @Test("async solve equals the synchronous solve")
    func asyncEqualsSync() async throws {
        let sync = try Self.syncSolve(Self.problem)
        let async = try await SearchSolver().solve(Self.problem)
        #expect(async.placement == sync.placement)
        #expect(async.lowerBounds == sync.lowerBounds)
        #expect(async.status == sync.status)
    }

    @Test("the stream yields every layer once, equal to the batch plan; in index order on one thread")
    func streaming() async throws {
        let problem = BundledExample.deepseekV3.problem
        let batch = try Self.syncSolve(problem).placement
        var seen: [Int] = []
        for await plan in try SearchSolver().layerPlans(problem, options: SolveOptions(maxThreads: 1)) {
            seen.append(plan.layer)
            #expect(plan.physicalToLogical.map(Int.init) == batch.physicalToLogical(layer: plan.layer))
            #expect(plan.status == .feasible)
        }
        #expect(seen == Array(0..<problem.layers))
        var parallel = Set<Int>()
        for await plan in try SearchSolver().layerPlans(problem) { parallel.insert(plan.layer) }
        #expect(parallel == Set(0..<problem.layers))
    }

    @Test("a deadline in the past: greedy plans at once, status timeLimit, still valid")
    func pastDeadline() async throws {
        let problem = BundledExample.deepseekV3.problem
        let report = try await SearchSolver().solve(problem, deadline: .now)
        #expect(report.status == .timeLimit)
        #expect(Validation.violations(of: report.placement).isEmpty)
        #expect(try report.placement == GreedySolver().solve(problem).placement)
    }

    @Test("cancellation stops a long search promptly with a complete, valid plan")
    func cancellation() async throws {
        let problem = try Problem(topology: Topology(devices: 32, slotsPerDevice: 9),
                                  loads: SyntheticLoads.lognormal(layers: 8, episodes: 8, experts: 256, seed: 3))
        // A configuration that would take minutes: huge local-search budget.
        let slow = SearchSolver(configuration: .init(maxMoves: 1_000_000, maxEvaluations: 2_000_000_000))
        let clock = ContinuousClock()
        let task = Task { try await slow.solve(problem) }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = clock.now
        task.cancel()
        let report = try await task.value
        // Release returns in ~5 ms. Under `swift test` the layers' child tasks share the
        // cooperative pool with other suites' CPU-bound tests (debug build, 2 cores), which can
        // delay them by seconds; without cancellation this configuration would run for hours.
        #expect(clock.now - cancelled < .seconds(30))
        #expect(report.status == .timeLimit)
        #expect(report.notes.contains { $0.hasPrefix("cancelled") })
        #expect(Validation.violations(of: report.placement, topology: problem.topology, experts: problem.experts,
                                      layers: problem.layers).isEmpty)
    }

    @Test("the synchronous time limit is honoured")
    func timeLimit() throws {
        let problem = BundledExample.deepseekV3.problem
        let slow = SearchSolver(configuration: .init(maxMoves: 1_000_000, maxEvaluations: 2_000_000_000))
        let clock = ContinuousClock()
        let start = clock.now
        let report = try slow.solve(problem, options: SolveOptions(timeLimit: .milliseconds(200)))
        // Release: within a few ms of the limit; a debug build under a parallel test run needs longer
        // to reach the next check (a layer's construction phase is not interrupted midway).
        #expect(clock.now - start < .seconds(4))
        #expect(report.status == .timeLimit)
        #expect(Validation.violations(of: report.placement).isEmpty)
    }
}
