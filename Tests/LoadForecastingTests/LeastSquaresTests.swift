import ExpertPlacement
import ExpertPlacementTestSupport
@testable import LoadForecasting
import Testing

private func power(_ x: Double, _ n: Int) -> Double { (0..<n).reduce(1) { p, _ in p * x } }

private func close(_ a: Double, _ b: Double, _ tol: Double = 1e-9) -> Bool {
    abs(a - b) <= tol * max(1, abs(a), abs(b))
}

@Suite("Least squares over LAPACKE_dgelsd")
struct LeastSquaresTests {
    @Test("an exact line y = 2 + 3t comes back exactly, two right-hand sides in one call")
    func exactLines() throws {
        let t = (0..<6).map(Double.init)
        let design = ContiguousArray(t.flatMap { (v: Double) -> [Double] in [1, v] })
        let targets = ContiguousArray(t.flatMap { (v: Double) -> [Double] in [2 + 3 * v, -1 + 0.5 * v] })
        let fit = try LeastSquares.solve(design: design, rows: 6, columns: 2, targets: targets, rightHandSides: 2)
        #expect(fit.rank == 2)
        #expect(close(fit[coefficient: 0, rightHandSide: 0], 2) && close(fit[coefficient: 1, rightHandSide: 0], 3))
        #expect(close(fit[coefficient: 0, rightHandSide: 1], -1) && close(fit[coefficient: 1, rightHandSide: 1], 0.5))
        #expect(fit.singularValues.count == 2 && fit.singularValues[0] >= fit.singularValues[1])
    }

    @Test("a repeated column: rank 2 and the minimum-norm solution (the slope split evenly)")
    func rankDeficientColumns() throws {
        let t = (0..<5).map(Double.init)
        let design = ContiguousArray(t.flatMap { (v: Double) -> [Double] in [1, v, v] })
        let targets = ContiguousArray(t.map { 2 + 3 * $0 })
        let fit = try LeastSquares.solve(design: design, rows: 5, columns: 3, targets: targets, rightHandSides: 1)
        #expect(fit.rank == 2)
        #expect(close(fit.coefficients[0], 2, 1e-8) && close(fit.coefficients[1], 1.5, 1e-8) && close(fit.coefficients[2], 1.5, 1e-8))
    }

    @Test("fewer rows than columns: the minimum-norm solution of x + y = 2 is (1, 1)")
    func underdetermined() throws {
        let fit = try LeastSquares.solve(design: [1, 1], rows: 1, columns: 2, targets: [2], rightHandSides: 1)
        #expect(fit.rank == 1)
        #expect(close(fit.coefficients[0], 1) && close(fit.coefficients[1], 1))
    }

    @Test("an all-zero design: rank 0 and the zero solution, no failure")
    func zeroDesign() throws {
        let fit = try LeastSquares.solve(design: [0, 0, 0, 0], rows: 2, columns: 2, targets: [1, 2], rightHandSides: 1)
        #expect(fit.rank == 0)
        #expect(fit.coefficients == [0, 0])
    }

    @Test("nearly collinear columns (condition ≈ 1e8): the exact solution to 1e-5")
    func illConditioned() throws {
        let t = (0..<20).map { Double($0) / 19 }
        let design = ContiguousArray(t.flatMap { (v: Double) -> [Double] in [1, 1 + 1e-8 * v] })
        let targets = ContiguousArray(t.map { 1 * 1 + 2 * (1 + 1e-8 * $0) })
        let fit = try LeastSquares.solve(design: design, rows: 20, columns: 2, targets: targets, rightHandSides: 1)
        #expect(fit.rank == 2)
        #expect(fit.singularValues[0] / fit.singularValues[1] > 1e7)
        #expect(close(fit.coefficients[0], 1, 1e-5) && close(fit.coefficients[1], 2, 1e-5))
    }

    @Test("a degree-6 Vandermonde fit recovers its polynomial", arguments: [UInt64(1), 2, 3])
    func vandermonde(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let coefficients = (0..<7).map { _ in rng.nextUnit() * 2 - 1 }
        let x = (0..<40).map { Double($0) / 39 }
        let design = ContiguousArray(x.flatMap { v in (0..<7).map { power(v, $0) } })
        let targets = ContiguousArray(x.map { v in (0..<7).reduce(0) { $0 + coefficients[$1] * power(v, $1) } })
        let fit = try LeastSquares.solve(design: design, rows: 40, columns: 7, targets: targets, rightHandSides: 1)
        for k in 0..<7 { #expect(close(fit.coefficients[k], coefficients[k], 1e-6), "seed \(seed), coefficient \(k)") }
    }

    @Test("random tall problems: the residual is orthogonal to the columns (normal equations)", arguments: [UInt64(7), 8, 9])
    func normalEquations(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let m = 30, n = 4, k = 3
        let a = ContiguousArray((0 ..< m * n).map { _ in rng.nextGaussian() })
        let b = ContiguousArray((0 ..< m * k).map { _ in rng.nextGaussian() })
        let fit = try LeastSquares.solve(design: a, rows: m, columns: n, targets: b, rightHandSides: k)
        for j in 0..<k {
            for c in 0..<n {
                var dot = 0.0
                for i in 0..<m {
                    var r = b[i * k + j]
                    for q in 0..<n { r -= a[i * n + q] * fit[coefficient: q, rightHandSide: j] }
                    dot += a[i * n + c] * r
                }
                #expect(abs(dot) < 1e-9, "seed \(seed): Aᵀr[\(c)][\(j)] = \(dot)")
            }
        }
    }

    @Test("bad dimensions throw before LAPACK is called (it would stop the process)")
    func badDimensions() {
        #expect(throws: LeastSquaresError.invalidDimension(name: "rows", value: 0, reason: "must be at least 1")) {
            try LeastSquares.solve(design: [], rows: 0, columns: 1, targets: [], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.invalidDimension(name: "columns", value: -1, reason: "must be at least 1")) {
            try LeastSquares.solve(design: [], rows: 1, columns: -1, targets: [], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.invalidDimension(name: "rightHandSides", value: 0, reason: "must be at least 1")) {
            try LeastSquares.solve(design: [1], rows: 1, columns: 1, targets: [], rightHandSides: 0)
        }
        // Beyond 32 bits: refused from the dimensions alone, without any buffer of that size.
        #expect(throws: LeastSquaresError.self) {
            try LeastSquares.solve(design: [], rows: 3_000_000_000, columns: 1, targets: [], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.self) {
            try LeastSquares.solve(design: [], rows: 100_000, columns: 100_000, targets: [], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.self) {
            try LeastSquares.solve(design: [], rows: 2, columns: 1, targets: [], rightHandSides: 1_500_000_000)
        }
    }

    @Test("wrong buffer sizes, NaN, infinity and a bad cut-off throw, naming the place")
    func badValues() {
        #expect(throws: LeastSquaresError.shapeMismatch(name: "design", expected: 4, actual: 3)) {
            try LeastSquares.solve(design: [1, 2, 3], rows: 2, columns: 2, targets: [1, 2], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.shapeMismatch(name: "targets", expected: 2, actual: 1)) {
            try LeastSquares.solve(design: [1, 2, 3, 4], rows: 2, columns: 2, targets: [1], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.nonFinite(matrix: "design", row: 1, column: 0)) {
            try LeastSquares.solve(design: [1, 2, .nan, 4], rows: 2, columns: 2, targets: [1, 2], rightHandSides: 1)
        }
        #expect(throws: LeastSquaresError.nonFinite(matrix: "targets", row: 0, column: 1)) {
            try LeastSquares.solve(design: [1, 2], rows: 1, columns: 2, targets: [1, .infinity], rightHandSides: 2)
        }
        for rcond in [Double.nan, -0.5, 1, .infinity] {
            do {
                _ = try LeastSquares.solve(design: [1], rows: 1, columns: 1, targets: [1], rightHandSides: 1, rcond: rcond)
                Issue.record("rcond \(rcond) was accepted")
            } catch {
                guard case .invalidTolerance = error else { Issue.record("rcond \(rcond): \(error)"); continue }
            }
        }
    }

    @Test("every info code maps to an error, none traps")
    func infoCodes() throws {
        try LeastSquares.check(0)
        #expect(throws: LeastSquaresError.outOfMemory) { try LeastSquares.check(-1010) }
        #expect(throws: LeastSquaresError.outOfMemory) { try LeastSquares.check(-1011) }
        #expect(throws: LeastSquaresError.illegalArgument(position: 5)) { try LeastSquares.check(-5) }
        #expect(throws: LeastSquaresError.noConvergence(offDiagonal: 3)) { try LeastSquares.check(3) }
    }
}
