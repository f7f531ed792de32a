// Solver benchmarks on the shapes the field quotes. Each group runs a baseline in the same
// process (one thread, or the simpler method), so ratios can be read off one run.
//
// Shapes (../shared/notes/peer-algorithms.md): DeepSeek-V3 = 58 MoE layers × 256 experts on
// 32 devices × 9 slots (4 nodes, 8 groups); loads lognormal(σ = 1) token counts, seeded.
import Benchmark
import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats

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
// Exact-solver shapes of issue 4: 16 experts × 8 devices × 3 slots, one episode, Zipf(1.1), seed 2.
let zipf16x8x3 = try! Problem(topology: Topology(devices: 8, slotsPerDevice: 3),
                              loads: SyntheticLoads.zipf(layers: 1, episodes: 1, experts: 16, assignments: 10_000, seed: 2))
let kimi = try! Problem(topology: Topology(devices: 256, slotsPerDevice: 2),
                        loads: SyntheticLoads.lognormal(layers: 61, episodes: 64, experts: 384, seed: 1))

// Rebalancing (issue 8): a 1,024-iteration window of the V3 shape as the engines dump it, a
// float32 (iterations, layers, experts) .npy held in memory, and a placement deployed for an earlier
// window (another seed). Per-iteration loads: lognormal popularity with per-iteration noise.
let windowLoads = try! SyntheticLoads.lognormal(layers: 58, episodes: 1024, experts: 256, seed: 11)
let windowNpy = NumPyArray.encode(windowLoads, axes: .tle)
let v3Topology = Topology(devices: 32, slotsPerDevice: 9)
let deployedV3 = try! SearchSolver().solve(try! Problem(topology: v3Topology,
    loads: SyntheticLoads.lognormal(layers: 58, episodes: 32, experts: 256, seed: 12))).placement

/// One reader for every sample (the framework calls a benchmark's closure once per sample, so a
/// reader made inside it would start with an empty buffer each time). Benchmarks run one at a time.
nonisolated(unsafe) let windowReader = LoadWindowReader(axes: .tle)

/// Reads the .npy window (afresh, or into a reader's reused buffer) and attaches the deployed placement.
func readWindow(_ reader: LoadWindowReader? = nil) throws -> Problem {
    let loads = try reader?.read(windowNpy, file: "window.npy")
        ?? InstanceFile.decode(windowNpy, file: "window.npy", overrides: TopologyOverrides(devices: 32, slotsPerDevice: 9),
                               axes: .tle).problem.loads
    return try Problem(topology: v3Topology, loads: loads, current: deployedV3)
}

// Parser memory (issue 9): a ~200 MB instance file, 160 layers × 256 episodes × 256 experts of
// loads with a fractional part (lognormal counts / 3: shortest round-trip doubles, ~19 bytes a
// number with the separator), made once, outside the measurement.
let largeInstanceJSON: [UInt8] = {
    let counts = try! SyntheticLoads.lognormal(layers: 160, episodes: 256, experts: 256, seed: 3)
    let loads = try! LoadTensor(layers: 160, episodes: 256, experts: 256, values: ContiguousArray(counts.values.map { $0 / 3 }))
    return Array(try! JSONWriter.string(InstanceFile.encode(
        try! Problem(topology: Topology(devices: 32, slotsPerDevice: 9), loads: loads))).utf8)
}()

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
    // Annealing (issue 12): the bundled deepseek-v3 example (8 noisy episodes), the search alone
    // as the same-process baseline; 10⁵ proposals per layer.
    Benchmark("Search deepseek-v3 example 58x8x256 (baseline)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(BundledExample.deepseekV3.problem))
        }
    }
    Benchmark("Search + annealing 1e5 proposals, deepseek-v3 example 58x8x256",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver(configuration: .init(annealingMoves: 100_000)).solve(BundledExample.deepseekV3.problem))
        }
    }
    Benchmark("Search Kimi-K2 61x64 steps x384 256x2 (all cores)",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(kimi))
        }
    }
    // The exact solver proves optimality; the search (its warm start) is the same-process baseline.
    Benchmark("Exact FlashLB toy 8x8x2 proof") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ExactSolver().solve(BundledExample.flashlbToy.problem, options: SolveOptions(objective: .aggregateImbalance)))
        }
    }
    Benchmark("Exact zipf 16x8x3 proof",
              configuration: .init(metrics: metrics, maxDuration: .seconds(20), maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            let report = try ExactSolver().solve(zipf16x8x3, options: SolveOptions(objective: .aggregateImbalance))
            precondition(report.status == .optimal, "not proven: \(report.notes)")
            blackHole(report)
        }
    }
    Benchmark("Search zipf 16x8x3 (baseline)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SearchSolver().solve(zipf16x8x3, options: SolveOptions(objective: .aggregateImbalance)))
        }
    }
    Benchmark("Rebalance V3 58x256 from a 1024-iteration .npy window, move cost 0.001 (read + plan)",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            let window = try readWindow()
            blackHole(try Rebalancer.plan(window, solver: SearchSolver(),
                                          options: RebalanceOptions(moves: MovePolicy(cost: 0.001))))
        }
    }
    Benchmark("Rebalance V3 58x256 from a 1024-iteration .npy window, full re-solve aligned (read + plan)",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Rebalancer.plan(try readWindow(), solver: SearchSolver(), options: RebalanceOptions()))
        }
    }
    Benchmark("Greedy re-solve of the same window, DeepSeek EPLB's policy (read + plan, baseline)",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try GreedySolver().solve(try readWindow(), options: SolveOptions(alignsToCurrent: false)))
        }
    }
    Benchmark("Read the 1024-iteration .npy window alone") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try readWindow())
        }
    }
    Benchmark("Read the 1024-iteration .npy window alone (LoadWindowReader, buffer reused)") { benchmark in
        for _ in benchmark.scaledIterations {
            // A scalar, so that no window outlives its iteration (as in a serving loop).
            blackHole(try readWindow(windowReader).loads.values.count)
        }
    }
    Benchmark("Rebalance V3 58x256 from a 1024-iteration .npy window, move cost 0.001 (read with a reused buffer + plan)",
              configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Rebalancer.plan(try readWindow(windowReader), solver: SearchSolver(),
                                          options: RebalanceOptions(moves: MovePolicy(cost: 0.001))))
        }
    }
    Benchmark("Evaluate V3 58x32 steps x256") { benchmark in
        let plan = try GreedySolver().solve(v3Steps).placement
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try Metrics.evaluate(plan, on: v3Steps))
        }
    }
    // Bytes malloc handed out while parsing, against the file's size (target: at most 3×; the
    // numbers alone are 84 MB), and the peak resident growth (sampled; the first sample shows it
    // best, later ones reuse pages freed by the previous parse).
    Benchmark("Parse a ~200 MB instance JSON (10.5 M numbers)",
              configuration: .init(metrics: [.wallClock, .peakMemoryResidentDelta, .mallocCountTotal, .mallocBytesCount],
                                   maxDuration: .seconds(20), maxIterations: 5)) { benchmark in
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try JSONParser.parse(largeInstanceJSON))
        }
    }
}
