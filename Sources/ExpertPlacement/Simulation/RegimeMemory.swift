/// The memory of an online rebalancing policy: the windows it has seen, and which of two plans
/// — one made on the last window alone, one made on every remembered window — served better.
///
/// ## Why
/// Serving workloads switch between regimes (task mixes, prompt styles, time of day) and switch
/// *back*. A plan made on the last window is right while the regime holds and wrong from the next
/// switch on; a plan made on all regimes seen is a little worse in each regime and far better
/// when they alternate. Which one pays is a property of the workload, and it is observable: at
/// every call, both plans of the previous call are scored on the window that has just been served.
///
/// ## Method
/// - Each window is remembered as ``blocksPerWindow`` consecutive sums of its iterations, `[L][B][E]`
///   (`B·L·E` values per window; the oldest window is dropped beyond ``windows``).
/// - The *memory problem* has the remembered blocks as episodes: the newest window's blocks
///   share ``newestShare`` of the weight, the older windows' blocks the rest, equally.
/// - Scores: at each call, each of the previous call's two plans is evaluated on the new window
///   (its mean over layers of `meanImbalance`) and added to a running score discounted by
///   ``discount`` per call. The memory plan is deployed only when its score is strictly lower;
///   until there is evidence (the first two calls, when both plans coincide) the window plan is.
///
/// The memory costs one more plan per call (when at least two windows are remembered) and two
/// metric passes over the window. Deterministic: nothing depends on time or threads.
///
/// Measured with `eplb simulate` on regime traces from real recordings: see the rebalancing guide.
public struct RegimeMemory: Sendable {
    /// The plan to deploy at a call.
    public enum Choice: String, Sendable, Equatable {
        /// The plan made on the last window.
        case window
        /// The plan made on the remembered windows.
        case memory
    }

    /// Windows remembered, the newest included (≥ 2 to take effect; 0 or 1 turns the memory off).
    public var windows: Int
    /// Weight of the newest window in the memory problem, in (0, 1]. Default 0.5.
    public var newestShare: Double
    /// Consecutive blocks each window is summed into (≥ 1). Default 8.
    public var blocksPerWindow: Int
    /// Factor applied to the running scores at every call, in [0, 1]. Default 0.5.
    public var discount: Double

    /// The remembered windows, oldest first, each `[L][B][E]`.
    public private(set) var remembered: [LoadTensor] = []
    /// Discounted sums of the realised mean imbalance of the previous plans: window plan, memory plan.
    public private(set) var scores: (window: Double, memory: Double) = (0, 0)
    /// The plan deployed at each call so far, in call order.
    public private(set) var choices: [Choice] = []
    /// The previous call's plans (window, memory), scored at the next call (`nil` before the
    /// first call and after one that failed).
    public private(set) var previousPlans: (window: Placement, memory: Placement)? = nil

    /// Creates a memory (defaults as documented on the properties).
    public init(windows: Int, newestShare: Double = 0.5, blocksPerWindow: Int = 8, discount: Double = 0.5) {
        self.windows = windows
        self.newestShare = newestShare
        self.blocksPerWindow = blocksPerWindow
        self.discount = discount
    }

    /// Restores a memory's state (as `eplb rebalance --memory` reads it back from its file).
    ///
    /// - Throws: ``ExpertPlacementError`` naming the part that is inconsistent: settings out of
    ///   range, remembered windows of different layer or expert counts or with more than
    ///   `blocksPerWindow` blocks, scores that are not finite and ≥ 0, or previous plans that do
    ///   not fit the remembered windows or each other.
    public init(windows: Int, newestShare: Double = 0.5, blocksPerWindow: Int = 8, discount: Double = 0.5,
                remembered: [LoadTensor], scores: (window: Double, memory: Double), choices: [Choice],
                previousPlans: (window: Placement, memory: Placement)?) throws(ExpertPlacementError) {
        self.init(windows: windows, newestShare: newestShare, blocksPerWindow: blocksPerWindow, discount: discount)
        try validate()
        if let first = remembered.first {
            for (i, t) in remembered.enumerated() {
                guard t.layers == first.layers && t.experts == first.experts else {
                    throw .shapeMismatch(field: "remembered[\(i)]", reason: "has \(t.layers) layers × \(t.experts) experts, "
                                         + "the first window \(first.layers) × \(first.experts)")
                }
                guard t.episodes <= blocksPerWindow else {
                    throw .invalidValue(field: "remembered[\(i)]", reason: "has \(t.episodes) blocks, more than blocksPerWindow \(blocksPerWindow)")
                }
            }
        }
        for (name, v) in [("scores.window", scores.window), ("scores.memory", scores.memory)] where !(v.isFinite && v >= 0) {
            throw .invalidValue(field: name, reason: "must be a finite number ≥ 0, got \(v)")
        }
        if let (w, m) = previousPlans {
            guard !remembered.isEmpty else {
                throw .invalidValue(field: "previousPlans", reason: "are set but no window is remembered")
            }
            guard w.topology == m.topology && w.layers == m.layers && w.experts == m.experts else {
                throw .shapeMismatch(field: "previousPlans", reason: "the window and memory plans differ in shape or topology")
            }
            if let first = remembered.first, w.layers != first.layers || w.experts != first.experts {
                throw .shapeMismatch(field: "previousPlans", reason: "plans of \(w.layers) layers × \(w.experts) experts "
                                     + "for windows of \(first.layers) × \(first.experts)")
            }
        }
        self.remembered = remembered
        self.scores = scores
        self.choices = choices
        self.previousPlans = previousPlans
    }

    /// Whether the memory takes effect (``windows`` ≥ 2).
    public var isActive: Bool { windows >= 2 }

    /// Checks the settings.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the setting.
    public func validate() throws(ExpertPlacementError) {
        guard windows >= 0 else { throw .invalidValue(field: "regimeMemory", reason: "is \(windows); must be ≥ 0") }
        guard newestShare > 0 && newestShare <= 1 else {
            throw .invalidValue(field: "regimeMemory.newestShare", reason: "is \(newestShare); must be in (0, 1]")
        }
        guard blocksPerWindow >= 1 else {
            throw .invalidValue(field: "regimeMemory.blocksPerWindow", reason: "is \(blocksPerWindow); must be ≥ 1")
        }
        guard discount >= 0 && discount <= 1 else {
            throw .invalidValue(field: "regimeMemory.discount", reason: "is \(discount); must be in [0, 1]")
        }
    }

    /// One call with the memory, as ``RebalancePolicy`` and ``Rebalancer`` make it: the previous
    /// plans are scored on `window` and the window is remembered (``observe(_:)``); `planner` plans
    /// on the window, then (from the second window on) on the ``memoryProblem(for:)``; the plan the
    /// scores favour is returned (``choose(window:memory:)``) with where it was planned. Before
    /// the memory holds two windows, the window plan is returned as `.window`.
    ///
    /// `planner` is told which plan it makes (`.window` with `window` itself, so a caller may plan
    /// on a weighted copy of it; `.memory` with the memory problem).
    ///
    /// - Throws: ``ExpertPlacementError`` from the settings (``validate()``), from ``observe(_:)``
    ///   or from `planner`.
    public mutating func step(_ window: Problem,
                              planner: (Problem, Choice) throws(ExpertPlacementError) -> RebalancePlan)
        throws(ExpertPlacementError) -> (plan: RebalancePlan, plannedOn: Choice) {
        try validate()
        try observe(window)
        let onWindow = try planner(window, .window)
        guard let problem = try memoryProblem(for: window) else {
            _ = choose(window: onWindow.placement, memory: onWindow.placement)
            return (onWindow, .window)
        }
        let onMemory = try planner(problem, .memory)
        switch choose(window: onWindow.placement, memory: onMemory.placement) {
        case .window: return (onWindow, .window)
        case .memory: return (onMemory, .memory)
        }
    }

    /// Scores the previous call's plans on `window` (the iterations just served) and remembers it.
    ///
    /// A window whose shape differs from the remembered ones (another layer or expert count) or
    /// whose topology differs from the previous plans' clears the memory and the scores.
    ///
    /// - Throws: ``ExpertPlacementError`` when a previous plan does not fit the window.
    /// - Complexity: O(L·(W·P + W·E)).
    public mutating func observe(_ window: Problem) throws(ExpertPlacementError) {
        let reshaped = remembered.last.map { $0.layers != window.layers || $0.experts != window.experts } ?? false
        if reshaped || previousPlans.map({ $0.window.topology != window.topology }) ?? false {
            remembered.removeAll()
            previousPlans = nil
            scores = (0, 0)
        }
        if let (windowPlan, memoryPlan) = previousPlans {
            let w = try Self.meanImbalance(windowPlan, on: window)
            let m = memoryPlan == windowPlan ? w : try Self.meanImbalance(memoryPlan, on: window)
            scores = (discount * scores.window + w, discount * scores.memory + m)
        }
        previousPlans = nil
        remembered.append(try Self.blocks(of: window.loads, count: blocksPerWindow))
        if remembered.count > Swift.max(1, windows) { remembered.removeFirst(remembered.count - Swift.max(1, windows)) }
    }

    /// The problem to plan the memory plan on: the remembered blocks as episodes, weighted as
    /// described in the type's Method, with `window`'s topology and deployed placement; `nil`
    /// while fewer than two windows are remembered (the plan would be the window plan).
    ///
    /// - Throws: ``ExpertPlacementError`` when the blocks do not form a valid problem.
    public func memoryProblem(for window: Problem) throws(ExpertPlacementError) -> Problem? {
        guard isActive, remembered.count >= 2 else { return nil }
        let l = window.layers, e = window.experts
        let total = remembered.reduce(0) { $0 + $1.episodes }
        let newest = remembered[remembered.count - 1].episodes, older = total - newest
        var values = ContiguousArray<Double>()
        values.reserveCapacity(l * total * e)
        for layer in 0..<l {
            for t in remembered {
                let start = t.layerOffset(layer)
                values.append(contentsOf: t.values[start ..< start + t.episodes * e])
            }
        }
        var weights = ContiguousArray<Double>(repeating: (1 - newestShare) / Double(older), count: older)
        weights.append(contentsOf: repeatElement(newestShare / Double(newest), count: newest))
        if newestShare == 1 { for i in 0..<older { weights[i] = 0 } }
        let loads = try LoadTensor(layers: l, episodes: total, experts: e, values: values)
        return try Problem(topology: window.topology, loads: loads, episodeWeights: weights, current: window.current)
    }

    /// Remembers this call's two plans (pass the window plan twice when there is no memory plan)
    /// and returns the one to deploy.
    public mutating func choose(window windowPlan: Placement, memory memoryPlan: Placement) -> Choice {
        previousPlans = (windowPlan, memoryPlan)
        let choice: Choice = scores.memory < scores.window ? .memory : .window
        choices.append(choice)
        return choice
    }

    /// Mean over layers of the per-iteration mean imbalance of `placement` on `window`.
    static func meanImbalance(_ placement: Placement, on window: Problem) throws(ExpertPlacementError) -> Double {
        let metrics = try Metrics.evaluate(placement, on: window)
        return metrics.summary { $0.meanImbalance }?.mean ?? 0
    }

    /// `loads` summed over `count` consecutive blocks of episodes (fewer when there are fewer
    /// episodes), `[L][B][E]`.
    static func blocks(of loads: LoadTensor, count: Int) throws(ExpertPlacementError) -> LoadTensor {
        let l = loads.layers, t = loads.episodes, e = loads.experts
        let b = Swift.min(Swift.max(1, count), t)
        var values = ContiguousArray<Double>(repeating: 0, count: l * b * e)
        values.withUnsafeMutableBufferPointer { out in
            loads.values.withUnsafeBufferPointer { input in
                for layer in 0..<l {
                    let source = loads.layerOffset(layer)
                    for episode in 0..<t {
                        // Block k holds episodes [k·T/B, (k+1)·T/B).
                        let block = episode * b / t
                        let row = (layer * b + block) * e, from = source + episode * e
                        for x in 0..<e { out[row + x] += input[from + x] }
                    }
                }
            }
        }
        return try LoadTensor(layers: l, episodes: b, experts: e, values: values)
    }
}
