/// Small built-in instances, so that a new user sees a result at once (`eplb solve` with no
/// input) and tests have golden answers.
public enum BundledExample: String, Sendable, CaseIterable {
    /// A DeepSeek-V3-shaped instance: 58 MoE layers × 8 episodes × 256 experts on 32 devices ×
    /// 9 slots (4 nodes of 8 GPUs, 8 expert groups). Loads are synthetic token counts: each layer
    /// has a lognormal(σ = 1) expert popularity, each episode perturbs it with lognormal(σ = 0.3)
    /// noise and routes 8,192 tokens × top-8 = 65,536 assignments. Generated from a fixed seed.
    case deepseekV3 = "deepseek-v3"
    /// FlashLB's 8-expert example: loads [600, 560, 120, 120, 20, 10, 10, 10] on 8 devices × 2
    /// slots. Mean device load 181.25; the default greedy of DeepSeek/vLLM/SGLang peaks at 232
    /// (1.28); the proven optimum is 590/3 ≈ 196.67 (1.085).
    case flashlbToy = "flashlb-toy"
    /// DeepSeek EPLB's README example: 2 layers × 12 experts, 16 slots on 8 GPUs (2 slots each),
    /// 2 nodes, 4 expert groups.
    case deepseekReadme = "deepseek-readme"

    /// One line saying what the example is.
    public var summary: String {
        switch self {
        case .deepseekV3: "DeepSeek-V3 shape: 58 layers × 8 episodes × 256 experts, 32 devices × 9 slots, 4 nodes, 8 groups (synthetic lognormal token counts)"
        case .flashlbToy: "FlashLB's 8-expert example: [600, 560, 120, 120, 20, 10, 10, 10] on 8 devices × 2 slots (optimum 590/3 ≈ 196.67)"
        case .deepseekReadme: "DeepSeek EPLB README example: 2 layers × 12 experts, 8 GPUs × 2 slots, 2 nodes, 4 groups"
        }
    }

    /// The instance.
    public var problem: Problem {
        // The data below is valid by construction; a failure here is a programmer error.
        do {
            switch self {
            case .flashlbToy:
                let loads = try LoadTensor(layers: 1, episodes: 1, experts: 8,
                                           values: [600, 560, 120, 120, 20, 10, 10, 10])
                return try Problem(topology: Topology(devices: 8, slotsPerDevice: 2), loads: loads)
            case .deepseekReadme:
                let loads = try LoadTensor(layers: 2, episodes: 1, experts: 12, values: [
                    90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86,
                    20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27,
                ])
                return try Problem(topology: Topology(devices: 8, slotsPerDevice: 2, nodes: 2, expertGroups: 4),
                                   loads: loads)
            case .deepseekV3:
                return try Problem(topology: Topology(devices: 32, slotsPerDevice: 9, nodes: 4, expertGroups: 8),
                                   loads: SyntheticLoads.lognormal(layers: 58, episodes: 8, experts: 256,
                                                                   assignments: 65_536, seed: 2025))
            }
        } catch {
            preconditionFailure("bundled example \(rawValue) is invalid: \(error)")
        }
    }
}

/// The library's version, written into `solver.version`.
public enum ExpertPlacementVersion {
    /// Semantic version of this package.
    public static let string = "0.1.0"
}
