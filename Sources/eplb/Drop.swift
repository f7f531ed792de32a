import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats

/// `eplb drop`: what a per-device token capacity drops for a placement and its loads.
struct Drop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-device token capacity for a drop budget (or a capacity factor): tokens dropped and the capped peak.",
        discussion: """
        A device that receives more than a capacity c tokens in the all-to-all drops the excess. \
        Device loads are those of the metrics (replicas share their expert's tokens evenly). Per \
        layer and episode: --budget f gives the smallest c that drops at most the share f of the \
        tokens (exact: device loads sorted, piecewise-linear equation solved); --capacity-factor γ \
        sets c = γ × the mean device load and reports the share dropped. Each cut reports \
        capacity, total, dropped, droppedFraction, droppedPerDevice, imbalanceBefore (ρ) and \
        imbalanceAfter = min(max load, c) / mean, the capped step time relative to a perfectly \
        balanced step that drops nothing (the mean of the original load, so the two compare). \
        A layer's own keys are the cut of its summed episodes (weighted), plus \
        meanImbalanceAfter (the weighted mean over episodes: what solve --drop-budget \
        minimises) and "episodes"; "summary" has the mean and max over layers and \
        totalDroppedFraction.

        Examples:
          eplb drop instance.json --placement plan.json --budget 0.05
          eplb drop trace.json --placement plan.json --capacity-factor 1.2 \\
              --output drop.json
          eplb solve trace.json --drop-budget 0.05 --output plan.json
        """
    )

    @OptionGroup var input: InstanceOptions

    @Option(help: ArgumentHelp("The placement file (v1, or a bare {\"phy2log\": …}); '-' reads standard input.", valueName: "file"))
    var placement: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Share of each episode's tokens that may be dropped, in [0, 1), e.g. 0.05.", valueName: "f"))
    var budget: Double?

    @Option(name: .customLong("capacity-factor"), parsing: .unconditional, help: ArgumentHelp("Capacity as a multiple of the mean device load, e.g. 1.2 (1e-100 to 1e100).", valueName: "γ"))
    var capacityFactor: Double?

    @Option(help: ArgumentHelp("Write the result to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    func validate() throws {
        try refuseOutput(output, over: [("the instance", input.instance), ("the placement", placement)])
        switch (budget, capacityFactor) {
        case (nil, nil): throw ValidationError("give --budget f or --capacity-factor γ")
        case (_?, _?): throw ValidationError("give either --budget or --capacity-factor, not both")
        default: break
        }
        if let budget, !(budget >= 0 && budget < 1) { throw ValidationError("--budget must be in [0, 1), got \(budget)") }
        if let g = capacityFactor, !(g >= Limits.smallestMagnitude && g <= Limits.largestMagnitude) {
            throw ValidationError("--capacity-factor must be a number in [1e-100, 1e100], got \(g)")
        }
        if placement == "-" && input.instance == "-" {
            throw ValidationError("the instance and the placement cannot both come from standard input")
        }
    }

    var rule: DropRule { budget.map { .budget($0) } ?? .capacityFactor(capacityFactor!) }

    func run() throws {
        try reportingInputErrors {
            let (name, problem, layerIds) = try input.loadWithLayerIds(overrides: input.topology.overrides)
            let file = InputSource.displayName(placement)
            let plan = try PlacementFile.decodePlan(try InputSource.read(placement), file: file, of: problem, layerIds: layerIds,
                                                    instanceFile: input.instance.map(InputSource.displayName) ?? name)
            let layers: [LayerDrop]
            do throws(ExpertPlacementError) {
                layers = try DropAnalysis.analyse(plan, on: problem, rule: rule)
            } catch {
                throw InputError(file: file, error)
            }
            try OutputSink.write(JSONWriter.string(Self.json(layers, rule: rule, devices: problem.topology.devices)),
                                 to: output ?? "-")
        }
    }

    /// The output document (keys in docs/FORMATS.md, "Token drop").
    static func json(_ layers: [LayerDrop], rule: DropRule, devices: Int) -> JSONValue {
        var root = JSONObject()
        switch rule {
        case .budget(let f): root["budget"] = .number(f)
        case .capacityFactor(let g): root["capacityFactor"] = .number(g)
        }
        root["devices"] = .number(Double(devices))
        root["layers"] = .array(layers.map { layer in
            guard case .object(var o) = cutJSON(layer.summed) else { return .null }
            o["meanImbalanceAfter"] = .number(layer.meanImbalanceAfter)
            o["episodes"] = .array(layer.episodes.map(cutJSON))
            return .object(o)
        })
        var summary = JSONObject()
        let fields: [(String, (LayerDrop) -> Double)] = [
            ("capacity", { $0.summed.capacity }), ("droppedFraction", { $0.summed.droppedFraction }),
            ("imbalanceBefore", { $0.summed.imbalanceBefore }), ("imbalanceAfter", { $0.summed.imbalanceAfter }),
            ("meanImbalanceAfter", { $0.meanImbalanceAfter }),
        ]
        for (key, get) in fields {
            let values = layers.map(get)
            summary[key] = .object(JSONObject([("mean", .number(values.reduce(0, +) / Double(values.count))),
                                               ("max", .number(values.max()!))]))
        }
        summary["totalDroppedFraction"] = .number(DropAnalysis.totalDroppedFraction(layers))
        root["summary"] = .object(summary)
        return .object(root)
    }

    static func cutJSON(_ cut: DropCut) -> JSONValue {
        .object(JSONObject([
            ("capacity", .number(cut.capacity)), ("total", .number(cut.total)), ("dropped", .number(cut.dropped)),
            ("droppedFraction", .number(cut.droppedFraction)),
            ("droppedPerDevice", .array(cut.droppedPerDevice.map { .number($0) })),
            ("imbalanceBefore", .number(cut.imbalanceBefore)), ("imbalanceAfter", .number(cut.imbalanceAfter)),
        ]))
    }
}

/// `--drop-budget f` of `solve` and `rebalance`: the capped objective (``DropObjective``).
struct DropBudgetOption: ParsableArguments {
    @Option(name: .customLong("drop-budget"), parsing: .unconditional, help: ArgumentHelp(
        "Optimise the objective with every episode's peak capped at the capacity that drops at most the share f of its tokens (f in [0, 1); see eplb drop). Reported as metrics cappedImbalance.",
        valueName: "f"))
    var dropBudget: Double?

    func validate() throws {
        if let f = dropBudget, !(f >= 0 && f < 1) { throw ValidationError("--drop-budget must be in [0, 1), got \(f)") }
    }

    /// `solver` made drop-aware (`exact`: the exact drop-budget model); `solver` itself without the flag.
    func solver(_ method: Method, search: SearchSolver.Configuration = .init(), verbose: Bool = false) -> any LayerSolver {
        guard let f = dropBudget else { return method.solver(search: search, verbose: verbose) }
        if method == .exact { return DropExactSolver(budget: f, configuration: .init(verbose: verbose)) }
        return dropAware(method.solver(search: search, verbose: verbose), budget: f)
    }

    /// Fills the metrics' `cappedImbalance` (with the flag).
    func annotate(_ metrics: inout PlacementMetrics, of placement: Placement, on problem: Problem, objective: Objective) {
        guard let f = dropBudget else { return }
        DropObjective.annotate(&metrics, of: placement, on: problem, objective: objective, budget: f)
    }

    /// Records the flag in a `solver.settings` block.
    func record(into settings: inout JSONObject) {
        if let f = dropBudget { settings["dropBudget"] = .number(f) }
    }
}

/// ``DropAwareSolver`` over a solver chosen at run time (the existential is opened here).
func dropAware<Base: LayerSolver>(_ base: Base, budget: Double) -> any LayerSolver {
    DropAwareSolver(base: base, budget: budget)
}
