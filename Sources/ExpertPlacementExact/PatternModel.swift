/// The pattern formulation of "is there a placement whose every device load stays within θ?"
/// for one layer, in peak units (episode loads already scaled so the objective is the peak).
///
/// An *item* `(e, r)` is one replica of expert `e` when `e` has `r` replicas, carrying `w[t][e]/r`
/// in episode `t`. A *pattern* is a set of `S` items of distinct experts whose load stays within θ
/// in every episode — what one device can hold. With `x_p` devices using pattern `p` and binary
/// `y_{e,r}` choosing expert `e`'s replica count, a placement within θ exists if and only if
///
///     Σ_p x_p = D,   Σ_p [ (e,r) ∈ p ]·x_p = r·y_{e,r}  for every item,   Σ_r y_{e,r} = 1  for every e,
///
/// has an integer solution. Identical devices are aggregated into pattern counts, so the model
/// has no device symmetry. It grows with the number of patterns, which explodes with `S` and
/// `E`: the enumeration stops at a limit and the caller reports the instance as too large.
struct PatternModel {
    let experts: Int
    let devices: Int
    let slotsPerDevice: Int
    /// Episode loads in peak units, `rows[t][e]`.
    let rows: [[Double]]

    struct Item {
        var expert: Int
        var replicas: Int
        var load: [Double]
        var peak: Double
    }

    /// The largest replica count an expert may have.
    var maxReplicas: Int { Swift.min(devices, devices * slotsPerDevice - experts + 1) }

    /// All items within θ that some placement within θ could use, heaviest first: expert `e` needs
    /// at least `m_e = ⌈max_t w[t][e]/θ⌉` replicas, so it can have at most `m_e + (P − Σ m)`.
    /// Empty when `Σ m > P` (no placement within θ).
    func items(within theta: Double) -> [Item] {
        items(within: theta, deadline: nil, limit: .max)!
    }

    /// Most loads (items × rows) an item list may hold: 4 Mi doubles, 32 MiB.
    static let maxItemLoads = 1 << 22

    /// The most items a model of these rows may have: `maxPatterns` (every item is a column of
    /// the master and of the MIPs) and at most ``maxItemLoads`` loads in all.
    func itemLimit(maxPatterns: Int) -> Int {
        Swift.min(maxPatterns, Swift.max(1, Self.maxItemLoads / Swift.max(1, rows.count)))
    }

    /// ``items(within:)``, or `nil` when `deadline` passes first or there would be more than
    /// `limit` items (far more slots than experts gives thousands of replica counts per expert,
    /// each item a row of loads: the caller reports the model as too large).
    func items(within theta: Double, deadline: ContinuousClock.Instant?, limit: Int) -> [Item]? {
        var minimum = [Int](repeating: 1, count: experts)
        var needed = 0
        for e in 0..<experts {
            let peak = rows.map { $0[e] }.max() ?? 0
            let m = theta > 0 ? Swift.max(1, Int((peak / theta * (1 - 1e-12)).rounded(.up))) : (peak > 0 ? Int.max / 4 : 1)
            minimum[e] = m
            needed += Swift.min(m, Int.max / 4 / Swift.max(1, experts))
        }
        let slack = devices * slotsPerDevice - needed
        guard slack >= 0 else { return [] }
        var out: [Item] = []
        for e in 0..<experts where minimum[e] <= maxReplicas {
            for r in minimum[e]...Swift.min(maxReplicas, minimum[e] + slack) {
                if out.count >= limit { return nil }
                if out.count & 1023 == 1023, let deadline, ContinuousClock.now >= deadline { return nil }
                let load = rows.map { $0[e] / Double(r) }
                let peak = load.max() ?? 0
                if peak <= theta { out.append(Item(expert: e, replicas: r, load: load, peak: peak)) }
            }
        }
        return out.sorted { $0.peak != $1.peak ? $0.peak > $1.peak : ($0.expert, $0.replicas) < ($1.expert, $1.replicas) }
    }

    /// The patterns within θ as lists of item indices, or `nil` when there are more than `limit`,
    /// the enumeration examines more than `20·limit` candidates, or `deadline` passes.
    func patterns(items: [Item], within theta: Double, limit: Int, deadline: ContinuousClock.Instant) -> [[Int]]? {
        let s = slotsPerDevice, t = rows.count
        let slack = theta * (1 + 1e-12)
        var out: [[Int]] = []
        var chosen: [Int] = []
        var used = [Bool](repeating: false, count: experts)
        var sum = [Double](repeating: 0, count: t)
        var overflow = false
        var visited = 0
        func extend(from start: Int) {
            if overflow { return }
            visited += 1
            if visited > 20 * limit || (visited & 0xFFF == 0 && ContinuousClock.now >= deadline) {
                overflow = true
                return
            }
            if chosen.count == s {
                out.append(chosen)
                if out.count > limit { overflow = true }
                return
            }
            let need = s - chosen.count
            var i = start
            while i < items.count {
                if items.count - i < need { return }
                visited += 1
                if visited & 0xFFFF == 0 && ContinuousClock.now >= deadline {
                    overflow = true
                    return
                }
                let item = items[i]
                if !used[item.expert] {
                    var fits = true
                    for k in 0..<t where sum[k] + item.load[k] > slack { fits = false; break }
                    if fits {
                        used[item.expert] = true
                        for k in 0..<t { sum[k] += item.load[k] }
                        chosen.append(i)
                        extend(from: i + 1)
                        chosen.removeLast()
                        for k in 0..<t { sum[k] -= item.load[k] }
                        used[item.expert] = false
                        if overflow { return }
                    }
                }
                i += 1
            }
        }
        extend(from: 0)
        return overflow ? nil : out
    }

    /// `plan` (device-major) in this model's terms: the pattern of each device and the item of
    /// each expert (at its replica count in `plan`); `nil` when a device or an expert has none.
    func locate(_ plan: [Int32], items: [Item], patterns: [[Int]]) -> (devicePatterns: [Int], expertItems: [Int])? {
        var counts = [Int](repeating: 0, count: experts)
        for x in plan { counts[Int(x)] += 1 }
        // Item of (expert, replica count), keyed expert·(D+1) + count (counts never exceed D).
        let stride = devices + 1
        var itemIndex: [Int: Int] = [:]
        for (i, item) in items.enumerated() { itemIndex[item.expert * stride + item.replicas] = i }
        var expertItems: [Int] = []
        for x in 0..<experts {
            guard let i = itemIndex[x * stride + counts[x]] else { return nil }
            expertItems.append(i)
        }
        var patternIndex: [[Int]: Int] = [:]
        for (p, pattern) in patterns.enumerated() { patternIndex[pattern.sorted()] = p }
        var devicePatterns: [Int] = []
        for dev in 0..<devices {
            let key = plan[dev * slotsPerDevice ..< (dev + 1) * slotsPerDevice].map { expertItems[Int($0)] }.sorted()
            guard let p = patternIndex[key] else { return nil }
            devicePatterns.append(p)
        }
        return (devicePatterns, expertItems)
    }

    /// The feasibility MIP at θ, with the pattern counts `x_p` as its first columns (in pattern
    /// order, so callers may add rows over them); `decode` turns a solution into device-major `phy2log`.
    func program(items: [Item], patterns: [[Int]]) -> (MixedIntegerProgram, (([Double]) -> [Int32])) {
        var mip = MixedIntegerProgram()
        let x = patterns.map { _ in mip.addColumn(.init(kind: .integer, lower: 0, upper: Double(devices))) }
        let y = items.map { _ in mip.addColumn(.init(kind: .binary)) }
        mip.addRow(lower: Double(devices), upper: Double(devices), x.map { ($0, 1.0) })
        var uses = [[Int]](repeating: [], count: items.count)
        for (p, pattern) in patterns.enumerated() { for i in pattern { uses[i].append(p) } }
        for (i, item) in items.enumerated() {
            mip.addRow(lower: 0, upper: 0, uses[i].map { (x[$0], 1.0) } + [(y[i], -Double(item.replicas))])
        }
        for e in 0..<experts {
            let own = items.indices.filter { items[$0].expert == e }
            mip.addRow(lower: 1, upper: 1, own.map { (y[$0], 1.0) })
        }
        let s = slotsPerDevice
        let decode: ([Double]) -> [Int32] = { values in
            var plan: [Int32] = []
            for (p, pattern) in patterns.enumerated() {
                let count = Int(values[x[p]].rounded())
                for _ in 0..<count {
                    let experts = pattern.map { Int32(items[$0].expert) }.sorted()
                    plan.append(contentsOf: experts)
                }
            }
            precondition(plan.count == devices * s, "pattern solution does not fill the devices")
            return plan
        }
        return (mip, decode)
    }
}
