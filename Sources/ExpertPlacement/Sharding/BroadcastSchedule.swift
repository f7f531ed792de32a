/// When each shared layer's broadcast runs, and whether it hides behind compute, in the steady
/// state of back-to-back forward passes and in a cold pass that starts with nothing prefetched.
///
/// **Model.** Every layer takes `τ` seconds of compute. The broadcast of a layer occupies the
/// fabric for `β = B / BW` seconds (`BW`: the bandwidth one broadcast of `B` bytes achieves, as
/// nccl-tests' `broadcast_perf` reports it) and its last byte arrives `α` seconds later (latency,
/// default 0): issued at `x`, it leaves the fabric free at `x + β` and is complete at `x + α + β`.
/// Broadcasts are serialized: every one delivers `B` bytes into every other rank, so two at once
/// share each rank's receive bandwidth and finish no earlier than one after the other. With
/// prefetch depth `k ≥ 1`, layer `i`'s broadcast may start once layer `i − k` has begun computing
/// (for `i < k`, layer `N − k + i` of the previous pass) and the fabric is free; layer `i`
/// computes once layer `i − 1` is done and its broadcast is complete. One device owns every layer
/// and broadcasts nothing.
///
/// **Steady state.** Every forward pass then takes `N·π` with the per-layer period
/// `π = max(τ, β, (α + β)/k)`: compute (`τ`), the fabric's throughput (`β`: no depth helps when
/// one broadcast takes longer than one layer) and latency (`k` broadcasts in flight cover
/// `k` periods) each bound it, and the uniform schedule `s_i = i·π` meets all three. A broadcast
/// is *hidden* when it is complete by the time the previous layer's compute ends, which holds for
/// every layer exactly when `β ≤ τ` and `α + β ≤ k·τ`; the smallest hiding depth is
/// `⌈(α + β)/τ⌉`. The exposed stall is `π − τ` per layer. Times are seconds from the start of
/// layer 0's compute; a broadcast issued during the previous pass has a negative start.
/// - Not bandwidth-bound (`π > β`): layer `i`'s broadcast starts as soon as it may, at `(i − k)·π`.
/// - Bandwidth-bound (`π = β`): the fabric never idles; broadcast `i` runs from `i·β − α − β` and
///   completes as layer `i` starts.
///
/// **Cold pass.** After an idle period nothing is prefetched: the broadcasts of layers `0..<k` may
/// start at time 0, the others as above, each as early as the rules allow. ``coldPassSeconds``
/// is that pass's length, at least `N·τ + α + β`.
///
/// The earliest-start schedule settles into the same rate: its passes take `N·π` (when latency
/// binds, on average over a cycle of `k / gcd(N, k)` passes, in which some layers wait more than
/// `π − τ` and others not at all); the tests hold the closed form to a pass-by-pass event
/// simulation. An engine that issues broadcast `i` at the reported start gets the uniform
/// schedule. Complexity: O(1) per layer, O(N) for the cold pass.
public struct BroadcastSchedule: Sendable, Equatable {
    /// What limits the steady-state period.
    public enum Bound: String, Sendable, Equatable, CaseIterable {
        /// Every broadcast hides: `π = τ`.
        case compute
        /// One broadcast takes longer than one layer (`β > τ`): `π = β`, whatever the depth.
        case bandwidth
        /// `k` broadcasts in flight do not cover the latency (`α + β > k·max(τ, β)`): `π = (α + β)/k`.
        case latency
    }

    /// The fabric and compute parameters.
    public var timing: BroadcastTiming
    /// `N`, the shared layers per forward pass.
    public var layers: Int
    /// `k`, the prefetch depth.
    public var prefetch: Int
    /// `β`: seconds the fabric is busy per broadcast (`B / BW`; 0 on one device).
    public var transferSeconds: Double
    /// `α + β`: seconds from a broadcast's start to its completion (0 on one device).
    public var broadcastSeconds: Double
    /// `π`: the steady-state seconds per layer.
    public var periodSeconds: Double
    /// What sets ``periodSeconds``.
    public var bound: Bound
    /// The length of a forward pass that starts with nothing prefetched.
    public var coldPassSeconds: Double

    /// Computes the schedule.
    ///
    /// - Parameters:
    ///   - layers: `N ≥ 1`.
    ///   - devices: `D ≥ 1`; with one device nothing is broadcast.
    ///   - layerBytes: `B ≥ 1`.
    ///   - prefetch: `k ≥ 1`.
    ///   - timing: ``BroadcastTiming`` (already validated).
    /// - Complexity: O(N) (the cold pass).
    public init(layers: Int, devices: Int, layerBytes: Int, prefetch: Int, timing: BroadcastTiming) {
        precondition(layers >= 1 && devices >= 1 && layerBytes >= 1 && prefetch >= 1, "BroadcastSchedule: bad sizes")
        self.timing = timing
        self.layers = layers
        self.prefetch = prefetch
        let beta = devices > 1 ? Double(layerBytes) / timing.bandwidth : 0
        let total = devices > 1 ? timing.latencySeconds + beta : 0
        transferSeconds = beta
        broadcastSeconds = total
        let tau = timing.layerSeconds
        if Self.hides(transfer: beta, broadcast: total, layerSeconds: tau, prefetch: prefetch) {
            periodSeconds = tau
            bound = .compute
        } else if total <= Double(prefetch) * beta && beta > tau {
            periodSeconds = beta
            bound = .bandwidth
        } else {
            periodSeconds = Swift.max(tau, total / Double(prefetch))
            bound = .latency
        }
        coldPassSeconds = Self.coldPass(layers: layers, prefetch: prefetch, transfer: beta, broadcast: total,
                                        layerSeconds: tau)
    }

    /// Whether every broadcast hides in the steady state: `β ≤ τ` and `α + β ≤ k·τ`.
    static func hides(transfer: Double, broadcast: Double, layerSeconds: Double, prefetch: Int) -> Bool {
        transfer <= layerSeconds && broadcast <= Double(prefetch) * layerSeconds
    }

    /// Whether every broadcast hides (``bound`` is ``BroadcastSchedule/Bound/compute``).
    public var allHidden: Bool { bound == .compute }

    /// `N·τ`: the compute of one forward pass.
    public var computeSeconds: Double { Double(layers) * timing.layerSeconds }

    /// `N·π`: one forward pass in the steady state.
    public var passSeconds: Double { Double(layers) * periodSeconds }

    /// `N·(π − τ)`: the exposed stall of one steady-state forward pass.
    public var stallSeconds: Double { allHidden ? 0 : passSeconds - computeSeconds }

    /// Seconds from a layer's broadcast completing to the end of the previous layer's compute
    /// (the same for every layer in the steady state); negative when the layer waits.
    public var slackSeconds: Double {
        switch bound {
        case .compute: Double(prefetch) * timing.layerSeconds - broadcastSeconds
        case .bandwidth, .latency: timing.layerSeconds - periodSeconds
        }
    }

    /// When layer `i`'s broadcast starts (negative: during the previous pass).
    public func start(of layer: Int) -> Double {
        if bound == .bandwidth { return Double(layer) * periodSeconds - broadcastSeconds }
        return Double(layer - prefetch) * periodSeconds
    }

    /// When layer `i`'s broadcast is complete.
    public func finish(of layer: Int) -> Double { start(of: layer) + broadcastSeconds }

    /// When layer `i` could start computing: the end of layer `i − 1`'s compute.
    public func neededAt(_ layer: Int) -> Double { Double(layer - 1) * periodSeconds + timing.layerSeconds }

    /// When layer `i` starts computing, `i·π`.
    public func computeStart(of layer: Int) -> Double { Double(layer) * periodSeconds }

    /// The cold pass by the earliest-start rules: O(N).
    static func coldPass(layers: Int, prefetch: Int, transfer: Double, broadcast: Double,
                         layerSeconds: Double) -> Double {
        var starts = [Double](repeating: 0, count: layers)
        var fabricFree = 0.0, previousEnd = 0.0
        for i in 0..<layers {
            let release = i < prefetch ? 0 : starts[i - prefetch]
            let issue = Swift.max(release, fabricFree)
            fabricFree = issue + transfer
            starts[i] = Swift.max(previousEnd, issue + broadcast)
            previousEnd = starts[i] + layerSeconds
        }
        return previousEnd
    }

    /// The smallest prefetch depth in `1...limit` that hides every broadcast, or, when none
    /// does, the smallest depth in that range with the least steady-state stall.
    ///
    /// - Returns: the depth and whether it hides every broadcast.
    /// - Complexity: O(1) (the closed form `⌈(α + β)/max(τ, β)⌉`, checked against the hiding condition).
    public static func smallestDepth(layers: Int, devices: Int, layerBytes: Int, timing: BroadcastTiming,
                                     limit: Int) -> (prefetch: Int, hidden: Bool) {
        precondition(limit >= 1, "BroadcastSchedule.smallestDepth: limit below 1")
        guard devices > 1 else { return (1, true) }
        let beta = Double(layerBytes) / timing.bandwidth
        let total = timing.latencySeconds + beta
        let unit = Swift.max(timing.layerSeconds, beta)
        let guess = (total / unit).rounded(.up)
        var k = guess >= Double(limit) ? limit : Swift.max(1, Int(guess))
        func good(_ k: Int) -> Bool {
            // The period is at its least, max(τ, β), when (α + β)/k does not exceed it.
            total <= Double(k) * unit
        }
        while k > 1 && good(k - 1) { k -= 1 }  // rounding of the guess, either way
        while k < limit && !good(k) { k += 1 }
        return (k, hides(transfer: beta, broadcast: total, layerSeconds: timing.layerSeconds, prefetch: k))
    }
}

/// The fabric and compute parameters of a ``BroadcastSchedule``.
public struct BroadcastTiming: Sendable, Equatable {
    /// `BW`: bytes per second one broadcast of a layer achieves (> 0).
    public var bandwidth: Double
    /// `τ`: seconds of compute per layer (> 0).
    public var layerSeconds: Double
    /// `α`: seconds added to every broadcast's completion (≥ 0).
    public var latencySeconds: Double

    /// Creates the parameters.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `bandwidth`,
    ///   `layerSeconds` or `latencySeconds` when one is not a positive (latency: non-negative)
    ///   finite number, or is above 1e100.
    public init(bandwidth: Double, layerSeconds: Double, latencySeconds: Double = 0) throws(ExpertPlacementError) {
        for (field, value, zeroAllowed) in [("bandwidth", bandwidth, false), ("layerSeconds", layerSeconds, false),
                                            ("latencySeconds", latencySeconds, true)] {
            let ok = value.isFinite && (zeroAllowed ? value >= 0 : value > 0)
                && (value == 0 || (value >= Limits.smallestMagnitude && value <= Limits.largestMagnitude))
            guard ok else {
                let domain = zeroAllowed ? "0 or a finite number in [1e-100, 1e100]" : "a positive number in [1e-100, 1e100]"
                throw .invalidValue(field: field, reason: "must be \(domain), got \(value)")
            }
        }
        self.bandwidth = bandwidth
        self.layerSeconds = layerSeconds
        self.latencySeconds = latencySeconds
    }
}
