import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats

struct Pareto: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The moves-vs-balance frontier of rebalancing a deployed placement, per layer and for the model.",
        discussion: """
        For each layer, a full re-solve of the window (--method, relabelled onto the deployed \
        devices) needs M moves; for each budget fraction f the migration-aware search with a cap \
        of ⌈f·M⌉ moves gives a point (moves, value). The model's points sum the moves and average \
        the values; "gapClosed" is the share of the gap between the deployed plan's mean value and \
        the re-solve's that a point closes (null when the re-solve is no better than the deployed \
        plan). A larger budget never shows a worse plan: each point keeps the best plan of the \
        budgets up to its own. The deployed placement is --current FILE or the instance's \
        "current".

        Examples:
          eplb pareto window.json --current deployed.json --format table
          eplb pareto window.json --fractions 0,0.1,0.3,1 --objective worst
        """
    )

    @OptionGroup var deployed: DeployedInputOptions

    @Option(help: "Method of the full re-solve: search (default), greedy, exact, auto or hierarchical.")
    var method: Method = .search

    @Option(help: "Objective (mean, worst, aggregate, peak-sum).")
    var objective = ObjectiveOption(.meanImbalance)

    @Option(parsing: .unconditional, help: ArgumentHelp("Budgets as fractions of each layer's re-solve moves, comma-separated.", valueName: "list"))
    var fractions = "0,0.05,0.1,0.2,0.3,0.5,0.75,1"

    @Option(name: .customLong("time-limit"), parsing: .unconditional, help: ArgumentHelp(
        "Seconds for the full re-solve (default: the method's own, 60 s for exact, 10 s for auto).", valueName: "seconds"))
    var timeLimit: Double?

    @Option(help: ArgumentHelp("Write the result to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    @Option(help: "Output format: json (default) or table.")
    var format: OutputFormat = .json

    var fractionList: [Double] { fractions.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        try refuseOutput(output, over: [("the window", deployed.input.instance), ("--current", deployed.current)])
        try TimeLimit.check(timeLimit)
        let parts = fractions.split(separator: ",", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.count == fractionList.count else {
            throw ValidationError("--fractions: expected comma-separated numbers in [0, 1], got '\(fractions)'")
        }
        if let bad = fractionList.first(where: { !($0 >= 0 && $0 <= 1) }) {
            throw ValidationError("--fractions: \(bad) is outside [0, 1]")
        }
    }

    func run() throws {
        try reportingInputErrors {
            let ((name, problem), _) = try deployed.load()
            var options = SolveOptions(objective: objective.objective)
            if let timeLimit { options.timeLimit = TimeLimit.duration(timeLimit) }
            let result = try ParetoFrontier.compute(problem, solver: method.solver(), options: options, fractions: fractionList)
            let text: String
            switch format {
            case .json:
                func point(_ p: ParetoFrontier.Point) -> JSONObject {
                    JSONObject([("cap", .number(Double(p.cap))), ("fraction", .number(p.fraction)),
                                ("moves", .number(Double(p.moves))), ("value", .number(p.value))])
                }
                var root = JSONObject()
                root["objective"] = .string(result.objective.rawValue)
                root["deployed"] = .number(result.deployed)
                root["resolved"] = .number(result.resolved)
                root["resolveMoves"] = .number(Double(result.resolveMoves))
                root["model"] = .array(result.model.map { p in
                    var o = point(p)
                    o["gapClosed"] = result.gapClosed(p).map(JSONValue.number) ?? .null
                    return .object(o)
                })
                root["layers"] = .array(result.layers.map { layer in
                    .object(JSONObject([("deployed", .number(layer.deployed)), ("resolved", .number(layer.resolved)),
                                        ("resolveMoves", .number(Double(layer.resolveMoves))),
                                        ("points", .array(layer.points.map { .object(point($0)) }))]))
                })
                text = try JSONWriter.string(.object(root))
            case .table:
                var out = "eplb pareto: \(method.rawValue) re-solve on \(TerminalText.sanitized(name)), objective \(result.objective.commandLineName)\n"
                out += "  deployed \(TableReport.fixed(result.deployed, 4)), re-solved \(TableReport.fixed(result.resolved, 4)) with \(result.resolveMoves) moves\n\n"
                let rows = result.model.map { p in
                    [TableReport.fixed(p.fraction * 100, 0) + "%", String(p.moves), TableReport.fixed(p.value, 4),
                     result.gapClosed(p).map { TableReport.fixed($0 * 100, 1) + "%" } ?? "—"]
                }
                let header = ["budget", "moves", result.objective.commandLineName, "gap closed"]
                out += TableReport.grid(header, rows)
                if result.gapClosed(result.model[0]) == nil {
                    out += "(no gap to close: the re-solve is no better than the deployed plan)\n"
                }
                text = out
            }
            try OutputSink.write(text, to: output ?? "-")
        }
    }
}
