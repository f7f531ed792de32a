import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import LoadForecasting

/// The forecast model flags shared by `eplb forecast` and `eplb backtest` (and the forecast
/// strategies of `rebalance` and `simulate`). Optional, so that a command can tell a flag given
/// to no effect from a default.
struct ForecastModelOptions: ParsableArguments {
    @Option(name: .customLong("model"), help: ArgumentHelp("Forecast model: \(ForecastModel.names.joined(separator: ", ")). (default: mean)", valueName: "name"))
    var modelFlag: String?

    @Option(name: .customLong("smoothing"), parsing: .unconditional, help: ArgumentHelp("ema: smoothing α in (0, 1]. (default: 0.3)", valueName: "α"))
    var smoothingFlag: Double?

    @Option(name: .customLong("period"), parsing: .unconditional, help: ArgumentHelp("trend: season length in episodes (0: trend only). (default: 0)", valueName: "P"))
    var periodFlag: Int?

    @Option(name: .customLong("order"), parsing: .unconditional, help: ArgumentHelp("ar: autoregressive order. (default: 2)", valueName: "p"))
    var orderFlag: Int?

    @Option(name: .customLong("ridge"), parsing: .unconditional, help: ArgumentHelp("ar: ridge λ relative to each lag's energy (one lag: φ = φ_OLS ÷ (1 + λ)). (default: 0.1)", valueName: "λ"))
    var ridgeFlag: Double?

    @Option(name: .customLong("shift-threshold"), parsing: .unconditional, help: ArgumentHelp(
        "Total variation between the window's halves above which (and above twice the sampling noise) fits drop the episodes before the detected change point (1: never). (default: 0.1)",
        valueName: "tv"))
    var shiftThresholdFlag: Double?

    var model: String { modelFlag ?? "mean" }
    var smoothing: Double { smoothingFlag ?? 0.3 }
    var period: Int { periodFlag ?? 0 }
    var order: Int { orderFlag ?? 2 }
    var ridge: Double { ridgeFlag ?? 0.1 }
    var shiftThreshold: Double { shiftThresholdFlag ?? 0.1 }

    /// The flags given on the command line, by name.
    var givenFlags: [String] {
        [("--model", modelFlag != nil), ("--smoothing", smoothingFlag != nil), ("--period", periodFlag != nil),
         ("--order", orderFlag != nil), ("--ridge", ridgeFlag != nil), ("--shift-threshold", shiftThresholdFlag != nil)]
            .filter(\.1).map(\.0)
    }

    var parameters: ForecastModel.Parameters {
        ForecastModel.Parameters(smoothing: smoothing, period: period, order: order, ridge: ridge)
    }

    /// The model named by --model (checked by `validate()`).
    var forecastModel: ForecastModel { ForecastModel(name: model, parameters: parameters)! }

    func validate() throws {
        guard let m = ForecastModel(name: model, parameters: parameters) else {
            throw ValidationError("--model: unknown model '\(model)'; choose from \(ForecastModel.names.joined(separator: ", "))")
        }
        // Every model's parameters are checked, so that a bad flag is reported even when unused.
        for candidate in [m, .exponentialMovingAverage(smoothing: smoothing), .trendSeasonal(period: period),
                          .autoregressive(order: order, ridge: ridge)] {
            do { try candidate.validate() } catch {
                throw ValidationError("--\(error.field ?? "model"): \(error.reason)")
            }
        }
        if !(shiftThreshold.isFinite && shiftThreshold >= 0) {
            throw ValidationError("--shift-threshold must be a finite number ≥ 0, got \(shiftThreshold)")
        }
    }
}

/// `eplb forecast`: predicted loads for the next episodes, as an instance.
struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast the next episodes' loads per layer and expert from a load history.",
        discussion: """
        Reads the history [L][T][E] (the last --window episodes, default all) and writes the \
        predicted loads [L][H][E] as an instance (JSON v1, the input's topology kept when it has \
        one), plus a "forecast" key with the settings and per-layer fit diagnostics: shift (total \
        variation between the window's halves), noise (what sampling noise alone gives there: the \
        median variation between consecutive episodes × √(2/T)), shifted (shift above \
        --shift-threshold and above twice noise: the fit drops the episodes before changePoint), rank and parameters \
        of the design matrix and relativeResidual (in-sample RMS residual ÷ mean load). Forecasts \
        are clamped at 0.

        Models: last; mean (window mean); ema (--smoothing α); trend (least-squares trend, plus a \
        season of --period P episodes); ar (autoregression of --order p on deviations from the \
        window mean, ridge --ridge λ, shared by the layer's experts). Regressions run on LAPACKE's \
        dgelsd.

        Examples:
          eplb forecast Examples/esft-deepseek-v2-lite_windows_4layers.json \\
              --horizon 4 --model trend
          eplb forecast trace.npy --axes tle --window 64 --horizon 8 --model ar \\
              --order 3 --output next.json
        """
    )

    @Argument(help: ArgumentHelp("Load history: instance JSON v1 or NumPy .npy; '-' reads standard input.", valueName: "instance"))
    var instance: String

    @OptionGroup var axes: AxesOption

    @Option(parsing: .unconditional, help: ArgumentHelp("Episodes to predict, H.", valueName: "H"))
    var horizon: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Use only the last W episodes of the history (default: all).", valueName: "W"))
    var window: Int?

    @OptionGroup(title: "Model") var forecast: ForecastModelOptions

    @Option(help: ArgumentHelp("Write the instance to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    func validate() throws {
        try refuseOutput(output, over: [("the history", instance)])
        if horizon < 1 { throw ValidationError("--horizon must be at least 1, got \(horizon)") }
        if horizon > 1_000_000 { throw ValidationError("--horizon must be at most 1000000, got \(horizon)") }
        if let window, window < 1 { throw ValidationError("--window must be at least 1, got \(window)") }
    }

    func run() throws {
        try reportingInputErrors {
            let file = InputSource.displayName(instance)
            let bytes = try InputSource.read(instance)
            // Keep the input's topology when it has one (a history without one is a valid instance too).
            let (full, hasTopology) = try Self.instance(bytes, file: file, axes: axes.order)
            var loads = full.problem.loads
            let name = full.name ?? file
            let topology = hasTopology ? full.problem.topology : nil
            if full.problem.episodeWeights.contains(where: { $0 != 1 }) {
                printWarning("\(file): episodeWeights: ignored: the models fit the episodes as equally spaced steps, and the forecast has none")
            }
            if let window {
                guard window <= loads.episodes else {
                    throw InputError(file: file, field: "--window",
                                     reason: "\(window) episodes asked for, the history holds \(loads.episodes)")
                }
                if window < loads.episodes { loads = loads.slice(loads.episodes - window ..< loads.episodes) }
            }
            if forecast.model == "ar" && forecast.order >= loads.episodes {
                throw InputError(file: file, field: "--order",
                                 reason: PlanningStrategy.autoregressionTooShort(order: forecast.order, window: loads.episodes))
            }
            let forecaster: Forecaster
            let result: LoadForecasting.Forecast
            do throws(ExpertPlacementError) {
                forecaster = try Forecaster(model: forecast.forecastModel, horizon: horizon,
                                            shiftThreshold: forecast.shiftThreshold)
                result = try forecaster.forecast(loads)
            } catch {
                throw InputError(file: file, planning: error)
            }
            var root: JSONObject
            // The rows keep their decoder-layer ids, so that a plan made on the forecast is
            // exported for the right layers.
            if let topology, let problem = try? Problem(topology: topology, loads: result.loads),
               case .object(let o) = InstanceFile.encode(problem, name: "\(name) forecast", layerIds: full.layerIds) {
                root = o
            } else {
                root = ["schemaVersion": .number(1), "name": .string("\(name) forecast"),
                        "load": Self.loadJSON(result.loads)]
                if let ids = full.layerIds { root["layerIds"] = .array(ids.map { .number(Double($0)) }) }
            }
            root["forecast"] = .object(diagnostics(result, forecaster: forecaster, history: loads.episodes))
            try OutputSink.write(JSONWriter.string(.object(root)), to: output ?? "-")
        }
    }

    func diagnostics(_ result: LoadForecasting.Forecast, forecaster: Forecaster, history: Int) -> JSONObject {
        var settings: JSONObject = [
            "model": .string(forecaster.model.name), "horizon": .number(Double(horizon)),
            "historyEpisodes": .number(Double(history)), "shiftThreshold": .number(forecaster.shiftThreshold),
        ]
        switch forecaster.model {
        case .last, .windowMean: break
        case .exponentialMovingAverage(let a): settings["smoothing"] = .number(a)
        case .trendSeasonal(let p): settings["period"] = .number(Double(p))
        case .autoregressive(let p, let r):
            settings["order"] = .number(Double(p))
            settings["ridge"] = .number(r)
        }
        settings["layers"] = .array(result.layers.map { d in
            var o: JSONObject = ["shift": .number(d.shift), "noise": .number(d.noise), "shifted": .bool(d.shifted)]
            if let c = d.changePoint { o["changePoint"] = .number(Double(c)) }
            if let r = d.rank { o["rank"] = .number(Double(r)) }
            if let n = d.parameters { o["parameters"] = .number(Double(n)) }
            if let r = d.relativeResidual { o["relativeResidual"] = .number(r) }
            return .object(o)
        })
        return settings
    }

    /// The whole instance (its other keys checked), and whether it has a topology: a history
    /// without one is decoded again on one device holding every expert, which only the checks see
    /// (the loads alone, read first, say how many experts that is).
    static func instance(_ bytes: [UInt8], file: String, axes: LoadAxes?) throws(InputError) -> (instance: InstanceFile, hasTopology: Bool) {
        // (A `do`/`catch` that rethrows here crashes the Swift 6.3.1 compiler; Result does not.)
        let decoded = Result { () throws(InputError) -> InstanceFile in try InstanceFile.decode(bytes, file: file, axes: axes) }
        switch decoded {
        case .success(let instance): return (instance, true)
        case .failure(let error):
            guard error.field?.hasPrefix("topology.") == true && error.reason.hasPrefix("missing") else { throw error }
            let experts = try InstanceFile.decodeLoads(bytes, file: file, axes: axes).experts
            var overrides = TopologyOverrides()
            overrides.fallback = Topology(devices: 1, slotsPerDevice: experts)
            return (try InstanceFile.decode(bytes, file: file, overrides: overrides, axes: axes), false)
        }
    }

    static func loadJSON(_ loads: LoadTensor) -> JSONValue {
        let t = loads.episodes, e = loads.experts
        return .array((0 ..< loads.layers).map { l in
            .array((0 ..< t).map { i in .array((0 ..< e).map { .number(loads[l, i, $0]) }) })
        })
    }
}
