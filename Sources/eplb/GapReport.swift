import ArgumentParser
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats
import Foundation

struct GapReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gap-report",
        abstract: "Measure greedy, hierarchical and search against the proven optimum on a seeded suite.",
        discussion: """
        The suite: single-episode instances of small shapes (E experts × D devices × S slots, \
        --shapes; by default 6x4x2, 8x4x3, 8x8x2, 12x6x2, 16x8x2, 16x6x3, 16x8x3, 32x16x2), loads \
        lognormal (σ = 1) or Zipf (s = 1.1), seeds 0..<N, objective aggregate. Each instance is solved by every method and by the exact solver; \
        the gap is (value − optimum) / optimum where the optimum was proven. Writes gaps.json and \
        gaps.md (mean/max gap, share at the optimum, mean time per method) into the output directory.

        Examples:
          eplb gap-report --output-dir Notebooks-export/data
          eplb gap-report --seeds 5 --output-dir /tmp/gaps
          eplb gap-report --seeds 3 --shapes 8x4x3,16x8x3 --output-dir /tmp/gaps
        """
    )

    @Option(help: "Seeds per shape and load kind.")
    var seeds: Int = 10

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Directory for gaps.json and gaps.md.", valueName: "dir"))
    var outputDirectory: String

    @Option(name: .customLong("time-limit"), help: ArgumentHelp("Exact solver budget per instance, seconds.", valueName: "seconds"))
    var timeLimit: Double = 30

    @Option(help: ArgumentHelp("Comma-separated shapes EXPERTSxDEVICESxSLOTS (S ≤ E ≤ D·S).", valueName: "shapes"))
    var shapes: String = Self.defaultShapes.map { "\($0.0)x\($0.1)x\($0.2)" }.joined(separator: ",")

    /// `--shapes` parsed: (E, D, S) triples.
    var parsedShapes: [(Int, Int, Int)] {
        get throws {
            try shapes.split(separator: ",").map { text in
                let parts = text.split(separator: "x").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == 3, let e = parts[0], let d = parts[1], let s = parts[2], d >= 1, s >= 1, s <= e,
                      let p = Limits.product(d, s), e <= p else {
                    throw ValidationError("--shapes: '\(text)' is not EXPERTSxDEVICESxSLOTS with 1 ≤ SLOTS ≤ EXPERTS ≤ DEVICES·SLOTS")
                }
                do throws(ExpertPlacementError) {
                    let topology = Topology(devices: d, slotsPerDevice: s)
                    try topology.validate(experts: e)
                    try Limits.checkSizes(layers: 1, episodes: 1, experts: e, topology: topology)
                } catch {
                    throw ValidationError("--shapes: '\(text)': \(error.reason)")
                }
                return (e, d, s)
            }
        }
    }

    func validate() throws {
        if seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if try parsedShapes.isEmpty { throw ValidationError("--shapes: no shape given") }
        try TimeLimit.check(timeLimit)
    }

    static let defaultShapes = [(6, 4, 2), (8, 4, 3), (8, 8, 2), (12, 6, 2), (16, 8, 2), (16, 6, 3), (16, 8, 3), (32, 16, 2)]

    func run() throws {
        try reportingInputErrors {
            do {
                try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            } catch {
                throw InputError(file: outputDirectory, reason: "cannot be created (\(error.localizedDescription))")
            }
            let methods = ["greedy", "hierarchical", "search"]
            var rows: [JSONValue] = []
            var gaps: [String: [Double]] = [:], times: [String: [Double]] = [:], optimal: [String: Int] = [:]
            var exactTimes: [Double] = [], proven = 0, total = 0
            let clock = ContinuousClock()
            func seconds(_ d: Duration) -> Double { d.inSeconds }
            let shapes = try parsedShapes
            for (e, d, s) in shapes {
                for kind in ["lognormal", "zipf"] {
                    for seed in 0..<seeds {
                        let loads = kind == "lognormal"
                            ? try SyntheticLoads.lognormal(layers: 1, episodes: 1, experts: e, noise: 0, assignments: 10_000, seed: UInt64(seed))
                            : try SyntheticLoads.zipf(layers: 1, episodes: 1, experts: e, assignments: 10_000, seed: UInt64(seed))
                        let hierarchical = d % 2 == 0 && e % 2 == 0 && e / 2 >= s
                        let topology = Topology(devices: d, slotsPerDevice: s, nodes: hierarchical ? 2 : 1,
                                                expertGroups: hierarchical ? 2 : 1)
                        let problem = try Problem(topology: topology, loads: loads)
                        let options = SolveOptions(objective: .aggregateImbalance, timeLimit: TimeLimit.duration(timeLimit))
                        let t0 = clock.now
                        let exact = try ExactSolver().solve(problem, options: options)
                        exactTimes.append(seconds(clock.now - t0))
                        total += 1
                        let best = try Metrics.layerMetrics(exact.placement, on: problem, layer: 0).aggregateImbalance
                        var row = JSONObject([("experts", .number(Double(e))), ("devices", .number(Double(d))),
                                              ("slotsPerDevice", .number(Double(s))), ("loads", .string(kind)),
                                              ("seed", .number(Double(seed))), ("exactStatus", .string(exact.status.rawValue)),
                                              ("optimum", .number(best))])
                        if exact.status == .optimal { proven += 1 }
                        for method in methods {
                            if method == "hierarchical" && !hierarchical { continue }
                            let t1 = clock.now
                            let report: SolveReport = switch method {
                            case "greedy": try GreedySolver().solve(problem, options: options)
                            case "hierarchical": try HierarchicalSolver().solve(problem, options: options)
                            default: try SearchSolver().solve(problem, options: options)
                            }
                            let elapsed = seconds(clock.now - t1)
                            let value = try Metrics.layerMetrics(report.placement, on: problem, layer: 0).aggregateImbalance
                            row[method] = .number(value)
                            guard exact.status == .optimal else { continue }
                            let gap = (value - best) / best
                            gaps[method, default: []].append(gap)
                            times[method, default: []].append(elapsed)
                            if gap <= 1e-9 { optimal[method, default: 0] += 1 }
                        }
                        rows.append(.object(row))
                    }
                }
            }
            var summary = JSONObject()
            var markdown = "| method | instances | mean gap | max gap | at the optimum | mean time |\n|---|---|---|---|---|---|\n"
            for method in methods {
                let g = gaps[method] ?? [], t = times[method] ?? []
                guard !g.isEmpty else { continue }
                let mean = g.reduce(0, +) / Double(g.count), worst = g.max()!
                let share = Double(optimal[method] ?? 0) / Double(g.count)
                let meanTime = t.reduce(0, +) / Double(t.count)
                summary[method] = .object(JSONObject([("instances", .number(Double(g.count))), ("meanGap", .number(mean)),
                                                      ("maxGap", .number(worst)), ("optimalShare", .number(share)),
                                                      ("meanSeconds", .number(meanTime))]))
                markdown += String(format: "| %@ | %d | %.3f%% | %.3f%% | %.1f%% | %.2f ms |\n", method, g.count,
                                   mean * 100, worst * 100, share * 100, meanTime * 1000)
            }
            let exactMean = exactTimes.reduce(0, +) / Double(max(1, exactTimes.count))
            summary["exact"] = .object(JSONObject([("instances", .number(Double(total))), ("proven", .number(Double(proven))),
                                                   ("meanSeconds", .number(exactMean)), ("maxSeconds", .number(exactTimes.max() ?? 0))]))
            markdown += String(format: "| exact | %d | proven %d of %d | | | %.2f ms (max %.2f ms) |\n", total, proven, total,
                               exactMean * 1000, (exactTimes.max() ?? 0) * 1000)
            markdown = "Objective: aggregate peak/avg; single-episode instances \(shapes.map { "\($0.0)×\($0.1)×\($0.2)" }.joined(separator: ", ")) (E × D × S), lognormal and Zipf loads, seeds 0..<\(seeds). Gaps against the exact solver's proven optimum.\n\n" + markdown
            let json = JSONValue.object(JSONObject([("instances", .array(rows)), ("summary", .object(summary))]))
            try OutputSink.write(JSONWriter.string(json), to: (outputDirectory as NSString).appendingPathComponent("gaps.json"))
            try OutputSink.write(markdown, to: (outputDirectory as NSString).appendingPathComponent("gaps.md"))
            try OutputSink.write(markdown, to: "-")
        }
    }
}
