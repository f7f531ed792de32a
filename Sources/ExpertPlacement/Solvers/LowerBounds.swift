import HeapModule

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
/// `aggregateImbalance`, and `Σ_t ω_t·max(W_t/D, M*_t)` for `peakSum`.
///
/// Over several episodes one count vector `r` serves them all, which the per-episode allotments
/// ignore. With `f_t` the row's bound above and `u[t][e]` the scaled loads, every plan's row peak
/// is at least `max(f_t, max_e u[t][e]/r_e)`, and so at least the mean of `max(f_t, u[t][e]/r_e)`
/// over any `k` experts of the row. Taking each row's `k` heaviest experts, the bound of a sum
/// objective becomes `min_r Σ_e g_e(r_e)` with `g_e(r) = Σ_{rows t where e is among the k
/// heaviest} max(f_t, u[t][e]/r)/k`: separable and convex in each `r_e`, so handing the `P − E`
/// spare replicas one at a time to the largest decrease of `Σ g` (each count at most `D`) finds
/// its exact minimum, and that minimum is a valid bound. It is computed for `k` = 1, 2, 4 and 8 and
/// the largest kept, only when covering every expert that rises above its row's `f_t` would take
/// more replicas than there are slots (otherwise it equals the per-episode bound), and on at most
/// 64 episodes (longer traces keep the per-episode bound, which costs less). For a max objective
/// the shared bound, on any number of episodes, is the min-max allotment of each expert's largest
/// scaled load. On
/// iid spiky loads (`eplb generate spiky`, 256 experts on 32 × 9, 32 episodes) it raises the
/// bound from 1 to 1.08–1.11; on lognormal and on the real traces we have, the per-episode bound
/// already equals it. The tests check the bound never exceeds a brute-force optimum.
public enum LowerBounds {
    /// The bound on `objective` for `layer`. O(T·(E + R log E)).
    public static func bound(_ problem: Problem, layer: Int, objective: Objective) -> Double {
        bound(ObjectiveModel(ProblemLayer(problem, layer: layer), objective: objective), slots: problem.topology.slotCount)
    }

    /// The bound on an objective model without an episode cap: its constant combined with each
    /// row's `max(average, M*)` (a relaxation: each row may use its own allotment).
    /// O(T'·(E + R log E)).
    public static func bound(_ model: ObjectiveModel, slots p: Int) -> Double {
        let floors = rowBounds(model, slots: p)
        let value = Swift.max(model.value(peaks: floors), sharedCountBound(model, floors: floors, slots: p))
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

    /// Most rows for which a sum objective's ``sharedCountBound(_:floors:slots:)`` is computed: the
    /// search's episode cap. Longer traces keep the per-episode bound: on a rebalance window of
    /// 1,024 iterations the computation added a fifth to a rebalance's time (benchmark suite).
    static let sharedCountRows = 64

    /// The bound with one count vector shared by every row (see the type's overview), or 0 when
    /// it cannot exceed the per-row bound `floors` (or a sum objective has more than
    /// ``sharedCountRows`` rows). O(T'·E) for the check; when it runs, O(T'·E·8 + (P − E)·log E·T'·8/E)
    /// on average.
    static func sharedCountBound(_ model: ObjectiveModel, floors: [Double], slots p: Int) -> Double {
        let e = model.experts, d = model.devices, rows = model.rowCount
        let extra = p - e
        guard rows > 1, extra >= 0, e > 0 else { return 0 }
        let cap = Swift.min(d, extra + 1)
        if model.combination == .max {
            // min_r max_{t,e} u[t][e]/r_e: the min-max allotment of each expert's largest load.
            var largest = [Double](repeating: 0, count: e)
            for t in 0..<rows { for x in 0..<e { largest[x] = Swift.max(largest[x], model.rows[t * e + x]) } }
            var counts = [Int32](repeating: 1, count: e)
            let peak = largest.withUnsafeBufferPointer { loads in
                counts.withUnsafeMutableBufferPointer { heaviestReplica(loads, $0, devices: d, slots: p) }
            }
            return model.value(peaks: [peak])
        }
        guard rows <= sharedCountRows else { return 0 }
        // Cheap check: the counts that bring every load under its row's floor at once. If they
        // fit in the slots, every term below can reach its floor and the bound is the old one.
        var needed = [Int](repeating: 1, count: e)
        for t in 0..<rows where floors[t] > 0 {
            for x in 0..<e {
                let u = model.rows[t * e + x]
                if u > floors[t] * (1 + 1e-12) {
                    needed[x] = Swift.max(needed[x], Swift.min(cap + 1, Int((u / floors[t]).rounded(.up))))
                }
            }
        }
        guard needed.reduce(0, +) > p else { return 0 }
        // Each row's 8 heaviest experts, heaviest first (fewer when E < 8).
        let width = Swift.min(8, e)
        var top = [Int32](repeating: 0, count: rows * width)
        for t in 0..<rows {
            var n = 0
            for x in 0..<e {
                let u = model.rows[t * e + x]
                var i = n
                if n < width { n += 1 } else if u <= model.rows[t * e + Int(top[t * width + width - 1])] { continue } else { i = width - 1 }
                while i > 0 && model.rows[t * e + Int(top[t * width + i - 1])] < u {
                    top[t * width + i] = top[t * width + i - 1]
                    i -= 1
                }
                top[t * width + i] = Int32(x)
            }
        }
        var best = 0.0
        for k in [1, 2, 4, 8] where k <= width {
            // The terms of each expert: (row, load) for the rows where it is among the k heaviest.
            var start = [Int](repeating: 0, count: e + 1)
            for t in 0..<rows { for j in 0..<k { start[Int(top[t * width + j]) + 1] += 1 } }
            for x in 0..<e { start[x + 1] += start[x] }
            var cursor = start
            var termRow = [Int32](repeating: 0, count: rows * k)
            for t in 0..<rows {
                for j in 0..<k {
                    let x = Int(top[t * width + j])
                    termRow[cursor[x]] = Int32(t)
                    cursor[x] += 1
                }
            }
            func g(_ x: Int, _ r: Int) -> Double {
                var sum = 0.0
                for i in start[x]..<start[x + 1] {
                    let t = Int(termRow[i])
                    sum += Swift.max(floors[t], model.rows[t * e + x] / Double(r))
                }
                return sum / Double(k)
            }
            var counts = [Int](repeating: 1, count: e)
            var heap = Heap<Gain>()
            for x in 0..<e where start[x + 1] > start[x] && cap > 1 {
                let gain = g(x, 1) - g(x, 2)
                if gain > 0 { heap.insert(Gain(value: gain, expert: Int32(x))) }
            }
            var left = extra
            while left > 0, let gift = heap.popMax() {
                let x = Int(gift.expert)
                counts[x] += 1
                left -= 1
                if counts[x] < cap {
                    let gain = g(x, counts[x]) - g(x, counts[x] + 1)
                    if gain > 0 { heap.insert(Gain(value: gain, expert: Int32(x))) }
                }
            }
            var value = model.constant
            for x in 0..<e where start[x + 1] > start[x] { value += g(x, counts[x]) }
            best = Swift.max(best, value)
        }
        // Summation order can leave the value a few ulps above the relaxation's true minimum.
        return best * (1 - 1e-12)
    }

    /// A spare replica's decrease of the shared-count bound, ordered by value, then by lower id.
    private struct Gain: Comparable {
        var value: Double
        var expert: Int32
        static func < (a: Gain, b: Gain) -> Bool { a.value != b.value ? a.value < b.value : a.expert > b.expert }
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
        return (Swift.max(total / Double(d), heaviestReplica(UnsafeBufferPointer(row), counts, devices: d, slots: p)), total)
    }

    /// `M*`: the heaviest replica under the min-max allotment of `loads` over `p` slots (at most
    /// `d` replicas an expert), the allotment left in `counts`.
    static func heaviestReplica(_ loads: UnsafeBufferPointer<Double>, _ counts: UnsafeMutableBufferPointer<Int32>,
                                devices d: Int, slots p: Int) -> Double {
        ReplicaAllotment.minMax(loads: loads, slots: p, cap: d, counts: counts)
        var largest = 0.0
        for x in 0..<loads.count { largest = Swift.max(largest, loads[x] / Double(counts[x])) }
        return largest
    }
}
