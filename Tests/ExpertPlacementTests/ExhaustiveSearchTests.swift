import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

/// The exhaustive proof of tiny layers: its optimum equals brute force, its plans are valid, and
/// the search reports the optimum as the bound only when the proof completed.
@Suite("Exhaustive proof of tiny layers")
struct ExhaustiveSearchTests {
    @Test("the optimum equals brute force on seeded tiny instances, for every objective",
          arguments: Objective.allCases)
    func bruteForce(objective: Objective) throws {
        var proven = 0
        for seed in 0..<80 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 31_000, maxDevices: 4, maxSlots: 3,
                                                  maxLayers: 1, maxEpisodes: 3)
            guard problem.experts <= 6, problem.topology.slotCount <= 8 else { continue }
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
            let layer = ProblemLayer(problem, layer: 0)
            let model = ObjectiveModel(layer, objective: objective)
            let greedy = try GreedySolver().solve(problem, options: SolveOptions(objective: objective))
            guard let proof = ExhaustiveSearch.prove(model, slotsPerDevice: problem.topology.slotsPerDevice,
                                                     incumbent: greedy.placement.physicalToLogical, nodeLimit: 1_000_000)
            else { continue }
            proven += 1
            #expect(proof.optimum.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-12, relativeTolerance: 1e-9),
                    "seed \(seed): \(proof.optimum) vs brute force \(optimum)")
            if let plan = proof.improvedPlan {
                let placement = try Placement(topology: problem.topology, experts: problem.experts,
                                              physicalToLogical: ContiguousArray(plan))
                #expect(Validation.violations(of: placement).isEmpty, "seed \(seed)")
                let value = try Metrics.layerMetrics(placement, on: problem, layer: 0).value(of: objective)
                #expect(value.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-12, relativeTolerance: 1e-9))
            }
        }
        #expect(proven >= 20)
    }

    @Test("the search reports a proven optimum as its bound, never above brute force")
    func searchBound() throws {
        var optimal = 0
        for seed in 0..<60 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 32_000, maxDevices: 4, maxSlots: 3,
                                                  maxLayers: 1, maxEpisodes: 3)
            guard problem.experts <= 6, problem.topology.slotCount <= 8 else { continue }
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: .meanImbalance)
            let report = try SearchSolver().solve(problem, options: SolveOptions(objective: .meanImbalance))
            #expect(Validation.violations(of: report.placement).isEmpty)
            let value = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).meanImbalance
            let bound = report.lowerBounds![0]
            #expect(bound <= optimum * (1 + 1e-9), "seed \(seed): bound \(bound) above the optimum \(optimum)")
            if report.status == .optimal {
                optimal += 1
                #expect(value.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-12, relativeTolerance: 1e-9))
            }
        }
        #expect(optimal >= 20)
    }

    @Test("the budget is honest: a tree larger than the node limit gives no proof")
    func budget() throws {
        let loads = try SyntheticLoads.lognormal(layers: 1, episodes: 4, experts: 24, assignments: 10_000, seed: 9)
        let problem = try Problem(topology: Topology(devices: 8, slotsPerDevice: 4), loads: loads)
        let model = ObjectiveModel(ProblemLayer(problem, layer: 0), objective: .meanImbalance)
        let greedy = try GreedySolver().solve(problem, options: SolveOptions())
        #expect(ExhaustiveSearch.prove(model, slotsPerDevice: 4, incumbent: greedy.placement.physicalToLogical,
                                       nodeLimit: 1_000) == nil)
    }

    @Test("DeepSeek EPLB's README example: the search proves both layers (172/144.5 on layer 1)")
    func readmeExample() throws {
        let problem = BundledExample.deepseekReadme.problem
        let report = try SearchSolver().solve(problem, options: SolveOptions())
        #expect(report.status == .optimal)
        let metrics = try Metrics.evaluate(report.placement, on: problem, objective: .meanImbalance,
                                           lowerBounds: report.lowerBounds)
        #expect(metrics.layers[1].meanImbalance.isApproximatelyEqual(to: 172 / 144.5, relativeTolerance: 1e-12))
        #expect(metrics.layers.allSatisfy { ($0.gap ?? 1) <= 1e-12 })
    }
}
