import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import LoadForecasting

/// `eplb backtest`: plan on the past, score on the future, strategies side by side.
struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Roll over a load trace: plan on [t − W, t), score on [t, t + H), compare planning strategies.",
        discussion: """
        At origins t = W, W + S, … (while t + H ≤ T) each strategy plans a placement with --method \
        from the window [t − W, t) only, relabelled onto its previous plan, and the plan is scored \
        with the instance's topology on the next H episodes, which no strategy sees.

        Strategies (--strategy, comma-separated or repeated):
          last              the last episode (what EPLB deployments plan on)
          window            the window's episodes as scenarios (multi-episode objective)
          hedged[:K]        one episode of μ + K·σ per expert (K default --hedge-k)
          forecast[:MODEL]  the forecast of the next H episodes as scenarios (MODEL default --model)
          forecast+window[:MODEL]  the forecast and the window, weighted equally
          auto              per origin, the candidate (--auto-candidates) with the lowest realised \
        mean imbalance over the last --auto-steps origins of a backtest on the history before t; \
        after a regime change (the shift detector fires in half the layers of the window) only \
        the origins whose window saw the new regime count, and with none yet, the first forecast \
        candidate with mean, trend or ar (their fits drop the old regime), else last

        Per strategy: realizedMeanImbalance (mean over steps of the mean over layers of per-episode \
        peak ÷ average device load), realizedWorstImbalance, moves between consecutive plans, \
        planning seconds, and with last in the run the ratio to last; per step the same plus the \
        strategy auto chose. Output: JSON (sorted keys) by default, a table with --format table \
        (the default on a terminal). Progress goes to standard error when it is a terminal.

        Examples:
          eplb backtest Examples/esft-deepseek-v2-lite_windows_4layers.json \\
              --devices 8 --slots-per-device 9 --window 4 --horizon 2 --format table
          eplb backtest trace.json --window 16 --horizon 4 \\
              --strategy last,window,hedged:1,forecast:ar,auto --method greedy
        """
    )

    @OptionGroup var input: InstanceOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Episodes each plan sees, W.", valueName: "W"))
    var window: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Episodes each plan is scored on (and forecast), H.", valueName: "H"))
    var horizon: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Episodes between origins, S (default H).", valueName: "S"))
    var step: Int?

    @Option(name: .customLong("strategy"), help: ArgumentHelp(
        "Strategies to compare, comma-separated or repeated (default: last,window,hedged,forecast,auto).", valueName: "names"))
    var strategyLists: [String] = []

    @Option(name: .customLong("auto-candidates"), help: ArgumentHelp(
        "Candidates of auto (default: the other strategies given, else last,window,hedged,forecast).", valueName: "names"))
    var autoCandidates: String?

    @Option(name: .customLong("auto-steps"), parsing: .unconditional, help: ArgumentHelp("Origins of auto's inner backtest.", valueName: "n"))
    var autoSteps = 3

    @Option(name: .customLong("hedge-k"), parsing: .unconditional, help: ArgumentHelp("K of a bare hedged.", valueName: "K"))
    var hedgeK = 1.0

    @OptionGroup(title: "Forecast model") var forecast: ForecastModelOptions

    @Option(help: "Method that plans: greedy (default; plans on the scenarios' summed load) or search (optimises the mean over scenarios).")
    var method: BacktestMethod = .greedy

    @Option(help: ArgumentHelp("Write the report to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    @Option(help: "Output format: json or table. Default: table on a terminal, json otherwise.")
    var format: OutputFormat?

    @Flag(name: .customLong("omit-timing"), help: "Leave planning wall times out of the output.")
    var omitTiming = false

    @Flag(help: ArgumentHelp(
        "Add the oracle, a reference and not a strategy: at each origin the method's plan on [t, t + H) itself, the future the strategies are scored on and never see.",
        discussion: "What the method gives when it knows the loads to come: a strategy's distance from it is what better forecasting could still win. It is never \"best\"."))
    var oracle = false

    enum BacktestMethod: String, ExpressibleByArgument, CaseIterable { case greedy, search }

    static let defaultStrategies = ["last", "window", "hedged", "forecast", "auto"]

    static func names(_ lists: [String]) -> [String] {
        lists.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    func parse(_ name: String, candidates: [PlanningStrategy]) -> PlanningStrategy? {
        PlanningStrategy(name: name, defaultK: hedgeK, defaultModel: forecast.forecastModel,
                         parameters: forecast.parameters, autoCandidates: candidates)
    }

    /// The strategies asked for, in order, with auto's candidates resolved.
    var strategies: [PlanningStrategy] {
        let names = Self.names(strategyLists).isEmpty ? Self.defaultStrategies : Self.names(strategyLists)
        let candidateNames = autoCandidates.map { Self.names([$0]) }
            ?? names.filter { $0 != "auto" }.nilIfEmpty ?? PlanningStrategy.defaultAutoCandidateNames
        let candidates = candidateNames.compactMap { parse($0, candidates: []) }
        return names.compactMap { parse($0, candidates: candidates) }
    }

    func validate() throws {
        try refuseOutput(output, over: [("the trace", input.instance)])
        let names = Self.names(strategyLists)
        for name in names + (autoCandidates.map { Self.names([$0]) } ?? []) where parse(name, candidates: []) == nil {
            throw ValidationError("--strategy: unknown strategy '\(name)'; use last, window, hedged[:K], forecast[:MODEL], forecast+window[:MODEL] or auto (models: \(ForecastModel.names.joined(separator: ", ")))")
        }
        // Two spellings of one strategy (hedged and hedged:1, forecast and forecast:mean) are the
        // same strategy under the same name in the report.
        var seen: [String: String] = [:]
        for name in names {
            guard let canonical = parse(name, candidates: [])?.name else { continue }
            if let first = seen[canonical] {
                throw ValidationError("--strategy: \(first == name ? "'\(name)' is listed twice" : "'\(first)' and '\(name)' are the same strategy (\(canonical))")")
            }
            seen[canonical] = name
        }
        if let autoCandidates {
            let candidates = Self.names([autoCandidates])
            if candidates.contains("auto") { throw ValidationError("--auto-candidates: auto cannot be its own candidate") }
            if !names.isEmpty && !names.contains("auto") {
                throw ValidationError("--auto-candidates applies to the auto strategy, which --strategy does not list")
            }
        }
        for (flag, value) in [("--window", window), ("--horizon", horizon), ("--auto-steps", autoSteps), ("--step", step ?? 1)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1, got \(value)")
        }
        if !hedgeK.isFinite { throw ValidationError("--hedge-k must be a finite number") }
        if let p = strategies.compactMap(\.autoregressiveOrder).max(), window <= p {
            throw ValidationError("--order: " + PlanningStrategy.autoregressionTooShort(order: p, window: window))
        }
    }

    func run() throws {
        try reportingInputErrors {
            let (name, problem) = try input.load()
            if problem.episodeWeights.contains(where: { $0 != 1 }) {
                printWarning("\(input.instance.map(InputSource.displayName) ?? name): episodeWeights: ignored: the backtest plans on and scores every episode of the trace alike")
            }
            let results: [BacktestResult]
            let origins: [Int]
            do throws(ExpertPlacementError) {
                switch method {
                case .greedy: (results, origins) = try run(solver: GreedySolver(), problem: problem)
                case .search: (results, origins) = try run(solver: SearchSolver(), problem: problem)
                }
            } catch {
                // Errors name the file (the instance's name is a label, kept for the report).
                throw InputError(file: input.instance.map(InputSource.displayName) ?? name, planning: error)
            }
            let text: String
            switch format ?? (output == nil && isatty(STDOUT_FILENO) == 1 ? .table : .json) {
            case .json: text = try JSONWriter.string(json(results, origins: origins, problem: problem, name: name))
            case .table: text = table(results, origins: origins, problem: problem, name: name)
            }
            try OutputSink.write(text, to: output ?? "-")
        }
    }

    func run<S: LayerSolver>(solver: S, problem: Problem) throws(ExpertPlacementError) -> ([BacktestResult], [Int]) {
        let planner = try Planner(solver: solver, topology: problem.topology, window: window, horizon: horizon,
                                  shiftThreshold: forecast.shiftThreshold, autoSteps: autoSteps)
        let backtester = try Backtester(planner: planner, trace: problem.loads, step: step)
        let showProgress = isatty(STDERR_FILENO) == 1
        var results: [BacktestResult] = []
        for strategy in strategies {
            results.append(try backtester.run(strategy) { i, n in
                guard showProgress else { return }
                let text = i < n ? "\r\u{1B}[Keplb backtest: \(strategy.name) at step \(i + 1) of \(n)" : "\r\u{1B}[K"
                FileHandle.standardError.write(Data(text.utf8))
            })
        }
        if oracle {
            results.append(try backtester.runOracle { i, n in
                guard showProgress else { return }
                let text = i < n ? "\r\u{1B}[Keplb backtest: oracle at step \(i + 1) of \(n)" : "\r\u{1B}[K"
                FileHandle.standardError.write(Data(text.utf8))
            })
        }
        return (results, backtester.origins)
    }

    /// The oracle's result (the last one with --oracle), a reference rather than a strategy.
    func isOracle(_ result: BacktestResult) -> Bool { oracle && result.strategy == "oracle" }

    func json(_ results: [BacktestResult], origins: [Int], problem: Problem, name: String) -> JSONValue {
        func number(_ x: Int) -> JSONValue { .number(Double(x)) }
        let last = results.first { $0.strategy == "last" }
        let entries: [JSONValue] = results.map { r in
            var summary: JSONObject = [
                "realizedMeanImbalance": .number(r.realizedMeanImbalance),
                "realizedWorstImbalance": .number(r.realizedWorstImbalance), "moves": number(r.moves),
            ]
            if let last { summary["ratioToLast"] = .number(r.realizedMeanImbalance / last.realizedMeanImbalance) }
            if !omitTiming { summary["planSeconds"] = .number(r.planSeconds) }
            let steps: [JSONValue] = r.steps.map { s in
                var o: JSONObject = [
                    "origin": number(s.origin), "realizedMeanImbalance": .number(s.realizedMeanImbalance),
                    "realizedWorstImbalance": .number(s.realizedWorstImbalance), "strategy": .string(s.chosen),
                ]
                if let m = s.moves { o["moves"] = number(m) }
                if !omitTiming { o["planSeconds"] = .number(s.planSeconds) }
                return .object(o)
            }
            var entry: JSONObject = ["name": .string(r.strategy), "summary": .object(summary), "steps": .array(steps)]
            if isOracle(r) { entry["reference"] = .bool(true) }
            return .object(entry)
        }
        let best = results.filter { !isOracle($0) }.min { $0.realizedMeanImbalance < $1.realizedMeanImbalance }
        let t = problem.topology
        var settings: JSONObject = [
            "window": number(window), "horizon": number(horizon), "step": number(step ?? horizon),
            "method": .string(method.rawValue), "model": .string(forecast.forecastModel.name),
            "shiftThreshold": .number(forecast.shiftThreshold), "hedgeK": .number(hedgeK), "autoSteps": number(autoSteps),
            "origins": number(origins.count), "oracle": .bool(oracle),
        ]
        if let s = strategies.first(where: { if case .auto = $0 { true } else { false } }), case .auto(let c) = s {
            settings["autoCandidates"] = .array(c.map { .string($0.name) })
        }
        let trace: JSONObject = [
            "name": .string(name), "layers": number(problem.layers), "episodes": number(problem.episodes),
            "experts": number(problem.experts), "topology": .object([
                "devices": number(t.devices), "slotsPerDevice": number(t.slotsPerDevice),
                "nodes": number(t.nodes), "expertGroups": number(t.expertGroups),
            ]),
        ]
        var root: JSONObject = ["strategies": .array(entries), "settings": .object(settings), "trace": .object(trace)]
        if let best { root["best"] = .string(best.strategy) }
        return .object(root)
    }

    func table(_ results: [BacktestResult], origins: [Int], problem: Problem, name: String) -> String {
        let t = problem.topology
        var out = "eplb backtest: \(TerminalText.sanitized(name))\n"
        out += "  \(problem.layers) layers × \(problem.episodes) episodes × \(problem.experts) experts; "
        out += "\(t.devices) devices × \(t.slotsPerDevice) slots; method \(method.rawValue)\n"
        out += "  window \(window), horizon \(horizon), step \(step ?? horizon): \(origins.count) origins "
        out += "(\(origins.first ?? 0)…\(origins.last ?? 0))\n\n"
        let last = results.first { $0.strategy == "last" }
        var header = ["strategy", "realized mean", "vs last", "worst", "moves"]
        if !omitTiming { header.append("plan s") }
        let rows: [[String]] = results.map { r in
            var row = [r.strategy, TableReport.fixed(r.realizedMeanImbalance, 4),
                       last.map { TableReport.fixed(r.realizedMeanImbalance / $0.realizedMeanImbalance, 3) } ?? "-",
                       TableReport.fixed(r.realizedWorstImbalance, 4), String(r.moves)]
            if !omitTiming { row.append(TableReport.fixed(r.planSeconds, 3)) }
            return row
        }
        out += TableReport.grid(header, rows)
        out += "(realized mean: mean over steps and layers of per-episode peak ÷ average device load on [t, t + H))\n"
        if oracle { out += "(oracle: a reference, planned on [t, t + H) itself, which no strategy sees)\n" }
        return out
    }
}

extension Array {
    fileprivate var nilIfEmpty: Self? { isEmpty ? nil : self }
}
