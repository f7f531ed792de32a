// The C API of ExpertPlacement: `include/expert_placement.h` declares it, this file implements it.
//
// Raw caller-owned buffers in and out, an error code plus a one-line message, no Swift types
// across the boundary. Every size, pointer and value is checked before the core is called, so a
// bad argument is an error code and never a trap in the caller's process (a Python interpreter,
// typically). The core does the work: this file only converts.
//
// The helpers are `package`: the superset library (ExpertPlacementForecastC) checks and converts
// its arguments with the same code.

package import ExpertPlacement

/// An error crossing the C boundary: a code from the header and a one-line message.
package struct CError: Error {
    /// The return code (`EP_INVALID_ARGUMENT`, …).
    package var code: Int32
    /// The one-line message, `field: reason`.
    package var message: String

    package static let invalidArgument: Int32 = 1
    package static let infeasible: Int32 = 2
    package static let invalidPlacement: Int32 = 3
    package static let internalError: Int32 = 4

    /// An `EP_INVALID_ARGUMENT` error naming `field`.
    package static func invalid(_ field: String, _ reason: String) -> CError {
        CError(code: invalidArgument, message: "\(field): \(reason)")
    }

    package init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The code and message of a core error, its field named as the C parameter is
    /// (`relativeThreshold[2]` → `relative_threshold[2]`, `topology.nodes` → `nodes`).
    package init(_ error: ExpertPlacementError) {
        switch error {
        case .invalidValue, .shapeMismatch: code = Self.invalidArgument
        case .infeasible, .unsupported: code = Self.infeasible
        case .solverFailure: code = Self.internalError
        }
        guard let field = error.field else {
            message = error.reason
            return
        }
        let base = field.prefix { $0 != "[" }
        message = "\(Self.parameterNames[String(base)] ?? String(base))\(field.dropFirst(base.count)): \(error.reason)"
    }

    /// The core's field names that are not the C parameters' own.
    static let parameterNames: [String: String] = [
        "relativeThreshold": "relative_threshold", "minGain": "min_gain", "maxLayers": "max_layers",
        "maxMoves": "max_moves", "moveCost": "move_cost", "dropBudget": "drop_budget", "timeLimit": "time_limit",
        "recordedImbalance": "recorded", "topology.expertGroups": "groups", "topology.nodes": "nodes",
        "topology.devices": "devices", "topology.slotsPerDevice": "slots_per_device", "topology": "devices, slots_per_device",
        "load": "loads", "hedgeK": "hedge_k", "shiftThreshold": "shift_threshold", "autoSteps": "auto_steps",
    ]
}

/// The largest count the API accepts for one dimension: the core's table limit
/// (``Limits/maximumCells``), so every index fits the core's `Int32` expert ids. Products of
/// dimensions are checked by the core's ``Limits`` too.
package let maxDimension = Int64(Limits.maximumCells)

/// Runs `body`, turning every error into a code and a message written to the caller's buffer.
package func guarded(_ message: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                     _ body: () throws(CError) -> Void) -> Int32 {
    do {
        try body()
        if let message, capacity > 0 { message[0] = 0 }
        return 0
    } catch {
        write(error.message, to: message, capacity: capacity)
        return error.code
    }
}

/// Copies `text` as UTF-8 into `buffer` (at most `capacity − 1` bytes, cut at a character
/// boundary) and terminates it with NUL.
package func write(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int64) {
    guard let buffer, capacity > 0 else { return }
    var bytes = Array(text.utf8)
    let room = Int(min(capacity - 1, Int64(Int.max)))
    if bytes.count > room {
        var cut = room
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a multi-byte character
        bytes.removeSubrange(cut...)
    }
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

/// Checks one dimension.
package func dimension(_ value: Int64, _ field: String, minimum: Int64 = 1) throws(CError) -> Int {
    guard value >= minimum && value <= maxDimension else {
        throw .invalid(field, "must be between \(minimum) and \(maxDimension), got \(value)")
    }
    return Int(value)
}

/// `pointer`, or an error naming `field` when it is NULL.
package func required<T>(_ pointer: UnsafePointer<T>?, _ field: String) throws(CError) -> UnsafePointer<T> {
    guard let pointer else { throw .invalid(field, "is NULL") }
    return pointer
}

/// A name from C (`NULL` → `fallback`).
package func name(_ pointer: UnsafePointer<CChar>?, fallback: String) -> String {
    pointer.map { String(cString: $0) } ?? fallback
}

/// The methods this library offers, by name.
package enum CMethod: String, CaseIterable {
    case search, greedy, hierarchical

    /// The method named by `pointer` (`NULL`: search).
    package init(_ pointer: UnsafePointer<CChar>?) throws(CError) {
        let text = name(pointer, fallback: "search")
        guard let m = CMethod(rawValue: text) else {
            let hint = text == "exact" || text == "auto"
                ? " (the GLPK exact solver is not in this library, GLPK being GPL-3: use `eplb solve --method \(text)`)" : ""
            throw .invalid("method", "unknown method '\(text)': expected one of \(CMethod.allCases.map(\.rawValue).joined(separator: ", "))\(hint)")
        }
        self = m
    }
}

/// The objective named by `pointer` (`NULL`: mean).
package func objective(_ pointer: UnsafePointer<CChar>?) throws(CError) -> Objective {
    let text = name(pointer, fallback: "mean")
    guard let o = Objective(name: text) else {
        throw .invalid("objective", "unknown objective '\(text)': expected mean, worst, aggregate or peak-sum")
    }
    return o
}

/// The shape and topology arguments shared by the calls, checked.
package struct Shape {
    package var layers: Int, episodes: Int, experts: Int
    package var topology: Topology

    package init(layers: Int64, episodes: Int64, experts: Int64, devices: Int64, slotsPerDevice: Int64,
                 nodes: Int64 = 1, groups: Int64 = 1) throws(CError) {
        self.layers = try dimension(layers, "layers")
        self.episodes = try dimension(episodes, "episodes")
        self.experts = try dimension(experts, "experts")
        let d = try dimension(devices, "devices"), s = try dimension(slotsPerDevice, "slots_per_device")
        topology = Topology(devices: d, slotsPerDevice: s, nodes: try dimension(nodes, "nodes"),
                            expertGroups: try dimension(groups, "groups"))
        // The core's checks: the topology's invariants, then every table the shape needs.
        do throws(ExpertPlacementError) {
            try topology.validate(experts: self.experts)
            try Limits.checkSizes(layers: self.layers, episodes: self.episodes, experts: self.experts, topology: topology)
        } catch {
            throw CError(error)
        }
    }

    package var slots: Int { topology.slotCount }
}

/// The loads as a core tensor `[L][T][E]`, transposed from `[T][L][E]` when `episodesFirst`.
package func loadTensor(_ pointer: UnsafePointer<Double>?, _ shape: Shape, episodesFirst: Int32) throws(CError) -> LoadTensor {
    try loadTensor(pointer, layers: shape.layers, episodes: shape.episodes, experts: shape.experts,
                   episodesFirst: episodesFirst)
}

/// The loads as a core tensor `[L][T][E]`, transposed from `[T][L][E]` when `episodesFirst`.
///
/// - Precondition: the dimensions were checked (``dimension(_:_:minimum:)``) and their product
///   is within ``Limits/maximumCells`` (programmer error).
package func loadTensor(_ pointer: UnsafePointer<Double>?, layers l: Int, episodes t: Int, experts e: Int,
                        episodesFirst: Int32) throws(CError) -> LoadTensor {
    let source = try required(pointer, "loads")
    guard episodesFirst == 0 || episodesFirst == 1 else {
        throw .invalid("episodes_first", "must be 0 ([L][T][E]) or 1 ([T][L][E]), got \(episodesFirst)")
    }
    let count = l * t * e
    // The core's value rule (``Limits``), checked once on the caller's buffer; the first bad
    // value is named with the caller's own index order.
    let caller = UnsafeBufferPointer(start: source, count: count)
    if !Limits.allInRange(caller), let bad = caller.firstIndex(where: { Limits.magnitudeProblem($0, what: "load") != nil }) {
        let k = bad % e, row = bad / e
        let index = episodesFirst == 1 ? "[\(row / l)][\(row % l)][\(k)]" : "[\(row / t)][\(row % t)][\(k)]"
        throw .invalid("loads\(index)", Limits.magnitudeProblem(caller[bad], what: "load")!)
    }
    let values = ContiguousArray<Double>(unsafeUninitializedCapacity: count) { buffer, initialized in
        HugePages.advise(UnsafeMutableRawBufferPointer(buffer))
        for layer in 0..<l {
            for episode in 0..<t {
                let from = episodesFirst == 1 ? (episode * l + layer) * e : (layer * t + episode) * e
                let to = (layer * t + episode) * e
                for k in 0..<e { buffer[to + k] = caller[from + k] }
            }
        }
        initialized = count
    }
    return LoadTensor(layers: l, episodes: t, experts: e, checkedValues: values)
}

/// A plan from the caller's `[L][P]` int64 ids, with every id checked to be in `0..<E`.
package func placement(_ pointer: UnsafePointer<Int64>, _ field: String, layers: Int, experts: Int,
                       topology: Topology) throws(CError) -> Placement {
    let count = layers * topology.slotCount
    var ids = ContiguousArray<Int32>(repeating: 0, count: count)
    for i in 0..<count {
        let x = pointer[i]
        guard x >= 0 && x < Int64(experts) else {
            throw .invalid("\(field)[\(i / topology.slotCount)][\(i % topology.slotCount)]",
                           "expert id \(x) is out of range 0..<\(experts)")
        }
        ids[i] = Int32(x)
    }
    do {
        return try Placement(topology: topology, experts: experts, physicalToLogical: ids)
    } catch {
        throw CError(error)
    }
}

/// The time limit of `seconds` (≤ 0: the method's default).
package func timeLimit(_ seconds: Double) throws(CError) -> Duration? {
    guard !seconds.isNaN else { throw .invalid("time_limit", "is NaN") }
    guard seconds > 0 else { return nil }
    guard seconds <= 1e9 else { throw .invalid("time_limit", "must be at most 1e9 seconds, got \(seconds)") }
    return .nanoseconds(Int64(seconds * 1e9))
}

/// The thread cap of `threads` (0: all cores).
package func threadCap(_ threads: Int32) throws(CError) -> Int? {
    guard threads >= 0 else { throw .invalid("threads", "must be 0 (all cores) or more, got \(threads)") }
    return threads == 0 ? nil : Int(threads)
}

/// The move policy of `move_cost` and `max_moves` (< 0: no cap).
package func movePolicy(cost: Double, maxMoves: Int64, hasCurrent: Bool) throws(CError) -> MovePolicy {
    guard cost.isFinite && cost >= 0 else { throw .invalid("move_cost", "must be a finite number ≥ 0, got \(cost)") }
    guard maxMoves <= maxDimension else { throw .invalid("max_moves", "must be at most \(maxDimension), got \(maxMoves)") }
    let policy = MovePolicy(cost: cost, maxMoves: maxMoves < 0 ? nil : Int(maxMoves))
    if policy.isActive && !hasCurrent {
        throw .invalid("current", "is NULL: move_cost and max_moves need the deployed placement")
    }
    return policy
}

/// Writes `phy2log`, `logcnt` and `log2phy` of a plan into the caller's buffers.
package func export(_ plan: Placement, phy2log: UnsafeMutablePointer<Int64>, logcnt: UnsafeMutablePointer<Int64>?,
                    log2phy: UnsafeMutablePointer<Int64>?, width: Int) {
    let p = plan.slotsPerLayer, e = plan.experts
    for i in 0..<plan.physicalToLogical.count { phy2log[i] = Int64(plan.physicalToLogical[i]) }
    if let logcnt {
        for i in 0..<plan.layers * e { logcnt[i] = 0 }
        for l in 0..<plan.layers {
            for s in 0..<p { logcnt[l * e + Int(plan.physicalToLogical[l * p + s])] += 1 }
        }
    }
    if let log2phy {
        var filled = [Int](repeating: 0, count: e)
        for l in 0..<plan.layers {
            let base = l * e * width
            for i in 0..<e * width { log2phy[base + i] = -1 }
            for k in 0..<e { filled[k] = 0 }
            for s in 0..<p {
                let x = Int(plan.physicalToLogical[l * p + s])
                log2phy[base + x * width + filled[x]] = Int64(s)
                filled[x] += 1
            }
        }
    }
}

/// Solves with the named method (a generic call per method: no existential in the hot path).
package func solve(_ problem: Problem, method: CMethod, options: SolveOptions,
                   dropBudget: Double? = nil) throws(ExpertPlacementError) -> SolveReport {
    // With a drop budget, the method's plan refined on the capped objective (`eplb solve --drop-budget`).
    func run<Solver: LayerSolver>(_ solver: Solver) throws(ExpertPlacementError) -> SolveReport {
        guard let f = dropBudget else { return try solver.solve(problem, options: options) }
        return try DropAwareSolver(base: solver, budget: f).solve(problem, options: options)
    }
    switch method {
    case .search: return try run(SearchSolver())
    case .greedy: return try run(GreedySolver())
    case .hierarchical: return try run(HierarchicalSolver())
    }
}

/// `drop_budget`: NaN or 0 means none; otherwise a fraction in (0, 1).
func dropBudgetArgument(_ value: Double) throws(CError) -> Double? {
    if value.isNaN || value == 0 { return nil }
    do throws(ExpertPlacementError) {
        try DropAwareSolver<GreedySolver>.check(budget: value)
    } catch {
        throw .invalid("drop_budget", "\(error.reason) (NaN or 0: no drop budget)")
    }
    return value
}

/// Rebalances with the named method (a generic call per method), through `memory`'s regime
/// memory when one is given.
package func rebalance(_ problem: Problem, recorded: [Double?]?, method: CMethod, options: RebalanceOptions,
                       remembering memory: RegimeMemoryHandle? = nil) throws(ExpertPlacementError) -> RebalancePlan {
    func run<Solver: LayerSolver>(_ solver: Solver) throws(ExpertPlacementError) -> RebalancePlan {
        guard let memory else { return try Rebalancer.plan(problem, recordedImbalance: recorded, solver: solver, options: options) }
        // With a measured payback horizon the call's move cost is the estimate's price.
        return try PaybackEstimate.priced(&memory.payback, window: problem, options: options) {
            (options: RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan in
            try Rebalancer.plan(problem, remembering: &memory.memory, recordedImbalance: recorded, solver: solver,
                                options: options)
        }
    }
    switch method {
    case .search: return try run(SearchSolver())
    case .greedy: return try run(GreedySolver())
    case .hierarchical: return try run(HierarchicalSolver())
    }
}

/// Runs `body` and writes its wall time in seconds to `seconds` (when not NULL).
package func timed(_ seconds: UnsafeMutablePointer<Double>?, _ body: () -> Int32) -> Int32 {
    let clock = ContinuousClock()
    let start = clock.now
    let code = body()
    let elapsed = clock.now - start
    seconds?.pointee = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return code
}

// MARK: - Exported functions

@_cdecl("ep_abi_version")
public func ep_abi_version() -> Int32 { 1 }

/// The version string, kept alive for the life of the process.
nonisolated(unsafe) let versionCString: UnsafeMutablePointer<CChar> = {
    let bytes = Array(ExpertPlacementVersion.string.utf8CString)
    let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    pointer.initialize(from: bytes, count: bytes.count)
    return pointer
}()

@_cdecl("ep_version")
public func ep_version() -> UnsafePointer<CChar> { UnsafePointer(versionCString) }

@_cdecl("ep_solve")
public func ep_solve(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                     _ episodesFirst: Int32,
                     _ devices: Int64, _ slotsPerDevice: Int64, _ nodes: Int64, _ groups: Int64,
                     _ method: UnsafePointer<CChar>?, _ objectiveName: UnsafePointer<CChar>?,
                     _ timeLimitSeconds: Double, _ threads: Int32,
                     _ current: UnsafePointer<Int64>?, _ moveCost: Double, _ maxMoves: Int64,
                     _ phy2log: UnsafeMutablePointer<Int64>?, _ logcnt: UnsafeMutablePointer<Int64>?,
                     _ log2phy: UnsafeMutablePointer<Int64>?, _ log2phyWidth: Int64,
                     _ layerStats: UnsafeMutablePointer<Double>?, _ wallSeconds: UnsafeMutablePointer<Double>?,
                     _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    ep_solve_ex(loads, layers, episodes, experts, episodesFirst, devices, slotsPerDevice, nodes, groups,
                method, objectiveName, timeLimitSeconds, threads, current, moveCost, maxMoves, .nan,
                phy2log, logcnt, log2phy, log2phyWidth, layerStats, nil, nil, wallSeconds, message, messageCapacity)
}

/// The code of a layer's bound source in `ep_solve_ex`'s `bound_source` (0: no bound).
func boundSourceCode(_ source: BoundSource?) -> Int32 {
    switch source {
    case nil: 0
    case .allotment: 1
    case .optimum: 2
    case .exactSearch: 3
    }
}

@_cdecl("ep_solve_ex")
public func ep_solve_ex(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                        _ episodesFirst: Int32,
                        _ devices: Int64, _ slotsPerDevice: Int64, _ nodes: Int64, _ groups: Int64,
                        _ method: UnsafePointer<CChar>?, _ objectiveName: UnsafePointer<CChar>?,
                        _ timeLimitSeconds: Double, _ threads: Int32,
                        _ current: UnsafePointer<Int64>?, _ moveCost: Double, _ maxMoves: Int64,
                        _ dropBudget: Double,
                        _ phy2log: UnsafeMutablePointer<Int64>?, _ logcnt: UnsafeMutablePointer<Int64>?,
                        _ log2phy: UnsafeMutablePointer<Int64>?, _ log2phyWidth: Int64,
                        _ layerStats: UnsafeMutablePointer<Double>?, _ boundSource: UnsafeMutablePointer<Int32>?,
                        _ cappedImbalance: UnsafeMutablePointer<Double>?,
                        _ wallSeconds: UnsafeMutablePointer<Double>?,
                        _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    timed(wallSeconds) {
        guarded(message, messageCapacity) { () throws(CError) in
            let shape = try Shape(layers: layers, episodes: episodes, experts: experts, devices: devices,
                                  slotsPerDevice: slotsPerDevice, nodes: nodes, groups: groups)
            guard let phy2log else { throw .invalid("phy2log", "is NULL") }
            let width = log2phy == nil ? 0 : try dimension(log2phyWidth, "log2phy_width")
            if log2phy != nil {
                do throws(ExpertPlacementError) {
                    try Limits.checkCells([shape.layers, shape.experts, width], what: "layers × experts × log2phy_width", field: "log2phy_width")
                } catch {
                    throw CError(error)
                }
            }
            let m = try CMethod(method)
            let objective = try objective(objectiveName)
            let tensor = try loadTensor(loads, shape, episodesFirst: episodesFirst)
            let deployed = try current.map { (c: UnsafePointer<Int64>) throws(CError) -> Placement in
                try placement(c, "current", layers: shape.layers, experts: shape.experts, topology: shape.topology)
            }
            let options = SolveOptions(objective: objective, timeLimit: try timeLimit(timeLimitSeconds),
                                       maxThreads: try threadCap(threads),
                                       moves: try movePolicy(cost: moveCost, maxMoves: maxMoves, hasCurrent: current != nil))
            let budget = try dropBudgetArgument(dropBudget)
            let report: SolveReport
            var metrics: PlacementMetrics
            do throws(ExpertPlacementError) {
                let problem = try Problem(topology: shape.topology, loads: tensor, current: deployed)
                report = try solve(problem, method: m, options: options, dropBudget: budget)
                metrics = try Metrics.evaluate(report.placement, on: problem, objective: objective, lowerBounds: report.lowerBounds)
                if let budget {
                    DropObjective.annotate(&metrics, of: report.placement, on: problem, objective: objective, budget: budget)
                }
            } catch {
                throw CError(error)
            }
            let plan = report.placement
            if log2phy != nil, let most = (0..<shape.layers).lazy.map({ plan.replicaCounts(layer: $0).max() ?? 0 }).max(),
               most > width {
                throw .invalid("log2phy_width", "is \(width) but an expert has \(most) replicas (P − E + 1 = \(shape.slots - shape.experts + 1) is always enough)")
            }
            export(plan, phy2log: phy2log, logcnt: logcnt, log2phy: log2phy, width: width)
            if let layerStats {
                for (l, m) in metrics.layers.enumerated() {
                    layerStats[3 * l] = m.value(of: objective)
                    layerStats[3 * l + 1] = m.lowerBound ?? .nan
                    layerStats[3 * l + 2] = Double(m.moves ?? 0)
                }
            }
            if let boundSource {
                for l in 0..<shape.layers {
                    boundSource[l] = boundSourceCode(report.boundSources?[l])
                }
            }
            if let cappedImbalance {
                for (l, m) in metrics.layers.enumerated() { cappedImbalance[l] = m.cappedImbalance ?? .nan }
            }
        }
    }
}

/// The checked arguments of `ep_rebalance` (and of the superset's `ep_rebalance_planned`, which
/// takes the same ones plus a planning strategy), and the writing of its outputs.
package struct RebalanceCall {
    /// The shape and topology.
    package var shape: Shape
    /// The window with the deployed plan as its `current`.
    package var problem: Problem
    /// The method that re-places the selected layers.
    package var method: CMethod
    /// Each layer's recorded value (`nil`: unknown), or `nil` for all unknown.
    package var recorded: [Double?]?
    /// The rules, moves, objective, time limit and thread cap.
    package var options: RebalanceOptions

    /// Checks every argument of `ep_rebalance` but the outputs (see `expert_placement.h`).
    package init(loads: UnsafePointer<Double>?, layers: Int64, episodes: Int64, experts: Int64, episodesFirst: Int32,
                 devices: Int64, slotsPerDevice: Int64, nodes: Int64, groups: Int64,
                 method: UnsafePointer<CChar>?, objective objectiveName: UnsafePointer<CChar>?,
                 timeLimitSeconds: Double, threads: Int32,
                 current: UnsafePointer<Int64>?, moveCost: Double, maxMoves: Int64,
                 recorded: UnsafePointer<Double>?, threshold: Double, relativeThreshold: Double,
                 minGain: Double, maxLayers: Int64) throws(CError) {
        shape = try Shape(layers: layers, episodes: episodes, experts: experts, devices: devices,
                          slotsPerDevice: slotsPerDevice, nodes: nodes, groups: groups)
        let deployed = try placement(try required(current, "current"), "current", layers: shape.layers,
                                     experts: shape.experts, topology: shape.topology)
        self.method = try CMethod(method)
        let objective = try ExpertPlacementC.objective(objectiveName)
        let tensor = try loadTensor(loads, shape, episodesFirst: episodesFirst)
        if let recorded {
            self.recorded = try (0..<shape.layers).map { (l: Int) throws(CError) -> Double? in
                let v = recorded[l]
                if v.isNaN { return nil }
                guard v.isFinite && v >= 0 else { throw .invalid("recorded[\(l)]", "must be NaN (unknown) or a finite number ≥ 0, got \(v)") }
                return v
            }
        }
        guard maxLayers <= maxDimension else { throw .invalid("max_layers", "must be at most \(maxDimension), got \(maxLayers)") }
        options = RebalanceOptions(
            objective: objective, threshold: threshold.isNaN ? nil : threshold,
            relativeThreshold: relativeThreshold.isNaN ? nil : relativeThreshold,
            minGain: minGain.isNaN ? nil : minGain, maxLayers: maxLayers < 0 ? nil : Int(maxLayers),
            moves: try movePolicy(cost: moveCost, maxMoves: maxMoves, hasCurrent: true),
            timeLimit: try timeLimit(timeLimitSeconds), maxThreads: try threadCap(threads))
        do throws(ExpertPlacementError) {
            problem = try Problem(topology: shape.topology, loads: tensor, current: deployed)
        } catch {
            throw CError(error)
        }
    }

    /// Rebalances `planned` (``problem`` itself, or the problem a planning strategy made of it:
    /// the layers are selected, re-placed and scored on it, as `eplb rebalance --strategy` does),
    /// through `memory`'s regime memory when one is given.
    package func plan(on planned: Problem, remembering memory: RegimeMemoryHandle? = nil) throws(CError) -> RebalancePlan {
        do throws(ExpertPlacementError) {
            return try rebalance(planned, recorded: recorded, method: method, options: options, remembering: memory)
        } catch {
            throw CError(error)
        }
    }

    /// Writes `plan` into the caller's buffers (any may be NULL).
    package func write(_ plan: RebalancePlan, phy2log: UnsafeMutablePointer<Int64>, priority: UnsafeMutablePointer<Int64>?,
                       moves: UnsafeMutablePointer<Int64>?, before: UnsafeMutablePointer<Double>?,
                       after: UnsafeMutablePointer<Double>?, recordedOut: UnsafeMutablePointer<Double>?) {
        export(plan.placement, phy2log: phy2log, logcnt: nil, log2phy: nil, width: 0)
        if let priority {
            for l in 0..<shape.layers { priority[l] = l < plan.priority.count ? Int64(plan.priority[l]) : -1 }
        }
        for (l, change) in plan.layers.enumerated() {
            moves?[l] = Int64(change.moves)
            before?[l] = change.before.value(of: options.objective)
            after?[l] = change.after.value(of: options.objective)
            recordedOut?[l] = plan.recordedImbalance[l]
        }
    }
}

@_cdecl("ep_rebalance")
public func ep_rebalance(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                         _ episodesFirst: Int32,
                         _ devices: Int64, _ slotsPerDevice: Int64, _ nodes: Int64, _ groups: Int64,
                         _ method: UnsafePointer<CChar>?, _ objectiveName: UnsafePointer<CChar>?,
                         _ timeLimitSeconds: Double, _ threads: Int32,
                         _ current: UnsafePointer<Int64>?, _ moveCost: Double, _ maxMoves: Int64,
                         _ recorded: UnsafePointer<Double>?, _ threshold: Double, _ relativeThreshold: Double,
                         _ minGain: Double, _ maxLayers: Int64,
                         _ phy2log: UnsafeMutablePointer<Int64>?, _ priority: UnsafeMutablePointer<Int64>?,
                         _ moves: UnsafeMutablePointer<Int64>?,
                         _ before: UnsafeMutablePointer<Double>?, _ after: UnsafeMutablePointer<Double>?,
                         _ recordedOut: UnsafeMutablePointer<Double>?, _ wallSeconds: UnsafeMutablePointer<Double>?,
                         _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    ep_rebalance_ex(loads, layers, episodes, experts, episodesFirst, devices, slotsPerDevice, nodes, groups,
                    method, objectiveName, timeLimitSeconds, threads, current, moveCost, maxMoves,
                    recorded, threshold, relativeThreshold, minGain, maxLayers, nil,
                    phy2log, priority, moves, before, after, recordedOut, nil, wallSeconds, message, messageCapacity)
}

/// A ``RegimeMemory`` held for a C caller: what `ep_regime_memory *` points to.
package final class RegimeMemoryHandle {
    var memory: RegimeMemory
    /// The measured move price (`ep_regime_memory_set_payback`), if set.
    var payback: PaybackEstimate? = nil
    init(windows: Int) { memory = RegimeMemory(windows: windows) }
}

/// Most windows a C caller's memory may keep (`8·L·E` values each).
let maxMemoryWindows: Int64 = 4_096

@_cdecl("ep_regime_memory_create")
public func ep_regime_memory_create(_ windows: Int64, _ memory: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                    _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    guarded(message, messageCapacity) { () throws(CError) in
        guard let memory else { throw .invalid("memory", "is NULL") }
        memory.pointee = nil
        guard windows >= 2 && windows <= maxMemoryWindows else {
            throw .invalid("windows", "must be 2 to \(maxMemoryWindows), got \(windows) (to rebalance without a memory, pass NULL)")
        }
        memory.pointee = Unmanaged.passRetained(RegimeMemoryHandle(windows: Int(windows))).toOpaque()
    }
}

@_cdecl("ep_regime_memory_set_payback")
public func ep_regime_memory_set_payback(_ memory: UnsafeMutableRawPointer?, _ unitPrice: Double,
                                         _ minIntervals: Double, _ maxIntervals: Double,
                                         _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    guarded(message, messageCapacity) { () throws(CError) in
        guard let memory else { throw .invalid("memory", "is NULL") }
        guard unitPrice.isFinite && unitPrice >= 0 else {
            throw .invalid("unit_price", "must be a finite number ≥ 0, got \(unitPrice)")
        }
        guard minIntervals.isFinite && maxIntervals.isFinite && minIntervals >= 1 && maxIntervals >= minIntervals else {
            throw .invalid("min_intervals", "and max_intervals must satisfy 1 ≤ min ≤ max < ∞, got \(minIntervals) and \(maxIntervals)")
        }
        Unmanaged<RegimeMemoryHandle>.fromOpaque(memory).takeUnretainedValue().payback =
            PaybackEstimate(unitPrice: unitPrice, range: minIntervals...maxIntervals)
    }
}

@_cdecl("ep_regime_memory_payback")
public func ep_regime_memory_payback(_ memory: UnsafeMutableRawPointer?, _ intervals: UnsafeMutablePointer<Double>?,
                                     _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    guarded(message, messageCapacity) { () throws(CError) in
        guard let memory else { throw .invalid("memory", "is NULL") }
        guard let intervals else { throw .invalid("intervals", "is NULL") }
        intervals.pointee = Unmanaged<RegimeMemoryHandle>.fromOpaque(memory).takeUnretainedValue().payback?.history.last ?? .nan
    }
}

@_cdecl("ep_regime_memory_free")
public func ep_regime_memory_free(_ memory: UnsafeMutableRawPointer?) {
    guard let memory else { return }
    Unmanaged<RegimeMemoryHandle>.fromOpaque(memory).release()
}

@_cdecl("ep_rebalance_ex")
public func ep_rebalance_ex(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                            _ episodesFirst: Int32,
                            _ devices: Int64, _ slotsPerDevice: Int64, _ nodes: Int64, _ groups: Int64,
                            _ method: UnsafePointer<CChar>?, _ objectiveName: UnsafePointer<CChar>?,
                            _ timeLimitSeconds: Double, _ threads: Int32,
                            _ current: UnsafePointer<Int64>?, _ moveCost: Double, _ maxMoves: Int64,
                            _ recorded: UnsafePointer<Double>?, _ threshold: Double, _ relativeThreshold: Double,
                            _ minGain: Double, _ maxLayers: Int64, _ memory: UnsafeMutableRawPointer?,
                            _ phy2log: UnsafeMutablePointer<Int64>?, _ priority: UnsafeMutablePointer<Int64>?,
                            _ moves: UnsafeMutablePointer<Int64>?,
                            _ before: UnsafeMutablePointer<Double>?, _ after: UnsafeMutablePointer<Double>?,
                            _ recordedOut: UnsafeMutablePointer<Double>?, _ plannedOn: UnsafeMutablePointer<Int32>?,
                            _ wallSeconds: UnsafeMutablePointer<Double>?,
                            _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    timed(wallSeconds) {
        guarded(message, messageCapacity) { () throws(CError) in
            let call = try RebalanceCall(
                loads: loads, layers: layers, episodes: episodes, experts: experts, episodesFirst: episodesFirst,
                devices: devices, slotsPerDevice: slotsPerDevice, nodes: nodes, groups: groups,
                method: method, objective: objectiveName, timeLimitSeconds: timeLimitSeconds, threads: threads,
                current: current, moveCost: moveCost, maxMoves: maxMoves, recorded: recorded, threshold: threshold,
                relativeThreshold: relativeThreshold, minGain: minGain, maxLayers: maxLayers)
            guard let phy2log else { throw .invalid("phy2log", "is NULL") }
            // With a memory: its step with this call's rules. When a plan fails, the window stays
            // remembered and the next call has no previous plans to score.
            let handle = memory.map { Unmanaged<RegimeMemoryHandle>.fromOpaque($0).takeUnretainedValue() }
            let plan = try call.plan(on: call.problem, remembering: handle)
            call.write(plan, phy2log: phy2log, priority: priority, moves: moves,
                       before: before, after: after, recordedOut: recordedOut)
            plannedOn?.pointee = plan.plannedOn == .memory ? 1 : 0
        }
    }
}

@_cdecl("ep_evaluate")
public func ep_evaluate(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                        _ episodesFirst: Int32, _ devices: Int64, _ slotsPerDevice: Int64,
                        _ phy2log: UnsafePointer<Int64>?, _ metrics: UnsafeMutablePointer<Double>?,
                        _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    guarded(message, messageCapacity) { () throws(CError) in
        let shape = try Shape(layers: layers, episodes: episodes, experts: experts, devices: devices,
                              slotsPerDevice: slotsPerDevice)
        guard let metrics else { throw .invalid("metrics", "is NULL") }
        let plan = try placement(try required(phy2log, "phy2log"), "phy2log", layers: shape.layers,
                                 experts: shape.experts, topology: shape.topology)
        let tensor = try loadTensor(loads, shape, episodesFirst: episodesFirst)
        let result: PlacementMetrics
        do throws(ExpertPlacementError) {
            result = try Metrics.evaluate(plan, on: try Problem(topology: shape.topology, loads: tensor))
        } catch {
            throw CError(error)
        }
        for (l, m) in result.layers.enumerated() {
            metrics[4 * l] = m.meanImbalance
            metrics[4 * l + 1] = m.worstImbalance
            metrics[4 * l + 2] = m.aggregateImbalance
            metrics[4 * l + 3] = m.peakSum
        }
    }
}

@_cdecl("ep_validate")
public func ep_validate(_ phy2log: UnsafePointer<Int64>?, _ layers: Int64, _ experts: Int64,
                        _ devices: Int64, _ slotsPerDevice: Int64, _ current: UnsafePointer<Int64>?,
                        _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    guarded(message, messageCapacity) { () throws(CError) in
        let shape = try Shape(layers: layers, episodes: 1, experts: experts, devices: devices, slotsPerDevice: slotsPerDevice)
        // Ids out of range are a broken rule here, reported by the validator, not a bad argument.
        let source = try required(phy2log, "phy2log")
        // An id the core's Int32 cannot hold is out of range too: reported with its own value.
        if let i = (0..<shape.layers * shape.slots).first(where: { Int32(exactly: source[$0]) == nil }) {
            throw CError(code: CError.invalidPlacement,
                         message: "layer \(i / shape.slots), device \(i % shape.slots / shape.topology.slotsPerDevice): slot \(i % shape.slots) holds expert id \(source[i]), out of range 0..<\(shape.experts)")
        }
        let ids = ContiguousArray((0..<shape.layers * shape.slots).map { Int32(source[$0]) })
        let plan: Placement
        do throws(ExpertPlacementError) {
            plan = try Placement(topology: shape.topology, experts: shape.experts, physicalToLogical: ids)
        } catch {
            throw CError(error)
        }
        let broken: [Violation]
        if let current {
            let deployed = try placement(current, "current", layers: shape.layers, experts: shape.experts, topology: shape.topology)
            broken = Validation.changeViolations(of: plan, from: deployed, limit: 1)
        } else {
            broken = Validation.violations(of: plan, limit: 1)
        }
        if let first = broken.first { throw CError(code: CError.invalidPlacement, message: first.description) }
    }
}
