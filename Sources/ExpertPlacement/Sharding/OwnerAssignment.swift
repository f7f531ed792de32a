/// Which data-parallel rank owns which shared-weight layer: balanced counts under per-device
/// capacities (water-filling), then an order in which consecutive layers have different owners.
///
/// **Counts.** Device `d` may own at most `u_d` layers. The least possible maximum count is
/// `m* = min { m : Σ_d min(u_d, m) ≥ N }`: no assignment with every count below `m*` holds the `N`
/// layers (it holds at most `Σ_d min(u_d, m* − 1) < N`), and the counts `c_d = min(u_d, m* − 1)`,
/// plus one more for the first devices (by index) whose capacity reaches `m*` until `N` is
/// reached, attain it. Without capacities (`u_d = N`) this is `⌈N/D⌉` for the first `N mod D`
/// devices and `⌊N/D⌋` for the others: the round-robin counts.
///
/// **Order.** The layers run in a cycle (forward passes back to back: layer `N − 1` is followed by
/// layer 0 of the next pass), and a rank that broadcasts two layers in a row keeps its send path
/// busy while the others idle. With the largest count `m`, every cyclic order has at least
/// `max(0, 2m − N)` places where a layer's owner also owns the next one (each of the top device's
/// `m` layers is followed by one of the `N − m` others or by its own), and every line order at
/// least `max(0, 2m − N − 1)`. The order used here meets both bounds: the devices' labels, sorted
/// by count (descending, then by index) and written out block by block, are dealt into `m` rows
/// (label `t` to row `t mod m`) and the rows are read one after the other. Every row starts with
/// the top device and holds each device at most once (a device has at most `m` consecutive
/// labels), so a repeat can only happen where a row holding the top device alone meets the next
/// row; there are `max(0, 2m − N)` such rows. When `D` divides `N` this is round robin,
/// `owner(i) = i mod D`; otherwise each device's layers still sit about `N/m` apart, unlike plain
/// round robin, which repeats owner 0 across the wrap when `N mod D = 1` (17 layers on 16 ranks).
///
/// Complexity: O(D log N) for the counts, O(N + D log D) for the order.
public enum OwnerAssignment {
    /// The balanced owned-layer counts under per-device capacities, or `nil` when the capacities
    /// hold fewer than `layers` layers.
    ///
    /// - Parameters:
    ///   - layers: `N ≥ 0`.
    ///   - capacities: `u_d ≥ 0` per device, `D ≥ 1` entries.
    /// - Returns: `c_d ≤ u_d` per device with `Σ c_d = N` and `max_d c_d` = ``leastMaximum(layers:capacities:)``.
    /// - Complexity: O(D log N).
    public static func balancedCounts(layers: Int, capacities: [Int]) -> [Int]? {
        guard let m = leastMaximum(layers: layers, capacities: capacities) else { return nil }
        var counts = capacities.map { Swift.min($0, Swift.max(m - 1, 0)) }
        var left = layers - counts.reduce(0, +)
        for d in counts.indices where left > 0 && capacities[d] >= m {
            counts[d] += 1
            left -= 1
        }
        return counts
    }

    /// `m* = min { m : Σ_d min(u_d, m) ≥ N }`, the least possible largest owned-layer count, or
    /// `nil` when `Σ_d u_d < N`.
    ///
    /// - Complexity: O(D log N) (a bisection on `m`).
    public static func leastMaximum(layers: Int, capacities: [Int]) -> Int? {
        func held(_ m: Int) -> Int {
            var total = 0
            for u in capacities {
                total += Swift.min(u, m)
                if total >= layers { return total }
            }
            return total
        }
        if layers == 0 { return 0 }
        guard held(layers) >= layers else { return nil }
        var low = 0, high = layers  // held(low) < N ≤ held(high)
        while high - low > 1 {
            let mid = low + (high - low) / 2
            if held(mid) >= layers { high = mid } else { low = mid }
        }
        return high
    }

    /// An owner for each layer such that device `d` owns `counts[d]` layers and the number of
    /// consecutive layers with the same owner is the least possible, in a line and in a cycle.
    ///
    /// - Parameter counts: `c_d ≥ 0` per device; `N = Σ c_d`.
    /// - Returns: `N` device indices.
    /// - Complexity: O(N + D log D).
    public static func interleave(counts: [Int]) -> [Int] {
        let order = counts.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
        var labels: [Int] = []
        labels.reserveCapacity(counts.reduce(0, +))
        for d in order { labels.append(contentsOf: repeatElement(d, count: counts[d])) }
        let rows = counts.max() ?? 0
        var owners: [Int] = []
        owners.reserveCapacity(labels.count)
        for row in 0..<rows {
            for t in stride(from: row, to: labels.count, by: rows) { owners.append(labels[t]) }
        }
        return owners
    }

    /// The number of layers `i` whose owner also owns layer `i + 1`, counting the wrap from the
    /// last layer to the first when `cyclic` (and `N ≥ 2`).
    public static func repeats(_ owners: [Int], cyclic: Bool) -> Int {
        guard owners.count >= 2 else { return 0 }
        var n = 0
        for i in 1..<owners.count where owners[i] == owners[i - 1] { n += 1 }
        if cyclic && owners[0] == owners[owners.count - 1] { n += 1 }
        return n
    }

    /// The least number of repeats any order of these counts has: `max(0, 2m − N)` in a cycle,
    /// `max(0, 2m − N − 1)` in a line, with `m` the largest count.
    public static func leastRepeats(counts: [Int], cyclic: Bool) -> Int {
        let n = counts.reduce(0, +), m = counts.max() ?? 0
        guard n >= 2 else { return 0 }
        return Swift.max(0, 2 * m - n - (cyclic ? 0 : 1))
    }
}
