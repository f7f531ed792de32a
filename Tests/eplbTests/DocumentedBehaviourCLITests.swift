import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

/// What the help and the README promise, held to the program (issue 9: "the README and --help
/// must match the program"). Each test failed before the change it guards.
@Suite("eplb does what its help says")
struct DocumentedBehaviourCLITests {
    /// The FlashLB toy instance as a file, and a directory for outputs.
    static func toy(_ name: String) throws -> String {
        try temporaryFile(name, try CLI.run(["example", "flashlb-toy"]).stdout)
    }

    @Test("evaluate scores a peer's bare {\"phy2log\": …} plan that breaks a rule, lists the rule, exits 0")
    func evaluateBarePeerPlan() throws {
        let instance = try Self.toy("toy-peer.json")
        // Expert 0 twice on device 0 (slots 0 and 1): the vllm-ascend worker would refuse it.
        let plan = try temporaryFile("peer.json", #"{"phy2log": [[0, 0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7]]}"#)
        let r = try CLI.run(["evaluate", instance, "--placement", plan])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let json = try JSONParser.parse(Array(r.stdout.utf8))
        guard case .object(let root) = json, case .array(let layers)? = root["layers"],
              case .array(let violations)? = root["violations"] else {
            Issue.record("unexpected output \(r.stdout)")
            return
        }
        #expect(layers.count == 1 && !layers[0].isNull)
        #expect(violations.count == 1)
        #expect(r.stdout.contains(#""rule": "noDuplicateOnDevice""#))
        // Device 0 carries all of expert 0 (600 of 1450 tokens over 8 devices).
        #expect(r.stdout.contains(#""peakSum": 600"#))
        let table = try CLI.run(["evaluate", instance, "--placement", plan, "--format", "table"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("[noDuplicateOnDevice] layer 0, device 0, expert 0"))
    }

    @Test("evaluate scores the layers of a plan missing an expert that can be scored, and says which cannot")
    func evaluateMissingExpert() throws {
        let instance = try temporaryFile("two-layers.json", #"""
            {"schemaVersion": 1, "topology": {"devices": 2, "slotsPerDevice": 2},
             "load": [[[4, 2, 2]], [[1, 1, 6]]]}
            """#)
        // Layer 0 is valid; layer 1 has no replica of expert 2.
        let plan = try temporaryFile("missing.json", #"{"phy2log": [[0, 1, 0, 2], [0, 1, 1, 0]]}"#)
        let r = try CLI.run(["evaluate", instance, "--placement", plan])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""unscoredLayers": [1]"#))
        #expect(r.stdout.contains(#""rule": "everyExpertPresent""#))
        // Layer 0: devices carry 2 + 2 and 2 + 2 tokens: perfectly balanced.
        guard case .object(let root) = try JSONParser.parse(Array(r.stdout.utf8)), case .array(let layers)? = root["layers"],
              layers.count == 2, case .object(let first) = layers[0] else {
            Issue.record("unexpected output \(r.stdout)")
            return
        }
        #expect(first["meanImbalance"]?.doubleValue == 1)
        #expect(layers[1].isNull)
        let table = try CLI.run(["evaluate", instance, "--placement", plan, "--format", "table"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("    1       -"))
        #expect(table.stdout.contains("layer 1, expert 2: has no replica"))
        // A plan for another shape is still bad input.
        let wrong = try temporaryFile("wrong.json", #"{"phy2log": [[0, 1, 2]]}"#)
        let w = try CLI.run(["evaluate", instance, "--placement", wrong])
        #expect(w.status == 2 && w.stdout.isEmpty)
        #expect(w.stderr.contains("wrong.json: phy2log"))
    }

    @Test("evaluate --objective marks its column in the table")
    func evaluateObjective() throws {
        let instance = try Self.toy("toy-objective.json")
        let plan = try temporaryFile("toy-objective-plan.json", try CLI.run(["solve", instance, "--omit-timing"]).stdout)
        let mean = try CLI.run(["evaluate", instance, "--placement", plan, "--format", "table"])
        let worst = try CLI.run(["evaluate", instance, "--placement", plan, "--format", "table", "--objective", "worst"])
        #expect(mean.status == 0 && worst.status == 0)
        #expect(mean.stdout != worst.stdout)
        #expect(worst.stdout.contains("worst*") && !worst.stdout.contains("mean*"))
        #expect(mean.stdout.contains("mean*"))
    }

    @Test("validate applies --devices/--slots-per-device without --instance, and refuses --nodes/--groups there")
    func validateTopologyFlags() throws {
        let plan = try temporaryFile("sixteen.json", #"""
            {"topology": {"devices": 4, "slotsPerDevice": 4}, "experts": 16,
             "phy2log": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]}
            """#)
        let r = try CLI.run(["validate", plan, "--devices", "3", "--slots-per-device", "4"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("[shape]") && r.stdout.contains("say 3 × 4"))
        let same = try CLI.run(["validate", plan, "--devices", "4"])
        #expect(same.status == 0, "\(same.stdout)")
        let bare = try temporaryFile("bare.json", #"{"phy2log": [[0, 1, 2, 3]]}"#)
        let b = try CLI.run(["validate", bare, "--devices", "2", "--slots-per-device", "2"])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stdout.contains("2 devices × 2"))
        let missing = try CLI.run(["validate", bare])
        #expect(missing.status == 2 && missing.stderr.contains("bare.json: topology: missing"))
        let nodes = try CLI.run(["validate", plan, "--nodes", "2"])
        #expect(nodes.status == 64 && nodes.stderr.contains("--nodes"))
    }

    @Test("solve --example X --output FILE writes the placement JSON; the table is for the terminal")
    func solveExampleToFile() throws {
        let dir = TestScratch.root.appendingPathComponent("eplb-example-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/f.json"
        let r = try CLI.run(["solve", "--example", "flashlb-toy", "--output", file])
        #expect(r.status == 0 && r.stdout.isEmpty, "\(r.stderr)")
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        let plan = try PlacementFile.decode(bytes, file: file)
        #expect(plan.experts == 8)
        let table = try CLI.run(["solve", "--example", "flashlb-toy"])
        #expect(table.stdout.contains("layer"))
    }

    @Test("--verbose is refused where it does nothing, like the search flags")
    func verboseConsistency() throws {
        let greedy = try CLI.run(["solve", "--example", "flashlb-toy", "--method", "greedy", "--verbose"])
        #expect(greedy.status == 64 && greedy.stderr.contains("--verbose"))
        let exact = try CLI.run(["solve", "--example", "flashlb-toy", "--method", "exact", "--verbose"])
        #expect(exact.status == 0, "\(exact.stderr)")
    }

    @Test("--nodes/--groups are reported as used by hierarchical only")
    func nodesAndGroups() throws {
        let search = try CLI.run(["solve", "--example", "deepseek-readme"])
        #expect(search.status == 0)
        #expect(search.stdout.contains("used by --method hierarchical only"))
        let hierarchical = try CLI.run(["solve", "--example", "deepseek-readme", "--method", "hierarchical"])
        #expect(hierarchical.stdout.contains("2 node(s), 4 group(s)"))
        #expect(!hierarchical.stdout.contains("hierarchical only"))
    }

    @Test("reference reads '-' and names its file after the instance's name")
    func referenceStandardInput() throws {
        let instance = try CLI.run(["example", "flashlb-toy"]).stdout
        let dir = TestScratch.root.appendingPathComponent("eplb-ref-stdin-\(getpid())").path
        let r = try CLI.run(["reference", "-", "--output-dir", dir], stdin: Data(instance.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/flashlb-toy.placement.json"))
        let twice = try CLI.run(["reference", "-", "-", "--output-dir", dir])
        #expect(twice.status == 64)
        // A name that is no file name is made one.
        let renamed = instance.replacingOccurrences(of: #""name": "flashlb-toy""#, with: #""name": "toy run/1""#)
        #expect(renamed != instance)
        let s = try CLI.run(["reference", "-", "--output-dir", dir], stdin: Data(renamed.utf8))
        #expect(s.status == 0, "\(s.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/toy-run-1.placement.json"))
    }

    /// Found by an audit: a bad second instance left the first one's placement (and the
    /// directory) behind; a NaN exponent surfaced as a NaN load; errors named the instance's
    /// label instead of its file.
    @Test("reference writes nothing when an input is bad; generate refuses a NaN exponent; errors name the file, not the label")
    func nothingHalfDone() throws {
        let root = repositoryRoot()
        let dir = TestScratch.root.appendingPathComponent("eplb-ref-half-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        let bad = try temporaryFile("ref-bad.json", #"{"load": [[1, 2"#)
        let r = try CLI.run(["reference", "Examples/reference/instances/flashlb-toy.json", bad, "--output-dir", dir],
                            directory: root)
        #expect(r.status == 2 && r.stderr.hasPrefix("eplb: error: \(bad): invalid JSON"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir))
        let nan = try CLI.run(["generate", "zipf", "--exponent", "nan"])
        #expect(nan.status == 64 && nan.stderr.contains("--exponent must be a finite number"), "\(nan.stderr)")
        // A labelled instance too short for the backtest's window: the error names the file.
        let labelled = try temporaryFile("ref-labelled.json", #"{"name": "a label", "topology": {"devices": 2, "slotsPerDevice": 2}, "load": [[[1, 2, 3], [2, 3, 4]]]}"#)
        let short = try CLI.run(["backtest", labelled, "--window", "4", "--horizon", "1"])
        #expect(short.status == 2 && short.stderr.hasPrefix("eplb: error: \(labelled): "), "\(short.stderr)")
    }

    @Test("regenerating the shipped reference catalog with its documented command gives the same bytes (up to a tied optimal plan under load)")
    func referenceCatalogReproducible() throws {
        let root = repositoryRoot()
        let instances = root + "/Examples/reference/instances"
        let names = try FileManager.default.contentsOfDirectory(atPath: instances).filter { $0.hasSuffix(".json") }.sorted()
        #expect(names.count == 7)
        let dir = TestScratch.root.appendingPathComponent("eplb-catalog-\(getpid())").path
        let r = try CLI.run(["reference"] + names.map { "Examples/reference/instances/" + $0 } + ["--output-dir", dir],
                            directory: root)
        #expect(r.status == 0, "\(r.stderr)")
        for name in names {
            let stem = String(name.dropLast(".json".count))
            let shipped = try Data(contentsOf: URL(fileURLWithPath: root + "/Examples/reference/placements/\(stem).placement.json"))
            let fresh = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(stem).placement.json"))
            if shipped == fresh { continue }
            // Under heavy load (this suite runs tests in parallel) the exact solver may report another
            // of several tied optimal plans; everything else must be the same bytes: the metrics,
            // bound, status and settings, and a valid plan (the README and --help say so).
            let a = try JSONParser.parse(Array(shipped)), b = try JSONParser.parse(Array(fresh))
            guard case .object(var sa) = a, case .object(var sb) = b else { Issue.record("\(stem): not objects"); continue }
            for key in ["phy2log", "logcnt", "log2phy"] { sa[key] = nil; sb[key] = nil }
            #expect(try JSONWriter.string(.object(sa)) == JSONWriter.string(.object(sb)),
                    "\(stem) differs from a fresh eplb reference run beyond the choice among tied optima")
            let check = try CLI.run(["validate", dir + "/\(stem).placement.json", "--instance",
                                     "Examples/reference/instances/\(name)"], directory: root)
            #expect(check.status == 0, "\(stem): \(check.stdout)")
        }
    }

    @Test("help examples are never wrapped mid-command at 80 columns",
          arguments: ["", "solve", "rebalance", "pareto", "simulate", "evaluate", "validate", "reference", "example",
                      "generate", "gap-report", "import-loads", "export", "import", "forecast", "backtest", "drop",
                      "shard-plan"])
    func helpExamplesFit(command: String) throws {
        let r = try CLI.run(command.split(separator: " ").map(String.init) + ["--help"], environment: ["COLUMNS": "80"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Examples:") }) else {
            Issue.record("eplb \(command) --help has no examples")
            return
        }
        var continued = false
        for line in lines[(start + 1)...] {
            if line.isEmpty { break }
            // Each line is a command, or the continuation of one that ended in a backslash.
            let isCommand = line.hasPrefix("  eplb ") || line.hasPrefix("  cat ")
            #expect(isCommand || (continued && line.hasPrefix("      ")), "eplb \(command) --help: broken line «\(line)»")
            #expect(line.count < 80, "eplb \(command) --help: «\(line)» is \(line.count) columns")
            continued = line.hasSuffix("\\")
        }
    }
}

/// The package's root directory (where README.md is), found from this source file.
func repositoryRoot() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}
