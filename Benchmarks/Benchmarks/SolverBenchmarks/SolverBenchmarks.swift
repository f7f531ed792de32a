// Solver benchmarks on the shapes the field quotes. Each group runs a baseline in the same
// process (one thread, or the simpler method), so ratios can be read off one run.
//
// Shapes (../shared/notes/peer-algorithms.md): DeepSeek-V3 = 58 MoE layers × 256 experts on
// 32 devices × 9 slots (4 nodes, 8 groups); loads lognormal(σ = 1) token counts, seeded.
import Benchmark
import ExpertPlacement

// No .peakMemoryResident: its sampling thread would compete with the solver for the 2 cores.
let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal]

// swiftlint:disable:next force_try
let v3Aggregate = try! Problem(topology: Topology(devices: 32, slotsPerDevice: 9, nodes: 4, expertGroups: 8),
                               loads: SyntheticLoads.lognormal(layers: 58, episodes: 1, experts: 256, noise: 0, seed: 1))
let v3Steps = try! Problem(topology: Topology(devices: 32, slotsPerDevice: 9),
                           loads: SyntheticLoads.spiky(layers: 58, episodes: 32, experts: 256, seed: 1))
// Per-step loads with persistent popularity (lognormal σ = 1, per-step noise σ = 0.3), as `eplb generate lognormal`.
let v3Lognormal = try! Problem(topology: Topology(devices: 32, slotsPerDevice: 9),
                               loads: SyntheticLoads.lognormal(layers: 58, episodes: 32, experts: 256, seed: 1))
let kimi = try! Problem(topology: Topology(devices: 256, slotsPerDevice: 2),
                        loads: SyntheticLoads.lognormal(layers: 61, episodes: 64, experts: 384, seed: 1))

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(3), maxIterations: 1_000)

    Benchmark("Greedy V3 58x256 32x9 (all cores)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try GreedySolver().solve(v3Aggregate))
        }
    }
    Benchmark("Greedy V3 58x256 32x9 (1 thread, baseline)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try GreedySolver().solve(v3Aggregate, options: SolveOptions(maxThreads: 1)))
        }
    }
    Benchmark("Hierarchical V3 58x256 32x9 4 nodes 8 groups") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try HierarchicalSolver().solve(v3Aggregate))
        }
    }
    Benchmark("Search V3 58x32 steps x256 lognormal (all cores)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(v3Lognormal))
        }
    }
    Benchmark("Search V3 58x32 steps x256 lognormal (1 thread, baseline)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(v3Lognormal, options: SolveOptions(maxThreads: 1)))
        }
    }
    Benchmark("Search V3 58x32 steps x256 spiky (all cores)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(v3Steps))
        }
    }
    Benchmark("Search V3 58x256 single episode (all cores)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(v3Aggregate))
        }
    }
    Benchmark("Search Kimi-K2 61x64 steps x384 256x2 (all cores)",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(kimi))
        }
    }
    Benchmark("Evaluate V3 58x32 steps x256") { benchmark in
        let plan = try GreedySolver().solve(v3Steps).placement
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try Metrics.evaluate(plan, on: v3Steps))
        }
    }
}
