import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a seeded synthetic instance (instance JSON v1) or a per-iteration trace (.npy).",
        discussion: """
        Workloads in the shapes the field benchmarks on, reproducible from the seed on every platform:
          lognormal  per-layer expert popularity exp(σ·N(0,1)), per-episode exp(noise·N(0,1)) \
        perturbation, scaled to --assignments token-expert assignments per episode and rounded to whole tokens (DeepSeek/vLLM style)
          spiky      every (layer, episode, expert) load u^10·999 + 1, u uniform (vllm-ascend's policy tests)
          zipf       per-layer Zipf(--exponent) popularity over a random expert order, optional noise
          regimes    a per-iteration trace synthesised from the recorded regimes of --from (every \
        episode of every layer is a regime): target layer l uses source layer l·L0/L; more experts \
        than the source are built from blocks of other source layers' regimes, each a seeded \
        permutation; fewer are merged; one regime chain shared by all layers switches with \
        --switch-probability per iteration, blending linearly over --blend iterations, optional \
        log-popularity drift (--drift σ); each iteration draws --tokens × --top-k assignments \
        (multinomial). Writes a float32 .npy of shape (iterations, layers, experts), the engines' \
        order: read it back with --axes tle. Needs --output.

        lognormal, spiky and zipf write an instance JSON, or with --output FILE.npy the loads alone \
        as a .npy of shape (episodes, layers, experts), the engines' order (read it back with \
        --axes tle and give the topology then): float32 when every load is exact in float32 \
        (lognormal and zipf counts are), float64 otherwise (spiky).

        Examples:
          eplb generate spiky --layers 58 --episodes 32 --experts 256 --devices 32 \\
              --slots-per-device 9
          eplb generate lognormal --layers 61 --episodes 64 --experts 384 \\
              --devices 256 --slots-per-device 2 --output kimi.json
          eplb generate regimes --from deepseek-v2-lite_esft_windows1024.json \\
              --iterations 8192 --layers 58 --experts 256 --output v3-trace.npy
          eplb solve v3-trace.npy --axes tle --devices 32 --slots-per-device 9
          eplb generate lognormal --layers 58 --episodes 1024 --seed 11 \\
              --output window.npy
        """
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable { case lognormal, spiky, zipf, regimes }

    @Argument(help: "The workload: lognormal, spiky, zipf or regimes.")
    var kind: Kind

    @Option(parsing: .unconditional, help: "MoE layers, L.") var layers: Int = 58
    @Option(parsing: .unconditional, help: "Logical experts, E.") var experts: Int = 256
    @Option(help: "Seed (equal seeds give equal files).") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Episodes (steps or windows), T (default 32; not for regimes: see --iterations).") var episodes: Int?
    @Option(parsing: .unconditional, help: "lognormal: σ of the expert popularity (default 1).") var sigma: Double?
    @Option(parsing: .unconditional, help: "lognormal/zipf: σ of the per-episode multiplicative noise (default 0.3 lognormal, 0 zipf).") var noise: Double?
    @Option(parsing: .unconditional, help: "zipf: the exponent s (default 1.1).") var exponent: Double?
    @Option(parsing: .unconditional, help: "lognormal/zipf: token-expert assignments per episode, tokens × top-k (default 65536); each expert's share is rounded to whole tokens, so a total may differ by a few.") var assignments: Double?
    @OptionGroup var topology: TopologyOptions
    @OptionGroup(title: "Regimes (eplb generate regimes)") var regimes: RegimeOptions
    @Option(help: ArgumentHelp("Write to FILE instead of standard output (atomically); required for regimes. A name ending in .npy writes the loads alone as .npy.", valueName: "file"))
    var output: String?

    /// Whether the output is a `.npy` file (by its name): the loads alone, in the engines' order.
    var writesNumPy: Bool { output?.lowercased().hasSuffix(".npy") ?? false }

    func validate() throws {
        try refuseOutput(output, over: [("--from", regimes.from)])
        for (flag, v) in [("--layers", layers), ("--experts", experts), ("--episodes", episodes ?? 1)] where v < 1 {
            throw ValidationError("\(flag) must be at least 1, got \(v)")
        }
        if kind == .regimes {
            let synthetic: [(String, Bool)] = [("--episodes", episodes != nil), ("--sigma", sigma != nil), ("--noise", noise != nil),
                                               ("--exponent", exponent != nil), ("--assignments", assignments != nil),
                                               ("--devices/--slots-per-device/--nodes/--groups", topology.overrides != TopologyOverrides())]
            if let (flag, _) = synthetic.first(where: \.1) {
                throw ValidationError("\(flag) does not apply to generate regimes (it writes loads only, one row per iteration: see --iterations)")
            }
            guard regimes.from != nil else { throw ValidationError("generate regimes needs --from INSTANCE, the recorded loads") }
            guard let output else { throw ValidationError("generate regimes writes a binary .npy file: give --output FILE") }
            if output.lowercased().hasSuffix(".json") {
                throw ValidationError("generate regimes writes a binary .npy file, not JSON: name the output \(output.dropLast(5)).npy")
            }
            try regimes.parameters(layers: layers, experts: experts, seed: seed).validateAsFlags()
            return
        }
        if regimes.isSet { throw ValidationError("--from, --iterations, --tokens, --top-k, --switch-probability, --blend, --drift and --axes apply to generate regimes only") }
        if writesNumPy && topology.overrides != TopologyOverrides() {
            throw ValidationError("a .npy output holds the loads only: give --devices/--slots-per-device/--nodes/--groups when reading it, or write an instance JSON")
        }
        guard let values = Limits.product(layers, episodes ?? 32).flatMap({ Limits.product($0, experts) }),
              values <= 50_000_000 else {
            throw ValidationError("--layers × --episodes × --experts is over 50 million values")
        }
        if let sigma, !(sigma >= 0 && sigma.isFinite) { throw ValidationError("--sigma must be ≥ 0") }
        if let noise, !(noise >= 0 && noise.isFinite) { throw ValidationError("--noise must be ≥ 0") }
        if let assignments, !(assignments > 0 && assignments.isFinite) { throw ValidationError("--assignments must be > 0") }
        if let exponent, !exponent.isFinite { throw ValidationError("--exponent must be a finite number, got \(exponent)") }
    }

    func run() throws {
        try reportingInputErrors {
            let episodes = episodes ?? 32, assignments = assignments ?? 65_536
            let loads: LoadTensor
            switch kind {
            case .lognormal:
                loads = try SyntheticLoads.lognormal(layers: layers, episodes: episodes, experts: experts, sigma: sigma ?? 1,
                                                     noise: noise ?? 0.3, assignments: assignments, seed: seed)
            case .spiky:
                loads = try SyntheticLoads.spiky(layers: layers, episodes: episodes, experts: experts, seed: seed)
            case .zipf:
                loads = try SyntheticLoads.zipf(layers: layers, episodes: episodes, experts: experts, exponent: exponent ?? 1.1,
                                                noise: noise ?? 0, assignments: assignments, seed: seed)
            case .regimes:
                let source = try InstanceFile.readLoads(path: regimes.from!, axes: regimes.axes.order)
                let trace = try RegimeTrace.generate(from: source, parameters: regimes.parameters(layers: layers, experts: experts, seed: seed))
                let bytes = NumPyArray.encode(trace, axes: .tle, dtype: .float32)
                try OutputSink.write(bytes, to: output!)
                return
            }
            if writesNumPy {
                // Counts are whole numbers (exact in float32 up to 2^24); anything else keeps 64 bits.
                let exact = loads.values.allSatisfy { Double(Float($0)) == $0 }
                try OutputSink.write(NumPyArray.encode(loads, axes: .tle, dtype: exact ? .float32 : .float64), to: output!)
                return
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

/// The options of `eplb generate regimes` (``RegimeTrace``).
struct RegimeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The recorded loads (instance JSON or .npy; no topology needed); every episode of every layer is a regime.", valueName: "instance"))
    var from: String?
    @Option(parsing: .unconditional, help: "Iterations T of the trace (default 8192).") var iterations: Int?
    @Option(parsing: .unconditional, help: "Tokens per iteration (default 4096).") var tokens: Int?
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Experts per token (default 8); each iteration of a layer holds tokens × top-k assignments.") var topK: Int?
    @Option(name: .customLong("switch-probability"), parsing: .unconditional, help: ArgumentHelp("Probability of a regime switch per iteration outside a blend (default 1/2048: regimes last ≈ 2,300 iterations with the blend).", valueName: "p"))
    var switchProbability: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Iterations of linear blending from the old regime to the new (default 256; 0: abrupt).", valueName: "B"))
    var blend: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("σ of the per-iteration log-popularity random walk of every expert (default 0: none).", valueName: "σ"))
    var drift: Double?
    @OptionGroup var axes: AxesOption

    var isSet: Bool {
        from != nil || iterations != nil || tokens != nil || topK != nil || switchProbability != nil || blend != nil
            || drift != nil || axes.order != nil
    }

    func parameters(layers: Int, experts: Int, seed: UInt64) -> RegimeTrace.Parameters {
        var p = RegimeTrace.Parameters(iterations: iterations ?? 8192, layers: layers, experts: experts, seed: seed)
        if let tokens { p.tokens = tokens }
        if let topK { p.topK = topK }
        if let switchProbability { p.switchProbability = switchProbability }
        if let blend { p.blend = blend }
        if let drift { p.drift = drift }
        return p
    }
}

extension RegimeTrace.Parameters {
    /// ``validate()`` with the field named by its command-line flag, as a usage error.
    func validateAsFlags() throws {
        do throws(ExpertPlacementError) {
            try validate()
        } catch {
            let flags = ["iterations": "--iterations", "layers": "--layers", "experts": "--experts", "tokens": "--tokens",
                         "topK": "--top-k", "switchProbability": "--switch-probability", "blend": "--blend", "drift": "--drift"]
            throw ValidationError("\(error.field.flatMap { flags[$0] } ?? "generate regimes"): \(error.reason)")
        }
    }
}
