// Checks and converts the forecasting arguments of the superset C API
// (`include/expert_placement_forecast.h`): model names and parameters, the horizon, planning
// strategies. Every check happens before LoadForecasting (and LAPACK) is called, so a bad argument
// is an error code naming it, never a trap.

internal import ExpertPlacement
internal import ExpertPlacementC
internal import LoadForecasting

/// The largest horizon the API accepts (``Forecaster``'s own limit).
let maximumHorizon: Int64 = 1_000_000

/// The model parameters of the header (`smoothing`, `period`, `order`, `ridge`), every one
/// checked, whichever model is used (as `eplb` checks every model flag even when unused).
///
/// - Throws: ``CError`` naming the parameter with its C name.
func forecastParameters(smoothing: Double, period: Int64, order: Int64,
                        ridge: Double) throws(CError) -> ForecastModel.Parameters {
    guard period >= 0 && period <= 10_000 else { throw .invalid("period", "must be in 0...10000, got \(period)") }
    guard order >= 1 && order <= 64 else { throw .invalid("order", "must be in 1...64, got \(order)") }
    let parameters = ForecastModel.Parameters(smoothing: smoothing, period: Int(period), order: Int(order), ridge: ridge)
    for model in [ForecastModel.exponentialMovingAverage(smoothing: smoothing), .autoregressive(order: Int(order), ridge: ridge)] {
        do throws(ExpertPlacementError) {
            try model.validate()
        } catch {
            throw .invalid(error.field ?? "model", error.reason)
        }
    }
    return parameters
}

/// The model named by `pointer` (`NULL`: mean) with `parameters`.
func forecastModel(_ pointer: UnsafePointer<CChar>?, parameters: ForecastModel.Parameters) throws(CError) -> ForecastModel {
    let text = name(pointer, fallback: "mean")
    guard let model = ForecastModel(name: text, parameters: parameters) else {
        throw .invalid("model", "unknown model '\(text)': expected one of \(ForecastModel.names.joined(separator: ", "))")
    }
    return model
}

/// The forecasters' shift threshold (total variation between the window's halves).
func checkedShiftThreshold(_ value: Double) throws(CError) -> Double {
    guard value.isFinite && value >= 0 else {
        throw .invalid("shift_threshold", "must be a finite number ≥ 0 (1: never shifted), got \(value)")
    }
    return value
}

/// The horizon, checked, with the output table `[L][H][E]` within the core's limits.
func checkedHorizon(_ value: Int64, layers: Int, experts: Int) throws(CError) -> Int {
    guard value >= 1 && value <= maximumHorizon else {
        throw .invalid("horizon", "must be between 1 and \(maximumHorizon), got \(value)")
    }
    do throws(ExpertPlacementError) {
        try Limits.checkCells([layers, Int(value), experts], what: "layers × horizon × experts", field: "horizon")
    } catch {
        throw CError(error)
    }
    return Int(value)
}

/// Checks that `model`'s least-squares fit of `episodes` × `experts` fits LAPACK's 32-bit
/// indices (the sizes ``LeastSquares/solve(design:rows:columns:targets:rightHandSides:rcond:)``
/// refuses), so that a window too large for a regression is an argument error, not a failure.
func checkFitSize(_ model: ForecastModel, episodes t: Int, experts e: Int) throws(CError) {
    let rows: Int, columns: Int, rightHandSides: Int
    switch model {
    case .last, .windowMean, .exponentialMovingAverage: return
    case .trendSeasonal(let period):
        (rows, columns, rightHandSides) = (t, period >= 2 ? 1 + period : 2, e)
    case .autoregressive(let p, _):
        (rows, columns, rightHandSides) = (max(0, t - p) * e + p, p, 1)
    }
    let limit = Int(Int32.max)
    let (design, o1) = rows.multipliedReportingOverflow(by: columns)
    let (targets, o2) = max(rows, columns).multipliedReportingOverflow(by: rightHandSides)
    if o1 || o2 || rows > limit || design > limit || targets > limit {
        throw .invalid("window", "\(model.name) on \(t) episodes × \(e) experts needs a least-squares fit of "
                       + "\(rows) × \(columns) with \(rightHandSides) right-hand sides, above LAPACK's 32-bit limit "
                       + "(\(limit) entries): use fewer episodes")
    }
}

/// The planning strategy of `ep_rebalance_planned`, parsed as `eplb rebalance --strategy` does:
/// a bare `hedged` takes `hedgeK`, a bare `forecast` the `model`, and `auto` chooses among
/// `last`, `window`, `hedged` and `forecast` so parsed.
struct StrategyArguments {
    /// The strategy asked for.
    var strategy: PlanningStrategy
    /// Forecast horizon (and `auto`'s scored episodes).
    var horizon: Int
    /// The forecasters' shift threshold.
    var shiftThreshold: Double

    init(strategy pointer: UnsafePointer<CChar>?, horizon h: Int64, model: UnsafePointer<CChar>?, hedgeK: Double,
         smoothing: Double, period: Int64, order: Int64, ridge: Double, shiftThreshold threshold: Double,
         layers: Int, experts: Int) throws(CError) {
        let text = name(pointer, fallback: "window")
        let parameters = try forecastParameters(smoothing: smoothing, period: period, order: order, ridge: ridge)
        let defaultModel = try forecastModel(model, parameters: parameters)
        guard hedgeK.isFinite else { throw .invalid("hedge_k", "must be a finite number, got \(hedgeK)") }
        guard let parsed = PlanningStrategy(name: text, defaultK: hedgeK, defaultModel: defaultModel,
                                            parameters: parameters) else {
            throw .invalid("strategy", "unknown strategy '\(text)': expected window, last, hedged[:K], forecast[:MODEL], "
                           + "forecast+window[:MODEL] or auto (models: \(ForecastModel.names.joined(separator: ", ")))")
        }
        strategy = parsed
        horizon = try checkedHorizon(h, layers: layers, experts: experts)
        shiftThreshold = try checkedShiftThreshold(threshold)
    }

    /// Every forecast model the strategy may fit (`auto`'s candidates included).
    var models: [ForecastModel] {
        func models(of s: PlanningStrategy) -> [ForecastModel] {
            switch s {
            case .forecast(let model, _): [model]
            case .auto(let candidates): candidates.flatMap(models(of:))
            case .last, .window, .hedged: []
            }
        }
        return models(of: strategy)
    }

    /// The problem `window` is rebalanced on for this strategy and the name of the strategy used
    /// (`auto → forecast:mean` when `auto` chose), as `eplb rebalance --strategy` does.
    func planningProblem(_ window: Problem, objective: Objective) throws(CError) -> (Problem, String) {
        for model in models { try checkFitSize(model, episodes: window.episodes, experts: window.experts) }
        do throws(ExpertPlacementError) {
            let (planned, chosen) = try strategy.rebalanceProblem(window: window, objective: objective, horizon: horizon,
                                                                  shiftThreshold: shiftThreshold)
            return (planned, strategy.reportedName(chosen: chosen))
        } catch {
            throw CError(error)
        }
    }
}
