import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementTestSupport
import Numerics
import Testing

/// The exact drop-budget model against exhaustive enumeration.
@Suite("Exact drop-budget solver (GLPK)")
struct DropExactTests {
    @Test("equals brute force over every valid plan on tiny seeded instances; plans valid",
          arguments: Objective.allCases)
    func bruteForce(objective: Objective) throws {
        var checked = 0
        for seed in 0..<40 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 31_000, maxDevices: 3, maxSlots: 2,
                                                  maxLayers: 1, maxEpisodes: 3)
            guard problem.topology.slotCount <= 6 else { continue }
            let f = [0.0, 0.1, 0.3][seed % 3]
            let (optimum, _) = DropBruteForce.optimum(problem, objective: objective, budget: f)
            let report = try DropExactSolver(budget: f).solve(problem, options: SolveOptions(objective: objective))
            #expect(report.status == .optimal, "seed \(seed)")
            #expect(Validation.violations(of: report.placement).isEmpty, "seed \(seed)")
            let value = DropBruteForce.cappedValue(report.placement.physicalToLogical(layer: 0).map(Int32.init), problem, layer: 0,
                                                   objective: objective, budget: f)
            #expect(value.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-9, relativeTolerance: 1e-6),
                    "seed \(seed) f \(f): exact \(value) vs brute force \(optimum)")
            // The drop-aware search is a heuristic: never below the optimum.
            let search = try DropAwareSolver(base: SearchSolver(), budget: f).solve(problem, options: SolveOptions(objective: objective))
            #expect(Validation.violations(of: search.placement).isEmpty, "seed \(seed)")
            let heuristic = DropObjective.values(search.placement, on: problem, objective: objective, budget: f)[0]
            #expect(heuristic >= optimum * (1 - 1e-9) - 1e-12, "seed \(seed)")
            checked += 1
        }
        #expect(checked >= 20)
    }

    @Test("a move cost or cap is refused (the model has no migration term)")
    func movesRefused() {
        let problem = RandomInstances.problem(seed: 3, maxDevices: 3, maxSlots: 2, maxLayers: 1, maxEpisodes: 2, withCurrent: true)
        #expect(throws: ExpertPlacementError.self) {
            try DropExactSolver(budget: 0.1).solve(problem, options: SolveOptions(moves: MovePolicy(maxMoves: 1)))
        }
    }
    @Test("GLPK stopping on an internal error (an assertion on numerical trouble) does not abort the process: the search's plan, feasible, with a note")
    func glpkInternalErrorIsCaught() throws {
        // The bound audit's instance: loads from 1e-100 to 1e100 make GLPK's simplex fail an assertion.
        let loads = try LoadTensor(layers: 1, episodes: 2, experts: 4, values: [1e100, 1e-100, 1, 1e50, 1e-100, 1e-100, 1e-100, 1e100])
        let problem = try Problem(topology: Topology(devices: 3, slotsPerDevice: 2), loads: loads, episodeWeights: [1e-100, 1e100])
        let report = try DropExactSolver(budget: 0.05).solve(problem, options: SolveOptions(objective: .peakSum, timeLimit: .seconds(20)))
        #expect(Validation.violations(of: report.placement).isEmpty)
        #expect(report.status != .optimal || report.notes.isEmpty)
        // The thread's GLPK environment was freed and made anew: later solves on it still work.
        let again = try ExactSolver().solve(BundledExample.flashlbToy.problem, options: SolveOptions(objective: .aggregateImbalance))
        #expect(again.status == .optimal)
    }
}
