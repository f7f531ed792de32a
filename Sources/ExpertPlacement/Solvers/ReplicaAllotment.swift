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
    /// - Complexity: O(E + (slots − E) log E).
    static func minMax(loads: UnsafeBufferPointer<Double>, slots: Int, cap: Int,
                       counts: UnsafeMutableBufferPointer<Int32>) {
        let e = loads.count
        precondition(e <= slots && slots <= e * cap, "replica allotment: infeasible slot count")
        for i in 0..<e { counts[i] = 1 }
        let extra = slots - e
        if extra == 0 { return }
        if cap == 1 { return }
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
