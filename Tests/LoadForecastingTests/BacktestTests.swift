import ExpertPlacement
import ExpertPlacementTestSupport
@testable import LoadForecasting
import Testing

@Suite("Planning strategies and backtests")
struct BacktestTests {
    static let topology = Topology(devices: 4, slotsPerDevice: 3)
    static let candidates: [PlanningStrategy] = [.last, .window, .hedged(k: 1), .forecast(.windowMean, includesWindow: false)]
    static let all: [PlanningStrategy] = candidates + [
        .forecast(.trendSeasonal(period: 2), includesWindow: true),
        .forecast(.autoregressive(order: 2, ridge: 0.1), includesWindow: false),
        .forecast(.exponentialMovingAverage(smoothing: 0.3), includesWindow: false),
        .auto(candidates),
    ]

    /// Two load patterns alternating every episode: planning on the last episode is always wrong.
    static func alternating(episodes: Int = 24, seed: UInt64 = 5) throws -> LoadTensor {
        var rng = SeededGenerator(seed: seed)
        return try tensor(layers: 2, episodes: episodes, experts: 8) { _, t, e in
            let hot = t % 2 == 0 ? e < 2 : (e == 6 || e == 7)
            return (hot ? 40 : 5) * (0.9 + 0.2 * rng.nextUnit())
        }
    }

    @Test("names parse and round-trip")
    func names() {
        for s in Self.all {
            #expect(PlanningStrategy(name: s.name, parameters: .init(smoothing: 0.3, period: 2, order: 2, ridge: 0.1),
                                     autoCandidates: Self.candidates) == s, "\(s.name)")
        }
        for bad in ["", "lastt", "hedged:x", "hedged:nan", "forecast:nope", "auto:last", "window:2"] {
            #expect(PlanningStrategy(name: bad, autoCandidates: []) == nil, "\(bad)")
        }
        #expect(PlanningStrategy(name: "hedged:0.5", autoCandidates: [])?.name == "hedged:0.5")
    }

    @Test("no strategy reads the future: changing episodes ≥ t leaves the plan at t unchanged", arguments: all.map(\.name))
    func noPeeking(name: String) throws {
        let strategy = Self.all.first { $0.name == name }!
        let trace = try Self.alternating()
        var changed = trace.values
        let t = 14
        for l in 0..<2 { for i in t..<24 { for e in 0..<8 { changed[(l * 24 + i) * 8 + e] = Double(100 * e + i) } } }
        let other = try LoadTensor(layers: 2, episodes: 24, experts: 8, values: changed)
        let planner = try Planner(solver: GreedySolver(), topology: Self.topology, window: 6, horizon: 2)
        let a = try planner.plan(strategy, trace: trace, origin: t)
        let b = try planner.plan(strategy, trace: other, origin: t)
        #expect(a.placement == b.placement)
        #expect(a.chosen == b.chosen)
    }

    @Test("each step's score is Metrics on [t, t + H) of the plan made at t; origins tile the trace")
    func stepsMatchMetrics() throws {
        let trace = try Self.alternating()
        let planner = try Planner(solver: GreedySolver(), topology: Self.topology, window: 6, horizon: 3)
        let backtester = try Backtester(planner: planner, trace: trace)
        #expect(backtester.origins == [6, 9, 12, 15, 18, 21])
        let result = try backtester.run(.window)
        #expect(result.steps.count == 6 && result.steps[0].moves == nil && result.steps[1].moves != nil)
        var previous: Placement? = nil
        for step in result.steps {
            let plan = try planner.plan(.window, trace: trace, origin: step.origin, current: previous).placement
            let expected = try Metrics.evaluate(plan, on: Problem(topology: Self.topology, loads: trace.slice(step.origin ..< step.origin + 3)))
            #expect(abs(step.realizedMeanImbalance - expected.summary { $0.meanImbalance }!.mean) < 1e-12)
            previous = plan
        }
    }

    @Test("on alternating loads, window beats last and auto learns not to pick last")
    func autoAvoidsLast() throws {
        let trace = try Self.alternating(episodes: 40)
        let planner = try Planner(solver: GreedySolver(), topology: Self.topology, window: 4, horizon: 1)
        let backtester = try Backtester(planner: planner, trace: trace)
        let last = try backtester.run(.last), window = try backtester.run(.window)
        let auto = try backtester.run(.auto(Self.candidates))
        #expect(window.realizedMeanImbalance < 0.9 * last.realizedMeanImbalance)
        #expect(auto.steps.dropFirst(2).allSatisfy { $0.chosen != "last" })
        #expect(auto.realizedMeanImbalance < 0.9 * last.realizedMeanImbalance)
    }

    @Test("after a regime change auto scores only origins that saw the new regime; right after it, a forecast that drops the old one")
    func autoAfterRegimeChange() throws {
        // Experts 0–1 hot before episode 14, experts 6–7 from it on, a little noise throughout.
        var rng = SeededGenerator(seed: 9)
        let trace = try tensor(layers: 2, episodes: 26, experts: 8) { _, t, e in
            let hot = t < 14 ? e < 2 : e >= 6
            return (hot ? 40 : 5) * (0.95 + 0.1 * rng.nextUnit())
        }
        let candidates: [PlanningStrategy] = [.window, .last, .forecast(.windowMean, includesWindow: false)]
        let planner = try Planner(solver: GreedySolver(), topology: Self.topology, window: 8, horizon: 2)
        #expect(planner.regimeChange(trace: trace, origin: 12) == nil, "no change in [4, 12)")
        #expect(planner.regimeChange(trace: trace, origin: 16) == 14)
        #expect(planner.regimeChange(trace: trace, origin: 20) == 14)
        // At 16 every inner origin (14, 12, 10) planned on the old regime alone: the forecast is taken.
        #expect(try planner.choose(among: candidates, trace: trace, origin: 16) == candidates[2])
        // Without a forecast candidate, last.
        #expect(try planner.choose(among: Array(candidates.prefix(2)), trace: trace, origin: 16) == .last)
        // Switched off (threshold 1), no change is seen.
        let blind = try Planner(solver: GreedySolver(), topology: Self.topology, window: 8, horizon: 2, shiftThreshold: 1)
        #expect(blind.regimeChange(trace: trace, origin: 16) == nil)
        // Over the run, auto is within 0.1% of the best candidate and better than the window.
        let backtester = try Backtester(planner: planner, trace: trace)
        let auto = try backtester.run(.auto(candidates))
        let results = try candidates.map { try backtester.run($0).realizedMeanImbalance }
        #expect(auto.realizedMeanImbalance <= 1.001 * results.min()!, "\(auto.realizedMeanImbalance) against \(results)")
        #expect(auto.realizedMeanImbalance < results[0], "\(auto.realizedMeanImbalance) against \(results)")
        #expect(auto.steps.first { $0.origin == 16 }?.chosen == candidates[2].name)
    }

    @Test("the oracle plans on the scored episodes themselves: each step is the method's plan on [t, t + H), relabelled onto the previous one")
    func oracle() throws {
        let trace = try Self.alternating(episodes: 20)
        let planner = try Planner(solver: GreedySolver(), topology: Self.topology, window: 4, horizon: 2)
        let backtester = try Backtester(planner: planner, trace: trace)
        let oracle = try backtester.runOracle()
        #expect(oracle.strategy == "oracle" && oracle.steps.map(\.origin) == backtester.origins)
        #expect(oracle.steps.allSatisfy { $0.chosen == "oracle" })
        var previous: Placement? = nil
        for step in oracle.steps {
            let future = trace.slice(step.origin ..< step.origin + 2)
            let plan = try GreedySolver().solve(Problem(topology: Self.topology, loads: future, current: previous),
                                                options: SolveOptions()).placement
            let value = try Planner<GreedySolver>.realizedMeanImbalance(plan, topology: Self.topology, loads: future)
            #expect(abs(step.realizedMeanImbalance - value) < 1e-12)
            if let previous {
                #expect(step.moves == (0 ..< trace.layers).reduce(0) { $0 + plan.moves(from: previous, layer: $1) })
            }
            previous = plan
        }
        // Knowing the future, greedy does at least as well as every strategy on these loads.
        for strategy in Self.candidates {
            let result = try backtester.run(strategy)
            #expect(oracle.realizedMeanImbalance <= result.realizedMeanImbalance + 1e-12, "\(strategy.name)")
        }
    }

    @Test("hedged is μ + kσ per expert; forecast+window weighs the forecast like the window")
    func planningLoads() throws {
        let trace = try tensor(layers: 1, episodes: 4, experts: 2) { _, t, e in e == 0 ? Double(t % 2) * 2 : 3 }
        let planner = try Planner(solver: GreedySolver(), topology: Topology(devices: 2, slotsPerDevice: 1), window: 4, horizon: 2)
        let (hedged, _) = try planner.planningLoads(.hedged(k: 2), trace: trace, origin: 4)
        #expect(Array(hedged.values) == [1 + 2 * 1, 3])
        let (both, weights) = try planner.planningLoads(.forecast(.windowMean, includesWindow: true), trace: trace, origin: 4)
        #expect(both.episodes == 6)
        #expect(weights.map(Array.init) == [1, 1, 1, 1, 2, 2])
    }

    @Test("planned loads stay in range: a huge K and a diverging ar forecast are refused, never handed to a solver")
    func planningLoadsInRange() throws {
        let trace = try tensor(layers: 1, episodes: 4, experts: 2) { _, t, e in e == 0 ? Double(t % 2) * 2 : 3 }
        let planner = try Planner(solver: GreedySolver(), topology: Topology(devices: 2, slotsPerDevice: 1), window: 4, horizon: 2)
        #expect(throws: ExpertPlacementError.invalidValue(field: "hedgeK", reason:
            "1e+308 makes layer 0 expert 0's hedged load μ + k·σ = 1e+308, above 1e100: use a smaller K")) {
            _ = try planner.planningLoads(.hedged(k: 1e308), trace: trace, origin: 4)
        }
        // Expert 0 oscillates with a growing amplitude: an order-2 autoregression diverges far ahead.
        let growing = try tensor(layers: 1, episodes: 8, experts: 4) { _, t, e in
            e == 0 ? 1e6 + (t % 2 == 1 ? -1 : 1) * Double(1 << t) * 1000 : 1e6
        }
        let ar = ForecastModel.autoregressive(order: 2, ridge: 0.1)
        let far = try Planner(solver: GreedySolver(), topology: Topology(devices: 2, slotsPerDevice: 2), window: 8, horizon: 2000)
        do {
            _ = try far.planningLoads(.forecast(ar, includesWindow: false), trace: growing, origin: 8)
            Issue.record("a diverging forecast was planned on")
        } catch {
            #expect(error.field == "horizon" && error.reason.contains("the ar forecast diverges"), "\(error)")
        }
        let near = try Planner(solver: GreedySolver(), topology: Topology(devices: 2, slotsPerDevice: 2), window: 8, horizon: 100)
        let (loads, _) = try near.planningLoads(.forecast(ar, includesWindow: false), trace: growing, origin: 8)
        #expect(loads.values.allSatisfy { $0.isFinite && $0 <= 1e100 })
    }

    @Test("a trace shorter than window + horizon is refused, naming load")
    func tooShort() throws {
        let planner = try Planner(solver: GreedySolver(), topology: Self.topology, window: 20, horizon: 5)
        #expect(throws: ExpertPlacementError.self) { try Backtester(planner: planner, trace: try Self.alternating()) }
        #expect(throws: ExpertPlacementError.invalidValue(field: "window", reason: "must be at least 1, got 0")) {
            try Planner(solver: GreedySolver(), topology: Self.topology, window: 0, horizon: 5)
        }
    }

    @Test("rebalance-forecast turns its inner policy's regime memory off: the strategy decides what to plan on")
    func forecastPolicyHasNoMemory() {
        var policy = ForecastRebalancePolicy(inner: RebalancePolicy(), strategy: .last, horizon: 4)
        #expect(!policy.inner.regimeMemory.isActive)
        policy.inner = RebalancePolicy()
        #expect(!policy.inner.regimeMemory.isActive)
    }
}
