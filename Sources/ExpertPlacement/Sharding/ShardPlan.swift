/// Shared-weight layer distribution: instead of every data-parallel rank holding all `N`
/// structurally identical layers (attention projections, say), each rank owns some of them and
/// broadcasts an owned layer's weights to the others just before it is needed, `k` layers ahead.
///
/// ``ShardPlanner`` takes the sizes (`N` layers of `B` bytes on `D` ranks), optional per-device
/// memory caps and optional ``BroadcastTiming``, and returns a ``ShardPlan``: the owner of every
/// layer (``OwnerAssignment``), the memory of every device against full replication, and the
/// broadcast schedule (``BroadcastSchedule``).
///
/// **Memory.** A device holds its `c_d` owned layers permanently. While layer `j` computes, it
/// also holds the borrowed (not owned) layers among `j` (in use) and `j + 1 … j + k` (in flight,
/// cyclically into the next pass): at most `k + 1` buffers of `B` bytes. Its buffer peak `p_d` is
/// `k + 1` minus the fewest owned layers any such window holds (found in O(c_d) per device:
/// the emptiest window starts right after an owned layer), so device `d` needs
/// `(c_d + p_d)·B` bytes against `N·B` with full replication.
///
/// **Caps.** A cap `M_d` allows `⌊M_d / B⌋` layers. A device that can hold all `N` may own any
/// number; any other needs room for `k + 1` buffers and may own `⌊M_d / B⌋ − (k + 1)` layers.
/// This never exceeds the cap whatever the order, and is conservative only for a device that
/// owns a layer in every window of `k + 1` (then `p_d ≤ k`): with few ranks and deep prefetch, a
/// cap may be refused that an exact count would admit by one or two layers. Counts are then as
/// balanced as the caps allow (``OwnerAssignment/balancedCounts(layers:capacities:)``).
public struct ShardPlanner: Sendable, Equatable {
    /// `N ≥ 2`: shared layers per forward pass.
    public var layers: Int
    /// `D ≥ 1`: data-parallel ranks.
    public var devices: Int
    /// `B ≥ 1`: bytes of one layer's weights.
    public var layerBytes: Int
    /// `M_d ≥ 0`: bytes each device can give to these layers (owned copies plus buffers), `[D]`,
    /// or `nil` for no cap.
    public var memoryCaps: [Int]?
    /// The fabric and compute parameters, or `nil` to plan without timing.
    public var timing: BroadcastTiming?

    /// The most layers or devices accepted, ``Limits/maximumCells``.
    public static let maximumCount = Limits.maximumCells

    /// The most bytes of all layers together, `N·B ≤ 2^53` (exact in a JSON number).
    public static let maximumTotalBytes = 1 << 53

    /// Checks the sizes and creates a planner.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `layers`, `devices`,
    ///   `layerBytes` or `memoryCaps` (`memoryCaps[d]` for one entry) when a value is out of range,
    ///   or ``ExpertPlacementError/shapeMismatch(field:reason:)`` when `memoryCaps` does not have
    ///   `D` entries.
    public init(layers: Int, devices: Int, layerBytes: Int, memoryCaps: [Int]? = nil,
                timing: BroadcastTiming? = nil) throws(ExpertPlacementError) {
        guard layers >= 2 else {
            throw .invalidValue(field: "layers", reason: "must be at least 2 (a layer cannot be prefetched ahead of itself), got \(layers)")
        }
        guard devices >= 1 else { throw .invalidValue(field: "devices", reason: "must be at least 1, got \(devices)") }
        for (field, value) in [("layers", layers), ("devices", devices)] where value > Self.maximumCount {
            throw .invalidValue(field: field, reason: "must be at most \(Self.maximumCount), got \(value)")
        }
        guard layerBytes >= 1 else { throw .invalidValue(field: "layerBytes", reason: "must be at least 1, got \(layerBytes)") }
        guard let total = Limits.product(layers, layerBytes), total <= Self.maximumTotalBytes else {
            throw .invalidValue(field: "layerBytes",
                                reason: "layers × layerBytes (\(layers) × \(layerBytes)) is above the limit of 2^53 bytes")
        }
        if let memoryCaps {
            guard memoryCaps.count == devices else {
                throw .shapeMismatch(field: "memoryCaps", reason: "has \(memoryCaps.count) entries for \(devices) devices")
            }
            if let d = memoryCaps.firstIndex(where: { $0 < 0 }) {
                throw .invalidValue(field: "memoryCaps[\(d)]", reason: "must be 0 or more bytes, got \(memoryCaps[d])")
            }
        }
        self.layers = layers
        self.devices = devices
        self.layerBytes = layerBytes
        self.memoryCaps = memoryCaps
        self.timing = timing
    }

    /// The largest valid prefetch depth, `N − 1` (deeper would prefetch a layer's next-pass copy
    /// while its current one is in use).
    public var maximumPrefetch: Int { layers - 1 }

    /// How many layers each device may own at prefetch depth `k` (see the type's discussion),
    /// or the error naming the first device whose cap cannot hold its buffers.
    func capacities(prefetch k: Int) -> Result<[Int], ExpertPlacementError> {
        guard let memoryCaps else { return .success(Array(repeating: layers, count: devices)) }
        var result: [Int] = []
        result.reserveCapacity(devices)
        for (d, cap) in memoryCaps.enumerated() {
            let fits = cap / layerBytes
            if fits >= layers || devices == 1 {
                result.append(fits >= layers ? layers : 0)
            } else if fits >= k + 1 {
                result.append(fits - (k + 1))
            } else {
                return .failure(.invalidValue(
                    field: "memoryCaps[\(d)]",
                    reason: "\(cap) bytes hold \(fits) layer(s) of \(layerBytes) bytes, fewer than the \(k + 1) buffers prefetch depth \(k) needs (the layer in use and \(k) in flight)"))
            }
        }
        let total = result.reduce(0) { Swift.min($0 + $1, layers) }
        guard total >= layers else {
            return .failure(.invalidValue(
                field: "memoryCaps",
                reason: "the caps let the devices own \(total) of the \(layers) layers at prefetch depth \(k) (each device not holding all layers keeps \(k + 1) buffers of \(layerBytes) bytes); raise the caps, lower the prefetch depth or add devices"))
        }
        return .success(result)
    }

    /// The plan at prefetch depth `k`.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `prefetch` when `k` is
    ///   outside `1...N − 1`, or `memoryCaps` (`memoryCaps[d]`) when the caps cannot hold the layers
    ///   and buffers.
    /// - Complexity: O(N + D log D).
    public func plan(prefetch k: Int) throws(ExpertPlacementError) -> ShardPlan {
        guard k >= 1 && k <= maximumPrefetch else {
            throw .invalidValue(field: "prefetch", reason: "must be in 1...\(maximumPrefetch) (layers − 1), got \(k)")
        }
        let capacities = try capacities(prefetch: k).get()
        // `capacities` checked that they hold N layers.
        let counts = OwnerAssignment.balancedCounts(layers: layers, capacities: capacities)!
        let owners = OwnerAssignment.interleave(counts: counts)
        let buffers = Self.bufferPeaks(owners: owners, counts: counts, prefetch: k)
        let schedule = timing.map {
            BroadcastSchedule(layers: layers, devices: devices, layerBytes: layerBytes, prefetch: k, timing: $0)
        }
        return ShardPlan(layerBytes: layerBytes, prefetch: k, owners: owners, ownedCounts: counts, bufferLayers: buffers,
                         leastMaximumOwned: OwnerAssignment.leastMaximum(layers: layers, capacities: capacities)!,
                         memoryCaps: memoryCaps, schedule: schedule, notes: [])
    }

    /// The plan at the smallest prefetch depth that hides every broadcast within the memory caps,
    /// or, when none does, at the smallest depth with the least stall that fits the caps; the
    /// plan's ``ShardPlan/notes`` say which and why.
    ///
    /// - Throws: ``ExpertPlacementError/unsupported(reason:)`` without ``timing``, and the errors
    ///   of ``plan(prefetch:)`` when the caps do not fit even at depth 1.
    /// - Complexity: O(D log N) for the deepest depth the caps allow, then ``plan(prefetch:)``.
    public func planAutomaticPrefetch() throws(ExpertPlacementError) -> ShardPlan {
        guard let timing else {
            throw .unsupported(reason: "choosing the prefetch depth needs the broadcast timing (bandwidth and layer time)")
        }
        // Deeper prefetch keeps more buffers, so the caps admit every depth up to some limit.
        _ = try capacities(prefetch: 1).get()
        var fitting = 1, tooDeep = maximumPrefetch + 1
        while tooDeep - fitting > 1 {
            let mid = fitting + (tooDeep - fitting) / 2
            if case .success = capacities(prefetch: mid) { fitting = mid } else { tooDeep = mid }
        }
        let (k, hidden) = BroadcastSchedule.smallestDepth(layers: layers, devices: devices, layerBytes: layerBytes,
                                                          timing: timing, limit: fitting)
        var plan = try plan(prefetch: k)
        let schedule = plan.schedule!
        if hidden {
            plan.notes.append("prefetch depth \(k) is the smallest that hides every broadcast")
        } else if schedule.bound == .bandwidth {
            let needed = Int((Double(layerBytes) / timing.layerSeconds).rounded(.up))
            plan.notes.append("no prefetch depth hides the broadcasts: one occupies the fabric longer than a layer computes (B/BW > τ), and depth only covers latency; hiding needs at least B/τ = \(needed) bytes/s; depth \(k) is the smallest with the least stall")
        } else {
            let why = fitting < maximumPrefetch ? "the memory caps allow at most depth \(fitting)" : "the deepest prefetch is layers − 1 = \(fitting)"
            plan.notes.append("no allowed prefetch depth hides the broadcasts: \(why), and \(k) layers of compute are shorter than one broadcast's latency plus transfer (α + B/BW > k·τ); depth \(k) has the least stall")
        }
        return plan
    }

    /// The peak number of borrowed layers each device holds at once: `k + 1` minus the fewest
    /// owned layers in any cyclic window of `k + 1` consecutive layers.
    ///
    /// - Complexity: O(N + D): positions grouped by owner, then two pointers per device.
    static func bufferPeaks(owners: [Int], counts: [Int], prefetch k: Int) -> [Int] {
        let n = owners.count, window = k + 1
        var offsets = [Int](repeating: 0, count: counts.count + 1)
        for d in counts.indices { offsets[d + 1] = offsets[d] + counts[d] }
        var next = offsets
        var positions = [Int](repeating: 0, count: n)
        for (i, d) in owners.enumerated() {
            positions[next[d]] = i
            next[d] += 1
        }
        var peaks = [Int](repeating: window, count: counts.count)
        for d in counts.indices where counts[d] > 0 {
            let first = offsets[d], c = counts[d]
            // Unwrapped position of the d's t-th owned layer, t ≥ 0 (cyclically continued).
            func at(_ t: Int) -> Int { positions[first + t % c] + (t / c) * n }
            var fewest = window, j = 1
            for t in 0..<c {
                // The window right after owned layer t: (p, p + window].
                let end = at(t) + window
                if j <= t { j = t + 1 }
                while at(j) <= end { j += 1 }
                fewest = Swift.min(fewest, j - t - 1)
            }
            peaks[d] = window - fewest
        }
        return peaks
    }
}

/// Who owns which shared layer, what each device holds, and (with timing) when the broadcasts run.
///
/// Arrays are indexed by layer (`[N]`) or by device (`[D]`); byte counts are exact integers.
public struct ShardPlan: Sendable, Equatable {
    /// `B`: bytes of one layer.
    public var layerBytes: Int
    /// `k`: layers prefetched ahead.
    public var prefetch: Int
    /// The device that owns and broadcasts each layer, `[N]`.
    public var owners: [Int]
    /// `c_d`: layers each device owns, `[D]`.
    public var ownedCounts: [Int]
    /// `p_d`: the most borrowed layers each device holds at once (in use plus in flight), `[D]`.
    public var bufferLayers: [Int]
    /// `m*`: the least largest count any assignment within the caps can have (`⌈N/D⌉` without
    /// caps); ``maximumOwned`` equals it.
    public var leastMaximumOwned: Int
    /// The caps the plan was made under, `[D]` bytes, if any.
    public var memoryCaps: [Int]?
    /// The broadcast schedule, when the planner had timing.
    public var schedule: BroadcastSchedule?
    /// What the planner chose and why (``ShardPlanner/planAutomaticPrefetch()``).
    public var notes: [String]

    /// `N`.
    public var layers: Int { owners.count }
    /// `D`.
    public var devices: Int { ownedCounts.count }
    /// `N·B`: what each device holds with full replication.
    public var replicatedBytes: Int { layers * layerBytes }
    /// The largest owned-layer count.
    public var maximumOwned: Int { ownedCounts.max() ?? 0 }
    /// The smallest owned-layer count.
    public var minimumOwned: Int { ownedCounts.min() ?? 0 }
    /// `(c_d + p_d)·B` per device, `[D]`.
    public var deviceBytes: [Int] { ownedCounts.indices.map { (ownedCounts[$0] + bufferLayers[$0]) * layerBytes } }
    /// The most bytes any device holds: what each rank must reserve.
    public var maximumDeviceBytes: Int { zip(ownedCounts, bufferLayers).map { ($0 + $1) * layerBytes }.max() ?? 0 }
    /// The peak in-flight buffer bytes of the busiest device, `max_d p_d·B`.
    public var maximumBufferBytes: Int { (bufferLayers.max() ?? 0) * layerBytes }
    /// Layers whose owner also owns the next (cyclically, into the next pass).
    public var repeatedOwners: Int { OwnerAssignment.repeats(owners, cyclic: true) }
    /// The least ``repeatedOwners`` any order of these counts can have.
    public var leastRepeatedOwners: Int { OwnerAssignment.leastRepeats(counts: ownedCounts, cyclic: true) }
    /// The layer whose compute start releases layer `i`'s broadcast, `(i − k) mod N`.
    public func issueLayer(of layer: Int) -> Int { (layer - prefetch + layers) % layers }
}
