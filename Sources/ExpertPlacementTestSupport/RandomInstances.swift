public import ExpertPlacement

/// Seeded random instances for property tests. Equal seeds give equal instances.
public enum RandomInstances {
    /// Load distributions used by the generators.
    public enum Distribution: CaseIterable, Sendable {
        /// Uniform on [0, 1000).
        case uniform
        /// lognormal(σ = 1) × 100.
        case lognormal
        /// Zipf-like: the k-th expert (random order) gets 1000 / k.
        case zipf
        /// vllm-ascend's policy-test loads: rand^10 · 999 + 1.
        case spiky
        /// Mostly zeros with a few positive loads (and all-zero episodes).
        case sparse
    }

    /// A random problem with the given size limits.
    ///
    /// - Parameters:
    ///   - seed: the seed (print it on failure).
    ///   - maxDevices, maxSlots: upper bounds of `D` and `S`.
    ///   - maxLayers, maxEpisodes: upper bounds of `L` and `T`.
    ///   - distribution: fixed, or `nil` for one drawn from the seed.
    ///   - withNodesAndGroups: draw nodes/groups that divide `D` and `E`.
    ///   - withCurrent: attach a random valid current placement.
    public static func problem(seed: UInt64, maxDevices: Int = 8, maxSlots: Int = 4, maxLayers: Int = 3,
                               maxEpisodes: Int = 4, distribution: Distribution? = nil,
                               withNodesAndGroups: Bool = false, withCurrent: Bool = false) -> Problem {
        var rng = SeededGenerator(seed: seed &* 0x2545F4914F6CDD1D &+ 17)
        let d = Int.random(in: 1...maxDevices, using: &rng)
        let s = Int.random(in: 1...maxSlots, using: &rng)
        let p = d * s
        // S ≤ E ≤ P.
        var e = Int.random(in: max(1, s)...p, using: &rng)
        var nodes = 1, groups = 1
        if withNodesAndGroups {
            // Nodes divide D; groups are a multiple of nodes; E divisible by groups with E/N ≥ S.
            let n = (1...d).filter { d % $0 == 0 }.randomElement(using: &rng)!
            let g = n * Int.random(in: 1...2, using: &rng)
            let choices = (s...p).filter { $0 % g == 0 && $0 / n >= s }
            if let pick = choices.randomElement(using: &rng) {
                nodes = n
                groups = g
                e = pick
            }
        }
        let l = Int.random(in: 1...maxLayers, using: &rng)
        let t = Int.random(in: 1...maxEpisodes, using: &rng)
        let dist = distribution ?? Distribution.allCases.randomElement(using: &rng)!
        let values = loads(count: l * t * e, experts: e, distribution: dist, rng: &rng)
        let topology = Topology(devices: d, slotsPerDevice: s, nodes: nodes, expertGroups: groups)
        var weights: ContiguousArray<Double>? = nil
        if t > 1 && Bool.random(using: &rng) {
            weights = ContiguousArray((0..<t).map { _ in Double(Int.random(in: 0...3, using: &rng)) })
            if weights!.allSatisfy({ $0 == 0 }) { weights![0] = 1 }
        }
        var current: Placement? = nil
        if withCurrent {
            var flat = ContiguousArray<Int32>()
            for _ in 0..<l { flat.append(contentsOf: randomValidLayer(experts: e, devices: d, slots: s, rng: &rng)) }
            current = try! Placement(topology: topology, experts: e, physicalToLogical: flat)
        }
        do {
            let tensor = try LoadTensor(layers: l, episodes: t, experts: e, values: values)
            return try Problem(topology: topology, loads: tensor, episodeWeights: weights, current: current)
        } catch {
            preconditionFailure("RandomInstances generated an invalid problem (seed \(seed)): \(error)")
        }
    }

    /// `count` loads drawn from `distribution`, in rows of `experts`.
    public static func loads(count: Int, experts: Int, distribution: Distribution,
                             rng: inout SeededGenerator) -> ContiguousArray<Double> {
        var out = ContiguousArray<Double>()
        out.reserveCapacity(count)
        var rank = Array(1...experts)
        for i in 0..<count {
            if i % experts == 0 { rank.shuffle(using: &rng) }
            let v: Double
            switch distribution {
            case .uniform: v = (rng.nextUnit() * 1000).rounded()
            case .lognormal: v = (100 * expApprox(rng.nextGaussian())).rounded()
            case .zipf: v = (1000 / Double(rank[i % experts])).rounded()
            case .spiky:
                var x = rng.nextUnit()
                x = x * x; x = x * x; x = x * x  // x^8
                v = (x * rng.nextUnit() * rng.nextUnit() * 999 + 1).rounded()
            case .sparse: v = rng.nextUnit() < 0.2 ? (rng.nextUnit() * 100).rounded() : 0
            }
            out.append(v)
        }
        return out
    }

    /// A random valid layer: each expert once, the other slots filled with experts absent from the device.
    public static func randomValidLayer(experts e: Int, devices d: Int, slots s: Int,
                                        rng: inout SeededGenerator) -> [Int32] {
        // Deal experts 0..<E round-robin over devices in random order, then fill the rest.
        var layer = [[Int32]](repeating: [], count: d)
        var order = Array(0..<e).map(Int32.init)
        order.shuffle(using: &rng)
        var dev = 0
        for x in order {
            while layer[dev].count >= s { dev = (dev + 1) % d }
            layer[dev].append(x)
            dev = (dev + 1) % d
        }
        for k in 0..<d {
            while layer[k].count < s {
                let candidates = (0..<Int32(e)).filter { !layer[k].contains($0) }
                layer[k].append(candidates.randomElement(using: &rng)!)
            }
        }
        return layer.flatMap { $0 }
    }

    /// exp(x) by its series on a reduced argument; test data only (avoids importing Foundation).
    static func expApprox(_ x: Double) -> Double {
        var n = 0
        var y = x
        while abs(y) > 0.5 { y /= 2; n += 1 }
        var term = 1.0, sum = 1.0
        for k in 1...20 { term *= y / Double(k); sum += term }
        for _ in 0..<n { sum *= sum }
        return sum
    }
}
