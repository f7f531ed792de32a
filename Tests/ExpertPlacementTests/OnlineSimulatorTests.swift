import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

/// A seeded trace `[L][N][E]`: lognormal-like loads, a few zero loads, and one all-zero iteration.
private func randomTrace(seed: UInt64, layers: Int = 3, iterations: Int = 40, experts: Int = 6) throws -> LoadTensor {
    var rng = SeededGenerator(seed: seed)
    var values = ContiguousArray<Double>()
    for _ in 0..<layers {
        let popularity = (0..<experts).map { _ in Double.exp(1.2 * rng.nextGaussian()) }
        for t in 0..<iterations {
            for x in 0..<experts {
                let draw = rng.nextUnit()
                values.append(t == 5 || draw < 0.05 ? 0 : (popularity[x] * 100 * (0.5 + draw)).rounded())
            }
        }
    }
    return try LoadTensor(layers: layers, episodes: iterations, experts: experts, values: values)
}

/// The same rows, each changed layer's row rotated left by `l + 1` slots.
private func rotated(_ placement: Placement, layers: [Int]) throws(ExpertPlacementError) -> Placement {
    let p = placement.slotsPerLayer
    var flat = placement.physicalToLogical
    for l in layers {
        let row = placement.physicalToLogical(layer: l)
        for q in 0..<p { flat[l * p + q] = Int32(row[(q + l + 1) % p]) }
    }
    return try Placement(topology: placement.topology, experts: placement.experts, physicalToLogical: flat)
}

/// A test policy whose decisions are scripted: call `c` rotates the rows of `script[c]`'s layers
/// and lists them in that order (calls beyond the script change nothing).
private struct ScriptedPolicy: SimulationPolicy {
    var script: [[Int]]
    var calls = 0
    var name: String { "scripted" }

    mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
        defer { calls += 1 }
        let current = window.current!
        let layers = calls < script.count ? script[calls] : []
        return PolicyDecision(placement: try rotated(current, layers: layers), priority: layers)
    }
}

private let topology = Topology(devices: 4, slotsPerDevice: 2)

@Suite("OnlineSimulator")
struct OnlineSimulatorTests {
    @Test("accounting equals a naive per-iteration replay (greedy and search policies)", arguments: [
        // (seed, window, interval, k, delay)
        (0, 8, 8, 1, 2), (1, 8, 8, 2, 0), (2, 12, 8, 1, 9), (3, 8, 8, 3, 5), (4, 5, 8, 1, 40), (5, 16, 4, 1, 1),
    ])
    func matchesNaive(seed: Int, window: Int, interval: Int, k: Int, delay: Int) throws {
        let trace = try randomTrace(seed: UInt64(seed))
        let config = OnlineSimulator.Configuration(window: window, interval: interval, layersPerIteration: k,
                                                   policyTime: .fixedIterations(delay))
        let simulator = try OnlineSimulator(trace: trace, topology: topology, configuration: config)
        func check<P: SimulationPolicy>(_ make: () -> P) throws {
            var policy = make(), naivePolicy = make()
            let report = try simulator.run(&policy)
            let naive = try NaiveSimulator.run(trace: trace, topology: topology, start: simulator.initial,
                                               window: window, interval: interval, layersPerIteration: k,
                                               delay: delay, policy: &naivePolicy)
            let label = "seed \(seed) \(report.policy)"
            #expect(report.meanPAR.isApproximatelyEqual(to: naive.meanPAR, relativeTolerance: 1e-12), "\(label)")
            for (a, b) in zip(report.perIterationPAR, naive.par) {
                #expect(a.isApproximatelyEqual(to: b, relativeTolerance: 1e-12), "\(label)")
            }
            #expect(report.moves == naive.moves, "\(label)")
            #expect(report.layersChanged == naive.layersChanged, "\(label)")
            #expect(report.rebalances == naive.rebalances, "\(label)")
            #expect(report.modelledCostSeconds.isApproximatelyEqual(to: naive.cost, relativeTolerance: 1e-12), "\(label)")
            let applied = report.calls.flatMap(\.applied).map { [$0.layer, $0.iteration] }
            #expect(applied == naive.applied.map { [$0.layer, $0.iteration] }, "\(label)")
            #expect(report.calls.map(\.moves).reduce(0, +) == report.moves)
            #expect(report.delayIterations == delay * report.rebalances)
            #expect(report.perIterationPAR[5] == 1, "an iteration without load has PAR 1")
        }
        try check { GreedyPolicy() }
        try check { ResolvePolicy() }
        try check { ScriptedPolicy(script: [[2, 0, 1], [1], [], [0, 2]]) }
    }

    @Test("none: no moves, and PAR of the fixed placement evaluated per iteration", arguments: [false, true])
    func noneIsStatic(randomCurrent: Bool) throws {
        let trace = try randomTrace(seed: 11)
        var current: Placement? = nil
        if randomCurrent {
            var rng = SeededGenerator(seed: 12)
            var flat = ContiguousArray<Int32>()
            for _ in 0..<trace.layers {
                flat.append(contentsOf: RandomInstances.randomValidLayer(experts: 6, devices: 4, slots: 2, rng: &rng))
            }
            current = try Placement(topology: topology, experts: 6, physicalToLogical: flat)
        }
        let simulator = try OnlineSimulator(trace: trace, topology: topology, current: current,
                                            configuration: .init(window: 8, interval: 8))
        var policy = NoRebalancePolicy()
        let report = try simulator.run(&policy)
        #expect(report.moves == 0 && report.layersChanged == 0)
        #expect(report.rebalances == 4)
        #expect(report.finalPlacement == simulator.initial)
        let metrics = try Metrics.evaluate(simulator.initial, on: Problem(topology: topology, loads: trace))
        let expected = metrics.summary { $0.meanImbalance }!.mean
        #expect(report.meanPAR.isApproximatelyEqual(to: expected, relativeTolerance: 1e-12))
        #expect(report.modelledCostSeconds == 60 * report.meanPAR)
        #expect(report.maxPAR >= report.p99PAR && report.p99PAR >= report.p50PAR && report.p50PAR >= 1)
        if !randomCurrent {
            #expect(simulator.initial.physicalToLogical(layer: 1) == [0, 1, 2, 3, 4, 5, 0, 1])
        }
    }

    @Test("a scripted policy: the delay, then k layers per iteration in priority order; overlap and the end")
    func scriptedSchedule() throws {
        let trace = try randomTrace(seed: 21)
        func run(k: Int, delay: Int, script: [[Int]]) throws -> SimulationReport {
            let simulator = try OnlineSimulator(
                trace: trace, topology: topology,
                configuration: .init(window: 8, interval: 8, layersPerIteration: k, policyTime: .fixedIterations(delay)))
            var policy = ScriptedPolicy(script: script)
            return try simulator.run(&policy)
        }
        func schedule(_ r: SimulationReport) -> [[Int]] {
            r.calls.flatMap(\.applied).map { [$0.layer, $0.iteration] }
        }
        // Call at 8, delay 3, two layers per iteration: layers 2 and 0 at 11, layer 1 at 12.
        let a = try run(k: 2, delay: 3, script: [[2, 0, 1]])
        #expect(a.calls.map(\.iteration) == [8, 16, 24, 32])
        #expect(schedule(a) == [[2, 11], [0, 11], [1, 12]])
        #expect(a.calls[0].layersChanged == 3 && a.calls[0].layersApplied == 3)
        // Rotating the plain rows [0 1 2 3 4 5 0 1] by 1, 2, 3 slots changes 8, 6 and 8 slots.
        #expect(a.moves == 22 && a.calls[0].moves == 22)
        #expect(a.calls[0].applied.map(\.moves) == [8, 8, 6])
        // Delay 7, one layer per iteration: 15, 16, then 17 is after the next call, so at 16.
        let b = try run(k: 1, delay: 7, script: [[1, 2, 0]])
        #expect(schedule(b) == [[1, 15], [2, 16], [0, 16]])
        // The last call (32) with a delay of 10: nothing takes effect before the end (40).
        let c = try run(k: 1, delay: 10, script: [[], [], [], [0, 1]])
        #expect(c.calls[3].layersChanged == 2 && c.calls[3].layersApplied == 0 && c.moves == 0)
        // Unchanged layers in the priority list are skipped, not given an iteration.
        let d = try run(k: 1, delay: 0, script: [[0], [0, 1]])
        #expect(schedule(d) == [[0, 8], [0, 16], [1, 17]])
        // Scheduling changes only when layers take effect: before 11 the runs agree with none's.
        var none = NoRebalancePolicy()
        let base = try OnlineSimulator(trace: trace, topology: topology, configuration: .init(window: 8, interval: 8))
            .run(&none)
        #expect(Array(a.perIterationPAR[0..<11]) == Array(base.perIterationPAR[0..<11]))
        #expect(a.perIterationPAR[11] != base.perIterationPAR[11])
    }

    @Test("the default move price: a move's transfer time equals the compute it saves over two intervals")
    func priceOfMove() {
        let cost = OnlineSimulator.CostModel(computeSeconds: 60, expertBytes: 9e8, bandwidth: 9e11)  // a move: 1 ms
        let price = RebalancePolicy.priceOfMove(cost: cost, layers: 58, iterations: 8192, interval: 1024)
        // Lowering one layer's mean imbalance by `price` for two intervals saves c · price / L · 2I / T.
        let saved = cost.computeSeconds * price / 58 * 2 * 1024 / 8192
        #expect(abs(saved - 1e-3) < 1e-15)
        let oneInterval = RebalancePolicy.priceOfMove(cost: cost, layers: 58, iterations: 8192, interval: 1024, paybackIntervals: 1)
        #expect(abs(oneInterval - 2 * price) < 1e-15)
    }

    @Test("measured policy time is charged as ⌈w / iterationSeconds⌉ iterations")
    func measuredCharge() throws {
        let trace = try randomTrace(seed: 31)
        let simulator = try OnlineSimulator(
            trace: trace, topology: topology,
            configuration: .init(window: 8, interval: 8, policyTime: .measured(iterationSeconds: 1e-9)))
        var policy = GreedyPolicy()
        var seen: [Int] = []
        let report = try simulator.run(&policy) { name, i, n in
            #expect(name == "greedy" && n == 40)
            seen.append(i)
        }
        #expect(seen == [8, 16, 24, 32, 40])
        // A nanosecond per iteration: every update is still pending at the next call, which
        // applies it; the last call's updates are still pending at the end and dropped.
        for (c, call) in report.calls.enumerated() {
            #expect(call.delayIterations == Int((call.wallSeconds / 1e-9).rounded(.up)))
            #expect(call.delayIterations > 8)
            let next = c + 1 < report.calls.count ? report.calls[c + 1].iteration : nil
            #expect(call.layersApplied == (next == nil ? 0 : call.layersChanged))
            #expect(call.applied.allSatisfy { $0.iteration == next })
        }
    }

    @Test("oracle: the wrapped policy sees the next W iterations (clamped at the end), no time charged")
    func oracleSeesTheFuture() throws {
        let trace = try randomTrace(seed: 61, layers: 2, iterations: 40, experts: 6)
        /// Records the windows it is given; changes nothing.
        struct Recorder: SimulationPolicy {
            var windows: [LoadTensor] = []
            var name: String { "recorder" }
            mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
                windows.append(window.loads)
                return PolicyDecision(placement: window.current!, priority: [])
            }
        }
        let simulator = try OnlineSimulator(trace: trace, topology: topology,
                                            configuration: .init(window: 12, interval: 8, policyTime: .fixedIterations(5)))
        var oracle = OraclePolicy(inner: Recorder())
        let report = try simulator.run(&oracle)
        #expect(report.policy == "oracle" && oracle.isClairvoyant && !Recorder().isClairvoyant)
        #expect(report.calls.map(\.iteration) == [16, 24, 32])
        #expect(report.delayIterations == 0, "an oracle's time is not charged")
        #expect(oracle.inner.windows.count == 3)
        for (call, window) in zip(report.calls, oracle.inner.windows) {
            let i = call.iteration, end = min(i + 12, 40)
            #expect(window.episodes == end - i)
            for l in 0..<2 {
                for t in 0..<window.episodes {
                    for x in 0..<6 { #expect(window[l, t, x] == trace[l, i + t, x], "call at \(i)") }
                }
            }
        }
        var plain = Recorder()
        _ = try simulator.run(&plain)
        #expect(plain.windows.first.map { w in (0..<12).allSatisfy { w[0, $0, 0] == trace[0, 4 + $0, 0] } } == true,
                "a causal policy sees the last W iterations")
    }

    @Test("oracle: after a switch of workload at a call point it beats the same policy on the past")
    func oracleAfterSwitch() throws {
        // Two regimes, switching at iteration 32 (a call point): the hot experts change.
        var rng = SeededGenerator(seed: 71)
        let layers = 2, n = 64, e = 8
        var values = ContiguousArray<Double>()
        for _ in 0..<layers {
            for t in 0..<n {
                for x in 0..<e {
                    let hot = t < 32 ? x < 2 : x >= 6
                    values.append(((hot ? 400 : 100) * (0.9 + 0.2 * rng.nextUnit())).rounded())
                }
            }
        }
        let trace = try LoadTensor(layers: layers, episodes: n, experts: e, values: values)
        let top = Topology(devices: 4, slotsPerDevice: 3)
        let simulator = try OnlineSimulator(trace: trace, topology: top,
                                            configuration: .init(window: 16, interval: 16, layersPerIteration: 2,
                                                                 policyTime: .fixedIterations(0)))
        var rebalance = RebalancePolicy()
        var oracle = OraclePolicy(inner: RebalancePolicy())
        let causal = try simulator.run(&rebalance), clairvoyant = try simulator.run(&oracle)
        // On the iterations after the switch, until the next call, the causal policy serves a plan
        // made for the old regime.
        let after = { (r: SimulationReport) in r.perIterationPAR[33..<48].reduce(0, +) / 15 }
        #expect(after(clairvoyant) < after(causal) - 0.05, "oracle \(after(clairvoyant)), rebalance \(after(causal))")
        #expect(clairvoyant.meanPAR < causal.meanPAR)
        #expect(Validation.isValid(clairvoyant.finalPlacement))
    }

    @Test("results do not depend on the thread count")
    func threadIndependent() throws {
        let trace = try randomTrace(seed: 41, layers: 7, iterations: 300, experts: 6)
        func run(_ threads: Int?) throws -> SimulationReport {
            let simulator = try OnlineSimulator(
                trace: trace, topology: topology,
                configuration: .init(window: 32, interval: 16, policyTime: .fixedIterations(1), maxThreads: threads))
            var policy = GreedyPolicy()
            return try simulator.run(&policy)
        }
        let one = try run(1), all = try run(nil)
        #expect(one.perIterationPAR == all.perIterationPAR && one.moves == all.moves)
    }

    @Test("bad inputs name the field")
    func badInputs() throws {
        let trace = try randomTrace(seed: 51)
        func field(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch { return (error as? ExpertPlacementError)?.field ?? "\(error)" }
        }
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology, configuration: .init(window: 0, interval: 8)) } == "window")
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology, configuration: .init(window: 8, interval: 0)) } == "interval")
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology,
                                                configuration: .init(window: 8, interval: 8, layersPerIteration: 0)) } == "layersPerIteration")
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology,
                                                configuration: .init(window: 8, interval: 8, policyTime: .measured(iterationSeconds: -1))) } == "iterationSeconds")
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology,
                                                configuration: .init(window: 8, interval: 8, cost: .init(bandwidth: .infinity))) } == "bandwidth")
        let twoLayers = OnlineSimulator.plainPlacement(topology: topology, experts: 6, layers: 2)
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology, current: twoLayers,
                                                configuration: .init(window: 8, interval: 8)) } == "current")
        let otherTopology = OnlineSimulator.plainPlacement(topology: Topology(devices: 2, slotsPerDevice: 4), experts: 6, layers: 3)
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology, current: otherTopology,
                                                configuration: .init(window: 8, interval: 8)) } == "current")
        let missing = try Placement(topology: topology, experts: 6, layers: Array(repeating: [0, 1, 2, 3, 4, 0, 1, 2], count: 3))
        #expect(field { _ = try OnlineSimulator(trace: trace, topology: topology, current: missing,
                                                configuration: .init(window: 8, interval: 8)) } == "current[0]")

        /// Changes layer 1 but lists only layer 0.
        struct Sloppy: SimulationPolicy {
            var name: String { "sloppy" }
            mutating func decide(window: Problem) throws(ExpertPlacementError) -> PolicyDecision {
                PolicyDecision(placement: try rotated(window.current!, layers: [0, 1]), priority: [0])
            }
        }
        let simulator = try OnlineSimulator(trace: trace, topology: topology, configuration: .init(window: 8, interval: 8))
        var sloppy = Sloppy()
        #expect(field { _ = try simulator.run(&sloppy) } == "priority")
    }

    @Test("a deployed placement with an expert twice on a device (DeepSeek EPLB's packing can make one): scored as it is, rebalanced into valid layers")
    func duplicatedCurrent() throws {
        let trace = try randomTrace(seed: 61)
        // Layer 1's device 0 holds expert 0 twice (expert 0 also on device 3); every expert present.
        let twice = try Placement(topology: topology, experts: 6,
                                  layers: [[0, 1, 2, 3, 4, 5, 0, 1], [0, 0, 1, 2, 3, 4, 5, 1], [0, 1, 2, 3, 4, 5, 0, 1]])
        let simulator = try OnlineSimulator(trace: trace, topology: topology, current: twice,
                                            configuration: .init(window: 8, interval: 8))
        var none = NoRebalancePolicy()
        let still = try simulator.run(&none)
        let expected = try Metrics.evaluate(twice, on: Problem(topology: topology, loads: trace)).summary { $0.meanImbalance }!.mean
        #expect(still.meanPAR.isApproximatelyEqual(to: expected, relativeTolerance: 1e-12))
        var rebalance = RebalancePolicy()
        let report = try simulator.run(&rebalance)
        #expect(report.moves > 0)
        #expect(report.meanPAR < still.meanPAR)
        let final = report.finalPlacement
        let p = topology.slotCount
        for l in 0..<3 where final.physicalToLogical(layer: l) != twice.physicalToLogical(layer: l) {
            let row = try Placement(topology: topology, experts: 6, physicalToLogical: ContiguousArray(final.physicalToLogical[l * p ..< (l + 1) * p]))
            #expect(Validation.violations(of: row).isEmpty, "layer \(l)")
        }
    }
}
