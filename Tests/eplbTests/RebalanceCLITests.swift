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
            let r = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", strategy, "--horizon", "2",
                                 "--omit-timing"])
            #expect(r.status == 0, "\(strategy): \(r.stderr)")
            #expect(r.stdout.contains("\"strategy\""), "\(strategy): settings.strategy missing")
            let next = try temporaryFile("rb-\(strategy).json", r.stdout)
            let check = try CLI.run(["validate", next, "--current", deployed])
            #expect(check.status == 0, "\(strategy): \(check.stdout)")
        }
        let bad = try CLI.run(["rebalance", window, "--current", deployed, "--strategy", "crystal-ball"])
        #expect(bad.status == 64 && bad.stderr.contains("--strategy"))
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
    }

    @Test("rebalance refuses what it cannot do, with the field named")
    func errors() throws {
        let (window, _) = try Self.fixture()
        let missing = try CLI.run(["rebalance", window])
        #expect(missing.status == 2 && missing.stderr.contains("current") && missing.stdout.isEmpty)
        let bad = try CLI.run(["rebalance", window, "--relative-threshold", "1.5"])
        #expect(bad.status == 64 && bad.stderr.contains("--relative-threshold"))
        let half = try CLI.run(["rebalance", window, "--expert-bytes", "10"])
        #expect(half.status == 64 && half.stderr.contains("--bandwidth"))
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
    }
}
