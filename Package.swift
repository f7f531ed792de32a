// swift-tools-version: 6.1
//
// ExpertPlacement: expert-parallel load balancing (EPLB) for Mixture-of-Experts serving.
//
// Modules (see README.md and ../shared/ARCHITECTURE.md):
//   ExpertPlacement         pure-Swift core: problem model, plans, metrics, validation, solvers
//   ExpertPlacementFormats  wire formats: instance/placement JSON v1, NumPy .npy
//   ExpertPlacementExact    proven optima on GLPK (GPL-3, behind the CGLPK system-library target)
//   LoadForecasting         load forecasts, robust planning strategies and backtests (LAPACKE, behind CLAPACKE)
//   ExpertPlacementC        the C API (a shared library; the Python package in python/ loads it)
//   ExpertPlacementForecastC  the C API plus forecasting and planned rebalancing (a superset shared
//                           library that also links LAPACKE; the Python package prefers it)
//   eplb                    the command-line tool
//   ExpertPlacementTestSupport  seeded generators and naive reference implementations (tests only)
//
// The benchmark suite is its own package under Benchmarks/ (depends on this one by path), so that
// `swift build` and `swift test` never build package-benchmark.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ExpertPlacement",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ExpertPlacement", targets: ["ExpertPlacement"]),
        .library(name: "ExpertPlacementFormats", targets: ["ExpertPlacementFormats"]),
        .library(name: "ExpertPlacementExact", targets: ["ExpertPlacementExact"]),
        .library(name: "LoadForecasting", targets: ["LoadForecasting"]),
        .executable(name: "eplb", targets: ["eplb"]),
        // The C API (include/expert_placement.h) as a shared library: what the Python package loads.
        .library(name: "ExpertPlacementC", type: .dynamic, targets: ["ExpertPlacementC"]),
        // A superset of it: every ep_* function plus forecasting (include/expert_placement_forecast.h).
        // It links LAPACKE (liblapacke.so at run time), so the plain library above stays the fallback.
        .library(name: "ExpertPlacementForecastC", type: .dynamic, targets: ["ExpertPlacementForecastC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        // YAML for TensorRT-LLM's load-balancer config (eplb export/import --format trtllm).
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
    ],
    targets: [
        .target(
            name: "ExpertPlacement",
            dependencies: [.product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: swiftSettings
        ),
        // GLPK (GPL-3) stays behind its own system-library target and wrapper module, so users of
        // the core never link it. Install: apt-get install -y libglpk-dev
        .systemLibrary(
            name: "CGLPK",
            path: "Sources/CGLPK",
            providers: [.apt(["libglpk-dev"]), .brew(["glpk"])]
        ),
        .target(
            name: "ExpertPlacementExact",
            dependencies: ["ExpertPlacement", "CGLPK"],
            swiftSettings: swiftSettings
        ),
        // LAPACKE (least squares for the forecaster) behind its own system-library target; only
        // LoadForecasting imports it. Install: apt-get install -y liblapacke-dev
        .systemLibrary(
            name: "CLAPACKE",
            path: "Sources/CLAPACKE",
            pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"]), .brew(["lapack"])]
        ),
        .target(
            name: "LoadForecasting",
            dependencies: ["ExpertPlacement", "CLAPACKE"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ExpertPlacementFormats",
            dependencies: ["ExpertPlacement", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The C API over the core (no GLPK, no Foundation): raw buffers in and out, error codes.
        .target(
            name: "ExpertPlacementC",
            dependencies: ["ExpertPlacement"],
            exclude: ["include"],
            swiftSettings: swiftSettings
        ),
        // The C API's forecasting calls (ep_forecast, ep_rebalance_planned) over LoadForecasting;
        // its library re-exports ExpertPlacementC's functions (one library per process).
        .target(
            name: "ExpertPlacementForecastC",
            dependencies: ["ExpertPlacementC", "ExpertPlacement", "LoadForecasting"],
            exclude: ["include"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "eplb",
            dependencies: [
                "ExpertPlacement",
                "ExpertPlacementFormats",
                "ExpertPlacementExact",
                "LoadForecasting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ExpertPlacementTestSupport",
            dependencies: ["ExpertPlacement"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExpertPlacementTests",
            dependencies: [
                "ExpertPlacement", "ExpertPlacementTestSupport",
                .product(name: "Numerics", package: "swift-numerics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExpertPlacementFormatsTests",
            dependencies: ["ExpertPlacementFormats", "ExpertPlacement", "ExpertPlacementTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExpertPlacementExactTests",
            dependencies: [
                "ExpertPlacementExact", "ExpertPlacement", "ExpertPlacementFormats", "ExpertPlacementTestSupport",
                .product(name: "Numerics", package: "swift-numerics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LoadForecastingTests",
            dependencies: ["LoadForecasting", "ExpertPlacement", "ExpertPlacementTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "eplbTests",
            dependencies: ["eplb", "ExpertPlacementFormats", "ExpertPlacement"],
            swiftSettings: swiftSettings
        ),
    ]
)
