import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

@Suite("RegimeMemoryFile")
struct RegimeMemoryFileTests {
    /// A memory after three calls on seeded loads (2 layers, 6 experts on 3 × 3 slots).
    private func memory() throws -> RegimeMemory {
        let topology = Topology(devices: 3, slotsPerDevice: 3)
        var memory = RegimeMemory(windows: 4, newestShare: 0.6, blocksPerWindow: 3, discount: 0.25)
        let plain = OnlineSimulator.plainPlacement(topology: topology, experts: 6, layers: 2)
        for seed in 1...3 {
            let loads = try SyntheticLoads.lognormal(layers: 2, episodes: 7, experts: 6, seed: UInt64(seed))
            let window = try Problem(topology: topology, loads: loads, current: plain)
            _ = try memory.step(window) { (p: Problem, _: RegimeMemory.Choice) throws(ExpertPlacementError) -> RebalancePlan in
                try Rebalancer.plan(p, solver: GreedySolver(), options: RebalanceOptions())
            }
        }
        return memory
    }

    private func encoded(_ memory: RegimeMemory) throws -> [UInt8] {
        Array(try JSONWriter.string(RegimeMemoryFile.encode(memory)).utf8)
    }

    @Test("a memory read back is the memory written")
    func roundTrip() throws {
        let original = try memory()
        let back = try RegimeMemoryFile.decode(encoded(original), file: "m.json")
        #expect(back.windows == 4 && back.newestShare == 0.6 && back.blocksPerWindow == 3 && back.discount == 0.25)
        #expect(back.remembered == original.remembered)
        #expect(back.scores == original.scores && back.scores.window > 0)
        #expect(back.choices == original.choices)
        let (w, m) = try #require(back.previousPlans), (ow, om) = try #require(original.previousPlans)
        #expect(w == ow && m == om)
        #expect(try encoded(back) == encoded(original))
        let empty = try RegimeMemoryFile.decode(encoded(RegimeMemory(windows: 8)), file: "e.json")
        #expect(empty.remembered.isEmpty && empty.previousPlans == nil && empty.windows == 8)
    }

    /// A measured move price after three calls on the memory's kind of windows.
    private func payback() throws -> PaybackEstimate {
        let topology = Topology(devices: 3, slotsPerDevice: 3)
        var estimate: PaybackEstimate? = PaybackEstimate(unitPrice: 0.004, range: 1.5...6, smoothing: 0.25)
        var deployed = OnlineSimulator.plainPlacement(topology: topology, experts: 6, layers: 2)
        for seed in 1...3 {
            let loads = try SyntheticLoads.lognormal(layers: 2, episodes: 7, experts: 6, seed: UInt64(seed % 2 + 1))
            let window = try Problem(topology: topology, loads: loads, current: deployed)
            deployed = try PaybackEstimate.priced(&estimate, window: window, options: RebalanceOptions()) { options throws(ExpertPlacementError) in
                try Rebalancer.plan(window, solver: SearchSolver(), options: options)
            }.placement
        }
        return try #require(estimate)
    }

    @Test("a measured move price is kept with the memory and read back as written")
    func paybackRoundTrip() throws {
        let original = try payback()
        #expect(original.history.count == 3 && original.persistence != nil && original.previous != nil)
        let bytes = Array(try JSONWriter.string(RegimeMemoryFile.encode(memory(), payback: original)).utf8)
        let (back, estimate) = try RegimeMemoryFile.decodeState(bytes, file: "m.json")
        let restored = try #require(estimate)
        #expect(restored.unitPrice == 0.004 && restored.range == 1.5...6 && restored.smoothing == 0.25)
        #expect(restored.persistence == original.persistence && restored.history == original.history)
        #expect(restored.previous == original.previous && restored.intervals == original.intervals)
        #expect(back.remembered == (try memory()).remembered)
        #expect(Array(try JSONWriter.string(RegimeMemoryFile.encode(back, payback: restored)).utf8) == bytes)
        // A file without the key (as earlier versions wrote it) keeps no price.
        var root = try #require(try JSONParser.parse(encoded(memory())).objectValue)
        root["payback"] = nil
        let old = Array(try JSONWriter.string(.object(root)).utf8)
        #expect(try RegimeMemoryFile.decodeState(old, file: "m.json").payback == nil)
    }

    @Test("bad measured prices name the field", arguments: [
        (#""unitPrice": 0.004"#, #""unitPrice": -1"#, "payback.unitPrice"),
        (#""range": [1.5, 6]"#, #""range": [9, 6]"#, "payback.range"),
        (#""smoothing": 0.25"#, #""smoothing": 1"#, "payback.smoothing"),
        (#""history": ["#, #""history": [0.5, "#, "payback.history[0]"),
        (#""gain": "#, #""gain": "x", "was": "#, "payback.previous.gain"),
        ("\"replaced\": [\n        [", "\"replaced\": [\n        [99, ", "payback.previous.replaced[0]"),
    ])
    func badPayback(original: String, replacement: String, field: String) throws {
        expectRefused(try JSONWriter.string(RegimeMemoryFile.encode(memory(), payback: payback())),
                      replacing: original, with: replacement, field: field)
    }

    @Test("bad files name the file and the field", arguments: [
        (#""kind": "regimeMemory""#, #""kind": "placement""#, "kind"),
        (#""discount": 0.25"#, #""discount": 3"#, "regimeMemory.discount"),
        (#""windows": 4"#, #""windows": 1"#, "windows"),
        (#""choices": ["window""#, #""choices": ["sometimes""#, "choices[0]"),
        (#""experts": 6"#, #""experts": 5"#, "remembered[0]"),
        (#""scores":"#, #""score":"#, "scores"),
        ("\"memory\": [\n      [", "\"memory\": [\n      [99, ", "previousPlans.memory.phy2log[0]"),
    ])
    func badFiles(original: String, replacement: String, field: String) throws {
        expectRefused(String(decoding: try encoded(memory()), as: UTF8.self), replacing: original, with: replacement, field: field)
    }

    @Test("a kept plan no engine could deploy (an expert with no replica) is named in the memory file, not blamed on the window")
    func undeployablePlan() throws {
        let text = String(decoding: try encoded(memory()), as: UTF8.self)
        let row = try #require(text.range(of: #""window": \[\s*\[[^\]]*\]"#, options: .regularExpression))
        let broken = text.replacingCharacters(in: row, with: "\"window\": [\n      [0, 0, 1, 1, 2, 2, 3, 3, 4]")
        do {
            _ = try RegimeMemoryFile.decodeState(Array(broken.utf8), file: "m.json")
            Issue.record("accepted a plan without expert 5")
        } catch {
            #expect(error.file == "m.json" && error.field == "previousPlans.window.phy2log[0]", "\(error)")
            #expect(error.reason.contains("expert 5: has no replica"), "\(error)")
        }
    }

    /// `text` with `original` replaced is refused, the error naming the file and `field`.
    private func expectRefused(_ text: String, replacing original: String, with replacement: String, field: String) {
        #expect(text.contains(original), "fixture lacks \(original)")
        do {
            _ = try RegimeMemoryFile.decodeState(Array(text.replacingOccurrences(of: original, with: replacement).utf8), file: "m.json")
            Issue.record("accepted \(replacement)")
        } catch {
            #expect(error.file == "m.json")
            #expect(error.field == field, "\(error)")
        }
    }
}
