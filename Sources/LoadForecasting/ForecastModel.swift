public import ExpertPlacement

/// How the next episodes' loads of each (layer, expert) are predicted from its history.
///
/// See the LoadForecasting guide for each model's formula and why its defaults were chosen.
public enum ForecastModel: Sendable, Equatable {
    /// The last episode, repeated: what every deployed EPLB plans on today.
    case last
    /// The (recency-weighted, after a shift) mean of the window's episodes.
    case windowMean
    /// Exponential moving average `s ← α x_t + (1 − α) s`, started at the first episode;
    /// `smoothing` is `α ∈ (0, 1]` (1 = last).
    case exponentialMovingAverage(smoothing: Double)
    /// Least squares on `[1, τ, season dummies]` per expert: a linear trend plus, when
    /// `period ≥ 2`, one level per phase of `t mod period` (phase 0 is the reference).
    /// One `dgelsd` per layer, the layer's experts as right-hand sides.
    case trendSeasonal(period: Int)
    /// Autoregression of order `order` on each expert's relative deviation from its window mean,
    /// coefficients shared by the layer's experts and shrunk by ridge `λ` (augmented rows).
    case autoregressive(order: Int, ridge: Double)

    /// The command-line name: `last`, `mean`, `ema`, `trend`, `ar`.
    public var name: String {
        switch self {
        case .last: "last"
        case .windowMean: "mean"
        case .exponentialMovingAverage: "ema"
        case .trendSeasonal: "trend"
        case .autoregressive: "ar"
        }
    }

    /// Names accepted by ``init(name:parameters:)``.
    public static let names = ["last", "mean", "ema", "trend", "ar"]

    /// The parameters a named model takes from ``ForecastModel/Parameters``; `nil` for an unknown name.
    public init?(name: String, parameters: Parameters = Parameters()) {
        switch name {
        case "last": self = .last
        case "mean": self = .windowMean
        case "ema": self = .exponentialMovingAverage(smoothing: parameters.smoothing)
        case "trend": self = .trendSeasonal(period: parameters.period)
        case "ar": self = .autoregressive(order: parameters.order, ridge: parameters.ridge)
        default: return nil
        }
    }

    /// The tunable numbers of the models, with their defaults.
    public struct Parameters: Sendable, Equatable {
        /// EMA's α (default 0.3: an effective memory of about 1/α ≈ 3 episodes).
        public var smoothing: Double = 0.3
        /// Season length of `trend`, in episodes; 0 or 1: trend only.
        public var period: Int = 0
        /// Order of `ar`.
        public var order: Int = 2
        /// Ridge λ of `ar`, relative to each lag's energy (one lag: φ = φ_OLS / (1 + λ)).
        public var ridge: Double = 0.1

        public init(smoothing: Double = 0.3, period: Int = 0, order: Int = 2, ridge: Double = 0.1) {
            self.smoothing = smoothing
            self.period = period
            self.order = order
            self.ridge = ridge
        }
    }

    /// Checks the model's parameters.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the parameter.
    public func validate() throws(ExpertPlacementError) {
        switch self {
        case .last, .windowMean: return
        case .exponentialMovingAverage(let alpha):
            guard alpha.isFinite, alpha > 0, alpha <= 1 else {
                throw .invalidValue(field: "smoothing", reason: "must be in (0, 1], got \(alpha)")
            }
        case .trendSeasonal(let period):
            guard period >= 0, period <= 10_000 else {
                throw .invalidValue(field: "period", reason: "must be in 0...10000, got \(period)")
            }
        case .autoregressive(let order, let ridge):
            guard order >= 1, order <= 64 else {
                throw .invalidValue(field: "order", reason: "must be in 1...64, got \(order)")
            }
            guard ridge.isFinite, ridge >= 0 else {
                throw .invalidValue(field: "ridge", reason: "must be a finite number ≥ 0, got \(ridge)")
            }
        }
    }
}
