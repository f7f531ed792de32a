/// What a placement is planned on, given the loads seen so far.
///
/// Every strategy turns the window `[t − W, t)` into the episodes of a planning ``Problem``; the
/// solver then optimises its multi-episode objective over them. See the LoadForecasting guide.
public indirect enum PlanningStrategy: Sendable, Equatable {
    /// The last episode only (what EPLB deployments do).
    case last
    /// The window's episodes as equally weighted scenarios.
    case window
    /// One episode of `μ + k·σ` per expert over the window: experts whose load swings get more room.
    case hedged(k: Double)
    /// The forecast's `H` episodes as scenarios; with `includesWindow`, the window's episodes too,
    /// the forecast episodes weighted `W / H` each so that forecast and window count equally.
    case forecast(ForecastModel, includesWindow: Bool)
    /// The candidate with the lowest realised mean imbalance in a rolling backtest over the history
    /// before `t` (its last ``Planner/autoSteps`` origins); never looks at `[t, t + H)`.
    case auto([PlanningStrategy])

    /// The name used on the command line and in reports: `last`, `window`, `hedged:1`,
    /// `forecast:trend`, `forecast+window:ar`, `auto`.
    public var name: String {
        switch self {
        case .last: "last"
        case .window: "window"
        case .hedged(let k): "hedged:\(Self.format(k))"
        case .forecast(let model, let withWindow): (withWindow ? "forecast+window:" : "forecast:") + model.name
        case .auto: "auto"
        }
    }

    /// `auto`'s candidates when none are named (`eplb rebalance`, `eplb backtest`, the C API):
    /// `last`, `window`, `hedged` and `forecast`.
    public static let defaultAutoCandidateNames = ["last", "window", "hedged", "forecast"]

    /// How a plan's strategy is reported: its name, or `auto → NAME` when `auto` chose `chosen`.
    public func reportedName(chosen: PlanningStrategy) -> String {
        self == chosen ? chosen.name : "auto → \(chosen.name)"
    }

    /// The largest autoregressive order the strategy fits (its model's, or for `auto` its
    /// candidates'), `nil` when it fits none. A window of at most that many episodes leaves the
    /// autoregression no data row to fit: it would forecast the window mean, so the command line
    /// refuses such a window (as `eplb forecast` does).
    public var autoregressiveOrder: Int? {
        switch self {
        case .forecast(.autoregressive(let p, _), _): p
        case .auto(let candidates): candidates.compactMap(\.autoregressiveOrder).max()
        default: nil
        }
    }

    /// Why an autoregression of order `p` cannot be fitted on a window of `length` episodes (or
    /// iterations, `unit`): the one message of every place that refuses such a window.
    public static func autoregressionTooShort(order p: Int, window length: Int, unit: String = "episodes") -> String {
        "an autoregression of order \(p) needs more than \(p) \(unit) to fit; the window holds \(length) (a shorter fit would only forecast the window mean)"
    }

    private static func format(_ k: Double) -> String {
        k == k.rounded() && abs(k) < 1e6 ? String(Int(k)) : String(k)
    }

    /// Parses `last`, `window`, `hedged[:K]`, `forecast[:MODEL]`, `forecast+window[:MODEL]`, `auto`.
    ///
    /// - Parameters:
    ///   - defaultK: `k` of a bare `hedged`.
    ///   - defaultModel: the model of a bare `forecast`.
    ///   - parameters: parameters of a named model.
    ///   - autoCandidates: the candidates of `auto`.
    /// - Returns: `nil` for an unknown name, model or a `k` that is not a finite number.
    public init?(name: String, defaultK: Double = 1, defaultModel: ForecastModel = .windowMean,
                 parameters: ForecastModel.Parameters = .init(), autoCandidates: [PlanningStrategy]) {
        let parts = name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let head = parts[0], tail = parts.count > 1 ? parts[1] : nil
        switch head {
        case "last" where tail == nil: self = .last
        case "window" where tail == nil: self = .window
        case "auto" where tail == nil: self = .auto(autoCandidates)
        case "hedged":
            guard let k = tail.map(Double.init) ?? defaultK, k.isFinite else { return nil }
            self = .hedged(k: k)
        case "forecast", "forecast+window":
            let model: ForecastModel
            if let tail {
                guard let m = ForecastModel(name: tail, parameters: parameters) else { return nil }
                model = m
            } else {
                model = defaultModel
            }
            self = .forecast(model, includesWindow: head == "forecast+window")
        default: return nil
        }
    }

    /// Parses `name` as ``init(name:defaultK:defaultModel:parameters:autoCandidates:)`` does, with
    /// ``defaultAutoCandidateNames`` (parsed with the same defaults) as `auto`'s candidates.
    public init?(name: String, defaultK: Double = 1, defaultModel: ForecastModel = .windowMean,
                 parameters: ForecastModel.Parameters = .init()) {
        let candidates = Self.defaultAutoCandidateNames.compactMap {
            PlanningStrategy(name: $0, defaultK: defaultK, defaultModel: defaultModel, parameters: parameters,
                             autoCandidates: [])
        }
        self.init(name: name, defaultK: defaultK, defaultModel: defaultModel, parameters: parameters,
                  autoCandidates: candidates)
    }
}
