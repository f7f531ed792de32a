import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

/// Runs the built `eplb` binary and checks stdout, stderr and the exit code.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["EPLB_BINARY"] { return URL(fileURLWithPath: path) }
        // The test bundle sits in the same build products directory as the executable.
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("eplb")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.appendingPathComponent("eplb")
    }()

    /// Runs `eplb` with `arguments`; `environment` adds to (or replaces) this process's variables,
    /// `directory` is the working directory (default: this process's).
    static func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
                    directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes concurrently so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

func temporaryFile(_ name: String, _ contents: String) throws -> String {
    let dir = TestScratch.root.appendingPathComponent("eplb-tests-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try contents.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

@Suite("eplb command line")
struct CLITests {
    @Test("eplb solve with no input prints a table for the bundled DeepSeek-V3-shaped example")
    func solveDefault() throws {
        let r = try CLI.run(["solve"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("search on deepseek-v3"))
        #expect(r.stdout.contains("lowerBound"))
        #expect(r.stdout.contains("58 layers × 8 episodes × 256 experts"))
        #expect(r.stderr.isEmpty)
    }

    @Test("JSON output is byte-identical for equal input, and valid per eplb validate")
    func solveJSONDeterministic() throws {
        let instance = try CLI.run(["example", "flashlb-toy"])
        #expect(instance.status == 0)
        let path = try temporaryFile("toy.json", instance.stdout)
        let a = try CLI.run(["solve", path, "--omit-timing"])
        let b = try CLI.run(["solve", "-", "--omit-timing"], stdin: Data(instance.stdout.utf8))
        #expect(a.status == 0 && b.status == 0)
        #expect(a.stdout == b.stdout)
        #expect(a.stdout.contains(#""method": "search""#))
        #expect(a.stdout.contains(#""peakSum": 196.66666666666"#))
        let greedy = try CLI.run(["solve", path, "--method", "greedy", "--omit-timing"])
        #expect(greedy.stdout.contains(#""peakSum": 232"#))
        let plan = try temporaryFile("plan.json", a.stdout)
        let v = try CLI.run(["validate", plan, "--instance", path])
        #expect(v.status == 0)
        #expect(v.stdout.hasPrefix("valid:"))
        let e = try CLI.run(["evaluate", path, "--placement", plan])
        #expect(e.status == 0)
        #expect(e.stdout.contains(#""aggregateImbalance": 1.0850574712643"#))
    }

    @Test("--output writes the file and nothing to stdout")
    func output() throws {
        let dir = TestScratch.root.appendingPathComponent("eplb-out-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try CLI.run(["solve", "--example", "deepseek-readme", "--method", "hierarchical", "--format", "json",
                             "--output", dir + "/plan.json"])
        #expect(r.status == 0 && r.stdout.isEmpty)
        let text = try String(contentsOfFile: dir + "/plan.json", encoding: .utf8)
        #expect(text.contains("[5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1]"))
    }

    @Test("bad input: one line on stderr naming file and field, exit code 2, nothing on stdout", arguments: [
        (#"{"topology": {"devices": 2, "slotsPerDevice": 2}, "load": [1, NaN, 3]}"#, "load[1]: NaN is not a valid load"),
        (#"{"topology": {"devices": 2, "slotsPerDevice": 2}, "load": [[1, 2], [3]]}"#, "load[1]: has 1 entries"),
        (#"{"load": [1, 2, 3]}"#, "topology.devices: missing"),
        (#"{"schemaVersion": 9, "load": [1]}"#, "schemaVersion: unsupported version 9"),
        (#"{"topology": {"devices": 2, "slotsPerDevice": 2}, "load": [1, 2"#, "truncated"),
        ("", "the file is empty"),
    ])
    func badInput(json: String, expected: String) throws {
        let path = try temporaryFile("bad-\(abs(json.hashValue)).json", json)
        let r = try CLI.run(["solve", path])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("eplb: error: \(path): "), "\(r.stderr)")
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }

    @Test("a missing file and a bad flag")
    func missingAndUsage() throws {
        let r = try CLI.run(["solve", "/nonexistent/instance.json"])
        #expect(r.status == 2 && r.stdout.isEmpty)
        #expect(r.stderr == "eplb: error: /nonexistent/instance.json: no such file\n")
        let u = try CLI.run(["solve", "--example", "nope"])
        #expect(u.status == 64 && u.stdout.isEmpty)
        let t = try CLI.run(["solve", "--example", "flashlb-toy", "--devices", "0"])
        #expect(t.status == 64)
    }

    @Test("--anneal-moves: a negative budget is a usage error naming the flag; a budget lowers the mean imbalance")
    func annealMoves() throws {
        let bad = try CLI.run(["solve", "--example", "flashlb-toy", "--anneal-moves", "-1"])
        #expect(bad.status == 64 && bad.stdout.isEmpty)
        #expect(bad.stderr.contains("--anneal-moves must be at least 0, got -1"), "\(bad.stderr)")
        let instance = try temporaryFile("anneal.json", String(decoding: try CLI.run(
            ["generate", "lognormal", "--layers", "1", "--episodes", "8", "--experts", "64", "--devices", "8",
             "--slots-per-device", "9", "--assignments", "16384", "--seed", "7"]).stdout.utf8, as: UTF8.self))
        func mean(_ extra: [String]) throws -> Double {
            let r = try CLI.run(["solve", instance] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            let metrics = json["metrics"] as! [String: Any]
            return ((metrics["summary"] as! [String: Any])["meanImbalance"] as! [String: Any])["mean"] as! Double
        }
        let plain = try mean([]), annealed = try mean(["--anneal-moves", "200000"])
        #expect(annealed < plain, "annealed \(annealed), search \(plain)")
    }

    @Test("topology flags override the file; infeasible hierarchical is reported")
    func flags() throws {
        let r = try CLI.run(["solve", "--example", "flashlb-toy", "--devices", "4", "--slots-per-device", "4", "--format", "json"])
        #expect(r.status == 0)
        #expect(r.stdout.contains(#""slotsPerDevice": 4"#))
        let h = try CLI.run(["solve", "--example", "flashlb-toy", "--method", "hierarchical", "--nodes", "8", "--groups", "8"])
        #expect(h.status == 2)
        #expect(h.stderr.contains("hierarchical placement gives each of the 8 nodes 1 experts"))
    }

    @Test("--method exact proves the toy optimal; too-large layers keep the search's plan, honestly")
    func exact() throws {
        let r = try CLI.run(["solve", "--example", "flashlb-toy", "--method", "exact", "--objective", "aggregate",
                             "--format", "json", "--omit-timing"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""status": "optimal""#))
        #expect(r.stdout.contains(#""peakSum": 196.66666666666"#))
        let large = try CLI.run(["solve", "--example", "deepseek-v3", "--method", "exact", "--time-limit", "8",
                                 "--format", "json", "--omit-timing"])
        #expect(large.status == 0, "\(large.stderr)")
        #expect(!large.stdout.contains(#""status": "optimal""#))
        #expect(large.stdout.contains("device patterns") || large.stdout.contains("time limit"))
    }

    @Test("--max-moves keeps exact and search plans within the cap of the instance's current placement; misuse is a clear error")
    func migration() throws {
        let instance = try CLI.run(["generate", "zipf", "--layers", "1", "--episodes", "1", "--experts", "6",
                                    "--devices", "3", "--slots-per-device", "3", "--seed", "4"])
        // The deployed plan: experts 0..5 then 0, 1, 2 again, device by device.
        let withCurrent = instance.stdout.replacingOccurrences(of: #""load""#, with: #""current": [[0, 1, 2, 3, 4, 5, 0, 1, 2]], "load""#)
        let path = try temporaryFile("moves.json", withCurrent)
        let r = try CLI.run(["solve", path, "--method", "exact", "--objective", "aggregate", "--max-moves", "2",
                             "--format", "json", "--omit-timing"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""status": "optimal""#))
        #expect(r.stdout.contains(#""maxMoves": 2"#))
        let moves = try #require(r.stdout.firstMatch(of: /"moves": (\d+)/)).output.1
        #expect(Int(moves)! <= 2)
        let plain = try temporaryFile("no-current.json", instance.stdout)
        let missing = try CLI.run(["solve", plain, "--method", "exact", "--max-moves", "2"])
        #expect(missing.status == 2 && missing.stderr.contains("current") && missing.stdout.isEmpty)
        let search = try CLI.run(["solve", path, "--method", "search", "--max-moves", "1", "--format", "json"])
        #expect(search.status == 0, "\(search.stderr)")
        let searchMoves = try #require(search.stdout.firstMatch(of: /"moves": (\d+)/)).output.1
        #expect(Int(searchMoves)! <= 1)
        let negative = try CLI.run(["solve", path, "--move-cost", "-1"])
        #expect(negative.status == 64 && negative.stderr.contains("--move-cost"))
    }

    @Test("reference writes a proven placement per instance")
    func reference() throws {
        let instance = try CLI.run(["example", "flashlb-toy"])
        let path = try temporaryFile("toy-ref.json", instance.stdout)
        let dir = TestScratch.root.appendingPathComponent("eplb-ref-\(getpid())").path
        let r = try CLI.run(["reference", path, "--output-dir", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: dir + "/toy-ref.placement.json", encoding: .utf8)
        #expect(text.contains(#""status": "optimal""#))
        #expect(text.contains(#""peakSum": 196.66666666666"#))
        let v = try CLI.run(["validate", dir + "/toy-ref.placement.json", "--instance", path])
        #expect(v.status == 0)
    }

    @Test("reference: two instances with one output name, or a target that is a directory, are refused before anything is written")
    func referenceCollisions() throws {
        let toy = try CLI.run(["example", "flashlb-toy"]).stdout
        let root = TestScratch.root.appendingPathComponent("eplb-refcol-\(getpid())").path
        for sub in ["a", "b"] { try FileManager.default.createDirectory(atPath: "\(root)/\(sub)", withIntermediateDirectories: true) }
        try toy.write(toFile: root + "/a/x.json", atomically: true, encoding: .utf8)
        try toy.write(toFile: root + "/b/x.json", atomically: true, encoding: .utf8)
        try toy.write(toFile: root + "/a/y.json", atomically: true, encoding: .utf8)
        let clash = try CLI.run(["reference", root + "/a/x.json", root + "/b/x.json", "--output-dir", root + "/out"])
        #expect(clash.status == 2 && clash.stderr.contains("give the instances distinct file names"), "\(clash.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/out"))
        try FileManager.default.createDirectory(atPath: root + "/out2/y.placement.json", withIntermediateDirectories: true)
        let blocked = try CLI.run(["reference", root + "/a/x.json", root + "/a/y.json", "--output-dir", root + "/out2"])
        #expect(blocked.status == 2 && blocked.stderr.contains("is a directory"), "\(blocked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/out2/x.placement.json"))
    }

    @Test("gap-report writes JSON and Markdown")
    func gapReport() throws {
        let dir = TestScratch.root.appendingPathComponent("eplb-gaps-\(getpid())").path
        let r = try CLI.run(["gap-report", "--seeds", "1", "--shapes", "6x4x2,8x4x3,12x6x2", "--output-dir", dir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("| search |"))
        let json = try String(contentsOfFile: dir + "/gaps.json", encoding: .utf8)
        #expect(json.contains(#""optimalShare""#))
        #expect(FileManager.default.fileExists(atPath: dir + "/gaps.md"))
        let bad = try CLI.run(["gap-report", "--shapes", "4x2", "--output-dir", dir])
        #expect(bad.status == 64 && bad.stderr.contains("--shapes"))
    }

    @Test("validate names broken rules and exits 1")
    func validateInvalid() throws {
        let plan = #"{"schemaVersion": 1, "topology": {"devices": 2, "slotsPerDevice": 2}, "experts": 3, "phy2log": [[0, 0, 1, 1]]}"#
        let path = try temporaryFile("broken.json", plan)
        let r = try CLI.run(["validate", path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("layer 0, device 0, expert 0: two replicas on one device"))
        #expect(r.stdout.contains("layer 0, expert 2: has no replica"))
        let j = try CLI.run(["validate", path, "--format", "json"])
        #expect(j.status == 1)
        #expect(j.stdout.contains(#""rule": "noDuplicateOnDevice""#))
    }

    @Test("NumPy input from stdin")
    func numpyStdin() throws {
        let array = NumPyArray(shape: [2, 8], dtype: .float64, values: [600, 560, 120, 120, 20, 10, 10, 10, 1, 2, 3, 4, 5, 6, 7, 8])
        let r = try CLI.run(["solve", "-", "--devices", "8", "--slots-per-device", "2", "--format", "table"],
                            stdin: Data(array.encode()))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("2 layers × 1 episodes × 8 experts"))
    }

    @Test("every subcommand has help with an example")
    func help() throws {
        for command in ["solve", "evaluate", "validate", "example", "generate", "reference", "gap-report"] {
            let r = try CLI.run([command, "--help"])
            #expect(r.status == 0)
            #expect(r.stdout.contains("eplb \(command)"), "\(command)")
        }
    }

    @Test("integer flags at Int.max or 2^62: a usage or input error, never an overflow trap (found by fuzzing)")
    func hugeIntegerFlags() throws {
        let max = String(Int.max)
        let tiny = try temporaryFile("huge-tiny.json", #"{"load":[[[1,2],[3,4]]],"topology":{"devices":1,"slotsPerDevice":2}}"#)
        let plan = try temporaryFile("huge-plan.json", #"{"phy2log":[[0,1],[1,0]]}"#)
        let stats = try temporaryFile("huge-stats.jsonl", """
            {"record_type": "eplb_load_meta", "version": 1, "num_ranks": 1, "num_layers": 1, "num_redundant_experts": 0}
            {"record_type": "eplb_load_stats", "version": 1, "step": 1, "expert_load": [[1, 2]], "p2l_map": [[0, 1]]}
            """)
        let dump = try temporaryFile("huge-dump.json", #"{"logical_count":[[1,2]]}"#)
        let small = try temporaryFile("huge-small.json", #"{"load":[1,2,3],"topology":{"devices":2,"slotsPerDevice":2}}"#)
        let cases: [[String]] = [
            ["backtest", tiny, "--window", "1", "--horizon", max],
            ["backtest", tiny, "--window", max, "--horizon", "1"],
            ["import-loads", stats, "--format", "vllm-stats", "--devices", "2", "--slots-per-device", String(1 << 62)],
            ["export", plan, "--format", "sglang", "--devices", "1", "--slots-per-device", "2", "--first-moe-layer", max],
            ["export", plan, "--format", "sglang", "--devices", "1", "--slots-per-device", "2", "--decoder-layers", max],
            ["solve", small, "--width", max],
        ]
        for arguments in cases {
            let r = try CLI.run(arguments)
            #expect(r.status == 2 || r.status == 64, "\(arguments): exit \(r.status) \(r.stderr)")
            #expect(!r.stderr.contains("overflow") && !r.stderr.contains("crashed"), "\(arguments): \(r.stderr)")
        }
        // Steps per episode beyond the recording: one episode of every step.
        let grouped = try CLI.run(["import-loads", dump, "--format", "sglang", "--steps-per-episode", max])
        #expect(grouped.status == 0, "\(grouped.stderr)")
    }
}
