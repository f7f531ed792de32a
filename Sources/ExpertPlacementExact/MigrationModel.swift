import ExpertPlacement

/// The exact solver's migration term: one layer's best placement when moving away from the
/// deployed `current` placement costs something — a cap on the moves, a weight per move, or both.
///
/// `moves` counts slots whose expert differs from `current` (INTERFACE §2). Devices are no longer
/// interchangeable, so the model assigns one device pattern to each device: with `z_{d,p}` = 1
/// when device `d` holds pattern `p` (a set of `S` items of distinct experts, ``PatternModel``),
/// the device keeps the experts it shares with `current(d)` in their slots and moves the rest,
/// `m_{d,p} = S − |experts(p) ∩ current(d)|`. With `u` the peak (in the rows' units),
///
///     min u + λ·Σ m_{d,p} z_{d,p}
///     s.t. Σ_p z_{d,p} = 1 (every device),   Σ_{d, p ∋ i} z_{d,p} = r_i·y_i (every item),
///          Σ_{i of e} y_i = 1 (every expert),   Σ_p load_t(p)·z_{d,p} ≤ u (every device, row),
///          Σ m_{d,p} z_{d,p} ≤ cap (when capped),   z, y binary.
///
/// Only patterns within the best known value can appear (the peak never exceeds it): `current`
/// itself (no moves) and the search's plan matched onto the devices bound it. The model grows as
/// D × patterns, so this is for small instances; a larger one is reported as too large.
struct MigrationModel {
    let model: PatternModel
    /// The deployed layer, device-major.
    let current: [Int32]
    /// Most moves allowed (`nil`: no cap).
    let cap: Int?
    /// Objective units per move.
    let weight: Double

    /// Moves of `plan` from `current` (slot by slot).
    func moves(_ plan: [Int32]) -> Int { zip(plan, current).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } }

    /// `plan` relabelled onto `current` by the core's ``Alignment`` (maximum-overlap device
    /// assignment, shared experts in their slots): same loads, never more moves than `plan`.
    func aligned(_ plan: [Int32]) -> [Int32] {
        Array(Alignment.align(plan, onto: current, slotsPerDevice: model.slotsPerDevice, experts: model.experts))
    }

    /// Writes `experts` onto `device`, each shared expert in its current slot.
    func place(_ experts: [Int32], onDevice device: Int, into out: inout [Int32]) {
        let s = model.slotsPerDevice
        let deployed = Array(current[device * s ..< (device + 1) * s])
        var rest: [Int32] = []
        for x in experts {
            if let k = deployed.firstIndex(of: x) { out[device * s + k] = x } else { rest.append(x) }
        }
        for k in 0..<s where out[device * s + k] < 0 { out[device * s + k] = rest.removeFirst() }
    }

    /// The objective of a plan: its peak over the rows (clamped below by `floor`) plus λ·moves.
    func value(_ plan: [Int32], floor: Double) -> Double {
        Swift.max(floor, ExactSolver.peak(plan, rows: model.rows, experts: model.experts, slotsPerDevice: model.slotsPerDevice))
            + weight * Double(moves(plan))
    }

    enum Outcome {
        case proven(plan: [Int32], bound: Double)
        case stopped(plan: [Int32])
        case tooLarge(plan: [Int32])
    }

    /// Solves the layer from the candidate plans `starts` (each is aligned first; those over the
    /// cap are dropped — `current` never is). `floor` is a lower bound on the peak.
    func solve(starts: [[Int32]], floor: Double, maxPatterns: Int, verbose: Bool,
               deadline: ContinuousClock.Instant) throws(ExactSolverError) -> Outcome {
        let d = model.devices, s = model.slotsPerDevice, e = model.experts
        var best = current
        for plan in starts.map(aligned) where cap.map({ moves(plan) <= $0 }) ?? true {
            if value(plan, floor: floor) < value(best, floor: floor) { best = plan }
        }
        let upper = value(best, floor: floor)
        // Every pattern a plan at least as good can use lies within `upper` in every row.
        guard let items = model.items(within: upper * (1 + 1e-12), deadline: deadline, limit: model.itemLimit(maxPatterns: maxPatterns)) else {
            return ContinuousClock.now >= deadline ? .stopped(plan: best) : .tooLarge(plan: best)
        }
        guard let patterns = model.patterns(items: items, within: upper * (1 + 1e-12), limit: maxPatterns / Swift.max(1, d),
                                            deadline: deadline) else {
            return ContinuousClock.now >= deadline ? .stopped(plan: best) : .tooLarge(plan: best)
        }
        var mip = MixedIntegerProgram()
        let u = mip.addColumn(.init(kind: .continuous, lower: floor, objective: 1))
        var z = [[Int]](repeating: [], count: d)
        var overlap = [[Int]](repeating: [], count: d)
        for dev in 0..<d {
            let deployed = Set(current[dev * s ..< (dev + 1) * s])
            for pattern in patterns {
                let shared = pattern.reduce(0) { $0 + (deployed.contains(Int32(items[$1].expert)) ? 1 : 0) }
                overlap[dev].append(shared)
                z[dev].append(mip.addColumn(.init(kind: .binary, objective: weight * Double(s - shared))))
            }
        }
        let y = items.map { _ in mip.addColumn(.init(kind: .binary)) }
        for dev in 0..<d { mip.addRow(lower: 1, upper: 1, z[dev].map { ($0, 1.0) }) }
        var uses = [[Int]](repeating: [], count: items.count)
        for (p, pattern) in patterns.enumerated() { for i in pattern { uses[i].append(p) } }
        for (i, item) in items.enumerated() {
            var entries: [(column: Int, value: Double)] = []
            for dev in 0..<d { for p in uses[i] { entries.append((z[dev][p], 1)) } }
            mip.addRow(lower: 0, upper: 0, entries + [(y[i], -Double(item.replicas))])
        }
        for x in 0..<e {
            let own = items.indices.filter { items[$0].expert == x }
            mip.addRow(lower: 1, upper: 1, own.map { (y[$0], 1.0) })
        }
        for t in model.rows.indices {
            if ContinuousClock.now >= deadline { return .stopped(plan: best) }
            let loads = patterns.map { $0.reduce(0.0) { $0 + items[$1].load[t] } }
            for dev in 0..<d { mip.addRow(lower: nil, upper: 0, patterns.indices.map { (z[dev][$0], loads[$0]) } + [(u, -1)]) }
        }
        if let cap {
            var entries: [(column: Int, value: Double)] = []
            for dev in 0..<d { for p in patterns.indices where overlap[dev][p] < s { entries.append((z[dev][p], Double(s - overlap[dev][p]))) } }
            if !entries.isEmpty { mip.addRow(lower: nil, upper: Double(cap), entries) }
        }
        // The best start as an initial solution, when each of its devices is a pattern.
        let initial = initialValues(best, items: items, patterns: patterns, z: z, y: y, u: u, columns: mip.columns.count, floor: floor)
        let left = deadline - ContinuousClock.now
        let seconds = left.inSeconds
        guard seconds > 0.01 else { return .stopped(plan: best) }
        let solution = try GLPK.solve(mip, timeLimit: Swift.max(0.05, seconds * 0.9 - 0.05), verbose: verbose, initial: initial)
        func decode(_ values: [Double]) -> [Int32] {
            var out = [Int32](repeating: -1, count: d * s)
            for dev in 0..<d {
                guard let p = patterns.indices.first(where: { values[z[dev][$0]] > 0.5 }) else { return best }
                place(patterns[p].map { Int32(items[$0].expert) }, onDevice: dev, into: &out)
            }
            return out
        }
        switch solution.outcome {
        case .optimal:
            let plan = decode(solution.values!)
            return value(plan, floor: floor) <= upper ? .proven(plan: plan, bound: value(plan, floor: floor))
                                                      : .proven(plan: best, bound: upper)
        case .feasible, .timeLimit:
            if let values = solution.values {
                let plan = decode(values)
                if value(plan, floor: floor) < upper { return .stopped(plan: plan) }
            }
            return .stopped(plan: best)
        case .infeasible:
            // No valid plan within the cap uses only patterns within `upper`: none beats `best`.
            // When `best` is a model solution (each device a pattern), only rounding at the pattern
            // limit can exclude it, so nothing is proven; when it is not (a deployed row with an
            // expert twice on a device, kept as staying put), infeasibility proves it optimal.
            return initial == nil ? .proven(plan: best, bound: upper) : .stopped(plan: best)
        }
    }

    private func initialValues(_ plan: [Int32], items: [PatternModel.Item], patterns: [[Int]], z: [[Int]], y: [Int],
                               u: Int, columns: Int, floor: Double) -> [Double]? {
        guard let (devicePatterns, expertItems) = model.locate(plan, items: items, patterns: patterns) else { return nil }
        var values = [Double](repeating: 0, count: columns)
        for (dev, p) in devicePatterns.enumerated() { values[z[dev][p]] = 1 }
        for i in expertItems { values[y[i]] = 1 }
        values[u] = Swift.max(floor, ExactSolver.peak(plan, rows: model.rows, experts: model.experts, slotsPerDevice: model.slotsPerDevice))
        return values
    }
}
