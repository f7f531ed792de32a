/// DeepSeek EPLB's hierarchical policy, the default of vLLM and SGLang on multi-node DeepSeek-V3.
///
/// For each layer, on the episode-weighted aggregate load, with `N` nodes and `G` expert groups
/// from the topology:
/// 1. **Groups → nodes.** Group loads are packed onto nodes, `G/N` groups per node, largest group
///    first onto the lightest node with room. When `G/N = 1` the reference does no balancing at
///    all: group `g` goes to node `g`. Experts are relabelled node-major.
/// 2. **Replicas within each node.** Each node gets exactly `P/N` slots, i.e. `(P−E)/N` redundant
///    ones whatever its load, allotted by min-max per-replica load among its `E/N` experts.
/// 3. **Replicas → devices within each node.** Largest-first packing onto the node's `D/N`
///    devices, `S` replicas each.
///
/// Differences from the reference (documented, for validity): at most one replica of an expert
/// per device — replica counts are capped at `D/N` and packing never doubles an expert on a
/// device (the reference can). When `G` is not divisible by `N` the reference falls back to its
/// global policy (`G = N = 1`); so does this solver, and says so in the report's notes.
///
/// Known weakness: a node's redundancy does not follow its load, and with one group per node
/// (`G = N`, e.g. DeepSeek-V3's 8 groups on 8 nodes) groups are pinned to nodes, so the node
/// imbalance is the group imbalance: ≈1.39 peak/avg at 64 GPUs on lognormal loads against ≈1.02
/// for the global policy (../shared/notes/peer-algorithms.md §6).
///
/// Complexity: O(L·(T·E + G log G + P log E + P·D/N)).
public struct HierarchicalSolver: LayerSolver {
    /// `"hierarchical"`.
    public var method: String { "hierarchical" }

    /// Creates the solver.
    public init() {}

    /// Checks that every node's experts can fill its devices; notes the global fallback.
    ///
    /// - Throws: ``ExpertPlacementError/infeasible(reason:)`` when a node's experts cannot fill
    ///   its devices without doubling an expert on a device (`E/N < S`).
    public func prepare(_ problem: Problem, options: SolveOptions) throws(ExpertPlacementError) -> [String] {
        let original = problem.topology
        let used = Self.effectiveTopology(original)
        guard problem.experts / used.nodes >= used.slotsPerDevice else {
            throw .infeasible(reason: "hierarchical placement gives each of the \(used.nodes) nodes \(problem.experts / used.nodes) experts, fewer than the \(used.slotsPerDevice) slots per device: a device would hold an expert twice (use the greedy method instead)")
        }
        // Trading moves (MigrationSearch) would move replicas between nodes and spread groups.
        if options.moves.isActive && used.nodes > 1 {
            throw .invalidValue(field: "moves", reason: "the hierarchical method keeps each expert group on one node, and trading moves (a move cost or cap) would spread groups across nodes: leave them out (the plan is still relabelled onto the deployed one within nodes, so that experts staying on a device keep their slot) or use another method")
        }
        guard used != original else { return [] }
        return ["expertGroups (\(original.expertGroups)) is not divisible by nodes (\(original.nodes)): used the global policy (1 group, 1 node), as DeepSeek EPLB does"]
    }

    /// One layer of the three-step policy; status ``SolveStatus/feasible``, no bound.
    public func solveLayer(_ layer: ProblemLayer, context: LayerContext) -> LayerOutcome {
        LayerOutcome(physicalToLogical: Self.solveLayer(loads: layer.aggregateLoad, topology: Self.effectiveTopology(layer.topology)))
    }

    /// The nodes of the policy's topology: each group's replicas stay on one node, so a plan is
    /// relabelled onto a deployed one within matched nodes.
    public func nodesKept(on topology: Topology) -> Int { Self.effectiveTopology(topology).nodes }

    /// O(L·(T·E + P·D/N)).
    public func estimatedWork(_ problem: Problem) -> Int {
        let used = Self.effectiveTopology(problem.topology)
        return problem.layers * (problem.episodes * problem.experts + used.slotCount * used.devicesPerNode)
    }

    /// The topology the policy runs on: the global policy (1 group, 1 node) when the groups do
    /// not divide evenly over the nodes, as in the reference.
    static func effectiveTopology(_ topology: Topology) -> Topology {
        var used = topology
        if used.expertGroups % used.nodes != 0 {
            used.expertGroups = 1
            used.nodes = 1
        }
        return used
    }

    /// Cardinality-constrained LPT as in the reference's `balanced_packing`: items by weight,
    /// largest first (lower index on ties), each to the lightest pack with fewer than `perPack`
    /// items (lower index on ties). Returns (pack, rank in pack) per item. With `perPack == 1`
    /// the reference returns the identity (item i → pack i) without balancing, and so does this.
    static func balancedPacking(_ weights: [Double], packs: Int) -> (pack: [Int], rank: [Int]) {
        let n = weights.count, perPack = n / packs
        if perPack == 1 { return (Array(0..<n), [Int](repeating: 0, count: n)) }
        let order = (0..<n).sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
        var packLoad = [Double](repeating: 0, count: packs), packItems = [Int](repeating: 0, count: packs)
        var pack = [Int](repeating: 0, count: n), rank = [Int](repeating: 0, count: n)
        for item in order {
            var best = -1
            for q in 0..<packs where packItems[q] < perPack && (best < 0 || packLoad[q] < packLoad[best]) { best = q }
            pack[item] = best
            rank[item] = packItems[best]
            packLoad[best] += weights[item]
            packItems[best] += 1
        }
        return (pack, rank)
    }

    /// One layer of the three-step policy.
    static func solveLayer(loads: ContiguousArray<Double>, topology: Topology) -> ContiguousArray<Int32> {
        let e = loads.count, g = topology.expertGroups, n = topology.nodes
        let groupSize = e / g, groupsPerNode = g / n, expertsPerNode = e / n
        let devicesPerNode = topology.devicesPerNode, slotsPerNode = topology.slotCount / n

        // Step 1: groups → nodes; node-major relabelling mlog → log.
        var groupLoad = [Double](repeating: 0, count: g)
        for x in 0..<e { groupLoad[x / groupSize] += loads[x] }
        let (groupNode, groupRank) = balancedPacking(groupLoad, packs: n)
        var mlogToLog = [Int](repeating: 0, count: e)
        for group in 0..<g {
            let firstMlog = (groupNode[group] * groupsPerNode + groupRank[group]) * groupSize
            for offset in 0..<groupSize { mlogToLog[firstMlog + offset] = group * groupSize + offset }
        }

        var out = ContiguousArray<Int32>(repeating: 0, count: topology.slotCount)
        var nodeLoads = ContiguousArray<Double>(repeating: 0, count: expertsPerNode)
        var counts = ContiguousArray<Int32>(repeating: 1, count: expertsPerNode)
        let packer = LargestFirstPacking(devices: devicesPerNode, slotsPerDevice: topology.slotsPerDevice,
                                         experts: expertsPerNode)
        for node in 0..<n {
            for i in 0..<expertsPerNode { nodeLoads[i] = loads[mlogToLog[node * expertsPerNode + i]] }
            // Step 2: replicas within the node.
            nodeLoads.withUnsafeBufferPointer { w in
                counts.withUnsafeMutableBufferPointer { c in
                    ReplicaAllotment.minMax(loads: w, slots: slotsPerNode, cap: devicesPerNode, counts: c)
                }
            }
            // Step 3: replicas → the node's devices.
            let local = nodeLoads.withUnsafeBufferPointer { w in
                counts.withUnsafeBufferPointer { c in packer.pack(loads: w, counts: c) }
            }
            for (i, m) in local.enumerated() {
                out[node * slotsPerNode + i] = Int32(mlogToLog[node * expertsPerNode + Int(m)])
            }
        }
        return out
    }
}
