import ExpertPlacement
@testable import ExpertPlacementExact
import ExpertPlacementTestSupport
import Numerics
import Testing

/// The compact multi-episode MILP (``CompactModel``): optimal values equal brute force, every plan
/// is valid, and bounds never exceed the optimum, proven or stopped.
@Suite("Compact multi-episode model")
struct CompactModelTests {
    @Test("forced for every objective: equal to brute force on tiny multi-episode instances",
          arguments: [Objective.meanImbalance, .worstImbalance, .peakSum])
    func bruteForce(objective: Objective) throws {
        var configuration = ExactSolver.Configuration()
        configuration.multiEpisode = .compact
        configuration.exhaustiveNodeLimit = 0  // the MILP itself, not the combinatorial proof
        var checked = 0
        for seed in 0..<60 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 77_000, maxDevices: 4, maxSlots: 3,
                                                  maxLayers: 1, maxEpisodes: 3)
            guard problem.experts <= 6, problem.topology.slotCount <= 8, problem.episodes > 1 else { continue }
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
            let report = try ExactSolver(configuration: configuration)
                .solve(problem, options: SolveOptions(objective: objective, timeLimit: .seconds(20)))
            #expect(Validation.violations(of: report.placement).isEmpty, "seed \(seed)")
            #expect(report.status == .optimal, "seed \(seed)")
            let value = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).value(of: objective)
            #expect(value.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-9, relativeTolerance: 1e-7),
                    "seed \(seed): compact \(value) vs brute force \(optimum)")
            #expect(report.lowerBounds![0] <= optimum * (1 + 1e-7) + 1e-9, "seed \(seed)")
            checked += 1
        }
        #expect(checked >= 12)
    }

    @Test("the compact model and the pattern θ search agree on worst over several episodes")
    func agreesWithPatterns() throws {
        var compact = ExactSolver.Configuration()
        compact.multiEpisode = .compact
        var patterns = ExactSolver.Configuration()
        patterns.multiEpisode = .patterns
        patterns.exhaustiveNodeLimit = 0  // the θ search itself, not the combinatorial proof
        for seed in 0..<6 {
            let loads = try SyntheticLoads.lognormal(layers: 1, episodes: 3, experts: 8, assignments: 4_000, seed: UInt64(seed))
            let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 3), loads: loads)
            let options = SolveOptions(objective: .worstImbalance, timeLimit: .seconds(30))
            let a = try ExactSolver(configuration: compact).solve(problem, options: options)
            let b = try ExactSolver(configuration: patterns).solve(problem, options: options)
            #expect(a.status == .optimal && b.status == .optimal, "seed \(seed)")
            let va = try Metrics.layerMetrics(a.placement, on: problem, layer: 0).worstImbalance
            let vb = try Metrics.layerMetrics(b.placement, on: problem, layer: 0).worstImbalance
            #expect(va.isApproximatelyEqual(to: vb, relativeTolerance: 1e-7), "seed \(seed): \(va) vs \(vb)")
        }
    }

    @Test("worst over several episodes: the branch and bound run first proves what the θ search alone proves")
    func worstBranchAndBoundAgreesWithThetaSearch() throws {
        var theta = ExactSolver.Configuration()
        theta.exhaustiveNodeLimit = 0
        for seed in 0..<6 {
            let loads = try SyntheticLoads.lognormal(layers: 1, episodes: 3, experts: 10, assignments: 4_000, seed: UInt64(seed) &+ 40)
            let problem = try Problem(topology: Topology(devices: 3, slotsPerDevice: 4), loads: loads)
            let options = SolveOptions(objective: .worstImbalance, timeLimit: .seconds(30))
            // From the greedy plan, so that neither keeps a proof of the search's.
            let greedy = try GreedySolver().solve(problem, options: options)
            let a = try ExactSolver().solve(problem, options: options, warmStart: greedy)
            let b = try ExactSolver(configuration: theta).solve(problem, options: options, warmStart: greedy)
            #expect(a.status == .optimal && b.status == .optimal, "seed \(seed)")
            #expect(Validation.violations(of: a.placement).isEmpty)
            let va = try Metrics.layerMetrics(a.placement, on: problem, layer: 0).worstImbalance
            let vb = try Metrics.layerMetrics(b.placement, on: problem, layer: 0).worstImbalance
            #expect(va.isApproximatelyEqual(to: vb, relativeTolerance: 1e-7), "seed \(seed): \(va) vs \(vb)")
            #expect(a.lowerBounds![0] <= vb * (1 + 1e-7), "seed \(seed)")
        }
    }

    @Test("the exhaustive proof and the compact MILP agree on small multi-episode sums", arguments: [Objective.meanImbalance, .peakSum])
    func exhaustiveAgreesWithMILP(objective: Objective) throws {
        var milp = ExactSolver.Configuration()
        milp.exhaustiveNodeLimit = 0
        for seed in 0..<4 {
            let loads = try SyntheticLoads.zipf(layers: 1, episodes: 3, experts: 8, noise: 0.3, assignments: 4_000, seed: UInt64(seed))
            let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 3), loads: loads)
            let options = SolveOptions(objective: objective, timeLimit: .seconds(30))
            let a = try ExactSolver().solve(problem, options: options)
            let b = try ExactSolver(configuration: milp).solve(problem, options: options)
            #expect(a.status == .optimal && b.status == .optimal, "seed \(seed)")
            #expect(Validation.violations(of: a.placement).isEmpty)
            let va = try Metrics.layerMetrics(a.placement, on: problem, layer: 0).value(of: objective)
            let vb = try Metrics.layerMetrics(b.placement, on: problem, layer: 0).value(of: objective)
            #expect(va.isApproximatelyEqual(to: vb, relativeTolerance: 1e-7), "seed \(seed): \(va) vs \(vb)")
        }
    }

    @Test("auto polishes multi-episode sums: proven optimal where the exact solver proves it")
    func autoPolishes() throws {
        let loads = try SyntheticLoads.lognormal(layers: 2, episodes: 3, experts: 8, assignments: 4_000, seed: 4)
        let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 3), loads: loads)
        let options = SolveOptions(objective: .meanImbalance, timeLimit: .seconds(30))
        let auto = try AutoSolver().solve(problem, options: options)
        let exact = try ExactSolver().solve(problem, options: options)
        #expect(auto.status == .optimal && exact.status == .optimal)
        #expect(auto.notes.allSatisfy { !$0.contains("skipped") })
        let a = try Metrics.evaluate(auto.placement, on: problem), b = try Metrics.evaluate(exact.placement, on: problem)
        for l in 0..<2 {
            #expect(a.layers[l].meanImbalance.isApproximatelyEqual(to: b.layers[l].meanImbalance, relativeTolerance: 1e-7))
        }
    }

    @Test("multi-episode mean on 12 experts × 4 × 4 slots: proven, or stopped with a valid plan and bound")
    func mediumInstance() throws {
        let loads = try SyntheticLoads.zipf(layers: 1, episodes: 2, experts: 12, noise: 0.3, assignments: 10_000, seed: 3)
        let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 4), loads: loads)
        let report = try ExactSolver().solve(problem, options: SolveOptions(objective: .meanImbalance, timeLimit: .seconds(30)))
        #expect(Validation.violations(of: report.placement).isEmpty)
        let value = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).meanImbalance
        let search = try SearchSolver().solve(problem, options: SolveOptions(objective: .meanImbalance))
        let searched = try Metrics.layerMetrics(search.placement, on: problem, layer: 0).meanImbalance
        #expect(value <= searched * (1 + 1e-12))
        #expect(report.lowerBounds![0] <= value * (1 + 1e-9))
        #expect(report.lowerBounds![0] >= LowerBounds.bound(problem, layer: 0, objective: .meanImbalance) * (1 - 1e-12))
    }

    @Test("a stopped compact solve is honest: timeLimit, a valid plan, a bound at or below its value")
    func stopped() throws {
        let loads = try SyntheticLoads.lognormal(layers: 1, episodes: 4, experts: 24, assignments: 10_000, seed: 5)
        let problem = try Problem(topology: Topology(devices: 6, slotsPerDevice: 5), loads: loads)
        let clock = ContinuousClock()
        let start = clock.now
        let report = try ExactSolver().solve(problem, options: SolveOptions(objective: .meanImbalance, timeLimit: .milliseconds(400)))
        #expect(clock.now - start < .milliseconds(2_500))
        #expect(report.status != .optimal || report.lowerBounds![0] > 0)
        #expect(Validation.violations(of: report.placement).isEmpty)
        let value = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).meanImbalance
        #expect(report.lowerBounds![0] <= value * (1 + 1e-9))
    }
}
