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
}
