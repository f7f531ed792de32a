// Shard-plan benchmarks (issue 13): 1,000 shared layers of 96 MiB on 64 data-parallel ranks.
// Target: a plan in under 10 ms. The baseline in the same run is the memory-only plan at a fixed
// depth; the full case adds per-device caps (80 GiB), the broadcast timing and --prefetch auto
// (a bisection on the depth the caps allow, then the schedule and the cold pass).
import Benchmark
import ExpertPlacement

let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal]

// swiftlint:disable force_try
let timing = try! BroadcastTiming(bandwidth: 100e9, layerSeconds: 0.0015, latencySeconds: 0.002)
let memoryOnly = try! ShardPlanner(layers: 1000, devices: 64, layerBytes: 96 << 20)
let full = try! ShardPlanner(layers: 1000, devices: 64, layerBytes: 96 << 20,
                             memoryCaps: Array(repeating: 80 << 30, count: 64), timing: timing)
// swiftlint:enable force_try

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(2), maxIterations: 10_000)

    Benchmark("ShardPlan 1000 layers x 64 ranks, prefetch 2 (baseline)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try memoryOnly.plan(prefetch: 2))
        }
    }
    Benchmark("ShardPlan 1000 layers x 64 ranks, caps + timing + prefetch auto") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try full.planAutomaticPrefetch())
        }
    }
}
