public import ExpertPlacement

/// Deliberately naive, independent references for token dropping: the capacity by bisection on
/// the definition, the capped objective from the definitions of each objective, and the
/// drop-aware optimum of a tiny layer by enumerating every valid plan. No code shared with
/// ``TokenDrop`` or ``DropObjective``.
public enum DropBruteForce {
    /// The smallest `c ≥ 0` with `Σ max(0, L − c) ≤ budget · Σ L`, by 200 bisection steps on
    /// `[0, max L]` (the upper end of the final bracket).
    public static func capacity(_ loads: [Double], budget: Double) -> Double {
        let total = loads.reduce(0, +), peak = loads.max() ?? 0
        func dropped(_ c: Double) -> Double { loads.reduce(0) { $0 + max(0, $1 - c) } }
        var lo = 0.0, hi = peak
        if dropped(0) <= budget * total { return 0 }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if dropped(mid) <= budget * total { hi = mid } else { lo = mid }
        }
        return hi
    }

    /// The capped value of one layer's plan, from the definitions: per episode the capped peak
    /// `c_t` of the device loads and `ρ_t(f) = c_t·D/W_t` (1 without load); then the mean, the
    /// worst, the aggregate (the cut of the summed load) or `Σ ω_t c_t`.
    public static func cappedValue(_ plan: [Int32], _ problem: Problem, layer l: Int, objective: Objective,
                                   budget: Double) -> Double {
        let d = problem.topology.devices, s = problem.topology.slotsPerDevice, e = problem.experts
        var replicas = [Double](repeating: 0, count: e)
        for x in plan { replicas[Int(x)] += 1 }
        func deviceLoads(_ w: [Double]) -> [Double] {
            (0..<d).map { dev in (0..<s).reduce(0.0) { $0 + w[Int(plan[dev * s + $1])] / replicas[Int(plan[dev * s + $1])] } }
        }
        func rho(_ w: [Double]) -> Double {
            let loads = deviceLoads(w), total = loads.reduce(0, +)
            return total == 0 ? 1 : capacity(loads, budget: budget) * Double(d) / total
        }
        var num = 0.0, den = 0.0, worst = -Double.infinity, peakSum = 0.0
        var aggregate = [Double](repeating: 0, count: e)
        for t in 0..<problem.episodes where problem.episodeWeights[t] > 0 {
            let omega = problem.episodeWeights[t]
            let w = (0..<e).map { problem.loads[l, t, $0] }
            for x in 0..<e { aggregate[x] += omega * w[x] }
            num += omega * rho(w)
            den += omega
            worst = max(worst, rho(w))
            peakSum += omega * capacity(deviceLoads(w), budget: budget)
        }
        switch objective {
        case .meanImbalance: return num / den
        case .worstImbalance: return worst
        case .aggregateImbalance: return rho(aggregate)
        case .peakSum: return peakSum
        }
    }

    /// The least capped value over every valid plan of a one-layer problem, and the plans that
    /// attain it within a relative `1e-9`. Meant for `P ≤ 6` or so.
    public static func optimum(_ problem: Problem, objective: Objective, budget: Double) -> (value: Double, plans: [[Int32]]) {
        let plans = BruteForce.everyPlan(problem, objective: objective).map(\.plan)
        let values = plans.map { cappedValue($0, problem, layer: 0, objective: objective, budget: budget) }
        let best = values.min()!
        return (best, zip(plans, values).filter { $0.1 <= best * (1 + 1e-9) + 1e-12 }.map(\.0))
    }
}
