import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import LoadForecasting
import Foundation

/// `eplb simulate`: online rebalancing over a per-iteration trace (INTERFACE.md §4).
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a per-iteration load trace against rebalancing policies and compare them.",
        discussion: """
        The trace's episodes are serving iterations, [L][N][E]. Starting from the deployed \
        placement (--current FILE, else the trace's "current", else the plain map phy2log[p] = p mod E), \
        every --interval iterations (first once --window iterations have been seen) each policy is \
        called on the last --window iterations. Its wall time is charged as serving iterations \
        (⌈time / --iteration-seconds⌉, or --delay-iterations N) during which the old placement stays \
        in force; then the changed layers take effect --layers-per-iteration at a time, in the \
        policy's priority order. Policies run one after another on the same trace.

        Per policy: mean per-iteration PAR (per iteration, the mean over layers of peak ÷ average \
        device load; also p50/p99/max), moves (slots whose expert changed), rebalances, layers \
        changed, policy time and the modelled cost \
        compute-seconds × meanPAR + moves × expert-bytes ÷ bandwidth.

        Policies:
          none       never rebalance (the deployed placement throughout)
          greedy     DeepSeek EPLB / vLLM / SGLang: greedy on the window's
                     summed load, deployed as it is
          search     a full re-solve of the window's iterations with the search
                     solver, relabelled onto the deployed devices; layers
                     applied by decreasing gain
          rebalance  eplb rebalance: cherry-picked layers (--threshold,
                     --relative-threshold, --min-gain, --max-layers), moves
                     traded against balance at --move-cost λ (default: the
                     price at which a move pays for itself under the cost
                     model within as many intervals as the last plan's gain
                     lasted, measured at every call: --payback-intervals)
                     and/or --max-moves N
          rebalance-forecast
                     the rebalance policy planning for the loads to come
                     (--strategy, as eplb rebalance --strategy)
          oracle     a reference, not a policy an engine can run: the
                     rebalance policy planning on the next --window iterations
                     (the future) at the same call points, its time not
                     charged; what is left between rebalance and oracle is
                     what the workload's changes between calls cost

        Output: JSON (sorted keys) by default; a table with --format table (the default when \
        standard output is a terminal). Use --delay-iterations and --omit-timing for byte-equal output.

        Examples:
          eplb generate lognormal --layers 4 --episodes 256 --experts 64 \\
              --devices 8 --slots-per-device 9 --output t.json
          eplb simulate t.json --window 64 --interval 64 \\
              --policy none,greedy,search --format table
          eplb simulate trace.npy --axes tle --devices 32 --slots-per-device 9 \\
              --window 1024 --interval 1024 --policy greedy,rebalance
          eplb simulate trace.json --current plan.json --window 128 --interval 64 \\
              --layers-per-iteration 4
        """
    )

    @OptionGroup var input: InstanceOptions

    @Option(help: ArgumentHelp("The deployed placement (v1 placement file) the trace starts from; default: the trace's current, else phy2log[p] = p mod E.",
                               valueName: "file"))
    var current: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Iterations each policy call sees, W.", valueName: "W"))
    var window: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Iterations between policy calls, I.", valueName: "I"))
    var interval: Int

    @Option(name: .customLong("policy"), help: ArgumentHelp(
        "Policies to compare, comma-separated or repeated: \(PolicyChoice.allCases.map(\.rawValue).joined(separator: ", ")). Default: none, greedy, search, rebalance.",
        valueName: "names"))
    var policyLists: [String] = []

    @Option(name: .customLong("layers-per-iteration"), parsing: .unconditional, help: ArgumentHelp("Changed layers that take effect per iteration.", valueName: "k"))
    var layersPerIteration = 1

    @Option(name: .customLong("iteration-seconds"), parsing: .unconditional, help: ArgumentHelp("Seconds of one serving iteration: a policy call taking w seconds delays its plan by ⌈w / s⌉ iterations (default 0.05).", valueName: "s"))
    var iterationSeconds: Double?

    @Option(name: .customLong("delay-iterations"), parsing: .unconditional, help: ArgumentHelp("Charge N iterations per policy call instead of its measured time (reproducible runs; not with --iteration-seconds).", valueName: "N"))
    var delayIterations: Int?

    @Option(name: .customLong("compute-seconds"), parsing: .unconditional, help: ArgumentHelp("Seconds the trace takes at perfect balance (PAR 1), for the modelled cost.", valueName: "c"))
    var computeSeconds = 60.0

    @Option(name: .customLong("expert-bytes"), parsing: .unconditional, help: ArgumentHelp("Bytes moved per slot change (default: one DeepSeek-V3 FP8 expert).", valueName: "B"))
    var expertBytes = 88_080_384.0

    @Option(parsing: .unconditional, help: ArgumentHelp("Bytes per second of the link that moves experts.", valueName: "BW"))
    var bandwidth = 900e9

    @OptionGroup(title: "The rebalance policy (moves)")
    var moves: MoveOptions

    @OptionGroup(title: "The rebalance policy's rules (as eplb rebalance)") var rules: CherryPickOptions

    @OptionGroup(title: "The rebalance-forecast policy")
    var planning: RebalancePlanningOptions

    @Option(name: .customLong("recency-half-life"), parsing: .unconditional, help: ArgumentHelp("rebalance: weigh the window's iterations by 2^(−age/h), the newest at 1.", valueName: "h"))
    var recencyHalfLife: Double?

    @Option(name: .customLong("payback-intervals"), help: ArgumentHelp(
        "rebalance: the move cost is the price at which a move pays for itself within K intervals under the cost model; auto (the default without --move-cost and --max-moves) measures K at every call from how much of the last plan's gain survived into the next window (within 2…8, 2 until measured); a number fixes it. Not with --move-cost or --max-moves.",
        valueName: "K|auto"))
    var paybackIntervals: String?

    /// `--payback-intervals auto`, or neither it nor a move cost or cap given: the horizon
    /// measured at every call.
    var measuresPayback: Bool { paybackIntervals == "auto" || (paybackIntervals == nil && !moves.isGiven) }

    /// `--payback-intervals K`'s `K` (``validate()`` refused anything but a number or `auto`).
    var fixedPaybackIntervals: Double? { paybackIntervals.flatMap(Double.init) }

    /// `--iteration-seconds`, 0.05 when not given.
    var secondsPerIteration: Double { iterationSeconds ?? 0.05 }

    @Option(name: .customLong("regime-memory"), parsing: .unconditional, help: ArgumentHelp("rebalance: windows remembered; at each call a second plan is made on all of them (the newest weighing half) and deployed when the previous calls' plans show it serves better (workloads whose regimes return). 0 turns it off; otherwise at least 2.", valueName: "N"))
    var regimeMemory = 8

    @Option(help: ArgumentHelp("Write the report to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    @Option(help: "Output format: json or table. Default: table on a terminal, json otherwise.")
    var format: OutputFormat?

    @Flag(name: .customLong("omit-timing"), help: "Leave policy wall times out of the output.")
    var omitTiming = false

    /// The policies asked for, in order (default: all).
    var policies: [PolicyChoice] {
        let names = policyLists.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        return names.isEmpty ? PolicyChoice.defaults : names.compactMap(PolicyChoice.init(rawValue:))
    }

    func validate() throws {
        let names = policyLists.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        for name in names where PolicyChoice(rawValue: name) == nil {
            throw ValidationError("--policy: unknown policy '\(name)'; choose from \(PolicyChoice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if Set(names).count != names.count { throw ValidationError("--policy: a policy is listed twice") }
        if names.contains(PolicyChoice.rebalanceForecast.rawValue) && planning.strategy == "window" {
            throw ValidationError("--policy rebalance-forecast needs --strategy (forecast:MODEL, forecast+window:MODEL, hedged, last or auto): with window it is the rebalance policy")
        }
        for (flag, value) in [("--window", window), ("--interval", interval), ("--layers-per-iteration", layersPerIteration)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1, got \(value)")
        }
        if !names.contains(PolicyChoice.rebalanceForecast.rawValue) {
            let given = (planning.strategy != "window" ? ["--strategy"] : [])
                + (planning.horizonFlag != nil ? ["--horizon"] : []) + (planning.hedgeKFlag != nil ? ["--hedge-k"] : [])
                + planning.forecast.givenFlags
            if !given.isEmpty {
                throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") to the rebalance-forecast policy, which --policy does not list")
            }
        }
        if names.contains(PolicyChoice.rebalanceForecast.rawValue), let p = planning.parsed()?.autoregressiveOrder, window <= p {
            throw ValidationError("--order: " + PlanningStrategy.autoregressionTooShort(order: p, window: window, unit: "iterations"))
        }
        if delayIterations != nil && iterationSeconds != nil {
            throw ValidationError("--delay-iterations replaces the measured policy time that --iteration-seconds converts: give one of them")
        }
        if let delayIterations, delayIterations < 0 {
            throw ValidationError("--delay-iterations must be 0 or more, got \(delayIterations)")
        }
        for (flag, value) in [("--iteration-seconds", secondsPerIteration), ("--compute-seconds", computeSeconds),
                              ("--expert-bytes", expertBytes), ("--bandwidth", bandwidth)] where !(value > 0 && value.isFinite) {
            throw ValidationError("\(flag) must be a positive number, got \(value)")
        }
        if let h = recencyHalfLife, !(h > 0 && h.isFinite) {
            throw ValidationError("--recency-half-life must be a positive number of iterations, got \(h)")
        }
        if regimeMemory < 0 || regimeMemory == 1 {
            throw ValidationError("--regime-memory must be 0 (off) or at least 2, got \(regimeMemory)")
        }
        if let paybackIntervals {
            guard measuresPayback || fixedPaybackIntervals.map({ $0 >= 1 && $0.isFinite }) == true else {
                throw ValidationError("--payback-intervals must be auto or a number ≥ 1, got \(paybackIntervals)")
            }
            if moves.isGiven {
                throw ValidationError("--payback-intervals prices moves from the cost model: leave out --move-cost and --max-moves")
            }
        }
        try refuseOutput(output, over: [("the trace", input.instance), ("--current", current)])
        if current == "-" && input.instance == "-" {
            throw ValidationError("the trace and --current cannot both come from standard input")
        }
    }

    func run() throws {
        try reportingInputErrors {
            // --current is read first: its topology serves a trace that has none (a .npy), as in
            // rebalance; a bare {"phy2log": …} plan takes the flags' topology.
            let currentFile = current.map(InputSource.displayName)
            let overrides = input.topology.overrides
            let name: String, problem: Problem
            var start: Placement?
            var origin: String
            if let current, let currentFile {
                let served = try input.loadServed(by: current)
                (name, problem) = (served.name, served.problem)
                start = served.document.placement
                origin = currentFile
            } else {
                (name, problem) = try input.load(overrides: overrides)
                start = problem.current
                origin = start == nil ? "plain" : "instance"
            }
            let config = OnlineSimulator.Configuration(
                window: window, interval: interval, layersPerIteration: layersPerIteration,
                policyTime: delayIterations.map { .fixedIterations($0) } ?? .measured(iterationSeconds: secondsPerIteration),
                cost: .init(computeSeconds: computeSeconds, expertBytes: expertBytes, bandwidth: bandwidth))
            let simulator: OnlineSimulator
            do throws(ExpertPlacementError) {
                simulator = try OnlineSimulator(trace: problem.loads, topology: problem.topology, current: start,
                                                configuration: config)
            } catch {
                let traceFile = input.instance.map(InputSource.displayName) ?? name
                let file = error.field?.hasPrefix("current") == true ? (currentFile ?? traceFile) : traceFile
                if let field = error.field, field == "window" || field == "interval" {
                    throw InputError(file: file, field: "--\(field)", reason: error.reason)
                }
                // In a --current file the rows are its "phy2log" key.
                if currentFile != nil, let field = error.field, field.hasPrefix("current[") {
                    throw InputError(file: file, field: "phy2log" + field.dropFirst("current".count), reason: error.reason)
                }
                throw InputError(file: file, error)
            }
            if policies.contains(.rebalanceForecast) { planning.warnIfAutoCannotChoose(windowLength: window, unit: "iterations") }
            if problem.episodeWeights.contains(where: { $0 != 1 }) {
                printWarning("\(input.instance.map(InputSource.displayName) ?? name): episodeWeights: ignored: the simulation serves every iteration of the trace alike")
            }
            let showProgress = isatty(STDERR_FILENO) == 1
            var reports: [SimulationReport] = []
            var seconds: [Double] = []
            var finished: [any SimulationPolicy] = []
            let strategy = planning.parsed() ?? .window  // validate() refused names that do not parse
            for choice in policies {
                var policy = choice.makePolicy(rebalanceOptions: rebalanceOptions(simulator), recencyHalfLife: recencyHalfLife,
                                               regimeMemory: regimeMemory, payback: payback(simulator), planning: (strategy, planning.horizon, planning.forecast.shiftThreshold))
                let started = ContinuousClock.now
                reports.append(try simulator.run(&policy) { policy, i, n in
                    guard showProgress else { return }
                    let text = i < n ? "\r\u{1B}[Keplb simulate: \(policy) at iteration \(i) of \(n)" : "\r\u{1B}[K"
                    writeStandardError(text)
                })
                seconds.append((ContinuousClock.now - started).inSeconds)
                finished.append(policy)
            }
            let text: String
            switch format ?? (output == nil && isatty(STDOUT_FILENO) == 1 ? .table : .json) {
            case .json: text = try JSONWriter.string(json(reports, seconds: seconds, policies: finished, simulator: simulator,
                                                                   name: name, origin: origin))
            case .table: text = table(reports, simulator: simulator, name: name, origin: origin)
            }
            try OutputSink.write(text, to: output ?? "-")
        }
    }

    /// The `rebalance` policy's options: the flags given, the move cost priced from the cost model
    /// when neither --move-cost nor --max-moves is given.
    func rebalanceOptions(_ simulator: OnlineSimulator) -> RebalanceOptions {
        var moves = self.moves.policy
        if !self.moves.isGiven { moves.cost = price(simulator, paybackIntervals: fixedPaybackIntervals ?? 2) }
        return rules.options(objective: .meanImbalance, moves: moves)
    }

    /// The move cost at which a move pays for itself within `k` intervals under the cost model.
    func price(_ simulator: OnlineSimulator, paybackIntervals k: Double) -> Double {
        RebalancePolicy.priceOfMove(cost: simulator.configuration.cost, layers: simulator.trace.layers,
                                    iterations: simulator.iterations, interval: simulator.configuration.interval,
                                    paybackIntervals: k)
    }

    /// With `--payback-intervals auto`, the measured horizon (``PaybackEstimate``) priced from the cost model.
    func payback(_ simulator: OnlineSimulator) -> PaybackEstimate? {
        measuresPayback ? PaybackEstimate(unitPrice: price(simulator, paybackIntervals: 1)) : nil
    }

    /// `{"policies": [...], "settings": {...}, "trace": {...}}`; `seconds`: each policy's whole run.
    /// `policies`: each policy after its run, for what each call planned on
    /// (``RegimeMemory/choices``) and its payback horizon (``PaybackEstimate/history``).
    func json(_ reports: [SimulationReport], seconds: [Double], policies finished: [any SimulationPolicy],
              simulator: OnlineSimulator, name: String, origin: String) -> JSONValue {
        func number(_ x: Int) -> JSONValue { .number(Double(x)) }
        let policies: [JSONValue] = zip(reports, zip(seconds, finished)).map { r, extra in
            let (simulationSeconds, policy) = extra
            let choices = PolicyChoice.regimeMemoryChoices(of: policy), paybacks = PolicyChoice.paybackHorizons(of: policy)
            var o: JSONObject = [
                "name": .string(r.policy), "meanPAR": .number(r.meanPAR), "p50PAR": .number(r.p50PAR),
                "p99PAR": .number(r.p99PAR), "maxPAR": .number(r.maxPAR), "moves": number(r.moves),
                "rebalances": number(r.rebalances), "layersChanged": number(r.layersChanged),
                "delayIterations": number(r.delayIterations), "modelledCostSeconds": .number(r.modelledCostSeconds),
                "computeCostSeconds": .number(r.computeCostSeconds), "migrationCostSeconds": .number(r.migrationCostSeconds),
            ]
            if !omitTiming {
                o["policyWallSeconds"] = .number(r.policySeconds)
                o["simulationWallSeconds"] = .number(simulationSeconds)
            }
            o["calls"] = .array(r.calls.enumerated().map { i, c in
                var call: JSONObject = [
                    "iteration": number(c.iteration), "delayIterations": number(c.delayIterations),
                    "layersChanged": number(c.layersChanged), "layersApplied": number(c.layersApplied),
                    "moves": number(c.moves),
                ]
                if !omitTiming { call["wallSeconds"] = .number(c.wallSeconds) }
                if let choices, choices.count == r.calls.count { call["plannedOn"] = .string(choices[i].rawValue) }
                if let paybacks, paybacks.count == r.calls.count { call["paybackIntervals"] = .number(paybacks[i]) }
                return .object(call)
            })
            return .object(o)
        }
        let c = simulator.configuration
        var settings: JSONObject = [
            "window": number(c.window), "interval": number(c.interval), "layersPerIteration": number(c.layersPerIteration),
            "firstRebalanceIteration": number(c.firstRebalanceIteration),
            "computeSeconds": .number(c.cost.computeSeconds), "expertBytes": .number(c.cost.expertBytes),
            "bandwidth": .number(c.cost.bandwidth),
        ]
        switch c.policyTime {
        case .measured(let s): settings["iterationSeconds"] = .number(s)
        case .fixedIterations(let n): settings["delayIterations"] = number(n)
        }
        if reports.contains(where: { ["rebalance", "rebalance-forecast", "oracle"].contains($0.policy) }) {
            let options = rebalanceOptions(simulator)
            var r = JSONObject()
            if measuresPayback {
                r["paybackIntervals"] = .string("auto")
                r["unitMoveCost"] = .number(price(simulator, paybackIntervals: 1))
            } else {
                r["moveCost"] = .number(options.moves.cost)
                if let k = fixedPaybackIntervals { r["paybackIntervals"] = .number(k) }
            }
            if let cap = options.moves.maxMoves { r["maxMoves"] = number(cap) }
            if let x = options.threshold { r["threshold"] = .number(x) }
            if let x = options.relativeThreshold { r["relativeThreshold"] = .number(x) }
            if let x = options.minGain { r["minGain"] = .number(x) }
            if let x = options.maxLayers { r["maxLayers"] = number(x) }
            if let h = recencyHalfLife { r["recencyHalfLife"] = .number(h) }
            if reports.contains(where: { $0.policy == "rebalance" }) { r["regimeMemory"] = number(regimeMemory) }
            if reports.contains(where: { $0.policy == "rebalance-forecast" }) {
                planning.record(into: &r, chosen: planning.strategy)  // rebalance-forecast's strategy and horizon
            }
            settings["rebalance"] = .object(r)
        }
        let t = simulator.topology
        let trace: JSONObject = [
            "name": .string(name), "layers": number(simulator.trace.layers), "iterations": number(simulator.iterations),
            "experts": number(simulator.trace.experts), "topology": .object([
                "devices": number(t.devices), "slotsPerDevice": number(t.slotsPerDevice),
                "nodes": number(t.nodes), "expertGroups": number(t.expertGroups),
            ]),
            "current": .string(origin),
        ]
        return .object(["policies": .array(policies), "settings": .object(settings), "trace": .object(trace)])
    }

    /// One row per policy, for people.
    func table(_ reports: [SimulationReport], simulator: OnlineSimulator, name: String, origin: String) -> String {
        let c = simulator.configuration, t = simulator.topology
        let charge = switch c.policyTime {
        case .measured(let s): "policy time charged at \(s) s per iteration"
        case .fixedIterations(let n): "policy time charged as \(n) iteration(s) per call"
        }
        var out = "eplb simulate: \(TerminalText.sanitized(name))\n"
        out += "  \(simulator.trace.layers) layers × \(simulator.iterations) iterations × \(simulator.trace.experts) experts; "
        out += "\(t.devices) devices × \(t.slotsPerDevice) slots; starting from \(origin)\n"
        out += "  window \(c.window), interval \(c.interval) (first call at iteration \(c.firstRebalanceIteration)), "
        out += "\(c.layersPerIteration) layer(s) per iteration, \(charge)\n\n"
        var header = ["policy", "meanPAR", "p50", "p99", "max", "calls", "layers", "moves"]
        if !omitTiming { header.append("policy s") }
        header += ["delay it", "cost s"]
        let rows: [[String]] = reports.map { r in
            var row = [r.policy, TableReport.fixed(r.meanPAR, 4), TableReport.fixed(r.p50PAR, 4), TableReport.fixed(r.p99PAR, 4), TableReport.fixed(r.maxPAR, 4),
                       String(r.rebalances), String(r.layersChanged), String(r.moves)]
            if !omitTiming { row.append(TableReport.fixed(r.policySeconds, 3)) }
            return row + [String(r.delayIterations), TableReport.fixed(r.modelledCostSeconds, 3)]
        }
        out += TableReport.grid(header, rows)
        out += "(PAR: per iteration, the mean over layers of peak ÷ average device load; cost s = "
        out += "\(TableReport.fixed(c.cost.computeSeconds, 0)) s × meanPAR + moves × \(TableReport.fixed(c.cost.expertBytes, 0)) B ÷ \(String(format: "%g", c.cost.bandwidth)) B/s)\n"
        return out
    }
}

/// The policies `eplb simulate --policy` knows. A new policy is one case here plus its type.
enum PolicyChoice: String, CaseIterable {
    case none, greedy, search, rebalance
    case rebalanceForecast = "rebalance-forecast"
    case oracle

    /// The policies run when --policy is not given (rebalance-forecast and oracle only on request).
    static let defaults: [PolicyChoice] = [.none, .greedy, .search, .rebalance]

    /// A fresh instance of the policy; `rebalance` gets `rebalanceOptions`, `rebalance-forecast`
    /// also `planning` (strategy, horizon, shift threshold); `oracle` is `rebalance` seeing the future.
    func makePolicy(rebalanceOptions: RebalanceOptions, recencyHalfLife: Double?, regimeMemory: Int,
                    payback: PaybackEstimate? = nil, planning: (strategy: PlanningStrategy, horizon: Int, shiftThreshold: Double)) -> any SimulationPolicy {
        var rebalance = RebalancePolicy(options: rebalanceOptions)
        rebalance.recencyHalfLife = recencyHalfLife
        rebalance.regimeMemory.windows = regimeMemory
        rebalance.payback = payback
        switch self {
        case .none: return NoRebalancePolicy()
        case .greedy: return GreedyPolicy()
        case .search: return ResolvePolicy()
        case .rebalance: return rebalance
        case .rebalanceForecast:
            return ForecastRebalancePolicy(inner: rebalance, strategy: planning.strategy, horizon: planning.horizon,
                                           shiftThreshold: planning.shiftThreshold)
        case .oracle:
            // The future is known: nothing to hedge, and the memory's scores would be taken on
            // the interval after the one each plan served.
            rebalance.regimeMemory.windows = 0
            return OraclePolicy(inner: rebalance)
        }
    }

    /// Each call's payback horizon of a `rebalance` policy pricing moves by ``PaybackEstimate``, else `nil`.
    static func paybackHorizons(of policy: any SimulationPolicy) -> [Double]? {
        (policy as? RebalancePolicy)?.payback?.history
    }

    /// What each call of a `rebalance` policy planned on (``RegimeMemory/choices``), else `nil`.
    static func regimeMemoryChoices(of policy: any SimulationPolicy) -> [RegimeMemory.Choice]? {
        guard let rebalance = policy as? RebalancePolicy, rebalance.regimeMemory.isActive else { return nil }
        return rebalance.regimeMemory.choices
    }
}
