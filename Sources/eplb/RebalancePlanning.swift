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

    @Option(parsing: .unconditional, help: ArgumentHelp("Episodes forecast (forecast strategies) and scored by auto's choice.", valueName: "H"))
    var horizon = 4

    @Option(name: .customLong("hedge-k"), parsing: .unconditional, help: ArgumentHelp("K of a bare hedged.", valueName: "K"))
    var hedgeK = 1.0

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
            throw InputError(file: file, field: "--order", reason: autoregressionTooShort(order: p, window: length, unit: "episodes"))
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
        settings["horizon"] = .number(Double(horizon))
    }
}

/// Why an autoregression of order `p` cannot be fitted on a window of `length` episodes or
/// iterations (`unit`).
func autoregressionTooShort(order p: Int, window length: Int, unit: String) -> String {
    "an autoregression of order \(p) needs more than \(p) \(unit) to fit; the window holds \(length) (a shorter fit would only forecast the window mean)"
}
