// JSONWriter.swift — deterministic JSON text output.

/// Writes ``JSONValue`` as deterministic JSON text: the same value always produces the same
/// bytes, so outputs can be diffed, hashed and compared in tests.
///
/// Common rules for both forms:
/// - Object keys are sorted by the byte order of their UTF-8 encoding (equivalently, by
///   Unicode scalar value), not by `String`'s `<`.
/// - Numbers: an integral value with magnitude at most 2^53 (every integer a `Double` holds
///   exactly, so byte counts and token counts stay integers for any reader) is written without
///   a decimal point (`12`, `-3`, `0`, `1000000000000000`; `-0.0` writes as `0`); anything
///   else uses Swift's shortest round-trip `description` (`196.66666666666666`, `1e-07`,
///   `1e+16`). Parsing the text gives back exactly the same `Double`.
/// - Strings escape `"` and `\`, use `\b \f \n \r \t` for those controls and `\u00XX` for
///   the other control characters below U+0020; everything else (including non-ASCII) is
///   written as raw UTF-8.
///
/// For finite values, `JSONParser.parse(JSONWriter.string(v)) == v` (and likewise for
/// ``compactString(_:)``).
public enum JSONWriter {
    /// Pretty, deterministic text.
    ///
    /// Layout: objects put one `"key": value` per line with 2-space indentation; an array
    /// whose elements are all scalars (null, bools, numbers, strings) — or that is empty — is
    /// written on one line (`[0, 1, 2]`); an array containing any array or object puts one
    /// element per line (so a matrix prints one row per line). Empty containers are `[]` and
    /// `{}`. The output ends with `"\n"`.
    ///
    /// ```
    /// {
    ///   "load": [
    ///     [1, 2],
    ///     [3, 4]
    ///   ],
    ///   "name": "x"
    /// }
    /// ```
    ///
    /// - Parameter value: the value to write.
    /// - Returns: the JSON text, ending with a newline.
    /// - Throws: ``NonFiniteNumber`` naming the first NaN or infinity in `value` (JSON has no
    ///   representation for them); nothing is returned then.
    /// - Complexity: O(n + k log k) for n output bytes and k keys per object.
    public static func string(_ value: JSONValue) throws(NonFiniteNumber) -> String {
        var core = _JSONWriterCore()
        core.writePretty(value, indent: 0)
        core.out.append(_ASCII.newline)
        try core.checkFinite(value)
        return String(decoding: core.out, as: UTF8.self)
    }

    /// Compact text: no whitespace at all, keys sorted, no trailing newline.
    ///
    /// - Parameter value: the value to write.
    /// - Returns: the JSON text.
    /// - Throws: ``NonFiniteNumber`` naming the first NaN or infinity in `value`.
    /// - Complexity: O(n + k log k) for n output bytes and k keys per object.
    public static func compactString(_ value: JSONValue) throws(NonFiniteNumber) -> String {
        var core = _JSONWriterCore()
        core.writeCompact(value)
        try core.checkFinite(value)
        return String(decoding: core.out, as: UTF8.self)
    }

    /// ``string(_:)`` (or ``compactString(_:)`` when `compact`) of a document built from integers
    /// only (expert ids, slots, counts): its numbers are finite by construction, so a non-finite
    /// one is a programmer error and traps.
    package static func integerDocument(_ value: JSONValue, compact: Bool) -> String {
        do {
            return compact ? try compactString(value) : try string(value)
        } catch {
            preconditionFailure("an integer-only JSON document holds a non-finite number at \(error.path)")
        }
    }

    /// A value held a NaN or an infinity, which JSON cannot represent.
    public struct NonFiniteNumber: Error, Sendable, Equatable, CustomStringConvertible {
        /// Where the number is, as a key and index path (`metrics.layers[0].peakSum`).
        public var path: String
        /// The number.
        public var value: Double

        /// Creates the error for `value` at `path`.
        public init(path: String, value: Double) {
            self.path = path
            self.value = value
        }

        /// `PATH: cannot write the non-finite number VALUE as JSON`.
        public var description: String {
            "\(path.isEmpty ? "(top level)" : path): cannot write the non-finite number \(value) as JSON"
        }
    }
}

/// Output buffer and formatting routines for ``JSONWriter``.
internal struct _JSONWriterCore {
    var out: [UInt8] = []

    /// Set when a NaN or infinity was met (and written as nothing); the caller then throws.
    var sawNonFinite = false

    init() {
        out.reserveCapacity(1024)
    }

    /// Throws when the write met a non-finite number, naming the first one by its path.
    func checkFinite(_ value: JSONValue) throws(JSONWriter.NonFiniteNumber) {
        guard sawNonFinite else { return }
        if let found = Self.firstNonFinite(value, path: "") {
            throw JSONWriter.NonFiniteNumber(path: found.path, value: found.value)
        }
    }

    /// The first NaN or infinity in `value`, in writing order, with its path.
    static func firstNonFinite(_ value: JSONValue, path: String) -> (path: String, value: Double)? {
        switch value {
        case .number(let x):
            return x.isFinite ? nil : (path, x)
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if let found = firstNonFinite(element, path: "\(path)[\(i)]") { return found }
            }
            return nil
        case .object(let object):
            for k in sortedIndices(object) {
                let key = object._keys[k]
                if let found = firstNonFinite(object._values[k], path: path.isEmpty ? key : "\(path).\(key)") { return found }
            }
            return nil
        default:
            return nil
        }
    }

    mutating func writeCompact(_ value: JSONValue) {
        switch value {
        case .array(let elements):
            out.append(_ASCII.openBracket)
            for (n, element) in elements.enumerated() {
                if n > 0 { out.append(_ASCII.comma) }
                writeCompact(element)
            }
            out.append(_ASCII.closeBracket)
        case .object(let object):
            out.append(_ASCII.openBrace)
            for (n, k) in Self.sortedIndices(object).enumerated() {
                if n > 0 { out.append(_ASCII.comma) }
                writeString(object._keys[k])
                out.append(_ASCII.colon)
                writeCompact(object._values[k])
            }
            out.append(_ASCII.closeBrace)
        default:
            writeScalar(value)
        }
    }

    mutating func writePretty(_ value: JSONValue, indent: Int) {
        switch value {
        case .array(let elements):
            if elements.isEmpty {
                out.append(_ASCII.openBracket)
                out.append(_ASCII.closeBracket)
                return
            }
            let allScalars = elements.allSatisfy { element in
                switch element {
                case .array, .object: return false
                default: return true
                }
            }
            out.append(_ASCII.openBracket)
            if allScalars {
                for (n, element) in elements.enumerated() {
                    if n > 0 {
                        out.append(_ASCII.comma)
                        out.append(_ASCII.space)
                    }
                    writeScalar(element)
                }
            } else {
                out.append(_ASCII.newline)
                for (n, element) in elements.enumerated() {
                    if n > 0 {
                        out.append(_ASCII.comma)
                        out.append(_ASCII.newline)
                    }
                    writeIndent(indent + 2)
                    writePretty(element, indent: indent + 2)
                }
                out.append(_ASCII.newline)
                writeIndent(indent)
            }
            out.append(_ASCII.closeBracket)
        case .object(let object):
            if object.isEmpty {
                out.append(_ASCII.openBrace)
                out.append(_ASCII.closeBrace)
                return
            }
            out.append(_ASCII.openBrace)
            out.append(_ASCII.newline)
            for (n, k) in Self.sortedIndices(object).enumerated() {
                if n > 0 {
                    out.append(_ASCII.comma)
                    out.append(_ASCII.newline)
                }
                writeIndent(indent + 2)
                writeString(object._keys[k])
                out.append(_ASCII.colon)
                out.append(_ASCII.space)
                writePretty(object._values[k], indent: indent + 2)
            }
            out.append(_ASCII.newline)
            writeIndent(indent)
            out.append(_ASCII.closeBrace)
        default:
            writeScalar(value)
        }
    }

    @inline(__always)
    mutating func writeIndent(_ n: Int) {
        for _ in 0..<n { out.append(_ASCII.space) }
    }

    /// Positions of the object's pairs, sorted by the UTF-8 bytes of the key.
    static func sortedIndices(_ object: JSONObject) -> [Int] {
        let keys = object._keys
        return keys.indices.sorted { a, b in
            keys[a].utf8.lexicographicallyPrecedes(keys[b].utf8)
        }
    }

    mutating func writeScalar(_ value: JSONValue) {
        switch value {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let x):
            writeNumber(x)
        case .string(let s):
            writeString(s)
        case .array, .object:
            preconditionFailure("writeScalar called with a container")
        }
    }

    mutating func writeNumber(_ x: Double) {
        guard x.isFinite else {
            sawNonFinite = true
            return
        }
        if x.magnitude <= 0x1p53, var v = _exactInt64(x) {
            if v == 0 {
                out.append(_ASCII.zero)
                return
            }
            if v < 0 {
                out.append(_ASCII.minus)
                v = -v
            }
            // At most 16 digits (2^53 = 9007199254740992).
            var digits: (UInt64, UInt64) = (0, 0)
            var n = 0
            withUnsafeMutableBytes(of: &digits) { raw in
                var u = UInt64(v)
                while u > 0 {
                    raw[n] = UInt8(truncatingIfNeeded: u % 10) &+ _ASCII.zero
                    u /= 10
                    n += 1
                }
                while n > 0 {
                    n -= 1
                    out.append(raw[n])
                }
            }
        } else {
            out.append(contentsOf: x.description.utf8)
        }
    }

    mutating func writeString(_ s: String) {
        out.append(_ASCII.quote)
        Self.appendEscapedContents(s, to: &out)
        out.append(_ASCII.quote)
    }

    /// Appends the escaped contents of `s` (without surrounding quotes).
    static func appendEscapedContents(_ s: String, to out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case _ASCII.quote:
                out.append(_ASCII.backslash); out.append(_ASCII.quote)
            case _ASCII.backslash:
                out.append(_ASCII.backslash); out.append(_ASCII.backslash)
            case 0x0A:
                out.append(_ASCII.backslash); out.append(UInt8(ascii: "n"))
            case 0x0D:
                out.append(_ASCII.backslash); out.append(UInt8(ascii: "r"))
            case 0x09:
                out.append(_ASCII.backslash); out.append(UInt8(ascii: "t"))
            case 0x08:
                out.append(_ASCII.backslash); out.append(UInt8(ascii: "b"))
            case 0x0C:
                out.append(_ASCII.backslash); out.append(UInt8(ascii: "f"))
            case 0x00..<0x20:
                out.append(_ASCII.backslash)
                out.append(contentsOf: "u00".utf8)
                out.append(_hexDigits[Int(b >> 4)])
                out.append(_hexDigits[Int(b & 0xF)])
            default:
                out.append(b)
            }
        }
    }
}
