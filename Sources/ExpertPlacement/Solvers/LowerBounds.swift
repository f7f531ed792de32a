/// Provable lower bounds on the optimal value of each objective, per layer.
///
/// For every episode `t` (with total load `W_t`), any valid placement has a peak device load of at
/// least
/// - the average `W_t / D` (the loads must go somewhere), and
/// - `M*_t`, the smallest achievable largest per-replica load: a device holds whole replicas, and
///   no allotment of the `P` slots (at most `D` replicas per expert) makes every replica lighter
///   than `M*_t`. Min-max allotment (`ReplicaAllotment`) computes it exactly.
///
/// Each episode may use its own allotment in the bound (a relaxation), so the bound of the
/// objective combines these per-episode bounds the way the objective combines peaks
/// (``ObjectiveModel``, on its scaled rows): `Σ_t ω_t·max(1, D·M*_t/W_t)/Σω` for
/// `meanImbalance`, the max over episodes for `worstImbalance`, the same on the summed load for
/// `aggregateImbalance`, and `Σ_t ω_t·max(W_t/D, M*_t)` for `peakSum`. The tests check it never
/// exceeds a brute-force optimum.
public enum LowerBounds {
    /// The bound on `objective` for `layer`. O(T·(E + R log E)).
    public static func bound(_ problem: Problem, layer: Int, objective: Objective) -> Double {
        bound(ObjectiveModel(ProblemLayer(problem, layer: layer), objective: objective), slots: problem.topology.slotCount)
    }

    /// The bound on an objective model without an episode cap: its constant combined with each
    /// row's `max(average, M*)` (a relaxation: each row may use its own allotment).
    /// O(T'·(E + R log E)).
    public static func bound(_ model: ObjectiveModel, slots p: Int) -> Double {
        let value = model.value(peaks: rowBounds(model, slots: p))
        // Every imbalance objective is at least 1. Rounding the scaled rows can leave a bound a
        // few ulps above 1 where it is mathematically 1: report 1 then (lowering a lower bound
        // keeps it valid).
        if model.objective != .peakSum && value < 1 + 1e-12 { return 1 }
        return value
    }

    /// A lower bound on each row's peak device load in every valid plan: `max(average, M*)` of
    /// the row, in the model's units. O(T'·(E + R log E)).
    public static func rowBounds(_ model: ObjectiveModel, slots p: Int) -> [Double] {
        let e = model.experts, d = model.devices
        var rowStorage = [Double](repeating: 0, count: e)
        var countStorage = [Int32](repeating: 1, count: e)
        var peaks = [Double](repeating: 0, count: model.rowCount)
        rowStorage.withUnsafeMutableBufferPointer { row in
            countStorage.withUnsafeMutableBufferPointer { counts in
                for t in 0..<model.rowCount {
                    for x in 0..<e { row[x] = model.rows[t * e + x] }
                    peaks[t] = peakBound(row, counts, devices: d, slots: p).peak
                }
            }
        }
        return peaks
    }

    /// `(max(average, M*), total)` of one episode's loads.
    static func peakBound(_ row: UnsafeMutableBufferPointer<Double>, _ counts: UnsafeMutableBufferPointer<Int32>,
                          devices d: Int, slots p: Int) -> (peak: Double, total: Double) {
        var total = 0.0
        for v in row { total += v }
        // Shortcut: when every expert can be split into replicas no heavier than the average
        // device load within the slot budget, M* ≤ average and the bound is the average.
        let average = total / Double(d)
        if average > 0 {
            var needed = 0
            var fits = true
            for v in row {
                let r = Swift.max(1, Int((v / average).rounded(.up)))
                if r > d { fits = false; break }
                needed += r
            }
            if fits && needed <= p { return (average, total) }
        }
        ReplicaAllotment.minMax(loads: UnsafeBufferPointer(row), slots: p, cap: d, counts: counts)
        var largest = 0.0
        for x in 0..<row.count { largest = Swift.max(largest, row[x] / Double(counts[x])) }
        return (Swift.max(total / Double(d), largest), total)
    }
}
