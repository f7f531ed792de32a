import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the metrics of a placement on an instance.",
        discussion: """
        Prints the metrics block of the placement format (docs/FORMATS.md): per layer \
        meanImbalance, worstImbalance, aggregateImbalance, peakSum (and moves when the instance \
        has a current placement), and their mean and max over layers.

        Any placement of the instance's shape is scored, including peers' plans that break the \
        rules, and a bare {"phy2log": [[…]]} file takes its topology from the instance (or from \
        --devices/--slots-per-device). The broken rules are listed (JSON: "violations"; table: \
        one line each) and the exit code is still 0. A layer in which an expert has no replica or \
        a slot holds an id outside 0..<E has no defined metrics (its tokens have nowhere to go): \
        it is reported as null (JSON) or "-" (table), and the summary covers the other layers. \
        A placement for another number of layers, devices, slots or experts is bad input (exit 2).

        Examples:
          eplb evaluate instance.json --placement plan.json
          eplb evaluate --example flashlb-toy --placement plan.json --format table
          eplb evaluate toy.json --placement peer.json --objective worst \\
              --format table
        """
    )

    @OptionGroup var input: InstanceOptions

    @Option(help: ArgumentHelp("The placement file (v1, or a bare {\"phy2log\": …}) to evaluate; '-' reads standard input.", valueName: "file"))
    var placement: String

    @Option(help: "Output format: json or table.")
    var format: OutputFormat = .json

    @Option(help: "Objective whose column the table marks with * (mean, worst, aggregate, peak-sum); the JSON is the same for every objective.")
    var objective = ObjectiveOption(.meanImbalance)

    func validate() throws {
        if placement == "-" && input.instance == "-" {
            throw ValidationError("the instance and the placement cannot both come from standard input")
        }
    }

    func run() throws {
        try reportingInputErrors {
            let (name, problem, layerIds) = try input.loadWithLayerIds(overrides: input.topology.overrides)
            let bytes = try InputSource.read(placement)
            let file = InputSource.displayName(placement)
            let plan = try PlacementFile.decodePlan(bytes, file: file, of: problem, layerIds: layerIds,
                                                    instanceFile: input.instance.map(InputSource.displayName) ?? name)
            let violations = Validation.violations(of: plan, topology: problem.topology, experts: problem.experts,
                                                   layers: problem.layers, limit: Int.max)
            if let shape = violations.first(where: { $0.rule == .shape }) {
                throw InputError(file: file, field: "phy2log", reason: shape.message)
            }
            // Layers whose metrics are undefined: an id outside 0..<E, or an expert without a replica.
            var unscored = Set<Int>()
            for v in violations where v.rule == .expertIdInRange || v.rule == .everyExpertPresent {
                if let l = v.layer { unscored.insert(l) }
            }
            var layers: [LayerMetrics?] = []
            layers.reserveCapacity(problem.layers)
            for l in 0..<problem.layers {
                if unscored.contains(l) {
                    layers.append(nil)
                    continue
                }
                do throws(ExpertPlacementError) {
                    layers.append(try Metrics.layerMetrics(plan, on: problem, layer: l))
                } catch {
                    throw InputError(file: file, error)
                }
            }
            let report = EvaluationReport(layers: layers, violations: violations)
            switch format {
            case .json:
                try OutputSink.write(JSONWriter.string(report.json), to: "-")
            case .table:
                try OutputSink.write(TableReport.evaluation(title: "\(file) on \(name)", problem: problem, report: report,
                                                            objective: objective.objective), to: "-")
            }
        }
    }
}

/// What `eplb evaluate` found: per-layer metrics (`nil` where undefined) and the broken rules.
struct EvaluationReport {
    var layers: [LayerMetrics?]
    var violations: [Violation]

    /// The metrics of the layers that could be scored (every layer when the plan is valid).
    var scored: PlacementMetrics { PlacementMetrics(layers: layers.compactMap { $0 }) }

    /// The metrics block (`layers`, `summary`), plus `violations` and `unscoredLayers` when the plan
    /// breaks rules. A valid plan gives exactly the metrics block of a placement file.
    var json: JSONValue {
        guard case .object(var o) = PlacementFile.metricsJSON(scored) else { return .null }
        guard !violations.isEmpty else { return .object(o) }
        if layers.contains(where: { $0 == nil }), case .array(let items)? = o["layers"] {
            var iterator = items.makeIterator()
            o["layers"] = .array(layers.map { $0 == nil ? .null : iterator.next()! })
            o["unscoredLayers"] = .array(layers.indices.filter { layers[$0] == nil }.map { .number(Double($0)) })
        }
        o["violations"] = .array(violations.map(Validate.json))
        return .object(o)
    }
}
