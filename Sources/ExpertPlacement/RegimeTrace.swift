/// Per-iteration expert-load traces synthesised from recorded regimes: realistic online traces
/// (thousands of iterations of a DeepSeek-V3-sized model) built from short real recordings.
///
/// Real recordings are short and small: tens of episodes (tasks, 1K-token windows, batches) of
/// models with 64 or 128 experts. A simulator of online rebalancing needs thousands of
/// iterations of 256 experts, with the features that make rebalancing hard: a skewed expert
/// popularity, stable stretches, abrupt workload shifts that hit every layer at once, and
/// per-iteration sampling noise. This generator keeps the recorded distributions as they are and
/// synthesises only the time axis and the sampling.
///
/// ## Regimes
/// Each episode `t` of each source layer `l₀` is a *regime*: its normalised expert distribution
/// `w[l₀][t][·] / Σ_e w[l₀][t][e]` (an all-zero row counts as uniform).
///
/// ## Layers and experts
/// - Target layer `l` (of `L`) uses source layer `l₀(l) = ⌊l·L₀/L⌋`, so depth is preserved:
///   early target layers take early source layers (each source layer repeats `L/L₀` times when
///   `L > L₀`; layers are subsampled when `L < L₀`).
/// - `E ≥ E₀` (upscaling): the target distribution of regime `t` is the concatenation of
///   `⌈E/E₀⌉` blocks of `E₀` experts, block `b` being source layer `(l₀(l) + b) mod L₀`'s regime-`t`
///   distribution, each block at equal mass; block 0 keeps the expert order, block `b ≥ 1` is a
///   seeded permutation (drawn once per target layer and block, the same in every regime, so a
///   regime switch moves the same experts in every iteration). When `E` is not a multiple of
///   `E₀` the last block is truncated to the experts that fit. The result is renormalised. So a
///   64-expert source yields a 256-expert distribution that keeps the real skew (its top-10%
///   share stays close to the source's) and the real correlation of regimes across layers.
/// - `E < E₀` (downscaling): source experts are *merged*, expert `j` into `j mod E` (no traffic
///   is lost; merging averages, so the skew shrinks somewhat).
///
/// ## Time
/// One Markov chain over the `T₀` regimes, *shared by all layers* (a workload shift hits every
/// layer at once, as in serving). It starts in a seeded uniform regime. In every iteration that
/// is not blending it switches, with probability `p` (`switchProbability`), to a uniformly
/// chosen *other* regime; the next `B` (`blend`) iterations then move linearly from the old
/// distribution to the new one, `(1 − α)·old + α·new` with `α = k/B` at the `k`-th iteration
/// after the switch (no switch happens during a blend). A regime therefore lasts `1/p + B`
/// iterations on average; the default `p = 1/2048` and `B = 256` give ≈ 2,300. With `T₀ = 1`
/// there is nothing to switch to.
///
/// Optional drift (`drift` σ > 0): every (target layer, expert) has a log-popularity
/// `x ← x + σ·N(0,1)` per iteration (a random walk starting at 0); the distribution is
/// multiplied by `exp(x)` and renormalised, so popularity slowly wanders away from the recorded
/// regimes (after `n` iterations by `σ√n` in log terms).
///
/// ## Sampling
/// In every layer and iteration, `N = tokens · topK` token→expert assignments are drawn from the
/// distribution as a multinomial, by sequential conditional binomials: expert `e` gets
/// `Binomial(N − assigned, p_e / Σ_{j≥e} p_j)`, the last expert the rest, so every row sums to
/// `N` exactly. (A multinomial ignores that top-k routing picks an expert at most once per token;
/// for `p_e ≪ 1/k` the difference is negligible.) The binomial sampler is exact by inversion
/// (Kachitvichyanukul & Schmeiser's BINV, O(mean) steps) when the variance `Np(1−p)` is below 9,
/// else the normal approximation `round(Np + √(Np(1−p))·Z)` clamped to `[0, N]` (the textbook
/// `Np(1−p) ≥ 9` rule; it keeps the mean and variance, and only the skewness of the small counts
/// is approximate), with `Z` from Marsaglia's polar method.
///
/// ## Determinism
/// Everything is drawn from ``SeededGenerator`` streams derived from `seed`: one for the
/// regime chain, one per target layer for drift and sampling, one per (layer, block) for the
/// permutations. Layers are generated in parallel (``LayerParallelism``), and the result does
/// not depend on the number of threads. The uniforms are pure integer arithmetic; `log` and
/// `pow` come from the C library, whose last-bit differences between platforms change a count
/// only when a value lands within an ulp of a rounding boundary (never observed).
///
/// ## Complexity
/// Time O(L·T·E) (one binomial per value; ≈ 3.5 s per 10⁸ values on one core in release), memory
/// the output (8 bytes per value) plus O(L·T₀·E) for the target regimes.
///
/// Compared with other generators: ``SyntheticLoads`` draws popularity from a parametric law
/// (lognormal, Zipf) with independent per-episode noise and no time structure; the traces of
/// FlashLB's and vllm-ascend's tests are i.i.d. per step. Here the popularity, the skew and the
/// cross-layer correlation come from recordings, and the time structure (long stable regimes,
/// shared shifts, blending, drift) is explicit and seeded.
public enum RegimeTrace {
    /// The shape, sampling and time structure of a generated trace.
    public struct Parameters: Sendable, Equatable {
        /// Iterations `T` (forward steps), ≥ 1.
        public var iterations: Int
        /// Target layers `L`, ≥ 1.
        public var layers: Int
        /// Target experts `E`, ≥ 1.
        public var experts: Int
        /// Tokens per iteration (per layer), ≥ 1.
        public var tokens: Int
        /// Experts per token, 1 ≤ `topK` ≤ `experts`; each iteration of a layer holds
        /// `tokens · topK` ≤ 2²⁴ assignments (exact in float32).
        public var topK: Int
        /// Probability `p` ∈ [0, 1] of a regime switch in each iteration outside a blend.
        public var switchProbability: Double
        /// Iterations `B` ≥ 0 of linear blending after a switch (0: abrupt).
        public var blend: Int
        /// σ ≥ 0 of the per-iteration log-popularity random walk (0: no drift).
        public var drift: Double
        /// Seed of every random choice; equal seeds give equal traces.
        public var seed: UInt64

        /// The largest trace generated: `layers · iterations · experts` ≤ 2³¹ values (16 GiB of
        /// doubles in memory).
        public static let maximumValues = 1 << 31

        /// Creates parameters; the defaults give a regime length of ≈ 2,300 iterations and
        /// 4,096 tokens × top-8 per iteration.
        public init(iterations: Int, layers: Int, experts: Int, tokens: Int = 4096, topK: Int = 8,
                    switchProbability: Double = 1.0 / 2048, blend: Int = 256, drift: Double = 0, seed: UInt64 = 1) {
            self.iterations = iterations
            self.layers = layers
            self.experts = experts
            self.tokens = tokens
            self.topK = topK
            self.switchProbability = switchProbability
            self.blend = blend
            self.drift = drift
            self.seed = seed
        }

        /// Checks every parameter against its domain (``generate(from:parameters:)`` does too).
        ///
        /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` for the first parameter
        ///   out of its domain; the field is the property's name (`topK`, `switchProbability`, …).
        public func validate() throws(ExpertPlacementError) {
            for (field, value) in [("iterations", iterations), ("layers", layers), ("experts", experts),
                                   ("tokens", tokens), ("topK", topK)] where value < 1 {
                throw .invalidValue(field: field, reason: "must be at least 1, got \(value)")
            }
            guard topK <= experts else {
                throw .invalidValue(field: "topK", reason: "\(topK) is more than the \(experts) experts")
            }
            let (assignments, o1) = tokens.multipliedReportingOverflow(by: topK)
            guard !o1, assignments <= 1 << 24 else {
                throw .invalidValue(field: "tokens", reason: "tokens × topK = \(tokens) × \(topK) is over 2^24 assignments per iteration (counts would not be exact in float32)")
            }
            let (lt, o2) = layers.multipliedReportingOverflow(by: iterations)
            let (values, o3) = lt.multipliedReportingOverflow(by: experts)
            guard !o2, !o3, values <= Self.maximumValues else {
                throw .invalidValue(field: "iterations", reason: "layers × iterations × experts = \(layers) × \(iterations) × \(experts) is over 2^31 values; generate a shorter trace")
            }
            guard switchProbability >= 0 && switchProbability <= 1 else {
                throw .invalidValue(field: "switchProbability", reason: "must be in [0, 1], got \(switchProbability)")
            }
            guard blend >= 0 else { throw .invalidValue(field: "blend", reason: "must be 0 or more, got \(blend)") }
            guard drift >= 0 && drift.isFinite else {
                throw .invalidValue(field: "drift", reason: "must be a finite number ≥ 0, got \(drift)")
            }
        }
    }

    /// Generates a per-iteration trace from the regimes of `source`.
    ///
    /// - Parameters:
    ///   - source: recorded loads `[L₀][T₀][E₀]`; every (layer, episode) row is a regime.
    ///   - parameters: the target shape, sampling and time structure.
    /// - Returns: loads `[L][T][E]` (`episodes` = iterations) of whole token→expert assignments;
    ///   every (layer, iteration) row sums to `tokens · topK`.
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the first parameter
    ///   out of its domain (non-positive sizes, `p` outside [0, 1], a trace over 2³¹ values, …).
    /// - Complexity: O(L·T·E) time; O(L·T₀·E) memory besides the output.
    public static func generate(from source: LoadTensor, parameters: Parameters) throws(ExpertPlacementError) -> LoadTensor {
        try parameters.validate()
        let regimes = targetRegimes(source, parameters)
        let schedule = Schedule(parameters, regimes: source.episodes)
        let (t, e) = (parameters.iterations, parameters.experts)
        let values = ContiguousArray<Double>(unsafeUninitializedCapacity: parameters.layers * t * e) { buffer, count in
            let out = SendablePointer(base: buffer.baseAddress!)
            _ = LayerParallelism.map(count: parameters.layers) { layer in
                sampleLayer(layer, regimes: regimes, schedule: schedule, parameters: parameters,
                            into: UnsafeMutableBufferPointer(start: out.base + layer * t * e, count: t * e))
            }
            count = parameters.layers * t * e
        }
        return try LoadTensor(layers: parameters.layers, episodes: t, experts: e, values: values)
    }

    // MARK: - Target regimes

    /// The normalised distribution of every (target layer, regime): `[L][T₀][E]`, flat.
    static func targetRegimes(_ source: LoadTensor, _ p: Parameters) -> ContiguousArray<Double> {
        let (l0, t0, e0) = (source.layers, source.episodes, source.experts)
        let e = p.experts
        let blocks = (e + e0 - 1) / e0
        var out = ContiguousArray<Double>(repeating: 0, count: p.layers * t0 * e)
        var normalised = [Double](repeating: 0, count: e0)
        for layer in 0..<p.layers {
            let base = layer * l0 / p.layers
            for b in 0..<blocks {
                let sourceLayer = (base + b) % l0
                var permutation = Array(0..<e0)
                if b > 0 {
                    var rng = stream(p.seed, tag: 1, layer * blocks + b)
                    permutation.shuffle(using: &rng)
                }
                for t in 0..<t0 {
                    let row = (sourceLayer * t0 + t) * e0
                    var total = 0.0
                    for j in 0..<e0 { total += source.values[row + j] }
                    for j in 0..<e0 { normalised[j] = total > 0 ? source.values[row + j] / total : 1 / Double(e0) }
                    let target = (layer * t0 + t) * e
                    for j in 0..<e0 {
                        let slot = b * e0 + j  // position in the concatenated blocks
                        if blocks > 1 && slot >= e { break }  // the last block, truncated
                        out[target + slot % e] += normalised[permutation[j]]  // % e merges when E < E₀
                    }
                }
            }
            for t in 0..<t0 {
                let target = (layer * t0 + t) * e
                var total = 0.0
                for x in 0..<e { total += out[target + x] }
                for x in 0..<e { out[target + x] /= total }
            }
        }
        return out
    }

    // MARK: - The regime chain

    /// The shared regime chain: per iteration, the old and new regime and the blend weight of the new.
    struct Schedule: Sendable {
        var from: ContiguousArray<Int32>
        var to: ContiguousArray<Int32>
        var alpha: ContiguousArray<Double>

        init(_ p: Parameters, regimes: Int) {
            var rng = stream(p.seed, tag: 0, 0)
            var current = Int(rng.next() % UInt64(regimes))
            var previous = current
            var sinceSwitch = Int.max  // iterations since the last switch; ≥ blend: settled
            from = []; to = []; alpha = []
            from.reserveCapacity(p.iterations); to.reserveCapacity(p.iterations); alpha.reserveCapacity(p.iterations)
            for _ in 0..<p.iterations {
                if sinceSwitch >= p.blend {
                    let u = rng.nextUnit()
                    if regimes > 1 && u < p.switchProbability {
                        previous = current
                        current = (current + 1 + Int(rng.next() % UInt64(regimes - 1))) % regimes
                        sinceSwitch = 0
                    }
                }
                if sinceSwitch < p.blend {
                    sinceSwitch += 1
                    from.append(Int32(previous)); to.append(Int32(current))
                    alpha.append(Double(sinceSwitch) / Double(p.blend))
                } else {
                    from.append(Int32(current)); to.append(Int32(current)); alpha.append(1)
                }
            }
        }
    }

    // MARK: - Sampling

    /// Fills one layer's `[T][E]` block of the output.
    static func sampleLayer(_ layer: Int, regimes: ContiguousArray<Double>, schedule: Schedule, parameters p: Parameters,
                            into out: UnsafeMutableBufferPointer<Double>) {
        let (t0, e) = (regimes.count / (p.layers * p.experts), p.experts)
        let n = p.tokens * p.topK
        var rng = stream(p.seed, tag: 2, layer)
        var normal = NormalPair()
        var weights = ContiguousArray<Double>(repeating: 0, count: e)
        var suffix = ContiguousArray<Double>(repeating: 0, count: e)
        var logPopularity = ContiguousArray<Double>(repeating: 0, count: p.drift > 0 ? e : 0)
        regimes.withUnsafeBufferPointer { regimes in
            weights.withUnsafeMutableBufferPointer { w in
                suffix.withUnsafeMutableBufferPointer { suffix in
                    logPopularity.withUnsafeMutableBufferPointer { x in
                        for t in 0..<p.iterations {
                            let a = (layer * t0 + Int(schedule.from[t])) * e, b = (layer * t0 + Int(schedule.to[t])) * e
                            let alpha = schedule.alpha[t]
                            if alpha == 1 {
                                for j in 0..<e { w[j] = regimes[b + j] }
                            } else {
                                for j in 0..<e { w[j] = (1 - alpha) * regimes[a + j] + alpha * regimes[b + j] }
                            }
                            if p.drift > 0 {
                                var top = -Double.infinity
                                for j in 0..<e {
                                    x[j] += p.drift * normal.next(&rng)
                                    top = Swift.max(top, x[j])
                                }
                                // Only differences of x matter (the row is renormalised): re-centre
                                // a walk that has gone far, so that exp never overflows (long or
                                // strong drifts reached inf/inf = NaN).
                                if abs(top) > 300 { for j in 0..<e { x[j] -= top } }
                                for j in 0..<e { w[j] *= MathShim.exp(x[j]) }
                            }
                            var running = 0.0
                            for j in stride(from: e - 1, through: 0, by: -1) {
                                running += w[j]
                                suffix[j] = running
                            }
                            var left = n
                            let row = t * e
                            for j in 0..<e {
                                let count = left == 0 ? 0 : suffix[j] > 0
                                    ? binomial(left, w[j] / suffix[j], &rng, &normal) : 0
                                out[row + j] = Double(count)
                                left -= count
                            }
                            if left > 0 { out[row + e - 1] += Double(left) }  // unreachable unless every weight is 0
                        }
                    }
                }
            }
        }
    }

    /// A draw from Binomial(`n`, `p`): exact inversion (BINV) when the variance `n·p·(1 − p)` is
    /// below 9, else the rounded, clamped normal approximation.
    @inline(__always)
    static func binomial(_ n: Int, _ p: Double, _ rng: inout SeededGenerator, _ normal: inout NormalPair) -> Int {
        guard p > 0 else { return 0 }  // also NaN
        if p >= 1 { return n }
        let flip = p > 0.5
        let q = flip ? 1 - p : p
        let mean = Double(n) * q
        var k: Int
        if mean * (1 - q) < 9 {
            // BINV (Kachitvichyanukul & Schmeiser 1988): walk the pmf from 0 by its recurrence.
            let r = 1 - q, s = q / r, a = Double(n + 1) * s
            var f = MathShim.pow(r, Double(n))
            var u = rng.nextUnit()
            k = 0
            while u > f && k < n && f > 0x1p-1000 {
                u -= f
                k += 1
                f *= a / Double(k) - s
            }
        } else {
            let y = mean + (mean * (1 - q)).squareRoot() * normal.next(&rng)
            k = y <= 0 ? 0 : Swift.min(Int(y + 0.5), n)  // round half up, clamped; no libm call
        }
        return flip ? n - k : k
    }

    /// Standard normal deviates in pairs from Marsaglia's polar method (one `log` per pair).
    struct NormalPair {
        var spare = 0.0
        var hasSpare = false

        mutating func next(_ rng: inout SeededGenerator) -> Double {
            if hasSpare {
                hasSpare = false
                return spare
            }
            while true {
                let u = 2 * rng.nextUnit() - 1, v = 2 * rng.nextUnit() - 1
                let s = u * u + v * v
                if s > 0 && s < 1 {
                    let factor = (-2 * MathShim.log(s) / s).squareRoot()
                    spare = v * factor
                    hasSpare = true
                    return u * factor
                }
            }
        }
    }

    /// An independent generator for stream (`tag`, `index`) of `seed`: the seed, tag and index
    /// pass through SplitMix64's mixer, so neighbouring streams are unrelated.
    static func stream(_ seed: UInt64, tag: UInt64, _ index: Int) -> SeededGenerator {
        var g = SeededGenerator(seed: seed)
        g = SeededGenerator(seed: g.next() ^ tag)
        return SeededGenerator(seed: g.next() ^ UInt64(truncatingIfNeeded: index))
    }

    /// The output's base address, handed to the layer jobs; each writes only its own layer.
    struct SendablePointer: @unchecked Sendable {
        let base: UnsafeMutablePointer<Double>
    }
}
