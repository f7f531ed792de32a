import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import LoadForecasting

/// `rebalance --strategy …`: what the re-placed layers are planned for (the window itself by
/// default, or the loads to come: a forecast, a hedge, the last episode, or `auto`'s choice).
struct RebalancePlanningOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Loads to plan for: window (default: the window's episodes), last, hedged[:K], forecast[:MODEL], forecast+window[:MODEL] or auto (chosen by how each did on the window's last --horizon episodes).",
        valueName: "name"))
    var strategy = "window"

    @Option(name: .customLong("horizon"), parsing: .unconditional, help: ArgumentHelp("Episodes forecast (forecast strategies) and scored by auto's choice. (default: 4)", valueName: "H"))
    var horizonFlag: Int?

    @Option(name: .customLong("hedge-k"), parsing: .unconditional, help: ArgumentHelp("K of a bare hedged. (default: 1.0)", valueName: "K"))
    var hedgeKFlag: Double?

    var horizon: Int { horizonFlag ?? 4 }
    var hedgeK: Double { hedgeKFlag ?? 1 }

    @OptionGroup(title: "Forecast model") var forecast: ForecastModelOptions

    func parsed() -> PlanningStrategy? {
        PlanningStrategy(name: strategy, defaultK: hedgeK, defaultModel: forecast.forecastModel,
                         parameters: forecast.parameters)
    }

    func validate() throws {
        if parsed() == nil {
            throw ValidationError("--strategy: unknown strategy '\(strategy)'; use window, last, hedged[:K], forecast[:MODEL], forecast+window[:MODEL] or auto (models: \(ForecastModel.names.joined(separator: ", ")))")
        }
        if horizon < 1 { throw ValidationError("--horizon must be at least 1, got \(horizon)") }
        if !hedgeK.isFinite { throw ValidationError("--hedge-k must be a finite number") }
        let unused = unusedFlags
        if !unused.isEmpty {
            throw ValidationError("\(unused.joined(separator: ", ")) \(unused.count == 1 ? "has" : "have") no effect with --strategy \(strategy) (--horizon and the forecast model's flags apply to forecast strategies and auto, --hedge-k to a bare hedged and auto)")
        }
    }

    /// Whether the strategy forecasts or scores `--horizon` episodes (forecast strategies, auto).
    var usesHorizon: Bool {
        switch parsed() {
        case .forecast?, .auto?: true
        default: false
        }
    }

    /// The flags given that the strategy does not use.
    var unusedFlags: [String] {
        guard let parsed = parsed() else { return [] }
        // The forecast model serves exactly the strategies that use the horizon.
        let usesModel = usesHorizon
        let usesK: Bool
        switch parsed {
        case .hedged: usesK = strategy == "hedged"
        case .auto: usesK = true
        default: usesK = false
        }
        var out: [String] = []
        if horizonFlag != nil && !usesHorizon { out.append("--horizon") }
        if hedgeKFlag != nil && !usesK { out.append("--hedge-k") }
        if !usesModel { out += forecast.givenFlags }
        return out
    }

    /// The problem to rebalance on (the window itself for `window`) and the strategy used.
    func planningProblem(_ problem: Problem, objective: Objective) throws(ExpertPlacementError) -> (Problem, String) {
        let strategy = parsed() ?? .window  // validate() refused names that do not parse
        let (planned, chosen) = try strategy.rebalanceProblem(window: problem, objective: objective, horizon: horizon,
                                                              shiftThreshold: forecast.shiftThreshold)
        return (planned, strategy.reportedName(chosen: chosen))
    }

    /// Refuses a window of `length` episodes too short for the strategy's autoregression.
    func checkAutoregressiveWindow(_ length: Int, file: String) throws(InputError) {
        if let p = parsed()?.autoregressiveOrder, length <= p {
            throw InputError(file: file, field: "--order", reason: PlanningStrategy.autoregressionTooShort(order: p, window: length))
        }
    }

    /// Warns that `auto` cannot score its candidates on a window of `length` episodes (or
    /// iterations, `unit`) no longer than the horizon, and so takes its first candidate.
    func warnIfAutoCannotChoose(windowLength length: Int, unit: String) {
        guard strategy == "auto" && length <= horizon else { return }
        printWarning("--strategy auto: a window of \(length) \(unit) leaves no inner origin to score the candidates on with --horizon \(horizon); auto takes its first candidate")
    }

    func record(into settings: inout JSONObject, chosen: String) {
        guard strategy != "window" else { return }
        settings["strategy"] = .string(chosen)
        if usesHorizon { settings["horizon"] = .number(Double(horizon)) }
    }
}

extension InputError {
    /// An error of the forecasting and planning code on `file`'s loads, its field named as the
    /// command-line flag that sets it (`hedgeK` → `--hedge-k`: a K so large that μ + K·σ
    /// overflows; `horizon` → `--horizon`: a forecast that diverges or is too large).
    init(file: String, planning error: ExpertPlacementError) {
        let flags = ["hedgeK": "--hedge-k", "horizon": "--horizon", "order": "--order", "ridge": "--ridge",
                     "smoothing": "--smoothing", "period": "--period", "shiftThreshold": "--shift-threshold"]
        self.init(file: file, field: error.field.map { flags[$0] ?? $0 }, reason: error.reason)
    }
}
