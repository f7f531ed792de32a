import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct ImportLoads: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-loads",
        abstract: "Turn an engine's expert-load dump into an instance file (v1).",
        discussion: """
        Formats:
          sglang      SGLang recorder output as JSON: {"logical_count": [steps][layers][experts] or [layers][experts]}
          vllm        per-physical-slot loads [layers][slots] (expert_load_view; .npy or JSON) with --phy2log FILE;
                      each expert's load is the sum over its replicas
          vllm-stats  vLLM PR #41141 statistics JSONL: eplb_load_meta, then eplb_load_stats records
          trtllm      TensorRT-LLM's EXPERT_STATISTIC_PATH directory (meta_info.json, rank*.safetensors)
          npy         a NumPy load array; a 3-D one needs --axes lte|tle (never guessed)

        One episode per recorded step (or per --steps-per-episode steps, summed). Layer identity \
        is kept as layerIds (decoder-layer ids): TensorRT-LLM's recorded ids as they are; SGLang \
        counts every decoder layer, and --first-moe-layer K drops its K dense rows (which must be \
        all zero); for vLLM's MoE-indexed rows, --first-moe-layer K gives ids K, K+1, …. The \
        topology comes from the flags, or from the dump when it records it (vllm-stats; vllm \
        with --devices, which also records the phy2log in force as `current`).

        Examples:
          eplb import-loads Examples/engines/sglang-expert-distribution.json \\
              --format sglang --first-moe-layer 1 --output inst.json
          eplb import-loads load.npy --format vllm --phy2log phy2log.npy --devices 8 \\
              --output inst.json
          eplb import-loads stats.jsonl --format vllm-stats --steps-per-episode 16 \\
              --output inst.json
          eplb import-loads trace.npy --format npy --axes tle --output inst.json
        """
    )

    @Argument(help: ArgumentHelp("The dump ('-' reads standard input); for trtllm, the statistics directory.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Dump format: \(LoadFormat.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "format"))
    var format: LoadFormat

    @Option(help: ArgumentHelp("The phy2log [layers][slots] in force while the vllm loads were recorded (.npy or JSON).", valueName: "file"))
    var phy2log: String?

    @Option(name: .customLong("slot-map"), help: ArgumentHelp("trtllm: the load-balancer YAML in force while the statistics were recorded. With a load balancer on, TensorRT-LLM counts slot ids, not experts: each slot's count goes to the expert the YAML puts there (needs --devices; a static balancer only).", valueName: "file"))
    var slotMap: String?

    @Option(parsing: .unconditional, help: "Number of logical experts for --format vllm (default: the largest id in --phy2log + 1).")
    var experts: Int?

    @Option(name: .customLong("steps-per-episode"), parsing: .unconditional, help: "Sum this many consecutive steps into one episode (the last takes the remainder).")
    var stepsPerEpisode: Int = 1

    @OptionGroup var axes: AxesOption

    @OptionGroup var layers: LayerIdOptions

    @OptionGroup var topology: TopologyOptions

    @Option(help: "A name for the instance.")
    var name: String?

    @Option(help: ArgumentHelp("Output file ('-' for standard output, the default).", valueName: "file"))
    var output: String = "-"

    func validate() throws {
        try refuseOutput(output, over: [("the dump", file), ("--slot-map", slotMap)])
        if stepsPerEpisode < 1 { throw ValidationError("--steps-per-episode must be at least 1, got \(stepsPerEpisode)") }
        if (format == .vllm) != (phy2log != nil) {
            throw ValidationError(format == .vllm ? "--format vllm needs --phy2log FILE (the map the loads were recorded under)"
                                                  : "--phy2log applies to --format vllm only")
        }
        if axes.order != nil && format != .npy { throw ValidationError("--axes applies to --format npy only: the engine formats fix their axis order") }
        if experts != nil && format != .vllm { throw ValidationError("--experts applies to --format vllm only") }
        if let experts, experts < 1 { throw ValidationError("--experts must be at least 1") }
        if layers.decoderLayers != nil { throw ValidationError("--decoder-layers applies to eplb export --format sglang") }
        if stepsPerEpisode != 1 && (format == .vllm || format == .npy) {
            throw ValidationError("--steps-per-episode applies to the per-step dumps (sglang, vllm-stats, trtllm)")
        }
        if format == .trtllm && file == "-" { throw ValidationError("--format trtllm reads a directory, not standard input") }
        if slotMap != nil && format != .trtllm { throw ValidationError("--slot-map applies to --format trtllm only") }
        if slotMap != nil && topology.devices == nil {
            throw ValidationError("--slot-map needs --devices (the load-balancer YAML does not record the EP size)")
        }
        if phy2log == "-" && file == "-" { throw ValidationError("the loads and --phy2log cannot both come from standard input") }
    }

    func run() throws {
        try reportingInputErrors {
            let display = InputSource.displayName(file)
            var dump: EngineLoads
            switch format {
            case .sglang:
                dump = try SGLangFormat.decodeLoads(try InputSource.read(file), file: display, firstMoELayer: layers.firstMoELayer,
                                                    stepsPerEpisode: stepsPerEpisode)
            case .vllm:
                let mapPath = phy2log!
                dump = try VLLMFormat.decodeSlotLoads(try InputSource.read(file), file: display, phy2log: try InputSource.read(mapPath),
                                                      mapFile: InputSource.displayName(mapPath), experts: experts,
                                                      devices: topology.devices, nodes: topology.nodes, groups: topology.groups,
                                                      firstMoELayer: layers.firstMoELayer)
            case .vllmStats:
                dump = try VLLMFormat.decodeStats(try InputSource.read(file), file: display, stepsPerEpisode: stepsPerEpisode,
                                                  firstMoELayer: layers.firstMoELayer)
            case .trtllm:
                dump = try TensorRTLLMFormat.decodeStatistics(directory: file, stepsPerEpisode: stepsPerEpisode)
                if let slotMap {
                    let mapFile = InputSource.displayName(slotMap)
                    let map = try TensorRTLLMFormat.decode(try InputSource.read(slotMap), file: mapFile, devices: topology.devices,
                                                           nodes: topology.nodes, groups: topology.groups)
                    dump = try TensorRTLLMFormat.foldSlots(dump, map: map, mapFile: mapFile)
                }
                if let k = layers.firstMoELayer, let ids = dump.layerIds, ids.first != k {
                    throw InputError(file: display, field: "layerIds",
                                     reason: "TensorRT-LLM records decoder-layer ids \(ids.first!)…; they disagree with --first-moe-layer \(k)")
                }
            case .npy:
                let loads = try InstanceFile.decodeLoads(try InputSource.read(file), file: display, axes: axes.order)
                dump = EngineLoads(loads: loads, layerIds: layers.firstMoELayer.map { Array($0 ..< $0 + loads.layers) })
            }
            for note in dump.notes { printWarning(note) }
            // Flags override the dump's topology; a partial override needs the rest from the dump.
            let t = topology
            if t.devices != nil || t.slotsPerDevice != nil || t.nodes != nil || t.groups != nil {
                let base = dump.topology
                guard let d = t.devices ?? base?.devices, let s = t.slotsPerDevice ?? base?.slotsPerDevice else {
                    throw InputError(file: display, field: "topology",
                                     reason: "the dump does not record one: give both --devices and --slots-per-device, or neither")
                }
                // The product is checked before anything computes it (it can overflow).
                do throws(ExpertPlacementError) {
                    _ = try Limits.slotCount(devices: d, slotsPerDevice: s)
                } catch {
                    throw InputError(file: display, field: "--devices, --slots-per-device", reason: error.reason)
                }
                let resolved = Topology(devices: d, slotsPerDevice: s, nodes: t.nodes ?? base?.nodes ?? 1,
                                        expertGroups: t.groups ?? base?.expertGroups ?? 1)
                if let current = dump.current, current.topology != resolved {
                    if current.slotsPerLayer != resolved.slotCount {
                        throw InputError(file: display, field: "topology",
                                         reason: "the flags give \(resolved.slotCount) slots but the recorded phy2log has \(current.slotsPerLayer)")
                    }
                    dump.current = try? Placement(topology: resolved, experts: current.experts, physicalToLogical: current.physicalToLogical)
                }
                dump.topology = resolved
            }
            // The map in force must be one vLLM could have served: every expert present (vLLM's
            // DeepSeek-derived policy may put two replicas of an expert on one GPU).
            if let current = dump.current, dump.topology != nil {
                switch format {
                case .trtllm:
                    try PlacementCheck.requireValid(current, file: InputSource.displayName(slotMap!), format: .trtllm)
                default:
                    try PlacementCheck.requireValid(current, file: format == .vllm ? InputSource.displayName(phy2log!) : display,
                                                    format: .vllmMapping)
                }
            }
            if let topology = dump.topology {
                do { _ = try Problem(topology: topology, loads: dump.loads, current: dump.current) } catch let error as ExpertPlacementError {
                    throw InputError(file: display, error)
                }
            }
            let json = InstanceFile.encode(loads: dump.loads, topology: dump.topology, name: name, layerIds: dump.layerIds,
                                           current: dump.topology == nil ? nil : dump.current)
            try OutputSink.write(JSONWriter.string(json), to: output)
        }
    }
}
