public import ExpertPlacement
import Foundation
import Yams

/// TensorRT-LLM's MoE load-balancer YAML and its expert-statistics dump.
///
/// Sources (NVIDIA/TensorRT-LLM, `examples/wide_ep/ep_load_balancer/`): `README.md` and
/// `generate_eplb_config.py` define the YAML (`num_slots`, `initial_global_assignments` keyed by
/// the decoder-layer id, each a list of `num_slots` expert ids with every successive
/// `num_slots / ep_size` slots on one rank, and `layer_updates_per_iter`, 0 for a static
/// balancer); the engine loads it through `moe_config: {load_balancer: FILE}` in the
/// `--extra_llm_api_options` YAML. `tensorrt_llm/_torch/expert_statistic.py` (`ExpertStatistic`, enabled by
/// `EXPERT_STATISTIC_ITER_RANGE=start-stop`) writes the statistics to `$EXPERT_STATISTIC_PATH`:
/// `meta_info.json` (`num_experts`, `num_experts_per_token`) and one `rank{r}.safetensors` per
/// rank holding a 1-D count tensor `[num_experts]` per key `"{iteration}_{layer}"` (a bincount
/// of the routed expert ids); `utils.py::load_expert_statistic` sums the ranks.
public enum TensorRTLLMFormat {
    // MARK: - Load-balancer YAML

    /// The load-balancer YAML of a placement, written with Yams (block mapping, flow lists).
    ///
    /// - Parameters:
    ///   - decoderIds: the decoder-layer id of each row (the YAML's keys).
    ///   - layerUpdatesPerIteration: `layer_updates_per_iter` (0: static placement).
    /// - Throws: ``InputError`` only if Yams fails to emit (not expected for these values).
    public static func encode(_ placement: Placement, decoderIds: [Int], layerUpdatesPerIteration: Int = 0,
                              file: String) throws(InputError) -> String {
        func int(_ x: Int) -> Node { Node(String(x), Tag(.int)) }
        let rows: [(Node, Node)] = decoderIds.enumerated().map { l, id in
            (int(id), Node.sequence(Node.Sequence(placement.physicalToLogical(layer: l).map(int), Tag(.seq), .flow)))
        }
        let root = Node.mapping(Node.Mapping([
            (Node("num_slots"), int(placement.slotsPerLayer)),
            (Node("initial_global_assignments"), Node.mapping(Node.Mapping(rows, Tag(.map), .block))),
            (Node("layer_updates_per_iter"), int(layerUpdatesPerIteration)),
        ], Tag(.map), .block))
        do {
            return try Yams.serialize(node: root, width: -1)
        } catch {
            throw InputError(file: file, reason: "cannot be written as YAML (\(error))")
        }
    }

    /// Reads a load-balancer YAML file with `initial_global_assignments`.
    ///
    /// - Parameters:
    ///   - devices: the EP size (`--devices`): the YAML does not record it.
    /// - Returns: the placement with `layerIds` = the YAML's decoder-layer keys, rows in
    ///   ascending key order; and `layer_updates_per_iter`.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decode(_ bytes: [UInt8], file: String, devices: Int?, nodes: Int? = nil,
                              groups: Int? = nil) throws(InputError) -> (placement: EnginePlacement, layerUpdatesPerIteration: Int) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw InputError(file: file, reason: "is not UTF-8 text")
        }
        let parsed: Node?
        do { parsed = try Yams.compose(yaml: text) } catch {
            throw InputError(file: file, reason: "invalid YAML: \(String(describing: error).split(separator: "\n").joined(separator: " "))")
        }
        guard let root = parsed?.mapping else {
            throw InputError(file: file, reason: "expected a YAML mapping with num_slots and initial_global_assignments")
        }
        func integer(_ key: String, minimum: Int) throws(InputError) -> Int? {
            guard let node = root[key] else { return nil }
            guard let x = node.int, x >= minimum else {
                throw InputError(file: file, field: key, reason: "expected an integer ≥ \(minimum), found \(node.string ?? "a collection")")
            }
            return x
        }
        guard let slots = try integer("num_slots", minimum: 1) else {
            throw InputError(file: file, field: "num_slots", reason: "missing")
        }
        let updates = try integer("layer_updates_per_iter", minimum: 0) ?? 0
        guard let table = root["initial_global_assignments"]?.mapping, !table.isEmpty else {
            throw InputError(file: file, field: "initial_global_assignments",
                             reason: "missing or empty: an online-only config (no initial placement) has nothing to import")
        }
        var rows: [(id: Int, experts: [Int32])] = []
        for (key, value) in table {
            guard let id = key.int, id >= 0 else {
                throw InputError(file: file, field: "initial_global_assignments",
                                 reason: "key \(key.string ?? "?") is not a non-negative decoder-layer id")
            }
            let field = "initial_global_assignments.\(id)"
            guard let list = value.sequence else {
                throw InputError(file: file, field: field, reason: "expected a list of \(slots) expert ids")
            }
            guard list.count == slots else {
                throw InputError(file: file, field: field, reason: "has \(list.count) slots but num_slots is \(slots)")
            }
            var experts: [Int32] = []
            experts.reserveCapacity(slots)
            for (s, item) in list.enumerated() {
                guard let x = item.int, x >= 0, x <= Int(Int32.max) else {
                    throw InputError(file: file, field: "\(field)[\(s)]", reason: "expected a non-negative expert id, found \(item.string ?? "a collection")")
                }
                experts.append(Int32(x))
            }
            if rows.contains(where: { $0.id == id }) {
                throw InputError(file: file, field: field, reason: "layer id \(id) appears twice")
            }
            rows.append((id, experts))
        }
        rows.sort { $0.id < $1.id }
        let topology = try EngineIO.topology(slots: slots, devices: devices, nodes: nodes, groups: groups, file: file,
                                             field: "num_slots", what: "the load-balancer YAML")
        let placement = try EngineIO.placement(topology: topology, phy2log: ContiguousArray(rows.flatMap(\.experts)),
                                               experts: nil, file: file)
        return (EnginePlacement(placement: placement, layerIds: rows.map(\.id)), updates)
    }

    // MARK: - Expert-statistics dump

    /// Reads the statistics directory: `meta_info.json` and every `rank*.safetensors`, summed
    /// over ranks. One episode per iteration (or per `stepsPerEpisode` iterations); rows are the
    /// recorded decoder layers in ascending order, with those ids as `layerIds`.
    ///
    /// - Throws: ``InputError`` naming the file and field (the tensor key).
    public static func decodeStatistics(directory: String, stepsPerEpisode: Int = 1) throws(InputError) -> EngineLoads {
        let metaPath = (directory as NSString).appendingPathComponent("meta_info.json")
        let meta = try EngineIO.object(EngineIO.parseJSON(InputSource.read(metaPath), file: metaPath), file: metaPath,
                                       expecting: "\"num_experts\"")
        let experts = try EngineIO.integer(meta, "num_experts", file: metaPath, minimum: 1)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasPrefix("rank") && $0.hasSuffix(".safetensors") && !$0.hasSuffix("_raw.safetensors") }
                .sorted()
        } catch {
            throw InputError(file: directory, reason: "cannot be listed (\(error.localizedDescription))")
        }
        guard !names.isEmpty else {
            throw InputError(file: directory, reason: "holds no rank*.safetensors files (set EXPERT_STATISTIC_PATH and EXPERT_STATISTIC_ITER_RANGE when running TensorRT-LLM)")
        }
        var counts: [Key: ContiguousArray<Double>] = [:]
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            for (key, tensor) in try SafeTensors.decode(InputSource.read(path), file: path) {
                let parts = key.split(separator: "_")
                guard parts.count == 2, let iteration = Int(parts[0]), let layer = Int(parts[1]), iteration >= 0, layer >= 0 else {
                    throw InputError(file: path, field: key, reason: "expected a key \"{iteration}_{layer}\"")
                }
                guard tensor.shape == [experts] else {
                    throw InputError(file: path, field: key, reason: "has shape \(tensor.shape), expected [\(experts)] (meta_info.json num_experts)")
                }
                if let bad = tensor.values.firstIndex(where: { LoadReader.problem(with: $0) != nil }) {
                    throw InputError(file: path, field: "\(key)[\(bad)]", reason: LoadReader.problem(with: tensor.values[bad])!)
                }
                let k = Key(iteration: iteration, layer: layer)
                if var sum = counts[k] {
                    for e in 0..<experts { sum[e] += tensor.values[e] }
                    counts[k] = sum
                } else {
                    counts[k] = tensor.values
                }
            }
        }
        let iterations = Set(counts.keys.map(\.iteration)).sorted()
        let layers = Set(counts.keys.map(\.layer)).sorted()
        var values = ContiguousArray<Double>()
        values.reserveCapacity(layers.count * iterations.count * experts)
        for layer in layers {
            for iteration in iterations {
                guard let row = counts[Key(iteration: iteration, layer: layer)] else {
                    throw InputError(file: directory, field: "\(iteration)_\(layer)",
                                     reason: "missing: every recorded iteration needs every layer (\(layers.count) layers × \(iterations.count) iterations)")
                }
                values.append(contentsOf: row)
            }
        }
        let loads = LoadTensor(layers: layers.count, episodes: iterations.count, experts: experts, checkedValues: values)
        return EngineLoads(loads: EngineIO.group(loads, stepsPerEpisode: stepsPerEpisode), layerIds: layers)
    }

    /// Statistics recorded with a load balancer on, folded into logical experts. TensorRT-LLM then
    /// counts *slot* ids (`ExpertStatistic.maybe_add_info(num_slots, token_selected_slots)`: its
    /// `num_experts` is `num_slots`), so each slot's count is added to the expert the
    /// load-balancer YAML puts in that slot; the map becomes the instance's topology and `current`.
    ///
    /// - Parameters:
    ///   - dump: ``decodeStatistics(directory:stepsPerEpisode:)``'s slot counts.
    ///   - map: the YAML read by ``decode(_:file:devices:nodes:groups:)``; it must be static
    ///     (`layer_updates_per_iter` 0: a dynamic balancer moves slots while recording) and hold
    ///     every recorded layer.
    /// - Throws: ``InputError`` naming the map file and field.
    public static func foldSlots(_ dump: EngineLoads, map: (placement: EnginePlacement, layerUpdatesPerIteration: Int),
                                 mapFile: String) throws(InputError) -> EngineLoads {
        let placement = map.placement.placement, p = placement.slotsPerLayer, e = placement.experts
        guard map.layerUpdatesPerIteration == 0 else {
            throw InputError(file: mapFile, field: "layer_updates_per_iter",
                             reason: "is \(map.layerUpdatesPerIteration): a dynamic balancer moves slots while recording, so its slot statistics cannot be read through the initial map")
        }
        let loads = dump.loads
        guard loads.experts == p else {
            throw InputError(file: mapFile, field: "num_slots",
                             reason: "is \(p) but the statistics count \(loads.experts) ids per layer (meta_info.json num_experts)")
        }
        let ids = map.placement.layerIds ?? Array(0..<placement.layers)
        let recorded = dump.layerIds ?? Array(0..<loads.layers)
        var rows: [Int] = []
        for id in recorded {
            guard let row = ids.firstIndex(of: id) else {
                throw InputError(file: mapFile, field: "initial_global_assignments",
                                 reason: "has no layer \(id), which the statistics record")
            }
            rows.append(row)
        }
        var values = ContiguousArray<Double>(repeating: 0, count: loads.layers * loads.episodes * e)
        var current = ContiguousArray<Int32>()
        current.reserveCapacity(rows.count * p)
        for (l, row) in rows.enumerated() {
            let phy2log = placement.physicalToLogical[row * p ..< (row + 1) * p]
            current.append(contentsOf: phy2log)
            for t in 0..<loads.episodes {
                for (slot, x) in phy2log.enumerated() { values[(l * loads.episodes + t) * e + Int(x)] += loads[l, t, slot] }
            }
        }
        let folded = LoadTensor(layers: loads.layers, episodes: loads.episodes, experts: e, checkedValues: values)
        let inForce: Placement
        do { inForce = try Placement(topology: placement.topology, experts: e, physicalToLogical: current) } catch {
            throw InputError(file: mapFile, error)
        }
        return EngineLoads(loads: folded, layerIds: dump.layerIds, topology: placement.topology, current: inForce,
                           notes: dump.notes)
    }

    private struct Key: Hashable {
        var iteration: Int
        var layer: Int
    }
}

/// A reader for the safetensors container (huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`
/// (plus an optional `__metadata__`), then the raw little-endian data. Written by hand: the
/// format is 3 fields, and only the integer and float types a statistics dump uses are read.
enum SafeTensors {
    struct Tensor {
        var shape: [Int]
        var values: ContiguousArray<Double>
    }

    /// Every tensor of the file, in header order.
    ///
    /// - Throws: ``InputError`` for a malformed file or an unsupported dtype (I32, I64, F32, F64 are read).
    static func decode(_ bytes: [UInt8], file: String) throws(InputError) -> [(String, Tensor)] {
        guard bytes.count >= 8 else { throw InputError(file: file, reason: "is not a safetensors file (shorter than its 8-byte header length)") }
        var n = 0
        for i in (0..<8).reversed() { n = n << 8 | Int(bytes[i]) }
        guard n >= 2, n <= bytes.count - 8 else {
            throw InputError(file: file, reason: "is not a safetensors file (header length \(n) does not fit the file)")
        }
        let header = try EngineIO.object(EngineIO.parseJSON(Array(bytes[8..<(8 + n)]), file: file), file: file, expecting: "tensor entries")
        let data = 8 + n
        var out: [(String, Tensor)] = []
        for (name, entryValue) in header where name != "__metadata__" {
            let entry = try EngineIO.object(entryValue, file: file, expecting: "dtype, shape and data_offsets")
            guard let dtype = entry["dtype"]?.stringValue else {
                throw InputError(file: file, field: "\(name).dtype", reason: "missing")
            }
            let width: Int
            switch dtype {
            case "I32", "F32": width = 4
            case "I64", "F64": width = 8
            default: throw InputError(file: file, field: "\(name).dtype", reason: "unsupported dtype \(dtype) (expected I32, I64, F32 or F64)")
            }
            guard let dims = entry["shape"]?.arrayValue else {
                throw InputError(file: file, field: "\(name).shape", reason: "missing or not an array")
            }
            var shape: [Int] = []
            for item in dims {
                guard let d = item.intValue, d >= 0 else {
                    throw InputError(file: file, field: "\(name).shape", reason: "expected non-negative integers")
                }
                shape.append(d)
            }
            guard let offsets = entry["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, begin <= end, data + end <= bytes.count else {
                throw InputError(file: file, field: "\(name).data_offsets", reason: "expected [begin, end] inside the file")
            }
            let count = shape.reduce(1, *)
            guard count * width == end - begin else {
                throw InputError(file: file, field: "\(name).data_offsets", reason: "hold \(end - begin) bytes, shape \(shape) of \(dtype) needs \(count * width)")
            }
            var values = ContiguousArray<Double>()
            values.reserveCapacity(count)
            for i in 0..<count {
                var raw: UInt64 = 0
                let at = data + begin + i * width
                for b in (0..<width).reversed() { raw = raw << 8 | UInt64(bytes[at + b]) }
                switch dtype {
                case "I32": values.append(Double(Int32(truncatingIfNeeded: raw)))
                case "I64": values.append(Double(Int64(bitPattern: raw)))
                case "F32": values.append(Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))))
                default: values.append(Double(bitPattern: raw))
                }
            }
            out.append((name, Tensor(shape: shape, values: values)))
        }
        return out
    }
}
