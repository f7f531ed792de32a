/// How many intervals a rebalance's gain lasts, measured from one call to the next, so that the
/// move price follows the workload: moves are cheap while gains persist and dear while they fade.
///
/// The `rebalance` policy prices a move so that it pays for itself within `k` intervals
/// (``RebalancePolicy/priceOfMove(cost:layers:iterations:interval:paybackIntervals:)``). A fixed
/// `k` is a guess about the future; this estimate measures it. At each call:
/// 1. the placement deployed by the previous call is scored on the new window against the one it
///    replaced: `r`, the mean imbalance it saves on the interval that followed;
/// 2. `g` is what it saved on the window it was planned on;
/// 3. `ρ = r / g` (clamped to `[−1, 1]`) is the share of the gain that survived one interval, and
///    the running persistence is `smoothing · ρ̄ + (1 − smoothing) · ρ`.
///
/// If every interval keeps that share, a move's gain over all intervals to come sums to
/// `g·(1 + ρ + ρ² + …) = g / (1 − ρ)`: it pays as if it lasted `k = 1 / (1 − ρ̄)` intervals. ``intervals``
/// is that `k`, clamped to ``range`` (the range's lower end before anything is measured, and
/// whenever the last plan saved nothing to measure against).
///
/// Cost: three evaluations of the window per call: the placement the previous call replaced, the
/// deployed one (for the update and the record) and the plan.
///
/// `eplb simulate`'s `rebalance` policy uses it by default. Measured (against a fixed price of
/// two intervals, `--payback-intervals 2`; regime traces of the README's simulation table, policy
/// time fixed at 5 iterations): mean modelled cost ÷ greedy's 0.866 against 0.864 on seeds 1–4 and
/// 0.848 against 0.848 on seeds 5–8, with a mean PAR below greedy's in all 32 cases (30 with the
/// fixed price); on 12 held-out regime traces (Qwen1.5-MoE, OLMoE, ESFT tasks) 0.894 against 0.895.
/// See the Rebalancing guide.
public struct PaybackEstimate: Sendable {
    /// The move cost at which a move pays for itself within one interval; a call's cost is
    /// `unitPrice / k` (``price``).
    public var unitPrice: Double
    /// The horizons allowed, in intervals (default 2…8).
    public var range: ClosedRange<Double>
    /// Weight of the running persistence against the newest measurement (default ½).
    public var smoothing: Double
    /// The smoothed share of a plan's gain that survives one interval (`nil` until measured).
    public private(set) var persistence: Double? = nil
    /// The horizon used at each call so far, oldest first.
    public private(set) var history: [Double] = []
    /// The last call's decision, to be measured at the next call (`nil` before the first call,
    /// and when that call had no deployed placement).
    public private(set) var previous: Decision? = nil

    /// A call's decision as the next call measures it.
    public struct Decision: Sendable, Equatable {
        /// The placement the call replaced (its window's deployed placement).
        public var replaced: Placement
        /// The mean imbalance (mean over layers) the call's plan saved against `replaced` on the
        /// window it was planned on.
        public var gain: Double

        /// Creates a decision record.
        public init(replaced: Placement, gain: Double) {
            self.replaced = replaced
            self.gain = gain
        }
    }

    /// Creates an estimate.
    ///
    /// - Parameter unitPrice: the move cost at a payback of one interval
    ///   (``RebalancePolicy/priceOfMove(cost:layers:iterations:interval:paybackIntervals:)`` with `k` = 1).
    /// - Precondition: `unitPrice` finite and ≥ 0, `range.lowerBound ≥ 1`, finite bounds,
    ///   `smoothing` in `[0, 1)` (programmer errors).
    public init(unitPrice: Double, range: ClosedRange<Double> = 2...8, smoothing: Double = 0.5) {
        do { try Self.checkSettings(unitPrice: unitPrice, range: range, smoothing: smoothing) } catch {
            preconditionFailure(error.description)
        }
        self.unitPrice = unitPrice
        self.range = range
        self.smoothing = smoothing
    }

    /// An estimate resumed from a saved state (e.g. `eplb rebalance --memory FILE`, which keeps it
    /// between calls): the settings of ``init(unitPrice:range:smoothing:)`` plus what it measured.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the field (`unitPrice`,
    ///   `range`, `smoothing`, `persistence`, `history`, `previous.gain`) when a value is out of range.
    public init(unitPrice: Double, range: ClosedRange<Double>, smoothing: Double, persistence: Double?,
                history: [Double], previous: Decision?) throws(ExpertPlacementError) {
        try Self.checkSettings(unitPrice: unitPrice, range: range, smoothing: smoothing)
        if let persistence, !(persistence >= -1 && persistence <= 1) {
            throw .invalidValue(field: "persistence", reason: "must be in [−1, 1] (a share of a gain), got \(persistence)")
        }
        if let bad = history.firstIndex(where: { !($0 >= 1 && $0.isFinite) }) {
            throw .invalidValue(field: "history[\(bad)]", reason: "must be a horizon ≥ 1 in intervals, got \(history[bad])")
        }
        if let previous, !previous.gain.isFinite {
            throw .invalidValue(field: "previous.gain", reason: "must be finite, got \(previous.gain)")
        }
        self.init(unitPrice: unitPrice, range: range, smoothing: smoothing)
        self.persistence = persistence
        self.history = history
        self.previous = previous
    }

    /// The rules of the settings, for both initialisers: a programmer error in one, bad saved
    /// state in the other.
    static func checkSettings(unitPrice: Double, range: ClosedRange<Double>, smoothing: Double) throws(ExpertPlacementError) {
        guard unitPrice >= 0 && unitPrice.isFinite else {
            throw .invalidValue(field: "unitPrice", reason: "must be finite and ≥ 0, got \(unitPrice)")
        }
        guard range.lowerBound >= 1 && range.upperBound.isFinite else {
            throw .invalidValue(field: "range", reason: "must lie in [1, ∞), got \(range.lowerBound)…\(range.upperBound)")
        }
        guard smoothing >= 0 && smoothing < 1 else {
            throw .invalidValue(field: "smoothing", reason: "must be in [0, 1), got \(smoothing)")
        }
    }

    /// The payback horizon in intervals: `1 / (1 − ρ̄)` clamped to ``range``.
    public var intervals: Double {
        guard let rho = persistence, rho > 0 else { return range.lowerBound }
        if rho >= 1 - 1 / range.upperBound { return range.upperBound }
        return Swift.min(range.upperBound, Swift.max(range.lowerBound, 1 / (1 - rho)))
    }

    /// The move cost at the current horizon: `unitPrice / intervals`.
    public var price: Double { unitPrice / intervals }

    /// Scores the previous call's plan on `window` (whose `current` is the placement deployed
    /// now) against the placement it replaced, updates the persistence and returns the horizon
    /// for this call (also appended to ``history``).
    ///
    /// A window of another shape or topology than the previous call's starts the measurement
    /// afresh (the persistence is forgotten; the history is kept).
    ///
    /// - Throws: ``ExpertPlacementError`` when the deployed placement does not fit the window.
    public mutating func update(window: Problem) throws(ExpertPlacementError) -> Double {
        try update(window: window, deployedValue: previous == nil ? nil : Self.currentValue(on: window))
    }

    /// Records this call's decision: the placement it replaces (`window.current`) and the mean
    /// imbalance the deployed `plan` saves on `window`.
    public mutating func record(plan: Placement, on window: Problem) throws(ExpertPlacementError) {
        try record(plan: plan, on: window, replacedValue: Self.currentValue(on: window))
    }

    /// ``update(window:)`` given the mean imbalance of `window.current` on `window` (`nil`: none).
    private mutating func update(window: Problem, deployedValue: Double?) throws(ExpertPlacementError) -> Double {
        if let previous {
            let replaced = previous.replaced
            if replaced.topology != window.topology || replaced.experts != window.experts || replaced.layers != window.layers {
                // Another model or topology (as the regime memory does): what was measured on
                // the old one says nothing about this one.
                persistence = nil
            } else if previous.gain > 1e-12, let deployedValue {
                let saved = try Self.meanImbalance(replaced, on: window) - deployedValue
                let rho = Swift.max(-1, Swift.min(1, saved / previous.gain))
                persistence = persistence.map { smoothing * $0 + (1 - smoothing) * rho } ?? rho
            }
        }
        previous = nil
        let k = intervals
        history.append(k)
        return k
    }

    /// ``record(plan:on:)`` given the mean imbalance of `window.current` on `window` (`nil`: none).
    private mutating func record(plan: Placement, on window: Problem, replacedValue: Double?) throws(ExpertPlacementError) {
        guard let replaced = window.current, let replacedValue else { return }
        previous = Decision(replaced: replaced, gain: replacedValue - (try Self.meanImbalance(plan, on: window)))
    }

    /// One rebalance priced by `estimate` when there is one: ``update(window:)``, `plan` with the
    /// options' move cost set to ``price``, then ``record(plan:on:)``; without an estimate, `plan`
    /// with the options as they are. The one priced step of the simulated policy, the stateful
    /// ``Rebalancer``, the C API and `eplb rebalance --memory` (whose file keeps the estimate).
    public static func priced(_ estimate: inout PaybackEstimate?, window: Problem, options: RebalanceOptions,
                              plan: (RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan)
        throws(ExpertPlacementError) -> RebalancePlan {
        guard var current = estimate else { return try plan(options) }
        // The deployed placement's value on the window serves the update and the record.
        let deployedValue = try currentValue(on: window)
        _ = try current.update(window: window, deployedValue: deployedValue)
        var priced = options
        priced.moves.cost = current.price
        let made = try plan(priced)
        try current.record(plan: made.placement, on: window, replacedValue: deployedValue)
        estimate = current
        return made
    }

    /// The mean imbalance of `window.current` on `window` (`nil` without a current placement).
    static func currentValue(on window: Problem) throws(ExpertPlacementError) -> Double? {
        guard let current = window.current else { return nil }
        return try meanImbalance(current, on: window)
    }

    /// The mean over layers of the mean imbalance (the policy's objective) of `placement` on `problem`.
    static func meanImbalance(_ placement: Placement, on problem: Problem) throws(ExpertPlacementError) -> Double {
        let layers = try Metrics.evaluate(placement, on: problem).layers
        return layers.reduce(0) { $0 + $1.meanImbalance } / Double(Swift.max(1, layers.count))
    }
}
