internal import CLAPACKE

/// Why a least-squares call could not run.
///
/// Every case is thrown before LAPACK is entered (bad dimensions, shapes or values: reference
/// LAPACK's `XERBLA` prints and *stops the process* on an illegal argument, so nothing illegal may
/// reach it), or maps one `info` code `LAPACKE_dgelsd` returned.
public enum LeastSquaresError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A dimension (`rows`, `columns`, `rightHandSides`) is below 1 or its products do not fit the
    /// 32-bit integers LAPACK indexes with.
    case invalidDimension(name: String, value: Int, reason: String)
    /// A buffer does not hold `expected` values.
    case shapeMismatch(name: String, expected: Int, actual: Int)
    /// A NaN or infinity at (`row`, `column`) of the design matrix or the targets.
    case nonFinite(matrix: String, row: Int, column: Int)
    /// The relative condition cut-off is not a finite number in [0, 1).
    case invalidTolerance(Double)
    /// LAPACK refused argument number `position` (info < 0). Cannot happen after the checks above;
    /// reported rather than trapped.
    case illegalArgument(position: Int)
    /// The SVD did not converge: `offDiagonal` superdiagonals of an intermediate bidiagonal form
    /// did not reach zero (info > 0).
    case noConvergence(offDiagonal: Int)
    /// LAPACKE could not allocate its workspace or the row-major transposition buffer.
    case outOfMemory

    public var description: String {
        switch self {
        case .invalidDimension(let name, let value, let reason): "least squares: \(name) = \(value): \(reason)"
        case .shapeMismatch(let name, let expected, let actual):
            "least squares: \(name) holds \(actual) values, expected \(expected)"
        case .nonFinite(let matrix, let row, let column):
            "least squares: \(matrix)[\(row)][\(column)] is not a finite number"
        case .invalidTolerance(let rcond): "least squares: relative condition cut-off \(rcond) is not in [0, 1)"
        case .illegalArgument(let position): "least squares: LAPACKE_dgelsd refused argument \(position)"
        case .noConvergence(let count): "least squares: the SVD did not converge (\(count) superdiagonals left)"
        case .outOfMemory: "least squares: LAPACKE could not allocate its workspace"
        }
    }
}

/// The minimum-norm least-squares solution of `A X ≈ B` and what LAPACK learnt about `A`.
public struct LeastSquaresSolution: Sendable, Equatable {
    /// `n`, the number of coefficients per right-hand side.
    public let columns: Int
    /// `k`, the number of right-hand sides.
    public let rightHandSides: Int
    /// `X`, `[n][k]` row-major: column `j` is the solution for right-hand side `j`.
    public let coefficients: ContiguousArray<Double>
    /// The effective rank of `A`: singular values above `rcond · σ_max`.
    public let rank: Int
    /// The singular values of `A`, decreasing, `min(m, n)` of them.
    public let singularValues: ContiguousArray<Double>

    /// Coefficient `i` of right-hand side `j`.
    @inlinable public subscript(coefficient i: Int, rightHandSide j: Int) -> Double {
        coefficients[i &* rightHandSides &+ j]
    }
}

/// A thin, checked layer over LAPACKE's `dgelsd` (SVD-based, divide and conquer).
///
/// Solves `min ‖A X − B‖_F` for `A` of `m × n` and `B` of `m × k`, both row-major, in one call for
/// all `k` right-hand sides (one forecasting fit per layer shares its design matrix across the
/// layer's experts). `dgelsd` returns the minimum-norm solution when `A` is rank deficient
/// (`m < n`, repeated or zero columns) instead of failing, which is why it is used rather than
/// `dgels` (QR, which requires full rank).
///
/// Every argument is checked in Swift first: dimensions ≥ 1 whose products fit LAPACK's 32-bit
/// `lapack_int`, buffer sizes, finite values. After the checks LAPACK cannot be handed an illegal
/// argument, and every `info` it returns is still mapped to a ``LeastSquaresError``.
public enum LeastSquares {
    /// Solves `A X ≈ B` in the least-squares sense.
    ///
    /// - Parameters:
    ///   - design: `A`, `[rows][columns]` row-major.
    ///   - rows: `m ≥ 1`.
    ///   - columns: `n ≥ 1`.
    ///   - targets: `B`, `[rows][rightHandSides]` row-major.
    ///   - rightHandSides: `k ≥ 1`.
    ///   - rcond: singular values below `rcond · σ_max` count as zero; `nil` uses machine precision.
    /// - Returns: `X` (`[n][k]`), the effective rank and the singular values.
    /// - Throws: ``LeastSquaresError``; never traps.
    /// - Complexity: O(m · n · min(m, n) + max(m, n) · k · min(m, n)); allocates LAPACK's
    ///   workspace and, for the row-major layout, transposed copies of `A` and `B`.
    public static func solve(design: ContiguousArray<Double>, rows: Int, columns: Int,
                             targets: ContiguousArray<Double>, rightHandSides: Int,
                             rcond: Double? = nil) throws(LeastSquaresError) -> LeastSquaresSolution {
        let limit = Int(Int32.max)
        for (name, value) in [("rows", rows), ("columns", columns), ("rightHandSides", rightHandSides)] {
            guard value >= 1 else { throw .invalidDimension(name: name, value: value, reason: "must be at least 1") }
            guard value <= limit else {
                throw .invalidDimension(name: name, value: value, reason: "exceeds LAPACK's 32-bit limit \(limit)")
            }
        }
        let tall = max(rows, columns)
        let (aSize, aOverflow) = rows.multipliedReportingOverflow(by: columns)
        guard !aOverflow, aSize <= limit else {
            throw .invalidDimension(name: "rows × columns", value: aOverflow ? .max : aSize,
                                    reason: "exceeds LAPACK's 32-bit limit \(limit)")
        }
        let (bSize, bOverflow) = tall.multipliedReportingOverflow(by: rightHandSides)
        guard !bOverflow, bSize <= limit else {
            throw .invalidDimension(name: "max(rows, columns) × rightHandSides", value: bOverflow ? .max : bSize,
                                    reason: "exceeds LAPACK's 32-bit limit \(limit)")
        }
        guard design.count == aSize else { throw .shapeMismatch(name: "design", expected: aSize, actual: design.count) }
        guard targets.count == rows * rightHandSides else {
            throw .shapeMismatch(name: "targets", expected: rows * rightHandSides, actual: targets.count)
        }
        if let bad = design.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(matrix: "design", row: bad / columns, column: bad % columns)
        }
        if let bad = targets.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(matrix: "targets", row: bad / rightHandSides, column: bad % rightHandSides)
        }
        if let rcond, !(rcond.isFinite && rcond >= 0 && rcond < 1) { throw .invalidTolerance(rcond) }

        // dgelsd overwrites A, and B must have max(m, n) rows: the solution comes back in its first n.
        var a = design
        var b = ContiguousArray<Double>(repeating: 0, count: bSize)
        b.withUnsafeMutableBufferPointer { dst in
            targets.withUnsafeBufferPointer { src in
                for i in 0..<src.count { dst[i] = src[i] }
            }
        }
        var singular = ContiguousArray<Double>(repeating: 0, count: min(rows, columns))
        var rank: Int32 = 0
        let info = a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                singular.withUnsafeMutableBufferPointer { s in
                    LAPACKE_dgelsd(LAPACK_ROW_MAJOR, Int32(rows), Int32(columns), Int32(rightHandSides),
                                   a.baseAddress, Int32(columns), b.baseAddress, Int32(rightHandSides),
                                   s.baseAddress, rcond ?? -1, &rank)
                }
            }
        }
        try check(info)
        return LeastSquaresSolution(columns: columns, rightHandSides: rightHandSides,
                                    coefficients: ContiguousArray(b[0 ..< columns * rightHandSides]),
                                    rank: Int(rank), singularValues: singular)
    }

    /// Maps `LAPACKE_dgelsd`'s `info`: 0 success; LAPACKE's memory codes; < 0 an illegal argument;
    /// > 0 no convergence.
    static func check(_ info: Int32) throws(LeastSquaresError) {
        switch info {
        case 0: return
        case LAPACK_WORK_MEMORY_ERROR, LAPACK_TRANSPOSE_MEMORY_ERROR: throw .outOfMemory
        case ..<0: throw .illegalArgument(position: Int(-info))
        default: throw .noConvergence(offDiagonal: Int(info))
        }
    }
}
