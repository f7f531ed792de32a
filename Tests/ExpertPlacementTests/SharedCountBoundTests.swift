import ExpertPlacement
import ExpertPlacementTestSupport
import Testing

/// The lower bound with one count vector shared by every episode (``LowerBounds``): never above a
/// brute-force optimum, and above the per-episode bound where episodes disagree on their hot
/// experts.
@Suite("Lower bounds: one replica count for every episode")
struct SharedCountBoundTests {
    /// The per-episode bound alone: each row's `max(average, M*)`, combined by the objective.
    static func perEpisodeBound(_ problem: Problem, objective: Objective) -> Double {
        let model = ObjectiveModel(ProblemLayer(problem, layer: 0), objective: objective)
        return model.value(peaks: LowerBounds.rowBounds(model, slots: problem.topology.slotCount))
    }

    @Test("a hot expert per episode, one spare slot: the bound sees that only one of them can be split")
    func hotExpertPerEpisode() throws {
        // 5 experts on 3 devices × 2 slots (1 spare slot), 3 episodes, each with a different hot
        // expert (6) among light ones (1).
        var values = ContiguousArray<Double>(repeating: 1, count: 3 * 5)
        for t in 0..<3 { values[t * 5 + t] = 6 }
        let problem = try Problem(topology: Topology(devices: 3, slotsPerDevice: 2),
                                  loads: LoadTensor(layers: 1, episodes: 3, experts: 5, values: values))
        for objective in [Objective.meanImbalance, .peakSum, .worstImbalance] {
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
            let old = Self.perEpisodeBound(problem, objective: objective)
            let bound = LowerBounds.bound(problem, layer: 0, objective: objective)
            #expect(bound <= optimum * (1 + 1e-12), "\(objective): bound \(bound) above the optimum \(optimum)")
            // Each episode alone may split its hot expert (peak 3 + 1 = 4 of 10/3); one count
            // vector splits only one of the three, so two episodes peak at 6 + 1 whatever the plan.
            #expect(bound > old * 1.2, "\(objective): \(bound) against the per-episode \(old) (optimum \(optimum))")
        }
        // mean, with one expert's terms per episode (k = 1): two episodes keep a whole hot replica
        // (6), the third is at its own bound (the average 10/3): (6 + 6 + 10/3)/3 ÷ (10/3) = 1.5333.
        #expect(LowerBounds.bound(problem, layer: 0, objective: .meanImbalance) >= 1.5333 * (1 - 1e-9))
    }

    @Test("seeded tiny instances with spiky and skewed loads: never above the brute-force optimum, and higher than the per-episode bound in some",
          arguments: [Objective.meanImbalance, .peakSum, .worstImbalance])
    func neverAboveOptimum(objective: Objective) throws {
        var raised = 0, total = 0
        for seed in 0..<150 {
            var rng = SeededGenerator(seed: UInt64(seed) &+ 91_000)
            let devices = 2 + Int(rng.next() % 3), slots = 1 + Int(rng.next() % 3)
            let experts = Swift.max(slots, Swift.min(7, devices * slots - Int(rng.next() % 3)))
            let episodes = 2 + Int(rng.next() % 3)
            let distribution: RandomInstances.Distribution = seed % 2 == 0 ? .spiky : .zipf
            let values = RandomInstances.loads(count: episodes * experts, experts: experts, distribution: distribution, rng: &rng)
            guard let problem = try? Problem(topology: Topology(devices: devices, slotsPerDevice: slots),
                                             loads: LoadTensor(layers: 1, episodes: episodes, experts: experts, values: values))
            else { continue }
            let (optimum, _) = BruteForce.optimum(problem, layer: 0, objective: objective)
            let bound = LowerBounds.bound(problem, layer: 0, objective: objective)
            #expect(bound <= optimum * (1 + 1e-12) + 1e-12, "seed \(seed): bound \(bound) above the optimum \(optimum)")
            total += 1
            if bound > Self.perEpisodeBound(problem, objective: objective) * (1 + 1e-9) { raised += 1 }
        }
        #expect(total >= 100)
        #expect(raised >= 5, "\(objective): the shared counts raised the bound in \(raised) of \(total)")
    }

    @Test("iid spiky loads over many episodes: the bound rises well above the average, and stays below the search's plan")
    func spikyEpisodes() throws {
        let loads = try SyntheticLoads.spiky(layers: 2, episodes: 32, experts: 256, seed: 1)
        let problem = try Problem(topology: Topology(devices: 32, slotsPerDevice: 9), loads: loads)
        let report = try SearchSolver().solve(problem)
        let metrics = try Metrics.evaluate(report.placement, on: problem)
        for l in 0..<problem.layers {
            let bound = report.lowerBounds![l]
            #expect(bound > 1.05, "layer \(l): \(bound)")
            #expect(bound <= metrics.layers[l].meanImbalance)
            #expect(report.boundSources?[l] == .allotment)
        }
    }
}
