/// What a solver minimises for each layer (INTERFACE.md §2).
///
/// The raw value is the metric's key in the placement JSON.
public enum Objective: String, Sendable, CaseIterable, Codable {
    /// `Σ_t ω_t ρ_t / Σ_t ω_t`: the weighted mean of the per-episode peak/average device load
    /// (FlashLB's multi-episode score). The default.
    case meanImbalance
    /// `max_t ρ_t` over the episodes with positive weight: the worst episode's peak/average.
    case worstImbalance
    /// ρ of the summed load `Σ_t ω_t w[t]`: the static score DeepSeek EPLB optimises.
    case aggregateImbalance
    /// `Σ_t ω_t max_d L[t][d]`: total bottleneck work, proportional to MoE step time.
    case peakSum

    /// The short name used on the command line (`mean`, `worst`, `aggregate`, `peak-sum`).
    public var commandLineName: String {
        switch self {
        case .meanImbalance: "mean"
        case .worstImbalance: "worst"
        case .aggregateImbalance: "aggregate"
        case .peakSum: "peak-sum"
        }
    }

    /// Parses a command-line name or a JSON key (`mean` or `meanImbalance`, …).
    public init?(name: String) {
        guard let match = Objective.allCases.first(where: { $0.commandLineName == name || $0.rawValue == name })
        else { return nil }
        self = match
    }
}
