/// Drop-aware local search: improves one layer's plan on the capped objective
/// (``DropObjective``), optionally plus a move cost and under a move cap.
///
/// Guide (DocC article *Token dropping*). The capped peak of a row depends on every device above
/// the cap, not on the busiest device alone, so the peak-tracking state of the search solver
/// does not apply; this state keeps, per row, the device loads and the devices in descending
/// load order. A candidate changes a few devices' loads; its capped peak per row is the walk of
/// ``TokenDrop`` over the *merged* sequence (the unchanged devices in their order, the changed
/// ones re-sorted), which stops after the devices above the cap — O(k + m log m) per row for `k`
/// devices above the cap and `m` changed devices, instead of a full sort.
///
/// Neighbourhoods, from every *hot* device (at or above the cap in some row, most rows first):
/// - swap a replica with one on another device (two devices change);
/// - replica transfer: a slot of an expert with two or more replicas takes another expert
///   (both replica counts change, so every device holding either changes);
/// - the reverse transfer: another device's slot of a multi-replica expert takes a replica of
///   the hot device's expert, spreading it.
/// Each step applies the best improving candidate of one hot device (best improvement within a
/// device, first improvement across devices); at a local optimum a few random swaps perturb the
/// plan (iterated local search, seeded by the layer index) and the descent restarts, the best
/// plan kept, until the evaluation budget or the deadline. Deterministic for a given input.
///
/// Complexity: O(T'·(k + m log m)) per evaluation, at most `maxEvaluations` evaluations;
/// O(T'·D) per applied move.
public enum DropLocalSearch {
    /// Budgets of the search.
    public struct Configuration: Sendable, Equatable {
        /// Candidate evaluations per layer (the main effort knob).
        public var maxEvaluations: Int = 20_000
        /// Most rows optimised on: more positive-weight episodes are summed into this many
        /// blocks (``ObjectiveModel``). Plans are compared on every episode at the end.
        public var episodeCap: Int = 64
        /// Perturbation rounds in a row without a better plan before the search stops.
        public var maxIdleRounds: Int = 10

        /// Creates a configuration.
        public init(maxEvaluations: Int = 20_000, episodeCap: Int = 64, maxIdleRounds: Int = 10) {
            self.maxEvaluations = maxEvaluations
            self.episodeCap = episodeCap
            self.maxIdleRounds = maxIdleRounds
        }
    }

    /// The best plan found from `start` for `objective` capped at `budget`, never worse than
    /// `start` on the exact capped objective (every episode) plus `policy.cost · moves`, and
    /// with at most `policy.maxMoves` moves from `deployed` when `start` has at most that many.
    ///
    /// - Parameters:
    ///   - layer: the layer.
    ///   - start: a valid plan (`D·S` ids, device-major).
    ///   - objective: the objective whose peaks are capped.
    ///   - budget: the drop budget `f ∈ [0, 1)`.
    ///   - deployed: the row moves are counted against (`nil`: moves are not counted).
    ///   - policy: the move cost and cap (ignored without `deployed`).
    ///   - configuration: the budgets.
    ///   - context: when to stop.
    /// - Returns: a valid plan.
    public static func refine(_ layer: ProblemLayer, start: ContiguousArray<Int32>, objective: Objective, budget: Double,
                              deployed: ContiguousArray<Int32>? = nil, policy: MovePolicy = MovePolicy(),
                              configuration: Configuration = Configuration(), context: LayerContext) -> ContiguousArray<Int32> {
        let s = layer.topology.slotsPerDevice
        let blocked = DropObjective(layer, objective: objective, budget: budget, episodeCap: configuration.episodeCap)
        let state = DropSearchState(blocked, slotsPerDevice: s, deployed: deployed, policy: policy)
        state.load(start)
        var best = state.slots, bestValue = state.penalised
        var rng = SeededGenerator(seed: UInt64(layer.index) &* 0x9E37_79B9_7F4A_7C15 &+ 0xD1B5)
        var evaluations = 0, idleRounds = 0
        while evaluations < configuration.maxEvaluations && idleRounds < configuration.maxIdleRounds && !context.shouldStop() {
            state.descend(evaluations: &evaluations, limit: configuration.maxEvaluations, context: context)
            if state.penalised < bestValue * (1 - 1e-12) {
                best = state.slots
                bestValue = state.penalised
                idleRounds = 0
            } else {
                state.load(best)
                idleRounds += 1
            }
            // Perturb: a few random swaps within the move cap, then descend again.
            if !state.perturb(swaps: 1 + Int(rng.next() % 3), rng: &rng) { break }
            evaluations += 1
        }
        // Keep the start unless the result is better on every episode (the blocks only approximate).
        let exact = DropObjective(layer, objective: objective, budget: budget)
        func score(_ plan: ContiguousArray<Int32>) -> Double {
            exact.value(of: plan, slotsPerDevice: s) + policy.cost * Double(deployed.map { Alignment.moves(plan, from: $0) } ?? 0)
        }
        let found = ContiguousArray(best)
        return score(found) < score(start) ? found : start
    }
}

/// The mutable state of ``DropLocalSearch`` for one layer: slots, replica counts, device loads
/// per row (row-major `load[t·D + d]`), devices per row in descending load order, capped peaks.
final class DropSearchState {
    let e: Int, d: Int, s: Int, t: Int
    /// Scaled loads, row-major `u[t·E + x]`.
    let u: [Double]
    /// `f · Σ_x u[t][x]` per row.
    let allowance: [Double]
    let combination: ObjectiveModel.Combination
    let constant: Double, floor: Double
    let deployed: [Int32]?
    let policy: MovePolicy

    // The state is only ever touched by one search on one thread, and no method holds an access
    // across a call that could touch the same array: the dynamic exclusivity checks Swift would
    // otherwise make on every access to a class's stored `var` are switched off (with them, and
    // a generic sort in `cappedPeak`, the drop-aware solve of the bundled DeepSeek-V3 example took
    // 1.8× as long: 2.1 s against 1.15 s, 2 cores, release).
    @exclusivity(unchecked) private(set) var slots: [Int32]
    @exclusivity(unchecked) var counts: [Int32]
    @exclusivity(unchecked) var holds: [Bool]
    @exclusivity(unchecked) var load: [Double]
    @exclusivity(unchecked) var order: [Int32]
    @exclusivity(unchecked) var peaks: [Double]
    private(set) var moveCount = 0
    private(set) var value = 0.0
    private var appliedSinceRebuild = 0

    // Scratch of one candidate: changed devices, their new loads (`m × T`), and marks.
    @exclusivity(unchecked) private var changed: [Int32] = []
    @exclusivity(unchecked) private var newLoad: [Double] = []
    @exclusivity(unchecked) private var isChanged: [Bool]
    @exclusivity(unchecked) private var merged: [Double] = []
    @exclusivity(unchecked) private var newPeaks: [Double]

    init(_ objective: DropObjective, slotsPerDevice: Int, deployed: ContiguousArray<Int32>?, policy: MovePolicy) {
        let model = objective.model
        e = model.experts; d = model.devices; s = slotsPerDevice; t = model.rowCount
        u = Array(model.rows)
        allowance = (0..<t).map { i in objective.budget * model.rows[i * model.experts ..< (i + 1) * model.experts].reduce(0, +) }
        combination = model.combination
        constant = model.constant
        floor = objective.floor
        self.deployed = deployed.map(Array.init)
        self.policy = deployed == nil ? MovePolicy() : policy
        slots = [Int32](repeating: 0, count: d * s)
        counts = [Int32](repeating: 0, count: e)
        holds = [Bool](repeating: false, count: d * e)
        load = [Double](repeating: 0, count: t * d)
        order = [Int32](repeating: 0, count: t * d)
        peaks = [Double](repeating: 0, count: t)
        isChanged = [Bool](repeating: false, count: d)
        newPeaks = [Double](repeating: 0, count: t)
    }

    /// The objective plus the move cost.
    var penalised: Double { value + policy.cost * Double(moveCount) }

    /// Loads a plan and rebuilds everything from it.
    func load(_ plan: some Collection<Int32>) {
        slots = Array(plan)
        rebuild()
    }

    func rebuild() {
        for x in 0..<e { counts[x] = 0 }
        for i in 0..<(d * e) { holds[i] = false }
        for (i, x) in slots.enumerated() {
            counts[Int(x)] += 1
            holds[(i / s) * e + Int(x)] = true
        }
        for i in 0..<(t * d) { load[i] = 0 }
        for (i, x) in slots.enumerated() {
            let dev = i / s, r = Double(counts[Int(x)])
            for row in 0..<t { load[row * d + dev] += u[row * e + Int(x)] / r }
        }
        for row in 0..<t {
            let base = row * d
            var devices = (0..<d).map { Int32($0) }
            devices.sort { load[base + Int($0)] != load[base + Int($1)] ? load[base + Int($0)] > load[base + Int($1)] : $0 < $1 }
            for i in 0..<d { order[base + i] = devices[i] }
        }
        moveCount = deployed.map { dep in zip(slots, dep).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } } ?? 0
        beginCandidate()
        for row in 0..<t { peaks[row] = cappedPeak(row: row) }
        value = combine(peaks)
        appliedSinceRebuild = 0
    }

    func combine(_ p: [Double]) -> Double {
        switch combination {
        case .sum: return p.reduce(constant, +)
        case .max: return p.reduce(floor) { Swift.max($0, $1) }
        }
    }

    /// The capped peak of `row` with the current candidate's changed devices at their new loads
    /// (`changed` empty: the current plan).
    func cappedPeak(row: Int) -> Double {
        let base = row * d, m = changed.count
        merged.removeAll(keepingCapacity: true)
        // A candidate changes a few devices: insertion sort, largest first.
        for j in 0..<m {
            let v = newLoad[j * t + row]
            var k = merged.count
            merged.append(v)
            while k > 0 && merged[k - 1] < v {
                merged[k] = merged[k - 1]
                k -= 1
            }
            merged[k] = v
        }
        var walk = CapacityWalk(allowance: allowance[row])
        var i = 0, j = 0
        while true {
            while i < d && isChanged[Int(order[base + i])] { i += 1 }
            let a = i < d ? load[base + Int(order[base + i])] : -.infinity
            let b = j < m ? merged[j] : -.infinity
            if a == -.infinity && b == -.infinity { return walk.finish() }
            let v: Double
            if a >= b { v = a; i += 1 } else { v = b; j += 1 }
            if let c = walk.next(Swift.max(0, v)) { return c }
        }
    }

    // MARK: - Candidates

    private func beginCandidate() {
        for dev in changed { isChanged[Int(dev)] = false }
        changed.removeAll(keepingCapacity: true)
        newLoad.removeAll(keepingCapacity: true)
    }

    /// Marks `dev` changed with its current loads as the starting point; returns its index in `changed`.
    private func touch(_ dev: Int) -> Int {
        if isChanged[dev] { return changed.firstIndex(of: Int32(dev))! }
        isChanged[dev] = true
        changed.append(Int32(dev))
        for row in 0..<t { newLoad.append(load[row * d + dev]) }
        return changed.count - 1
    }

    private func add(_ j: Int, expert x: Int, factor: Double) {
        for row in 0..<t { newLoad[j * t + row] += factor * u[row * e + x] }
    }

    /// Prepares the swap of local slot `k1` of `d1` with `k2` of `d2`.
    func prepareSwap(_ d1: Int, _ k1: Int, _ d2: Int, _ k2: Int) {
        beginCandidate()
        let x = Int(slots[d1 * s + k1]), y = Int(slots[d2 * s + k2])
        let a = touch(d1), b = touch(d2)
        let rx = 1 / Double(counts[x]), ry = 1 / Double(counts[y])
        add(a, expert: x, factor: -rx); add(a, expert: y, factor: ry)
        add(b, expert: y, factor: -ry); add(b, expert: x, factor: rx)
    }

    /// Prepares local slot `k` of `dev` taking expert `y` (its expert `x` keeps `r_x − 1 ≥ 1` replicas).
    func prepareTransfer(_ dev: Int, _ k: Int, to y: Int) {
        beginCandidate()
        let x = Int(slots[dev * s + k])
        let rx = Double(counts[x]), ry = Double(counts[y])
        for h in 0..<d {
            if holds[h * e + x] {
                let j = touch(h)
                add(j, expert: x, factor: h == dev ? -1 / rx : 1 / (rx - 1) - 1 / rx)
            }
            if holds[h * e + y] { add(touch(h), expert: y, factor: 1 / (ry + 1) - 1 / ry) }
        }
        add(touch(dev), expert: y, factor: 1 / (ry + 1))
    }

    /// The penalised value of the prepared candidate, which changes `moves` by `movesDelta`.
    func evaluate(movesDelta: Int) -> Double {
        for row in 0..<t { newPeaks[row] = cappedPeak(row: row) }
        return combine(newPeaks) + policy.cost * Double(moveCount + movesDelta)
    }

    func movesDelta(slot i: Int, to x: Int32) -> Int {
        guard let deployed else { return 0 }
        return (x != deployed[i] ? 1 : 0) - (slots[i] != deployed[i] ? 1 : 0)
    }

    func fitsCap(_ delta: Int) -> Bool { policy.maxMoves.map { moveCount + delta <= $0 || delta < 0 } ?? true }

    /// Applies the prepared candidate: `assignments` are the slots that change and their new experts.
    private func apply(_ assignments: [(slot: Int, expert: Int32)]) {
        for (i, x) in assignments {
            let dev = i / s, old = Int(slots[i])
            if let deployed { moveCount += (x != deployed[i] ? 1 : 0) - (slots[i] != deployed[i] ? 1 : 0) }
            counts[old] -= 1
            holds[dev * e + old] = false
            slots[i] = x
        }
        for (i, x) in assignments {
            counts[Int(x)] += 1
            holds[(i / s) * e + Int(x)] = true
        }
        appliedSinceRebuild += 1
        if appliedSinceRebuild >= 256 {
            rebuild()
            return
        }
        for (j, dev) in changed.enumerated() {
            for row in 0..<t { load[row * d + Int(dev)] = newLoad[j * t + row] }
        }
        for row in 0..<t { resort(row: row) }
        beginCandidate()
        for row in 0..<t { peaks[row] = cappedPeak(row: row) }
        value = combine(peaks)
    }

    /// Insertion sort of one row's device order (nearly sorted after a move).
    private func resort(row: Int) {
        let base = row * d
        for i in 1..<Swift.max(1, d) {
            let dev = order[base + i], v = load[base + Int(dev)]
            var j = i - 1
            while j >= 0 {
                let other = order[base + j], w = load[base + Int(other)]
                if w > v || (w == v && other < dev) { break }
                order[base + j + 1] = other
                j -= 1
            }
            order[base + j + 1] = dev
        }
    }

    // MARK: - Descent

    /// Devices at or above the cap in some row, the most rows first (ties by index).
    func hotDevices() -> [Int] {
        var rows = [Int](repeating: 0, count: d)
        for row in 0..<t {
            let base = row * d, cap = peaks[row]
            var i = 0
            while i < d {
                let dev = Int(order[base + i])
                guard load[base + dev] >= cap * (1 - 1e-12) && load[base + dev] > 0 else { break }
                rows[dev] += 1
                i += 1
            }
        }
        return (0..<d).filter { rows[$0] > 0 }.sorted { rows[$0] != rows[$1] ? rows[$0] > rows[$1] : $0 < $1 }
    }

    /// Descends to a local optimum (or the evaluation limit).
    func descend(evaluations: inout Int, limit: Int, context: LayerContext) {
        var improved = true
        while improved && evaluations < limit && !context.shouldStop() {
            improved = false
            for dev in hotDevices() {
                if let step = bestStep(from: dev, evaluations: &evaluations, limit: limit) {
                    apply(step)
                    improved = true
                    break
                }
                if evaluations >= limit || context.shouldStop() { return }
            }
        }
    }

    /// A candidate: swap local slot `k1` of `d1` with `k2` of `d2`, or local slot `k` of `dev` takes `expert`.
    enum Step {
        case swap(Int, Int, Int, Int)
        case transfer(Int, Int, Int)
    }

    private func prepare(_ step: Step) {
        switch step {
        case .swap(let d1, let k1, let d2, let k2): prepareSwap(d1, k1, d2, k2)
        case .transfer(let dev, let k, let y): prepareTransfer(dev, k, to: y)
        }
    }

    /// The change of ``moveCount`` the step makes.
    private func movesDelta(_ step: Step) -> Int {
        switch step {
        case .swap(let d1, let k1, let d2, let k2):
            let i1 = d1 * s + k1, i2 = d2 * s + k2
            return movesDelta(slot: i1, to: slots[i2]) + movesDelta(slot: i2, to: slots[i1])
        case .transfer(let dev, let k, let y): return movesDelta(slot: dev * s + k, to: Int32(y))
        }
    }

    /// Prepares and applies `step`.
    private func apply(_ step: Step) {
        prepare(step)
        switch step {
        case .swap(let d1, let k1, let d2, let k2):
            let i1 = d1 * s + k1, i2 = d2 * s + k2
            apply([(i1, slots[i2]), (i2, slots[i1])])
        case .transfer(let dev, let k, let y): apply([(dev * s + k, Int32(y))])
        }
    }

    /// The best improving candidate around hot device `dev`, if any.
    private func bestStep(from dev: Int, evaluations: inout Int, limit: Int) -> Step? {
        var bestValue = penalised * (1 - 1e-12) - 1e-300
        var best: Step? = nil
        func consider(_ step: Step) {
            let delta = movesDelta(step)
            guard fitsCap(delta) else { return }
            prepare(step)
            evaluations += 1
            let v = evaluate(movesDelta: delta)
            if v < bestValue {
                bestValue = v
                best = step
            }
        }
        for k in 0..<s where evaluations < limit {
            let x = Int(slots[dev * s + k])
            for d2 in 0..<d where d2 != dev && !holds[d2 * e + x] {
                for k2 in 0..<s where !holds[dev * e + Int(slots[d2 * s + k2])] { consider(.swap(dev, k, d2, k2)) }
            }
            if counts[x] >= 2 {
                for y in 0..<e where !holds[dev * e + y] && Int(counts[y]) < d { consider(.transfer(dev, k, y)) }
            }
            if Int(counts[x]) < d {
                for d2 in 0..<d where d2 != dev && !holds[d2 * e + x] {
                    for k2 in 0..<s where counts[Int(slots[d2 * s + k2])] >= 2 { consider(.transfer(d2, k2, x)) }
                }
            }
        }
        beginCandidate()
        return best
    }

    /// Applies `swaps` random valid swaps within the move cap; `false` when none was possible.
    func perturb(swaps: Int, rng: inout SeededGenerator) -> Bool {
        guard d >= 2 else { return false }
        var done = 0
        for _ in 0..<(swaps * 20) where done < swaps {
            let d1 = Int(rng.next() % UInt64(d)), d2 = Int(rng.next() % UInt64(d))
            let k1 = Int(rng.next() % UInt64(s)), k2 = Int(rng.next() % UInt64(s))
            guard d1 != d2 else { continue }
            let x = slots[d1 * s + k1], y = slots[d2 * s + k2]
            guard x != y, !holds[d1 * e + Int(y)], !holds[d2 * e + Int(x)] else { continue }
            let step = Step.swap(d1, k1, d2, k2)
            guard fitsCap(movesDelta(step)) else { continue }
            apply(step)
            done += 1
        }
        return done > 0
    }
}
