import ExpertPlacement
import ExpertPlacementFormats
import Testing

/// Every class of bad input gets an error that names the file, the field and the problem.
@Suite("Instance files: decoding and bad input")
struct InstanceFileTests {
    static let topology = #""topology": {"devices": 2, "slotsPerDevice": 2}"#

    func decode(_ json: String, _ overrides: TopologyOverrides = TopologyOverrides()) throws(InputError) -> InstanceFile {
        try InstanceFile.decode(Array(json.utf8), file: "x.json", overrides: overrides)
    }

    func error(_ json: String, _ overrides: TopologyOverrides = TopologyOverrides()) -> InputError? {
        do {
            _ = try decode(json, overrides)
            return nil
        } catch {
            return error
        }
    }

    @Test("the three load shapes: [L][T][E], [L][E], [E]")
    func shapes() throws {
        let a = try decode(#"{"schemaVersion": 1, \#(Self.topology), "load": [[[1, 2, 3], [4, 5, 6]]]}"#).problem
        #expect((a.layers, a.episodes, a.experts) == (1, 2, 3))
        let b = try decode(#"{\#(Self.topology), "load": [[1, 2, 3], [4, 5, 6]]}"#).problem
        #expect((b.layers, b.episodes, b.experts) == (2, 1, 3))
        let c = try decode(#"{\#(Self.topology), "load": [1, 2, 3], "name": "tiny"}"#)
        #expect((c.problem.layers, c.problem.episodes, c.problem.experts) == (1, 1, 3))
        #expect(c.name == "tiny")
        #expect(c.problem.loads.values == [1, 2, 3])
    }

    @Test("flags override the file's topology; files without topology take it from flags")
    func overrides() throws {
        let p = try decode(#"{\#(Self.topology), "load": [1, 2, 3, 4]}"#, TopologyOverrides(devices: 4, slotsPerDevice: 1)).problem
        #expect(p.topology == Topology(devices: 4, slotsPerDevice: 1))
        let q = try decode(#"{"load": [1, 2, 3, 4], "model": "m", "layers": 1}"#,
                           TopologyOverrides(devices: 2, slotsPerDevice: 3, nodes: 2, expertGroups: 2)).problem
        #expect(q.topology == Topology(devices: 2, slotsPerDevice: 3, nodes: 2, expertGroups: 2))
    }

    @Test("episode weights and current placement are read")
    func weightsAndCurrent() throws {
        let p = try decode(#"{\#(Self.topology), "load": [[[1, 2, 3], [4, 5, 6]]], "episodeWeights": [2, 0.5], "current": [[0, 1, 2, 0]]}"#).problem
        #expect(p.episodeWeights == [2, 0.5])
        #expect(p.current?.physicalToLogical == [0, 1, 2, 0])
    }

    /// (input, overrides, expected one-line message)
    static let badInputs: [(String, TopologyOverrides, String)] = [
        ("", TopologyOverrides(), "x.json: invalid JSON"),
        (#"{"load": [1, 2"#, TopologyOverrides(), "x.json: invalid JSON"),
        ("[1, 2, 3]", TopologyOverrides(), "x.json: expected a JSON object with a \"load\" key, found an array"),
        (#"{\#(topology)}"#, TopologyOverrides(), "x.json: load: missing"),
        (#"{"schemaVersion": 2, \#(topology), "load": [1, 2]}"#, TopologyOverrides(), "x.json: schemaVersion: unsupported version 2"),
        (#"{"schemaVersion": "1", \#(topology), "load": [1, 2]}"#, TopologyOverrides(), "x.json: schemaVersion: expected the number 1, found a string"),
        (#"{\#(topology), "load": [[1, 2], [3, "x"]]}"#, TopologyOverrides(), "x.json: load[1][1]: expected a number, found a string"),
        (#"{\#(topology), "load": [[1, 2], [3, NaN]]}"#, TopologyOverrides(), "x.json: load[1][1]: NaN is not a valid load"),
        (#"{\#(topology), "load": [[[1, Infinity]]]}"#, TopologyOverrides(), "x.json: load[0][0][1]: infinite load"),
        (#"{\#(topology), "load": [1, 1e999]}"#, TopologyOverrides(), "x.json: load[1]: infinite load"),
        (#"{\#(topology), "load": [1, -2]}"#, TopologyOverrides(), "x.json: load[1]: negative load -2.0"),
        (#"{\#(topology), "load": [[1, 2], [3]]}"#, TopologyOverrides(), "x.json: load[1]: has 1 entries, expected 2 experts like the first row (ragged array)"),
        (#"{\#(topology), "load": [[[1, 2]], [[3, 4], [5, 6]]]}"#, TopologyOverrides(), "x.json: load[1]: has 2 entries, expected 1 episodes"),
        (#"{\#(topology), "load": [[1, 2], 3]}"#, TopologyOverrides(), "x.json: load[1]: expected an array, found 3"),
        (#"{\#(topology), "load": []}"#, TopologyOverrides(), "x.json: load: is empty"),
        (#"{\#(topology), "load": [[]]}"#, TopologyOverrides(), "x.json: load[0]: is empty"),
        (#"{\#(topology), "load": [[[[1]]]]}"#, TopologyOverrides(), "x.json: load: is nested more than 3 deep"),
        (#"{\#(topology), "load": {"a": 1}}"#, TopologyOverrides(), "x.json: load: expected an array of numbers"),
        (#"{"load": [1, 2]}"#, TopologyOverrides(), "x.json: topology.devices: missing"),
        (#"{"load": [1, 2]}"#, TopologyOverrides(devices: 2), "x.json: topology.slotsPerDevice: missing"),
        (#"{\#(topology), "load": [1, 2, 3, 4, 5]}"#, TopologyOverrides(), "x.json: topology: fewer slots (2 devices × 2 slots = 4) than experts (5)"),
        (#"{\#(topology), "load": [1, 2]}"#, TopologyOverrides(devices: 0), "x.json: topology.devices: must be at least 1, got 0"),
        (#"{"topology": {"devices": 2, "slotsPerDevice": -1}, "load": [1, 2]}"#, TopologyOverrides(), "x.json: topology.slotsPerDevice: must be at least 1, got -1"),
        (#"{"topology": {"devices": 2.5, "slotsPerDevice": 1}, "load": [1, 2]}"#, TopologyOverrides(), "x.json: topology.devices: expected an integer, found 2.5"),
        (#"{"topology": {"devices": 3, "slotsPerDevice": 2, "nodes": 2}, "load": [1, 2, 3]}"#, TopologyOverrides(), "x.json: topology.nodes: devices (3) is not divisible by nodes (2)"),
        (#"{"topology": {"devices": 3, "slotsPerDevice": 2, "expertGroups": 2}, "load": [1, 2, 3]}"#, TopologyOverrides(), "x.json: topology.expertGroups: experts (3) is not divisible by expertGroups (2)"),
        (#"{"topology": {"devices": 2, "slotsPerDevice": 3}, "load": [1, 2]}"#, TopologyOverrides(), "x.json: topology.slotsPerDevice: 3 slots per device but only 2 experts"),
        (#"{\#(topology), "load": [1, 2, 3], "current": [[0, 1, 2]]}"#, TopologyOverrides(), "x.json: current[0]: has 3 slots but the topology has 4"),
        (#"{\#(topology), "load": [1, 2, 3], "current": [[0, 1, 2, 0], [0, 1, 2, 0]]}"#, TopologyOverrides(), "x.json: current: has 2 layers but the loads have 1"),
        (#"{\#(topology), "load": [1, 2, 3], "current": [[0, 1, 2, 3]]}"#, TopologyOverrides(), "x.json: current[0][3]: expert id 3 is out of range 0..<3"),
        (#"{\#(topology), "load": [1, 2, 3], "current": [[0, 1, 2, -1]]}"#, TopologyOverrides(), "x.json: current[0][3]: expert id -1 is out of range 0..<3"),
        (#"{\#(topology), "load": [1, 2, 3], "current": [[0, 1, 2, 0.5]]}"#, TopologyOverrides(), "x.json: current[0][3]: expected an integer expert id, found 0.5"),
        (#"{\#(topology), "load": [1, 2, 3], "current": 7}"#, TopologyOverrides(), "x.json: current: expected an array [L][P] of expert ids"),
        (#"{\#(topology), "load": [[1, 2, 3], [1, 2, 3]], "episodeWeights": [1, 2]}"#, TopologyOverrides(), "x.json: episodeWeights: has 2 entries but the loads have 1 episodes"),
        (#"{\#(topology), "load": [1, 2, 3], "episodeWeights": [-1]}"#, TopologyOverrides(), "x.json: episodeWeights[0]: negative weight -1.0"),
        (#"{\#(topology), "load": [1, 2, 3], "episodeWeights": ["a"]}"#, TopologyOverrides(), "x.json: episodeWeights[0]: expected a number, found a string"),
        (#"{"topology": [2, 2], "load": [1, 2, 3]}"#, TopologyOverrides(), "x.json: topology: expected an object, found an array"),
    ]

    @Test("every bad-input class is named", arguments: badInputs.indices)
    func badInput(index: Int) {
        let (json, overrides, expected) = Self.badInputs[index]
        guard let error = error(json, overrides) else {
            Issue.record("no error for \(json)")
            return
        }
        #expect(error.description.hasPrefix(expected), "\(json)")
        #expect(!error.description.contains("\n"))
    }

    @Test("truncated and empty files")
    func truncated() {
        let e = error(#"{"topology": {"devices": 2, "slotsPerDevice": 2}, "load": [[1, 2], [3,"#)
        #expect(e?.description.contains("truncated") == true, "\(String(describing: e))")
        #expect(throws: InputError(file: "/nonexistent/x.json", reason: "no such file")) {
            try InstanceFile.load(path: "/nonexistent/x.json")
        }
    }

    @Test("encode → decode round trip")
    func roundTrip() throws {
        for example in BundledExample.allCases {
            let text = try JSONWriter.string(InstanceFile.encode(example.problem, name: example.rawValue))
            let back = try decode(text).problem
            #expect(back.loads == example.problem.loads)
            #expect(back.topology == example.problem.topology)
            #expect(back.episodeWeights == example.problem.episodeWeights)
        }
    }

    @Test("NumPy loads: shapes (E,), (L,E), (L,T,E) and their errors")
    func numpy() throws {
        let overrides = TopologyOverrides(devices: 2, slotsPerDevice: 2)
        let a = NumPyArray(shape: [2, 1, 3], dtype: .float32, values: [1, 2, 3, 4, 5, 6])
        let p = try InstanceFile.decode(a.encode(), file: "l.npy", overrides: overrides, axes: .lte).problem
        #expect((p.layers, p.episodes, p.experts) == (2, 1, 3))
        let b = NumPyArray(shape: [2, 3], dtype: .int64, values: [1, 2, 3, 4, 5, 6])
        #expect(try InstanceFile.decode(b.encode(), file: "l.npy", overrides: overrides).problem.layers == 2)
        let c = NumPyArray(shape: [3], dtype: .int32, values: [1, 2, 3])
        #expect(try InstanceFile.decode(c.encode(), file: "l.npy", overrides: overrides).problem.experts == 3)

        func message(_ array: NumPyArray, _ o: TopologyOverrides = TopologyOverrides(devices: 2, slotsPerDevice: 2)) -> String {
            do { _ = try InstanceFile.decode(array.encode(), file: "l.npy", overrides: o); return "" } catch { return error.description }
        }
        #expect(message(NumPyArray(shape: [1, 1, 1, 3], dtype: .float64, values: [1, 2, 3])).hasPrefix("l.npy: array of shape (1, 1, 1, 3) is not supported"))
        #expect(message(NumPyArray(shape: [2, 0], dtype: .float64, values: [])).hasPrefix("l.npy: array of shape (2, 0) is empty"))
        #expect(message(NumPyArray(shape: [2, 2], dtype: .float64, values: [1, 2, 3, .nan])) == "l.npy: load[1][1]: NaN is not a valid load")
        #expect(message(NumPyArray(shape: [3], dtype: .float64, values: [1, -2, 3])) == "l.npy: load[1]: negative load -2.0")
        #expect(message(c, TopologyOverrides()) .hasPrefix("l.npy: topology.devices: missing"))
        // Unsupported dtype: patch '<i4' into '<u4' in the header.
        var bytes = c.encode()
        if let i = bytes.indices.first(where: { bytes[$0] == UInt8(ascii: "i") && bytes[$0 + 1] == UInt8(ascii: "4") }) {
            bytes[i] = UInt8(ascii: "u")
        }
        do {
            _ = try InstanceFile.decode(bytes, file: "l.npy", overrides: overrides)
            Issue.record("accepted uint32")
        } catch {
            #expect(error.description.contains("unsupported dtype"), "\(error)")
        }
        // Truncated data.
        do {
            _ = try InstanceFile.decode(Array(c.encode().dropLast(3)), file: "l.npy", overrides: overrides)
            Issue.record("accepted a truncated file")
        } catch {
            #expect(error.description.contains("truncated"), "\(error)")
        }
    }

    @Test("the bundled real-trace sample (OLMoE, Apache-2.0) loads with a topology from flags")
    func realSample() throws {
        let path = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let file = try InstanceFile.load(path: "/" + path + "/Examples/olmoe-1b-7b_domains.json",
                                         overrides: TopologyOverrides(devices: 8, slotsPerDevice: 10))
        #expect((file.problem.layers, file.problem.episodes, file.problem.experts) == (3, 6, 64))
    }
}
