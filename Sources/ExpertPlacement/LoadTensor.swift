/// Expert loads of a model: `w[l][t][e]`, tokens routed to logical expert `e` of MoE layer `l`
/// during episode `t`.
///
/// Stored flat and row-major (`values[(l·T + t)·E + e]`) in one `ContiguousArray`. An episode is
/// whatever time unit the loads were counted over: a forward step, a window of steps, a task.
///
/// Invariants (checked by the throwing initialiser): `layers`, `episodes`, `experts` ≥ 1,
/// `values.count == layers·episodes·experts` within ``Limits/maximumCells``, every value 0 or in
/// ``Limits``' range [1e-100, 1e100].
public struct LoadTensor: Sendable, Equatable {
    /// Number of MoE layers, `L`.
    public let layers: Int
    /// Number of episodes, `T`.
    public let episodes: Int
    /// Number of logical experts, `E`.
    public let experts: Int
    /// The loads, row-major `[L][T][E]`, in tokens (any non-negative unit works).
    public let values: ContiguousArray<Double>

    /// Creates a load tensor from flat row-major values.
    ///
    /// - Throws: ``ExpertPlacementError`` naming the first bad value as `load[l][t][e]`, or a
    ///   shape mismatch when the count is not `layers·episodes·experts`.
    /// - Complexity: O(L·T·E).
    public init(layers: Int, episodes: Int, experts: Int,
                values: ContiguousArray<Double>) throws(ExpertPlacementError) {
        guard layers >= 1 else { throw .invalidValue(field: "load", reason: "holds no layers") }
        guard episodes >= 1 else { throw .invalidValue(field: "load", reason: "holds no episodes") }
        guard experts >= 1 else { throw .invalidValue(field: "load", reason: "holds no experts") }
        try Limits.checkCells([layers, episodes, experts], what: "layers × episodes × experts", field: "load")
        guard values.count == layers * episodes * experts else {
            throw .shapeMismatch(field: "load",
                                 reason: "\(values.count) values for shape [\(layers)][\(episodes)][\(experts)]")
        }
        if !values.withUnsafeBufferPointer(Limits.allInRange),
           let bad = values.firstIndex(where: { Limits.magnitudeProblem($0, what: "load") != nil }) {
            let e = bad % experts, t = (bad / experts) % episodes, l = bad / (experts * episodes)
            throw .invalidValue(field: "load[\(l)][\(t)][\(e)]", reason: Limits.magnitudeProblem(values[bad], what: "load")!)
        }
        self.layers = layers
        self.episodes = episodes
        self.experts = experts
        self.values = values
    }

    /// Creates a load tensor from values the caller has already checked (finite, ≥ 0, the right
    /// count): a reader that validated while decoding does not pay a second pass.
    package init(layers: Int, episodes: Int, experts: Int, checkedValues values: ContiguousArray<Double>) {
        precondition(layers >= 1 && episodes >= 1 && experts >= 1 && values.count == layers * episodes * experts,
                     "LoadTensor: unchecked shape")
        self.layers = layers
        self.episodes = episodes
        self.experts = experts
        self.values = values
    }

    /// The load of expert `expert` in `layer` during `episode`.
    @inlinable public subscript(layer: Int, episode: Int, expert: Int) -> Double {
        values[(layer &* episodes &+ episode) &* experts &+ expert]
    }

    /// Offset of `layer`'s first value in ``values``; the layer occupies `episodes·experts` values.
    @inlinable public func layerOffset(_ layer: Int) -> Int { layer * episodes * experts }
}
