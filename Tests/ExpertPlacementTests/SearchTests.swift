import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Search solver")
struct SearchTests {
    @Test("FlashLB's toy: the proven optimum 590/3 (FlashLB: 200, default greedy: 232)")
    func toyOptimum() throws {
        let problem = BundledExample.flashlbToy.problem
        for objective in Objective.allCases {
            let report = try SearchSolver().solve(problem, options: SolveOptions(objective: objective))
            BaselineTests.checkInvariants(report, problem, seed: -1)
            let m = try Metrics.layerMetrics(report.placement, on: problem, layer: 0)
            #expect(m.peakSum.isApproximatelyEqual(to: 590.0 / 3, relativeTolerance: 1e-12), "\(objective)")
        }
    }

    @Test("a plan that meets its allotment bound is reported optimal, beyond the exhaustive proof's reach")
    func planMeetingBoundIsOptimal() throws {
        // 32 devices (more than the exhaustive proof takes): equal loads balance exactly (bound 1,
        // the average) over 3 episodes; one hot expert among idle ones is bound by its heaviest
        // replica (25 replicas of 1,000 on 64 slots with 39 idle experts: 40 a device, ρ = 1.28).
        let topology = Topology(devices: 32, slotsPerDevice: 2)
        let equal = try Problem(topology: topology, loads: LoadTensor(layers: 1, episodes: 3, experts: 64,
                                                                      values: ContiguousArray(repeating: 5, count: 3 * 64)))
        var hot = ContiguousArray<Double>(repeating: 0, count: 40)
        hot[7] = 1_000
        let oneHot = try Problem(topology: topology, loads: LoadTensor(layers: 1, episodes: 1, experts: 40, values: hot))
        for (problem, value) in [(equal, 1.0), (oneHot, 1.28)] {
            let report = try SearchSolver().solve(problem)
            BaselineTests.checkInvariants(report, problem, seed: -1)
            let m = try Metrics.layerMetrics(report.placement, on: problem, layer: 0)
            #expect(m.meanImbalance.isApproximatelyEqual(to: value, relativeTolerance: 1e-12))
            #expect(report.status == .optimal)
            #expect(report.boundSources == [.optimum])
            #expect(report.lowerBounds![0].isApproximatelyEqual(to: value, relativeTolerance: 1e-12))
        }
        // A plan above its bound stays feasible, with the allotment bound.
        let lognormal = try Problem(topology: topology, loads: SyntheticLoads.lognormal(layers: 1, episodes: 4, experts: 48, seed: 3))
        let report = try SearchSolver().solve(lognormal)
        #expect(report.status == .feasible)
        #expect(report.boundSources == [.allotment])
    }

    /// Tiny instances: 2–4 devices × 1–3 slots, up to 7 experts, 1–3 episodes.
    static func tinyProblem(seed: Int) -> Problem {
        RandomInstances.problem(seed: UInt64(seed) &+ 77_000, maxDevices: 4, maxSlots: 3, maxLayers: 1, maxEpisodes: 3)
    }

    @Test("tiny instances: equal to the brute-force optimum in ≥ 95% of seeded cases, never below, mean gap < 1%; bounds never above",
          arguments: [Objective.meanImbalance, .peakSum, .worstImbalance, .aggregateImbalance])
    func againstBruteForce(objective: Objective) throws {
        var equal = 0, total = 0
        var gapSum = 0.0
        for seed in 0..<120 {
            let problem = Self.tinyProblem(seed: seed)
            guard problem.experts <= 7 else { continue }
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
            let report = try SearchSolver().solve(problem, options: SolveOptions(objective: objective))
            BaselineTests.checkInvariants(report, problem, seed: seed)
            let achieved = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).value(of: objective)
            let bound = report.lowerBounds![0]
            #expect(bound <= optimum * (1 + 1e-9) + 1e-12, "seed \(seed): bound \(bound) above optimum \(optimum)")
            #expect(achieved >= optimum * (1 - 1e-9) - 1e-12, "seed \(seed): below the optimum?")
            total += 1
            if achieved <= optimum * (1 + 1e-9) + 1e-12 { equal += 1 }
            if optimum > 0 { gapSum += (achieved - optimum) / optimum }
        }
        #expect(total >= 100)
        #expect(Double(equal) >= 0.95 * Double(total), "\(objective): optimal in \(equal) of \(total)")
        #expect(gapSum / Double(total) < 0.01, "\(objective): mean gap \(gapSum / Double(total))")
    }

    @Test("valid plans on seeded random instances, never worse than greedy on the objective", arguments: 0..<120)
    func validity(seed: Int) throws {
        let problem = RandomInstances.problem(seed: UInt64(seed) &+ 3_000, maxDevices: 12, maxSlots: 5, maxLayers: 3,
                                              maxEpisodes: 6, withCurrent: seed % 2 == 0)
        let objective = Objective.allCases[seed % 4]
        let report = try SearchSolver().solve(problem, options: SolveOptions(objective: objective))
        BaselineTests.checkInvariants(report, problem, seed: seed)
        let search = try Metrics.evaluate(report.placement, on: problem, objective: objective)
        let greedy = try Metrics.evaluate(GreedySolver().solve(problem).placement, on: problem)
        for l in 0..<problem.layers {
            let s = search.layers[l].value(of: objective), g = greedy.layers[l].value(of: objective)
            #expect(s <= g * (1 + 1e-9), "seed \(seed) layer \(l): search \(s) > greedy \(g)")
            #expect(report.lowerBounds![l] <= s * (1 + 1e-9), "seed \(seed): bound above the achieved value")
        }
    }

    @Test("worst over more episodes than the model keeps (summed blocks): never worse than greedy or than the search on every episode", arguments: 0..<8)
    func worstBeyondEpisodeCap(seed: Int) throws {
        let loads = seed % 2 == 0
            ? try SyntheticLoads.lognormal(layers: 3, episodes: 48, experts: 32, seed: UInt64(seed))
            : try SyntheticLoads.spiky(layers: 3, episodes: 48, experts: 32, seed: UInt64(seed))
        let problem = try Problem(topology: Topology(devices: 8, slotsPerDevice: 5), loads: loads)
        let solver = SearchSolver(configuration: .init(episodeCap: 6))
        let report = try solver.solve(problem, options: SolveOptions(objective: .worstImbalance))
        let search = try Metrics.evaluate(report.placement, on: problem, objective: .worstImbalance)
        let greedy = try Metrics.evaluate(GreedySolver().solve(problem).placement, on: problem)
        let unblocked = try Metrics.evaluate(SearchSolver(configuration: .init(episodeCap: 48)).solve(
            problem, options: SolveOptions(objective: .worstImbalance)).placement, on: problem)
        for l in 0..<problem.layers {
            #expect(search.layers[l].worstImbalance <= greedy.layers[l].worstImbalance * (1 + 1e-12),
                    "seed \(seed) layer \(l): search \(search.layers[l].worstImbalance) > greedy \(greedy.layers[l].worstImbalance)")
            #expect(search.layers[l].worstImbalance <= unblocked.layers[l].worstImbalance * (1 + 1e-12),
                    "seed \(seed) layer \(l): search \(search.layers[l].worstImbalance) > unblocked \(unblocked.layers[l].worstImbalance)")
        }
    }

    @Test("deterministic and independent of the thread count")
    func deterministic() throws {
        let problem = BundledExample.deepseekV3.problem
        let a = try SearchSolver().solve(problem).placement
        let b = try SearchSolver().solve(problem, options: SolveOptions(maxThreads: 1)).placement
        #expect(a == b)
    }

    @Test("multi-episode V3-shaped example: far better per-episode balance than the static policies")
    func v3Quality() throws {
        let problem = BundledExample.deepseekV3.problem
        let report = try SearchSolver().solve(problem)
        BaselineTests.checkInvariants(report, problem, seed: -1)
        let search = try Metrics.evaluate(report.placement, on: problem).summary { $0.meanImbalance }!.mean
        let greedy = try Metrics.evaluate(GreedySolver().solve(problem).placement, on: problem).summary { $0.meanImbalance }!.mean
        #expect(search < greedy * 0.93, "search \(search) vs greedy \(greedy)")
    }
}
