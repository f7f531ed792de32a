public import ExpertPlacement

/// A deliberately naive, independent replay of a trace, to hold ``OnlineSimulator`` to its
/// definitions: one iteration at a time, nested arrays, a queue of pending layer updates, the
/// policy's time charged as a fixed number of iterations. No code shared with the simulator.
public enum NaiveSimulator {
    /// The accounting of one naive replay.
    public struct Outcome {
        /// PAR of every iteration.
        public var par: [Double]
        /// Mean PAR.
        public var meanPAR: Double
        /// Total moves of the applied updates.
        public var moves: Int
        /// Applied layer updates.
        public var layersChanged: Int
        /// Policy calls.
        public var rebalances: Int
        /// `computeSeconds × meanPAR + moves × expertBytes / bandwidth`.
        public var cost: Double
        /// `(layer, iteration it took effect)` for every applied update, in order of application.
        public var applied: [(layer: Int, iteration: Int)]
    }

    /// Replays `trace` against `policy` from `start`, calling it at every multiple `i` of
    /// `interval` with `i ≥ window` (and `i ≥ interval`), charging `delay` iterations per call.
    public static func run<Policy: SimulationPolicy>(
        trace: LoadTensor, topology: Topology, start: Placement, window: Int, interval: Int,
        layersPerIteration k: Int, delay: Int, computeSeconds: Double = 60,
        expertBytes: Double = 88_080_384, bandwidth: Double = 900e9, policy: inout Policy
    ) throws -> Outcome {
        let n = trace.episodes, layers = trace.layers, e = trace.experts
        let d = topology.devices, s = topology.slotsPerDevice
        var deployed = (0..<layers).map { start.physicalToLogical(layer: $0) }
        var queue: [(layer: Int, row: [Int], due: Int)] = []
        var par: [Double] = []
        var moves = 0, rebalances = 0
        var applied: [(layer: Int, iteration: Int)] = []
        func apply(_ item: (layer: Int, row: [Int], due: Int), at i: Int) {
            moves += zip(deployed[item.layer], item.row).filter { $0 != $1 }.count
            deployed[item.layer] = item.row
            applied.append((item.layer, i))
        }
        for i in 0..<n {
            if i % interval == 0 && i >= window && i >= interval {
                for item in queue { apply(item, at: i) }
                queue = []
                var values = ContiguousArray<Double>()
                for l in 0..<layers { for t in i - window ..< i { for x in 0..<e { values.append(trace[l, t, x]) } } }
                let current = try Placement(topology: topology, experts: e, layers: deployed)
                let problem = try Problem(topology: topology,
                                          loads: LoadTensor(layers: layers, episodes: window, experts: e, values: values),
                                          current: current)
                let decision = try policy.decide(window: problem)
                rebalances += 1
                var position = 0
                for l in decision.priority {
                    let row = decision.placement.physicalToLogical(layer: l)
                    guard row != deployed[l] else { continue }
                    queue.append((l, row, i + delay + position / k))
                    position += 1
                }
            }
            while let first = queue.first, first.due <= i {
                apply(first, at: i)
                queue.removeFirst()
            }
            var rhoSum = 0.0
            for l in 0..<layers {
                var replicas = [Double](repeating: 0, count: e)
                for x in deployed[l] { replicas[x] += 1 }
                var loads = [Double](repeating: 0, count: d)
                for dev in 0..<d {
                    for slot in 0..<s {
                        let x = deployed[l][dev * s + slot]
                        loads[dev] += trace[l, i, x] / replicas[x]
                    }
                }
                let total = loads.reduce(0, +)
                rhoSum += total == 0 ? 1 : loads.max()! / (total / Double(d))
            }
            par.append(rhoSum / Double(layers))
        }
        let mean = par.reduce(0, +) / Double(n)
        return Outcome(par: par, meanPAR: mean, moves: moves, layersChanged: applied.count, rebalances: rebalances,
                       cost: computeSeconds * mean + Double(moves) * expertBytes / bandwidth, applied: applied)
    }
}
