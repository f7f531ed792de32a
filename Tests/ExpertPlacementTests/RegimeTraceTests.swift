import ExpertPlacement
import Testing

/// Traces synthesised from recorded regimes: exact row sums, determinism, the source's
/// distribution and skew kept, a regime chain shared by all layers.
@Suite("Regime traces")
struct RegimeTraceTests {
    /// A lognormal "recording": 4 layers × 3 regimes × 64 experts.
    static let source = try! SyntheticLoads.lognormal(layers: 4, episodes: 3, experts: 64, sigma: 1, noise: 0.3,
                                                       assignments: 10_000, seed: 11)

    /// Sum over iterations of one layer's counts: `[E]`.
    static func totals(_ trace: LoadTensor, layer: Int) -> [Double] {
        var out = [Double](repeating: 0, count: trace.experts)
        for t in 0..<trace.episodes {
            for e in 0..<trace.experts { out[e] += trace[layer, t, e] }
        }
        return out
    }

    /// Share of the total held by the heaviest ⌈10%⌉ of the experts.
    static func topTenPercentShare(_ x: [Double]) -> Double {
        let sorted = x.sorted(by: >)
        let k = (x.count + 9) / 10
        return sorted.prefix(k).reduce(0, +) / sorted.reduce(0, +)
    }

    @Test("equal seeds give equal traces; another seed another trace", arguments: [UInt64(1), 7, 123_456_789])
    func determinism(seed: UInt64) throws {
        let p = RegimeTrace.Parameters(iterations: 300, layers: 5, experts: 100, tokens: 256, topK: 4,
                                       switchProbability: 0.02, blend: 16, drift: 0.01, seed: seed)
        let a = try RegimeTrace.generate(from: Self.source, parameters: p)
        let b = try RegimeTrace.generate(from: Self.source, parameters: p)
        #expect(a == b, "seed \(seed)")
        var q = p
        q.seed = seed &+ 1
        #expect(try RegimeTrace.generate(from: Self.source, parameters: q) != a, "seed \(seed)")
    }

    @Test("a strong or long drift (the walk far beyond exp's range) still gives whole rows summing to tokens × top-k")
    func strongDrift() throws {
        // σ = 5 over 8,192 iterations: the walk's spread (σ√n ≈ 450) passes exp's range (≈ 709)
        // for some of the 64 experts; it trapped on inf/inf = NaN before the walk was re-centred.
        let p = RegimeTrace.Parameters(iterations: 8_192, layers: 1, experts: 64, tokens: 64, topK: 2,
                                       switchProbability: 0.01, blend: 8, drift: 5, seed: 5)
        let trace = try RegimeTrace.generate(from: Self.source, parameters: p)
        for t in 0..<trace.episodes {
            var sum = 0.0
            for e in 0..<64 { sum += trace[0, t, e] }
            #expect(sum == 128, "iteration \(t)")
        }
        // Late in the walk one expert takes almost everything, as a strong drift should.
        #expect((0..<64).map { trace[0, 8_191, $0] }.max()! >= 100)
    }

    @Test("every iteration of every layer sums to tokens × top-k exactly, in whole counts",
          arguments: [(64, 1), (256, 8), (100, 2), (40, 3), (7, 7)])
    func rowSums(experts: Int, topK: Int) throws {
        let p = RegimeTrace.Parameters(iterations: 200, layers: 6, experts: experts, tokens: 333, topK: topK,
                                       switchProbability: 0.05, blend: 10, drift: 0.05, seed: 3)
        let trace = try RegimeTrace.generate(from: Self.source, parameters: p)
        #expect((trace.layers, trace.episodes, trace.experts) == (6, 200, experts))
        for l in 0..<trace.layers {
            for t in 0..<trace.episodes {
                var sum = 0.0
                for e in 0..<experts {
                    let x = trace[l, t, e]
                    #expect(x >= 0 && x.rounded() == x)
                    sum += x
                }
                #expect(sum == Double(333 * topK), "experts \(experts), layer \(l), iteration \(t)")
            }
        }
    }

    @Test("without switches or drift, the counts over many iterations match the source regime within sampling error",
          arguments: [UInt64(0), 5])
    func matchesSource(seed: UInt64) throws {
        // One regime, so the chain has nowhere to go; E = E₀ and L = L₀, so the layer keeps its experts.
        let values = ContiguousArray((0..<64).map { Self.source[2, 0, $0] } + (0..<64).map { Self.source[3, 1, $0] })
        let source = try LoadTensor(layers: 2, episodes: 1, experts: 64, values: values)
        let p = RegimeTrace.Parameters(iterations: 2000, layers: 2, experts: 64, tokens: 128, topK: 4,
                                       switchProbability: 0, blend: 0, seed: seed)
        let trace = try RegimeTrace.generate(from: source, parameters: p)
        let n = Double(2000 * 128 * 4)
        for l in 0..<2 {
            let observed = Self.totals(trace, layer: l)
            let row = (0..<64).map { source[l, 0, $0] }
            let total = row.reduce(0, +)
            var chiSquare = 0.0
            for e in 0..<64 {
                let q = row[e] / total
                let expected = n * q, sd = (n * q * (1 - q)).squareRoot()
                #expect(abs(observed[e] - expected) <= 5 * sd + 1, "seed \(seed), layer \(l), expert \(e): \(observed[e]) vs \(expected)")
                if expected > 0 { chiSquare += (observed[e] - expected) * (observed[e] - expected) / expected }
            }
            // 63 degrees of freedom: mean 63, sd ≈ 11.2; 130 is beyond the 99.999th percentile.
            #expect(chiSquare < 130, "seed \(seed), layer \(l): χ² = \(chiSquare)")
        }
    }

    @Test("upscaling 64 → 256 experts (and 64 → 200) keeps the skew: top-10% share close to the source's",
          arguments: [256, 200])
    func upscalingKeepsSkew(experts: Int) throws {
        // One regime per layer, so the comparison does not depend on the chain's starting regime.
        let source = try SyntheticLoads.lognormal(layers: 4, episodes: 1, experts: 64, sigma: 1, noise: 0,
                                                  assignments: 10_000, seed: 11)
        let p = RegimeTrace.Parameters(iterations: 400, layers: 4, experts: experts, tokens: 1024, topK: 8,
                                       switchProbability: 0, blend: 0, seed: 2)
        let trace = try RegimeTrace.generate(from: source, parameters: p)
        let sourceShares = (0..<4).map { l in Self.topTenPercentShare((0..<64).map { source[l, 0, $0] }) }
        let sourceMean = sourceShares.reduce(0, +) / 4
        for l in 0..<4 {
            let share = Self.topTenPercentShare(Self.totals(trace, layer: l))
            #expect(abs(share - sourceMean) < 0.05, "layer \(l): \(share) vs source \(sourceShares) (mean \(sourceMean))")
        }
    }

    @Test("downscaling merges experts: no traffic lost, each row still sums to tokens × top-k")
    func downscaling() throws {
        let p = RegimeTrace.Parameters(iterations: 50, layers: 2, experts: 24, tokens: 100, topK: 2, seed: 1)
        let trace = try RegimeTrace.generate(from: Self.source, parameters: p)
        #expect(Self.totals(trace, layer: 1).reduce(0, +) == Double(50 * 100 * 2))
    }

    @Test("the regime chain is shared by all layers; blending mixes the old and new regime")
    func sharedSwitches() throws {
        // Two layers × two regimes × 2 experts: regime 0 routes everything to expert 0, regime 1 to expert 1.
        let source = try LoadTensor(layers: 2, episodes: 2, experts: 2, values: [5, 0, 0, 5, 7, 0, 0, 7])
        var p = RegimeTrace.Parameters(iterations: 3000, layers: 3, experts: 2, tokens: 50, topK: 1,
                                       switchProbability: 0.01, blend: 0, seed: 9)
        let abrupt = try RegimeTrace.generate(from: source, parameters: p)
        var switches = 0
        for t in 0..<p.iterations {
            let regime = abrupt[0, t, 0] == 50 ? 0 : 1
            #expect(abrupt[0, t, regime] == 50, "iteration \(t)")
            for l in 1..<3 { #expect(abrupt[l, t, regime] == 50, "layer \(l), iteration \(t)") }
            if t > 0 && abrupt[0, t, 0] != abrupt[0, t - 1, 0] { switches += 1 }
        }
        #expect(switches >= 10 && switches <= 50, "\(switches) switches in 3000 iterations at p = 0.01")

        p.blend = 100
        let blended = try RegimeTrace.generate(from: source, parameters: p)
        let mixed = (0..<p.iterations).filter { blended[0, $0, 0] > 0 && blended[0, $0, 1] > 0 }.count
        #expect(mixed >= 500, "only \(mixed) blended iterations")
    }

    @Test("bad parameters are named")
    func badParameters() {
        func field(_ change: (inout RegimeTrace.Parameters) -> Void) -> String? {
            var p = RegimeTrace.Parameters(iterations: 10, layers: 2, experts: 8)
            change(&p)
            do { _ = try RegimeTrace.generate(from: Self.source, parameters: p); return nil } catch { return error.field }
        }
        #expect(field { _ in } == nil)
        #expect(field { $0.iterations = 0 } == "iterations")
        #expect(field { $0.experts = -1 } == "experts")
        #expect(field { $0.topK = 9 } == "topK")
        #expect(field { $0.tokens = 1 << 22 } == "tokens")
        #expect(field { $0.switchProbability = 1.5 } == "switchProbability")
        #expect(field { $0.switchProbability = .nan } == "switchProbability")
        #expect(field { $0.blend = -1 } == "blend")
        #expect(field { $0.drift = .infinity } == "drift")
        #expect(field { $0.iterations = 1 << 30; $0.layers = 64 } == "iterations")
    }
}
