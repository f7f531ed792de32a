/// The hot loop of the load model: each episode's total and largest device load of one layer.
///
/// Device `d`'s load in episode `t` is `Σ_{slots q on d} w[t][expert[q]] · share[q]`, summed in
/// slot order from 0 (INTERFACE.md §2 with `share[q] = 1 / r_{expert[q]}`). ``Metrics`` and the
/// ``OnlineSimulator`` both go through
/// ``scan(loads:stride:count:slotExpert:slotShare:slotsPerDevice:totals:peaks:aggregate:weights:experts:)``.
///
/// Why four episodes at a time: a device's sum is a chain of dependent additions (one per slot),
/// so one episode at a time waits on the adder's latency. Four episodes in the lanes of a
/// `SIMD4<Double>` run four independent chains. Each lane performs exactly the additions, in
/// the same order, that one episode alone would, so the results are bit-identical to the scalar
/// loop (a test in `MetricsTests` holds ``Metrics`` to one, for every tail length). On the V3
/// benchmark window (58 × 1,024 × 256 on 32 × 9 slots) one evaluation took 9.0–9.5 ms on 2
/// threads against 10.6–11.3 ms one episode at a time.
enum DevicePeaks {
    /// Writes, for each episode `t` in `0..<count`, the sum of the device loads to `totals[t]`
    /// and the largest device load to `peaks[t]`.
    ///
    /// - Parameters:
    ///   - loads: episode 0's first expert load; episode `t` starts `t · stride` later.
    ///   - slotExpert: the expert of every slot, device by device (`slotsPerDevice` each); every
    ///     value must be a valid offset into an episode's row.
    ///   - slotShare: the share of its expert's load each slot carries.
    ///   - aggregate: when given with `weights`, `aggregate[x] += weights[t] · w[t][x]` for every
    ///     episode whose weight is not 0 and each of the first `experts` experts, episodes in
    ///     order (the weighted summed load). This sequential pass runs before the gathers of
    ///     the same four rows, so it also brings them into cache (measured: gathering first and
    ///     summing after was 1.5× slower on a cold window).
    /// - Complexity: O(count · P) for `P` slots.
    static func scan(loads: UnsafePointer<Double>, stride: Int, count: Int,
                     slotExpert: UnsafeBufferPointer<Int>, slotShare: UnsafeBufferPointer<Double>,
                     slotsPerDevice s: Int,
                     totals: UnsafeMutablePointer<Double>, peaks: UnsafeMutablePointer<Double>,
                     aggregate: UnsafeMutablePointer<Double>? = nil, weights: UnsafePointer<Double>? = nil,
                     experts: Int = 0) {
        func accumulate(_ row: UnsafePointer<Double>, _ t: Int) {
            guard let aggregate, let weights else { return }
            let omega = weights[t]
            if omega == 0 { return }
            for x in 0..<experts { aggregate[x] += omega * row[x] }
        }
        let p = slotExpert.count
        precondition(slotShare.count == p && s > 0 && p % s == 0, "slots do not fill the devices")
        var t = 0
        while t &+ 4 <= count {
            let r0 = loads + t &* stride, r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride
            accumulate(r0, t)
            accumulate(r1, t &+ 1)
            accumulate(r2, t &+ 2)
            accumulate(r3, t &+ 3)
            var total = SIMD4<Double>(repeating: 0), peak = SIMD4<Double>(repeating: 0)
            var q = 0
            while q < p {
                var sum = SIMD4<Double>(repeating: 0)
                let end = q &+ s
                while q < end {
                    let x = slotExpert[q]
                    sum += SIMD4(r0[x], r1[x], r2[x], r3[x]) * SIMD4(repeating: slotShare[q])
                    q &+= 1
                }
                total += sum
                // `Swift.max(peak, sum)` lane by lane (equal lanes hold equal values).
                peak.replace(with: sum, where: peak .< sum)
            }
            for lane in 0..<4 {
                totals[t &+ lane] = total[lane]
                peaks[t &+ lane] = peak[lane]
            }

            t &+= 4
        }
        while t < count {
            let row = loads + t &* stride
            var total = 0.0, peak = 0.0
            var q = 0
            while q < p {
                var sum = 0.0
                let end = q &+ s
                while q < end {
                    sum += row[slotExpert[q]] * slotShare[q]
                    q &+= 1
                }
                total += sum
                peak = Swift.max(peak, sum)
            }
            totals[t] = total
            peaks[t] = peak
            accumulate(row, t)
            t &+= 1
        }
    }
}
