import ExpertPlacementFormats
import Foundation
import Testing

@Suite("eplb simulate")
struct SimulateCLITests {
    /// A generated 2-layer × 48-iteration × 6-expert trace for 4 devices × 2 slots.
    static func trace() throws -> String {
        let r = try CLI.run(["generate", "lognormal", "--layers", "2", "--episodes", "48", "--experts", "6",
                             "--devices", "4", "--slots-per-device", "2", "--seed", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        return try temporaryFile("sim-trace.json", r.stdout)
    }

    /// A run's JSON report, `{"policies": [...], ...}`, and its policies; the run must exit 0.
    static func report(_ r: CLI.Result) throws -> (root: JSONObject, policies: [JSONObject]) {
        #expect(r.status == 0, "\(r.stderr)")
        let root = try #require(try JSONParser.parse(r.stdout).objectValue)
        return (root, try #require(root["policies"]?.arrayValue).compactMap(\.objectValue))
    }

    @Test("--policy none,greedy: JSON with the contract's keys, byte-equal reruns, exit 0")
    func json() throws {
        let path = try Self.trace()
        let flags = ["--window", "8", "--interval", "8", "--delay-iterations", "1", "--omit-timing"]
        let r = try CLI.run(["simulate", path, "--policy", "none,greedy"] + flags)
        let (root, policies) = try Self.report(r)
        #expect(r.stderr.isEmpty)
        #expect(root.keys.sorted() == ["policies", "settings", "trace"])
        #expect(policies.map { $0["name"]?.stringValue } == ["none", "greedy"])
        for policy in policies {
            for key in ["meanPAR", "p50PAR", "p99PAR", "maxPAR", "moves", "rebalances", "layersChanged",
                        "delayIterations", "modelledCostSeconds", "calls"] {
                #expect(policy[key] != nil, "\(key)")
            }
            #expect(policy["policyWallSeconds"] == nil, "--omit-timing")
            #expect(policy["rebalances"]?.intValue == 5)
        }
        #expect(policies[0]["moves"]?.intValue == 0)
        #expect((policies[1]["moves"]?.intValue ?? 0) > 0)
        let meanNone = try #require(policies[0]["meanPAR"]?.doubleValue)
        let costNone = try #require(policies[0]["modelledCostSeconds"]?.doubleValue)
        #expect(abs(costNone - 60 * meanNone) < 1e-9)
        let trace = try #require(root["trace"]?.objectValue)
        #expect(trace["iterations"]?.intValue == 48 && trace["current"]?.stringValue == "plain")
        #expect(root["settings"]?.objectValue?["firstRebalanceIteration"]?.intValue == 8)
        let again = try CLI.run(["simulate", path, "--policy", "none", "--policy", "greedy"] + flags)
        #expect(again.stdout == r.stdout, "repeated --policy equals the comma-separated list; output is deterministic")
        let table = try CLI.run(["simulate", path, "--format", "table", "--policy", "greedy"] + flags)
        #expect(table.status == 0 && table.stdout.contains("meanPAR") && table.stdout.contains("greedy"))
    }

    @Test("--current of the wrong shape: exit 2, one line naming the file and current, nothing on stdout")
    func badCurrent() throws {
        let path = try Self.trace()
        let threeLayers = #"{"schemaVersion": 1, "topology": {"devices": 4, "slotsPerDevice": 2}, "experts": 6, "phy2log": [[0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 4, 5, 0, 1]]}"#
        let otherTopology = #"{"schemaVersion": 1, "topology": {"devices": 2, "slotsPerDevice": 4}, "experts": 6, "phy2log": [[0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 4, 5, 0, 1]]}"#
        for (name, plan) in [("three-layers.json", threeLayers), ("other-topology.json", otherTopology)] {
            let current = try temporaryFile(name, plan)
            let r = try CLI.run(["simulate", path, "--current", current, "--window", "8", "--interval", "8"])
            #expect(r.status == 2)
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.hasPrefix("eplb: error: \(current): current: "), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        // A plan no engine could serve (expert 5 nowhere) is refused before any policy runs,
        // whichever policies are asked for.
        let lost = try temporaryFile("lost-current.json", #"{"schemaVersion": 1, "topology": {"devices": 4, "slotsPerDevice": 2}, "experts": 6, "phy2log": [[0, 0, 1, 2, 3, 4, 1, 2], [0, 1, 2, 3, 4, 5, 0, 1]]}"#)
        for policies in ["none", "none,greedy,rebalance"] {
            let r = try CLI.run(["simulate", path, "--current", lost, "--window", "8", "--interval", "8", "--policy", policies])
            #expect(r.status == 2 && r.stdout.isEmpty, "\(policies): \(r.stderr)")
            #expect(r.stderr.hasPrefix("eplb: error: \(lost): phy2log[0]: expert 5 has no replica"), "\(r.stderr)")
        }
        // Expert 0 twice on device 0 (DeepSeek EPLB's packing can leave that; vLLM and SGLang serve it): simulated from.
        let twice = try temporaryFile("twice-current.json", #"{"schemaVersion": 1, "topology": {"devices": 4, "slotsPerDevice": 2}, "experts": 6, "phy2log": [[0, 0, 1, 2, 3, 4, 5, 1], [0, 1, 2, 3, 4, 5, 0, 1]]}"#)
        let served = try CLI.run(["simulate", path, "--current", twice, "--window", "8", "--interval", "8", "--policy", "none,rebalance"])
        #expect(served.status == 0, "\(served.stderr)")
        let good = try temporaryFile("good-current.json", otherTopology.replacingOccurrences(
            of: #""devices": 2, "slotsPerDevice": 4"#, with: #""devices": 4, "slotsPerDevice": 2"#))
        let ok = try CLI.run(["simulate", path, "--current", good, "--window", "8", "--interval", "8", "--policy", "none"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains(#""current": "\#(good)""#))
    }

    @Test("rebalance-forecast: the rebalance policy planning for the loads to come; refused without a strategy")
    func forecastPolicy() throws {
        let path = try Self.trace()
        let flags = ["--window", "8", "--interval", "8", "--delay-iterations", "1", "--omit-timing"]
        let refused = try CLI.run(["simulate", path, "--policy", "rebalance,rebalance-forecast"] + flags)
        #expect(refused.status == 64 && refused.stderr.contains("--strategy"))
        // Side by side with rebalance: the same call schedule, its own name and figures.
        let r = try CLI.run(["simulate", path, "--policy", "rebalance,rebalance-forecast", "--strategy", "last"] + flags)
        let (_, policies) = try Self.report(r)
        guard policies.count == 2, case .array(let plainCalls) = policies[0]["calls"],
              case .array(let plannedCalls) = policies[1]["calls"]
        else { Issue.record("no policies in \(r.stdout)"); return }
        let (plain, planned) = (policies[0], policies[1])
        #expect(plain["name"] == .string("rebalance") && planned["name"] == .string("rebalance-forecast"))
        #expect(plainCalls.count == plannedCalls.count && !plannedCalls.isEmpty)
        for strategy in ["forecast:ema", "hedged", "auto"] {
            let horizon = strategy == "hedged" ? [] : ["--horizon", "2"]
            let s = try CLI.run(["simulate", path, "--policy", "rebalance-forecast", "--strategy", strategy] + horizon + flags)
            #expect(s.status == 0, "\(strategy): \(s.stderr)")
        }
        // Planning flags with no effect are usage errors: a horizon for hedged, any without the policy.
        for extra in [["--policy", "rebalance-forecast", "--strategy", "hedged", "--horizon", "2"],
                      ["--policy", "rebalance", "--strategy", "last"], ["--policy", "rebalance", "--horizon", "2"],
                      ["--policy", "greedy", "--model", "ar"]] {
            let s = try CLI.run(["simulate", path] + extra + flags)
            #expect(s.status == 64 && (s.stderr.contains("no effect") || s.stderr.contains("rebalance-forecast policy")), "\(extra): \(s.stderr)")
        }
    }

    @Test("oracle: the rebalance policy on the future, no delay charged, its settings recorded")
    func oraclePolicy() throws {
        let path = try Self.trace()
        let flags = ["--window", "8", "--interval", "8", "--delay-iterations", "3", "--omit-timing"]
        let (root, policies) = try Self.report(try CLI.run(["simulate", path, "--policy", "rebalance,oracle"] + flags))
        #expect(policies.map { $0["name"]?.stringValue } == ["rebalance", "oracle"])
        #expect(policies[0]["delayIterations"]?.intValue == 15 && policies[1]["delayIterations"]?.intValue == 0)
        #expect(policies[1]["rebalances"]?.intValue == policies[0]["rebalances"]?.intValue)
        #expect(root["settings"]?.objectValue?["rebalance"]?.objectValue?["unitMoveCost"]?.doubleValue != nil)
        let alone = try CLI.run(["simulate", path, "--policy", "oracle"] + flags)
        #expect(alone.status == 0 && alone.stdout.contains(#""rebalance""#), "the oracle's move cost is recorded")
    }

    @Test("a window or interval that leaves no call is refused; a .npy trace takes its topology from --current")
    func scheduleAndTopology() throws {
        let path = try Self.trace()
        let long = try CLI.run(["simulate", path, "--window", "48", "--interval", "8"])
        #expect(long.status == 2 && long.stdout.isEmpty)
        #expect(long.stderr == "eplb: error: \(path): --window: the first call would come at iteration 48, past the trace's 48 iterations: no policy would ever be called\n")
        let interval = try CLI.run(["simulate", path, "--window", "8", "--interval", "50"])
        #expect(interval.status == 2 && interval.stderr.contains(": --interval: the first call would come at iteration 50"), "\(interval.stderr)")
        let last = try CLI.run(["simulate", path, "--window", "40", "--interval", "8", "--policy", "none", "--omit-timing"])
        #expect(try Self.report(last).policies[0]["rebalances"]?.intValue == 1)

        // The same loads as a .npy (no topology) with a deployed plan: the plan's topology serves,
        // and a bare {"phy2log": …} plan takes the flags'.
        let npy = TestScratch.root.appendingPathComponent("sim-\(getpid()).npy").path
        let generated = try CLI.run(["generate", "lognormal", "--layers", "2", "--episodes", "48", "--experts", "6",
                                     "--seed", "3", "--output", npy])
        #expect(generated.status == 0, "\(generated.stderr)")
        let rows = #"[[0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 4, 5, 0, 1]]"#
        let plan = try temporaryFile("sim-plan.json", #"{"schemaVersion": 1, "topology": {"devices": 4, "slotsPerDevice": 2}, "experts": 6, "phy2log": \#(rows)}"#)
        let bare = try temporaryFile("sim-bare.json", #"{"phy2log": \#(rows)}"#)
        let flags = ["--window", "8", "--interval", "8", "--policy", "none,greedy", "--omit-timing"]
        let fromPlan = try CLI.run(["simulate", npy, "--axes", "tle", "--current", plan] + flags)
        let fromFlags = try CLI.run(["simulate", npy, "--axes", "tle", "--current", bare, "--devices", "4", "--slots-per-device", "2"] + flags)
        let policies = try Self.report(fromPlan).policies, again = try Self.report(fromFlags).policies
        #expect(policies.map { $0["meanPAR"]?.doubleValue } == again.map { $0["meanPAR"]?.doubleValue })
        #expect(policies.count == 2)
    }

    @Test("--regime-memory: recorded in the settings, each rebalance call says what it planned on; 0 turns it off")
    func regimeMemory() throws {
        let path = try Self.trace()
        let flags = ["--window", "8", "--interval", "8", "--delay-iterations", "1", "--omit-timing", "--policy", "rebalance"]
        func run(_ extra: [String]) throws -> (settings: JSONObject?, calls: [JSONObject]) {
            let (root, policies) = try Self.report(try CLI.run(["simulate", path] + flags + extra))
            let policy = try #require(policies.first)
            return (root["settings"]?.objectValue?["rebalance"]?.objectValue,
                    (policy["calls"]?.arrayValue ?? []).compactMap(\.objectValue))
        }
        let on = try run([])
        #expect(on.settings?["regimeMemory"]?.intValue == 8)
        #expect(on.calls.count == 5 && on.calls.allSatisfy { ["window", "memory"].contains($0["plannedOn"]?.stringValue ?? "") })
        #expect(on.calls.first?["plannedOn"]?.stringValue == "window", "no evidence at the first call")
        let off = try run(["--regime-memory", "0"])
        #expect(off.settings?["regimeMemory"]?.intValue == 0)
        #expect(off.calls.count == 5 && off.calls.allSatisfy { $0["plannedOn"] == nil })
        let bad = try CLI.run(["simulate", path] + flags + ["--regime-memory", "-1"])
        #expect(bad.status == 64 && bad.stderr.contains("--regime-memory"))
    }

    @Test("--payback-intervals: auto (the default) records each call's measured horizon; K prices moves at K intervals; conflicts exit 64")
    func paybackIntervals() throws {
        let path = try Self.trace()
        let flags = ["--window", "8", "--interval", "8", "--delay-iterations", "1", "--omit-timing", "--policy", "rebalance"]
        func run(_ extra: [String]) throws -> (settings: JSONObject?, calls: [JSONObject], report: String) {
            let r = try CLI.run(["simulate", path] + flags + extra)
            let (root, policies) = try Self.report(r)
            let policy = try #require(policies.first)
            return (root["settings"]?.objectValue?["rebalance"]?.objectValue,
                    (policy["calls"]?.arrayValue ?? []).compactMap(\.objectValue), try JSONWriter.string(.object(policy)))
        }
        let standard = try run([]), two = try run(["--payback-intervals", "2"]), four = try run(["--payback-intervals", "4"])
        let auto = try run(["--payback-intervals", "auto"])
        #expect(auto.report == standard.report, "the measured horizon is the default")
        #expect(standard.settings?["paybackIntervals"]?.stringValue == "auto")
        #expect(two.settings?["paybackIntervals"]?.doubleValue == 2)
        let price2 = try #require(two.settings?["moveCost"]?.doubleValue)
        #expect(abs((four.settings?["moveCost"]?.doubleValue ?? 0) - price2 / 2) < 1e-15)
        #expect(abs((auto.settings?["unitMoveCost"]?.doubleValue ?? 0) - 2 * price2) < 1e-15)
        #expect(auto.settings?["moveCost"] == nil)
        let horizons = auto.calls.compactMap { $0["paybackIntervals"]?.doubleValue }
        #expect(horizons.count == auto.calls.count && horizons.first == 2)
        #expect(horizons.allSatisfy { (2...8).contains($0) })
        #expect(two.calls.allSatisfy { $0["paybackIntervals"] == nil })
        // Until a horizon is measured, auto prices as 2 intervals: the first calls agree.
        #expect(auto.calls.first?["moves"] == two.calls.first?["moves"])
        // --move-cost 0 is given: free moves, not the default price.
        let free = try run(["--move-cost", "0"])
        #expect(free.settings?["moveCost"]?.doubleValue == 0)
        for bad in [["--payback-intervals", "0.5"], ["--payback-intervals", "soon"],
                    ["--payback-intervals", "auto", "--move-cost", "0.01"], ["--payback-intervals", "4", "--max-moves", "3"],
                    ["--payback-intervals", "5", "--move-cost", "0"]] {
            let r = try CLI.run(["simulate", path] + flags + bad)
            #expect(r.status == 64 && r.stderr.contains("--payback-intervals"), "\(bad)")
        }
    }

    @Test("--recency-half-life: recorded in settings; weights too small to represent count as 0; non-positive values exit 64")
    func recencyHalfLife() throws {
        let path = try Self.trace()
        let flags = ["--window", "8", "--interval", "8", "--delay-iterations", "1", "--omit-timing", "--policy", "rebalance"]
        // h = 0.01: the oldest iterations of the 8 weigh 2^(−700) < 1e-100 (refused as weights before).
        let tiny = try CLI.run(["simulate", path] + flags + ["--recency-half-life", "0.01"])
        #expect(tiny.status == 0, "\(tiny.stderr)")
        let (root, _) = try Self.report(tiny)
        #expect(root["settings"]?.objectValue?["rebalance"]?.objectValue?["recencyHalfLife"]?.doubleValue == 0.01)
        for bad in ["0", "-1", "nan", "inf"] {
            let r = try CLI.run(["simulate", path] + flags + ["--recency-half-life", bad])
            #expect(r.status == 64 && r.stderr.contains("--recency-half-life must be a positive number"), "\(bad): \(r.stderr)")
        }
    }

    @Test("warnings: a JSON trace's episodeWeights are ignored; auto with a window no longer than the horizon takes its first candidate")
    func warnings() throws {
        let path = try Self.trace()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let weights = "[" + (0..<48).map { $0 % 2 == 0 ? "1" : "2" }.joined(separator: ", ") + "]"
        let weighted = try temporaryFile("sim-weighted.json", text.replacingOccurrences(of: "\"load\"", with: "\"episodeWeights\": \(weights), \"load\""))
        let r = try CLI.run(["simulate", weighted, "--window", "8", "--interval", "8", "--policy", "none", "--omit-timing"])
        #expect(r.status == 0 && r.stderr.contains("episodeWeights: ignored"), "\(r.stderr)")
        let plain = try CLI.run(["simulate", path, "--window", "8", "--interval", "8", "--policy", "none", "--omit-timing"])
        #expect(plain.stderr.isEmpty)
        let auto = try CLI.run(["simulate", path, "--window", "8", "--interval", "8", "--policy", "rebalance-forecast",
                                "--strategy", "auto", "--horizon", "8", "--omit-timing"])
        #expect(auto.status == 0 && auto.stderr.contains("--strategy auto: a window of 8 iterations"), "\(auto.stderr)")
    }

    @Test("usage errors exit 64")
    func usage() throws {
        let path = try Self.trace()
        for flags in [["--window", "8", "--interval", "8", "--policy", "none,magic"],
                      ["--window", "8", "--interval", "8", "--policy", "rebalance-forecast", "--strategy", "forecast:ar", "--order", "8"],
                      ["--window", "0", "--interval", "8"],
                      ["--window", "8", "--interval", "8", "--bandwidth", "0"],
                      ["--interval", "8"],
                      ["--window", "8", "--interval", "8", "--regime-memory", "1"],
                      ["--window", "8", "--interval", "8", "--delay-iterations", "1", "--iteration-seconds", "0.1"],
                      ["--window", "8", "--interval", "8", "--output", path]] {
            let r = try CLI.run(["simulate", path] + flags)
            #expect(r.status == 64, "\(flags)")
            #expect(r.stdout.isEmpty)
        }
        let help = try CLI.run(["simulate", "--help"])
        #expect(help.status == 0 && help.stdout.contains("eplb simulate"))
    }
}
