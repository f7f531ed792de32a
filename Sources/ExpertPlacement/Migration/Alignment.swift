/// Relabels a new plan onto the deployed one so that as few replicas as possible move.
///
/// A layer's plan is only defined up to which physical device gets which set of experts, and in
/// which local slot. Two steps, neither of which changes any device's set of experts (so every
/// load and metric is unchanged):
/// 1. **Devices.** Each planned device is matched to a deployed device by a maximum-weight
///    perfect assignment on the number of experts they have in common (the Hungarian method,
///    ``Assignment/maximumWeight(_:size:)``, exact — a greedy matching can keep fewer).
/// 2. **Slots.** On each device, every expert the deployed device already holds stays in its
///    slot; the others fill the remaining slots in plan order.
///
/// Afterwards `moves` (slots whose expert differs from the deployed row) is `P − Σ common
/// experts of the matched pairs`, the least any relabelling can reach, so alignment never adds
/// moves, and a plan that holds the same expert sets as the deployed one needs none.
///
/// With `nodes > 1` (a method that keeps expert groups on nodes, ``LayerSolver/nodesKept(on:)``)
/// the relabelling keeps nodes whole: planned node `A`'s devices all go to one deployed node `B`,
/// nodes matched by a maximum-weight assignment whose weights are the best device matching
/// within each pair of nodes. Moves are then the least of any node-preserving relabelling (they
/// can exceed the unrestricted least: that is the price of keeping each group on one node).
///
/// Complexity: O(D²·S) for the overlaps plus O(D³) for the assignment (with nodes,
/// O(N²·(D/N)³ + N³)).
public enum Alignment {
    /// `plan` relabelled onto `deployed` (both `phy2log` rows of one layer, `D·S` ids,
    /// device-major). Ids must be in `0..<experts`. With `nodes > 1` dividing the devices,
    /// devices are relabelled within matched nodes only (consecutive blocks of `D/N` devices).
    public static func align(_ plan: some Collection<Int32>, onto deployed: some Collection<Int32>,
                             slotsPerDevice s: Int, experts: Int, nodes: Int = 1) -> ContiguousArray<Int32> {
        let planned = ContiguousArray(plan), current = ContiguousArray(deployed)
        precondition(planned.count == current.count && s > 0 && planned.count % s == 0, "rows of different shapes")
        let d = planned.count / s
        // Overlaps: experts in common (with multiplicity) of planned device a and deployed device b.
        var overlap = ContiguousArray<Int>(repeating: 0, count: d * d)
        var count = ContiguousArray<Int32>(repeating: 0, count: experts)
        var taken = ContiguousArray<Int32>(repeating: 0, count: s)
        for a in 0..<d {
            for k in 0..<s { count[Int(planned[a * s + k])] += 1 }
            for b in 0..<d {
                var common = 0
                for k in 0..<s {
                    let y = current[b * s + k]
                    if count[Int(y)] > 0 {
                        count[Int(y)] -= 1
                        taken[common] = y
                        common += 1
                    }
                }
                for i in 0..<common { count[Int(taken[i])] += 1 }
                overlap[a * d + b] = common
            }
            for k in 0..<s { count[Int(planned[a * s + k])] = 0 }
        }
        let target = nodes > 1 && d % nodes == 0 ? nodePreserving(overlap, devices: d, nodes: nodes)
                                                 : Assignment.maximumWeight(overlap, size: d)
        var out = ContiguousArray<Int32>(repeating: -1, count: d * s)
        var rest = ContiguousArray<Int32>()
        for a in 0..<d {
            let b = target[a]
            rest.removeAll(keepingCapacity: true)
            for k in 0..<s { rest.append(planned[a * s + k]) }
            // Shared experts keep their deployed slot.
            for k in 0..<s {
                let y = current[b * s + k]
                if let i = rest.firstIndex(of: y) {
                    out[b * s + k] = y
                    rest.remove(at: i)
                }
            }
            var next = 0
            for k in 0..<s where out[b * s + k] < 0 {
                out[b * s + k] = rest[next]
                next += 1
            }
        }
        return out
    }

    /// The device assignment (planned device → deployed device) of the best relabelling that maps
    /// every planned node's devices onto one deployed node's: per pair of nodes the best device
    /// matching within them, then the best matching of nodes on those values.
    static func nodePreserving(_ overlap: ContiguousArray<Int>, devices d: Int, nodes n: Int) -> [Int] {
        let m = d / n
        var within = [[Int]](repeating: [], count: n * n)  // the device matching of each node pair
        var value = ContiguousArray<Int>(repeating: 0, count: n * n)
        var block = ContiguousArray<Int>(repeating: 0, count: m * m)
        for a in 0..<n {
            for b in 0..<n {
                for i in 0..<m { for j in 0..<m { block[i * m + j] = overlap[(a * m + i) * d + b * m + j] } }
                let matching = Assignment.maximumWeight(block, size: m)
                within[a * n + b] = matching
                value[a * n + b] = (0..<m).reduce(0) { $0 + block[$1 * m + matching[$1]] }
            }
        }
        let nodeTarget = Assignment.maximumWeight(value, size: n)
        var target = [Int](repeating: 0, count: d)
        for a in 0..<n {
            let b = nodeTarget[a]
            for i in 0..<m { target[a * m + i] = b * m + within[a * n + b][i] }
        }
        return target
    }

    /// Slots whose expert differs between two rows of one layer (the `moves` metric).
    @inlinable
    public static func moves(_ plan: some Sequence<Int32>, from deployed: some Sequence<Int32>) -> Int {
        zip(plan, deployed).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) }
    }
}
