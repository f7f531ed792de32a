// JSONValue.swift — the in-memory JSON document model used by ExpertPlacementFormats.

/// A JSON value: the result of ``JSONParser`` and the input of ``JSONWriter``.
///
/// Numbers are stored as `Double`. The parser also produces the non-finite values
/// `.number(.nan)`, `.number(.infinity)` and `.number(-.infinity)` for the non-standard
/// tokens `NaN`, `Infinity` and `-Infinity` (as written by Python's `json.dump`) and for
/// literals that overflow (`1e999`), so that callers can reject them with a message naming
/// the offending field instead of a generic parse error.
///
/// Equality is structural. Object equality ignores key order (see ``JSONObject``), and
/// because it compares numbers with `Double.==`, a value containing `NaN` is not equal to
/// itself and `-0.0 == 0.0`.
public enum JSONValue: Sendable, Equatable {
    /// The JSON literal `null`.
    case null
    /// The JSON literals `true` and `false`.
    case bool(Bool)
    /// A JSON number, converted to the nearest `Double` (correctly rounded).
    case number(Double)
    /// A JSON string with all escapes resolved.
    case string(String)
    /// A JSON array.
    case array([JSONValue])
    /// A JSON object; keys keep their source order.
    case object(JSONObject)

    /// The number, if this value is a number (including non-finite ones); otherwise `nil`.
    ///
    /// - Complexity: O(1).
    public var doubleValue: Double? {
        if case .number(let x) = self { return x }
        return nil
    }

    /// The number as an `Int`, if this value is a number that is integral and fits in `Int`;
    /// otherwise `nil` (so `2.5`, `NaN`, `1e300` and non-numbers all give `nil`).
    ///
    /// - Complexity: O(1).
    public var intValue: Int? {
        if case .number(let x) = self, let n = _exactInt64(x) { return Int(exactly: n) }
        return nil
    }

    /// The Boolean, if this value is `true` or `false`; otherwise `nil`.
    ///
    /// - Complexity: O(1).
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The string, if this value is a string; otherwise `nil`.
    ///
    /// - Complexity: O(1).
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements, if this value is an array; otherwise `nil`.
    ///
    /// - Complexity: O(1).
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object, if this value is an object; otherwise `nil`.
    ///
    /// - Complexity: O(1).
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// `true` if this value is `null`.
    ///
    /// - Complexity: O(1).
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short English description of the kind of this value, for error messages such as
    /// "`load` must be an array, found a string".
    ///
    /// One of `"null"`, `"true/false"`, `"a number"`, `"a string"`, `"an array"`, `"an object"`.
    ///
    /// - Complexity: O(1).
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "true/false"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// Creates `.bool(value)` from a Boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// Creates `.number(Double(value))` from an integer literal.
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    /// Creates `.number(value)` from a floating-point literal.
    public init(floatLiteral value: Double) { self = .number(value) }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// Creates `.string(value)` from a string literal.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// Creates `.array(elements)` from an array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Creates `.object` from a dictionary literal, keeping the literal's key order.
    ///
    /// - Precondition: the keys are distinct.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}

/// A JSON object that keeps its keys in insertion (source) order.
///
/// Lookup by key is O(1) on average (a hash index is kept next to the ordered storage).
/// Iterating yields `(key, value)` pairs in order; ``JSONWriter`` sorts keys itself, so the
/// order only matters to callers that want to report things in source order.
///
/// Two objects are equal when they have the same set of keys and equal values for each
/// key, regardless of order; this makes `parse(write(v)) == v` hold even though the writer
/// sorts keys. Keys are compared with Swift `String` equality (Unicode canonical
/// equivalence).
public struct JSONObject: Sendable, Equatable, RandomAccessCollection {
    internal var _keys: [String]
    internal var _values: [JSONValue]
    internal var _index: [String: Int]

    /// Creates an empty object.
    public init() {
        _keys = []
        _values = []
        _index = [:]
    }

    /// Creates an object from `(key, value)` pairs, keeping their order.
    ///
    /// - Precondition: the keys are distinct.
    /// - Complexity: O(n).
    public init(_ pairs: [(String, JSONValue)]) {
        _keys = []
        _values = []
        _index = [:]
        _keys.reserveCapacity(pairs.count)
        _values.reserveCapacity(pairs.count)
        _index.reserveCapacity(pairs.count)
        for (k, v) in pairs {
            precondition(_index[k] == nil, "JSONObject: duplicate key \"\(k)\"")
            _index[k] = _keys.count
            _keys.append(k)
            _values.append(v)
        }
    }

    /// Internal unchecked initializer used by the parser (keys already checked distinct).
    internal init(uncheckedKeys keys: [String], values: [JSONValue], index: [String: Int]) {
        _keys = keys
        _values = values
        _index = index
    }

    /// The keys in insertion (source) order. Read-only: use the key subscript to add,
    /// replace or remove entries.
    ///
    /// - Complexity: O(1).
    public var keys: [String] { _keys }

    /// The values in the same order as ``keys``.
    ///
    /// - Complexity: O(1).
    public var values: [JSONValue] { _values }

    /// Gets, adds, replaces or (by assigning `nil`) removes the value for `key`.
    ///
    /// Replacing keeps the key's position; adding appends at the end.
    ///
    /// - Complexity: get, replace and add are O(1) on average; removal is O(n).
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = _index[key] else { return nil }
            return _values[i]
        }
        set {
            if let i = _index[key] {
                if let newValue {
                    _values[i] = newValue
                } else {
                    _keys.remove(at: i)
                    _values.remove(at: i)
                    _index[key] = nil
                    for j in i..<_keys.count { _index[_keys[j]] = j }
                }
            } else if let newValue {
                _index[key] = _keys.count
                _keys.append(key)
                _values.append(newValue)
            }
        }
    }

    /// The position of the first pair (always 0).
    public var startIndex: Int { 0 }

    /// One past the position of the last pair (the number of pairs).
    public var endIndex: Int { _keys.count }

    /// The `(key, value)` pair at `position` (in insertion order).
    ///
    /// - Precondition: `0 <= position < count`.
    /// - Complexity: O(1).
    public subscript(position: Int) -> (key: String, value: JSONValue) {
        (_keys[position], _values[position])
    }

    /// Order-insensitive equality: same keys, equal values.
    ///
    /// - Complexity: O(n) on average.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs._keys.count == rhs._keys.count else { return false }
        for i in 0..<lhs._keys.count {
            guard let j = rhs._index[lhs._keys[i]], lhs._values[i] == rhs._values[j] else {
                return false
            }
        }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Creates an object from a dictionary literal, keeping the literal's key order.
    ///
    /// - Precondition: the keys are distinct.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

/// `x` as an `Int64` if it is integral and in range, else `nil` (NaN and infinities give `nil`).
///
/// Written without `Double.rounded` / `Int64(exactly:)` so that the module needs no libm
/// symbols at link time.
@inline(__always)
internal func _exactInt64(_ x: Double) -> Int64? {
    guard x >= -9.223372036854775808e18 && x < 9.223372036854775808e18 else { return nil }
    let n = Int64(x)  // truncates toward zero; in range by the guard above
    return Double(n) == x ? n : nil
}
