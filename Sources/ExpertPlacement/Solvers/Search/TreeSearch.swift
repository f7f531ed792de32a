/// FlashLB-style joint replica allotment: a pruned beam search over how many redundant replicas
/// each group of experts gets, scoring every branch by completing it (look-ahead) and placing it.
///
/// Experts are ordered by risk weight `μ_e + z·σ_e` (mean and standard deviation of the scaled
/// episode loads) and split into `depth` groups. At level `k` each beam state fixes the extra
/// replicas `m` of group `k`: `m` ranges over `guess ± width`, where `guess` is what min-max
/// allotment of the whole remaining budget over groups `k…` would give group `k`. A branch is
/// completed by min-max allotment of `budget − m` over the later groups, placed (scalar
/// largest-first packing on single-episode models; the vector-aware greedy on multi-episode
/// ones, where scalar packing misjudges branches) and scored exactly on every model episode. A branch whose bound
/// (per-episode max of the average and of the largest per-replica share) cannot beat the
/// incumbent is not placed. The `beam` best partial allotments go on to the next level.
struct TreeSearch {
    let depth: Int
    let width: Int
    let beam: Int
    /// Projection of the vector-aware greedy that places each branch on multi-episode models,
    /// or `nil` to place branches with scalar largest-first packing on the risk weights.
    var vectorAlpha: Double? = nil

    struct Candidate {
        var counts: [Int32]
        var score: Double
    }

    /// Returns the best complete allotments found (at most `beam`, best first), each with the
    /// score of its placement; `keep` receives the best placement seen (when `bestScore` improves).
    func run(state: SearchState, keep: SearchState, risk: [Double], order: [Int], bestScore: inout Double,
             stop: LayerContext) -> [Candidate] {
        let e = state.e, d = state.d
        let budget0 = state.d * state.s - e
        let groups = Swift.max(1, Swift.min(depth, e))
        var groupOf = [Int](repeating: 0, count: e)
        var members: [[Int]] = Array(repeating: [], count: groups)
        for (rank, x) in order.enumerated() {
            let g = rank * groups / e
            groupOf[x] = g
            members[g].append(x)
        }
        var beamStates: [(counts: [Int32], budget: Int, score: Double)] = [([Int32](repeating: 1, count: e), budget0, .infinity)]
        var completed: [Candidate] = []
        var countsBuffer = [Int32](repeating: 1, count: e)
        var keyBuffer = [Double](repeating: 0, count: e)
        var orderBuffer = [Int32](repeating: 0, count: e)
        for x in 0..<e { keyBuffer[x] = risk[x] }

        func complete(_ counts: inout [Int32], from level: Int, budget: Int) {
            // Min-max allotment of `budget` over the experts of groups `level…` on top of `counts`.
            var pool: [Int] = []
            for g in level..<groups { pool.append(contentsOf: members[g]) }
            Self.allot(counts: &counts, experts: pool, extra: budget, risk: risk, cap: d)
        }

        func score(_ counts: [Int32]) -> Double {
            counts.withUnsafeBufferPointer { state.setCounts($0) }
            // Prune with the cheap bound on single-episode models, where it is tight; on many
            // episodes it costs O(E·T) per branch and rarely prunes.
            if state.t == 1 && boundFor(state: state) >= bestScore { return .infinity }
            let placed = keyBuffer.withUnsafeBufferPointer { key in
                if let alpha = vectorAlpha, state.t > 1 {
                    return orderBuffer.withUnsafeMutableBufferPointer {
                        state.placeVectorGreedy(key: key, order: $0, alpha: alpha, stop: stop)
                    }
                }
                return state.placeScalarGreedy(key: key, stop: stop)
            }
            // Out of time mid-placement: the state is not a plan; the branch scores nothing.
            return placed ? state.objective() : .infinity
        }

        for level in 0..<(groups - 1) {
            var next: [(counts: [Int32], budget: Int, score: Double)] = []
            for parent in beamStates {
                // The look-ahead guess for this group.
                var guessCounts = parent.counts
                complete(&guessCounts, from: level, budget: parent.budget)
                let guess = members[level].reduce(0) { $0 + Int(guessCounts[$1]) - 1 }
                let cap = Swift.min(parent.budget, members[level].count * (d - 1))
                let lo = Swift.max(0, guess - width), hi = Swift.min(cap, guess + width)
                guard lo <= hi else { continue }
                for m in lo...hi {
                    // Out of time: keep what is complete (the fallback below covers an empty tree).
                    if !completed.isEmpty && stop.shouldStop() { break }
                    countsBuffer = parent.counts
                    Self.allot(counts: &countsBuffer, experts: members[level], extra: m, risk: risk, cap: d)
                    let fixed = countsBuffer
                    var full = fixed
                    let rest = parent.budget - m
                    complete(&full, from: level + 1, budget: rest)
                    // Infeasible when the later groups cannot absorb `rest` (all at the cap).
                    if full.reduce(0, { $0 + Int($1) }) != budget0 + e { continue }
                    let value = score(full)
                    if value < bestScore {
                        bestScore = value
                        keep.copy(from: state)
                    }
                    completed.append(Candidate(counts: full, score: value))
                    next.append((fixed, rest, value))
                }
            }
            next.sort { $0.score < $1.score }
            beamStates = Array(next.prefix(beam))
            if beamStates.isEmpty { break }
        }
        completed.sort { $0.score < $1.score }
        if completed.isEmpty {
            var full = [Int32](repeating: 1, count: e)
            complete(&full, from: 0, budget: budget0)
            let value = score(full)
            if value < bestScore {
                bestScore = value
                keep.copy(from: state)
            }
            completed = [Candidate(counts: full, score: value)]
        }
        return Array(completed.prefix(beam))
    }

    /// Min-max allotment of `extra` replicas among `experts` (on top of `counts`) by risk weight,
    /// at most `cap` replicas each; lower id first on ties.
    static func allot(counts: inout [Int32], experts: [Int], extra: Int, risk: [Double], cap: Int) {
        guard extra > 0, !experts.isEmpty else { return }
        var extra = extra
        if extra >= 64 * experts.count {
            // Many replicas each: the bulk above a threshold first (same counts, O(E) per step).
            extra -= risk.withUnsafeBufferPointer { loads in
                counts.withUnsafeMutableBufferPointer { counts in
                    ReplicaAllotment.giveAboveThreshold(extra, among: experts, loads: loads, cap: cap, counts: counts)
                }
            }
        }
        var heap = Heap<ReplicaAllotment.Candidate>()
        for x in experts where Int(counts[x]) < cap {
            heap.insert(.init(perReplica: risk[x] / Double(counts[x]), expert: Int32(x)))
        }
        risk.withUnsafeBufferPointer { loads in
            counts.withUnsafeMutableBufferPointer { counts in
                ReplicaAllotment.give(extra, from: &heap, loads: loads, cap: cap, counts: counts)
            }
        }
    }

    /// A bound on any placement with the state's current counts: per episode the peak is at least
    /// the average device load and the largest per-replica share.
    func boundFor(state: SearchState) -> Double {
        if state.mode == .risk { return -.infinity }  // no cheap bound on the risk score
        var f = state.constant
        for i in 0..<state.t {
            var total = 0.0, largest = 0.0
            for x in 0..<state.e {
                total += state.u[x * state.t + i]
                largest = Swift.max(largest, state.share[x * state.t + i])
            }
            let peak = Swift.max(total / Double(state.d), largest)
            f = state.mode == .sum ? f + peak : Swift.max(f, peak)
        }
        return f
    }
}

import HeapModule
