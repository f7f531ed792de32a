import ExpertPlacement
import ExpertPlacementTestSupport
import Testing

/// `[L][N][E]` loads switching between two regimes every `period` iterations: regime A makes
/// experts 0–1 hot, regime B experts 6–7 (4× the others), with ±10 % noise.
private func alternating(period: Int, periods: Int, layers: Int = 2, experts: Int = 8, seed: UInt64 = 5) throws -> LoadTensor {
    var rng = SeededGenerator(seed: seed)
    var values = ContiguousArray<Double>()
    for _ in 0..<layers {
        for t in 0..<(period * periods) {
            for x in 0..<experts {
                let hot = (t / period) % 2 == 0 ? x < 2 : x >= experts - 2
                values.append(((hot ? 400 : 100) * (0.9 + 0.2 * rng.nextUnit())).rounded())
            }
        }
    }
    return try LoadTensor(layers: layers, episodes: period * periods, experts: experts, values: values)
}

@Suite("RegimeMemory")
struct RegimeMemoryTests {
    private let topology = Topology(devices: 4, slotsPerDevice: 3)

    private func window(_ loads: LoadTensor, from start: Int, count: Int) throws -> Problem {
        var values = ContiguousArray<Double>()
        for l in 0..<loads.layers {
            for t in start..<(start + count) {
                for x in 0..<loads.experts { values.append(loads[l, t, x]) }
            }
        }
        let slice = try LoadTensor(layers: loads.layers, episodes: count, experts: loads.experts, values: values)
        let plain = OnlineSimulator.plainPlacement(topology: topology, experts: loads.experts, layers: loads.layers)
        return try Problem(topology: topology, loads: slice, current: plain)
    }

    @Test("blocks: consecutive sums that keep every layer's and expert's total", arguments: [(10, 3), (16, 8), (5, 8), (7, 1)])
    func blocks(iterations: Int, count: Int) throws {
        let loads = try alternating(period: 3, periods: (iterations + 2) / 3, layers: 3, experts: 5)
        let w = try window(loads, from: 0, count: iterations)
        var memory = RegimeMemory(windows: 4, blocksPerWindow: count)
        try memory.observe(w)
        let b = try #require(memory.remembered.last)
        #expect(b.episodes == min(count, iterations) && b.layers == 3 && b.experts == 5)
        for l in 0..<3 {
            for x in 0..<5 {
                let total = (0..<iterations).reduce(0.0) { $0 + w.loads[l, $1, x] }
                let summed = (0..<b.episodes).reduce(0.0) { $0 + b[l, $1, x] }
                #expect(summed == total)
            }
            // Block k holds iterations [k·T/B, (k+1)·T/B): its first iteration is ⌈k·T/B⌉.
            for k in 0..<b.episodes {
                let from = (k * iterations + b.episodes - 1) / b.episodes, to = ((k + 1) * iterations + b.episodes - 1) / b.episodes
                #expect(b[l, k, 0] == (from..<to).reduce(0.0) { $0 + w.loads[l, $1, 0] })
            }
        }
    }

    @Test("the memory problem: none before two windows; the newest share and the oldest dropped")
    func memoryProblem() throws {
        let loads = try alternating(period: 16, periods: 5)
        var memory = RegimeMemory(windows: 3, newestShare: 0.6, blocksPerWindow: 4)
        try memory.observe(try window(loads, from: 0, count: 16))
        let early = try memory.memoryProblem(for: try window(loads, from: 0, count: 16))
        #expect(early == nil)
        for c in 1..<5 { try memory.observe(try window(loads, from: 16 * c, count: 16)) }
        #expect(memory.remembered.count == 3)
        let newest = try window(loads, from: 64, count: 16)
        let problem = try #require(try memory.memoryProblem(for: newest))
        #expect(problem.episodes == 12 && problem.current == newest.current)
        let w = problem.episodeWeights
        #expect(abs(w[8...].reduce(0, +) - 0.6) < 1e-12 && abs(w[..<8].reduce(0, +) - 0.4) < 1e-12)
        // The oldest remembered window is the third (iterations 32–47), regime A.
        #expect(problem.loads[0, 0, 0] == (32..<36).reduce(0.0) { $0 + loads[0, $1, 0] })
        var off = RegimeMemory(windows: 1)
        try off.observe(newest)
        let none = try off.memoryProblem(for: newest)
        #expect(!off.isActive && none == nil)
    }

    @Test("scores: each previous plan's realised mean imbalance, discounted; the better one is chosen")
    func scores() throws {
        let loads = try alternating(period: 16, periods: 4)
        let a = try window(loads, from: 0, count: 16), b = try window(loads, from: 16, count: 16)
        let fitsA = try SearchSolver().solve(a).placement, fitsB = try SearchSolver().solve(b).placement
        let valueOn = { (p: Placement, w: Problem) throws -> Double in
            try Metrics.evaluate(p, on: w).summary { $0.meanImbalance }!.mean
        }
        let bOnA = try valueOn(fitsB, a), aOnA = try valueOn(fitsA, a)
        let bOnB = try valueOn(fitsB, b), aOnB = try valueOn(fitsA, b)
        var memory = RegimeMemory(windows: 4, discount: 0.5)
        try memory.observe(a)
        #expect(memory.choose(window: fitsB, memory: fitsA) == .window, "no evidence yet: the window plan")
        try memory.observe(a)
        #expect(memory.scores.window == bOnA && memory.scores.memory == aOnA)
        #expect(memory.choose(window: fitsB, memory: fitsA) == .memory)
        try memory.observe(b)
        #expect(abs(memory.scores.window - (0.5 * bOnA + bOnB)) < 1e-12)
        #expect(abs(memory.scores.memory - (0.5 * aOnA + aOnB)) < 1e-12)
        #expect(memory.choices == [.window, .memory])
    }

    @Test("regimes that alternate every interval: the rebalance policy with memory serves them better")
    func alternatingRegimes() throws {
        let loads = try alternating(period: 16, periods: 12)
        let simulator = try OnlineSimulator(trace: loads, topology: topology,
                                            configuration: .init(window: 16, interval: 16, layersPerIteration: 2,
                                                                 policyTime: .fixedIterations(0)))
        var plain = RebalancePolicy()
        plain.regimeMemory = RegimeMemory(windows: 0)
        var remembering = RebalancePolicy()
        let without = try simulator.run(&plain), with = try simulator.run(&remembering)
        #expect(remembering.regimeMemory.choices.count == with.calls.count)
        #expect(remembering.regimeMemory.choices.contains(.memory))
        #expect(plain.regimeMemory.choices.isEmpty)
        // The last window's plan always serves the other regime; the memory's serves both.
        #expect(with.meanPAR < without.meanPAR - 0.05, "with \(with.meanPAR), without \(without.meanPAR)")
        #expect(Validation.isValid(with.finalPlacement))
    }

    /// Regimes alternating every 16 iterations, the plain placement, and the simulated policy and a
    /// stateful Rebalancer with the regime memory on the same options (move cost 0.002), both
    /// pricing by `payback` when given.
    private func policyAndRebalancer(payback: PaybackEstimate? = nil) throws
        -> (LoadTensor, Placement, RebalancePolicy, Rebalancer<SearchSolver>) {
        let loads = try alternating(period: 16, periods: 8)
        let plain = OnlineSimulator.plainPlacement(topology: topology, experts: loads.experts, layers: loads.layers)
        let options = RebalanceOptions(moves: MovePolicy(cost: 0.002))
        var policy = RebalancePolicy(options: options)
        policy.payback = payback
        var rebalancer = Rebalancer(solver: SearchSolver(), options: options, deployed: plain)
        rebalancer.regimeMemory = RegimeMemory(windows: 8)
        rebalancer.payback = payback
        return (loads, plain, policy, rebalancer)
    }

    @Test("the stateful Rebalancer with a memory decides as the simulated rebalance policy does")
    func rebalancerMatchesPolicy() throws {
        var (loads, plain, policy, rebalancer) = try policyAndRebalancer()
        var forgetful = Rebalancer(solver: SearchSolver(), options: rebalancer.options, deployed: plain)
        var deployed = plain
        var choices: [RegimeMemory.Choice] = []
        for call in 0..<8 {
            let w = try window(loads, from: call * 16, count: 16)
            let decision = try policy.decide(window: try Problem(topology: topology, loads: w.loads, current: deployed))
            let plan = try rebalancer.rebalance(window: w.loads)
            let alone = try forgetful.rebalance(window: w.loads)
            #expect(plan.placement == decision.placement, "call \(call)")
            #expect(plan.priority == decision.priority, "call \(call)")
            #expect(alone.plannedOn == nil)
            #expect(Validation.changeViolations(of: plan.placement, from: deployed, limit: 1).isEmpty)
            choices.append(try #require(plan.plannedOn))
            deployed = decision.placement
        }
        #expect(choices == policy.regimeMemory.choices)
        #expect(choices.prefix(2) == [.window, .window])
        #expect(choices.contains(.memory))
        #expect(rebalancer.recordedImbalance.map { $0! } == policy.recordedImbalance!.map { $0! })
    }

    @Test("with a measured payback horizon too, the stateful Rebalancer prices and decides as the simulated policy does")
    func rebalancerMatchesPolicyWithPayback() throws {
        var (loads, plain, policy, rebalancer) = try policyAndRebalancer(payback: PaybackEstimate(unitPrice: 0.004))
        var deployed = plain
        for call in 0..<8 {
            let w = try window(loads, from: call * 16, count: 16)
            let decision = try policy.decide(window: try Problem(topology: topology, loads: w.loads, current: deployed))
            let plan = try rebalancer.rebalance(window: w.loads)
            #expect(plan.placement == decision.placement, "call \(call)")
            #expect(plan.priority == decision.priority, "call \(call)")
            deployed = decision.placement
        }
        #expect(rebalancer.payback?.history == policy.payback?.history)
        #expect(rebalancer.payback?.history.count == 8)
        #expect(Set(rebalancer.payback?.history ?? []).count > 1, "the horizon moved: \(rebalancer.payback?.history ?? [])")
    }

    @Test("a memory is cleared when the topology of the window changes")
    func topologyChangeClears() throws {
        let loads = try alternating(period: 16, periods: 2)
        var memory = RegimeMemory(windows: 4)
        let first = try window(loads, from: 0, count: 16)
        _ = try memory.step(first) { (p: Problem, _: RegimeMemory.Choice) throws(ExpertPlacementError) -> RebalancePlan in
            try Rebalancer.plan(p, solver: SearchSolver(), options: RebalanceOptions())
        }
        let other = Topology(devices: 2, slotsPerDevice: 6)
        let second = try Problem(topology: other, loads: try window(loads, from: 16, count: 16).loads,
                                 current: OnlineSimulator.plainPlacement(topology: other, experts: 8, layers: 2))
        try memory.observe(second)
        #expect(memory.remembered.count == 1)
        #expect(memory.scores.window == 0 && memory.scores.memory == 0)
    }

    @Test("bad settings name the field")
    func badSettings() throws {
        let w = try window(try alternating(period: 16, periods: 1), from: 0, count: 16)
        for (memory, field) in [(RegimeMemory(windows: -1), "regimeMemory"),
                                (RegimeMemory(windows: 4, newestShare: 0), "regimeMemory.newestShare"),
                                (RegimeMemory(windows: 4, blocksPerWindow: 0), "regimeMemory.blocksPerWindow"),
                                (RegimeMemory(windows: 4, discount: 1.5), "regimeMemory.discount")] {
            var policy = RebalancePolicy()
            policy.regimeMemory = memory
            #expect(throws: ExpertPlacementError.self) { try policy.decide(window: w) }
            do { _ = try policy.decide(window: w) } catch { #expect(error.field == field) }
        }
    }
}
