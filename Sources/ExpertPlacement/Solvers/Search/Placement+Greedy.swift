extension SearchState {
    /// Places all replicas (counts already set) from scratch: replicas in decreasing order of
    /// `key[e] / counts[e]` (lower id on ties), each onto the device — free slot, expert absent —
    /// whose *projected* load raises the projected episode peaks least.
    ///
    /// A device's projected load in episode `t` is its load so far plus `α·ā_t` for each of its
    /// free slots, where `ā_t` is the mean share of the replicas not yet placed; the projected
    /// peak `θ_t` is the largest projected load. The cost of a device is
    /// `Σ_t max(projected_t + share_t − ā_t·α − θ_t, 0)` in sum mode (the max over `t` in max
    /// mode), ties to the smaller total load, then the lower index. With `α = 0` this is the plain
    /// vector-aware largest-first rule (marginal increase of the running peaks); with `α = 1` a
    /// device half full is judged by what it will likely carry when full, which packs steady loads
    /// better; spiky loads favour small `α`. The solver tries both and keeps the better.
    ///
    /// O(P·(D·T + S·T)) with SIMD over episodes; a repair like ``LargestFirstPacking``'s when no
    /// device qualifies. With `stop`, the context is checked every 8 replicas: when it says stop,
    /// the placement is abandoned half-done and the call returns `false` (the state is then not a
    /// placement; the caller discards it).
    @discardableResult
    func placeVectorGreedy(key: UnsafeBufferPointer<Double>, order: UnsafeMutableBufferPointer<Int32>,
                           alpha: Double = 0, stop: LayerContext? = nil) -> Bool {
        sortReplicaOrder(key: key, order: order)
        slots.update(repeating: -1, count: d * s)
        holds.update(repeating: 0, count: d * e)
        load.update(repeating: 0, count: d * t)
        let work = GreedyWorkspace(devices: d, slotsPerDevice: s, episodes: t)
        let fill = work.fill, remaining = work.remaining, mean = work.mean, theta = work.theta
        let groupMax = work.groupMax, groupSize = work.groupSize
        // Every device starts in group 0 (empty, load 0).
        groupSize[0] = Int32(d)
        for i in 0..<t { groupMax[i] = 0 }
        for f in 1...s { for i in 0..<t { groupMax[f * t + i] = -.infinity } }
        var left = d * s
        for i in 0..<t { remaining[i] = 0 }
        for x in 0..<e {
            let c = Double(counts[x])
            for i in 0..<t { remaining[i] += c * share[x * t + i] }
        }
        let project = alpha > 0 && mode != .risk
        var maxScore = 0.0
        let projRow = work.projection
        for i in 0..<t { theta[i] = 0; mean[i] = 0 }
        for xi in order {
            let x = Int(xi)
            let src = x * t
            for _ in 0..<Int(counts[x]) {
                // ā_t over the other unplaced replicas, and θ_t over the fill groups.
                left -= 1
                if left & 7 == 0, let stop, stop.shouldStop() { return false }
                if project {
                    let scale = left > 0 ? alpha / Double(left) : 0
                    for i in 0..<t {
                        remaining[i] -= share[src + i]
                        mean[i] = Swift.max(remaining[i], 0) * scale
                        theta[i] = -.infinity
                    }
                    for f in 0...s where groupSize[f] > 0 {
                        let free = Double(s - f)
                        let row = groupMax + f * t
                        for i in 0..<t { theta[i] = Swift.max(theta[i], row[i] + free * mean[i]) }
                    }
                }
                var best = -1
                var bestCost = Double.infinity, bestTotal = Double.infinity
                for dev in 0..<d where Int(fill[dev]) < s && holds[dev * e + x] == 0 {
                    if mode == .risk {
                        // Raise of the largest device score, ties to the lower new score.
                        for i in 0..<t { projRow[i] = load[dev * t + i] + share[src + i] }
                        let newScore = riskScore(projRow)
                        let cost = Swift.max(newScore - maxScore, 0)
                        if cost < bestCost || (cost == bestCost && newScore < bestTotal) {
                            best = dev
                            bestCost = cost
                            bestTotal = newScore
                        }
                        continue
                    }
                    let after = Double(s - Int(fill[dev]) - 1)
                    let (cost, sum) = projectedCost(row: load + dev * t, share: share + src, mean: mean,
                                                     after: after, theta: theta)
                    if cost < bestCost || (cost == bestCost && sum < bestTotal) {
                        best = dev
                        bestCost = cost
                        bestTotal = sum
                    }
                }
                if best < 0 {
                    best = repairForVectorGreedy(x, fill: fill)
                    work.rebuildGroups(load: load)
                }
                let oldGroup = Int(fill[best])
                slots[best * s + oldGroup] = Int32(x)
                fill[best] += 1
                holds[best * e + x] = 1
                let row = best * t
                for i in 0..<t { load[row + i] += share[src + i] }
                if mode == .risk {
                    maxScore = Swift.max(maxScore, riskScore(load + row))
                } else if project {
                    work.move(device: best, from: oldGroup, load: load)
                } else {
                    // θ is the running peak (mean is 0).
                    for i in 0..<t { theta[i] = Swift.max(theta[i], load[row + i]) }
                }
            }
        }
        recomputeTops()
        return true
    }

    /// `(cost, total)` of putting a replica with shares `share` on a device with loads `row` and
    /// `after` free slots left: see ``placeVectorGreedy(key:order:alpha:)``. SIMD over episodes.
    @inline(__always)
    func projectedCost(row: UnsafeMutablePointer<Double>, share: UnsafeMutablePointer<Double>,
                       mean: UnsafeMutablePointer<Double>, after: Double,
                       theta: UnsafeMutablePointer<Double>) -> (Double, Double) {
        var i = 0
        var costV = SIMD8<Double>(repeating: 0), sumV = SIMD8<Double>(repeating: 0)
        let zero = SIMD8<Double>(repeating: 0)
        let afterV = SIMD8<Double>(repeating: after)
        let stride = MemoryLayout<Double>.stride
        let rowRaw = UnsafeRawPointer(row), shareRaw = UnsafeRawPointer(share)
        let meanRaw = UnsafeRawPointer(mean), thetaRaw = UnsafeRawPointer(theta)
        let isSum = mode == .sum
        while i + 8 <= t {
            let o = i * stride
            let v = rowRaw.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
                + shareRaw.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            sumV += v
            let over = v + afterV * meanRaw.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
                - thetaRaw.loadUnaligned(fromByteOffset: o, as: SIMD8<Double>.self)
            if isSum {
                costV += over.replacing(with: zero, where: over .< zero)
            } else {
                costV = pointwiseMax(costV, over)
            }
            i += 8
        }
        var cost = isSum ? costV.sum() : costV.max()
        var sum = sumV.sum()
        while i < t {
            let v = row[i] + share[i]
            sum += v
            let over = v + after * mean[i] - theta[i]
            if isSum { if over > 0 { cost += over } } else { cost = Swift.max(cost, over) }
            i += 1
        }
        if !isSum { cost = Swift.max(cost, 0) }
        return (cost, sum)
    }

    /// Scalar largest-first placement of the current counts on `key[e] / counts[e]` (fast; used to
    /// score allotments in the tree search). O(P log E + P log D) plus the O(T·P) rebuild.
    /// Returns `false`, leaving the slots as they were, when `stop` cut the packing short.
    @discardableResult
    func placeScalarGreedy(key: UnsafeBufferPointer<Double>, stop: LayerContext? = nil) -> Bool {
        let packer = LargestFirstPacking(devices: d, slotsPerDevice: s, experts: e)
        guard let result = packer.pack(loads: key, counts: UnsafeBufferPointer(start: counts, count: e), stop: stop) else {
            return false
        }
        for i in 0..<(d * s) { slots[i] = result[i] }
        rebuild()
        return true
    }

    /// Orders experts by `key[e] / counts[e]`, descending, lower id first on ties.
    func sortReplicaOrder(key: UnsafeBufferPointer<Double>, order: UnsafeMutableBufferPointer<Int32>) {
        for x in 0..<e { order[x] = Int32(x) }
        let c = counts
        var order = order
        order.sort { a, b in
            let ka = key[Int(a)] / Double(c[Int(a)]), kb = key[Int(b)] / Double(c[Int(b)])
            return ka != kb ? ka > kb : a < b
        }
    }

    /// Frees a slot for `x` when every device with room already holds it: moves some replica `y`
    /// from a full device lacking `x` to a device with room lacking `y` (lowest resulting total
    /// load). Returns the device whose slot `x` may take; updates slots, holds, load and fill.
    private func repairForVectorGreedy(_ x: Int, fill: UnsafeMutablePointer<Int32>) -> Int {
        var best: (d1: Int, d2: Int, k: Int, cost: Double)? = nil
        for d1 in 0..<d where Int(fill[d1]) < s {
            for d2 in 0..<d where Int(fill[d2]) == s && holds[d2 * e + x] == 0 {
                for k in 0..<s {
                    let y = Int(slots[d2 * s + k])
                    if holds[d1 * e + y] != 0 { continue }
                    var cost = 0.0
                    for i in 0..<t { cost = Swift.max(cost, load[d1 * t + i] + share[y * t + i]) }
                    if best == nil || cost < best!.cost { best = (d1, d2, k, cost) }
                }
            }
        }
        guard let (d1, d2, k, _) = best else { preconditionFailure("vector greedy: no repair exists") }
        let y = Int(slots[d2 * s + k])
        slots[d1 * s + Int(fill[d1])] = Int32(y)
        fill[d1] += 1
        holds[d1 * e + y] = 1
        holds[d2 * e + y] = 0
        for i in 0..<t {
            load[d1 * t + i] += share[y * t + i]
            load[d2 * t + i] -= share[y * t + i]
        }
        // The freed slot on d2 is refilled by the caller: shift it to the end of d2's filled range.
        let last = d2 * s + s - 1
        slots[d2 * s + k] = slots[last]
        slots[last] = -1
        fill[d2] -= 1
        return d2
    }
}

/// Scratch of ``SearchState/placeVectorGreedy(key:order:alpha:)``: fill levels, the per-episode
/// maximum load of the devices at each fill level, and projection rows.
final class GreedyWorkspace {
    let d: Int, s: Int, t: Int
    let fill: UnsafeMutablePointer<Int32>
    let groupSize: UnsafeMutablePointer<Int32>
    let groupMax: UnsafeMutablePointer<Double>
    let remaining: UnsafeMutablePointer<Double>
    let mean: UnsafeMutablePointer<Double>
    let theta: UnsafeMutablePointer<Double>
    let projection: UnsafeMutablePointer<Double>

    init(devices: Int, slotsPerDevice: Int, episodes: Int) {
        d = devices; s = slotsPerDevice; t = episodes
        fill = .allocate(capacity: d); fill.initialize(repeating: 0, count: d)
        groupSize = .allocate(capacity: s + 1); groupSize.initialize(repeating: 0, count: s + 1)
        groupMax = .allocate(capacity: (s + 1) * t); groupMax.initialize(repeating: 0, count: (s + 1) * t)
        remaining = .allocate(capacity: t); remaining.initialize(repeating: 0, count: t)
        mean = .allocate(capacity: t); mean.initialize(repeating: 0, count: t)
        theta = .allocate(capacity: t); theta.initialize(repeating: 0, count: t)
        projection = .allocate(capacity: t); projection.initialize(repeating: 0, count: t)
    }

    deinit {
        fill.deallocate(); groupSize.deallocate(); groupMax.deallocate()
        remaining.deallocate(); mean.deallocate(); theta.deallocate(); projection.deallocate()
    }

    /// Device `dev` went from fill level `old` to `old + 1` (its load row already updated).
    func move(device dev: Int, from old: Int, load: UnsafeMutablePointer<Double>) {
        let new = old + 1
        groupSize[old] -= 1
        groupSize[new] += 1
        let row = load + dev * t
        let top = groupMax + new * t
        for i in 0..<t { top[i] = Swift.max(top[i], row[i]) }
        recompute(group: old, load: load)
    }

    private func recompute(group f: Int, load: UnsafeMutablePointer<Double>) {
        let top = groupMax + f * t
        for i in 0..<t { top[i] = -.infinity }
        guard groupSize[f] > 0 else { return }
        for dev in 0..<d where Int(fill[dev]) == f {
            let row = load + dev * t
            for i in 0..<t { top[i] = Swift.max(top[i], row[i]) }
        }
    }

    /// Recomputes every group from scratch (after a repair moved replicas between devices).
    func rebuildGroups(load: UnsafeMutablePointer<Double>) {
        for f in 0...s { groupSize[f] = 0 }
        for dev in 0..<d { groupSize[Int(fill[dev])] += 1 }
        for f in 0...s { recompute(group: f, load: load) }
    }
}
