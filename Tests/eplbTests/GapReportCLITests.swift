import Foundation
import Testing

/// `eplb gap-report` over episodes and on a user's instance and plan.
@Suite("gap-report over episodes and user plans")
struct GapReportCLITests {
    func directory(_ name: String) -> String {
        TestScratch.root.appendingPathComponent("eplb-\(name)-\(getpid())").path
    }

    /// A fresh directory holding `small.json`: 5 experts on 2 × 3 slots, one layer, two episodes.
    func smallInstance(_ name: String) throws -> (dir: String, instance: String) {
        let dir = directory(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let instance = dir + "/small.json"
        try #"{"schemaVersion": 1, "topology": {"devices": 2, "slotsPerDevice": 3}, "load": [[[9, 7, 3, 2, 1], [2, 8, 8, 1, 1]]]}"#
            .write(toFile: instance, atomically: true, encoding: .utf8)
        return (dir, instance)
    }

    @Test("--episodes: every objective proven on a small suite, search measured against it")
    func episodes() throws {
        let dir = directory("gaps-episodes")
        let r = try CLI.run(["gap-report", "--episodes", "3", "--seeds", "1", "--shapes", "6x2x4,8x4x2",
                             "--objectives", "mean,worst,peak-sum", "--output-dir", dir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("gap-report: [12/12]"))
        for key in ["Objective meanImbalance", "Objective worstImbalance", "Objective peakSum", "proven 4 of 4"] {
            #expect(r.stdout.contains(key), "\(key) missing from \(r.stdout)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/gaps.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let rows = json["instances"] as! [[String: Any]]
        #expect(rows.count == 12)
        for row in rows {
            #expect(row["exactStatus"] as? String == "optimal")
            let optimum = row["optimum"] as! Double
            let search = row["search"] as! [String: Any]
            // The search's own bound never exceeds the proven optimum.
            #expect((search["reportedLowerBound"] as! Double) <= optimum * (1 + 1e-9))
            #expect((search["value"] as! Double) >= optimum * (1 - 1e-9))
        }
    }

    @Test("--instance with --placement scores the user's plan against the optimum")
    func userPlan() throws {
        let (dir, instance) = try smallInstance("gaps-user")
        let plan = dir + "/plan.json"
        try #"{"phy2log": [[0, 2, 4, 1, 3, 0]]}"#.write(toFile: plan, atomically: true, encoding: .utf8)
        let r = try CLI.run(["gap-report", "--instance", instance, "--placement", plan, "--objectives", "mean",
                             "--output-dir", dir + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("| placement |"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/gaps.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let row = (json["instances"] as! [[String: Any]])[0]
        let placement = row["placement"] as! [String: Any]
        #expect((placement["gap"] as! Double) >= 0)
        #expect((placement["value"] as! Double) >= (row["optimum"] as! Double) * (1 - 1e-9))

        let bad = try CLI.run(["gap-report", "--placement", plan, "--output-dir", dir + "/out"])
        #expect(bad.status == 64 && bad.stderr.contains("--placement needs --instance"))
        try #"{"phy2log": [[0, 0, 4, 1, 3, 2]]}"#.write(toFile: plan, atomically: true, encoding: .utf8)
        let invalid = try CLI.run(["gap-report", "--instance", instance, "--placement", plan, "--output-dir", dir + "/out"])
        #expect(invalid.status == 2 && invalid.stderr.contains("plan.json") && invalid.stderr.contains("phy2log"))
        #expect(invalid.stderr.contains("layer 0, device 0, expert 0: two replicas on one device")
                && invalid.stderr.contains("eplb evaluate scores such a plan"), "\(invalid.stderr)")
    }

    @Test("--instance: the default objectives follow the instance's episodes; a bad input leaves no directory behind; rows name their layer")
    func instanceDefaults() throws {
        let (dir, instance) = try smallInstance("gaps-instance")
        let r = try CLI.run(["gap-report", "--instance", instance, "--output-dir", dir + "/out", "--time-limit", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        for key in ["Objective meanImbalance", "Objective worstImbalance", "Objective peakSum"] {
            #expect(r.stdout.contains(key), "\(key) missing from \(r.stdout)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/gaps.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect((json["instances"] as! [[String: Any]]).allSatisfy { $0["layer"] as? Int == 0 })
        let missing = try CLI.run(["gap-report", "--instance", dir + "/nosuch.json", "--output-dir", dir + "/fresh/sub"])
        #expect(missing.status == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/fresh"))
    }
}
