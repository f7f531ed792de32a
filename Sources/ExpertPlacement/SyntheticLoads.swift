/// Seeded synthetic expert loads in the shapes the field benchmarks on.
///
/// Every generator is deterministic for a given seed on every platform (values are rounded to
/// whole tokens, which absorbs last-bit differences of the C library's `exp` and `cos`).
public enum SyntheticLoads {
    /// Lognormal token counts: per layer an expert popularity `exp(σ·N(0,1))`, per episode a
    /// multiplicative `exp(noise·N(0,1))` perturbation, scaled to `assignments` token-expert
    /// assignments per episode and rounded (e.g. 8,192 tokens × top-8 = 65,536).
    ///
    /// - Complexity: O(L·T·E).
    public static func lognormal(layers: Int, episodes: Int, experts: Int, sigma: Double = 1, noise: Double = 0.3,
                                 assignments: Double = 65_536, seed: UInt64) throws(ExpertPlacementError) -> LoadTensor {
        var rng = SeededGenerator(seed: seed)
        var values = ContiguousArray<Double>()
        values.reserveCapacity(layers * episodes * experts)
        var popularity = [Double](repeating: 0, count: experts)
        var row = [Double](repeating: 0, count: experts)
        for _ in 0..<layers {
            for x in 0..<experts { popularity[x] = MathShim.exp(sigma * rng.nextGaussian()) }
            for _ in 0..<episodes {
                var total = 0.0
                for x in 0..<experts {
                    row[x] = popularity[x] * (noise > 0 ? MathShim.exp(noise * rng.nextGaussian()) : 1)
                    total += row[x]
                }
                for x in 0..<experts { values.append((assignments * row[x] / total).rounded()) }
            }
        }
        return try LoadTensor(layers: layers, episodes: episodes, experts: experts, values: values)
    }

    /// vllm-ascend's policy-test workload: every (layer, step, expert) load drawn independently
    /// as `u^10 · 999 + 1` with `u` uniform in [0, 1) — very spiky, different in every step.
    /// (Pure arithmetic, so bit-identical on every platform.)
    ///
    /// - Complexity: O(L·T·E).
    public static func spiky(layers: Int, episodes: Int, experts: Int, seed: UInt64) throws(ExpertPlacementError) -> LoadTensor {
        var rng = SeededGenerator(seed: seed)
        var values = ContiguousArray<Double>()
        values.reserveCapacity(layers * episodes * experts)
        for _ in 0..<(layers * episodes * experts) {
            let u = rng.nextUnit()
            let u2 = u * u, u4 = u2 * u2, u8 = u4 * u4
            values.append(u8 * u2 * 999 + 1)
        }
        return try LoadTensor(layers: layers, episodes: episodes, experts: experts, values: values)
    }

    /// Zipf token counts: in each layer a random permutation of ranks, expert of rank k gets
    /// `assignments · k^(−s) / H`, rounded; identical across episodes unless `noise > 0`.
    ///
    /// - Complexity: O(L·T·E).
    public static func zipf(layers: Int, episodes: Int, experts: Int, exponent s: Double = 1.1, noise: Double = 0,
                            assignments: Double = 65_536, seed: UInt64) throws(ExpertPlacementError) -> LoadTensor {
        var rng = SeededGenerator(seed: seed)
        var values = ContiguousArray<Double>()
        values.reserveCapacity(layers * episodes * experts)
        var rank = Array(1...experts)
        var row = [Double](repeating: 0, count: experts)
        for _ in 0..<layers {
            rank.shuffle(using: &rng)
            for _ in 0..<episodes {
                var total = 0.0
                for x in 0..<experts {
                    row[x] = MathShim.pow(Double(rank[x]), -s) * (noise > 0 ? MathShim.exp(noise * rng.nextGaussian()) : 1)
                    total += row[x]
                }
                for x in 0..<experts { values.append((assignments * row[x] / total).rounded()) }
            }
        }
        return try LoadTensor(layers: layers, episodes: episodes, experts: experts, values: values)
    }
}
