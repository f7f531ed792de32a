// Forecasting benchmarks (issue 11): fit and forecast a DeepSeek-V3-shaped history, 58 MoE layers ×
// 64 episodes × 256 experts (lognormal popularity, per-episode noise σ = 0.3, seeded), horizon 8.
// Target: ≤ 100 ms on 2 cores. The `last` model (a copy of the last episode) is the baseline in
// the same run, so the regression models' cost reads as a ratio.
import Benchmark
import ExpertPlacement
import LoadForecasting

let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal]

// swiftlint:disable:next force_try
let history = try! SyntheticLoads.lognormal(layers: 58, episodes: 64, experts: 256, seed: 1)

func forecaster(_ model: ForecastModel) -> Forecaster {
    // swiftlint:disable:next force_try
    try! Forecaster(model: model, horizon: 8)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(3), maxIterations: 1_000)

    let cases: [(String, ForecastModel)] = [
        ("last (baseline)", .last),
        ("mean", .windowMean),
        ("ema", .exponentialMovingAverage(smoothing: 0.3)),
        ("trend (dgelsd 64x2, 256 right-hand sides per layer)", .trendSeasonal(period: 0)),
        ("trend + season 8 (dgelsd 64x9, 256 right-hand sides per layer)", .trendSeasonal(period: 8)),
        ("ar(2) ridge (dgelsd 15874x2 per layer)", .autoregressive(order: 2, ridge: 0.1)),
    ]
    for (name, model) in cases {
        let f = forecaster(model)
        Benchmark("Forecast V3 58x64x256 H=8 \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try f.forecast(history))
            }
        }
    }
}
