import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats
import Foundation

struct GapReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gap-report",
        abstract: "Measure greedy, hierarchical, search (and your plan) against the proven optimum.",
        discussion: """
        The suite: instances of small shapes (E experts × D devices × S slots, --shapes), T \
        episodes (--episodes; by default 1), loads lognormal (σ = 1, per-episode noise σ = 0.3 with several episodes) or \
        Zipf (s = 1.1, the same per-episode noise), seeds 0..<N. Default shapes: 6x4x2, 8x4x3, \
        8x8x2, 12x6x2, 16x8x2, 16x6x3, 16x8x3, 32x16x2 for one episode; 8x4x2, 8x2x4, 10x4x3, \
        12x4x4, 16x4x4 for several. With --instance, the instance's layers instead (and \
        --placement scores your plan too). Each case is solved by the exact solver for every \
        objective of --objectives and by every method (hierarchical only where the topology has \
        several nodes or expert groups: suite shapes with even D and E and E/2 ≥ S get 2 and 2; \
        with --instance, give them with --nodes and --groups; with one of each it would be \
        greedy); the gap is \
        (value − optimum) / optimum \
        where the exact solver proved the optimum. The search's own reported bound is checked \
        against the optimum (reportedGap next to the true gap). Writes gaps.json and gaps.md into \
        the output directory and the table to standard output; progress on standard error.

        Examples:
          eplb gap-report --output-dir Notebooks-export/data
          eplb gap-report --seeds 5 --output-dir /tmp/gaps
          eplb gap-report --episodes 4 --objectives mean,worst,peak-sum \\
              --seeds 3 --output-dir /tmp/gaps-episodes
          eplb gap-report --instance small.json --placement peer.json \\
              --objectives mean --output-dir /tmp/gaps-peer
        """
    )

    @Option(parsing: .unconditional, help: "Seeds per shape and load kind (suite).")
    var seeds: Int = 10

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Directory for gaps.json and gaps.md.", valueName: "dir"))
    var outputDirectory: String

    @Option(name: .customLong("time-limit"), parsing: .unconditional, help: ArgumentHelp("Exact solver budget per case and objective, seconds.", valueName: "seconds"))
    var timeLimit: Double = 30

    @Option(help: ArgumentHelp("Comma-separated shapes EXPERTSxDEVICESxSLOTS (S ≤ E ≤ D·S) (suite).", valueName: "shapes"))
    var shapes: String?

    @Option(parsing: .unconditional, help: "Episodes per suite instance.")
    var episodes: Int = 1

    @Option(help: ArgumentHelp("Comma-separated objectives: mean, worst, aggregate, peak-sum. Default: aggregate for one episode, mean,worst,peak-sum for several (the suite's --episodes, or the instance's).", valueName: "list"))
    var objectives: String?

    @Option(help: ArgumentHelp("Measure this instance's layers instead of the suite (JSON v1 or .npy; '-' reads standard input).", valueName: "file"))
    var instance: String?

    @Option(help: ArgumentHelp("A plan of --instance (v1 placement or bare {\"phy2log\": …}) scored against the optimum as method \"placement\"; a plan with an expert twice on a device is refused (the optimum is over plans without, as a serving worker requires; eplb evaluate scores it).", valueName: "file"))
    var placement: String?

    @OptionGroup var topology: TopologyOptions

    @OptionGroup var axes: AxesOption

    /// `--shapes` parsed: (E, D, S) triples.
    var parsedShapes: [(Int, Int, Int)] {
        get throws {
            guard let shapes else { return episodes > 1 ? Self.defaultMultiEpisodeShapes : Self.defaultShapes }
            return try shapes.split(separator: ",").map { text in
                let parts = text.split(separator: "x").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == 3, let e = parts[0], let d = parts[1], let s = parts[2], d >= 1, s >= 1, s <= e,
                      let p = Limits.product(d, s), e <= p else {
                    throw ValidationError("--shapes: '\(text)' is not EXPERTSxDEVICESxSLOTS with 1 ≤ SLOTS ≤ EXPERTS ≤ DEVICES·SLOTS")
                }
                do throws(ExpertPlacementError) {
                    let topology = Topology(devices: d, slotsPerDevice: s)
                    try topology.validate(experts: e)
                    try Limits.checkSizes(layers: 1, episodes: episodes, experts: e, topology: topology)
                } catch {
                    throw ValidationError("--shapes: '\(text)': \(error.reason)")
                }
                return (e, d, s)
            }
        }
    }

    /// `--objectives` parsed; without it, the default for cases of `episodes` episodes.
    func parsedObjectives(episodes: Int) throws -> [Objective] {
        guard let objectives else {
            return episodes > 1 ? [.meanImbalance, .worstImbalance, .peakSum] : [.aggregateImbalance]
        }
        let list = try objectives.split(separator: ",").map { name in
            guard let o = Objective(name: String(name)) else {
                throw ValidationError("--objectives: '\(name)' is not one of mean, worst, aggregate, peak-sum")
            }
            return o
        }
        guard !list.isEmpty else { throw ValidationError("--objectives: none given") }
        return list
    }

    func validate() throws {
        if seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if episodes < 1 { throw ValidationError("--episodes must be at least 1") }
        if try parsedShapes.isEmpty { throw ValidationError("--shapes: no shape given") }
        _ = try parsedObjectives(episodes: episodes)
        try TimeLimit.check(timeLimit)
        if placement != nil && instance == nil { throw ValidationError("--placement needs --instance") }
        if instance != nil && (shapes != nil || episodes != 1) {
            throw ValidationError("--shapes and --episodes describe the suite; they do not apply with --instance")
        }
        if placement == "-" && instance == "-" {
            throw ValidationError("the instance and the placement cannot both come from standard input")
        }
    }

    static let defaultShapes = [(6, 4, 2), (8, 4, 3), (8, 8, 2), (12, 6, 2), (16, 8, 2), (16, 6, 3), (16, 8, 3), (32, 16, 2)]
    static let defaultMultiEpisodeShapes = [(8, 4, 2), (8, 2, 4), (10, 4, 3), (12, 4, 4), (16, 4, 4)]

    /// One measured case: a problem and the labels of its row in gaps.json.
    struct Case {
        var labels: JSONObject
        var title: String
        var problem: Problem
        var plan: Placement?
    }

    func cases() throws -> [Case] {
        if let instance {
            let file = try InstanceFile.load(path: instance, overrides: topology.overrides, axes: axes.order)
            var plan: Placement? = nil
            if let placement {
                let bytes = try InputSource.read(placement)
                let name = InputSource.displayName(placement)
                let decoded = try PlacementFile.decodePlan(bytes, file: name, of: file.problem, layerIds: file.layerIds,
                                                           instanceFile: InputSource.displayName(instance))
                let violations = Validation.violations(of: decoded, topology: file.problem.topology,
                                                       experts: file.problem.experts, layers: file.problem.layers, limit: 1)
                if let first = violations.first {
                    let why = first.rule == .noDuplicateOnDevice
                        ? " (the optimum it is measured against is over plans without an expert twice on a device, as a serving worker requires; eplb evaluate scores such a plan)" : ""
                    throw InputError(file: name, field: "phy2log", reason: "not a valid plan of the instance: \(first)\(why)")
                }
                plan = decoded
            }
            let name = InputSource.displayName(instance)
            return [Case(labels: JSONObject([("instance", .string(name))]), title: name, problem: file.problem, plan: plan)]
        }
        var result: [Case] = []
        for (e, d, s) in try parsedShapes {
            for kind in ["lognormal", "zipf"] {
                for seed in 0..<seeds {
                    let noise = episodes > 1 ? 0.3 : 0
                    let loads = kind == "lognormal"
                        ? try SyntheticLoads.lognormal(layers: 1, episodes: episodes, experts: e, noise: noise,
                                                       assignments: 10_000, seed: UInt64(seed))
                        : try SyntheticLoads.zipf(layers: 1, episodes: episodes, experts: e, noise: noise,
                                                  assignments: 10_000, seed: UInt64(seed))
                    let hierarchical = d % 2 == 0 && e % 2 == 0 && e / 2 >= s
                    let topology = Topology(devices: d, slotsPerDevice: s, nodes: hierarchical ? 2 : 1,
                                            expertGroups: hierarchical ? 2 : 1)
                    let labels = JSONObject([("experts", .number(Double(e))), ("devices", .number(Double(d))),
                                             ("slotsPerDevice", .number(Double(s))), ("episodes", .number(Double(episodes))),
                                             ("loads", .string(kind)), ("seed", .number(Double(seed)))])
                    result.append(Case(labels: labels, title: "\(e)x\(d)x\(s) T=\(episodes) \(kind) seed \(seed)",
                                       problem: try Problem(topology: topology, loads: loads)))
                }
            }
        }
        return result
    }

    /// Per objective and method: gaps, times, share at the optimum, reported gaps.
    struct Tally {
        var gaps: [Double] = []
        var times: [Double] = []
        var atOptimum = 0
        var reportedGaps: [Double] = []
        var boundsAboveOptimum = 0
    }

    func run() throws {
        try reportingInputErrors {
            // Inputs first: a bad one leaves no directory behind.
            let cases = try cases()
            do {
                try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            } catch {
                throw InputError(file: outputDirectory, reason: "cannot be created (\(error.localizedDescription))")
            }
            let objectives = try parsedObjectives(episodes: cases.first?.problem.episodes ?? episodes)
            var methods = ["greedy", "hierarchical", "search"]
            if placement != nil { methods.append("placement") }
            var rows: [JSONValue] = []
            var tallies: [Objective: [String: Tally]] = [:]
            var exactTimes: [Objective: [Double]] = [:], proven: [Objective: Int] = [:], total: [Objective: Int] = [:]
            let clock = ContinuousClock()
            var step = 0
            for item in cases {
                let problem = item.problem
                for objective in objectives {
                    step += 1
                    let options = SolveOptions(objective: objective, timeLimit: TimeLimit.duration(timeLimit))
                    let t0 = clock.now
                    let exact = try ExactSolver().solve(problem, options: options)
                    let exactSeconds = (clock.now - t0).inSeconds
                    let exactMetrics = try Metrics.evaluate(exact.placement, on: problem, objective: objective,
                                                            lowerBounds: exact.lowerBounds)
                    var outcomes: [String: (metrics: PlacementMetrics, seconds: Double)] = [:]
                    for method in methods {
                        let t1 = clock.now
                        let report: SolveReport
                        switch method {
                        case "greedy": report = try GreedySolver().solve(problem, options: options)
                        case "hierarchical":
                            guard problem.topology.nodes > 1 || problem.topology.expertGroups > 1 else { continue }
                            report = try HierarchicalSolver().solve(problem, options: options)
                        case "search": report = try SearchSolver().solve(problem, options: options)
                        default:
                            let metrics = try Metrics.evaluate(item.plan!, on: problem, objective: objective)
                            outcomes[method] = (metrics, 0)
                            continue
                        }
                        let seconds = (clock.now - t1).inSeconds
                        outcomes[method] = (try Metrics.evaluate(report.placement, on: problem, objective: objective,
                                                                 lowerBounds: report.lowerBounds), seconds)
                    }
                    var provenLayers = 0
                    for l in 0..<problem.layers {
                        let best = exactMetrics.layers[l]
                        let optimum = best.value(of: objective)
                        // Proven where the exact solver's bound meets its value (within its
                        // relative tolerance of 1e-9, and rounding).
                        let isProven = (best.gap ?? .infinity) <= 1e-8
                        total[objective, default: 0] += 1
                        if isProven { proven[objective, default: 0] += 1; provenLayers += 1 }
                        var row = item.labels
                        if instance != nil { row["layer"] = .number(Double(l)) }  // suite cases have one layer
                        row["objective"] = .string(objective.rawValue)
                        row["exactStatus"] = .string(isProven ? "optimal" : exact.status == .optimal ? "feasible" : exact.status.rawValue)
                        row["exactSeconds"] = .number(exactSeconds / Double(problem.layers))
                        row["optimum"] = isProven ? .number(optimum) : .null
                        row["bestKnown"] = .number(optimum)
                        if let bound = best.lowerBound { row["exactLowerBound"] = .number(bound) }
                        for method in methods {
                            guard let outcome = outcomes[method] else { continue }
                            let m = outcome.metrics.layers[l]
                            let value = m.value(of: objective)
                            var entry = JSONObject([("value", .number(value))])
                            if let bound = m.lowerBound { entry["reportedLowerBound"] = .number(bound) }
                            if let gap = m.gap { entry["reportedGap"] = .number(gap) }
                            var tally = tallies[objective, default: [:]][method, default: Tally()]
                            if isProven {
                                let gap = (value - optimum) / optimum
                                entry["gap"] = .number(gap)
                                tally.gaps.append(gap)
                                tally.times.append(outcome.seconds / Double(problem.layers))
                                if gap <= 1e-9 { tally.atOptimum += 1 }
                                if let bound = m.lowerBound {
                                    tally.reportedGaps.append(m.gap ?? 0)
                                    if bound > optimum * (1 + 1e-9) { tally.boundsAboveOptimum += 1 }
                                }
                            }
                            tallies[objective, default: [:]][method] = tally
                            row[method] = .object(entry)
                        }
                        exactTimes[objective, default: []].append(exactSeconds / Double(problem.layers))
                        rows.append(.object(row))
                    }
                    writeStandardError(TerminalText.sanitized(String(
                        format: "gap-report: [%d/%d] %@, %@: %d of %d layers proven in %.2f s", step,
                        cases.count * objectives.count, item.title, objective.commandLineName, provenLayers,
                        problem.layers, exactSeconds)) + "\n")
                }
            }
            var summary = JSONObject()
            var markdown = ""
            for objective in objectives {
                var block = JSONObject()
                markdown += "\nObjective \(objective.rawValue):\n\n| method | cases | mean gap | max gap | at the optimum | mean reported gap | mean time |\n|---|---|---|---|---|---|---|\n"
                for method in methods {
                    guard let t = tallies[objective]?[method], !t.gaps.isEmpty else { continue }
                    let mean = t.gaps.reduce(0, +) / Double(t.gaps.count), worst = t.gaps.max()!
                    let share = Double(t.atOptimum) / Double(t.gaps.count)
                    let meanTime = t.times.reduce(0, +) / Double(t.times.count)
                    var entry = JSONObject([("instances", .number(Double(t.gaps.count))), ("meanGap", .number(mean)),
                                            ("maxGap", .number(worst)), ("optimalShare", .number(share)),
                                            ("meanSeconds", .number(meanTime))])
                    var reported = "-"
                    if !t.reportedGaps.isEmpty {
                        let r = t.reportedGaps.reduce(0, +) / Double(t.reportedGaps.count)
                        entry["meanReportedGap"] = .number(r)
                        entry["boundsAboveOptimum"] = .number(Double(t.boundsAboveOptimum))
                        reported = String(format: "%.3f%%", r * 100)
                    }
                    block[method] = .object(entry)
                    markdown += String(format: "| %@ | %d | %.3f%% | %.3f%% | %.1f%% | %@ | %.2f ms |\n", method, t.gaps.count,
                                       mean * 100, worst * 100, share * 100, reported, meanTime * 1000)
                }
                let times = exactTimes[objective] ?? []
                let exactMean = times.reduce(0, +) / Double(max(1, times.count))
                let n = total[objective] ?? 0, k = proven[objective] ?? 0
                block["exact"] = .object(JSONObject([("instances", .number(Double(n))), ("proven", .number(Double(k))),
                                                     ("meanSeconds", .number(exactMean)), ("maxSeconds", .number(times.max() ?? 0))]))
                markdown += String(format: "| exact | %d | proven %d of %d | | | | %.2f ms (max %.2f ms) |\n", n, k, n,
                                   exactMean * 1000, (times.max() ?? 0) * 1000)
                summary[objective.rawValue] = .object(block)
            }
            let what: String
            if let instance {
                what = "Layers of \(InputSource.displayName(instance))"
            } else {
                let list = try parsedShapes.map { "\($0.0)×\($0.1)×\($0.2)" }.joined(separator: ", ")
                what = "Suite: \(list) (E × D × S), \(episodes) episode\(episodes == 1 ? "" : "s"), lognormal and Zipf loads, seeds 0..<\(seeds)"
            }
            markdown = "\(what); exact time limit \(timeLimit) s. Gaps against the exact solver's proven optimum (cases it did not prove are left out of the gap columns).\n" + markdown
            let json = JSONValue.object(JSONObject([("instances", .array(rows)), ("summary", .object(summary))]))
            try OutputSink.write(files: [((outputDirectory as NSString).appendingPathComponent("gaps.json"), Array(try JSONWriter.string(json).utf8)),
                                         ((outputDirectory as NSString).appendingPathComponent("gaps.md"), Array(markdown.utf8))])
            try OutputSink.write(markdown, to: "-")
        }
    }
}
