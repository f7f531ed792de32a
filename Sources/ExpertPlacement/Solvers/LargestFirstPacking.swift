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
/// Complexity: O(P log E + P log D) per call (O(P log E + P) with one slot per device), plus
/// O(D²·S) for each (rare) repair.
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
        pack(loads: loads, counts: counts, stop: nil)!
    }

    /// ``pack(loads:counts:)``, abandoned (`nil`) when `stop` says so; it is asked every 4,096
    /// replicas.
    func pack(loads: UnsafeBufferPointer<Double>, counts: UnsafeBufferPointer<Int32>,
              stop: LayerContext?) -> ContiguousArray<Int32>? {
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
        // Devices with a free slot, lightest first (lower index on ties). An expert's replicas are
        // placed one after another and none of the devices taken for it can take it again, so
        // replica j of an expert goes to the j-th lightest device with room: take them all, place,
        // then put back those with room left. Devices `fresh..<d` have no replica yet (load 0,
        // every index above those in the heap); the heap holds the others with room. Same result
        // as scanning every device for every replica, in O(P log D) instead of O(P·D) (O(P)
        // with one slot per device).
        var open = Heap<DeviceKey>()
        var fresh = 0
        var taken = ContiguousArray<Int32>(repeating: 0, count: d)
        var stopped = false

        slots.withUnsafeMutableBufferPointer { slots in
        fill.withUnsafeMutableBufferPointer { fill in
        deviceLoad.withUnsafeMutableBufferPointer { deviceLoad in
        holds.withUnsafeMutableBufferPointer { holds in
            func lightest() -> Int32? {
                if fresh < d {
                    let key = DeviceKey(load: 0, device: Int32(fresh))
                    if let top = open.min, top < key { return open.removeMin().device }
                    fresh += 1
                    return key.device
                }
                return open.popMin()?.device
            }
            var total = 0
            for xi in order {
                let x = Int(xi)
                let load = share[x]
                var placed = 0
                while placed < Int(counts[x]), let device = lightest() {
                    let dev = Int(device)
                    slots[dev * s + fill[dev]] = xi
                    fill[dev] += 1
                    deviceLoad[dev] += load
                    holds[dev * e + x] = true
                    taken[placed] = device
                    placed += 1
                    total += 1
                    if total & 4095 == 0, let stop, stop.shouldStop() {
                        stopped = true
                        return
                    }
                }
                // Every device with room holds x already: free slots by moving other replicas.
                for _ in placed..<Int(counts[x]) {
                    repair(x, load: load, share: share, slots: slots, fill: fill, deviceLoad: deviceLoad, holds: holds)
                }
                for j in 0..<placed {
                    let dev = Int(taken[j])
                    if fill[dev] < s { open.insert(DeviceKey(load: deviceLoad[dev], device: taken[j])) }
                }
            }
        }}}}
        return stopped ? nil : slots
    }

    /// A device in the heap of devices with room: lighter first, then lower index.
    struct DeviceKey: Comparable {
        var load: Double
        var device: Int32

        static func < (a: DeviceKey, b: DeviceKey) -> Bool {
            a.load < b.load || (!(b.load < a.load) && a.device < b.device)
        }
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

import HeapModule
