import ExpertPlacement
import Testing

@Suite("Problem model and its errors")
struct ProblemTests {
    func loads(_ e: Int, _ v: Double = 1) throws -> LoadTensor {
        try LoadTensor(layers: 1, episodes: 1, experts: e, values: ContiguousArray(repeating: v, count: e))
    }

    @Test("topology rules name the field")
    func topologyRules() throws {
        let cases: [(Topology, Int, String)] = [
            (Topology(devices: 0, slotsPerDevice: 2), 4, "topology.devices"),
            (Topology(devices: 2, slotsPerDevice: -1), 4, "topology.slotsPerDevice"),
            (Topology(devices: 4, slotsPerDevice: 2, nodes: 3), 8, "topology.nodes"),
            (Topology(devices: 4, slotsPerDevice: 2, expertGroups: 3), 8, "topology.expertGroups"),
            (Topology(devices: 2, slotsPerDevice: 2), 5, "topology"),
            (Topology(devices: 2, slotsPerDevice: 6), 4, "topology.slotsPerDevice"),
        ]
        for (topology, experts, field) in cases {
            #expect(throws: ExpertPlacementError.self) { try topology.validate(experts: experts) }
            do { try topology.validate(experts: experts) } catch { #expect(error.field == field, "\(topology)") }
        }
        try Topology(devices: 32, slotsPerDevice: 9, nodes: 4, expertGroups: 8).validate(experts: 256)
    }

    @Test("loads: NaN, infinite and negative values are named by index")
    func badLoads() {
        #expect(throws: ExpertPlacementError.invalidValue(field: "load[1][0][2]", reason: "NaN is not a valid load")) {
            try LoadTensor(layers: 2, episodes: 1, experts: 3, values: [0, 1, 2, 3, 4, .nan])
        }
        #expect(throws: ExpertPlacementError.invalidValue(field: "load[0][1][0]", reason: "negative load -1.0")) {
            try LoadTensor(layers: 1, episodes: 2, experts: 2, values: [0, 1, -1, 3])
        }
        #expect(throws: ExpertPlacementError.invalidValue(field: "load[0][0][0]",
                                                          reason: "infinite load (Infinity, or a number too large for a double)")) {
            try LoadTensor(layers: 1, episodes: 1, experts: 1, values: [.infinity])
        }
        #expect(throws: ExpertPlacementError.self) { try LoadTensor(layers: 1, episodes: 1, experts: 3, values: [1, 2]) }
    }

    @Test("loads and weights outside [1e-100, 1e100] are refused by index; the edges and 0 are accepted")
    func magnitudes() throws {
        let topology = Topology(devices: 2, slotsPerDevice: 2)
        for (bad, index) in [(1.7e308, 0), (5e-310, 1), (1e101, 2), (1e-101, 0)] {
            var values: ContiguousArray<Double> = [1, 2, 3]
            values[index] = bad
            #expect(throws: ExpertPlacementError.self) { try LoadTensor(layers: 1, episodes: 1, experts: 3, values: values) }
        }
        let loads = try LoadTensor(layers: 1, episodes: 2, experts: 3, values: [1e100, 1e100, 1e-100, 0, 1e100, 1e-100])
        for weights: ContiguousArray<Double> in [[1e-300, 1e-300], [1e308, 1e308], [1, 4.9e-324]] {
            #expect(throws: ExpertPlacementError.self) { try Problem(topology: topology, loads: loads, episodeWeights: weights) }
        }
        let edge = try Problem(topology: topology, loads: loads, episodeWeights: [1e100, 1e-100])
        let plan = try GreedySolver().solve(edge, options: SolveOptions()).placement
        let metrics = try Metrics.evaluate(plan, on: edge)
        for m in metrics.layers {
            let values = [m.meanImbalance, m.worstImbalance, m.aggregateImbalance, m.peakSum]
            #expect(values.allSatisfy { $0.isFinite }, "non-finite metric in \(values)")
        }
    }

    @Test("the vectorised range check agrees with the per-value rule at every length and position")
    func rangeCheckAgreesWithRule() {
        let specials: [Double] = [.nan, -.nan, .infinity, -.infinity, -1, -0.0, 0, 1e-100, 1e100, 1e-101, 1e101,
                                  .leastNonzeroMagnitude, -1e-100, .greatestFiniteMagnitude, 3]
        for n in 0...11 {
            for position in 0..<Swift.max(n, 1) {
                for special in specials {
                    var values = [Double](repeating: 2.5, count: n)
                    if n > 0 { values[position] = special }
                    let expected = values.allSatisfy { Limits.magnitudeProblem($0, what: "load") == nil }
                    let got = values.withUnsafeBufferPointer(Limits.allInRange)
                    #expect(got == expected, "n \(n), value \(special) at \(position)")
                }
            }
        }
    }

    @Test("sizes: overflowing and over-limit topologies are refused, never wrapped")
    func sizes() throws {
        let loads = try LoadTensor(layers: 1, episodes: 1, experts: 3, values: [1, 2, 3])
        for (d, s) in [(1 << 40, 1 << 40), (1 << 62, 1), (1 << 31, 1), (Limits.maximumSlots + 1, 1)] {
            #expect(throws: ExpertPlacementError.self) { try Problem(topology: Topology(devices: d, slotsPerDevice: s), loads: loads) }
            #expect(throws: ExpertPlacementError.self) {
                try Placement(topology: Topology(devices: d, slotsPerDevice: s), experts: 3, physicalToLogical: [0, 1, 2])
            }
        }
        // 2^16 devices for 2^15 experts: P fits, but devices × experts (2^31) is over the table limit.
        #expect(throws: ExpertPlacementError.self) {
            try Limits.checkSizes(layers: 1, episodes: 1, experts: 1 << 15, topology: Topology(devices: 1 << 16, slotsPerDevice: 1))
        }
        try Limits.checkSizes(layers: 61, episodes: 1024, experts: 384, topology: Topology(devices: 64, slotsPerDevice: 8))
        #expect(Limits.product(1 << 40, 1 << 40) == nil)
    }

    @Test("episode weights and current placement are checked")
    func weightsAndCurrent() throws {
        let t = Topology(devices: 2, slotsPerDevice: 2)
        let l = try LoadTensor(layers: 1, episodes: 2, experts: 3, values: [1, 2, 3, 4, 5, 6])
        #expect(throws: ExpertPlacementError.shapeMismatch(field: "episodeWeights", reason: "has 1 entries but the loads have 2 episodes")) {
            try Problem(topology: t, loads: l, episodeWeights: [1])
        }
        #expect(throws: ExpertPlacementError.self) { try Problem(topology: t, loads: l, episodeWeights: [0, 0]) }
        #expect(throws: ExpertPlacementError.self) { try Problem(topology: t, loads: l, episodeWeights: [1, -1]) }
        let bad = try Placement(topology: t, experts: 3, layers: [[0, 1, 2, 3]])
        #expect(throws: ExpertPlacementError.invalidValue(field: "current[0][3]", reason: "expert id 3 is out of range 0..<3")) {
            try Problem(topology: t, loads: l, current: bad)
        }
        let wrongSlots = try Placement(topology: Topology(devices: 3, slotsPerDevice: 2), experts: 3, layers: [[0, 1, 2, 0, 1, 2]])
        #expect(throws: ExpertPlacementError.self) { try Problem(topology: t, loads: l, current: wrongSlots) }
        let good = try Placement(topology: t, experts: 3, layers: [[0, 1, 2, 0]])
        let p = try Problem(topology: t, loads: l, episodeWeights: [2, 1], current: good)
        #expect(p.aggregateLoad(layer: 0) == [6, 9, 12])
    }

    @Test("objective names: command line and JSON keys")
    func objectiveNames() {
        #expect(Objective(name: "mean") == .meanImbalance)
        #expect(Objective(name: "peak-sum") == .peakSum)
        #expect(Objective(name: "aggregateImbalance") == .aggregateImbalance)
        #expect(Objective(name: "median") == nil)
    }

    @Test("bundled examples are valid and have the documented shapes")
    func examples() {
        let v3 = BundledExample.deepseekV3.problem
        #expect(v3.layers == 58 && v3.episodes == 8 && v3.experts == 256 && v3.topology.slotCount == 288)
        #expect(BundledExample.flashlbToy.problem.aggregateLoad(layer: 0).reduce(0, +) == 1450)
        #expect(BundledExample.deepseekReadme.problem.layers == 2)
    }
}
