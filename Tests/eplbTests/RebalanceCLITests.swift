import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

@Suite("CLI: rebalance, pareto, validate --current")
struct RebalanceCLITests {
    /// A 3-layer zipf window and a deployed placement planned on another seed's loads.
    static func fixture() throws -> (window: String, deployed: String) {
        let before = try CLI.run(["generate", "zipf", "--layers", "3", "--episodes", "4", "--experts", "12",
                                  "--devices", "4", "--slots-per-device", "4", "--noise", "0.3", "--seed", "1"])
        let beforePath = try temporaryFile("rb-before.json", before.stdout)
        let deployed = try CLI.run(["solve", beforePath, "--omit-timing"])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let window = try CLI.run(["generate", "zipf", "--layers", "3", "--episodes", "4", "--experts", "12",
                                  "--devices", "4", "--slots-per-device", "4", "--noise", "0.3", "--seed", "2"])
        return (try temporaryFile("rb-window.json", window.stdout), try temporaryFile("rb-deployed.json", deployed.stdout))
    }

    @Test("rebalance --strategy plans for the loads to come: last equals a window of the last episode; forecasts are valid and recorded")
    func strategies() throws {
        let (window, deployed) = try Self.fixture()
        // The window's last episode as a window of its own.
        let text = try String(contentsOfFile: window, encoding: .utf8)
        let instance = try InstanceFile.decode(Array(text.utf8), file: "w")
        let loads = instance.problem.loads
        var last = ContiguousArray<Double>()
        for l in 0..<loads.layers {
            for e in 0..<loads.experts { last.append(loads[l, loads.episodes - 1, e]) }
        }
        let lastOnly = try Problem(topology: instance.problem.topology,
                                   loads: LoadTensor(layers: loads.layers, episodes: 1, experts: loads.experts, values: last))
        let lastPath = try temporaryFile("rb-last.json", try JSONWriter.string(InstanceFile.encode(lastOnly, name: "last")))
        let direct = try CLI.run(["rebalance", lastPath, "--current", deployed, "--move-cost", "0.001", "--omit-timing"])
        let planned = try CLI.run(["rebalance", window, "--current", deployed, "--move-cost", "0.001", "--omit-timing",
                                   "--strategy", "last"])
        #expect(direct.status == 0 && planned.status == 0, "\(direct.stderr)\(planned.stderr)")
        let a = try PlacementFile.decode(Array(direct.stdout.utf8), file: "a")
        let b = try PlacementFile.decode(Array(planned.stdout.utf8), file: "b")
        #expect(a == b)
        for strategy in ["forecast:ar", "forecast+window:trend", "hedged:1", "auto"] {
            let horizon = strategy.hasPrefix("hedged") ? [] : ["--horizon", "2"]
            let r = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", strategy, "--omit-timing"] + horizon)
            #expect(r.status == 0, "\(strategy): \(r.stderr)")
            #expect(r.stdout.contains("\"strategy\""), "\(strategy): settings.strategy missing")
            let next = try temporaryFile("rb-\(strategy).json", r.stdout)
            let check = try CLI.run(["validate", next, "--current", deployed])
            #expect(check.status == 0, "\(strategy): \(check.stdout)")
        }
        let bad = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", "crystal-ball"])
        #expect(bad.status == 64 && bad.stderr.contains("--strategy"))
        // Episode weights serve the window strategy only: another says it ignores them.
        let weights = "[" + Array(repeating: "2", count: loads.episodes).joined(separator: ", ") + "]"
        let weighted = try temporaryFile("rb-weighted.json", text.replacingOccurrences(of: "\"load\"", with: "\"episodeWeights\": \(weights), \"load\""))
        let lastWeighted = try CLI.run(["rebalance", weighted, "--current", deployed, "--strategy", "last", "--omit-timing"])
        #expect(lastWeighted.status == 0 && lastWeighted.stderr.hasPrefix("eplb: warning: \(weighted): episodeWeights: ignored: --strategy last"),
                "\(lastWeighted.stderr)")
        let windowWeighted = try CLI.run(["rebalance", weighted, "--current", deployed, "--omit-timing"])
        #expect(windowWeighted.status == 0 && windowWeighted.stderr.isEmpty, "\(windowWeighted.stderr)")
        // Flags the strategy does not use are usage errors, not silently ignored.
        for (flags, named) in [(["--horizon", "3"], "--horizon has no effect with --strategy window"),
                               (["--strategy", "last", "--model", "ar", "--order", "3"], "--model, --order have no effect with --strategy last"),
                               (["--strategy", "hedged:2", "--hedge-k", "3"], "--hedge-k has no effect with --strategy hedged:2")] {
            let r = try CLI.run(["rebalance", window, "--current", deployed] + flags)
            #expect(r.status == 64 && r.stderr.contains(named), "\(flags): \(r.stderr)")
        }
        // An autoregression of order ≥ the window's 4 episodes has nothing to fit (it would plan on
        // the window mean): refused naming the window and --order, as eplb forecast does.
        for strategy in ["forecast:ar", "auto"] {
            let short = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", strategy, "--model", "ar",
                                     "--order", "4", "--omit-timing"])
            #expect(short.status == 2 && short.stdout.isEmpty
                    && short.stderr.hasPrefix("eplb: error: \(window): --order: an autoregression of order 4 needs more than 4 episodes"),
                    "\(strategy): \(short.stderr)")
        }
        // The fixture's 4 episodes leave auto nothing to score with a horizon of 4: said, not silent.
        let blind = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", "auto", "--horizon", "4", "--omit-timing"])
        #expect(blind.status == 0 && blind.stderr.hasPrefix("eplb: warning: --strategy auto: a window of 4 episodes leaves no inner origin"),
                "\(blind.stderr)")
    }

    @Test("rebalance writes a valid change with transfers, priority and records; the next call reads the records back")
    func rebalance() throws {
        let (window, deployed) = try Self.fixture()
        let r = try CLI.run(["rebalance", window, "--current", deployed, "--max-moves", "4", "--expert-bytes", "1000",
                             "--bandwidth", "1e6", "--omit-timing"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try JSONParser.parse(Array(r.stdout.utf8))
        guard case .object(let o) = root else { Issue.record("not an object"); return }
        for key in ["phy2log", "transfers", "priority", "recordedImbalance", "rebalance", "metrics"] {
            #expect(o[key] != nil, "missing \(key)")
        }
        let next = try temporaryFile("rb-next.json", r.stdout)
        let check = try CLI.run(["validate", next, "--current", deployed])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        // Byte-identical placement when nothing is selected (a threshold nobody exceeds).
        let none = try CLI.run(["rebalance", window, "--current", deployed, "--threshold", "1000"])
        #expect(none.status == 0)
        let deployedPlan = try PlacementFile.decode(Array(try String(contentsOfFile: deployed, encoding: .utf8).utf8), file: "d")
        let unchanged = try PlacementFile.decode(Array(none.stdout.utf8), file: "n")
        #expect(unchanged == deployedPlan)
        // The records come back: right after an update, the relative rule selects nothing.
        let again = try CLI.run(["rebalance", window, "--current", next, "--relative-threshold", "0.9", "--format", "table"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("0 of 3 layers changed"))
        #expect(again.stderr.isEmpty)
        // Records made under another objective: compared as they are, with a warning.
        let worst = try CLI.run(["rebalance", window, "--current", next, "--relative-threshold", "0.9", "--objective", "worst"])
        #expect(worst.status == 0 && worst.stderr.hasPrefix("eplb: warning: \(next) records each layer's meanImbalance (solver.objective), but this call scores worstImbalance"), "\(worst.stderr)")
        // Records made planning for a forecast are on that basis: a window call warns, a call with
        // the same strategy does not.
        let forecast = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", "forecast:mean", "--horizon", "2"])
        #expect(forecast.status == 0, "\(forecast.stderr)")
        let planned = try temporaryFile("rb-forecast-next.json", forecast.stdout)
        let mixed = try CLI.run(["rebalance", window, "--current", planned, "--relative-threshold", "0.9"])
        #expect(mixed.status == 0 && mixed.stderr.hasPrefix("eplb: warning: \(planned) records each layer's value on the loads its call planned for (--strategy forecast:mean), but this call scores the window"), "\(mixed.stderr)")
        let same = try CLI.run(["rebalance", window, "--current", planned, "--relative-threshold", "0.9",
                                "--strategy", "forecast:mean", "--horizon", "2"])
        #expect(same.status == 0 && same.stderr.isEmpty, "\(same.stderr)")
        let back = try CLI.run(["rebalance", window, "--current", next, "--relative-threshold", "0.9", "--strategy", "last"])
        #expect(back.stderr.contains("(--strategy window), but this call scores --strategy last"), "\(back.stderr)")
    }

    @Test("rebalance refuses what it cannot do, with the field named")
    func errors() throws {
        let (window, deployed) = try Self.fixture()
        let missing = try CLI.run(["rebalance", window])
        #expect(missing.status == 2 && missing.stderr.contains("current") && missing.stdout.isEmpty)
        let bad = try CLI.run(["rebalance", window, "--relative-threshold", "1.5"])
        #expect(bad.status == 64 && bad.stderr.contains("--relative-threshold"))
        let half = try CLI.run(["rebalance", window, "--expert-bytes", "10"])
        #expect(half.status == 64 && half.stderr.contains("--bandwidth"))
        // A negative value is named as such, not as a missing value.
        for (flag, value) in [("--max-moves", "-3"), ("--min-gain", "-1"), ("--move-cost", "-0.5")] {
            let negative = try CLI.run(["rebalance", window, "--current", deployed, flag, value])
            #expect(negative.status == 64 && negative.stderr.contains("\(flag) must be"), "\(negative.stderr)")
        }
        // A deployed plan for another arrangement of the window's 16 slots (2 × 8, not 4 × 4): its file is named.
        let wide = try temporaryFile("rb-wide.json", #"{"topology": {"devices": 2, "slotsPerDevice": 8}, "experts": 12, "phy2log": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3]]}"#)
        let arranged = try CLI.run(["rebalance", window, "--current", wide])
        #expect(arranged.status == 2 && arranged.stderr.hasPrefix("eplb: error: \(wide): topology: the placement is for 2 devices × 8 slots but the window is for 4 × 4"),
                "\(arranged.stderr)")
        // A window of 3 experts without a topology takes the 12-expert --current plan's 4 × 4: the plan is named.
        let small = try temporaryFile("rb-small-window.json", #"{"load": [[[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]]]}"#)
        let misfit = try CLI.run(["rebalance", small, "--current", deployed])
        #expect(misfit.status == 2 && misfit.stderr.contains("(--current \(deployed) is a placement for 12 experts on 4 × 4 slots)"),
                "\(misfit.stderr)")
        // Stopped by the time limit: the status says so, as solve's does.
        let hurried = try CLI.run(["rebalance", window, "--current", deployed, "--time-limit", "0.000001", "--omit-timing"])
        #expect(hurried.status == 0, "\(hurried.stderr)")
        let solver = try JSONParser.parse(Array(hurried.stdout.utf8)).objectValue?["solver"]?.objectValue
        #expect(solver?["status"]?.stringValue == "timeLimit", "\(String(describing: solver))")
        // A NumPy file where a placement belongs is named as such.
        let npy = TestScratch.root.appendingPathComponent("rb-not-a-plan-\(getpid()).npy").path
        try Data(NumPyArray(shape: [2], dtype: .int64, values: [0, 1]).encode()).write(to: URL(fileURLWithPath: npy))
        let numpy = try CLI.run(["rebalance", window, "--current", npy])
        #expect(numpy.status == 2 && numpy.stderr == "eplb: error: \(npy): is a NumPy .npy file, not a placement file (JSON with \"phy2log\")\n",
                "\(numpy.stderr)")
        // --relative-threshold against a plan without records: a warning, a note, no change.
        let relative = try CLI.run(["rebalance", window, "--current", deployed, "--relative-threshold", "0.9", "--omit-timing"])
        #expect(relative.status == 0, "\(relative.stderr)")
        #expect(relative.stderr.hasPrefix("eplb: warning: \(deployed) records no recordedImbalance"), "\(relative.stderr)")
        let root = try #require(try JSONParser.parse(Array(relative.stdout.utf8)).objectValue)
        let notes = root["solver"]?.objectValue?["notes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(notes.contains { $0.hasPrefix("relativeThreshold: 3 of 3 layers have no recorded value") }, "\(notes)")
        #expect(root["priority"]?.arrayValue?.isEmpty == true)
    }

    @Test("validate --current names a staying expert that changed slot")
    func workerRules() throws {
        let (_, deployed) = try Self.fixture()
        let text = try String(contentsOfFile: deployed, encoding: .utf8)
        var plan = try PlacementFile.decode(Array(text.utf8), file: "d")
        // Swap the first two slots of device 0 in layer 0: same experts, different slots.
        var flat = plan.physicalToLogical
        flat.swapAt(0, 1)
        plan = try Placement(topology: plan.topology, experts: plan.experts, physicalToLogical: flat)
        let moved = try temporaryFile("rb-moved.json", JSONWriter.string(PlacementFile.encode(plan)))
        let r = try CLI.run(["validate", moved, "--current", deployed])
        #expect(r.status == 1)
        #expect(r.stdout.contains("keepsSlotOnDevice"))
    }

    @Test("pareto: the frontier from 0 moves to the re-solve, as JSON and a table")
    func pareto() throws {
        let (window, deployed) = try Self.fixture()
        let r = try CLI.run(["pareto", window, "--current", deployed, "--fractions", "0,0.5,1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""gapClosed""#) && r.stdout.contains(#""resolveMoves""#))
        let table = try CLI.run(["pareto", window, "--current", deployed, "--format", "table"])
        #expect(table.status == 0 && table.stdout.contains("gap closed"))
        let bad = try CLI.run(["pareto", window, "--current", deployed, "--fractions", "0,2"])
        #expect(bad.status == 64)
        let negative = try CLI.run(["pareto", window, "--current", deployed, "--fractions", "-0.1,1"])
        #expect(negative.status == 64 && negative.stderr.contains("-0.1 is outside [0, 1]"), "\(negative.stderr)")
        // The objective heads the value column.
        let peaks = try CLI.run(["pareto", window, "--current", deployed, "--objective", "peak-sum", "--format", "table"])
        let header = peaks.stdout.split(separator: "\n").first { $0.contains("gap closed") }.map(String.init) ?? ""
        #expect(peaks.status == 0 && header.hasSuffix("peak-sum  gap closed"), "\(peaks.stdout)")
        #expect(try CLI.run(["pareto", window, "--current", deployed, "--time-limit", "-1"]).status == 64)
    }

    @Test("a bare {\"phy2log\"} --current takes the window's topology; an id out of range is named in phy2log")
    func bareCurrentTakesWindowTopology() throws {
        let instance = #"{"schemaVersion":1,"topology":{"devices":4,"slotsPerDevice":2},"load":[[[70,137,407,204,195],[60,130,400,210,190]],[[137,22,63,20,359],[140,20,60,25,350]]]}"#
        let window = try temporaryFile("bare-window.json", instance)
        let bare = try temporaryFile("bare-current.json", #"{"phy2log":[[2,0,1,2,2,1,3,4],[2,0,3,2,1,4,0,3]]}"#)
        for arguments in [["pareto", window, "--current", bare], ["rebalance", window, "--current", bare],
                          ["simulate", window, "--current", bare, "--window", "1", "--interval", "1"]] {
            let r = try CLI.run(arguments)
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
        }
        let outOfRange = try temporaryFile("bare-current-50.json", #"{"phy2log":[[2,0,1,2,2,1,3,4],[2,0,3,2,1,4,0,50]]}"#)
        for extra in [[], ["--devices", "4", "--slots-per-device", "2"]] {
            let r = try CLI.run(["pareto", window, "--current", outOfRange] + extra)
            #expect(r.status == 2 && r.stderr.contains("phy2log[1][7]: expert id 50 is out of range 0..<5"), "\(r.stderr)")
        }
    }

    @Test("pareto: with a re-solve no better than the deployed plan, gapClosed is null and the table says why")
    func paretoNoGap() throws {
        let toy = try temporaryFile("pareto-toy.json", try CLI.run(["example", "flashlb-toy"]).stdout)
        let solved = try CLI.run(["solve", toy, "--omit-timing"])
        let plan = try temporaryFile("pareto-toy-plan.json", solved.stdout)
        let r = try CLI.run(["pareto", toy, "--current", plan, "--method", "greedy"])
        #expect(r.status == 0, "\(r.stderr)")
        guard case .object(let o) = try JSONParser.parse(r.stdout), case .array(let model) = o["model"] else {
            Issue.record("no model"); return
        }
        #expect(model.allSatisfy { $0.objectValue?["gapClosed"] == .null })
        let table = try CLI.run(["pareto", toy, "--current", plan, "--method", "greedy", "--format", "table"])
        #expect(table.stdout.contains("(no gap to close: the re-solve is no better than the deployed plan)"))
    }

    /// Two layers, 8 experts on 4 × 3 slots; 8-iteration windows whose hot experts alternate
    /// (0–2, then 5–7) from one window to the next, as an instance with a plain deployed plan.
    static func alternatingWindow(_ w: Int) throws -> String {
        var values = ContiguousArray<Double>()
        for l in 0..<2 {
            for t in 0..<8 {
                for x in 0..<8 { values.append(Double(((w % 2 == 0) ? x < 3 : x >= 5) ? 400 : 100) + Double((t * 7 + x * 3 + l) % 5)) }
            }
        }
        let problem = try Problem(topology: Topology(devices: 4, slotsPerDevice: 3),
                                  loads: LoadTensor(layers: 2, episodes: 8, experts: 8, values: values))
        return try temporaryFile("rb-alternating-\(w).json", JSONWriter.string(InstanceFile.encode(problem)))
    }

    @Test("rebalance --memory: the simulated policy's regime memory across calls, kept in a file")
    func regimeMemory() throws {
        let plain = OnlineSimulator.plainPlacement(topology: Topology(devices: 4, slotsPerDevice: 3), experts: 8, layers: 2)
        var deployed = try temporaryFile("rb-memory-deployed.json", JSONWriter.string(PlacementFile.encode(plain)))
        let memory = TestScratch.root.appendingPathComponent("eplb-memory-\(getpid()).json").path
        try? FileManager.default.removeItem(atPath: memory)
        // The library's policy on the same windows decides the same.
        var policy = RebalancePolicy(options: RebalanceOptions(moves: MovePolicy(cost: 0.002)))
        var current = plain
        var planned: [String] = []
        for w in 0..<5 {
            let window = try Self.alternatingWindow(w)
            let r = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory, "--move-cost", "0.002",
                                 "--omit-timing"])
            #expect(r.status == 0, "\(r.stderr)")
            let root = try #require(try JSONParser.parse(Array(r.stdout.utf8)).objectValue)
            planned.append(try #require(root["plannedOn"]?.stringValue))
            #expect(root["solver"]?.objectValue?["settings"]?.objectValue?["regimeMemory"]?.intValue == 8)
            let next = try PlacementFile.decode(Array(r.stdout.utf8), file: "next")
            let windowProblem = try InstanceFile.decode(Array(try String(contentsOfFile: window, encoding: .utf8).utf8), file: "w").problem
            let decision = try policy.decide(window: try Problem(topology: plain.topology, loads: windowProblem.loads, current: current))
            #expect(next == decision.placement, "window \(w)")
            current = next
            deployed = try temporaryFile("rb-memory-deployed.json", r.stdout)
        }
        #expect(planned == policy.regimeMemory.choices.map(\.rawValue))
        #expect(planned.prefix(2) == ["window", "window"] && planned.contains("memory"))
        let kept = try RegimeMemoryFile.decode(Array(try String(contentsOfFile: memory, encoding: .utf8).utf8), file: memory)
        #expect(kept.remembered.count == 5 && kept.choices.map(\.rawValue) == planned)

        // Bad uses: exit 64 or a clear error, and the memory file left as it was.
        let before = try String(contentsOfFile: memory, encoding: .utf8)
        let window = try Self.alternatingWindow(5)
        let alone = try CLI.run(["rebalance", window, "--current", deployed, "--regime-memory", "4"])
        #expect(alone.status == 64 && alone.stderr.contains("--memory"))
        let strategy = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory, "--strategy", "last"])
        #expect(strategy.status == 64 && strategy.stderr.contains("--strategy window"))
        let notMemory = try temporaryFile("rb-memory-not-a-memory.json", try String(contentsOfFile: deployed, encoding: .utf8))
        let wrong = try CLI.run(["rebalance", window, "--current", deployed, "--memory", notMemory])
        #expect(wrong.status != 0 && wrong.stderr.contains("kind"), "\(wrong.stderr)")
        for clash in [["--current", deployed, "--memory", deployed], ["--current", deployed, "--memory", memory, "--output", memory]] {
            let r = try CLI.run(["rebalance", window] + clash)
            #expect(r.status == 64 && r.stderr.contains("name the same file"), "\(clash): \(r.stderr)")
        }
        // An output that fails as it is written (a full device): the window is not counted.
        if FileManager.default.fileExists(atPath: "/dev/full") {
            let full = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory, "--output", "/dev/full"])
            #expect(full.status == 2, "\(full.stderr)")
            #expect(try String(contentsOfFile: memory, encoding: .utf8) == before)
        }
        let other = try CLI.run(["generate", "zipf", "--layers", "3", "--episodes", "4", "--experts", "8",
                                 "--devices", "4", "--slots-per-device", "3", "--seed", "1"])
        let otherWindow = try temporaryFile("rb-memory-other.json", other.stdout)
        let otherPlan = try temporaryFile("rb-memory-other-plan.json", JSONWriter.string(PlacementFile.encode(
            OnlineSimulator.plainPlacement(topology: Topology(devices: 4, slotsPerDevice: 3), experts: 8, layers: 3))))
        let reshaped = try CLI.run(["rebalance", otherWindow, "--current", otherPlan, "--memory", memory, "--regime-memory", "3",
                                    "--omit-timing"])
        #expect(reshaped.status == 0, "\(reshaped.stderr)")  // another model: the memory starts afresh
        let afresh = try RegimeMemoryFile.decode(Array(try String(contentsOfFile: memory, encoding: .utf8).utf8), file: memory)
        #expect(afresh.remembered.count == 1 && afresh.remembered[0].layers == 3 && afresh.windows == 3)
        // Without the flag the file's own count holds, and is recorded even with no other setting.
        let again = try CLI.run(["rebalance", otherWindow, "--current", otherPlan, "--memory", memory, "--omit-timing"])
        let settings = try JSONParser.parse(Array(again.stdout.utf8)).objectValue?["solver"]?.objectValue?["settings"]?.objectValue
        #expect(again.status == 0 && settings?["regimeMemory"]?.intValue == 3, "\(again.stderr)")
        try before.write(toFile: memory, atomically: true, encoding: .utf8)
        let broken = before.replacingOccurrences(of: "\"discount\": 0.5", with: "\"discount\": 7")
        try broken.write(toFile: memory, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory])
        #expect(bad.status != 0 && bad.stderr.contains("discount"), "\(bad.stderr)")
        #expect(try String(contentsOfFile: memory, encoding: .utf8) == broken)
    }

    @Test("rebalance --memory --payback-unit-price: the simulated policy's measured move price across calls")
    func measuredPrice() throws {
        let topology = Topology(devices: 4, slotsPerDevice: 3)
        let plain = OnlineSimulator.plainPlacement(topology: topology, experts: 8, layers: 2)
        var deployed = try temporaryFile("rb-payback-deployed.json", JSONWriter.string(PlacementFile.encode(plain)))
        let memory = TestScratch.root.appendingPathComponent("eplb-payback-\(getpid()).json").path
        try? FileManager.default.removeItem(atPath: memory)
        var policy = RebalancePolicy(options: RebalanceOptions())
        policy.payback = PaybackEstimate(unitPrice: 0.004)
        var current = plain
        var horizons: [Double] = []
        // A regime that holds for three windows (its gain lasts), then a switch.
        for (call, w) in [0, 0, 0, 1, 1].enumerated() {
            let window = try Self.alternatingWindow(w)
            // The flag at the first call only: later calls reuse the price kept in the file.
            let r = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory, "--omit-timing"]
                                + (call == 0 ? ["--payback-unit-price", "0.004"] : []))
            #expect(r.status == 0, "\(r.stderr)")
            let settings = try #require(try JSONParser.parse(Array(r.stdout.utf8)).objectValue?["solver"]?.objectValue?["settings"]?.objectValue)
            let k = try #require(settings["paybackIntervals"]?.doubleValue)
            horizons.append(k)
            #expect(settings["unitMoveCost"]?.doubleValue == 0.004 && settings["moveCost"]?.doubleValue == 0.004 / k)
            let next = try PlacementFile.decode(Array(r.stdout.utf8), file: "next")
            let windowProblem = try InstanceFile.decode(Array(try String(contentsOfFile: window, encoding: .utf8).utf8), file: "w").problem
            let decision = try policy.decide(window: try Problem(topology: topology, loads: windowProblem.loads, current: current))
            #expect(next == decision.placement, "call \(call)")
            current = next
            deployed = try temporaryFile("rb-payback-deployed.json", r.stdout)
        }
        #expect(horizons == policy.payback?.history)
        #expect(horizons.first == 2 && horizons.contains { $0 > 2 }, "\(horizons)")
        let kept = try RegimeMemoryFile.decodeState(Array(try String(contentsOfFile: memory, encoding: .utf8).utf8), file: memory)
        #expect(kept.payback?.history == horizons && kept.payback?.unitPrice == 0.004)

        // Bad uses: exit 64, or an error naming the memory file's field; the file left as it was.
        let before = try String(contentsOfFile: memory, encoding: .utf8)
        let window = try Self.alternatingWindow(0)
        // An output that cannot be written leaves the memory as it was (a retry must not count
        // the window twice).
        let unwritable = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory,
                                      "--output", TestScratch.root.path + "/no-such-directory/next.json"])
        #expect(unwritable.status == 2 && unwritable.stderr.contains("no-such-directory/next.json: cannot be written"), "\(unwritable.stderr)")
        #expect(try String(contentsOfFile: memory, encoding: .utf8) == before)
        let deployedRoot = try #require(try JSONParser.parse(Array(try String(contentsOfFile: deployed, encoding: .utf8).utf8)).objectValue)
        let bare = try temporaryFile("rb-payback-bare.json", JSONWriter.string(.object(JSONObject([("phy2log", try #require(deployedRoot["phy2log"]))]))))
        let flags = try CLI.run(["rebalance", window, "--current", bare, "--devices", "4", "--slots-per-device", "3", "--omit-timing"])
        let full = try CLI.run(["rebalance", window, "--current", deployed, "--omit-timing"])
        #expect(flags.status == 0, "a bare plan takes the flags' topology: \(flags.stderr)")
        #expect(try PlacementFile.decode(Array(flags.stdout.utf8), file: "bare") == (try PlacementFile.decode(Array(full.stdout.utf8), file: "full")))
        let alone = try CLI.run(["rebalance", window, "--current", deployed, "--payback-unit-price", "0.004"])
        #expect(alone.status == 64 && alone.stderr.contains("--memory"), "\(alone.stderr)")
        let both = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory,
                                "--payback-unit-price", "0.004", "--move-cost", "0.001"])
        #expect(both.status == 64 && both.stderr.contains("--move-cost"), "\(both.stderr)")
        let negative = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory, "--payback-unit-price", "-1"])
        #expect(negative.status == 64, "\(negative.stderr)")
        let fixed = try CLI.run(["rebalance", window, "--current", deployed, "--memory", memory, "--move-cost", "0.001"])
        #expect(fixed.status != 0 && fixed.stderr.contains("payback") && fixed.stderr.contains(memory), "\(fixed.stderr)")
        #expect(try String(contentsOfFile: memory, encoding: .utf8) == before)
    }
}
