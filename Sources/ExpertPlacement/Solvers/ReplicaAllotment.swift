import HeapModule

/// Min-max replica allotment (Jefferson/D'Hondt apportionment), as in DeepSeek EPLB's
/// `replicate_experts`.
///
/// Every expert starts with one replica; each of the remaining `slots − E` replicas goes to the
/// expert with the highest per-replica load `w_e / r_e` (lowest id on ties). The result minimises
/// the largest per-replica load `max_e w_e / r_e` over all count vectors with `Σ r_e = slots` —
/// but it ignores how the replicas will pack onto devices. `cap` bounds every count (an expert
/// can have at most one replica per device, so at most `D` replicas).
enum ReplicaAllotment {
    struct Candidate: Comparable {
        var perReplica: Double
        var expert: Int32
        // Max-heap order: higher per-replica load first, then lower expert id.
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.perReplica != b.perReplica ? a.perReplica < b.perReplica : a.expert > b.expert
        }
    }

    /// Writes the replica count of each of the `loads.count` experts into `counts`.
    ///
    /// - Precondition: `loads.count ≤ slots ≤ loads.count · cap` (programmer error otherwise;
    ///   ``Topology/validate(experts:)`` guarantees it for `cap = D`).
    /// - Complexity: O(E + (slots − E) log E) for `slots < 65E`, else O(E log E) (see
    ///   ``giveAboveThreshold(_:among:loads:cap:counts:)``).
    static func minMax(loads: UnsafeBufferPointer<Double>, slots: Int, cap: Int,
                       counts: UnsafeMutableBufferPointer<Int32>) {
        let e = loads.count
        precondition(e <= slots && slots <= e * cap, "replica allotment: infeasible slot count")
        for i in 0..<e { counts[i] = 1 }
        let extra = slots - e
        if extra == 0 { return }
        if cap == 1 { return }
        if extra >= 64 * e {
            // Many replicas per expert: hand out in bulk every replica above a threshold first, so
            // the heap only places the last few (O(E log E) instead of O(extra·log E)).
            let given = giveAboveThreshold(extra, among: 0..<e, loads: loads, cap: cap, counts: counts)
            var heap = Heap<Candidate>()
            for x in 0..<e where Int(counts[x]) < cap {
                heap.insert(Candidate(perReplica: loads[x] / Double(counts[x]), expert: Int32(x)))
            }
            give(extra - given, from: &heap, loads: loads, cap: cap, counts: counts)
            return
        }
        // Only the `extra` heaviest experts can receive a replica (an expert with one replica gets
        // the next one only while it is the heaviest of those with one), so the heap holds those.
        var heap = Heap<Candidate>()
        if extra < e {
            var top = Heap<Candidate>()  // min-heap of the `extra` heaviest, by (load, id) order
            for x in 0..<e {
                let c = Candidate(perReplica: loads[x], expert: Int32(x))
                if top.count < extra { top.insert(c) } else if top.min! < c { _ = top.replaceMin(with: c) }
            }
            heap = Heap(top.unordered)
        } else {
            heap = Heap((0..<e).map { Candidate(perReplica: loads[$0], expert: Int32($0)) })
        }
        give(extra, from: &heap, loads: loads, cap: cap, counts: counts)
    }

    /// Gives, in bulk, every replica that one-at-a-time allotment of `extra` replicas among
    /// `experts` would give first: all those whose per-replica load before the gift,
    /// `loads[e] / counts[e]`, lies strictly above a threshold λ, the smallest (found by bisection)
    /// for which there are at most `extra` of them. The next replica an expert gets is worth
    /// `w/c`, then `w/(c+1)`, …: the one-at-a-time rule takes these values in decreasing order,
    /// so every value above λ is among its first `extra` picks and the counts it leaves are the
    /// ones it passes through. The caller gives the rest (at most the values tied near λ) with
    /// the heap. Returns the number given. O(E) per bisection step, at most 80 steps.
    static func giveAboveThreshold(_ extra: Int, among experts: some Collection<Int>, loads: UnsafeBufferPointer<Double>,
                                   cap: Int, counts: UnsafeMutableBufferPointer<Int32>) -> Int {
        // Gifts to expert x above λ: #{k in counts[x] ..< cap : loads[x]/k > λ}.
        func gifts(_ x: Int, above lambda: Double) -> Int {
            let c = Int(counts[x]), w = loads[x]
            guard c < cap, w / Double(c) > lambda else { return 0 }
            // k < w/λ; start from the floating estimate and correct it with the exact test.
            let estimate = lambda > 0 ? w / lambda : Double(cap)
            var k = estimate < Double(cap) ? Swift.max(c, Int(estimate)) : cap - 1
            while k > c && !(w / Double(k) > lambda) { k -= 1 }
            while k + 1 < cap && w / Double(k + 1) > lambda { k += 1 }
            return k - c + 1
        }
        func total(above lambda: Double) -> Int {
            var n = 0
            for x in experts {
                n += gifts(x, above: lambda)
                if n > extra { return n }
            }
            return n
        }
        var high = 0.0
        for x in experts where loads[x] / Double(counts[x]) > high { high = loads[x] / Double(counts[x]) }
        guard high.isFinite, high > 0 else { return 0 }
        // total(above: high) == 0 ≤ extra; find the smallest such λ within rounding.
        var low = 0.0
        if total(above: low) <= extra { high = low }
        var steps = 0
        while steps < 80 && low < high {
            let mid = low + (high - low) / 2
            if mid <= low || mid >= high { break }
            if total(above: mid) <= extra { high = mid } else { low = mid }
            steps += 1
        }
        var given = 0
        for x in experts {
            let n = gifts(x, above: high)
            counts[x] += Int32(n)
            given += n
        }
        return given
    }

    /// Gives `extra` more replicas, one at a time, to the expert at the top of `heap` (highest
    /// per-replica load `loads[e] / counts[e]`), dropping experts that reach `cap`. Stops early
    /// when every expert in the heap is at the cap.
    static func give(_ extra: Int, from heap: inout Heap<Candidate>, loads: UnsafeBufferPointer<Double>, cap: Int,
                     counts: UnsafeMutableBufferPointer<Int32>) {
        var left = extra
        while left > 0, var top = heap.max {
            let x = Int(top.expert)
            counts[x] += 1
            left -= 1
            if Int(counts[x]) >= cap {
                _ = heap.removeMax()
            } else {
                top.perReplica = loads[x] / Double(counts[x])
                _ = heap.replaceMax(with: top)
            }
        }
    }
}
