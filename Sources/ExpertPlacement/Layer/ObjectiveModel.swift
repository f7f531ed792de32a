/// The one model of what a layer's objective means: every objective of INTERFACE.md §2 as a
/// constant combined with the peak device loads of scaled load rows.
///
/// Each objective is, up to a constant, a weighted *sum* of episode peaks (`meanImbalance`,
/// `peakSum`) or a weighted *max* of them (`worstImbalance`, `aggregateImbalance`). Scaling row
/// `t`'s loads by a factor `c_t` turns both into plain peaks of scaled loads
/// `u[t][e] = c_t · ŵ[t][e]`:
///
/// - ``Combination/sum``: `f = constant + Σ_t max_d U[t][d]`
/// - ``Combination/max``: `f = max(constant, max_t max_d U[t][d])`
///
/// with `U[t][d] = Σ_{replicas on d} u[t][e] / r_e`. The rows and factors per objective:
///
/// | objective | rows `ŵ` | `c_t` | constant |
/// |---|---|---|---|
/// | `meanImbalance` | `ω_t·w[t]` per episode with load | `D / (W_t·Σω)` (`W_t` = row total) | `Σ ω` of load-free episodes `/ Σω` |
/// | `worstImbalance` | `ω_t·w[t]` per episode with load | `D / W_t` | 1 |
/// | `aggregateImbalance` | one row, `Σ_t ω_t·w[t]` | `D / W` | 1 |
/// | `peakSum` | `ω_t·w[t]` per episode | 1 | 0 |
///
/// Episodes with `ω_t = 0` are left out, as every metric ignores them. So for a valid plan,
/// ``value(of:slotsPerDevice:)`` equals the objective's value in ``Metrics`` (a property test holds the two
/// together). With an episode cap, more than `cap` episodes are summed into `cap` consecutive
/// blocks (weights folded in) and the model is that of the blocked loads — what the search
/// optimises on long traces; reports always evaluate on every episode.
///
/// Used by the search (its layer model), the lower bounds, the exact solver's rows and the
/// rebalancer's move-cost objective.
public struct ObjectiveModel: Sendable {
    /// How row peaks combine.
    public enum Combination: Sendable, Equatable {
        /// `constant + Σ_t peak_t`.
        case sum
        /// `max(constant, max_t peak_t)`.
        case max
    }

    /// The objective modelled.
    public let objective: Objective
    /// How the row peaks combine.
    public let combination: Combination
    /// The constant term (see the table above).
    public let constant: Double
    /// Number of logical experts, `E`.
    public let experts: Int
    /// Number of devices, `D`.
    public let devices: Int
    /// Number of rows, `T'` (at least 1; a layer without any load has one all-zero row).
    public let rowCount: Int
    /// Scaled loads, row-major `[T'][E]`: `rows[t·E + e] = u[t][e]`.
    public let rows: ContiguousArray<Double>
    /// The episode weight folded into each row (`Σ ω` of its episodes); 0 for the placeholder row
    /// of a load-free layer.
    public let rowWeights: ContiguousArray<Double>

    /// The model of `objective` on one layer.
    ///
    /// - Parameters:
    ///   - layer: the layer.
    ///   - objective: the objective.
    ///   - episodeCap: most rows; more positive-weight episodes are summed into this many
    ///     consecutive blocks. `nil`: one row per episode (the exact objective).
    /// - Complexity: O(T·E).
    public init(_ layer: ProblemLayer, objective: Objective, episodeCap: Int? = nil) {
        let problem = layer.problem
        let e = problem.experts, d = problem.topology.devices
        experts = e
        devices = d
        self.objective = objective
        let w = problem.loads.values
        let base = layer.loadOffset
        let active = (0..<problem.episodes).filter { problem.episodeWeights[$0] > 0 }

        // Blocks of consecutive positive-weight episodes (one block of all of them for the
        // aggregate objective) and their weights Ω_b.
        let n = active.count
        let k = objective == .aggregateImbalance ? 1 : Swift.min(n, Swift.max(1, episodeCap ?? n))
        var blockWeight = [Double](repeating: 0, count: k)
        if objective == .aggregateImbalance {
            blockWeight[0] = 1
        } else {
            for b in 0..<k {
                for i in (n * b / k) ..< (n * (b + 1) / k) { blockWeight[b] += problem.episodeWeights[active[i]] }
            }
        }
        let totalWeight = blockWeight.reduce(0, +)
        var constant = 0.0
        var u = ContiguousArray<Double>()
        u.reserveCapacity(k * e)
        var weights = ContiguousArray<Double>()
        var sum = [Double](repeating: 0, count: e)
        for b in 0..<k {
            // ŵ_b = Σ_{t in block} ω_t · w[t], summed in episode order.
            for x in 0..<e { sum[x] = 0 }
            let range = objective == .aggregateImbalance ? 0..<n : (n * b / k) ..< (n * (b + 1) / k)
            // Raw buffers: the O(T·E) pass over the layer's loads vectorises.
            w.withUnsafeBufferPointer { w in
                sum.withUnsafeMutableBufferPointer { sum in
                    for i in range {
                        let t = active[i]
                        let omega = problem.episodeWeights[t]
                        let row = UnsafeBufferPointer(rebasing: w[(base + t * e) ..< (base + (t + 1) * e)])
                        for x in 0..<e { sum[x] += omega * row[x] }
                    }
                }
            }
            let total = sum.reduce(0, +)
            let c: Double
            switch objective {
            case .meanImbalance:
                guard total > 0 else { constant += blockWeight[b] / totalWeight; continue }
                c = blockWeight[b] * Double(d) / (total * totalWeight)
            case .peakSum:
                c = 1
            case .aggregateImbalance, .worstImbalance:
                guard total > 0 else { continue }
                c = Double(d) / total
            }
            for x in 0..<e { u.append(c * sum[x]) }
            weights.append(blockWeight[b])
        }
        switch objective {
        case .worstImbalance, .aggregateImbalance:
            combination = .max
            self.constant = 1
        case .meanImbalance, .peakSum:
            combination = .sum
            self.constant = constant
        }
        if weights.isEmpty {
            u = ContiguousArray(repeating: 0, count: e)
            weights = [0]
        }
        rowCount = weights.count
        rows = u
        rowWeights = weights
    }

    /// Combines row peaks (one per row, in row order) into the objective's value.
    @inlinable
    public func value<Peaks: Sequence<Double>>(peaks: Peaks) -> Double {
        switch combination {
        case .sum: return peaks.reduce(constant, +)
        case .max: return peaks.reduce(constant) { Swift.max($0, $1) }
        }
    }

    /// The largest device load of each row under `plan` (`phy2log` of the layer, device-major,
    /// `D·S` expert ids, every expert with at least one replica), loads split evenly over replicas.
    /// - Complexity: O(T'·P + E).
    public func rowPeaks(_ plan: some Collection<Int32>, slotsPerDevice s: Int) -> [Double] {
        let e = experts
        return Self.rowPeaks(plan, rows: (0..<rowCount).lazy.map { self.rows[$0 * e ..< ($0 + 1) * e] },
                             experts: e, slotsPerDevice: s)
    }

    /// The largest device load of `plan` in each of `rows` (each `E` loads in expert order, any
    /// scale), loads split evenly over replicas: the one evaluation of a plan on scaled rows, for
    /// this model and the exact solver's rows alike.
    /// - Complexity: O(rows·P + E).
    @inlinable
    package static func rowPeaks<Rows: Collection>(_ plan: some Collection<Int32>, rows: Rows, experts: Int,
                                                   slotsPerDevice s: Int) -> [Double]
    where Rows.Element: RandomAccessCollection<Double>, Rows.Element.Index == Int {
        var counts = [Double](repeating: 0, count: experts)
        for x in plan { counts[Int(x)] += 1 }
        let slots = Array(plan)
        let d = slots.count / s
        return rows.map { row in
            let base = row.startIndex
            var peak = 0.0
            for dev in 0..<d {
                var sum = 0.0
                for k in 0..<s {
                    let x = Int(slots[dev * s + k])
                    sum += row[base + x] / counts[x]
                }
                peak = Swift.max(peak, sum)
            }
            return peak
        }
    }

    /// The objective's value of `plan` (see ``rowPeaks(_:slotsPerDevice:)``). Without an episode
    /// cap it equals the objective's value in ``Metrics`` for a valid plan.
    public func value(of plan: some Collection<Int32>, slotsPerDevice s: Int) -> Double {
        value(peaks: rowPeaks(plan, slotsPerDevice: s))
    }

    /// The rows as `[T'][E]` arrays.
    public var rowArrays: [[Double]] {
        (0..<rowCount).map { t in Array(rows[t * experts ..< (t + 1) * experts]) }
    }
}
