public import ExpertPlacement

/// Bad input: which file, which field (with its index path) and what is wrong with it.
///
/// `description` is the one-line message the command-line tool prints:
/// `instance.json: load[3][0][17]: NaN is not a valid load`.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as the user gave it (`-` or `<stdin>` for standard input).
    public var file: String
    /// The field, as an index path into the file (`topology.devices`, `load[2][5]`), if any.
    public var field: String?
    /// What is wrong.
    public var reason: String

    /// Creates an error.
    public init(file: String, field: String? = nil, reason: String) {
        self.file = file
        self.field = field
        self.reason = reason
    }

    /// Wraps a core error, keeping its field.
    public init(file: String, _ error: ExpertPlacementError) {
        self.init(file: file, field: error.field, reason: error.reason)
    }

    /// `FILE: FIELD: REASON` on one line.
    public var description: String {
        if let field { return "\(file): \(field): \(reason)" }
        return "\(file): \(reason)"
    }
}
