// The forecasting calls of the superset C library (libExpertPlacementForecastC):
// `include/expert_placement_forecast.h` declares them, this file implements them.
//
// The library is a superset: it is linked from this target and ExpertPlacementC's, so it exports
// every `ep_*` function of `expert_placement.h` too, and a process loads one library or the other,
// never both (each carries its own Swift runtime). It links LAPACKE (liblapacke.so) through
// LoadForecasting; the plain library does not, and stays the fallback where LAPACKE is missing.
// The conventions are the plain API's: caller-owned buffers, an error code and a one-line
// message, every argument checked before LoadForecasting (and LAPACK) is called.

internal import ExpertPlacement
internal import ExpertPlacementC
internal import LoadForecasting

/// Values per layer in `ep_forecast`'s `diagnostics`.
let diagnosticsWidth = 6

@_cdecl("ep_forecast_abi_version")
public func ep_forecast_abi_version() -> Int32 { 1 }

@_cdecl("ep_forecast")
public func ep_forecast(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                        _ episodesFirst: Int32, _ window: Int64,
                        _ model: UnsafePointer<CChar>?, _ horizon: Int64,
                        _ smoothing: Double, _ period: Int64, _ order: Int64, _ ridge: Double, _ shiftThreshold: Double,
                        _ predicted: UnsafeMutablePointer<Double>?, _ diagnostics: UnsafeMutablePointer<Double>?,
                        _ message: UnsafeMutablePointer<CChar>?, _ messageCapacity: Int64) -> Int32 {
    guarded(message, messageCapacity) { () throws(CError) in
        let l = try dimension(layers, "layers"), t = try dimension(episodes, "episodes")
        let e = try dimension(experts, "experts")
        do throws(ExpertPlacementError) {
            try Limits.checkCells([l, t, e], what: "layers × episodes × experts", field: "loads")
        } catch {
            throw CError(error)
        }
        guard window >= 0 && window <= maxDimension else {
            throw .invalid("window", "must be 0 (every episode) or a number of episodes up to \(maxDimension), got \(window)")
        }
        let h = try checkedHorizon(horizon, layers: l, experts: e)
        let parameters = try forecastParameters(smoothing: smoothing, period: period, order: order, ridge: ridge)
        let forecastModel = try forecastModel(model, parameters: parameters)
        let threshold = try checkedShiftThreshold(shiftThreshold)
        guard let predicted else { throw .invalid("predicted", "is NULL") }
        // As eplb forecast: a window longer than the history, or too short for an autoregression,
        // is refused rather than cut down or fitted to the mean.
        guard Int(window) <= t else {
            throw .invalid("window", "\(window) episodes asked for, the history holds \(t)")
        }
        let fitted = window > 0 ? Int(window) : t
        if case .autoregressive(let p, _) = forecastModel, p >= fitted {
            throw .invalid("order", PlanningStrategy.autoregressionTooShort(order: p, window: fitted))
        }
        var history = try loadTensor(loads, layers: l, episodes: t, experts: e, episodesFirst: episodesFirst)
        if window > 0 && Int(window) < t { history = history.slice(t - Int(window) ..< t) }
        try checkFitSize(forecastModel, episodes: history.episodes, experts: e)
        let result: Forecast
        do throws(ExpertPlacementError) {
            result = try Forecaster(model: forecastModel, horizon: h, shiftThreshold: threshold).forecast(history)
        } catch {
            throw CError(error)
        }
        // [L][H][E], or [H][L][E] when the loads came episodes first.
        for layer in 0..<l {
            for step in 0..<h {
                let to = episodesFirst == 1 ? (step * l + layer) * e : (layer * h + step) * e
                for k in 0..<e { predicted[to + k] = result.loads[layer, step, k] }
            }
        }
        if let diagnostics {
            for (layer, d) in result.layers.enumerated() {
                let row = diagnostics + layer * diagnosticsWidth
                row[0] = d.shift
                row[1] = d.shifted ? 1 : 0
                row[2] = d.changePoint.map(Double.init) ?? .nan
                row[3] = d.rank.map(Double.init) ?? .nan
                row[4] = d.parameters.map(Double.init) ?? .nan
                row[5] = d.relativeResidual ?? .nan
            }
        }
    }
}

@_cdecl("ep_rebalance_planned")
public func ep_rebalance_planned(_ loads: UnsafePointer<Double>?, _ layers: Int64, _ episodes: Int64, _ experts: Int64,
                                 _ episodesFirst: Int32,
                                 _ devices: Int64, _ slotsPerDevice: Int64, _ nodes: Int64, _ groups: Int64,
                                 _ method: UnsafePointer<CChar>?, _ objectiveName: UnsafePointer<CChar>?,
                                 _ timeLimitSeconds: Double, _ threads: Int32,
                                 _ current: UnsafePointer<Int64>?, _ moveCost: Double, _ maxMoves: Int64,
                                 _ recorded: UnsafePointer<Double>?, _ threshold: Double, _ relativeThreshold: Double,
                                 _ minGain: Double, _ maxLayers: Int64,
                                 _ strategy: UnsafePointer<CChar>?, _ horizon: Int64, _ model: UnsafePointer<CChar>?,
                                 _ hedgeK: Double, _ smoothing: Double, _ period: Int64, _ order: Int64, _ ridge: Double,
                                 _ shiftThreshold: Double,
                                 _ phy2log: UnsafeMutablePointer<Int64>?, _ priority: UnsafeMutablePointer<Int64>?,
                                 _ moves: UnsafeMutablePointer<Int64>?,
                                 _ before: UnsafeMutablePointer<Double>?, _ after: UnsafeMutablePointer<Double>?,
                                 _ recordedOut: UnsafeMutablePointer<Double>?,
                                 _ strategyUsed: UnsafeMutablePointer<CChar>?, _ strategyUsedCapacity: Int64,
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
            let planning = try StrategyArguments(
                strategy: strategy, horizon: horizon, model: model, hedgeK: hedgeK, smoothing: smoothing, period: period,
                order: order, ridge: ridge, shiftThreshold: shiftThreshold,
                layers: call.shape.layers, experts: call.shape.experts)
            guard let phy2log else { throw .invalid("phy2log", "is NULL") }
            guard strategyUsedCapacity >= 0 else {
                throw .invalid("strategy_used_capacity", "must be ≥ 0, got \(strategyUsedCapacity)")
            }
            // The layers are selected, re-placed and scored on the planned problem (the loads to
            // come), as `eplb rebalance --strategy` does.
            let (planned, used) = try planning.planningProblem(call.problem, objective: call.options.objective)
            call.write(try call.plan(on: planned), phy2log: phy2log, priority: priority, moves: moves,
                       before: before, after: after, recordedOut: recordedOut)
            write(used, to: strategyUsed, capacity: strategyUsedCapacity)
        }
    }
}
