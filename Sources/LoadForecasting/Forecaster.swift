public import ExpertPlacement
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// What the fit of one layer looked like.
public struct LayerFitDiagnostics: Sendable, Equatable {
    /// Total variation `½ Σ_e |p_e − q_e|` between the normalised load distributions of the first
    /// and the second half of the window (0 = same mix, 1 = disjoint experts); 0 below 4 episodes.
    public var shift: Double
    /// What `shift` would be from sampling noise alone: the median total variation between
    /// consecutive episodes, scaled by `√(2/T)` to the halves' sample size (a switch changes one
    /// consecutive pair, so the median ignores it); 0 below 4 episodes.
    public var noise: Double
    /// Whether `shift` exceeded the threshold and twice `noise`, so that the fit used recency weights.
    public var shifted: Bool
    /// When `shifted`: the first episode of the new regime (the estimated change point).
    public var changePoint: Int?
    /// Effective rank of the design matrix (regression models only).
    public var rank: Int?
    /// Columns of the design matrix (regression models only).
    public var parameters: Int?
    /// In-sample root-mean-square residual divided by the layer's mean load (regression models only).
    public var relativeResidual: Double?

    public init(shift: Double, noise: Double = 0, shifted: Bool, changePoint: Int? = nil, rank: Int? = nil,
                parameters: Int? = nil, relativeResidual: Double? = nil) {
        self.shift = shift
        self.noise = noise
        self.shifted = shifted
        self.changePoint = changePoint
        self.rank = rank
        self.parameters = parameters
        self.relativeResidual = relativeResidual
    }
}

/// Predicted loads and the fit diagnostics of every layer.
public struct Forecast: Sendable {
    /// `[L][horizon][E]`, non-negative (forecasts are clamped at 0).
    public var loads: LoadTensor
    /// One entry per layer.
    public var layers: [LayerFitDiagnostics]
}

/// Forecasts the next `horizon` episodes of each layer and expert from a load history.
///
/// Models: ``ForecastModel``. Before fitting, a shift detector compares the normalised load mix
/// of the window's two halves by total variation; above ``shiftThreshold`` it estimates the change
/// point `c` (the split of the window whose two load mixes differ most, see `changePoint`) and the fit weighs episodes from `c` on by 1
/// and episode `t < c` by `2^(−(c − t) / h)` (h = ``recencyHalfLife``, default 0.1: the episode
/// before `c` weighs 1/1024), so that the old regime drops out of the fit; the tiny weights only keep
/// `trend` and `ar` determined when few episodes follow `c`. `last` and `ema` are recency models
/// already and ignore the weights.
public struct Forecaster: Sendable {
    /// The model.
    public var model: ForecastModel
    /// Episodes to predict, H ≥ 1.
    public var horizon: Int
    /// Total variation between the halves above which recency weights are used (default 0.1;
    /// `1` switches the detector off, since TV never exceeds 1).
    public var shiftThreshold: Double
    /// Half-life, in episodes, of the weights before the change point after a shift; `nil`: 0.1.
    public var recencyHalfLife: Double?

    /// Creates a forecaster.
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` for a bad horizon, threshold,
    ///   half-life or model parameter.
    public init(model: ForecastModel, horizon: Int, shiftThreshold: Double = 0.1,
                recencyHalfLife: Double? = nil) throws(ExpertPlacementError) {
        try model.validate()
        guard horizon >= 1, horizon <= 1_000_000 else {
            throw .invalidValue(field: "horizon", reason: "must be in 1...1000000, got \(horizon)")
        }
        guard shiftThreshold.isFinite, shiftThreshold >= 0 else {
            throw .invalidValue(field: "shiftThreshold", reason: "must be a finite number ≥ 0, got \(shiftThreshold)")
        }
        if let recencyHalfLife, !(recencyHalfLife.isFinite && recencyHalfLife > 0) {
            throw .invalidValue(field: "recencyHalfLife", reason: "must be a positive number, got \(recencyHalfLife)")
        }
        self.model = model
        self.horizon = horizon
        self.shiftThreshold = shiftThreshold
        self.recencyHalfLife = recencyHalfLife
    }

    /// Forecasts `[L][horizon][E]` from `history` (`[L][T][E]`).
    ///
    /// - Throws: ``ExpertPlacementError/invalidValue(field:reason:)`` naming `horizon` when the
    ///   forecast `L · horizon · E` is above ``Limits/maximumCells`` (an instance no reader here
    ///   accepts, and memory a machine may not have), checked before any work, or when a
    ///   prediction is not finite or above ``Limits/largestMagnitude`` (an `ar` recursion that
    ///   diverges far ahead);
    ///   ``ExpertPlacementError/solverFailure(reason:)`` if LAPACK fails (it does not on finite
    ///   input; reported, never trapped).
    /// - Complexity: per layer O(T · E) for the flat models, one `dgelsd` of T × 2 (T × (1 + period)
    ///   with a season) with E right-hand sides for `trend`, one of ((T − p) · E + p) × p for `ar`.
    ///   Layers run in parallel.
    public func forecast(_ history: LoadTensor) throws(ExpertPlacementError) -> Forecast {
        let l = history.layers, e = history.experts, h = horizon
        try Limits.checkCells([l, h, e], what: "the forecast's layers × horizon × experts", field: "horizon")
        let fits = try LayerParallelism.map(count: l, work: l * history.episodes * e * 8) {
            (layer: Int) throws(ExpertPlacementError) -> (ContiguousArray<Double>, LayerFitDiagnostics) in
            try forecastLayer(history, layer: layer)
        }
        var values = ContiguousArray<Double>()
        values.reserveCapacity(l * h * e)
        for (layer, (rows, _)) in fits.enumerated() {
            // A diverging recursion (ar on an oscillating window, far ahead) can overflow: every
            // load handed on is finite and in range, so that no solver ever sees one that is not.
            if let i = rows.firstIndex(where: { !($0 <= Limits.largestMagnitude) }) {
                throw .invalidValue(field: "horizon", reason: "the \(model.name) forecast diverges: layer \(layer), step \(i / e + 1) of \(h), expert \(i % e) predicts \(rows[i]), above 1e100; use a shorter horizon, a larger ridge or another model")
            }
            values.append(contentsOf: rows)
        }
        return Forecast(loads: LoadTensor(layers: l, episodes: h, experts: e, checkedValues: values),
                        layers: fits.map(\.1))
    }

    /// `[horizon][E]` for one layer, and its diagnostics.
    func forecastLayer(_ history: LoadTensor, layer: Int) throws(ExpertPlacementError)
        -> (ContiguousArray<Double>, LayerFitDiagnostics) {
        let t = history.episodes, e = history.experts
        let x = ContiguousArray(history.values[history.layerOffset(layer) ..< history.layerOffset(layer) + t * e])
        let (shift, noise, shifted) = Self.detectShift(x, episodes: t, experts: e, threshold: shiftThreshold)
        var weights = ContiguousArray<Double>(repeating: 1, count: t)
        var changePoint: Int? = nil
        if shifted {
            // Episodes from the estimated change point on weigh 1; earlier ones fade by half
            // every `recencyHalfLife` episodes before it.
            let c = Self.changePoint(x, episodes: t, experts: e)
            let halfLife = recencyHalfLife ?? 0.1
            for i in 0..<c { weights[i] = exp2(-Double(c - i) / halfLife) }
            changePoint = c
        }
        var diagnostics = LayerFitDiagnostics(shift: shift, noise: noise, shifted: shifted, changePoint: changePoint)
        var out = ContiguousArray<Double>(repeating: 0, count: horizon * e)
        switch model {
        case .last:
            for k in 0..<horizon { for j in 0..<e { out[k * e + j] = x[(t - 1) * e + j] } }
        case .windowMean:
            let mean = Self.weightedMean(x, episodes: t, experts: e, weights: weights)
            for k in 0..<horizon { for j in 0..<e { out[k * e + j] = mean[j] } }
        case .exponentialMovingAverage(let alpha):
            var s = ContiguousArray(x[0 ..< e])
            for i in 1 ..< max(1, t) { for j in 0..<e { s[j] = alpha * x[i * e + j] + (1 - alpha) * s[j] } }
            for k in 0..<horizon { for j in 0..<e { out[k * e + j] = s[j] } }
        case .trendSeasonal(let period):
            try fitTrendSeasonal(x, episodes: t, experts: e, period: period, weights: weights,
                                 into: &out, diagnostics: &diagnostics)
        case .autoregressive(let order, let ridge):
            try fitAutoregressive(x, episodes: t, experts: e, order: order, ridge: ridge, weights: weights,
                                  into: &out, diagnostics: &diagnostics)
        }
        for i in out.indices where !(out[i] > 0) { out[i] = 0 }  // clamps negatives (and a NaN, were there one)
        return (out, diagnostics)
    }

    // MARK: - Models

    /// Row of the trend + season design at episode `i` of a window of `t`: `[1, τ, d_1 … d_(P−1)]`,
    /// τ = (i − (t − 1)/2) / t so that the trend column is centred and O(1) (well conditioned).
    static func designRow(_ i: Int, episodes t: Int, period: Int, into row: inout ContiguousArray<Double>) {
        row[0] = 1
        row[1] = (Double(i) - Double(t - 1) / 2) / Double(t)
        if period >= 2 {
            for c in 2 ..< period + 1 { row[c] = 0 }
            let phase = i % period
            if phase > 0 { row[1 + phase] = 1 }
        }
    }

    func fitTrendSeasonal(_ x: ContiguousArray<Double>, episodes t: Int, experts e: Int, period: Int,
                          weights: ContiguousArray<Double>, into out: inout ContiguousArray<Double>,
                          diagnostics: inout LayerFitDiagnostics) throws(ExpertPlacementError) {
        let n = period >= 2 ? 1 + period : 2
        var a = ContiguousArray<Double>(repeating: 0, count: t * n)
        var b = ContiguousArray<Double>(repeating: 0, count: t * e)
        var row = ContiguousArray<Double>(repeating: 0, count: n)
        for i in 0..<t {
            Self.designRow(i, episodes: t, period: period, into: &row)
            let s = weights[i].squareRoot()
            for c in 0..<n { a[i * n + c] = s * row[c] }
            for j in 0..<e { b[i * e + j] = s * x[i * e + j] }
        }
        let fit: LeastSquaresSolution
        do { fit = try LeastSquares.solve(design: a, rows: t, columns: n, targets: b, rightHandSides: e) }
        catch { throw .solverFailure(reason: error.description) }
        diagnostics.rank = fit.rank
        diagnostics.parameters = n
        // In-sample residual (weighted), relative to the mean load.
        var sq = 0.0, wsum = 0.0, total = 0.0
        for i in 0..<t {
            Self.designRow(i, episodes: t, period: period, into: &row)
            for j in 0..<e {
                var yhat = 0.0
                for c in 0..<n { yhat += row[c] * fit[coefficient: c, rightHandSide: j] }
                let r = x[i * e + j] - yhat
                sq += weights[i] * r * r
                total += weights[i] * x[i * e + j]
            }
            wsum += weights[i]
        }
        let meanLoad = total / (wsum * Double(e))
        diagnostics.relativeResidual = meanLoad > 0 ? (sq / (wsum * Double(e))).squareRoot() / meanLoad : 0
        for k in 0..<horizon {
            Self.designRow(t + k, episodes: t, period: period, into: &row)
            for j in 0..<e {
                var y = 0.0
                for c in 0..<n { y += row[c] * fit[coefficient: c, rightHandSide: j] }
                out[k * e + j] = y
            }
        }
    }

    func fitAutoregressive(_ x: ContiguousArray<Double>, episodes t: Int, experts e: Int, order p: Int, ridge: Double,
                           weights: ContiguousArray<Double>, into out: inout ContiguousArray<Double>,
                           diagnostics: inout LayerFitDiagnostics) throws(ExpertPlacementError) {
        let mean = Self.weightedMean(x, episodes: t, experts: e, weights: weights)
        let scale = mean.reduce(0, +) / Double(e)
        guard scale > 0 else {  // an all-zero layer stays zero
            diagnostics.parameters = p
            diagnostics.rank = 0
            diagnostics.relativeResidual = 0
            return
        }
        // z[i][j] = (x[i][j] − μ_j) / scale: a scale-free deviation.
        var z = ContiguousArray<Double>(repeating: 0, count: t * e)
        for i in 0..<t { for j in 0..<e { z[i * e + j] = (x[i * e + j] - mean[j]) / scale } }
        let dataRows = max(0, t - p) * e
        let rows = dataRows + p
        var a = ContiguousArray<Double>(repeating: 0, count: rows * p)
        var b = ContiguousArray<Double>(repeating: 0, count: rows)
        var r = 0
        for i in p ..< max(p, t) {
            let s = weights[i].squareRoot()
            for j in 0..<e {
                for k in 0..<p { a[r * p + k] = s * z[(i - 1 - k) * e + j] }
                b[r] = s * z[i * e + j]
                r += 1
            }
        }
        // Ridge: p augmented rows √(λ·E_k)·e_k with target 0 add λ·Σ_k E_k·φ_k² to the squared
        // residual, E_k = Σ_rows a[row][k]² the energy of lag k: λ is relative to the data, so a
        // single lag shrinks exactly to φ_OLS / (1 + λ) whatever the window length or load scale.
        // E_k is floored at 1% of the lags' mean energy: a lag whose energy is only rounding
        // noise (a window that barely moves there) would otherwise be fitted unshrunk, and its
        // coefficient could make the recursion explode (a 3-episode window with 1e-12 of noise
        // forecast 7e30). Lags of one window have similar energies, so the floor rarely binds.
        var energies = ContiguousArray<Double>(repeating: 0, count: p)
        for k in 0..<p { for q in 0..<dataRows { energies[k] += a[q * p + k] * a[q * p + k] } }
        let floor = 0.01 * energies.reduce(0, +) / Double(p)
        for k in 0..<p {
            let energy = energies[k] > 0 ? Swift.max(energies[k], floor) : 1
            a[(dataRows + k) * p + k] = (ridge * energy).squareRoot()
        }
        let phi: LeastSquaresSolution
        do { phi = try LeastSquares.solve(design: a, rows: rows, columns: p, targets: b, rightHandSides: 1) }
        catch { throw .solverFailure(reason: error.description) }
        diagnostics.rank = phi.rank
        diagnostics.parameters = p
        var sq = 0.0
        for q in 0..<dataRows {
            var yhat = 0.0
            for k in 0..<p { yhat += a[q * p + k] * phi.coefficients[k] }
            sq += (b[q] - yhat) * (b[q] - yhat)
        }
        diagnostics.relativeResidual = dataRows > 0 ? (sq / Double(dataRows)).squareRoot() : 0
        // Iterate the recursion H steps from the last p deviations (zero before the window).
        var lags = ContiguousArray<Double>(repeating: 0, count: p * e)  // lags[k][j] = z at t − 1 − k
        for k in 0..<min(p, t) { for j in 0..<e { lags[k * e + j] = z[(t - 1 - k) * e + j] } }
        for step in 0..<horizon {
            for j in 0..<e {
                var next = 0.0
                for k in 0..<p { next += phi.coefficients[k] * lags[k * e + j] }
                out[step * e + j] = mean[j] + scale * next
                var k = p - 1  // drop the oldest lag, the new value becomes lag 0
                while k > 0 { lags[k * e + j] = lags[(k - 1) * e + j]; k -= 1 }
                lags[j] = next
            }
        }
    }

    // MARK: - Helpers

    /// `Σ_i w_i x[i] / Σ_i w_i` per expert.
    static func weightedMean(_ x: ContiguousArray<Double>, episodes t: Int, experts e: Int,
                             weights: ContiguousArray<Double>) -> ContiguousArray<Double> {
        var mean = ContiguousArray<Double>(repeating: 0, count: e)
        var wsum = 0.0
        for i in 0..<t {
            wsum += weights[i]
            for j in 0..<e { mean[j] += weights[i] * x[i * e + j] }
        }
        for j in 0..<e { mean[j] /= wsum }
        return mean
    }

    /// The split `c ∈ 1..<T` that best separates the window into two load mixes: the largest
    /// `TV(mix[0, c), mix[c, T)) · √(c (T − c) / T)` (the factor discounts splits that leave only
    /// a few noisy episodes on one side, as a CUSUM statistic does). O(T · E).
    static func changePoint(_ x: ContiguousArray<Double>, episodes t: Int, experts e: Int) -> Int {
        guard t >= 2 else { return 0 }
        var total = ContiguousArray<Double>(repeating: 0, count: e)
        for i in 0..<t { for j in 0..<e { total[j] += x[i * e + j] } }
        let all = total.reduce(0, +)
        var before = ContiguousArray<Double>(repeating: 0, count: e)
        var sumBefore = 0.0
        var best = t / 2, bestScore = -1.0
        for c in 1..<t {
            for j in 0..<e {
                before[j] += x[(c - 1) * e + j]
                sumBefore += x[(c - 1) * e + j]
            }
            let sumAfter = all - sumBefore
            guard sumBefore > 0, sumAfter > 0 else { continue }
            var tv = 0.0
            for j in 0..<e { tv += abs(before[j] / sumBefore - (total[j] - before[j]) / sumAfter) }
            let score = tv / 2 * (Double(c * (t - c)) / Double(t)).squareRoot()
            if score > bestScore { best = c; bestScore = score }
        }
        return best
    }

    /// The shift detector on one layer's window `x` (`[T][E]`): the halves' total variation, the
    /// part of it sampling noise alone would give (the median total variation between consecutive
    /// episodes times `√(2/T)`: a half holds `T/2` episodes' draws), and whether the first exceeds
    /// both `threshold` and twice the second. Without the second test, a window of few tokens per
    /// episode looks shifted by noise alone (about 0.09 between halves of 8,192 draws over 256
    /// lognormal-popular experts, 0.18 at 2,048).
    static func detectShift(_ x: ContiguousArray<Double>, episodes t: Int, experts e: Int,
                            threshold: Double) -> (shift: Double, noise: Double, shifted: Bool) {
        let shift = halvesTotalVariation(x, episodes: t, experts: e)
        guard t >= 4 else { return (shift, 0, false) }
        let sums = (0..<t).map { i in (0..<e).reduce(0.0) { $0 + x[i * e + $1] } }
        var steps: [Double] = []
        steps.reserveCapacity(t - 1)
        for i in 0 ..< t - 1 {
            let a = sums[i], b = sums[i + 1]
            guard a > 0, b > 0 else { continue }
            var tv = 0.0
            for j in 0..<e { tv += abs(x[i * e + j] / a - x[(i + 1) * e + j] / b) }
            steps.append(tv / 2)
        }
        steps.sort()
        let median = steps.isEmpty ? 0 : steps[(steps.count - 1) / 2]
        let noise = median * (2 / Double(t)).squareRoot()
        return (shift, noise, shift > threshold && shift > 2 * noise)
    }

    /// Total variation between the normalised load distributions of the first ⌊T/2⌋ and the
    /// last ⌈T/2⌉ episodes; 0 below 4 episodes or when a half carries no load.
    static func halvesTotalVariation(_ x: ContiguousArray<Double>, episodes t: Int, experts e: Int) -> Double {
        guard t >= 4 else { return 0 }
        let half = t / 2
        var first = ContiguousArray<Double>(repeating: 0, count: e)
        var second = ContiguousArray<Double>(repeating: 0, count: e)
        for i in 0..<t {
            for j in 0..<e {
                if i < half { first[j] += x[i * e + j] } else { second[j] += x[i * e + j] }
            }
        }
        let s1 = first.reduce(0, +), s2 = second.reduce(0, +)
        guard s1 > 0, s2 > 0 else { return 0 }
        var tv = 0.0
        for j in 0..<e { tv += abs(first[j] / s1 - second[j] / s2) }
        return tv / 2
    }
}
