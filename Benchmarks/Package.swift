// swift-tools-version: 6.1
//
// The benchmark suite (ordo-one/benchmark), kept apart from the root package so that
// `swift build` and `swift test` never build it. Run from this directory:
//   swift package benchmark                       # all benchmarks
//   swift package benchmark --filter 'Greedy.*'   # a subset
import Foundation
import PackageDescription

// A path dependency is identified by its directory name, which depends on where the repository
// was cloned: derive it instead of hard-coding it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent

let package = Package(
    name: "ExpertPlacementBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SolverBenchmarks",
            dependencies: [
                .product(name: "ExpertPlacement", package: rootIdentity),
                .product(name: "ExpertPlacementExact", package: rootIdentity),
                .product(name: "ExpertPlacementFormats", package: rootIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SolverBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ForecastBenchmarks",
            dependencies: [
                .product(name: "ExpertPlacement", package: rootIdentity),
                .product(name: "LoadForecasting", package: rootIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ForecastBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ShardPlanBenchmarks",
            dependencies: [
                .product(name: "ExpertPlacement", package: rootIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ShardPlanBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
