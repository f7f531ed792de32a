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
///
/// Arrays are ``JSONArray`` values: an array whose elements are all numbers (the rows of a
/// load tensor) is stored as a flat `ContiguousArray<Double>`, 8 bytes a number, instead of one
/// `JSONValue` per element; ``JSONArray/numbers`` hands that storage out without a copy.
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
    case array(JSONArray)
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

    /// A JSON array of `elements` (stored compactly when they are all numbers).
    ///
    /// - Complexity: O(n).
    public static func array(_ elements: [JSONValue]) -> JSONValue {
        .array(JSONArray(elements))
    }

    /// The elements, if this value is an array; otherwise `nil`.
    ///
    /// - Complexity: O(n): the elements are copied into a new Swift array. Match
    ///   `case .array(let elements)` to read them in place, or use ``JSONArray/numbers``.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return Array(a) }
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

/// The elements of a JSON array.
///
/// A random-access collection of ``JSONValue``. When every element is a number — the common
/// case in this project's files, whose loads, weights and plans are nested arrays of numbers —
/// the elements are kept as one flat `ContiguousArray<Double>` (8 bytes per number, where one
/// `JSONValue` each would take 32), and ``numbers`` returns that storage without copying.
/// Reading an element of such an array makes a `.number` value on the fly.
///
/// Equality is element-wise (with `Double.==` for numbers) and does not depend on how the
/// elements are stored.
public struct JSONArray: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral {
    internal enum Storage: Sendable {
        case values(ContiguousArray<JSONValue>)
        case numbers(ContiguousArray<Double>)
    }

    internal var storage: Storage

    /// An empty array.
    public init() {
        storage = .values([])
    }

    /// An array of `elements`, stored as numbers when every element is a number.
    ///
    /// - Complexity: O(n).
    public init<S: Sequence<JSONValue>>(_ elements: S) {
        let values = ContiguousArray(elements)
        if !values.isEmpty, values.allSatisfy({ if case .number = $0 { true } else { false } }) {
            storage = .numbers(ContiguousArray(unsafeUninitializedCapacity: values.count) { buffer, count in
                for (k, value) in values.enumerated() {
                    if case .number(let x) = value { buffer.initializeElement(at: k, to: x) }
                }
                count = values.count
            })
        } else {
            storage = .values(values)
        }
    }

    /// An array with the given storage (the parser's; no scan).
    internal init(storage: Storage) {
        self.storage = storage
    }

    /// An array of numbers, kept in `numbers` as they are (no copy).
    ///
    /// - Complexity: O(1).
    public init(numbers: ContiguousArray<Double>) {
        storage = .numbers(numbers)
    }

    /// An array of the literal's elements.
    public init(arrayLiteral elements: JSONValue...) {
        self.init(elements)
    }

    /// The elements as numbers when every one of them is a number (an empty array gives an
    /// empty result); otherwise `nil`.
    ///
    /// - Complexity: O(1) for an array stored as numbers (every parsed array of numbers);
    ///   O(n) otherwise.
    public var numbers: ContiguousArray<Double>? {
        switch storage {
        case .numbers(let xs):
            return xs
        case .values(let values):
            var xs = ContiguousArray<Double>()
            xs.reserveCapacity(values.count)
            for value in values {
                guard case .number(let x) = value else { return nil }
                xs.append(x)
            }
            return xs
        }
    }

    /// The position of the first element (always 0).
    public var startIndex: Int { 0 }

    /// The number of elements.
    public var endIndex: Int {
        switch storage {
        case .values(let values): values.count
        case .numbers(let xs): xs.count
        }
    }

    /// The element at `position`.
    ///
    /// - Precondition: `0 <= position < count`.
    /// - Complexity: O(1).
    public subscript(position: Int) -> JSONValue {
        switch storage {
        case .values(let values): values[position]
        case .numbers(let xs): .number(xs[position])
        }
    }

    /// Element-wise equality, whatever the storage.
    ///
    /// - Complexity: O(n).
    public static func == (lhs: JSONArray, rhs: JSONArray) -> Bool {
        if case .numbers(let a) = lhs.storage, case .numbers(let b) = rhs.storage {
            // Element by element: `ContiguousArray.==` calls two views of one buffer equal
            // without looking, which would make an array holding NaN equal to itself.
            return a.count == b.count && zip(a, b).allSatisfy { $0 == $1 }
        }
        return lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0 == $1 }
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
