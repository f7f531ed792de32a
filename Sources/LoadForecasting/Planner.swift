public import ExpertPlacement

/// A placement planned at origin `t` and what it was planned on.
public struct PlannedPlacement: Sendable {
    /// The placement.
    public var placement: Placement
    /// The strategy that produced it: the strategy itself, or for `auto` the candidate it chose.
    public var chosen: String
}

/// Plans placements with a solver from the loads before an origin `t`, by a ``PlanningStrategy``.
///
/// The planning window is `[max(0, t − window), t)` of the trace; nothing at or after `t` is read
/// (`auto`'s inner backtest included).
public struct Planner<Solver: LayerSolver>: Sendable {
    /// The solver (``GreedySolver`` plans on the scenarios' summed load; ``SearchSolver``
    /// optimises the multi-episode objective in `options`).
    public var solver: Solver
    /// Solve options (objective, time limit, threads).
    public var options: SolveOptions
    /// The devices and slots.
    public var topology: Topology
    /// Episodes planned on, W ≥ 1.
    public var window: Int
    /// Episodes a plan serves, H ≥ 1 (the forecast horizon).
    public var horizon: Int
    /// The forecasters' shift threshold (see ``Forecaster/shiftThreshold``).
    public var shiftThreshold: Double = 0.1
    /// Origins of `auto`'s inner backtest (its most recent ones), at least 1.
    public var autoSteps: Int = 3

    /// Creates a planner.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` for a window, horizon or
    ///   `autoSteps` below 1, or a topology that is not valid.
    public init(solver: Solver, options: SolveOptions = SolveOptions(), topology: Topology, window: Int, horizon: Int,
                shiftThreshold: Double = 0.1, autoSteps: Int = 3) throws(ExpertPlacementError) {
        for (field, value) in [("window", window), ("horizon", horizon), ("autoSteps", autoSteps)] where value < 1 {
            throw .invalidValue(field: field, reason: "must be at least 1, got \(value)")
        }
        guard shiftThreshold.isFinite, shiftThreshold >= 0 else {
            throw .invalidValue(field: "shiftThreshold", reason: "must be a finite number ≥ 0, got \(shiftThreshold)")
        }
        self.solver = solver
        self.options = options
        self.topology = topology
        self.window = window
        self.horizon = horizon
        self.shiftThreshold = shiftThreshold
        self.autoSteps = autoSteps
    }

    /// The episodes (and their weights) `strategy` plans on at origin `t`.
    ///
    /// - Precondition: `1 ≤ t ≤ trace.episodes` (programmer error). `auto` is resolved by ``plan(_:trace:origin:current:)``, not here.
    public func planningLoads(_ strategy: PlanningStrategy, trace: LoadTensor,
                              origin t: Int) throws(ExpertPlacementError) -> (LoadTensor, ContiguousArray<Double>?) {
        precondition(t >= 1 && t <= trace.episodes, "Planner: origin \(t) outside 1...\(trace.episodes)")
        let past = trace.slice(max(0, t - window) ..< t)
        switch strategy {
        case .last:
            return (trace.slice(t - 1 ..< t), nil)
        case .window:
            return (past, nil)
        case .hedged(let k):
            return (try past.hedged(k: k), nil)
        case .forecast(let model, let includesWindow):
            let forecaster = try Forecaster(model: model, horizon: horizon, shiftThreshold: shiftThreshold)
            let predicted = try forecaster.forecast(past).loads
            guard includesWindow else { return (predicted, nil) }
            let both = LoadTensor.concatenating(past, predicted)
            var weights = ContiguousArray<Double>(repeating: 1, count: past.episodes)
            weights.append(contentsOf: repeatElement(Double(past.episodes) / Double(horizon), count: horizon))
            return (both, weights)
        case .auto:
            throw .unsupported(reason: "auto is resolved by plan(_:trace:origin:current:)")
        }
    }

    /// Plans at origin `t` from `trace[..<t]`.
    ///
    /// - Parameter current: the deployed placement; the solver relabels the plan onto it
    ///   (``SolveOptions/alignsToCurrent``) so that moves count only real changes.
    public func plan(_ strategy: PlanningStrategy, trace: LoadTensor, origin t: Int,
                     current: Placement? = nil) throws(ExpertPlacementError) -> PlannedPlacement {
        if case .auto(let candidates) = strategy {
            let choice = try choose(among: candidates, trace: trace, origin: t)
            var planned = try plan(choice, trace: trace, origin: t, current: current)
            planned.chosen = choice.name
            return planned
        }
        let (loads, weights) = try planningLoads(strategy, trace: trace, origin: t)
        let problem = try Problem(topology: topology, loads: loads, episodeWeights: weights, current: current)
        let report = try solver.solve(problem, options: options)
        return PlannedPlacement(placement: report.placement, chosen: strategy.name)
    }

    /// `auto`'s choice at origin `t`: the candidate with the lowest mean realised imbalance over the
    /// most recent inner origins `s = t − H, t − 2H, …` whose future `[s, s + H)` ends by `t` and whose
    /// window is full (or, when none is, the single origin `t − H`). Ties go to the earlier
    /// candidate; with no inner origin at all (`t ≤ H`), the first candidate.
    ///
    /// After a regime change the inner backtest only counts what it can learn about the new
    /// regime: when the shift detector (``Forecaster``'s, on the window `[t − W, t)`) fires in at
    /// least half the layers, the inner origins whose window holds nothing of the new regime (at or
    /// before the change point, the median of those layers' change points) are dropped. When none is
    /// left (the change is at most `H` episodes old), `auto` takes the first forecast candidate whose
    /// fit drops the old regime (`forecast` or `forecast+window` with `mean`, `trend` or `ar`), else
    /// `last` if it is a candidate, else the first candidate: on the old regime's origins the
    /// candidates that average the window win, and they are the ones that lose right after a switch.
    public func choose(among candidates: [PlanningStrategy], trace: LoadTensor,
                       origin t: Int) throws(ExpertPlacementError) -> PlanningStrategy {
        let plain = candidates.filter { if case .auto = $0 { false } else { true } }
        guard let first = plain.first else {
            throw .invalidValue(field: "auto", reason: "needs at least one candidate strategy other than auto")
        }
        var origins: [Int] = []
        var s = t - horizon
        while s >= max(1, min(window, t - horizon)) && origins.count < autoSteps {
            origins.append(s)
            s -= horizon
        }
        if origins.isEmpty { return first }
        if let change = regimeChange(trace: trace, origin: t) {
            origins.removeAll { $0 <= change }
            if origins.isEmpty { return Self.afterChange(plain) ?? first }
        }
        var best = first, bestScore = Double.infinity
        for candidate in plain {
            var score = 0.0
            for s in origins {
                let planned = try plan(candidate, trace: trace, origin: s)
                score += try Self.realizedMeanImbalance(planned.placement, topology: topology,
                                                        loads: trace.slice(s ..< s + horizon))
            }
            if score < bestScore { best = candidate; bestScore = score }
        }
        return best
    }

    /// The episode (an index of `trace`) at which the window before `t` changed regime: the median
    /// change point of the layers whose detector fires, when at least half of them do; else `nil`.
    func regimeChange(trace: LoadTensor, origin t: Int) -> Int? {
        let start = max(0, t - window), episodes = t - start, e = trace.experts
        guard episodes >= 4 else { return nil }
        var points: [Int] = []
        for l in 0..<trace.layers {
            let base = trace.layerOffset(l)
            let x = ContiguousArray(trace.values[base + start * e ..< base + t * e])
            if Forecaster.detectShift(x, episodes: episodes, experts: e, threshold: shiftThreshold).shifted {
                points.append(Forecaster.changePoint(x, episodes: episodes, experts: e))
            }
        }
        guard !points.isEmpty, 2 * points.count >= trace.layers else { return nil }
        points.sort()
        return start + points[(points.count - 1) / 2]
    }

    /// `auto`'s choice right after a regime change (see ``choose(among:trace:origin:)``).
    static func afterChange(_ candidates: [PlanningStrategy]) -> PlanningStrategy? {
        let dropsOldRegime = candidates.first {
            if case .forecast(let model, _) = $0 {
                switch model {
                case .last, .exponentialMovingAverage: false
                case .windowMean, .trendSeasonal, .autoregressive: true
                }
            } else { false }
        }
        return dropsOldRegime ?? candidates.first { if case .last = $0 { true } else { false } }
    }

    /// The mean over layers of the per-episode mean imbalance of `placement` on `loads`.
    public static func realizedMeanImbalance(_ placement: Placement, topology: Topology,
                                             loads: LoadTensor) throws(ExpertPlacementError) -> Double {
        let metrics = try Metrics.evaluate(placement, on: Problem(topology: topology, loads: loads))
        return metrics.summary { $0.meanImbalance }?.mean ?? 1
    }
}

extension LoadTensor {
    /// Episodes `range` of every layer, `[L][range.count][E]`.
    ///
    /// - Precondition: `range` is a non-empty part of `0..<episodes` (programmer error).
    public func slice(_ range: Range<Int>) -> LoadTensor {
        precondition(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= episodes,
                     "LoadTensor.slice: \(range) outside 0..<\(episodes)")
        var out = ContiguousArray<Double>()
        out.reserveCapacity(layers * range.count * experts)
        for l in 0..<layers {
            let base = layerOffset(l)
            out.append(contentsOf: values[base + range.lowerBound * experts ..< base + range.upperBound * experts])
        }
        return LoadTensor(layers: layers, episodes: range.count, experts: experts, checkedValues: out)
    }

    /// `a`'s episodes followed by `b`'s.
    ///
    /// - Precondition: same layers and experts (programmer error).
    static func concatenating(_ a: LoadTensor, _ b: LoadTensor) -> LoadTensor {
        precondition(a.layers == b.layers && a.experts == b.experts, "LoadTensor.concatenating: shapes differ")
        var out = ContiguousArray<Double>()
        out.reserveCapacity(a.values.count + b.values.count)
        for l in 0..<a.layers {
            out.append(contentsOf: a.values[a.layerOffset(l) ..< a.layerOffset(l) + a.episodes * a.experts])
            out.append(contentsOf: b.values[b.layerOffset(l) ..< b.layerOffset(l) + b.episodes * b.experts])
        }
        return LoadTensor(layers: a.layers, episodes: a.episodes + b.episodes, experts: a.experts, checkedValues: out)
    }

    /// One episode per layer of `max(0, μ_e + k·σ_e)` over the episodes (population σ).
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `hedgeK` when a load
    ///   comes out above ``Limits/largestMagnitude`` (a huge `k` overflows; every load a solver
    ///   sees is in range).
    func hedged(k: Double) throws(ExpertPlacementError) -> LoadTensor {
        var out = ContiguousArray<Double>(repeating: 0, count: layers * experts)
        let n = Double(episodes)
        for l in 0..<layers {
            let base = layerOffset(l)
            for e in 0..<experts {
                var sum = 0.0, sq = 0.0
                for t in 0..<episodes {
                    let v = values[base + t * experts + e]
                    sum += v
                    sq += v * v
                }
                let mu = sum / n
                let sigma = max(0, sq / n - mu * mu).squareRoot()
                let v = max(0, mu + k * sigma)
                guard v <= Limits.largestMagnitude else {
                    throw .invalidValue(field: "hedgeK", reason: "\(k) makes layer \(l) expert \(e)'s hedged load μ + k·σ = \(v), above 1e100: use a smaller K")
                }
                out[l * experts + e] = v
            }
        }
        return LoadTensor(layers: layers, episodes: 1, experts: experts, checkedValues: out)
    }
}

extension Planner {
    /// The problem a rebalance plans on for the loads to come: `problem`'s episodes are the
    /// history (the window), `strategy` turns them into the episodes to plan for (the last one, the
    /// window, μ + Kσ, a forecast of the next ``horizon`` episodes, …; `auto` picks one by a
    /// backtest on the window itself), and the deployed `current` is kept.
    ///
    /// `.window` returns `problem` unchanged (its own episode weights included). The planner's
    /// ``window`` should be `problem.episodes`.
    ///
    /// - Returns: the problem and the strategy used (`auto`'s choice when `strategy` is `auto`).
    /// - Throws: ``ExpertPlacementError`` from the forecast (a window too short for the model, say).
    public func planningProblem(_ strategy: PlanningStrategy,
                                window problem: Problem) throws(ExpertPlacementError) -> (problem: Problem, chosen: PlanningStrategy) {
        var chosen = strategy
        if case .auto(let candidates) = strategy {
            chosen = try choose(among: candidates, trace: problem.loads, origin: problem.episodes)
        }
        if chosen == .window { return (problem, chosen) }
        let (loads, weights) = try planningLoads(chosen, trace: problem.loads, origin: problem.episodes)
        let planned = try Problem(topology: problem.topology, loads: loads, episodeWeights: weights, current: problem.current)
        return (planned, chosen)
    }
}

extension PlanningStrategy {
    /// The problem a rebalance of `window` plans on for this strategy
    /// (``Planner/planningProblem(_:window:)`` with the window as the whole history, forecasts
    /// of `horizon` episodes, and `auto` choosing by one inner origin with greedy plans scored on
    /// `objective`), and the strategy used.
    ///
    /// - Throws: ``ExpertPlacementError`` on a bad horizon or threshold, a window of at most
    ///   ``autoregressiveOrder`` episodes (an autoregression with no data row to fit), or from
    ///   the forecast.
    public func rebalanceProblem(window: Problem, objective: Objective, horizon: Int,
                                 shiftThreshold: Double) throws(ExpertPlacementError) -> (problem: Problem, chosen: PlanningStrategy) {
        if let p = autoregressiveOrder, window.episodes <= p {
            throw .invalidValue(field: "order", reason: Self.autoregressionTooShort(order: p, window: window.episodes))
        }
        let planner = try Planner(solver: GreedySolver(), options: SolveOptions(objective: objective),
                                  topology: window.topology, window: window.episodes, horizon: horizon,
                                  shiftThreshold: shiftThreshold, autoSteps: 1)
        return try planner.planningProblem(self, window: window)
    }
}
