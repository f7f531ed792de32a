import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Metrics (INTERFACE.md §2)")
struct MetricsTests {
    /// The evaluator sums four episodes at a time in SIMD lanes; each lane must do exactly what
    /// one episode alone does: device sums of `w · (1/r)` in slot order. Episode counts 1…11
    /// cover full blocks of four and every tail, with some zero weights.
    @Test("are bit-identical to scalar device sums in slot order", arguments: 1...11)
    func bitIdenticalToScalarSums(episodes: Int) throws {
        var rng = SeededGenerator(seed: UInt64(episodes) &* 7919)
        let topology = Topology(devices: 5, slotsPerDevice: 3)
        let e = 11, layers = 2, p = topology.slotCount
        let values = ContiguousArray((0..<(layers * episodes * e)).map { _ in Double.random(in: 0...1000, using: &rng) })
        let weights = ContiguousArray((0..<episodes).map { t in t % 3 == 2 ? 0 : Double.random(in: 0.1...2, using: &rng) })
        let rows = (0..<layers).map { _ in (0..<e).map { $0 } + (0..<(p - e)).map { _ in Int.random(in: 0..<e, using: &rng) } }
        let placement = try Placement(topology: topology, experts: e, layers: rows.map { $0.shuffled(using: &rng) })
        let loads = try LoadTensor(layers: layers, episodes: episodes, experts: e, values: values)
        let problem = try Problem(topology: topology, loads: loads,
                                  episodeWeights: weights.contains { $0 > 0 } ? weights : nil)
        let metrics = try Metrics.evaluate(placement, on: problem)
        for l in 0..<layers {
            let row = placement.physicalToLogical(layer: l)
            var counts = [Int](repeating: 0, count: e)
            for x in row { counts[x] += 1 }
            let share = counts.map { 1.0 / Double($0) }
            var weightSum = 0.0, rhoSum = 0.0, worst = 0.0, peakSum = 0.0
            for t in 0..<episodes where problem.episodeWeights[t] != 0 {
                let omega = problem.episodeWeights[t]
                var total = 0.0, peak = 0.0
                for dev in 0..<topology.devices {
                    var sum = 0.0
                    for q in dev * 3 ..< dev * 3 + 3 { sum += loads[l, t, row[q]] * share[row[q]] }
                    total += sum
                    peak = max(peak, sum)
                }
                let rho = peak * Double(topology.devices) / total
                weightSum += omega
                rhoSum += omega * rho
                worst = max(worst, rho)
                peakSum += omega * peak
            }
            let m = metrics.layers[l]
            #expect(m.meanImbalance == rhoSum / weightSum, "layer \(l)")
            #expect(m.worstImbalance == worst, "layer \(l)")
            #expect(m.peakSum == peakSum, "layer \(l)")
        }
    }

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
