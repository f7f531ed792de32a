/// The errors the core throws when a call cannot run.
///
/// Every case names the offending field with its index path in the notation of the instance
/// file (for example `load[3][0][17]` or `topology.devices`), so a command-line tool can print
/// `FILE: FIELD: REASON` on one line. What a solver *concludes* (optimal, time limit, …) is never
/// an error: it is a ``SolveStatus``.
public enum ExpertPlacementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A value of the input is out of its domain (a negative load, a zero device count, …).
    case invalidValue(field: String, reason: String)
    /// Arrays whose lengths disagree with each other or with the topology.
    case shapeMismatch(field: String, reason: String)
    /// The instance admits no valid placement (for example more slots per device than experts).
    case infeasible(reason: String)
    /// The method cannot handle this instance or objective (the reason says what would).
    case unsupported(reason: String)
    /// An underlying solver library failed (not a conclusion about the instance).
    case solverFailure(reason: String)

    /// The field the error is about, or `nil` when it concerns the instance as a whole.
    public var field: String? {
        switch self {
        case .invalidValue(let field, _), .shapeMismatch(let field, _): return field
        case .infeasible, .unsupported, .solverFailure: return nil
        }
    }

    /// The problem, without the field name.
    public var reason: String {
        switch self {
        case .invalidValue(_, let reason), .shapeMismatch(_, let reason), .infeasible(let reason),
             .unsupported(let reason), .solverFailure(let reason):
            return reason
        }
    }

    /// `FIELD: REASON`, ready for a one-line error message.
    public var description: String {
        if let field { return "\(field): \(reason)" }
        return reason
    }
}
