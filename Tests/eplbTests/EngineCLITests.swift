import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

/// `eplb import-loads`, `eplb export` and `eplb import` on the sample dumps in Examples/engines.
@Suite("eplb engine formats")
struct EngineCLITests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/engines").path

    static func loads(_ path: String) throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test("the four load dumps of the same trace give the same loads and layer ids")
    func dumpsAgree() throws {
        let x = Self.samples
        let runs: [[String]] = [
            ["import-loads", "\(x)/sglang-expert-distribution.json", "--format", "sglang", "--first-moe-layer", "1"],
            ["import-loads", "\(x)/vllm-eplb-stats.jsonl", "--format", "vllm-stats", "--first-moe-layer", "1"],
            ["import-loads", "\(x)/trtllm-expert-statistic", "--format", "trtllm"],
        ]
        var documents: [JSONObject] = []
        for args in runs {
            let r = try CLI.run(args)
            #expect(r.status == 0 && r.stderr.isEmpty, "\(args): \(r.stderr)")
            guard case .object(let o) = try JSONParser.parse(r.stdout) else { Issue.record("not an object"); return }
            documents.append(o)
        }
        #expect(documents[0]["load"] == documents[1]["load"] && documents[1]["load"] == documents[2]["load"])
        #expect(documents.allSatisfy { $0["layerIds"] == .array((1...26).map { .number(Double($0)) }) })
        #expect(documents[1]["topology"] != nil && documents[1]["current"] != nil)
        // vLLM per-slot loads of the whole window = the steps summed.
        let slot = try CLI.run(["import-loads", "\(x)/vllm-expert-load-view.npy", "--format", "vllm", "--phy2log", "\(x)/vllm-phy2log.npy",
                                "--devices", "8"])
        #expect(slot.status == 0, "\(slot.stderr)")
        let summed = try InstanceFile.decode(Array(slot.stdout.utf8), file: "s").problem.loads
        let steps = try InstanceFile.decode(Array(JSONWriter.string(.object(documents[1])).utf8), file: "b").problem.loads
        #expect(summed.experts == 64 && summed.layers == 26 && summed.episodes == 1)
        for l in 0..<26 { for e in 0..<64 { #expect(summed[l, 0, e] == (0..<8).reduce(0) { $0 + steps[l, $1, e] }) } }
    }

    @Test("import-loads → solve → export every format → import gives the same phy2log (layerIds carried through)")
    func pipeline() throws {
        let x = Self.samples
        let instance = try CLI.run(["import-loads", "\(x)/vllm-eplb-stats.jsonl", "--format", "vllm-stats", "--first-moe-layer", "1"])
        let instancePath = try temporaryFile("engine-instance.json", instance.stdout)
        let plan = try CLI.run(["solve", instancePath, "--method", "greedy", "--omit-timing"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let planPath = try temporaryFile("engine-plan.json", plan.stdout)
        let original = try PlacementFile.decodeDocument(Array(plan.stdout.utf8), file: "plan")
        #expect(original.layerIds == Array(1...26))
        for format in ["sglang", "vllm-ascend", "vllm-mapping", "trtllm", "rank-maps", "deepseek"] {
            let out = TestScratch.root.appendingPathComponent("eplb-engine-\(getpid())-\(format)").path
            let export = try CLI.run(["export", planPath, "--format", format, "--output", out] + (format == "sglang" ? ["--decoder-layers", "27"] : []))
            #expect(export.status == 0 && export.stdout.isEmpty && export.stderr.isEmpty, "\(format): \(export.stderr)")
            let needsDevices = ["sglang", "vllm-mapping", "trtllm", "deepseek"].contains(format)
            let layerFlag = ["trtllm", "rank-maps"].contains(format) ? [] : ["--first-moe-layer", "1"]
            let back = try CLI.run(["import", out, "--format", format] + (needsDevices ? ["--devices", "8"] : []) + layerFlag)
            #expect(back.status == 0, "\(format): \(back.stderr)")
            let decoded = try PlacementFile.decodeDocument(Array(back.stdout.utf8), file: format)
            #expect(decoded.placement == original.placement, "\(format)")
            #expect(decoded.layerIds == Array(1...26), "\(format)")
        }
    }

    @Test("bad input: one line naming the file and field, exit 2, nothing on stdout, no output file")
    func badInput() throws {
        let dir = TestScratch.root.path
        let out = "\(dir)/eplb-engine-\(getpid())-never.json"
        let dump = try temporaryFile("engine-bad-sglang.json", #"{"logical_count": [[[1, 2], [3, "x"]]]}"#)
        let r = try CLI.run(["import-loads", dump, "--format", "sglang", "--output", out])
        #expect(r.status == 2 && r.stdout.isEmpty)
        #expect(r.stderr == "eplb: error: \(dump): logical_count[0][1][1]: expected a number, found a string\n")
        #expect(!FileManager.default.fileExists(atPath: out))

        // A map that puts expert 1 twice on device 0: SGLang (like DeepSeek EPLB and vLLM) serves
        // it, so it is read with a warning; vllm-ascend's worker refuses it, so its export is refused.
        let map = try temporaryFile("engine-bad-map.json", #"{"physical_to_logical_map": [[1, 1, 0, 2]]}"#)
        let twice = try CLI.run(["import", map, "--format", "sglang", "--devices", "2"])
        #expect(twice.status == 0, "\(twice.stderr)")
        #expect(twice.stderr == "eplb: warning: \(map): layer 0, device 0, expert 1: two replicas on one device (second in slot 1) "
                + "(1 such replica in 1 layer); SGLang serves this, vllm-ascend does not, and this tool's plans never do it: "
                + "rebalancing re-places such a layer only when that pays\n")
        let twicePlan = try temporaryFile("engine-twice-plan.json", twice.stdout)
        // As a plan it breaks the rule; left as deployed it is no change.
        #expect(try CLI.run(["validate", twicePlan]).status == 1)
        let unchanged = try CLI.run(["validate", twicePlan, "--current", twicePlan])
        #expect(unchanged.status == 0, "\(unchanged.stdout)")
        let ascend = try CLI.run(["export", twicePlan, "--format", "vllm-ascend", "--output", out])
        #expect(ascend.status == 2 && ascend.stdout.isEmpty && ascend.stderr.hasPrefix("eplb: error: \(twicePlan): phy2log[0]: invalid placement:"))
        #expect(ascend.stderr.split(separator: "\n").count == 1)
        #expect(ascend.stderr.contains("vllm-ascend cannot load an expert twice on a device"), "\(ascend.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let deepseek = try CLI.run(["export", twicePlan, "--format", "vllm-mapping"])
        #expect(deepseek.status == 0 && deepseek.stderr.contains("vLLM serves this"), "\(deepseek.stderr)")
        // Expert 1 nowhere: refused for every engine.
        let lost = try temporaryFile("engine-lost-map.json", #"{"physical_to_logical_map": [[2, 2, 0, 0]]}"#)
        let bad = try CLI.run(["import", lost, "--format", "sglang", "--devices", "2", "--output", out])
        #expect(bad.status == 2 && bad.stdout.isEmpty && bad.stderr.hasPrefix("eplb: error: \(lost): phy2log[0]: invalid placement:"),
                "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))

        // vLLM loads recorded under a map vLLM could not have loaded (expert 1 twice on device 0,
        // expert 3 nowhere): the map's file is named.
        let slotLoads = try temporaryFile("engine-slot-loads.json", "[[5, 6, 7, 8]]")
        let vllmMap = try temporaryFile("engine-bad-vllm-map.json", "[[1, 1, 0, 2]]")
        let vllm = try CLI.run(["import-loads", slotLoads, "--format", "vllm", "--phy2log", vllmMap, "--experts", "4",
                                "--devices", "2", "--output", out])
        #expect(vllm.status == 2 && vllm.stdout.isEmpty, "\(vllm.stderr)")
        #expect(vllm.stderr.hasPrefix("eplb: error: \(vllmMap): phy2log[0]: invalid placement:"), "\(vllm.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))

        // A deepseek map set is written whole or not at all: one unwritable file, no file written.
        let plan = try temporaryFile("engine-good-plan.json", #"{"schemaVersion": 1, "topology": {"devices": 2, "slotsPerDevice": 2}, "experts": 3, "phy2log": [[0, 1, 2, 0]]}"#)
        let directory = TestScratch.root.appendingPathComponent("eplb-engine-\(getpid())-set").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory + "/logcnt.npy", withIntermediateDirectories: true)
        let set = try CLI.run(["export", plan, "--format", "deepseek", "--output", directory])
        #expect(set.status == 2 && set.stderr == "eplb: error: \(directory)/logcnt.npy: is a directory, not a file\n", "\(set.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["logcnt.npy"])
        try FileManager.default.removeItem(atPath: directory + "/logcnt.npy")
        let written = try CLI.run(["export", plan, "--format", "deepseek", "--output", directory])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["log2phy.npy", "logcnt.npy", "phy2log.npy"])

        // A bare {"phy2log": …} plan exports with the flags' topology, as the full plan does.
        let barePlan = try temporaryFile("engine-bare-plan.json", #"{"phy2log": [[0, 1, 2, 0]]}"#)
        let withoutTopology = try CLI.run(["export", barePlan, "--format", "sglang"])
        #expect(withoutTopology.status == 2 && withoutTopology.stderr.contains("--devices and --slots-per-device"))
        let bareExport = try CLI.run(["export", barePlan, "--format", "sglang", "--devices", "2", "--slots-per-device", "2"])
        let fullExport = try CLI.run(["export", plan, "--format", "sglang"])
        #expect(bareExport.status == 0 && bareExport.stdout == fullExport.stdout, "\(bareExport.stderr)")
        // Without layerIds or --first-moe-layer the rows are decoder layers from 0: said, not guessed silently.
        #expect(bareExport.stderr.contains("no layerIds and no --first-moe-layer"), "\(bareExport.stderr)")
        let withK = try CLI.run(["export", barePlan, "--format", "sglang", "--devices", "2", "--slots-per-device", "2",
                                 "--first-moe-layer", "1"])
        #expect(withK.status == 0 && withK.stderr.isEmpty, "\(withK.stderr)")

        let missing = try CLI.run(["import", map, "--format", "trtllm"])
        #expect(missing.status == 2 && missing.stderr.contains("invalid YAML") || missing.stderr.contains("num_slots"))

        let noDevices = try CLI.run(["import", map, "--format", "sglang"])
        #expect(noDevices.status == 2)
        #expect(noDevices.stderr == "eplb: error: \(map): physical_to_logical_map: SGLang's map does not record the number of devices (EP ranks); pass --devices\n")
    }

    @Test("import-loads --format trtllm --slot-map: slot statistics folded through the load-balancer YAML, which becomes current")
    func trtllmSlotMap() throws {
        let x = Self.samples
        // The sample records 64 ids per layer; a static balancer YAML with 64 slots on 8 ranks
        // (slot p holds expert p) folds them onto themselves and records the map in force.
        let rows = (1...26).map { "  \($0): [\((0..<64).map(String.init).joined(separator: ", "))]" }.joined(separator: "\n")
        let yaml = try temporaryFile("engine-lb.yaml", "num_slots: 64\ninitial_global_assignments:\n\(rows)\nlayer_updates_per_iter: 0\n")
        let plain = try CLI.run(["import-loads", "\(x)/trtllm-expert-statistic", "--format", "trtllm"])
        let folded = try CLI.run(["import-loads", "\(x)/trtllm-expert-statistic", "--format", "trtllm", "--slot-map", yaml, "--devices", "8"])
        #expect(folded.status == 0, "\(folded.stderr)")
        guard case .object(let a) = try JSONParser.parse(plain.stdout), case .object(let b) = try JSONParser.parse(folded.stdout) else {
            Issue.record("not objects"); return
        }
        #expect(a["load"] == b["load"] && a["layerIds"] == b["layerIds"])
        #expect(b["current"] != nil && b["topology"]?.objectValue?["devices"]?.intValue == 8)
        #expect(try CLI.run(["import-loads", "\(x)/trtllm-expert-statistic", "--format", "trtllm", "--slot-map", yaml]).status == 64)
        #expect(try CLI.run(["import-loads", "\(x)/sglang-expert-distribution.json", "--format", "sglang", "--slot-map", yaml,
                             "--devices", "8"]).status == 64)
    }

    @Test("a 3-D .npy is never guessed: import-loads --format npy needs --axes")
    func npyNeedsAxes() throws {
        let values = ContiguousArray((0..<24).map { Double($0 % 5 + 1) })
        let path = TestScratch.root.appendingPathComponent("eplb-engine-\(getpid())-trace.npy").path
        try Data(NumPyArray(shape: [2, 3, 4], dtype: .float32, values: values).encode()).write(to: URL(fileURLWithPath: path))
        let refused = try CLI.run(["import-loads", path, "--format", "npy"])
        #expect(refused.status == 2 && refused.stdout.isEmpty && refused.stderr.contains("pass --axes lte or --axes tle"))
        let tle = try CLI.run(["import-loads", path, "--format", "npy", "--axes", "tle", "--first-moe-layer", "3"])
        #expect(tle.status == 0, "\(tle.stderr)")
        guard case .object(let o) = try JSONParser.parse(tle.stdout) else { Issue.record("not an object"); return }
        #expect(o["layerIds"] == [3, 4, 5])
        // The engine formats fix their own axis order.
        #expect(try CLI.run(["import-loads", path, "--format", "sglang", "--axes", "tle"]).status == 64)
    }

    @Test("a placement whose layerIds contradict the instance's is refused by every command that pairs their rows")
    func contradictingLayerIds() throws {
        let made = try CLI.run(["generate", "lognormal", "--layers", "4", "--episodes", "3", "--experts", "8",
                                "--devices", "4", "--slots-per-device", "3", "--seed", "1"])
        guard case .object(var instance) = try JSONParser.parse(made.stdout) else { Issue.record("not an object"); return }
        instance["layerIds"] = [3, 4, 5, 6]
        let inst = try temporaryFile("layerids-instance.json", try JSONWriter.string(.object(instance)))
        let solved = try CLI.run(["solve", inst, "--method", "greedy", "--omit-timing"])
        #expect(solved.status == 0, "\(solved.stderr)")
        guard case .object(var plan) = try JSONParser.parse(solved.stdout) else { Issue.record("not an object"); return }
        #expect(plan["layerIds"] == [3, 4, 5, 6])
        let same = try temporaryFile("layerids-same.json", solved.stdout)
        // The same rows, reversed, with their ids: a consistent file for other row order.
        if case .array(let rows) = plan["phy2log"] { plan["phy2log"] = .array(rows.reversed()) }
        plan["layerIds"] = [6, 5, 4, 3]
        plan["metrics"] = nil
        let reversed = try temporaryFile("layerids-reversed.json", try JSONWriter.string(.object(plan)))
        plan["layerIds"] = [10, 11, 12, 13]
        let other = try temporaryFile("layerids-other.json", try JSONWriter.string(.object(plan)))
        let dir = TestScratch.root.appendingPathComponent("eplb-layerids-\(getpid())").path
        for arguments in [["evaluate", inst, "--placement", reversed], ["drop", inst, "--placement", reversed, "--budget", "0.05"],
                          ["validate", reversed, "--instance", inst], ["validate", same, "--current", reversed],
                          ["gap-report", "--instance", inst, "--placement", reversed, "--output-dir", dir, "--time-limit", "1"],
                          ["rebalance", inst, "--current", reversed], ["pareto", inst, "--current", reversed],
                          ["simulate", inst, "--current", reversed, "--window", "1", "--interval", "1"]] {
            let r = try CLI.run(arguments)
            #expect(r.status == 2 && r.stdout.isEmpty, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("layerIds: row 0 is decoder layer 6 here but decoder layer 3")
                    && r.stderr.contains("the same layers in another order"), "\(arguments): \(r.stderr)")
        }
        let foreign = try CLI.run(["evaluate", inst, "--placement", other])
        #expect(foreign.status == 2 && foreign.stderr.contains("a placement for other layers"), "\(foreign.stderr)")
        // Matching ids, or ids on one side only, pair rows as before.
        #expect(try CLI.run(["evaluate", inst, "--placement", same]).status == 0)
        let plain = try temporaryFile("layerids-plain.json", made.stdout)
        #expect(try CLI.run(["evaluate", plain, "--placement", reversed]).status == 0)
    }
}
