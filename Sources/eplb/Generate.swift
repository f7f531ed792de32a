import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a seeded synthetic instance (instance JSON v1).",
        discussion: """
        Workloads in the shapes the field benchmarks on, reproducible from the seed on every platform:
          lognormal  per-layer expert popularity exp(σ·N(0,1)), per-episode exp(noise·N(0,1)) \
        perturbation, scaled to --assignments token-expert assignments per episode (DeepSeek/vLLM style)
          spiky      every (layer, episode, expert) load u^10·999 + 1, u uniform (vllm-ascend's policy tests)
          zipf       per-layer Zipf(--exponent) popularity over a random expert order, optional noise

        Examples:
          eplb generate spiky --layers 58 --episodes 32 --experts 256 --devices 32 --slots-per-device 9
          eplb generate lognormal --layers 61 --episodes 64 --experts 384 --devices 256 --slots-per-device 2 --output kimi.json
        """
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable { case lognormal, spiky, zipf }

    @Argument(help: "The workload: lognormal, spiky or zipf.")
    var kind: Kind

    @Option(help: "MoE layers, L.") var layers: Int = 58
    @Option(help: "Episodes (steps or windows), T.") var episodes: Int = 32
    @Option(help: "Logical experts, E.") var experts: Int = 256
    @Option(help: "Seed (equal seeds give equal files).") var seed: UInt64 = 1
    @Option(help: "lognormal: σ of the expert popularity.") var sigma: Double = 1
    @Option(help: "lognormal/zipf: σ of the per-episode multiplicative noise.") var noise: Double?
    @Option(help: "zipf: the exponent s.") var exponent: Double = 1.1
    @Option(help: "lognormal/zipf: token-expert assignments per episode (tokens × top-k).") var assignments: Double = 65_536
    @OptionGroup var topology: TopologyOptions
    @Option(help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "file")) var output: String?

    func validate() throws {
        for (flag, v) in [("--layers", layers), ("--episodes", episodes), ("--experts", experts)] where v < 1 {
            throw ValidationError("\(flag) must be at least 1, got \(v)")
        }
        guard layers * episodes * experts <= 50_000_000 else {
            throw ValidationError("--layers × --episodes × --experts is over 50 million values")
        }
        if !(sigma >= 0 && sigma.isFinite) { throw ValidationError("--sigma must be ≥ 0") }
        if let noise, !(noise >= 0 && noise.isFinite) { throw ValidationError("--noise must be ≥ 0") }
        if !(assignments > 0 && assignments.isFinite) { throw ValidationError("--assignments must be > 0") }
    }

    func run() throws {
        try reportingInputErrors {
            let loads: LoadTensor = switch kind {
            case .lognormal:
                try SyntheticLoads.lognormal(layers: layers, episodes: episodes, experts: experts, sigma: sigma,
                                             noise: noise ?? 0.3, assignments: assignments, seed: seed)
            case .spiky:
                try SyntheticLoads.spiky(layers: layers, episodes: episodes, experts: experts, seed: seed)
            case .zipf:
                try SyntheticLoads.zipf(layers: layers, episodes: episodes, experts: experts, exponent: exponent,
                                        noise: noise ?? 0, assignments: assignments, seed: seed)
            }
            let o = topology.overrides
            let t = Topology(devices: o.devices ?? experts, slotsPerDevice: o.slotsPerDevice ?? 1,
                             nodes: o.nodes ?? 1, expertGroups: o.expertGroups ?? 1)
            let problem = try Problem(topology: t, loads: loads)
            let name = "\(kind.rawValue) L\(layers) T\(episodes) E\(experts) seed \(seed)"
            try OutputSink.write(JSONWriter.string(InstanceFile.encode(problem, name: name)), to: output ?? "-")
        }
    }
}
