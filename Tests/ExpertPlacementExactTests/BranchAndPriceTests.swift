@testable import ExpertPlacementExact
import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Branch-and-price")
struct BranchAndPriceTests {
    /// Loads of one layer with `rows` rows in peak units, seeded.
    static func instance(seed: UInt64) -> (model: PatternModel, greedyPeak: Double, average: Double) {
        var rng = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 5)
        let d = Int.random(in: 2...5, using: &rng), s = Int.random(in: 2...3, using: &rng)
        let e = Int.random(in: Swift.max(s, d)...Swift.min(11, d * s), using: &rng)
        let t = Int.random(in: 1...2, using: &rng)
        let rows = (0..<t).map { _ in
            RandomInstances.loads(count: e, experts: e, distribution: RandomInstances.Distribution.allCases.randomElement(using: &rng)!,
                                  rng: &rng).map { $0 }
        }
        let loads = try! LoadTensor(layers: 1, episodes: t, experts: e, values: ContiguousArray(rows.joined()))
        let problem = try! Problem(topology: Topology(devices: d, slotsPerDevice: s), loads: loads)
        let greedy = try! GreedySolver().solve(problem).placement
        let plan = Array(greedy.physicalToLogical)
        let peak = ExactSolver.peak(plan, rows: rows, experts: e, slotsPerDevice: s)
        let average = rows.map { $0.reduce(0, +) / Double(d) }.max()!
        return (PatternModel(experts: e, devices: d, slotsPerDevice: s, rows: rows), peak, average)
    }

    @Test("agrees with the enumerated pattern MIP at seeded θ; its placements are valid and within θ")
    func agreesWithEnumeration() throws {
        var feasible = 0, infeasible = 0
        for seed in 0..<80 {
            let (model, greedyPeak, average) = Self.instance(seed: UInt64(seed))
            let fraction = [0.0, 0.3, 0.6, 0.85, 1.0][seed % 5]
            let theta = average + fraction * (greedyPeak - average)
            let items = model.items(within: theta)
            let far = ContinuousClock.now + .seconds(60)
            var decision = BranchAndPrice(model: model, theta: theta, items: items, verbose: false)
            let answer = try decision.decide(seed: [], deadline: far)
            // The reference: every pattern enumerated, one feasibility MIP.
            let patterns = try #require(model.patterns(items: items, within: theta, limit: 1_000_000, deadline: far))
            let referenceFeasible: Bool
            if items.isEmpty || patterns.isEmpty {
                referenceFeasible = false
            } else {
                let (mip, _) = model.program(items: items, patterns: patterns)
                let solution = try GLPK.solve(mip, timeLimit: 60, verbose: false)
                referenceFeasible = solution.outcome == .optimal || solution.outcome == .feasible
            }
            switch answer {
            case .feasible(let plan):
                feasible += 1
                #expect(referenceFeasible, "seed \(seed): branch-and-price found a plan the MIP says cannot exist")
                let placement = try Placement(topology: Topology(devices: model.devices, slotsPerDevice: model.slotsPerDevice),
                                              experts: model.experts, physicalToLogical: ContiguousArray(plan))
                #expect(Validation.violations(of: placement).isEmpty, "seed \(seed)")
                let peak = ExactSolver.peak(plan, rows: model.rows, experts: model.experts, slotsPerDevice: model.slotsPerDevice)
                #expect(peak <= theta * (1 + 1e-9), "seed \(seed): peak \(peak) above θ \(theta)")
            case .infeasible:
                infeasible += 1
                #expect(!referenceFeasible, "seed \(seed): branch-and-price says infeasible, the MIP found a plan")
            case .unresolved:
                Issue.record("seed \(seed): unresolved without a deadline")
            }
        }
        // Both answers are exercised.
        #expect(feasible >= 20 && infeasible >= 10, "feasible \(feasible), infeasible \(infeasible)")
    }

    @Test("from a poor warm start (a random valid plan), the exact solver still reaches the brute-force optimum",
          arguments: [Objective.aggregateImbalance, .worstImbalance])
    func poorWarmStart(objective: Objective) throws {
        var checked = 0, improved = 0
        for seed in 0..<50 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 77_000, maxDevices: 4, maxSlots: 3,
                                                  maxLayers: 1, maxEpisodes: 2)
            guard problem.experts <= 7 else { continue }
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
            var rng = SeededGenerator(seed: UInt64(seed) &+ 3)
            let random = RandomInstances.randomValidLayer(experts: problem.experts, devices: problem.topology.devices,
                                                          slots: problem.topology.slotsPerDevice, rng: &rng)
            let poor = SolveReport(placement: try Placement(topology: problem.topology, experts: problem.experts,
                                                            physicalToLogical: ContiguousArray(random)),
                                   status: .feasible, method: "random", objective: objective, lowerBounds: nil,
                                   wallTime: .zero, notes: [])
            let report = try ExactSolver().solve(problem, options: SolveOptions(objective: objective), warmStart: poor)
            #expect(report.status == .optimal, "seed \(seed)")
            #expect(Validation.violations(of: report.placement).isEmpty, "seed \(seed)")
            let exact = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).value(of: objective)
            let start = try Metrics.layerMetrics(poor.placement, on: problem, layer: 0).value(of: objective)
            #expect(exact.isApproximatelyEqual(to: optimum, absoluteTolerance: 1e-9, relativeTolerance: 1e-7),
                    "seed \(seed): exact \(exact) vs brute force \(optimum)")
            if exact < start * (1 - 1e-9) { improved += 1 }
            checked += 1
        }
        #expect(checked >= 30)
        #expect(improved >= 10, "the warm start was improved on only \(improved) instances")
    }
}
