import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a placement file against the rules (and an instance).",
        discussion: """
        Rules: expert ids in range, every expert present in every layer, no expert twice on one \
        device, (with --instance) layers, slots and experts matching the instance, (with \
        --devices/--slots-per-device and no --instance) the devices and slots given, and (with \
        --current) the change from the deployed placement keeps every expert that stays on a \
        device in its slot. Exits 0 \
        when valid, 1 with each broken rule named (layer, device, expert) when not, 2 on bad input.

        Examples:
          eplb validate plan.json
          eplb validate plan.json --instance instance.json --devices 32 \\
              --slots-per-device 9
          eplb validate next.json --current deployed.json
          eplb validate plan.json --instance trace.npy --axes tle --devices 32 \\
              --slots-per-device 9
        """
    )

    @Argument(help: ArgumentHelp("The placement file (v1); '-' reads standard input.", valueName: "placement"))
    var placement: String

    @Option(help: ArgumentHelp("Also check the shape against this instance.", valueName: "instance"))
    var instance: String?

    @Option(help: ArgumentHelp("Also check the change from this deployed placement (a serving worker's rules): no expert lost, none twice on a device, an expert that stays on a device keeps its slot.", valueName: "file"))
    var current: String?

    @OptionGroup var topology: TopologyOptions

    @OptionGroup var axes: AxesOption

    @Option(help: "Output format: table (one line per broken rule) or json.")
    var format: OutputFormat = .table

    @Option(name: .customLong("max-violations"), parsing: .unconditional, help: "Report at most this many broken rules.")
    var maxViolations: Int = 100

    func validate() throws {
        if placement == "-" && (instance == "-" || current == "-") || instance == "-" && current == "-" {
            throw ValidationError("the placement and the instance cannot both come from standard input")
        }
        if instance == nil && axes.order != nil { throw ValidationError("--axes applies to the --instance file") }
        if instance == nil && (topology.nodes != nil || topology.groups != nil) {
            throw ValidationError("--nodes and --groups apply with --instance only (no rule of a placement depends on them)")
        }
        if maxViolations < 1 { throw ValidationError("--max-violations must be at least 1") }
    }

    func run() throws {
        let violations: [Violation] = try reportingInputErrors {
            var problem: Problem? = nil
            var instanceLayerIds: [Int]? = nil
            if let instance {
                let loaded = try InstanceFile.load(path: instance, overrides: topology.overrides, axes: axes.order)
                (problem, instanceLayerIds) = (loaded.problem, loaded.layerIds)
            }
            let file = InputSource.displayName(placement)
            let bytes = try InputSource.read(placement)
            // Without --instance, --devices/--slots-per-device are what the plan is checked against,
            // and its topology when the file has none (a peer's bare {"phy2log": …}).
            let flags = topology.overrides
            let fallback = problem?.topology ?? flags.topology
            let document = try PlacementFile.decodeDocument(bytes, file: file, experts: problem?.experts, topology: fallback)
            if let instance {
                try LayerIds.requireSame(document.layerIds, file: file, as: instanceLayerIds, of: InputSource.displayName(instance))
            }
            let plan = document.placement
            var found: [Violation]
            let pt = plan.topology
            if problem == nil, (flags.devices ?? pt.devices) != pt.devices || (flags.slotsPerDevice ?? pt.slotsPerDevice) != pt.slotsPerDevice {
                found = [Violation(rule: .shape, message:
                    "the placement is for \(pt.devices) devices × \(pt.slotsPerDevice) slots but --devices/--slots-per-device say \(flags.devices ?? pt.devices) × \(flags.slotsPerDevice ?? pt.slotsPerDevice)")]
            } else {
                found = Validation.violations(of: plan, topology: problem?.topology, experts: problem?.experts,
                                              layers: problem?.layers, limit: maxViolations)
            }
            // With --current, an expert twice on a device counts only in layers the change touches
            // (changeViolations decides): a layer left as deployed is the engine's business.
            if let current, found.allSatisfy({ $0.rule == .noDuplicateOnDevice }) {
                let deployedFile = InputSource.displayName(current)
                let deployedDocument = try PlacementFile.decodeDocument(try InputSource.read(current), file: deployedFile,
                                                                        experts: plan.experts)
                try LayerIds.requireSame(deployedDocument.layerIds, file: deployedFile, as: document.layerIds, of: file)
                let deployed = deployedDocument.placement
                found = Validation.changeViolations(of: plan, from: deployed, limit: maxViolations)
            }
            let text: String
            switch format {
            case .json:
                var o = JSONObject()
                o["valid"] = .bool(found.isEmpty)
                o["violations"] = .array(found.map(Validate.json))
                text = try JSONWriter.string(.object(o))
            case .table:
                if found.isEmpty {
                    text = "valid: \(plan.layers) layers × \(plan.slotsPerLayer) slots (\(plan.topology.devices) devices × \(plan.topology.slotsPerDevice)), \(plan.experts) experts\n"
                } else {
                    let more = found.count >= maxViolations ? " (first \(maxViolations) shown)" : ""
                    text = "invalid: \(found.count) broken rule(s)\(more)\n"
                        + found.map { "  [\($0.rule.rawValue)] \($0)" }.joined(separator: "\n") + "\n"
                }
            }
            try OutputSink.write(text, to: "-")
            return found
        }
        if !violations.isEmpty { throw ExitCode(1) }
    }

    /// One broken rule as JSON: `rule`, `message`, and `layer`, `device`, `expert` when known.
    static func json(_ v: Violation) -> JSONValue {
        var item = JSONObject()
        item["rule"] = .string(v.rule.rawValue)
        if let l = v.layer { item["layer"] = .number(Double(l)) }
        if let d = v.device { item["device"] = .number(Double(d)) }
        if let e = v.expert { item["expert"] = .number(Double(e)) }
        item["message"] = .string(v.message)
        return .object(item)
    }
}
