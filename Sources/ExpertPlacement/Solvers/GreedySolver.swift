/// The greedy baseline: min-max replica allotment, then largest-first placement.
///
/// For each layer, on the episode-weighted aggregate load `Σ_t ω_t w[t]`:
/// 1. `ReplicaAllotment`: each redundant slot goes to the expert with the highest per-replica
///    load (heap-based), at most one replica per device.
/// 2. `LargestFirstPacking`: replicas, largest per-replica load first, each onto the
///    least-loaded device with a free slot that does not hold that expert.
///
/// This is the policy DeepSeek EPLB, vLLM and SGLang run in "global" mode, with one fix: it never
/// puts two replicas of an expert on one device. On FlashLB's 8-expert example it gives the same
/// peak as they do (232, peak/avg 1.28; the optimum is 196.67) because the replica counts are
/// chosen without regard to packing. Layers run in parallel; the result does not depend on the
/// thread count. See the Greedy article (ExpertPlacement.docc/Greedy.md).
///
/// Complexity: O(L·(T·E + P log E + P·D)).
public struct GreedySolver: LayerSolver {
    /// `"greedy"`.
    public var method: String { "greedy" }

    /// Creates the solver.
    public init() {}

    /// One layer; status ``SolveStatus/feasible``, no bound.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) -> LayerOutcome {
        LayerOutcome(physicalToLogical: Self.solveLayer(loads: layer.aggregateLoad, topology: layer.topology))
    }

    /// O(L·(T·E + P·D)).
    public func estimatedWork(_ problem: Problem) -> Int {
        problem.layers * (problem.episodes * problem.experts + problem.topology.slotCount * problem.topology.devices)
    }

    /// One layer: allot replicas over all devices, then pack them.
    static func solveLayer(loads: ContiguousArray<Double>, topology: Topology) -> ContiguousArray<Int32> {
        let e = loads.count
        var counts = ContiguousArray<Int32>(repeating: 1, count: e)
        loads.withUnsafeBufferPointer { w in
            counts.withUnsafeMutableBufferPointer { c in
                ReplicaAllotment.minMax(loads: w, slots: topology.slotCount, cap: topology.devices, counts: c)
            }
        }
        let packer = LargestFirstPacking(devices: topology.devices, slotsPerDevice: topology.slotsPerDevice, experts: e)
        return loads.withUnsafeBufferPointer { w in
            counts.withUnsafeBufferPointer { c in packer.pack(loads: w, counts: c) }
        }
    }
}
