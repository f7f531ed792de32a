public import ExpertPlacement

/// Exhaustive search for the optimal placement of one layer of a tiny instance — the ground
/// truth the solvers and the lower bounds are tested against.
///
/// Enumerates every replica-count vector (`1 ≤ r_e ≤ D`, `Σ r_e = P`) and, for each, every way
/// to put the replicas on devices (`S` per device, no expert twice on a device), breaking the
/// symmetry of devices with identical contents. The value of each leaf is computed from the
/// definitions of INTERFACE.md §2. Exponential: meant for `E ≤ 8`, `P ≤ 12` or so.
public enum BruteForce {
    /// The optimal value of `objective` on `layer`, and a plan that attains it.
    public static func optimum(_ problem: Problem, layer: Int, objective: Objective) -> (value: Double, phy2log: [Int]) {
        let e = problem.experts, d = problem.topology.devices, s = problem.topology.slotsPerDevice
        precondition(e <= 30, "brute force is for tiny instances")
        let p = d * s
        var best = Double.infinity
        var bestPlan: [Int] = []
        var counts = [Int](repeating: 1, count: e)
        var contents = [UInt32](repeating: 0, count: d)
        var fill = [Int](repeating: 0, count: d)

        func value() -> Double {
            var plan = [Int](repeating: 0, count: p)
            for dev in 0..<d {
                var k = 0
                for x in 0..<e where contents[dev] & (1 << UInt32(x)) != 0 {
                    plan[dev * s + k] = x
                    k += 1
                }
            }
            let placement = try! Placement(topology: problem.topology, experts: e,
                                           physicalToLogical: ContiguousArray((0..<problem.layers).flatMap { l in
                                               l == layer ? plan.map(Int32.init) : validFiller(e: e, d: d, s: s)
                                           }))
            let m = try! Metrics.layerMetrics(placement, on: problem, layer: layer)
            let v = m.value(of: objective)
            if v < best {
                best = v
                bestPlan = plan
            }
            return v
        }

        // Place the replicas of expert x onto distinct devices, classes of identical devices
        // filled in index order.
        func place(_ x: Int) {
            if x == e {
                _ = value()
                return
            }
            var chosen: [Int] = []
            func choose(from start: Int, need: Int) {
                if need == 0 {
                    for dev in chosen {
                        contents[dev] |= 1 << UInt32(x)
                        fill[dev] += 1
                    }
                    place(x + 1)
                    for dev in chosen {
                        contents[dev] &= ~(1 << UInt32(x))
                        fill[dev] -= 1
                    }
                    return
                }
                guard start < d else { return }
                for dev in start..<d where fill[dev] < s {
                    // Symmetry: skip a device identical to an earlier unchosen one.
                    var duplicate = false
                    for other in 0..<dev where fill[other] < s && contents[other] == contents[dev]
                        && fill[other] == fill[dev] && !chosen.contains(other) {
                        duplicate = true
                        break
                    }
                    if duplicate { continue }
                    chosen.append(dev)
                    choose(from: dev + 1, need: need - 1)
                    chosen.removeLast()
                }
            }
            choose(from: 0, need: counts[x])
        }

        func allot(_ x: Int, left: Int) {
            if x == e - 1 {
                guard left >= 1 && left <= d else { return }
                counts[x] = left
                place(0)
                return
            }
            let remaining = e - x - 1
            guard left - remaining >= 1 else { return }
            for r in 1...Swift.min(d, left - remaining) {
                counts[x] = r
                allot(x + 1, left: left - r)
            }
        }
        allot(0, left: p)
        return (best, bestPlan)
    }

    /// Every valid plan of a tiny one-layer problem (all `E^P` slot assignments, filtered by the
    /// rules), with its value of `objective` and its moves from the problem's `current` (0 without
    /// one). Meant for `P ≤ 6` or so.
    public static func everyPlan(_ problem: Problem, objective: Objective) -> [(plan: [Int32], value: Double, moves: Int)] {
        let e = problem.experts, d = problem.topology.devices, s = problem.topology.slotsPerDevice, p = d * s
        precondition(problem.layers == 1, "one layer")
        var out: [([Int32], Double, Int)] = []
        var plan = [Int32](repeating: 0, count: p)
        func valid() -> Bool {
            var seen = [Bool](repeating: false, count: e)
            for x in plan { seen[Int(x)] = true }
            guard seen.allSatisfy({ $0 }) else { return false }
            for dev in 0..<d where Set(plan[dev * s ..< (dev + 1) * s]).count != s { return false }
            return true
        }
        func fill(_ k: Int) {
            if k == p {
                guard valid() else { return }
                let placement = try! Placement(topology: problem.topology, experts: e, physicalToLogical: ContiguousArray(plan))
                let value = try! Metrics.layerMetrics(placement, on: problem, layer: 0).value(of: objective)
                out.append((plan, value, problem.current.map { placement.moves(from: $0, layer: 0) } ?? 0))
                return
            }
            for x in 0..<e {
                plan[k] = Int32(x)
                fill(k + 1)
            }
        }
        fill(0)
        return out
    }

    /// A valid layer (round-robin) to fill the other layers of a placement.
    static func validFiller(e: Int, d: Int, s: Int) -> [Int32] {
        (0..<(d * s)).map { Int32(($0 / d + ($0 % d) * s) % e) }
    }
}
