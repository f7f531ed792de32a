import Foundation
import Testing

/// `eplb drop` and `--drop-budget` on `solve` and `rebalance`.
@Suite("eplb drop")
struct DropCLITests {
    /// One layer, two episodes, four experts on two devices × two slots.
    static let instance = #"{"schemaVersion": 1, "topology": {"devices": 2, "slotsPerDevice": 2}, "load": [[[40, 10, 30, 20], [10, 10, 10, 10]]]}"#
    /// Devices hold {0, 1} and {2, 3}: loads 50/50 and 20/20.
    static let plan = #"{"phy2log": [[0, 1, 2, 3]]}"#

    static func files() throws -> (instance: String, plan: String) {
        (try temporaryFile("drop-instance.json", instance), try temporaryFile("drop-plan.json", plan))
    }

    static func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    @Test("--budget: capacity, drops per device and imbalances per layer and episode, summary, keys sorted")
    func budget() throws {
        let skewed = try temporaryFile("drop-skewed.json", #"{"phy2log": [[0, 2, 1, 3]]}"#)  // 70 / 30, then 20 / 20
        let (instance, _) = try Self.files()
        let r = try CLI.run(["drop", instance, "--placement", skewed, "--budget", "0.1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let root = try Self.json(r.stdout)
        #expect(root["budget"] as? Double == 0.1 && root["devices"] as? Int == 2)
        let layer = (root["layers"] as! [[String: Any]])[0]
        // Summed episodes: 90 / 50 of 140; 14 may drop, so the cap is 90 − 14 = 76.
        #expect(abs(layer["capacity"] as! Double - 76) < 1e-9)
        #expect(abs(layer["droppedFraction"] as! Double - 0.1) < 1e-12)
        #expect(abs(layer["imbalanceAfter"] as! Double - 76 / 70.0) < 1e-12)
        #expect(abs(layer["imbalanceBefore"] as! Double - 90 / 70.0) < 1e-12)
        let episodes = layer["episodes"] as! [[String: Any]]
        #expect(episodes.count == 2)
        // Episode 0: 70 / 30, cap 70 − 10 = 60, device 0 drops 10. Episode 1: 20 / 20, cap 18, both drop 2.
        #expect(abs(episodes[0]["capacity"] as! Double - 60) < 1e-9)
        #expect((episodes[0]["droppedPerDevice"] as! [Double]).enumerated().allSatisfy { abs($0.element - [10, 0][$0.offset]) < 1e-9 })
        #expect(abs(episodes[1]["capacity"] as! Double - 18) < 1e-9)
        #expect(abs(layer["meanImbalanceAfter"] as! Double - (1.2 + 0.9) / 2) < 1e-12)
        let summary = root["summary"] as! [String: Any]
        #expect(Set(summary.keys) == ["capacity", "droppedFraction", "imbalanceAfter", "imbalanceBefore", "meanImbalanceAfter",
                                      "totalDroppedFraction"])
        #expect(r.stdout.range(of: "\"budget\"")!.lowerBound < r.stdout.range(of: "\"devices\"")!.lowerBound)
    }

    @Test("--capacity-factor: γ above the imbalance drops nothing; the placement may come from stdin")
    func capacityFactor() throws {
        let (instance, _) = try Self.files()
        let r = try CLI.run(["drop", instance, "--placement", "-", "--capacity-factor", "1.5"], stdin: Data(Self.plan.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let root = try Self.json(r.stdout)
        #expect(root["capacityFactor"] as? Double == 1.5)
        let summary = root["summary"] as! [String: Any]
        #expect(summary["totalDroppedFraction"] as? Double == 0)
    }

    @Test("bad usage and bad input: one line, the flag or file named, exit 64 or 2, nothing on stdout",
          arguments: [
            (["--budget", "0.1", "--capacity-factor", "1.2"], Int32(64), "--budget or --capacity-factor, not both"),
            ([], Int32(64), "--budget f or --capacity-factor"),
            (["--budget", "1"], Int32(64), "--budget must be in [0, 1)"),
            (["--budget=-0.1"], Int32(64), "--budget must be in [0, 1)"),
            (["--capacity-factor", "0"], Int32(64), "--capacity-factor must be"),
            (["--capacity-factor", "1e303"], Int32(64), "--capacity-factor must be a number in [1e-100, 1e100]"),
            (["--capacity-factor", "1e-320"], Int32(64), "--capacity-factor must be a number in [1e-100, 1e100]"),
            (["--budget", "0.05", "--devices", "1"], Int32(2), "(with --devices 1 from the command line)"),
          ])
    func badUsage(flags: [String], status: Int32, message: String) throws {
        let (instance, plan) = try Self.files()
        let r = try CLI.run(["drop", instance, "--placement", plan] + flags)
        #expect(r.status == status)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test("a placement that does not match the instance: exit 2, one line naming the placement file")
    func mismatch() throws {
        let (instance, _) = try Self.files()
        let wrong = try temporaryFile("drop-wrong.json", #"{"phy2log": [[0, 1, 2, 3, 0, 1]]}"#)
        let missing = try temporaryFile("drop-missing.json", #"{"phy2log": [[0, 1, 2, 2]]}"#)
        for file in [wrong, missing] {
            let r = try CLI.run(["drop", instance, "--placement", file, "--budget", "0.05"])
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.hasPrefix("eplb: error: \(file): "), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("solve --drop-budget: metrics gain cappedImbalance, settings record the budget; exact proves the toy")
    func solve() throws {
        let (instance, _) = try Self.files()
        for method in ["search", "greedy", "exact"] {
            let r = try CLI.run(["solve", instance, "--method", method, "--drop-budget", "0.1", "--omit-timing"])
            #expect(r.status == 0, "\(method): \(r.stderr)")
            let root = try Self.json(r.stdout)
            let metrics = root["metrics"] as! [String: Any]
            let layer = (metrics["layers"] as! [[String: Any]])[0]
            #expect(layer["cappedImbalance"] is Double, "\(method)")
            #expect((metrics["summary"] as! [String: Any])["cappedImbalance"] != nil)
            let solver = root["solver"] as! [String: Any]
            #expect((solver["settings"] as! [String: Any])["dropBudget"] as? Double == 0.1)
            if method == "exact" { #expect(solver["status"] as? String == "optimal") }
            // eplb drop agrees with the reported capped value.
            let plan = try temporaryFile("drop-solved-\(method).json", r.stdout)
            let drop = try Self.json(try CLI.run(["drop", instance, "--placement", plan, "--budget", "0.1"]).stdout)
            let after = (drop["layers"] as! [[String: Any]])[0]["meanImbalanceAfter"] as! Double
            #expect(abs(after - (layer["cappedImbalance"] as! Double)) < 1e-9, "\(method)")
        }
        let plain = try CLI.run(["solve", instance, "--omit-timing"])
        #expect(!plain.stdout.contains("cappedImbalance"))
        let bad = try CLI.run(["solve", instance, "--drop-budget", "1.5"])
        #expect(bad.status == 64 && bad.stderr.contains("--drop-budget must be in [0, 1)"))
        let exactMoves = try CLI.run(["solve", instance, "--method", "exact", "--drop-budget", "0.1", "--max-moves", "2"])
        #expect(exactMoves.status == 64)
    }

    @Test("rebalance --drop-budget: recordedImbalance is the capped value, settings record it")
    func rebalance() throws {
        let (instance, _) = try Self.files()
        let deployed = try temporaryFile("drop-deployed.json",
                                         #"{"topology": {"devices": 2, "slotsPerDevice": 2}, "phy2log": [[0, 2, 1, 3]]}"#)
        let r = try CLI.run(["rebalance", instance, "--current", deployed, "--drop-budget", "0.2", "--omit-timing"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try Self.json(r.stdout)
        let recorded = (root["recordedImbalance"] as! [Double])[0]
        let capped = ((root["metrics"] as! [String: Any])["layers"] as! [[String: Any]])[0]["cappedImbalance"] as! Double
        #expect(abs(recorded - capped) < 1e-12)
        #expect(((root["solver"] as! [String: Any])["settings"] as! [String: Any])["dropBudget"] as? Double == 0.2)
    }

    @Test("drop --help: examples, each on lines under 80 columns; solve and rebalance document --drop-budget")
    func help() throws {
        let r = try CLI.run(["drop", "--help"], environment: ["COLUMNS": "80"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(where: { $0.hasPrefix("Examples:") }))
        var examples = 0
        for line in lines[(start + 1)...] {
            if line.isEmpty { break }
            #expect(line.hasPrefix("  eplb ") || line.hasPrefix("      "), "«\(line)»")
            #expect(line.count < 80, "«\(line)» is \(line.count) columns")
            examples += 1
        }
        #expect(examples >= 2)
        for command in ["solve", "rebalance"] {
            #expect(try CLI.run([command, "--help"]).stdout.contains("--drop-budget"), "\(command)")
        }
    }
}
