/// Token dropping at a uniform per-device capacity: how many tokens a cap drops, and the
/// smallest cap that drops at most a given share.
///
/// Guide (see the DocC article *Token dropping*): a device that receives more than `c` tokens in
/// an all-to-all drops the excess, so a uniform capacity `c` drops
///
///     dropped(c) = Σ_d max(0, L_d − c)
///
/// of the `W = Σ_d L_d` tokens routed to the `D` devices. `dropped` is continuous, convex,
/// piecewise linear and decreasing in `c`. For a budget `f` (a share of `W`) the smallest capacity
/// with `dropped(c) ≤ f·W` is found exactly: sort the loads descending, `L_(1) ≥ … ≥ L_(D)`,
/// `L_(D+1) = 0`, with prefix sums `S_k`; on `[L_(k+1), L_(k)]` the function is `S_k − k·c`, so
/// the answer is `c = (S_k − f·W)/k` for the first `k` with `S_k − k·L_(k+1) ≥ f·W`. `f = 0` gives
/// `c = max L`; `f ≥ 1` gives `c = 0`; an all-zero row gives `c = 0`.
///
/// Complexity: O(D log D) for the sort, O(k) for the walk (`k` devices above the cap).
public enum TokenDrop {
    /// The smallest capacity `c ≥ 0` with `Σ_d max(0, L_d − c) ≤ budget · Σ_d L_d`.
    ///
    /// - Parameters:
    ///   - deviceLoads: the tokens each device receives, `L_d ≥ 0` (any unit, any order).
    ///   - budget: the share of tokens that may be dropped, `f ≥ 0` (`f ≥ 1` allows every token).
    /// - Returns: the capacity, in the unit of the loads; `max L` when `budget` is 0, 0 when
    ///   `budget ≥ 1` or every load is 0. Up to rounding, `dropped(c) = budget · W` whenever
    ///   `0 < c < max L`.
    /// - Complexity: O(D log D).
    public static func capacity(deviceLoads: some Collection<Double>, budget: Double) -> Double {
        var sorted = Array(deviceLoads)
        sorted.sort(by: >)
        var total = 0.0
        for v in sorted { total += v }
        return sorted.withUnsafeBufferPointer { capacity(sortedDescending: $0, allowance: budget * total) }
    }

    /// The walk on loads already sorted descending: the smallest `c ≥ 0` with
    /// `Σ max(0, L − c) ≤ allowance`. The one implementation shared by ``capacity(deviceLoads:budget:)``
    /// and the drop-aware search (which walks a merged sequence the same way).
    @inlinable
    static func capacity(sortedDescending loads: UnsafeBufferPointer<Double>, allowance: Double) -> Double {
        var walk = CapacityWalk(allowance: allowance)
        for v in loads {
            if let c = walk.next(v) { return c }
        }
        return walk.finish()
    }

    /// Tokens a capacity drops: `Σ_d max(0, L_d − capacity)`. O(D).
    public static func dropped(deviceLoads: some Sequence<Double>, capacity: Double) -> Double {
        var sum = 0.0
        for v in deviceLoads where v > capacity { sum += v - capacity }
        return sum
    }
}

/// The walk of ``TokenDrop``: feed device loads in descending order; it answers as soon as the
/// capacity is known (after the `k` loads above it and the next one).
@usableFromInline
struct CapacityWalk {
    @usableFromInline let allowance: Double
    @usableFromInline var prefix = 0.0
    @usableFromInline var taken = 0

    @inlinable init(allowance: Double) { self.allowance = allowance }

    /// Offers the next load (not larger than the previous ones); returns the capacity when it
    /// lies at or above this load.
    @inlinable
    mutating func next(_ v: Double) -> Double? {
        if taken > 0 && prefix - Double(taken) * v >= allowance {
            return Swift.max(0, (prefix - allowance) / Double(taken))
        }
        prefix += v
        taken += 1
        return nil
    }

    /// The capacity once every load has been offered (the next load is 0).
    @inlinable
    func finish() -> Double {
        guard taken > 0 else { return 0 }
        return Swift.max(0, (prefix - allowance) / Double(taken))
    }
}
