import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a placement as the map file a serving engine loads.",
        discussion: """
        Formats and the engine setting that loads the file:
          sglang        {"physical_to_logical_map": [decoder layers][slots]}   sglang --init-expert-location FILE
          vllm-ascend   expert-map JSON                      --additional-config '{"eplb_config": {"expert_map_path": "FILE"}}'
          vllm-mapping  initial-mapping JSONL (PR #41141)    --eplb-config '{"initial_mapping_path": "FILE"}'
          trtllm        load-balancer YAML                   moe_config: {load_balancer: FILE} in --extra_llm_api_options
          deepseek      phy2log.npy, log2phy.npy, logcnt.npy (int64) in the --output directory
          rank-maps     every rank's expert_map and log2phy (JSON)

        The placement must be valid; every output is read back and must give the identical \
        phy2log. SGLang and TensorRT-LLM index decoder layers: the placement's layerIds are used, \
        else --first-moe-layer K (MoE layer i = decoder layer K + i); SGLang's dense-layer rows \
        hold its trivial map.

        Examples:
          eplb export plan.json --format sglang --first-moe-layer 3 \\
              --decoder-layers 61 --output init_expert_location.json
          eplb export plan.json --format trtllm --first-moe-layer 3 \\
              --output moe_load_balancer.yaml
          eplb export plan.json --format deepseek --output maps/
        """
    )

    @Argument(help: ArgumentHelp("The placement file (v1); '-' reads standard input.", valueName: "placement"))
    var placement: String

    @Option(help: ArgumentHelp("Map format: \(EngineMapFormat.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "format"))
    var format: EngineMapFormat

    @OptionGroup var layers: LayerIdOptions

    @Option(parsing: .unconditional, help: "Devices (EP ranks) of a bare {\"phy2log\": …} plan, which records none (with --slots-per-device).")
    var devices: Int?

    @Option(name: .customLong("slots-per-device"), parsing: .unconditional, help: "Expert slots per device of a bare plan (with --devices).")
    var slotsPerDevice: Int?

    @Option(name: .customLong("layer-updates-per-iter"), parsing: .unconditional, help: "TensorRT-LLM's layer_updates_per_iter (0: static placement).")
    var layerUpdatesPerIteration: Int = 0

    @Option(help: ArgumentHelp("Output file ('-' for standard output, the default); a directory for --format deepseek.", valueName: "file"))
    var output: String?

    func validate() throws {
        try refuseOutput(output, over: [("the placement", placement)])
        if format == .deepseek && (output == nil || output == "-") {
            throw ValidationError("--format deepseek writes three .npy files: give --output DIRECTORY")
        }
        if layerUpdatesPerIteration < 0 { throw ValidationError("--layer-updates-per-iter must be at least 0") }
        if (devices == nil) != (slotsPerDevice == nil) {
            throw ValidationError("--devices and --slots-per-device go together (the topology of a bare phy2log)")
        }
        for (flag, value) in [("--devices", devices), ("--slots-per-device", slotsPerDevice)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1, got \(value)") }
        }
        if layers.decoderLayers != nil && format != .sglang {
            throw ValidationError("--decoder-layers applies to --format sglang only")
        }
    }

    func run() throws {
        let mismatch: String? = try reportingInputErrors {
            let file = InputSource.displayName(placement)
            let document = try PlacementFile.decodeDocument(try InputSource.read(placement), file: file,
                                                            topology: TopologyOverrides(devices: devices, slotsPerDevice: slotsPerDevice).topology)
            let engine = format
            try PlacementCheck.requireValid(document.placement, file: file, format: engine)
            if [.sglang, .trtllm].contains(engine) && document.layerIds == nil && layers.firstMoELayer == nil {
                printWarning("\(file): no layerIds and no --first-moe-layer: rows are written as decoder layers 0…\(document.placement.layers - 1); a model whose first K layers are dense needs --first-moe-layer K")
            }
            let options = EngineMapFormat.Options(firstMoELayer: layers.firstMoELayer, decoderLayers: layers.decoderLayers,
                                                  layerUpdatesPerIteration: layerUpdatesPerIteration)
            let files = try engine.encode(document.placement, layerIds: document.layerIds, options: options, file: file)
            if let problem = engine.roundTripMismatch(document.placement, layerIds: document.layerIds, files: files, options: options) {
                return problem
            }
            let destination = output ?? "-"
            if engine.writesDirectory {
                do {
                    try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
                } catch {
                    throw InputError(file: destination, reason: "cannot create the directory (\(error.localizedDescription))")
                }
                // A map set is replaced whole or not at all (short of a full disk), never left half
                // old and half new.
                try OutputSink.write(files: files.map { ((destination as NSString).appendingPathComponent($0.name ?? "output"), $0.bytes) })
            } else {
                try OutputSink.write(files[0].bytes, to: destination)
            }
            return nil
        }
        if let mismatch {
            printError("internal error: the \(format.rawValue) output \(mismatch); nothing was written")
            throw ExitCode(1)
        }
    }
}
