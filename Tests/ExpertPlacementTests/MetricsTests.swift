import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Metrics (INTERFACE.md §2)")
struct MetricsTests {
    @Test("equal the naive reference on seeded random instances", arguments: 0..<300)
    func matchesNaiveReference(seed: Int) throws {
        let problem = RandomInstances.problem(seed: UInt64(seed), withCurrent: seed % 3 == 0)
        var rng = SeededGenerator(seed: UInt64(seed) &+ 99)
        var flat = ContiguousArray<Int32>()
        let t = problem.topology
        for _ in 0..<problem.layers {
            flat.append(contentsOf: RandomInstances.randomValidLayer(experts: problem.experts, devices: t.devices,
                                                                     slots: t.slotsPerDevice, rng: &rng))
        }
        let placement = try Placement(topology: t, experts: problem.experts, physicalToLogical: flat)
        let metrics = try Metrics.evaluate(placement, on: problem)
        #expect(metrics.layers.count == problem.layers)
        for l in 0..<problem.layers {
            let naive = NaiveMetrics.layer(placement, problem, layer: l)
            let m = metrics.layers[l]
            #expect(m.meanImbalance.isApproximatelyEqual(to: naive.mean, relativeTolerance: 1e-12), "seed \(seed) layer \(l)")
            #expect(m.worstImbalance.isApproximatelyEqual(to: naive.worst, relativeTolerance: 1e-12), "seed \(seed) layer \(l)")
            #expect(m.aggregateImbalance.isApproximatelyEqual(to: naive.aggregate, relativeTolerance: 1e-12), "seed \(seed) layer \(l)")
            #expect(m.peakSum.isApproximatelyEqual(to: naive.peakSum, absoluteTolerance: 1e-9, relativeTolerance: 1e-12), "seed \(seed) layer \(l)")
            #expect(m.meanImbalance >= 1 - 1e-12 && m.worstImbalance >= m.meanImbalance - 1e-12)
            if let current = problem.current {
                let expected = zip(placement.physicalToLogical(layer: l), current.physicalToLogical(layer: l)).filter { $0 != $1 }.count
                #expect(m.moves == expected)
            } else {
                #expect(m.moves == nil)
            }
        }
    }

    @Test("FlashLB toy: DeepSeek's plan peaks at 232 (1.28), the optimal counts reach 590/3")
    func flashlbToyKnownValues() throws {
        let problem = BundledExample.flashlbToy.problem
        // DeepSeek's map from ../shared/notes/peer-algorithms.md §6(a); GPU 7 holds expert 1 twice.
        let deepseek = try Placement(topology: problem.topology, experts: 8,
                                     layers: [[0, 1, 2, 1, 3, 1, 0, 4, 0, 5, 0, 6, 0, 7, 1, 1]])
        let m = try Metrics.layerMetrics(deepseek, on: problem, layer: 0)
        #expect(m.peakSum == 232)
        #expect(m.aggregateImbalance.isApproximatelyEqual(to: 232 / 181.25, relativeTolerance: 1e-12))
        // An optimal plan with counts (4,3,1,3,1,1,1,2): per-replica 150, 186.67, 120, 40, 20, 10, 10, 5.
        let optimal = try Placement(topology: problem.topology, experts: 8,
                                    layers: [[0, 3, 0, 3, 0, 3, 0, 4, 1, 5, 1, 6, 1, 7, 2, 7]])
        let o = try Metrics.layerMetrics(optimal, on: problem, layer: 0)
        #expect(o.peakSum.isApproximatelyEqual(to: 590.0 / 3, relativeTolerance: 1e-12))
        #expect(Validation.isValid(optimal))
    }

    @Test("an episode without load has imbalance 1; zero-weight episodes are ignored")
    func zeroLoadAndZeroWeight() throws {
        let topology = Topology(devices: 2, slotsPerDevice: 1)
        let loads = try LoadTensor(layers: 1, episodes: 3, experts: 2, values: [0, 0, 30, 10, 1000, 0])
        let problem = try Problem(topology: topology, loads: loads, episodeWeights: [1, 1, 0])
        let placement = try Placement(topology: topology, experts: 2, layers: [[0, 1]])
        let m = try Metrics.layerMetrics(placement, on: problem, layer: 0)
        #expect(m.meanImbalance.isApproximatelyEqual(to: (1 + 1.5) / 2))
        #expect(m.worstImbalance == 1.5)
        #expect(m.peakSum == 30)
        #expect(m.aggregateImbalance == 1.5)
    }

    @Test("evaluation rejects plans that do not fit the instance")
    func rejectsMismatch() throws {
        let problem = BundledExample.flashlbToy.problem
        let missing = try Placement(topology: problem.topology, experts: 8,
                                    layers: [[0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 4, 5]])
        #expect(throws: ExpertPlacementError.invalidValue(field: "phy2log[0]", reason: "expert 6 has no replica")) {
            try Metrics.evaluate(missing, on: problem)
        }
        let wrongShape = try Placement(topology: Topology(devices: 4, slotsPerDevice: 4), experts: 8,
                                       layers: [Array(0..<8) + Array(0..<8)])
        #expect(throws: ExpertPlacementError.self) { try Metrics.evaluate(wrongShape, on: problem) }
        let outOfRange = try Placement(topology: problem.topology, experts: 8,
                                       layers: [[0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 9]])
        #expect(throws: ExpertPlacementError.invalidValue(field: "phy2log[0][15]", reason: "expert id 9 is out of range 0..<8")) {
            try Metrics.evaluate(outOfRange, on: problem)
        }
    }

    @Test("lower bounds fill lowerBound and gap for the objective")
    func gapFromBounds() throws {
        let problem = BundledExample.flashlbToy.problem
        let plan = try GreedySolver().solve(problem).placement
        let metrics = try Metrics.evaluate(plan, on: problem, objective: .peakSum, lowerBounds: [181.25])
        let m = metrics.layers[0]
        #expect(m.lowerBound == 181.25)
        #expect(m.gap!.isApproximatelyEqual(to: (m.peakSum - 181.25) / 181.25))
    }
}
