public import ExpertPlacement

/// vllm-ascend's expert-map JSON (what `expert_map_path` reads and `expert_map_record_path`
/// writes).
///
/// Sources (vllm-project/vllm-ascend): `vllm_ascend/eplb/core/eplb_utils.py`
/// (`expert_file_to_tensor`, `init_eplb_config`, `generate_log2phy_map`) and
/// `vllm_ascend/eplb/adaptor/vllm_adaptor.py` (`_export_tensor_to_file`); example file
/// `tests/ut/eplb/core/a2/expert_map.json`. Layout:
///
/// ```json
/// {"moe_layer_count": 1,
///  "layer_list": [{"layer_id": 0, "device_count": 2,
///                  "device_list": [{"device_id": 0, "device_expert": [7, 2, 0, 3, 5]},
///                                  {"device_id": 1, "device_expert": [6, 1, 4, 7, 2]}]}]}
/// ```
///
/// `device_expert[k]` is the logical expert in local slot `k` of that device; `layer_id` is the
/// MoE-layer index from 0. The engine reads only `moe_layer_count` and the order of the lists;
/// this reader also checks that `layer_id`, `device_count` and `device_id` agree with it.
/// The engine loads the file with `--additional-config '{"eplb_config": {"expert_map_path": "map.json"}}'`.
public enum VLLMAscendFormat {
    /// The expert-map JSON of a placement.
    public static func encode(_ placement: Placement) -> String {
        let d = placement.topology.devices, s = placement.topology.slotsPerDevice
        let layers: [JSONValue] = (0..<placement.layers).map { l in
            let row = placement.physicalToLogical(layer: l)
            let devices: [JSONValue] = (0..<d).map { r in
                .object(JSONObject([("device_id", .number(Double(r))),
                                    ("device_expert", .array(row[(r * s)..<((r + 1) * s)].map { .number(Double($0)) }))]))
            }
            return .object(JSONObject([("layer_id", .number(Double(l))), ("device_count", .number(Double(d))),
                                       ("device_list", .array(devices))]))
        }
        return JSONWriter.integerDocument(.object(JSONObject([("moe_layer_count", .number(Double(placement.layers))),
                                                              ("layer_list", .array(layers))])), compact: false)
    }

    /// Reads an expert-map JSON file. The topology comes from the file (`device_count` devices
    /// of `len(device_expert)` slots); E is the largest id + 1.
    ///
    /// - Parameter firstMoELayer: when given, rows get `layerIds` K..<K+L.
    /// - Throws: ``InputError`` naming the file and field.
    public static func decode(_ bytes: [UInt8], file: String, nodes: Int? = nil, groups: Int? = nil,
                              firstMoELayer: Int? = nil) throws(InputError) -> EnginePlacement {
        let root = try EngineIO.object(EngineIO.parseJSON(bytes, file: file), file: file, expecting: "\"moe_layer_count\" and \"layer_list\"")
        let count = try EngineIO.integer(root, "moe_layer_count", file: file, minimum: 1)
        guard case .array(let layerList)? = root["layer_list"] else {
            throw InputError(file: file, field: "layer_list", reason: root["layer_list"] == nil ? "missing" : "expected an array of layers")
        }
        guard layerList.count == count else {
            throw InputError(file: file, field: "layer_list", reason: "has \(layerList.count) layers but moe_layer_count is \(count)")
        }
        var devices = 0, slots = 0
        var flat = ContiguousArray<Int32>()
        for (l, layerValue) in layerList.enumerated() {
            let field = "layer_list[\(l)]"
            let layer = try EngineIO.object(layerValue, file: file, expecting: "a layer")
            let id = try EngineIO.integer(layer, "layer_id", field: "\(field).layer_id", file: file)
            guard id == l else {
                throw InputError(file: file, field: "\(field).layer_id", reason: "is \(id), expected \(l) (layers in MoE-layer order)")
            }
            guard case .array(let deviceList)? = layer["device_list"], !deviceList.isEmpty else {
                throw InputError(file: file, field: "\(field).device_list", reason: "missing or not a non-empty array")
            }
            if let declared = layer["device_count"], declared.intValue != deviceList.count {
                throw InputError(file: file, field: "\(field).device_count", reason: "says \(describe(declared)) but device_list has \(deviceList.count)")
            }
            if l == 0 { devices = deviceList.count }
            guard deviceList.count == devices else {
                throw InputError(file: file, field: "\(field).device_list", reason: "has \(deviceList.count) devices but layer 0 has \(devices)")
            }
            for (r, deviceValue) in deviceList.enumerated() {
                let dfield = "\(field).device_list[\(r)]"
                let device = try EngineIO.object(deviceValue, file: file, expecting: "\"device_expert\"")
                if device["device_id"] != nil {
                    let did = try EngineIO.integer(device, "device_id", field: "\(dfield).device_id", file: file)
                    guard did == r else {
                        throw InputError(file: file, field: "\(dfield).device_id", reason: "is \(did), expected \(r) (devices in rank order)")
                    }
                }
                guard let experts = device["device_expert"] else {
                    throw InputError(file: file, field: "\(dfield).device_expert", reason: "missing")
                }
                let t = try JSONTensor.read(experts, ranks: 1...1, field: "\(dfield).device_expert", file: file, integers: true)
                if l == 0 && r == 0 { slots = t.shape[0] }
                guard t.shape[0] == slots else {
                    throw InputError(file: file, field: "\(dfield).device_expert",
                                     reason: "has \(t.shape[0]) slots but device 0 of layer 0 has \(slots) (every device needs the same count)")
                }
                flat.append(contentsOf: EngineIO.ids(t.values))
            }
        }
        let topology = Topology(devices: devices, slotsPerDevice: slots, nodes: nodes ?? 1, expertGroups: groups ?? 1)
        let placement = try EngineIO.placement(topology: topology, phy2log: flat, experts: nil, file: file)
        return EnginePlacement(placement: placement, layerIds: firstMoELayer.map { Array($0 ..< $0 + count) })
    }
}
