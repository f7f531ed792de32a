@testable import ExpertPlacementExact
import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Exact solver: migration term")
struct MigrationTests {
    static func everyPlan(_ problem: Problem, objective: Objective) throws -> [(value: Double, moves: Int)] {
        BruteForce.everyPlan(problem, objective: objective).map { ($0.value, $0.moves) }
    }

    @Test("a move cap and a move weight give the brute-force optimum on tiny instances")
    func bruteForce() throws {
        var checked = 0
        for seed in 0..<40 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 55_000, maxDevices: 3, maxSlots: 2, maxLayers: 1,
                                                  maxEpisodes: 2, withCurrent: true)
            let p = problem.topology.slotCount
            guard problem.experts <= 5, p <= 6, problem.experts >= 2 else { continue }
            let plans = try Self.everyPlan(problem, objective: .aggregateImbalance)
            for cap in Set([0, 1, 2, p]) {
                let best = plans.filter { $0.moves <= cap }.map(\.value).min()!
                let report = try ExactSolver()
                    .solve(problem, options: SolveOptions(objective: .aggregateImbalance, moves: MovePolicy(maxMoves: cap)))
                #expect(report.status == .optimal, "seed \(seed) cap \(cap)")
                #expect(Validation.violations(of: report.placement).isEmpty, "seed \(seed) cap \(cap)")
                let m = try Metrics.layerMetrics(report.placement, on: problem, layer: 0)
                #expect(m.moves! <= cap, "seed \(seed) cap \(cap): \(m.moves!) moves")
                #expect(m.aggregateImbalance.isApproximatelyEqual(to: best, absoluteTolerance: 1e-9, relativeTolerance: 1e-7),
                        "seed \(seed) cap \(cap): exact \(m.aggregateImbalance) vs brute force \(best)")
            }
            let weight = 0.05
            let best = plans.map { $0.value + weight * Double($0.moves) }.min()!
            let report = try ExactSolver()
                .solve(problem, options: SolveOptions(objective: .aggregateImbalance, moves: MovePolicy(cost: weight)))
            let m = try Metrics.layerMetrics(report.placement, on: problem, layer: 0)
            let penalised = m.aggregateImbalance + weight * Double(m.moves!)
            #expect(penalised.isApproximatelyEqual(to: best, absoluteTolerance: 1e-9, relativeTolerance: 1e-7),
                    "seed \(seed): exact \(penalised) vs brute force \(best)")
            #expect(report.lowerBounds![0] <= m.aggregateImbalance * (1 + 1e-9))
            checked += 1
        }
        #expect(checked >= 15, "only \(checked) instances checked")
    }

    @Test("aligning a plan to the deployed one keeps every device's experts and never adds moves")
    func alignment() throws {
        for seed in 0..<200 {
            var rng = SeededGenerator(seed: UInt64(seed) &+ 9)
            let d = Int.random(in: 1...6, using: &rng), s = Int.random(in: 1...4, using: &rng)
            let e = Int.random(in: s...(d * s), using: &rng)
            let plan = RandomInstances.randomValidLayer(experts: e, devices: d, slots: s, rng: &rng)
            let current = RandomInstances.randomValidLayer(experts: e, devices: d, slots: s, rng: &rng)
            let model = MigrationModel(model: PatternModel(experts: e, devices: d, slotsPerDevice: s, rows: []),
                                       current: current, cap: nil, weight: 0)
            let aligned = model.aligned(plan)
            func devices(_ p: [Int32]) -> [[Int32]] { (0..<d).map { p[$0 * s ..< ($0 + 1) * s].sorted() }.sorted { $0.lexicographicallyPrecedes($1) } }
            #expect(devices(aligned) == devices(plan), "seed \(seed): the devices' expert sets changed")
            #expect(model.moves(aligned) <= model.moves(plan), "seed \(seed)")
            #expect(model.moves(model.aligned(current)) == 0, "seed \(seed): the deployed plan itself must need no move")
        }
    }

    @Test("the exact solver's plan keeps experts in place: fewer moves, same value")
    func exactAligns() throws {
        var improved = 0
        for seed in 0..<30 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 66_000, maxDevices: 4, maxSlots: 3, maxLayers: 1,
                                                  maxEpisodes: 1, withCurrent: true)
            guard problem.experts <= 8 else { continue }
            // The search's plan as it comes, not relabelled onto the deployed one.
            let warm = try SearchSolver().solve(problem, options: SolveOptions(objective: .aggregateImbalance,
                                                                               alignsToCurrent: false))
            let exact = try ExactSolver().solve(problem, options: SolveOptions(objective: .aggregateImbalance), warmStart: warm)
            let before = warm.placement.moves(from: problem.current!, layer: 0)
            let after = exact.placement.moves(from: problem.current!, layer: 0)
            let searchValue = try Metrics.layerMetrics(warm.placement, on: problem, layer: 0).aggregateImbalance
            let exactValue = try Metrics.layerMetrics(exact.placement, on: problem, layer: 0).aggregateImbalance
            // Where the exact solver keeps the search's plan (already optimal), only the labels change.
            if exactValue.isApproximatelyEqual(to: searchValue, relativeTolerance: 1e-12) {
                #expect(after <= before, "seed \(seed): \(after) moves after alignment, \(before) before")
                if after < before { improved += 1 }
            }
        }
        #expect(improved >= 5, "alignment removed moves on only \(improved) instances")
    }

    @Test("a migration term without a current placement is a clear error")
    func needsCurrent() throws {
        let problem = BundledExample.flashlbToy.problem
        #expect(throws: ExpertPlacementError.self) {
            _ = try ExactSolver().solve(problem, options: SolveOptions(objective: .aggregateImbalance, moves: MovePolicy(maxMoves: 2)))
        }
    }
    @Test("a deployed plan with an expert twice on a device that no valid plan within the cap beats is proven optimal, not a time limit")
    func duplicatedCurrentProvenWithinCap() throws {
        // Every valid plan needs 2 moves from [0, 0 | 1, 2]; with a cap of 1, staying put is the optimum.
        let topology = Topology(devices: 2, slotsPerDevice: 2)
        let current = try Placement(topology: topology, experts: 3, layers: [[0, 0, 1, 2]])
        let problem = try Problem(topology: topology, loads: LoadTensor(layers: 1, episodes: 1, experts: 3, values: [3, 1, 1]),
                                  current: current)
        let started = ContinuousClock.now
        let report = try ExactSolver().solve(problem, options: SolveOptions(objective: .worstImbalance, timeLimit: .seconds(20),
                                                                            moves: MovePolicy(maxMoves: 1)))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(report.status == .optimal, "\(report.notes)")
        #expect(report.placement == current)
    }
}
