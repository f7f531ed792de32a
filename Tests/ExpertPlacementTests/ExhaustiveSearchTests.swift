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
            if try Self.provesBruteForceOptimum(problem, objective: objective, label: "seed \(seed)") { proven += 1 }
        }
        #expect(proven >= 20)
    }

    /// Proves `problem`'s only layer from the greedy plan and checks the optimum, and any improved
    /// plan, against brute force; whether the proof completed within 10⁶ nodes.
    static func provesBruteForceOptimum(_ problem: Problem, objective: Objective, label: String) throws -> Bool {
        let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
        let model = ObjectiveModel(ProblemLayer(problem, layer: 0), objective: objective)
        let greedy = try GreedySolver().solve(problem, options: SolveOptions(objective: objective))
        guard let proof = ExhaustiveSearch.prove(model, slotsPerDevice: problem.topology.slotsPerDevice,
                                                 incumbent: greedy.placement.physicalToLogical, nodeLimit: 1_000_000)
        else { return false }
        #expect(proof.optimum.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-12, relativeTolerance: 1e-9),
                "\(label) (\(objective)): \(proof.optimum) vs brute force \(optimum)")
        if let plan = proof.improvedPlan {
            let placement = try Placement(topology: problem.topology, experts: problem.experts,
                                          physicalToLogical: ContiguousArray(plan))
            #expect(Validation.violations(of: placement).isEmpty, "\(label)")
            let value = try Metrics.layerMetrics(placement, on: problem, layer: 0).value(of: objective)
            #expect(value.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-12, relativeTolerance: 1e-9))
        }
        return true
    }

    @Test("the completion bound keeps proofs exact where redundant replicas can be split: brute force on seeded instances")
    func completionBoundWithSpares() throws {
        var proven = 0
        for seed in 0..<160 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 33_000, maxDevices: 4, maxSlots: 3,
                                                  maxLayers: 1, maxEpisodes: 3)
            let p = problem.topology.slotCount
            guard problem.experts < p, problem.experts <= 7, p <= 10 else { continue }
            let objective = Objective.allCases[seed % Objective.allCases.count]
            if try Self.provesBruteForceOptimum(problem, objective: objective, label: "seed \(seed)") { proven += 1 }
        }
        #expect(proven >= 30)
    }

    @Test("the completion bound prunes: 16 experts on 4 × 5 over 4 lognormal episodes proven within 1M nodes (the floors alone need over 4M)")
    func completionBoundPrunes() throws {
        let loads = try SyntheticLoads.lognormal(layers: 1, episodes: 4, experts: 16, seed: 3)
        let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 5), loads: loads)
        let model = ObjectiveModel(ProblemLayer(problem, layer: 0), objective: .meanImbalance)
        let greedy = try GreedySolver().solve(problem, options: SolveOptions())
        let proof = try #require(ExhaustiveSearch.prove(model, slotsPerDevice: 5, incumbent: greedy.placement.physicalToLogical,
                                                        nodeLimit: 1_000_000))
        let search = try SearchSolver().solve(problem, options: SolveOptions())
        let value = try Metrics.evaluate(search.placement, on: problem, objective: .meanImbalance).layers[0].meanImbalance
        #expect(proof.optimum <= value * (1 + 1e-12))
        #expect(proof.optimum >= LowerBounds.bound(problem, layer: 0, objective: .meanImbalance) * (1 - 1e-12))
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

    @Test("a run that runs out keeps the better plan it reached: valid, below the incumbent; the search returns it, not as proven")
    func stoppedRunImproves() throws {
        // 20 experts on 6 × 4 over 4 noisy lognormal episodes: far too large a tree for 20,000
        // nodes, and the greedy plan is well above the optimum.
        let loads = try SyntheticLoads.lognormal(layers: 1, episodes: 4, experts: 20, noise: 0.3, assignments: 10_000, seed: 0)
        let problem = try Problem(topology: Topology(devices: 6, slotsPerDevice: 4), loads: loads)
        let model = ObjectiveModel(ProblemLayer(problem, layer: 0), objective: .meanImbalance)
        let greedy = try GreedySolver().solve(problem, options: SolveOptions())
        let run = try #require(ExhaustiveSearch.explore(model, slotsPerDevice: 4, incumbent: greedy.placement.physicalToLogical,
                                                        nodeLimit: 20_000))
        #expect(run.optimum == nil && run.proof == nil)
        let plan = try #require(run.improvedPlan)
        let placement = try Placement(topology: problem.topology, experts: problem.experts, physicalToLogical: ContiguousArray(plan))
        #expect(Validation.violations(of: placement).isEmpty)
        #expect(model.value(of: plan, slotsPerDevice: 4) < model.value(of: greedy.placement.physicalToLogical, slotsPerDevice: 4))
        // The search hands its plan to a run of its own proof budget (150,000 nodes), which cannot
        // finish here either: the plan it returns is below the plan without that run (by 0.18 %
        // for mean, 0.75 % for worst when this test was written), and is not reported as proven.
        var unproven = SearchSolver.Configuration()
        unproven.proofNodeLimit = 0
        for objective in [Objective.meanImbalance, .worstImbalance] {
            let with = try SearchSolver().solve(problem, options: SolveOptions(objective: objective))
            let without = try SearchSolver(configuration: unproven).solve(problem, options: SolveOptions(objective: objective))
            #expect(Validation.violations(of: with.placement).isEmpty)
            #expect(with.status == .feasible, "\(objective)")
            let exact = ObjectiveModel(ProblemLayer(problem, layer: 0), objective: objective)
            let value = exact.value(of: with.placement.physicalToLogical, slotsPerDevice: 4)
            #expect(value < exact.value(of: without.placement.physicalToLogical, slotsPerDevice: 4), "\(objective)")
            #expect(try #require(with.lowerBounds)[0] < value, "\(objective)")
        }
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
