import ExpertPlacement
import ExpertPlacementTestSupport
import Testing

/// Inputs a library user can pass that every public entry point must refuse with a typed error
/// (found by a package-user audit: each one used to stream an invalid plan, trap, or change state).
@Suite("Library entry points: the same input checks everywhere, no trap")
struct LibraryInputTests {
    /// 8 experts on 4 × 3 slots, 2 layers × 3 episodes, with a deployed placement `current`.
    static func problem(current rows: [[Int]]? = nil) throws -> Problem {
        let topology = Topology(devices: 4, slotsPerDevice: 3)
        let loads = try LoadTensor(layers: 2, episodes: 3, experts: 8,
                                   values: ContiguousArray((0..<48).map { Double(($0 * 37) % 23 + 1) }))
        let current = try rows.map { try Placement(topology: topology, experts: 8, layers: $0) }
        return try Problem(topology: topology, loads: loads, current: current)
    }

    static let plain = [[0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3]]

    @Test("layerPlans refuses before streaming what solve refuses: a deployed plan without some expert, a bad move policy, a bad configuration")
    func streamChecksInputs() throws {
        var lost = Self.plain
        lost[0] = [1, 1, 2, 3, 4, 5, 6, 7, 2, 1, 2, 3]  // expert 0 has no replica in layer 0
        let broken = try Self.problem(current: lost)
        let cases: [(Problem, SolveOptions, SearchSolver)] = [
            (broken, SolveOptions(moves: MovePolicy(maxMoves: 8)), SearchSolver()),
            (try Self.problem(current: Self.plain), SolveOptions(moves: MovePolicy(maxMoves: -1)), SearchSolver()),
            (try Self.problem(current: Self.plain), SolveOptions(moves: MovePolicy(cost: .nan)), SearchSolver()),
            (try Self.problem(), SolveOptions(), SearchSolver(configuration: .init(riskZ: .nan, riskAware: true))),
            (try Self.problem(), SolveOptions(), SearchSolver(configuration: .init(beam: 0))),
        ]
        for (i, (problem, options, solver)) in cases.enumerated() {
            #expect(throws: ExpertPlacementError.self, "case \(i): sync") { try solver.solve(problem, options: options) }
            #expect(throws: ExpertPlacementError.self, "case \(i): stream") { _ = try solver.layerPlans(problem, options: options) }
            #expect(throws: ExpertPlacementError.self, "case \(i): run") {
                _ = try LayerDriver.run(problem, with: solver, options: options, layers: [0, 1])
            }
        }
        #expect(throws: ExpertPlacementError.invalidValue(field: "layers", reason: "layer 5 is outside 0..<2")) {
            _ = try LayerDriver.run(try Self.problem(current: Self.plain), with: GreedySolver(), options: SolveOptions(), layers: [5])
        }
    }

    @Test("Metrics.layerMetrics checks the fit it reads: another expert count, a layer out of range")
    func layerMetricsChecksFit() throws {
        let problem = try Self.problem()
        let wide = try Placement(topology: Topology(devices: 4, slotsPerDevice: 3), experts: 12,
                                 layers: [Array(0..<12), Array(0..<12)])
        #expect(throws: ExpertPlacementError.self) { try Metrics.layerMetrics(wide, on: problem, layer: 0) }
        let fits = try Placement(topology: problem.topology, experts: 8, layers: Self.plain)
        #expect(throws: ExpertPlacementError.invalidValue(field: "layer", reason: "5 is outside 0..<2")) {
            try Metrics.layerMetrics(fits, on: problem, layer: 5)
        }
        #expect(try Metrics.layerMetrics(fits, on: problem, layer: 1) == Metrics.evaluate(fits, on: problem).layers[1])
    }

    @Test("Placement: experts below 1 and ids beyond 32 bits are refused, named; a deployed plan of other devices with as many slots too")
    func placementChecks() throws {
        let topology = Topology(devices: 4, slotsPerDevice: 3)
        #expect(throws: ExpertPlacementError.invalidValue(field: "experts", reason: "must be in 1...\(Limits.maximumCells), got -1")) {
            _ = try Placement(topology: topology, experts: -1, layers: [Array(0..<12)])
        }
        #expect(throws: ExpertPlacementError.invalidValue(field: "phy2log[0][5]", reason: "expert id 8589934592 is out of range 0..<8")) {
            var row = Array(0..<12)
            row[5] = 1 << 33
            _ = try Placement(topology: topology, experts: 8, layers: [row])
        }
        let other = try Placement(topology: Topology(devices: 2, slotsPerDevice: 6), experts: 8, layers: Self.plain)
        let loads = try Self.problem().loads
        #expect(throws: ExpertPlacementError.self) { _ = try Problem(topology: topology, loads: loads, current: other) }
    }

    @Test("Rebalancer: NaN or negative records are refused; a call refused for its options leaves the regime memory as it was")
    func rebalancerInputs() throws {
        let problem = try Self.problem(current: Self.plain)
        for bad in [Double.nan, -1] {
            #expect(throws: ExpertPlacementError.self) {
                _ = try Rebalancer<SearchSolver>.plan(problem, recordedImbalance: [bad, 1], solver: SearchSolver(),
                                                      options: RebalanceOptions(relativeThreshold: 0.9))
            }
        }
        var rebalancer = Rebalancer(solver: SearchSolver(), options: RebalanceOptions(), deployed: problem.current!)
        rebalancer.regimeMemory = RegimeMemory(windows: 4)
        _ = try rebalancer.rebalance(window: problem.loads)
        let before = rebalancer.regimeMemory
        rebalancer.options.relativeThreshold = 2
        #expect(throws: ExpertPlacementError.self) { _ = try rebalancer.rebalance(window: problem.loads) }
        #expect(rebalancer.regimeMemory.remembered == before.remembered)
        #expect(rebalancer.regimeMemory.previousPlans?.window == before.previousPlans?.window)
    }

    @Test("the simulation policies are Sendable (usable from tasks and actors)")
    func policiesAreSendable() {
        func sendable<T: Sendable>(_: T.Type) -> Bool { true }
        #expect(sendable(GreedyPolicy.self) && sendable(NoRebalancePolicy.self) && sendable(RebalancePolicy.self)
                && sendable(ResolvePolicy.self) && sendable(OraclePolicy<RebalancePolicy>.self))
    }
}
