public import ExpertPlacement

/// A deliberately naive, independent implementation of INTERFACE.md §2, to hold the evaluator to
/// the definitions. Nested arrays, no shortcuts, no sharing of code with ``Metrics``.
public enum NaiveMetrics {
    /// `(meanImbalance, worstImbalance, aggregateImbalance, peakSum)` of one layer.
    public static func layer(_ placement: Placement, _ problem: Problem, layer l: Int)
        -> (mean: Double, worst: Double, aggregate: Double, peakSum: Double) {
        let d = problem.topology.devices, s = problem.topology.slotsPerDevice, e = problem.experts
        let phy = placement.physicalToLogical(layer: l)
        var replicas = [Double](repeating: 0, count: e)
        for x in phy { replicas[x] += 1 }
        func deviceLoads(_ w: [Double]) -> [Double] {
            (0..<d).map { dev in
                (0..<s).reduce(0.0) { acc, k in
                    let x = phy[dev * s + k]
                    return acc + w[x] / replicas[x]
                }
            }
        }
        func rho(_ loads: [Double]) -> Double {
            let total = loads.reduce(0, +)
            if total == 0 { return 1 }
            return loads.max()! / (total / Double(loads.count))
        }
        var num = 0.0, den = 0.0, worst = 0.0, peakSum = 0.0
        var aggregate = [Double](repeating: 0, count: e)
        for t in 0..<problem.episodes {
            let omega = problem.episodeWeights[t]
            guard omega > 0 else { continue }
            let w = (0..<e).map { problem.loads[l, t, $0] }
            for x in 0..<e { aggregate[x] += omega * w[x] }
            let loads = deviceLoads(w)
            num += omega * rho(loads)
            den += omega
            worst = max(worst, rho(loads))
            peakSum += omega * loads.max()!
        }
        return (num / den, worst, rho(deviceLoads(aggregate)), peakSum)
    }
}
