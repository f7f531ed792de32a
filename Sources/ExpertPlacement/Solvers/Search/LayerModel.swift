/// One layer's optimisation model for the search solver.
///
/// Every objective of INTERFACE.md §2 is, up to a constant, either a weighted *sum* of episode
/// peaks (`meanImbalance`, `peakSum`, `aggregateImbalance`) or a weighted *max* of them
/// (`worstImbalance`). Scaling episode `t`'s loads by its weight `c_t` turns both into plain
/// peaks of scaled loads `u[t][e] = c_t · w[t][e]`:
///
/// - sum mode: `f = constant + Σ_t max_d U[t][d]`
/// - max mode: `f = max(constant, max_t max_d U[t][d])`
///
/// with `U[t][d] = Σ_{replicas on d} u[t][e] / r_e`. For `meanImbalance`,
/// `c_t = ω_t·D / (W_t·Σω)` (`W_t` the episode's total load) so `f` is the mean imbalance itself;
/// episodes without load contribute their constant ρ = 1. When there are more than `episodeCap`
/// positive-weight episodes, consecutive ones are summed into `episodeCap` blocks (weights folded
/// in) and the model optimises the blocked objective; reports always evaluate the plan on every
/// episode.
///
/// Risk mode (FlashLB's stochastic view) replaces the exact objective by the largest device score
/// `μ_d + z·σ_d`, the weighted mean and standard deviation over episodes of the device's load
/// (each episode normalised to an average device load of 1). Its variance is the sum of the
/// covariances of the replicas on the device, so correlated experts are kept apart.
struct LayerModel {
    enum Mode { case sum, max, risk }

    let experts: Int
    let devices: Int
    let slotsPerDevice: Int
    /// Episodes (or blocks) in the model, `T'`.
    let episodes: Int
    /// Scaled loads, expert-major: `u[e·T' + t]`.
    let u: [Double]
    let mode: Mode
    let constant: Double
    /// Risk mode: episode weights (summing to 1) and `z` of the device score `μ + z·σ`.
    let weights: [Double]
    let riskZ: Double

    var slots: Int { devices * slotsPerDevice }

    init(problem: Problem, layer: Int, objective: Objective, episodeCap: Int, riskZ: Double? = nil) {
        let e = problem.experts, d = problem.topology.devices
        experts = e
        devices = d
        slotsPerDevice = problem.topology.slotsPerDevice
        let w = problem.loads.values
        let base = problem.loads.layerOffset(layer)
        let tAll = problem.episodes

        // Weighted episode loads ŵ_b and their weights Ω_b (blocks when over the cap).
        var blocks: [[Double]] = []
        var blockWeight: [Double] = []
        let active = (0..<tAll).filter { problem.episodeWeights[$0] > 0 }
        if objective == .aggregateImbalance && riskZ == nil {
            var sum = [Double](repeating: 0, count: e)
            for t in active {
                let omega = problem.episodeWeights[t]
                for x in 0..<e { sum[x] += omega * w[base + t * e + x] }
            }
            blocks = [sum]
            blockWeight = [1]
        } else {
            let n = active.count
            let k = Swift.min(n, Swift.max(1, episodeCap))
            for b in 0..<k {
                var sum = [Double](repeating: 0, count: e)
                var weight = 0.0
                for i in (n * b / k) ..< (n * (b + 1) / k) {
                    let t = active[i]
                    let omega = problem.episodeWeights[t]
                    weight += omega
                    for x in 0..<e { sum[x] += omega * w[base + t * e + x] }
                }
                blocks.append(sum)
                blockWeight.append(weight)
            }
        }
        let totalWeight = blockWeight.reduce(0, +)
        var constant = 0.0
        var kept: [(loads: [Double], c: Double)] = []
        for (b, loads) in blocks.enumerated() {
            let total = loads.reduce(0, +)
            if riskZ != nil {
                // Risk mode: every episode normalised to an average device load of 1.
                if total > 0 { kept.append((loads, Double(d) / total)) }
                continue
            }
            switch objective {
            case .meanImbalance:
                if total > 0 {
                    kept.append((loads, blockWeight[b] * Double(d) / (total * totalWeight)))
                } else {
                    constant += blockWeight[b] / totalWeight
                }
            case .peakSum:
                kept.append((loads, 1))
            case .aggregateImbalance, .worstImbalance:
                if total > 0 { kept.append((loads, Double(d) / total)) } else { constant = 1 }
            }
        }
        if objective == .worstImbalance || objective == .aggregateImbalance { constant = Swift.max(constant, 1) }
        var keptWeights: [Double] = []
        if riskZ != nil {
            for (b, loads) in blocks.enumerated() where loads.reduce(0, +) > 0 { keptWeights.append(blockWeight[b]) }
        }
        if kept.isEmpty {
            kept = [([Double](repeating: 0, count: e), 0)]
            keptWeights = [1]
        }
        if let riskZ {
            mode = .risk
            self.riskZ = riskZ
            let sum = keptWeights.reduce(0, +)
            weights = keptWeights.map { $0 / sum }
            self.constant = 0
        } else {
            mode = objective == .worstImbalance || objective == .aggregateImbalance ? .max : .sum
            self.riskZ = 0
            weights = [Double](repeating: 1 / Double(kept.count), count: kept.count)
            self.constant = objective == .aggregateImbalance ? 1 : constant
        }
        let t = kept.count
        episodes = t
        var u = [Double](repeating: 0, count: e * t)
        for (i, k) in kept.enumerated() {
            for x in 0..<e { u[x * t + i] = k.c * k.loads[x] }
        }
        self.u = u
    }

}
