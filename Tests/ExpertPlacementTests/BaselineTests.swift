import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Greedy and hierarchical baselines")
struct BaselineTests {
    /// Invariants every solver output must keep.
    static func checkInvariants(_ report: SolveReport, _ problem: Problem, seed: Int) {
        let plan = report.placement
        let violations = Validation.violations(of: plan, topology: problem.topology, experts: problem.experts,
                                               layers: problem.layers)
        #expect(violations.isEmpty, "seed \(seed): \(violations.prefix(3))")
        for l in 0..<problem.layers {
            let counts = plan.replicaCounts(layer: l)
            #expect(counts.reduce(0, +) == problem.topology.slotCount, "seed \(seed)")
            #expect(counts.allSatisfy { $0 >= 1 && $0 <= problem.topology.devices }, "seed \(seed)")
        }
        // Feasible, or optimal with the optimum as the bound (the search's proof on tiny layers).
        #expect(report.status == .feasible || report.status == .optimal)
        if report.status == .optimal, let bounds = report.lowerBounds,
           let metrics = try? Metrics.evaluate(plan, on: problem, objective: report.objective) {
            for (layer, bound) in zip(metrics.layers, bounds) {
                #expect(bound >= layer.value(of: report.objective) * (1 - 1e-9), "seed \(seed): optimal with a gap")
            }
        }
    }

    @Test("greedy: valid plans on seeded random instances", arguments: 0..<400)
    func greedyInvariants(seed: Int) throws {
        let problem = RandomInstances.problem(seed: UInt64(seed), maxDevices: 10, maxSlots: 5)
        let report = try GreedySolver().solve(problem)
        Self.checkInvariants(report, problem, seed: seed)
    }

    @Test("greedy: replica counts minimise the largest per-replica load (vs exhaustive search)", arguments: 0..<60)
    func greedyAllotmentIsMinMax(seed: Int) throws {
        let problem = RandomInstances.problem(seed: UInt64(seed) &+ 5000, maxDevices: 4, maxSlots: 3, maxLayers: 1, maxEpisodes: 1)
        let plan = try GreedySolver().solve(problem).placement
        let w = problem.aggregateLoad(layer: 0)
        let counts = plan.replicaCounts(layer: 0)
        let achieved = (0..<problem.experts).map { w[$0] / Double(counts[$0]) }.max()!
        // Exhaustive: all count vectors with 1 ≤ r ≤ D summing to P.
        var best = Double.infinity
        func search(_ e: Int, _ left: Int, _ worst: Double) {
            if e == problem.experts {
                if left == 0 { best = min(best, worst) }
                return
            }
            let remaining = problem.experts - e - 1
            for r in 1...min(problem.topology.devices, left - remaining) {
                search(e + 1, left - r, max(worst, w[e] / Double(r)))
            }
        }
        search(0, problem.topology.slotCount, 0)
        #expect(achieved.isApproximatelyEqual(to: best, relativeTolerance: 1e-12), "seed \(seed)")
    }

    @Test("greedy on FlashLB's toy: the default-greedy peak of 232 (1.28), with no duplicate")
    func greedyToy() throws {
        let problem = BundledExample.flashlbToy.problem
        let report = try GreedySolver().solve(problem)
        Self.checkInvariants(report, problem, seed: -1)
        let m = try Metrics.layerMetrics(report.placement, on: problem, layer: 0)
        #expect(report.placement.replicaCounts(layer: 0) == [5, 5, 1, 1, 1, 1, 1, 1])
        #expect(m.peakSum == 232)
        #expect(m.aggregateImbalance.isApproximatelyEqual(to: 1.28, relativeTolerance: 1e-12))
    }

    @Test("greedy is deterministic and independent of the thread count")
    func greedyDeterministic() throws {
        let problem = BundledExample.deepseekV3.problem
        let a = try GreedySolver().solve(problem).placement
        let b = try GreedySolver().solve(problem).placement
        #expect(a == b)
        let oneThread = try GreedySolver().solve(problem, options: SolveOptions(maxThreads: 1)).placement
        #expect(a == oneThread)
        let hier = try HierarchicalSolver().solve(problem).placement
        #expect(try hier == HierarchicalSolver().solve(problem, options: SolveOptions(maxThreads: 1)).placement)
        // Layer by layer on one thread gives the same plan as the parallel solve.
        for l in [0, 17, 57] {
            let single = try Problem(topology: problem.topology, loads: LoadTensor(
                layers: 1, episodes: problem.episodes, experts: problem.experts,
                values: ContiguousArray(problem.loads.values[problem.loads.layerOffset(l) ..< problem.loads.layerOffset(l + 1)])))
            let s = try GreedySolver().solve(single).placement
            #expect(s.physicalToLogical(layer: 0) == a.physicalToLogical(layer: l))
        }
    }

    @Test("greedy on the DeepSeek-V3-shaped example: aggregate peak/avg ≤ 1.01 in every layer")
    func greedyV3Quality() throws {
        let problem = BundledExample.deepseekV3.problem
        let metrics = try Metrics.evaluate(GreedySolver().solve(problem).placement, on: problem)
        #expect(metrics.summary { $0.aggregateImbalance }!.max < 1.01)
    }

    @Test("hierarchical reproduces the replica counts of DeepSeek EPLB's README example")
    func hierarchicalDeepSeekReadme() throws {
        let problem = BundledExample.deepseekReadme.problem
        let report = try HierarchicalSolver().solve(problem)
        Self.checkInvariants(report, problem, seed: -1)
        // Counts of DeepSeek's printed phy2log:
        // [[5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1], [7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]].
        let deepseek: [[Int]] = [[5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
                                 [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1]]
        let reference = try Placement(topology: problem.topology, experts: 12, layers: deepseek)
        // Tie-breaking follows the reference, so even the slot order is the same.
        #expect(report.placement.physicalToLogical(layer: 0) == deepseek[0])
        #expect(report.placement.physicalToLogical(layer: 1) == deepseek[1])
        for l in 0..<2 {
            #expect(report.placement.replicaCounts(layer: l) == reference.replicaCounts(layer: l))
            // Same node for every expert: slots 0..<8 are node 0.
            let nodeOf = { (plan: Placement) in (0..<12).map { e in plan.physicalToLogical(layer: l).firstIndex(of: e)! / 8 } }
            #expect(nodeOf(report.placement) == nodeOf(reference))
        }
        // Same per-device loads as the reference, as multisets per node.
        let ours = try Metrics.evaluate(report.placement, on: problem)
        let theirs = try Metrics.evaluate(reference, on: problem)
        for l in 0..<2 {
            #expect(ours.layers[l].peakSum.isApproximatelyEqual(to: theirs.layers[l].peakSum, relativeTolerance: 1e-12))
        }
    }

    @Test("hierarchical: valid plans on seeded random instances with nodes and groups", arguments: 0..<300)
    func hierarchicalInvariants(seed: Int) throws {
        let problem = RandomInstances.problem(seed: UInt64(seed) &+ 10_000, maxDevices: 8, maxSlots: 4,
                                              withNodesAndGroups: true)
        let report = try HierarchicalSolver().solve(problem)
        Self.checkInvariants(report, problem, seed: seed)
        // Each node holds only the experts of whole groups, and the same number of slots.
        let t = problem.topology
        if t.expertGroups % t.nodes == 0 {
            let groupSize = problem.experts / t.expertGroups
            let slotsPerNode = t.slotCount / t.nodes
            for l in 0..<problem.layers {
                let phy = report.placement.physicalToLogical(layer: l)
                for g in 0..<t.expertGroups {
                    let nodes = Set(phy.indices.filter { phy[$0] / groupSize == g }.map { $0 / slotsPerNode })
                    #expect(nodes.count == 1, "seed \(seed): group \(g) spans nodes \(nodes)")
                }
            }
        }
    }

    @Test("hierarchical falls back to the global policy when groups do not divide by nodes")
    func hierarchicalFallback() throws {
        let loads = try LoadTensor(layers: 1, episodes: 1, experts: 6, values: [9, 1, 4, 4, 2, 7])
        let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 2, nodes: 2, expertGroups: 3), loads: loads)
        let report = try HierarchicalSolver().solve(problem)
        Self.checkInvariants(report, problem, seed: -1)
        #expect(report.notes.count == 1)
        #expect(try report.placement == GreedySolver().solve(problem).placement)
    }

    @Test("hierarchical refuses nodes with fewer experts than slots per device")
    func hierarchicalInfeasible() throws {
        let loads = try LoadTensor(layers: 1, episodes: 1, experts: 4, values: [1, 2, 3, 4])
        let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 3, nodes: 4, expertGroups: 4), loads: loads)
        #expect(throws: ExpertPlacementError.self) { try HierarchicalSolver().solve(problem) }
    }

    @Test("hierarchical on V3 with one group per node shows the documented pinning weakness")
    func hierarchicalPinning() throws {
        // 64 devices × 5 slots, 8 nodes, 8 groups, lognormal loads: groups are pinned to nodes.
        var rng = SeededGenerator(seed: 7)
        let values = RandomInstances.loads(count: 8 * 256, experts: 256, distribution: .lognormal, rng: &rng)
        let loads = try LoadTensor(layers: 8, episodes: 1, experts: 256, values: values)
        let problem = try Problem(topology: Topology(devices: 64, slotsPerDevice: 5, nodes: 8, expertGroups: 8), loads: loads)
        let hier = try Metrics.evaluate(HierarchicalSolver().solve(problem).placement, on: problem)
        let greedy = try Metrics.evaluate(GreedySolver().solve(problem).placement, on: problem)
        #expect(hier.summary { $0.aggregateImbalance }!.mean > 1.2)
        #expect(greedy.summary { $0.aggregateImbalance }!.mean < 1.05)
    }
}
