/// Simulated annealing on swaps, for layers with several episodes: an optional, budgeted phase
/// after the iterated local search (``SearchSolver/Configuration/annealingMoves``).
///
/// ## Why
/// One plan must serve every episode, and each episode's peak is a max over devices: the local
/// search's moves are judged on that exact objective, which is flat (only a move on a critical
/// device changes it) and rugged, so the descent stops at plans far above what exists. On the
/// bundled `deepseek-v3` example (8 noisy episodes, 256 experts on 32 × 9) the local search ends
/// at a mean imbalance of 1.045 on layer 0 and at 1.043 with 100× its budget, while annealing from
/// its plan with the replica counts kept reaches 1.034 after 5·10⁵ swaps and 1.024 after 5·10⁶.
///
/// ## What it does
/// The counts stay as the search left them; the plan changes by swaps of two replicas of
/// different experts between two devices (neither holding the other's expert), drawn uniformly.
/// A swap is judged on a smooth stand-in for the objective, the log-sum-exp of the device loads
/// per episode (each episode `t` normalised by its average device load `a_t`):
///
///     g = Σ_t (a_t / β) · log Σ_d exp(β · ℓ_{t,d} / a_t)          (sum objectives)
///     g = (ā / β) · log Σ_{t,d} exp(β · ℓ_{t,d} / ā)               (`worst`, one peak)
///
/// which tends to the objective as `β` grows but, unlike it, sees every device near the peak.
/// A swap is taken when it lowers `g`, or with probability `exp(−Δg / τ)`, the temperature `τ`
/// falling linearly from ``startTemperature`` (relative to the mean `a_t`) to 0 over the budget.
/// The true objective is checked after accepted swaps whose proposal index is a multiple of 16,
/// and at the end; the best plan seen replaces the start only if it is better.
///
/// Cost: O(T) per proposal (one exponential per episode), O(D·T) per objective check and
/// every 1,024 proposals (the sums are recomputed to keep rounding from drifting).
/// With a proposal budget it is deterministic for a given seed (the layer's deadline, a safety
/// net, is checked every 4,096 proposals). With a time budget (``until``, as `--method auto` uses
/// it) the temperature falls with the time spent instead, and the result depends on the machine.
struct Annealing {
    /// Swap proposals (`Int.max` with a time budget).
    var moves: Int
    /// When set, the annealing ends at this instant and its temperature falls with the time spent.
    var until: ContinuousClock.Instant? = nil
    /// Start temperature, in units of the mean episode's average device load (calibrated on the
    /// `deepseek-v3` example: 0.001 and 0.003 give 1.027 and 1.024 after 5·10⁶ proposals).
    var startTemperature = 0.003
    /// Sharpness `β` of the log-sum-exp (in normalised units: a device 1 % above another weighs
    /// `e² ≈ 7.4` times as much).
    var sharpness = 200.0

    /// Anneals from `state` (a complete plan) and, when the best plan found is better than the
    /// start, leaves it in `state`. Returns whether it did. Risk mode is left alone.
    func run(state: SearchState, seed: UInt64, stop: LayerContext) -> Bool {
        let d = state.d, s = state.s, t = state.t, e = state.e
        guard moves > 0, state.mode != .risk, d >= 2, s >= 1, t >= 1 else { return false }
        let sumMode = state.mode == .sum
        let load = state.load, share = state.share, slots = state.slots, holds = state.holds

        // Normalisers: each episode's average device load (sum mode), or their mean (max mode).
        let norm = UnsafeMutableBufferPointer<Double>.allocate(capacity: t)
        defer { norm.deallocate() }
        var meanAverage = 0.0
        for i in 0..<t {
            var total = 0.0
            for dev in 0..<d { total += load[dev * t + i] }
            norm[i] = total / Double(d)
            meanAverage += norm[i]
        }
        meanAverage /= Double(t)
        guard meanAverage > 0 else { return false }
        for i in 0..<t { norm[i] = sumMode ? norm[i] : meanAverage }
        // Equal normalisers (every loaded episode, as `mean` makes them) need one logarithm per swap.
        var commonNorm = 0.0, equalNorms = true
        for i in 0..<t where norm[i] > 0 {
            if commonNorm == 0 { commonNorm = norm[i] } else if abs(norm[i] - commonNorm) > 1e-12 * commonNorm { equalNorms = false }
        }
        // An episode without load takes no part (its loads stay 0 under swaps).
        let beta = sharpness
        let groups = sumMode ? t : 1

        let weight = UnsafeMutableBufferPointer<Double>.allocate(capacity: d * t)  // exp terms
        let shift = UnsafeMutableBufferPointer<Double>.allocate(capacity: groups)
        let z = UnsafeMutableBufferPointer<Double>.allocate(capacity: groups)
        let next = UnsafeMutableBufferPointer<Double>.allocate(capacity: 4 * t)  // new loads, new terms
        let bestSlots = UnsafeMutableBufferPointer<Int32>.allocate(capacity: d * s)
        defer {
            weight.deallocate(); shift.deallocate(); z.deallocate(); next.deallocate(); bestSlots.deallocate()
        }
        _ = bestSlots.initialize(from: UnsafeBufferPointer(start: slots, count: d * s))

        func peakValue() -> Double {
            var f = 0.0
            for i in 0..<t {
                var m = 0.0
                for dev in 0..<d { m = Swift.max(m, load[dev * t + i]) }
                f = sumMode ? f + m : Swift.max(f, m)
            }
            return f
        }
        @inline(__always) func exponent(_ value: Double, _ i: Int) -> Double {
            norm[i] > 0 ? Swift.min(beta * value / norm[i] - shift[sumMode ? i : 0], 700) : -.infinity
        }
        // (Re)centres the exponents on the current peaks and recomputes every term and sum.
        func recentre() {
            for g in 0..<groups { shift[g] = -.infinity }
            for i in 0..<t where norm[i] > 0 {
                for dev in 0..<d {
                    let g = sumMode ? i : 0
                    shift[g] = Swift.max(shift[g], beta * load[dev * t + i] / norm[i])
                }
            }
            for g in 0..<groups where !shift[g].isFinite { shift[g] = 0 }
            for g in 0..<groups { z[g] = 0 }
            for dev in 0..<d {
                for i in 0..<t {
                    let w = MathShim.exp(exponent(load[dev * t + i], i))
                    weight[dev * t + i] = w
                    z[sumMode ? i : 0] += w
                }
            }
        }
        recentre()

        let startValue = peakValue()
        var bestValue = startValue
        let startTemperature = self.startTemperature * meanAverage
        var rng = SeededGenerator(seed: seed)
        let slotCount = UInt64(d * s)
        let clock = ContinuousClock(), began = clock.now
        let span = until.map { Swift.max($0 - began, .nanoseconds(1)) }
        var timeSpent = 0.0  // fraction of the time budget, refreshed every 1,024 proposals
        for proposal in 0..<moves {
            if proposal & 4095 == 0 && proposal > 0 && stop.shouldStop() { break }
            if proposal & 1023 == 1023 {
                recentre()
                if let span {
                    timeSpent = (clock.now - began) / span
                    if timeSpent >= 1 { break }
                }
            }
            let p1 = Int(rng.next() % slotCount), p2 = Int(rng.next() % slotCount)
            let a = p1 / s, b = p2 / s
            guard a != b else { continue }
            let xa = Int(slots[p1]), xb = Int(slots[p2])
            guard xa != xb, holds[a * e + xb] == 0, holds[b * e + xa] == 0 else { continue }
            // Δg of the swap, O(T): one exponential per episode (the terms of `a` and `b` scale by
            // e^{±βx/a_t}), and one logarithm in all when the normalisers are equal.
            var delta = 0.0
            var zMax = sumMode ? 0 : z[0]
            var product = 1.0, logSum = 0.0
            for i in 0..<t where norm[i] > 0 {
                let x = share[xb * t + i] - share[xa * t + i]
                let la = load[a * t + i] + x, lb = load[b * t + i] - x
                let factor = MathShim.exp(Swift.max(Swift.min(beta * x / norm[i], 700), -700))
                let wa = Swift.min(weight[a * t + i] * factor, 1e300), wb = weight[b * t + i] / factor
                next[4 * i] = la; next[4 * i + 1] = lb; next[4 * i + 2] = wa; next[4 * i + 3] = wb
                let change = wa + wb - weight[a * t + i] - weight[b * t + i]
                if sumMode {
                    let ratio = Swift.max((z[i] + change) / z[i], 1e-300)
                    if equalNorms {
                        product *= ratio
                        if product > 1e100 || product < 1e-100 { logSum += MathShim.log(product); product = 1 }
                    } else {
                        delta += norm[i] / beta * MathShim.log(ratio)
                    }
                } else {
                    zMax += change
                }
            }
            if sumMode && equalNorms { delta = commonNorm / beta * (logSum + MathShim.log(product)) }
            if !sumMode { delta = meanAverage / beta * MathShim.log(Swift.max(zMax / z[0], 1e-300)) }
            let temperature = startTemperature * Swift.max(0, 1 - Swift.max(Double(proposal) / Double(moves), timeSpent))
            guard delta <= 0 || (temperature > 0 && rng.nextUnit() < MathShim.exp(-delta / temperature)) else { continue }
            // Apply.
            slots[p1] = Int32(xb); slots[p2] = Int32(xa)
            holds[a * e + xa] = 0; holds[a * e + xb] = 1
            holds[b * e + xb] = 0; holds[b * e + xa] = 1
            for i in 0..<t where norm[i] > 0 {
                load[a * t + i] = next[4 * i]; load[b * t + i] = next[4 * i + 1]
                let change = next[4 * i + 2] + next[4 * i + 3] - weight[a * t + i] - weight[b * t + i]
                weight[a * t + i] = next[4 * i + 2]; weight[b * t + i] = next[4 * i + 3]
                z[sumMode ? i : 0] += change
            }
            if proposal & 15 == 0 || temperature <= 0 {
                let v = peakValue()
                if v < bestValue {
                    bestValue = v
                    _ = bestSlots.update(fromContentsOf: UnsafeBufferPointer(start: slots, count: d * s))
                }
            }
        }
        let endValue = peakValue()
        if endValue < bestValue {
            bestValue = endValue
            _ = bestSlots.update(fromContentsOf: UnsafeBufferPointer(start: slots, count: d * s))
        }
        // Leave the best plan in the state (the start when nothing better was found), counts as
        // they were; loads, holds and tops rebuilt from the slots.
        slots.update(from: bestSlots.baseAddress!, count: d * s)
        state.rebuild()
        state.recountMoves()
        return bestValue < startValue
    }
}
