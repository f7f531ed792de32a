internal import CGLPK
import ExpertPlacement
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A mixed-integer linear program, described in plain Swift (no C types), for ``GLPK/solve(_:timeLimit:verbose:)``.
struct MixedIntegerProgram: Sendable {
    enum Kind: Sendable { case continuous, integer, binary }

    struct Column: Sendable {
        var kind: Kind
        var lower: Double = 0
        /// `nil`: no upper bound.
        var upper: Double? = nil
        var objective: Double = 0
    }

    struct Row: Sendable {
        /// `nil`: no lower bound.
        var lower: Double?
        /// `nil`: no upper bound.
        var upper: Double?
        var entries: [(column: Int, value: Double)]
    }

    var columns: [Column] = []
    var rows: [Row] = []

    /// Adds a column and returns its index.
    mutating func addColumn(_ column: Column) -> Int {
        columns.append(column)
        return columns.count - 1
    }

    /// Adds `lower ≤ Σ value·x[column] ≤ upper`.
    mutating func addRow(lower: Double?, upper: Double?, _ entries: [(column: Int, value: Double)]) {
        rows.append(Row(lower: lower, upper: upper, entries: entries))
    }
}

/// What `glp_simplex` concluded on an LP.
enum LPStatus: Equatable { case optimal, infeasible, timeLimit }

/// What GLPK concluded (a status value, not an error).
enum MIPOutcome: Sendable, Equatable {
    /// Proven optimal.
    case optimal
    /// An integer solution, not proven optimal (gap tolerance reached).
    case feasible
    /// Proven to have no integer solution.
    case infeasible
    /// Stopped by the time limit; `values` holds the incumbent when there is one.
    case timeLimit
}

/// GLPK's answer.
struct MIPSolution: Sendable {
    var outcome: MIPOutcome
    /// Column values of the best integer solution, when there is one.
    var values: [Double]?
    /// Its objective value.
    var objective: Double?
    /// A proven lower bound on the optimum (the best bound of the open branch-and-bound nodes,
    /// capped by the incumbent) when the search stopped early; the optimum itself when proven.
    var bound: Double? = nil
}

/// Why a GLPK call could not run (as opposed to what the optimiser concluded).
public enum ExactSolverError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model handed to GLPK was malformed (a programmer error caught before any `glp_*` call).
    case invalidModel(String)
    /// GLPK reported a failure (its return code and meaning).
    case solverFailure(code: Int, meaning: String)
    /// The instance is outside what the exact solver supports.
    case unsupported(String)

    public var description: String {
        switch self {
        case .invalidModel(let m): "exact solver: invalid model: \(m)"
        case .solverFailure(let code, let meaning): "exact solver: GLPK failed (code \(code): \(meaning))"
        case .unsupported(let m): "exact solver: \(m)"
        }
    }
}

/// What GLPK's branch-and-bound callback reads and writes (on the solving thread only): the
/// warm-start solution to offer once, and the best proven bound seen so far.
final class SearchCallbackState {
    let warmStart: [Double]?
    var offered = false
    /// The largest `min(incumbent, best open node bound)` seen: a lower bound on the optimum.
    var bound = -Double.infinity
    init(warmStart: [Double]?) { self.warmStart = warmStart }
}

/// The thin, safe wrapper around GLPK (GPL-3; this module is the only one that links it).
///
/// GLPK aborts the process on bad arguments, so everything is validated in Swift first. A
/// problem is built, solved and freed inside one synchronous call on one thread (GLPK keeps one
/// environment per thread in Debian's build).
enum GLPK {
    /// The library version, e.g. "5.0".
    static var version: String { String(cString: glp_version()) }

    /// Writes one line to standard error (for `--verbose` progress; standard output carries JSON).
    static func log(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    /// Solves `program` as a minimisation MIP within `timeLimit` seconds (GLPK's presolver on).
    ///
    /// - Throws: ``ExactSolverError`` when the model is malformed or GLPK fails; what GLPK
    ///   concludes (optimal, infeasible, time limit) is in the returned ``MIPSolution``.
    static func solve(_ program: MixedIntegerProgram, timeLimit: Double?, verbose: Bool,
                      initial: [Double]? = nil) throws(ExactSolverError) -> MIPSolution {
        try validate(program)
        if let initial, initial.count != program.columns.count || initial.contains(where: { !$0.isFinite }) {
            throw .invalidModel("initial solution: \(initial.count) finite values expected for \(program.columns.count) columns")
        }
        // GLPK's log, when asked for, goes to standard error (standard output carries the JSON).
        _ = glp_term_out(verbose ? GLP_ON : GLP_OFF)
        glp_term_hook({ _, text in
            if let text { _ = write(2, text, strlen(text)) }
            return 1
        }, nil)
        defer {
            glp_term_hook(nil, nil)
            _ = glp_term_out(GLP_ON)
        }
        guard let problem = glp_create_prob() else { throw .solverFailure(code: -1, meaning: "glp_create_prob returned NULL") }
        // A GLPK internal error frees the thread's environment, this problem with it (shim.h).
        let generation = cglpk_generation()
        defer { if cglpk_generation() == generation { glp_delete_prob(problem) } }
        glp_set_obj_dir(problem, GLP_MIN)
        let n = program.columns.count, m = program.rows.count
        _ = glp_add_cols(problem, Int32(n))
        for (j, column) in program.columns.enumerated() {
            let index = Int32(j + 1)
            switch column.kind {
            case .binary:
                glp_set_col_kind(problem, index, GLP_BV)
            case .integer, .continuous:
                glp_set_col_kind(problem, index, column.kind == .integer ? GLP_IV : GLP_CV)
                if let upper = column.upper {
                    glp_set_col_bnds(problem, index, upper == column.lower ? GLP_FX : GLP_DB, column.lower, upper)
                } else {
                    glp_set_col_bnds(problem, index, GLP_LO, column.lower, 0)
                }
            }
            glp_set_obj_coef(problem, index, column.objective)
        }
        if m > 0 {
            _ = glp_add_rows(problem, Int32(m))
            var ia: [Int32] = [0], ja: [Int32] = [0], ar: [Double] = [0]  // 1-based; index 0 unused
            for (i, row) in program.rows.enumerated() {
                let index = Int32(i + 1)
                setRowBounds(problem, index, row.lower, row.upper)
                for entry in row.entries {
                    ia.append(index)
                    ja.append(Int32(entry.column + 1))
                    ar.append(entry.value)
                }
            }
            glp_load_matrix(problem, Int32(ia.count - 1), ia, ja, ar)
        }
        // The root LP first, under the time limit (glp_intopt's own presolve would solve it
        // without looking at the clock, and large pattern models spend seconds there).
        let clock = ContinuousClock()
        let started = clock.now
        switch try simplex(problem, timeLimit: timeLimit, messages: verbose ? GLP_MSG_ON : GLP_MSG_OFF,
                           recoverBasis: false, what: "the root LP") {
        case .optimal: break
        case .infeasible: return MIPSolution(outcome: .infeasible)
        case .timeLimit: return MIPSolution(outcome: .timeLimit)
        }
        var parm = glp_iocp()
        glp_init_iocp(&parm)
        parm.presolve = GLP_OFF
        parm.msg_lev = verbose ? GLP_MSG_ON : GLP_MSG_OFF
        if let timeLimit {
            let used = clock.now - started
            let left = timeLimit - used.inSeconds
            guard left > 0.001 else { return MIPSolution(outcome: .timeLimit) }
            parm.tm_lim = Self.milliseconds(left)
        }
        // A known integer solution (the warm start) is offered to GLPK through its heuristic
        // callback, once: it becomes the incumbent and prunes the tree from the start. Every
        // callback also records the best bound of the open nodes, which is what a stopped search
        // has proven.
        let state = SearchCallbackState(warmStart: initial.map { [0] + $0 })  // 1-based for glp_ios_heur_sol
        state.bound = glp_get_obj_val(problem)  // the root LP's optimum bounds every integer solution
        parm.cb_func = { tree, info in
            guard let tree, let info else { return }
            let state = Unmanaged<SearchCallbackState>.fromOpaque(info).takeUnretainedValue()
            let node = glp_ios_best_node(tree)
            if node != 0 {
                var bound = glp_ios_node_bound(tree, node)
                if glp_mip_status(glp_ios_get_prob(tree)) == GLP_FEAS {
                    bound = Swift.min(bound, glp_mip_obj_val(glp_ios_get_prob(tree)))
                }
                if bound.isFinite { state.bound = Swift.max(state.bound, bound) }
            }
            guard glp_ios_reason(tree) == GLP_IHEUR, let warm = state.warmStart, !state.offered else { return }
            state.offered = true
            _ = warm.withUnsafeBufferPointer { glp_ios_heur_sol(tree, $0.baseAddress) }
        }
        parm.cb_info = Unmanaged.passUnretained(state).toOpaque()
        let code = withExtendedLifetime(state) { cglpk_intopt(problem, &parm) }
        if code == CGLPK_FAILED { throw Self.internalError("the branch and bound (glp_intopt)") }
        let stoppedBound: Double? = state.bound.isFinite ? state.bound : nil
        let status = glp_mip_status(problem)
        func solution() -> ([Double], Double) {
            ((1...n).map { glp_mip_col_val(problem, Int32($0)) }, glp_mip_obj_val(problem))
        }
        switch code {
        case 0:
            switch status {
            case GLP_OPT:
                let (v, o) = solution()
                return MIPSolution(outcome: .optimal, values: v, objective: o, bound: o)
            case GLP_FEAS:
                let (v, o) = solution()
                return MIPSolution(outcome: .feasible, values: v, objective: o)
            case GLP_NOFEAS:
                return MIPSolution(outcome: .infeasible)
            default:
                throw .solverFailure(code: Int(status), meaning: "glp_intopt returned 0 with an undefined solution")
            }
        case GLP_ETMLIM, GLP_ESTOP:
            if status == GLP_FEAS || status == GLP_OPT {
                let (v, o) = solution()
                return MIPSolution(outcome: .timeLimit, values: v, objective: o, bound: stoppedBound.map { Swift.min($0, o) })
            }
            return MIPSolution(outcome: .timeLimit, bound: stoppedBound)
        case GLP_EMIPGAP:
            let (v, o) = solution()
            return MIPSolution(outcome: .feasible, values: v, objective: o)
        case GLP_ENOPFS:
            return MIPSolution(outcome: .infeasible)
        case GLP_ENODFS:
            throw .solverFailure(code: Int(code), meaning: "the LP relaxation is unbounded")
        case GLP_EBOUND:
            throw .solverFailure(code: Int(code), meaning: "incorrect bounds on a variable")
        case GLP_EROOT:
            throw .solverFailure(code: Int(code), meaning: "no optimal basis for the root LP")
        case GLP_EFAIL:
            throw .solverFailure(code: Int(code), meaning: "the search failed (solver error)")
        default:
            throw .solverFailure(code: Int(code), meaning: "unexpected return code")
        }
    }

    /// GLPK stopped on an internal error (caught by shim.h's guard instead of aborting the process).
    static func internalError(_ what: String) -> ExactSolverError {
        .solverFailure(code: Int(CGLPK_FAILED), meaning: "GLPK stopped on an internal error in \(what), numerical trouble on this model (its message is above)")
    }

    /// A time limit in GLPK's whole milliseconds (at least 1).
    static func milliseconds(_ seconds: Double) -> Int32 {
        Int32(Swift.max(1, Swift.min(Double(Int32.max), (seconds * 1000).rounded(.down))))
    }

    /// `glp_simplex` on `problem` from its current basis (presolver off), every return code and
    /// status mapped. With `recoverBasis`, a singular or ill-conditioned basis is replaced by an
    /// advanced one and the solve retried once. `what` names the LP in errors.
    static func simplex(_ problem: OpaquePointer, timeLimit: Double?, messages: Int32, recoverBasis: Bool,
                        what: String) throws(ExactSolverError) -> LPStatus {
        var smcp = glp_smcp()
        glp_init_smcp(&smcp)
        smcp.msg_lev = messages
        smcp.presolve = GLP_OFF
        if let timeLimit { smcp.tm_lim = milliseconds(timeLimit) }
        var code = cglpk_simplex(problem, &smcp)
        if code == CGLPK_FAILED { throw internalError("\(what) (glp_simplex)") }
        if recoverBasis && (code == GLP_EBADB || code == GLP_ESING || code == GLP_ECOND) {
            glp_adv_basis(problem, 0)
            code = cglpk_simplex(problem, &smcp)
            if code == CGLPK_FAILED { throw internalError("\(what) (glp_simplex)") }
        }
        switch code {
        case 0: break
        case GLP_ETMLIM, GLP_EITLIM: return .timeLimit
        case GLP_ENOPFS: return .infeasible
        case GLP_EBADB, GLP_ESING, GLP_ECOND, GLP_EBOUND, GLP_EFAIL, GLP_EOBJLL, GLP_EOBJUL, GLP_ENODFS:
            throw .solverFailure(code: Int(code), meaning: "\(what) failed (glp_simplex)")
        default:
            throw .solverFailure(code: Int(code), meaning: "unexpected glp_simplex return code")
        }
        switch glp_get_status(problem) {
        case GLP_OPT: return .optimal
        case GLP_NOFEAS, GLP_INFEAS: return .infeasible
        case GLP_UNBND: throw .solverFailure(code: Int(GLP_UNBND), meaning: "\(what) is unbounded")
        default: return .timeLimit
        }
    }

    /// `lower ≤ row ≤ upper` (`nil`: unbounded on that side) for a row already checked in Swift.
    static func setRowBounds(_ problem: OpaquePointer, _ index: Int32, _ lower: Double?, _ upper: Double?) {
        switch (lower, upper) {
        case let (lo?, hi?) where lo == hi: glp_set_row_bnds(problem, index, GLP_FX, lo, hi)
        case let (lo?, hi?): glp_set_row_bnds(problem, index, GLP_DB, lo, hi)
        case let (lo?, nil): glp_set_row_bnds(problem, index, GLP_LO, lo, 0)
        case let (nil, hi?): glp_set_row_bnds(problem, index, GLP_UP, 0, hi)
        case (nil, nil): glp_set_row_bnds(problem, index, GLP_FR, 0, 0)
        }
    }

    /// Everything GLPK would abort on, checked in Swift.
    static func validate(_ program: MixedIntegerProgram) throws(ExactSolverError) {
        guard !program.columns.isEmpty else { throw .invalidModel("no columns") }
        guard program.columns.count < Int(Int32.max) / 2, program.rows.count < Int(Int32.max) / 2 else {
            throw .invalidModel("too many rows or columns")
        }
        for (j, c) in program.columns.enumerated() {
            guard c.lower.isFinite, c.objective.isFinite else { throw .invalidModel("column \(j): non-finite bound or cost") }
            if let u = c.upper { guard u.isFinite, u >= c.lower else { throw .invalidModel("column \(j): upper < lower") } }
        }
        var entries = 0
        for (i, r) in program.rows.enumerated() {
            if let lo = r.lower, !lo.isFinite { throw .invalidModel("row \(i): non-finite lower bound") }
            if let hi = r.upper, !hi.isFinite { throw .invalidModel("row \(i): non-finite upper bound") }
            if let lo = r.lower, let hi = r.upper, lo > hi { throw .invalidModel("row \(i): lower > upper") }
            var seen = Set<Int>()
            for e in r.entries {
                guard e.column >= 0 && e.column < program.columns.count else { throw .invalidModel("row \(i): column \(e.column) out of range") }
                guard e.value.isFinite else { throw .invalidModel("row \(i): non-finite coefficient") }
                guard seen.insert(e.column).inserted else { throw .invalidModel("row \(i): column \(e.column) twice") }
            }
            entries += r.entries.count
        }
        guard entries < Int(Int32.max) else { throw .invalidModel("too many matrix entries") }
    }
}

/// A linear program kept alive across solves, for column generation: rows are fixed at creation,
/// columns are added between solves, and each solve starts from the previous basis.
///
/// Minimisation, presolver off. Everything is checked in Swift before it reaches GLPK; the
/// problem lives on the thread that created it and is freed with the session.
final class LinearProgramSession {
    private let problem: OpaquePointer
    private let verbose: Bool
    /// ``cglpk_generation()`` when the problem was made: a GLPK internal error on this thread
    /// since then freed it (shim.h).
    private let generation: UInt
    /// Number of rows so far.
    private(set) var rowCount: Int
    /// Number of columns so far.
    private(set) var columnCount = 0

    /// Creates the rows, `lower ≤ row ≤ upper` (`nil`: unbounded on that side).
    init(rows: [(lower: Double?, upper: Double?)], verbose: Bool) throws(ExactSolverError) {
        guard !rows.isEmpty, rows.count < Int(Int32.max) / 2 else { throw .invalidModel("LP: \(rows.count) rows") }
        for (i, r) in rows.enumerated() {
            if let lo = r.lower, !lo.isFinite { throw .invalidModel("LP row \(i): non-finite lower bound") }
            if let hi = r.upper, !hi.isFinite { throw .invalidModel("LP row \(i): non-finite upper bound") }
            if let lo = r.lower, let hi = r.upper, lo > hi { throw .invalidModel("LP row \(i): lower > upper") }
        }
        guard let problem = glp_create_prob() else { throw .solverFailure(code: -1, meaning: "glp_create_prob returned NULL") }
        self.problem = problem
        self.verbose = verbose
        generation = cglpk_generation()
        rowCount = rows.count
        glp_set_obj_dir(problem, GLP_MIN)
        _ = glp_add_rows(problem, Int32(rows.count))
        for (i, row) in rows.enumerated() {
            GLPK.setRowBounds(problem, Int32(i + 1), row.lower, row.upper)
        }
    }

    /// Whether the problem still exists (no GLPK internal error on this thread since it was made).
    private var alive: Bool { cglpk_generation() == generation }

    deinit { if alive { glp_delete_prob(problem) } }

    /// Adds a continuous column `lower ≤ x ≤ upper` with cost `cost` and returns its index.
    @discardableResult
    func addColumn(cost: Double, lower: Double = 0, upper: Double? = nil,
                   entries: [(row: Int, value: Double)]) throws(ExactSolverError) -> Int {
        guard cost.isFinite else { throw .invalidModel("LP column \(columnCount): non-finite cost") }
        try checkBounds(lower, upper, what: "LP column \(columnCount)")
        guard columnCount < Int(Int32.max) / 2 - 1 else { throw .invalidModel("LP: too many columns") }
        let (rows, values) = try checkEntries(entries.map { ($0.row, $0.value) }, within: rowCount, what: "LP column \(columnCount)")
        let index = glp_add_cols(problem, 1)
        columnCount += 1
        try setColumnBounds(columnCount - 1, lower: lower, upper: upper)
        glp_set_obj_coef(problem, index, cost)
        if !entries.isEmpty { glp_set_mat_col(problem, index, Int32(entries.count), rows, values) }
        return columnCount - 1
    }

    /// Adds a row `lower ≤ Σ value·x[column] ≤ upper` over existing columns; returns its index.
    @discardableResult
    func addRow(lower: Double?, upper: Double?, entries: [(column: Int, value: Double)]) throws(ExactSolverError) -> Int {
        try checkBounds(lower, upper, what: "LP row \(rowCount)")
        let (columns, values) = try checkEntries(entries.map { ($0.column, $0.value) }, within: columnCount, what: "LP row \(rowCount)")
        let index = glp_add_rows(problem, 1)
        GLPK.setRowBounds(problem, index, lower, upper)
        if !entries.isEmpty { glp_set_mat_row(problem, index, Int32(entries.count), columns, values) }
        rowCount += 1
        return rowCount - 1
    }

    /// Changes row `i`'s bounds (`nil`: unbounded on that side).
    func setRowBounds(_ i: Int, lower: Double?, upper: Double?) throws(ExactSolverError) {
        guard i >= 0 && i < rowCount else { throw .invalidModel("LP row \(i) out of range") }
        try checkBounds(lower, upper, what: "LP row \(i)")
        GLPK.setRowBounds(problem, Int32(i + 1), lower, upper)
    }

    /// Changes column `j`'s bounds, `lower ≤ x ≤ upper` (`nil`: no upper bound).
    func setColumnBounds(_ j: Int, lower: Double, upper: Double?) throws(ExactSolverError) {
        guard j >= 0 && j < columnCount else { throw .invalidModel("LP column \(j) out of range") }
        try checkBounds(lower, upper, what: "LP column \(j)")
        if let upper {
            glp_set_col_bnds(problem, Int32(j + 1), upper == lower ? GLP_FX : GLP_DB, lower, upper)
        } else {
            glp_set_col_bnds(problem, Int32(j + 1), GLP_LO, lower, 0)
        }
    }

    /// Checks `(index, value)` entries (indices in `0..<count`, distinct, finite values) and returns
    /// them 1-based with GLPK's unused slot 0.
    private func checkEntries(_ entries: [(Int, Double)], within count: Int, what: String)
        throws(ExactSolverError) -> ([Int32], [Double]) {
        var seen = Set<Int>()
        var indices: [Int32] = [0], values: [Double] = [0]
        for (index, value) in entries {
            guard index >= 0 && index < count else { throw .invalidModel("\(what): index \(index) out of range") }
            guard value.isFinite else { throw .invalidModel("\(what): non-finite coefficient") }
            guard seen.insert(index).inserted else { throw .invalidModel("\(what): index \(index) twice") }
            indices.append(Int32(index + 1))
            values.append(value)
        }
        return (indices, values)
    }

    private func checkBounds(_ lower: Double?, _ upper: Double?, what: String) throws(ExactSolverError) {
        if let lower, !lower.isFinite { throw .invalidModel("\(what): non-finite lower bound") }
        if let upper, !upper.isFinite { throw .invalidModel("\(what): non-finite upper bound") }
        if let lower, let upper, lower > upper { throw .invalidModel("\(what): lower > upper") }
    }

    typealias Status = LPStatus

    /// Re-optimises from the current basis within `timeLimit` seconds.
    func solve(timeLimit: Double) throws(ExactSolverError) -> Status {
        guard alive else { throw GLPK.internalError("an earlier solve on this thread") }
        _ = glp_term_out(verbose ? GLP_ON : GLP_OFF)
        defer { _ = glp_term_out(GLP_ON) }
        return try GLPK.simplex(problem, timeLimit: timeLimit, messages: verbose ? GLP_MSG_ERR : GLP_MSG_OFF,
                                recoverBasis: true, what: "the master LP")
    }

    /// The objective value of the last solve.
    var objective: Double { glp_get_obj_val(problem) }

    /// Column `j`'s value in the last solve.
    func value(_ j: Int) -> Double {
        precondition(j >= 0 && j < columnCount)
        return glp_get_col_prim(problem, Int32(j + 1))
    }

    /// Row `i`'s dual value in the last solve.
    func dual(_ i: Int) -> Double {
        precondition(i >= 0 && i < rowCount)
        return glp_get_row_dual(problem, Int32(i + 1))
    }
}
