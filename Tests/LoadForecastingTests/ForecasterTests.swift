import ExpertPlacement
@testable import LoadForecasting
import Testing

private func close(_ a: Double, _ b: Double, _ tol: Double = 1e-8) -> Bool {
    abs(a - b) <= tol * max(1, abs(a), abs(b))
}

/// `[layers][episodes][experts]` from `f(layer, episode, expert)`.
func tensor(layers: Int, episodes: Int, experts: Int, _ f: (Int, Int, Int) -> Double) throws -> LoadTensor {
    var values = ContiguousArray<Double>()
    for l in 0..<layers { for t in 0..<episodes { for e in 0..<experts { values.append(f(l, t, e)) } } }
    return try LoadTensor(layers: layers, episodes: episodes, experts: experts, values: values)
}

@Suite("Forecast models")
struct ForecasterTests {
    @Test("a forecast larger than the cell limit is refused before any work, naming horizon")
    func horizonCellLimit() throws {
        let history = try tensor(layers: 2, episodes: 4, experts: 1024) { _, t, e in Double(t + e) }
        let forecaster = try Forecaster(model: .windowMean, horizon: 1_000_000)
        #expect(throws: ExpertPlacementError.self) { try forecaster.forecast(history) }
        do {
            _ = try forecaster.forecast(history)
        } catch {
            #expect(error.field == "horizon" && error.reason.contains("2 × 1000000 × 1024"), "\(error)")
        }
        #expect(try Forecaster(model: .windowMean, horizon: 1_000).forecast(history).loads.episodes == 1_000)
    }

    @Test("trend recovers exact per-expert lines and extrapolates them H steps")
    func trend() throws {
        let history = try tensor(layers: 2, episodes: 12, experts: 5) { l, t, e in
            Double(10 + 3 * e + l) + Double(e - 2) * 0.25 * Double(t)
        }
        let f = try Forecaster(model: .trendSeasonal(period: 0), horizon: 3).forecast(history)
        #expect(f.loads.episodes == 3 && f.loads.layers == 2 && f.loads.experts == 5)
        for l in 0..<2 {
            #expect(f.layers[l].rank == 2)
            #expect(f.layers[l].relativeResidual! < 1e-10)
            for k in 0..<3 {
                for e in 0..<5 {
                    let expected = max(0, Double(10 + 3 * e + l) + Double(e - 2) * 0.25 * Double(12 + k))
                    #expect(close(f.loads[l, k, e], expected), "layer \(l) step \(k) expert \(e)")
                }
            }
        }
    }

    @Test("trend + season recovers a period-4 season on top of a trend", arguments: [4, 7])
    func season(period: Int) throws {
        let season = (0..<period).map { Double(($0 * 5) % 7) - 3 }
        let history = try tensor(layers: 1, episodes: 5 * period, experts: 3) { _, t, e in
            20 + Double(e) + 0.25 * Double(t) + season[t % period] * Double(e + 1)
        }
        let f = try Forecaster(model: .trendSeasonal(period: period), horizon: period, shiftThreshold: 1).forecast(history)
        #expect(f.layers[0].rank == period + 1)
        for k in 0..<period {
            let t = 5 * period + k
            for e in 0..<3 {
                let expected = 20 + Double(e) + 0.25 * Double(t) + season[t % period] * Double(e + 1)
                #expect(close(f.loads[0, k, e], expected), "period \(period) step \(k) expert \(e)")
            }
        }
    }

    @Test("a season longer than the window is rank deficient and still forecasts (minimum norm)")
    func seasonLongerThanWindow() throws {
        let history = try tensor(layers: 1, episodes: 3, experts: 2) { _, t, e in Double(5 + t + e) }
        let f = try Forecaster(model: .trendSeasonal(period: 8), horizon: 2).forecast(history)
        #expect(f.layers[0].rank! <= 3)
        #expect(f.loads.values.allSatisfy { $0.isFinite && $0 >= 0 })
    }

    @Test("a falling trend is clamped at 0")
    func clamped() throws {
        let history = try tensor(layers: 1, episodes: 6, experts: 1) { _, t, _ in Double(10 - 2 * t) }
        let f = try Forecaster(model: .trendSeasonal(period: 0), horizon: 4).forecast(history)
        #expect(f.loads.values == [0, 0, 0, 0])
    }

    @Test("ar(1) on an alternating series: ridge 0 continues it, ridge λ shrinks φ to φ/(1 + λ)")
    func autoregressive() throws {
        let history = try tensor(layers: 1, episodes: 10, experts: 3) { _, t, e in
            Double(10 * (e + 1)) + (t % 2 == 0 ? 2 : -2)
        }
        let exact = try Forecaster(model: .autoregressive(order: 1, ridge: 0), horizon: 2, shiftThreshold: 1).forecast(history)
        let shrunk = try Forecaster(model: .autoregressive(order: 1, ridge: 1), horizon: 1, shiftThreshold: 1).forecast(history)
        for e in 0..<3 {
            let mu = Double(10 * (e + 1))
            #expect(close(exact.loads[0, 0, e], mu + 2), "expert \(e)")   // t = 10 is even: high
            #expect(close(exact.loads[0, 1, e], mu - 2), "expert \(e)")
            #expect(close(shrunk.loads[0, 0, e], mu + 1), "expert \(e)")  // φ = −1 / 2
        }
    }

    /// Found by an audit: a lag whose energy is rounding noise was fitted unshrunk and the
    /// recursion exploded (7e30 from loads of 1–5); the same window scaled by 1e50 did the same.
    @Test("ar: rounding noise or a huge or tiny load scale does not change the forecast beyond that noise")
    func arIsStableOnNearlyConstantWindows() throws {
        let rows: [[Double]] = [[3, 1, 5, 1], [2, 1, 5, 1], [1, 1, 5, 1]]
        func window(scale: Double, noise: Double) throws -> LoadTensor {
            try tensor(layers: 1, episodes: 3, experts: 4) { _, t, e in scale * (rows[t][e] + noise * Double((t + 1) * (e + 2) % 5)) }
        }
        let forecaster = try Forecaster(model: .autoregressive(order: 2, ridge: 0.1), horizon: 3)
        let clean = try forecaster.forecast(window(scale: 1, noise: 0)).loads
        for (scale, noise) in [(1.0, 1e-12), (1e50, 0.0), (1e-85, 1e-12), (1e50, 1e-12)] {
            let f = try forecaster.forecast(window(scale: scale, noise: noise)).loads
            for i in 0..<clean.values.count {
                #expect(close(f.values[i] / scale, clean.values[i], 1e-6), "scale \(scale), noise \(noise): \(f.values[i] / scale) against \(clean.values[i])")
            }
        }
    }

    @Test("last, mean and ema on a known series")
    func flatModels() throws {
        let history = try tensor(layers: 1, episodes: 3, experts: 2) { _, t, e in Double((t + 1) * (e + 1)) }
        let last = try Forecaster(model: .last, horizon: 2).forecast(history).loads
        let mean = try Forecaster(model: .windowMean, horizon: 1).forecast(history).loads
        let ema = try Forecaster(model: .exponentialMovingAverage(smoothing: 0.5), horizon: 1).forecast(history).loads
        #expect(Array(last.values) == [3, 6, 3, 6])
        #expect(Array(mean.values) == [2, 4])
        #expect(Array(ema.values) == [2.25, 4.5])  // 1 → 1.5 → 2.25
    }

    @Test("the shift detector: disjoint halves give TV 1, the change point and a mean of the new regime; off, the plain mean")
    func shiftDetector() throws {
        let history = try tensor(layers: 1, episodes: 8, experts: 2) { _, t, e in (t < 4) == (e == 0) ? 10 : 0 }
        let on = try Forecaster(model: .windowMean, horizon: 1).forecast(history)
        let off = try Forecaster(model: .windowMean, horizon: 1, shiftThreshold: 1).forecast(history)
        #expect(close(on.layers[0].shift, 1) && on.layers[0].shifted)
        #expect(!off.layers[0].shifted)
        #expect(Array(off.loads.values) == [5, 5])
        // Change point 4; weights 2^(−40) … 2^(−10) before it (half-life 0.1), 1 from it on (sum 4).
        #expect(on.layers[0].changePoint == 4)
        let before = (1...4).reduce(0.0) { $0 + Double(sign: .plus, exponent: -10 * $1, significand: 1) }
        let share = 4 / (4 + before)
        #expect(close(on.loads[0, 0, 1], 10 * share) && close(on.loads[0, 0, 0], 10 * (1 - share)), "\(Array(on.loads.values))")
        // Half-life 1: weights 2^(−4) … 2^(−1) before it (sum 15/16).
        let soft = try Forecaster(model: .windowMean, horizon: 1, recencyHalfLife: 1).forecast(history)
        let softShare = 4 / (4 + 15.0 / 16)
        #expect(close(soft.loads[0, 0, 1], 10 * softShare) && close(soft.loads[0, 0, 0], 10 * (1 - softShare)))
        // A switch two episodes before the end is found where it is, and the mean follows the new mix.
        let late = try tensor(layers: 1, episodes: 8, experts: 3) { _, t, e in (t < 6 ? [6.0, 3, 1] : [1.0, 3, 6])[e] }
        let lateFit = try Forecaster(model: .windowMean, horizon: 1).forecast(late)
        #expect(lateFit.layers[0].shifted && lateFit.layers[0].changePoint == 6)
        let lateBefore = (1...6).reduce(0.0) { $0 + Double(sign: .plus, exponent: -10 * $1, significand: 1) }
        let newShare = 2 / (2 + lateBefore)
        #expect(close(lateFit.loads[0, 0, 2], 6 * newShare + (1 - newShare)), "\(Array(lateFit.loads.values))")
        #expect(close(lateFit.loads[0, 0, 0], newShare + 6 * (1 - newShare)))
        // Noise, not a shift: every episode differs from the next far more than the halves differ
        // (halves 0.25 apart, consecutive episodes 1 apart but for one pair: noise 1 · √(2/8) = 0.5).
        let noisy = try tensor(layers: 1, episodes: 8, experts: 2) { _, t, e in
            let hot = t == 7 ? 0 : t % 2
            return e == hot ? 10 : 0
        }
        let noisyFit = try Forecaster(model: .windowMean, horizon: 1).forecast(noisy)
        #expect(close(noisyFit.layers[0].shift, 0.25) && close(noisyFit.layers[0].noise, 0.5))
        #expect(!noisyFit.layers[0].shifted && noisyFit.layers[0].changePoint == nil)
        #expect(on.layers[0].noise < 1e-12 && lateFit.layers[0].noise < 1e-12, "one changed pair is not noise")
        // No shift: the same mix in both halves.
        let steady = try tensor(layers: 1, episodes: 8, experts: 2) { _, t, e in Double(e + 1) * Double(1 + t % 2) }
        #expect(try Forecaster(model: .windowMean, horizon: 1).forecast(steady).layers[0].shift < 1e-12)
    }

    @Test("all-zero histories and single episodes forecast without failing", arguments: ForecastModel.names)
    func degenerate(name: String) throws {
        let model = ForecastModel(name: name)!
        for history in [try tensor(layers: 2, episodes: 6, experts: 3) { _, _, _ in 0 },
                        try tensor(layers: 1, episodes: 1, experts: 4) { _, _, e in Double(e) }] {
            let f = try Forecaster(model: model, horizon: 2).forecast(history)
            #expect(f.loads.values.allSatisfy { $0.isFinite && $0 >= 0 }, "\(name)")
        }
    }

    @Test("bad parameters throw naming the parameter")
    func badParameters() {
        let cases: [(ForecastModel, Int, Double, String)] = [
            (.exponentialMovingAverage(smoothing: 0), 1, 0.1, "smoothing"),
            (.exponentialMovingAverage(smoothing: .nan), 1, 0.1, "smoothing"),
            (.trendSeasonal(period: -1), 1, 0.1, "period"),
            (.autoregressive(order: 0, ridge: 0), 1, 0.1, "order"),
            (.autoregressive(order: 1, ridge: -1), 1, 0.1, "ridge"),
            (.last, 0, 0.1, "horizon"),
            (.last, 1, .nan, "shiftThreshold"),
        ]
        for (model, horizon, threshold, field) in cases {
            do {
                _ = try Forecaster(model: model, horizon: horizon, shiftThreshold: threshold)
                Issue.record("\(model) accepted")
            } catch {
                #expect(error.field == field)
            }
        }
    }
}
