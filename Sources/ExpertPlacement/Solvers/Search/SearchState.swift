/// The mutable placement state the search works on, for one layer of a ``LayerModel``, in flat
/// raw buffers allocated once per layer (no allocation per search node).
///
/// Invariants (after ``rebuild()`` and every `apply…` call):
/// - `slots[d·S + k]` is the expert in local slot `k` of device `d`; `counts[e]` its replica count;
///   `holds[d·E + e] == 1` exactly when device `d` holds `e`.
/// - `share[e·T + t] = u[e·T + t] / counts[e]`; `load[d·T + t] = Σ_{k} share[slots[d·S + k]·T + t]`.
/// - For every episode `t`, `top1/2/3[t]` are the three largest device loads with their devices
///   (`topDev1/2/3[t]`; −1 when there are fewer devices).
/// - With a deployed row, `moveCount` is the number of slots whose expert differs from it.
final class SearchState {
    let e: Int, d: Int, s: Int, t: Int
    let mode: LayerModel.Mode
    let constant: Double
    let u: UnsafeMutablePointer<Double>
    let share: UnsafeMutablePointer<Double>
    let load: UnsafeMutablePointer<Double>
    let counts: UnsafeMutablePointer<Int32>
    let slots: UnsafeMutablePointer<Int32>
    let holds: UnsafeMutablePointer<UInt8>
    let top1: UnsafeMutablePointer<Double>, top2: UnsafeMutablePointer<Double>, top3: UnsafeMutablePointer<Double>
    let topDev1: UnsafeMutablePointer<Int32>, topDev2: UnsafeMutablePointer<Int32>, topDev3: UnsafeMutablePointer<Int32>
    /// Scratch rows: `2·T` doubles for move evaluation, `D·T` for multi-device moves.
    let scratch: UnsafeMutablePointer<Double>
    let scratchRows: UnsafeMutablePointer<Double>
    let touched: UnsafeMutablePointer<Int32>
    /// Episodes each device is the peak of, as CSR: `peakEpisodes[peakStart[d] ..< peakStart[d+1]]`.
    let peakStart: UnsafeMutablePointer<Int32>
    let peakEpisodes: UnsafeMutablePointer<Int32>
    /// Risk mode: episode weights (sum 1), `z`, device scores and the three best-scoring devices.
    let weights: UnsafeMutablePointer<Double>
    let riskZ: Double
    let score: UnsafeMutablePointer<Double>
    var scoreTop: (Double, Double, Double) = (0, 0, 0)
    var scoreDev: (Int32, Int32, Int32) = (-1, -1, -1)
    /// The deployed row (`D·S` expert ids, device-major) when moves count, and the number of
    /// slots of `slots` that differ from it.
    private(set) var deployed: UnsafeMutablePointer<Int32>? = nil
    private(set) var moveCount = 0

    init(model: LayerModel) {
        e = model.experts; d = model.devices; s = model.slotsPerDevice; t = model.episodes
        mode = model.mode
        constant = model.constant
        let uBuffer = UnsafeMutablePointer<Double>.allocate(capacity: model.experts * model.episodes)
        model.u.withUnsafeBufferPointer { uBuffer.initialize(from: $0.baseAddress!, count: $0.count) }
        u = uBuffer
        share = .allocate(capacity: e * t); share.initialize(repeating: 0, count: e * t)
        load = .allocate(capacity: d * t); load.initialize(repeating: 0, count: d * t)
        counts = .allocate(capacity: e); counts.initialize(repeating: 1, count: e)
        slots = .allocate(capacity: d * s); slots.initialize(repeating: -1, count: d * s)
        holds = .allocate(capacity: d * e); holds.initialize(repeating: 0, count: d * e)
        top1 = .allocate(capacity: t); top1.initialize(repeating: 0, count: t)
        top2 = .allocate(capacity: t); top2.initialize(repeating: 0, count: t)
        top3 = .allocate(capacity: t); top3.initialize(repeating: 0, count: t)
        topDev1 = .allocate(capacity: t); topDev1.initialize(repeating: -1, count: t)
        topDev2 = .allocate(capacity: t); topDev2.initialize(repeating: -1, count: t)
        topDev3 = .allocate(capacity: t); topDev3.initialize(repeating: -1, count: t)
        scratch = .allocate(capacity: 2 * t); scratch.initialize(repeating: 0, count: 2 * t)
        scratchRows = .allocate(capacity: d * t); scratchRows.initialize(repeating: 0, count: d * t)
        touched = .allocate(capacity: d); touched.initialize(repeating: 0, count: d)
        peakStart = .allocate(capacity: d + 1); peakStart.initialize(repeating: 0, count: d + 1)
        peakEpisodes = .allocate(capacity: t); peakEpisodes.initialize(repeating: 0, count: t)
        let weightBuffer = UnsafeMutablePointer<Double>.allocate(capacity: model.episodes)
        model.weights.withUnsafeBufferPointer { weightBuffer.initialize(from: $0.baseAddress!, count: $0.count) }
        weights = weightBuffer
        riskZ = model.riskZ
        score = .allocate(capacity: d); score.initialize(repeating: 0, count: d)
    }

    deinit {
        for p in [u, share, load, top1, top2, top3, scratch, scratchRows, weights, score] { p.deallocate() }
        for p in [counts, slots, topDev1, topDev2, topDev3, touched, peakStart, peakEpisodes] { p.deallocate() }
        holds.deallocate()
        deployed?.deallocate()
    }

    // MARK: - Moves from a deployed row

    /// Sets the deployed row that moves are counted against (and counts them).
    func setDeployed(_ row: some Collection<Int32>) {
        precondition(row.count == d * s, "the deployed row has \(row.count) slots, expected \(d * s)")
        if deployed == nil { deployed = .allocate(capacity: d * s) }
        for (i, x) in row.enumerated() { deployed![i] = x }
        recountMoves()
    }

    /// Counts the slots that differ from the deployed row.
    func recountMoves() {
        guard let deployed else { return }
        var n = 0
        for i in 0..<(d * s) where slots[i] != deployed[i] { n += 1 }
        moveCount = n
    }

    /// The change of ``moveCount`` if the replicas in local slot `k1` of `d1` and `k2` of `d2`
    /// were swapped (0 without a deployed row). O(1).
    @inline(__always)
    func movesDelta(swap d1: Int, _ k1: Int, _ d2: Int, _ k2: Int) -> Int {
        guard let deployed else { return 0 }
        let i1 = d1 * s + k1, i2 = d2 * s + k2
        let x = slots[i1], y = slots[i2]
        let before = (x != deployed[i1] ? 1 : 0) + (y != deployed[i2] ? 1 : 0)
        let after = (y != deployed[i1] ? 1 : 0) + (x != deployed[i2] ? 1 : 0)
        return after - before
    }

    /// The change of ``moveCount`` if local slot `k` of `dev` held expert `b`. O(1).
    @inline(__always)
    func movesDelta(device dev: Int, slot k: Int, to b: Int) -> Int {
        guard let deployed else { return 0 }
        let i = dev * s + k
        return (Int32(b) != deployed[i] ? 1 : 0) - (slots[i] != deployed[i] ? 1 : 0)
    }

    // MARK: - Building

    /// Sets replica counts (recomputing `share`); slots are left as they are.
    func setCounts(_ newCounts: UnsafeBufferPointer<Int32>) {
        for x in 0..<e {
            counts[x] = newCounts[x]
            refreshShare(x)
        }
    }

    @inline(__always) func refreshShare(_ x: Int) {
        let inv = 1.0 / Double(counts[x])
        let row = x * t
        for i in 0..<t { share[row + i] = u[row + i] * inv }
    }

    /// Recomputes `holds`, `load` and the per-episode top three from `slots` and `share`.
    func rebuild() {
        holds.update(repeating: 0, count: d * e)
        load.update(repeating: 0, count: d * t)
        for dev in 0..<d {
            let row = dev * t
            for k in 0..<s {
                let x = Int(slots[dev * s + k])
                guard x >= 0 else { continue }
                holds[dev * e + x] = 1
                let src = x * t
                for i in 0..<t { load[row + i] += share[src + i] }
            }
        }
        recomputeTops()
    }

    /// Recomputes the per-episode top three device loads. O(T·D).
    func recomputeTops() {
        for i in 0..<t {
            var top = TopThree()
            var idx = i
            for dev in 0..<d {
                top.insert(load[idx], device: Int32(dev))
                idx += t
            }
            top1[i] = top.v1; top2[i] = Swift.max(top.v2, 0); top3[i] = Swift.max(top.v3, 0)
            topDev1[i] = top.d1; topDev2[i] = top.d2; topDev3[i] = top.d3
        }
        // Peak episodes per device (counting sort by top device).
        peakStart.update(repeating: 0, count: d + 1)
        for i in 0..<t { peakStart[Int(topDev1[i]) + 1] += 1 }
        for dev in 0..<d { peakStart[dev + 1] += peakStart[dev] }
        let cursor = touched  // reuse as a D-sized cursor
        for dev in 0..<d { cursor[dev] = peakStart[dev] }
        for i in 0..<t {
            let dev = Int(topDev1[i])
            peakEpisodes[Int(cursor[dev])] = Int32(i)
            cursor[dev] += 1
        }
        if mode == .risk { recomputeScores() }
    }

    /// Risk mode: `μ + z·σ` of a device row over the weighted episodes. O(T).
    @inline(__always)
    func riskScore(_ row: UnsafePointer<Double>) -> Double {
        var mean = 0.0
        for i in 0..<t { mean += weights[i] * row[i] }
        var variance = 0.0
        for i in 0..<t {
            let dev = row[i] - mean
            variance += weights[i] * dev * dev
        }
        return mean + riskZ * variance.squareRoot()
    }

    /// Risk mode: every device's score and the three best. O(D·T).
    func recomputeScores() {
        var top = TopThree()
        for dev in 0..<d {
            let v = riskScore(load + dev * t)
            score[dev] = v
            top.insert(v, device: Int32(dev))
        }
        scoreTop = (top.v1, Swift.max(top.v2, 0), Swift.max(top.v3, 0))
        scoreDev = (top.d1, top.d2, top.d3)
    }

    /// Risk mode: the best score among devices other than `a` and `b`.
    @inline(__always)
    func scoreExcluding(_ a: Int32, _ b: Int32) -> Double {
        if scoreDev.0 != a && scoreDev.0 != b { return scoreTop.0 }
        if scoreDev.1 != a && scoreDev.1 != b { return scoreTop.1 }
        if scoreDev.2 != a && scoreDev.2 != b { return scoreTop.2 }
        var m = 0.0
        for dev in 0..<d where Int32(dev) != a && Int32(dev) != b { m = Swift.max(m, score[dev]) }
        return m
    }

    /// The objective of the current state.
    func objective() -> Double {
        switch mode {
        case .risk:
            return scoreTop.0
        case .sum:
            var f = constant
            for i in 0..<t { f += top1[i] }
            return f
        case .max:
            var f = constant
            for i in 0..<t { f = Swift.max(f, top1[i]) }
            return f
        }
    }

    /// Sets slots and counts from a complete `phy2log` (device-major) and rebuilds.
    func load(physicalToLogical plan: ContiguousArray<Int32>) {
        for x in 0..<e { counts[x] = 0 }
        for i in 0..<(d * s) {
            slots[i] = plan[i]
            counts[Int(plan[i])] += 1
        }
        for x in 0..<e { refreshShare(x) }
        rebuild()
        recountMoves()
    }

    /// The placement as flat `phy2log` (device-major).
    func physicalToLogical() -> [Int32] { Array(UnsafeBufferPointer(start: slots, count: d * s)) }

    /// Copies the placement of another state of the same shape: slots, counts, shares, holds and
    /// loads; the per-episode tops, the peak-episode lists and the risk scores are derived again.
    func copy(from other: SearchState) {
        slots.update(from: other.slots, count: d * s)
        counts.update(from: other.counts, count: e)
        share.update(from: other.share, count: e * t)
        holds.update(from: other.holds, count: d * e)
        load.update(from: other.load, count: d * t)
        moveCount = other.moveCount
        recomputeTops()
    }

    // MARK: - Swap moves

    /// The objective after swapping the replica in local slot `k1` of device `d1` with the one in
    /// local slot `k2` of `d2` (different devices, different experts, neither already on the
    /// other's device — the caller checks). O(T). Stops early and returns a value ≥ `cutoff`
    /// as soon as the result cannot be below `cutoff` (sum mode).
    @inline(__always)
    func evaluateSwap(_ d1: Int, _ k1: Int, _ d2: Int, _ k2: Int, cutoff: Double) -> Double {
        let x = Int(slots[d1 * s + k1]) * t, y = Int(slots[d2 * s + k2]) * t
        let r1 = d1 * t, r2 = d2 * t
        let dev1 = Int32(d1), dev2 = Int32(d2)
        if mode == .risk {
            for i in 0..<t {
                let delta = share[y + i] - share[x + i]
                scratch[i] = load[r1 + i] + delta
                scratch[t + i] = load[r2 + i] - delta
            }
            return Swift.max(Swift.max(riskScore(scratch), riskScore(scratch + t)), scoreExcluding(dev1, dev2))
        }
        var f = constant
        for i in 0..<t {
            let delta = share[y + i] - share[x + i]
            let a = load[r1 + i] + delta
            let b = load[r2 + i] - delta
            let other: Double
            let t1 = topDev1[i]
            if t1 != dev1 && t1 != dev2 {
                other = top1[i]
            } else {
                let t2 = topDev2[i]
                other = (t2 != dev1 && t2 != dev2) ? top2[i] : top3[i]
            }
            let peak = Swift.max(Swift.max(a, b), other)
            if mode == .sum {
                f += peak
                if f >= cutoff { return f }
            } else {
                f = Swift.max(f, peak)
                if f >= cutoff { return f }
            }
        }
        return f
    }

    /// The change of a sum-mode objective from swapping (see ``evaluateSwap``), or a value
    /// ≥ `cutoff` as soon as the change cannot be below `cutoff`. Episodes where `d1` or `d2` is
    /// the peak (the only ones that can improve) are scanned first; in every other episode the
    /// change is ≥ 0, so the scan stops as soon as the running change reaches `cutoff`.
    @inline(__always)
    func swapDelta(_ d1: Int, _ k1: Int, _ d2: Int, _ k2: Int, cutoff: Double) -> Double {
        let x = Int(slots[d1 * s + k1]) * t, y = Int(slots[d2 * s + k2]) * t
        let r1 = d1 * t, r2 = d2 * t
        let dev1 = Int32(d1), dev2 = Int32(d2)
        var change = 0.0
        // Episodes the two devices peak in: the exact change, minus the clamped rise the uniform
        // scan below adds for every episode.
        for pass in 0..<2 {
            let dev = pass == 0 ? d1 : d2
            for j in Int(peakStart[dev]) ..< Int(peakStart[dev + 1]) {
                let i = Int(peakEpisodes[j])
                let delta = share[y + i] - share[x + i]
                let high = Swift.max(load[r1 + i] + delta, load[r2 + i] - delta)
                let t2 = topDev2[i]
                let other = (t2 != dev1 && t2 != dev2) ? top2[i] : top3[i]
                change += Swift.max(high, other) - top1[i] - Swift.max(high - top1[i], 0)
            }
        }
        if change >= cutoff { return change }
        // Every episode: the clamped rise of the higher of the two devices over the current peak.
        for i in 0..<t {
            let delta = share[y + i] - share[x + i]
            let rise = Swift.max(load[r1 + i] + delta, load[r2 + i] - delta) - top1[i]
            if rise > 0 {
                change += rise
                if change >= cutoff { return change }
            }
        }
        return change
    }

    /// Swaps the two replicas and updates loads and tops. O(T·D).
    func applySwap(_ d1: Int, _ k1: Int, _ d2: Int, _ k2: Int) {
        moveCount += movesDelta(swap: d1, k1, d2, k2)
        let x = Int(slots[d1 * s + k1]), y = Int(slots[d2 * s + k2])
        slots[d1 * s + k1] = Int32(y)
        slots[d2 * s + k2] = Int32(x)
        holds[d1 * e + x] = 0; holds[d1 * e + y] = 1
        holds[d2 * e + y] = 0; holds[d2 * e + x] = 1
        let r1 = d1 * t, r2 = d2 * t
        for i in 0..<t {
            let delta = share[y * t + i] - share[x * t + i]
            load[r1 + i] += delta
            load[r2 + i] -= delta
        }
        recomputeTops()
    }

    // MARK: - Perturbation

    /// Applies up to `swaps` random valid swaps and `transfers` random valid replica transfers.
    func perturb(swaps: Int, transfers: Int, rng: inout SeededGenerator) {
        guard d >= 2 else { return }
        var done = 0, tries = 0
        while done < swaps && tries < 20 * swaps {
            tries += 1
            let d1 = Int(rng.next() % UInt64(d)), d2 = Int(rng.next() % UInt64(d))
            let k1 = Int(rng.next() % UInt64(s)), k2 = Int(rng.next() % UInt64(s))
            let x = Int(slots[d1 * s + k1]), y = Int(slots[d2 * s + k2])
            if d1 == d2 || x == y || holds[d1 * e + y] != 0 || holds[d2 * e + x] != 0 { continue }
            applySwap(d1, k1, d2, k2)
            done += 1
        }
        done = 0; tries = 0
        while done < transfers && tries < 20 * transfers {
            tries += 1
            let dev = Int(rng.next() % UInt64(d)), k = Int(rng.next() % UInt64(s))
            let a = Int(slots[dev * s + k]), b = Int(rng.next() % UInt64(e))
            if counts[a] < 2 || a == b || holds[dev * e + b] != 0 || Int(counts[b]) >= d { continue }
            applyTransfer(device: dev, slot: k, to: b)
            done += 1
        }
    }

    // MARK: - Replica transfer moves

    /// The objective after the replica of expert `a` in local slot `k` of device `dev` becomes a
    /// replica of expert `b` (the caller checks `counts[a] ≥ 2`, `dev` lacks `b`,
    /// `counts[b] < D`). Every device holding `a` or `b` changes. O(T·(r_a + r_b)), plus O(T·D)
    /// in the rare episodes whose top three devices all change.
    func evaluateTransfer(device dev: Int, slot k: Int, to b: Int, cutoff: Double) -> Double {
        let a = Int(slots[dev * s + k])
        let ra = Double(counts[a]), rb = Double(counts[b])
        var n = 0
        // Devices touched: those holding a or b, and dev.
        for other in 0..<d where holds[other * e + a] != 0 || holds[other * e + b] != 0 || other == dev {
            touched[n] = Int32(other)
            let row = other * t, out = n * t
            let hasA = holds[other * e + a] != 0, hasB = holds[other * e + b] != 0
            for i in 0..<t {
                var v = load[row + i]
                if hasA { v += other == dev ? -u[a * t + i] / ra : u[a * t + i] * (1 / (ra - 1) - 1 / ra) }
                if hasB { v += u[b * t + i] * (1 / (rb + 1) - 1 / rb) }
                if other == dev { v += u[b * t + i] / (rb + 1) }
                scratchRows[out + i] = v
            }
            n += 1
        }
        var f = constant
        for i in 0..<t {
            var peak = -Double.infinity
            for j in 0..<n { peak = Swift.max(peak, scratchRows[j * t + i]) }
            peak = Swift.max(peak, untouchedMax(episode: i, device: dev, from: a, to: b))
            if mode == .sum { f += peak } else { f = Swift.max(f, peak) }
            if f >= cutoff { return f }
        }
        return f
    }

    /// The largest load in episode `i` among the devices a transfer of `dev`'s replica of `a` to
    /// `b` leaves alone (those holding neither `a` nor `b`, other than `dev`). O(1) per device
    /// tested, so the rare full scan is O(D), not O(D·touched).
    @inline(__always)
    private func untouchedMax(episode i: Int, device dev: Int, from a: Int, to b: Int) -> Double {
        func isTouched(_ other: Int32) -> Bool {
            let o = Int(other)
            return o == dev || holds[o * e + a] != 0 || holds[o * e + b] != 0
        }
        if topDev1[i] >= 0 && !isTouched(topDev1[i]) { return top1[i] }
        if topDev2[i] >= 0 && !isTouched(topDev2[i]) { return top2[i] }
        if topDev3[i] >= 0 && !isTouched(topDev3[i]) { return top3[i] }
        var m = 0.0
        for other in 0..<d where !isTouched(Int32(other)) { m = Swift.max(m, load[other * t + i]) }
        return m
    }

    /// Applies a replica transfer (see ``evaluateTransfer(device:slot:to:cutoff:)``).
    func applyTransfer(device dev: Int, slot k: Int, to b: Int) {
        moveCount += movesDelta(device: dev, slot: k, to: b)
        let a = Int(slots[dev * s + k])
        // Remove a's old shares and b's old shares from every holder, then add the new ones.
        for other in 0..<d {
            let row = other * t
            if holds[other * e + a] != 0 { for i in 0..<t { load[row + i] -= share[a * t + i] } }
            if holds[other * e + b] != 0 { for i in 0..<t { load[row + i] -= share[b * t + i] } }
        }
        slots[dev * s + k] = Int32(b)
        holds[dev * e + a] = 0
        holds[dev * e + b] = 1
        counts[a] -= 1
        counts[b] += 1
        refreshShare(a)
        refreshShare(b)
        for other in 0..<d {
            let row = other * t
            if holds[other * e + a] != 0 { for i in 0..<t { load[row + i] += share[a * t + i] } }
            if holds[other * e + b] != 0 { for i in 0..<t { load[row + i] += share[b * t + i] } }
        }
        recomputeTops()
    }
}

/// The three largest values seen and their devices (−1 while fewer were seen); the first seen
/// wins ties.
struct TopThree {
    var v1 = -Double.infinity, v2 = -Double.infinity, v3 = -Double.infinity
    var d1: Int32 = -1, d2: Int32 = -1, d3: Int32 = -1

    @inline(__always)
    mutating func insert(_ v: Double, device: Int32) {
        if v > v1 {
            v3 = v2; d3 = d2; v2 = v1; d2 = d1; v1 = v; d1 = device
        } else if v > v2 {
            v3 = v2; d3 = d2; v2 = v; d2 = device
        } else if v > v3 {
            v3 = v; d3 = device
        }
    }
}
