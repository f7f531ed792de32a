import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats

struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute a placement (replica counts + slots) for every layer.",
        discussion: """
        Writes a placement JSON v1 (phy2log, logcnt, log2phy, metrics, solver) with sorted keys, \
        so equal inputs give byte-equal files (use --omit-timing to drop solver.wallSeconds too). \
        With no INSTANCE it solves a bundled example and prints a table. A 3-D .npy load array \
        needs --axes: lte for (layers, episodes, experts), tle for the engines' (iterations, layers, \
        experts); 2-D (L,E) and 1-D (E,) arrays need none.

        Methods:
          search        (default) joint replica allotment and placement: pruned tree search with \
        look-ahead, vector-aware greedy placement, iterated local search, on the exact multi-episode \
        objective; reports a proven lower bound and the gap per layer; --anneal-moves N adds \
        simulated annealing (for several noisy episodes: tighter plans on the episodes given)
          greedy        min-max replica allotment + largest-first placement (DeepSeek/vLLM/SGLang \
        "global" policy, never two replicas of an expert on one device)
          exact         proven optimum (GLPK, warm-started by search) on small instances: \
        branch-and-price inside a search on the peak for aggregate/worst/one episode; over several \
        episodes a combinatorial branch and bound first, then for mean/peak-sum each episode's own \
        optimum as a floor and a compact MILP (replica counts and placement jointly; 4 episodes of up \
        to ~20 experts × 6 devices × 4 slots in seconds); --max-moves/--move-cost add a \
        migration term against the instance's "current" placement (small instances); --time-limit \
        (default 60 s) stops it with the best plan and the bound reached
          auto          search for every layer, then exact polishing (proofs where the instance is \
        small enough) while --time-limit (default 10 s) lasts; for mean/peak-sum over several \
        episodes on all but tiny layers, simulated annealing of the search's plan first (half the \
        layer's share; all of it when the layer is too large for the exact models)
          hierarchical  DeepSeek EPLB's node-aware policy (groups → nodes → devices), vLLM's and \
        SGLang's default on multi-node DeepSeek-V3; like DeepSeek's rebalance_experts it uses the \
        global policy when the groups do not divide evenly over the nodes (a note says so)

        Only hierarchical uses --nodes and --groups; the other methods place over all devices \
        (the table notes it when nodes or groups are set).

        With a deployed placement ("current" in the instance) every plan is relabelled onto it \
        (devices matched by experts in common, shared experts kept in their slots: same loads, \
        fewest moves). --move-cost λ minimises objective + λ·moves per layer and --max-moves N \
        caps the moves per layer: every method's plan is the target of a migration-aware local \
        search from the deployed placement (exact: its migration MIP).

        Examples:
          eplb solve
          eplb solve --example flashlb-toy
          eplb solve instance.json --output plan.json
          eplb solve trace.json --objective worst --time-limit 0.5 --risk-aware
          eplb solve trace.json --devices 6 --slots-per-device 11 --format table
          eplb solve small.json --method exact --objective aggregate --max-moves 4
          eplb solve deployed.json --move-cost 0.001
          eplb solve trace.json --drop-budget 0.05
          cat loads.npy | eplb solve - --devices 32 --slots-per-device 9
          eplb solve trace.npy --axes tle --devices 32 --slots-per-device 9
        """
    )

    @OptionGroup var input: InstanceOptions

    @Option(help: "Placement method: search (default), exact, auto, greedy or hierarchical.")
    var method: Method = .search

    @Option(help: "Objective to report bounds and gaps for (mean, worst, aggregate, peak-sum).")
    var objective = ObjectiveOption(.meanImbalance)

    @Option(name: .customLong("time-limit"), parsing: .unconditional, help: ArgumentHelp("Time budget in seconds: search stops with its best plan; exact (default 60) and auto (default 10) stop with the best plan and the bound reached.", valueName: "seconds"))
    var timeLimit: Double?

    @OptionGroup(title: "Moves from the deployed placement (the instance's \"current\")") var moves: MoveOptions

    @OptionGroup(title: "Search tuning (--method search)") var tuning: SearchTuning

    @OptionGroup(title: "Token dropping") var drop: DropBudgetOption

    @Option(help: ArgumentHelp("Write the placement to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    @Option(help: "Output format: json (the placement file) or table (a per-layer summary for people). Default: json, except table for a bundled example printed to standard output.")
    var format: OutputFormat?

    @Flag(name: .customLong("omit-timing"), help: "Leave solver.wallSeconds out, so the output depends on the input alone.")
    var omitTiming = false

    @Flag(help: "Print the exact solver's progress (one line per probe of the peak) and GLPK's messages on standard error (--method exact and auto only).")
    var verbose = false

    func validate() throws {
        try refuseOutput(output, over: [("the instance", input.instance)])
        if method != .search && method != .auto && tuning.isSet {
            throw ValidationError("the search tuning options apply to --method search and auto only")
        }
        if verbose && method != .exact && method != .auto {
            throw ValidationError("--verbose applies to --method exact and auto only (the exact solver's progress)")
        }
        try TimeLimit.check(timeLimit)
        if drop.dropBudget != nil && method == .exact && moves.policy.isActive {
            throw ValidationError("--drop-budget with --method exact takes no --move-cost or --max-moves (use --method search)")
        }
    }

    func run() throws {
        try reportingInputErrors {
            let (name, problem, layerIds) = try input.loadWithLayerIds(overrides: input.topology.overrides)
            var options = SolveOptions(objective: objective.objective)
            options.moves = moves.policy
            if let timeLimit { options.timeLimit = TimeLimit.duration(timeLimit) }
            let report = try drop.solver(method, search: tuning.configuration, verbose: verbose).solve(problem, options: options)
            var metrics = try Metrics.evaluate(report.placement, on: problem, objective: objective.objective,
                                               lowerBounds: report.lowerBounds)
            drop.annotate(&metrics, of: report.placement, on: problem, objective: objective.objective)
            let text: String
            switch format ?? (input.usesExample && output == nil ? .table : .json) {
            case .json:
                var info = PlacementFile.SolverInfo(report, includeTiming: !omitTiming)
                moves.record(into: &info.settings)
                drop.record(into: &info.settings)
                text = try JSONWriter.string(PlacementFile.encode(report.placement, metrics: metrics, solver: info, layerIds: layerIds))
            case .table:
                text = TableReport.solve(name: name, problem: problem, report: report, metrics: metrics)
            }
            try OutputSink.write(text, to: output ?? "-")
        }
    }
}
