import ExpertPlacement
import ExpertPlacementFormats
import ExpertPlacementTestSupport
import Foundation
import Testing

/// Engine load dumps in, engine maps out and back in (issue 10, parts 1 and 2).
@Suite("Engine formats")
struct EngineFormatTests {
    /// A valid placement of `layers` layers: a seeded greedy plan over lognormal-ish loads.
    static func plan(experts e: Int, devices d: Int, slots s: Int, layers: Int = 3, nodes: Int = 1, seed: UInt64 = 7) throws -> Placement {
        var rng = SeededGenerator(seed: seed)
        let values = ContiguousArray((0..<(layers * e)).map { _ in Double(1 + rng.next() % 1000) })
        let loads = try LoadTensor(layers: layers, episodes: 1, experts: e, values: values)
        let problem = try Problem(topology: Topology(devices: d, slotsPerDevice: s, nodes: nodes), loads: loads)
        let placement = try GreedySolver().solve(problem).placement
        #expect(Validation.isValid(placement))
        return placement
    }

    // MARK: - Round trips

    @Test("every exporter's output reads back to the identical phy2log", arguments: EngineMapFormat.allCases)
    func roundTrip(format: EngineMapFormat) throws {
        for (e, d, s) in [(16, 4, 5), (256, 16, 17), (256, 16, 16)] {
            let placement = try Self.plan(experts: e, devices: d, slots: s, nodes: d >= 16 ? 2 : 1)
            let ids = [3, 4, 5]
            let files = try format.encode(placement, layerIds: ids, file: "plan.json")
            #expect(format.roundTripMismatch(placement, layerIds: ids, files: files) == nil)
            let back = try format.decode(files.map { ($0.name ?? "out", $0.bytes) },
                                         options: .init(devices: d, nodes: placement.topology.nodes,
                                                        firstMoELayer: format == .trtllm || format == .rankMaps ? nil : 3))
            // SGLang's map has decoder layers 0..5; K = 3 drops the three trivial dense rows.
            #expect(back.placement == placement, "\(format) E=\(e) D=\(d) S=\(s)")
            #expect(back.layerIds == ids)
        }
    }

    @Test("DeepSeek tensors: log2phy read in DeepSeek's replica order (any order, then −1), a wrong slot set refused")
    func deepseekReplicaOrder() throws {
        // deepseek-ai/EPLB fills log2phy[e] in replica order: expert 0's replicas may sit in slots
        // 3 then 0. 2 devices × 2 slots, phy2log [0, 1, 2, 0].
        let phy2log = NumPyArray(shape: [1, 4], dtype: .int64, values: [0, 1, 2, 0])
        let logcnt = NumPyArray(shape: [1, 3], dtype: .int64, values: [2, 1, 1])
        func files(_ table: ContiguousArray<Double>) -> [(name: String, bytes: [UInt8])] {
            [("d/phy2log.npy", phy2log.encode()), ("d/log2phy.npy", NumPyArray(shape: [1, 3, 2], dtype: .int64, values: table).encode()),
             ("d/logcnt.npy", logcnt.encode())]
        }
        for table: ContiguousArray<Double> in [[0, 3, 1, -1, 2, -1], [3, 0, 1, -1, 2, -1]] {
            let read = try DeepSeekTensors.decode(files(table), devices: 2)
            #expect(read.placement.physicalToLogical == [0, 1, 2, 0])
        }
        for table: ContiguousArray<Double> in [[0, 2, 1, -1, 2, -1], [0, -1, 1, -1, 2, -1], [-1, 0, 1, -1, 2, -1], [0, 3, 1, 1, 2, -1]] {
            #expect(throws: InputError.self) { try DeepSeekTensors.decode(files(table), devices: 2) }
        }
    }

    @Test("SGLang map: only physical_to_logical_map, one row per decoder layer, dense rows trivial")
    func sglangMap() throws {
        let placement = try Self.plan(experts: 8, devices: 2, slots: 5, layers: 2)
        let text = try SGLangFormat.encodeMapping(placement, decoderIds: [3, 4], decoderLayers: 6, file: "p")
        guard case .object(let root) = try JSONParser.parse(text), case .array(let rows)? = root["physical_to_logical_map"] else {
            Issue.record("not an object with physical_to_logical_map"); return
        }
        #expect(root.keys == ["physical_to_logical_map"])
        #expect(rows.count == 6)
        #expect(rows[0] == .array((0..<10).map { .number(Double($0 % 8)) }))
        #expect(rows[3] == .array(placement.physicalToLogical(layer: 0).map { .number(Double($0)) }))
        #expect(throws: InputError.self) { try SGLangFormat.encodeMapping(placement, decoderIds: [3, 4], decoderLayers: 4, file: "p") }
        let extra = Array(#"{"physical_to_logical_map": [[0,1]], "logical_count": [[1,1]]}"#.utf8)
        #expect(throws: InputError(file: "m.json", field: "logical_count",
                                   reason: "unexpected key: SGLang passes every key to init_by_mapping, so only physical_to_logical_map may be present")) {
            try SGLangFormat.decodeMapping(extra, file: "m.json", devices: 1)
        }
    }

    @Test("TensorRT-LLM YAML: keys are decoder-layer ids, lists flow style, read back with Yams")
    func trtllmYAML() throws {
        let placement = try Self.plan(experts: 4, devices: 2, slots: 3, layers: 2)
        let yaml = try TensorRTLLMFormat.encode(placement, decoderIds: [3, 60], layerUpdatesPerIteration: 2, file: "p")
        #expect(yaml.hasPrefix("num_slots: 6\ninitial_global_assignments:\n  3: ["))
        #expect(yaml.contains("\n  60: ["))
        #expect(yaml.hasSuffix("layer_updates_per_iter: 2\n"))
        let (back, updates) = try TensorRTLLMFormat.decode(Array(yaml.utf8), file: "lb.yaml", devices: 2)
        #expect(back.placement == placement && back.layerIds == [3, 60] && updates == 2)
        #expect(throws: InputError.self) { try TensorRTLLMFormat.decode(Array(yaml.utf8), file: "lb.yaml", devices: 4) }
        let online = Array("num_slots: 288\nlayer_updates_per_iter: 2\n".utf8)
        #expect(throws: InputError.self) { try TensorRTLLMFormat.decode(online, file: "lb.yaml", devices: 36) }
    }

    // MARK: - Per-rank maps

    @Test("vllm-ascend's unit-test maps: default layout with 2 redundant experts, and its expert_map.json (rank 1)")
    func vllmAscendGroundTruth() throws {
        // tests/ut/eplb/core/a2/test_eplb_utils.py: E = 8, 2 ranks, 2 redundant, rank 1.
        let defaultLayout = try Placement(topology: Topology(devices: 2, slotsPerDevice: 5), experts: 8,
                                          layers: [[0, 1, 2, 3, 4, 4, 5, 6, 7, 0]])
        #expect(ExpertMaps.expertMap(defaultLayout, layer: 0, rank: 1) == [4, -1, -1, -1, 0, 1, 2, 3])
        #expect(ExpertMaps.log2phy(defaultLayout, layer: 0, rank: 1) == [9, 1, 2, 3, 5, 6, 7, 8])
        // tests/ut/eplb/core/a2/expert_map.json, read through the vllm-ascend reader.
        let json = #"{"moe_layer_count": 1, "layer_list": [{"layer_id": 0, "device_count": 2, "device_list": [{"device_id": 0, "device_expert": [7, 2, 0, 3, 5]}, {"device_id": 1, "device_expert": [6, 1, 4, 7, 2]}]}]}"#
        let fromFile = try VLLMAscendFormat.decode(Array(json.utf8), file: "expert_map.json").placement
        #expect(ExpertMaps.expertMap(fromFile, layer: 0, rank: 1) == [-1, 1, 4, -1, 2, -1, 0, 3])
        #expect(ExpertMaps.log2phy(fromFile, layer: 0, rank: 1) == [2, 6, 9, 3, 7, 4, 5, 8])
        // test_generate_log2phy_map_...: 8 ranks × 1 slot, expert 0 on ranks 0–3, expert 1 on 4–7; rank 7 (tp_size 1).
        let tail = try Placement(topology: Topology(devices: 8, slotsPerDevice: 1), experts: 2, layers: [[0, 0, 0, 0, 1, 1, 1, 1]])
        #expect(ExpertMaps.log2phy(tail, layer: 0, rank: 7) == [3, 7])
    }

    @Test("the notes' worked example: E = 256 on 16 ranks × 17 slots, rank 15, both vllm-ascend layouts")
    func vllmAscendWorkedExample() throws {
        // HEAD layout: slot p holds p for p < 256, else p − 256.
        let head = try Placement(topology: Topology(devices: 16, slotsPerDevice: 17), experts: 256, layers: [(0..<272).map { $0 % 256 }])
        #expect(ExpertMaps.log2phy(head, layer: 0, rank: 15) == Array(256..<272) + Array(16..<256))
        // PR #5311 layout: rank r holds 16r … 16r+15, then a redundant copy of (16r + 16) mod 256.
        var rows: [Int] = []
        for r in 0..<16 { rows += Array((16 * r)..<(16 * r + 16)) + [(16 * r + 16) % 256] }
        let pr = try Placement(topology: Topology(devices: 16, slotsPerDevice: 17), experts: 256, layers: [rows])
        #expect(ExpertMaps.expertMap(pr, layer: 0, rank: 15) == [16] + [Int](repeating: -1, count: 239) + Array(0..<16))
        // Expert 0 → rank 15's own copy (271); 16k → 17k (rank k, slot 0); others → their only copy.
        #expect(ExpertMaps.log2phy(pr, layer: 0, rank: 15) == [271] + (1..<256).map { 17 * ($0 / 16) + $0 % 16 })
        #expect(Validation.isValid(pr))
    }

    @Test("per-rank maps keep their invariants: E = 256 on 16 ranks, 0 and 16 redundant experts, 1 and 2 nodes",
          arguments: [16, 17], [1, 2])
    func rankMapInvariants(slots: Int, nodes: Int) throws {
        for seed in UInt64(1)...4 {
            let placement = try Self.plan(experts: 256, devices: 16, slots: slots, layers: 2, nodes: nodes, seed: seed)
            for layer in 0..<placement.layers {
                let (maps, routes) = ExpertMaps.tables(placement, layer: layer)
                #expect(ExpertMaps.violations(expertMap: maps, log2phy: routes, of: placement, layer: layer).isEmpty, "seed \(seed)")
                for r in 0..<16 {
                    #expect(routes[r].allSatisfy { $0 >= 0 && $0 < 16 * slots })
                    #expect(Set(maps[r].filter { $0 >= 0 }) == Set(0..<slots))
                    // A remote target sits on this rank's node whenever the node holds a replica.
                    for (e, target) in routes[r].enumerated() where maps[r][e] < 0 {
                        let node = placement.topology.node(ofDevice: r)
                        let holders = placement.logicalToPhysical(layer: layer, width: 0)[e].filter { $0 >= 0 }
                        if holders.contains(where: { placement.topology.node(ofDevice: $0 / slots) == node }) {
                            #expect(placement.topology.node(ofDevice: target / slots) == node)
                        }
                    }
                }
            }
        }
    }

    @Test("the invariant checker catches a route past the last slot and a remote route with a local replica")
    func invariantCheckerFails() throws {
        let placement = try Self.plan(experts: 16, devices: 4, slots: 5, layers: 1)
        var (maps, routes) = ExpertMaps.tables(placement, layer: 0)
        routes[3][0] = 20
        #expect(ExpertMaps.violations(expertMap: maps, log2phy: routes, of: placement, layer: 0).first?.contains("past the last slot") == true)
        (maps, routes) = ExpertMaps.tables(placement, layer: 0)
        let e = placement.physicalToLogical(layer: 0)[5]  // on rank 1
        let elsewhere = placement.logicalToPhysical(layer: 0, width: 0)[e].first { $0 / 5 != 1 }
        if let elsewhere {
            routes[1][e] = elsewhere
            #expect(ExpertMaps.violations(expertMap: maps, log2phy: routes, of: placement, layer: 0).first?.contains("remote") == true)
        }
    }

    // MARK: - Loads in

    @Test("SGLang logical_count [T][L][E] → [L][T][E], dense rows dropped by --first-moe-layer, steps grouped")
    func sglangLoads() throws {
        // 3 steps × 3 layers (layer 0 dense) × 2 experts.
        let json = #"{"rank": 0, "logical_count": [[[0,0],[1,2],[3,4]], [[0,0],[5,6],[7,8]], [[0,0],[9,10],[11,12]]]}"#
        let all = try SGLangFormat.decodeLoads(Array(json.utf8), file: "d.json")
        #expect(all.loads.layers == 3 && all.loads.episodes == 3 && all.layerIds == nil)
        #expect(all.loads[1, 2, 1] == 10)
        let moe = try SGLangFormat.decodeLoads(Array(json.utf8), file: "d.json", firstMoELayer: 1, stepsPerEpisode: 2)
        #expect(moe.layerIds == [1, 2])
        #expect(moe.loads.layers == 2 && moe.loads.episodes == 2)
        #expect(Array(moe.loads.values) == [6, 8, 9, 10, 10, 12, 11, 12])
        #expect(throws: InputError(file: "d.json", field: "logical_count",
                                   reason: "layer 1 carries load, so it is not a dense layer before --first-moe-layer 2")) {
            try SGLangFormat.decodeLoads(Array(json.utf8), file: "d.json", firstMoELayer: 2)
        }
        #expect(throws: InputError.self) { try SGLangFormat.decodeLoads(Array(#"{"load": [[1]]}"#.utf8), file: "d.json") }
        #expect(all.notes.isEmpty)

        // SGLang dumps its whole step buffer: a short recording comes with all-zero steps, which
        // would count as perfectly balanced episodes. They are dropped, with a note.
        let buffered = #"{"logical_count": [[[0,0],[1,2],[3,4]], [[0,0],[0,0],[0,0]], [[0,0],[5,6],[7,8]], [[0,0],[0,0],[0,0]]]}"#
        let read = try SGLangFormat.decodeLoads(Array(buffered.utf8), file: "b.json")
        #expect(read.loads.episodes == 2 && Array(read.loads.values) == [0, 0, 0, 0, 1, 2, 5, 6, 3, 4, 7, 8])
        #expect(read.notes == ["b.json: logical_count: 2 of 4 steps carry no load in any layer (the unused part of SGLang's "
                               + "step buffer, sized by --eplb-rebalance-num-iterations): dropped"])
        #expect(throws: InputError(file: "z.json", field: "logical_count", reason: "none of its 2 steps carries any load")) {
            try SGLangFormat.decodeLoads(Array(#"{"logical_count": [[[0,0]], [[0,0]]]}"#.utf8), file: "z.json")
        }
    }

    @Test("vLLM per-slot loads: replicas summed into logical experts, not read as P experts")
    func vllmSlotLoads() throws {
        let loads = Array("[[5, 1, 2, 7], [1, 1, 1, 1]]".utf8)
        let map = Array("[[0, 1, 2, 0], [2, 1, 0, 2]]".utf8)
        let r = try VLLMFormat.decodeSlotLoads(loads, file: "l.json", phy2log: map, mapFile: "m.json", devices: 2)
        #expect(r.loads.experts == 3)
        #expect(Array(r.loads.values) == [12, 1, 2, 1, 1, 2])
        #expect(r.current?.physicalToLogical == [0, 1, 2, 0, 2, 1, 0, 2])
        #expect(throws: InputError.self) {
            try VLLMFormat.decodeSlotLoads(Array("[[1, 2, 3]]".utf8), file: "l.json", phy2log: map, mapFile: "m.json")
        }
    }

    @Test("vLLM PR #41141 statistics JSONL: header, records mapped through their own p2l_map, corrupt input refused")
    func vllmStats() throws {
        let meta = #"{"record_type": "eplb_load_meta", "version": 1, "num_ranks": 2, "num_groups": 1, "num_nodes": 1, "num_layers": 1, "num_redundant_experts": 1}"#
        let s1 = #"{"record_type": "eplb_load_stats", "version": 1, "step": 1, "expert_load": [[3, 7, 1, 1]], "p2l_map": [[0, 0, 1, 2]]}"#
        let s2 = #"{"record_type": "eplb_load_stats", "version": 1, "step": 2, "expert_load": [[1, 2, 3, 4]], "p2l_map": [[0, 1, 2, 2]]}"#
        let r = try VLLMFormat.decodeStats(Array([meta, s1, s2, ""].joined(separator: "\n").utf8), file: "s.jsonl")
        #expect(r.loads.layers == 1 && r.loads.episodes == 2 && r.loads.experts == 3)
        #expect(Array(r.loads.values) == [10, 1, 1, 1, 2, 7])
        #expect(r.topology == Topology(devices: 2, slotsPerDevice: 2))
        #expect(r.current?.physicalToLogical == [0, 1, 2, 2])
        let grouped = try VLLMFormat.decodeStats(Array([meta, s1, s2].joined(separator: "\n").utf8), file: "s.jsonl", stepsPerEpisode: 2)
        #expect(Array(grouped.loads.values) == [11, 3, 8])
        for (text, reason) in [(s1, "eplb_load_stats before the eplb_load_meta record"), (meta + "\n" + meta, "a second eplb_load_meta record")] {
            #expect(throws: InputError(file: "s.jsonl", field: "line \(text == s1 ? 1 : 2).record_type", reason: reason)) {
                try VLLMFormat.decodeStats(Array(text.utf8), file: "s.jsonl")
            }
        }
        #expect(throws: InputError(file: "s.jsonl", reason: "no eplb_load_stats records found")) {
            try VLLMFormat.decodeStats(Array(meta.utf8), file: "s.jsonl")
        }
        // An earlier revision of the PR: no meta record, num_ranks and num_layers in each stats
        // record, the experts those of the p2l_map.
        let early = [s1, s2].map { $0.replacingOccurrences(of: #""step""#, with: #""num_ranks": 2, "num_layers": 1, "step""#) }
        let read = try VLLMFormat.decodeStats(Array(early.joined(separator: "\n").utf8), file: "s.jsonl")
        #expect(read.loads == r.loads && read.topology == r.topology && read.current == r.current)
    }

    @Test("TensorRT-LLM statistics: ranks summed, iterations as episodes, decoder-layer ids kept")
    func trtllmStatistics() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eplb-trt-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"num_experts": 2, "num_experts_per_token": 1}"#.utf8).write(to: URL(fileURLWithPath: dir + "/meta_info.json"))
        for rank in 0..<2 {
            var tensors: [(String, [Int64])] = []
            for iteration in [100, 101] {
                for layer in [3, 4] { tensors.append(("\(iteration)_\(layer)", [Int64(iteration - 99 + rank), Int64(layer)])) }
            }
            try Data(Self.safetensors(tensors)).write(to: URL(fileURLWithPath: dir + "/rank\(rank).safetensors"))
        }
        let r = try TensorRTLLMFormat.decodeStatistics(directory: dir)
        #expect(r.layerIds == [3, 4])
        #expect(r.loads.layers == 2 && r.loads.episodes == 2)
        #expect(Array(r.loads.values) == [3, 6, 5, 6, 3, 8, 5, 8])
    }

    @Test("TensorRT-LLM slot statistics (a load balancer on) folded into experts through the static load-balancer YAML")
    func trtllmSlotStatistics() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eplb-trt-slots-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // With a balancer on, num_experts is num_slots: 4 slot ids on 2 ranks × 2 slots, 2 experts.
        try Data(#"{"num_experts": 4, "num_experts_per_token": 1}"#.utf8).write(to: URL(fileURLWithPath: dir + "/meta_info.json"))
        try Data(Self.safetensors([("7_3", [1, 2, 3, 4]), ("7_4", [5, 6, 7, 8])])).write(to: URL(fileURLWithPath: dir + "/rank0.safetensors"))
        let slots = try TensorRTLLMFormat.decodeStatistics(directory: dir)
        #expect(slots.loads.experts == 4)  // read alone, the slots look like experts
        let yaml = "num_slots: 4\ninitial_global_assignments:\n  3: [0, 1, 1, 0]\n  4: [1, 0, 0, 1]\n  5: [0, 1, 0, 1]\nlayer_updates_per_iter: 0\n"
        let map = try TensorRTLLMFormat.decode(Array(yaml.utf8), file: "lb.yaml", devices: 2)
        let folded = try TensorRTLLMFormat.foldSlots(slots, map: map, mapFile: "lb.yaml")
        #expect(folded.loads.experts == 2 && folded.layerIds == [3, 4])
        #expect(Array(folded.loads.values) == [5, 5, 13, 13] as [Double])  // layer 3: slots 0+3, 1+2; layer 4: 1+2, 0+3
        #expect(folded.topology == Topology(devices: 2, slotsPerDevice: 2))
        #expect(folded.current?.physicalToLogical == [0, 1, 1, 0, 1, 0, 0, 1])
        let dynamic = try TensorRTLLMFormat.decode(Array(yaml.replacingOccurrences(of: "per_iter: 0", with: "per_iter: 1").utf8),
                                                   file: "lb.yaml", devices: 2)
        #expect(throws: InputError.self) { try TensorRTLLMFormat.foldSlots(slots, map: dynamic, mapFile: "lb.yaml") }
        let partial = try TensorRTLLMFormat.decode(Array("num_slots: 4\ninitial_global_assignments:\n  3: [0, 1, 1, 0]\n".utf8),
                                                   file: "lb.yaml", devices: 2)
        #expect(throws: InputError(file: "lb.yaml", field: "initial_global_assignments",
                                   reason: "has no layer 4, which the statistics record")) {
            try TensorRTLLMFormat.foldSlots(slots, map: partial, mapFile: "lb.yaml")
        }
    }

    /// A safetensors file of 1-D int64 tensors, written the way the format specifies.
    static func safetensors(_ tensors: [(String, [Int64])]) -> [UInt8] {
        var header = "{", data: [UInt8] = [], offset = 0
        for (i, (name, values)) in tensors.enumerated() {
            header += "\(i == 0 ? "" : ",")\"\(name)\":{\"dtype\":\"I64\",\"shape\":[\(values.count)],\"data_offsets\":[\(offset),\(offset + 8 * values.count)]}"
            for v in values { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
            offset += 8 * values.count
        }
        header += "}"
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        return out + h + data
    }

    // MARK: - Layer ids

    @Test("layerIds in instances and placements: read, written, validated (distinct, non-negative, one per layer)")
    func layerIds() throws {
        let placement = try Self.plan(experts: 4, devices: 2, slots: 2, layers: 2)
        let text = try JSONWriter.string(PlacementFile.encode(placement, layerIds: [3, 7]))
        #expect(try PlacementFile.decodeDocument(Array(text.utf8), file: "p").layerIds == [3, 7])
        let instance = #"{"topology": {"devices": 2, "slotsPerDevice": 2}, "load": [[1, 2, 3, 4], [4, 3, 2, 1]], "layerIds": [3, 4]}"#
        #expect(try InstanceFile.decode(Array(instance.utf8), file: "i.json").layerIds == [3, 4])
        for (ids, field, reason) in [("[3, 3]", "layerIds[1]", "layer id 3 appears twice"),
                                     ("[3]", "layerIds", "has 1 ids but there are 2 layers"),
                                     ("[-1, 2]", "layerIds[0]", "expected a non-negative integer layer id, found -1")] {
            let bad = instance.replacingOccurrences(of: "[3, 4]", with: ids)
            #expect(throws: InputError(file: "i.json", field: field, reason: reason)) {
                try InstanceFile.decode(Array(bad.utf8), file: "i.json")
            }
        }
        #expect(throws: InputError.self) { try LayerIds.resolve([3, 4], layers: 2, firstMoELayer: 1, file: "p") }
        #expect(try LayerIds.resolve(nil, layers: 2, firstMoELayer: 3, file: "p") == [3, 4])
    }

    @Test("LayerIds.requireSame: equal or absent ids pass; other ids name the first differing row")
    func requireSameLayerIds() throws {
        try LayerIds.requireSame(nil, file: "p.json", as: [3, 4], of: "i.json")
        try LayerIds.requireSame([3, 4], file: "p.json", as: nil, of: "i.json")
        try LayerIds.requireSame([3, 4], file: "p.json", as: [3, 4], of: "i.json")
        #expect(throws: InputError(file: "p.json", field: "layerIds", reason:
            "row 1 is decoder layer 5 here but decoder layer 4 in i.json ([3, 5, 4] against [3, 4, 5]: the same layers in another order; rows are paired by position, so write the placement in i.json's layer order)")) {
            try LayerIds.requireSame([3, 5, 4], file: "p.json", as: [3, 4, 5], of: "i.json")
        }
        #expect(throws: InputError(file: "p.json", field: "layerIds", reason:
            "row 0 is decoder layer 0 here but decoder layer 3 in i.json ([0, 1] against [3, 4]: a placement for other layers)")) {
            try LayerIds.requireSame([0, 1], file: "p.json", as: [3, 4], of: "i.json")
        }
        // Ids beyond any model are refused (an SGLang map has a row per id up to the largest).
        #expect(throws: InputError(file: "p.json", field: "layerIds[1]", reason: "layer id 100001 is above 100000")) {
            try LayerIds.check([3, 100_001], layers: 2, file: "p.json")
        }
    }
}
