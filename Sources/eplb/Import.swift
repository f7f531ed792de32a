import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read an engine's map file back into a placement (v1).",
        discussion: """
        The formats of `eplb export` (sglang, vllm-ascend, vllm-mapping, trtllm, deepseek, \
        rank-maps). Files that do not record the EP size (sglang, vllm-mapping, trtllm, \
        deepseek) need --devices. The result is checked by the validator: a map that loses an \
        expert or puts one twice on a device is refused (exit 2). Rows keep the engine's layer \
        identity as layerIds: TensorRT-LLM's keys as they are; with --first-moe-layer K, SGLang's \
        rows before K (dense layers) are dropped, and MoE-indexed rows get ids K, K+1, ….

        Examples:
          eplb import init_expert_location.json --format sglang --devices 32 \\
              --first-moe-layer 3 --output plan.json
          eplb import expert_map.json --format vllm-ascend
          eplb import maps/ --format deepseek --devices 32
        """
    )

    @Argument(help: ArgumentHelp("The map file ('-' reads standard input); for deepseek, phy2log.npy or its directory.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Map format: \(EngineMapFormat.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "format"))
    var format: EngineMapFormat

    @Option(parsing: .unconditional, help: "Number of devices (EP ranks), for formats that do not record it.")
    var devices: Int?

    @Option(parsing: .unconditional, help: "Number of nodes (default 1).")
    var nodes: Int?

    @Option(parsing: .unconditional, help: "Number of expert groups (default 1).")
    var groups: Int?

    @Option(parsing: .unconditional, help: "Number of logical experts (deepseek tensors; default from logcnt.npy or the largest id + 1).")
    var experts: Int?

    @OptionGroup var layers: LayerIdOptions

    @Option(help: ArgumentHelp("Output file ('-' for standard output, the default).", valueName: "file"))
    var output: String = "-"

    func validate() throws {
        try refuseOutput(output, over: [("the map file", file)])
        for (flag, value) in [("--devices", devices), ("--nodes", nodes), ("--groups", groups), ("--experts", experts)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1, got \(value)") }
        }
        if format == .deepseek && file == "-" { throw ValidationError("--format deepseek reads files, not standard input") }
        if layers.decoderLayers != nil { throw ValidationError("--decoder-layers applies to eplb export --format sglang") }
    }

    func run() throws {
        try reportingInputErrors {
            let engine = format
            let options = EngineMapFormat.Options(devices: devices, nodes: nodes, groups: groups, experts: experts,
                                                  firstMoELayer: layers.firstMoELayer)
            let name = InputSource.displayName(file)
            let result: EnginePlacement
            if engine == .deepseek {
                result = try DeepSeekTensors.decode(path: file, devices: devices, experts: experts, nodes: nodes, groups: groups,
                                                    firstMoELayer: layers.firstMoELayer)
            } else {
                result = try engine.decode([(name, try InputSource.read(file))], options: options)
            }
            do { try result.placement.topology.validate(experts: result.placement.experts) } catch let error as ExpertPlacementError {
                throw InputError(file: name, error)
            }
            try PlacementCheck.requireValid(result.placement, file: name, format: engine)
            try OutputSink.write(JSONWriter.string(PlacementFile.encode(result.placement, layerIds: result.layerIds)), to: output)
        }
    }
}
