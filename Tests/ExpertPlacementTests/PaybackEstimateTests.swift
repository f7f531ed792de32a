import ExpertPlacement
import ExpertPlacementTestSupport
import Testing

@Suite("PaybackEstimate")
struct PaybackEstimateTests {
    private let topology = Topology(devices: 2, slotsPerDevice: 2)

    /// One layer, `episodes` copies of `row` (3 experts on 2 × 2 slots), deployed as `current`.
    private func window(_ row: [Double], episodes: Int = 2, current: Placement) throws -> Problem {
        let loads = try LoadTensor(layers: 1, episodes: episodes, experts: 3,
                                   values: ContiguousArray((0..<episodes).flatMap { _ in row }))
        return try Problem(topology: topology, loads: loads, current: current)
    }

    private func placement(_ row: [Int]) throws -> Placement {
        try Placement(topology: topology, experts: 3, physicalToLogical: ContiguousArray(row.map(Int32.init)))
    }

    @Test("the horizon is the range's lower end until measured, 1/(1 − ρ̄) after: a gain that lasts gives the upper end, one that vanishes halves ρ̄")
    func horizons() throws {
        // Expert 0 is hot: `bad` replicates expert 2 instead, `good` replicates expert 0.
        let bad = try placement([0, 2, 1, 2]), good = try placement([0, 1, 0, 2])
        let hot = [600.0, 100, 100]
        var estimate = PaybackEstimate(unitPrice: 0.8)
        #expect(try estimate.update(window: window(hot, current: bad)) == 2)
        #expect(estimate.price == 0.4)
        try estimate.record(plan: good, on: window(hot, current: bad))
        // The same loads again: the whole gain survived (ρ = 1).
        #expect(try estimate.update(window: window(hot, current: good)) == 8)
        #expect(estimate.persistence == 1)
        #expect(estimate.price == 0.1)
        try estimate.record(plan: bad, on: window(hot, current: good))  // a loss: nothing to measure next
        #expect(try estimate.update(window: window(hot, current: bad)) == 8, "no gain recorded: unchanged")
        try estimate.record(plan: good, on: window(hot, current: bad))
        // Uniform loads next: `good` saves nothing over `bad` there (ρ = 0), ρ̄ = ½ → k = 2.
        let flat = [100.0, 100, 100]
        let measured = try estimate.update(window: window(flat, current: good))
        #expect(estimate.persistence == 0.5)
        #expect(measured == 2)
        #expect(estimate.history == [2, 8, 8, 2])
        // A persistence between the ends: ρ̄ = 0.75 → k = 4.
        var mid = PaybackEstimate(unitPrice: 1, smoothing: 0.5)
        _ = try mid.update(window: window(hot, current: bad))
        try mid.record(plan: good, on: window(hot, current: bad))
        _ = try mid.update(window: window(hot, current: good))  // ρ̄ = 1
        try mid.record(plan: bad, on: window(hot, current: good))
        _ = try mid.update(window: window(hot, current: bad))
        try mid.record(plan: good, on: window(hot, current: bad))
        let half = [350.0, 100, 100]  // the gain on these loads is half of that on `hot`
        let saved = try Metrics.evaluate(bad, on: window(half, current: good)).layers[0].meanImbalance
            - Metrics.evaluate(good, on: window(half, current: good)).layers[0].meanImbalance
        let gain = try Metrics.evaluate(bad, on: window(hot, current: bad)).layers[0].meanImbalance
            - Metrics.evaluate(good, on: window(hot, current: bad)).layers[0].meanImbalance
        let rho = saved / gain
        let k = try mid.update(window: window(half, current: good))
        let expected = Swift.min(8, Swift.max(2, 1 / (1 - (0.5 + 0.5 * rho))))
        #expect(abs(k - expected) < 1e-12, "ρ = \(rho): k \(k), expected \(expected)")
    }

    @Test("a window of another topology starts the measurement afresh (what was measured is forgotten) instead of failing")
    func topologyChange() throws {
        var estimate = PaybackEstimate(unitPrice: 1)
        let bad = try placement([0, 2, 1, 2]), good = try placement([0, 1, 0, 2])
        _ = try estimate.update(window: window([600, 100, 100], current: bad))
        try estimate.record(plan: good, on: window([600, 100, 100], current: bad))
        #expect(try estimate.update(window: window([600, 100, 100], current: good)) == 8)  // measured: ρ̄ = 1
        try estimate.record(plan: bad, on: window([600, 100, 100], current: good))
        _ = try estimate.update(window: window([600, 100, 100], current: bad))
        try estimate.record(plan: good, on: window([600, 100, 100], current: bad))
        #expect(estimate.persistence == 1)
        let other = Topology(devices: 3, slotsPerDevice: 1)
        let moved = try Placement(topology: other, experts: 3, physicalToLogical: [0, 1, 2])
        let loads = try LoadTensor(layers: 1, episodes: 1, experts: 3, values: [600, 100, 100])
        #expect(try estimate.update(window: Problem(topology: other, loads: loads, current: moved)) == 2)
        #expect(estimate.persistence == nil)
    }

    @Test("the rebalance policy prices each call by the estimate: its first decision is the fixed policy's at 2 intervals")
    func policy() throws {
        let problem = RandomInstances.problem(seed: 3, maxEpisodes: 6, withCurrent: true)
        var fixed = RebalancePolicy(options: RebalanceOptions(moves: MovePolicy(cost: 0.01)))
        var adaptive = RebalancePolicy(options: RebalanceOptions(moves: MovePolicy(cost: 123)))
        adaptive.payback = PaybackEstimate(unitPrice: 0.02)
        let a = try fixed.decide(window: problem), b = try adaptive.decide(window: problem)
        #expect(a.placement == b.placement && a.priority == b.priority)
        #expect(adaptive.payback?.history == [2])
    }
}
