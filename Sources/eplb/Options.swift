import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

/// `--devices/--slots-per-device/--nodes/--groups`: override the instance file's topology.
struct TopologyOptions: ParsableArguments {
    @Option(help: "Number of devices (EP ranks); overrides the file's topology.devices.")
    var devices: Int?

    @Option(name: .customLong("slots-per-device"), help: "Expert slots per device; overrides topology.slotsPerDevice.")
    var slotsPerDevice: Int?

    @Option(help: "Number of nodes (devices must divide evenly); overrides topology.nodes.")
    var nodes: Int?

    @Option(help: "Number of expert groups (experts must divide evenly); overrides topology.expertGroups.")
    var groups: Int?

    var overrides: TopologyOverrides {
        TopologyOverrides(devices: devices, slotsPerDevice: slotsPerDevice, nodes: nodes, expertGroups: groups)
    }

    func validate() throws {
        for (flag, value) in [("--devices", devices), ("--slots-per-device", slotsPerDevice),
                              ("--nodes", nodes), ("--groups", groups)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1, got \(value)") }
        }
    }
}

/// Where an instance comes from: a file, standard input (`-`) or a bundled example.
struct InstanceOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Instance file: JSON v1 or NumPy .npy loads; '-' reads standard input. Omit it to use a bundled example.",
                                 valueName: "instance"))
    var instance: String?

    @Option(help: ArgumentHelp("Use a bundled example instead of a file: \(BundledExample.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "name"))
    var example: String?

    @OptionGroup var topology: TopologyOptions

    func validate() throws {
        if instance != nil && example != nil {
            throw ValidationError("give either an instance file or --example, not both")
        }
        if let example, BundledExample(rawValue: example) == nil {
            throw ValidationError("unknown example '\(example)'; choose one of: \(BundledExample.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Whether the instance is a bundled example (no file given).
    var usesExample: Bool { instance == nil }

    /// Loads the instance (default: the DeepSeek-V3-shaped example).
    func load() throws -> (name: String, problem: Problem) {
        if let instance {
            let file = try InstanceFile.load(path: instance, overrides: topology.overrides)
            return (file.name ?? InputSource.displayName(instance), file.problem)
        }
        let example = BundledExample(rawValue: example ?? BundledExample.deepseekV3.rawValue)!
        var problem = example.problem
        let o = topology.overrides
        if o != TopologyOverrides() {
            let t = problem.topology
            let topo = Topology(devices: o.devices ?? t.devices, slotsPerDevice: o.slotsPerDevice ?? t.slotsPerDevice,
                                nodes: o.nodes ?? t.nodes, expertGroups: o.expertGroups ?? t.expertGroups)
            do {
                problem = try Problem(topology: topo, loads: problem.loads, episodeWeights: problem.episodeWeights)
            } catch {
                throw InputError(file: "example \(example.rawValue)", error)
            }
        }
        return (example.rawValue, problem)
    }
}

/// Output format of the commands that print results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table
}

/// The solver methods available to `eplb solve`.
enum Method: String, ExpressibleByArgument, CaseIterable {
    case greedy, hierarchical, search
}

/// `--objective mean|worst|aggregate|peak-sum` (the JSON keys `meanImbalance`, … are accepted too).
struct ObjectiveOption: ExpressibleByArgument {
    var objective: Objective

    init(_ objective: Objective) { self.objective = objective }

    init?(argument: String) {
        guard let o = Objective(name: argument) else { return nil }
        objective = o
    }

    static var allValueStrings: [String] { Objective.allCases.map(\.commandLineName) }
    var defaultValueDescription: String { objective.commandLineName }
}
