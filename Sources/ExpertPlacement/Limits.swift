/// The sizes and magnitudes the library accepts, in one place.
///
/// Inputs beyond these limits are refused up front with an ``ExpertPlacementError`` naming the
/// field, the value and the limit, instead of overflowing an integer, running out of memory or
/// producing infinities and NaNs deep inside a solver.
///
/// **Sizes.** Slot and expert ids are `Int32` in the dense tables the solvers use, and every table
/// the library allocates is bounded by ``maximumCells`` entries (2^30: 4–8 GiB at 4–8 bytes an
/// entry, what a workstation can hold). The checked products are listed on
/// ``checkSizes(layers:episodes:experts:topology:)``. All products are computed with
/// overflow-checked multiplication, so a claimed size of 2^62 is refused, never wrapped.
///
/// **Magnitudes.** Every load and every episode weight is 0 or lies in
/// [``smallestMagnitude``, ``largestMagnitude``] = [1e-100, 1e100]. The metrics are ratios (or, for
/// `peakSum`, weighted sums) of loads, so a common scale of the inputs changes nothing but units;
/// the range leaves ~200 decimal orders of headroom, so that every sum of up to 2^30 products of a
/// weight and a load, and every ratio the objectives form, is a finite, normal `Double`. A load of
/// `1.7e308` (whose totals overflow to infinity) or `5e-310` (a subnormal whose reciprocal
/// overflows) is refused with the field that holds it; rescale such data first.
public enum Limits {
    /// The most entries of any table the library allocates for a problem: 2^30.
    public static let maximumCells = 1 << 30

    /// The most physical slots per layer: ids are stored as `Int32` and a layer's tables have
    /// `P` entries, so `P ≤ min(Int32.max, maximumCells)`.
    public static let maximumSlots = Swift.min(Int(Int32.max), maximumCells)

    /// The smallest positive load or episode weight accepted, 1e-100.
    public static let smallestMagnitude = 1e-100

    /// The largest load or episode weight accepted, 1e100.
    public static let largestMagnitude = 1e100

    /// Why `x` is not an acceptable load or weight, or `nil` when it is (0, or a finite number in
    /// [``smallestMagnitude``, ``largestMagnitude``]).
    ///
    /// - Parameter what: the noun of the message (`"load"`, `"weight"`).
    public static func magnitudeProblem(_ x: Double, what: String) -> String? {
        if x.isNaN { return "NaN is not a valid \(what)" }
        if x.isInfinite { return "infinite \(what) (Infinity, or a number too large for a double)" }
        if x < 0 { return "negative \(what) \(x)" }
        if x == 0 || (x >= smallestMagnitude && x <= largestMagnitude) { return nil }
        return "\(what) \(x) is outside the supported range: nonzero values must lie in [1e-100, 1e100] (rescale the data; the imbalance metrics are scale-free)"
    }

    /// Whether every value is 0 or in the supported range, in one branch-free pass.
    ///
    /// Four values at a time in SIMD registers (the scalar form of this test does not vectorise:
    /// a NaN must fail every comparison), the verdicts AND-ed into one mask; the tail one by one.
    @inlinable public static func allInRange(_ values: UnsafeBufferPointer<Double>) -> Bool {
        guard let base = values.baseAddress else { return true }
        let n = values.count
        let lo = SIMD4<Double>(repeating: smallestMagnitude), hi = SIMD4<Double>(repeating: largestMagnitude)
        let zero = SIMD4<Double>.zero
        var ok = SIMDMask<SIMD4<Int64>>(repeating: true)
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i &+ 4 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
            ok .&= (v .== zero) .| ((v .>= lo) .& (v .<= hi))
            i &+= 4
        }
        var tail = true
        while i < n {
            let x = base[i]
            tail = tail && (x == 0 || (x >= smallestMagnitude && x <= largestMagnitude))
            i &+= 1
        }
        return all(ok) && tail
    }

    /// `a × b`, or `nil` when the product overflows `Int`.
    @inlinable public static func product(_ a: Int, _ b: Int) -> Int? {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : p
    }

    /// The slot count `P = devices × slotsPerDevice`, checked against ``maximumSlots``.
    ///
    /// - Parameter field: the field errors name (`topology`, `--devices`).
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` when a count is below 1 or
    ///   the product is above the limit (or overflows).
    public static func slotCount(devices: Int, slotsPerDevice: Int,
                                 field: String = "topology") throws(ExpertPlacementError) -> Int {
        guard devices >= 1 else { throw .invalidValue(field: "\(field).devices", reason: "must be at least 1, got \(devices)") }
        guard slotsPerDevice >= 1 else {
            throw .invalidValue(field: "\(field).slotsPerDevice", reason: "must be at least 1, got \(slotsPerDevice)")
        }
        guard let p = product(devices, slotsPerDevice), p <= maximumSlots else {
            throw .invalidValue(field: field,
                                reason: "devices × slotsPerDevice (\(devices) × \(slotsPerDevice)) is above the limit of \(maximumSlots) slots per layer")
        }
        return p
    }

    /// Checks that `count` entries fit the table limit.
    ///
    /// - Parameters:
    ///   - factors: the dimensions whose product is the table's size.
    ///   - field: the field errors name; `what` describes the product (`"layers × slots"`).
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` when the product is above
    ///   ``maximumCells`` (or overflows).
    public static func checkCells(_ factors: [Int], what: String, field: String) throws(ExpertPlacementError) {
        var total = 1
        for f in factors {
            guard let p = product(total, Swift.max(f, 0)), p <= maximumCells else {
                throw .invalidValue(field: field,
                                    reason: "\(what) (\(factors.map(String.init).joined(separator: " × "))) is above the limit of \(maximumCells) entries")
            }
            total = p
        }
    }

    /// Checks every table a problem of this shape needs: loads `L·T·E`, placements `L·P`, the
    /// per-device membership and load tables of a layer `D·E` and `D·T`, and the padded `log2phy`
    /// table of a placement file `L·E·(P − E + 1)`.
    ///
    /// The topology's own invariants are ``Topology/validate(experts:)``'s; call it first.
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming the first table over
    ///   the limit.
    public static func checkSizes(layers: Int, episodes: Int, experts: Int,
                                  topology: Topology) throws(ExpertPlacementError) {
        let p = try slotCount(devices: topology.devices, slotsPerDevice: topology.slotsPerDevice)
        try checkCells([layers, episodes, experts], what: "layers × episodes × experts", field: "load")
        try checkCells([layers, p], what: "layers × slots", field: "topology")
        try checkCells([topology.devices, experts], what: "devices × experts", field: "topology.devices")
        try checkCells([topology.devices, episodes], what: "devices × episodes", field: "topology.devices")
        try checkCells([layers, experts, Swift.max(p - experts + 1, 1)],
                       what: "the log2phy table, layers × experts × (redundant slots + 1)", field: "topology")
    }
}
