import ExpertPlacement

/// The compact multi-episode MILP of one layer: replica counts and placement chosen jointly, every
/// episode's peak a variable.
///
/// The pattern formulation (``PatternModel``) enumerates what a device can hold under one cap;
/// with several episodes whose peaks are *summed* (`meanImbalance`, `peakSum`) there is no single
/// cap, and the number of patterns explodes. This model has a size polynomial in the instance:
///
/// - `y[e][r]` ∈ {0, 1}: expert `e` has `r` replicas, `1 ≤ r ≤ r_max = min(D, P − E + 1)`;
///   `Σ_r y[e][r] = 1`.
/// - `z[e][d][r]` ∈ {0, 1}: with `r` replicas, one of them is on device `d`;
///   `Σ_d z[e][d][r] = r·y[e][r]` and `z[e][d][r] ≤ y[e][r]` (the second is implied for integer
///   points and tightens the LP).
/// - every device is full: `Σ_{e,r} z[e][d][r] = S`.
/// - the peaks: `Σ_{e,r} (u[t][e]/r)·z[e][d][r] ≤ M_t` for every row `t` and device `d` (the
///   device load is linear because the count is part of the variable), with `u` the rows of the
///   layer's ``ObjectiveModel``; one `M` for all rows when the objective takes their max.
/// - objective: `Σ_t M_t` (sum) or `M` (max), plus the model's constant.
///
/// Tightening, all valid for every plan at least as good as the warm start:
/// - `M_t ≥` the row's own lower bound (``LowerBounds/rowBounds(_:slots:)``);
/// - for sums, `M_t ≤ UB − constant − Σ_{t'≠t} floor_t'` (`UB` the warm start's value);
/// - symmetry between identical devices: device keys `K_d = Σ_{e,r} k[e][r]·z[e][d][r]` (with
///   `k` the replica's load summed over the rows) non-increasing in `d`; any plan can be
///   relabelled to satisfy it, so nothing is lost. The warm start is relabelled the same way.
///
/// With a drop budget `f` (``DropObjective``, `eplb solve --method exact --drop-budget f`) every
/// peak becomes a capped peak: drops `s[t][d] ≥ 0` enter each device row
/// (`… ≤ M_t + s[t][d]`) and `Σ_d s[t][d] ≤ f·U_t` (`U_t` the row's total); for a fixed plan the
/// least feasible `M_t` is then exactly the capped peak, so the optimum is the capped objective's.
///
/// GLPK's branch and cut then proves the optimum, or stops at the time limit with the best plan
/// and the best bound of its open nodes.
struct CompactModel {
    /// The layer's objective model (rows, combination, constant).
    let model: ObjectiveModel
    let slotsPerDevice: Int
    /// The model's scaled rows as `[T'][E]` arrays (built once: every row and column loop reads them).
    let rows: [[Double]]
    /// Each expert's load summed over the rows: its replicas' symmetry keys are this over `r`.
    let rowSums: [Double]
    /// Largest replica count of any expert.
    let maxReplicas: Int
    /// The capped objective when a drop budget is modelled.
    let drop: DropObjective?

    var experts: Int { model.experts }
    var devices: Int { model.devices }
    var combination: ObjectiveModel.Combination { model.combination }
    var constant: Double { model.constant }

    init(model: ObjectiveModel, slotsPerDevice s: Int) {
        self.init(model: model, slotsPerDevice: s, drop: nil)
    }

    /// The model of the capped objective of `drop`.
    init(drop: DropObjective, slotsPerDevice s: Int) {
        self.init(model: drop.model, slotsPerDevice: s, drop: drop.budget > 0 ? drop : nil)
    }

    private init(model: ObjectiveModel, slotsPerDevice s: Int, drop: DropObjective?) {
        self.drop = drop
        self.model = model
        slotsPerDevice = s
        rows = model.rowArrays
        rowSums = (0..<model.experts).map { x in (0..<model.rowCount).reduce(0.0) { $0 + model.rows[$1 * model.experts + x] } }
        maxReplicas = Swift.min(model.devices, model.devices * s - model.experts + 1)
    }

    /// Number of binary columns: `E·r_max·(D + 1)`.
    var binaryCount: Int { experts * maxReplicas * (devices + 1) }

    /// Column of `y[e][r]`.
    func y(_ e: Int, _ r: Int) -> Int { e * maxReplicas + (r - 1) }
    /// Column of `z[e][d][r]`.
    func z(_ e: Int, _ d: Int, _ r: Int) -> Int { experts * maxReplicas + (e * devices + d) * maxReplicas + (r - 1) }
    /// First peak column.
    var firstPeak: Int { experts * maxReplicas * (devices + 1) }
    var peakCount: Int { combination == .sum ? rows.count : 1 }
    /// Column of the drop `s[t][d]` (drop models only).
    func dropColumn(_ t: Int, _ d: Int) -> Int { firstPeak + peakCount + t * devices + d }

    /// The objective's value of a plan (constant included; capped with a drop budget).
    func value(_ plan: [Int32]) -> Double {
        if let drop { return drop.value(of: plan, slotsPerDevice: slotsPerDevice) }
        let peaks = ObjectiveModel.rowPeaks(plan, rows: rows, experts: experts, slotsPerDevice: slotsPerDevice)
        switch combination {
        case .sum: return peaks.reduce(constant, +)
        case .max: return peaks.reduce(constant) { Swift.max($0, $1) }
        }
    }

    /// The symmetry key of a replica of `e` with `r` replicas.
    func key(_ e: Int, _ r: Int) -> Double {
        rowSums[e] / Double(r) + 1e-9 * Double(e + 1) / Double(r)  // a tiny expert-specific term separates equal loads
    }

    /// `plan` with its devices reordered by non-increasing key (the model's symmetry breaking).
    func canonical(_ plan: [Int32]) -> [Int32] {
        let s = slotsPerDevice
        var counts = [Int](repeating: 0, count: experts)
        for x in plan { counts[Int(x)] += 1 }
        let keys = (0..<devices).map { d in (0..<s).reduce(0.0) { $0 + key(Int(plan[d * s + $1]), counts[Int(plan[d * s + $1])]) } }
        let order = (0..<devices).sorted { keys[$0] != keys[$1] ? keys[$0] > keys[$1] : $0 < $1 }
        return order.flatMap { d in plan[d * s ..< (d + 1) * s] }
    }

    /// The program, with per-row floors and (for sums) the caps implied by `upper`.
    func program(floors: [Double], upper: Double) -> MixedIntegerProgram {
        let e = experts, d = devices, s = slotsPerDevice, rmax = maxReplicas
        var mip = MixedIntegerProgram()
        for _ in 0..<(e * rmax * (d + 1)) { _ = mip.addColumn(.init(kind: .binary)) }
        switch combination {
        case .sum:
            let floorSum = floors.reduce(0, +)
            for t in rows.indices {
                let cap = upper - constant - (floorSum - floors[t])
                _ = mip.addColumn(.init(kind: .continuous, lower: floors[t], upper: Swift.max(floors[t], cap), objective: 1))
            }
        case .max:
            let floor = floors.max() ?? 0
            _ = mip.addColumn(.init(kind: .continuous, lower: floor, upper: Swift.max(floor, upper), objective: 1))
        }
        if let drop {
            for (t, row) in rows.enumerated() {
                for _ in 0..<d { _ = mip.addColumn(.init(kind: .continuous, lower: 0)) }
                mip.addRow(lower: nil, upper: drop.budget * row.reduce(0, +), (0..<d).map { (dropColumn(t, $0), 1.0) })
            }
        }
        for x in 0..<e {
            mip.addRow(lower: 1, upper: 1, (1...rmax).map { (y(x, $0), 1.0) })
            for r in 1...rmax {
                var entries = (0..<d).map { (z(x, $0, r), 1.0) }
                entries.append((y(x, r), -Double(r)))
                mip.addRow(lower: 0, upper: 0, entries)
                for dev in 0..<d { mip.addRow(lower: nil, upper: 0, [(z(x, dev, r), 1.0), (y(x, r), -1.0)]) }
            }
        }
        for dev in 0..<d {
            var entries: [(column: Int, value: Double)] = []
            for x in 0..<e { for r in 1...rmax { entries.append((z(x, dev, r), 1.0)) } }
            mip.addRow(lower: Double(s), upper: Double(s), entries)
        }
        for (t, row) in rows.enumerated() {
            let peak = firstPeak + (combination == .sum ? t : 0)
            for dev in 0..<d {
                var entries: [(column: Int, value: Double)] = []
                for x in 0..<e where row[x] > 0 { for r in 1...rmax { entries.append((z(x, dev, r), row[x] / Double(r))) } }
                entries.append((peak, -1))
                if drop != nil { entries.append((dropColumn(t, dev), -1)) }
                mip.addRow(lower: nil, upper: 0, entries)
            }
        }
        // Symmetry: K_d ≥ K_{d+1}.
        for dev in 0..<(d - 1) {
            var entries: [(column: Int, value: Double)] = []
            for x in 0..<e {
                for r in 1...rmax {
                    let k = key(x, r)
                    entries.append((z(x, dev, r), k))
                    entries.append((z(x, dev + 1, r), -k))
                }
            }
            mip.addRow(lower: 0, upper: nil, entries)
        }
        return mip
    }

    /// `plan` (canonical) as column values.
    func columns(of plan: [Int32], floors: [Double], columnCount: Int) -> [Double] {
        let s = slotsPerDevice
        var values = [Double](repeating: 0, count: columnCount)
        var counts = [Int](repeating: 0, count: experts)
        for x in plan { counts[Int(x)] += 1 }
        for x in 0..<experts { values[y(x, counts[x])] = 1 }
        for dev in 0..<devices { for k in 0..<s { let x = Int(plan[dev * s + k]); values[z(x, dev, counts[x])] = 1 } }
        let peaks = drop?.cappedPeaks(plan, slotsPerDevice: s)
            ?? ObjectiveModel.rowPeaks(plan, rows: rows, experts: experts, slotsPerDevice: s)
        switch combination {
        case .sum: for t in rows.indices { values[firstPeak + t] = Swift.max(floors[t], peaks[t]) }
        case .max: values[firstPeak] = Swift.max(floors.max() ?? 0, peaks.max() ?? 0)
        }
        if drop != nil {
            // Each device drops what exceeds its row's peak column.
            for (t, row) in rows.enumerated() {
                let cap = values[firstPeak + (combination == .sum ? t : 0)]
                let loads = DropAnalysis.deviceLoads(plan, loads: row, slotsPerDevice: s)
                for dev in 0..<devices { values[dropColumn(t, dev)] = Swift.max(0, loads[dev] - cap) }
            }
        }
        return values
    }

    /// The plan encoded by integer column values.
    func plan(from values: [Double]) -> [Int32] {
        let s = slotsPerDevice
        var plan: [Int32] = []
        plan.reserveCapacity(devices * s)
        for dev in 0..<devices {
            var held: [Int32] = []
            for x in 0..<experts { for r in 1...maxReplicas where values[z(x, dev, r)] > 0.5 { held.append(Int32(x)) } }
            plan += held
        }
        return plan
    }

    /// Whether `plan` is a complete valid layer (`D·S` slots, every expert, no expert twice on a device).
    func isValid(_ plan: [Int32]) -> Bool {
        guard plan.count == devices * slotsPerDevice else { return false }
        var seen = [Bool](repeating: false, count: experts)
        for dev in 0..<devices {
            let held = plan[dev * slotsPerDevice ..< (dev + 1) * slotsPerDevice]
            guard Set(held).count == slotsPerDevice else { return false }
            for x in held { seen[Int(x)] = true }
        }
        return !seen.contains(false)
    }

    /// The proven optimum from `start` (a valid plan), or the best plan and bound when GLPK stops
    /// at `deadline`. `floors` are lower bounds on each row's peak; `lower` a bound on the
    /// objective already known.
    func solve(start: [Int32], floors: [Double], lower: Double, deadline: ContinuousClock.Instant,
               verbose: Bool) throws(ExactSolverError) -> ExactSolver.LayerResult {
        let start = canonical(start)
        let upper = value(start)
        let mip = program(floors: floors, upper: upper)
        let initial = columns(of: start, floors: floors, columnCount: mip.columns.count)
        let seconds = (deadline - ContinuousClock.now).inSeconds
        guard seconds > 0.01 else { return .init(plan: start, bound: lower, outcome: .timeLimit) }
        let solution = try GLPK.solve(mip, timeLimit: seconds, verbose: verbose, initial: initial)
        var plan = start
        var best = upper
        if let values = solution.values {
            let found = self.plan(from: values)
            if isValid(found) {
                let v = value(found)
                if v < best { plan = found; best = v }
            }
        }
        let proven = solution.bound.map { combination == .sum ? $0 + constant : Swift.max($0, constant) }
        switch solution.outcome {
        case .optimal:
            // GLPK's optimum is the layer's (every plan at least as good as the start fits the
            // caps); its value may differ from `best` by rounding only.
            return .init(plan: plan, bound: Swift.min(best, Swift.max(lower, proven ?? lower)), outcome: .proven)
        case .infeasible:
            // Only when rounding excluded the start itself from the caps: nothing proven.
            return .init(plan: plan, bound: lower, outcome: .timeLimit)
        case .feasible, .timeLimit:
            return .init(plan: plan, bound: Swift.min(best, Swift.max(lower, proven ?? lower)), outcome: .timeLimit)
        }
    }
}
