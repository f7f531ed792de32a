import ExpertPlacement
import ExpertPlacementFormats
import ExpertPlacementTestSupport
import Testing

@Suite("Placement files v1")
struct PlacementFileTests {
    @Test("encode → decode round trip keeps phy2log; derived tables are consistent", arguments: 0..<40)
    func roundTrip(seed: Int) throws {
        let problem = RandomInstances.problem(seed: UInt64(seed))
        let report = try GreedySolver().solve(problem)
        let metrics = try Metrics.evaluate(report.placement, on: problem)
        let value = PlacementFile.encode(report.placement, metrics: metrics, solver: .init(report, includeTiming: false))
        let text = try JSONWriter.string(value)
        let back = try PlacementFile.decode(Array(text.utf8), file: "p.json")
        #expect(back == report.placement)
        guard case .object(let root) = try JSONParser.parse(text) else { Issue.record("not an object"); return }
        let width = problem.topology.slotCount - problem.experts + 1
        for l in 0..<problem.layers {
            let logcnt = root["logcnt"]!.arrayValue![l].arrayValue!.map { $0.intValue! }
            #expect(logcnt == report.placement.replicaCounts(layer: l))
            let log2phy = root["log2phy"]!.arrayValue![l].arrayValue!
            #expect(log2phy.allSatisfy { $0.arrayValue!.count == width })
        }
        #expect(root["solver"]?.objectValue?["status"] == .string("feasible"))
        #expect(root["solver"]?.objectValue?["wallSeconds"] == nil)
        #expect(root["metrics"]?.objectValue?["summary"]?.objectValue?["meanImbalance"]?.objectValue?["max"] != nil)
    }

    @Test("equal inputs give byte-equal files")
    func deterministic() throws {
        let problem = BundledExample.deepseekV3.problem
        func text() throws -> String {
            let report = try GreedySolver().solve(problem)
            return try JSONWriter.string(PlacementFile.encode(report.placement, metrics: try Metrics.evaluate(report.placement, on: problem),
                                                          solver: .init(report, includeTiming: false)))
        }
        #expect(try text() == text())
    }

    @Test("bad placement files are named")
    func badFiles() {
        let cases: [(String, String)] = [
            ("{}", "p.json: topology: missing"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1}}"#, "p.json: phy2log: missing"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1}, "phy2log": [[0]]}"#, "p.json: phy2log[0]: has 1 slots but the topology has 2"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1}, "phy2log": [[0, "a"]]}"#, "p.json: phy2log[0][1]: expected an integer expert id, found a string"),
            (#"{"schemaVersion": 3, "topology": {"devices": 2, "slotsPerDevice": 1}, "phy2log": [[0, 1]]}"#, "p.json: schemaVersion: unsupported version 3"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1}, "phy2log": [[0, 1]], "layers": 2}"#, "p.json: layers: says 2 but phy2log has 1 layers"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1, "nodes": -1}, "phy2log": [[0, 1]]}"#, "p.json: topology.nodes: must be at least 1, got -1"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1, "expertGroups": 0}, "phy2log": [[0, 1]]}"#, "p.json: topology.expertGroups: must be at least 1, got 0"),
            (#"{"topology": {"devices": 2, "slotsPerDevice": 1, "nodes": 3}, "phy2log": [[0, 1]]}"#, "p.json: topology.nodes: devices (2) is not divisible by nodes (3)"),
        ]
        for (json, expected) in cases {
            do {
                _ = try PlacementFile.decode(Array(json.utf8), file: "p.json")
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.description.hasPrefix(expected), "\(json) → \(error)")
            }
        }
    }
}
