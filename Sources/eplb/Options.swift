import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats
import Foundation

/// `--devices/--slots-per-device/--nodes/--groups`: override the instance file's topology.
struct TopologyOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Number of devices (EP ranks); overrides the input's topology.devices, or gives it to an input without one (a .npy, a bare phy2log).")
    var devices: Int?

    @Option(name: .customLong("slots-per-device"), parsing: .unconditional, help: "Expert slots per device; overrides or gives topology.slotsPerDevice.")
    var slotsPerDevice: Int?

    @Option(parsing: .unconditional, help: "Number of nodes (devices must divide evenly); overrides topology.nodes. Of the placement methods, only hierarchical uses it.")
    var nodes: Int?

    @Option(parsing: .unconditional, help: "Number of expert groups (experts must divide evenly); overrides topology.expertGroups. Of the placement methods, only hierarchical uses it.")
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

/// `--axes lte|tle`: the axis order of a 3-D `.npy` load array (see ``LoadAxes``).
struct AxesOption: ParsableArguments {
    @Option(name: .customLong("axes"), help: ArgumentHelp(
        "Axis order of a 3-D .npy load array: lte = (layers, episodes, experts), tle = (iterations, layers, experts) as engines dump it. Required for 3-D .npy; 2-D (L,E) and 1-D (E,) arrays read the same with either; JSON loads are lte by contract (tle is refused).",
        valueName: "lte|tle"))
    var argument: Argument?

    /// The order given, if any.
    var order: LoadAxes? { argument?.axes }

    /// A ``LoadAxes`` read from the command line (the conformance cannot sit on the library type).
    struct Argument: ExpressibleByArgument {
        var axes: LoadAxes
        init?(argument: String) {
            guard let axes = LoadAxes(rawValue: argument) else { return nil }
            self.axes = axes
        }
        static var allValueStrings: [String] { LoadAxes.allCases.map(\.rawValue) }
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

    @OptionGroup var axes: AxesOption

    func validate() throws {
        if instance == nil && axes.order != nil {
            throw ValidationError("--axes applies to an instance file (a 3-D .npy array), not to a bundled example")
        }
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
        try load(overrides: topology.overrides)
    }

    /// Loads the instance with explicit topology overrides (the flags' merged with another source).
    func load(overrides: TopologyOverrides) throws -> (name: String, problem: Problem) {
        let (name, problem, _) = try loadWithLayerIds(overrides: overrides)
        return (name, problem)
    }

    /// ``load(overrides:)`` for a window served by the deployed plan read from `deployed.file`
    /// (`rebalance`, `pareto` and `simulate`'s `--current`): an input without a topology takes the
    /// plan's, and an error about the topology also names the plan, which may be where it came from.
    func load(overrides: TopologyOverrides, deployed: (file: String, plan: Placement, layerIds: [Int]?)?) throws
        -> (name: String, problem: Problem) {
        guard let deployed else { return try load(overrides: overrides) }
        var overrides = overrides
        overrides.fallback = deployed.plan.topology
        do {
            let (name, problem, layerIds) = try loadWithLayerIds(overrides: overrides)
            try LayerIds.requireSame(deployed.layerIds, file: deployed.file, as: layerIds,
                                     of: instance.map(InputSource.displayName) ?? name)
            return (name, problem)
        } catch var error as InputError {
            if error.field?.hasPrefix("topology") == true, topology.overrides.topology == nil {
                let t = deployed.plan.topology
                error.reason += " (--current \(deployed.file) is a placement for \(deployed.plan.experts) experts on \(t.devices) × \(t.slotsPerDevice) slots)"
            }
            throw error
        }
    }

    /// The deployed plan read from `current` (`rebalance`, `pareto` and `simulate`'s `--current`)
    /// and the window it serves. A plan with a topology (its own or the flags') is read first, and
    /// its topology serves a window without one (a .npy); a bare `{"phy2log": …}` plan with no
    /// topology flags takes the window's, read first. Rows are checked to be the window's layers
    /// (``LayerIds``), and the plan is read against the window's expert count, so that an id out
    /// of range or a missing expert is named as such.
    func loadServed(by current: String) throws
        -> (name: String, problem: Problem, plan: JSONValue,
            document: (placement: Placement, recordedImbalance: [Double]?, layerIds: [Int]?)) {
        let file = InputSource.displayName(current)
        let value = try PlacementFile.parse(try InputSource.read(current), file: file)
        if topology.overrides.topology == nil, value.objectValue?["topology"] == nil {
            let (name, problem, layerIds) = try loadWithLayerIds(overrides: topology.overrides)
            let document = try PlacementFile.decodeDocument(value, file: file, experts: problem.experts, topology: problem.topology)
            try LayerIds.requireSame(document.layerIds, file: file, as: layerIds, of: instance.map(InputSource.displayName) ?? name)
            return (name, problem, value, document)
        }
        var document = try PlacementFile.decodeDocument(value, file: file, topology: topology.overrides.topology)
        let (name, problem) = try load(overrides: topology.overrides, deployed: (file, document.placement, document.layerIds))
        if document.placement.experts != problem.experts {
            document = try PlacementFile.decodeDocument(value, file: file, experts: problem.experts,
                                                        topology: topology.overrides.topology)
        }
        return (name, problem, value, document)
    }

    /// `error`, and when it is about a topology the flags changed, the flags: the file alone may be fine.
    func withTopologyFlags(_ error: InputError) -> InputError {
        guard error.field?.hasPrefix("topology") == true else { return error }
        let o = topology.overrides
        let given = [("--devices", o.devices), ("--slots-per-device", o.slotsPerDevice), ("--nodes", o.nodes),
                     ("--groups", o.expertGroups)].compactMap { flag, value in value.map { "\(flag) \($0)" } }
        guard !given.isEmpty else { return error }
        var e = error
        e.reason += " (with \(given.joined(separator: ", ")) from the command line)"
        return e
    }

    /// Loads the instance and its `layerIds` (decoder-layer ids; `nil` when the file has none).
    func loadWithLayerIds(overrides: TopologyOverrides) throws -> (name: String, problem: Problem, layerIds: [Int]?) {
        if let instance {
            let file: InstanceFile
            do throws(InputError) {
                file = try InstanceFile.load(path: instance, overrides: overrides, axes: axes.order)
            } catch {
                throw withTopologyFlags(error)
            }
            return (file.name ?? InputSource.displayName(instance), file.problem, file.layerIds)
        }
        let example = BundledExample(rawValue: example ?? BundledExample.deepseekV3.rawValue)!
        var problem = example.problem
        let o = overrides
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
        return (example.rawValue, problem, nil)
    }
}

/// Output format of the commands that print results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table
}

/// The solver methods available to `eplb solve`, `rebalance` and `pareto`.
enum Method: String, ExpressibleByArgument, CaseIterable {
    case greedy, hierarchical, search, exact, auto

    /// The method's solver: the one place that maps a name to a ``LayerSolver`` (an existential
    /// only here, at the command line; generic code receives it opened).
    func solver(search: SearchSolver.Configuration = .init(), verbose: Bool = false) -> any LayerSolver {
        switch self {
        case .greedy: GreedySolver()
        case .hierarchical: HierarchicalSolver()
        case .search: SearchSolver(configuration: search)
        case .exact: ExactSolver(configuration: .init(verbose: verbose))
        case .auto: AutoSolver(exact: .init(verbose: verbose, defaultTimeLimit: .seconds(10)), search: search)
        }
    }
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

/// Tuning of `--method search`; defaults as in ``SearchSolver/Configuration``.
struct SearchTuning: ParsableArguments {
    @Option(parsing: .unconditional, help: "Tree depth: groups of experts whose replica counts are branched on.")
    var depth: Int?
    @Option(parsing: .unconditional, help: "Candidates tried on each side of the look-ahead guess per tree level.")
    var width: Int?
    @Option(parsing: .unconditional, help: "Partial allotments kept per tree level (beam width).")
    var beam: Int?
    @Option(name: .customLong("episode-cap"), parsing: .unconditional, help: "Most episodes optimised on; more are summed into this many consecutive blocks (metrics still use every episode).")
    var episodeCap: Int?
    @Option(name: .customLong("risk-z"), parsing: .unconditional, help: "z of the risk weight μ + z·σ (0.674 = FlashLB's 75th percentile).")
    var riskZ: Double?
    @Flag(name: .customLong("risk-aware"), help: "Optimise the device score μ + z·σ over episodes (covariance-aware) instead of the exact objective.")
    var riskAware = false
    @Option(name: .customLong("max-evaluations"), parsing: .unconditional, help: "Local-search move evaluations per layer (the main effort knob).")
    var maxEvaluations: Int?
    @Option(name: .customLong("anneal-moves"), parsing: .unconditional, help: "Swap proposals per layer of simulated annealing after the local search (default 0: none). Worth it when one plan serves several noisy episodes: 1000000 takes the bundled deepseek-v3 example from 1.0481 to 1.0299 (about 0.13 s a layer).")
    var annealMoves: Int?

    var isSet: Bool {
        depth != nil || width != nil || beam != nil || episodeCap != nil || riskZ != nil || riskAware || maxEvaluations != nil
            || annealMoves != nil
    }

    var configuration: SearchSolver.Configuration {
        var c = SearchSolver.Configuration()
        if let depth { c.depth = depth }
        if let width { c.width = width }
        if let beam { c.beam = beam }
        if let episodeCap { c.episodeCap = episodeCap }
        if let riskZ { c.riskZ = riskZ }
        c.riskAware = riskAware
        if let maxEvaluations { c.maxEvaluations = maxEvaluations }
        if let annealMoves { c.annealingMoves = annealMoves }
        return c
    }

    /// The flag that sets each field ``SearchSolver/Configuration/validate()`` can name here.
    static let flags = ["configuration.depth": "--depth", "configuration.width": "--width", "configuration.beam": "--beam",
                        "configuration.episodeCap": "--episode-cap", "configuration.riskZ": "--risk-z",
                        "configuration.maxEvaluations": "--max-evaluations", "configuration.annealingMoves": "--anneal-moves"]

    /// The library's checks of the configuration, as usage errors naming the flag.
    func validate() throws {
        do throws(ExpertPlacementError) {
            try configuration.validate()
        } catch {
            let field = error.field ?? ""
            throw ValidationError("\(Self.flags[field] ?? field) \(error.reason)")
        }
    }
}

/// `--move-cost λ` (alias `--move-weight`) and `--max-moves N`: what moves away from the deployed
/// placement cost (``MovePolicy``).
struct MoveOptions: ParsableArguments {
    @Option(name: [.customLong("move-cost"), .customLong("move-weight")], parsing: .unconditional, help: ArgumentHelp(
        "Objective units charged per moved replica (slot whose expert changes), e.g. 0.001 with the mean objective: a move must lower the layer's mean imbalance by 0.001 to pay. --move-weight is the earlier name.",
        valueName: "λ"))
    var moveCost: Double?

    @Option(name: .customLong("max-moves"), parsing: .unconditional, help: ArgumentHelp("At most N moved replicas per layer (with --move-cost, both apply: the cheapest plan within the cap).", valueName: "N"))
    var maxMoves: Int?

    /// The policy (inactive when neither flag is given).
    var policy: MovePolicy { MovePolicy(cost: moveCost ?? 0, maxMoves: maxMoves) }

    /// Whether either flag was given (`--move-cost 0` is given: free moves, not the default price).
    var isGiven: Bool { moveCost != nil || maxMoves != nil }

    /// Records the flags given in a `solver.settings` block.
    func record(into settings: inout JSONObject) {
        if let maxMoves { settings["maxMoves"] = .number(Double(maxMoves)) }
        if let moveCost { settings["moveCost"] = .number(moveCost) }
    }

    func validate() throws {
        if let maxMoves, maxMoves < 0 { throw ValidationError("--max-moves must be 0 or more, got \(maxMoves)") }
        if let moveCost, !(moveCost >= 0 && moveCost.isFinite) {
            throw ValidationError("--move-cost must be a finite number ≥ 0, got \(moveCost)")
        }
    }
}

/// The window and the deployed placement of `rebalance` and `pareto`: an instance plus
/// `--current FILE` (whose topology is used when the instance has none).
struct DeployedInputOptions: ParsableArguments {
    @OptionGroup var input: InstanceOptions

    @Option(help: ArgumentHelp("The deployed placement (placement file v1); overrides the instance's \"current\". Its topology is used when the instance has none.", valueName: "file"))
    var current: String?

    func validate() throws {
        if current == "-" && input.instance == "-" {
            throw ValidationError("the instance and the deployed placement cannot both come from standard input")
        }
    }

    /// The instance with its deployed placement, and the file's `recordedImbalance` if any.
    func load() throws -> ((name: String, problem: Problem), [Double]?) {
        let (loaded, recorded, _, _) = try loadRecords()
        return (loaded, recorded)
    }

    /// ``load()`` with what the records were scored with: the plan's `solver.objective`, and its
    /// `solver.settings.strategy` (`nil` when absent: the window itself, or a plan not made by
    /// `eplb rebalance`).
    func loadRecords() throws -> ((name: String, problem: Problem), [Double]?, Objective?, recordedStrategy: String?) {
        var deployed: Placement? = nil
        var recorded: [Double]? = nil
        var recordedObjective: Objective? = nil
        var recordedStrategy: String? = nil
        let name: String, loaded: Problem
        if let current {
            // The plan's topology serves an instance without one (a .npy window); one that
            // disagrees with the instance's is reported below, not chosen between.
            let served = try input.loadServed(by: current)
            (name, loaded) = (served.name, served.problem)
            deployed = served.document.placement
            recorded = served.document.recordedImbalance
            let solver = served.plan.objectValue?["solver"]?.objectValue
            recordedObjective = solver?["objective"]?.stringValue.flatMap(Objective.init(rawValue:))
            recordedStrategy = solver?["settings"]?.objectValue?["strategy"]?.stringValue
        } else {
            (name, loaded) = try input.load()
        }
        var problem = loaded
        if let deployed {
            let t = loaded.topology, d = deployed.topology
            guard t.devices == d.devices && t.slotsPerDevice == d.slotsPerDevice else {
                throw InputError(file: InputSource.displayName(current!), field: "topology",
                                 reason: "the placement is for \(d.devices) devices × \(d.slotsPerDevice) slots but the window is for \(t.devices) × \(t.slotsPerDevice) (from the instance or --devices/--slots-per-device)")
            }
            do throws(ExpertPlacementError) {
                problem = try Problem(topology: loaded.topology, loads: loaded.loads, episodeWeights: loaded.episodeWeights,
                                      current: deployed)
            } catch {
                // The core names the deployed plan `current`; in a placement file its rows are `phy2log`.
                var e = InputError(file: InputSource.displayName(current!), error)
                if let field = e.field, field.hasPrefix("current") { e.field = "phy2log" + field.dropFirst("current".count) }
                throw e
            }
        }
        // Errors about the deployed plan name the file it came from (not the instance's label).
        let deployedFile = current.map(InputSource.displayName) ?? input.instance.map(InputSource.displayName) ?? name
        guard let plan = problem.current else {
            throw InputError(file: deployedFile, field: "current",
                             reason: "missing: give the deployed placement with --current FILE or as \"current\" in the instance")
        }
        if let broken = Validation.deployedViolations(of: plan, limit: 1).first {
            throw InputError(file: deployedFile, field: current == nil ? "current" : "phy2log",
                             reason: "the deployed placement breaks a rule: \(broken)")
        }
        return ((name, problem), recorded, recordedObjective, recordedStrategy)
    }
}

/// The cherry-picking rules of `rebalance` (and of `simulate`'s rebalance policy).
struct CherryPickOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Re-place a layer whose deployed imbalance (the objective) is above X, e.g. 1.1.", valueName: "X"))
    var threshold: Double?

    @Option(name: .customLong("relative-threshold"), parsing: .unconditional, help: ArgumentHelp(
        "Re-place a layer whose balance fell below r × its balance right after its last update (FlashLB's rule; 0.9 or 0.85 there).",
        valueName: "r"))
    var relativeThreshold: Double?

    @Option(name: .customLong("min-gain"), parsing: .unconditional, help: ArgumentHelp(
        "Keep a layer's new plan only if it lowers the objective by at least this fraction (0.02 = 2%).", valueName: "g"))
    var minGain: Double?

    @Option(name: .customLong("max-layers"), parsing: .unconditional, help: ArgumentHelp("Change at most K layers (best gain per moved replica first).", valueName: "K"))
    var maxLayers: Int?

    /// The options with these rules, the objective and the move policy.
    func options(objective: Objective, moves: MovePolicy) -> RebalanceOptions {
        RebalanceOptions(objective: objective, threshold: threshold, relativeThreshold: relativeThreshold, minGain: minGain,
                         maxLayers: maxLayers, moves: moves)
    }

    /// Records the rules given in a settings block.
    func record(into settings: inout JSONObject) {
        if let threshold { settings["threshold"] = .number(threshold) }
        if let relativeThreshold { settings["relativeThreshold"] = .number(relativeThreshold) }
        if let minGain { settings["minGain"] = .number(minGain) }
        if let maxLayers { settings["maxLayers"] = .number(Double(maxLayers)) }
    }

    func validate() throws {
        if let threshold, !(threshold.isFinite && threshold >= 0) {
            throw ValidationError("--threshold must be a finite number ≥ 0, got \(threshold)")
        }
        if let r = relativeThreshold, !(r > 0 && r <= 1) {
            throw ValidationError("--relative-threshold must be in (0, 1], got \(r)")
        }
        if let g = minGain, !(g.isFinite && g >= 0) { throw ValidationError("--min-gain must be a finite number ≥ 0, got \(g)") }
        if let k = maxLayers, k < 0 { throw ValidationError("--max-layers must be 0 or more, got \(k)") }
    }
}

/// The `--time-limit SECONDS` value of every command that takes one: a positive, finite number of
/// seconds, at most ``maximumSeconds`` (so the conversion to a `Duration` cannot overflow).
enum TimeLimit {
    /// The largest accepted limit: 10^9 s, about 31 years (effectively unlimited).
    static let maximumSeconds = 1e9

    /// Throws a usage error naming `--time-limit` unless `seconds` is nil or in (0, ``maximumSeconds``].
    static func check(_ seconds: Double?) throws {
        guard let seconds else { return }
        guard seconds > 0 && seconds.isFinite else {
            throw ValidationError("--time-limit must be a positive number of seconds, got \(seconds)")
        }
        guard seconds <= maximumSeconds else {
            throw ValidationError("--time-limit must be at most \(Int(maximumSeconds)) seconds (about 31 years), got \(seconds)")
        }
    }

    /// `seconds` (already ``check(_:)``ed) as a `Duration`, to the millisecond.
    static func duration(_ seconds: Double) -> Duration {
        .milliseconds(Int64((seconds * 1000).rounded(.down)))
    }
}

/// Refuses an `--output` that names one of the command's inputs (`what`: how the message names
/// it): the output would replace the data it was made from. `-` is never refused.
func refuseOutput(_ output: String?, over inputs: [(what: String, path: String?)]) throws {
    guard let output else { return }
    for (what, path) in inputs {
        if let path, sameFile(output, path) {
            throw ValidationError("--output names \(what) (\(path)): the output would overwrite it")
        }
    }
}

/// Whether two paths name the same file: the same string, or (for existing files) the same
/// resolved path. `-` (standard input or output) is never the same file as anything.
func sameFile(_ a: String, _ b: String) -> Bool {
    guard a != "-" && b != "-" else { return false }
    if a == b { return true }
    func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
    return resolved(a) == resolved(b)
}
