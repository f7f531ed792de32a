import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

@Suite("Objective model")
struct ObjectiveModelTests {
    @Test("the model's value of a random valid plan equals Metrics, for every objective (400 seeded instances)",
          arguments: Objective.allCases)
    func equalsMetrics(objective: Objective) throws {
        for seed in 0..<400 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 31_000, maxDevices: 6, maxSlots: 3,
                                                  maxLayers: 2, maxEpisodes: 5, withCurrent: true)
            let current = problem.current!
            let s = problem.topology.slotsPerDevice
            for l in 0..<problem.layers {
                let model = ObjectiveModel(ProblemLayer(problem, layer: l), objective: objective)
                let row = current.physicalToLogical(layer: l).map(Int32.init)
                let expected = try Metrics.layerMetrics(current, on: problem, layer: l).value(of: objective)
                let got = model.value(of: row, slotsPerDevice: s)
                #expect(got.isApproximatelyEqual(to: expected, relativeTolerance: 1e-12),
                        "seed \(seed), layer \(l): model \(got), Metrics \(expected)")
            }
        }
    }

    @Test("with an episode cap the model sums consecutive episodes into blocks; the lower bound stays below Metrics")
    func blocksAndBound() throws {
        for seed in 0..<100 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 32_000, maxDevices: 6, maxSlots: 3,
                                                  maxLayers: 1, maxEpisodes: 6, withCurrent: true)
            let layer = ProblemLayer(problem, layer: 0)
            let blocked = ObjectiveModel(layer, objective: .peakSum, episodeCap: 2)
            #expect(blocked.rowCount <= 2)
            // Blocks partition the positive-weight episodes: the total scaled load is unchanged.
            let full = ObjectiveModel(layer, objective: .peakSum)
            #expect(blocked.rows.reduce(0, +).isApproximatelyEqual(to: full.rows.reduce(0, +), relativeTolerance: 1e-12))
            for objective in Objective.allCases {
                let achieved = try Metrics.layerMetrics(problem.current!, on: problem, layer: 0).value(of: objective)
                let bound = LowerBounds.bound(problem, layer: 0, objective: objective)
                #expect(bound <= achieved * (1 + 1e-12), "seed \(seed), \(objective): bound \(bound) above \(achieved)")
            }
        }
    }
}
