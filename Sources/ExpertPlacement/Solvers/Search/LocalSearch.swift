/// Local improvement of a complete placement on the exact model objective.
///
/// Two neighbourhoods, tried in turn until neither improves or the move budget is spent:
/// - **swap** two replicas of different experts between two devices, where one of the devices is
///   *critical* (the peak device of some episode — only those moves can lower a peak). Devices are
///   tried in decreasing order of how much they stick out above the runner-up; for each, the best
///   swap over all its replicas and all other replicas is applied if it improves.
/// - **transfer** a replica from an expert with several replicas to another expert (changing the
///   allotment, and with it the per-replica load of every holder of both experts).
///
/// Deterministic: candidates are scanned in a fixed order and ties keep the first found.
struct LocalSearch {
    /// Most improving moves to apply.
    var maxMoves: Int
    /// Most candidate evaluations (work bound, keeps the time predictable).
    var maxEvaluations: Int
    /// Relative improvement below which a move is not worth applying.
    let tolerance = 1e-12
    /// Whether to try replica transfers.
    var transfers = true
    /// Restarts in a row without improvement after which iterated local search gives up.
    var maxStaleRounds = 200
    /// Objective units charged per move from the state's deployed row (``SearchState/setDeployed(_:)``).
    var moveCost = 0.0
    /// Most moves from the deployed row; a move that would exceed it is not taken.
    var moveCap: Int? = nil

    /// Whether moves from a deployed row count.
    var movesCount: Bool { moveCost != 0 || moveCap != nil }

    /// The penalised value the search minimises: objective + cost · moves.
    func penalised(_ state: SearchState) -> Double { state.objective() + moveCost * Double(state.moveCount) }

    /// Whether a move changing the move count by `delta` keeps within the cap (or lowers the count).
    @inline(__always)
    func allows(_ state: SearchState, movesDelta delta: Int) -> Bool {
        guard let moveCap, delta > 0 else { return true }
        return state.moveCount + delta <= moveCap
    }

    /// Iterated local search: local search, then — while the evaluation budget lasts — perturb
    /// the best state by a few seeded random swaps and one replica transfer, search again, and
    /// keep the result when it is better. On large layers the first descent uses the whole
    /// budget; on small ones the restarts escape local optima (the toy example needs them).
    /// Deterministic for a given seed.
    func iterate(state: SearchState, best: SearchState, seed: UInt64, stop: LayerContext) {
        var used = run(state: state, stop: stop).evaluations
        best.copy(from: state)
        var bestValue = penalised(best)
        var rng = SeededGenerator(seed: seed)
        var rounds = 0, stale = 0
        while used < maxEvaluations && stale < maxStaleRounds {
            if stop.shouldStop() { break }
            rounds += 1
            stale += 1
            state.copy(from: best)
            state.perturb(swaps: 2 + rounds % 3, transfers: 1, rng: &rng)
            var rest = self
            rest.maxEvaluations = maxEvaluations - used
            // A restart copies and perturbs the state, O(D·T) work with no evaluation in it: on
            // layers of more than 1,024 devices it is charged D/1,024 evaluations, so restarts
            // stay in proportion to the budget however many devices there are.
            used += Swift.max(1, rest.run(state: state, stop: stop).evaluations) + state.d / 1024
            let value = penalised(state)
            if value < bestValue * (1 - tolerance) && moveCap.map({ state.moveCount <= $0 }) ?? true {
                bestValue = value
                best.copy(from: state)
                stale = 0
            }
        }
        state.copy(from: best)
    }
    /// Calls `body(k1, d2, k2)` for every valid swap of the replica in local slot `k1` of `d1`
    /// with the one in local slot `k2` of another device `d2` (different experts, neither already
    /// on the other's device), in a fixed order, until `body` returns `false`.
    @inline(__always)
    static func forEachSwap(from d1: Int, in state: SearchState, _ body: (Int, Int, Int) -> Bool) {
        let d = state.d, s = state.s, e = state.e
        for k1 in 0..<s {
            let x = Int(state.slots[d1 * s + k1])
            for d2 in 0..<d where d2 != d1 && state.holds[d2 * e + x] == 0 {
                for k2 in 0..<s {
                    let y = Int(state.slots[d2 * s + k2])
                    if y == x || state.holds[d1 * e + y] != 0 { continue }
                    if !body(k1, d2, k2) { return }
                }
            }
        }
    }

    /// The swap from the (single-episode) peak device that minimises the larger of the two new
    /// loads, among those leaving both strictly below the current peak.
    func sidewaysSwap(_ state: SearchState, evaluations: inout Int) -> (Int, Int, Int)? {
        let s = state.s
        let d1 = Int(state.topDev1[0])
        let peak = state.load[d1]
        var best = peak * (1 - 1e-12)
        var move: (Int, Int, Int)? = nil
        var count = 0
        Self.forEachSwap(from: d1, in: state) { k1, d2, k2 in
            count += 1
            let delta = state.share[Int(state.slots[d2 * s + k2])] - state.share[Int(state.slots[d1 * s + k1])]
            let high = Swift.max(peak + delta, state.load[d2] - delta)
            if high < best {
                best = high
                move = (k1, d2, k2)
            }
            return true
        }
        evaluations += count
        return move
    }

    /// Improves `state` in place until no move improves or the budget is spent; returns the
    /// number of moves applied and the evaluations used.
    @discardableResult
    func run(state: SearchState, stop: LayerContext) -> (moves: Int, evaluations: Int) {
        let d = state.d, s = state.s, e = state.e, t = state.t
        var moves = 0
        var evaluations = 0
        var current = state.objective()
        let critical = UnsafeMutablePointer<(excess: Double, device: Int32)>.allocate(capacity: d)
        defer { critical.deallocate() }

        while moves < maxMoves && evaluations < maxEvaluations {
            if stop.shouldStop() { break }
            // Critical devices, by total excess over the runner-up in the episodes they peak
            // (risk mode: the best-scoring device).
            var n = 0
            if state.mode == .risk {
                critical[0] = (state.scoreTop.0 - state.scoreTop.1, state.scoreDev.0)
                n = 1
            } else {
                for dev in 0..<d {
                    let lo = Int(state.peakStart[dev]), hi = Int(state.peakStart[dev + 1])
                    if lo == hi { continue }
                    var excess = 0.0
                    for j in lo..<hi {
                        let i = Int(state.peakEpisodes[j])
                        excess += state.top1[i] - state.top2[i]
                    }
                    critical[n] = (excess, Int32(dev))
                    n += 1
                }
            }
            var criticalList = UnsafeMutableBufferPointer(start: critical, count: n)
            criticalList.sort {
                $0.excess != $1.excess ? $0.excess > $1.excess : $0.device < $1.device
            }
            var improved = false
            // Swaps from a critical device.
            for c in 0..<n where !improved {
                let d1 = Int(critical[c].device)
                let sumMode = state.mode == .sum
                var best = sumMode ? -current * tolerance : current * (1 - tolerance)
                var move: (Int, Int, Int)? = nil
                var used = evaluations
                let counting = movesCount
                Self.forEachSwap(from: d1, in: state) { k1, d2, k2 in
                    used += 1
                    if used >= maxEvaluations { return false }
                    var penalty = 0.0
                    if counting {
                        let delta = state.movesDelta(swap: d1, k1, d2, k2)
                        if !allows(state, movesDelta: delta) { return true }
                        penalty = moveCost * Double(delta)
                    }
                    let f = penalty + (sumMode ? state.swapDelta(d1, k1, d2, k2, cutoff: best - penalty)
                                               : state.evaluateSwap(d1, k1, d2, k2, cutoff: best - penalty))
                    if f < best {
                        best = f
                        move = (k1, d2, k2)
                    }
                    return true
                }
                evaluations = used
                if let (k1, d2, k2) = move {
                    state.applySwap(d1, k1, d2, k2)
                    current = state.objective()
                    moves += 1
                    improved = true
                }
            }
            if improved { continue }
            // Single episode: the peak device may tie with others, and then no swap lowers the
            // peak. Accept a sideways swap that takes the peak device strictly below the peak
            // without lifting its partner to it: (peak, devices at the peak) falls
            // lexicographically, so this terminates.
            if t == 1 && state.mode != .risk, let (k1, d2, k2) = sidewaysSwap(state, evaluations: &evaluations),
               !movesCount || state.movesDelta(swap: Int(state.topDev1[0]), k1, d2, k2) <= 0 {
                state.applySwap(Int(state.topDev1[0]), k1, d2, k2)
                current = state.objective()
                moves += 1
                continue
            }
            if !transfers || state.mode == .risk { break }
            // Replica transfers: from any expert with ≥ 2 replicas to an expert on a critical
            // device. A transfer can only gain in the critical device's peak episodes, by at most
            // the drop of b's share there (capped by the device's excess): skip b when that bound
            // cannot beat the best move found. Evaluations are charged by the devices they touch.
            var best = current * (1 - tolerance)
            var transfer: (Int, Int, Int)? = nil
            transferScan: for c in 0..<n {
                let dHot = Int(critical[c].device)
                for kb in 0..<s {
                    let b = Int(state.slots[dHot * s + kb])
                    let rb = Double(state.counts[b])
                    if Int(state.counts[b]) >= d { continue }
                    if state.mode == .sum {
                        var gain = 0.0
                        for j in Int(state.peakStart[dHot]) ..< Int(state.peakStart[dHot + 1]) {
                            let i = Int(state.peakEpisodes[j])
                            let drop = state.u[b * t + i] / (rb * (rb + 1))
                            gain += Swift.min(drop, state.top1[i] - state.top2[i])
                        }
                        if current - gain - (movesCount ? moveCost : 0) >= best { continue }
                    }
                    for dev in 0..<d where state.holds[dev * e + b] == 0 {
                        for k in 0..<s {
                            let a = Int(state.slots[dev * s + k])
                            if state.counts[a] < 2 { continue }
                            var penalty = 0.0
                            if movesCount {
                                let delta = state.movesDelta(device: dev, slot: k, to: b)
                                if !allows(state, movesDelta: delta) { continue }
                                penalty = moveCost * Double(delta)
                            }
                            evaluations += 1 + Int(state.counts[a]) + Int(state.counts[b])
                            if evaluations >= maxEvaluations { break transferScan }
                            if evaluations & 1023 < 8 && stop.shouldStop() { break transferScan }
                            let f = penalty + state.evaluateTransfer(device: dev, slot: k, to: b, cutoff: best - penalty)
                            if f < best {
                                best = f
                                transfer = (dev, k, b)
                            }
                        }
                    }
                }
            }
            if let (dev, k, b) = transfer {
                state.applyTransfer(device: dev, slot: k, to: b)
                current = state.objective()
                moves += 1
                continue
            }
            break
        }
        return (moves, evaluations)
    }
}

extension LocalSearch {
    /// The budgets of `configuration` for a model of `episodes` episodes: they are set for a
    /// 32-episode model and a move costs O(T), so fewer episodes get `32/T` times as many
    /// (saturating instead of overflowing).
    init(configuration c: SearchSolver.Configuration, episodes: Int) {
        let scale = Swift.max(1, 32 / Swift.max(1, episodes))
        func scaled(_ n: Int) -> Int {
            let (product, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? .max : product
        }
        self.init(maxMoves: scaled(c.maxMoves), maxEvaluations: scaled(c.maxEvaluations))
    }
}
