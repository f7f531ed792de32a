import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats
import Foundation

struct Reference: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write proven-optimal reference placements (fixtures for other projects' tests).",
        discussion: """
        For each instance, solves every layer with the exact solver and writes \
        DIR/<file name>.placement.json, named after the instance's file without .json or .npy \
        (for '-', standard input, after the instance's "name" with characters other than letters, \
        digits, '.', '_' and '-' replaced by '-', else "stdin"): a v1 placement with its metrics \
        (value, lowerBound, gap), solver.status "optimal" and solver.settings (tolerance, time \
        limit, GLPK version, instance file). No timing is written, so a re-run gives the same value, \
        bound and status, and on an idle machine the same bytes (under heavy load the solver may \
        report another of several tied optimal plans). An instance that cannot be proven \
        optimal within the time limit is reported on stderr and gets no file; the exit code is then 1.

        Examples:
          eplb reference toy.json readme.json --output-dir fixtures
          eplb reference Examples/reference/instances/*.json \\
              --output-dir Examples/reference/placements --objective aggregate
        """
    )

    @Argument(help: ArgumentHelp("Instance files (JSON v1 or .npy); '-' reads standard input (once).", valueName: "instance"))
    var instances: [String]

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Directory for the placement files (created if missing).", valueName: "dir"))
    var outputDirectory: String

    @Option(help: "Objective (any; mean and peak-sum over several episodes go through the compact multi-episode model).")
    var objective = ObjectiveOption(.aggregateImbalance)

    @Option(name: .customLong("time-limit"), parsing: .unconditional, help: ArgumentHelp("Time budget per instance in seconds.", valueName: "seconds"))
    var timeLimit: Double = 60

    @OptionGroup var topology: TopologyOptions

    @OptionGroup var axes: AxesOption

    func validate() throws {
        if instances.isEmpty { throw ValidationError("give at least one instance") }
        try TimeLimit.check(timeLimit)
        if instances.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be read only once") }
    }

    func run() throws {
        let failures: Int = try reportingInputErrors {
            // Every instance is read and checked before anything is written: a bad file leaves no
            // directory and no placement behind.
            let files = try instances.map { path throws(InputError) in
                try InstanceFile.load(path: path, overrides: topology.overrides, axes: axes.order)
            }
            // One output per instance: two inputs with one stem (a/x.json and b/x.json, x.json and
            // x.npy) would write one file over the other, and a target that is not a file cannot be
            // written; both are refused before any solve.
            let stems = zip(instances, files).map { path, file -> (name: String, stem: String, target: String) in
                let name = path == "-" ? Reference.fileStem(instanceName: file.name) : (path as NSString).lastPathComponent
                let stem = path != "-" && (name.hasSuffix(".json") || name.hasSuffix(".npy"))
                    ? (name as NSString).deletingPathExtension : name
                return (name, stem, (outputDirectory as NSString).appendingPathComponent(stem + ".placement.json"))
            }
            var claimed: [String: String] = [:]
            for (path, (_, stem, target)) in zip(instances, stems) {
                if let first = claimed[stem] {
                    throw InputError(file: InputSource.displayName(path), reason: "its reference would be \(target), as \(InputSource.displayName(first))'s: give the instances distinct file names")
                }
                claimed[stem] = path
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), isDirectory.boolValue {
                    throw InputError(file: target, reason: "is a directory: the reference of \(InputSource.displayName(path)) cannot be written there")
                }
            }
            do {
                try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            } catch {
                throw InputError(file: outputDirectory, reason: "cannot be created (\(error.localizedDescription))")
            }
            var failures = 0
            var outputs: [(path: String, text: String)] = []
            let solver = ExactSolver(configuration: .init(tolerance: 1e-9))
            for ((path, file), (name, _, target)) in zip(zip(instances, files), stems) {
                let report = try solver.solve(file.problem, options: SolveOptions(objective: objective.objective,
                                                                                   timeLimit: TimeLimit.duration(timeLimit)))
                guard report.status == .optimal else {
                    printError("\(path): not proven optimal within \(timeLimit) s (status \(report.status.rawValue)); no reference written")
                    failures += 1
                    continue
                }
                let metrics = try Metrics.evaluate(report.placement, on: file.problem, objective: objective.objective,
                                                   lowerBounds: report.lowerBounds)
                var info = PlacementFile.SolverInfo(report, includeTiming: false)
                info.settings = JSONObject([("tolerance", .number(1e-9)), ("timeLimitSeconds", .number(timeLimit)),
                                            ("glpk", .string(ExactSolver.libraryVersion)),
                                            ("instance", .string(name))])
                let text = try JSONWriter.string(PlacementFile.encode(report.placement, metrics: metrics, solver: info))
                outputs.append((target, text))
            }
            // Written once every instance is solved, so that an error in any leaves none written.
            for output in outputs { try OutputSink.write(output.text, to: output.path) }
            return failures
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// The file stem for an instance read from standard input: its `name` with every character
    /// other than an ASCII letter, digit, `.`, `_` or `-` replaced by `-`, or `stdin` without one.
    static func fileStem(instanceName: String?) -> String {
        guard let instanceName, !instanceName.isEmpty else { return "stdin" }
        let safe = String(instanceName.map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-") ? c : "-"
        })
        return safe.allSatisfy({ $0 == "." }) ? "stdin" : safe
    }
}
