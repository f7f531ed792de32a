import ExpertPlacement

/// Branch-and-price for one layer's decision problem: "is there a placement whose every device
/// load stays within θ in every row?" — without enumerating the device patterns.
///
/// ## The master
/// Items are ``PatternModel/Item``s `(e, r)` (one of `r` replicas of expert `e`); a column `p` is
/// a set of at most `S` items of distinct experts within θ. The master LP is
///
///     min Σ_p x_p   s.t.   Σ_{p ∋ i} x_p − r_i·y_i ≥ 0   (every item i)
///                          Σ_{i of e} y_i = 1             (every expert e)
///                          Σ_i r_i·y_i = D·S              (every slot filled)
///                          x, y ≥ 0
///
/// An integer solution with `Σ x ≤ D` is a placement within θ: drop surplus items from the
/// patterns; `D·S` items in at most `D` patterns of at most `S` items fill every device exactly.
/// Conversely every placement within θ is such a solution, so θ is infeasible whenever the LP
/// bound exceeds `D`. Singleton columns keep the LP feasible.
///
/// ## Pricing
/// With duals `π_i` of the item rows and `μ` of the branching rows, a pattern's reduced cost is
/// `1 − Σ_{i∈p} π_i − Σ μ(pairs in p)`: a cardinality-constrained, multiple-choice knapsack
/// (at most `S` items, one per expert, within θ in every row), solved by depth-first search over
/// the non-dominated items with a Lagrangian bound, under a budget of visits. With `V` the
/// largest pattern value (or, when the budget ran out, the Lagrangian bound on it),
/// `z_RMP / V` is a valid bound (Farley) that prunes a node before the LP converges; a node whose
/// pricing finds nothing within the budget is branched on its current solution.
///
/// One master LP serves the whole tree: a node switches column and row bounds (disallowed items
/// and the patterns holding them fixed at 0, pair rows free unless branched on), so each solve
/// starts from the previous basis.
///
/// ## Branching (depth first)
/// 1. On an expert's replica count when some `y` is fractional: `c_e ≤ k` or `c_e ≥ k + 1`.
/// 2. Then on how many devices hold two given experts together, `n_ef ≤ k` or `n_ef ≥ k + 1`
///    (a row of the master; its dual enters pricing as a pair bonus).
/// 3. Then on a count that is integral but not fixed: `c_e < v`, `= v`, `> v`.
/// 4. With every count fixed and every pair count integral, a node whose `x` is still fractional
///    is settled by GLPK over all its patterns (few, since each expert has one item left).
///
/// Two heuristics find placements before the tree does: a dive from the root (commit the
/// patterns the LP uses onto devices, re-solve, repeat) and a pool IP — GLPK over every column
/// generated so far, tried after the root and whenever the pool has doubled.
struct BranchAndPrice {
    let model: PatternModel
    let theta: Double
    let items: [PatternModel.Item]
    let verbose: Bool
    /// Most patterns in a node's fallback model (step 4); a larger node is skipped and the
    /// answer is unresolved unless another node finds a placement.
    var maxPatterns = 200_000

    enum Decision {
        /// A placement within θ (device-major `phy2log`).
        case feasible([Int32])
        /// Proven: no placement within θ.
        case infeasible
        /// Not settled: the deadline passed (`timeLimit`) or a node's fallback model was too large.
        case unresolved(timeLimit: Bool)
    }

    /// Work done, for `--verbose`.
    struct Statistics: CustomStringConvertible {
        var nodes = 0, lpSolves = 0, columns = 0, poolSolves = 0, diveSteps = 0
        var lpTime = Duration.zero, pricingTime = Duration.zero, poolTime = Duration.zero
        var description: String {
            "\(nodes) nodes, \(lpSolves) LP solves (\(lpTime)), pricing \(pricingTime), \(columns) columns, \(poolSolves) pool IPs (\(poolTime)), \(diveSteps) dive steps"
        }
    }

    private let t: Int
    private let n: Int
    private let load: [Double]  // items × rows
    private let itemsOf: [[Int]]  // per expert, by ascending replica count
    private let limit: Double
    private(set) var statistics = Statistics()

    private var pool: [[Int]] = []
    private var known: Set<[Int]> = []
    private var masterLP: LinearProgramSession?
    /// Master row of each pair count branched on, keyed `min·E + max` of the two experts.
    private var pairRows: [Int: Int] = [:]

    init(model: PatternModel, theta: Double, items: [PatternModel.Item], verbose: Bool) {
        self.model = model
        self.theta = theta
        self.items = items
        self.verbose = verbose
        t = model.rows.count
        n = items.count
        var load = [Double](repeating: 0, count: items.count * t)
        var itemsOf = [[Int]](repeating: [], count: model.experts)
        for (i, item) in items.enumerated() {
            for k in 0..<t { load[i * t + k] = item.load[k] }
            itemsOf[item.expert].append(i)
        }
        for e in itemsOf.indices { itemsOf[e].sort { items[$0].replicas < items[$1].replicas } }
        self.load = load
        self.itemsOf = itemsOf
        limit = theta * (1 + 1e-12)
    }

    struct PairBound {
        var first: Int, second: Int
        var lower: Double?, upper: Double?
    }

    struct Node {
        var lower: [Int]
        var upper: [Int]
        var pairs: [PairBound] = []
        /// Patterns fixed onto devices by the diving heuristic (pool indices, repeats allowed).
        var committed: [Int] = []
    }

    private func fits(_ pattern: [Int]) -> Bool {
        for k in 0..<t {
            var sum = 0.0
            for i in pattern { sum += load[i * t + k] }
            if sum > limit { return false }
        }
        return true
    }

    /// Adds a pattern to the pool (and its column to the master, when there is one); `false`
    /// when it is already there.
    @discardableResult
    private mutating func addToPool(_ pattern: [Int]) throws(ExactSolverError) -> Bool {
        let key = pattern.sorted()
        guard known.insert(key).inserted else { return false }
        pool.append(key)
        statistics.columns += 1
        if let lp = masterLP {
            var entries = key.map { (row: $0, value: 1.0) }
            for (pairKey, row) in pairRows where holdsBoth(key, pairKey) { entries.append((row, 1)) }
            try lp.addColumn(cost: 1, entries: entries)
        }
        return true
    }

    /// Whether `pattern` holds both experts of the pair `key` (`first·E + second`).
    private func holdsBoth(_ pattern: [Int], _ key: Int) -> Bool {
        let e = model.experts
        var a = false, b = false
        for i in pattern {
            if items[i].expert == key / e { a = true }
            if items[i].expert == key % e { b = true }
        }
        return a && b
    }

    /// The master LP, created on first use with a column for every pattern in the pool; `nil`
    /// when `deadline` passes while it is being built (tens of thousands of columns take a while).
    private mutating func master(deadline: ContinuousClock.Instant? = nil) throws(ExactSolverError) -> LinearProgramSession? {
        if let masterLP { return masterLP }
        let e = model.experts, slots = Double(model.devices * model.slotsPerDevice)
        let rows = [(lower: Double?, upper: Double?)](repeating: (0, nil), count: n)
            + [(lower: Double?, upper: Double?)](repeating: (1, 1), count: e) + [(slots, slots)]
        let lp = try LinearProgramSession(rows: rows, verbose: verbose)
        for i in 0..<n {
            if i & 1023 == 1023, let deadline, ContinuousClock.now >= deadline { return nil }
            let r = Double(items[i].replicas)
            try lp.addColumn(cost: 0, lower: 0, upper: 1, entries: [(i, -r), (n + items[i].expert, 1), (n + e, r)])
        }
        for (p, pattern) in pool.enumerated() {
            if p & 1023 == 1023, let deadline, ContinuousClock.now >= deadline { return nil }
            try lp.addColumn(cost: 1, entries: pattern.map { (row: $0, value: 1.0) })
        }
        masterLP = lp
        return lp
    }

    /// Creates the (free) master row counting the devices that hold both experts of `key`.
    private mutating func addPairRow(_ key: Int) throws(ExactSolverError) {
        let lp = try master()!  // built by relax before any pair row
        let entries = pool.indices.filter { holdsBoth(pool[$0], key) }.map { (column: n + $0, value: 1.0) }
        pairRows[key] = try lp.addRow(lower: nil, upper: nil, entries: entries)
    }

    /// Decides θ, starting the column pool from `seed`'s devices that fit (and singletons).
    mutating func decide(seed: [Int32], deadline: ContinuousClock.Instant) throws(ExactSolverError) -> Decision {
        let e = model.experts, d = model.devices, s = model.slotsPerDevice
        guard itemsOf.allSatisfy({ !$0.isEmpty }) else { return .infeasible }
        // Every item is a column of the master: a model with more items than patterns allowed
        // (far more slots than experts: thousands of replica counts per expert) is too large.
        guard n <= maxPatterns else { return .unresolved(timeLimit: false) }
        for i in 0..<n {
            if i & 4095 == 4095 && ContinuousClock.now >= deadline { return .unresolved(timeLimit: true) }
            try addToPool([i])
        }
        if seed.count == d * s {
            var counts = [Int](repeating: 0, count: e)
            for x in seed { counts[Int(x)] += 1 }
            // The item of each expert at its seed count, looked up once (not once per device).
            let seedItem = (0..<e).map { x in itemsOf[x].first(where: { items[$0].replicas == counts[x] }) }
            for dev in 0..<d {
                if dev & 1023 == 1023 && ContinuousClock.now >= deadline { return .unresolved(timeLimit: true) }
                var pattern: [Int] = []
                for k in 0..<s {
                    if let i = seedItem[Int(seed[dev * s + k])] { pattern.append(i) }
                }
                if pattern.count == s && fits(pattern) { try addToPool(pattern) }
            }
        }
        let root = Node(lower: itemsOf.map { items[$0.first!].replicas }, upper: itemsOf.map { items[$0.last!].replicas })
        var stack = [root]
        var poolTried = 0
        var skipped = false  // a node whose fallback model was too large (its subtree unexplored)
        while let node = stack.popLast() {
            if ContinuousClock.now >= deadline { return .unresolved(timeLimit: true) }
            statistics.nodes += 1
            let outcome = try solveNode(node, deadline: deadline)
            switch outcome {
            case .pruned:
                continue
            case .timeLimit:
                return .unresolved(timeLimit: true)
            case .placement(let plan):
                return .feasible(plan)
            case .tooLarge:
                skipped = true
            case .branch(let children):
                if statistics.nodes == 1, let plan = try dive(from: node, deadline: deadline) { return .feasible(plan) }
                if pool.count >= 2 * Swift.max(poolTried, n) || poolTried == 0 {
                    poolTried = pool.count
                    if let plan = try solvePool(deadline: deadline) { return .feasible(plan) }
                }
                stack.append(contentsOf: children.reversed())
            }
        }
        return skipped ? .unresolved(timeLimit: false) : .infeasible
    }

    private enum NodeOutcome {
        case pruned, timeLimit, tooLarge
        case placement([Int32])
        /// Children, the one to explore first at the front.
        case branch([Node])
    }

    private func allowed(_ i: Int, _ node: Node) -> Bool {
        let item = items[i]
        return item.replicas >= node.lower[item.expert] && item.replicas <= node.upper[item.expert]
    }

    private enum Relaxation {
        case pruned, timeLimit
        /// The master LP's solution at the end of column generation (`x` over pool indices).
        case solution(y: [Double], x: [(pattern: Int, value: Double)])
    }

    /// Column generation at `node`: `.pruned` when its LP bound exceeds the devices left.
    private mutating func relax(_ node: Node, deadline: ContinuousClock.Instant) throws(ExactSolverError) -> Relaxation {
        let e = model.experts, d = model.devices, s = model.slotsPerDevice
        let slots = d * s
        let devicesLeft = Double(d - node.committed.count)
        var committedCopies = [Int](repeating: 0, count: n)
        for p in node.committed { for i in pool[p] { committedCopies[i] += 1 } }
        // Counts: each expert keeps an item, and the slot total is reachable.
        var low = 0, high = 0
        for x in 0..<e {
            guard node.lower[x] <= node.upper[x] else { return .pruned }
            low += node.lower[x]
            high += node.upper[x]
        }
        guard low <= slots && slots <= high else { return .pruned }
        // A pair that must share devices needs a column holding both (their smallest items).
        for pair in node.pairs where (pair.lower ?? 0) > 0 {
            let a = itemsOf[pair.first].last { allowed($0, node) }!, b = itemsOf[pair.second].last { allowed($0, node) }!
            guard fits([a, b]) else { return .pruned }
            try addToPool([a, b])
        }
        // The master, kept from node to node so each solve starts from the last basis: rows are
        // the items (0..<n), the experts, the slot row, then pair rows as branching creates
        // them; columns are y (0..<n) then one x column per pool pattern (n + p).
        guard let lp = try master(deadline: deadline) else { return .timeLimit }
        var allowedItem = [Bool](repeating: false, count: n)
        for i in 0..<n {
            if i & 4095 == 4095 && ContinuousClock.now >= deadline { return .timeLimit }
            allowedItem[i] = allowed(i, node)
            try lp.setColumnBounds(i, lower: 0, upper: allowedItem[i] ? 1 : 0)
            try lp.setRowBounds(i, lower: -Double(committedCopies[i]), upper: nil)
        }
        for (p, pattern) in pool.enumerated() {
            try lp.setColumnBounds(n + p, lower: 0, upper: pattern.allSatisfy({ allowedItem[$0] }) ? nil : 0)
        }
        var pairBounds: [Int: (lower: Double?, upper: Double?)] = [:]
        for pair in node.pairs {
            let key = Swift.min(pair.first, pair.second) * e + Swift.max(pair.first, pair.second)
            var bounds = pairBounds[key] ?? (nil, nil)
            if let lo = pair.lower { bounds.lower = Swift.max(bounds.lower ?? lo, lo) }
            if let hi = pair.upper { bounds.upper = Swift.min(bounds.upper ?? hi, hi) }
            pairBounds[key] = bounds
        }
        for (key, bounds) in pairBounds {
            if let lo = bounds.lower, let hi = bounds.upper, lo > hi { return .pruned }
            if pairRows[key] == nil { try addPairRow(key) }
        }
        for (key, row) in pairRows {
            let bounds = pairBounds[key] ?? (nil, nil)
            try lp.setRowBounds(row, lower: bounds.lower, upper: bounds.upper)
        }
        // Column generation.
        var duals = [Double](repeating: 0, count: n)
        var bonus = [Double](repeating: 0, count: e * e)
        while true {
            let left = deadline - ContinuousClock.now
            let seconds = left.inSeconds
            guard seconds > 0.001 else { return .timeLimit }
            statistics.lpSolves += 1
            let lpStart = ContinuousClock.now
            let status = try lp.solve(timeLimit: seconds)
            statistics.lpTime += ContinuousClock.now - lpStart
            switch status {
            case .optimal: break
            case .timeLimit: return .timeLimit
            case .infeasible: return .pruned  // singletons and pair columns keep it feasible; kept safe
            }
            let z = lp.objective
            for i in 0..<n { duals[i] = allowedItem[i] ? Swift.max(0, lp.dual(i)) : 0 }
            for k in bonus.indices { bonus[k] = 0 }
            for key in pairBounds.keys {
                let mu = lp.dual(pairRows[key]!)
                bonus[key] += mu
                bonus[(key % e) * e + key / e] += mu
            }
            let pricingStart = ContinuousClock.now
            let priced = price(node: node, duals: duals, bonus: bonus, deadline: deadline)
            statistics.pricingTime += ContinuousClock.now - pricingStart
            guard let priced else { return .timeLimit }
            // Farley: z_LP ≥ z_RMP / (the largest pattern value), with an upper bound on that value
            // when pricing stopped at its budget. Valid before the LP converges.
            if z / Swift.max(1, priced.bound) > devicesLeft + 1e-7 { return .pruned }
            var added = 0
            for pattern in priced.patterns where try addToPool(pattern) { added += 1 }
            // Converged, or pricing found nothing within its budget: branch on this solution.
            if priced.bound <= 1 + 1e-9 || added == 0 { break }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n where allowedItem[i] { y[i] = lp.value(i) }
        var x: [(pattern: Int, value: Double)] = []
        for p in pool.indices {
            let v = lp.value(n + p)
            if v > 1e-9 { x.append((p, v)) }
        }
        return .solution(y: y, x: x)
    }

    private func integral(_ v: Double) -> Bool { abs(v - v.rounded()) <= 1e-6 }

    /// The integer solution `(y, x)` plus the committed patterns as a placement, if it is one.
    private func placement(_ node: Node, y: [Double], x: [(pattern: Int, value: Double)]) -> [Int32]? {
        guard y.allSatisfy(integral), x.allSatisfy({ integral($0.value) }) else { return nil }
        return decode(x: x.map { ($0.pattern, Int($0.value.rounded())) } + node.committed.map { ($0, 1) }, y: y)
    }

    /// Diving: solve, commit the patterns the LP uses at integer level (or else the one with the
    /// largest value) onto devices, repeat — until an integer solution or a bound above the
    /// devices left. A heuristic: it finds placements, it never proves infeasibility.
    private mutating func dive(from start: Node, deadline: ContinuousClock.Instant) throws(ExactSolverError) -> [Int32]? {
        var node = start
        while node.committed.count < model.devices {
            guard case .solution(let y, let x) = try relax(node, deadline: deadline) else { return nil }
            statistics.diveSteps += 1
            if let plan = placement(node, y: y, x: x) { return plan }
            var commits: [Int] = []
            for (p, v) in x where v >= 1 - 1e-6 {
                for _ in 0..<Int((v + 1e-6).rounded(.down)) { commits.append(p) }
            }
            if commits.isEmpty, let top = x.max(by: { $0.value < $1.value }) { commits = [top.pattern] }
            guard !commits.isEmpty, node.committed.count + commits.count <= model.devices else { return nil }
            for p in commits {
                for i in pool[p] {
                    let item = items[i]
                    guard item.replicas >= node.lower[item.expert] && item.replicas <= node.upper[item.expert] else { return nil }
                    node.lower[item.expert] = item.replicas
                    node.upper[item.expert] = item.replicas
                }
                node.committed.append(p)
            }
        }
        return nil
    }

    private mutating func solveNode(_ node: Node, deadline: ContinuousClock.Instant) throws(ExactSolverError) -> NodeOutcome {
        let e = model.experts
        let y: [Double], x: [(pattern: Int, value: Double)]
        switch try relax(node, deadline: deadline) {
        case .pruned: return .pruned
        case .timeLimit: return .timeLimit
        case .solution(let ys, let xs): (y, x) = (ys, xs)
        }
        if let plan = placement(node, y: y, x: x) { return .placement(plan) }
        let fractionalY = (0..<n).contains { !integral(y[$0]) }
        // 1. A fractional replica count (the expert whose largest y is smallest).
        var best = -1, bestSpread = 2.0
        if fractionalY {
            for ex in 0..<e {
                let top = itemsOf[ex].reduce(0.0) { Swift.max($0, y[$1]) }
                if top < 1 - 1e-6 && top < bestSpread { best = ex; bestSpread = top }
            }
        }
        if best >= 0 {
            let mean = itemsOf[best].reduce(0.0) { $0 + y[$1] * Double(items[$1].replicas) }
            let k = Int((mean + 1e-9).rounded(.down))
            var down = node, up = node
            down.upper[best] = k
            up.lower[best] = k + 1
            let weightUp = itemsOf[best].reduce(0.0) { $0 + (items[$1].replicas > k ? y[$1] : 0) }
            return .branch(weightUp > 0.5 ? [up, down] : [down, up])
        }
        // 2. A fractional pair count.
        var together = [Double](repeating: 0, count: e * e)
        for (p, v) in x {
            let experts = pool[p].map { items[$0].expert }
            for a in experts.indices { for b in (a + 1)..<experts.count {
                let (u, w) = (Swift.min(experts[a], experts[b]), Swift.max(experts[a], experts[b]))
                together[u * e + w] += v
            } }
        }
        var pick = -1, pickScore = 0.0
        for k in together.indices {
            let f = together[k] - together[k].rounded(.down)
            let score = Swift.min(f, 1 - f)
            if score > 1e-6 && score > pickScore { pick = k; pickScore = score }
        }
        if pick >= 0 {
            let value = together[pick], k = value.rounded(.down)
            var down = node, up = node
            down.pairs.append(PairBound(first: pick / e, second: pick % e, lower: nil, upper: k))
            up.pairs.append(PairBound(first: pick / e, second: pick % e, lower: k + 1, upper: nil))
            return .branch(value - k > 0.5 ? [up, down] : [down, up])
        }
        // 3. An integral count that is not fixed yet.
        if let ex = (0..<e).first(where: { node.lower[$0] < node.upper[$0] }) {
            let v = items[itemsOf[ex].first { y[$0] > 0.5 }!].replicas
            var equal = node, below = node, above = node
            equal.lower[ex] = v; equal.upper[ex] = v
            below.upper[ex] = v - 1
            above.lower[ex] = v + 1
            return .branch([equal, below, above])
        }
        // 4. Everything fixed: GLPK over all this node's patterns.
        return try settleFixed(node, deadline: deadline)
    }

    /// The best patterns by value `Σ π + pair bonuses`, at most 24 of them, all with value above 1,
    /// and `bound`, an upper bound on every pattern's value: the largest value (1 when none beats
    /// 1) when the search finished, a Lagrangian bound when it stopped at its budget of visits.
    /// `nil` when the deadline passed.
    ///
    /// Depth-first over candidate items sorted by a Lagrangian-adjusted value
    /// `a_i = o_i − λ·L_i` (`o_i` the item's optimistic value, `L_i` its load summed over rows):
    /// any completion `Q` of at most `k` items within the remaining capacities `c_t` has
    /// `Σ_Q o ≤ λ·Σ_t c_t + (sum of the k largest positive a)`, which prunes combinations of
    /// valuable but heavy items. λ minimises that bound at the root.
    private func price(node: Node, duals: [Double], bonus: [Double], deadline: ContinuousClock.Instant)
        -> (bound: Double, patterns: [[Int]])? {
        let e = model.experts, s = model.slotsPerDevice
        let keep = 24
        // Optimistic value of each candidate: its dual plus every positive pair bonus of its expert.
        var positiveBonus = [Double](repeating: 0, count: e)
        for a in 0..<e { for b in 0..<e where bonus[a * e + b] > 0 { positiveBonus[a] += bonus[a * e + b] } }
        var raw: [(item: Int, optimistic: Double, load: Double)] = []
        for x in 0..<e {
            // Items of one expert, most replicas (lightest) first: an item whose value does not
            // beat a lighter one's is dominated (swap it for the lighter one in any pattern).
            var bestLighter = 1e-12
            for i in itemsOf[x].reversed() where allowed(i, node) {
                let o = duals[i] + positiveBonus[x]
                guard o > bestLighter else { continue }
                bestLighter = o
                var l = 0.0
                for k in 0..<t { l += load[i * t + k] }
                raw.append((i, o, l))
            }
        }
        let m = raw.count
        // λ from a few quantiles of the value/load ratios, minimising the root bound.
        func rootBound(_ lambda: Double) -> Double {
            var top = [Double](repeating: 0, count: s)
            for c in raw {
                let a = c.optimistic - lambda * c.load
                if a > top[s - 1] {
                    var k = s - 1
                    while k > 0 && top[k - 1] < a { top[k] = top[k - 1]; k -= 1 }
                    top[k] = a
                }
            }
            return lambda * Double(t) * limit + top.reduce(0, +)
        }
        let ratios = raw.filter { $0.load > 0 }.map { $0.optimistic / $0.load }.sorted()
        var lambda = 0.0, lowest = rootBound(0)
        if !ratios.isEmpty {
            let samples = Swift.min(48, ratios.count)
            for q in 0..<samples {
                let candidate = ratios[q * (ratios.count - 1) / Swift.max(1, samples - 1)]
                let b = rootBound(candidate)
                if b < lowest { lowest = b; lambda = candidate }
            }
        }
        if lowest <= 1 + 1e-9 { return (1, []) }
        let budget = 200_000
        var candidates = raw.map { (item: $0.item, adjusted: $0.optimistic - lambda * $0.load) }
        candidates.sort { $0.adjusted != $1.adjusted ? $0.adjusted > $1.adjusted : $0.item < $1.item }
        var prefix = [Double](repeating: 0, count: m + 1)
        for j in 0..<m { prefix[j + 1] = prefix[j] + Swift.max(0, candidates[j].adjusted) }
        var found: [(value: Double, pattern: [Int])] = []
        var threshold = 1 + 1e-9
        var best = 1.0
        var chosen: [Int] = []
        var used = [Bool](repeating: false, count: e)
        var sums = [Double](repeating: 0, count: t)
        var visited = 0
        var expired = false
        func record(_ value: Double) {
            best = Swift.max(best, value)
            found.append((value, chosen))
            if found.count > 4 * keep {
                found.sort { $0.value > $1.value }
                found.removeLast(found.count - keep)
                threshold = Swift.max(threshold, found[keep - 1].value)
            }
        }
        func extend(from start: Int, value: Double) {
            let room = s - chosen.count
            var capacity = 0.0
            for k in 0..<t { capacity += limit - sums[k] }
            let reserve = value + lambda * capacity
            var j = start
            while j < m {
                if reserve + prefix[Swift.min(j + room, m)] - prefix[j] <= threshold { return }
                visited += 1
                if visited & 0x3FFF == 0 && ContinuousClock.now >= deadline { expired = true }
                if expired || visited > budget { return }
                let i = candidates[j].item, ex = items[i].expert
                if !used[ex] {
                    var ok = true
                    for k in 0..<t where sums[k] + load[i * t + k] > limit { ok = false; break }
                    if ok {
                        var gain = duals[i]
                        for c in chosen { gain += bonus[ex * e + items[c].expert] }
                        used[ex] = true
                        for k in 0..<t { sums[k] += load[i * t + k] }
                        chosen.append(i)
                        if value + gain > threshold { record(value + gain) }
                        if room > 1 { extend(from: j + 1, value: value + gain) }
                        chosen.removeLast()
                        for k in 0..<t { sums[k] -= load[i * t + k] }
                        used[ex] = false
                    }
                }
                j += 1
            }
        }
        extend(from: 0, value: 0)
        if expired { return nil }
        found.sort { $0.value > $1.value }
        return (visited > budget ? lowest : best, found.prefix(keep).map(\.pattern))
    }

    /// GLPK over every column generated so far: x integer, y binary, `Σ x ≤ D`.
    private mutating func solvePool(deadline: ContinuousClock.Instant) throws(ExactSolverError) -> [Int32]? {
        let left = deadline - ContinuousClock.now
        let seconds = left.inSeconds
        guard seconds > 0.05 else { return nil }
        statistics.poolSolves += 1
        let poolStart = ContinuousClock.now
        defer { statistics.poolTime += ContinuousClock.now - poolStart }
        let e = model.experts, d = model.devices, s = model.slotsPerDevice
        var mip = MixedIntegerProgram()
        let xs = pool.map { _ in mip.addColumn(.init(kind: .integer, lower: 0, upper: Double(d))) }
        let ys = items.map { _ in mip.addColumn(.init(kind: .binary)) }
        var uses = [[Int]](repeating: [], count: n)
        for (p, pattern) in pool.enumerated() { for i in pattern { uses[i].append(p) } }
        for i in 0..<n {
            mip.addRow(lower: 0, upper: nil, uses[i].map { (xs[$0], 1.0) } + [(ys[i], -Double(items[i].replicas))])
        }
        for x in 0..<e { mip.addRow(lower: 1, upper: 1, itemsOf[x].map { (ys[$0], 1.0) }) }
        mip.addRow(lower: Double(d * s), upper: Double(d * s), (0..<n).map { (ys[$0], Double(items[$0].replicas)) })
        mip.addRow(lower: nil, upper: Double(d), xs.map { ($0, 1.0) })
        let solution = try GLPK.solve(mip, timeLimit: Swift.min(0.1, 0.05 * seconds), verbose: false)
        guard let values = solution.values, solution.outcome != .infeasible else { return nil }
        let x = pool.indices.compactMap { p -> (Int, Int)? in
            let v = Int(values[xs[p]].rounded())
            return v > 0 ? (p, v) : nil
        }
        return decode(x: x, y: ys.map { values[$0] })
    }

    /// Every count fixed and every pair count integral, `x` fractional: GLPK over all the node's
    /// exact patterns (one item per expert) with the pair rows.
    private func settleFixed(_ node: Node, deadline: ContinuousClock.Instant) throws(ExactSolverError) -> NodeOutcome {
        let e = model.experts
        let chosen = (0..<e).map { x in itemsOf[x].first { items[$0].replicas == node.lower[x] }! }
        let fixedItems = chosen.map { items[$0] }
        guard let patterns = model.patterns(items: fixedItems, within: theta, limit: maxPatterns, deadline: deadline) else {
            return ContinuousClock.now >= deadline ? .timeLimit : .tooLarge
        }
        guard !patterns.isEmpty else { return .pruned }
        // The feasibility model of the pattern formulation (x_p are its first columns, in pattern
        // order), plus this node's pair rows. Fixed items are in expert order: item index = expert.
        var (mip, decode) = model.program(items: fixedItems, patterns: patterns)
        for pair in node.pairs {
            let holders = patterns.indices.filter { patterns[$0].contains(pair.first) && patterns[$0].contains(pair.second) }
            mip.addRow(lower: pair.lower, upper: pair.upper, holders.map { ($0, 1.0) })
        }
        let seconds = (deadline - ContinuousClock.now).inSeconds
        guard seconds > 0.01 else { return .timeLimit }
        let solution = try GLPK.solve(mip, timeLimit: seconds, verbose: verbose)
        switch solution.outcome {
        case .infeasible: return .pruned
        case .timeLimit where solution.values == nil: return .timeLimit
        default: return .placement(decode(solution.values!))
        }
    }

    /// An integer master solution as a placement: each expert keeps the item its `y` chose, and
    /// patterns drop items beyond the count. `nil` unless every device ends up with `S` experts.
    private func decode(x: [(pattern: Int, count: Int)], y: [Double]) -> [Int32]? {
        let e = model.experts, d = model.devices, s = model.slotsPerDevice
        var need = [Int](repeating: -1, count: e)
        for i in 0..<n where y[i] > 0.5 { need[items[i].expert] = items[i].replicas }
        guard need.allSatisfy({ $0 > 0 }) else { return nil }
        let wanted = need
        var plan: [Int32] = []
        var devices = 0
        for (p, count) in x {
            for _ in 0..<count {
                var device: [Int32] = []
                for i in pool[p] where items[i].replicas == wanted[items[i].expert] && need[items[i].expert] > 0 {
                    need[items[i].expert] -= 1
                    device.append(Int32(items[i].expert))
                }
                guard device.count == s else { return nil }
                plan.append(contentsOf: device.sorted())
                devices += 1
            }
        }
        guard devices == d, need.allSatisfy({ $0 == 0 }) else { return nil }
        return plan
    }
}
