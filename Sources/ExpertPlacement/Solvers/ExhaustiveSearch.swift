/// Proves tiny layers optimal in pure Swift: a depth-first branch and bound over replica counts
/// and devices, stopped after a node budget. The search uses it to report the optimum itself as
/// the bound (gap 0) where the instance is small enough, instead of the allotment bound.
///
/// Experts are placed one at a time, heaviest first (summed scaled load over the rows of the
/// layer's ``ObjectiveModel``). For expert `x` the branches are its replica count `r` and the `r`
/// distinct devices with a free slot that hold its replicas, each carrying `u[t][x]/r` in row `t`.
/// Devices in identical states (same loads in every row, same free slots) are interchangeable,
/// so of a run of identical devices only a prefix is ever chosen: every plan is reached once up
/// to relabelling devices, which the objective ignores.
///
/// Each replica is placed as soon as its device is chosen, and every placement counts as one node
/// of the budget, so a device that already lifts the bound to the incumbent is cut before the
/// rest of the choice is enumerated; the row peaks are kept incrementally (O(T) per bound).
///
/// A node is pruned when its bound — the objective combined over rows of
/// `max(partial peak_t, floor_t, completion_t)` — is not below the best value known. `floor_t` is a
/// lower bound on row `t`'s final peak in every plan (``LowerBounds/rowBounds(_:slots:)``). Every
/// slot of the final plan is filled, so a device with `f` free slots ends at least its load plus
/// the least `f` replicas of distinct experts still to place can add: `completion_t` is the
/// largest such sum over the devices with free slots (at each expert's node, and for the device
/// just chosen after each replica). With `σ` redundant replicas left those experts could be split
/// into, an expert's replica carries at least `u/(1 + j)` for the `j ≤ σ` it is given, so the least
/// sum is a small knapsack over the experts left, tabulated once per proof (O(E·T·S·σ²), skipped
/// above 2²¹ entries). Peaks only grow as replicas are added, so the bound is valid for every
/// completion. On 16 experts × 4 devices × 5 slots over 4 lognormal episodes, where the partial
/// peaks stay below the floors for most of the tree, it cuts proofs from 0.2–2.6 s to 0.01–0.4 s.
/// Feasibility pruning: a device cannot have more free slots than experts left (each adds at most
/// one replica to it), and every expert left needs one slot. When the whole tree is explored
/// within the budget, the best value found is the optimum (the incumbent's value if nothing
/// better exists).
public enum ExhaustiveSearch {
    /// What the search concluded.
    public struct Proof: Sendable, Equatable {
        /// The optimal value of the model's objective.
        public var optimum: Double
        /// A plan better than the incumbent, when one was found (`phy2log`, device-major).
        public var improvedPlan: [Int32]?
    }

    /// What a run of the branch and bound found, whether or not it finished.
    public struct Exploration: Sendable, Equatable {
        /// The optimal value of the model's objective when the whole tree was explored within the
        /// budget; `nil` when the budget or the deadline ran out first.
        public var optimum: Double?
        /// A plan better than the incumbent, when one was found (`phy2log`, device-major): the
        /// best plan seen, also when the run stopped before it could prove anything.
        public var improvedPlan: [Int32]?

        /// The proof, when the run finished.
        public var proof: Proof? { optimum.map { Proof(optimum: $0, improvedPlan: improvedPlan) } }
    }

    /// Explores every plan of the layer (up to device relabelling) that could beat `incumbent`.
    ///
    /// - Parameters:
    ///   - model: the layer's objective model (without an episode cap).
    ///   - slotsPerDevice: `S`.
    ///   - incumbent: a valid plan of the layer (its value is the first upper bound).
    ///   - nodeLimit: most search nodes; `nil` comes back when the tree is larger.
    ///   - floors: lower bounds on each row's peak in every plan, when stronger ones than
    ///     ``LowerBounds/rowBounds(_:slots:)`` are known (each episode's own optimum, say).
    ///   - deadline: when to give up (checked every 4,096 nodes), besides the node limit.
    /// - Returns: the proof, or `nil` when the budget ran out first or the layer has more than
    ///   ``maxSlots`` slots. ``explore(_:slotsPerDevice:incumbent:nodeLimit:floors:deadline:)``
    ///   also returns the better plans of a run that ran out.
    public static func prove(_ model: ObjectiveModel, slotsPerDevice s: Int, incumbent: some Collection<Int32>,
                             nodeLimit: Int, floors: [Double]? = nil,
                             deadline: ContinuousClock.Instant? = nil) -> Proof? {
        explore(model, slotsPerDevice: s, incumbent: incumbent, nodeLimit: nodeLimit, floors: floors,
                deadline: deadline)?.proof
    }

    /// ``prove(_:slotsPerDevice:incumbent:nodeLimit:floors:deadline:)``, keeping what a run that
    /// ran out of nodes or time found: the depth-first order reaches complete plans early, and
    /// on 16–20 experts × 4–6 devices over 4 episodes a run of 150,000 nodes that cannot finish
    /// often still lowers the search's plan by 0.2–2 %. The same parameters; `nil` only when the
    /// layer has more than ``maxSlots`` slots.
    public static func explore(_ model: ObjectiveModel, slotsPerDevice s: Int, incumbent: some Collection<Int32>,
                               nodeLimit: Int, floors: [Double]? = nil,
                               deadline: ContinuousClock.Instant? = nil) -> Exploration? {
        guard model.devices * s <= maxSlots else { return nil }
        var search = Search(model: model, slotsPerDevice: s, incumbent: Array(incumbent), nodeLimit: nodeLimit)
        search.deadline = deadline
        if let floors, floors.count == model.rowCount {
            for t in 0..<model.rowCount { search.floors[t] = Swift.max(search.floors[t], floors[t]) }
        }
        let finished = search.run()
        return Exploration(optimum: finished ? search.bestValue : nil, improvedPlan: search.improved ? search.bestPlan : nil)
    }

    /// Most slots of a layer ``prove(_:slotsPerDevice:incumbent:nodeLimit:floors:deadline:)``
    /// takes on: it recurses once per replica placed (and no tree over more slots finishes in any
    /// budget).
    public static let maxSlots = 1_024

    /// The layers small enough to try: `E·D·T' ≤ 2,048` and at most 16 devices (the scratch
    /// buffers are `E·D·T'`).
    public static func isCandidate(_ model: ObjectiveModel) -> Bool {
        model.devices <= 16 && model.experts * model.devices * model.rowCount <= 2_048
    }

    struct Search {
        let e: Int, d: Int, s: Int, rows: Int
        let u: ContiguousArray<Double>          // [t][e]
        var floors: [Double]
        let combination: ObjectiveModel.Combination
        let constant: Double
        let order: [Int]
        let nodeLimit: Int
        var deadline: ContinuousClock.Instant? = nil
        var nodes = 0
        var loads: ContiguousArray<Double>      // [d][t]
        var free: ContiguousArray<Int>
        var holds: ContiguousArray<Int32>       // [d][slot], filled in order
        var chosen: ContiguousArray<Int>        // [depth][device]: the devices chosen at each depth
        var saved: ContiguousArray<Double>      // [depth][device][t]: their loads before, restored exactly
        var peaks: ContiguousArray<Double>      // [t]: the largest device load of each row so far
        var savedPeaks: ContiguousArray<Double> // [depth][device][t]: the peaks before each replica
        var bestValue: Double
        var bestPlan: [Int32]
        var improved = false
        /// Redundant replicas of the layer, `D·S − E`.
        let spare: Int
        /// [k][t][f][σ]: the least load `f` replicas of distinct experts of `order[k...]` can add
        /// to one device in row `t` when those experts have `σ` redundant replicas between them
        /// (each replica of an expert with `r` carries `u/r`, `r ≤ D`); empty when too large.
        var fill: ContiguousArray<Double> = []
        /// Replicas placed so far, to know the redundant ones left.
        var placed = 0
        /// The node count at which the deadline is next read.
        var nextCheck = 4_096
        /// [k][t]: the completion bound on each row's final peak, valid below `branch(k)`.
        var completion: ContiguousArray<Double>

        init(model: ObjectiveModel, slotsPerDevice: Int, incumbent: [Int32], nodeLimit: Int) {
            e = model.experts
            d = model.devices
            s = slotsPerDevice
            rows = model.rowCount
            u = model.rows
            floors = LowerBounds.rowBounds(model, slots: model.devices * slotsPerDevice)
            combination = model.combination
            constant = model.constant
            let (e, rows, u) = (model.experts, model.rowCount, model.rows)
            var weight = [Double](repeating: 0, count: e)
            for t in 0..<rows { for x in 0..<e { weight[x] += u[t * e + x] } }
            order = (0..<e).sorted { weight[$0] != weight[$1] ? weight[$0] > weight[$1] : $0 < $1 }
            self.nodeLimit = nodeLimit
            loads = ContiguousArray(repeating: 0, count: model.devices * rows)
            free = ContiguousArray(repeating: slotsPerDevice, count: model.devices)
            holds = ContiguousArray(repeating: -1, count: model.devices * slotsPerDevice)
            chosen = ContiguousArray(repeating: 0, count: model.experts * model.devices)
            saved = ContiguousArray(repeating: 0, count: model.experts * model.devices * model.rowCount)
            peaks = ContiguousArray(repeating: 0, count: model.rowCount)
            savedPeaks = saved
            bestValue = model.value(of: incumbent, slotsPerDevice: slotsPerDevice)
            bestPlan = incumbent
            spare = Swift.max(0, model.devices * slotsPerDevice - model.experts)
            completion = ContiguousArray(repeating: 0, count: (model.experts + 1) * model.rowCount)
            let size = (e + 1).multipliedReportingOverflow(by: rows * (slotsPerDevice + 1) * (spare + 1))
            if !size.overflow && size.partialValue <= Self.fillLimit { buildFill() }
        }

        /// Largest fill table built (entries).
        static let fillLimit = 1 << 21

        /// Builds ``fill`` from the last expert backwards: a device's `f` slots take either
        /// expert `order[k]` (with `j` redundant replicas, `u/(1 + j)`) and `f − 1` of the rest,
        /// or `f` of the rest. O(E·T·S·σ²).
        mutating func buildFill() {
            let (f1, s1) = (s + 1, spare + 1)
            let perRow = f1 * s1, perDepth = rows * perRow
            fill = ContiguousArray(repeating: .infinity, count: (e + 1) * perDepth)
            for t in 0..<rows { for sigma in 0..<s1 { fill[e * perDepth + t * perRow + sigma] = 0 } }
            for k in stride(from: e - 1, through: 0, by: -1) {
                let x = order[k]
                for t in 0..<rows {
                    let load = u[t * e + x]
                    let base = k * perDepth + t * perRow, next = (k + 1) * perDepth + t * perRow
                    for f in 0..<f1 {
                        for sigma in 0..<s1 {
                            var best = fill[next + f * s1 + sigma]
                            if f > 0 {
                                for j in 0...Swift.min(sigma, d - 1) {
                                    let rest = fill[next + (f - 1) * s1 + sigma - j]
                                    best = Swift.min(best, rest + load / Double(1 + j))
                                }
                            }
                            fill[base + f * s1 + sigma] = best
                        }
                    }
                }
            }
        }

        /// The least load `f` more replicas from `order[k...]` add to a device in row `t`, with
        /// `sigma` redundant replicas left.
        @inline(__always)
        func least(_ k: Int, _ t: Int, _ f: Int, _ sigma: Int) -> Double {
            fill[((k * rows + t) * (s + 1) + f) * (spare + 1) + Swift.min(sigma, spare)]
        }

        /// Every device with free slots ends at least `f` replicas of the experts left heavier:
        /// the completion bound of each row at `branch(k)`, kept for the whole subtree.
        /// Without the fill table the completion bound stays 0.
        mutating func complete(_ k: Int) {
            guard !fill.isEmpty else { return }
            let sigma = Swift.max(0, spare - (placed - k))
            for t in 0..<rows {
                var c = 0.0
                for dev in 0..<d where free[dev] > 0 {
                    c = Swift.max(c, loads[dev * rows + t] + least(k, t, free[dev], sigma))
                }
                completion[k * rows + t] = c
            }
        }

        /// `true` when the tree was explored completely.
        mutating func run() -> Bool {
            guard e <= d * s, s >= 1 else { return false }
            return branch(0)
        }

        /// The objective combined over rows of max(partial peak, floor, completion bound of
        /// depth `k`, and of device `dev` when given: its final load once its free slots take
        /// the least `order[k+1...]` can add, with `sigma` redundant replicas left). O(T).
        func bound(_ k: Int, device dev: Int = -1, sigma: Int = 0) -> Double {
            var value = constant
            let own = dev >= 0 && free[dev] > 0 && !fill.isEmpty
            for t in 0..<rows {
                var peak = Swift.max(Swift.max(peaks[t], floors[t]), completion[k * rows + t])
                if own { peak = Swift.max(peak, loads[dev * rows + t] + least(k + 1, t, free[dev], sigma)) }
                value = combination == .sum ? value + peak : Swift.max(value, peak)
            }
            return value
        }

        /// Whether the node budget or the deadline (read every 4,096 nodes, whichever of
        /// ``branch(_:)`` and ``choose(_:depth:r:from:index:)`` counts them) is spent.
        mutating func outOfBudget() -> Bool {
            if nodes > nodeLimit { return true }
            guard nodes >= nextCheck else { return false }
            nextCheck = nodes + 4_096
            if let deadline, ContinuousClock.now >= deadline { return true }
            return false
        }

        func prunes(_ value: Double) -> Bool { value >= bestValue - 1e-12 * Swift.abs(bestValue) }

        /// Places `order[k...]`; `false` when the node budget ran out.
        mutating func branch(_ k: Int) -> Bool {
            nodes += 1
            if outOfBudget() { return false }
            complete(k)
            if prunes(bound(k)) { return true }
            if k == e {
                // Every slot is filled (the counts below guarantee it): a complete plan, valued
                // as every plan is (the bound may differ from it by rounding).
                let plan = Array(holds)
                let (u, e) = (self.u, self.e)
                let sum = combination == .sum
                let value = ObjectiveModel.rowPeaks(plan, rows: (0..<rows).lazy.map { u[$0 * e ..< ($0 + 1) * e] },
                                                    experts: e, slotsPerDevice: s)
                    .reduce(constant) { sum ? $0 + $1 : Swift.max($0, $1) }
                if value < bestValue {
                    bestValue = value
                    bestPlan = plan
                    improved = true
                }
                return true
            }
            let x = order[k]
            let left = e - k - 1
            var freeTotal = 0, open = 0
            for dev in 0..<d where free[dev] > 0 {
                freeTotal += free[dev]
                open += 1
                // A device with more free slots than experts left (this one included) can never fill.
                if free[dev] > left + 1 { return true }
            }
            let most = Swift.min(open, freeTotal - left)
            let least = left == 0 ? freeTotal : 1
            guard least <= most else { return true }
            for r in stride(from: most, through: least, by: -1) {
                if !choose(x, depth: k, r: r, from: 0, index: 0) { return false }
            }
            return true
        }

        /// Whether devices `a` and `b` are in identical states.
        func identical(_ a: Int, _ b: Int) -> Bool {
            guard free[a] == free[b] else { return false }
            for t in 0..<rows where loads[a * rows + t] != loads[b * rows + t] { return false }
            return true
        }

        /// Chooses devices `chosen[depth][index..<r]` from `first...` for the replicas of `x`,
        /// each placed as soon as it is chosen (so that a device that already lifts the bound to
        /// the incumbent is cut before the rest of the choice), then recurses.
        mutating func choose(_ x: Int, depth k: Int, r: Int, from first: Int, index: Int) -> Bool {
            if index == r { return branch(k + 1) }
            var dev = first
            while dev < d {
                defer { dev += 1 }
                guard free[dev] > 0 else { continue }
                // Of a run of identical devices, skipping one means skipping the rest: a device
                // may be chosen only when it is the first candidate here or differs from the one
                // before it (which, being at or after `first`, was skipped and is unchanged).
                if dev > first && identical(dev, dev - 1) { continue }
                if d - dev < r - index { break }
                // Every placement is a node of the budget (a unit of work).
                nodes += 1
                if outOfBudget() { return false }
                chosen[k * d + index] = dev
                place(x, share: 1 / Double(r), on: dev, slot: k * d + index)
                // Redundant replicas left for `order[k+1...]` once `x` has its `r`.
                let sigma = Swift.max(0, spare - (placed - index - 1 - k) - (r - 1))
                let explored = prunes(bound(k, device: dev, sigma: sigma))
                    || choose(x, depth: k, r: r, from: dev + 1, index: index + 1)
                unplace(on: dev, slot: k * d + index)
                if !explored { return false }
            }
            return true
        }

        /// Adds one replica of `x` (a `share` of its loads) to `dev`, saving what it changes in
        /// the scratch `slot`.
        mutating func place(_ x: Int, share: Double, on dev: Int, slot: Int) {
            for t in 0..<rows {
                saved[slot * rows + t] = loads[dev * rows + t]
                savedPeaks[slot * rows + t] = peaks[t]
                let load = loads[dev * rows + t] + u[t * e + x] * share
                loads[dev * rows + t] = load
                if load > peaks[t] { peaks[t] = load }
            }
            holds[dev * s + (s - free[dev])] = Int32(x)
            free[dev] -= 1
            placed += 1
        }

        /// Undoes ``place(_:share:on:slot:)`` exactly.
        mutating func unplace(on dev: Int, slot: Int) {
            placed -= 1
            free[dev] += 1
            holds[dev * s + (s - free[dev])] = -1
            for t in 0..<rows {
                loads[dev * rows + t] = saved[slot * rows + t]
                peaks[t] = savedPeaks[slot * rows + t]
            }
        }
    }
}
