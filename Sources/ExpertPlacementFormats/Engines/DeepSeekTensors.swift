public import ExpertPlacement
import Foundation

/// DeepSeek EPLB's (and vLLM's) three placement tensors as NumPy `.npy` files, int64:
/// `phy2log.npy` `[L, P]`, `log2phy.npy` `[L, E, maxcnt]` (each expert's slots, padded with −1
/// to `maxcnt`, the largest replica count over all layers; written ascending, read in any order:
/// DeepSeek lists them in replica order) and `logcnt.npy` `[L, E]`.
///
/// Source: deepseek-ai/EPLB `eplb.py` (`rebalance_experts` returns these three tensors; slot `s`
/// lives on GPU `s // (P / num_gpus)`); vLLM's `vllm/distributed/eplb/eplb_state.py` keeps the
/// same three maps (`physical_to_logical_map`, `logical_to_physical_map`, `logical_replica_count`).
/// Rows are MoE layers from 0.
public enum DeepSeekTensors {
    /// The file names, in the order written.
    public static let fileNames = ["phy2log.npy", "log2phy.npy", "logcnt.npy"]

    /// The three files of a placement: `(name, bytes)` for `phy2log.npy`, `log2phy.npy`, `logcnt.npy`.
    public static func encode(_ placement: Placement) -> [(name: String, bytes: [UInt8])] {
        let l = placement.layers, p = placement.slotsPerLayer, e = placement.experts
        let counts = (0..<l).map { placement.replicaCounts(layer: $0) }
        let width = max(1, counts.joined().max() ?? 1)
        let phy2log = NumPyArray(shape: [l, p], dtype: .int64, values: ContiguousArray(placement.physicalToLogical.map(Double.init)))
        var table = ContiguousArray<Double>()
        table.reserveCapacity(l * e * width)
        for layer in 0..<l {
            for slots in placement.logicalToPhysical(layer: layer, width: width) { table.append(contentsOf: slots.map(Double.init)) }
        }
        let log2phy = NumPyArray(shape: [l, e, width], dtype: .int64, values: table)
        let logcnt = NumPyArray(shape: [l, e], dtype: .int64, values: ContiguousArray(counts.joined().map(Double.init)))
        return [(fileNames[0], phy2log.encode()), (fileNames[1], log2phy.encode()), (fileNames[2], logcnt.encode())]
    }

    /// Reads `phy2log.npy` (`path` is the file or the directory holding it). When `log2phy.npy`
    /// and `logcnt.npy` lie beside it, they must be the tables derived from it (DeepSeek's
    /// padding width or any wider one).
    ///
    /// - Parameters:
    ///   - devices: the EP size (`--devices`): the tensors do not record it.
    ///   - experts: E (`--experts`); default the width of `logcnt.npy`, else the largest id + 1.
    ///   - firstMoELayer: when given, rows get `layerIds` K..<K+L.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decode(path: String, devices: Int?, experts: Int? = nil, nodes: Int? = nil, groups: Int? = nil,
                              firstMoELayer: Int? = nil) throws(InputError) -> EnginePlacement {
        var isDirectory: ObjCBool = false
        let directory: String, file: String
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            (directory, file) = (path, (path as NSString).appendingPathComponent(fileNames[0]))
        } else {
            (directory, file) = ((path as NSString).deletingLastPathComponent, path)
        }
        let sibling = { (name: String) in (directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name)) }
        var files: [(name: String, bytes: [UInt8])] = [(file, try InputSource.read(file))]
        for name in fileNames.dropFirst() where FileManager.default.fileExists(atPath: sibling(name)) {
            files.append((sibling(name), try InputSource.read(sibling(name))))
        }
        return try decode(files, devices: devices, experts: experts, nodes: nodes, groups: groups, firstMoELayer: firstMoELayer)
    }

    /// Reads the tensors from bytes: `files[0]` is `phy2log`, then optionally files whose names
    /// end in `log2phy.npy` and `logcnt.npy` (checked against it).
    ///
    /// - Throws: ``InputError`` naming the file and field.
    public static func decode(_ files: [(name: String, bytes: [UInt8])], devices: Int?, experts: Int? = nil, nodes: Int? = nil,
                              groups: Int? = nil, firstMoELayer: Int? = nil) throws(InputError) -> EnginePlacement {
        precondition(!files.isEmpty, "phy2log is required")
        let file = files[0].name
        let map = try VLLMFormat.matrix(files[0].bytes, file: file, field: "phy2log", integers: true)
        let (l, p) = (map.shape[0], map.shape[1])
        var counts: (name: String, array: NumPyArray)? = nil, table: (name: String, array: NumPyArray)? = nil
        for (name, bytes) in files.dropFirst() {
            let array: NumPyArray
            do { array = try NumPyArray.decode(bytes) } catch { throw InputError(file: name, reason: error.message) }
            if name.hasSuffix(fileNames[2]) { counts = (name, array) } else if name.hasSuffix(fileNames[1]) { table = (name, array) }
        }
        let e = experts ?? counts.flatMap { $0.array.shape.count == 2 ? $0.array.shape[1] : nil } ?? Int(map.values.max() ?? 0) + 1
        let topology = try EngineIO.topology(slots: p, devices: devices, nodes: nodes, groups: groups, file: file,
                                             field: "phy2log", what: "phy2log.npy")
        let placement = try EngineIO.placement(topology: topology, phy2log: EngineIO.ids(map.values), experts: e, file: file)
        if let (name, array) = counts {
            let derived = (0..<l).flatMap { placement.replicaCounts(layer: $0) }.map(Double.init)
            guard array.shape == [l, e], Array(array.values) == derived else {
                throw InputError(file: name, field: "logcnt",
                                 reason: "is not the replica count of each expert in \(fileNames[0]) (shape \(array.shape), expected [\(l), \(e)])")
            }
        }
        if let (name, array) = table {
            guard array.shape.count == 3, array.shape[0] == l, array.shape[1] == e, array.shape[2] >= 1 else {
                throw InputError(file: name, field: "log2phy", reason: "has shape \(array.shape), expected [\(l), \(e), maxcnt]")
            }
            // DeepSeek's `rebalance_experts` lists an expert's slots in replica order (the order
            // its replicas were made), not ascending: any order of the slots, then −1 padding.
            let width = array.shape[2]
            for layer in 0..<l {
                let derived = placement.logicalToPhysical(layer: layer, width: width)
                for x in 0..<e {
                    let row = array.values[(layer * e + x) * width ..< (layer * e + x + 1) * width]
                    let count = derived[x].count(where: { $0 >= 0 })
                    let listed = row.prefix(count).map { Int($0) }.sorted()
                    guard derived[x].count == width, listed == Array(derived[x].prefix(count)),
                          row.dropFirst(count).allSatisfy({ $0 == -1 }) else {
                        throw InputError(file: name, field: "log2phy[\(layer)][\(x)]",
                                         reason: "is not the slots of expert \(x) in \(fileNames[0]) (in any order, then −1 padding)")
                    }
                }
            }
        }
        return EnginePlacement(placement: placement, layerIds: firstMoELayer.map { Array($0 ..< $0 + l) })
    }
}
