import ExpertPlacement
import Testing

/// ``ShardPlanner``, ``OwnerAssignment`` and ``BroadcastSchedule``: hand-computed cases, brute
/// force on small grids, and seeded properties.
@Suite("Shard plan")
struct ShardPlanTests {
    static let mib96 = 96 << 20  // 100,663,296 bytes

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
        abs(a - b) <= tolerance * Swift.max(1, abs(a), abs(b))
    }

    // MARK: Hand-computed: 61 layers on 16 ranks

    @Test("61 layers on 16 ranks: counts 4 (devices 0–12) and 3 (13–15), owners dealt into 4 rows, memory")
    func deepSeekShape() throws {
        let planner = try ShardPlanner(layers: 61, devices: 16, layerBytes: Self.mib96)
        let plan = try planner.plan(prefetch: 1)
        #expect(plan.ownedCounts == Array(repeating: 4, count: 13) + [3, 3, 3])
        #expect(plan.leastMaximumOwned == 4 && plan.maximumOwned == 4 && plan.minimumOwned == 3)
        // Labels 0000 1111 … 12×4, 13×3, 14×3, 15×3 dealt into 4 rows (label t → row t mod 4).
        let rows = [Array(0...15), Array(0...14), Array(0...13) + [15], Array(0...12) + [14, 15]]
        #expect(plan.owners == rows.flatMap { $0 })
        #expect(plan.repeatedOwners == 0 && plan.leastRepeatedOwners == 0)
        // k = 1: the layer in use and one in flight; 16 ranks, so every rank has a window without its own layers.
        #expect(plan.bufferLayers == Array(repeating: 2, count: 16))
        #expect(plan.replicatedBytes == 61 * 100_663_296)  // 6,140,461,056
        #expect(plan.deviceBytes == Array(repeating: 6 * 100_663_296, count: 13) + Array(repeating: 5 * 100_663_296, count: 3))
        #expect(plan.maximumDeviceBytes == 603_979_776 && plan.maximumBufferBytes == 201_326_592)
        #expect(plan.issueLayer(of: 0) == 60 && plan.issueLayer(of: 5) == 4)
        let deeper = try planner.plan(prefetch: 2)
        #expect(deeper.owners == plan.owners)
        #expect(deeper.bufferLayers == Array(repeating: 3, count: 16) && deeper.maximumDeviceBytes == 7 * Self.mib96)
    }

    @Test("61 on 16, 96 MiB at 100 GB/s, τ 1.5 ms, α 2 ms: k = 3 hides (slack 1.49336704 ms), k = 2 is latency-bound")
    func deepSeekSchedule() throws {
        let timing = try BroadcastTiming(bandwidth: 100e9, layerSeconds: 0.0015, latencySeconds: 0.002)
        let planner = try ShardPlanner(layers: 61, devices: 16, layerBytes: Self.mib96, timing: timing)
        let beta = 0.00100663296, total = 0.00300663296
        let three = try #require(try planner.plan(prefetch: 3).schedule)
        #expect(Self.close(three.transferSeconds, beta) && Self.close(three.broadcastSeconds, total))
        #expect(three.bound == .compute && three.allHidden && three.periodSeconds == 0.0015)
        #expect(Self.close(three.slackSeconds, 0.0045 - total))
        #expect(Self.close(three.start(of: 0), -0.0045) && Self.close(three.finish(of: 0), -0.0045 + total))
        #expect(Self.close(three.neededAt(10), 0.015) && Self.close(three.start(of: 10), 0.0105))
        #expect(Self.close(three.passSeconds, 0.0915) && three.stallSeconds == 0)
        // Cold: layers 0–2 issued at 0 back to back; layer 0 starts at α + β, nothing waits after it.
        #expect(Self.close(three.coldPassSeconds, total + 0.0915))

        let two = try #require(try planner.plan(prefetch: 2).schedule)
        #expect(two.bound == .latency && !two.allHidden)
        #expect(Self.close(two.periodSeconds, total / 2))  // 1.50331648 ms
        #expect(Self.close(two.slackSeconds, 0.0015 - total / 2))
        #expect(Self.close(two.passSeconds, 61 * total / 2) && Self.close(two.stallSeconds, 61 * (total / 2 - 0.0015)))
        #expect(Self.close(two.finish(of: 7), two.computeStart(of: 7)))  // each broadcast completes as its layer starts

        let auto = try planner.planAutomaticPrefetch()
        #expect(auto.prefetch == 3 && auto.schedule?.allHidden == true)
        #expect(auto.notes == ["prefetch depth 3 is the smallest that hides every broadcast"])
    }

    @Test("61 on 16 at 50 GB/s: one broadcast (2.01326592 ms) outlasts a layer, so every depth stalls 0.51326592 ms a layer")
    func bandwidthBound() throws {
        let timing = try BroadcastTiming(bandwidth: 50e9, layerSeconds: 0.0015, latencySeconds: 0.002)
        let planner = try ShardPlanner(layers: 61, devices: 16, layerBytes: Self.mib96, timing: timing)
        let beta = 0.00201326592
        for k in [2, 5, 60] {
            let s = try #require(try planner.plan(prefetch: k).schedule)
            #expect(s.bound == .bandwidth && Self.close(s.periodSeconds, beta))
            #expect(Self.close(s.stallSeconds, 61 * (beta - 0.0015)))  // 31.30922112 ms
            #expect(Self.close(s.finish(of: 4), s.computeStart(of: 4)) && Self.close(s.start(of: 5) - s.start(of: 4), beta))
        }
        // k = 1 is latency-bound: (α + β)/1 > β.
        #expect(try planner.plan(prefetch: 1).schedule?.bound == .latency)
        let auto = try planner.planAutomaticPrefetch()
        #expect(auto.prefetch == 2 && auto.schedule?.bound == .bandwidth)
        #expect(auto.notes.count == 1 && auto.notes[0].hasPrefix("no prefetch depth hides the broadcasts")
                && auto.notes[0].contains("67108864000 bytes/s"))
    }

    // MARK: Hand-computed: buffers below k + 1, caps

    @Test("4 layers on 2 ranks alternate, so each keeps 1 buffer at k = 1 and 2 at k = 3 (the whole cycle)")
    func twoRanks() throws {
        let planner = try ShardPlanner(layers: 4, devices: 2, layerBytes: 10)
        let one = try planner.plan(prefetch: 1)
        #expect(one.owners == [0, 1, 0, 1] && one.bufferLayers == [1, 1] && one.deviceBytes == [30, 30])
        #expect(try planner.plan(prefetch: 3).bufferLayers == [2, 2])
        // One device owns everything and borrows nothing.
        let alone = try ShardPlanner(layers: 5, devices: 1, layerBytes: 10).plan(prefetch: 2)
        #expect(alone.owners == [0, 0, 0, 0, 0] && alone.bufferLayers == [0] && alone.maximumDeviceBytes == 50)
        #expect(alone.repeatedOwners == 5 && alone.leastRepeatedOwners == 5)
    }

    @Test("caps 8, 4, 4 GiB for 8 layers of 1 GiB at k = 1: counts 4, 2, 2 (the least largest), each device within its cap")
    func caps() throws {
        let g = 1 << 30
        let planner = try ShardPlanner(layers: 8, devices: 3, layerBytes: g, memoryCaps: [8 * g, 4 * g, 4 * g])
        let plan = try planner.plan(prefetch: 1)
        // Capacities: device 0 holds all 8 layers; devices 1 and 2 hold 4, less 2 buffers: 2 each.
        #expect(plan.ownedCounts == [4, 2, 2] && plan.leastMaximumOwned == 4)
        #expect(plan.owners == [0, 1, 0, 1, 0, 2, 0, 2] && plan.repeatedOwners == 0)
        #expect(plan.bufferLayers == [1, 2, 2] && plan.deviceBytes == [5 * g, 4 * g, 4 * g])
        // At k = 2 devices 1 and 2 may own one layer each (4 − 3), so device 0 owns 6: 6 of 8 layers in a
        // cycle force 2·6 − 8 = 4 repeats. Owners 0 1 0 2 0 0 0 0: device 0 keeps 2 buffers, 1 and 2 keep 3.
        let deep = try planner.plan(prefetch: 2)
        #expect(deep.ownedCounts == [6, 1, 1] && deep.repeatedOwners == 4 && deep.leastRepeatedOwners == 4)
        #expect(deep.owners == [0, 1, 0, 2, 0, 0, 0, 0] && deep.bufferLayers == [2, 3, 3])
        #expect(deep.deviceBytes == [8 * g, 4 * g, 4 * g])
        // k = 3 leaves devices 1 and 2 no room to own anything: device 0 owns all 8.
        #expect(try planner.plan(prefetch: 3).ownedCounts == [8, 0, 0])
        // Uniform 4 GiB caps hold 2 + 2 + 2 = 6 < 8 layers.
        let tight = try ShardPlanner(layers: 8, devices: 3, layerBytes: g, memoryCaps: [4 * g, 4 * g, 4 * g])
        #expect(throws: ExpertPlacementError.self) { try tight.plan(prefetch: 1) }
        do {
            _ = try tight.plan(prefetch: 1)
        } catch {
            #expect(error.field == "memoryCaps" && error.reason.contains("own 6 of the 8 layers"))
        }
        // A cap below k + 1 buffers names the device.
        let small = try ShardPlanner(layers: 8, devices: 3, layerBytes: g, memoryCaps: [8 * g, g, 8 * g])
        do {
            _ = try small.plan(prefetch: 1)
            Issue.record("a 1-layer cap at k = 1 was accepted")
        } catch {
            #expect(error.field == "memoryCaps[1]")
        }
    }

    @Test("auto stays within the caps: the deepest depth they allow, with a note, when hiding needs more")
    func autoWithinCaps() throws {
        let g = 1 << 30
        // τ = 1 s, β = 0.5 s, α = 3.5 s: hiding needs k = 4. 6 GiB caps let each of 4 devices own 6 − (k + 1)
        // layers: 8 in all at k = 3, only 4 at k = 4.
        let timing = try BroadcastTiming(bandwidth: Double(2 * g), layerSeconds: 1, latencySeconds: 3.5)
        let planner = try ShardPlanner(layers: 8, devices: 4, layerBytes: g, memoryCaps: Array(repeating: 6 * g, count: 4),
                                       timing: timing)
        let plan = try planner.planAutomaticPrefetch()
        #expect(plan.prefetch == 3 && plan.schedule?.bound == .latency && plan.ownedCounts == [2, 2, 2, 2])
        #expect(plan.notes.count == 1 && plan.notes[0].contains("the memory caps allow at most depth 3"))
        let free = try ShardPlanner(layers: 8, devices: 4, layerBytes: g, timing: timing).planAutomaticPrefetch()
        #expect(free.prefetch == 4 && free.schedule?.allHidden == true)
    }

    @Test("bad sizes name the field")
    func badInput() throws {
        func field(_ body: () throws -> Void) -> String? {
            do { try body() } catch let error as ExpertPlacementError { return error.field } catch { return "\(error)" }
            return nil
        }
        #expect(field { _ = try ShardPlanner(layers: 1, devices: 2, layerBytes: 1) } == "layers")
        #expect(field { _ = try ShardPlanner(layers: 4, devices: 0, layerBytes: 1) } == "devices")
        #expect(field { _ = try ShardPlanner(layers: 4, devices: 2, layerBytes: 0) } == "layerBytes")
        #expect(field { _ = try ShardPlanner(layers: 1 << 20, devices: 2, layerBytes: 1 << 40) } == "layerBytes")
        #expect(field { _ = try ShardPlanner(layers: 4, devices: 2, layerBytes: 1, memoryCaps: [1]) } == "memoryCaps")
        #expect(field { _ = try ShardPlanner(layers: 4, devices: 2, layerBytes: 1, memoryCaps: [1, -1]) } == "memoryCaps[1]")
        #expect(field { _ = try ShardPlanner(layers: 4, devices: 2, layerBytes: 1).plan(prefetch: 4) } == "prefetch")
        #expect(field { _ = try ShardPlanner(layers: 4, devices: 2, layerBytes: 1).plan(prefetch: 0) } == "prefetch")
        #expect(field { _ = try BroadcastTiming(bandwidth: 0, layerSeconds: 1) } == "bandwidth")
        #expect(field { _ = try BroadcastTiming(bandwidth: 1, layerSeconds: .nan) } == "layerSeconds")
        #expect(field { _ = try BroadcastTiming(bandwidth: 1, layerSeconds: 1, latencySeconds: -1) } == "latencySeconds")
        #expect(throws: ExpertPlacementError.self) { try ShardPlanner(layers: 4, devices: 2, layerBytes: 1).planAutomaticPrefetch() }
    }

    // MARK: Owners: brute force and properties

    /// The fewest cyclic repeats over every distinct order of these counts (small N only).
    static func bruteForceLeastRepeats(_ counts: [Int]) -> Int {
        var left = counts, sequence: [Int] = [], best = Int.max
        let n = counts.reduce(0, +)
        func extend() {
            if sequence.count == n {
                best = min(best, OwnerAssignment.repeats(sequence, cyclic: true))
                return
            }
            for d in left.indices where left[d] > 0 {
                left[d] -= 1
                sequence.append(d)
                extend()
                sequence.removeLast()
                left[d] += 1
            }
        }
        extend()
        return best
    }

    @Test("every count vector of up to 4 devices × 3 layers each, 2–9 layers: the dealt order has the fewest repeats, by brute force")
    func interleaveIsOptimal() {
        var checked = 0
        for a in 0...3 { for b in 0...3 { for c in 0...3 { for d in 0...3 {
            let counts = [a, b, c, d]
            guard (2...9).contains(counts.reduce(0, +)) else { continue }
            let owners = OwnerAssignment.interleave(counts: counts)
            #expect(counts.indices.map { dev in owners.filter { $0 == dev }.count } == counts)
            let cyclic = OwnerAssignment.repeats(owners, cyclic: true), line = OwnerAssignment.repeats(owners, cyclic: false)
            #expect(cyclic == Self.bruteForceLeastRepeats(counts), "\(counts): \(owners)")
            #expect(cyclic == OwnerAssignment.leastRepeats(counts: counts, cyclic: true), "\(counts)")
            #expect(line == OwnerAssignment.leastRepeats(counts: counts, cyclic: false), "\(counts): \(owners)")
            checked += 1
        } } } }
        #expect(checked == 236)
    }

    @Test("without caps the counts are ⌈N/D⌉ and ⌊N/D⌋, and D dividing N gives round robin")
    func roundRobin() throws {
        for (n, d) in [(61, 16), (64, 16), (17, 16), (1000, 64), (5, 8)] {
            let plan = try ShardPlanner(layers: n, devices: d, layerBytes: 1).plan(prefetch: 1)
            #expect(plan.ownedCounts == (0..<d).map { $0 < n % d ? n / d + 1 : n / d }, "\(n) on \(d)")
            #expect(plan.leastMaximumOwned == (n + d - 1) / d && plan.repeatedOwners == 0, "\(n) on \(d)")
            if n % d == 0 { #expect(plan.owners == (0..<n).map { $0 % d }) }
        }
        // 17 on 16: plain round robin would put device 0 at layers 16 and 0 (adjacent across passes).
        let plan = try ShardPlanner(layers: 17, devices: 16, layerBytes: 1).plan(prefetch: 1)
        #expect(plan.owners.firstIndex(of: 0) == 0 && plan.owners.lastIndex(of: 0) == 9)
    }

    /// The naive buffer peak: for every window start, the borrowed layers among `k + 1`.
    static func naiveBufferPeaks(_ owners: [Int], devices: Int, prefetch k: Int) -> [Int] {
        var peaks = [Int](repeating: 0, count: devices)
        for j in owners.indices {
            var owned = [Int](repeating: 0, count: devices)
            for i in j...(j + k) { owned[owners[i % owners.count]] += 1 }
            for d in 0..<devices { peaks[d] = max(peaks[d], k + 1 - owned[d]) }
        }
        return peaks
    }

    @Test("seeded random sizes, caps and depths: least largest count, fewest repeats, buffers, caps respected",
          arguments: 0..<4)
    func randomPlans(block: Int) throws {
        var rng = SeededGenerator(seed: 0x5AAD_0000 + UInt64(block))
        for trial in 0..<100 {
            let n = Int.random(in: 2...120, using: &rng), d = Int.random(in: 1...24, using: &rng)
            let k = Int.random(in: 1...(n - 1), using: &rng), b = Int.random(in: 1...1000, using: &rng)
            let capped = Bool.random(using: &rng)
            let caps: [Int]? = capped ? (0..<d).map { _ in Int.random(in: 0...(n + k + 2), using: &rng) * b + Int.random(in: 0..<b, using: &rng) } : nil
            let label = "seed block \(block) trial \(trial): N \(n) D \(d) k \(k) caps \(caps.map { "\($0)" } ?? "none")"
            let planner = try ShardPlanner(layers: n, devices: d, layerBytes: b, memoryCaps: caps)
            // Capacities as documented, to compare the feasibility decision and the least maximum.
            let capacity = (caps ?? Array(repeating: n * b, count: d)).map { cap -> Int? in
                let fits = cap / b
                if fits >= n { return n }
                return d == 1 ? 0 : (fits >= k + 1 ? fits - k - 1 : nil)
            }
            let feasible = capacity.allSatisfy { $0 != nil } && capacity.reduce(0) { $0 + ($1 ?? 0) } >= n
            guard feasible else {
                #expect(throws: ExpertPlacementError.self, "\(label)") { try planner.plan(prefetch: k) }
                continue
            }
            let plan = try planner.plan(prefetch: k)
            let u = capacity.map { $0! }
            // The least maximum by a linear scan: the smallest m with Σ min(u_d, m) ≥ N.
            let least = (1...n).first { m in u.reduce(0) { $0 + min($1, m) } >= n }!
            #expect(plan.maximumOwned == least && plan.leastMaximumOwned == least, "\(label)")
            #expect(plan.ownedCounts.reduce(0, +) == n && zip(plan.ownedCounts, u).allSatisfy { $0 <= $1 }, "\(label)")
            #expect((0..<d).map { dev in plan.owners.filter { $0 == dev }.count } == plan.ownedCounts, "\(label)")
            if !capped { #expect(plan.maximumOwned - plan.minimumOwned <= (n % d == 0 ? 0 : 1), "\(label)") }
            #expect(plan.repeatedOwners == plan.leastRepeatedOwners, "\(label)")
            #expect(plan.bufferLayers == Self.naiveBufferPeaks(plan.owners, devices: d, prefetch: k), "\(label)")
            if let caps { #expect(zip(plan.deviceBytes, caps).allSatisfy { $0 <= $1 }, "\(label)") }
        }
    }

    // MARK: Schedule against an event simulation

    /// Earliest-start event simulation of `passes` back-to-back forward passes from cold: the
    /// start time of every layer's compute, in order.
    static func simulate(layers n: Int, prefetch k: Int, transfer: Double, broadcast: Double, tau: Double,
                         passes: Int) -> [Double] {
        var starts: [Double] = []
        var fabricFree = 0.0, previousEnd = 0.0
        for g in 0..<(n * passes) {
            let issue = max(g < k ? 0 : starts[g - k], fabricFree)
            fabricFree = issue + transfer
            let start = max(previousEnd, issue + broadcast)
            starts.append(start)
            previousEnd = start + tau
        }
        return starts
    }

    @Test("steady state and cold pass agree with a pass-by-pass simulation (seeded parameters)")
    func scheduleMatchesSimulation() throws {
        var rng = SeededGenerator(seed: 0xB0AD_CA57)
        for trial in 0..<200 {
            let n = Int.random(in: 2...24, using: &rng), k = Int.random(in: 1...(n - 1), using: &rng)
            let tau = Double.random(in: 0.5...2, using: &rng), beta = Double.random(in: 0.1...3, using: &rng)
            let alpha = Bool.random(using: &rng) ? 0 : Double.random(in: 0...6, using: &rng)
            let timing = try BroadcastTiming(bandwidth: 1 / beta, layerSeconds: tau, latencySeconds: alpha)
            let s = try #require(try ShardPlanner(layers: n, devices: 4, layerBytes: 1, timing: timing).plan(prefetch: k).schedule)
            let label = "trial \(trial): N \(n) k \(k) τ \(tau) β \(beta) α \(alpha)"
            let passes = 400
            let starts = Self.simulate(layers: n, prefetch: k, transfer: beta, broadcast: alpha + beta, tau: tau, passes: passes)
            #expect(Self.close(starts[n - 1] + tau, s.coldPassSeconds, 1e-12), "\(label)")
            // Latency-bound, the earliest-start schedule repeats every k / gcd(N, k) passes (its critical
            // circuit hops k layers at a time); its mean pass is N·π, the uniform schedule's.
            var (a, b) = (n, k)
            while b != 0 { (a, b) = (b, a % b) }
            let cycle = k / a, last = (passes - 1) * n
            let mean = (starts[last] - starts[last - cycle * n]) / Double(cycle)
            #expect(Self.close(mean, s.passSeconds, 1e-6), "\(label): \(mean) vs \(s.passSeconds)")
            let waits = (last - n + 1...last).map { starts[$0] - starts[$0 - 1] - tau }
            #expect(s.allHidden == waits.allSatisfy { $0 <= 1e-9 }, "\(label)")
            #expect(s.slackSeconds >= 0 || s.bound != .compute, "\(label)")
            // The smallest depth: the first k in 1...N − 1 that hides, else the first with the least period.
            let periods = (1..<n).map { BroadcastSchedule(layers: n, devices: 4, layerBytes: 1, prefetch: $0, timing: timing) }
            let (depth, hidden) = BroadcastSchedule.smallestDepth(layers: n, devices: 4, layerBytes: 1, timing: timing, limit: n - 1)
            let expected = periods.first(where: \.allHidden) ?? periods.first { $0.periodSeconds == periods.map(\.periodSeconds).min()! }!
            #expect(depth == expected.prefetch && hidden == expected.allHidden, "\(label)")
        }
    }

    @Test("1,000 layers × 64 ranks with timing and --prefetch auto plan in well under 10 ms")
    func speed() throws {
        let timing = try BroadcastTiming(bandwidth: 100e9, layerSeconds: 0.0015, latencySeconds: 0.002)
        let planner = try ShardPlanner(layers: 1000, devices: 64, layerBytes: Self.mib96,
                                       memoryCaps: Array(repeating: 80 << 30, count: 64), timing: timing)
        let clock = ContinuousClock()
        var best = Duration.seconds(1)
        for _ in 0..<5 {
            let t = clock.measure { _ = try? planner.planAutomaticPrefetch() }
            best = min(best, t)
        }
        #expect(try planner.planAutomaticPrefetch().prefetch == 3)
        // A debug build; the release figure is in the README.
        #expect(best < .milliseconds(10), "best of 5: \(best)")
    }
}
