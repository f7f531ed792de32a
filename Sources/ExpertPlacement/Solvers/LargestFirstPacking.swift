/// Largest-first (LPT) packing of replicas onto devices with a slot limit and no two replicas of
/// one expert on a device.
///
/// Replicas are taken by per-replica load `w_e / r_e`, largest first (lower expert id on ties);
/// each goes to the least-loaded device (lowest index on ties) that has a free slot and does not
/// already hold that expert. This is DeepSeek EPLB's `balanced_packing` plus the no-duplicate
/// rule, which DeepSeek's reference lacks (vllm-ascend's worker rejects plans that break it).
///
/// When every device with a free slot already holds the expert (possible when an expert with
/// many replicas comes late), a *repair* frees a slot: some replica `x` moves from a full device
/// `d₂` that lacks the expert to a device `d₁` with a free slot that lacks `x`, and the expert
/// takes `x`'s place on `d₂`. Such a pair always exists (`d₂` holds `S` distinct experts, `d₁`
/// fewer than `S` including the expert, so `d₂` has one that `d₁` lacks); among them the
/// repair minimising the larger of the two new device loads is chosen.
///
/// Complexity: O(P log E + P·D) per call, plus O(D·S²) for each (rare) repair.
struct LargestFirstPacking {
    let devices: Int
    let slotsPerDevice: Int
    let experts: Int

    /// Packs `counts[e]` replicas of each expert `e` (load `loads[e]` split evenly) and returns
    /// the local `phy2log`: `devices · slotsPerDevice` expert ids, device-major.
    ///
    /// - Precondition: `Σ counts = devices · slotsPerDevice`, `1 ≤ counts[e] ≤ devices`,
    ///   `slotsPerDevice ≤ experts` (programmer errors; callers derive them from a valid topology).
    func pack(loads: UnsafeBufferPointer<Double>, counts: UnsafeBufferPointer<Int32>) -> ContiguousArray<Int32> {
        let d = devices, s = slotsPerDevice, e = experts
        var order = ContiguousArray<Int32>((0..<Int32(e)))
        var share = ContiguousArray<Double>(repeating: 0, count: e)
        for x in 0..<e { share[x] = loads[x] / Double(counts[x]) }
        order.sort { a, b in
            let la = share[Int(a)], lb = share[Int(b)]
            return la != lb ? la > lb : a < b
        }
        var slots = ContiguousArray<Int32>(repeating: -1, count: d * s)
        var fill = ContiguousArray<Int>(repeating: 0, count: d)
        var deviceLoad = ContiguousArray<Double>(repeating: 0, count: d)
        var holds = ContiguousArray<Bool>(repeating: false, count: d * e)

        slots.withUnsafeMutableBufferPointer { slots in
        fill.withUnsafeMutableBufferPointer { fill in
        deviceLoad.withUnsafeMutableBufferPointer { deviceLoad in
        holds.withUnsafeMutableBufferPointer { holds in
            func place(_ x: Int, on dev: Int, load: Double) {
                slots[dev * s + fill[dev]] = Int32(x)
                fill[dev] += 1
                deviceLoad[dev] += load
                holds[dev * e + x] = true
            }
            for xi in order {
                let x = Int(xi)
                let load = share[x]
                for _ in 0..<Int(counts[x]) {
                    var best = -1
                    var bestLoad = Double.infinity
                    for dev in 0..<d where fill[dev] < s && !holds[dev * e + x] && deviceLoad[dev] < bestLoad {
                        best = dev
                        bestLoad = deviceLoad[dev]
                    }
                    if best >= 0 {
                        place(x, on: best, load: load)
                    } else {
                        repair(x, load: load, share: share, slots: slots, fill: fill,
                               deviceLoad: deviceLoad, holds: holds)
                    }
                }
            }
        }}}}
        return slots
    }

    /// Frees a slot for expert `x` by moving another replica; see the type's discussion.
    private func repair(_ x: Int, load: Double, share: ContiguousArray<Double>,
                        slots: UnsafeMutableBufferPointer<Int32>, fill: UnsafeMutableBufferPointer<Int>,
                        deviceLoad: UnsafeMutableBufferPointer<Double>, holds: UnsafeMutableBufferPointer<Bool>) {
        let d = devices, s = slotsPerDevice, e = experts
        var best: (d1: Int, d2: Int, local: Int, cost: Double)? = nil
        for d1 in 0..<d where fill[d1] < s {
            for d2 in 0..<d where fill[d2] == s && !holds[d2 * e + x] {
                for local in 0..<s {
                    let y = Int(slots[d2 * s + local])
                    if holds[d1 * e + y] { continue }
                    let cost = Swift.max(deviceLoad[d1] + share[y], deviceLoad[d2] - share[y] + load)
                    if best == nil || cost < best!.cost { best = (d1, d2, local, cost) }
                }
            }
        }
        guard let (d1, d2, local, _) = best else {
            preconditionFailure("largest-first packing: no repair exists (violated preconditions)")
        }
        let y = Int(slots[d2 * s + local])
        // y moves d2 → d1; x takes y's slot on d2.
        slots[d1 * s + fill[d1]] = Int32(y)
        fill[d1] += 1
        deviceLoad[d1] += share[y]
        holds[d1 * e + y] = true
        holds[d2 * e + y] = false
        slots[d2 * s + local] = Int32(x)
        deviceLoad[d2] += load - share[y]
        holds[d2 * e + x] = true
    }
}
