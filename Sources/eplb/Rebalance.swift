import Foundation
import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats

struct Rebalance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebalance a deployed placement on a window of recent loads: re-place only the layers that need it, with few moves.",
        discussion: """
        The instance's loads are the window (episodes = iterations or steps); the deployed \
        placement is --current FILE (a placement file, e.g. the previous rebalance's output) or \
        the instance's "current". Per layer: score the deployed plan on the window; re-place the \
        layers a rule selects (--threshold, --relative-threshold; every layer when neither is \
        given) with --method, relabelled onto the deployed devices (experts that stay keep their \
        slots) and, with --move-cost or --max-moves, traded against moves by a local search from \
        the deployed plan; keep a new plan only when it changes something and gains at least \
        --min-gain; change at most --max-layers layers, the best gain per moved replica first. \
        Layers left alone keep their deployed row byte for byte.

        Output: the whole new placement (placement JSON v1) plus "transfers" (per layer, \
        {expert, source, destination, slot} turning the deployed plan into the new one; each \
        sender chosen so the busiest sends as little as possible), "priority" (changed layers in \
        the order to apply them), "recordedImbalance" (each layer's value after its last update, \
        read back from --current by the next call) and "rebalance" (per layer reason, moves, \
        before/after metrics, and with --expert-bytes/--bandwidth bytes and seconds).

        With --memory FILE, each call keeps the regime memory of eplb simulate's rebalance \
        policy in FILE (the last --regime-memory windows, default 8): from the second call on, a \
        second plan is made on all of them and deployed when the previous calls' plans, scored \
        on the windows that followed, say it serves better ("plannedOn": window or memory). \
        With --payback-unit-price, the memory also measures the move price, as eplb simulate \
        --payback-intervals auto does: each call's move cost is the unit price divided by how \
        many intervals (2 to 8) the previous call's gain lasted ("paybackIntervals" in the \
        output's solver.settings).

        Examples:
          eplb rebalance window.json --current deployed.json --output next.json
          eplb rebalance window.npy --axes tle --current deployed.json \\
              --relative-threshold 0.9 --min-gain 0.02
          eplb rebalance window.json --max-moves 32 --max-layers 8 \\
              --expert-bytes 88080384 --bandwidth 9e11 --format table
          eplb rebalance window.json --current deployed.json --drop-budget 0.05
          eplb rebalance window.npy --axes tle --current plan.json --memory mem.json
          eplb rebalance window.npy --axes tle --current plan.json --memory mem.json \\
              --payback-unit-price 0.002
        """
    )

    @OptionGroup var deployed: DeployedInputOptions

    @Option(help: "Method that re-places the selected layers: search (default), greedy, exact, auto or hierarchical.")
    var method: Method = .search

    @Option(help: "Objective scored and re-placed on (mean, worst, aggregate, peak-sum).")
    var objective = ObjectiveOption(.meanImbalance)

    @OptionGroup(title: "Which layers change") var rules: CherryPickOptions

    @OptionGroup(title: "Moves") var moves: MoveOptions

    @OptionGroup(title: "Plan for the loads to come") var planning: RebalancePlanningOptions

    @OptionGroup(title: "Token dropping") var drop: DropBudgetOption

    @Option(name: .customLong("memory"), help: ArgumentHelp(
        "Keep a regime memory in FILE across calls, as eplb simulate's rebalance policy does: the last windows, and a plan made on all of them deployed when the previous calls show it serves better (read when FILE exists, rewritten atomically; \"plannedOn\" in the output says which plan).",
        valueName: "file"))
    var memoryFile: String?

    @Option(name: .customLong("regime-memory"), parsing: .unconditional, help: ArgumentHelp("Windows the --memory file keeps (default 8; at least 2).", valueName: "N"))
    var regimeMemory: Int?

    @Option(name: .customLong("payback-unit-price"), parsing: .unconditional, help: ArgumentHelp(
        "With --memory: measure the move price across calls. λ₁ is the move cost at which a move pays for itself within one interval; each call charges λ₁/k, k (2 to 8 intervals) measured from how much of the previous call's gain lasted on this window. Kept in the --memory file and reused by later calls without the flag (given again, it changes λ₁ and keeps the measurement).",
        valueName: "λ₁"))
    var paybackUnitPrice: Double?

    @Option(name: .customLong("time-limit"), parsing: .unconditional, help: ArgumentHelp("Time budget in seconds for re-placing.", valueName: "seconds"))
    var timeLimit: Double?

    @Option(name: .customLong("expert-bytes"), parsing: .unconditional, help: ArgumentHelp("Bytes of one expert's weights (with --bandwidth: bytes and seconds per layer).", valueName: "B"))
    var expertBytes: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Bytes per second one device sends or receives.", valueName: "BW"))
    var bandwidth: Double?

    @Option(help: ArgumentHelp("Write the result to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    @Option(help: "Output format: json (default) or table.")
    var format: OutputFormat = .json

    @Flag(name: .customLong("omit-timing"), help: "Leave solver.wallSeconds out, so the output depends on the input alone.")
    var omitTiming = false

    func validate() throws {
        try refuseOutput(output, over: [("the window", deployed.input.instance)])
        try TimeLimit.check(timeLimit)
        if let n = regimeMemory {
            guard memoryFile != nil else { throw ValidationError("--regime-memory needs --memory FILE (where the windows are kept)") }
            guard n >= 2 else { throw ValidationError("--regime-memory must be at least 2, got \(n)") }
        }
        if memoryFile != nil && planning.strategy != "window" {
            throw ValidationError("--memory works with --strategy window only (a strategy decides itself what to plan on)")
        }
        if memoryFile == "-" { throw ValidationError("--memory needs a file name, not -") }
        if let memoryFile {
            for (flag, path) in [("--output", output), ("the window", deployed.input.instance), ("--current", deployed.current)]
            where path.map({ sameFile($0, memoryFile) }) == true {
                throw ValidationError("--memory and \(flag) name the same file (\(memoryFile)): the memory would overwrite it or be overwritten")
            }
        }
        if let paybackUnitPrice {
            guard memoryFile != nil else {
                throw ValidationError("--payback-unit-price needs --memory FILE (where the measurement is kept between calls)")
            }
            guard paybackUnitPrice >= 0 && paybackUnitPrice.isFinite else {
                throw ValidationError("--payback-unit-price must be a finite number ≥ 0, got \(paybackUnitPrice)")
            }
            if moves.moveCost != nil {
                throw ValidationError("--payback-unit-price sets each call's move cost: leave out --move-cost")
            }
        }
        if drop.dropBudget != nil && method == .exact && moves.policy.isActive {
            throw ValidationError("--drop-budget with --method exact takes no --move-cost or --max-moves (use --method search)")
        }
        if (expertBytes == nil) != (bandwidth == nil) {
            throw ValidationError("--expert-bytes and --bandwidth go together")
        }
        for (flag, value) in [("--expert-bytes", expertBytes), ("--bandwidth", bandwidth)] {
            if let value, !(value > 0 && value.isFinite) { throw ValidationError("\(flag) must be a positive number, got \(value)") }
        }
    }

    func run() throws {
        try reportingInputErrors {
            let ((name, window), recorded, recordedObjective, recordedStrategy) = try deployed.loadRecords()
            // Errors name the window's file (the instance's name is a label, kept for the table).
            let windowFile = deployed.input.instance.map(InputSource.displayName) ?? name
            try planning.checkAutoregressiveWindow(window.episodes, file: windowFile)
            if planning.strategy != "window" && window.episodeWeights.contains(where: { $0 != 1 }) {
                printWarning("\(windowFile): episodeWeights: ignored: --strategy \(planning.strategy) plans on loads made from every episode alike (only the window itself weighs them, also when auto chooses it)")
            }
            planning.warnIfAutoCannotChoose(windowLength: window.episodes, unit: "episodes")
            // With --strategy, the selected layers are planned (and scored) on the loads to come.
            let (problem, chosen): (Problem, String)
            do throws(ExpertPlacementError) {
                (problem, chosen) = try planning.planningProblem(window, objective: objective.objective)
            } catch {
                throw InputError(file: windowFile, planning: error)
            }
            var options = rules.options(objective: objective.objective, moves: moves.policy)
            if let timeLimit { options.timeLimit = TimeLimit.duration(timeLimit) }
            options.dropBudget = drop.dropBudget
            let record = recorded.map { $0.map { Optional($0) } }
            if rules.relativeThreshold != nil, record != nil, let recordedObjective, recordedObjective != objective.objective {
                printWarning("\(deployed.current.map(InputSource.displayName) ?? name) records each layer's \(recordedObjective.rawValue) (solver.objective), but this call scores \(objective.objective.rawValue): --relative-threshold compares the two as they are; pass --objective \(recordedObjective.commandLineName) to compare like with like")
            }
            // Records are values on the loads their call planned for: with another strategy they
            // are on another basis (a forecast's mean loads score ≈ 1.0, a window's per-episode
            // peaks more), and the relative rule would fire or stay quiet for that reason alone.
            let thisBasis = planning.parsed()?.name ?? "window"
            let recordedBasis = recordedStrategy.map { $0.hasPrefix("auto") ? "auto" : $0 } ?? "window"
            if rules.relativeThreshold != nil, record != nil, recordedBasis != thisBasis {
                printWarning("\(deployed.current.map(InputSource.displayName) ?? name) records each layer's value on the loads its call planned for (--strategy \(recordedBasis)), but this call scores \(thisBasis == "window" ? "the window" : "--strategy \(thisBasis)"): --relative-threshold compares the two as they are; pass --strategy \(recordedBasis) to compare like with like")
            }
            if rules.relativeThreshold != nil && record == nil && rules.threshold == nil {
                printWarning("\(deployed.current.map(InputSource.displayName) ?? name) records no recordedImbalance (a previous eplb rebalance writes it): --relative-threshold has no baseline, so no layer changes; this call's values become the records")
            }
            let plan: RebalancePlan
            var windowsKept = 0
            var payback: PaybackEstimate? = nil
            var memoryText: String? = nil
            if let memoryFile {
                // The memory has seen this window whatever is deployed, and the next call scores
                // both of this call's plans. It is written after the output, so that a call that
                // fails to deliver its plan never counts its window.
                var memory = RegimeMemory(windows: regimeMemory ?? 8)
                if FileManager.default.fileExists(atPath: memoryFile) {
                    (memory, payback) = try RegimeMemoryFile.decodeState(InputSource.read(memoryFile), file: memoryFile)
                }
                if let n = regimeMemory { memory.windows = n }
                windowsKept = memory.windows
                if let paybackUnitPrice {
                    if payback == nil { payback = PaybackEstimate(unitPrice: paybackUnitPrice) }
                    payback?.unitPrice = paybackUnitPrice
                } else if let unitPrice = payback?.unitPrice, moves.moveCost != nil {
                    throw InputError(file: memoryFile, field: "payback",
                                     reason: "this memory measures the move price (unit price \(unitPrice)): leave out --move-cost, or start a new memory file")
                }
                do throws(ExpertPlacementError) {
                    let solver = drop.solver(method)
                    plan = try PaybackEstimate.priced(&payback, window: problem, options: options) { options throws(ExpertPlacementError) in
                        try rebalance(problem, memory: &memory, recordedImbalance: record, solver: solver, options: options)
                    }
                } catch {
                    throw InputError(file: windowFile, error)
                }
                memoryText = try JSONWriter.string(RegimeMemoryFile.encode(memory, payback: payback))
            } else {
                do {
                    plan = try rebalance(problem, recordedImbalance: record, solver: drop.solver(method), options: options)
                } catch let error as ExpertPlacementError {
                    throw InputError(file: windowFile, error)
                }
            }
            // The new placement's metrics on the window, with moves against the deployed one.
            let metrics = PlacementMetrics(layers: plan.layers.map(\.after))
            let model = expertBytes.map { RebalanceFile.TransferModel(expertBytes: $0, bandwidth: bandwidth!) }
            let text: String
            switch format {
            case .json:
                var info = PlacementFile.SolverInfo(method: "rebalance/\(plan.method)", objective: plan.objective, status: plan.status,
                                                    wallSeconds: omitTiming ? nil : plan.wallTime.inSeconds, notes: plan.notes)
                moves.record(into: &info.settings)
                rules.record(into: &info.settings)
                drop.record(into: &info.settings)
                planning.record(into: &info.settings, chosen: chosen)
                if plan.plannedOn != nil { info.settings["regimeMemory"] = .number(Double(windowsKept)) }
                if let payback, let k = payback.history.last {
                    info.settings["unitMoveCost"] = .number(payback.unitPrice)
                    info.settings["paybackIntervals"] = .number(k)
                    info.settings["moveCost"] = .number(payback.unitPrice / k)
                }
                text = try JSONWriter.string(RebalanceFile.encode(plan, metrics: metrics, solver: info, transferModel: model))
            case .table:
                text = TableReport.rebalance(name: name, problem: problem, plan: plan, transferModel: model)
                    + (plan.plannedOn.map { "planned on the \($0 == .memory ? "remembered windows (regime memory)" : "window")\n" } ?? "")
                    + (payback.flatMap { p in p.history.last.map { k in
                        "move cost \(p.unitPrice / k) (unit price \(p.unitPrice) over a measured payback of \(k) intervals)\n" } } ?? "")
            }
            if let memoryFile, let memoryText {
                try OutputSink.checkWritable(memoryFile)
                try OutputSink.write(text, to: output ?? "-")
                try OutputSink.write(memoryText, to: memoryFile)
            } else {
                try OutputSink.write(text, to: output ?? "-")
            }
        }
    }
}

/// ``Rebalancer/plan(_:remembering:recordedImbalance:solver:options:)`` for a solver chosen at
/// run time.
func rebalance<Solver: LayerSolver>(_ problem: Problem, memory: inout RegimeMemory, recordedImbalance: [Double?]?,
                                    solver: Solver, options: RebalanceOptions) throws(ExpertPlacementError) -> RebalancePlan {
    try Rebalancer<Solver>.plan(problem, remembering: &memory, recordedImbalance: recordedImbalance, solver: solver,
                                options: options)
}

/// ``Rebalancer/plan(_:recordedImbalance:solver:options:)`` for a solver chosen at run time (the
/// existential is opened here, at the call).
func rebalance<Solver: LayerSolver>(_ problem: Problem, recordedImbalance: [Double?]?, solver: Solver,
                                    options: RebalanceOptions) throws -> RebalancePlan {
    try Rebalancer<Solver>.plan(problem, recordedImbalance: recordedImbalance, solver: solver, options: options)
}
