import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the metrics of a placement on an instance.",
        discussion: """
        Prints the metrics block of INTERFACE.md §2: per layer meanImbalance, worstImbalance, \
        aggregateImbalance, peakSum (and moves when the instance has a current placement), and \
        their mean and max over layers. Placements that break the rules (two replicas of an \
        expert on one device) are still evaluated; run eplb validate to see the broken rules.

        Examples:
          eplb evaluate instance.json --placement plan.json
          eplb evaluate --example flashlb-toy --placement plan.json --format table
        """
    )

    @OptionGroup var input: InstanceOptions

    @Option(help: ArgumentHelp("The placement file (v1) to evaluate; '-' reads standard input.", valueName: "file"))
    var placement: String

    @Option(help: "Output format: json or table.")
    var format: OutputFormat = .json

    @Option(help: "Objective whose value the table highlights (mean, worst, aggregate, peak-sum).")
    var objective = ObjectiveOption(.meanImbalance)

    func validate() throws {
        if placement == "-" && input.instance == "-" {
            throw ValidationError("the instance and the placement cannot both come from standard input")
        }
    }

    func run() throws {
        try reportingInputErrors {
            let (name, problem) = try input.load()
            let bytes = try InputSource.read(placement)
            let file = InputSource.displayName(placement)
            let plan = try PlacementFile.decode(bytes, file: file, experts: problem.experts)
            let metrics: PlacementMetrics
            do throws(ExpertPlacementError) {
                metrics = try Metrics.evaluate(plan, on: problem, objective: objective.objective)
            } catch {
                throw InputError(file: file, error)
            }
            switch format {
            case .json:
                try OutputSink.write(JSONWriter.string(PlacementFile.metricsJSON(metrics)), to: "-")
            case .table:
                try OutputSink.write(TableReport.metrics(title: "\(file) on \(name)", problem: problem,
                                                         metrics: metrics), to: "-")
            }
        }
    }
}
