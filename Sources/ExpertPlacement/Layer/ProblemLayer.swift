/// One layer of a ``Problem``: what every per-layer solver, bound and rebalancing step reads.
///
/// A view, not a copy: it holds the problem (copy-on-write storage) and a layer index, and hands
/// out that layer's loads, its episode weights, the topology and the deployed row, if any.
/// Layers are independent sub-problems (INTERFACE.md §1), so a method that sees one
/// `ProblemLayer` has everything it needs.
public struct ProblemLayer: Sendable {
    /// The whole problem.
    public let problem: Problem
    /// The layer's index in `problem`, `0..<L`.
    public let index: Int

    /// The view of `layer`. Traps when `layer` is outside `0..<problem.layers` (a programmer error).
    public init(_ problem: Problem, layer: Int) {
        precondition(layer >= 0 && layer < problem.layers, "layer \(layer) is outside 0..<\(problem.layers)")
        self.problem = problem
        self.index = layer
    }

    /// Devices, slots, nodes and groups.
    @inlinable public var topology: Topology { problem.topology }
    /// Number of logical experts, `E`.
    @inlinable public var experts: Int { problem.experts }
    /// Number of episodes, `T`.
    @inlinable public var episodes: Int { problem.episodes }
    /// Episode weights `ω[t]`.
    @inlinable public var episodeWeights: ContiguousArray<Double> { problem.episodeWeights }
    /// Offset of this layer's first load in `problem.loads.values` (`T·E` values follow, episode-major).
    @inlinable public var loadOffset: Int { problem.loads.layerOffset(index) }

    /// The load of `expert` in `episode`.
    @inlinable public func load(episode: Int, expert: Int) -> Double { problem.loads[index, episode, expert] }

    /// The episode-weighted aggregate load `Σ_t ω_t w[t][e]`, as `E` values.
    public var aggregateLoad: ContiguousArray<Double> { problem.aggregateLoad(layer: index) }

    /// The deployed `phy2log` row of this layer (`P` expert ids, device-major), when the problem
    /// has a `current` placement.
    public var deployed: ContiguousArray<Int32>? {
        guard let current = problem.current else { return nil }
        let p = topology.slotCount
        return ContiguousArray(current.physicalToLogical[index * p ..< (index + 1) * p])
    }
}
